//! The numeric fixture of DESIGN.md §1: w* to 1e-12 with every solver.

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind, Objective, SolverKind, SolverOptions};
use nalgebra::{DMatrix, DVector};

fn fixture() -> Dataset {
    lethe_data::synthetic::design_fixture()
}

fn b() -> DVector<f64> {
    DVector::from_vec(vec![0.3, -0.2])
}

#[test]
fn fixture_optimum_with_every_solver() {
    let data = fixture();
    for kind in [SolverKind::Newton, SolverKind::NewtonPcg, SolverKind::Lbfgs] {
        let mut params = LinearModelParams::logistic(0.1, 0.0);
        params.solver = SolverOptions {
            kind,
            tolerance: 1e-12,
            max_iterations: 1000,
        };
        let m = params.fit_with_noise(&data, b()).unwrap();
        assert!(
            (m.weights[0] - 0.649819846191317).abs() < 1e-12
                && (m.weights[1] - 0.9405570922681326).abs() < 1e-12,
            "{kind:?}: {:?}",
            m.weights
        );
        assert!(m.report.residual_norm <= 1e-12);
    }
}

#[test]
fn squared_loss_matches_closed_form() {
    let data = fixture()
        .with_labels(DVector::from_vec(vec![0.5, 1.0, -0.3, 0.2, -1.0, 0.7]))
        .unwrap();
    let params = LinearModelParams::squared(0.1, 0.0);
    let m = params.fit_with_noise(&data, b()).unwrap();
    // ∇ = 2Xᵀ(Xw − y) + λnw + b = 0  ⇒  (2XᵀX + λnI) w = 2Xᵀy − b
    let x = data.features();
    let a = x.transpose() * x * 2.0 + DMatrix::identity(2, 2) * (0.1 * 6.0);
    let rhs = x.transpose() * data.labels() * 2.0 - b();
    let w = a.lu().solve(&rhs).unwrap();
    assert!((&m.weights - &w).norm() < 1e-12);
    let obj = Objective::new(&data, LossKind::Squared, 0.1, None).unwrap();
    assert_eq!(obj.n_active(), 6);
}

#[test]
fn equal_runs_compare_equal_whatever_they_took() {
    let data = fixture();
    let params = LinearModelParams::logistic(0.1, 0.0);
    let a = params.fit_with_noise(&data, b()).unwrap();
    let mut c = params.fit_with_noise(&data, b()).unwrap();
    c.report.seconds = a.report.seconds + 1.0;
    assert_eq!(a, c, "the training time is not part of the model");
    let mut other = c.clone();
    other.weights[0] += 1e-15;
    assert_ne!(a, other);
    let mut other = c.clone();
    other.report.iterations += 1;
    assert_ne!(a, other);
}

//! The DESIGN.md §1 fixture, to 1e-12.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, SolverOptions};
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, SpectralNormMode};
use nalgebra::DVector;

const TOL: f64 = 1e-12;

fn data(labels: Vec<f64>) -> Arc<Dataset> {
    let fixture = lethe_data::synthetic::design_fixture();
    Arc::new(fixture.with_labels(DVector::from_vec(labels)).unwrap())
}

fn logistic_model() -> CertifiedModel {
    let mut model = LinearModelParams::logistic(0.1, 1.0);
    model.solver = SolverOptions {
        tolerance: 1e-13,
        ..SolverOptions::default()
    };
    let mut params = CertifiedParams::new(model);
    params.budget_policy = BudgetPolicy::Never;
    params.spectral_norm = SpectralNormMode::Remaining;
    CertifiedModel::train_with_noise(
        params,
        data(vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0]),
        0,
        vec![DVector::from_vec(vec![0.3, -0.2])],
    )
    .unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL,
        "{what}: {a} vs {b} (diff {:e})",
        (a - b).abs()
    );
}

#[test]
fn single_removal_matches_the_fixture() {
    let mut m = logistic_model();
    let w = &m.class_models()[0].weights;
    close(w[0], 0.649819846191317, "w*[0]");
    close(w[1], 0.9405570922681326, "w*[1]");
    let c = m.remove(&[5]).unwrap();
    let s = &c.classes[0];
    close(
        s.delta_norm,
        (0.6143559425829699f64.powi(2) + 0.08906894342779946f64.powi(2)).sqrt(),
        "‖Δ‖",
    );
    close(
        s.v_norm,
        (0.5730757902882424f64.powi(2) + 0.12311473227526396f64.powi(2)).sqrt(),
        "‖v‖",
    );
    let w = &m.class_models()[0].weights;
    close(w[0], 1.2228956364795596, "w⁻[0]");
    close(w[1], 0.8174423599928686, "w⁻[1]");
    close(
        c.step_residual_norm.unwrap(),
        0.0169912793782803,
        "exact residual",
    );
    close(
        c.spectral_norm,
        1.7526471050661814,
        "‖X′‖₂ bound (remaining rows)",
    );
    assert!(m.spectral_norm() >= c.spectral_norm);
    close(
        c.bound_data_dependent,
        0.23163507803328529,
        "data-dependent",
    );
    close(c.bound_gamma_n_v2, 0.42946637339712934, "γ(n−1)‖v‖²");
    close(c.bound_worst_case, 20.0, "worst case");
    assert!(c.solve_residual < 1e-14);
    assert!(c.bound_tight <= c.bound_data_dependent / 2.0);
    assert!(c.step_residual_norm.unwrap() <= c.bound_tight);
}

#[test]
fn retraining_without_row_5_matches_the_fixture() {
    let d = data(vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0]);
    let mut params = LinearModelParams::logistic(0.1, 1.0);
    params.solver.tolerance = 1e-13;
    let retrained = params
        .fit_with_noise(
            &d.without(&[5]).unwrap(),
            DVector::from_vec(vec![0.3, -0.2]),
        )
        .unwrap();
    close(retrained.weights[0], 1.2397198911698653, "w′[0]");
    close(retrained.weights[1], 0.8168736991714111, "w′[1]");
}

#[test]
fn fixture_spectral_norm_of_remaining_rows() {
    // ‖X′‖₂ in the fixture is of the remaining rows; removing rows never increases it, so the
    // full-data bound we use is ≥ it.
    let d = data(vec![1.0; 6]);
    let rest = d.without(&[5]).unwrap();
    let s = rest
        .features()
        .clone()
        .svd(false, false)
        .singular_values
        .max();
    close(s, 1.7526471050661814, "‖X′‖₂");
}

#[test]
fn batch_removal_matches_the_fixture() {
    let mut m = logistic_model();
    let c = m.remove(&[4, 5]).unwrap();
    let w = &m.class_models()[0].weights;
    close(w[0], 0.9523863271964212, "w⁻[0]");
    close(w[1], 1.1424045378972951, "w⁻[1]");
    close(
        c.step_residual_norm.unwrap(),
        0.016179659998091355,
        "exact residual",
    );
    close(
        c.bound_data_dependent,
        0.09577937817300641,
        "data-dependent",
    );
    close(c.bound_worst_case, 100.0, "worst case");
}

#[test]
fn sequential_removals_match_the_fixture() {
    let mut m = logistic_model();
    let r0 = m.beta();
    assert!(r0 < 1e-13);
    let c1 = m.remove(&[5]).unwrap();
    let c2 = m.remove(&[4]).unwrap();
    close(c1.bound_data_dependent, 0.23163507803328529, "first bound");
    close(c2.bound_data_dependent, 0.09178596210333242, "second bound");
    close(m.beta(), 0.3234210401366177, "β");
    close(
        c2.step_residual_norm.unwrap(),
        0.023172950841489445,
        "exact residual",
    );
}

#[test]
fn squared_loss_step_equals_retraining() {
    let labels = vec![0.5, 1.0, -0.3, 0.2, -1.0, 0.7];
    let mut model = LinearModelParams::squared(0.1, 1.0);
    model.solver.tolerance = 1e-13;
    let mut params = CertifiedParams::new(model);
    params.budget_policy = BudgetPolicy::Never;
    let mut m = CertifiedModel::train_with_noise(
        params,
        data(labels),
        0,
        vec![DVector::from_vec(vec![0.3, -0.2])],
    )
    .unwrap();
    let c = m.remove(&[5]).unwrap();
    assert!(c.exact_step);
    assert_eq!(c.bound_data_dependent, 0.0);
    let w = &m.class_models()[0].weights;
    assert!((w[0] - 0.7891523597105756).abs() < 1e-15, "{}", w[0]);
    assert!((w[1] - -0.15112416851190802).abs() < 1e-15, "{}", w[1]);
    assert!(c.step_residual_norm.unwrap() < 1e-14);
}

/// Issue #14.1: an explicit b is public, so a run with one is a replay — never certified, no
/// certified guarantee — while every bound is still reported (here the fixture's numbers).
#[test]
fn an_explicit_noise_vector_is_a_replay_that_certifies_nothing() {
    use lethe_removal::{Guarantee, NoiseSecrecy, RemovalStrategy};
    let mut m = logistic_model();
    assert!(!m.is_certified());
    assert_eq!(m.guarantee(), Guarantee::Replay);
    assert_eq!(m.noise_secrecy(), NoiseSecrecy::ExplicitReplay);
    let c = m.remove(&[5]).unwrap();
    assert!(!c.certified);
    close(
        c.bound_data_dependent,
        0.23163507803328529,
        "data-dependent bound",
    );
    close(c.bound_worst_case, 20.0, "worst case");

    // The case: b = 0 and σ = 100, a budget no request comes near.
    let mut model = LinearModelParams::logistic(0.1, 100.0);
    model.solver = SolverOptions {
        tolerance: 1e-13,
        ..SolverOptions::default()
    };
    let mut m = CertifiedModel::train_with_noise(
        CertifiedParams::new(model),
        data(vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0]),
        0,
        vec![DVector::zeros(2)],
    )
    .unwrap();
    for req in [[5], [4], [3]] {
        let c = m.remove(&req).unwrap();
        assert!(c.beta <= c.budget && !c.retrained);
        assert!(!c.certified, "request {}", c.request);
        assert!(c.bound_data_dependent > 0.0);
    }
    assert_eq!(m.guarantee(), Guarantee::Replay);
    // Seeded training of the same problem is certified.
    let mut seeded = CertifiedModel::train(
        CertifiedParams::new(model),
        data(vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0]),
        0,
    )
    .unwrap();
    assert!(seeded.remove(&[5]).unwrap().certified);
    assert!(matches!(seeded.guarantee(), Guarantee::Certified { .. }));
}

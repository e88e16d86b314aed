//! The fast solvers (`pcg`, `stale`) against the paper's Cholesky path.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind};
use lethe_removal::{
    BoundKind, BudgetPolicy, CertifiedModel, CertifiedParams, FastPathOptions, StepSolver,
};
use proptest::prelude::*;

fn problem() -> impl Strategy<Value = (Dataset, f64, u64)> {
    (20usize..150, 2usize..15, 1e-3f64..0.5, any::<u64>()).prop_map(|(n, d, lambda, seed)| {
        let (data, _) =
            lethe_data::synthetic::logistic_planted(n, d, seed, &Default::default()).unwrap();
        (data, lambda, seed)
    })
}

fn params(loss: LossKind, lambda: f64, solver: StepSolver, tight_solve: bool) -> CertifiedParams {
    let mut model = LinearModelParams::logistic(lambda, 1.0);
    model.loss = loss;
    model.solver.tolerance = 1e-11;
    let mut p = CertifiedParams::new(model);
    p.budget_policy = BudgetPolicy::Never;
    p.solver = solver;
    if tight_solve {
        p.fast_path = FastPathOptions {
            solve_ratio: 0.0,
            absolute_tolerance: 1e-13,
            ..FastPathOptions::default()
        };
    }
    p
}

fn requests(n: usize, seed: u64) -> Vec<Vec<usize>> {
    let order = lethe_data::shuffle_indices(n, seed);
    let mut out = Vec::new();
    let mut k = 0;
    for size in [1usize, 1, 3, 1, 2, 1, 1, 4, 1, 1] {
        if k + size >= n / 2 {
            break;
        }
        out.push(order[k..k + size].to_vec());
        k += size;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Solved tightly, CG reaches the Cholesky path's model; with default tolerances every
    /// certificate still bounds the exact residual.
    #[test]
    fn pcg_matches_cholesky_and_stays_certified((data, lambda, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let mut exact = CertifiedModel::train(params(LossKind::Logistic, lambda, StepSolver::Cholesky, false), data.clone(), seed).unwrap();
        let mut tight = CertifiedModel::train(params(LossKind::Logistic, lambda, StepSolver::Pcg, true), data.clone(), seed).unwrap();
        let mut loose = CertifiedModel::train(params(LossKind::Logistic, lambda, StepSolver::Pcg, false), data.clone(), seed).unwrap();
        let mut stale = CertifiedModel::train(params(LossKind::Logistic, lambda, StepSolver::Stale, false), data, seed).unwrap();
        for req in requests(n, seed) {
            let ce = exact.remove(&req).unwrap();
            let ct = tight.remove(&req).unwrap();
            for c in [&ce, &ct, &loose.remove(&req).unwrap(), &stale.remove(&req).unwrap()] {
                let exact_res = c.step_residual_norm.unwrap();
                prop_assert!(exact_res <= c.beta + 1e-10, "{}: exact {exact_res} > β {}", c.solver, c.beta);
                prop_assert!(exact_res <= c.beta_before + c.certificate_bound + 1e-10);
            }
            let diff = (exact.weight_matrix() - tight.weight_matrix()).norm();
            prop_assert!(diff < 1e-8, "‖w_pcg − w_chol‖ = {diff}");
            prop_assert!((ce.bound_data_dependent - ct.bound_data_dependent).abs() <= 1e-8 * (1.0 + ce.bound_data_dependent));
        }
    }

    /// Squared loss with the downdated factor: still equal to retraining.
    #[test]
    fn squared_loss_fast_path_equals_retraining((data, lambda, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let p = params(LossKind::Squared, lambda, StepSolver::Pcg, true);
        let mut m = CertifiedModel::train(p, data.clone(), seed).unwrap();
        let b = m.class_models()[0].noise.clone();
        let mut removed = Vec::new();
        for req in requests(n, seed) {
            let c = m.remove(&req).unwrap();
            prop_assert!(c.solve_residual <= 1e-12, "solve residual {}", c.solve_residual);
            removed.extend(req);
        }
        let mut mp = p.model;
        mp.solver.tolerance = 1e-12;
        let retrained = mp.fit_with_noise(&data.without(&removed).unwrap(), b).unwrap();
        let w = &m.class_models()[0].weights;
        let rel = (w - &retrained.weights).norm() / retrained.weights.norm().max(1e-12);
        prop_assert!(rel < 1e-9, "relative difference {rel}");
    }
}

#[test]
fn tight_bound_certifies_and_is_smaller() {
    let (data, _) =
        lethe_data::synthetic::logistic_planted(200, 8, 5, &Default::default()).unwrap();
    let data = Arc::new(data);
    let mut p = params(LossKind::Logistic, 0.01, StepSolver::Pcg, false);
    p.bound = BoundKind::Tight;
    let mut m = CertifiedModel::train(p, data, 5).unwrap();
    for i in 0..20 {
        let c = m.remove(&[i]).unwrap();
        assert!(c.bound_tight <= c.bound_data_dependent);
        assert!(c.step_residual_norm.unwrap() <= c.beta + 1e-12);
        assert_eq!(c.bound_kind, "tight");
    }
}

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
        let mut stale = CertifiedModel::train(params(LossKind::Logistic, lambda, StepSolver::Stale, false), data.clone(), seed).unwrap();
        let mut keeping = params(LossKind::Logistic, lambda, StepSolver::Stale, false);
        keeping.fast_path.stale_refactor_ratio = None;
        let mut keeping = CertifiedModel::train(keeping, data, seed).unwrap();
        for req in requests(n, seed) {
            let ce = exact.remove(&req).unwrap();
            let ct = tight.remove(&req).unwrap();
            for c in [&ce, &ct, &loose.remove(&req).unwrap(), &stale.remove(&req).unwrap(), &keeping.remove(&req).unwrap()] {
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

/// Image-like data as the paper's MNIST preprocessing makes it: a per-row background value
/// (every "black pixel" of row i equals −0.5·s_i) and a few brighter pixels, unit-norm rows.
/// n > 256 so that the blocked Gram matrix has several blocks.
fn image_like(n: usize, d: usize, seed: u64) -> Dataset {
    // SplitMix64 (`lethe_models::splitmix64`): a tiny seeded generator, uniform in [0, 1).
    let mut state = seed;
    let mut uniform = move || {
        let z = lethe_models::splitmix64(state);
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z as f64 / 2f64.powi(64)
    };
    let mut x = nalgebra::DMatrix::<f64>::zeros(n, d);
    let mut y = nalgebra::DVector::<f64>::zeros(n);
    for i in 0..n {
        let label = if uniform() < 0.5 { 1.0 } else { -1.0 };
        let centre = if label > 0.0 { d / 3 } else { 2 * d / 3 };
        let mut row: Vec<f64> = (0..d)
            .map(|j| {
                let near = j.abs_diff(centre) <= d / 6;
                let bright = if near && uniform() < 0.6 {
                    0.1 + 0.9 * uniform()
                } else {
                    0.0
                };
                bright - 0.5
            })
            .collect();
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
        for (j, v) in row.into_iter().enumerate() {
            x[(i, j)] = v;
        }
        y[i] = label;
    }
    Dataset::new(x, y).unwrap()
}

/// On image-like data the removal path uses the background + sparse row storage and the
/// blocked sparse Gram matrix; every solver must still match the Cholesky path and report the
/// exact residual that an independent dense evaluation of ∇L_b gives.
#[test]
fn image_like_data_takes_the_sparse_kernels_and_stays_exact() {
    use lethe_models::linalg::{GramPlan, RowMajor};
    let data = Arc::new(image_like(600, 40, 7));
    assert!(RowMajor::from_matrix(data.features()).is_sparse());
    assert!(GramPlan::new(data.features()).is_sparse());
    let lambda = 1e-2;
    let mut exact = CertifiedModel::train(
        params(LossKind::Logistic, lambda, StepSolver::Cholesky, false),
        data.clone(),
        3,
    )
    .unwrap();
    let mut models: Vec<CertifiedModel> = [(StepSolver::Pcg, true), (StepSolver::Stale, false)]
        .into_iter()
        .map(|(s, tight)| {
            CertifiedModel::train(
                params(LossKind::Logistic, lambda, s, tight),
                data.clone(),
                3,
            )
            .unwrap()
        })
        .collect();
    for req in requests(600, 3) {
        let ce = exact.remove(&req).unwrap();
        let certs: Vec<_> = models.iter_mut().map(|m| m.remove(&req).unwrap()).collect();
        for (m, c) in std::iter::once(&exact)
            .chain(&models)
            .zip(std::iter::once(&ce).chain(&certs))
        {
            let class = &m.class_models()[0];
            let objective = lethe_models::Objective::from_parts(
                data.features(),
                &class.labels,
                Some(m.active()),
                LossKind::Logistic,
                lambda,
                Some(&class.noise),
            )
            .unwrap();
            let dense = objective.gradient(&class.weights).norm();
            let reported = c.step_residual_norm.unwrap();
            assert!(
                (dense - reported).abs() <= 1e-10 * (1.0 + dense),
                "{}: dense ‖∇L_b‖ {dense} vs reported {reported}",
                c.solver
            );
            assert!(reported <= c.beta + 1e-10);
        }
        let diff = (exact.weight_matrix() - models[0].weight_matrix()).norm();
        assert!(diff < 1e-8, "‖w_pcg − w_chol‖ = {diff}");
    }
}

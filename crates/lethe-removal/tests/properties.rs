//! Property tests of certified removal on random small problems.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind, Objective, Stream};
use lethe_removal::{
    BoundKind, BudgetPolicy, Certificate, CertifiedModel, CertifiedParams, RemovalError,
};
use nalgebra::DVector;
use proptest::prelude::*;

/// Unit-norm rows (some scaled below 1), ±1 labels with both classes present.
fn problem() -> impl Strategy<Value = (Dataset, f64, f64, u64)> {
    (
        10usize..120,
        1usize..12,
        1e-3f64..1.0,
        0.01f64..10.0,
        any::<u64>(),
    )
        .prop_flat_map(|(n, d, lambda, sigma, seed)| {
            (
                proptest::collection::vec(proptest::collection::vec(-1.0f64..1.0, d), n),
                proptest::collection::vec(0.3f64..1.0, n),
                proptest::collection::vec(any::<bool>(), n),
            )
                .prop_map(move |(rows, scales, labels)| {
                    let rows: Vec<Vec<f64>> = rows
                        .into_iter()
                        .zip(scales)
                        .map(|(r, s)| {
                            let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-3);
                            r.into_iter().map(|x| x / norm * s).collect()
                        })
                        .collect();
                    let mut y: Vec<f64> =
                        labels.iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
                    y[0] = 1.0;
                    y[1] = -1.0;
                    (Dataset::from_rows(&rows, y).unwrap(), lambda, sigma, seed)
                })
        })
}

/// A request sequence over n rows: up to `max` requests, each of 1–3 distinct rows.
fn requests(n: usize, seed: u64, max: usize) -> Vec<Vec<usize>> {
    let order = lethe_data::shuffle_indices(n, seed);
    let mut out = Vec::new();
    let mut k = 0;
    let mut size = 1 + (seed % 3) as usize;
    while out.len() < max && k + size < n / 2 {
        out.push(order[k..k + size].to_vec());
        k += size;
        size = 1 + (size % 3);
    }
    out
}

fn params(loss: LossKind, lambda: f64, sigma: f64, policy: BudgetPolicy) -> CertifiedParams {
    let mut model = LinearModelParams::logistic(lambda, sigma);
    model.loss = loss;
    model.solver.tolerance = 1e-10;
    let mut p = CertifiedParams::new(model);
    p.budget_policy = policy;
    p
}

/// Recognises one error variant.
type ErrorCheck = fn(&RemovalError) -> bool;

fn strip_times(mut c: Certificate) -> Certificate {
    c.seconds = 0.0;
    c.step_seconds = 0.0;
    c.retrain_seconds = 0.0;
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// exact residual ≤ r₀ + Σ bounds, per step exact ≤ β_before + tight ≤ β_before + data-dependent,
    /// data-dependent ≤ γ(n − m)‖v‖².
    #[test]
    fn residual_is_bounded_by_the_accumulated_certificates((data, lambda, sigma, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let mut m = CertifiedModel::train(params(LossKind::Logistic, lambda, sigma, BudgetPolicy::Never), data, seed).unwrap();
        for req in requests(n, seed, 6) {
            let c = m.remove(&req).unwrap();
            let exact = c.step_residual_norm.unwrap();
            let slack = 1e-9 * (1.0 + c.beta);
            prop_assert!(exact <= c.beta + slack, "exact {exact} > β {}", c.beta);
            prop_assert!(exact <= c.beta_before + c.bound_tight + c.solve_residual + slack);
            prop_assert!(c.bound_tight <= c.bound_data_dependent + 1e-15);
            prop_assert!(c.bound_data_dependent <= c.bound_gamma_n_v2 * (1.0 + 1e-12) + 1e-15,
                "dd {} > γ(n−m)‖v‖² {}", c.bound_data_dependent, c.bound_gamma_n_v2);
        }
    }

    /// With b = 0 and a model at its optimum, the first step's data-dependent bound is below the
    /// worst case of Theorem 1.
    #[test]
    fn worst_case_dominates_for_b_zero((data, lambda, _sigma, seed) in problem()) {
        let (n, d) = (data.n_samples(), data.n_features());
        let data = Arc::new(data);
        let p = params(LossKind::Logistic, lambda, 1.0, BudgetPolicy::Never);
        let mut m = CertifiedModel::train_with_noise(p, data, seed, vec![DVector::zeros(d)]).unwrap();
        let req = &requests(n, seed, 1)[0];
        let c = m.remove(req).unwrap();
        prop_assert!(c.bound_data_dependent <= c.bound_worst_case, "{} > {}", c.bound_data_dependent, c.bound_worst_case);
        prop_assert!(c.bound_gamma_n_v2 <= c.bound_worst_case * (1.0 + 1e-9));
    }

    /// Squared loss: the Newton step equals retraining with the same b.
    #[test]
    fn squared_loss_removal_equals_retraining((data, lambda, sigma, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let p = params(LossKind::Squared, lambda, sigma, BudgetPolicy::Never);
        let mut m = CertifiedModel::train(p, data.clone(), seed).unwrap();
        let b = m.class_models()[0].noise.clone();
        let mut removed = Vec::new();
        for req in requests(n, seed, 4) {
            let c = m.remove(&req).unwrap();
            prop_assert!(c.exact_step && c.bound_data_dependent == 0.0);
            removed.extend(req);
        }
        let rest = data.without(&removed).unwrap();
        let mut mp = p.model;
        mp.solver.tolerance = 1e-12;
        let retrained = mp.fit_with_noise(&rest, b).unwrap();
        let w = &m.class_models()[0].weights;
        let rel = (w - &retrained.weights).norm() / retrained.weights.norm().max(1e-12);
        prop_assert!(rel < 1e-9, "relative difference {rel}");
    }

    /// Same seed ⇒ identical certificates and weights.
    #[test]
    fn same_seed_same_trajectory((data, lambda, sigma, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let p = params(LossKind::Logistic, lambda, sigma, BudgetPolicy::Retrain);
        let mut a = CertifiedModel::train(p, data.clone(), seed).unwrap();
        let mut b = CertifiedModel::train(p, data, seed).unwrap();
        for req in requests(n, seed, 5) {
            let ca = strip_times(a.remove(&req).unwrap());
            let cb = strip_times(b.remove(&req).unwrap());
            prop_assert_eq!(ca, cb);
        }
        prop_assert_eq!(a.weights_sha256(), b.weights_sha256());
    }

    /// Algorithm 2: every released model has β ≤ budget (when r₀ itself fits), and a retrain
    /// equals a fresh training on the remaining rows with the retrain stream's b.
    #[test]
    fn budget_is_never_exceeded((data, lambda, sigma, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let mut p = params(LossKind::Logistic, lambda, sigma, BudgetPolicy::Retrain);
        p.epsilon = 0.05; // a small budget, so retraining happens
        p.bound = BoundKind::DataDependent;
        let mut m = CertifiedModel::train(p, data.clone(), seed).unwrap();
        prop_assume!(m.beta() <= m.budget());
        for req in requests(n, seed, 8) {
            let c = m.remove(&req).unwrap();
            prop_assert!(c.beta <= c.budget, "β {} > budget {}", c.beta, c.budget);
            prop_assert!(c.certified);
            if c.retrained {
                let b = p.model.draw_noise(data.n_features(), seed, Stream::RetrainNoise { class: 0, retrain: m.retrains() }).unwrap();
                let fresh = p.model.fit_masked(&data, Some(m.active()), b, None).unwrap();
                prop_assert_eq!(&fresh.weights, &m.class_models()[0].weights);
            }
        }
    }

    /// Bad requests are typed errors and leave the model untouched.
    #[test]
    fn bad_requests_change_nothing((data, lambda, sigma, seed) in problem()) {
        let n = data.n_samples();
        let data = Arc::new(data);
        let mut m = CertifiedModel::train(params(LossKind::Logistic, lambda, sigma, BudgetPolicy::Retrain), data, seed).unwrap();
        m.remove(&[0]).unwrap();
        let before = (m.weights_sha256(), m.beta(), m.n_remaining(), m.requests());
        let all: Vec<usize> = (1..n).collect();
        let cases: Vec<(Vec<usize>, ErrorCheck)> = vec![
            (vec![], |e| matches!(e, RemovalError::EmptyRequest)),
            (vec![n], |e| matches!(e, RemovalError::UnknownRow { .. })),
            (vec![1, 1], |e| matches!(e, RemovalError::DuplicateRow { index: 1 })),
            (vec![0], |e| matches!(e, RemovalError::AlreadyRemoved { index: 0 })),
            (all, |e| matches!(e, RemovalError::WouldEmpty { .. })),
        ];
        for (req, is_expected) in cases {
            let err = m.remove(&req).unwrap_err();
            prop_assert!(is_expected(&err), "{req:?}: {err}");
            prop_assert_eq!(&before, &(m.weights_sha256(), m.beta(), m.n_remaining(), m.requests()));
        }
    }
}

#[test]
fn exact_residual_is_the_gradient_with_b() {
    // The step's reported exact residual equals ‖∇L_b(w⁻; D′)‖ computed independently.
    let (data, _) = lethe_data::synthetic::logistic_planted(60, 4, 3, &Default::default()).unwrap();
    let data = Arc::new(data);
    let p = params(LossKind::Logistic, 0.05, 2.0, BudgetPolicy::Never);
    let mut m = CertifiedModel::train(p, data.clone(), 9).unwrap();
    let c = m.remove(&[3, 7]).unwrap();
    let class = &m.class_models()[0];
    let obj = Objective::masked(
        &data,
        m.active(),
        LossKind::Logistic,
        0.05,
        Some(&class.noise),
    )
    .unwrap();
    let g = obj.gradient(&class.weights).norm();
    assert!(
        (g - c.step_residual_norm.unwrap()).abs() < 1e-12,
        "{g} vs {:?}",
        c.step_residual_norm
    );
    let no_b = Objective::masked(&data, m.active(), LossKind::Logistic, 0.05, None).unwrap();
    assert!(
        (no_b.gradient(&class.weights).norm() - g).abs() > 1e-6,
        "b must matter"
    );
}

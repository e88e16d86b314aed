//! Item 5 of issue #14: β bounds the exact residual in floating point too; the certificate is
//! the smaller valid bound; the training summary follows budget retrains.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind};
use lethe_removal::{BoundKind, BudgetPolicy, CertifiedModel, CertifiedParams};
use nalgebra::DVector;
use proptest::prelude::*;

fn fixture(labels: Vec<f64>) -> Arc<Dataset> {
    let fixture = lethe_data::synthetic::design_fixture();
    Arc::new(fixture.with_labels(DVector::from_vec(labels)).unwrap())
}

/// (a·b) as hi + lo, exactly.
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// (a + b) as hi + lo, exactly.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// A double-double accumulator.
#[derive(Clone, Copy, Default)]
struct Dd(f64, f64);

impl Dd {
    fn add(self, x: f64) -> Dd {
        let (s, e) = two_sum(self.0, x);
        let (hi, lo) = two_sum(s, e + self.1);
        Dd(hi, lo)
    }
    fn add_dd(self, x: Dd) -> Dd {
        self.add(x.0).add(x.1)
    }
    fn mul(self, x: f64) -> Dd {
        let (p, e) = two_prod(self.0, x);
        let (hi, lo) = two_sum(p, e + self.1 * x);
        Dd(hi, lo)
    }
    fn value(self) -> f64 {
        self.0 + self.1
    }
}

/// ‖∇L_b(w; D′)‖ for the squared loss, in double-double arithmetic (relative error ~1e-30
/// before the final rounding to f64): Σ_i 2(x_iᵀw − y_i)x_i + λ n′ w + b over active rows.
fn squared_residual_dd(
    data: &Dataset,
    active: &[bool],
    w: &DVector<f64>,
    b: &DVector<f64>,
    lambda: f64,
) -> f64 {
    let (n, d) = (data.n_samples(), data.n_features());
    let x = data.features();
    let n_active = active.iter().filter(|a| **a).count();
    let ridge = Dd(n_active as f64, 0.0).mul(lambda);
    let mut g: Vec<Dd> = (0..d).map(|k| ridge.mul(w[k]).add(b[k])).collect();
    for i in 0..n {
        if !active[i] {
            continue;
        }
        let mut z = Dd::default();
        for k in 0..d {
            let (p, e) = two_prod(x[(i, k)], w[k]);
            z = z.add(p).add(e);
        }
        let r = z.add(-data.labels()[i]).mul(2.0);
        for (k, gk) in g.iter_mut().enumerate() {
            *gk = gk.add_dd(r.mul(x[(i, k)]));
        }
    }
    let mut s = Dd::default();
    for gk in &g {
        let v = gk.value();
        let (p, e) = two_prod(v, v);
        s = s.add(p).add(e);
    }
    s.value().sqrt()
}

#[test]
fn squared_loss_fixture_beta_dominates_the_exact_residual() {
    // DESIGN §1's squared-loss fixture. On 7fd4938, β = 3.93e-16 < exact residual 5.00e-16.
    let labels = vec![0.5, 1.0, -0.3, 0.2, -1.0, 0.7];
    let mut model = LinearModelParams::squared(0.1, 1.0);
    model.solver.tolerance = 1e-13;
    let mut params = CertifiedParams::new(model);
    params.budget_policy = BudgetPolicy::Never;
    let data = fixture(labels);
    let b = DVector::from_vec(vec![0.3, -0.2]);
    let mut m = CertifiedModel::train_with_noise(params, data.clone(), 0, vec![b.clone()]).unwrap();
    assert!(m.train_summary().rounding_allowance > 0.0);
    let c = m.remove(&[5]).unwrap();
    let exact_f64 = c.step_residual_norm.unwrap();
    let exact = squared_residual_dd(&data, m.active(), &m.class_models()[0].weights, &b, 0.1);
    assert!(c.rounding_allowance > 0.0);
    assert!(
        c.beta >= exact_f64,
        "β {} < f64 residual {exact_f64}",
        c.beta
    );
    assert!(c.beta >= exact, "β {} < exact residual {exact}", c.beta);
    // The allowance stays tiny.
    assert!(c.beta < 1e-13, "β {}", c.beta);
}

#[test]
fn nearly_rank_one_data_certifies_gamma_n_v_squared() {
    // Rows ≈ e₁ (nearly rank one): ‖X_full‖₂ ≈ √n > √(n − m), so the data-dependent bound with
    // the training-data ‖X‖₂ exceeds γ(n − m)‖v‖²; the certificate takes the smaller one.
    let n = 20;
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let t = 1e-3 * ((i * 7 % 5) as f64 - 2.0);
            let norm = (1.0 + t * t).sqrt();
            vec![1.0 / norm, t / norm]
        })
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
        .collect();
    let data = Arc::new(Dataset::from_rows(&rows, y).unwrap());
    let mut model = LinearModelParams::logistic(0.05, 1.0);
    model.solver.tolerance = 1e-12;
    let mut params = CertifiedParams::new(model);
    params.budget_policy = BudgetPolicy::Never;
    let mut m = CertifiedModel::train(params, data, 3).unwrap();
    let c = m.remove(&[0, 3, 6, 9, 12]).unwrap();
    assert!(
        c.bound_data_dependent > c.bound_gamma_n_v2,
        "the data has to stress the bound: {} ≤ {}",
        c.bound_data_dependent,
        c.bound_gamma_n_v2
    );
    assert_eq!(c.certificate_bound_source, "gamma_n_v2");
    assert!(
        c.certificate_bound
            <= (c.bound_gamma_n_v2 + c.solve_residual + c.rounding_allowance) * (1.0 + 1e-15),
        "certificate {} vs γ(n−m)‖v‖² {}",
        c.certificate_bound,
        c.bound_gamma_n_v2
    );
    // On 7fd4938 the certificate was the data-dependent bound, the larger one.
    assert!(c.certificate_bound < c.bound_data_dependent);
    let exact = c.step_residual_norm.unwrap();
    assert!(exact <= c.beta, "exact {exact} > β {}", c.beta);
}

#[test]
fn train_summary_follows_budget_retrains() {
    let data = lethe_data::three_vs_eight(&lethe_data::bundled::digits().unwrap(), None).unwrap();
    let mut params = CertifiedParams::new(LinearModelParams::logistic(1e-2, 1.0));
    params.epsilon = 0.05; // a small budget: some request retrains
    let mut m = CertifiedModel::train(params, Arc::new(data), 1).unwrap();
    let initial = m.train_summary().clone();
    assert_eq!(initial.retrain, 0);
    let mut retrained = false;
    for i in 0..40 {
        let c = m.remove(&[i]).unwrap();
        if c.retrained {
            retrained = true;
            let s = m.train_summary();
            assert_eq!(s.retrain, m.retrains());
            let r0: f64 = m.class_models().iter().map(|c| c.training_residual).sum();
            assert_eq!(s.residual_norm, r0);
            assert_eq!(s.seconds, c.retrain_seconds);
            assert!(s.iterations > 0);
            assert!(c.beta >= s.residual_norm + s.rounding_allowance * (1.0 - 1e-12));
            break;
        }
    }
    assert!(retrained, "the budget forced no retrain");
    assert_ne!(m.train_summary(), &initial);
    assert_eq!(m.initial_train_summary(), &initial);
}

/// Unit-norm rows (some scaled below 1), labels ±1 (or real for the squared loss).
fn problem() -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<f64>, f64, u64)> {
    (5usize..60, 1usize..8, 1e-3f64..1.0, any::<u64>()).prop_flat_map(|(n, d, lambda, seed)| {
        (
            proptest::collection::vec(proptest::collection::vec(-1.0f64..1.0, d), n),
            proptest::collection::vec(0.3f64..1.0, n),
            proptest::collection::vec(-1.0f64..1.0, n),
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
                (rows, labels, lambda, seed)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Squared loss: β ≥ the exact residual computed in double-double, after every request,
    /// without any slack.
    #[test]
    fn beta_dominates_the_exact_squared_residual((rows, labels, lambda, seed) in problem()) {
        let n = rows.len();
        let data = Arc::new(Dataset::from_rows(&rows, labels).unwrap());
        let mut model = LinearModelParams::squared(lambda, 1.0);
        model.solver.tolerance = 1e-11;
        let mut params = CertifiedParams::new(model);
        params.budget_policy = BudgetPolicy::Never;
        let mut m = CertifiedModel::train(params, data.clone(), seed).unwrap();
        let order = lethe_data::shuffle_indices(n, seed);
        for &i in order.iter().take(n / 2) {
            let c = m.remove(&[i]).unwrap();
            let class = &m.class_models()[0];
            let exact = squared_residual_dd(&data, m.active(), &class.weights, &class.noise, lambda);
            prop_assert!(c.beta >= exact, "β {} < exact {exact}", c.beta);
            prop_assert!(c.beta >= c.step_residual_norm.unwrap());
        }
    }

    /// Logistic loss, both bounds: β ≥ the f64 exact residual after every request, without
    /// slack; the certificate is never above the chosen bound or γ(n − m)‖v‖² beyond the
    /// solve residual and the allowance.
    #[test]
    fn beta_dominates_the_logistic_residual((rows, labels, lambda, seed) in problem(), tight in any::<bool>()) {
        let n = rows.len();
        let mut y: Vec<f64> = labels.iter().map(|&l| if l > 0.0 { 1.0 } else { -1.0 }).collect();
        y[0] = 1.0;
        y[1] = -1.0;
        let data = Arc::new(Dataset::from_rows(&rows, y).unwrap());
        let mut model = LinearModelParams::logistic(lambda, 1.0);
        model.loss = LossKind::Logistic;
        model.solver.tolerance = 1e-10;
        let mut params = CertifiedParams::new(model);
        params.budget_policy = BudgetPolicy::Never;
        params.bound = if tight { BoundKind::Tight } else { BoundKind::DataDependent };
        let mut m = CertifiedModel::train(params, data, seed).unwrap();
        let order = lethe_data::shuffle_indices(n, seed);
        for &i in order.iter().take(n / 2).filter(|&&i| i > 1) {
            let c = m.remove(&[i]).unwrap();
            let exact = c.step_residual_norm.unwrap();
            prop_assert!(c.beta >= exact, "β {} < exact {exact}", c.beta);
            let chosen = if tight { c.bound_tight } else { c.bound_data_dependent };
            let cap = chosen.min(c.bound_gamma_n_v2) + c.solve_residual + c.rounding_allowance;
            prop_assert!(c.certificate_bound <= cap * (1.0 + 1e-15) + 1e-300);
            prop_assert!(c.certificate_bound >= cap);
        }
    }
}

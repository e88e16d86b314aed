//! The empirical ε lower bound never exceeds a certified ε: Monte Carlo on the Gaussian
//! mechanism applied to the weights of a tiny logistic model (d = 2, n = 20), with and without
//! one training point.

use lethe_data::synthetic::{SyntheticOptions, logistic_planted};
use lethe_mia::metrics::{empirical_epsilon_from_scores, empirical_epsilon_lower_bound};
use lethe_models::LinearModelParams;
use nalgebra::DVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;
use statrs::distribution::{ContinuousCDF, Normal};

/// δ(ε) of the Gaussian mechanism with sensitivity Δ and noise scale s — the exact
/// privacy profile (Balle & Wang, ICML 2018, Theorem 8):
/// δ = Φ(Δ/(2s) − εs/Δ) − e^ε Φ(−Δ/(2s) − εs/Δ).
fn gaussian_delta(eps: f64, sens: f64, s: f64) -> f64 {
    let n = Normal::standard();
    n.cdf(sens / (2.0 * s) - eps * s / sens) - eps.exp() * n.cdf(-sens / (2.0 * s) - eps * s / sens)
}

/// The noise scale that makes the mechanism exactly (ε, δ)-DP (δ(ε) decreases in s).
fn calibrate(eps: f64, delta: f64, sens: f64) -> f64 {
    let (mut lo, mut hi) = (1e-3 * sens, 100.0 * sens);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gaussian_delta(eps, sens, mid) > delta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Weights of a logistic model trained with and without row 0 of a tiny planted problem.
fn neighbouring_weights() -> (DVector<f64>, DVector<f64>) {
    let (ds, _) = logistic_planted(20, 2, 7, &SyntheticOptions::default()).unwrap();
    let params = LinearModelParams::logistic(0.1, 0.0);
    let w_in = params.fit_seeded(&ds, 0).unwrap().weights;
    let w_out = params
        .fit_seeded(&ds.without(&[0]).unwrap(), 0)
        .unwrap()
        .weights;
    (w_in, w_out)
}

/// `draws` outputs of the mechanism on each side, scored by the likelihood-ratio-optimal
/// projection onto w_in − w_out.
fn trials(eps: f64, delta: f64, draws: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let (w_in, w_out) = neighbouring_weights();
    let diff = &w_in - &w_out;
    let sens = diff.norm();
    assert!(sens > 1e-3, "removing a point must move the weights");
    let s = calibrate(eps, delta, sens);
    assert!(gaussian_delta(eps, sens, s) <= delta * (1.0 + 1e-9));
    let dir = diff / sens;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut release = |w: &DVector<f64>| -> f64 {
        let noisy = DVector::from_fn(2, |i, _| w[i] + s * rng.sample::<f64, _>(StandardNormal));
        noisy.dot(&dir)
    };
    let members = (0..draws).map(|_| release(&w_in)).collect();
    let nonmembers = (0..draws).map(|_| release(&w_out)).collect();
    (members, nonmembers)
}

#[test]
fn empirical_epsilon_never_exceeds_the_certified_epsilon() {
    let (eps, delta) = (1.0, 1e-5);
    for rep in 0..4u64 {
        let (m, n) = trials(eps, delta, 100_000, 100 + rep);
        let est = empirical_epsilon_from_scores(&m, &n, delta, 0.95, rep).unwrap();
        let lb = est.bound.epsilon_lower_bound;
        println!(
            "rep {rep}: ε_lb = {lb} ({:?}, threshold {})",
            est.bound, est.threshold
        );
        assert!(
            lb <= eps,
            "rep {rep}: empirical ε lower bound {lb} exceeds certified ε {eps}"
        );
        assert!(lb > 0.1, "rep {rep}: the test should have power, got {lb}");
        assert!(!est.reversed);
    }
}

#[test]
fn the_bound_is_not_vacuous_for_a_weak_certificate() {
    // certified ε = 4: an optimal attack with 40k trials per side should show ε > 2
    let (eps, delta) = (4.0, 1e-5);
    let (m, n) = trials(eps, delta, 40_000, 9);
    let est = empirical_epsilon_from_scores(&m, &n, delta, 0.95, 0).unwrap();
    let lb = est.bound.epsilon_lower_bound;
    assert!(lb <= eps && lb > 2.0, "{lb}");
}

#[test]
fn choosing_the_threshold_on_the_counted_trials_would_overstate() {
    // With identical distributions (ε = 0), the honest estimate stays near 0; the bound of
    // the best threshold chosen *on the same trials* is what the split protects against.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let m: Vec<f64> = (0..2000)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let n: Vec<f64> = (0..2000)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let est = empirical_epsilon_from_scores(&m, &n, 0.0, 0.95, 3).unwrap();
    assert!(est.bound.epsilon_lower_bound < 0.5, "{:?}", est.bound);
    // counts of the evaluation half add up
    let b = est.bound;
    assert_eq!((b.tp + b.fn_) as usize, 2000 - est.selection_members);
    assert_eq!((b.fp + b.tn) as usize, 2000 - est.selection_nonmembers);
    assert_eq!(
        empirical_epsilon_lower_bound(b.tp, b.fn_, b.fp, b.tn, 0.0, 0.95).unwrap(),
        b
    );
}

//! Metrics against analytic answers: Gaussian score distributions, ties, separation, reversal.

use lethe_mia::MiaError;
use lethe_mia::metrics::{
    BootstrapOptions, EvaluationOptions, Leak, auc, bootstrap_ci, evaluate, roc,
    split_by_membership,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;
use statrs::distribution::{ContinuousCDF, Normal};

fn gaussian(n: usize, mean: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| mean + rng.sample::<f64, _>(StandardNormal))
        .collect()
}

fn phi(x: f64) -> f64 {
    Normal::standard().cdf(x)
}

#[test]
fn gaussian_scores_give_the_analytic_auc_and_tpr() {
    let n = 40_000;
    let non = gaussian(n, 0.0, 1);
    for (k, &mu) in [0.25, 1.0, 2.0].iter().enumerate() {
        let mem = gaussian(n, mu, 10 + k as u64);
        let r = roc(&mem, &non).unwrap();
        // AUC of N(μ,1) vs N(0,1) is Φ(μ/√2)
        let expected = phi(mu / 2f64.sqrt());
        assert!(
            (r.auc() - expected).abs() < 0.01,
            "μ = {mu}: {} vs {expected}",
            r.auc()
        );
        // TPR at FPR α is Φ(μ − Φ⁻¹(1 − α))
        let z99 = Normal::standard().inverse_cdf(0.99);
        let tpr = phi(mu - z99);
        assert!((r.tpr_at_fpr(0.01).unwrap() - tpr).abs() < 0.02, "μ = {mu}");
        // advantage max_t Φ(μ − t) − Φ(−t) is attained at t = μ/2: 2Φ(μ/2) − 1
        assert!(
            (r.advantage() - (2.0 * phi(mu / 2.0) - 1.0)).abs() < 0.015,
            "μ = {mu}"
        );
    }
}

#[test]
fn bootstrap_interval_covers_the_truth() {
    let mem = gaussian(2000, 0.5, 3);
    let non = gaussian(2000, 0.0, 4);
    let ci = bootstrap_ci(&mem, &non, &[0.01], &BootstrapOptions::default()).unwrap();
    let truth = phi(0.5 / 2f64.sqrt());
    assert!(ci.auc.contains(truth), "{:?} vs {truth}", ci.auc);
    assert!(ci.auc.upper - ci.auc.lower < 0.05);
    // the interval at 1% FPR covers Φ(0.5 − 2.326)
    let tpr = phi(0.5 - Normal::standard().inverse_cdf(0.99));
    assert!(
        ci.tpr_at_fpr[0].1.contains(tpr),
        "{:?} vs {tpr}",
        ci.tpr_at_fpr[0]
    );
}

#[test]
fn all_ties_give_one_half_and_no_leak() {
    let m = evaluate(&[0.3; 100], &[0.3; 80], &EvaluationOptions::default()).unwrap();
    assert_eq!(m.auc, 0.5);
    assert_eq!((m.auc_ci.lower, m.auc_ci.upper), (0.5, 0.5));
    assert_eq!(m.leak, Leak::None);
    assert!(!m.leak_flag);
    assert_eq!(m.advantage, 0.0);
    assert_eq!(m.balanced_accuracy, 0.5);
    assert_eq!(m.tpr_at_1pct_fpr, 0.0);
    assert_eq!(m.roc.len(), 2);
}

#[test]
fn perfect_separation_and_reversal() {
    let high: Vec<f64> = (0..50).map(|i| 10.0 + f64::from(i)).collect();
    let low: Vec<f64> = (0..70).map(|i| -f64::from(i)).collect();
    let m = evaluate(&high, &low, &EvaluationOptions::default()).unwrap();
    assert_eq!(m.auc, 1.0);
    assert_eq!(m.leak, Leak::AboveChance);
    assert_eq!(m.tpr_at_0_1pct_fpr, 1.0);
    assert_eq!(m.advantage, 1.0);
    assert_eq!(m.balanced_accuracy, 1.0);
    assert!((m.fpr_resolution - 1.0 / 70.0).abs() < 1e-15);
    // 70 non-members: neither 0.1 % nor 1 % FPR is attainable, both TPRs are at FPR = 0
    assert!(m.tpr_at_0_1pct_fpr_below_resolution);
    assert!(m.tpr_at_1pct_fpr_below_resolution);

    let r = evaluate(&low, &high, &EvaluationOptions::default()).unwrap();
    assert_eq!(r.auc, 0.0);
    assert_eq!(r.leak, Leak::BelowChance);
    assert!(r.leak_flag, "an AUC far below 0.5 is a leak too");
    assert_eq!(r.advantage, 0.0);
    assert_eq!(r.tpr_at_1pct_fpr, 0.0);
}

#[test]
fn fpr_levels_below_the_resolution_are_flagged() {
    use lethe_mia::metrics::below_resolution;
    // 140 non-members: resolution 0.71 %, so "0.1 % FPR" is FPR = 0 but 1 % is attainable
    let m = evaluate(&[1.0; 10], &[0.0; 140], &EvaluationOptions::default()).unwrap();
    assert!((m.fpr_resolution - 1.0 / 140.0).abs() < 1e-15);
    assert!(m.tpr_at_0_1pct_fpr_below_resolution);
    assert!(!m.tpr_at_1pct_fpr_below_resolution);
    // exactly at the resolution (100 non-members, 1 %) is attainable, not below it
    assert!(!below_resolution(0.01, 1.0 / 100.0));
    assert!(below_resolution(0.01, 1.0 / 99.0));
    assert!(!below_resolution(0.001, 1.0 / 1000.0));
    assert!(below_resolution(0.001, 1.0 / 999.0));
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["tpr_at_0_1pct_fpr_below_resolution"], true);
    assert_eq!(json["tpr_at_1pct_fpr_below_resolution"], false);
    // older result files without the flags still read
    let mut old = json.clone();
    let o = old.as_object_mut().unwrap();
    o.remove("tpr_at_0_1pct_fpr_below_resolution");
    o.remove("tpr_at_1pct_fpr_below_resolution");
    let back: lethe_mia::metrics::AttackMetrics = serde_json::from_value(old).unwrap();
    assert!(!back.tpr_at_0_1pct_fpr_below_resolution);
}

#[test]
fn partial_ties_count_one_half() {
    // members {1, 2}, non-members {1, 0}: pairs (1,1)=½, (1,0)=1, (2,1)=1, (2,0)=1
    assert_eq!(auc(&[1.0, 2.0], &[1.0, 0.0]).unwrap(), 3.5 / 4.0);
}

#[test]
fn metrics_serialise_without_nulls() {
    let mem = gaussian(3000, 1.0, 5);
    let non = gaussian(3000, 0.0, 6);
    let m = evaluate(&mem, &non, &EvaluationOptions::default()).unwrap();
    assert!(m.roc.len() <= 500);
    assert!(
        m.roc.len() > 100,
        "the down-sampled curve keeps detail: {}",
        m.roc.len()
    );
    // the low-FPR region keeps its resolution for log-scale plots
    assert!(m.roc.iter().filter(|p| p.fpr > 0.0 && p.fpr < 0.01).count() >= 10);
    assert!(!m.tpr_at_0_1pct_fpr_below_resolution && !m.tpr_at_1pct_fpr_below_resolution);
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains("null"));
    for key in [
        "\"auc\"",
        "\"auc_ci\"",
        "\"tpr_at_0_1pct_fpr\"",
        "\"tpr_at_1pct_fpr\"",
        "\"fpr_resolution\"",
        "\"tpr_at_1pct_fpr_below_resolution\"",
        "\"advantage\"",
        "\"balanced_accuracy\"",
        "\"leak_flag\"",
        "\"roc\"",
    ] {
        assert!(json.contains(key), "{key}");
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let o = EvaluationOptions::default();
    assert!(matches!(
        evaluate(&[], &[1.0], &o),
        Err(MiaError::Empty { .. })
    ));
    assert!(matches!(
        evaluate(&[1.0], &[f64::NAN], &o),
        Err(MiaError::NanScore { index: 0, .. })
    ));
    assert!(matches!(
        split_by_membership(&[1.0, 2.0], &[true]),
        Err(MiaError::LengthMismatch { .. })
    ));
    // infinities are ordinary scores
    assert_eq!(auc(&[f64::INFINITY], &[f64::NEG_INFINITY]).unwrap(), 1.0);
}

//! Paired comparisons of two models attacked on the same rows, and their aggregation over
//! seeds.
//!
//! An unlearning audit asks whether the unlearned model U exposes the forgotten rows more than
//! the model it claims to be distributed like, a retrain R on the remaining rows. Comparing each
//! model's AUC with ½ answers a different question (R itself is above ½ on overfitting data), so
//! the verdict comes from the **paired difference** AUC_U − AUC_R on the same members and
//! non-members:
//!
//! - within one seed, [`paired_auc_difference`] gives a percentile-bootstrap interval for the
//!   difference, with the *same* resampled rows for both models in every replicate (the rows are
//!   shared, so their variation cancels in the difference);
//! - over S seeds (independent target draws on the same data), [`sign_flip_test`] tests
//!   H₀: "the differences are symmetric about 0". If U and R have the same distribution given
//!   the data (exact removal), each seed's (U, R) pair is exchangeable, so each difference's sign
//!   is a fair coin and the test is exact: p = P(|Σ ± d_s| ≥ |Σ d_s|) over the 2^S sign flips
//!   (enumerated for S ≤ [`EXACT_SIGN_FLIP_MAX`], a seeded Monte Carlo estimate with the
//!   (1 + hits)/(1 + draws) correction, still a valid p-value, above). Its smallest two-sided
//!   p-value is 2/2^S: five seeds can never reach 0.05, six can;
//! - [`holm`] adjusts the p-values of every test a report makes (Holm 1979, step-down), so the
//!   family-wise error rate stays at the level whatever the number of strategies, attacks and
//!   settings.

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bootstrap::{BootstrapOptions, ConfidenceInterval, quantile_sorted};
use super::roc::auc;
use crate::error::{Result, invalid};
use lethe_models::noise::Purpose;

/// Seeds up to which [`sign_flip_test`] enumerates every sign pattern (2^20 ≈ 10⁶ sums).
pub const EXACT_SIGN_FLIP_MAX: usize = 20;

/// Monte Carlo draws of [`sign_flip_test`] above [`EXACT_SIGN_FLIP_MAX`] seeds.
pub const SIGN_FLIP_DRAWS: usize = 200_000;

/// AUC(a) − AUC(b) on the same rows with a percentile-bootstrap interval whose every replicate
/// resamples the same members and non-members for both models (stratified, as
/// [`super::bootstrap_ci`], and from the same streams: replicate r of this interval draws the
/// rows replicate r of `bootstrap_ci` draws with the same options).
///
/// `a_members[i]` and `b_members[i]` are the two models' scores of the same row (likewise the
/// non-members).
///
/// # Errors
/// [`crate::MiaError::InvalidParameter`] for bad options, or when the two models' score vectors
/// differ in length; as [`super::roc`] for empty or non-finite scores.
pub fn paired_auc_difference(
    a_members: &[f64],
    a_nonmembers: &[f64],
    b_members: &[f64],
    b_nonmembers: &[f64],
    options: &BootstrapOptions,
) -> Result<ConfidenceInterval> {
    options.check()?;
    if a_members.len() != b_members.len() || a_nonmembers.len() != b_nonmembers.len() {
        return Err(invalid(
            "paired scores",
            format!(
                "{}+{} against {}+{}",
                a_members.len(),
                a_nonmembers.len(),
                b_members.len(),
                b_nonmembers.len()
            ),
            "the two models must be scored on the same members and non-members",
        ));
    }
    let estimate = auc(a_members, a_nonmembers)? - auc(b_members, b_nonmembers)?;
    let (p, n) = (a_members.len(), a_nonmembers.len());
    let mut values: Vec<f64> = (0..options.reps)
        .into_par_iter()
        .map(|r| {
            let mut rng = Purpose::Bootstrap.rng(options.seed, r as u64);
            let mi: Vec<usize> = (0..p).map(|_| rng.random_range(0..p)).collect();
            let ni: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let pick = |s: &[f64], idx: &[usize]| idx.iter().map(|&i| s[i]).collect::<Vec<_>>();
            let a = auc(&pick(a_members, &mi), &pick(a_nonmembers, &ni));
            let b = auc(&pick(b_members, &mi), &pick(b_nonmembers, &ni));
            // The resampled scores are finite and non-empty, as the full ones were.
            a.unwrap_or(f64::NAN) - b.unwrap_or(f64::NAN)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let (q_lo, q_hi) = ((1.0 - options.level) / 2.0, (1.0 + options.level) / 2.0);
    Ok(ConfidenceInterval {
        estimate,
        lower: quantile_sorted(&values, q_lo),
        upper: quantile_sorted(&values, q_hi),
        level: options.level,
    })
}

/// The result of [`sign_flip_test`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignFlipTest {
    /// Number of paired differences S.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// How many are > 0.
    pub positive: usize,
    /// How many are < 0.
    pub negative: usize,
    /// Two-sided p-value of H₀ "symmetric about 0".
    pub p_value: f64,
    /// Whether `p_value` is exact (every sign pattern enumerated) or a Monte Carlo estimate.
    pub exact: bool,
}

/// The two-sided sign-flip (randomisation) test of the mean of paired differences (see the
/// module docs): p = #{ε ∈ {±1}^S : |Σ ε_s d_s| ≥ |Σ d_s|} / 2^S, counted with a relative
/// tolerance of 1e-12 so that patterns equal to the observed sum up to rounding count as
/// "at least as extreme". `seed` is used only above [`EXACT_SIGN_FLIP_MAX`] differences.
///
/// # Errors
/// [`crate::MiaError::InvalidParameter`] for no differences or a non-finite one.
pub fn sign_flip_test(differences: &[f64], seed: u64) -> Result<SignFlipTest> {
    let s = differences.len();
    if s == 0 {
        return Err(invalid("paired differences", 0, "need at least one"));
    }
    if let Some(bad) = differences.iter().find(|d| !d.is_finite()) {
        return Err(invalid("paired difference", bad, "must be finite"));
    }
    let total: f64 = differences.iter().sum();
    let scale: f64 = differences.iter().map(|d| d.abs()).sum();
    let threshold = total.abs() - 1e-12 * scale;
    let extreme = |signs: u64| {
        let sum: f64 = differences
            .iter()
            .enumerate()
            .map(|(i, d)| if signs >> i & 1 == 1 { -d } else { *d })
            .sum();
        sum.abs() >= threshold
    };
    let (p_value, exact) = if s <= EXACT_SIGN_FLIP_MAX {
        let patterns = 1u64 << s;
        let hits = (0..patterns)
            .into_par_iter()
            .filter(|&signs| extreme(signs))
            .count();
        (hits as f64 / patterns as f64, true)
    } else {
        let hits = (0..SIGN_FLIP_DRAWS)
            .into_par_iter()
            .filter(|&r| {
                let mut rng = Purpose::SignFlip.rng(seed, r as u64);
                let sum: f64 = differences
                    .iter()
                    .map(|d| if rng.random::<bool>() { -d } else { *d })
                    .sum();
                sum.abs() >= threshold
            })
            .count();
        ((1 + hits) as f64 / (1 + SIGN_FLIP_DRAWS) as f64, false)
    };
    Ok(SignFlipTest {
        n: s,
        mean: total / s as f64,
        positive: differences.iter().filter(|&&d| d > 0.0).count(),
        negative: differences.iter().filter(|&&d| d < 0.0).count(),
        p_value,
        exact,
    })
}

/// Holm's step-down adjustment (Holm 1979): with p-values sorted ascending p₍₁₎ ≤ … ≤ p₍ₘ₎,
/// p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎), returned in the input order. Rejecting every
/// hypothesis with p̃ ≤ α controls the family-wise error rate at α under any dependence.
///
/// # Errors
/// [`crate::MiaError::InvalidParameter`] for a p-value outside [0, 1].
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    if let Some(bad) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(invalid("p-value", bad, "must be in [0, 1]"));
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_flip_p_values_match_hand_counts() {
        // All six positive: only the all-plus and all-minus patterns are as extreme.
        let t = sign_flip_test(&[0.1, 0.2, 0.05, 0.3, 0.1, 0.2], 0).unwrap();
        assert_eq!(t.p_value, 2.0 / 64.0);
        assert!(t.exact);
        assert_eq!((t.positive, t.negative), (6, 0));
        // Five seeds can never reach 0.05.
        let t = sign_flip_test(&[1.0; 5], 0).unwrap();
        assert_eq!(t.p_value, 2.0 / 32.0);
        // Cancelling differences: every pattern is at least as extreme as a zero sum.
        let t = sign_flip_test(&[1.0, -1.0], 0).unwrap();
        assert_eq!(t.p_value, 1.0);
        // {3, −1}: patterns give |±3 ± 1| ∈ {4, 2}; observed 2, so all four count.
        assert_eq!(sign_flip_test(&[3.0, -1.0], 0).unwrap().p_value, 1.0);
        // {3, 1}: observed 4, two patterns of four.
        assert_eq!(sign_flip_test(&[3.0, 1.0], 0).unwrap().p_value, 0.5);
    }

    #[test]
    fn monte_carlo_sign_flips_are_seeded_and_close_to_exact() {
        let d: Vec<f64> = (0..24).map(|i| 0.01 * f64::from(i % 5) - 0.01).collect();
        let a = sign_flip_test(&d, 7).unwrap();
        let b = sign_flip_test(&d, 7).unwrap();
        assert_eq!(a, b);
        assert!(!a.exact);
        // All positive: p ≈ 2/2^24, so the Monte Carlo value is its floor 1/(1 + draws).
        let all = sign_flip_test(&[1.0; 24], 7).unwrap();
        assert_eq!(all.p_value, 1.0 / (1 + SIGN_FLIP_DRAWS) as f64);
    }

    #[test]
    fn holm_matches_a_hand_example() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]).unwrap();
        // sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → max-accumulated
        let expect = [0.03, 0.06, 0.06, 0.02];
        for (a, e) in adj.iter().zip(expect) {
            assert!((a - e).abs() < 1e-15, "{adj:?}");
        }
        assert!(holm(&[1.5]).is_err());
        assert_eq!(holm(&[]).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn paired_intervals_cancel_the_shared_rows() {
        // b is a shifted copy of a on the same rows: the difference is exactly 0 in every
        // replicate, while each AUC alone varies.
        // (values exact in binary, so the shift keeps every tie and order)
        let m: Vec<f64> = (0..40).map(f64::from).collect();
        let n: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.5 - 3.0).collect();
        let shift = |v: &[f64]| v.iter().map(|x| x + 3.0).collect::<Vec<_>>();
        let opts = BootstrapOptions {
            reps: 200,
            ..BootstrapOptions::default()
        };
        let ci = paired_auc_difference(&m, &n, &shift(&m), &shift(&n), &opts).unwrap();
        assert_eq!((ci.estimate, ci.lower, ci.upper), (0.0, 0.0, 0.0));
        // A model that separates better: positive estimate and an interval above 0.
        let better: Vec<f64> = m.iter().map(|x| x + 20.0).collect();
        let ci = paired_auc_difference(&better, &n, &m, &n, &opts).unwrap();
        assert!(ci.estimate > 0.0 && ci.lower > 0.0, "{ci:?}");
        assert!(paired_auc_difference(&m, &n, &m[1..], &n, &opts).is_err());
    }
}

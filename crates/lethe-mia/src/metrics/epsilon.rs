//! Empirical lower bounds on the privacy parameter ε from attack outcomes, with
//! Clopper–Pearson confidence intervals.
//!
//! If a mechanism M is (ε, δ)-indistinguishable on a pair of neighbouring inputs (for certified
//! removal: the unlearned model vs the retrained one, Guo et al. 2020, Definition 1), then for
//! every set S of outputs, `P[M(D) ∈ S] ≤ e^ε P[M(D′) ∈ S] + δ` and the same with D, D′
//! swapped. A membership test "member iff score ≥ t" is such a set, so its true rates satisfy
//!
//! ```text
//! TPR ≤ e^ε · FPR + δ      and      TNR ≤ e^ε · FNR + δ,
//! ε ≥ max( ln((TPR − δ) / FPR),  ln((TNR − δ) / FNR) ).
//! ```
//!
//! The rates are unknown; only counts from finitely many trials are. Following Jagielski,
//! Ullman and Oprea (NeurIPS 2020) and Nasr et al. (IEEE S&P 2021), lethe replaces TPR by a
//! Clopper–Pearson *lower* bound and FPR by an *upper* bound (then TNR ≥ 1 − FPR_hi and
//! FNR ≤ 1 − TPR_lo). Each one-sided bound fails with probability ≤ (1 − confidence)/2, so by
//! the union bound the reported ε lower bound is valid with probability ≥ `confidence`.
//!
//! The threshold must not be chosen on the same trials that are counted, or the bound is
//! optimistic: [`empirical_epsilon_from_scores`] picks it on one half and counts on the other.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use super::roc::{Ranked, Roc};
use crate::error::{MiaError, Result, check_scores, invalid};
use lethe_models::noise::Purpose;

/// The regularized incomplete beta function `I_x(a, b)`, by the continued fraction of
/// Numerical Recipes (§6.4) evaluated with the modified Lentz method, using the symmetry
/// `I_x(a, b) = 1 − I_{1−x}(b, a)` where the fraction converges fast.
///
/// Unlike statrs's version (capped at 140 terms), the fraction runs until it converges
/// (O(√max(a, b)) terms), so it is accurate for the large counts of big attack evaluations.
///
/// # Errors
/// [`MiaError::InvalidParameter`] unless `a, b > 0` and `0 ≤ x ≤ 1`;
/// [`MiaError::Numerical`] if the fraction does not converge.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> Result<f64> {
    if !(a > 0.0 && a.is_finite()) {
        return Err(invalid("a", a, "must be finite and > 0"));
    }
    if !(b > 0.0 && b.is_finite()) {
        return Err(invalid("b", b, "must be finite and > 0"));
    }
    if !(0.0..=1.0).contains(&x) {
        return Err(invalid("x", x, "must be in [0, 1]"));
    }
    if x == 0.0 {
        return Ok(0.0);
    }
    if x == 1.0 {
        return Ok(1.0);
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    if x < (a + 1.0) / (a + b + 2.0) {
        Ok((ln_front.exp() * beta_continued_fraction(a, b, x)? / a).clamp(0.0, 1.0))
    } else {
        Ok((1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x)? / b).clamp(0.0, 1.0))
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> Result<f64> {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let max_terms = 1000 + (100.0 * a.max(b).sqrt()) as usize;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=max_terms {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= EPS {
            return Ok(h);
        }
    }
    Err(MiaError::Numerical {
        what: "regularized incomplete beta",
        reason: format!("continued fraction did not converge for a = {a}, b = {b}, x = {x}"),
    })
}

/// The `p`-quantile of Beta(a, b): the x with `I_x(a, b) = p`, by bisection on
/// [`regularized_incomplete_beta`] (monotone in x) to a relative width of 1e-15. Returns the
/// lower end of the final bracket (so `I_x(a, b) ≤ p` up to rounding of `I`).
///
/// # Errors
/// As [`regularized_incomplete_beta`]; [`MiaError::InvalidParameter`] unless `0 ≤ p ≤ 1`.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        return Err(invalid("p", p, "must be in [0, 1]"));
    }
    regularized_incomplete_beta(a, b, 0.5)?; // validates a and b
    if p == 0.0 {
        return Ok(0.0);
    }
    if p == 1.0 {
        return Ok(1.0);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 1e-15 * hi {
            break;
        }
        if regularized_incomplete_beta(a, b, mid)? < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// One-sided Clopper–Pearson lower bound on a binomial proportion: with probability ≥ 1 − α
/// the true proportion is ≥ the returned value. For `k = 0` it is 0, otherwise the α-quantile
/// of Beta(k, n − k + 1).
fn cp_lower(k: u64, n: u64, alpha: f64) -> Result<f64> {
    if k == 0 {
        return Ok(0.0);
    }
    beta_quantile(alpha, k as f64, (n - k + 1) as f64)
}

/// One-sided Clopper–Pearson upper bound: `1 − cp_lower(n − k, n, α)`, rounded up one ulp so
/// that the subtraction never makes it smaller.
fn cp_upper(k: u64, n: u64, alpha: f64) -> Result<f64> {
    if k == n {
        return Ok(1.0);
    }
    Ok((1.0 - cp_lower(n - k, n, alpha)?).next_up().min(1.0))
}

/// The two-sided Clopper–Pearson ("exact") interval for `k` successes in `n` trials at
/// `confidence` (e.g. 0.95): `[B(α/2; k, n−k+1), B(1−α/2; k+1, n−k)]` with α = 1 − confidence
/// and B the beta quantile; the ends are 0 for k = 0 and 1 for k = n. Its coverage is at least
/// `confidence` for every true proportion (Clopper & Pearson, Biometrika 1934).
///
/// # Errors
/// [`MiaError::InvalidParameter`] for `n = 0`, `k > n` or a confidence outside (0, 1).
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> Result<(f64, f64)> {
    check_confidence(confidence)?;
    if n == 0 {
        return Err(invalid("n", n, "must be at least 1"));
    }
    if k > n {
        return Err(invalid("k", k, format!("must be at most n = {n}")));
    }
    let alpha = 1.0 - confidence;
    Ok((cp_lower(k, n, alpha / 2.0)?, cp_upper(k, n, alpha / 2.0)?))
}

fn check_confidence(confidence: f64) -> Result<()> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(invalid("confidence", confidence, "must be in (0, 1)"))
    }
}

fn check_delta(delta: f64) -> Result<()> {
    if (0.0..1.0).contains(&delta) {
        Ok(())
    } else {
        Err(invalid("delta", delta, "must be in [0, 1)"))
    }
}

/// Which inequality gave the ε lower bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpsilonDirection {
    /// `ln((TPR_lo − δ) / FPR_hi)`.
    TprOverFpr,
    /// `ln((TNR_lo − δ) / FNR_hi)` with `TNR_lo = 1 − FPR_hi`, `FNR_hi = 1 − TPR_lo`.
    TnrOverFnr,
    /// Neither is positive: the bound is 0.
    None,
}

/// An empirical ε lower bound and how it was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpsilonBound {
    /// The lower bound on ε, ≥ 0 (valid with probability ≥ `confidence`).
    pub epsilon_lower_bound: f64,
    /// Which inequality attained it.
    pub direction: EpsilonDirection,
    /// The δ assumed.
    pub delta: f64,
    /// The joint confidence level.
    pub confidence: f64,
    /// True positives (members predicted member).
    pub tp: u64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// One-sided Clopper–Pearson lower bound on TPR at level 1 − (1 − confidence)/2.
    pub tpr_lower: f64,
    /// One-sided Clopper–Pearson upper bound on FPR at level 1 − (1 − confidence)/2.
    pub fpr_upper: f64,
}

/// The empirical ε lower bound of one threshold test from its confusion counts:
/// `ε_lb = max(0, ln((TPR_lo − δ)/FPR_hi), ln((TNR_lo − δ)/FNR_hi))` with Clopper–Pearson
/// bounds `TPR_lo`, `FPR_hi` (each one-sided at level 1 − (1 − confidence)/2, so both hold
/// together with probability ≥ `confidence`), `TNR_lo = 1 − FPR_hi` and `FNR_hi = 1 − TPR_lo`.
///
/// The counts must come from trials *independent of how the threshold was chosen*; see
/// [`empirical_epsilon_from_scores`].
///
/// # Errors
/// [`MiaError::InvalidCounts`] without members (`tp + fn = 0`) or non-members (`fp + tn = 0`);
/// [`MiaError::InvalidParameter`] unless `0 ≤ δ < 1` and `0 < confidence < 1`.
///
/// # Example
/// ```
/// use lethe_mia::metrics::empirical_epsilon_lower_bound;
/// // a perfect test on 1000 + 1000 trials
/// let b = empirical_epsilon_lower_bound(1000, 0, 0, 1000, 1e-5, 0.95)?;
/// assert!(b.epsilon_lower_bound > 5.0 && b.epsilon_lower_bound < 7.0);
/// // a useless one
/// let b = empirical_epsilon_lower_bound(500, 500, 500, 500, 1e-5, 0.95)?;
/// assert_eq!(b.epsilon_lower_bound, 0.0);
/// # Ok::<(), lethe_mia::MiaError>(())
/// ```
pub fn empirical_epsilon_lower_bound(
    tp: u64,
    fn_: u64,
    fp: u64,
    tn: u64,
    delta: f64,
    confidence: f64,
) -> Result<EpsilonBound> {
    check_delta(delta)?;
    check_confidence(confidence)?;
    let (p, n) = (tp + fn_, fp + tn);
    if p == 0 || n == 0 {
        return Err(MiaError::InvalidCounts {
            reason: format!(
                "need at least one member and one non-member trial (got {p} members, {n} non-members)"
            ),
        });
    }
    let alpha_each = (1.0 - confidence) / 2.0;
    let tpr_lower = cp_lower(tp, p, alpha_each)?;
    let fpr_upper = cp_upper(fp, n, alpha_each)?;
    let mut best = (0.0, EpsilonDirection::None);
    if tpr_lower > delta && fpr_upper > 0.0 {
        let e = ((tpr_lower - delta) / fpr_upper).ln();
        if e > best.0 {
            best = (e, EpsilonDirection::TprOverFpr);
        }
    }
    let (tnr_lower, fnr_upper) = (1.0 - fpr_upper, 1.0 - tpr_lower);
    if tnr_lower > delta && fnr_upper > 0.0 {
        let e = ((tnr_lower - delta) / fnr_upper).ln();
        if e > best.0 {
            best = (e, EpsilonDirection::TnrOverFnr);
        }
    }
    Ok(EpsilonBound {
        epsilon_lower_bound: best.0,
        direction: best.1,
        delta,
        confidence,
        tp,
        fn_,
        fp,
        tn,
        tpr_lower,
        fpr_upper,
    })
}

/// An ε lower bound computed from scores with a threshold chosen on held-out trials.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreEpsilon {
    /// The bound, from the counts on the evaluation half only.
    pub bound: EpsilonBound,
    /// The chosen threshold, on the original score scale.
    pub threshold: f64,
    /// `false`: "member iff score ≥ threshold"; `true`: "member iff score ≤ threshold" (the
    /// selection half found the reversed test stronger).
    pub reversed: bool,
    /// Member trials used to choose the threshold.
    pub selection_members: usize,
    /// Non-member trials used to choose the threshold.
    pub selection_nonmembers: usize,
    /// The seed of the random split.
    pub seed: u64,
}

/// At most `max` ROC point indices, spread logarithmically and linearly in FPR (cheap
/// candidates for threshold selection).
fn candidate_points(roc: &Roc, max: usize) -> Vec<usize> {
    let pts = roc.points();
    if pts.len() <= max {
        return (0..pts.len()).collect();
    }
    let mut idx: Vec<usize> = Vec::with_capacity(max);
    let n = roc.n_nonmembers() as f64;
    let half = max / 2;
    // log grid in fp from 1 to n, and a linear grid; take the last point with fp ≤ each level
    let mut levels: Vec<f64> = (0..half)
        .map(|i| n.powf(i as f64 / (half - 1) as f64))
        .chain((0..half).map(|i| n * i as f64 / (half - 1) as f64))
        .collect();
    levels.push(0.0);
    for level in levels {
        let j = pts.partition_point(|p| p.fp as f64 <= level);
        if j > 0 {
            idx.push(j - 1);
        }
    }
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// An honest empirical ε lower bound from membership scores of trials of a mechanism run on
/// D (members, positives) and on D′ (non-members).
///
/// The trials are split at random (seeded) into a *selection* half and an *evaluation* half,
/// separately for members and non-members. On the selection half, the threshold and
/// orientation ("score ≥ t" or "score ≤ t") that maximise the ε lower bound are chosen among
/// up to 512 candidate thresholds spread over the ROC; the bound reported is
/// [`empirical_epsilon_lower_bound`] of the counts on the *evaluation* half only. Because the
/// test is fixed before the evaluation trials are looked at, the Clopper–Pearson statement
/// holds for it (choosing and counting on the same trials would overstate ε).
///
/// # Errors
/// [`MiaError::InvalidParameter`] with fewer than 2 trials on either side, or for bad δ or
/// confidence; score errors as [`super::roc`].
pub fn empirical_epsilon_from_scores(
    members: &[f64],
    nonmembers: &[f64],
    delta: f64,
    confidence: f64,
    seed: u64,
) -> Result<ScoreEpsilon> {
    check_delta(delta)?;
    check_confidence(confidence)?;
    check_scores("member scores", members)?;
    check_scores("non-member scores", nonmembers)?;
    if members.len() < 2 || nonmembers.len() < 2 {
        return Err(invalid(
            "trials",
            format!(
                "{} members, {} non-members",
                members.len(),
                nonmembers.len()
            ),
            "need at least 2 of each to split into selection and evaluation halves",
        ));
    }
    let split = |scores: &[f64], index: u64| -> (Vec<f64>, Vec<f64>) {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.shuffle(&mut Purpose::EpsilonSplit.rng(seed, index));
        let half = scores.len() / 2;
        (
            order[..half].iter().map(|&i| scores[i]).collect(),
            order[half..].iter().map(|&i| scores[i]).collect(),
        )
    };
    let (sel_m, eval_m) = split(members, 0);
    let (sel_n, eval_n) = split(nonmembers, 1);
    let (_, threshold, reversed) = select_threshold(&sel_m, &sel_n, delta, confidence)?;
    let bound = bound_at_threshold(&eval_m, &eval_n, threshold, reversed, delta, confidence)?;
    Ok(ScoreEpsilon {
        bound,
        threshold,
        reversed,
        selection_members: sel_m.len(),
        selection_nonmembers: sel_n.len(),
        seed,
    })
}

/// The threshold test that maximises the ε lower bound on *selection* trials: among up to 512
/// candidate thresholds spread over the ROC, in both orientations ("score ≥ t" and
/// "score ≤ t"). Returns (the selection trials' bound, threshold, reversed). The bound it
/// returns is optimistic (chosen and counted on the same trials): use it only to pick a test,
/// then count on fresh trials with [`bound_at_threshold`].
///
/// # Errors
/// Score errors as [`super::roc`]; [`MiaError::Numerical`] if no candidate threshold exists.
pub(crate) fn select_threshold(
    members: &[f64],
    nonmembers: &[f64],
    delta: f64,
    confidence: f64,
) -> Result<(f64, f64, bool)> {
    // (bound, threshold, reversed)
    let mut best: Option<(f64, f64, bool)> = None;
    for reversed in [false, true] {
        let orient = |v: &[f64]| -> Vec<f64> {
            if reversed {
                v.iter().map(|s| -s).collect()
            } else {
                v.to_vec()
            }
        };
        let roc = Roc::from_ranked(&Ranked::new(&orient(members), &orient(nonmembers))?);
        let (p, n) = (roc.n_members(), roc.n_nonmembers());
        for i in candidate_points(&roc, 512) {
            let pt = roc.points()[i];
            let Some(t) = pt.threshold else { continue };
            let b = empirical_epsilon_lower_bound(
                pt.tp,
                p - pt.tp,
                pt.fp,
                n - pt.fp,
                delta,
                confidence,
            )?;
            let threshold = if reversed { -t } else { t };
            if best.is_none_or(|(e, _, _)| b.epsilon_lower_bound > e) {
                best = Some((b.epsilon_lower_bound, threshold, reversed));
            }
        }
    }
    best.ok_or(MiaError::Numerical {
        what: "empirical epsilon",
        reason: "no candidate threshold".into(),
    })
}

/// [`empirical_epsilon_lower_bound`] of the fixed test "member iff score ≥ threshold" (or
/// "≤" when `reversed`) counted on `members` and `nonmembers`, which must not have been used
/// to choose the test.
///
/// # Errors
/// As [`empirical_epsilon_lower_bound`].
pub(crate) fn bound_at_threshold(
    members: &[f64],
    nonmembers: &[f64],
    threshold: f64,
    reversed: bool,
    delta: f64,
    confidence: f64,
) -> Result<EpsilonBound> {
    let predicted = |s: f64| {
        if reversed {
            s <= threshold
        } else {
            s >= threshold
        }
    };
    let tp = members.iter().filter(|&&s| predicted(s)).count() as u64;
    let fp = nonmembers.iter().filter(|&&s| predicted(s)).count() as u64;
    empirical_epsilon_lower_bound(
        tp,
        members.len() as u64 - tp,
        fp,
        nonmembers.len() as u64 - fp,
        delta,
        confidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Beta, ContinuousCDF};

    #[test]
    fn incomplete_beta_matches_statrs_and_closed_forms() {
        for &(a, b) in &[
            (1.0, 1.0),
            (2.0, 5.0),
            (10.0, 3.0),
            (0.5, 0.5),
            (30.0, 70.0),
        ] {
            for &x in &[1e-6, 0.01, 0.2, 0.5, 0.77, 0.999] {
                let ours = regularized_incomplete_beta(a, b, x).unwrap();
                let theirs = statrs::function::beta::beta_reg(a, b, x);
                assert!(
                    (ours - theirs).abs() < 1e-12,
                    "{a} {b} {x}: {ours} vs {theirs}"
                );
            }
        }
        // I_x(1, b) = 1 − (1 − x)^b
        let v = regularized_incomplete_beta(1.0, 40.0, 0.03).unwrap();
        assert!(
            (v - (1.0 - 0.97f64.powi(40))).abs() < 1e-12,
            "{v} vs {}",
            1.0 - 0.97f64.powi(40)
        );
        // large parameters still converge (statrs caps its fraction at 140 terms)
        let v = regularized_incomplete_beta(50_000.0, 50_001.0, 0.5).unwrap();
        assert!((v - 0.5).abs() < 0.01, "{v}");
    }

    #[test]
    fn quantiles_invert() {
        for &(p, a, b) in &[
            (0.025, 3.0, 98.0),
            (0.975, 4.0, 97.0),
            (0.5, 1.0, 1.0),
            (1e-9, 1.0, 1e5),
        ] {
            let x = beta_quantile(p, a, b).unwrap();
            let back = regularized_incomplete_beta(a, b, x).unwrap();
            assert!(
                (back - p).abs() <= 1e-12 * p.max(1e-3),
                "{p} {a} {b}: {x} -> {back}"
            );
            let s = Beta::new(a, b).unwrap().inverse_cdf(p);
            assert!((x - s).abs() <= 1e-9 * s.max(1e-12), "{x} vs statrs {s}");
        }
    }

    #[test]
    fn clopper_pearson_closed_forms() {
        let (n, conf) = (50u64, 0.95);
        let a2 = (1.0 - conf) / 2.0;
        let (lo, hi) = clopper_pearson(0, n, conf).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - a2.powf(1.0 / n as f64))).abs() < 1e-12);
        let (lo, hi) = clopper_pearson(n, n, conf).unwrap();
        assert_eq!(hi, 1.0);
        assert!((lo - a2.powf(1.0 / n as f64)).abs() < 1e-12);
        // 7 of 20 at 95% (binomial tails summed exactly and bisected independently)
        let (lo, hi) = clopper_pearson(7, 20, 0.95).unwrap();
        assert!((lo - 0.153_909_204_784_541).abs() < 1e-12, "{lo}");
        assert!((hi - 0.592_188_534_532_828).abs() < 1e-12, "{hi}");
        assert!(clopper_pearson(3, 2, 0.95).is_err());
        assert!(clopper_pearson(0, 0, 0.95).is_err());
        assert!(clopper_pearson(1, 2, 1.0).is_err());
    }

    #[test]
    fn epsilon_bound_cases() {
        let b = empirical_epsilon_lower_bound(1000, 0, 0, 1000, 1e-5, 0.95).unwrap();
        // TPR_lo = 0.025^(1/1000), FPR_hi = 1 − 0.025^(1/1000)
        let t = 0.025f64.powf(1e-3);
        assert!((b.epsilon_lower_bound - ((t - 1e-5) / (1.0 - t)).ln()).abs() < 1e-9);
        // the other inequality: no misses, half the non-members flagged
        let b = empirical_epsilon_lower_bound(1000, 0, 500, 500, 0.0, 0.95).unwrap();
        assert_eq!(b.direction, EpsilonDirection::TnrOverFnr);
        assert!(b.epsilon_lower_bound > 4.0);
        assert!(empirical_epsilon_lower_bound(0, 0, 1, 1, 0.0, 0.95).is_err());
        assert!(empirical_epsilon_lower_bound(1, 1, 1, 1, 1.0, 0.95).is_err());
    }
}

//! Privacy accounting for the Gaussian loss perturbation: how large an accumulated gradient
//! residual β a noise scale σ hides at (ε, δ), and which ε a given β spends.
//!
//! # The reduction (what is being accounted)
//! Guo et al. (2020), Theorem 3 and its proof: a model w⁻ released after removal satisfies
//! ∇L_b(w⁻; D′) = u with ‖u‖ ≤ β, so w⁻ is the exact minimiser of L_{b−u}(·; D′), while a
//! retrain on D′ is the minimiser of L_{b′}(·; D′) with b′ ~ N(0, σ²I). Because
//! w ↦ −∇L(w; D′) is a bijection (strong convexity: λ(n − m) > 0), the removal outputs w exactly
//! when the retrain would have drawn b′ = b − u. The proof then compares the densities of b and
//! b − u for ‖u‖ ≤ β, i.e. it treats the removal as the **Gaussian mechanism with ℓ₂
//! sensitivity β and noise σ**, and any valid (ε, δ) statement for that mechanism is used as
//! the certificate. lethe keeps this reduction exactly as the paper states it and replaces only
//! the last step, the (ε, δ) of the Gaussian mechanism: the classic tail bound (paper) or the
//! exact profile (analytic).
//!
//! Assumptions, checked where lethe can: b is a secret draw from N(0, σ²I_d), independent of
//! the removal requests (a replayed, public b or requests chosen by looking at released models
//! are labelled `replay`/`adaptive` and not certified); σ > 0; the loss is convex and twice
//! differentiable with γ-Lipschitz ℓ″; every row has ‖x_i‖ ≤ 1; β upper-bounds ‖u‖ (the
//! bounds of `lethe_removal::bounds`, plus the training residual r₀). The reduction treats u
//! as the shift of a Gaussian mechanism although u is computed from the released model; this
//! is the paper's argument, which lethe inherits and does not strengthen.
//!
//! # The two calibrations
//! - [`Accounting::Paper`]: the classic analysis (Dwork & Roth 2014, Thm A.1), used by Guo et
//!   al.: budget β ≤ σε/c with c = √(2 ln(1.5/δ)). It is only valid for small ε: it fails for
//!   ε above about 8.38 at δ = 1e-4 (7.21 at δ = 1e-2). lethe refuses such configs and never
//!   reports an ε spent by this formula that is not a valid statement ([`paper_is_valid`]).
//! - [`Accounting::Analytic`] (the default): the exact privacy profile of the Gaussian
//!   mechanism (Balle & Wang, ICML 2018, Theorem 8). With r = Δ/σ,
//!
//!   δ(ε; r) = Φ(r/2 − ε/r) − e^ε · Φ(−r/2 − ε/r),
//!
//!   which is increasing in r and decreasing in ε. The budget is the largest Δ with
//!   δ(ε; Δ/σ) ≤ δ ([`analytic_budget_ratio`]) and the ε spent by β the smallest ε with
//!   δ(ε; β/σ) ≤ δ ([`analytic_epsilon`]). Both are found by bisection that errs on the safe
//!   side: a candidate is accepted only if δ(ε; r) plus a floating-point allowance
//!   ([`profile_error_allowance`]) is ≤ δ.
//!
//! At ε = 1, δ = 1e-4 the analytic budget is ≈ 0.314σ against the paper's 0.228σ.
//!
//! The pure-ε (Gamma-norm) noise needs no δ: its budget is σε and the ε spent is β/σ (the
//! density ratio of b and b − u is at most e^{‖u‖/σ} everywhere); see `crate::noise`.

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

/// How the Gaussian noise's (ε, δ) is accounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Accounting {
    /// The exact privacy profile of the Gaussian mechanism (Balle & Wang 2018, Thm 8): valid
    /// for every ε.
    #[default]
    Analytic,
    /// Guo et al.'s calibration σε/c, c = √(2 ln(1.5/δ)): valid only for small ε (checked).
    Paper,
}

impl Accounting {
    /// Short name used in configs and results.
    pub fn name(&self) -> &'static str {
        match self {
            Accounting::Analytic => "analytic",
            Accounting::Paper => "paper",
        }
    }
}

/// c(δ) = √(2 ln(1.5/δ)), natural log. c(1e-4) = 4.385386067402584. Where 1.5/δ overflows
/// (subnormal δ) it is computed as √(2 (ln 1.5 − ln δ)).
pub fn gaussian_c(delta: f64) -> f64 {
    let ratio = 1.5 / delta;
    if ratio.is_finite() {
        (2.0 * ratio.ln()).sqrt()
    } else {
        (2.0 * (1.5_f64.ln() - delta.ln())).sqrt()
    }
}

/// The standard normal CDF Φ(x) = erfc(−x/√2)/2 (relative accuracy ~1e-15 also in the far
/// lower tail, where 1 − Φ would cancel).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The two terms of the privacy profile, Φ(r/2 − ε/r) and e^ε·Φ(−r/2 − ε/r), for r > 0.
/// The second is evaluated as exp(ε + ln Φ(·)) so that e^ε does not overflow before the
/// product is formed.
fn profile_terms(epsilon: f64, ratio: f64) -> (f64, f64) {
    let a = normal_cdf(ratio / 2.0 - epsilon / ratio);
    let phi_b = normal_cdf(-ratio / 2.0 - epsilon / ratio);
    let b = if phi_b > 0.0 {
        (epsilon + phi_b.ln()).exp()
    } else {
        0.0
    };
    (a, b)
}

/// δ(ε) of the Gaussian mechanism with sensitivity-to-noise ratio r = Δ/σ (Balle & Wang
/// 2018, Theorem 8): Φ(r/2 − ε/r) − e^ε·Φ(−r/2 − ε/r), clamped to [0, 1]. r = 0 gives 0
/// (nothing to hide); r = ∞ gives 1.
pub fn gaussian_delta(epsilon: f64, ratio: f64) -> f64 {
    if ratio <= 0.0 {
        return 0.0;
    }
    if !ratio.is_finite() {
        return 1.0;
    }
    let (a, b) = profile_terms(epsilon, ratio);
    (a - b).clamp(0.0, 1.0)
}

/// An upper bound on the floating-point error of [`gaussian_delta`]: 1e-12 relative to the
/// larger term plus the smallest normal number. erfc is accurate to a few ulps (statrs ports
/// Boost's rational approximations), exp and ln to one ulp each, and the subtraction adds one
/// rounding; 1e-12 covers these with a wide margin, also for the error of ε/r and r/2 near
/// the argument, since Φ′ ≤ 0.4 and |arguments| are rounded to relative 1e-16.
pub fn profile_error_allowance(epsilon: f64, ratio: f64) -> f64 {
    if ratio <= 0.0 || !ratio.is_finite() {
        return 0.0;
    }
    let (a, b) = profile_terms(epsilon, ratio);
    1e-12 * a.max(b) + f64::MIN_POSITIVE
}

/// Whether ratio r certainly satisfies δ(ε; r) ≤ δ, counting the evaluation error.
fn certainly_within(epsilon: f64, ratio: f64, delta: f64) -> bool {
    gaussian_delta(epsilon, ratio) + profile_error_allowance(epsilon, ratio) <= delta
}

/// Bisection steps: enough to pin a double to its last bit from any bracket used here.
const BISECTION_STEPS: usize = 2100;

/// The largest r = Δ/σ with δ(ε; r) ≤ δ (safe side: the returned r satisfies it with the
/// evaluation error counted). 0 when even tiny ratios do not (never for δ > 0), +∞ never.
///
/// # Panics
/// Never; ε must be positive and finite and δ in (0, 1) (checked by the callers' parameter
/// checks; other values return 0).
pub fn analytic_budget_ratio(epsilon: f64, delta: f64) -> f64 {
    if !(epsilon > 0.0 && epsilon.is_finite() && delta > 0.0 && delta < 1.0) {
        return 0.0;
    }
    // Bracket: lo satisfies, hi does not.
    let mut lo = 0.0_f64;
    let mut hi = 1.0_f64;
    while certainly_within(epsilon, hi, delta) {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return lo;
        }
    }
    for _ in 0..BISECTION_STEPS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if certainly_within(epsilon, mid, delta) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The smallest ε with δ(ε; r) ≤ δ for r = β/σ (safe side: the returned ε satisfies it with
/// the evaluation error counted). 0 for r = 0; +∞ for r = ∞ (σ = 0 with β > 0).
pub fn analytic_epsilon(ratio: f64, delta: f64) -> f64 {
    if !(ratio > 0.0) {
        return 0.0;
    }
    if !(ratio.is_finite() && delta > 0.0 && delta < 1.0) {
        return f64::INFINITY;
    }
    if certainly_within(0.0, ratio, delta) {
        return 0.0;
    }
    // Bracket: lo does not satisfy, hi does. δ(ε) ≤ e^{-ε}·… decays like a Gaussian tail in ε,
    // so doubling finds hi quickly.
    let mut lo = 0.0_f64;
    let mut hi = 1.0_f64;
    while !certainly_within(hi, ratio, delta) {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return f64::INFINITY;
        }
    }
    for _ in 0..BISECTION_STEPS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if certainly_within(mid, ratio, delta) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Whether the paper's calibration (r = ε/c(δ)) is a valid (ε, δ) statement: δ(ε; ε/c) ≤ δ
/// under the exact profile, with the evaluation error counted.
pub fn paper_is_valid(epsilon: f64, delta: f64) -> bool {
    epsilon > 0.0 && delta > 0.0 && delta < 1.0 && {
        let c = gaussian_c(delta);
        certainly_within(epsilon, epsilon / c, delta)
    }
}

/// The largest ε at which the paper's calibration is still valid for this δ (bisection on
/// [`paper_is_valid`], which holds for small ε and fails above a threshold: 8.38 at δ = 1e-4).
pub fn paper_validity_limit(delta: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while paper_is_valid(hi, delta) {
        lo = hi;
        hi *= 2.0;
        if hi > 1e6 {
            return lo;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if paper_is_valid(mid, delta) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// δ(ε) as the integral ∫ max(0, p(x) − e^ε q(x)) dx of the two Gaussians p = N(Δ, σ²) and
    /// q = N(0, σ²) (the hockey-stick divergence, which Theorem 8 evaluates in closed form).
    /// p > e^ε q exactly for x > x* = εσ²/Δ + Δ/2, so the integrand is smooth on [x*, x* + 40σ]
    /// and the composite Simpson rule there converges fast.
    fn delta_by_integration(epsilon: f64, sensitivity: f64, sigma: f64) -> f64 {
        let pdf = |x: f64, mu: f64| {
            (-(x - mu) * (x - mu) / (2.0 * sigma * sigma)).exp()
                / (sigma * (2.0 * std::f64::consts::PI).sqrt())
        };
        let f = |x: f64| pdf(x, sensitivity) - epsilon.exp() * pdf(x, 0.0);
        let a = epsilon * sigma * sigma / sensitivity + sensitivity / 2.0;
        let b = a + 40.0 * sigma;
        let steps = 200_000;
        let h = (b - a) / steps as f64;
        let mut s = f(a) + f(b);
        for k in 1..steps {
            let x = a + k as f64 * h;
            s += if k % 2 == 1 { 4.0 } else { 2.0 } * f(x);
        }
        s * h / 3.0
    }

    #[test]
    fn profile_matches_numerical_integration() {
        for &(eps, sens, sigma) in &[
            (0.5, 1.0, 1.0),
            (1.0, 0.314, 1.0),
            (1.0, 3.2, 10.0),
            (2.0, 1.5, 0.7),
            (5.0, 4.0, 1.0),
            (0.1, 0.2, 2.0),
        ] {
            let closed = gaussian_delta(eps, sens / sigma);
            let numeric = delta_by_integration(eps, sens, sigma);
            assert!(
                (closed - numeric).abs() <= 1e-9 * numeric.max(1e-12) + 1e-13,
                "ε = {eps}, Δ = {sens}, σ = {sigma}: closed form {closed}, integral {numeric}"
            );
        }
    }

    #[test]
    fn budget_at_epsilon_one_is_about_0_314_sigma() {
        let r = analytic_budget_ratio(1.0, 1e-4);
        assert!((r - 0.314).abs() < 1e-3, "{r}");
        let paper = 1.0 / gaussian_c(1e-4);
        assert!((paper - 0.228).abs() < 1e-3);
        assert!((r / paper - 1.38).abs() < 0.01, "{}", r / paper);
        // The budget is tight: a slightly larger ratio violates δ.
        assert!(gaussian_delta(1.0, r) <= 1e-4);
        assert!(gaussian_delta(1.0, r * (1.0 + 1e-9)) > 1e-4 * (1.0 - 1e-6));
    }

    #[test]
    fn paper_calibration_fails_above_the_thresholds() {
        let t4 = paper_validity_limit(1e-4);
        assert!((t4 - 8.38).abs() < 0.01, "{t4}");
        let t2 = paper_validity_limit(1e-2);
        assert!((t2 - 7.21).abs() < 0.01, "{t2}");
        assert!(paper_is_valid(1.0, 1e-4));
        assert!(!paper_is_valid(20.0, 1e-4));
        // At ε = 20, δ = 1e-4 the paper's budget has true δ ≈ 1.1e-2.
        let true_delta = gaussian_delta(20.0, 20.0 / gaussian_c(1e-4));
        assert!((true_delta - 1.1e-2).abs() < 1e-3, "{true_delta}");
    }

    #[test]
    fn epsilon_inverts_the_budget() {
        for &(eps, delta) in &[(1.0, 1e-4), (0.05, 1e-6), (10.0, 1e-5), (40.0, 0.05)] {
            let r = analytic_budget_ratio(eps, delta);
            let back = analytic_epsilon(r, delta);
            assert!(back <= eps * (1.0 + 1e-9) && back >= eps * (1.0 - 1e-6));
        }
        assert_eq!(analytic_epsilon(0.0, 1e-4), 0.0);
        assert_eq!(analytic_epsilon(f64::INFINITY, 1e-4), f64::INFINITY);
    }

    #[test]
    fn c_of_delta_does_not_overflow() {
        assert!((gaussian_c(1e-4) - 4.385386067402584).abs() < 1e-14);
        let c = gaussian_c(5e-324);
        assert!(c.is_finite() && c > 38.0, "{c}");
    }

    #[test]
    fn large_ratios_give_finite_epsilon() {
        let e = analytic_epsilon(300.0, 1e-4);
        assert!(e.is_finite() && e > 300.0 * 300.0 / 2.0);
        assert!(gaussian_delta(e, 300.0) <= 1e-4);
    }

    proptest::proptest! {
        /// Every budget lethe issues satisfies δ(ε; budget/σ) ≤ δ under the exact profile, and
        /// the ε it reports for a residual equal to the budget is at most the target ε.
        #[test]
        fn every_issued_budget_satisfies_the_profile(
            epsilon in 0.01f64..50.0,
            log10_delta in -10.0f64..-1.0,
            log10_sigma in -3.0f64..3.0,
        ) {
            use crate::noise::NoiseKind;
            let delta = 10f64.powf(log10_delta);
            let sigma = 10f64.powf(log10_sigma);
            let g = NoiseKind::Gaussian;
            let budget = g.residual_budget(sigma, epsilon, delta, Accounting::Analytic);
            proptest::prop_assert!(budget > 0.0);
            proptest::prop_assert!(gaussian_delta(epsilon, budget / sigma) <= delta);
            let spent = g
                .epsilon_for_residual(sigma, budget, delta, Accounting::Analytic)
                .unwrap();
            proptest::prop_assert!(spent <= epsilon * (1.0 + 1e-12));
            proptest::prop_assert!(gaussian_delta(spent, budget / sigma) <= delta);
            // The paper's budget, wherever lethe accepts it, is a valid statement too.
            if paper_is_valid(epsilon, delta) {
                let paper = g.residual_budget(sigma, epsilon, delta, Accounting::Paper);
                proptest::prop_assert!(gaussian_delta(epsilon, paper / sigma) <= delta * (1.0 + 1e-9));
            }
        }
    }
}

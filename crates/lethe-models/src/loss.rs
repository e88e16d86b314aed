//! Losses of the margin `z = wᵀx` and the label `y`, with the constants the removal bounds need.
//!
//! Guo et al. (2020), §3: the bounds need ℓ″ to be γ-Lipschitz and ‖∇_w ℓ(wᵀx, y)‖ ≤ C for
//! ‖x‖ ≤ 1. With ∇_w ℓ = ℓ′(z, y)·x, C is a bound on |ℓ′|.

use serde::{Deserialize, Serialize};

/// A twice-differentiable convex loss of the margin `z = wᵀx` and a label `y`.
///
/// Derivatives are with respect to `z`; the gradient in `w` is `ℓ′(z, y) x` and the Hessian
/// contribution is `ℓ″(z, y) x xᵀ`.
pub trait Loss {
    /// ℓ(z, y).
    fn value(&self, z: f64, y: f64) -> f64;
    /// ∂ℓ/∂z.
    fn derivative(&self, z: f64, y: f64) -> f64;
    /// ∂²ℓ/∂z² (non-negative: the loss is convex).
    fn second_derivative(&self, z: f64, y: f64) -> f64;
    /// γ, a Lipschitz constant of z ↦ ℓ″(z, y) (Guo et al., Theorem 1).
    fn gamma(&self) -> f64;
    /// C, a bound on |ℓ′(z, y)| and hence on ‖∇_w ℓ‖ when ‖x‖ ≤ 1; `None` when unbounded.
    fn gradient_bound(&self) -> Option<f64>;
}

/// The losses lethe supports, as a plain value that configs can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Logistic loss ℓ = log(1 + e^{−yz}) for labels y ∈ {−1, +1}, with γ = 1/4 as in
    /// Guo et al. (2020).
    Logistic,
    /// The same logistic loss with the exact Lipschitz constant γ = 1/(6√3) ≈ 0.0962 of
    /// ℓ″ = s(1 − s). Beyond the paper: tighter certificates, clearly labelled.
    LogisticTight,
    /// Squared loss ℓ = (z − y)², for real y; ℓ″ = 2 is constant so γ = 0 and one Newton step
    /// removes exactly.
    Squared,
}

impl LossKind {
    /// Short name: `logistic`, `logistic_tight` or `squared`.
    pub fn name(&self) -> &'static str {
        match self {
            LossKind::Logistic => "logistic",
            LossKind::LogisticTight => "logistic_tight",
            LossKind::Squared => "squared",
        }
    }

    /// Whether the loss needs labels in {−1, +1}.
    pub fn needs_binary_labels(&self) -> bool {
        matches!(self, LossKind::Logistic | LossKind::LogisticTight)
    }
}

/// Numerically stable log(1 + eᵗ).
#[inline]
pub fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// Numerically stable logistic function σ(t) = 1 / (1 + e^{−t}).
#[inline]
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// γ = 1/(6√3): the largest |d/dz s(1−s)| with s = σ(z).
pub const LOGISTIC_TIGHT_GAMMA: f64 = 0.096_225_044_864_937_63;

impl Loss for LossKind {
    #[inline]
    fn value(&self, z: f64, y: f64) -> f64 {
        match self {
            LossKind::Logistic | LossKind::LogisticTight => softplus(-y * z),
            LossKind::Squared => (z - y) * (z - y),
        }
    }

    #[inline]
    fn derivative(&self, z: f64, y: f64) -> f64 {
        match self {
            // d/dz log(1 + e^{−yz}) = −y σ(−yz)
            LossKind::Logistic | LossKind::LogisticTight => -y * sigmoid(-y * z),
            LossKind::Squared => 2.0 * (z - y),
        }
    }

    #[inline]
    fn second_derivative(&self, z: f64, y: f64) -> f64 {
        match self {
            // y² σ(yz) σ(−yz) = s(1 − s) with s = σ(yz) and y ∈ {±1}
            LossKind::Logistic | LossKind::LogisticTight => {
                let t = y * z;
                let s = sigmoid(t);
                let one_minus_s = sigmoid(-t);
                y * y * s * one_minus_s
            }
            LossKind::Squared => 2.0,
        }
    }

    fn gamma(&self) -> f64 {
        match self {
            LossKind::Logistic => 0.25,
            LossKind::LogisticTight => LOGISTIC_TIGHT_GAMMA,
            LossKind::Squared => 0.0,
        }
    }

    fn gradient_bound(&self) -> Option<f64> {
        match self {
            LossKind::Logistic | LossKind::LogisticTight => Some(1.0),
            LossKind::Squared => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_stable_for_large_margins() {
        let l = LossKind::Logistic;
        for &z in &[1e3, -1e3, 1e4, -1e4, 0.0] {
            for &y in &[1.0, -1.0] {
                let v = l.value(z, y);
                let d = l.derivative(z, y);
                let h = l.second_derivative(z, y);
                assert!(
                    v.is_finite() && d.is_finite() && h.is_finite(),
                    "z={z} y={y}"
                );
                assert!(v >= 0.0 && (0.0..=0.25).contains(&h));
            }
        }
        assert_eq!(l.value(1e3, 1.0), 0.0);
        assert!((l.value(-1e3, 1.0) - 1e3).abs() < 1e-9);
        assert!((l.value(0.0, 1.0) - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(l.second_derivative(0.0, -1.0), 0.25);
    }

    #[test]
    fn tight_gamma_is_the_max_slope_of_the_curvature() {
        // d/dz s(1−s) = s(1−s)(1−2s); maximise on a fine grid.
        let l = LossKind::Logistic;
        let mut max = 0.0_f64;
        let mut z = -6.0;
        while z < 6.0 {
            let s = sigmoid(z);
            max = max.max((s * (1.0 - s) * (1.0 - 2.0 * s)).abs());
            z += 1e-5;
        }
        assert!((max - LOGISTIC_TIGHT_GAMMA).abs() < 1e-9);
        assert!((LOGISTIC_TIGHT_GAMMA - 1.0 / (6.0 * 3f64.sqrt())).abs() < 1e-17);
        assert!(l.gamma() > LOGISTIC_TIGHT_GAMMA);
    }
}

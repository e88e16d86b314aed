//! Gradient-residual bounds for one Newton removal step.
//!
//! # Proof note (which theorem, which constants)
//!
//! Setting (Guo et al. 2020, §3): w minimises L_b(·; D) (up to the recorded training residual
//! r₀), B is the removed batch of m rows, D′ = D ∖ B has n − m rows, X is the (n − m) × d matrix
//! of D′, every ‖x_i‖ ≤ 1, ℓ is convex, ℓ″ is γ-Lipschitz and |ℓ′| ≤ C.
//!
//! The Newton step is w⁻ = w + v with v = H⁻¹Δ, Δ = mλw + Σ_{j∈B} ∇ℓ(wᵀx_j, y_j) and
//! H = ∇²L(w; D′) = Σ_{i∈D′} ℓ″(wᵀx_i) x_i x_iᵀ + λ(n − m)I (the λ(n − m)I term is missing in the
//! paper's Algorithm 2 — a misprint; it is in the paper's eq. (3) and in its code).
//! Because ∇L_b(w; D′) = −Δ when ∇L_b(w; D) = 0, the residual after the step is
//! ∇L_b(w⁻; D′) = ∇L(w + v; D′) − ∇L(w; D′) − Hv = Σ_i (ℓ″(ξ_i) − ℓ″(wᵀx_i)) x_i x_iᵀ v
//! for some ξ_i between wᵀx_i and (w + v)ᵀx_i (mean-value theorem per row; exact for γ = 0).
//! Write it as XᵀDXv with D diagonal, |D_ii| ≤ γ|x_iᵀv|.
//!
//! - **Data-dependent bound** (Corollary 1; the paper's certificate, eq. (5)):
//!   ‖XᵀDXv‖ ≤ ‖X‖₂ · ‖D‖₂ · ‖Xv‖ ≤ ‖X‖₂ · γ‖v‖ · ‖Xv‖, since |x_iᵀv| ≤ ‖x_i‖‖v‖ ≤ ‖v‖.
//!   [`data_dependent`] = γ‖X‖₂‖v‖‖Xv‖. ‖X‖₂ must be an *upper* bound: lethe uses an exact
//!   symmetric eigen-solve of XᵀX on the training data plus a rounding allowance; removing rows
//!   never increases it (XᵀX decreases in the Loewner order).
//! - **Tight data-dependent bound** (beyond the paper; labelled `tight`): with the integral form
//!   of the mean-value step, D_ii = ∫₀¹ (ℓ″(wᵀx_i + t x_iᵀv) − ℓ″(wᵀx_i)) dt, so
//!   |D_ii| ≤ ∫₀¹ γ t |x_iᵀv| dt = (γ/2)|x_iᵀv| and
//!   ‖XᵀDXv‖ ≤ ‖X‖₂ ‖DXv‖ ≤ (γ/2)‖X‖₂ ‖(Xv)∘(Xv)‖₂ = (γ/2)‖X‖₂‖Xv‖₄².
//!   Since ‖u‖₄² ≤ ‖u‖∞‖u‖₂ ≤ ‖v‖‖Xv‖ (with u = Xv, |u_i| ≤ ‖v‖), it is never larger than
//!   half the paper's bound. [`data_dependent_tight`].
//! - **γ(n − m)‖v‖²**: ‖X‖₂ ≤ √(n − m) and ‖Xv‖ ≤ √(n − m)‖v‖ give the data-dependent bound
//!   ≤ γ(n − m)‖v‖² ([`gamma_n_v_squared`]); reported for the ordering test.
//! - **Worst case** (Theorem 1 for m = 1, its batch form for m > 1):
//!   4γm²C² / (λ²(n − m)) ([`worst_case`]). It uses ‖Δ‖ ≤ 2mC (which needs ∇L(w; D) = 0, i.e.
//!   **b = 0**), so lethe reports it but never certifies with it when b ≠ 0.
//!
//! Order (tested): exact residual ≤ data-dependent ≤ γ(n − m)‖v‖² ≤ worst case (the last for b = 0).
//!
//! **With a solve residual** (the fast path, DESIGN §1): if v only approximately solves Hv = Δ,
//! the residual gains Hv − Δ: ∇L_b(w + v; D′) = XᵀDXv + (Hv − Δ), so the certificate adds
//! ‖Hv − Δ‖, computed exactly from one Hessian-vector product.
//!
//! **Certified removal** (Theorem 3): with b ~ N(0, σ²I) the released model is (ε, δ)-certified
//! while the accumulated residual β (r₀ plus the bounds of every step since the last training)
//! stays ≤ σε/c, c = √(2 ln(1.5/δ)). For one-vs-rest, the K class models are released together;
//! the sound default compares the class-summed β with σε/c (each class's b_k is independent, the
//! summed residual bounds the norm of the stacked residual, and the budget is not split).

use serde::{Deserialize, Serialize};

/// Which bound is used as the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// γ‖X‖₂‖v‖‖Xv‖, Corollary 1/2 of Guo et al. (2020): the paper's certificate.
    #[default]
    DataDependent,
    /// (γ/2)‖X‖₂‖Xv‖₄², the integral-form bound (beyond the paper; never larger).
    Tight,
}

impl BoundKind {
    /// Name used in results.
    pub fn name(&self) -> &'static str {
        match self {
            BoundKind::DataDependent => "data_dependent",
            BoundKind::Tight => "tight",
        }
    }
}

/// γ‖X‖₂‖v‖‖Xv‖ (Corollary 1).
pub fn data_dependent(gamma: f64, spectral_norm: f64, v_norm: f64, xv_norm: f64) -> f64 {
    gamma * spectral_norm * v_norm * xv_norm
}

/// (γ/2)‖X‖₂‖Xv‖₄², where `xv_l4_squared` = ‖Xv‖₄² = √(Σ (x_iᵀv)⁴).
pub fn data_dependent_tight(gamma: f64, spectral_norm: f64, xv_l4_squared: f64) -> f64 {
    0.5 * gamma * spectral_norm * xv_l4_squared
}

/// γ(n − m)‖v‖².
pub fn gamma_n_v_squared(gamma: f64, n_remaining: usize, v_norm: f64) -> f64 {
    gamma * n_remaining as f64 * v_norm * v_norm
}

/// 4γm²C² / (λ²(n − m)) (Theorem 1 for m = 1; valid for b = 0 only). 0 when γ = 0; +∞ when
/// the gradient bound C is unknown and γ > 0.
pub fn worst_case(gamma: f64, c: Option<f64>, lambda: f64, m: usize, n_remaining: usize) -> f64 {
    if gamma == 0.0 {
        return 0.0;
    }
    match c {
        Some(c) => 4.0 * gamma * (m * m) as f64 * c * c / (lambda * lambda * n_remaining as f64),
        None => f64::INFINITY,
    }
}

/// ‖u‖₂ and ‖u‖₄² over the entries with `keep[i]`.
pub fn masked_norms(u: &[f64], keep: &[bool]) -> (f64, f64) {
    let (mut s2, mut s4) = (0.0, 0.0);
    for (x, k) in u.iter().zip(keep) {
        if *k {
            let x2 = x * x;
            s2 += x2;
            s4 += x2 * x2;
        }
    }
    (s2.sqrt(), s4.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_case_matches_the_fixture() {
        assert!((worst_case(0.25, Some(1.0), 0.1, 1, 5) - 20.0).abs() < 1e-12);
        assert!((worst_case(0.25, Some(1.0), 0.1, 2, 4) - 100.0).abs() < 1e-12);
        assert_eq!(worst_case(0.0, None, 0.1, 2, 4), 0.0);
    }

    #[test]
    fn tight_is_at_most_half_the_paper_bound() {
        let u = [0.3, -0.1, 0.7, 0.0];
        let keep = [true, true, true, false];
        let (l2, l4sq) = masked_norms(&u, &keep);
        let v_norm = 0.8; // ≥ max |u_i|, as when rows have norm ≤ 1
        assert!(
            data_dependent_tight(0.25, 2.0, l4sq) <= 0.5 * data_dependent(0.25, 2.0, v_norm, l2)
        );
    }
}

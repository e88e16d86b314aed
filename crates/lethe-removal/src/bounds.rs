//! Gradient-residual bounds for one Newton removal step.
//!
//! # Proof note (which theorem, which constants, which code path)
//!
//! ## Preconditions
//! Checked by [`crate::CertifiedModel::train`] (a model that fails one is released with
//! `certified: false`): every row ‖x_i‖ ≤ 1 (else `allow_unnormalized`, no certificate); noise
//! σ > 0; a convex loss whose ℓ″ is γ-Lipschitz (logistic γ = 1/4, or the tight 1/(6√3);
//! squared γ = 0). Assumed, not checkable: the request sequence does **not depend on the
//! released models** (non-adaptive), and the perturbation b stays **secret**. The training
//! residual r₀ = ‖∇L_b(w*; D)‖ is measured, not assumed to be 0.
//!
//! Setting (Guo et al. 2020, §3): w minimises L_b(·; D) up to a residual g₀ = ∇L_b(w; D) with
//! ‖g₀‖ ≤ β (the invariant), B is the removed batch of m rows, D′ = D ∖ B has n − m rows, X is
//! the (n − m) × d matrix of D′.
//!
//! The Newton step is w⁻ = w + v with v = H⁻¹Δ, Δ = mλw + Σ_{j∈B} ∇ℓ(wᵀx_j, y_j) and
//! H = ∇²L(w; D′) = Σ_{i∈D′} ℓ″(wᵀx_i) x_i x_iᵀ + λ(n − m)I (the λ(n − m)I term is missing in the
//! paper's Algorithm 2 — a misprint; it is in the paper's eq. (3) and in its code).
//! Since ∇L_b(w; D′) = g₀ − Δ, the residual after the step is
//! ∇L_b(w⁻; D′) = g₀ + (Hv − Δ) + Σ_i (ℓ″(ξ_i) − ℓ″(wᵀx_i)) x_i x_iᵀ v
//! for some ξ_i between wᵀx_i and (w + v)ᵀx_i (mean-value theorem per row; exact for γ = 0).
//! Write the last term (the Taylor remainder) as XᵀDXv with D diagonal, |D_ii| ≤ γ|x_iᵀv|.
//!
//! ## The bounds on the remainder (code: [`crate::step`]'s `newton_step`, which calls the
//! functions below on ‖v‖, ‖Xv‖, ‖Xv‖₄² from `masked_norms`)
//! - **Data-dependent bound** (Corollary 1; the paper's certificate, eq. (5)):
//!   ‖XᵀDXv‖ ≤ ‖X‖₂ · ‖D‖₂ · ‖Xv‖ ≤ ‖X‖₂ · γ‖v‖ · ‖Xv‖, since |x_iᵀv| ≤ ‖x_i‖‖v‖ ≤ ‖v‖.
//!   [`data_dependent`] = γ‖X‖₂‖v‖‖Xv‖.
//! - **Tight data-dependent bound** (beyond the paper; labelled `tight`): with the integral form
//!   of the mean-value step, D_ii = ∫₀¹ (ℓ″(wᵀx_i + t x_iᵀv) − ℓ″(wᵀx_i)) dt, so
//!   |D_ii| ≤ ∫₀¹ γ t |x_iᵀv| dt = (γ/2)|x_iᵀv| and
//!   ‖XᵀDXv‖ ≤ ‖X‖₂ ‖DXv‖ ≤ (γ/2)‖X‖₂ ‖(Xv)∘(Xv)‖₂ = (γ/2)‖X‖₂‖Xv‖₄².
//!   Since ‖u‖₄² ≤ ‖u‖∞‖u‖₂ ≤ ‖v‖‖Xv‖ (with u = Xv, |u_i| ≤ ‖v‖), it is never larger than
//!   half the paper's bound. [`data_dependent_tight`].
//! - **γ(n − m)‖v‖²** ([`gamma_n_v_squared`]): ‖XᵀDXv‖ ≤ Σ_i |D_ii||x_iᵀv|‖x_i‖ ≤
//!   γ Σ_i (x_iᵀv)² ≤ γ(n − m)‖v‖². A valid bound on its own, for any b. With the *exact*
//!   ‖X′‖₂ ≤ √(n − m) it dominates the data-dependent bound, but lethe's ‖X‖₂ is by default
//!   the *training-data* bound, which on nearly rank-one data exceeds √(n − m): then this one
//!   is smaller.
//! - **Worst case** (Theorem 1 for m = 1, its batch form for m > 1):
//!   4γm²C² / (λ²(n − m)) ([`worst_case`]). It uses ‖Δ‖ ≤ 2mC (which needs ∇L(w; D) = 0, i.e.
//!   **b = 0**), so lethe reports it but never certifies with it when b ≠ 0.
//!
//! **The certified bound** of a class model (`StepReport::certified_bound`) is the smaller of
//! the chosen bound (`bound`: data-dependent or tight) and γ(n − m)‖v‖²; which one is recorded
//! (`certified_bound_source`, and `Certificate::certificate_bound_source`).
//!
//! **‖X‖₂** must be an *upper* bound ([`lethe_models::linalg::ErrorBoundedGram`]): Ĝ = fl(XᵀX)
//! by a plain dense blocked product with |Ĝ − G| ≤ γ_N|X|ᵀ|X| (Higham, *Accuracy and
//! Stability of Numerical Algorithms*, 2nd ed., §3.1 and Lemma 3.3), so ‖Ĝ − G‖₂ ≤ γ_N‖X‖_F²;
//! t ≥ λ_max(Ĝ) verified a posteriori by a textbook Cholesky of fl(tI − Ĝ) (Higham Thm 10.3;
//! Rump, BIT 46 (2006) 433–452, Thm 2.3/Cor. 2.4:
//! λ_min ≥ −γ_{d+1}/(1 − γ_{d+1})·tr − underflow); ‖X‖₂ ≤ √min(t + c + ‖Ĝ − G‖₂,
//! tr(Ĝ) + ‖Ĝ − G‖₂), all rounded up. Computed once at training (`train_impl`); in
//! [`crate::SpectralNormMode::Remaining`] the Gram matrix is downdated per request with the
//! bound γ_{N+2m+2}, and the smaller of that and the training bound is used (removing rows
//! never increases ‖X‖₂: XᵀX decreases in the Loewner order).
//!
//! Order (tested): exact residual ≤ data-dependent ≤ γ(n − m)‖v‖² ≤ worst case (the middle one
//! with ‖X′‖₂, the last for b = 0).
//!
//! **Solve residual** (the fast path, DESIGN §1): if v only approximately solves Hv = Δ, the
//! term Hv − Δ stays; the certificate adds ‖Hv − Δ‖, computed from a direct Hessian-vector
//! product at the final v (`evaluate` in [`crate::step`]).
//!
//! ## Floating-point allowance ([`crate::rounding`])
//! The released weights are the floats ŵ⁻ = fl(w + v̂), and every quantity above is computed
//! in f64. Let ṽ = ŵ⁻ − w (the step actually taken), u = 2⁻⁵³, γ_k = ku/(1 − ku). In real
//! arithmetic ‖∇L_b(ŵ⁻; D′)‖ ≤ ‖g₀‖ + ‖Hṽ − Δ‖ + ‖R(ṽ)‖, and `step_allowance` bounds
//! the gap to the computed terms (S = the ‖X‖₂ bound, κ = the pass error factor
//! of `RowMajor::pass_error_factor`, ζ = the margin error, c_max = sup ℓ″):
//! - ‖Hṽ − Δ‖ ≤ ŝ(1 + γ_{d+3}) + ‖Δ̂ − Δ‖ + ‖ĥ − Hv̂‖ + ‖H‖‖ṽ − v̂‖ with
//!   ‖Δ̂ − Δ‖ ≤ γ_{m+20}(mλ‖w‖ + Σ_B|ℓ′_j|) + c_max·ζ·m,
//!   ‖ĥ − Hv̂‖ ≤ γ_{n+8}κ·c_max(1 + γ_20)‖û‖₁ + S[(18u·c_max + γζ)‖û‖ + c_max√(n−m)·ε_u] +
//!   2u‖ĥ‖ + γ_3·λ(n − m)‖v̂‖, ‖ṽ − v̂‖ ≤ γ_2‖ŵ⁻‖, ‖H‖ ≤ c_max S² + λ(n − m),
//!   where ε_u = γ_{d+4}κ‖v̂‖ bounds each |û_i − x_iᵀv̂| (the fused pass);
//! - the remainder bound at ṽ exceeds the computed one by at most
//!   γ_{n+d+16}·(computed bound) plus the change from (‖v̂‖, ‖û‖) to (‖ṽ‖, ‖Xṽ‖), with
//!   ‖Xṽ − û‖ ≤ √(n−m)·ε_u + S‖ṽ − v̂‖;
//! - the cached margins drift: ζ′ = ζ(1 + 2u) + ε_u(1 + u) + 3γ_1‖ŵ⁻‖ (fresh margins fl(Xw):
//!   ζ = γ_d‖w‖).
//!
//! The whole sum is multiplied by 1 + γ_{n+d+16} (the computed norms) and rounded up. At
//! (re)training, `training_allowance` bounds ‖∇L_b(w)‖ − r̂₀ for the solvers' evaluation
//! (fresh margins, faer GEMV): γ_{d+2}r̂₀ + γ_{n+24}(Σ|ℓ′_i| + 2c_max ζ n + λn‖w‖ + ‖b‖ + r̂₀) +
//! c_max ζ n + 16u Σ|ℓ′_i|. Assumed: ℓ′ and ℓ″ are computed to 16u relative (exp/log1p
//! within 4u), every sum of products is some order of ordinary or fused multiply-adds.
//!
//! ## Postcondition
//! β starts at Σ_k (r̂₀_k + training allowance_k) and each request adds
//! Σ_k (certified bound_k + solve residual_k + allowance_k) (`CertifiedModel::remove`), every
//! addition rounded up (`rounding::accumulate`). By induction over the requests since the last
//! (re)training, β ≥ Σ_k ‖∇L_{b_k}(w_k; D_current)‖ in real arithmetic for the released weights.
//! With [`crate::BudgetPolicy::Retrain`], a request whose β + bound would exceed the budget
//! retrains from scratch with a fresh b, so **every released model with `certified: true`
//! has β ≤ budget** — the hypothesis of Theorem 3.
//!
//! **Certified removal** (Theorem 3): with b ~ N(0, σ²I) the released model is (ε, δ)-certified
//! while the accumulated residual β (r₀ plus the bounds of every step since the last training)
//! stays within the budget of the Gaussian mechanism with sensitivity β and noise σ
//! (`lethe_models::accounting` states this reduction and its assumptions): by default the
//! largest β with δ(ε; β/σ) ≤ δ under the exact privacy profile (Balle & Wang 2018, Thm 8),
//! or the paper's σε/c, c = √(2 ln(1.5/δ)), where that is valid (`accounting: paper`; refused
//! elsewhere). For the Gamma-norm noise the guarantee is pure ε with budget σε. No certificate
//! is issued for a replayed (explicit) b or for requests declared adaptive. For one-vs-rest,
//! the K class models are released together; the sound default compares the class-summed β
//! with the budget (each class's b_k is independent, so the stacked b is Gaussian in R^{dK};
//! the summed residual bounds the norm of the stacked residual, and the budget is not split).

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

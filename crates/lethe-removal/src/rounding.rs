//! Floating-point allowances charged to β, so that β bounds the **exact** (real-arithmetic)
//! gradient residual of every released model, not only the residual computed in f64.
//!
//! The derivation is in the proof note of [`crate::bounds`] (§ "Floating-point allowance");
//! this module evaluates it. Every term is a sum of non-negative quantities, evaluated in
//! floating point and then rounded up ([`round_up`]), so the computed allowance is ≥ the real
//! value of the formula. u = 2⁻⁵³, γ_k = ku/(1 − ku) ([`gamma`]).
//!
//! Assumptions (beyond IEEE arithmetic with round-to-nearest, Higham's standard model):
//! - the elementary functions behind ℓ′ and ℓ″ (exp, log1p) have relative error ≤ 4u, so the
//!   computed ℓ′(z), ℓ″(z) at a floating-point z are within 16u relative of the exact values;
//! - every sum of products (faer's GEMV, the fused passes, nalgebra's products) is evaluated by
//!   some order of ordinary or fused multiply-adds (Higham §3.1: error ≤ γ_k Σ|terms|);
//! - rows have ‖x_i‖ ≤ 1 (the certificate's precondition).

use lethe_models::linalg::{add_up, gamma, round_up};
use lethe_models::{Loss, LossKind};
use nalgebra::DVector;

const U: f64 = lethe_models::linalg::UNIT_ROUNDOFF;

/// sup_z ℓ″(z): the Lipschitz constant of ℓ′ (logistic 1/4, squared 2).
pub fn curvature_bound(loss: LossKind) -> f64 {
    match loss {
        LossKind::Logistic | LossKind::LogisticTight => 0.25,
        LossKind::Squared => 2.0,
    }
}

/// A bound on max_i |z̃_i − x_iᵀw| for margins computed afresh as fl(Xw) (a d-term dot product
/// per row, ‖x_i‖ ≤ 1): γ_d‖w‖.
pub fn fresh_margin_error(d: usize, w_norm: f64) -> f64 {
    round_up(gamma(d + 1) * w_norm, 4)
}

/// The quantities of one class model's step that the allowance needs (all computed values).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepRounding {
    /// Rows of X (the passes run over all of them).
    pub n_rows: usize,
    pub n_remaining: usize,
    pub d: usize,
    pub m: usize,
    pub loss: LossKind,
    pub ridge: f64,
    /// The ‖X‖₂ bound S used by the bounds (0 when γ = 0: then √(n − m) is used for ‖H‖).
    pub spectral_norm: f64,
    /// κ of [`lethe_models::linalg::RowMajor::pass_error_factor`].
    pub kappa: f64,
    /// ζ: bound on the error of the margins the step used.
    pub margin_error: f64,
    pub w_new_norm: f64,
    pub v_norm: f64,
    /// ‖û‖₂, ‖û‖₁ and ‖û‖₄ of û = fl(Xv) over the remaining rows.
    pub xv_norm: f64,
    pub xv_l1: f64,
    pub xv_l4: f64,
    /// ‖fl(Hv)‖.
    pub hv_norm: f64,
    /// mλ‖w‖ + Σ_{j∈B} |ℓ′_j| (magnitudes of Δ's terms).
    pub delta_terms: f64,
    /// The computed ‖Hv − Δ‖.
    pub solve_residual: f64,
    /// The computed certified bound and which one it is.
    pub certified_bound: f64,
    pub source: BoundSource,
}

/// Which valid bound on the Taylor remainder a certificate used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundSource {
    /// γ‖X‖₂‖v‖‖Xv‖.
    DataDependent,
    /// (γ/2)‖X‖₂‖Xv‖₄².
    Tight,
    /// γ(n − m)‖v‖².
    GammaNV2,
}

impl BoundSource {
    /// Name used in results.
    pub fn name(&self) -> &'static str {
        match self {
            BoundSource::DataDependent => "data_dependent",
            BoundSource::Tight => "tight",
            BoundSource::GammaNV2 => "gamma_n_v2",
        }
    }
}

/// The per-step allowance A (added to the certificate) and the margin error ζ′ of the
/// margins z̃ + û kept for the next step. See the proof note in [`crate::bounds`].
pub(crate) fn step_allowance(s: &StepRounding) -> (f64, f64) {
    let gamma_l = s.loss.gamma();
    let c_max = curvature_bound(s.loss);
    let n_rem = s.n_remaining as f64;
    let sqrt_n = n_rem.sqrt().next_up();
    let s_h = if s.spectral_norm > 0.0 {
        s.spectral_norm.min(sqrt_n)
    } else {
        sqrt_n
    };
    // Per-row error of û (the fused pass) and the rounding of w⁻ = fl(w + v).
    let eps_u = gamma(s.d + 4) * s.kappa * s.v_norm;
    let e_w = gamma(2) * s.w_new_norm;
    // ‖Xṽ − û‖ with ṽ = w⁻ − w the step actually taken.
    let delta_u = sqrt_n * eps_u + s_h * e_w;
    // (a) ‖Hṽ − Δ‖ − (computed ‖Hv − Δ‖).
    let solve = gamma(s.d + 3) * s.solve_residual;
    let delta = gamma(s.m + 20) * s.delta_terms + c_max * s.margin_error * s.m as f64;
    let hv = gamma(s.n_rows + 8) * s.kappa * c_max * (1.0 + gamma(20)) * s.xv_l1
        + s_h
            * ((18.0 * U * c_max + gamma_l * s.margin_error) * s.xv_norm + c_max * sqrt_n * eps_u)
        + 2.0 * U * s.hv_norm
        + gamma(3) * s.ridge * s.v_norm;
    let h_ew = (c_max * s_h * s_h + s.ridge) * e_w;
    // (b) the remainder bound at ṽ (from the exact ‖ṽ‖, ‖Xṽ‖) − the computed bound.
    let rel = gamma(s.n_rows + s.d + 16);
    let remainder = if gamma_l == 0.0 {
        0.0
    } else {
        let extra = match s.source {
            BoundSource::DataDependent => {
                gamma_l * s.spectral_norm * (e_w * s.xv_norm + (s.v_norm + e_w) * delta_u)
            }
            BoundSource::Tight => {
                0.5 * gamma_l * s.spectral_norm * (2.0 * s.xv_l4 * delta_u + delta_u * delta_u)
            }
            BoundSource::GammaNV2 => gamma_l * n_rem * (2.0 * s.v_norm * e_w + e_w * e_w),
        };
        rel * s.certified_bound + extra * (1.0 + rel)
    };
    // The computed norms above are within γ_{n+d+2} of the exact ones: one more factor.
    let allowance = round_up((solve + delta + hv + h_ew + remainder) * (1.0 + rel), 64);
    let margin_error = round_up(
        s.margin_error * (1.0 + 2.0 * U) + eps_u * (1.0 + U) + 3.0 * gamma(1) * s.w_new_norm,
        16,
    );
    (allowance, margin_error)
}

/// The allowance for a training residual r̂₀ = fl‖∇L_b(w)‖ computed by the solvers
/// (`Objective::gradient_from_margins` at fresh margins fl(Xw)): a bound on
/// ‖∇L_b(w)‖ − r̂₀ in real arithmetic. `derivative_l1` = Σ_{active} |ℓ′(ẑ_i)|.
#[allow(clippy::too_many_arguments)]
pub(crate) fn training_allowance(
    n_rows: usize,
    n_active: usize,
    d: usize,
    loss: LossKind,
    lambda: f64,
    w_norm: f64,
    b_norm: f64,
    derivative_l1: f64,
    residual: f64,
) -> f64 {
    let c_max = curvature_bound(loss);
    let ridge = lambda * n_active as f64;
    let zeta = fresh_margin_error(d, w_norm);
    // The solver's |ℓ′_i| may differ from ours by c_max·2ζ (two computations of the margins).
    let terms =
        derivative_l1 + 2.0 * c_max * zeta * n_active as f64 + ridge * w_norm + b_norm + residual;
    round_up(
        gamma(d + 2) * residual
            + gamma(n_rows + 24) * terms
            + c_max * zeta * n_active as f64
            + 16.0 * U * derivative_l1,
        32,
    )
}

/// Σ_{active} |ℓ′(fl(x_iᵀw), y_i)| (for [`training_allowance`]).
pub(crate) fn derivative_l1(
    loss: LossKind,
    margins: &DVector<f64>,
    y: &DVector<f64>,
    active: Option<&[bool]>,
) -> f64 {
    let mut s = 0.0;
    for i in 0..margins.len() {
        if active.is_none_or(|a| a[i]) {
            s += loss.derivative(margins[i], y[i]).abs();
        }
    }
    round_up(s, margins.len())
}

/// β + bound, rounded up (the accumulation of Algorithm 2 in floating point).
pub fn accumulate(beta: f64, bound: f64) -> f64 {
    add_up(beta, bound)
}

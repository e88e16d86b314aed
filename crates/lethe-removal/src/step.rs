//! One Newton removal step for one (binary) class model (DESIGN §1, Guo et al. eq. (3)).
//!
//! Δ = mλw + Σ_{j∈B} ℓ′(wᵀx_j, y_j) x_j
//! H = Σ_{i∉B} ℓ″(wᵀx_i, y_i) x_i x_iᵀ + λ(n − m)I      (remaining rows, current w)
//! w⁻ = w + H⁻¹Δ
//!
//! Passes over X: z = Xw, the Hessian (one GEMM), u = Xv, Xᵀ(ℓ″∘u) for the solve residual
//! ‖Hv − Δ‖, and Xᵀℓ′(z + u) for the exact residual (margins at w⁻ are z + u, no extra pass).

use lethe_models::linalg::{Cholesky, mat_t_vec, mat_vec};
use lethe_models::{Loss, LossKind};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::bounds::{
    data_dependent, data_dependent_tight, gamma_n_v_squared, masked_norms, worst_case,
};
use crate::error::Result;

/// How the Newton system Hv = Δ is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepSolver {
    /// The paper's method: build H on the remaining rows at the current w and factor it
    /// (Cholesky) for every request. O(nd² + d³) per request.
    #[default]
    Cholesky,
}

impl StepSolver {
    /// Name used in results (`removal.solver` in configs).
    pub fn name(&self) -> &'static str {
        match self {
            StepSolver::Cholesky => "cholesky",
        }
    }
}

/// What one class model's step needs.
pub(crate) struct StepInput<'a> {
    pub x: &'a DMatrix<f64>,
    pub y: &'a DVector<f64>,
    /// Rows remaining *after* the request.
    pub remaining: &'a [bool],
    pub n_remaining: usize,
    pub removed: &'a [usize],
    pub w: &'a DVector<f64>,
    pub b: &'a DVector<f64>,
    pub loss: LossKind,
    pub lambda: f64,
    pub spectral_norm: f64,
    pub exact_residual: bool,
}

/// The step and every quantity the certificate reports, for one class model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// ‖Δ‖.
    pub delta_norm: f64,
    /// ‖v‖ with v = H⁻¹Δ.
    pub v_norm: f64,
    /// ‖Xv‖ over the remaining rows.
    pub xv_norm: f64,
    /// ‖Xv‖₄² over the remaining rows.
    pub xv_l4_squared: f64,
    /// γ‖X‖₂‖v‖‖Xv‖.
    pub bound_data_dependent: f64,
    /// (γ/2)‖X‖₂‖Xv‖₄².
    pub bound_tight: f64,
    /// γ(n − m)‖v‖².
    pub bound_gamma_n_v2: f64,
    /// 4γm²C²/(λ²(n − m)).
    pub bound_worst_case: f64,
    /// ‖Hv − Δ‖, computed with one exact Hessian-vector product (round-off for Cholesky).
    pub solve_residual: f64,
    /// ‖∇L_b(w⁻; D′)‖ including bᵀw, if computed.
    pub exact_residual: Option<f64>,
}

pub(crate) struct StepOutcome {
    pub w_new: DVector<f64>,
    pub report: StepReport,
}

pub(crate) fn newton_step(input: &StepInput<'_>, solver: StepSolver) -> Result<StepOutcome> {
    let StepInput {
        x,
        y,
        remaining,
        n_remaining,
        removed,
        w,
        b,
        loss,
        lambda,
        spectral_norm,
        exact_residual,
    } = *input;
    let m = removed.len();
    let ridge = lambda * n_remaining as f64;
    let z = mat_vec(x, w);

    // Δ = mλw + Σ_{j∈B} ℓ′(z_j, y_j) x_j
    let mut delta = w * (m as f64 * lambda);
    for &j in removed {
        let g = loss.derivative(z[j], y[j]);
        for (k, d) in delta.iter_mut().enumerate() {
            *d += g * x[(j, k)];
        }
    }

    let curvatures: Vec<f64> = (0..z.len())
        .map(|i| {
            if remaining[i] {
                loss.second_derivative(z[i], y[i])
            } else {
                0.0
            }
        })
        .collect();
    let v = match solver {
        StepSolver::Cholesky => {
            let h = lethe_models::linalg::weighted_gram(x, &curvatures, ridge)?;
            Cholesky::factor(&h)?.solve(&delta)
        }
    };

    // u = Xv; bounds over the remaining rows.
    let u = mat_vec(x, &v);
    let (xv_norm, xv_l4_squared) = masked_norms(u.as_slice(), remaining);
    let v_norm = v.norm();
    let gamma = loss.gamma();

    // Hv − Δ = Xᵀ(ℓ″ ∘ u) + λ(n − m)v − Δ
    let weighted = DVector::from_fn(u.len(), |i, _| curvatures[i] * u[i]);
    let mut hv = mat_t_vec(x, &weighted);
    hv.axpy(ridge, &v, 1.0);
    let solve_residual = (hv - &delta).norm();

    let w_new = w + &v;
    let exact = exact_residual.then(|| {
        let r = DVector::from_fn(z.len(), |i, _| {
            if remaining[i] {
                loss.derivative(z[i] + u[i], y[i])
            } else {
                0.0
            }
        });
        let mut g = mat_t_vec(x, &r);
        g.axpy(ridge, &w_new, 1.0);
        g += b;
        g.norm()
    });

    Ok(StepOutcome {
        report: StepReport {
            delta_norm: delta.norm(),
            v_norm,
            xv_norm,
            xv_l4_squared,
            bound_data_dependent: data_dependent(gamma, spectral_norm, v_norm, xv_norm),
            bound_tight: data_dependent_tight(gamma, spectral_norm, xv_l4_squared),
            bound_gamma_n_v2: gamma_n_v_squared(gamma, n_remaining, v_norm),
            bound_worst_case: worst_case(gamma, loss.gradient_bound(), lambda, m, n_remaining),
            solve_residual,
            exact_residual: exact,
        },
        w_new,
    })
}

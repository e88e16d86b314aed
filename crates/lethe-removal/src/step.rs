//! One Newton removal step for one (binary) class model (DESIGN §1, Guo et al. eq. (3)).
//!
//! Δ = mλw + Σ_{j∈B} ℓ′(wᵀx_j, y_j) x_j
//! H = Σ_{i∉B} ℓ″(wᵀx_i, y_i) x_i x_iᵀ + λ(n − m)I      (remaining rows, current w)
//! w⁻ = w + v,  v ≈ H⁻¹Δ
//!
//! Three ways to get v ([`StepSolver`]):
//! - `cholesky` (the paper's method): build H and factor it for every request, O(nd² + d³);
//! - `pcg` (beyond the paper): conjugate gradients on the exact H (Hessian-vector products,
//!   one fused pass over X each), preconditioned by the Cholesky factor of an earlier Hessian;
//!   the factor is downdated for removed rows (O(md²)) and rebuilt when CG needs too many
//!   iterations;
//! - `stale` (beyond the paper): v = A⁻¹Δ with the preconditioner A alone, no CG (the factor
//!   is refreshed after a request whose solve residual exceeded the bound, or kept until a
//!   retrain: [`FastPathOptions::stale_refactor_ratio`]).
//!
//! Whatever the solver, the certificate adds the solve residual ‖Hv − Δ‖, computed from a
//! direct Hessian-vector product on the final v (after CG iterations, one more pass; never
//! the CG recurrence's estimate): ∇L_b(w + v; D′) = XᵀDXv + (Hv − Δ) (see [`crate::bounds`]),
//! so an inexact v costs budget, never soundness. The certificate also adds the step's
//! floating-point allowance ([`crate::rounding`]).
//!
//! The final fused pass over X computes u = Xv (bounds), Xᵀ(ℓ″ ∘ u) (Hv) and, optionally,
//! Xᵀℓ′(z + u) (the exact residual, since the margins at w + v are z + u) in one read of X.

use std::borrow::Cow;

use lethe_models::linalg::{Cholesky, GramPlan, RowMajor, fused_pass, weighted_gram_planned};
use lethe_models::{Loss, LossKind};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bounds::{
    BoundKind, data_dependent, data_dependent_tight, gamma_n_v_squared, masked_norms, worst_case,
};
use crate::error::Result;
use crate::rounding::{BoundSource, StepRounding, fresh_margin_error, step_allowance};

/// How the Newton system Hv = Δ is solved (`removal.solver` in configs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepSolver {
    /// The paper's method: build H on the remaining rows at the current w and factor it
    /// (Cholesky) for every request. O(nd² + d³) per request.
    #[default]
    Cholesky,
    /// Preconditioned CG on the exact H with a reused, downdated Cholesky factor; the solve
    /// residual is added to the certificate. A few passes over X per request.
    Pcg,
    /// The reused factor alone (no CG): the cheapest certified step, with a larger solve
    /// residual in its certificate.
    Stale,
}

impl StepSolver {
    /// Name used in results.
    pub fn name(&self) -> &'static str {
        match self {
            StepSolver::Cholesky => "cholesky",
            StepSolver::Pcg => "pcg",
            StepSolver::Stale => "stale",
        }
    }
}

/// Tuning of the `pcg` and `stale` solvers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FastPathOptions {
    /// CG stops once ‖Hv − Δ‖ ≤ `solve_ratio` × (the chosen bound), so the solve adds at most
    /// this fraction to the certificate.
    pub solve_ratio: f64,
    /// … or once ‖Hv − Δ‖ ≤ this absolute value.
    pub absolute_tolerance: f64,
    /// CG iterations allowed per request.
    pub max_cg_iterations: usize,
    /// `pcg`: rebuild the preconditioner (at the next request) after a request that needed
    /// more CG iterations than this.
    pub refactor_after: usize,
    /// `stale`: rebuild the factor (at the next request) after a request whose solve residual
    /// exceeded this multiple of the chosen bound (default 1). `None` (JSON `null`): never —
    /// the factor is only rebuilt after a retrain or a failed downdate, and the growing solve
    /// residual is paid from the budget. The default suits MNIST 3-vs-8, where it refactors
    /// rarely and supports far more removals with the tight bound (see
    /// `experiments/fast-path-tradeoffs.json`); on synthetic Gaussian data (n = 10⁴, d = 784)
    /// a fresh factor does not bring the residual below the bound, so a ratio of 1 refactors
    /// at nearly every request and `None` is the fast choice there.
    pub stale_refactor_ratio: Option<f64>,
}

impl Default for FastPathOptions {
    fn default() -> Self {
        Self {
            solve_ratio: 0.01,
            absolute_tolerance: 1e-12,
            max_cg_iterations: 50,
            refactor_after: 6,
            stale_refactor_ratio: Some(1.0),
        }
    }
}

/// Per-class state reused across requests by the fast solvers.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepCache {
    /// z = Xw for every row (kept in sync with w; recomputed after retraining).
    pub margins: Option<DVector<f64>>,
    /// The preconditioner A: Cholesky factor of Σ_rem c_i x_i x_iᵀ + ridge·I.
    pub factor: Option<Cholesky>,
    /// The curvatures c_i the factor was built with (to downdate removed rows exactly).
    pub factor_curvatures: Vec<f64>,
    /// Rebuild the factor at the next request.
    pub stale: bool,
    /// Factorisations so far.
    pub factorizations: usize,
    /// A bound on max_i |z_i − x_iᵀw| for the cached `margins` (see [`crate::rounding`]).
    pub margin_error: f64,
}

impl StepCache {
    /// Forget everything (after retraining).
    pub fn reset(&mut self) {
        let f = self.factorizations;
        *self = Self::default();
        self.factorizations = f;
    }
}

/// What one class model's step needs.
pub(crate) struct StepInput<'a> {
    pub x: &'a DMatrix<f64>,
    /// The same features, row-major, for the streaming passes.
    pub rows: &'a RowMajor,
    /// How the Hessian XᵀDX of `x` is formed ([`GramPlan`]).
    pub gram_plan: &'a GramPlan,
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
    pub bound: BoundKind,
    pub exact_residual: bool,
    pub solver: StepSolver,
    pub options: FastPathOptions,
}

/// The step and every quantity the certificate reports, for one class model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// ‖Δ‖.
    pub delta_norm: f64,
    /// ‖v‖.
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
    /// ‖Hv − Δ‖ from direct Hessian-vector products (see the module docs).
    pub solve_residual: f64,
    /// The Taylor-remainder bound certified: the smaller of the chosen bound (`data_dependent`
    /// or `tight`) and γ(n − m)‖v‖², both valid (the worst case never: it needs b = 0).
    pub certified_bound: f64,
    /// Which bound `certified_bound` is: `data_dependent`, `tight` or `gamma_n_v2`.
    pub certified_bound_source: String,
    /// The floating-point allowance of this step ([`crate::rounding`]): added to the
    /// certificate so that β bounds the exact real-arithmetic residual.
    pub rounding_allowance: f64,
    /// ‖∇L_b(w⁻; D′)‖ including bᵀw, if computed.
    pub exact_residual: Option<f64>,
    /// CG iterations (0 for `cholesky` and `stale`).
    pub cg_iterations: usize,
    /// Whether a Hessian was built and factored for this request.
    pub factored: bool,
}

pub(crate) struct StepOutcome {
    pub w_new: DVector<f64>,
    /// Margins X(w + v) = z + u.
    pub margins_new: DVector<f64>,
    /// A factor built during this request (fast solvers), to keep.
    pub new_factor: Option<(Cholesky, Vec<f64>)>,
    /// Whether the factor should be rebuilt at the next request.
    pub mark_stale: bool,
    /// The error bound of `margins_new`.
    pub margin_error: f64,
    pub report: StepReport,
}

/// Quantities from the final fused pass at v.
struct Evaluated {
    u: DVector<f64>,
    hv: DVector<f64>,
    grad_loss: DVector<f64>,
}

/// One fused pass at v: u = Xv, Hv and, if `with_gradient`, Xᵀℓ′(z + u).
fn evaluate(
    input: &StepInput<'_>,
    z: &DVector<f64>,
    c: Option<&[f64]>,
    v: &DVector<f64>,
    with_gradient: bool,
) -> Evaluated {
    let StepInput {
        rows,
        y,
        remaining,
        loss,
        ..
    } = *input;
    let ridge = input.lambda * input.n_remaining as f64;
    let (u, xcu, xg) = fused_pass(rows, v, with_gradient, |i, ui| {
        if remaining[i] {
            let g = if with_gradient {
                loss.derivative(z[i] + ui, y[i])
            } else {
                0.0
            };
            let ci = match c {
                Some(c) => c[i],
                None => loss.second_derivative(z[i], y[i]),
            };
            (ci * ui, g)
        } else {
            (0.0, 0.0)
        }
    });
    let mut hv = xcu;
    hv.axpy(ridge, v, 1.0);
    Evaluated {
        u,
        hv,
        grad_loss: xg,
    }
}

pub(crate) fn newton_step(input: &StepInput<'_>, cache: &StepCache) -> Result<StepOutcome> {
    let StepInput {
        x,
        rows,
        y,
        remaining,
        n_remaining,
        removed,
        w,
        b,
        loss,
        lambda,
        spectral_norm,
        solver,
        options,
        ..
    } = *input;
    let m = removed.len();
    let ridge = lambda * n_remaining as f64;
    let gamma = loss.gamma();
    let (z, margin_error) = match &cache.margins {
        Some(z) => (z.clone(), cache.margin_error),
        None => (x * w, fresh_margin_error(x.ncols(), w.norm())),
    };

    // Δ = mλw + Σ_{j∈B} ℓ′(z_j, y_j) x_j
    let mut delta = w * (m as f64 * lambda);
    let mut delta_terms = m as f64 * lambda * w.norm();
    for &j in removed {
        let g = loss.derivative(z[j], y[j]);
        delta_terms += g.abs();
        delta.axpy(g, &x.row(j).transpose(), 1.0);
    }
    // The curvatures c_i = ℓ″(z_i, y_i) of the remaining rows. Element-wise, so the parallel
    // map is deterministic; on both cores it also keeps the rayon workers awake for the passes
    // that follow.
    let curvatures = || -> Vec<f64> {
        (0..z.len())
            .into_par_iter()
            .map(|i| {
                if remaining[i] {
                    loss.second_derivative(z[i], y[i])
                } else {
                    0.0
                }
            })
            .collect()
    };
    // With a usable cached factor (fast solvers), v₀ = A⁻¹Δ does not need the curvatures.
    // `pcg` then computes them on one thread while the other solves; `stale` makes a single
    // pass over X and computes each c_i inside it, where it is needed (the same values, one
    // parallel region fewer per request).
    let reuse_factor = solver != StepSolver::Cholesky && !cache.stale;
    let (c, v_cached) = match &cache.factor {
        Some(factor) if reuse_factor && solver == StepSolver::Stale => {
            (None, Some(factor.solve_single_threaded(&delta)))
        }
        Some(factor) if reuse_factor => {
            let (v, c) = rayon::join(|| factor.solve_single_threaded(&delta), curvatures);
            (Some(c), Some(v))
        }
        _ => (Some(curvatures()), None),
    };

    let chosen_bound = |u: &DVector<f64>, v_norm: f64| -> f64 {
        let (xv, l4) = masked_norms(u.as_slice(), remaining);
        match input.bound {
            BoundKind::DataDependent => data_dependent(gamma, spectral_norm, v_norm, xv),
            BoundKind::Tight => data_dependent_tight(gamma, spectral_norm, l4),
        }
    };

    // The curvatures as a slice, computed now if the step had not needed them yet.
    let c_slice = || -> Cow<'_, [f64]> {
        match &c {
            Some(c) => Cow::Borrowed(c.as_slice()),
            None => Cow::Owned(curvatures()),
        }
    };
    let mut new_factor = None;
    let mut factored = false;
    let mut cg_iterations = 0;
    let mut mark_stale = false;
    let (v, ev) = match solver {
        StepSolver::Cholesky => {
            let c = c_slice();
            let h = weighted_gram_planned(x, input.gram_plan, &c, ridge)?;
            factored = true;
            let v = Cholesky::factor(&h)?.solve(&delta);
            let ev = evaluate(input, &z, Some(&c), &v, input.exact_residual);
            (v, ev)
        }
        StepSolver::Pcg | StepSolver::Stale => {
            let built = match (&cache.factor, cache.stale) {
                (Some(_), false) => None,
                _ => {
                    factored = true;
                    Some(Cholesky::factor(&weighted_gram_planned(
                        x,
                        input.gram_plan,
                        &c_slice(),
                        ridge,
                    )?)?)
                }
            };
            let Some(factor) = built.as_ref().or(cache.factor.as_ref()) else {
                unreachable!("a factor was either cached or just built")
            };
            let mut v = match v_cached {
                Some(v) => v,
                None => factor.solve(&delta),
            };
            // With CG likely to follow, the first pass skips the gradient (the final pass
            // computes it at the final v).
            let first_with_gradient = input.exact_residual && solver == StepSolver::Stale;
            let mut ev = evaluate(input, &z, c.as_deref(), &v, first_with_gradient);
            let residual = |ev: &Evaluated| (&delta - &ev.hv).norm();
            let tol = |ev: &Evaluated, v: &DVector<f64>| {
                (options.solve_ratio * chosen_bound(&ev.u, v.norm()))
                    .max(options.absolute_tolerance)
            };
            if solver == StepSolver::Pcg && residual(&ev) > tol(&ev, &v) {
                // PCG on Hv = Δ from v₀, preconditioned by the factor. Each iteration makes
                // one fused pass for p (Xp and Hp), and Xv = Xv₀ + Σ α_k Xp_k and
                // Hv = Hv₀ + Σ α_k Hp_k are assembled from those direct products, so the
                // residual Δ − Hv tested (and certified) is not the CG recurrence's estimate.
                let c = c_slice();
                let mut r = &delta - &ev.hv;
                let mut zr = factor.solve(&r);
                let mut rz = r.dot(&zr);
                let mut p = zr;
                while cg_iterations < options.max_cg_iterations {
                    let (xp, xcp, _) = fused_pass(rows, &p, false, |i, ui| {
                        if remaining[i] {
                            (c[i] * ui, 0.0)
                        } else {
                            (0.0, 0.0)
                        }
                    });
                    let mut hp = xcp;
                    hp.axpy(ridge, &p, 1.0);
                    let php = p.dot(&hp);
                    if !(php > 0.0) {
                        break;
                    }
                    let alpha = rz / php;
                    v.axpy(alpha, &p, 1.0);
                    ev.u.axpy(alpha, &xp, 1.0);
                    ev.hv.axpy(alpha, &hp, 1.0);
                    cg_iterations += 1;
                    r = &delta - &ev.hv;
                    if r.norm() <= tol(&ev, &v) {
                        break;
                    }
                    zr = factor.solve(&r);
                    let rz_next = r.dot(&zr);
                    p = &zr + &p * (rz_next / rz);
                    rz = rz_next;
                }
                // One more pass re-evaluates Xv and Hv directly at the final v (and, for the
                // diagnostic, Xᵀℓ′(z + Xv)): the rounding allowance is derived for direct
                // products, not for the sums Xv₀ + Σ α_k Xp_k assembled during CG.
                if cg_iterations > 0 || input.exact_residual {
                    ev = evaluate(input, &z, Some(&c), &v, input.exact_residual);
                }
                mark_stale = cg_iterations > options.refactor_after;
            } else if solver == StepSolver::Pcg && input.exact_residual {
                // v₀ was accurate enough: one more pass for the exact residual's gradient.
                ev = evaluate(input, &z, c.as_deref(), &v, true);
            } else if solver == StepSolver::Stale
                && let Some(ratio) = options.stale_refactor_ratio
            {
                mark_stale = residual(&ev)
                    > (ratio * chosen_bound(&ev.u, v.norm())).max(options.absolute_tolerance);
            }
            new_factor = built.map(|f| (f, c_slice().into_owned()));
            (v, ev)
        }
    };

    let (xv_norm, xv_l4_squared) = masked_norms(ev.u.as_slice(), remaining);
    let v_norm = v.norm();
    let solve_residual = (&ev.hv - &delta).norm();
    let w_new = w + &v;
    let exact = input.exact_residual.then(|| {
        let mut g = ev.grad_loss.clone();
        g.axpy(ridge, &w_new, 1.0);
        g += b;
        g.norm()
    });
    let margins_new = &z + &ev.u;

    // The certificate: the smaller valid bound, plus the floating-point allowance.
    let bound_data_dependent = data_dependent(gamma, spectral_norm, v_norm, xv_norm);
    let bound_tight = data_dependent_tight(gamma, spectral_norm, xv_l4_squared);
    let bound_gamma_n_v2 = gamma_n_v_squared(gamma, n_remaining, v_norm);
    let (chosen, chosen_source) = match input.bound {
        BoundKind::DataDependent => (bound_data_dependent, BoundSource::DataDependent),
        BoundKind::Tight => (bound_tight, BoundSource::Tight),
    };
    let (certified_bound, source) = if bound_gamma_n_v2 < chosen {
        (bound_gamma_n_v2, BoundSource::GammaNV2)
    } else {
        (chosen, chosen_source)
    };
    let xv_l1: f64 =
        ev.u.iter()
            .zip(remaining)
            .filter(|(_, k)| **k)
            .map(|(u, _)| u.abs())
            .sum();
    let (rounding_allowance, margin_error_new) = step_allowance(&StepRounding {
        n_rows: x.nrows(),
        n_remaining,
        d: x.ncols(),
        m,
        loss,
        ridge,
        spectral_norm,
        kappa: rows.pass_error_factor(),
        margin_error,
        w_new_norm: w_new.norm(),
        v_norm,
        xv_norm,
        xv_l1,
        xv_l4: xv_l4_squared.sqrt(),
        hv_norm: ev.hv.norm(),
        delta_terms,
        solve_residual,
        certified_bound,
        source,
    });
    Ok(StepOutcome {
        margin_error: margin_error_new,
        report: StepReport {
            delta_norm: delta.norm(),
            v_norm,
            xv_norm,
            xv_l4_squared,
            bound_data_dependent,
            bound_tight,
            bound_gamma_n_v2,
            bound_worst_case: worst_case(gamma, loss.gradient_bound(), lambda, m, n_remaining),
            solve_residual,
            certified_bound,
            certified_bound_source: source.name().into(),
            rounding_allowance,
            exact_residual: exact,
            cg_iterations,
            factored,
        },
        w_new,
        margins_new,
        new_factor,
        mark_stale,
    })
}

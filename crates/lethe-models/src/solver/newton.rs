//! Damped Newton (exact or preconditioned-CG inner solves) with a backtracking line search.

use nalgebra::DVector;

use super::{SolverOptions, Stats, preconditioned_cg};
use crate::error::Result;
use crate::linalg::Cholesky;
use crate::objective::Objective;

/// CG iterations allowed per Newton step before the preconditioner is refreshed.
const MAX_CG_PER_STEP: usize = 12;
/// Armijo constant.
const ARMIJO: f64 = 1e-4;

/// The accepted point of a line search.
pub(super) struct Accepted {
    pub w: DVector<f64>,
    pub z: DVector<f64>,
    pub f: f64,
    pub g: DVector<f64>,
}

/// Whether a trial point may be accepted although the Armijo test failed: near the optimum
/// differences of L_b fall below its rounding error, so a step that keeps the value within
/// rounding and reduces the gradient norm is taken.
pub(super) fn within_rounding(f_new: f64, f: f64) -> bool {
    f_new <= f + 1e-10 * f.abs().max(1.0)
}

pub(super) fn minimize(
    objective: &Objective<'_>,
    mut w: DVector<f64>,
    options: &SolverOptions,
    pcg: bool,
    stats: &mut Stats,
) -> Result<(DVector<f64>, f64)> {
    let mut z = objective.margins(&w);
    let mut f = objective.value_from_margins(&w, &z);
    let mut g = objective.gradient_from_margins(&w, &z);
    let mut gnorm = g.norm();
    let g0 = gnorm.max(f64::MIN_POSITIVE);
    let mut factor: Option<Cholesky> = None;

    while gnorm > options.tolerance && stats.iterations < options.max_iterations {
        stats.iteration(options.kind, gnorm);
        stats.iterations += 1;
        let curvatures = objective.curvatures(&z);
        let rhs = -&g;
        let mut direction = None;
        if pcg && let Some(chol) = &factor {
            let forcing = (gnorm / g0).sqrt().min(0.1);
            let out = preconditioned_cg(
                |v| objective.hessian_vector(&curvatures, v),
                |r| chol.solve(r),
                &rhs,
                None,
                forcing * gnorm,
                MAX_CG_PER_STEP,
            );
            stats.cg_iterations += out.iterations;
            if out.converged {
                direction = Some(out.solution);
            }
        }
        let p = match direction {
            Some(p) => p,
            None => {
                let h = objective.hessian_from_curvatures(&curvatures)?;
                let chol = Cholesky::factor(&h)?;
                stats.factorizations += 1;
                let p = chol.solve(&rhs);
                factor = Some(chol);
                p
            }
        };
        let mut slope = g.dot(&p);
        let p = if slope < 0.0 {
            p
        } else {
            // Cannot happen with an SPD system solved to any accuracy, but never step uphill.
            slope = -gnorm * gnorm;
            rhs
        };
        match backtrack(objective, &w, f, &g, gnorm, &p, slope) {
            Some(acc) => {
                w = acc.w;
                z = acc.z;
                f = acc.f;
                g = acc.g;
                gnorm = g.norm();
            }
            None => break,
        }
    }
    Ok((w, gnorm))
}

/// Backtracking from the full step t = 1.
fn backtrack(
    objective: &Objective<'_>,
    w: &DVector<f64>,
    f: f64,
    g: &DVector<f64>,
    gnorm: f64,
    p: &DVector<f64>,
    slope: f64,
) -> Option<Accepted> {
    let _ = g;
    let mut t = 1.0;
    while t > 1e-14 {
        let w_new = w + p * t;
        let z_new = objective.margins(&w_new);
        let f_new = objective.value_from_margins(&w_new, &z_new);
        if f_new <= f + ARMIJO * t * slope {
            let g_new = objective.gradient_from_margins(&w_new, &z_new);
            return Some(Accepted {
                w: w_new,
                z: z_new,
                f: f_new,
                g: g_new,
            });
        }
        if within_rounding(f_new, f) {
            let g_new = objective.gradient_from_margins(&w_new, &z_new);
            if g_new.norm() < gnorm {
                return Some(Accepted {
                    w: w_new,
                    z: z_new,
                    f: f_new,
                    g: g_new,
                });
            }
        }
        t *= 0.5;
    }
    None
}

//! Solvers for the strongly convex perturbed objective.
//!
//! Both stop on the sum-scale gradient norm ‖∇L_b(w)‖ ≤ `tolerance` and report the final
//! residual r₀: Algorithm 2 of Guo et al. starts its budget there, so a solver that has not
//! converged would make every later certificate wrong. Non-convergence is an error.
//!
//! - [`SolverKind::Newton`]: damped Newton, a Cholesky factorisation of the exact Hessian at
//!   every iteration, backtracking line search. Quadratic convergence; O(nd² + d³) per step.
//! - [`SolverKind::NewtonPcg`]: inexact Newton. The Newton system is solved by conjugate
//!   gradients on the exact Hessian (Hessian-vector products, two passes over X each),
//!   preconditioned by the Cholesky factor of the Hessian at an earlier iterate; the factor is
//!   rebuilt only when CG needs too many iterations. Same fixed point and tolerance, fewer
//!   O(nd²) Hessian builds. The default.
//! - [`SolverKind::Lbfgs`]: limited-memory BFGS with a weak-Wolfe line search, for large d.

mod cg;
mod lbfgs;
mod newton;

pub use cg::{CgOutcome, preconditioned_cg, preconditioned_cg_from};

use std::time::Instant;

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::objective::Objective;

/// Which solver to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SolverKind {
    /// Damped Newton with a fresh Cholesky factor every iteration.
    Newton,
    /// Inexact Newton: preconditioned CG with a reused Cholesky factor.
    #[default]
    NewtonPcg,
    /// L-BFGS with a weak-Wolfe line search.
    Lbfgs,
}

impl SolverKind {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            SolverKind::Newton => "newton",
            SolverKind::NewtonPcg => "newton_pcg",
            SolverKind::Lbfgs => "lbfgs",
        }
    }
}

/// Solver settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SolverOptions {
    /// Which solver.
    pub kind: SolverKind,
    /// Stop when ‖∇L_b(w)‖₂ ≤ tolerance (sum scale, absolute).
    pub tolerance: f64,
    /// Iteration cap (Newton steps or L-BFGS steps).
    pub max_iterations: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        Self {
            kind: SolverKind::default(),
            tolerance: 1e-8,
            max_iterations: 1000,
        }
    }
}

impl SolverOptions {
    /// Checks the options.
    pub fn check(&self) -> Result<()> {
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(ModelError::InvalidSolverOption {
                name: "tolerance",
                value: self.tolerance.to_string(),
                reason: "must be finite and > 0",
            });
        }
        if self.max_iterations == 0 {
            return Err(ModelError::InvalidSolverOption {
                name: "max_iterations",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

/// What a solver run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverReport {
    /// Solver name.
    pub solver: String,
    /// Outer iterations (Newton or L-BFGS steps).
    pub iterations: usize,
    /// Final ‖∇L_b(w)‖₂ in sum scale: r₀ of Algorithm 2.
    pub residual_norm: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Dense Hessians built and factored.
    pub factorizations: usize,
    /// Conjugate-gradient iterations in total (Newton-PCG only).
    pub cg_iterations: usize,
}

/// Minimises `objective` from `w0` to ‖∇L_b‖ ≤ tolerance.
pub fn minimize(
    objective: &Objective<'_>,
    w0: DVector<f64>,
    options: &SolverOptions,
) -> Result<(DVector<f64>, SolverReport)> {
    options.check()?;
    if w0.len() != objective.dim() {
        return Err(ModelError::LengthMismatch {
            what: "initial weights",
            expected: objective.dim(),
            found: w0.len(),
        });
    }
    let start = Instant::now();
    let mut stats = Stats::default();
    let result = match options.kind {
        SolverKind::Newton => newton::minimize(objective, w0, options, false, &mut stats),
        SolverKind::NewtonPcg => newton::minimize(objective, w0, options, true, &mut stats),
        SolverKind::Lbfgs => lbfgs::minimize(objective, w0, options, &mut stats),
    };
    let (w, residual) = result?;
    if !(residual <= options.tolerance) {
        return Err(ModelError::NotConverged {
            solver: options.kind.name(),
            iterations: stats.iterations,
            residual,
            tolerance: options.tolerance,
        });
    }
    Ok((
        w,
        SolverReport {
            solver: options.kind.name().into(),
            iterations: stats.iterations,
            residual_norm: residual,
            seconds: start.elapsed().as_secs_f64(),
            factorizations: stats.factorizations,
            cg_iterations: stats.cg_iterations,
        },
    ))
}

#[derive(Default)]
pub(crate) struct Stats {
    iterations: usize,
    factorizations: usize,
    cg_iterations: usize,
}

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

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    progress: Progress,
}

impl Stats {
    /// Called at the top of every outer iteration with the current ‖∇L_b‖.
    fn iteration(&mut self, solver: SolverKind, gnorm: f64) {
        if PROGRESS.load(Ordering::Relaxed)
            && let Some(line) = self
                .progress
                .line(Instant::now(), solver, self.iterations, gnorm)
        {
            eprintln!("{line}");
        }
    }
}

/// Whether long trainings print their progress ([`set_progress`]); off by default, so that a
/// library call never writes to stderr unless its program asked for it.
static PROGRESS: AtomicBool = AtomicBool::new(false);

/// A training first reports after this long, then at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Turns the progress lines of long trainings on or off for the whole process: when on, a
/// solver still running after [`PROGRESS_EVERY`] prints `training (solver): iteration k,
/// ‖∇L_b‖ = g (tolerance t), s elapsed` to stderr, and again every [`PROGRESS_EVERY`], so a
/// training that will take long (a huge `max_iterations` with a tolerance it approaches
/// slowly) is visible instead of silent. The `lethe` CLI turns it on unless `--quiet`.
pub fn set_progress(on: bool) {
    PROGRESS.store(on, Ordering::Relaxed);
}

/// The clock of one solver run's progress lines.
struct Progress {
    start: Instant,
    last: Option<Instant>,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last: None,
        }
    }
}

impl Progress {
    /// The progress line due at `now`, if one is (first after [`PROGRESS_EVERY`], then at most
    /// every [`PROGRESS_EVERY`]).
    fn line(
        &mut self,
        now: Instant,
        solver: SolverKind,
        iterations: usize,
        gnorm: f64,
    ) -> Option<String> {
        if now.duration_since(self.last.unwrap_or(self.start)) < PROGRESS_EVERY {
            return None;
        }
        self.last = Some(now);
        Some(format!(
            "training ({}): iteration {iterations}, ‖∇L_b‖ = {gnorm:.3e}, {:.0} s elapsed",
            solver.name(),
            now.duration_since(self.start).as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_start_after_the_interval_and_repeat_at_most_once_per_interval() {
        let start = Instant::now();
        let mut p = Progress { start, last: None };
        let s = |secs| start + Duration::from_secs(secs);
        assert_eq!(p.line(s(9), SolverKind::NewtonPcg, 5, 1.0), None);
        let first = p.line(s(10), SolverKind::NewtonPcg, 6, 2.5e-3).unwrap();
        assert_eq!(
            first,
            "training (newton_pcg): iteration 6, ‖∇L_b‖ = 2.500e-3, 10 s elapsed"
        );
        assert_eq!(p.line(s(19), SolverKind::NewtonPcg, 7, 1.0), None);
        assert!(p.line(s(20), SolverKind::NewtonPcg, 8, 1.0).is_some());
    }
}

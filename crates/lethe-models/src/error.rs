//! Typed errors of lethe-models.

use crate::linalg::LinalgError;
use lethe_data::DataError;

/// Everything that can go wrong while configuring or training a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// λ must be finite and > 0 (the objective must be strongly convex).
    #[error("lambda must be finite and > 0, got {value}")]
    InvalidLambda {
        /// The rejected value.
        value: f64,
    },
    /// σ must be finite and ≥ 0.
    #[error("sigma must be finite and >= 0, got {value}")]
    InvalidSigma {
        /// The rejected value.
        value: f64,
    },
    /// A solver tolerance or iteration cap is invalid.
    #[error("invalid solver option {name} = {value}: {reason}")]
    InvalidSolverOption {
        /// Option name.
        name: &'static str,
        /// Its value, formatted.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A vector (noise b, weights w, active mask) has the wrong length.
    #[error("{what} has length {found}, expected {expected}")]
    LengthMismatch {
        /// Which vector.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// A given vector holds NaN or ±∞.
    #[error("{what} has a non-finite entry at index {index}")]
    NonFinite {
        /// Which vector.
        what: &'static str,
        /// First bad index.
        index: usize,
    },
    /// No rows take part in the objective.
    #[error("the objective has no active rows")]
    NoActiveRows,
    /// The data are invalid for this model (labels, norms, shapes).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A dense kernel failed.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// The solver stopped before ‖∇L_b‖ reached the tolerance. Such a model is never returned:
    /// every certificate built on it would be wrong.
    #[error(
        "{solver} did not converge: ‖∇L_b‖ = {residual:e} > tolerance {tolerance:e} after {iterations} iterations"
    )]
    NotConverged {
        /// Solver name.
        solver: &'static str,
        /// Iterations taken.
        iterations: usize,
        /// Final gradient norm (sum scale).
        residual: f64,
        /// The requested tolerance.
        tolerance: f64,
    },
    /// One-vs-rest needs at least two classes.
    #[error("one-vs-rest needs at least two classes, found {found}")]
    TooFewClasses {
        /// Number of distinct labels.
        found: usize,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

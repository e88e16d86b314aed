//! The typed errors of lethe-mia: each says what was wrong and where.

use lethe_data::DataError;
use lethe_models::ModelError;

/// Everything that can go wrong while running an attack or computing its metrics.
///
/// Library code never panics on bad input (empty score sets, mismatched lengths, NaN scores,
/// out-of-range parameters); it returns one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MiaError {
    /// A set of scores (or examples) that must not be empty is empty.
    #[error("{what} is empty")]
    Empty {
        /// What was empty (for example "member scores").
        what: &'static str,
    },
    /// A score is NaN. (±∞ are accepted: they order correctly.)
    #[error("{what}: entry {index} is NaN")]
    NanScore {
        /// Which score set.
        what: &'static str,
        /// First bad index.
        index: usize,
    },
    /// Two things that must have the same length do not.
    #[error("{what} has length {found}, expected {expected}")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// A parameter is out of its range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Its value, formatted.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Confusion counts that cannot come from one experiment (for example zero positives).
    #[error("invalid confusion counts: {reason}")]
    InvalidCounts {
        /// What is wrong.
        reason: String,
    },
    /// The attack needs a model with a different loss (for example a probability of the true
    /// label, which the squared loss does not define).
    #[error("{what} needs a logistic model, but the target uses the {loss} loss")]
    UnsupportedLoss {
        /// The attack or statistic.
        what: &'static str,
        /// The target's loss name.
        loss: &'static str,
    },
    /// The attack does not support this kind of target model or this combination of options.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What is not supported, and why.
        what: String,
    },
    /// An example's label is not one the target model knows.
    #[error("row {row} has label {label}, which the target model does not know ({expected})")]
    UnknownLabel {
        /// Row of the dataset.
        row: usize,
        /// The label.
        label: f64,
        /// What labels the model accepts.
        expected: String,
    },
    /// A numerical routine failed to converge.
    #[error("numerical failure in {what}: {reason}")]
    Numerical {
        /// The routine.
        what: &'static str,
        /// What happened.
        reason: String,
    },
    /// Training a reference, shadow or attack model failed.
    #[error("training a {role} model failed: {source}")]
    Training {
        /// Which model ("reference #3", "shadow #0", "attack", …).
        role: String,
        /// The model error.
        source: ModelError,
    },
    /// A model error outside training (for example a dimension mismatch at prediction time).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A data error (selecting rows, relabelling, …).
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Shorthand for results of this crate.
pub type Result<T, E = MiaError> = std::result::Result<T, E>;

/// Checks that a set of scores is non-empty and has no NaN.
pub(crate) fn check_scores(what: &'static str, scores: &[f64]) -> Result<()> {
    if scores.is_empty() {
        return Err(MiaError::Empty { what });
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(MiaError::NanScore { what, index });
    }
    Ok(())
}

/// An [`MiaError::InvalidParameter`].
pub(crate) fn invalid(
    name: &'static str,
    value: impl ToString,
    reason: impl Into<String>,
) -> MiaError {
    MiaError::InvalidParameter {
        name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

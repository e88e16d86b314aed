//! The typed errors of lethe-data: each says what was wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong while loading, building or preprocessing a [`crate::Dataset`].
///
/// Every variant carries enough context (file, line, row, column, value) to find the problem
/// without a debugger. Library code never panics on bad input; it returns one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file was read but its content is not what the format requires.
    #[error("{path}: {what}")]
    Format {
        /// The file that was being parsed.
        path: PathBuf,
        /// What is wrong, with the line, byte offset or field where it was found.
        what: String,
    },
    /// The feature matrix and the label vector disagree on the number of examples.
    #[error("features have {features} rows but there are {labels} labels")]
    LengthMismatch {
        /// Rows of the feature matrix.
        features: usize,
        /// Entries of the label vector.
        labels: usize,
    },
    /// Two things that must share a feature dimension do not.
    #[error("dimension mismatch: expected {expected} features, found {found} ({context})")]
    DimensionMismatch {
        /// The dimension that was expected.
        expected: usize,
        /// The dimension that was found.
        found: usize,
        /// Which objects were compared.
        context: String,
    },
    /// A dataset with no examples (or no features) where at least one is required.
    #[error("empty dataset: {context}")]
    Empty {
        /// What was empty and why it matters.
        context: String,
    },
    /// A feature is NaN or infinite.
    #[error("feature ({row}, {column}) is not finite: {value}")]
    NonFiniteFeature {
        /// Row (example) index, 0-based.
        row: usize,
        /// Column (feature) index, 0-based.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A label is NaN or infinite.
    #[error("label of row {row} is not finite: {value}")]
    NonFiniteLabel {
        /// Row (example) index, 0-based.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// A label is not in the set the operation requires (for example ±1 for a binary model).
    #[error("label of row {row} is {value}, expected {expected}")]
    InvalidLabel {
        /// Row (example) index, 0-based.
        row: usize,
        /// The offending value.
        value: f64,
        /// What the label should have been.
        expected: String,
    },
    /// A row's Euclidean norm exceeds 1, which the removal bounds of Guo et al. require.
    #[error("row {row} has L2 norm {norm} > 1 (the certified-removal bounds need every ‖x_i‖ ≤ 1)")]
    RowNormExceeded {
        /// Row (example) index, 0-based.
        row: usize,
        /// Its Euclidean norm.
        norm: f64,
    },
    /// A row index outside `0..n`.
    #[error("row index {index} is out of range for a dataset of {n} rows")]
    IndexOutOfRange {
        /// The requested index.
        index: usize,
        /// Number of rows in the dataset.
        n: usize,
    },
    /// A requested class does not occur in the data.
    #[error("class {class} does not occur in the labels")]
    UnknownClass {
        /// The requested class label.
        class: f64,
    },
    /// Loading would need more memory or bytes than a [`crate::Limits`] allows (a dense matrix
    /// too large for the machine, a gzip bomb, a gigantic line).
    #[error("{path}: {what}, above the limit of {limit_text}; {fix}", limit_text = crate::limits::human_bytes(*limit))]
    TooLarge {
        /// The file being loaded.
        path: PathBuf,
        /// What was too large, with the size needed when it is known.
        what: String,
        /// Bytes needed, when known (`None`: more than the limit, or more than 2^64).
        needed: Option<u64>,
        /// The limit in bytes.
        limit: u64,
        /// How to get past it.
        fix: String,
    },
    /// A classification needs at least two classes and the data has fewer.
    #[error(
        "{context} has a single class (label {class}); a classifier needs at least two: check the file, the label column and `classes`"
    )]
    SingleClass {
        /// The one label present.
        class: f64,
        /// Which data (file or set) it was.
        context: String,
    },
    /// A parameter outside its valid range (fractions, counts, …).
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, formatted.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

//! Typed errors of lethe-removal.

use lethe_data::DataError;
use lethe_models::ModelError;

/// Everything that can go wrong while configuring a certified model or removing rows.
///
/// A request that fails validation changes nothing: the model, β and the ledger are as before.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemovalError {
    /// The request names no rows.
    #[error("the removal request is empty")]
    EmptyRequest,
    /// A row index outside the training set.
    #[error("row {index} does not exist (the training set has {n} rows)")]
    UnknownRow {
        /// The requested index.
        index: usize,
        /// Rows in the training set.
        n: usize,
    },
    /// The same row twice in one request.
    #[error("row {index} appears more than once in the request")]
    DuplicateRow {
        /// The repeated index.
        index: usize,
    },
    /// A row that an earlier request removed.
    #[error("row {index} was already removed")]
    AlreadyRemoved {
        /// The index.
        index: usize,
    },
    /// The request would leave no rows to train on.
    #[error("removing {requested} rows would leave none of the {remaining} remaining rows")]
    WouldEmpty {
        /// Rows in the request.
        requested: usize,
        /// Rows remaining before the request.
        remaining: usize,
    },
    /// ε must be finite and > 0.
    #[error("epsilon must be finite and > 0, got {value}")]
    InvalidEpsilon {
        /// The rejected value.
        value: f64,
    },
    /// δ must lie in (0, 1) for Gaussian noise.
    #[error("delta must lie in (0, 1), got {value}")]
    InvalidDelta {
        /// The rejected value.
        value: f64,
    },
    /// A row has norm > 1 and the caller did not opt out of the check.
    #[error(
        "row {row} has norm {norm} > 1: a certificate needs every row with ‖x_i‖ ≤ 1; scale the \
         rows (a config's dataset option \"normalize\": \"unit_norm\" or \"max_norm\", or \
         normalize=\"unit_norm\" or \"max_norm\" in Python)"
    )]
    RowNormExceeded {
        /// The offending row.
        row: usize,
        /// Its norm.
        norm: f64,
    },
    /// The paper's calibration σε/c is not a valid (ε, δ) statement at this ε.
    #[error(
        "certificate.epsilon = {epsilon} with accounting `paper`: the paper's calibration σε/c is \
         not valid at this ε (the exact privacy profile gives δ = {true_delta:.3e} > δ = {delta}); \
         use accounting `analytic` (the exact Gaussian profile, valid for every ε) or a smaller ε"
    )]
    PaperAccountingInvalid {
        /// The configured ε.
        epsilon: f64,
        /// The configured δ.
        delta: f64,
        /// The δ the paper's budget really has at this ε.
        true_delta: f64,
    },
    /// Explicit per-class noise vectors do not match the number of class models.
    #[error("expected {expected} noise vectors (one per class model), got {found}")]
    NoiseCount {
        /// Number of class models.
        expected: usize,
        /// Number given.
        found: usize,
    },
    /// A ledger could not be written, read or replayed.
    #[error("ledger {path}: {what}")]
    Ledger {
        /// The ledger file.
        path: String,
        /// What went wrong (line number included where it applies).
        what: String,
    },
    /// A replayed ledger differs from what it records: `line` (1-based) and the dotted
    /// `field` name the first difference (`prev_sha256` when the hash chain is broken).
    #[error(
        "ledger {path}, line {line}, field `{field}`: the ledger has {found}, the replay gives {expected}"
    )]
    LedgerMismatch {
        /// The ledger file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Dotted path of the field (`epsilon_spent`, `params.model.lambda`, `classes[0].v_norm`).
        field: String,
        /// What the replay (or the hash chain) gives.
        expected: String,
        /// What the ledger holds.
        found: String,
    },
    /// A replayed request could not be served (its recorded rows are invalid), so the ledger
    /// was changed.
    #[error("ledger {path}, line {line}: the replay cannot serve this request: {what}")]
    LedgerReplay {
        /// The ledger file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Why.
        what: String,
    },
    /// A ledger without its closing record: cut short, or its writer never finished.
    #[error(
        "ledger {path} is not closed: it ends after line {lines} without its closing record \
         (cut short, or the run that wrote it did not finish)"
    )]
    LedgerNotClosed {
        /// The ledger file.
        path: String,
        /// Complete lines present.
        lines: usize,
    },
    /// A ledger whose noise came from a secret key file, replayed without the key.
    #[error(
        "ledger {path} was written with a secret noise key (b is not in the ledger, only its \
         SHA-256 commitment): give the key file to replay it"
    )]
    LedgerNeedsKey {
        /// The ledger file.
        path: String,
    },
    /// A noise key file could not be read, created or parsed.
    #[error("noise key {path}: {what}")]
    NoiseKey {
        /// The key file.
        path: String,
        /// What went wrong (never the key).
        what: String,
    },
    /// Invalid data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training or a kernel failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl From<lethe_models::linalg::LinalgError> for RemovalError {
    fn from(e: lethe_models::linalg::LinalgError) -> Self {
        RemovalError::Model(ModelError::Linalg(e))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = RemovalError> = std::result::Result<T, E>;

//! Typed errors of lethe-experiments and the exit codes the `lethe` binary maps them to.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a config, with the JSON path where it was found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ConfigIssue {
    /// JSONPath-like location: `$.model.lambda`, `$.grid["model.sigma"][2]`, `$` for the whole
    /// document.
    pub path: String,
    /// What is wrong, including the value found where it helps.
    pub message: String,
    /// The exit code this problem calls for: [`exit::INVALID`] for a problem of the config
    /// itself, [`exit::DATA_MISSING`] for a data file that is not found, [`exit::IO`] for one
    /// that cannot be read.
    #[serde(skip)]
    pub exit_code: i32,
}

impl ConfigIssue {
    /// A new problem of the config itself (exit code [`exit::INVALID`]).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_exit_code(path, message, exit::INVALID)
    }

    /// A new problem with the exit code it calls for (see [`ConfigIssue::exit_code`]).
    pub fn with_exit_code(path: impl Into<String>, message: impl Into<String>, code: i32) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            exit_code: code,
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of one config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssues {
    /// The config file.
    pub file: PathBuf,
    /// The problems, sorted by path.
    pub issues: Vec<ConfigIssue>,
}

impl ConfigIssues {
    /// The most severe exit code of the problems ([`exit::INVALID`] when there are none).
    pub fn exit_code(&self) -> i32 {
        self.issues
            .iter()
            .map(|i| i.exit_code)
            .fold(exit::INVALID, i32::max)
    }
}

impl fmt::Display for ConfigIssues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(
            f,
            "{}: {n} problem{} in the config",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            writeln!(f, "  {issue}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in lethe-experiments.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The config has problems (all of them are listed).
    #[error("{0}")]
    Config(ConfigIssues),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON, or a value could not be (de)serialised.
    #[error("{path}: {what}")]
    Json {
        /// The file (or `<value>`).
        path: PathBuf,
        /// What went wrong (with line and column for parse errors).
        what: String,
    },
    /// A dataset that is not bundled could not be found.
    #[error("{what} not found{}{}", tried_list(.tried), hint_text(.hint))]
    DataNotFound {
        /// What was looked for.
        what: String,
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
        /// How to fix it.
        hint: Option<String>,
    },
    /// Loading or preprocessing data failed.
    #[error("data: {0}")]
    Data(#[from] lethe_data::DataError),
    /// Training failed.
    #[error("model: {0}")]
    Model(#[from] lethe_models::ModelError),
    /// A removal failed.
    #[error("removal: {0}")]
    Removal(#[from] lethe_removal::RemovalError),
    /// The membership-inference audit failed.
    #[error("audit: {0}")]
    Mia(#[from] lethe_mia::MiaError),
    /// A grid point failed (the message names the point).
    #[error("grid point {index} ({params}): {source}")]
    Point {
        /// The grid index.
        index: usize,
        /// Its parameters, as compact JSON.
        params: String,
        /// What failed.
        source: Box<ExperimentError>,
    },
    /// Several grid points failed.
    #[error("{} grid points failed:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Points(Vec<ExperimentError>),
    /// A point needs more memory than the limit (`--max-memory`, `$LETHE_MAX_MEMORY`, else
    /// the available memory): the problem names the config path to change, the estimate and
    /// the limit (see [`crate::memory`]).
    #[error("{0}")]
    TooLarge(Box<ConfigIssue>),
    /// A command-line argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// An output file is one of the command's inputs: it would be overwritten.
    #[error(
        "refusing to write {output}: it is an input of this command ({input}); choose another \
         output (--out)"
    )]
    WouldOverwrite {
        /// The output that was refused.
        output: PathBuf,
        /// The input it would have replaced.
        input: PathBuf,
    },
    /// A result file is not a lethe result.
    #[error("{path}: {what}")]
    Result {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A certificate ledger did not verify, or could not be read (`lethe verify`).
    #[error("{source}")]
    Ledger {
        /// The ledger file.
        path: PathBuf,
        /// What lethe-removal's replay found.
        source: Box<lethe_removal::RemovalError>,
    },
    /// Drawing a plot failed.
    #[error("plot {path}: {what}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// What went wrong.
        what: String,
    },
}

fn tried_list(tried: &[PathBuf]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(
            "; tried: {}",
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn hint_text(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

/// Exit codes of the `lethe` binary.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// A run failed (training, removal, audit, I/O while running).
    pub const FAILURE: i32 = 1;
    /// Bad command line or an invalid config (`lethe validate` found problems).
    pub const INVALID: i32 = 2;
    /// A data file was not found.
    pub const DATA_MISSING: i32 = 3;
    /// A file could not be read or written, or is not what it should be.
    pub const IO: i32 = 4;
}

impl ExperimentError {
    /// The exit code the binary uses for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExperimentError::Config(c) => c.exit_code(),
            ExperimentError::Usage(_)
            | ExperimentError::WouldOverwrite { .. }
            | ExperimentError::TooLarge(_) => exit::INVALID,
            ExperimentError::Data(lethe_data::DataError::Io { .. }) => exit::IO,
            ExperimentError::DataNotFound { .. } => exit::DATA_MISSING,
            ExperimentError::Io { .. }
            | ExperimentError::Json { .. }
            | ExperimentError::Result { .. }
            | ExperimentError::Plot { .. } => exit::IO,
            ExperimentError::Point { source, .. } => source.exit_code(),
            ExperimentError::Ledger { source, .. } => {
                use lethe_removal::RemovalError as R;
                match source.as_ref() {
                    R::LedgerNeedsKey { .. } => exit::INVALID,
                    R::Ledger { .. } | R::NoiseKey { .. } => exit::IO,
                    _ => exit::FAILURE,
                }
            }
            ExperimentError::Points(v) => v
                .iter()
                .map(ExperimentError::exit_code)
                .max()
                .unwrap_or(exit::FAILURE),
            _ => exit::FAILURE,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;

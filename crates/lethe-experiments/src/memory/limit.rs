//! The memory limit of a run: `--max-memory`, else `$LETHE_MAX_MEMORY`, else the
//! `MemAvailable` of `/proc/meminfo`, else [`DEFAULT_LIMIT`].

use std::fmt;

use crate::error::{ExperimentError, Result};

// The variable that overrides the detected limit and the size syntax it shares with
// `--max-memory` (`8GiB`, `512MiB`, `2G`, `1000000`) are lethe-data's, which reads the same
// variable for its loaders: one name, one parser.
use lethe_data::limits::available_memory;
pub use lethe_data::limits::{MAX_MEMORY_ENV, parse_size};

/// The limit when neither an override nor `/proc/meminfo` is available: 8 GiB, the loaders'
/// own fallback.
pub const DEFAULT_LIMIT: u64 = lethe_data::limits::FALLBACK_MAX_MEMORY;

/// Where a [`MemoryLimit`] came from (named in refusals, so the user knows what to change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitSource {
    /// `--max-memory`.
    Flag,
    /// `$LETHE_MAX_MEMORY`.
    Env,
    /// `MemAvailable` in `/proc/meminfo` when the limit was read.
    MemAvailable,
    /// [`DEFAULT_LIMIT`]: nothing else was available.
    Default,
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitSource::Flag => "--max-memory",
            LimitSource::Env => MAX_MEMORY_ENV,
            LimitSource::MemAvailable => "MemAvailable of /proc/meminfo",
            LimitSource::Default => "the default, /proc/meminfo being unreadable",
        })
    }
}

/// The bytes a run may use, and where that number came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit in bytes.
    pub bytes: u64,
    /// Its source.
    pub source: LimitSource,
}

impl MemoryLimit {
    /// A limit given explicitly (`--max-memory`).
    pub fn flag(bytes: u64) -> Self {
        Self {
            bytes,
            source: LimitSource::Flag,
        }
    }

    /// The limit: `flag` if given, else `$LETHE_MAX_MEMORY`, else `MemAvailable`, else
    /// [`DEFAULT_LIMIT`].
    ///
    /// # Errors
    /// [`ExperimentError::Usage`] when `$LETHE_MAX_MEMORY` is set but not a size.
    pub fn detect(flag: Option<u64>) -> Result<Self> {
        if let Some(bytes) = flag {
            return Ok(Self::flag(bytes));
        }
        if let Ok(text) = std::env::var(MAX_MEMORY_ENV) {
            let bytes = parse_size(&text)
                .map_err(|e| ExperimentError::Usage(format!("${MAX_MEMORY_ENV}: {e}")))?;
            return Ok(Self {
                bytes,
                source: LimitSource::Env,
            });
        }
        Ok(available_memory().map_or(
            Self {
                bytes: DEFAULT_LIMIT,
                source: LimitSource::Default,
            },
            |bytes| Self {
                bytes,
                source: LimitSource::MemAvailable,
            },
        ))
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            format_bytes(u128::from(self.bytes)),
            self.source
        )
    }
}

/// A byte count for people, in binary units (`2.98 GiB`).
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_format_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 << 30), "3.00 GiB");
    }
}

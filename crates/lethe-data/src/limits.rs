//! How much a loader may allocate and read, so that a hostile or careless file (a 31-byte
//! LibSVM file asking for a huge dense matrix, a gzip bomb, one gigantic line) gives a typed
//! [`DataError::TooLarge`] instead of exhausting memory.
//!
//! Three limits, each overridable:
//! - [`Limits::max_memory`]: the largest dense feature matrix (n × d × 8 bytes) a loader builds.
//!   The default is half of the memory the kernel reports available (`MemAvailable` in
//!   `/proc/meminfo`), because a text loader holds a row-major copy of the values while it
//!   builds the column-major matrix; the environment variable [`MAX_MEMORY_ENV`] overrides it
//!   (read only in [`Limits::from_env`]).
//! - [`Limits::max_line_bytes`]: the longest text line ([`DEFAULT_MAX_LINE_BYTES`]).
//! - [`Limits::max_decompressed_bytes`]: how many bytes a gzip stream may inflate to. By default
//!   `max_memory`: every byte of CSV or LibSVM text becomes at least as many bytes of parsed
//!   values, so a text larger than that could not be loaded anyway. IDX files are also held to
//!   the size their header announces.

use std::path::Path;

use crate::error::{DataError, Result};

/// The environment variable that overrides [`Limits::max_memory`]: a byte count, optionally
/// with a binary suffix `K`, `M`, `G` or `T` (`LETHE_MAX_MEMORY=8G`).
pub const MAX_MEMORY_ENV: &str = "LETHE_MAX_MEMORY";

/// The default longest line: 64 MiB (a CSV row of a few million features).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// The memory limit used where the available memory cannot be read (no `/proc/meminfo`).
pub const FALLBACK_MAX_MEMORY: u64 = 8 << 30;

/// What to tell the user when a limit is hit.
const FIX: &str = "if the machine has the memory, raise the limit with LETHE_MAX_MEMORY=BYTES \
                   (e.g. 64G; the default is half of the available memory), otherwise use fewer \
                   rows or features";

/// The resource limits of a load (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest dense feature matrix, in bytes (n × d × 8).
    pub max_memory: u64,
    /// The longest text line, in bytes.
    pub max_line_bytes: usize,
    /// How many bytes a gzip stream may inflate to; `None` means `max_memory`.
    pub max_decompressed_bytes: Option<u64>,
}

impl Limits {
    /// The given memory limit with the default line and decompression limits.
    pub fn with_max_memory(max_memory: u64) -> Self {
        Self {
            max_memory,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_decompressed_bytes: None,
        }
    }

    /// The defaults of this machine: [`MAX_MEMORY_ENV`] when set, else half of `MemAvailable`,
    /// else [`FALLBACK_MAX_MEMORY`]. This is the one place the variable is read.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] when the variable is set but is not a byte count.
    pub fn from_env() -> Result<Self> {
        let max_memory = match std::env::var(MAX_MEMORY_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                parse_bytes(&v).ok_or_else(|| DataError::InvalidParameter {
                    name: MAX_MEMORY_ENV,
                    value: format!("'{v}'"),
                    reason: "expected a byte count such as 8000000000, 512M or 8G".into(),
                })?
            }
            _ => available_memory().map_or(FALLBACK_MAX_MEMORY, |m| m / 2),
        };
        Ok(Self::with_max_memory(max_memory))
    }

    /// The decompression cap in bytes (see [`Limits::max_decompressed_bytes`]).
    pub fn decompressed_cap(&self) -> u64 {
        self.max_decompressed_bytes.unwrap_or(self.max_memory)
    }

    /// Refuses an `n × d` dense f64 matrix for `path` that exceeds [`Limits::max_memory`]
    /// (computed with checked arithmetic: an overflowing size is refused too).
    ///
    /// # Errors
    /// [`DataError::TooLarge`] naming the file, the size needed and the limit.
    pub fn check_dense(&self, path: &Path, n: usize, d: usize) -> Result<()> {
        let needed = (n as u64)
            .checked_mul(d as u64)
            .and_then(|e| e.checked_mul(8));
        match needed {
            Some(bytes) if bytes <= self.max_memory => Ok(()),
            _ => Err(self.too_large(
                path,
                format!(
                    "the dense {n} × {d} feature matrix needs {}",
                    needed.map_or_else(|| "more than 2^64 bytes".into(), human_bytes)
                ),
                needed,
                self.max_memory,
            )),
        }
    }

    /// Refuses `bytes` of something (`what`) held in memory beyond [`Limits::max_memory`].
    ///
    /// # Errors
    /// [`DataError::TooLarge`].
    pub fn check_memory(&self, path: &Path, what: &str, bytes: u64) -> Result<()> {
        if bytes <= self.max_memory {
            return Ok(());
        }
        Err(self.too_large(
            path,
            format!("{what} need {}", human_bytes(bytes)),
            Some(bytes),
            self.max_memory,
        ))
    }

    /// A [`DataError::TooLarge`] with the standard advice.
    pub(crate) fn too_large(
        &self,
        path: &Path,
        what: String,
        needed: Option<u64>,
        limit: u64,
    ) -> DataError {
        DataError::TooLarge {
            path: path.to_path_buf(),
            what,
            needed,
            limit,
            fix: FIX.into(),
        }
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes (`None` where it cannot be read).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a byte count: digits, optionally followed by `K`, `M`, `G` or `T` (powers of 1024,
/// case-insensitive, optionally with `B` or `iB`). `None` for anything else or an overflow.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let value: u64 = number.parse().ok()?;
    let suffix = suffix.trim().to_ascii_lowercase();
    let suffix = suffix
        .strip_suffix("ib")
        .or_else(|| suffix.strip_suffix('b'))
        .unwrap_or(&suffix);
    let shift = match suffix {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    value.checked_mul(1u64 << shift)
}

/// A byte count for people: `32.0 MiB (33554432 bytes)`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_byte_counts() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("8G"), Some(8 << 30));
        assert_eq!(parse_bytes(" 512 MiB "), Some(512 << 20));
        assert_eq!(parse_bytes("4kb"), Some(4096));
        assert_eq!(parse_bytes("1.5G"), None);
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("99999999999T"), None);
    }

    #[test]
    fn dense_check_uses_checked_arithmetic() {
        let limits = Limits::with_max_memory(1000);
        assert!(limits.check_dense(Path::new("f"), 5, 25).is_ok());
        let e = limits.check_dense(Path::new("f"), 5, 26).unwrap_err();
        assert!(matches!(
            e,
            DataError::TooLarge {
                needed: Some(1040),
                limit: 1000,
                ..
            }
        ));
        let e = limits
            .check_dense(Path::new("f"), usize::MAX, usize::MAX)
            .unwrap_err();
        assert!(e.to_string().contains("more than 2^64 bytes"), "{e}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(10), "10 bytes");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB (3145728 bytes)");
    }
}

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
    /// else [`FALLBACK_MAX_MEMORY`]. (lethe-experiments reads the same variable, through
    /// [`parse_size`], for its per-point memory estimate.)
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] when the variable is set but is not a byte count.
    pub fn from_env() -> Result<Self> {
        let max_memory = match std::env::var(MAX_MEMORY_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                parse_size(&v).map_err(|reason| DataError::InvalidParameter {
                    name: MAX_MEMORY_ENV,
                    value: format!("'{v}'"),
                    reason,
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
    mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes (the file gives kB).
pub fn mem_available(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .and_then(|kb| kb.checked_mul(1024))
}

/// Parses a size: a number of bytes with an optional unit, `B`, `K`/`KB`/`KiB`, `M`…, `G`…,
/// `T`… (decimal units are powers of 1000, binary ones of 1024; `K`, `M`, `G`, `T` alone are
/// binary), e.g. `8GiB`, `512MiB`, `1.5G`, `100000`.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let bad = || {
        format!("expected a size such as 8GiB, 512MiB, 1.5G or a number of bytes, got \"{text}\"")
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => (1u64 << 30) as f64,
        "gb" => 1e9,
        "t" | "tib" => (1u64 << 40) as f64,
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
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
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_size(" 512 MiB "), Ok(512 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("100000"), Ok(100_000));
        for bad in [
            "",
            "GiB",
            "-1G",
            "0",
            "8 parsecs",
            "1e400",
            "NaN",
            "99999999999T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mem_available_is_read_in_bytes() {
        let text = "MemTotal:       24683584 kB\nMemFree: 1 kB\nMemAvailable:   22930248 kB\n";
        assert_eq!(mem_available(text), Some(22_930_248 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
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

//! The memory limit of a run: `--max-memory`, else `$LETHE_MAX_MEMORY`, else the
//! `MemAvailable` of `/proc/meminfo`, else [`DEFAULT_LIMIT`].

use std::fmt;

use crate::error::{ExperimentError, Result};

/// The environment variable that overrides the detected limit (same syntax as
/// `--max-memory`: `8GiB`, `512MiB`, `2G`, `1000000`).
pub const MAX_MEMORY_ENV: &str = "LETHE_MAX_MEMORY";

/// The limit when neither an override nor `/proc/meminfo` is available: 8 GiB.
pub const DEFAULT_LIMIT: u64 = 8 << 30;

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
        Ok(std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| mem_available(&t))
            .map_or(
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
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_size(" 512 MiB "), Ok(512 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("100000"), Ok(100_000));
        for bad in ["", "GiB", "-1G", "0", "8 parsecs", "1e400", "NaN"] {
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
    fn bytes_format_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 << 30), "3.00 GiB");
    }
}

//! Which bytes a result was computed from: every data file is recorded by a name relative to
//! the data directory (so the same data on another machine gets the same name), with its size
//! and SHA-256 (so a reader can tell whether two results read the same bytes). These go into
//! each run's `provenance.data_files`; `lethe report` warns when results disagree.
//!
//! The file is hashed as it is on disk (compressed bytes for a `.gz`), in one streaming pass:
//! 11–19 ms for the four MNIST files (11.6 MB) on the 2-core development machine, against
//! about 260 ms to load and convert MNIST 3-vs-8.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::data::DataContext;
use crate::error::{ExperimentError, Result};

/// One data file read by a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataFile {
    /// The file's path relative to `base`, with `/` separators (`mnist/train-images-idx3-ubyte.gz`).
    pub path: String,
    /// What `path` is relative to: `data_dir` (`--data-dir` or `$LETHE_DATA`), `config_dir`
    /// (the config file's directory) or `absolute` (a file outside both, recorded as given).
    pub base: &'static str,
    /// Size in bytes, as stored on disk.
    pub bytes: u64,
    /// SHA-256 of the bytes as stored on disk, lowercase hex.
    pub sha256: String,
}

/// `path` relative to `dir` when it lies inside it (compared as given, then canonicalized).
fn relative_to(path: &Path, dir: &Path) -> Option<PathBuf> {
    if let Ok(rel) = path.strip_prefix(dir) {
        return Some(rel.to_path_buf());
    }
    let (p, d) = (path.canonicalize().ok()?, dir.canonicalize().ok()?);
    p.strip_prefix(d).ok().map(Path::to_path_buf)
}

/// `rel` with `/` separators, whatever the platform.
fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The name under which `path` is recorded, and its base (see [`DataFile::base`]).
pub fn recorded_name(path: &Path, ctx: &DataContext) -> (String, &'static str) {
    if let Some(rel) = ctx.data_dir.as_deref().and_then(|d| relative_to(path, d)) {
        return (slash_path(&rel), "data_dir");
    }
    if let Some(rel) = relative_to(path, &ctx.config_dir) {
        return (slash_path(&rel), "config_dir");
    }
    (path.display().to_string(), "absolute")
}

/// Size and SHA-256 of a file, in one streaming pass.
///
/// # Errors
/// [`ExperimentError::Io`] when the file cannot be read.
pub fn digest(path: &Path) -> Result<(u64, String)> {
    let io_error = |source| ExperimentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    // Streamed through the hasher (sha2's `io::Write`); `io::copy` retries interrupted reads.
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io_error)?;
    Ok((bytes, lethe_data::digest::hex(&hasher.finalize())))
}

/// The record of one data file read under `ctx`.
///
/// # Errors
/// As [`digest`].
pub fn describe(path: &Path, ctx: &DataContext) -> Result<DataFile> {
    let (name, base) = recorded_name(path, ctx);
    let (bytes, sha256) = digest(path)?;
    Ok(DataFile {
        path: name,
        base,
        bytes,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_data_dir_then_the_config_dir() {
        let ctx = DataContext {
            data_dir: Some(PathBuf::from("/data")),
            config_dir: PathBuf::from("/cfg"),
        };
        assert_eq!(
            recorded_name(Path::new("/data/mnist/a.gz"), &ctx),
            ("mnist/a.gz".to_string(), "data_dir")
        );
        assert_eq!(
            recorded_name(Path::new("/cfg/sub/b.csv"), &ctx),
            ("sub/b.csv".to_string(), "config_dir")
        );
        assert_eq!(
            recorded_name(Path::new("/elsewhere/c.csv"), &ctx),
            ("/elsewhere/c.csv".to_string(), "absolute")
        );
    }

    #[test]
    fn digest_is_the_sha256_of_the_bytes() {
        let dir = std::env::temp_dir().join(format!("lethe-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("abc.txt");
        std::fs::write(&p, b"abc").unwrap();
        let (bytes, hex) = digest(&p).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(bytes, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

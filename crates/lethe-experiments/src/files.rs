//! File safety: never write over an input, check an output directory before computing, keep
//! file names inside their directory, and clean up temporary files of killed runs.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{ExperimentError, Result};

/// A temporary file of [`crate::json::write_atomic`] older than this is left over from a run
/// that was killed (a live write renames its file within moments of its last write).
pub const STALE_TMP_AGE: Duration = Duration::from_secs(600);

/// The absolute, symlink-free form of `p` as far as it exists: the existing ancestor is
/// canonicalised and the rest appended (so a file that does not exist yet still compares equal
/// to itself).
fn resolved(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let parts: Vec<Component<'_>> = abs.components().collect();
    for k in (0..parts.len()).rev() {
        let prefix: PathBuf = parts[..k].iter().collect();
        if let Ok(mut out) = fs::canonicalize(&prefix) {
            // The rest does not exist yet: it will be created as plain directories, so `..`
            // there means the lexical parent.
            for part in &parts[k..] {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(n) => out.push(n),
                    _ => {}
                }
            }
            return out;
        }
    }
    abs
}

/// Whether `a` and `b` name the same file (after resolving `.`, `..` and symlinks; also for
/// files that do not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

/// Refuses to write `output` when it is one of `inputs`.
///
/// # Errors
/// [`ExperimentError::WouldOverwrite`] naming both.
pub fn refuse_overwrite<'a>(
    output: &Path,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<()> {
    for input in inputs {
        if same_file(output, input) {
            return Err(ExperimentError::WouldOverwrite {
                output: output.to_path_buf(),
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Checks that `dir` can hold output: creates it (and its parents) if needed and writes and
/// removes a probe file, so a run fails before computing anything rather than after.
///
/// # Errors
/// [`ExperimentError::Io`] naming the directory.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| ExperimentError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("the output directory is not writable: {e}"),
        ),
    };
    fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(format!(".lethe-write-probe.{}.tmp", std::process::id()));
    fs::write(&probe, b"").map_err(io)?;
    fs::remove_file(&probe).map_err(io)?;
    Ok(())
}

/// Whether `file_name` is a temporary file of [`crate::json::write_atomic`]
/// (`.<file>.<pid>.<n>.tmp`) or of [`check_writable_dir`].
fn is_our_tmp(file_name: &str) -> bool {
    let Some(inner) = file_name
        .strip_prefix('.')
        .and_then(|s| s.strip_suffix(".tmp"))
    else {
        return false;
    };
    if inner.starts_with("lethe-write-probe.") {
        return true;
    }
    let mut parts = inner.rsplitn(3, '.');
    let n = parts.next().unwrap_or("");
    let pid = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    !rest.is_empty()
        && !n.is_empty()
        && !pid.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && pid.bytes().all(|b| b.is_ascii_digit())
}

/// Removes temporary files of killed runs from `dir` (not recursively): files named like
/// [`crate::json::write_atomic`]'s temporaries whose last modification is older than
/// [`STALE_TMP_AGE`] (a younger one may belong to a run writing right now, e.g. another shard).
/// Returns the files removed; problems (a missing directory, a file that vanished) are ignored.
pub fn clean_stale_tmp(dir: &Path) -> Vec<PathBuf> {
    let now = SystemTime::now();
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_our_tmp(name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_TMP_AGE);
        if old && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Whether `name` is a single, plain file name: no directory separators, not `.` or `..`, not
/// absolute, not empty, at most 200 bytes (file systems allow 255).
pub fn is_plain_file_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\', '\0']) {
        return false;
    }
    let mut c = Path::new(name).components();
    matches!((c.next(), c.next()), (Some(Component::Normal(_)), None))
}

/// An exclusive lock on a lock file, held until dropped (the operating system releases it if
/// the process dies, so a killed run never leaves a sweep locked).
///
/// Shards of one sweep merge into the same result file; the merge holds this lock around
/// reading every point file and renaming the merged file into place, so merges run one after
/// another and the last one — which sees every point written before it — wins.
#[derive(Debug)]
pub struct FileLock {
    _file: fs::File,
}

impl FileLock {
    /// Blocks until `path` (created if missing, with its directory) is locked exclusively.
    ///
    /// # Errors
    /// [`ExperimentError::Io`] when the lock file cannot be created or locked.
    pub fn exclusive(path: &Path) -> Result<Self> {
        let io = |source| ExperimentError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Self { _file: file })
    }
}

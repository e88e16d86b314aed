//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lethe_experiments::ExperimentError;
use lethe_experiments::sweep::{RunOptions, run_experiment};
use serde_json::{Value, json};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("lethe-exp-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small, fast config on synthetic data.
pub fn synthetic_config(name: &str) -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": name,
        "seed": 1,
        "dataset": { "name": "synthetic", "n": 120, "d": 5 },
        "model": { "loss": "logistic", "lambda": 0.05, "sigma": 1.0 },
        "removal": { "requests": 4 }
    })
}

/// Writes a config value to `dir/<file>`.
pub fn write_config(dir: &Path, file: &str, v: &Value) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// Reads a JSON file.
pub fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The `.json` files of a directory, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The (path, message) pairs of a config error; panics on any other error.
pub fn config_issues(err: ExperimentError) -> Vec<(String, String)> {
    match err {
        ExperimentError::Config(c) => c.issues.into_iter().map(|i| (i.path, i.message)).collect(),
        other => panic!("expected config issues, got {other}"),
    }
}

/// Writes `cfg` to `dir/<file>`, runs it quietly into `dir/results` and returns the result
/// file's path.
pub fn run_config(dir: &TempDir, cfg: &Value, file: &str) -> PathBuf {
    let path = write_config(dir.path(), file, cfg);
    let out = dir.join("results");
    run_experiment(
        &path,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap()
    .result_path
}

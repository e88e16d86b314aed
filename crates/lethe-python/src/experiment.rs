//! `lethe.run_experiment` from Python: a `lethe.experiment/1` config held in memory, run by
//! lethe-experiments' own runner ([`lethe_experiments::sweep::run_loaded`]) after the same
//! validation as a file ([`lethe_experiments::config::load_str`]), so the same config and seed
//! give the same numbers as `lethe run`.

use std::path::PathBuf;

use lethe_experiments::config::load_str;
use lethe_experiments::sweep::{RunOptions, run_loaded};
use pyo3::prelude::*;

use crate::errors::to_py;

/// Runs the config `config_json` (relative data paths resolve against `base_dir`, then
/// `data_dir`), writes the result files into `out_dir` as `lethe run --out` does, and
/// returns the merged result file's text. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (config_json, out_dir, base_dir, data_dir=None, jobs=1))]
pub fn run_experiment_json(
    py: Python<'_>,
    config_json: &str,
    out_dir: PathBuf,
    base_dir: PathBuf,
    data_dir: Option<PathBuf>,
    jobs: usize,
) -> PyResult<String> {
    py.detach(|| {
        let loaded = load_str(config_json, "<python config>".as_ref(), base_dir)?;
        let mut opts = RunOptions::new(out_dir);
        opts.data_dir = data_dir;
        opts.jobs = jobs;
        opts.quiet = true;
        let summary = run_loaded(&loaded, &opts)?;
        std::fs::read_to_string(&summary.result_path).map_err(|e| {
            lethe_experiments::ExperimentError::Io {
                path: summary.result_path.clone(),
                source: e,
            }
        })
    })
    .map_err(to_py)
}

/// The flat tables of the result file `path` (as `lethe run --tables csv` writes them): the
/// CSV text of the summary (one row per run), removals and audit tables.
#[pyfunction]
pub fn result_tables(py: Python<'_>, path: PathBuf) -> PyResult<(String, String, String)> {
    py.detach(|| {
        let result = lethe_experiments::json::read_json(&path)?;
        let t = lethe_experiments::tables::tables(&result);
        Ok::<_, lethe_experiments::ExperimentError>((t.summary, t.removals, t.audit))
    })
    .map_err(to_py)
}

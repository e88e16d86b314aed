//! The certified mechanisms of issue #19 run end to end from an experiment config.

mod common;

use common::{TempDir, read, synthetic_config, write_config};
use lethe_experiments::sweep::{RunOptions, run_experiment};
use serde_json::json;

#[test]
fn an_output_perturbation_experiment_runs_end_to_end() {
    let dir = TempDir::new("mech-op");
    let mut cfg = synthetic_config("mech-op");
    cfg["removal"]["strategy"] = json!("output_perturbation");
    let path = write_config(dir.path(), "op.json", &cfg);
    let mut opts = RunOptions::new(dir.join("out"));
    opts.quiet = true;
    let summary = run_experiment(&path, &opts).unwrap();
    let result = read(&summary.result_path);
    let removals = result["runs"][0]["removals"].as_array().unwrap();
    assert_eq!(removals.len(), 4);
}

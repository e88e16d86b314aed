//! A config held in memory (`config::load_str`, `sweep::run_loaded`: what Python's
//! `lethe.run_experiment` uses) is validated and run exactly as the same config from a file.

use std::path::{Path, PathBuf};

use lethe_experiments::ExperimentError;
use lethe_experiments::config::{load, load_str};
use lethe_experiments::sweep::{RunOptions, run_experiment, run_loaded};
use serde_json::Value;

const CONFIG: &str = r#"{
  "schema": "lethe.experiment/1", "name": "in-memory", "seed": 3,
  "dataset": {"name": "digits", "classes": [3, 8]},
  "model": {"loss": "logistic", "lambda": 0.1, "sigma": 0.5},
  "removal": {"requests": 4, "batch_size": 2, "solver": "pcg"},
  "grid": {"model.sigma": [0.5, 1.0]}
}"#;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lethe-in-memory-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn removals(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["removals"].as_array().unwrap().clone())
        .map(|mut r| {
            for k in ["seconds", "step_seconds", "retrain_seconds"] {
                r.as_object_mut().unwrap().remove(k);
            }
            r
        })
        .collect()
}

#[test]
fn text_loads_as_the_file_does() {
    let dir = tmp("load");
    let file = dir.join("in-memory.json");
    std::fs::write(&file, CONFIG).unwrap();
    let from_file = load(&file).unwrap();
    let from_text = load_str(CONFIG, Path::new("<text>"), dir.clone()).unwrap();
    assert_eq!(from_text.raw, from_file.raw);
    assert_eq!(from_text.points, from_file.points);
    assert_eq!(
        from_text.resolved_value().unwrap(),
        from_file.resolved_value().unwrap()
    );
    assert_eq!(from_text.dir, dir);
    assert_eq!(from_text.file, PathBuf::from("<text>"));
}

#[test]
fn text_is_validated_with_its_label() {
    let bad = CONFIG.replace("\"lambda\": 0.1", "\"lambda\": -1");
    match load_str(&bad, Path::new("<python config>"), ".".into()) {
        Err(ExperimentError::Config(c)) => {
            assert_eq!(c.file, PathBuf::from("<python config>"));
            assert!(c.issues.iter().any(|i| i.path == "$.model.lambda"), "{c:?}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(matches!(
        load_str("{", Path::new("<x>"), ".".into()),
        Err(ExperimentError::Config(_))
    ));
}

#[test]
fn run_loaded_gives_the_numbers_of_run_experiment() {
    let dir = tmp("run");
    let file = dir.join("in-memory.json");
    std::fs::write(&file, CONFIG).unwrap();
    let mut a = RunOptions::new(dir.join("a"));
    a.quiet = true;
    let from_file = run_experiment(&file, &a).unwrap();
    let mut b = RunOptions::new(dir.join("b"));
    b.quiet = true;
    let loaded = load_str(CONFIG, Path::new("<text>"), dir.clone()).unwrap();
    let from_text = run_loaded(&loaded, &b).unwrap();
    assert_eq!(from_text.points_done, 2);
    let (x, y) = (
        removals(&from_file.result_path),
        removals(&from_text.result_path),
    );
    assert_eq!(x.len(), 8);
    assert_eq!(x, y);
}

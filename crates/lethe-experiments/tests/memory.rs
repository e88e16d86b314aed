//! Regression tests of issue #15, memory: points whose d × d matrices, reference models or
//! bootstrap buffers cannot fit are refused with the estimate, the limit and what to change
//! (by `validate`, and by `run` before allocating) instead of aborting the process, and a
//! sweep with one such point still finishes and merges the others. Every test sets the limit
//! explicitly (`--max-memory`), so nothing depends on the machine's free memory.

mod common;

use std::process::{Command, Output};

use common::{TempDir, read, synthetic_config, write_config};
use serde_json::{Value, json};

fn lethe() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lethe"));
    // The flag decides in these tests; a limit in the environment must not.
    c.env_remove("LETHE_MAX_MEMORY");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn validate(dir: &TempDir, cfg: &Value, limit: &str) -> Output {
    let path = write_config(dir.path(), "c.json", cfg);
    lethe()
        .args(["validate", "--max-memory", limit])
        .arg(&path)
        .output()
        .unwrap()
}

/// `lethe run -q --max-memory LIMIT --out OUT CONFIG`.
fn run_limited(out: &std::path::Path, config: &std::path::Path, limit: &str) -> Output {
    lethe()
        .args(["run", "-q", "--max-memory", limit, "--out"])
        .arg(out)
        .arg(config)
        .output()
        .unwrap()
}

/// Asserts that `validate` refused the config at `path` with the estimate and the limit.
fn assert_refused(o: &Output, path: &str, limit_text: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{path}: this point needs an estimated")),
        "{err}"
    );
    assert!(
        err.contains(&format!("the memory limit is {limit_text} (--max-memory)")),
        "{err}"
    );
    assert!(err.contains("--max-memory or $LETHE_MAX_MEMORY"), "{err}");
}

#[test]
fn validate_refuses_a_feature_dimension_whose_matrices_do_not_fit() {
    let dir = TempDir::new("mem-validate-d");
    let mut cfg = synthetic_config("wide");
    cfg["dataset"] = json!({"name": "synthetic", "n": 60, "d": 40_000});
    let o = validate(&dir, &cfg, "8GiB");
    assert_refused(&o, "$.dataset.d", "8.00 GiB");
    assert!(stderr(&o).contains("use fewer features"), "{}", stderr(&o));
    // The same config within a limit it fits is fine: the check is the estimate, not a cap.
    let o = validate(&dir, &cfg, "1TiB");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn validate_refuses_libsvm_n_features_whose_matrices_do_not_fit() {
    let dir = TempDir::new("mem-validate-libsvm");
    std::fs::write(dir.join("tiny.svm"), "+1 1:0.5 2:0.5\n-1 1:-0.5 3:0.5\n").unwrap();
    let mut cfg = synthetic_config("libsvm-wide");
    cfg["dataset"] = json!({"name": "libsvm", "path": "tiny.svm", "n_features": 30_000});
    let o = validate(&dir, &cfg, "4GiB");
    assert_refused(&o, "$.dataset.n_features", "4.00 GiB");
}

#[test]
fn validate_bounds_audit_sizes_by_the_estimate_and_a_hard_limit() {
    let dir = TempDir::new("mem-validate-audit");
    let audited = |audit: Value| {
        json!({
            "schema": "lethe.experiment/1", "name": "audited", "seed": 1,
            "dataset": {"name": "digits", "classes": [3, 8]},
            "model": {"loss": "logistic", "lambda": 1e-3, "sigma": 1.0},
            "removal": {"requests": 10},
            "audit": audit
        })
    };
    // Far beyond any machine: refused whatever the limit.
    let huge_lira =
        audited(json!({"attacks": [{"attack": "lira", "n_reference": 1_000_000_000u64}]}));
    let o = validate(&dir, &huge_lira, "1TiB");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("$.audit.attacks[0].n_reference"),
        "{}",
        stderr(&o)
    );
    let huge_reps = audited(json!({"bootstrap": {"reps": 10_000_000_000u64}}));
    let o = validate(&dir, &huge_reps, "1TiB");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("$.audit.bootstrap.reps"),
        "{}",
        stderr(&o)
    );
    // Below the hard limits, the estimate decides.
    let lira = audited(json!({"attacks": [{"attack": "lira", "n_reference": 60_000}]}));
    assert_refused(
        &validate(&dir, &lira, "100MiB"),
        "$.audit.attacks[0].n_reference",
        "100.00 MiB",
    );
    assert_eq!(validate(&dir, &lira, "64GiB").status.code(), Some(0));
    let reps = audited(json!({"bootstrap": {"reps": 9_000_000}}));
    assert_refused(
        &validate(&dir, &reps, "100MiB"),
        "$.audit.bootstrap.reps",
        "100.00 MiB",
    );
    assert_eq!(validate(&dir, &reps, "64GiB").status.code(), Some(0));
}

#[test]
fn a_bad_max_memory_is_a_usage_error() {
    let dir = TempDir::new("mem-flag");
    let o = validate(&dir, &synthetic_config("ok"), "lots");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("expected a size such as 8GiB"),
        "{}",
        stderr(&o)
    );
    let path = write_config(dir.path(), "ok.json", &synthetic_config("ok"));
    let o = lethe()
        .env("LETHE_MAX_MEMORY", "lots")
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("$LETHE_MAX_MEMORY"), "{}", stderr(&o));
}

/// A sweep in which one point's d × d matrices (d = 10⁶: 8 TB each) can never fit: before,
/// that point aborted the whole process; now it fails alone, before allocating, the other
/// points finish and are merged, and the merged result records the failure with its error.
#[test]
fn a_point_too_large_fails_alone_and_the_sweep_is_merged() {
    let dir = TempDir::new("mem-sweep");
    let mut cfg = synthetic_config("mixed");
    cfg["dataset"] = json!({"name": "synthetic", "n": 20, "d": 5});
    cfg["grid"] = json!({"dataset.d": [5, 1_000_000, 6]});
    let path = write_config(dir.path(), "mixed.json", &cfg);
    let out = dir.join("results");
    let o = run_limited(&out, &path, "4GiB");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("grid point 1"), "{err}");
    assert!(
        err.contains("$.grid[\"dataset.d\"][1]: this point needs an estimated"),
        "{err}"
    );
    let result = read(&out.join("mixed.json"));
    assert_eq!(result["points_total"], 3);
    assert_eq!(result["points_done"], 2);
    assert_eq!(result["complete"], false);
    let ds: Vec<u64> = result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["params"]["dataset.d"].as_u64().unwrap())
        .collect();
    assert_eq!(ds, [5, 6]);
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["index"], 1);
    assert_eq!(failed[0]["exit_code"], 2);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("the memory limit is 4.00 GiB (--max-memory)"),
        "{error}"
    );
    assert!(error.contains("use fewer features"), "{error}");
}

/// A CSV file's shape is only known once it is loaded (`validate` cannot estimate it): `run`
/// checks the loaded shape before training, so 30,000 columns are refused with the estimate
/// instead of aborting on the 7.2 GB Hessian.
#[test]
fn run_refuses_a_wide_csv_file_after_loading_it_before_training() {
    let dir = TempDir::new("mem-csv");
    let d = 30_000;
    let mut text = String::from("label");
    for j in 0..d {
        text.push_str(&format!(",f{j}"));
    }
    for i in 0..10 {
        text.push_str(if i % 2 == 0 { "\n1" } else { "\n0" });
        for j in 0..d {
            text.push_str(if (i + j) % 7 == 0 { ",0.001" } else { ",0" });
        }
    }
    std::fs::write(dir.join("wide.csv"), text).unwrap();
    let mut cfg = synthetic_config("wide-csv");
    cfg["dataset"] = json!({"name": "csv", "path": "wide.csv", "test_fraction": 0.2});
    let path = write_config(dir.path(), "wide.json", &cfg);
    let o = lethe()
        .args(["validate", "--max-memory", "4GiB"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.join("results");
    let o = run_limited(&out, &path, "4GiB");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("$.dataset: this point needs an estimated"),
        "{err}"
    );
    assert!(err.contains("(8 × 30000 training, 2 test rows)"), "{err}");
    let result = read(&out.join("wide-csv.json"));
    assert_eq!(result["failed"][0]["exit_code"], 2);
}

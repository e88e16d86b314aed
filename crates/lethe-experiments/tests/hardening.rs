//! Regression tests of issue #15 (hardening): file safety, hangs, escaping, validation.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::{TempDir, read, synthetic_config, write_config};
use lethe_experiments::ExperimentError;
use lethe_experiments::sweep::{RunOptions, points_dir, run_experiment};
use serde_json::json;

fn lethe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lethe"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Data loss and file safety

#[test]
fn run_refuses_to_write_its_result_over_its_config() {
    let dir = TempDir::new("h-overwrite-run");
    let cfg = write_config(dir.path(), "b.json", &synthetic_config("b"));
    let before = std::fs::read(&cfg).unwrap();
    let out = lethe()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path())
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&cfg).unwrap(),
        before,
        "the config was overwritten"
    );
    // The same through a different spelling of the directory.
    let out = lethe()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("sub/.."))
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
}

#[test]
fn an_unwritable_output_directory_fails_before_computing() {
    let dir = TempDir::new("h-unwritable");
    let cfg = write_config(dir.path(), "c.json", &synthetic_config("unwritable"));
    std::fs::write(dir.join("file"), b"not a directory").unwrap();
    let err = run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(dir.join("file/out"))
        },
    )
    .unwrap_err();
    // One error about the directory, not one per grid point after computing them.
    match &err {
        ExperimentError::Io { path, .. } => {
            assert!(path.starts_with(dir.join("file")), "{err}");
        }
        other => panic!("expected an I/O error about the directory, got {other}"),
    }
    assert!(err.to_string().contains("not writable"), "{err}");
}

/// A CSV config whose points validate but fail when run (rows of norm > 1 with
/// `normalize: none` and a certificate).
fn failing_config(dir: &TempDir) -> PathBuf {
    let mut rows = vec!["y,a,b".to_string()];
    for i in 0..40 {
        rows.push(format!("{},{}.5,{}.25", i % 2, 1 + i % 4, 2 + i % 3));
    }
    std::fs::write(dir.join("big.csv"), rows.join("\n") + "\n").unwrap();
    let cfg = json!({
        "schema": "lethe.experiment/1", "name": "fails", "seed": 1,
        "dataset": { "name": "csv", "path": "big.csv", "normalize": "none",
                     "test_fraction": 0.25 },
        "model": { "loss": "logistic", "lambda": 0.05, "sigma": 1.0 },
        "removal": { "requests": 2 },
        "grid": { "model.lambda": [0.05, 0.1] }
    });
    write_config(dir.path(), "fails.json", &cfg)
}

#[test]
fn failed_points_are_recorded_in_the_result_and_the_report() {
    let dir = TempDir::new("h-failed");
    let cfg = failing_config(&dir);
    let out = dir.join("res");
    let err = run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap_err();
    assert!(matches!(err, ExperimentError::Points(_)), "{err}");
    let result = read(&out.join("fails.json"));
    assert_eq!(result["runs"], json!([]));
    let failed = result["failed"].as_array().expect("a `failed` list");
    assert_eq!(failed.len(), 2);
    for (i, f) in failed.iter().enumerate() {
        assert_eq!(f["index"], json!(i));
        assert!(f["error"].as_str().unwrap().contains("norm"), "{f}");
        assert_eq!(
            f["params"]["model.lambda"],
            result["config"]["grid"]["model.lambda"][i]
        );
    }
}

#[test]
fn stale_temporary_files_are_cleaned_and_fresh_ones_kept() {
    let dir = TempDir::new("h-tmp");
    let cfg = write_config(dir.path(), "c.json", &synthetic_config("tmpclean"));
    let out = dir.join("res");
    let pdir = points_dir(&out, "tmpclean");
    std::fs::create_dir_all(&pdir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3 * 3600);
    let stale = [
        out.join(".tmpclean.json.4242.0.tmp"),
        pdir.join(".0-0123456789abcdef.json.4242.3.tmp"),
    ];
    for s in &stale {
        let f = std::fs::File::create(s).unwrap();
        f.set_modified(old).unwrap();
    }
    let fresh = out.join(".tmpclean.json.4243.0.tmp");
    std::fs::write(&fresh, b"").unwrap();
    let unrelated = out.join(".notes.tmp");
    std::fs::File::create(&unrelated)
        .unwrap()
        .set_modified(old)
        .unwrap();
    run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap();
    for s in &stale {
        assert!(!s.exists(), "{} was not cleaned", s.display());
    }
    assert!(
        fresh.exists(),
        "a fresh temporary file may belong to a live run"
    );
    assert!(
        unrelated.exists(),
        "only lethe's own temporaries are removed"
    );
}

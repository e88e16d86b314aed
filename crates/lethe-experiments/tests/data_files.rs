//! Regression tests of issue #15 for data files: one-class classification data, the loaders'
//! memory limit through `LETHE_MAX_MEMORY`, and provenance that travels (each data file
//! recorded relative to the data directory with its size and SHA-256; `lethe report` warns when
//! results were computed from different bytes).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, read, write_config};
use lethe_experiments::data_files::digest;
use lethe_experiments::report::{ReportOptions, write_report};
use lethe_experiments::sweep::{RunOptions, run_experiment};
use serde_json::{Value, json};

/// A small CSV classification table: label first, two features.
fn csv_rows(label: impl Fn(usize) -> usize, shift: f64) -> String {
    let mut rows = vec!["y,a,b".to_string()];
    for i in 0..40 {
        rows.push(format!(
            "{},{},{}",
            label(i),
            (i % 5) as f64 * 0.1 + shift,
            (i % 3) as f64 * 0.2
        ));
    }
    rows.join("\n") + "\n"
}

fn csv_config(name: &str, path: &str) -> Value {
    json!({
        "schema": "lethe.experiment/1", "name": name, "seed": 1,
        "dataset": { "name": "csv", "path": path, "test_fraction": 0.25 },
        "model": { "loss": "logistic", "lambda": 0.05, "sigma": 1.0 },
        "removal": { "requests": 2 }
    })
}

/// Runs `cfg` (written into `dir`) with `data_dir`, quietly into `dir/results`.
fn run(dir: &TempDir, cfg: &Value, data_dir: Option<&Path>) -> lethe_experiments::Result<PathBuf> {
    let path = write_config(dir.path(), "cfg.json", cfg);
    run_experiment(
        &path,
        &RunOptions {
            quiet: true,
            data_dir: data_dir.map(Path::to_path_buf),
            ..RunOptions::new(dir.join("results"))
        },
    )
    .map(|s| s.result_path)
}

#[test]
fn a_one_class_csv_is_refused_for_a_classifier() {
    let dir = TempDir::new("one-class");
    std::fs::write(dir.join("ones.csv"), csv_rows(|_| 1, 0.0)).unwrap();
    let err = run(&dir, &csv_config("ones", "ones.csv"), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("single class") && msg.contains("ones.csv") && msg.contains("two"),
        "{msg}"
    );
}

#[test]
fn lethe_max_memory_limits_the_loaders_with_a_clear_error() {
    let dir = TempDir::new("max-memory");
    std::fs::write(dir.join("t.csv"), csv_rows(|i| i % 2, 0.0)).unwrap();
    let cfg = write_config(dir.path(), "small.json", &csv_config("small", "t.csv"));
    let lethe = |limit: &str| {
        Command::new(env!("CARGO_BIN_EXE_lethe"))
            .args(["run", "-q"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.join("out"))
            .env("LETHE_MAX_MEMORY", limit)
            .output()
            .unwrap()
    };
    // 40 rows × 2 features are 640 bytes of f64: refused under a 256-byte limit.
    let o = lethe("256");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "ran under a 256-byte limit: {stderr}");
    assert!(
        stderr.contains("t.csv") && stderr.contains("× 2") && stderr.contains("LETHE_MAX_MEMORY"),
        "{stderr}"
    );
    let o = lethe("a lot");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("LETHE_MAX_MEMORY"),
        "{stderr}"
    );
    let o = lethe("1M");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn data_files_are_recorded_relative_to_the_data_dir_with_size_and_sha256() {
    let dir = TempDir::new("provenance-files");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    let text = csv_rows(|i| i % 2, 0.0);
    std::fs::write(data.join("sub/train.csv"), &text).unwrap();
    let result = run(&dir, &csv_config("rel", "sub/train.csv"), Some(&data)).unwrap();
    let doc = read(&result);
    let files = &doc["runs"][0]["provenance"]["data_files"];
    let (bytes, sha) = digest(&data.join("sub/train.csv")).unwrap();
    assert_eq!(bytes, text.len() as u64);
    assert_eq!(
        files,
        &json!([{ "path": "sub/train.csv", "base": "data_dir", "bytes": bytes, "sha256": sha }])
    );
    // Nothing of this machine's directory layout is in the provenance.
    let provenance = doc["runs"][0]["provenance"].to_string();
    assert!(
        !provenance.contains(&*dir.path().to_string_lossy()),
        "{provenance}"
    );
}

#[test]
fn report_warns_when_results_were_computed_from_different_data() {
    let dir = TempDir::new("provenance-report");
    let mut results = Vec::new();
    for (name, shift) in [("first", 0.0), ("same", 0.0), ("other", 0.05)] {
        let sub = TempDir::new(name);
        let data = sub.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("train.csv"), csv_rows(|i| i % 2, shift)).unwrap();
        let r = run(&sub, &csv_config(name, "train.csv"), Some(&data)).unwrap();
        let kept = dir.join(&format!("{name}.json"));
        std::fs::copy(&r, &kept).unwrap();
        results.push(kept);
    }
    let report = |files: &[PathBuf]| {
        let out = dir.join("report.md");
        write_report(&ReportOptions {
            results: files.to_vec(),
            out: out.clone(),
            plots: dir.join("plots"),
        })
        .unwrap();
        std::fs::read_to_string(out).unwrap()
    };
    let md = report(&results[..2]);
    assert!(!md.contains("different data"), "{md}");
    let md = report(&results);
    let warning = md
        .lines()
        .skip_while(|l| !l.contains("different data"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        warning.contains("`train.csv`")
            && warning.contains("first, same")
            && warning.contains("other"),
        "{md}"
    );
}

//! `lethe run --tables csv`: flat tables next to the result, with the result's numbers.

mod common;

use std::process::Command;

use common::{TempDir, synthetic_config, write_config};
use serde_json::{Value, json};

fn lethe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lethe"))
}

/// The CSV (no quoted commas in these tables' numbers) as a header and rows.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[test]
fn run_writes_three_tables_with_the_results_numbers() {
    let dir = TempDir::new("tables");
    let mut cfg = synthetic_config("tab");
    cfg["grid"] = json!({"model.sigma": [0.0, 1.0]});
    cfg["audit"] = json!({"attacks": ["loss"]});
    let file = write_config(dir.path(), "tab.json", &cfg);
    let out = dir.path().join("out");
    let status = lethe()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--tables",
            "csv",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tab.json")).unwrap()).unwrap();
    let runs = result["runs"].as_array().unwrap();

    let (h, rows) = read_csv(&out.join("tab.removals.csv"));
    assert_eq!(rows.len(), 8);
    let (run, sigma, beta, eps) = (
        column(&h, "run"),
        column(&h, "param.model.sigma"),
        column(&h, "beta"),
        column(&h, "epsilon_spent"),
    );
    for row in &rows {
        let i: usize = row[run].parse().unwrap();
        let r = runs.iter().find(|r| r["index"] == json!(i)).unwrap();
        let k = row[column(&h, "request")].parse::<usize>().unwrap() - 1;
        let rec = &r["removals"][k];
        // Bit for bit: the shortest round-trip text of the same f64.
        assert_eq!(
            row[beta].parse::<f64>().unwrap(),
            rec["beta"].as_f64().unwrap()
        );
        assert_eq!(
            row[sigma].parse::<f64>().unwrap(),
            r["params"]["model.sigma"].as_f64().unwrap()
        );
        // σ = 0 certifies nothing: epsilon_spent is null, an empty cell.
        assert_eq!(row[eps].is_empty(), rec["epsilon_spent"].is_null());
    }
    assert!(rows.iter().any(|r| r[eps].is_empty()) && rows.iter().any(|r| !r[eps].is_empty()));

    let (h, rows) = read_csv(&out.join("tab.summary.csv"));
    assert_eq!(rows.len(), 2);
    for name in [
        "run",
        "hash",
        "seed",
        "summary.beta_final",
        "train.test_accuracy",
        "timings.total",
    ] {
        column(&h, name);
    }
    let (h, rows) = read_csv(&out.join("tab.audit.csv"));
    assert!(!rows.is_empty());
    column(&h, "metrics.auc");
    assert!(!h.iter().any(|c| c.contains("roc")), "{h:?}");
}

#[test]
fn tables_needs_a_known_format() {
    let dir = TempDir::new("tables-bad");
    let file = write_config(dir.path(), "t.json", &synthetic_config("t"));
    let out = lethe()
        .args(["run", file.to_str().unwrap(), "--quiet", "--tables", "xlsx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("csv"));
}

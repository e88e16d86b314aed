//! The `lethe` binary: help, exit codes, and the three commands end to end.

mod common;

use std::process::Command;

use common::{TempDir, synthetic_config, write_config};
use serde_json::json;

fn lethe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lethe"))
}

#[test]
fn help_documents_every_command() {
    let out = lethe().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["run", "validate", "report", "Exit codes"] {
        assert!(text.contains(word), "{text}");
    }
    let out = lethe().args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--out",
        "--data-dir",
        "--jobs",
        "--shard",
        "--quiet",
        "--merge-only",
    ] {
        assert!(text.contains(flag), "{text}");
    }
}

#[test]
fn validate_exit_codes() {
    let dir = TempDir::new("cli-validate");
    let good = write_config(dir.path(), "good.json", &synthetic_config("good"));
    let mut bad = synthetic_config("bad");
    bad["model"]["lambda"] = json!(-1.0);
    bad["certificate"] = json!({ "delta": 2.0 });
    let bad = write_config(dir.path(), "bad.json", &bad);
    let out = lethe().args(["validate"]).arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = lethe()
        .args(["validate"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$.model.lambda") && err.contains("$.certificate.delta"),
        "{err}"
    );
    let out = lethe()
        .args(["validate", "/definitely/not/here.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn run_then_report() {
    let dir = TempDir::new("cli-run");
    let cfg = write_config(dir.path(), "c.json", &synthetic_config("clirun"));
    let out_dir = dir.join("res");
    let out = lethe()
        .args(["run"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "--quiet prints nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out_dir.join("clirun.json").is_file());
    let report = dir.join("res/REPORT.md");
    let out = lethe()
        .args(["report"])
        .arg(out_dir.join("clirun.json"))
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&report).unwrap().contains("clirun"));
    // A bad shard is a usage error.
    let out = lethe()
        .args(["run"])
        .arg(&cfg)
        .args(["--shard", "5/2", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

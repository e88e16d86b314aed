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
    for word in ["run", "validate", "report", "verify", "Exit codes"] {
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
        "--tables",
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

/// Issue #14.4: `removal.ledger` writes a ledger beside the result, `lethe verify` replays it
/// (exit 0) and names the line and field of an edit (exit 1).
#[test]
fn a_ledger_run_verifies_and_an_edited_ledger_does_not() {
    let dir = TempDir::new("cli-ledger");
    let mut cfg = synthetic_config("cliledger");
    cfg["removal"]["ledger"] = json!(true);
    let cfg = write_config(dir.path(), "c.json", &cfg);
    let out_dir = dir.join("res");
    let run = |extra: &[&str]| {
        let out = lethe()
            .args(["run"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out_dir)
            .arg("--quiet")
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[]);
    let result = common::read(&out_dir.join("cliledger.json"));
    let rel = result["runs"][0]["ledger"].as_str().unwrap().to_string();
    let hash = result["runs"][0]["hash"].as_str().unwrap();
    assert_eq!(rel, format!("cliledger.ledgers/0-{hash}.jsonl"));
    let ledger = out_dir.join(&rel);
    // Only the final file: no temporary left behind.
    let names: Vec<String> = std::fs::read_dir(out_dir.join("cliledger.ledgers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("0-{hash}.jsonl")]);

    let verify = |path: &std::path::Path| lethe().arg("verify").arg(path).output().unwrap();
    let out = verify(&ledger);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: "));

    // Edit ε spent on line 3 (request 2).
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    v["epsilon_spent"] = json!(v["epsilon_spent"].as_f64().unwrap() / 2.0);
    lines[2] = v.to_string();
    let edited = dir.join("edited.jsonl");
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let out = verify(&edited);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("edited.jsonl") && err.contains("line 3") && err.contains("epsilon_spent"),
        "{err}"
    );
    // A header parameter: named as such, since the run's config is in the header.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    v["params"]["delta"] = json!(1e-3);
    lines[0] = v.to_string();
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let out = verify(&edited);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && err.contains("params.delta"),
        "{err}"
    );
    // Cut short.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&edited, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let out = verify(&edited);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not closed"));
    // Not a ledger; a missing file.
    std::fs::write(&edited, "{}\n").unwrap();
    assert_eq!(verify(&edited).status.code(), Some(4));
    assert_eq!(verify(&dir.join("missing.jsonl")).status.code(), Some(4));
    // Several ledgers: the first failure decides the code.
    let out = lethe()
        .arg("verify")
        .arg(&ledger)
        .arg(&edited)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));

    // --force re-runs the point and replaces the ledger, which still verifies.
    run(&["--force"]);
    assert_eq!(verify(&ledger).status.code(), Some(0));
    let names = std::fs::read_dir(out_dir.join("cliledger.ledgers"))
        .unwrap()
        .count();
    assert_eq!(names, 1);
}

/// A key-file ledger needs `--noise-key`.
#[test]
fn verify_needs_the_noise_key_of_a_key_file_run() {
    let dir = TempDir::new("cli-key");
    let mut cfg = synthetic_config("clikey");
    cfg["removal"]["ledger"] = json!(true);
    cfg["model"]["noise_key"] = json!("noise.key");
    let cfg = write_config(dir.path(), "c.json", &cfg);
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
    let result = common::read(&out_dir.join("clikey.json"));
    let ledger = out_dir.join(result["runs"][0]["ledger"].as_str().unwrap());
    let out = lethe().arg("verify").arg(&ledger).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--noise-key"));
    let out = lethe()
        .arg("verify")
        .arg(&ledger)
        .arg("--noise-key")
        .arg(dir.join("noise.key"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

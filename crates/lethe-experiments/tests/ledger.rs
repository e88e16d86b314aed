//! Issue #14: a run with an explicit b is a replay; `removal.ledger` writes a tamper-evident
//! ledger beside the result; `model.noise_key` keeps b secret.

mod common;

use common::{TempDir, read, run_config, synthetic_config};
use lethe_experiments::report::{ReportOptions, write_report};
use lethe_experiments::verify::verify_ledger;
use serde_json::{Value, json};

/// DESIGN's fixture as a CSV file (label first; the run divides each row by its norm).
fn fixture_csv(dir: &TempDir) -> std::path::PathBuf {
    let rows = [
        (1.0, 1.0, 2.0),
        (1.0, 2.0, -1.0),
        (-1.0, -1.0, -1.5),
        (1.0, 0.5, 0.5),
        (-1.0, -2.0, 1.0),
        (-1.0, 1.5, -0.5),
    ];
    let mut text = String::from("y,x1,x2\n");
    for (y, a, b) in rows {
        text.push_str(&format!("{y},{a},{b}\n"));
    }
    let p = dir.join("fixture.csv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_run_with_an_explicit_noise_vector_is_a_replay() {
    let dir = TempDir::new("replay");
    fixture_csv(&dir);
    let cfg = json!({
        "schema": "lethe.experiment/1",
        "name": "replay",
        "dataset": { "name": "csv", "path": "fixture.csv", "test_path": "fixture.csv" },
        "model": { "loss": "logistic", "lambda": 0.1, "sigma": 100.0, "noise_vector": [0, 0] },
        "removal": { "indices": [[5], [4], [3]], "ledger": true }
    });
    let result = read(&run_config(&dir, &cfg, "replay.json"));
    let run = &result["runs"][0];
    assert_eq!(run["data"]["n_train"], json!(6));
    assert_eq!(run["train"]["guarantee"], json!({ "kind": "replay" }));
    assert_eq!(run["provenance"]["noise_secrecy"], json!("explicit_replay"));
    let removals = run["removals"].as_array().unwrap();
    assert_eq!(removals.len(), 3);
    for r in removals {
        assert_eq!(r["certified"], json!(false), "{r}");
        assert!(r["epsilon_spent"].is_null(), "{r}");
        // Every bound is still reported.
        assert!(r["bound_data_dependent"].as_f64().unwrap() > 0.0);
        assert!(r["beta"].as_f64().unwrap() <= r["budget"].as_f64().unwrap());
    }
    assert_eq!(run["summary"]["certified_final"], json!(false));
    assert!(run["summary"]["epsilon_spent_final"].is_null());
    // The ledger of a replay verifies too (b is in its header).
    let ledger = dir.join("results").join(run["ledger"].as_str().unwrap());
    let v = verify_ledger(&ledger, None, None).unwrap();
    assert_eq!(v.requests, 3);

    // The report labels it.
    let report = dir.join("results/REPORT.md");
    write_report(&ReportOptions {
        results: vec![dir.join("results/replay.json")],
        out: report.clone(),
        plots: dir.join("results/plots"),
    })
    .unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("replay: explicit b, not certified"), "{text}");
}

#[test]
fn seeded_runs_record_that_b_is_derivable_from_the_seed() {
    let dir = TempDir::new("seeded");
    let result = read(&run_config(&dir, &synthetic_config("seeded"), "c.json"));
    let run = &result["runs"][0];
    assert_eq!(
        run["provenance"]["noise_secrecy"],
        json!("derivable_from_seed")
    );
    assert!(run["ledger"].is_null());
    assert_eq!(run["train"]["guarantee"]["kind"], json!("certified"));
    // Without `removal.ledger` no ledger directory appears.
    assert!(!dir.join("results/seeded.ledgers").exists());
}

#[test]
fn a_key_file_run_writes_neither_the_key_nor_b() {
    let dir = TempDir::new("key");
    let mut cfg = synthetic_config("keyed");
    cfg["model"]["noise_key"] = json!("secret/noise.key");
    cfg["removal"]["ledger"] = json!(true);
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    let result = read(&run_config(&dir, &cfg, "c.json"));
    let key_path = dir.join("secret/noise.key");
    let key = lethe_removal::NoiseKey::load(&key_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let run = &result["runs"][0];
    assert_eq!(run["provenance"]["noise_secrecy"], json!("key_file"));
    assert!(run["train"]["noise_norm"].is_null());
    let ledger = dir.join("results").join(run["ledger"].as_str().unwrap());

    // b as the key draws it (σ = 1, d = 5, class 0).
    let params = lethe_models::LinearModelParams::logistic(0.05, 1.0);
    let b = params
        .draw_noise_keyed(
            5,
            key.bytes(),
            lethe_models::Stream::TrainingNoise { class: 0 },
        )
        .unwrap();
    let seeded = params
        .draw_noise(5, 1, lethe_models::Stream::TrainingNoise { class: 0 })
        .unwrap();
    assert_ne!(b, seeded);
    let mut files = vec![ledger.clone(), dir.join("results/keyed.json")];
    for e in std::fs::read_dir(dir.join("results/keyed.points")).unwrap() {
        files.push(e.unwrap().path());
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains(&key.to_hex()),
            "{} holds the key",
            f.display()
        );
        for x in b.iter() {
            let s = serde_json::to_string(x).unwrap();
            assert!(!text.contains(&s), "{} holds b ({s})", f.display());
        }
    }
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(&ledger)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(header.get("noise").is_none());
    assert_eq!(header["noise_secrecy"], json!("key_file"));

    // Verify with the key: ok; without: a usage error (exit 2); with another key: line 1.
    let v = verify_ledger(&ledger, None, Some(&key_path)).unwrap();
    assert_eq!(v.requests, 4);
    let err = verify_ledger(&ledger, None, None).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("--noise-key"), "{err}");
    let other = dir.join("other.key");
    lethe_removal::NoiseKey::load_or_create(&other).unwrap();
    let err = verify_ledger(&ledger, None, Some(&other)).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("noise_commitment"), "{err}");
}

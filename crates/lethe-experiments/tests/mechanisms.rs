//! The certified mechanisms of issue #19 from an experiment config: certificates in the run
//! JSON, the guarantee's preconditions, and the theorem's game against the retrain the
//! mechanism's certificate is about.

mod common;

use common::{TempDir, read, run_config};
use serde_json::{Value, json};

/// Breast cancer (bundled), five single-row requests, output perturbation (Newton and
/// Descent-to-Delete) at σ = 1 (on w), three seeds.
fn op_config(trials: usize) -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": "mech-op",
        "seed": 0,
        "dataset": { "name": "breast_cancer", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 0.01, "sigma": 1.0 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "strategy": "output_perturbation", "requests": 5 },
        "audit": {
            "attacks": ["loss"],
            "bootstrap": { "reps": 50 },
            "roc_points": 0,
            "game": { "trials": trials }
        },
        "grid": {
            "seed": [0, 1, 2],
            "removal.strategy": [
                "output_perturbation",
                { "strategy": "descent_to_delete", "steps": 20 }
            ]
        }
    })
}

#[test]
fn output_perturbation_writes_its_certificates_and_holds_its_game() {
    let dir = TempDir::new("mech-op");
    let result = run_config(&dir, &op_config(300), "op.json");
    let doc = read(&result);
    // The report draws the mechanisms side by side (two certified strategies).
    let written =
        lethe_experiments::report::write_report(&lethe_experiments::report::ReportOptions {
            results: vec![result.clone()],
            out: dir.join("REPORT.md"),
            plots: dir.join("plots"),
        })
        .unwrap();
    assert!(
        written
            .plots
            .iter()
            .any(|p| p.ends_with("mech-op-mechanisms.svg")),
        "{:?}",
        written.plots
    );
    let svg = std::fs::read_to_string(dir.join("plots/mech-op-mechanisms.svg")).unwrap();
    assert!(svg.contains("descent_to_delete (T = 20)") && svg.contains("output_perturbation"));
    for run in doc["runs"].as_array().unwrap() {
        assert_eq!(run["train"]["guarantee"]["kind"], json!("certified"));
        let removals = run["removals"].as_array().unwrap();
        assert_eq!(removals.len(), 5);
        for r in removals {
            let bound = r["certificate_bound"].as_f64().unwrap();
            let budget = r["budget"].as_f64().unwrap();
            assert!(bound > 0.0 && bound <= budget, "{r}");
            assert_eq!(r["certified"], json!(true));
            assert!(r["epsilon_spent"].as_f64().unwrap() <= 1.0);
            assert!(r["rounding_allowance"].as_f64().unwrap() > 0.0);
            assert!(r["sensitivity_worst_case"].as_f64().unwrap() > 0.0);
            // No accumulation: every release is certified on its own.
            assert_eq!(r["beta"], Value::Null);
        }
        let summary = &run["summary"];
        assert_eq!(summary["certified_final"], json!(true));
        // The a-priori capacity is Sekhari's (Newton from the anchor) only.
        let newton = run["train"]["strategy"] == "output_perturbation";
        assert_eq!(
            summary["deletion_capacity_worst_case"].is_u64(),
            newton,
            "{}: {summary}",
            run["train"]["strategy"]
        );
        assert_eq!(summary["supported_removals"], json!(5));
        let game = &run["audit"]["game"];
        assert_eq!(game["certificate"]["kind"], json!("certified"), "{game}");
        assert_eq!(game["certified_draws"], json!(300));
        let lower = game["outcome"]["bound"]["epsilon_lower_bound"]
            .as_f64()
            .unwrap();
        assert!(
            lower <= 1.0,
            "seed {}: game bound {lower} > ε = 1",
            run["seed"]
        );
        let unlearned = run["audit"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["model"] == "unlearned" && e["members"] == "forget_vs_test")
            .unwrap();
        assert_eq!(
            unlearned["certificate"]["kind"],
            json!("certified"),
            "{unlearned}"
        );
    }
}

#[test]
fn output_perturbation_without_noise_certifies_nothing() {
    let dir = TempDir::new("mech-op-0");
    let mut cfg = op_config(40);
    cfg["model"]["sigma"] = json!(0.0);
    cfg["grid"] = json!({ "removal.strategy": ["output_perturbation", "descent_to_delete"] });
    let doc = read(&run_config(&dir, &cfg, "op0.json"));
    for run in doc["runs"].as_array().unwrap() {
        assert_eq!(run["train"]["guarantee"]["kind"], json!("none"));
        assert_eq!(run["summary"]["certified_final"], json!(false));
        assert_eq!(run["audit"]["game"]["certificate"]["kind"], json!("none"));
        for r in run["removals"].as_array().unwrap() {
            assert_eq!(r["certified"], json!(false));
            assert_eq!(r["epsilon_spent"], Value::Null);
        }
    }
}

#[test]
fn bad_descent_settings_name_their_path() {
    let dir = TempDir::new("mech-bad");
    let mut cfg = op_config(3);
    cfg["grid"] = json!({ "seed": [0] });
    cfg["removal"]["strategy"] = json!({ "strategy": "descent_to_delete", "steps": 0 });
    let path = common::write_config(dir.path(), "bad.json", &cfg);
    let found = common::config_issues(lethe_experiments::sweep::validate(&path, None).unwrap_err());
    assert!(
        found.iter().any(|(p, _)| p == "$.removal.strategy.steps"),
        "{found:?}"
    );
    cfg["removal"]["strategy"] = json!({ "strategy": "descent_to_delete", "rate": 1 });
    let path = common::write_config(dir.path(), "bad2.json", &cfg);
    let found = common::config_issues(lethe_experiments::sweep::validate(&path, None).unwrap_err());
    assert!(
        found.iter().any(|(p, _)| p == "$.removal.strategy.rate"),
        "{found:?}"
    );
}

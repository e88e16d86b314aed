//! Issue #14 item 5: the train record covers every one-vs-rest class model, and the audit
//! claims a finite certified ε only for a certified released model.

mod common;

use std::sync::Arc;

use common::{TempDir, read, run_config};
use lethe_experiments::config::ExperimentConfig;
use lethe_experiments::data::{DataContext, prepare};
use lethe_experiments::runner::certified_params;
use lethe_removal::CertifiedModel;
use serde_json::json;

#[test]
fn one_vs_rest_train_record_covers_every_class_model() {
    let cfg = json!({
        "schema": "lethe.experiment/1",
        "name": "ovr-norms",
        "seed": 4,
        "dataset": { "name": "digits", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 1e-2, "sigma": 1.0 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "requests": 2 }
    });
    let dir = TempDir::new("ovr-norms");
    let doc = read(&run_config(&dir, &cfg, "ovr.json"));
    let train = &doc["runs"][0]["train"];
    assert_eq!(train["class_models"], 10);

    // The same model, trained here: ‖B‖_F and ‖W‖_F over the ten class models.
    let config = ExperimentConfig::from_value(&cfg).unwrap().resolve();
    let data = prepare(&config, &DataContext::new(None, dir.path())).unwrap();
    let model =
        CertifiedModel::train(certified_params(&config), Arc::clone(&data.train), 4).unwrap();
    let classes = model.class_models();
    assert_eq!(classes.len(), 10);
    let noise: f64 = classes
        .iter()
        .map(|c| c.noise.norm_squared())
        .sum::<f64>()
        .sqrt();
    let weights = model.weight_matrix().norm();
    assert_eq!(train["noise_norm"].as_f64(), Some(noise));
    assert_eq!(train["weight_norm"].as_f64(), Some(weights));
    // On 7fd4938 both were class 0's alone.
    assert!(noise > classes[0].noise.norm() * 2.0);
    assert!(weights > classes[0].weights.norm() * 1.5);
}

#[test]
fn audit_claims_no_certified_epsilon_past_the_budget() {
    // Budget policy `never` with a tiny ε: β exceeds the budget, so the released model is not
    // certified and the audit must not label it `certified` with a finite ε (7fd4938 did).
    let cfg = json!({
        "schema": "lethe.experiment/1",
        "name": "audit-past-budget",
        "seed": 5,
        "dataset": { "name": "breast_cancer", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 1e-4, "sigma": 0.5 },
        "certificate": { "epsilon": 1e-3, "delta": 1e-4 },
        "removal": { "requests": 10, "budget_policy": "never" },
        "audit": { "attacks": ["loss"], "bootstrap": { "reps": 20, "level": 0.95, "seed": 0 },
                   "roc_points": 0 }
    });
    let dir = TempDir::new("audit-past-budget");
    let doc = read(&run_config(&dir, &cfg, "audit.json"));
    let run = &doc["runs"][0];
    assert_eq!(run["summary"]["certified_final"], false);
    let entries = run["audit"]["results"].as_array().unwrap();
    let unlearned: Vec<_> = entries
        .iter()
        .filter(|e| e["model"] == "unlearned" && e["members"] == "forget_vs_test")
        .collect();
    assert!(!unlearned.is_empty());
    for e in unlearned {
        let c = &e["certificate"];
        assert_eq!(c["kind"], "none", "{c}");
        assert!(c["epsilon"].is_null());
        assert!(c["note"].as_str().unwrap().contains("not certified"));
    }
}

//! The shipped quickstart config validates and runs, producing every field of DESIGN §6.

mod common;

use common::{TempDir, read, repo_root};
use lethe_experiments::sweep::{RunOptions, run_experiment, validate};
use serde_json::Value;

fn has(v: &Value, path: &str) -> bool {
    path.split('.').try_fold(v, |cur, k| cur.get(k)).is_some()
}

#[test]
fn quickstart_runs_and_produces_every_required_field() {
    let config = repo_root().join("experiments/quickstart.json");
    validate(&config, None).unwrap();
    let dir = TempDir::new("quickstart");
    let summary = run_experiment(
        &config,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(dir.path())
        },
    )
    .unwrap();
    assert_eq!((summary.points_done, summary.points_total), (1, 1));
    let doc = read(&dir.join("quickstart.json"));
    for field in [
        "schema",
        "name",
        "lethe_version",
        "git_commit",
        "config",
        "config.seed",
        "config.dataset.name",
        "config.model.lambda",
        "config.model.sigma",
        "config.certificate.epsilon",
        "config.removal.strategy",
        "runs",
    ] {
        assert!(has(&doc, field), "missing {field}");
    }
    assert_eq!(doc["schema"], "lethe.result/1");
    let run = &doc["runs"][0];
    for field in [
        "params",
        "seed",
        "config",
        "provenance.git_commit",
        "provenance.lethe_version",
        "train.seconds",
        "train.iterations",
        "train.residual_norm",
        "train.test_accuracy",
        "summary.requests",
        "summary.supported_removals",
        "summary.retrains",
        "summary.test_accuracy_after",
        "summary.removal_seconds_median",
        "summary.retrain_seconds_median",
        "reference_retrain.seconds",
        "timings.train",
        "timings.removals",
        "timings.reference_retrain",
        "timings.total",
        "audit.results",
        "compare",
    ] {
        assert!(has(run, field), "missing runs[0].{field}");
    }
    let removals = run["removals"].as_array().unwrap();
    assert_eq!(removals.len(), 100);
    for r in removals {
        for field in [
            "request",
            "indices",
            "bound_data_dependent",
            "bound_worst_case",
            "residual_norm",
            "beta",
            "budget",
            "retrained",
            "seconds",
        ] {
            assert!(
                r.get(field).is_some_and(|v| !v.is_null()),
                "missing {field} in {r}"
            );
        }
        // The certificate holds for every released model.
        assert!(r["beta"].as_f64().unwrap() <= r["budget"].as_f64().unwrap());
        assert!(
            r["residual_norm"].as_f64().unwrap() <= r["beta"].as_f64().unwrap() + 1e-12,
            "{r}"
        );
    }
    // The quickstart is tuned so that all 100 removals are supported without retraining.
    assert_eq!(run["summary"]["supported_removals"], 100);
    assert_eq!(run["summary"]["retrains"], 0);
    let acc = run["train"]["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc) && acc > 0.85, "{acc}");
    // The audit attacked the original, unlearned and retrained models.
    let models: Vec<&str> = run["audit"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["model"].as_str().unwrap())
        .collect();
    for m in ["original", "unlearned", "retrained"] {
        assert!(models.contains(&m), "{models:?}");
    }
    assert!(run["compare"].as_array().unwrap().len() >= 2);
}

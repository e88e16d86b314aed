//! Config validation (every problem at once, with JSON paths) and grid expansion.

mod common;

use std::collections::BTreeSet;

use common::{TempDir, config_issues as paths, synthetic_config, write_config};
use lethe_experiments::config::{self, expand, validate_value};
use lethe_experiments::sweep::validate;
use serde_json::json;

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let dir = TempDir::new("validate");
    let cfg = json!({
        "schema": "lethe.experiment/1",
        "name": "bad",
        "seed": -3,
        "colour": "blue",
        "dataset": { "name": "csv", "path": "nowhere/data.csv", "normalise": "unit_norm" },
        "model": { "loss": "hinge", "lambda": 0.0, "sigma": "ten" },
        "certificate": { "epsilon": 1.0, "delta": 1.5 },
        "removal": { "requests": 5, "solver": "magic", "batch_size": 0 },
        "grid": { "model.sigma": [1.0, -2.0], "model.lamda": [1.0] }
    });
    let file = write_config(dir.path(), "bad.json", &cfg);
    let issues = paths(validate(&file, Some(dir.join("data"))).unwrap_err());
    let got: BTreeSet<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "$.seed",
        "$.colour",
        "$.dataset.normalise",
        "$.model.loss",
        "$.model.lambda",
        "$.model.sigma",
        "$.certificate.delta",
        "$.removal.solver",
        "$.removal.batch_size",
        "$.grid[\"model.sigma\"][1]",
        "$.grid[\"model.lamda\"]",
    ] {
        assert!(got.contains(expected), "missing {expected} in {issues:#?}");
    }
    let msg = |p: &str| {
        issues
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(
        msg("$.model.lambda").contains("> 0"),
        "{}",
        msg("$.model.lambda")
    );
    assert!(msg("$.certificate.delta").contains("(0, 1)"));
    assert!(msg("$.colour").contains("unknown field"));
    assert!(
        msg("$.removal.solver").contains("cholesky"),
        "{}",
        msg("$.removal.solver")
    );
}

#[test]
fn missing_data_files_name_the_paths_tried() {
    let dir = TempDir::new("missing");
    let mut cfg = synthetic_config("csvdata");
    cfg["dataset"] = json!({ "name": "csv", "path": "sub/train.csv" });
    let file = write_config(dir.path(), "c.json", &cfg);
    let data_dir = dir.join("data");
    let issues = paths(validate(&file, Some(data_dir.clone())).unwrap_err());
    assert_eq!(issues.len(), 1, "{issues:?}");
    let (path, message) = &issues[0];
    assert_eq!(path, "$.dataset.path");
    assert!(
        message.contains(&data_dir.join("sub/train.csv").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&dir.join("sub/train.csv").display().to_string()),
        "{message}"
    );
    // Once the file exists next to the config, the config is valid.
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/train.csv"),
        "y,a,b\n1,0.1,0.2\n0,0.3,0.1\n1,0.2,0.2\n",
    )
    .unwrap();
    validate(&file, Some(data_dir)).unwrap();
}

#[test]
fn mnist_without_a_data_dir_is_reported() {
    let dir = TempDir::new("mnist");
    let mut cfg = synthetic_config("m");
    cfg["dataset"] = json!({ "name": "mnist", "classes": [3, 8] });
    let file = write_config(dir.path(), "m.json", &cfg);
    let issues = paths(validate(&file, Some(dir.join("nothing-here"))).unwrap_err());
    assert_eq!(issues[0].0, "$.dataset.name");
    assert!(
        issues[0].1.contains("train-images-idx3-ubyte.gz"),
        "{}",
        issues[0].1
    );
}

#[test]
fn cross_field_problems_point_at_the_grid_entry() {
    let mut cfg = synthetic_config("x");
    cfg["grid"] = json!({ "dataset.name": ["synthetic", "csv"], "model.sigma": [1.0, -1.0] });
    let dir = TempDir::new("cross");
    let file = write_config(dir.path(), "x.json", &cfg);
    let issues = paths(config::load(&file).unwrap_err());
    assert!(
        issues.iter().any(|(p, m)| p == "$.dataset.path"
            && m.contains("needs `path`")
            && m.contains("grid point 2 (dataset.name=\"csv\"")),
        "{issues:#?}"
    );
    // A bad grid value points at the grid entry itself.
    assert!(
        issues
            .iter()
            .any(|(p, _)| p == "$.grid[\"model.sigma\"][1]"),
        "{issues:#?}"
    );
}

#[test]
fn invalid_json_is_one_issue_with_position() {
    let dir = TempDir::new("json");
    let file = dir.join("broken.json");
    std::fs::write(&file, "{ \"schema\": ").unwrap();
    let issues = paths(config::load(&file).unwrap_err());
    assert_eq!(issues.len(), 1);
    assert!(issues[0].1.contains("line 1"), "{}", issues[0].1);
}

#[test]
fn a_grid_may_provide_required_fields() {
    let mut cfg = synthetic_config("g");
    cfg["model"].as_object_mut().unwrap().remove("lambda");
    cfg["grid"] = json!({ "model.lambda": [0.1, 0.2] });
    assert!(
        validate_value(&cfg).is_empty(),
        "{:?}",
        validate_value(&cfg)
    );
    let dir = TempDir::new("provide");
    let file = write_config(dir.path(), "g.json", &cfg);
    let loaded = config::load(&file).unwrap();
    assert_eq!(loaded.points.len(), 2);
    let v = loaded.resolved_value().unwrap();
    assert!(v["model"].get("lambda").is_none());
    assert_eq!(v["grid"]["model.lambda"], json!([0.1, 0.2]));
}

#[test]
fn grid_expansion_is_a_cartesian_product_with_the_last_key_fastest() {
    let mut cfg = synthetic_config("grid");
    cfg["grid"] = json!({ "model.sigma": [1.0, 2.0, 3.0], "model.lambda": [0.1, 0.2] });
    let points = expand(&cfg);
    assert_eq!(points.len(), 6);
    let pairs: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            (
                p.params["model.lambda"].as_f64().unwrap(),
                p.params["model.sigma"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            (0.1, 1.0),
            (0.1, 2.0),
            (0.1, 3.0),
            (0.2, 1.0),
            (0.2, 2.0),
            (0.2, 3.0)
        ]
    );
    assert!(points.iter().enumerate().all(|(i, p)| p.index == i));
    assert_eq!(
        points[4].sources["model.sigma"],
        "$.grid[\"model.sigma\"][1]"
    );

    // The overrides reach the resolved point configs.
    let dir = TempDir::new("grid");
    let file = write_config(dir.path(), "grid.json", &cfg);
    let loaded = config::load(&file).unwrap();
    let c = loaded.point_config(&loaded.points[5]).unwrap();
    assert_eq!((c.model.lambda, c.model.sigma), (0.2, 3.0));
    // Defaults are explicit in the resolved config.
    assert_eq!(c.dataset.test_fraction, Some(0.2));
    assert_eq!(c.dataset.split_seed, Some(1));
}

#[test]
fn variants_multiply_the_grid_and_change_values_together() {
    let mut cfg = synthetic_config("v");
    cfg["variants"] = json!([
        { "removal.batch_size": 1, "removal.requests": 10 },
        { "removal.batch_size": 5, "removal.requests": 2 }
    ]);
    cfg["grid"] = json!({ "model.sigma": [1.0, 2.0] });
    let points = expand(&cfg);
    assert_eq!(points.len(), 4);
    assert_eq!(points[0].params["removal.batch_size"], json!(1));
    assert_eq!(points[1].params["model.sigma"], json!(2.0));
    assert_eq!(points[2].params["removal.requests"], json!(2));
    assert_eq!(
        points[2].sources["removal.requests"],
        "$.variants[1][\"removal.requests\"]"
    );
    assert!(validate_value(&cfg).is_empty());

    cfg["variants"][0]["model.sigma"] = json!(3.0);
    let issues = validate_value(&cfg);
    assert!(
        issues
            .iter()
            .any(|i| i.message.contains("both the grid and a variant")),
        "{issues:?}"
    );
}

#[test]
fn strategy_and_order_accept_names_and_objects() {
    let mut cfg = synthetic_config("s");
    cfg["removal"]["strategy"] = json!({ "strategy": "sisa", "shards": 3 });
    cfg["removal"]["order"] = json!({ "order": "targeted", "target_class": 1 });
    assert!(
        validate_value(&cfg).is_empty(),
        "{:?}",
        validate_value(&cfg)
    );
    cfg["removal"]["strategy"] = json!("teleport");
    cfg["removal"]["order"] = json!({ "order": "random", "colour": 1 });
    let issues = validate_value(&cfg);
    let got: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert!(got.contains(&"$.removal.strategy"), "{issues:?}");
    assert!(got.contains(&"$.removal.order"), "{issues:?}");
}

#[test]
fn an_explicit_noise_vector_needs_the_newton_strategy() {
    let mut cfg = synthetic_config("nv");
    cfg["model"]["noise_vector"] = json!([0.1, 0.2, 0.3, 0.4, 0.5]);
    assert!(config::cross_check(&cfg).is_empty());
    cfg["removal"]["strategy"] = json!("influence");
    let issues = config::cross_check(&cfg);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "$.model.noise_vector");
}

#[test]
fn a_ledger_needs_newton_and_a_noise_key_excludes_an_explicit_b() {
    let mut cfg = synthetic_config("ledger");
    cfg["removal"]["ledger"] = json!(true);
    cfg["model"]["noise_key"] = json!("key.hex");
    assert!(
        validate_value(&cfg).is_empty(),
        "{:?}",
        validate_value(&cfg)
    );
    assert!(config::cross_check(&cfg).is_empty());
    cfg["removal"]["strategy"] = json!({ "strategy": "sisa", "shards": 2 });
    let got: BTreeSet<String> = config::cross_check(&cfg)
        .into_iter()
        .map(|i| i.path)
        .collect();
    assert!(got.contains("$.removal.ledger"), "{got:?}");
    assert!(got.contains("$.model.noise_key"), "{got:?}");
    let mut cfg = synthetic_config("ledger");
    cfg["model"]["noise_key"] = json!("key.hex");
    cfg["model"]["noise_vector"] = json!([0.1, 0.2, 0.3, 0.4, 0.5]);
    let issues = config::cross_check(&cfg);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "$.model.noise_key");
    cfg["removal"]["ledger"] = json!("yes");
    cfg["model"]["noise_key"] = json!(3);
    let got: BTreeSet<String> = validate_value(&cfg).into_iter().map(|i| i.path).collect();
    assert!(
        got.contains("$.removal.ledger") && got.contains("$.model.noise_key"),
        "{got:?}"
    );
}

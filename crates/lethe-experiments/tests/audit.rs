//! The membership-inference audit: LiRA and RMIA in `audit.attacks` validate (with JSON paths
//! for bad values), run on bundled data for every strategy (SISA as its ensemble) and write
//! entries with their reference models, seeds and the empirical ε next to the certified ε.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{TempDir, config_issues as issues, read, run_config, write_config};
use lethe_experiments::report::{ReportOptions, write_report};
use lethe_experiments::sweep::validate;
use serde_json::{Value, json};

/// Breast cancer (bundled, 569 × 30), tiny λ, every strategy, a threshold attack, online and
/// offline LiRA and online RMIA with few reference models (fast).
fn audit_config() -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": "audit-small",
        "seed": 5,
        "dataset": { "name": "breast_cancer", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 1e-4, "sigma": 0.5 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "requests": 30, "budget_policy": "never" },
        "audit": {
            "attacks": [
                "loss",
                { "attack": "lira", "n_reference": 8, "online": true, "variance": "global" },
                { "attack": "lira", "n_reference": 8, "online": false,
                  "scoring": "one_sided_likelihood_ratio", "seed": 11 },
                { "attack": "rmia", "n_reference": 8 }
            ],
            "bootstrap": { "reps": 100, "level": 0.95, "seed": 0 },
            "roc_points": 0
        },
        "grid": { "removal.strategy": [
            "newton", "influence", { "strategy": "sisa", "shards": 3 }, "retrain", "projective"
        ] }
    })
}

/// The Markdown report of one result file, written to `dir/REPORT.md`.
fn report(result: PathBuf, dir: &Path) -> String {
    let md_path = dir.join("REPORT.md");
    write_report(&ReportOptions {
        results: vec![result],
        out: md_path.clone(),
        plots: dir.join("plots"),
    })
    .unwrap();
    std::fs::read_to_string(&md_path).unwrap()
}

#[test]
fn lira_and_rmia_configs_validate_and_bad_values_name_their_path() {
    let dir = TempDir::new("audit-validate");
    let good = write_config(dir.path(), "good.json", &audit_config());
    validate(&good, None).unwrap();

    let mut bad = audit_config();
    bad["audit"]["attacks"] = json!([
        "loss",
        { "attack": "lira", "n_reference": 7 },
        { "attack": "lira", "online": true, "scoring": "one_sided_likelihood_ratio",
          "n_reference": 4 },
        { "attack": "lira", "shadows": 8 },
        { "attack": "rmia", "gamma": 0.5, "offline_a": 1.5 },
        { "attack": "shokri" },
        { "attack": "lira", "training": { "tolerance": 0.0 } },
        42,
        "perplexity",
        { "attack": "rmia", "offline_a": "tuned" }
    ]);
    bad["audit"]["epsilon_confidence"] = json!(1.0);
    bad["audit"]["reference_rows"] = json!("double_pool");
    bad["audit"]["rmia_population"] = json!(true);
    bad["audit"]["max_members"] = json!(0);
    let file = write_config(dir.path(), "bad.json", &bad);
    let found = issues(validate(&file, None).unwrap_err());
    let paths: BTreeSet<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "$.audit.attacks[1].n_reference",
        "$.audit.attacks[2].scoring",
        "$.audit.attacks[3].shadows",
        "$.audit.attacks[4].gamma",
        "$.audit.attacks[4].offline_a",
        "$.audit.attacks[5].attack",
        "$.audit.attacks[6].training.tolerance",
        "$.audit.attacks[7]",
        "$.audit.attacks[8]",
        "$.audit.attacks[9].offline_a",
        "$.audit.epsilon_confidence",
        "$.audit.reference_rows",
        "$.audit.rmia_population",
        "$.audit.max_members",
    ] {
        assert!(paths.contains(expected), "missing {expected} in {found:#?}");
    }
    assert!(
        !paths.iter().any(|p| p.starts_with("$.audit.attacks[0]")),
        "{found:#?}"
    );
    let msg = |p: &str| &found.iter().find(|(q, _)| q == p).unwrap().1;
    assert!(msg("$.audit.attacks[1].n_reference").contains("even"));
    assert!(msg("$.audit.attacks[2].scoring").contains("offline"));
    assert!(msg("$.audit.attacks[9].offline_a").contains("\"tune\""));
    assert!(
        msg("$.audit.reference_rows").contains("half_pool"),
        "{found:#?}"
    );

    // the reference-model options validate
    let mut good = audit_config();
    good["audit"]["reference_rows"] = json!("half_pool");
    good["audit"]["rmia_population"] = json!("reference_population");
    good["audit"]["max_members"] = json!(20);
    good["audit"]["attacks"][3]["offline_a"] = json!("tune");
    validate(&write_config(dir.path(), "good2.json", &good), None).unwrap();
}

#[test]
fn the_audit_attacks_every_strategy_with_lira_and_rmia_and_reports_epsilon() {
    let dir = TempDir::new("audit-run");
    let result = run_config(&dir, &audit_config(), "audit.json");
    let out = dir.join("results");
    let doc = read(&result);
    assert_eq!(doc["points_done"], 5);
    // the resolved config makes the reference seeds and the ε settings explicit
    let attacks = &doc["runs"][0]["config"]["audit"]["attacks"];
    assert_eq!(attacks[0], "loss");
    assert_eq!(attacks[1]["seed"], 5, "default: the experiment seed");
    assert_eq!(attacks[2]["seed"], 11);
    assert_eq!(doc["runs"][0]["config"]["audit"]["epsilon_delta"], 1e-4);

    for run in doc["runs"].as_array().unwrap() {
        let strategy = run["train"]["strategy"].as_str().unwrap();
        let audit = &run["audit"];
        assert!(
            audit["skipped"].is_null(),
            "{strategy}: {}",
            audit["skipped"]
        );
        let k = audit["n_members"].as_u64().unwrap();
        assert_eq!(k, 30);
        // 569 rows: 398 training, 171 test; 60 evaluated rows, every other row is population
        assert_eq!(
            audit["population"]["forget_vs_test"],
            569 - 60,
            "{strategy}"
        );
        assert_eq!(audit["epsilon_confidence"], 0.95);
        assert_eq!(audit["epsilon_comparable"], true);
        let results = audit["results"].as_array().unwrap();
        let mut models = BTreeSet::new();
        for e in results {
            let model = e["model"].as_str().unwrap();
            models.insert(model);
            let a = &e["attack"];
            let name = a["attack"].as_str().unwrap();
            assert!(["loss_threshold", "lira", "rmia"].contains(&name), "{name}");
            if name != "loss_threshold" {
                assert_eq!(a["n_reference"], 8, "{e}");
                assert!(a["online"].is_boolean());
                assert!(a["seed"].is_u64());
                assert!(a["variant"].as_str().unwrap().contains("line"));
                let r = &a["reference"];
                assert_eq!(r["n_reference"], 8);
                assert!(r["pool_size"].as_u64().unwrap() > 0);
                assert_eq!(a["parameters"]["population"]["rows"], 569 - 60);
            }
            // SISA's own models are attacked as 3-member vote ensembles, and so are their
            // reference models; the single-model reference retrain is not
            let ensemble = strategy == "sisa" && model != "retrained";
            assert_eq!(a["ensemble"].is_object(), ensemble, "{strategy} {model}");
            if ensemble {
                assert_eq!(a["ensemble"]["members"], 3);
                assert_eq!(a["target"], "binary_ensemble");
                if name != "loss_threshold" {
                    assert_eq!(a["reference"]["members"], 3);
                    assert_eq!(a["reference"]["aggregation"], "vote");
                }
            }
            let m = &e["metrics"];
            assert_eq!(m["n_members"].as_u64(), Some(k));
            let auc = m["auc"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&auc));
            if e["members"] == "forget_vs_test" {
                let b = &e["empirical_epsilon"]["bound"];
                assert_eq!(b["confidence"], 0.95);
                assert_eq!(b["delta"], 1e-4);
                let eps = b["epsilon_lower_bound"].as_f64().unwrap();
                assert!(eps >= 0.0 && eps.is_finite(), "{eps}");
                // every trial is counted once: the evaluation half of 30 + 30 rows
                let counted: u64 = ["tp", "fn", "fp", "tn"]
                    .iter()
                    .map(|c| b[*c].as_u64().unwrap())
                    .sum();
                assert_eq!(counted, 30, "{b}");
                let c = &e["certificate"];
                let kind = c["kind"].as_str().unwrap();
                let expected = match (model, strategy) {
                    ("original", _) => "not_a_removal",
                    ("retrained" | "retrained_ensemble", _) => "reference",
                    // A finite certified ε only when the released model is certified.
                    ("unlearned", "newton") if run["summary"]["certified_final"] == true => {
                        "certified"
                    }
                    ("unlearned", "sisa" | "retrain") => "exact",
                    ("unlearned", _) => "none",
                    other => panic!("unexpected model {other:?}"),
                };
                assert_eq!(kind, expected, "{strategy} {model}");
                match kind {
                    "certified" => {
                        let ce = c["epsilon"].as_f64().unwrap();
                        assert_eq!(Some(ce), run["summary"]["epsilon_spent_final"].as_f64());
                        assert_eq!(c["delta"], 1e-4);
                        // one model's rows are no trials of a certificate with ε > 0
                        assert!(e.get("exceeds_certified").is_none(), "{e}");
                    }
                    "exact" | "reference" => {
                        assert_eq!(c["epsilon"], 0.0);
                        assert_eq!(e["exceeds_certified"], json!(eps > 0.0));
                    }
                    _ => {
                        assert!(c["epsilon"].is_null());
                        assert!(e.get("exceeds_certified").is_none());
                    }
                }
            } else {
                assert_eq!(e["members"], "retained_vs_test");
                assert_eq!(model, "unlearned");
                assert!(e.get("empirical_epsilon").is_none());
            }
        }
        let mut expected: BTreeSet<&str> = ["original", "unlearned", "retrained"].into();
        if strategy == "sisa" {
            expected.insert("retrained_ensemble");
        }
        assert_eq!(models, expected, "{strategy}");
        // 4 attacks on every model for the forget set, plus the control on the unlearned one
        assert_eq!(results.len(), 4 * (expected.len() + 1), "{strategy}");
        // LiRA online and RMIA share one reference set per evaluation, model class and
        // training-set size: the original model (398 rows) has its own, online and offline
        let classes = if strategy == "sisa" { 2 } else { 1 };
        assert_eq!(
            audit["reference_sets"].as_u64(),
            Some(2 * (classes + 1) + 2),
            "{strategy}"
        );
        // RMIA's population points are test rows outside the evaluated non-members
        let scores_file = out.join(audit["scores"].as_str().unwrap());
        let nonmembers: BTreeSet<u64> = std::fs::read_to_string(&scores_file)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[4] == "test")
            .map(|f| f[3].parse().unwrap())
            .collect();
        assert_eq!(nonmembers.len(), 30, "{strategy}");
        let warnings: Vec<&str> = audit["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        for e in results
            .iter()
            .filter(|e| e["attack"]["attack"] != "loss_threshold")
        {
            let a = &e["attack"];
            let r = &a["reference"];
            // reference models sized like the attacked model (398 rows before removal)
            let rows = if e["model"] == "original" {
                398
            } else {
                398 - 30
            };
            assert_eq!(r["requested_training_size"], rows, "{e}");
            let smallest = r["min_training_size"].as_u64().unwrap();
            if smallest < rows {
                let short = r["shortfall"].as_str().unwrap();
                assert!(warnings.iter().any(|w| w.ends_with(short)), "{warnings:?}");
            } else {
                assert!(r.get("shortfall").is_none(), "{r}");
            }
            if a["attack"] == "rmia" {
                let z = &a["parameters"]["population_points"];
                assert_eq!(z["disjoint_from_training_rows"], true, "{z}");
                assert_eq!(z["training_rows"], json!([]));
                let test_rows = z["test_rows"].as_array().unwrap();
                assert_eq!(z["rows"].as_u64(), Some(test_rows.len() as u64));
                // 171 test rows, 30 of them non-members: 141 candidates
                assert_eq!(z["candidates"], 171 - 30);
                assert_eq!(test_rows.len(), 141);
                for t in test_rows {
                    let t = t.as_u64().unwrap();
                    assert!(t < 171 && !nonmembers.contains(&t), "{t}");
                }
            }
        }
        // the original's offline reference models cannot get 398 of the 509 population rows
        assert!(
            warnings.iter().any(|w| w.contains("398 requested")),
            "{warnings:?}"
        );
        let violations = results
            .iter()
            .filter(|e| e["exceeds_certified"] == true)
            .count();
        assert_eq!(audit["exceeds_certified"].as_u64(), Some(violations as u64));
    }

    // the report puts the audit side by side with both ε
    let md = report(result, &out);
    assert!(md.contains("Forget set vs test set, side by side"), "{md}");
    // and repeats what weakens it
    assert!(md.contains("Weaker than configured"), "{md}");
    assert!(md.contains("398 requested"), "{md}");
    assert!(md.contains("certified ε (unlearned)"));
    assert!(md.contains("confidence 95.0 %, δ = 1e-4"));
    assert!(md.contains("lira (online, global variance, density; K = 8, seed 5)"));
    assert!(md.contains("3-member vote ensemble"));
    assert!(md.contains("0 (exact)"));
}

#[test]
fn a_bound_above_the_certificate_is_flagged_loudly_in_the_report() {
    // A hand-made result whose unlearned model "leaks" more than its certificate allows.
    let dir = TempDir::new("audit-flag");
    let entry = |model: &str, kind: &str, cert: Value, eps: f64, exceeds: Option<bool>| {
        let mut e = json!({
            "model": model, "members": "forget_vs_test",
            "attack": { "attack": "lira", "variant": "online, per-example variance, density",
                        "statistic": "logit_confidence", "paper": "", "target": "binary",
                        "n_reference": 64, "online": true, "seed": 0, "parameters": {} },
            "metrics": { "auc": 0.9, "auc_ci": { "lower": 0.85, "upper": 0.95 },
                         "tpr_at_1pct_fpr": 0.4,
                         "tpr_at_1pct_fpr_ci": { "lower": 0.3, "upper": 0.5 },
                         "advantage": 0.7, "leak": "above_chance" },
            "empirical_epsilon": { "bound": { "epsilon_lower_bound": eps,
                                              "confidence": 0.95, "delta": 1e-4 } },
            "certificate": { "kind": kind, "epsilon": cert, "delta": 1e-4, "note": "" }
        });
        if let Some(x) = exceeds {
            e["exceeds_certified"] = json!(x);
        }
        e
    };
    let doc = json!({
        "schema": "lethe.result/1", "name": "flagged", "lethe_version": "0", "git_commit": "x",
        "seed": 0, "points_done": 1, "points_total": 1, "complete": true,
        "runs": [{ "index": 0, "params": {}, "audit": {
            "n_members": 100, "n_nonmembers": 100, "skipped": null,
            "epsilon_confidence": 0.95, "epsilon_delta": 1e-4, "epsilon_comparable": true,
            "exceeds_certified": 1,
            "results": [
                entry("unlearned", "certified", json!(0.5), 2.1, Some(true)),
                entry("retrained", "reference", json!(0.0), 0.0, Some(false))
            ] } }]
    });
    let path = dir.join("flagged.json");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let md = report(path, dir.path());
    assert!(
        md.contains("WARNING: 1 empirical ε lower bound(s) exceed the certified ε"),
        "{md}"
    );
    assert!(
        md.contains("ε ≥ 2.1 but certified ε = 0.5 (δ = 1e-4)"),
        "{md}"
    );
    assert!(md.contains("**2.1 ⚠ > certified ε**"));
    assert!(!md.contains("No empirical ε lower bound exceeds"));
}

/// AUC and sum of per-example scores of every entry of [`half_pool_config`], computed by lethe
/// at 67f0530, before `audit.reference_rows` and `audit.rmia_population` existed: (strategy,
/// evaluation, model, attack label, AUC, score sum).
const BEFORE_REFERENCE_ROWS: [(&str, &str, &str, &str, f64, f64); 36] = [
    (
        "newton",
        "forget_vs_test",
        "original",
        "lira_online",
        0.31,
        12.510292500074797,
    ),
    (
        "newton",
        "forget_vs_test",
        "original",
        "lira_offline",
        0.4,
        1.487609074985589,
    ),
    (
        "newton",
        "forget_vs_test",
        "original",
        "rmia_online",
        0.4061111111111111,
        29.188605108055008,
    ),
    (
        "newton",
        "forget_vs_test",
        "original",
        "rmia_offline",
        0.4122222222222222,
        32.11001964636542,
    ),
    (
        "newton",
        "forget_vs_test",
        "unlearned",
        "lira_online",
        0.3088888888888889,
        12.781378448381481,
    ),
    (
        "newton",
        "forget_vs_test",
        "unlearned",
        "lira_offline",
        0.4022222222222222,
        1.6762508051683411,
    ),
    (
        "newton",
        "forget_vs_test",
        "unlearned",
        "rmia_online",
        0.3977777777777778,
        28.913555992141443,
    ),
    (
        "newton",
        "forget_vs_test",
        "unlearned",
        "rmia_offline",
        0.4122222222222222,
        32.02554027504912,
    ),
    (
        "newton",
        "forget_vs_test",
        "retrained",
        "lira_online",
        0.42333333333333334,
        3.824932182440096,
    ),
    (
        "newton",
        "forget_vs_test",
        "retrained",
        "lira_offline",
        0.40444444444444444,
        -28.162507840593378,
    ),
    (
        "newton",
        "forget_vs_test",
        "retrained",
        "rmia_online",
        0.4177777777777778,
        33.19056974459725,
    ),
    (
        "newton",
        "forget_vs_test",
        "retrained",
        "rmia_offline",
        0.43444444444444447,
        33.67976424361494,
    ),
    (
        "newton",
        "retained_vs_test",
        "unlearned",
        "lira_online",
        0.4411111111111111,
        7.691284915450896,
    ),
    (
        "newton",
        "retained_vs_test",
        "unlearned",
        "lira_offline",
        0.5166666666666667,
        4.476552663504315,
    ),
    (
        "newton",
        "retained_vs_test",
        "unlearned",
        "rmia_online",
        0.5316666666666666,
        33.280943025540275,
    ),
    (
        "newton",
        "retained_vs_test",
        "unlearned",
        "rmia_offline",
        0.5011111111111111,
        34.98035363457759,
    ),
    (
        "sisa",
        "forget_vs_test",
        "original",
        "lira_online",
        0.5166666666666667,
        -4.847383535414319,
    ),
    (
        "sisa",
        "forget_vs_test",
        "original",
        "lira_offline",
        0.5155555555555555,
        14.58889934079929,
    ),
    (
        "sisa",
        "forget_vs_test",
        "original",
        "rmia_online",
        0.45666666666666667,
        39.648330058939095,
    ),
    (
        "sisa",
        "forget_vs_test",
        "original",
        "rmia_offline",
        0.4811111111111111,
        39.09823182711201,
    ),
    (
        "sisa",
        "forget_vs_test",
        "unlearned",
        "lira_online",
        0.4888888888888889,
        -2.484699094260952,
    ),
    (
        "sisa",
        "forget_vs_test",
        "unlearned",
        "lira_offline",
        0.48777777777777775,
        15.538118612946974,
    ),
    (
        "sisa",
        "forget_vs_test",
        "unlearned",
        "rmia_online",
        0.42444444444444446,
        40.97445972495088,
    ),
    (
        "sisa",
        "forget_vs_test",
        "unlearned",
        "rmia_offline",
        0.4661111111111111,
        40.11787819253434,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained",
        "lira_online",
        0.42333333333333334,
        3.824944889744737,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained",
        "lira_offline",
        0.40444444444444444,
        -28.1625080841463,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained",
        "rmia_online",
        0.4177777777777778,
        33.19056974459725,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained",
        "rmia_offline",
        0.43444444444444447,
        33.67976424361494,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained_ensemble",
        "lira_online",
        0.49444444444444446,
        5.389034599702188,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained_ensemble",
        "lira_offline",
        0.4633333333333333,
        17.055999279692973,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained_ensemble",
        "rmia_online",
        0.4038888888888889,
        40.45383104125737,
    ),
    (
        "sisa",
        "forget_vs_test",
        "retrained_ensemble",
        "rmia_offline",
        0.4461111111111111,
        40.874263261296655,
    ),
    (
        "sisa",
        "retained_vs_test",
        "unlearned",
        "lira_online",
        0.5488888888888889,
        3.6412406604220253,
    ),
    (
        "sisa",
        "retained_vs_test",
        "unlearned",
        "lira_offline",
        0.4716666666666667,
        10.318180104714482,
    ),
    (
        "sisa",
        "retained_vs_test",
        "unlearned",
        "rmia_online",
        0.4444444444444444,
        41.66797642436148,
    ),
    (
        "sisa",
        "retained_vs_test",
        "unlearned",
        "rmia_offline",
        0.48333333333333334,
        42.392927308447945,
    ),
];

/// Breast cancer, newton and a 3-shard SISA, LiRA and RMIA online and offline, with the
/// options that restore the previous design.
fn half_pool_config() -> Value {
    let mut c = audit_config();
    c["name"] = json!("half-pool");
    c["audit"]["attacks"] = json!([
        { "attack": "lira", "n_reference": 8, "online": true, "variance": "global" },
        { "attack": "lira", "n_reference": 8, "online": false,
          "scoring": "one_sided_likelihood_ratio", "seed": 11 },
        { "attack": "rmia", "n_reference": 8 },
        { "attack": "rmia", "n_reference": 8, "online": false }
    ]);
    c["audit"]["reference_rows"] = json!("half_pool");
    c["audit"]["rmia_population"] = json!("reference_population");
    c["grid"] = json!({ "removal.strategy": ["newton", { "strategy": "sisa", "shards": 3 }] });
    c
}

#[test]
fn half_pool_and_the_reference_population_reproduce_the_previous_numbers() {
    let dir = TempDir::new("audit-half-pool");
    let result = run_config(&dir, &half_pool_config(), "half-pool.json");
    let doc = read(&result);
    let mut seen = 0;
    for run in doc["runs"].as_array().unwrap() {
        let strategy = run["train"]["strategy"].as_str().unwrap();
        let audit = &run["audit"];
        assert_eq!(audit["warnings"], json!([]), "{strategy}");
        let text =
            std::fs::read_to_string(dir.join("results").join(audit["scores"].as_str().unwrap()))
                .unwrap();
        for e in audit["results"].as_array().unwrap() {
            let key = (
                e["members"].as_str().unwrap(),
                e["model"].as_str().unwrap(),
                e["attack_label"].as_str().unwrap(),
            );
            let &(.., auc, sum) = BEFORE_REFERENCE_ROWS
                .iter()
                .find(|c| (c.0, c.1, c.2, c.3) == (strategy, key.0, key.1, key.2))
                .unwrap_or_else(|| panic!("{strategy} {key:?}"));
            assert_eq!(
                e["metrics"]["auc"].as_f64(),
                Some(auc),
                "{strategy} {key:?}"
            );
            let found: f64 = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').collect::<Vec<_>>())
                .filter(|f| (f[0], f[1], f[2]) == key)
                .map(|f| f[6].parse::<f64>().unwrap())
                .sum();
            assert!(
                (found - sum).abs() <= 1e-9 * sum.abs().max(1.0),
                "{strategy} {key:?}: {found} vs {sum}"
            );
            let r = &e["attack"]["reference"];
            assert!(r.get("requested_training_size").is_none(), "{r}");
            if e["attack"]["attack"] == "rmia" {
                let z = &e["attack"]["parameters"]["population_points"];
                assert_eq!(z["disjoint_from_training_rows"], false, "{z}");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, BEFORE_REFERENCE_ROWS.len());
}

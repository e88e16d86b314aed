//! Certificates that never over-claim (issue 14): exact (ε, δ) accounting, the paper's
//! calibration refused where it is invalid, adaptive request orders and pure-ε labels.

mod common;

use common::{TempDir, config_issues, read, run_config, synthetic_config, write_config};
use lethe_experiments::config;
use lethe_experiments::sweep::validate;
use lethe_models::accounting::{gaussian_delta, paper_is_valid};
use serde_json::{Value, json};

fn first_run(result: &Value) -> &Value {
    &result["runs"][0]
}

fn removals(run: &Value) -> &Vec<Value> {
    run["removals"].as_array().unwrap()
}

#[test]
fn the_paper_calibration_is_refused_where_it_is_not_valid() {
    let dir = TempDir::new("paper-invalid");
    let mut cfg = synthetic_config("paper-eps-20");
    cfg["certificate"] = json!({ "epsilon": 20.0, "delta": 1e-4, "accounting": "paper" });
    let issues = config::cross_check(&cfg);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "$.certificate.epsilon");
    assert!(
        issues[0].message.contains("analytic"),
        "{}",
        issues[0].message
    );
    // `validate` reports it too, and so does a grid that makes ε invalid at one point.
    let file = write_config(dir.path(), "p.json", &cfg);
    let got = config_issues(validate(&file, None).unwrap_err());
    assert!(
        got.iter().any(|(p, _)| p == "$.certificate.epsilon"),
        "{got:?}"
    );
    // At ε = 1 the paper's calibration is valid and accepted.
    cfg["certificate"]["epsilon"] = json!(1.0);
    assert!(config::cross_check(&cfg).is_empty());
}

#[test]
fn every_certified_epsilon_is_a_valid_statement_under_the_exact_profile() {
    // ε = 20 with the default (analytic) accounting: accepted, and every reported ε spent
    // satisfies δ(ε; β/σ) ≤ δ exactly. At ε = 20 the paper's σε/c over-claims, so the exact
    // budget is *smaller* than it.
    let dir = TempDir::new("analytic-20");
    let mut cfg = synthetic_config("analytic-eps-20");
    cfg["certificate"] = json!({ "epsilon": 20.0, "delta": 1e-4 });
    cfg["removal"]["requests"] = json!(6);
    let result = read(&run_config(&dir, &cfg, "a.json"));
    let run = first_run(&result);
    assert_eq!(run["config"]["certificate"]["accounting"], "analytic");
    let sigma = run["config"]["model"]["sigma"].as_f64().unwrap();
    let c = lethe_models::gaussian_c(1e-4);
    for r in removals(run) {
        let budget = r["budget"].as_f64().unwrap();
        assert!(
            budget < sigma * 20.0 / c,
            "the exact budget is below the paper's at ε = 20"
        );
        assert!(gaussian_delta(20.0, budget / sigma) <= 1e-4);
        let beta = r["beta"].as_f64().unwrap();
        if r["certified"] == json!(true) {
            let spent = r["epsilon_spent"].as_f64().unwrap();
            assert!(spent <= 20.0);
            assert!(gaussian_delta(spent, beta / sigma) <= 1e-4);
        }
    }
    assert!(!paper_is_valid(20.0, 1e-4));
}

#[test]
fn paper_accounting_never_reports_an_invalid_epsilon() {
    // Budget policy `never` with a tiny σ: β grows far past the budget. The paper's formula
    // β·c/σ would report ε in the hundreds; lethe records null there and the exact ε beside it.
    let dir = TempDir::new("paper-never");
    let mut cfg = synthetic_config("paper-never");
    cfg["model"]["sigma"] = json!(0.01);
    cfg["certificate"] = json!({ "epsilon": 1.0, "delta": 1e-4, "accounting": "paper" });
    cfg["removal"]["budget_policy"] = json!("never");
    cfg["removal"]["requests"] = json!(10);
    let result = read(&run_config(&dir, &cfg, "p.json"));
    let run = first_run(&result);
    let c = lethe_models::gaussian_c(1e-4);
    let mut saw_invalid = false;
    for r in removals(run) {
        let beta = r["beta"].as_f64().unwrap();
        let paper_formula = beta * c / 0.01;
        match r["epsilon_spent"].as_f64() {
            Some(e) => {
                assert!(paper_is_valid(e, 1e-4), "ε = {e} is not a valid statement");
                assert!((e - paper_formula).abs() <= 1e-9 * paper_formula);
            }
            None => {
                assert!(!paper_is_valid(paper_formula, 1e-4));
                saw_invalid = true;
            }
        }
        let exact = r["epsilon_spent_analytic"].as_f64().unwrap();
        assert!(gaussian_delta(exact, beta / 0.01) <= 1e-4);
    }
    assert!(
        saw_invalid,
        "the test needs a β beyond the paper formula's validity"
    );
    let s = &run["summary"];
    assert!(s["epsilon_spent_analytic_final"].as_f64().is_some());
    // The analytic budget is recorded next to the paper's, and supports at least as many.
    assert!(s["budget_analytic"].as_f64().unwrap() > s["budget"].as_f64().unwrap());
    assert!(
        s["supported_removals_analytic"].as_u64().unwrap()
            >= s["supported_removals"].as_u64().unwrap()
    );
}

#[test]
fn analytic_accounting_supports_more_removals_at_epsilon_one() {
    let dir = TempDir::new("more");
    let mut cfg = synthetic_config("more");
    cfg["certificate"] = json!({ "epsilon": 1.0, "delta": 1e-4 });
    cfg["removal"]["budget_policy"] = json!("never");
    cfg["removal"]["requests"] = json!(30);
    cfg["model"]["sigma"] = json!(0.05);
    cfg["grid"] = json!({ "certificate.accounting": ["paper", "analytic"] });
    let result = read(&run_config(&dir, &cfg, "m.json"));
    let runs = result["runs"].as_array().unwrap();
    let supported = |i: usize| runs[i]["summary"]["supported_removals"].as_u64().unwrap();
    let budget = |i: usize| runs[i]["summary"]["budget"].as_f64().unwrap();
    assert!(
        (budget(1) / budget(0) - 1.377).abs() < 0.01,
        "{}",
        budget(1) / budget(0)
    );
    assert!(supported(1) >= supported(0));
    assert_eq!(
        runs[0]["summary"]["supported_removals_analytic"],
        runs[1]["summary"]["supported_removals"]
    );
}

#[test]
fn requests_ranked_by_the_released_model_are_adaptive_and_uncertified() {
    let dir = TempDir::new("adaptive");
    let mut cfg = synthetic_config("adaptive");
    let order = |model: &str| json!({ "order": "informed", "informed_by": "loss", "informed_model": model });
    cfg["grid"] = json!({
        "removal.order": [order("noiseless"), order("independent"), order("released")]
    });
    let result = read(&run_config(&dir, &cfg, "i.json"));
    let runs = result["runs"].as_array().unwrap();
    for run in &runs[..2] {
        assert_eq!(run["train"]["guarantee"]["kind"], "certified");
        assert!(removals(run).iter().all(|r| r["certified"] == json!(true)));
    }
    let adaptive = &runs[2];
    assert_eq!(adaptive["train"]["guarantee"]["kind"], "adaptive");
    for r in removals(adaptive) {
        assert_eq!(r["certified"], json!(false));
        assert!(r["epsilon_spent"].is_null());
        // The bounds are still reported.
        assert!(r["bound_data_dependent"].as_f64().is_some());
    }
    assert!(adaptive["summary"]["epsilon_spent_final"].is_null());
    // The default scoring model is noiseless, so the default run is not adaptive.
    let mut plain = synthetic_config("informed-default");
    plain["removal"]["order"] = json!({ "order": "informed", "informed_by": "gradient" });
    let result = read(&run_config(&dir, &plain, "d.json"));
    assert_eq!(
        first_run(&result)["train"]["guarantee"]["kind"],
        "certified"
    );
}

#[test]
fn exact_strategies_with_adaptive_requests_keep_exactness_only_with_fresh_randomness() {
    // Retraining with the training b after requests chosen from the model trained with that b
    // is not distributed as a retrain independent of the requests: `adaptive`. Retraining with
    // a fresh b is independent of everything released before: still `exact`.
    let dir = TempDir::new("adaptive-exact");
    let mut cfg = synthetic_config("adaptive-exact");
    cfg["removal"]["order"] =
        json!({ "order": "informed", "informed_by": "loss", "informed_model": "released" });
    cfg["grid"] = json!({
        "removal.strategy": [
            { "strategy": "retrain", "noise": "same" },
            { "strategy": "retrain", "noise": "fresh" }
        ]
    });
    let result = read(&run_config(&dir, &cfg, "r.json"));
    let runs = result["runs"].as_array().unwrap();
    assert_eq!(runs[0]["train"]["guarantee"]["kind"], "adaptive");
    assert_eq!(runs[1]["train"]["guarantee"]["kind"], "exact");
}

#[test]
fn gamma_norm_noise_is_labelled_pure_epsilon() {
    let dir = TempDir::new("pure");
    let mut cfg = synthetic_config("pure");
    cfg["model"]["noise"] = json!("gamma_norm");
    cfg["model"]["sigma"] = json!(0.5);
    let result = read(&run_config(&dir, &cfg, "g.json"));
    let run = first_run(&result);
    assert_eq!(run["train"]["guarantee"]["kind"], "certified");
    assert_eq!(run["train"]["guarantee"]["delta"], json!(0.0));
    for r in removals(run) {
        if r["certified"] == json!(true) {
            let beta = r["beta"].as_f64().unwrap();
            let spent = r["epsilon_spent"].as_f64().unwrap();
            assert!((spent - beta / 0.5).abs() <= 1e-12 * spent.max(1e-300));
        }
        assert!(r["epsilon_spent_analytic"].is_null());
    }
}

#[test]
fn without_noise_a_newton_run_claims_no_guarantee() {
    let dir = TempDir::new("sigma0");
    let mut cfg = synthetic_config("sigma0");
    cfg["model"]["sigma"] = json!(0.0);
    let result = read(&run_config(&dir, &cfg, "z.json"));
    let run = first_run(&result);
    assert_eq!(run["train"]["guarantee"]["kind"], "none");
    for r in removals(run) {
        assert_eq!(r["certified"], json!(false));
        assert!(r["epsilon_spent"].is_null());
    }
}

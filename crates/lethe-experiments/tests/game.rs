//! `audit.game`, the certified-removal game: a correct mechanism's ε lower bound stays below
//! its claim over many seeds, and mechanisms that over-claim — too little noise for their
//! certificate, or certificates kept past the budget — are caught.

mod common;

use std::sync::Arc;

use common::{TempDir, config_issues as issues, read, run_config};
use lethe_data::Dataset;
use lethe_data::synthetic::{SyntheticOptions, logistic_planted};
use lethe_experiments::audit::{CertificateKind, Certification};
use lethe_experiments::game::{UnlearnedDraw, play_game};
use lethe_experiments::sweep::validate;
use lethe_mia::game::{GameObservation, GameOptions, GameStatistic};
use lethe_models::loss::softplus;
use lethe_models::{LinearModelParams, Stream};
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, RemovalStrategy};
use serde_json::{Value, json};

/// Breast cancer (bundled), five single-row requests, a certified newton (β ≈ 0.02 against a
/// budget of ≈ 0.31 at σ = 1), exact strategies, and σ = 0, over several seeds.
fn game_config(trials: usize) -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": "game-small",
        "seed": 0,
        "dataset": { "name": "breast_cancer", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 0.01, "sigma": 1.0 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "requests": 5 },
        "audit": {
            "attacks": ["loss"],
            "bootstrap": { "reps": 50 },
            "roc_points": 0,
            "game": { "trials": trials }
        },
        "grid": {
            "seed": [0, 1, 2, 3, 4, 5],
            "removal.strategy": ["newton", "retrain", { "strategy": "sisa", "shards": 3 }]
        }
    })
}

#[test]
fn correct_mechanisms_never_exceed_their_claim_over_seeds() {
    let dir = TempDir::new("game-correct");
    let doc = read(&run_config(&dir, &game_config(300), "game.json"));
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 18);
    for run in runs {
        let game = &run["audit"]["game"];
        let strategy = &run["params"]["removal.strategy"];
        let bound = game["outcome"]["bound"]["epsilon_lower_bound"]
            .as_f64()
            .unwrap();
        assert_eq!(game["trials"], json!(300));
        assert_eq!(game["forget_rows"], json!(5));
        assert_eq!(game["outcome"]["evaluation_draws"], json!([150, 150]));
        let kind = game["certificate"]["kind"].as_str().unwrap();
        if strategy == "newton" {
            assert_eq!(kind, "certified", "{game}");
            assert_eq!(game["certificate"]["epsilon"], json!(1.0));
            assert_eq!(game["certified_draws"], json!(300));
        } else {
            assert_eq!(kind, "exact", "{strategy}: {game}");
        }
        let claimed = game["certificate"]["epsilon"].as_f64().unwrap();
        assert_eq!(game["exceeds_certified"], json!(bound > claimed));
        assert!(
            bound <= claimed,
            "{strategy}, seed {}: bound {bound} > claimed {claimed}",
            run["seed"]
        );
        if strategy.is_object() {
            // SISA's ensemble: only the forget-set loss applies
            assert_eq!(game["statistics"], json!(["forget_loss"]));
        }
    }
}

#[test]
fn the_game_is_deterministic() {
    let mut cfg = game_config(40);
    cfg["grid"] = json!({ "removal.strategy": ["newton", "influence"] });
    let a = read(&run_config(&TempDir::new("game-det-a"), &cfg, "g.json"));
    let b = read(&run_config(&TempDir::new("game-det-b"), &cfg, "g.json"));
    for (x, y) in a["runs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["runs"].as_array().unwrap())
    {
        assert_eq!(x["audit"]["game"]["outcome"], y["audit"]["game"]["outcome"]);
    }
    // influence has no guarantee: a bound, no claim
    let influence = &a["runs"][1]["audit"]["game"];
    assert_eq!(influence["certificate"]["kind"], json!("none"));
    assert!(influence.get("exceeds_certified").is_none());
}

#[test]
fn bad_game_settings_name_their_path() {
    let dir = TempDir::new("game-bad");
    let mut cfg = game_config(3);
    cfg["audit"]["game"]["statistics"] = json!(["forget_loss", "margin"]);
    let path = common::write_config(dir.path(), "bad.json", &cfg);
    let found = issues(validate(&path, None).unwrap_err());
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"$.audit.game.trials"), "{found:?}");
    assert!(paths.contains(&"$.audit.game.statistics"), "{found:?}");
    cfg["audit"]["game"] = json!({ "draws": 10 });
    let path = common::write_config(dir.path(), "bad2.json", &cfg);
    let found = issues(validate(&path, None).unwrap_err());
    assert!(
        found.iter().any(|(p, _)| p == "$.audit.game.draws"),
        "{found:?}"
    );
}

/// Unit-norm rows from a planted logistic model; the first `k` rows are removed one by one.
struct Problem {
    data: Arc<Dataset>,
    requests: Vec<Vec<usize>>,
    active: Vec<bool>,
    lambda: f64,
}

impl Problem {
    fn new(n: usize, d: usize, k: usize, lambda: f64) -> Self {
        let (data, _) = logistic_planted(n, d, 7, &SyntheticOptions { signal: 2.0 }).unwrap();
        let mut active = vec![true; n];
        active[..k].iter_mut().for_each(|a| *a = false);
        Self {
            data: Arc::new(data),
            requests: (0..k).map(|i| vec![i]).collect(),
            active,
            lambda,
        }
    }

    fn observe(&self, w: &[f64]) -> GameObservation {
        let k = self.requests.len();
        let x = self.data.features();
        let y = self.data.labels();
        let loss = (0..k)
            .map(|i| softplus(-y[i] * (0..w.len()).map(|j| x[(i, j)] * w[j]).sum::<f64>()))
            .sum::<f64>()
            / k as f64;
        GameObservation {
            weights: w.to_vec(),
            forget_loss: loss,
        }
    }

    /// Newton removal trained with noise scale `sigma`, every request applied (no budget).
    fn unlearned(&self, sigma: f64, seed: u64) -> UnlearnedDraw {
        let mut p = CertifiedParams::new(LinearModelParams::logistic(self.lambda, sigma));
        p.epsilon = 1.0;
        p.delta = 1e-4;
        p.budget_policy = BudgetPolicy::Never;
        let mut m = CertifiedModel::train(p, Arc::clone(&self.data), seed).unwrap();
        let mut last = None;
        for r in &self.requests {
            last = Some(m.remove(r).unwrap());
        }
        let w = RemovalStrategy::weights(&m).unwrap();
        UnlearnedDraw {
            observation: self.observe(w.as_slice()),
            certified: last.as_ref().map(|c| c.certified),
            retrained: false,
            epsilon_spent: last.and_then(|c| c.epsilon_spent),
        }
    }

    /// Algorithm 1 on the remaining rows with noise scale `sigma`.
    fn retrained(&self, sigma: f64, seed: u64) -> GameObservation {
        let params = LinearModelParams::logistic(self.lambda, sigma);
        let b = params
            .draw_noise(self.data.n_features(), seed, Stream::Other(99))
            .unwrap();
        let m = params
            .fit_parts(
                self.data.features(),
                self.data.labels(),
                Some(&self.active),
                b,
                None,
            )
            .unwrap();
        self.observe(m.weights.as_slice())
    }
}

fn options() -> GameOptions {
    GameOptions {
        delta: 1e-4,
        confidence: 0.95,
        seed: 3,
        statistics: GameStatistic::ALL.to_vec(),
    }
}

/// The false claim a broken mechanism makes: (1, 1e-4)-certified.
fn claims_epsilon_one(_: &[UnlearnedDraw]) -> Certification {
    Certification::new(CertificateKind::Certified, Some(1.0), Some(1e-4), "claimed")
}

#[test]
fn a_mechanism_with_too_little_noise_for_its_claim_is_caught() {
    // Trains with σ/100 but claims the certificate of σ: the released weights are far less
    // spread than retraining's.
    let p = Problem::new(200, 5, 3, 1e-2);
    let (outcome, claim, _) = play_game(
        600,
        |i| Ok(p.unlearned(0.01, 1000 + i as u64)),
        |i| Ok(p.retrained(1.0, 5000 + i as u64)),
        &options(),
        claims_epsilon_one,
    )
    .unwrap();
    let bound = outcome.bound.epsilon_lower_bound;
    assert!(bound > claim.epsilon.unwrap(), "bound {bound}: {outcome:?}");
    // and with the noise it claims, the same mechanism is not caught
    let (honest, _, draws) = play_game(
        600,
        |i| Ok(p.unlearned(1.0, 1000 + i as u64)),
        |i| Ok(p.retrained(1.0, 5000 + i as u64)),
        &options(),
        claims_epsilon_one,
    )
    .unwrap();
    assert!(draws.iter().all(|d| d.certified == Some(true)));
    eprintln!(
        "σ/100 claiming σ's certificate: ε ≥ {bound:.3} ({}); at the claimed σ: ε ≥ {:.3}",
        outcome.statistic.name(),
        honest.bound.epsilon_lower_bound
    );
    assert!(honest.bound.epsilon_lower_bound <= 1.0, "{honest:?}");
}

#[test]
fn certificates_kept_past_the_budget_are_caught_and_the_honest_label_is_none() {
    // σ = 0.02 and 40 removals: β far exceeds the budget, so the Newton approximation's
    // residual is large against the noise. A mechanism that claimed its certificate anyway is
    // caught; the game's own claim labels it uncertified.
    let p = Problem::new(120, 4, 40, 1e-3);
    let sigma = 0.02;
    let (outcome, claim, draws) = play_game(
        600,
        |i| Ok(p.unlearned(sigma, 1000 + i as u64)),
        |i| Ok(p.retrained(sigma, 5000 + i as u64)),
        &options(),
        claims_epsilon_one,
    )
    .unwrap();
    eprintln!(
        "certificate kept past the budget: ε ≥ {:.3} ({})",
        outcome.bound.epsilon_lower_bound,
        outcome.statistic.name()
    );
    assert!(
        outcome.bound.epsilon_lower_bound > claim.epsilon.unwrap(),
        "{outcome:?}"
    );
    assert!(
        draws.iter().all(|d| d.certified == Some(false)),
        "the certificates themselves say uncertified"
    );
}

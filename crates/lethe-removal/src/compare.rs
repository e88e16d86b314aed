//! Comparing removal strategies against retraining on one request sequence.
//!
//! [`compare_strategies`] trains every strategy of a list with the same parameters and seed,
//! serves the same request sequence to each, and measures each final model against two
//! references that retrain from scratch after every request:
//! - **retrain with a fresh b** ([`RetrainNoise::Fresh`]): the distribution certified removal
//!   is compared to (Guo et al.'s definition). ‖w − w_retrain‖ against it mixes the removal
//!   error with the difference between two independent b's.
//! - **retrain with the same b** ([`RetrainNoise::Same`]): the deterministic reference; the
//!   distance to it measures the removal error alone.
//!
//! The metrics (all on the model after the last request):
//! - `weight_distance_*`: ‖w − w_retrain‖₂ per class model (one entry for binary models,
//!   K for one-vs-rest); `None` for ensembles (SISA has no single weight vector);
//! - `test_accuracy`: accuracy on the test set (sign agreement for binary models, arg-max
//!   class for one-vs-rest, the configured vote/average for SISA);
//! - `removed_accuracy`: accuracy on all removed training rows; `removed_accuracy_retrain` is
//!   the fresh-b retrain's; `removed_accuracy_gap_sape` is their symmetric absolute percentage
//!   error (Mahadevan & Mathioudakis's effectiveness/certifiability measure), see [`sape`];
//! - timings: per-request wall-clock seconds as each strategy reports them (a Newton request
//!   that exceeds the budget includes its retraining); `speedup` = median retrain seconds /
//!   median removal seconds, `speedup_total` = total retrain seconds / total removal seconds
//!   (which charges occasional budget retrains). A removal time of 0 gives ∞, which
//!   serde_json writes as `null`.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use serde::{Deserialize, Serialize};

use crate::certified::CertifiedParams;
use crate::error::Result;
use crate::stats::{mean, median};
use crate::strategy::{
    Guarantee, RemovalStrategy, RetrainNoise, StrategySpec, build_strategy, weight_distance,
};

/// The symmetric absolute percentage error |a − b| / ((|a| + |b|) / 2), in [0, 2]; 0 when
/// both are 0 (NaN if either is NaN).
///
/// ```
/// use lethe_removal::sape;
/// assert_eq!(sape(0.0, 0.0), 0.0);
/// assert!((sape(0.9, 1.0) - 0.1 / 0.95).abs() < 1e-15);
/// assert_eq!(sape(1.0, 0.0), 2.0);
/// ```
pub fn sape(a: f64, b: f64) -> f64 {
    let denom = (a.abs() + b.abs()) / 2.0;
    if denom == 0.0 {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            0.0
        }
    } else {
        (a - b).abs() / denom
    }
}

/// How one strategy compares with retraining on one request sequence (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The strategy's name (`newton`, `retrain`, `influence`, `sisa`, `projective`).
    pub strategy: String,
    /// A label telling settings apart (see [`StrategySpec::label`]).
    pub label: String,
    /// The full spec.
    pub spec: StrategySpec,
    /// What the strategy guarantees.
    pub guarantee: Guarantee,
    /// Requests served.
    pub requests: usize,
    /// Rows removed in total.
    pub rows_removed: usize,
    /// Requests on which the strategy retrained something from scratch (every request for
    /// retrain and SISA; budget overruns for newton).
    pub retrains: usize,
    /// Seconds of the initial training (including one-off factorisations).
    pub train_seconds: f64,
    /// ‖w − w_retrain‖ per class model, against retraining with fresh b; `None` for ensembles.
    pub weight_distance_fresh: Option<Vec<f64>>,
    /// ‖w − w_retrain‖ per class model, against retraining with the training b; `None` for
    /// ensembles.
    pub weight_distance_same_b: Option<Vec<f64>>,
    /// Test accuracy after the last request.
    pub test_accuracy: f64,
    /// Test accuracy of the fresh-b retrain after the last request.
    pub test_accuracy_retrain: f64,
    /// Accuracy on all removed rows after the last request.
    pub removed_accuracy: f64,
    /// Accuracy of the fresh-b retrain on the removed rows.
    pub removed_accuracy_retrain: f64,
    /// [`sape`]`(removed_accuracy, removed_accuracy_retrain)`.
    pub removed_accuracy_gap_sape: f64,
    /// `retrain_seconds_median / removal_seconds_median`.
    pub speedup: f64,
    /// Total retrain seconds / total removal seconds.
    pub speedup_total: f64,
    /// Median seconds per request.
    pub removal_seconds_median: f64,
    /// Mean seconds per request.
    pub removal_seconds_mean: f64,
    /// Seconds of every request, in order.
    pub removal_seconds: Vec<f64>,
    /// Median seconds per request of the fresh-b retrain reference.
    pub retrain_seconds_median: f64,
    /// Mean seconds per request of the fresh-b retrain reference.
    pub retrain_seconds_mean: f64,
    /// For certified strategies: whether the last released model is certified.
    pub certified: Option<bool>,
    /// For certified strategies: the ε the last released model's β corresponds to.
    pub epsilon_spent: Option<f64>,
}

/// What running one strategy over the requests produced.
struct Run {
    strategy: Box<dyn RemovalStrategy>,
    train_seconds: f64,
    seconds: Vec<f64>,
    retrains: usize,
    certified: Option<bool>,
    epsilon_spent: Option<f64>,
}

fn run(
    spec: &StrategySpec,
    params: CertifiedParams,
    train: &Arc<Dataset>,
    requests: &[Vec<usize>],
    seed: u64,
) -> Result<Run> {
    let t = Instant::now();
    let mut strategy = build_strategy(spec, params, Arc::clone(train), seed)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let mut seconds = Vec::with_capacity(requests.len());
    let mut retrains = 0;
    let mut certified = None;
    let mut epsilon_spent = None;
    for request in requests {
        let outcome = strategy.remove(request)?;
        seconds.push(outcome.seconds);
        retrains += usize::from(outcome.retrained);
        if let Some(c) = outcome.certified() {
            certified = Some(c);
            epsilon_spent = outcome.epsilon_spent();
        }
    }
    Ok(Run {
        strategy,
        train_seconds,
        seconds,
        retrains,
        certified,
        epsilon_spent,
    })
}

/// Runs every strategy of `specs`, plus retraining with a fresh b and with the same b, on the
/// same `requests` (each inner list is one request; several indices form a batch) and
/// compares each with the references (see the module docs). Returns one [`Comparison`] per
/// spec, in order; a `retrain` spec reuses the matching reference run.
///
/// Strategies are trained with `params` and `seed` through [`build_strategy`]; the references
/// are [`crate::RetrainStrategy::train`]`(params.model, train, seed, …)`.
///
/// # Errors
/// A strategy that fails to train, or a request that is invalid for the training data (every
/// strategy refuses the same requests; see [`crate::validate_request`]). `test` must have the
/// training data's number of features.
pub fn compare_strategies(
    specs: &[StrategySpec],
    params: CertifiedParams,
    train: Arc<Dataset>,
    test: &Dataset,
    requests: &[Vec<usize>],
    seed: u64,
) -> Result<Vec<Comparison>> {
    let fresh_spec = StrategySpec::Retrain {
        noise: RetrainNoise::Fresh,
    };
    let same_spec = StrategySpec::Retrain {
        noise: RetrainNoise::Same,
    };
    let fresh = run(&fresh_spec, params, &train, requests, seed)?;
    let same = run(&same_spec, params, &train, requests, seed)?;

    let removed: Vec<usize> = requests.iter().flatten().copied().collect();
    let fresh_weights = fresh.strategy.weights();
    let same_weights = same.strategy.weights();
    let test_accuracy_retrain = fresh.strategy.accuracy(test)?;
    let removed_accuracy_retrain = if removed.is_empty() {
        f64::NAN
    } else {
        fresh.strategy.accuracy_on_rows(&train, &removed)?
    };
    let retrain_seconds_median = median(&fresh.seconds);
    let retrain_seconds_mean = mean(&fresh.seconds);
    let retrain_total: f64 = fresh.seconds.iter().sum();

    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let own;
        let r: &Run = if *spec == fresh_spec {
            &fresh
        } else if *spec == same_spec {
            &same
        } else {
            own = run(spec, params, &train, requests, seed)?;
            &own
        };
        let weights = r.strategy.weights();
        let distance = |reference: &Option<nalgebra::DMatrix<f64>>| match (&weights, reference) {
            (Some(w), Some(w_ref)) => Some(weight_distance(w, w_ref)),
            _ => None,
        };
        let removed_accuracy = if removed.is_empty() {
            f64::NAN
        } else {
            r.strategy.accuracy_on_rows(&train, &removed)?
        };
        let removal_seconds_median = median(&r.seconds);
        let total: f64 = r.seconds.iter().sum();
        out.push(Comparison {
            strategy: spec.name().to_string(),
            label: spec.label(),
            spec: spec.clone(),
            guarantee: r.strategy.guarantee(),
            requests: requests.len(),
            rows_removed: removed.len(),
            retrains: r.retrains,
            train_seconds: r.train_seconds,
            weight_distance_fresh: distance(&fresh_weights),
            weight_distance_same_b: distance(&same_weights),
            test_accuracy: r.strategy.accuracy(test)?,
            test_accuracy_retrain,
            removed_accuracy,
            removed_accuracy_retrain,
            removed_accuracy_gap_sape: sape(removed_accuracy, removed_accuracy_retrain),
            speedup: retrain_seconds_median / removal_seconds_median,
            speedup_total: retrain_total / total,
            removal_seconds_median,
            removal_seconds_mean: mean(&r.seconds),
            removal_seconds: r.seconds.clone(),
            retrain_seconds_median,
            retrain_seconds_mean,
            certified: r.certified,
            epsilon_spent: r.epsilon_spent,
        });
    }
    Ok(out)
}

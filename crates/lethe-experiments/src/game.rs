//! `audit.game`: the certified-removal game of one run, the comparison the theorem makes.
//!
//! Certified removal (Guo et al. 2020, Definition 1) says that the model released after the
//! run's requests is (ε, δ)-close *in distribution* to retraining on the remaining rows with
//! a fresh b. The game samples both distributions on the run's dataset and forget set (the
//! rows its requests removed, in the same batches): T *unlearned draws*, each the configured
//! strategy trained with its own seed (a fresh b, and for SISA a fresh partition) and then
//! served the requests, and T *retrained draws*, each the retrain the mechanism claims to
//! match trained on the remaining rows from its own seed: Algorithm 1 (for SISA: SISA; for
//! output perturbation: the exact b = 0 minimiser plus fresh release noise, see
//! [`crate::runner::reference_retrain`]). [`lethe_mia::game::removal_game`] turns them into a
//! Clopper–Pearson ε lower bound (statistic, threshold and orientation chosen on one half of
//! the draws, counts from the other half).
//!
//! **What it is compared with.** The claim is the mechanism's, not one draw's: for newton and
//! output perturbation with σ > 0, the configured (ε, δ) of `certificate` when every
//! unlearned draw ended certified (β, or the release's sensitivity bound, within its budget; with `budget_policy: retrain` the mechanism retrains instead of
//! exceeding it, so this is Algorithm 3's guarantee); ε = 0 for exact removal (retrain, SISA);
//! nothing for heuristic strategies, σ = 0, or draws that exceeded the budget. A correct
//! mechanism's bound exceeds its claim with probability at most 1 − `epsilon_confidence`.
//!
//! **When it does not run.** Adaptive requests (the theorem does not apply) and an explicit
//! `model.noise_vector` (the game needs fresh draws of b) skip the game with the reason. A
//! noise key file is not used: the game's draws take b from their own seeds.
//!
//! Draw i's seeds are `Purpose::AuditGameUnlearned.derived_seed(seed, 0) + i` and
//! `Purpose::AuditGameRetrained.derived_seed(seed, 0) + i` (wrapping; see
//! [`lethe_models::noise::Purpose`] and [`lethe_models::noise::derived_seed`]): draws run in
//! parallel and the record does not depend on the number of threads.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_mia::game::{GameObservation, GameOptions, GameOutcome, GameStatistic, removal_game};
use lethe_models::LinearModelParams;
use lethe_models::noise::Purpose;
use lethe_removal::{
    Guarantee, RemovalOutcome, RemovalStrategy, SisaConfig, SisaStrategy, StrategySpec,
    build_strategy,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::audit::{AuditModel, CertificateKind, Certification, with_target};
use crate::config::{ExperimentConfig, GameConfig};
use crate::error::Result;
use crate::runner::{certified_params, reference_retrain};

/// One unlearned draw: what the game reads of the released model, and its certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct UnlearnedDraw {
    /// The released model's weights and forget-set loss.
    pub observation: GameObservation,
    /// Whether the released model ended certified (`None`: the strategy issues no
    /// certificates).
    pub certified: Option<bool>,
    /// Whether some request retrained from scratch (budget exceeded under `retrain`).
    pub retrained: bool,
    /// The ε the last certificate spent, if any.
    pub epsilon_spent: Option<f64>,
}

/// The game's record in `audit.game`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GameRecord {
    /// Draws per side T.
    pub trials: usize,
    /// Rows of the forget set (the rows the run's requests removed).
    pub forget_rows: usize,
    /// Requests served to every unlearned draw.
    pub requests: usize,
    /// The statistics the selection half chose from.
    pub statistics: Vec<GameStatistic>,
    /// The bound and how it was obtained (absent when skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<GameOutcome>,
    /// What the mechanism claims, which the bound is compared with.
    pub certificate: Certification,
    /// Whether the bound exceeds the claimed ε (absent without a claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exceeds_certified: Option<bool>,
    /// Unlearned draws that ended certified.
    pub certified_draws: usize,
    /// Unlearned draws in which some request retrained from scratch.
    pub retrained_draws: usize,
    /// The largest ε spent by an unlearned draw's last certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon_spent_max: Option<f64>,
    /// Why the game did not run, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Seconds for every draw and the bound.
    pub seconds: f64,
}

/// Plays the game with `trials` draws per side from `unlearn(i)` and `retrain(i)` (called
/// in parallel), and compares the bound with `claim`.
///
/// # Errors
/// The first error of a draw; errors of [`removal_game`].
pub fn play_game<U, R>(
    trials: usize,
    unlearn: U,
    retrain: R,
    options: &GameOptions,
    claim: impl Fn(&[UnlearnedDraw]) -> Certification,
) -> Result<(GameOutcome, Certification, Vec<UnlearnedDraw>)>
where
    U: Fn(usize) -> Result<UnlearnedDraw> + Sync,
    R: Fn(usize) -> Result<GameObservation> + Sync,
{
    let unlearned: Vec<UnlearnedDraw> = (0..trials)
        .into_par_iter()
        .map(&unlearn)
        .collect::<Result<_>>()?;
    let retrained: Vec<GameObservation> = (0..trials)
        .into_par_iter()
        .map(&retrain)
        .collect::<Result<_>>()?;
    let observations: Vec<GameObservation> =
        unlearned.iter().map(|u| u.observation.clone()).collect();
    let outcome = removal_game(&observations, &retrained, options)?;
    let certification = claim(&unlearned);
    Ok((outcome, certification, unlearned))
}

/// What the mechanism claims, given its guarantee and its draws (see the module docs).
pub fn game_claim(
    cfg: &ExperimentConfig,
    guarantee: Guarantee,
    draws: &[UnlearnedDraw],
) -> Certification {
    let t = draws.len();
    match guarantee {
        Guarantee::Certified { delta, .. } if cfg.model.sigma > 0.0 => {
            let certified = draws.iter().filter(|d| d.certified == Some(true)).count();
            if certified == t {
                Certification::new(
                    CertificateKind::Certified,
                    Some(cfg.certificate.epsilon),
                    Some(delta),
                    format!(
                        "every one of the {t} unlearned draws ended certified (its certificate \
                         within the budget of ε = {}, δ = {delta}), so the mechanism's (ε, δ) \
                         statement applies",
                        cfg.certificate.epsilon
                    ),
                )
            } else {
                Certification::new(
                    CertificateKind::None,
                    None,
                    None,
                    format!(
                        "{} of the {t} unlearned draws ended uncertified (β beyond the budget, \
                         or uncertifiable rows): no (ε, δ) statement to compare with",
                        t - certified
                    ),
                )
            }
        }
        Guarantee::Certified { .. } => Certification::new(
            CertificateKind::None,
            None,
            None,
            "σ = 0: no noise, so no certificate",
        ),
        Guarantee::Exact => Certification::new(
            CertificateKind::Exact,
            Some(0.0),
            Some(0.0),
            "exact removal: distributed as retraining from scratch",
        ),
        Guarantee::None => Certification::new(
            CertificateKind::None,
            None,
            None,
            format!(
                "strategy `{}` has no guarantee",
                cfg.removal.strategy.0.name()
            ),
        ),
        Guarantee::Adaptive | Guarantee::Replay => Certification::new(
            CertificateKind::None,
            None,
            None,
            "adaptive requests or a public b: nothing is certified",
        ),
    }
}

/// A skipped game and why.
fn skipped(trials: usize, statistics: Vec<GameStatistic>, reason: impl Into<String>) -> GameRecord {
    GameRecord {
        trials,
        forget_rows: 0,
        requests: 0,
        statistics,
        outcome: None,
        certificate: Certification::new(CertificateKind::None, None, None, "the game did not run"),
        exceeds_certified: None,
        certified_draws: 0,
        retrained_draws: 0,
        epsilon_spent_max: None,
        skipped: Some(reason.into()),
        seconds: 0.0,
    }
}

/// The mean forget-set loss and the flattened weights of `model`.
fn observe(
    model: &AuditModel,
    classes: &[Option<f64>],
    params: LinearModelParams,
    forget: &Dataset,
) -> Result<GameObservation> {
    let losses = with_target(model, classes, params, |t| {
        Ok(lethe_mia::scores::losses(t, forget)?)
    })?;
    let forget_loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
    let weights = match model {
        AuditModel::Linear(w) => w.as_slice().to_vec(),
        AuditModel::Ensemble { .. } => Vec::new(),
    };
    Ok(GameObservation {
        weights,
        forget_loss,
    })
}

/// The configured strategy trained on `train` from `seed`, as the released model reads it.
enum Mechanism {
    Sisa(SisaStrategy),
    Other(Box<dyn RemovalStrategy>),
}

impl Mechanism {
    fn strategy(&mut self) -> &mut dyn RemovalStrategy {
        match self {
            Mechanism::Sisa(s) => s,
            Mechanism::Other(b) => b.as_mut(),
        }
    }

    fn model(&self) -> Option<AuditModel> {
        match self {
            Mechanism::Sisa(s) => Some(AuditModel::sisa(s)),
            Mechanism::Other(b) => b.weights().map(AuditModel::Linear),
        }
    }
}

/// Runs `audit.game` for the run of `cfg` whose served requests were `requests`.
///
/// # Errors
/// Training, removal and data errors of a draw; errors of [`removal_game`].
pub fn run_game(
    cfg: &ExperimentConfig,
    game: &GameConfig,
    confidence: f64,
    delta: f64,
    train: &Arc<Dataset>,
    requests: &[Vec<usize>],
    guarantee: Guarantee,
) -> Result<GameRecord> {
    let start = Instant::now();
    let spec = &cfg.removal.strategy.0;
    let sisa = match spec {
        StrategySpec::Sisa {
            shards,
            slices,
            aggregation,
        } => Some(SisaConfig {
            shards: *shards,
            slices: *slices,
            aggregation: *aggregation,
        }),
        _ => None,
    };
    // An ensemble has no single weight vector: only the forget-set loss applies.
    let statistics: Vec<GameStatistic> = game
        .statistics
        .iter()
        .copied()
        .filter(|s| sisa.is_none() || *s == GameStatistic::ForgetLoss)
        .collect();
    if cfg.removal.order.0.is_adaptive() {
        return Ok(skipped(
            game.trials,
            statistics,
            "adaptive requests (chosen with the released model): the theorem does not apply",
        ));
    }
    if cfg.model.noise_vector.is_some() {
        return Ok(skipped(
            game.trials,
            statistics,
            "model.noise_vector fixes b: the game needs fresh draws of b",
        ));
    }
    if statistics.is_empty() {
        return Ok(skipped(
            game.trials,
            statistics,
            "no statistic applies: SISA's ensemble has no single weight vector, and \
             `forget_loss` is not among audit.game.statistics",
        ));
    }
    let cparams = certified_params(cfg);
    let params = cparams.model;
    let removed: Vec<usize> = requests.iter().flatten().copied().collect();
    let forget = train.select(&removed)?;
    let mut active = vec![true; train.n_samples()];
    for &i in &removed {
        active[i] = false;
    }
    let classes: Vec<Option<f64>> = lethe_removal::label_sets(train, params.loss)?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let unlearned_seed = Purpose::AuditGameUnlearned.derived_seed(cfg.seed, 0);
    let retrained_seed = Purpose::AuditGameRetrained.derived_seed(cfg.seed, 0);
    let unlearn = |i: usize| -> Result<UnlearnedDraw> {
        let seed = unlearned_seed.wrapping_add(i as u64);
        let mut mechanism = match sisa {
            Some(config) => Mechanism::Sisa(SisaStrategy::train(
                params,
                Arc::clone(train),
                seed,
                config,
            )?),
            None => Mechanism::Other(build_strategy(spec, cparams, Arc::clone(train), seed)?),
        };
        let mut last = None;
        let mut retrained = false;
        for batch in requests {
            let outcome = mechanism.strategy().remove(batch)?;
            retrained |= outcome.retrained;
            last = Some(outcome);
        }
        let model = mechanism.model().ok_or_else(|| {
            crate::error::ExperimentError::Usage(format!(
                "audit.game: strategy `{}` releases a model the game cannot read",
                spec.name()
            ))
        })?;
        Ok(UnlearnedDraw {
            observation: observe(&model, &classes, params, &forget)?,
            certified: last.as_ref().and_then(RemovalOutcome::certified),
            retrained,
            epsilon_spent: last.as_ref().and_then(RemovalOutcome::epsilon_spent),
        })
    };
    let retrain = |i: usize| -> Result<GameObservation> {
        let seed = retrained_seed.wrapping_add(i as u64);
        let model = match sisa {
            Some(config) => AuditModel::sisa(&SisaStrategy::train_masked(
                params,
                Arc::clone(train),
                seed,
                config,
                active.clone(),
            )?),
            None => AuditModel::Linear(reference_retrain(cfg, train, &active, seed)?.weights),
        };
        observe(&model, &classes, params, &forget)
    };
    let options = GameOptions {
        delta,
        confidence,
        seed: cfg.seed,
        statistics: statistics.clone(),
    };
    let (outcome, certificate, draws) = play_game(game.trials, unlearn, retrain, &options, |d| {
        game_claim(cfg, guarantee, d)
    })?;
    let exceeds_certified = certificate
        .epsilon
        .map(|e| outcome.bound.epsilon_lower_bound > e);
    Ok(GameRecord {
        trials: game.trials,
        forget_rows: removed.len(),
        requests: requests.len(),
        statistics,
        outcome: Some(outcome),
        certificate,
        exceeds_certified,
        certified_draws: draws.iter().filter(|d| d.certified == Some(true)).count(),
        retrained_draws: draws.iter().filter(|d| d.retrained).count(),
        epsilon_spent_max: draws
            .iter()
            .filter_map(|d| d.epsilon_spent)
            .reduce(f64::max),
        skipped: None,
        seconds: start.elapsed().as_secs_f64(),
    })
}

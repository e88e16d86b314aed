//! The membership-inference audit of one run (`audit` in a config, DESIGN §3).
//!
//! **Rows.** Members are k removed rows (the forget set), non-members k rows of the test set,
//! k = min(removed, test rows, remaining rows, `audit.max_members`), each a seeded sample. As a
//! control, the unlearned model is also attacked with k retained training rows as members (the
//! attack's power on rows the model still trains on).
//!
//! **Models.** Every strategy is audited: `original` (before the first request), `unlearned`
//! (released after the last request) and `retrained` (the run's reference retrain: Algorithm 1
//! on the remaining rows with a fresh b). Strategies with one weight vector per class model
//! (newton, influence, projective, retrain) are attacked as linear models. SISA is attacked
//! as the ensemble it predicts with ([`lethe_mia::EnsembleModel`], same aggregation; see
//! `lethe_mia::target` for the decision values the attacks read), and additionally as
//! `retrained_ensemble`: SISA trained from scratch on the remaining rows with fresh
//! randomness (partition and b from a seed derived from the experiment seed), the exact
//! distribution SISA's removal claims to match.
//!
//! **Attacks.** Threshold attacks read one statistic of the attacked model. LiRA and RMIA
//! train reference models like the attacked model (single models, or ensembles of the same
//! size and aggregation) on a *population* that holds no evaluated row: every training and
//! test row outside the evaluation's members and non-members (optionally a seeded sample of
//! `audit.population_size` of them). Online, the evaluated rows join the pool and each is IN
//! exactly half of the reference models (`lethe_mia::reference`).
//!
//! **Reference-model size** (`audit.reference_rows`). With `target` (the default) every
//! reference model trains on as many rows as the model it is compared with
//! (`lethe_mia::reference::ReferenceConfig::training_rows`): the original model's n training
//! rows, the remaining n − removed rows for the unlearned and retrained models (SISA: the same
//! rows, split into its number of shards). Offline each reference model takes a seeded subset
//! of the population, online the evaluated rows keep the balanced design and each model is
//! filled up with population rows. A model takes at most N − ⌈N/4⌉ of N population rows (so
//! that the models differ in more than their noise); where that is fewer rows than asked for,
//! the reference descriptor records requested, smallest and largest size and a `shortfall`,
//! and the audit repeats it in `audit.warnings`. With `half_pool` each model sees about half
//! of the pool (every pool row in exactly K/2 models), the design before this option.
//!
//! One reference set is trained per evaluation, model class, training-set size and reference
//! configuration and shared by every model that matches (original, unlearned and retrained
//! have the same λ, σ, loss and noise; with `target` the original has its own, the unlearned
//! and retrained models share theirs) and by LiRA and RMIA entries with the same settings; its
//! descriptor (K, online, seed, pool, sizes, solver) is in each entry's `attack.reference`.
//!
//! **RMIA's population points** (`audit.rmia_population`). RMIA compares each example with
//! population points z that must be non-members of the attacked model. With `held_out` (the
//! default) z is drawn from the test rows outside the evaluated non-members, which no audited
//! model trained on; the reference models still train on the wider population. Where few test
//! rows are left (fewer than [`FEW_RMIA_POINTS`] and than `n_population_points`) the audit
//! warns; `audit.max_members` leaves more of them by capping k. Without any such row RMIA is an
//! error. With `reference_population` z is drawn from the whole population, which also holds
//! training rows of the attacked model (the behaviour before this option). Each RMIA entry's
//! `attack.parameters.population_points` records the rows used (`test_rows`, `training_rows`
//! by index), the number of candidates, where they came from and
//! `disjoint_from_training_rows`; `offline_a`, `offline_a_source` (`fixed`, `tuned` or unused
//! online) and, when tuned, `offline_a_tuning` (grid, AUCs, chosen a) record RMIA's `a`.
//!
//! **ε.** For every forget-set result the audit computes the empirical ε lower bound of
//! [`lethe_mia::metrics::empirical_epsilon_from_scores`] (threshold chosen on a seeded half of
//! the rows, Clopper–Pearson counts on the other half, joint confidence
//! `audit.epsilon_confidence`, δ = `audit.epsilon_delta`) and puts next to it what the removal
//! certifies about that model ([`Certification`]). Each evaluated row is one trial of the
//! *same* model. That is a valid test only where the model is distributed as a retrain, that
//! is for exact removal and retrained models (certified ε = 0): such a model never saw the
//! forget rows, so with a uniformly random forget set (`removal.order = random`, no explicit
//! `indices`) forget and test rows are exchangeable given the model, the counts are binomial,
//! and a bound above 0 is flagged (`exceeds_certified`; probability at most
//! 1 − `epsilon_confidence` per result when the removal is exact). For a certificate with
//! ε > 0 no comparison is made: the certificate is about the *distribution* of unlearned
//! models, one model's rows are not independent trials of the mechanism, and chaining the
//! certificate through a retrain gives only TPR ≤ e^{2ε}·FPR + (1 + e^ε)·δ in expectation.
//! The comparison the theorem makes is `audit.game` ([`crate::game`]).

use std::collections::BTreeMap;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_mia::attacks::ThresholdAttack;
use lethe_mia::metrics::{
    AttackMetrics, EvaluationOptions, ScoreEpsilon, empirical_epsilon_from_scores,
    split_by_membership,
};
use lethe_mia::reference::{ReferenceConfig, ReferenceSet};
use lethe_mia::{
    Aggregation, AttackDescriptor, AttackOutput, EnsembleModel, MiaError, TargetModel,
};
use lethe_models::noise::Purpose;
use lethe_models::{LinearModel, LinearModelParams, OneVsRestModel, SolverReport};
use lethe_removal::{DeletionOrder, RemovalStrategy, SisaAggregation, SisaStrategy};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit_scores::{AuditScores, EntryScores, unique_label};
use crate::config::{
    AuditAttack, AuditConfig, ExperimentConfig, ReferenceAttack, ReferenceRows, RmiaPopulation,
};
use crate::data::Prepared;
use crate::error::Result;

/// A model the audit attacks.
#[derive(Clone, Debug, PartialEq)]
pub enum AuditModel {
    /// One weight column per class model (d × K).
    Linear(DMatrix<f64>),
    /// An ensemble (SISA's shard models with active rows) and its aggregation.
    Ensemble {
        /// Each member's d × K weights.
        members: Vec<DMatrix<f64>>,
        /// How the members' decision values are combined.
        aggregation: Aggregation,
    },
}

impl AuditModel {
    /// SISA's released ensemble: the final weights of every shard with active rows (the
    /// shards its predictions use) and its aggregation.
    pub fn sisa(s: &SisaStrategy) -> Self {
        let active = s.active();
        let members = (0..s.config().shards)
            .filter(|&i| {
                s.shard_rows(i)
                    .is_some_and(|rows| rows.iter().any(|&r| active[r]))
            })
            .filter_map(|i| s.shard_weights(i).map(DMatrix::from_columns))
            .collect();
        AuditModel::Ensemble {
            members,
            aggregation: match s.config().aggregation {
                SisaAggregation::Vote => Aggregation::Vote,
                SisaAggregation::Average => Aggregation::Average,
            },
        }
    }

    /// Members per model and aggregation (`None` for a linear model): reference models are
    /// shared between models with the same key.
    fn class_key(&self) -> Option<(usize, Aggregation)> {
        match self {
            AuditModel::Linear(_) => None,
            AuditModel::Ensemble {
                members,
                aggregation,
            } => Some((members.len(), *aggregation)),
        }
    }
}

/// What a removal certifies about an attacked model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// (ε, δ)-certified removal (Guo et al. 2020, Definition 1): newton with σ > 0.
    Certified,
    /// Exact removal: distributed as retraining from scratch (ε = 0, δ = 0): sisa, retrain.
    Exact,
    /// A model retrained from scratch: the distribution removals are compared with (ε = 0).
    Reference,
    /// No guarantee: a heuristic strategy, or newton with σ = 0 (no noise, no certificate).
    None,
    /// The model before removal: the forget rows are members, nothing is certified.
    NotARemoval,
}

/// The certified ε of an attacked model, next to which the empirical ε lower bound is put.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Certification {
    /// What kind of guarantee.
    pub kind: CertificateKind,
    /// The certified ε (null without a certificate): for newton the ε of the final
    /// accumulated residual β, `β·c(δ)/σ` (`summary.epsilon_spent_final`); 0 for exact removal
    /// and for retrained models.
    pub epsilon: Option<f64>,
    /// The certified δ (null without a certificate).
    pub delta: Option<f64>,
    /// Why, in words.
    pub note: String,
}

impl Certification {
    /// A certification of `kind` with ε, δ and a note.
    pub fn new(
        kind: CertificateKind,
        epsilon: Option<f64>,
        delta: Option<f64>,
        note: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            epsilon,
            delta,
            note: note.into(),
        }
    }
}

/// One model the audit attacks.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditTarget {
    /// `original`, `unlearned`, `retrained` or `retrained_ensemble`.
    pub name: &'static str,
    /// Its weights.
    pub model: AuditModel,
    /// What the removal certifies about it.
    pub certification: Certification,
    /// Whether it is also attacked with retained rows as members (the control).
    pub control: bool,
    /// The number of training rows it was trained on (for an ensemble: all its shards'
    /// rows); with `audit.reference_rows = target` every reference model trains on as many.
    pub training_rows: usize,
}

/// One membership-inference result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Which model was attacked: `original` (before removal), `unlearned` (released after the
    /// last request), `retrained` (the reference retrain) or `retrained_ensemble` (SISA only:
    /// SISA retrained from scratch with fresh randomness).
    pub model: String,
    /// `forget_vs_test` (members = removed rows) or `retained_vs_test` (members = remaining
    /// training rows, a control that shows the attack's power).
    pub members: String,
    /// What the attack was: name, variant (online/offline, variance, scoring), statistic,
    /// number of reference models, seeds, the reference models' training and, for ensembles,
    /// the aggregation and the score read (`parameters.population`: the population's rows).
    pub attack: AttackDescriptor,
    /// The attack's short label in the per-example scores file ([`AttackDescriptor::label`],
    /// `_2`, `_3`, … appended when an earlier attack of the audit has the same label).
    pub attack_label: String,
    /// Its metrics (AUC, TPR at low FPR, advantage, intervals, ROC).
    pub metrics: AttackMetrics,
    /// `forget_vs_test` only: the empirical ε lower bound with its confidence, δ, threshold
    /// and the counts it was computed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empirical_epsilon: Option<ScoreEpsilon>,
    /// `forget_vs_test` only: what the removal certifies about this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certification>,
    /// `forget_vs_test` with certified ε = 0 (exact removal, retrained models) and a random
    /// forget set only: whether the empirical lower bound exceeds 0 (it should not, see the
    /// module docs; certificates with ε > 0 are compared by `audit.game`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exceeds_certified: Option<bool>,
}

/// The membership-inference audit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Members per evaluation (forget rows, sampled down to the test size if needed).
    pub n_members: usize,
    /// Non-members per evaluation (a seeded sample of the test set).
    pub n_nonmembers: usize,
    /// Every attack on every model.
    pub results: Vec<AuditEntry>,
    /// Why the audit was skipped, if it was.
    pub skipped: Option<String>,
    /// Joint confidence of the empirical ε lower bounds.
    pub epsilon_confidence: Option<f64>,
    /// The δ of the empirical ε lower bounds.
    pub epsilon_delta: Option<f64>,
    /// Whether empirical and certified ε are comparable (a uniformly random forget set).
    pub epsilon_comparable: bool,
    /// Forget-set results whose empirical ε lower bound exceeds the certified ε.
    pub exceeds_certified: usize,
    /// Rows of the reference models' population per evaluation (absent without LiRA/RMIA).
    pub population: BTreeMap<String, usize>,
    /// Reference sets trained (each shared by the models and attacks that match it).
    pub reference_sets: usize,
    /// Seconds spent training reference models.
    pub reference_seconds: f64,
    /// The certified-removal game (`audit.game`), when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<crate::game::GameRecord>,
    /// Paired comparisons on the forget set: for every attack, AUC(unlearned) − AUC(retrain) and
    /// AUC(original) − AUC(retrain) on the same rows and bootstrap draws. The report aggregates
    /// the unlearned differences over seeds (sign-flip test, Holm) into its paired verdicts.
    pub paired: Vec<PairedComparison>,
    /// What weakens the audit and should be read with it: reference models trained on fewer
    /// rows than the attacked model (`audit.reference_rows`), few RMIA population points
    /// (`audit.rmia_population`). Empty when nothing did.
    pub warnings: Vec<String>,
    /// The per-example scores of every result, relative to the output directory:
    /// `<name>.scores/<index>-<hash>.csv` (see [`crate::audit_scores`]); null when the run has
    /// no output directory or the audit was skipped.
    pub scores: Option<String>,
}

/// One model against the retrain it is compared with, on the same members, non-members and
/// bootstrap draws (see [`AuditRecord::paired`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// The evaluation (`forget_vs_test`).
    pub members: String,
    /// The attack's `attack_label`.
    pub attack_label: String,
    /// `unlearned` or `original`.
    pub model: String,
    /// `retrained`, or `retrained_ensemble` for SISA.
    pub versus: String,
    /// AUC(model) − AUC(versus): estimate and percentile-bootstrap interval at the audit's
    /// bootstrap level, every replicate resampling the same rows for both models.
    pub auc_difference: lethe_mia::metrics::ConfidenceInterval,
}

impl AuditRecord {
    /// An audit that did not run, and why.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            n_members: 0,
            n_nonmembers: 0,
            results: Vec::new(),
            skipped: Some(reason.into()),
            epsilon_confidence: None,
            epsilon_delta: None,
            epsilon_comparable: false,
            exceeds_certified: 0,
            population: BTreeMap::new(),
            reference_sets: 0,
            reference_seconds: 0.0,
            game: None,
            scores: None,
            paired: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// A seeded sample of `k` of `rows` (sorted), from `lethe_data::shuffle_indices` with the
/// seed [`Purpose::AuditSample`]`.derived_seed(seed, purpose)`.
fn sample(rows: &[usize], k: usize, seed: u64, purpose: u64) -> Vec<usize> {
    let perm =
        lethe_data::shuffle_indices(rows.len(), Purpose::AuditSample.derived_seed(seed, purpose));
    let mut v: Vec<usize> = perm.into_iter().take(k).map(|i| rows[i]).collect();
    v.sort_unstable();
    v
}

/// One evaluation: k members then k non-members, and the population of its reference models.
struct Evaluation {
    name: &'static str,
    /// The members' indices in the training set, then the non-members' in the test set.
    row_ids: Vec<usize>,
    rows: Dataset,
    population: Option<Dataset>,
    /// Where each population row comes from: (`true` for the test set, its index there).
    population_source: Vec<(bool, usize)>,
}

impl Evaluation {
    /// Members are the training rows `members`, non-members the test rows `held_out`; the
    /// population (when `with_population`) every other training and test row, or a seeded
    /// sample of `cap` of them.
    fn new(
        name: &'static str,
        data: &Prepared,
        members: &[usize],
        held_out: &[usize],
        with_population: bool,
        cap: Option<usize>,
        seed: u64,
    ) -> Result<Self> {
        let rows = data
            .train
            .select(members)?
            .stack(&data.test.select(held_out)?)?;
        let (population, population_source) = if with_population {
            let outside = |n: usize, used: &[usize], test: bool| {
                let used: std::collections::BTreeSet<usize> = used.iter().copied().collect();
                (0..n)
                    .filter(|i| !used.contains(i))
                    .map(|i| (test, i))
                    .collect::<Vec<_>>()
            };
            let mut source = outside(data.train.n_samples(), members, false);
            source.extend(outside(data.test.n_samples(), held_out, true));
            let pool = data
                .train
                .without(members)?
                .stack(&data.test.without(held_out)?)?;
            match cap {
                Some(c) if c < pool.n_samples() => {
                    let all: Vec<usize> = (0..pool.n_samples()).collect();
                    let chosen = sample(&all, c, seed, 4);
                    let source = chosen.iter().map(|&i| source[i]).collect();
                    (Some(pool.select(&chosen)?), source)
                }
                _ => (Some(pool), source),
            }
        } else {
            (None, Vec::new())
        };
        Ok(Self {
            name,
            row_ids: members.iter().chain(held_out).copied().collect(),
            rows,
            population,
            population_source,
        })
    }

    /// The population rows that come from the test set outside the non-members: rows no
    /// audited model trained on (RMIA's `held_out` population points).
    fn held_out_population(&self) -> Vec<usize> {
        (0..self.population_source.len())
            .filter(|&j| self.population_source[j].0)
            .collect()
    }
}

/// Builds the lethe-mia target of `model` and hands it to `eval`.
pub(crate) fn with_target<R>(
    model: &AuditModel,
    classes: &[Option<f64>],
    params: LinearModelParams,
    eval: impl FnOnce(TargetModel<'_>) -> Result<R>,
) -> Result<R> {
    let class_ids: Vec<f64> = classes.iter().map(|c| c.unwrap_or(0.0)).collect();
    match model {
        AuditModel::Linear(w) => {
            let report = SolverReport {
                solver: "external".into(),
                iterations: 0,
                residual_norm: f64::NAN,
                seconds: 0.0,
                factorizations: 0,
                cg_iterations: 0,
            };
            let models: Vec<LinearModel> = w
                .column_iter()
                .map(|col| LinearModel {
                    weights: col.into_owned(),
                    noise: DVector::zeros(w.nrows()),
                    params,
                    report: report.clone(),
                })
                .collect();
            if models.len() == 1 {
                eval(TargetModel::Binary(&models[0]))
            } else {
                let ovr = OneVsRestModel {
                    classes: class_ids,
                    models,
                };
                eval(TargetModel::OneVsRest(&ovr))
            }
        }
        AuditModel::Ensemble {
            members,
            aggregation,
        } => {
            let binary = classes.len() == 1 && classes[0].is_none();
            let ensemble = EnsembleModel::new(
                members.clone(),
                params,
                (!binary).then_some(class_ids),
                *aggregation,
            )?;
            eval(TargetModel::Ensemble(&ensemble))
        }
    }
}

/// A trained reference set and what it was trained for: the evaluation, the model class
/// (members and aggregation of an ensemble; `None` for linear models) and the settings.
struct CachedReference {
    eval_index: usize,
    class: Option<(usize, Aggregation)>,
    config: ReferenceConfig,
    set: ReferenceSet,
}

/// Reference sets trained so far, shared by every model and attack they match.
#[derive(Default)]
struct ReferenceCache {
    sets: Vec<CachedReference>,
    seconds: f64,
    /// Shortfalls of the reference sets trained (see `lethe_mia::reference`).
    warnings: Vec<String>,
}

impl ReferenceCache {
    /// The reference set of evaluation `eval_index` for models of `class`, trained on first
    /// use (warm-started from `target`, which changes no minimiser).
    fn get(
        &mut self,
        eval_index: usize,
        class: Option<(usize, Aggregation)>,
        config: &ReferenceConfig,
        target: TargetModel<'_>,
        evaluation: &Evaluation,
    ) -> Result<&ReferenceSet> {
        let found = self
            .sets
            .iter()
            .position(|c| c.eval_index == eval_index && c.class == class && c.config == *config);
        let i = match found {
            Some(i) => i,
            None => {
                let population = evaluation.population.as_ref().ok_or(MiaError::Empty {
                    what: "population of the reference models",
                })?;
                let t = Instant::now();
                let set = ReferenceSet::train(target, &evaluation.rows, population, config)?;
                self.seconds += t.elapsed().as_secs_f64();
                if let Some(short) = &set.descriptor().shortfall {
                    self.warnings.push(format!(
                        "{}: reference models (K = {}, {}{}) for a model trained on {} rows: {short}",
                        evaluation.name,
                        config.n_reference,
                        if config.online { "online" } else { "offline" },
                        class.map_or(String::new(), |(s, _)| format!(", ensembles of {s}")),
                        config.training_rows.unwrap_or(0),
                    ));
                }
                self.sets.push(CachedReference {
                    eval_index,
                    class,
                    config: *config,
                    set,
                });
                self.sets.len() - 1
            }
        };
        Ok(&self.sets[i].set)
    }
}

/// What the audit knows about the attacked model and how its reference models are set up.
#[derive(Clone, Copy)]
struct AttackSetup {
    seed: u64,
    class: Option<(usize, Aggregation)>,
    /// The attacked model's training-set size (`None`: the half-pool design).
    training_rows: Option<usize>,
    rmia_population: RmiaPopulation,
}

/// Runs one configured attack on one target for one evaluation.
fn run_attack(
    attack: &AuditAttack,
    setup: AttackSetup,
    target: TargetModel<'_>,
    eval_index: usize,
    evaluation: &Evaluation,
    cache: &mut ReferenceCache,
) -> Result<AttackOutput> {
    let seed = setup.seed;
    let reference_attack = match attack {
        AuditAttack::Statistic(statistic) => {
            return Ok(ThresholdAttack {
                statistic: *statistic,
            }
            .run(target, &evaluation.rows)?);
        }
        AuditAttack::Reference(r) => r,
    };
    let mut config = match reference_attack {
        ReferenceAttack::Lira(l) => {
            let a = l.attack(seed);
            a.check()?;
            a.reference_config()
        }
        ReferenceAttack::Rmia(r) => {
            let a = r.attack(seed);
            a.check()?;
            a.reference_config()
        }
    };
    config.training_rows = setup.training_rows;
    let reference = cache.get(eval_index, setup.class, &config, target, evaluation)?;
    let population = evaluation.population.as_ref().ok_or(MiaError::Empty {
        what: "population of the reference models",
    })?;
    let mut output = match reference_attack {
        ReferenceAttack::Lira(l) => {
            l.attack(seed)
                .score_with(target, &evaluation.rows, reference)?
        }
        ReferenceAttack::Rmia(r) => {
            let held_out = evaluation.held_out_population();
            let candidates = match setup.rmia_population {
                RmiaPopulation::HeldOut => {
                    if held_out.is_empty() {
                        return Err(MiaError::Empty {
                            what: "RMIA population points: every test row is an evaluated \
                                   non-member (cap audit.max_members, or set \
                                   audit.rmia_population to reference_population)",
                        }
                        .into());
                    }
                    Some(held_out.as_slice())
                }
                RmiaPopulation::ReferencePopulation => None,
            };
            let mut out = r.attack(seed).score_with_points(
                target,
                &evaluation.rows,
                population,
                reference,
                candidates,
            )?;
            let chosen: Vec<usize> = out
                .descriptor
                .parameters
                .remove("population_point_rows")
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            let split_rows = |test: bool| -> Vec<usize> {
                chosen
                    .iter()
                    .map(|&j| evaluation.population_source[j])
                    .filter(|s| s.0 == test)
                    .map(|s| s.1)
                    .collect()
            };
            let (train_rows, test_rows) = (split_rows(false), split_rows(true));
            out.descriptor.parameters.insert(
                "population_points".into(),
                json!({
                    "rows": chosen.len(),
                    "candidates": candidates.map_or(population.n_samples(), <[usize]>::len),
                    "from": match setup.rmia_population {
                        RmiaPopulation::HeldOut => "test rows outside this evaluation's non-members",
                        RmiaPopulation::ReferencePopulation => "the reference models' population",
                    },
                    "disjoint_from_training_rows": train_rows.is_empty(),
                    "training_rows": train_rows,
                    "test_rows": test_rows,
                }),
            );
            out
        }
    };
    output.descriptor.parameters.insert(
        "population".into(),
        json!({
            "rows": population.n_samples(),
            "from": "training and test rows outside this evaluation's members and non-members",
        }),
    );
    Ok(output)
}

/// Whether the forget set is a uniformly random sample of the training rows, which the
/// comparison of empirical and certified ε needs.
fn random_forget_set(cfg: &ExperimentConfig) -> bool {
    cfg.removal.indices.is_none() && cfg.removal.order.0.order == DeletionOrder::Random
}

/// Runs the configured audit on `targets`.
///
/// # Errors
/// Data errors while selecting rows; attack and metric errors ([`ExperimentError::Mia`]).
pub fn run_audit(
    cfg: &ExperimentConfig,
    audit: &AuditConfig,
    data: &Prepared,
    classes: &[Option<f64>],
    removed: &[usize],
    remaining: &[usize],
    targets: &[AuditTarget],
) -> Result<AuditRecord> {
    run_audit_with_scores(cfg, audit, data, classes, removed, remaining, targets).map(|(r, _)| r)
}

/// [`run_audit`], and the per-example scores of every result (in the order of
/// `AuditRecord::results`) for [`crate::audit_scores::ScoresTarget::write`].
///
/// # Errors
/// As [`run_audit`].
pub fn run_audit_with_scores(
    cfg: &ExperimentConfig,
    audit: &AuditConfig,
    data: &Prepared,
    classes: &[Option<f64>],
    removed: &[usize],
    remaining: &[usize],
    targets: &[AuditTarget],
) -> Result<(AuditRecord, AuditScores)> {
    let params = crate::runner::certified_params(cfg).model;
    let test_rows: Vec<usize> = (0..data.test.n_samples()).collect();
    let k = removed
        .len()
        .min(test_rows.len())
        .min(remaining.len())
        .min(audit.max_members.unwrap_or(usize::MAX));
    if k == 0 {
        return Ok((
            AuditRecord::skipped("no removed rows, test rows or remaining rows to compare"),
            AuditScores::default(),
        ));
    }
    let needs_population = audit
        .attacks
        .iter()
        .any(|a| matches!(a, AuditAttack::Reference(_)));
    let held_out = sample(&test_rows, k, cfg.seed, 3);
    let evaluations = [
        Evaluation::new(
            "forget_vs_test",
            data,
            &sample(removed, k, cfg.seed, 1),
            &held_out,
            needs_population,
            audit.population_size,
            cfg.seed,
        )?,
        Evaluation::new(
            "retained_vs_test",
            data,
            &sample(remaining, k, cfg.seed, 2),
            &held_out,
            needs_population && targets.iter().any(|t| t.control),
            audit.population_size,
            cfg.seed,
        )?,
    ];
    let is_member: Vec<bool> = (0..2 * k).map(|i| i < k).collect();
    let options = EvaluationOptions {
        bootstrap: audit.bootstrap.unwrap_or_default(),
        max_roc_points: audit.roc_points,
    };
    let confidence = audit.epsilon_confidence;
    let delta = audit.epsilon_delta.unwrap_or(cfg.certificate.delta);
    let comparable = random_forget_set(cfg);
    let mut cache = ReferenceCache::default();
    let mut warnings = rmia_population_warnings(audit, &evaluations, k, data.test.n_samples());
    let mut results = Vec::new();
    let mut scores = AuditScores::default();
    for (eval_index, evaluation) in evaluations.iter().enumerate() {
        let forget = eval_index == 0;
        for target in targets.iter().filter(|t| forget || t.control) {
            let setup = AttackSetup {
                seed: cfg.seed,
                class: target.model.class_key(),
                training_rows: match audit.reference_rows {
                    ReferenceRows::Target => Some(target.training_rows),
                    ReferenceRows::HalfPool => None,
                },
                rmia_population: audit.rmia_population,
            };
            let entries = with_target(&target.model, classes, params, |t| {
                let mut out = Vec::new();
                let mut labels: Vec<String> = Vec::new();
                for attack in &audit.attacks {
                    let output = run_attack(attack, setup, t, eval_index, evaluation, &mut cache)?;
                    let mut metrics = output.evaluate(&is_member, &options)?;
                    if options.max_roc_points == 0 {
                        metrics.roc.clear();
                    }
                    let (empirical_epsilon, certificate, exceeds_certified) = if forget {
                        let (m, n) = split_by_membership(&output.scores, &is_member)?;
                        let eps =
                            empirical_epsilon_from_scores(&m, &n, delta, confidence, cfg.seed)?;
                        // Only a model distributed as a retrain (ε = 0) makes the rows
                        // exchangeable trials; see the module docs.
                        let exceeds = match target.certification.epsilon {
                            Some(e) if comparable && e == 0.0 => {
                                Some(eps.bound.epsilon_lower_bound > e)
                            }
                            _ => None,
                        };
                        (Some(eps), Some(target.certification.clone()), exceeds)
                    } else {
                        (None, None, None)
                    };
                    let attack_label = unique_label(output.descriptor.label(), &labels);
                    labels.push(attack_label.clone());
                    scores.entries.push(EntryScores {
                        evaluation: evaluation.name,
                        model: target.name,
                        attack: attack_label.clone(),
                        rows: evaluation.row_ids.clone(),
                        n_members: k,
                        scores: output.scores,
                    });
                    out.push(AuditEntry {
                        model: target.name.into(),
                        members: evaluation.name.into(),
                        attack: output.descriptor,
                        attack_label,
                        metrics,
                        empirical_epsilon,
                        certificate,
                        exceeds_certified,
                    });
                }
                Ok(out)
            })?;
            results.extend(entries);
        }
    }
    let exceeds = results
        .iter()
        .filter(|e| e.exceeds_certified == Some(true))
        .count();
    let paired = paired_comparisons(&scores, &options.bootstrap)?;
    warnings.append(&mut cache.warnings);
    let record = AuditRecord {
        n_members: k,
        n_nonmembers: k,
        results,
        skipped: None,
        epsilon_confidence: Some(confidence),
        epsilon_delta: Some(delta),
        epsilon_comparable: comparable,
        exceeds_certified: exceeds,
        population: evaluations
            .iter()
            .filter_map(|e| {
                e.population
                    .as_ref()
                    .map(|p| (e.name.to_string(), p.n_samples()))
            })
            .collect(),
        reference_sets: cache.sets.len(),
        reference_seconds: cache.seconds,
        game: None,
        scores: None,
        paired,
        warnings,
    };
    Ok((record, scores))
}

/// Below this many candidates for RMIA's `held_out` population points the audit warns (the
/// fraction of z an example beats then takes few values, and the attack is coarse).
pub const FEW_RMIA_POINTS: usize = 100;

/// The warning when RMIA's `held_out` population points are few (see [`FEW_RMIA_POINTS`]).
fn rmia_population_warnings(
    audit: &AuditConfig,
    evaluations: &[Evaluation],
    k: usize,
    test_rows: usize,
) -> Vec<String> {
    let requested = audit
        .attacks
        .iter()
        .filter_map(|a| match a {
            AuditAttack::Reference(ReferenceAttack::Rmia(r)) => Some(r.n_population_points),
            _ => None,
        })
        .max();
    let (Some(requested), RmiaPopulation::HeldOut) = (requested, audit.rmia_population) else {
        return Vec::new();
    };
    evaluations
        .iter()
        .filter(|e| e.population.is_some())
        .filter_map(|e| {
            let n = e.held_out_population().len();
            (n < requested.min(FEW_RMIA_POINTS)).then(|| {
                format!(
                    "{}: RMIA has only {n} population points (test rows outside the {k} evaluated \
                     non-members of {test_rows}); cap audit.max_members to leave more test rows \
                     for it",
                    e.name
                )
            })
        })
        .collect()
}

/// The model a removal is compared with: SISA's retrained ensemble where the audit has one
/// (the distribution SISA's exact removal claims), otherwise the linear retrain.
const COMPARISON_MODELS: [&str; 2] = ["retrained_ensemble", "retrained"];

/// For every forget-set attack, AUC(model) − AUC(retrain) of the unlearned and the original
/// model on the same rows and the same bootstrap draws
/// ([`lethe_mia::metrics::paired_auc_difference`]).
fn paired_comparisons(
    scores: &AuditScores,
    bootstrap: &lethe_mia::metrics::BootstrapOptions,
) -> Result<Vec<PairedComparison>> {
    let forget: Vec<&EntryScores> = scores
        .entries
        .iter()
        .filter(|e| e.evaluation == "forget_vs_test")
        .collect();
    let find = |model: &str, attack: &str| {
        forget
            .iter()
            .find(|e| e.model == model && e.attack == attack)
            .copied()
    };
    let mut out = Vec::new();
    for model in ["unlearned", "original"] {
        for entry in forget.iter().filter(|e| e.model == model) {
            let Some(versus) = COMPARISON_MODELS
                .iter()
                .find_map(|m| find(m, &entry.attack))
            else {
                continue;
            };
            let (am, an) = entry.scores.split_at(entry.n_members);
            let (bm, bn) = versus.scores.split_at(versus.n_members);
            out.push(PairedComparison {
                members: entry.evaluation.into(),
                attack_label: entry.attack.clone(),
                model: model.into(),
                versus: versus.model.into(),
                auc_difference: lethe_mia::metrics::paired_auc_difference(
                    am, an, bm, bn, bootstrap,
                )?,
            });
        }
    }
    Ok(out)
}

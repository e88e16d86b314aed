//! Reference (shadow) models: trained like the target, in parallel, from seeds.
//!
//! LiRA and RMIA compare the target model's statistic on an example with its distribution
//! over models trained on random subsets of data the attacker holds. lethe's models are
//! linear, so hundreds of them are cheap; they are trained with [rayon] in parallel, each from
//! its own seeded stream, so a [`ReferenceSet`] is the same for any number of threads.
//!
//! **Which rows a reference model sees.** The *pool* is `targets ++ population` (online) or
//! `population` alone (offline: the reference models never see a target, so they can be
//! trained before the targets are known). Without a training-set size
//! ([`ReferenceConfig::training_rows`] = `None`), like the released code of Carlini et al., the
//! assignment is *balanced*: every pool row is in exactly K/2 of the K models (for each row, a
//! random half of the models), so every target has exactly K/2 IN and K/2 OUT models online,
//! and each model sees about half of the pool. For the distributions to match the target's,
//! the pool should then be about twice the target's training-set size.
//!
//! **Reference models sized like the target.** With `training_rows = Some(m)` every reference
//! model trains on m rows, the attacked model's training-set size, when the pool can supply
//! them:
//! - *offline*: model k trains on a seeded m-subset of the population;
//! - *online*: the targets keep the balanced design (each target IN exactly K/2 models, the
//!   same IN/OUT pattern as without m), and model k, which holds t_k targets, is filled up with
//!   a seeded subset of m − t_k population rows (a model that happens to hold more than m
//!   targets keeps them: the targets' balance comes first).
//!
//! Population rows are dealt to the models in order from a sequence of seeded permutations of
//! the population (stream `ReferenceSubset`, index: the permutation), continuing into the next
//! when one runs out (the first rows of the next are reordered so that no model gets a row
//! twice). So a model's rows are distinct, and every population row is in ⌊F/N⌋ or ⌈F/N⌉
//! models, F the rows dealt in all.
//!
//! A model takes at most [`max_subset`]`(N)` = N − ⌈N/4⌉ of the N population rows, so that
//! every population row is left out of at least ⌊K/4⌋ models: models trained on (almost)
//! the same rows would differ only by their noise, their spread would no longer reflect the
//! choice of training set, and offline RMIA would have no OUT model for some population
//! points. When the pool cannot supply m rows per model under this cap, every model takes what
//! is available; the descriptor records the requested size, the smallest and largest actual
//! size and a `shortfall` warning (results are then weaker than a same-size reference set
//! would give, so the audit reports it).
//!
//! **How they are trained.** With the target's loss, λ, σ, noise distribution and solver (each
//! model k draws its own b from its own stream). Two speed-ups that do not change what is
//! estimated, both recorded in the descriptor:
//! - *warm start* from the target's weights. The objective is strongly convex, so the
//!   minimiser does not depend on the starting point; only the iteration count does.
//! - a solver *tolerance* of 1e-6 on ‖∇L_b‖ (sum scale) by default instead of the target's
//!   (usually 1e-8). By strong convexity the weights are then within 1e-6 / (λ n_k) of the
//!   exact minimiser and every margin of a unit-norm row within the same amount — for
//!   λ = 1e-3 and n_k = 3000 that is 3·10⁻⁷, far below the spread of the statistic over
//!   reference models. Set [`ReferenceTraining::tolerance`] to `None` to use the target's.
//!
//! **Ensemble targets** ([`crate::EnsembleModel`], e.g. SISA's shards) get ensemble reference
//! models: reference model k splits its training rows by a seeded permutation (stream
//! `EnsemblePartition`, index k) into S balanced, disjoint parts (part s gets positions
//! ⌊s·n_k/S⌋ .. ⌊(s+1)·n_k/S⌋, as SISA cuts its shards), trains one member per part exactly as
//! above (member s of model k draws b from noise index `k·S + s`; for S = 1 this is index k,
//! the single-model streams) and aggregates the members' decision values with the target's
//! [`crate::Aggregation`]. SISA's slices only change how a shard model is reached (warm-started
//! stages); each stage is solved to tolerance on a strongly convex objective, so the final
//! shard model — the one that predicts — is the minimiser on the shard's rows, which is what a
//! member is trained to here.

use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::objective::Objective;
use lethe_models::solver::minimize;
use lethe_models::{LinearModel, LinearModelParams};
use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MiaError, Result, invalid};
use crate::scores::{Statistic, from_margins};
use crate::target::{Aggregation, Labels, TargetModel, aggregated_margins};
use lethe_models::noise::Purpose;

/// How reference, shadow and attack-side models are trained.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReferenceTraining {
    /// Solver tolerance on ‖∇L_b‖ (sum scale); `None` uses the target's. Default 1e-6
    /// (see the module docs for why this is safe).
    pub tolerance: Option<f64>,
    /// Start the solver from the target's weights (default true).
    pub warm_start: bool,
}

impl Default for ReferenceTraining {
    fn default() -> Self {
        Self {
            tolerance: Some(1e-6),
            warm_start: true,
        }
    }
}

/// What the reference models were, for result files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceDescriptor {
    /// Number of reference models K.
    pub n_reference: usize,
    /// Whether targets were in the pool (online) or not (offline).
    pub online: bool,
    /// The seed of every stream (memberships, noise).
    pub seed: u64,
    /// Rows in the pool.
    pub pool_size: usize,
    /// Mean number of training rows per reference model.
    pub mean_training_size: f64,
    /// The training-set size every model was asked to have ([`ReferenceConfig::training_rows`];
    /// absent for the balanced half-pool design).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_training_size: Option<usize>,
    /// The smallest training set of a reference model (with a requested size only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_training_size: Option<usize>,
    /// The largest training set of a reference model (with a requested size only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_training_size: Option<usize>,
    /// Why some reference model trained on fewer rows than requested (absent when none did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<String>,
    /// How pool rows are assigned to models.
    pub assignment: String,
    /// Loss name.
    pub loss: String,
    /// λ.
    pub lambda: f64,
    /// σ.
    pub sigma: f64,
    /// Noise distribution name.
    pub noise: String,
    /// Solver name.
    pub solver: String,
    /// Solver tolerance used.
    pub tolerance: f64,
    /// Whether the solver was warm-started from the target's weights.
    pub warm_start: bool,
    /// Members per reference model (1 for single models; S for ensemble targets).
    pub members: usize,
    /// How an ensemble reference model aggregates its members (absent for single models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
    /// Wall-clock seconds spent training and scoring the reference models.
    pub seconds: f64,
}

/// Where a trained model's perturbations come from: the streams `(purpose, index · K + c)`
/// of `seed` (see [`Trainer::fit`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoiseSource {
    pub seed: u64,
    pub purpose: Purpose,
    pub index: u64,
}

/// A trained reference/shadow model: one weight matrix (d × K), or the members of an
/// ensemble and their aggregation.
pub(crate) struct Fitted {
    members: Vec<DMatrix<f64>>,
    aggregation: Option<Aggregation>,
}

impl Fitted {
    /// Decision values on `x` (n × K), aggregated as the target aggregates.
    pub(crate) fn margins(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        aggregated_margins(x, &self.members, self.aggregation)
    }
}

/// Trains copies of a target's model class on masked subsets of one dataset.
pub(crate) struct Trainer<'a> {
    pub params: LinearModelParams,
    x: &'a DMatrix<f64>,
    /// One ±1 label vector per output (binary: the labels; one-vs-rest: class k vs rest).
    label_vectors: Vec<DVector<f64>>,
    warm: Option<Vec<DVector<f64>>>,
    /// Members per model and their aggregation (ensemble targets).
    ensemble: Option<(usize, Aggregation)>,
}

impl<'a> Trainer<'a> {
    pub(crate) fn new(
        target: TargetModel<'_>,
        data: &'a Dataset,
        training: &ReferenceTraining,
    ) -> Result<Self> {
        let mut params = target.params()?;
        if let Some(tol) = training.tolerance {
            if !(tol.is_finite() && tol > 0.0) {
                return Err(invalid(
                    "reference solver tolerance",
                    tol,
                    "must be finite and > 0",
                ));
            }
            params.solver.tolerance = tol;
        }
        if data.n_features() != target.n_features() {
            return Err(MiaError::LengthMismatch {
                what: "feature dimension of the reference data",
                expected: target.n_features(),
                found: data.n_features(),
            });
        }
        let label_vectors = match target.labels(data)? {
            Labels::Binary(y) => vec![DVector::from_vec(y)],
            Labels::Classes(c) => (0..target.n_outputs())
                .map(|k| {
                    DVector::from_iterator(
                        c.len(),
                        c.iter().map(|&ci| if ci == k { 1.0 } else { -1.0 }),
                    )
                })
                .collect(),
        };
        let warm = training.warm_start.then(|| {
            let w = target.weight_matrix();
            (0..w.ncols()).map(|k| w.column(k).into_owned()).collect()
        });
        Ok(Self {
            params,
            x: data.features(),
            label_vectors,
            warm,
            ensemble: target
                .ensemble()
                .map(|e| (e.members().len(), e.aggregation())),
        })
    }

    /// Members per model (1 for single models).
    pub(crate) fn members(&self) -> usize {
        self.ensemble.map_or(1, |(s, _)| s)
    }

    /// The aggregation of ensemble models.
    pub(crate) fn aggregation(&self) -> Option<Aggregation> {
        self.ensemble.map(|(_, a)| a)
    }

    /// Trains one model like the target on the rows with `mask[i]`: a single model (one
    /// weight column per output, b of output c from stream `(purpose, index · K + c)` of
    /// `noise`), or for an ensemble target S members on a seeded balanced partition of those
    /// rows (see the module docs; member s uses noise index `index · S + s`).
    pub(crate) fn fit(
        &self,
        mask: &[bool],
        noise: NoiseSource,
        role: &dyn Fn() -> String,
    ) -> Result<Fitted> {
        let Some((s_count, aggregation)) = self.ensemble else {
            let models = self.fit_outputs(mask, noise, role)?;
            return Ok(Fitted {
                members: vec![weight_matrix(&models)],
                aggregation: None,
            });
        };
        let mut rows: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let n = rows.len();
        if n < s_count {
            return Err(invalid(
                "reference training rows",
                n,
                format!(
                    "{} model: an ensemble of {s_count} members needs at least one row per member",
                    role()
                ),
            ));
        }
        rows.shuffle(&mut Purpose::EnsemblePartition.rng(noise.seed, noise.index));
        let members = (0..s_count)
            .map(|s| {
                let mut part = vec![false; mask.len()];
                for &i in &rows[s * n / s_count..(s + 1) * n / s_count] {
                    part[i] = true;
                }
                let member = NoiseSource {
                    index: noise.index * s_count as u64 + s as u64,
                    ..noise
                };
                let models =
                    self.fit_outputs(&part, member, &|| format!("{} member #{s}", role()))?;
                Ok(weight_matrix(&models))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Fitted {
            members,
            aggregation: Some(aggregation),
        })
    }

    /// Trains one model per output on the rows with `mask[i]`, b of output c drawn from
    /// stream `(purpose, index · K + c)` of `noise`.
    fn fit_outputs(
        &self,
        mask: &[bool],
        noise: NoiseSource,
        role: &dyn Fn() -> String,
    ) -> Result<Vec<LinearModel>> {
        let NoiseSource {
            seed,
            purpose,
            index,
        } = noise;
        let d = self.x.ncols();
        let k_count = self.label_vectors.len() as u64;
        self.label_vectors
            .iter()
            .enumerate()
            .map(|(c, y)| {
                let wrap = |source| MiaError::Training {
                    role: role(),
                    source,
                };
                let mut rng = purpose.rng(seed, index * k_count + c as u64);
                let b = self
                    .params
                    .noise
                    .sample(self.params.sigma, d, &mut rng)
                    .map_err(wrap)?;
                let objective = Objective::from_parts(
                    self.x,
                    y,
                    Some(mask),
                    self.params.loss,
                    self.params.lambda,
                    Some(&b),
                )
                .map_err(wrap)?;
                let w0 = self
                    .warm
                    .as_ref()
                    .map_or_else(|| DVector::zeros(d), |w| w[c].clone());
                let (weights, report) =
                    minimize(&objective, w0, &self.params.solver).map_err(wrap)?;
                Ok(LinearModel {
                    weights,
                    noise: b,
                    params: self.params,
                    report,
                })
            })
            .collect()
    }
}

/// The d × K weight matrix of per-output models.
pub(crate) fn weight_matrix(models: &[LinearModel]) -> DMatrix<f64> {
    let d = models.first().map_or(0, |m| m.weights.len());
    DMatrix::from_fn(d, models.len(), |i, k| models[k].weights[i])
}

/// Row-major `rows × k` membership: every row in exactly `k / 2` models (a random half of
/// the models for each row, drawn in row order from one stream).
pub(crate) fn balanced_assignment(rows: usize, k: usize, seed: u64, purpose: Purpose) -> Vec<bool> {
    let mut rng = purpose.rng(seed, 0);
    let mut out = vec![false; rows * k];
    let mut ids: Vec<usize> = (0..k).collect();
    for r in 0..rows {
        ids.shuffle(&mut rng);
        for &m in &ids[..k / 2] {
            out[r * k + m] = true;
        }
    }
    out
}

/// How pool rows are assigned to models, in words.
fn assignment_name(config: &ReferenceConfig) -> &'static str {
    match (config.training_rows, config.online) {
        (None, _) => "balanced: every pool row in exactly K/2 models",
        (Some(_), true) => {
            "sized: every target in exactly K/2 models, each model filled up to the requested \
             size with a seeded subset of at most N - ceil(N/4) of the N population rows"
        }
        (Some(_), false) => {
            "sized: each model a seeded subset of the requested size, at most N - ceil(N/4) of \
             the N population rows"
        }
    }
}

/// The warning when some model trained on fewer rows than requested.
fn shortfall(
    config: &ReferenceConfig,
    sizes: Option<&[usize]>,
    targets: usize,
    population: usize,
) -> Option<String> {
    let (m, sizes) = (config.training_rows?, sizes?);
    let short = sizes.iter().filter(|&&s| s < m).count();
    let smallest = sizes.iter().min().copied()?;
    (short > 0).then(|| {
        let pool = if config.online {
            format!(
                "{targets} targets (each in K/2 models) and {population} population rows, of which \
                 a model may take at most {}",
                max_subset(population)
            )
        } else {
            format!(
                "{population} population rows, of which a model may take at most {}",
                max_subset(population)
            )
        };
        format!(
            "{short} of {} reference models trained on fewer rows than the {m} requested \
             (smallest: {smallest}): the pool has {pool}; reference models smaller than the \
             attacked model make the attack weaker",
            sizes.len()
        )
    })
}

/// Checks that the target reads probabilities (LiRA, RMIA and shadow models need them).
pub(crate) fn require_logistic(target: TargetModel<'_>, what: &'static str) -> Result<()> {
    let loss = target.params()?.loss;
    if loss.needs_binary_labels() {
        Ok(())
    } else {
        Err(MiaError::UnsupportedLoss {
            what,
            loss: loss.name(),
        })
    }
}

/// Settings of a [`ReferenceSet`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    /// Number of reference models K (even, ≥ 2; ≥ 4 for per-example variances online).
    pub n_reference: usize,
    /// Online (targets in the pool) or offline (population only).
    pub online: bool,
    /// Seed of the membership assignment and of every model's noise.
    pub seed: u64,
    /// Solver settings.
    pub training: ReferenceTraining,
    /// Training rows per reference model, usually the attacked model's training-set size
    /// (see the module docs); `None`: the balanced half-pool design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_rows: Option<usize>,
}

/// The largest subset a reference model draws from `n` rows: `n − ⌈n/4⌉`, so that every row
/// is left out of at least ⌊K/4⌋ of K models (see the module docs).
pub fn max_subset(n: usize) -> usize {
    n - n.div_ceil(4)
}

/// Row-major `rows × k` membership with a training-set size (see the module docs): online the
/// first `targets` rows balanced as [`balanced_assignment`] and every model filled up to `m`
/// rows from the others, offline an m-subset of all rows per model. Returns the membership
/// and the number of rows of each model.
fn sized_assignment(
    rows: usize,
    targets: usize,
    k: usize,
    m: usize,
    seed: u64,
) -> (Vec<bool>, Vec<usize>) {
    let mut out = vec![false; rows * k];
    let balanced = balanced_assignment(targets, k, seed, Purpose::ReferenceMembership);
    out[..targets * k].copy_from_slice(&balanced);
    let others = rows - targets;
    let held: Vec<usize> = (0..k)
        .map(|model| (0..targets).filter(|&r| balanced[r * k + model]).count())
        .collect();
    let fills: Vec<usize> = held
        .iter()
        .map(|&h| m.saturating_sub(h).min(max_subset(others)))
        .collect();
    for (model, subset) in lap_subsets(others, &fills, seed).iter().enumerate() {
        for &j in subset {
            out[(targets + j) * k + model] = true;
        }
    }
    (out, held.iter().zip(&fills).map(|(h, f)| h + f).collect())
}

/// Subsets of `0..n` of the given sizes (each ≤ n, distinct rows within a subset), dealt in
/// order from a sequence of seeded permutations ("laps", stream `ReferenceSubset`, index: the
/// lap): subset k takes the next `sizes[k]` rows, continuing into a fresh permutation when a
/// lap runs out (whose first rows are reordered to avoid rows the subset already holds). Every
/// lap deals each row once, so the number of subsets holding a row differs by at most one
/// between rows.
fn lap_subsets(n: usize, sizes: &[usize], seed: u64) -> Vec<Vec<usize>> {
    let permutation = |lap: u64| {
        let mut p: Vec<usize> = (0..n).collect();
        p.shuffle(&mut Purpose::ReferenceSubset.rng(seed, lap));
        p
    };
    let (mut lap, mut pos) = (0, 0);
    let mut perm = permutation(0);
    sizes
        .iter()
        .map(|&f| {
            debug_assert!(f <= n);
            let mut mine = vec![false; n];
            let mut rows = Vec::with_capacity(f);
            while rows.len() < f {
                if pos == n {
                    lap += 1;
                    perm = permutation(lap);
                    pos = 0;
                    // the first `need` rows of the new lap must be new to this subset; there
                    // are n − rows.len() ≥ need such rows
                    let need = f - rows.len();
                    let mut j = 0;
                    for i in 0..need {
                        if mine[perm[i]] {
                            j = j.max(i + 1);
                            while mine[perm[j]] {
                                j += 1;
                            }
                            perm.swap(i, j);
                        }
                    }
                }
                let r = perm[pos];
                pos += 1;
                mine[r] = true;
                rows.push(r);
            }
            rows
        })
        .collect()
}

/// K reference models and the logit confidence `φ_k(x)` of every target and population row
/// under each of them (the models themselves are not kept).
#[derive(Clone, Debug)]
pub struct ReferenceSet {
    config: ReferenceConfig,
    n_targets: usize,
    n_population: usize,
    target_stats: DMatrix<f64>,
    population_stats: DMatrix<f64>,
    target_in: Vec<bool>,
    population_in: Vec<bool>,
    descriptor: ReferenceDescriptor,
}

impl ReferenceSet {
    /// Trains the K reference models in parallel and records `φ_k` on every target and
    /// population row (see the module docs for the pool and the assignment).
    ///
    /// # Errors
    /// [`MiaError::InvalidParameter`] for an odd or too small K, or an offline run without
    /// population; [`MiaError::UnsupportedLoss`] for a squared-loss target; label and
    /// dimension errors; [`MiaError::Training`] when a reference model fails to train.
    pub fn train<'a>(
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
        config: &ReferenceConfig,
    ) -> Result<Self> {
        let start = Instant::now();
        let target = target.into();
        require_logistic(target, "a reference-model attack")?;
        let k = config.n_reference;
        if k < 2 || !k.is_multiple_of(2) {
            return Err(invalid("n_reference", k, "must be even and at least 2"));
        }
        if targets.is_empty() {
            return Err(MiaError::Empty {
                what: "target examples",
            });
        }
        if !config.online && population.n_samples() < 2 {
            return Err(invalid(
                "population",
                format!("{} rows", population.n_samples()),
                "offline reference models are trained on the population: need at least 2 rows",
            ));
        }
        let pool = if config.online {
            targets.stack(population)?
        } else {
            population.clone()
        };
        let trainer = Trainer::new(target, &pool, &config.training)?;
        let loss = trainer.params.loss;
        let (nt, np) = (targets.n_samples(), population.n_samples());
        let (assignment, sizes) = match config.training_rows {
            None => (
                balanced_assignment(
                    pool.n_samples(),
                    k,
                    config.seed,
                    Purpose::ReferenceMembership,
                ),
                None,
            ),
            Some(0) => return Err(invalid("training_rows", 0, "must be at least 1")),
            Some(m) => {
                let balanced_targets = if config.online { nt } else { 0 };
                let (a, sizes) =
                    sized_assignment(pool.n_samples(), balanced_targets, k, m, config.seed);
                (a, Some(sizes))
            }
        };
        let target_labels = target.labels(targets)?;
        let pop_labels = if population.is_empty() {
            None
        } else {
            Some(target.labels(population)?)
        };
        let offset = if config.online { nt } else { 0 };
        let per_model: Vec<(Vec<f64>, Vec<f64>, usize)> = (0..k)
            .into_par_iter()
            .map(|m| {
                let mask: Vec<bool> = (0..pool.n_samples())
                    .map(|i| assignment[i * k + m])
                    .collect();
                let noise = NoiseSource {
                    seed: config.seed,
                    purpose: Purpose::ReferenceNoise,
                    index: m as u64,
                };
                let model = trainer.fit(&mask, noise, &|| format!("reference #{m}"))?;
                let t = from_margins(
                    Statistic::LogitConfidence,
                    loss,
                    &model.margins(targets.features())?,
                    &target_labels,
                )?;
                let p = match &pop_labels {
                    Some(l) => from_margins(
                        Statistic::LogitConfidence,
                        loss,
                        &model.margins(population.features())?,
                        l,
                    )?,
                    None => Vec::new(),
                };
                Ok((t, p, mask.iter().filter(|b| **b).count()))
            })
            .collect::<Result<_>>()?;
        let target_stats = DMatrix::from_fn(nt, k, |i, m| per_model[m].0[i]);
        let population_stats = DMatrix::from_fn(np, k, |i, m| per_model[m].1[i]);
        let target_in = if config.online {
            assignment[..nt * k].to_vec()
        } else {
            vec![false; nt * k]
        };
        let population_in = assignment[offset * k..(offset + np) * k].to_vec();
        let params = trainer.params;
        let descriptor = ReferenceDescriptor {
            n_reference: k,
            online: config.online,
            seed: config.seed,
            pool_size: pool.n_samples(),
            mean_training_size: per_model.iter().map(|m| m.2 as f64).sum::<f64>() / k as f64,
            requested_training_size: config.training_rows,
            min_training_size: sizes.as_ref().and_then(|s| s.iter().min().copied()),
            max_training_size: sizes.as_ref().and_then(|s| s.iter().max().copied()),
            shortfall: shortfall(config, sizes.as_deref(), nt, np),
            assignment: assignment_name(config).into(),
            loss: params.loss.name().into(),
            lambda: params.lambda,
            sigma: params.sigma,
            noise: params.noise.name().into(),
            solver: params.solver.kind.name().into(),
            tolerance: params.solver.tolerance,
            warm_start: config.training.warm_start,
            members: trainer.members(),
            aggregation: trainer.aggregation(),
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok(Self {
            config: *config,
            n_targets: nt,
            n_population: np,
            target_stats,
            population_stats,
            target_in,
            population_in,
            descriptor,
        })
    }

    /// The settings it was trained with.
    pub fn config(&self) -> &ReferenceConfig {
        &self.config
    }

    /// Number of target rows.
    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    /// Number of population rows.
    pub fn n_population(&self) -> usize {
        self.n_population
    }

    /// `φ_k(target i)`, n_targets × K.
    pub fn target_statistics(&self) -> &DMatrix<f64> {
        &self.target_stats
    }

    /// `φ_k(population j)`, n_population × K.
    pub fn population_statistics(&self) -> &DMatrix<f64> {
        &self.population_stats
    }

    /// Whether reference model `k` trained on target `i` (always false offline).
    pub fn target_in(&self, i: usize, k: usize) -> bool {
        self.target_in[i * self.config.n_reference + k]
    }

    /// Whether reference model `k` trained on population row `j`.
    pub fn population_in(&self, j: usize, k: usize) -> bool {
        self.population_in[j * self.config.n_reference + k]
    }

    /// The descriptor for result files.
    pub fn descriptor(&self) -> &ReferenceDescriptor {
        &self.descriptor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_balanced_and_seeded() {
        let a = balanced_assignment(50, 8, 1, Purpose::ReferenceMembership);
        for r in 0..50 {
            assert_eq!(a[r * 8..(r + 1) * 8].iter().filter(|b| **b).count(), 4);
        }
        assert_eq!(
            a,
            balanced_assignment(50, 8, 1, Purpose::ReferenceMembership)
        );
        assert_ne!(
            a,
            balanced_assignment(50, 8, 2, Purpose::ReferenceMembership)
        );
    }
}

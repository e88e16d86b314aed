//! SISA training (Bourtoule et al., *Machine Unlearning*, IEEE S&P 2021): Sharded, Isolated,
//! Sliced, Aggregated. Exact removal by retraining only the shard that held the row.
//!
//! **Partition.** A seeded permutation of `0..n` (stream [`Purpose::SisaPartition`]) is cut into
//! S contiguous, balanced shards (sizes differ by at most one: shard s gets permutation
//! positions ⌊sn/S⌋ .. ⌊(s+1)n/S⌋), and every shard into R balanced slices the same way. The
//! assignment of rows to shards and slices depends only on n, S, R and the seed — never on
//! which rows are active — so a fresh SISA training without some rows (same seed) has the
//! same shards.
//!
//! **Training.** Every shard has one model per class (one for binary data) trained with
//! lethe-models on the perturbed objective of the shard's rows, with its own b drawn from
//! [`Purpose::SisaNoise`]`.stream((s << 16) + k)` (shard s, class model k; the same
//! b for every (re)training of the shard, so that retraining reproduces a fresh training).
//! The shard's rows are copied once into their own matrix (ordered by slice), so training a
//! shard costs O(n/S) per pass over the data, not O(n); removed rows are masked out.
//! With R slices, training is incremental: stage r trains on slices 0..=r (the active rows
//! among them, regulariser λ·n_stage) warm-started from the checkpoint of stage r − 1 (zero
//! for r = 0), and every stage's weights are kept as a checkpoint. The final stage is the
//! shard's model. A stage with no active rows keeps the previous checkpoint (zero weights for
//! stage 0), and a shard with no active rows takes no part in predictions.
//!
//! **Removal.** A row in slice r of shard s marks the row removed and reruns stages r..R−1 of
//! shard s from checkpoint r − 1. Every stage is solved to the solver tolerance, so the result
//! equals a fresh SISA training on the remaining rows with the same seed (bit for bit: the
//! same operations on the same inputs). The guarantee is [`Guarantee::Exact`].
//!
//! **Aggregation.** [`SisaAggregation::Vote`]: binary — majority of the shards' signs (z ≥ 0 is
//! +1; ties → +1); one-vs-rest — the most frequent arg-max class (ties → the tied class with
//! the largest averaged decision value). [`SisaAggregation::Average`]: sign / arg-max of the
//! averaged decision values. [`RemovalStrategy::decision_function`] always returns the
//! averaged decision values (over shards with active rows).

use std::sync::Arc;
use std::time::Instant;

use lethe_data::{DataError, Dataset};
use lethe_models::LinearModelParams;
use lethe_models::noise::Purpose;
use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{Guarantee, RemovalOutcome, RemovalStrategy};
use crate::certified::{decision_accuracy, label_sets, validate_request};
use crate::error::{RemovalError, Result};

/// How SISA combines its shard models' predictions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SisaAggregation {
    /// Majority vote of the shard models' predicted labels (the SISA paper's default).
    #[default]
    Vote,
    /// The label of the averaged decision values.
    Average,
}

impl SisaAggregation {
    /// `vote` or `average`.
    pub fn name(&self) -> &'static str {
        match self {
            SisaAggregation::Vote => "vote",
            SisaAggregation::Average => "average",
        }
    }
}

/// SISA's layout: S shards of R slices each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SisaConfig {
    /// Number of shards S ≥ 1.
    pub shards: usize,
    /// Number of slices per shard R ≥ 1 (1: no incremental training).
    pub slices: usize,
    /// How predictions are aggregated.
    pub aggregation: SisaAggregation,
}

#[derive(Clone, Debug)]
struct Shard {
    /// Global row indices, ordered by slice.
    rows: Vec<usize>,
    /// End (exclusive) of slice r in `rows`.
    slice_ends: Vec<usize>,
    /// The shard's rows of X, in `rows` order.
    x: DMatrix<f64>,
    /// Labels per class model, in `rows` order.
    labels: Vec<DVector<f64>>,
    /// Which of the shard's rows remain.
    active: Vec<bool>,
    /// b per class model.
    noise: Vec<DVector<f64>>,
    /// checkpoints[r][k]: weights of class model k after stage r.
    checkpoints: Vec<Vec<DVector<f64>>>,
}

impl Shard {
    fn n_active(&self) -> usize {
        self.active.iter().filter(|a| **a).count()
    }

    fn weights(&self) -> &[DVector<f64>] {
        self.checkpoints.last().map_or(&[], |c| c.as_slice())
    }

    /// Reruns stages `from..R` (from the checkpoint of stage `from − 1`) with `active`,
    /// returning the new checkpoints of those stages.
    fn train_from(
        &self,
        params: &LinearModelParams,
        active: &[bool],
        from: usize,
    ) -> Result<Vec<Vec<DVector<f64>>>> {
        let d = self.x.ncols();
        let k_models = self.labels.len();
        let mut prev: Vec<DVector<f64>> = if from == 0 {
            vec![DVector::zeros(d); k_models]
        } else {
            self.checkpoints[from - 1].clone()
        };
        let mut out = Vec::with_capacity(self.slice_ends.len() - from);
        for &end in &self.slice_ends[from..] {
            let mask = &active[..end];
            if mask.iter().any(|a| *a) {
                let full = end == self.x.nrows();
                let x_owned;
                let x = if full {
                    &self.x
                } else {
                    x_owned = self.x.rows(0, end).into_owned();
                    &x_owned
                };
                let mut next = Vec::with_capacity(k_models);
                for (k, y) in self.labels.iter().enumerate() {
                    let y_stage = if full {
                        y.clone()
                    } else {
                        y.rows(0, end).into_owned()
                    };
                    let m = params.fit_parts(
                        x,
                        &y_stage,
                        Some(mask),
                        self.noise[k].clone(),
                        Some(prev[k].clone()),
                    )?;
                    next.push(m.weights);
                }
                prev = next;
            }
            out.push(prev.clone());
        }
        Ok(out)
    }
}

/// SISA: S shard models (optionally trained over R slices with checkpoints), exact removal by
/// retraining one shard (see the module docs).
#[derive(Clone, Debug)]
pub struct SisaStrategy {
    params: LinearModelParams,
    config: SisaConfig,
    data: Arc<Dataset>,
    classes: Vec<Option<f64>>,
    shards: Vec<Shard>,
    /// Row → (shard, position in the shard).
    location: Vec<(usize, usize)>,
    active: Vec<bool>,
    n_active: usize,
    requests: usize,
    train_seconds: f64,
}

impl SisaStrategy {
    /// Trains S × R stages on every row of `data`.
    ///
    /// # Errors
    /// `shards` or `slices` is 0 or `shards · slices` > n ([`DataError::InvalidParameter`]);
    /// invalid model parameters or labels; a solver that does not converge.
    pub fn train(
        params: LinearModelParams,
        data: Arc<Dataset>,
        seed: u64,
        config: SisaConfig,
    ) -> Result<Self> {
        let n = data.n_samples();
        Self::train_masked(params, data, seed, config, vec![true; n])
    }

    /// Trains with only the rows with `active[i]` (the shard assignment still covers every
    /// row): a fresh SISA training "without" the inactive rows, which is what a sequence of
    /// removals must equal.
    ///
    /// # Errors
    /// As [`SisaStrategy::train`]; also a mask of the wrong length or without active rows.
    pub fn train_masked(
        params: LinearModelParams,
        data: Arc<Dataset>,
        seed: u64,
        config: SisaConfig,
        active: Vec<bool>,
    ) -> Result<Self> {
        params.check()?;
        let n = data.n_samples();
        let d = data.n_features();
        if config.shards == 0 || config.slices == 0 {
            return Err(RemovalError::Data(DataError::InvalidParameter {
                name: if config.shards == 0 {
                    "shards"
                } else {
                    "slices"
                },
                value: "0".into(),
                reason: "SISA needs at least one shard and one slice per shard".into(),
            }));
        }
        if config.shards.saturating_mul(config.slices) > n {
            return Err(RemovalError::Data(DataError::InvalidParameter {
                name: "shards",
                value: config.shards.to_string(),
                reason: format!(
                    "{} shards × {} slices need at least that many rows; the data have {n}",
                    config.shards, config.slices
                ),
            }));
        }
        if active.len() != n {
            return Err(RemovalError::Model(
                lethe_models::ModelError::LengthMismatch {
                    what: "active-row mask",
                    expected: n,
                    found: active.len(),
                },
            ));
        }
        let n_active = active.iter().filter(|a| **a).count();
        if n_active == 0 {
            return Err(RemovalError::Model(lethe_models::ModelError::NoActiveRows));
        }
        let label_sets = label_sets(&data, params.loss)?;
        let classes: Vec<Option<f64>> = label_sets.iter().map(|(c, _)| *c).collect();

        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut Purpose::SisaPartition.rng(seed, 0));
        let s_count = config.shards;
        let r_count = config.slices;
        let start = Instant::now();
        let mut location = vec![(0, 0); n];
        let mut shards = Vec::with_capacity(s_count);
        for s in 0..s_count {
            let rows: Vec<usize> = perm[s * n / s_count..(s + 1) * n / s_count].to_vec();
            let ns = rows.len();
            let slice_ends: Vec<usize> = (1..=r_count).map(|r| r * ns / r_count).collect();
            for (p, &i) in rows.iter().enumerate() {
                location[i] = (s, p);
            }
            let x = DMatrix::from_fn(ns, d, |r, c| data.features()[(rows[r], c)]);
            let labels: Vec<DVector<f64>> = label_sets
                .iter()
                .map(|(_, y)| DVector::from_fn(ns, |r, _| y[rows[r]]))
                .collect();
            let noise = (0..label_sets.len())
                .map(|k| {
                    params.draw_noise(
                        d,
                        seed,
                        Purpose::SisaNoise.stream(((s as u64) << 16) + k as u64),
                    )
                })
                .collect::<lethe_models::Result<Vec<_>>>()?;
            let shard_active: Vec<bool> = rows.iter().map(|&i| active[i]).collect();
            let mut shard = Shard {
                rows,
                slice_ends,
                x,
                labels,
                active: shard_active,
                noise,
                checkpoints: Vec::new(),
            };
            shard.checkpoints = shard.train_from(&params, &shard.active, 0)?;
            shards.push(shard);
        }
        Ok(Self {
            params,
            config,
            data,
            classes,
            shards,
            location,
            active,
            n_active,
            requests: 0,
            train_seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The layout.
    pub fn config(&self) -> SisaConfig {
        self.config
    }

    /// Seconds of the initial training (all shards and slices).
    pub fn train_seconds(&self) -> f64 {
        self.train_seconds
    }

    /// The shard and slice that hold training row `i` (`None` if out of range).
    pub fn shard_of(&self, i: usize) -> Option<(usize, usize)> {
        let &(s, p) = self.location.get(i)?;
        let slice = self.shards[s].slice_ends.iter().position(|&e| p < e)?;
        Some((s, slice))
    }

    /// The global row indices of shard `s`, ordered by slice.
    pub fn shard_rows(&self, s: usize) -> Option<&[usize]> {
        self.shards.get(s).map(|sh| sh.rows.as_slice())
    }

    /// The final weights of shard `s` (one vector per class model; zero if the shard never had
    /// an active row).
    pub fn shard_weights(&self, s: usize) -> Option<&[DVector<f64>]> {
        self.shards.get(s).map(Shard::weights)
    }

    /// The checkpoint weights of shard `s` after stage `r` (one vector per class model).
    pub fn checkpoint(&self, s: usize, r: usize) -> Option<&[DVector<f64>]> {
        self.shards
            .get(s)
            .and_then(|sh| sh.checkpoints.get(r))
            .map(Vec::as_slice)
    }

    /// Decision values of every shard with active rows: one n × K matrix per shard.
    pub fn shard_decisions(&self, x: &DMatrix<f64>) -> Result<Vec<DMatrix<f64>>> {
        let d = self.data.n_features();
        if x.ncols() != d {
            return Err(RemovalError::Data(DataError::DimensionMismatch {
                expected: d,
                found: x.ncols(),
                context: "features given to a SISA ensemble".into(),
            }));
        }
        Ok(self
            .shards
            .iter()
            .filter(|s| s.n_active() > 0)
            .map(|s| x * DMatrix::from_columns(s.weights()))
            .collect())
    }

    /// Aggregated predictions: ±1 for binary models, the class label for one-vs-rest.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<DVector<f64>> {
        let per_shard = self.shard_decisions(x)?;
        let avg = average(&per_shard, x.nrows(), self.classes.len());
        let k_models = self.classes.len();
        let label = |k: usize| self.classes[k].unwrap_or(1.0);
        Ok(DVector::from_fn(x.nrows(), |i, _| {
            match self.config.aggregation {
                SisaAggregation::Average => {
                    if k_models == 1 {
                        sign(avg[(i, 0)])
                    } else {
                        label(avg.row(i).transpose().argmax().0)
                    }
                }
                SisaAggregation::Vote => {
                    if k_models == 1 {
                        let plus = per_shard.iter().filter(|z| z[(i, 0)] >= 0.0).count();
                        if 2 * plus >= per_shard.len() {
                            1.0
                        } else {
                            -1.0
                        }
                    } else {
                        let mut votes = vec![0usize; k_models];
                        for z in &per_shard {
                            votes[z.row(i).transpose().argmax().0] += 1;
                        }
                        let most = votes.iter().copied().max().unwrap_or(0);
                        let best = (0..k_models)
                            .filter(|&k| votes[k] == most)
                            .fold(None::<usize>, |b, k| match b {
                                Some(b) if avg[(i, b)] >= avg[(i, k)] => Some(b),
                                _ => Some(k),
                            })
                            .unwrap_or(0);
                        label(best)
                    }
                }
            }
        }))
    }
}

fn sign(v: f64) -> f64 {
    if v >= 0.0 { 1.0 } else { -1.0 }
}

fn average(per_shard: &[DMatrix<f64>], n: usize, k: usize) -> DMatrix<f64> {
    let mut sum = DMatrix::zeros(n, k);
    for z in per_shard {
        sum += z;
    }
    if !per_shard.is_empty() {
        sum /= per_shard.len() as f64;
    }
    sum
}

impl RemovalStrategy for SisaStrategy {
    fn name(&self) -> &str {
        "sisa"
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::Exact
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        validate_request(&self.active, self.n_active, indices)?;
        let start = Instant::now();
        // Group by shard: the earliest slice hit in each.
        let mut first_slice: Vec<Option<usize>> = vec![None; self.shards.len()];
        let mut masks: Vec<Option<Vec<bool>>> = vec![None; self.shards.len()];
        for &i in indices {
            let (s, p) = self.location[i];
            let slice = self.shards[s]
                .slice_ends
                .iter()
                .position(|&e| p < e)
                .unwrap_or(0);
            first_slice[s] = Some(first_slice[s].map_or(slice, |f: usize| f.min(slice)));
            masks[s].get_or_insert_with(|| self.shards[s].active.clone())[p] = false;
        }
        // Retrain the touched shards; commit only if all succeed.
        let mut updates = Vec::new();
        for (s, from) in first_slice.iter().enumerate() {
            if let (Some(from), Some(mask)) = (from, &masks[s]) {
                let new = self.shards[s].train_from(&self.params, mask, *from)?;
                updates.push((s, *from, new));
            }
        }
        for (s, from, new) in updates {
            let shard = &mut self.shards[s];
            shard.checkpoints.truncate(from);
            shard.checkpoints.extend(new);
            if let Some(mask) = masks[s].take() {
                shard.active = mask;
            }
        }
        for &i in indices {
            self.active[i] = false;
        }
        self.n_active -= indices.len();
        self.requests += 1;
        Ok(RemovalOutcome::uncertified(
            self.requests,
            indices,
            start,
            true,
        ))
    }

    fn active(&self) -> &[bool] {
        &self.active
    }

    /// The averaged decision values over the shards with active rows.
    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let per_shard = self.shard_decisions(x)?;
        Ok(average(&per_shard, x.nrows(), self.classes.len()))
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.classes.clone()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        None
    }

    /// Accuracy of the aggregated predictions (vote or average, per the configuration).
    fn accuracy(&self, data: &Dataset) -> Result<f64> {
        match self.config.aggregation {
            SisaAggregation::Average => {
                let z = self.decision_function(data.features())?;
                Ok(decision_accuracy(&z, &self.classes, data.labels()))
            }
            SisaAggregation::Vote => {
                let p = self.predict(data.features())?;
                let hits = p
                    .iter()
                    .zip(data.labels().iter())
                    .filter(|(a, b)| a == b)
                    .count();
                Ok(hits as f64 / data.n_samples() as f64)
            }
        }
    }
}

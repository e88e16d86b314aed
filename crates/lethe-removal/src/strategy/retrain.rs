//! Retraining from scratch: the exact reference every other strategy is measured against.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, Stream};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{Guarantee, RemovalOutcome, RemovalStrategy, decision_from_weights};
use crate::certified::{label_sets, validate_request};
use crate::error::Result;

/// Which perturbation a retrain uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetrainNoise {
    /// A fresh b for every retrain (the distribution certified removal is compared to).
    #[default]
    Fresh,
    /// The training b every time (a deterministic reference: ‖w − w_retrain‖ then measures
    /// the removal error alone).
    Same,
}

/// Algorithm 1 on the remaining rows after every request.
#[derive(Clone, Debug)]
pub struct RetrainStrategy {
    params: LinearModelParams,
    seed: u64,
    noise_mode: RetrainNoise,
    data: Arc<Dataset>,
    active: Vec<bool>,
    n_active: usize,
    classes: Vec<(Option<f64>, DVector<f64>)>,
    initial_noise: Vec<DVector<f64>>,
    weights: Vec<DVector<f64>>,
    requests: usize,
}

impl RetrainStrategy {
    /// Trains on every row with b_k from the training streams of `seed` — the same b as
    /// [`crate::CertifiedModel::train`] with the same seed.
    pub fn train(
        params: LinearModelParams,
        data: Arc<Dataset>,
        seed: u64,
        noise_mode: RetrainNoise,
    ) -> Result<Self> {
        params.check()?;
        let classes = label_sets(&data, params.loss)?;
        let d = data.n_features();
        let initial_noise = (0..classes.len())
            .map(|k| params.draw_noise(d, seed, Stream::TrainingNoise { class: k as u32 }))
            .collect::<lethe_models::Result<Vec<_>>>()?;
        let n = data.n_samples();
        let mut s = Self {
            params,
            seed,
            noise_mode,
            active: vec![true; n],
            n_active: n,
            classes,
            weights: Vec::new(),
            initial_noise: initial_noise.clone(),
            data,
            requests: 0,
        };
        s.weights = s.fit(&initial_noise)?;
        Ok(s)
    }

    fn fit(&self, noise: &[DVector<f64>]) -> Result<Vec<DVector<f64>>> {
        self.classes
            .iter()
            .zip(noise)
            .map(|((_, y), b)| {
                Ok(self
                    .params
                    .fit_parts(self.data.features(), y, Some(&self.active), b.clone(), None)?
                    .weights)
            })
            .collect()
    }
}

impl RemovalStrategy for RetrainStrategy {
    fn name(&self) -> &str {
        "retrain"
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::Exact
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        validate_request(&self.active, self.n_active, indices)?;
        let start = Instant::now();
        let previous = self.active.clone();
        for &i in indices {
            self.active[i] = false;
        }
        let noise = match self.noise_mode {
            RetrainNoise::Same => self.initial_noise.clone(),
            RetrainNoise::Fresh => (0..self.classes.len())
                .map(|k| {
                    self.params.draw_noise(
                        self.data.n_features(),
                        self.seed,
                        Stream::RetrainNoise {
                            class: k as u32,
                            retrain: self.requests as u32 + 1,
                        },
                    )
                })
                .collect::<lethe_models::Result<Vec<_>>>()?,
        };
        match self.fit(&noise) {
            Ok(w) => self.weights = w,
            Err(e) => {
                self.active = previous;
                return Err(e);
            }
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

    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        decision_from_weights(x, &self.weights)
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.classes.iter().map(|(c, _)| *c).collect()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(DMatrix::from_columns(&self.weights))
    }
}

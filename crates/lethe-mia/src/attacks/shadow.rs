//! The shadow-model attack of Shokri, Stronati, Song and Shmatikov, *Membership Inference
//! Attacks Against Machine Learning Models* (IEEE S&P 2017), with the label-free sorted
//! confidence features of Salem et al. (*ML-Leaks*, NDSS 2019).

use lethe_data::Dataset;
use lethe_models::loss::sigmoid;
use lethe_models::{LinearModel, LinearModelParams};
use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput};
use crate::error::{MiaError, Result, invalid};
use crate::reference::{NoiseSource, ReferenceTraining, Trainer, require_logistic};
use crate::target::{Labels, TargetModel};
use lethe_models::noise::Purpose;

/// Features the attack model sees for one example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShadowFeatures {
    /// The predicted probabilities sorted in decreasing order, label-free (Salem et al.):
    /// binary `(max(p, 1−p), min(p, 1−p))`; one-vs-rest the normalised per-class sigmoids
    /// `q_k = σ(z_k) / Σ_j σ(z_j)`, sorted.
    SortedConfidences,
    /// The sorted probabilities followed by the probability of the true label (`σ(yz)`,
    /// one-vs-rest `σ(z_c)`), which lets one attack model play the role of Shokri et al.'s
    /// per-class attack models.
    SortedConfidencesAndTrueLabel,
}

/// Shokri et al.'s attack: k shadow models, each trained like the target on its own part of
/// the population; the attack model is lethe's L2-regularised logistic regression, trained on
/// the shadow models' features of their training rows (label +1, member) and of as many rows
/// they did not see (label −1). The membership score of a target example is the attack model's
/// decision value `vᵀf(x)` on the target model's features (a constant feature 1 gives the
/// attack model an intercept).
///
/// The population is shuffled (seeded) and cut into `n_shadow` **disjoint** blocks of
/// `2 · shadow_train_size` rows: the first half of each block trains that shadow model, the
/// second half is its non-member set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShadowAttack {
    /// Number of shadow models.
    pub n_shadow: usize,
    /// Training rows per shadow model; `None`: `⌊population / (2 · n_shadow)⌋`. Match the
    /// target's training-set size where the population allows.
    pub shadow_train_size: Option<usize>,
    /// Attack-model features.
    pub features: ShadowFeatures,
    /// λ of the attack model (default 1e-4).
    pub attack_lambda: f64,
    /// Seed of the partition and of the shadow models' noise.
    pub seed: u64,
    /// How shadow models are trained.
    pub training: ReferenceTraining,
}

impl Default for ShadowAttack {
    fn default() -> Self {
        Self {
            n_shadow: 8,
            shadow_train_size: None,
            features: ShadowFeatures::SortedConfidences,
            attack_lambda: 1e-4,
            seed: 0,
            training: ReferenceTraining::default(),
        }
    }
}

/// Feature rows (with a trailing 1) of examples from their margins (n × K) and labels.
fn features(kind: ShadowFeatures, margins: &DMatrix<f64>, labels: &Labels) -> Vec<Vec<f64>> {
    (0..margins.nrows())
        .map(|i| {
            let mut probs: Vec<f64> = if margins.ncols() == 1 {
                let z = margins[(i, 0)];
                vec![sigmoid(z), sigmoid(-z)]
            } else {
                let s: Vec<f64> = margins.row(i).iter().map(|&z| sigmoid(z)).collect();
                let total: f64 = s.iter().sum();
                s.iter().map(|v| v / total).collect()
            };
            probs.sort_by(|a, b| b.total_cmp(a));
            if kind == ShadowFeatures::SortedConfidencesAndTrueLabel {
                probs.push(match labels {
                    Labels::Binary(y) => sigmoid(y[i] * margins[(i, 0)]),
                    Labels::Classes(c) => sigmoid(margins[(i, c[i])]),
                });
            }
            probs.push(1.0);
            probs
        })
        .collect()
}

impl ShadowAttack {
    /// Trains the shadow models and the attack model, then scores every row of `targets`.
    ///
    /// # Errors
    /// [`MiaError::InvalidParameter`] for no shadow model, a non-positive attack λ, or a
    /// population too small for the disjoint blocks; [`MiaError::UnsupportedLoss`] for a
    /// squared-loss target; [`MiaError::Training`] when a model fails to train.
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
    ) -> Result<AttackOutput> {
        let target = target.into();
        require_logistic(target, "the shadow-model attack")?;
        if self.n_shadow == 0 {
            return Err(invalid("n_shadow", 0, "must be at least 1"));
        }
        if !(self.attack_lambda.is_finite() && self.attack_lambda > 0.0) {
            return Err(invalid(
                "attack_lambda",
                self.attack_lambda,
                "must be finite and > 0",
            ));
        }
        let s = self
            .shadow_train_size
            .unwrap_or(population.n_samples() / (2 * self.n_shadow));
        let needed = s.checked_mul(2).and_then(|v| v.checked_mul(self.n_shadow));
        if s == 0 || needed.is_none_or(|v| v > population.n_samples()) {
            return Err(invalid(
                "shadow_train_size",
                s,
                format!(
                    "{} disjoint blocks of 2 · {s} rows do not fit in a population of {} rows",
                    self.n_shadow,
                    population.n_samples()
                ),
            ));
        }
        let trainer = Trainer::new(target, population, &self.training)?;
        let pop_labels = target.labels(population)?;
        let mut perm: Vec<usize> = (0..population.n_samples()).collect();
        perm.shuffle(&mut Purpose::ShadowPartition.rng(self.seed, 0));
        // each shadow model: feature rows of its members and non-members
        let per_shadow: Vec<Vec<(Vec<f64>, bool)>> = (0..self.n_shadow)
            .into_par_iter()
            .map(|k| {
                let block = &perm[2 * s * k..2 * s * (k + 1)];
                let mut mask = vec![false; population.n_samples()];
                for &i in &block[..s] {
                    mask[i] = true;
                }
                let noise = NoiseSource {
                    seed: self.seed,
                    purpose: Purpose::ShadowNoise,
                    index: k as u64,
                };
                let model = trainer.fit(&mask, noise, &|| format!("shadow #{k}"))?;
                let rows = population.select(block)?;
                let margins = model.margins(rows.features())?;
                let labels = match &pop_labels {
                    Labels::Binary(y) => Labels::Binary(block.iter().map(|&i| y[i]).collect()),
                    Labels::Classes(c) => Labels::Classes(block.iter().map(|&i| c[i]).collect()),
                };
                Ok(features(self.features, &margins, &labels)
                    .into_iter()
                    .enumerate()
                    .map(|(j, f)| (f, j < s))
                    .collect())
            })
            .collect::<Result<_>>()?;
        let rows: Vec<&(Vec<f64>, bool)> = per_shadow.iter().flatten().collect();
        let feature_rows: Vec<Vec<f64>> = rows.iter().map(|r| r.0.clone()).collect();
        let labels: Vec<f64> = rows.iter().map(|r| if r.1 { 1.0 } else { -1.0 }).collect();
        let attack_data = Dataset::from_rows(&feature_rows, labels)?;
        let attack_params = LinearModelParams::logistic(self.attack_lambda, 0.0);
        let attack_model: LinearModel = attack_params
            .fit_with_noise(&attack_data, DVector::zeros(attack_data.n_features()))
            .map_err(|source| MiaError::Training {
                role: "attack".into(),
                source,
            })?;
        let target_features = features(
            self.features,
            &target.margins(targets.features())?,
            &target.labels(targets)?,
        );
        let scores: Vec<f64> = target_features
            .iter()
            .map(|f| {
                f.iter()
                    .zip(attack_model.weights.iter())
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        let mut descriptor = AttackDescriptor::new(
            "shadow_models",
            format!(
                "{} disjoint shadow models of {s} training rows, logistic attack model on {}",
                self.n_shadow,
                match self.features {
                    ShadowFeatures::SortedConfidences => "sorted confidences",
                    ShadowFeatures::SortedConfidencesAndTrueLabel =>
                        "sorted confidences and the true-label confidence",
                }
            ),
            "predicted probabilities",
            "Shokri, Stronati, Song, Shmatikov: Membership Inference Attacks Against Machine Learning Models (IEEE S&P 2017)",
            target,
        )
        .param("shadow_train_size", s)
        .param("attack_lambda", self.attack_lambda)
        .param("features", serde_json::to_value(self.features).unwrap_or_default())
        .param(
            "attack_weights",
            attack_model.weights.iter().copied().collect::<Vec<f64>>(),
        );
        descriptor.n_reference = Some(self.n_shadow);
        descriptor.online = Some(false);
        descriptor.seed = Some(self.seed);
        AttackOutput::new(scores, descriptor)
    }
}

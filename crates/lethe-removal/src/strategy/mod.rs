//! Removal strategies behind one trait, so one experiment can run every strategy on the same
//! request sequence and report the same fields (DESIGN §2).
//!
//! - `newton`: certified removal ([`crate::CertifiedModel`]), (ε, δ)-certified (a
//!   [`Guarantee::Replay`] when b was given explicitly);
//! - `retrain`: Algorithm 1 on the remaining rows with a fresh b — the exact reference
//!   ([`RetrainStrategy`]);
//! - `influence`: Koh & Liang's one-step update with the full-data Hessian factored once
//!   ([`InfluenceStrategy`]), no guarantee;
//! - `sisa`: S shards (× R slices with checkpoints), one model per shard, vote or average;
//!   a removal retrains one shard ([`SisaStrategy`]), exact;
//! - `projective` (**heuristic**): Izzo et al.'s projective residual update
//!   ([`ProjectiveStrategy`]), no guarantee;
//! - `output_perturbation`: Sekhari et al.'s output perturbation, Newton removal on a secret
//!   unperturbed state, each release w_s + fresh N(0, σ²I) ([`OutputPerturbationStrategy`]),
//!   (ε, δ)-certified per release by a strong-convexity sensitivity bound;
//! - `descent_to_delete`: Neel et al.'s Descent-to-Delete, the same secret state and releases
//!   moved by gradient-descent steps instead of a Newton step.
//!
//! [`StrategySpec`] names a strategy in configs and [`build_strategy`] trains it; every
//! strategy trained from the same seed starts from comparable randomness (newton, retrain,
//! influence and projective from the same b of the training streams, hence the same initial
//! model; SISA from its own per-shard streams).

mod influence;
mod output_perturbation;
mod projective;
mod retrain;
mod sisa;

pub use influence::InfluenceStrategy;
pub use output_perturbation::{
    OutputPerturbationStrategy, ReleaseCertificate, SecretUpdate, output_perturbation_capacity,
    output_perturbation_worst_case,
};
pub use projective::ProjectiveStrategy;
pub use retrain::{RetrainNoise, RetrainStrategy};
pub use sisa::{SisaAggregation, SisaConfig, SisaStrategy};

use std::sync::Arc;

use lethe_data::Dataset;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::certified::{Certificate, CertifiedModel, CertifiedParams, decision_accuracy};
use crate::error::Result;

fn one() -> usize {
    1
}

/// A removal strategy and its settings, as named in experiment configs
/// (`{"strategy": "sisa", "shards": 5}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum StrategySpec {
    /// Certified Newton removal with budget and retraining ([`CertifiedModel`]).
    Newton,
    /// Retraining from scratch after every request ([`RetrainStrategy`]).
    Retrain {
        /// Fresh b per retrain (the default) or the training b every time.
        #[serde(default)]
        noise: RetrainNoise,
    },
    /// Influence-function update with the full-data Hessian ([`InfluenceStrategy`]).
    Influence,
    /// SISA ([`SisaStrategy`]).
    Sisa {
        /// Number of shards S ≥ 1.
        shards: usize,
        /// Slices per shard R ≥ 1 (default 1).
        #[serde(default = "one")]
        slices: usize,
        /// Vote (default) or average.
        #[serde(default)]
        aggregation: SisaAggregation,
    },
    /// **Heuristic**: Izzo et al.'s projective residual update ([`ProjectiveStrategy`]).
    Projective,
    /// Output perturbation with Newton removal on a secret state
    /// ([`OutputPerturbationStrategy`]).
    OutputPerturbation,
    /// Neel et al.'s Descent-to-Delete: output perturbation whose secret state follows the
    /// requests by gradient descent ([`OutputPerturbationStrategy`], [`SecretUpdate::Descent`]).
    DescentToDelete {
        /// Gradient steps per request (≥ 1; default 20).
        #[serde(default = "default_descent_steps")]
        steps: usize,
    },
}

fn default_descent_steps() -> usize {
    20
}

impl StrategySpec {
    /// The strategy's name: `newton`, `retrain`, `influence`, `sisa`, `projective` or
    /// `output_perturbation`.
    pub fn name(&self) -> &'static str {
        match self {
            StrategySpec::Newton => "newton",
            StrategySpec::Retrain { .. } => "retrain",
            StrategySpec::Influence => "influence",
            StrategySpec::Sisa { .. } => "sisa",
            StrategySpec::Projective => "projective",
            StrategySpec::OutputPerturbation => "output_perturbation",
            StrategySpec::DescentToDelete { .. } => "descent_to_delete",
        }
    }

    /// Whether the strategy releases its secret state plus fresh output noise
    /// (`output_perturbation`, `descent_to_delete`): its certificate is then about the exact
    /// b = 0 minimiser plus noise, not Algorithm 1's loss-perturbed retrain.
    pub fn releases_output_noise(&self) -> bool {
        matches!(
            self,
            StrategySpec::OutputPerturbation | StrategySpec::DescentToDelete { .. }
        )
    }

    /// A label that tells settings apart, for tables: `newton`, `retrain (fresh b)`,
    /// `retrain (same b)`, `influence`, `sisa (S=5, R=1, vote)`, `projective (heuristic)`.
    pub fn label(&self) -> String {
        match self {
            StrategySpec::Retrain { noise } => match noise {
                RetrainNoise::Fresh => "retrain (fresh b)".into(),
                RetrainNoise::Same => "retrain (same b)".into(),
            },
            StrategySpec::Sisa {
                shards,
                slices,
                aggregation,
            } => format!("sisa (S={shards}, R={slices}, {})", aggregation.name()),
            StrategySpec::Projective => "projective (heuristic)".into(),
            StrategySpec::DescentToDelete { steps } => format!("descent_to_delete (T={steps})"),
            other => other.name().into(),
        }
    }
}

/// Trains the strategy `spec` on `data` with every random stream derived from `seed`.
///
/// - `newton`: [`CertifiedModel::train`]`(params, data, seed)` (checks ‖x_i‖ ≤ 1 unless
///   `params.allow_unnormalized`);
/// - `retrain`: [`RetrainStrategy::train`]`(params.model, data, seed, noise)`;
/// - `influence` / `projective`: trained on `params.model` with the training streams of `seed`
///   (the same initial model as `newton`);
/// - `sisa`: `params.model` per shard, shard b from the SISA streams of `seed`.
///
/// # Errors
/// Whatever the strategy's training returns (invalid parameters, labels or layout; a solver
/// that does not converge).
pub fn build_strategy(
    spec: &StrategySpec,
    params: CertifiedParams,
    data: Arc<Dataset>,
    seed: u64,
) -> Result<Box<dyn RemovalStrategy>> {
    Ok(match spec {
        StrategySpec::Newton => Box::new(CertifiedModel::train(params, data, seed)?),
        StrategySpec::Retrain { noise } => {
            Box::new(RetrainStrategy::train(params.model, data, seed, *noise)?)
        }
        StrategySpec::Influence => Box::new(InfluenceStrategy::train(params.model, data, seed)?),
        StrategySpec::Sisa {
            shards,
            slices,
            aggregation,
        } => Box::new(SisaStrategy::train(
            params.model,
            data,
            seed,
            SisaConfig {
                shards: *shards,
                slices: *slices,
                aggregation: *aggregation,
            },
        )?),
        StrategySpec::Projective => Box::new(ProjectiveStrategy::train(params.model, data, seed)?),
        StrategySpec::OutputPerturbation => {
            Box::new(OutputPerturbationStrategy::train(params, data, seed)?)
        }
        StrategySpec::DescentToDelete { steps } => {
            Box::new(OutputPerturbationStrategy::train_with_update(
                params,
                data,
                seed,
                SecretUpdate::Descent { steps: *steps },
            )?)
        }
    })
}

/// What a strategy guarantees about its released models.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Guarantee {
    /// The released model has exactly the distribution of retraining from scratch.
    Exact,
    /// (ε, δ)-certified removal (Guo et al. 2020) while β ≤ budget; δ = 0 for the pure-ε
    /// Gamma-norm noise.
    Certified {
        /// ε.
        epsilon: f64,
        /// δ (0: pure ε).
        delta: f64,
    },
    /// The removal requests may depend on the released models (e.g. rows ranked by the
    /// released model's loss), so the request sequence depends on the secret b and the
    /// theorem, stated for requests fixed in advance, does not apply: no certificate.
    Adaptive,
    /// No formal guarantee (a heuristic).
    None,
    /// A replay of a run with an explicit, public noise vector b (`train_with_noise`,
    /// `model.noise_vector`): certified removal needs b to be a secret random draw, so nothing
    /// is certified, though every bound is still computed and reported.
    Replay,
}

impl Guarantee {
    /// A label for tables: `exact`, `certified (ε = 1, δ = 1e-4)`, `certified (pure ε = 1)`,
    /// `adaptive (uncertified)`, `replay (explicit b: not certified)` or `none`.
    pub fn label(&self) -> String {
        match self {
            Guarantee::Exact => "exact".into(),
            Guarantee::Certified { epsilon, delta } if *delta == 0.0 => {
                format!("certified (pure ε = {epsilon})")
            }
            Guarantee::Certified { epsilon, delta } => {
                format!("certified (ε = {epsilon}, δ = {delta:e})")
            }
            Guarantee::Adaptive => "adaptive (uncertified)".into(),
            Guarantee::Replay => "replay (explicit b: not certified)".into(),
            Guarantee::None => "none".into(),
        }
    }
}

/// What one request did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemovalOutcome {
    /// 1-based request number.
    pub request: usize,
    /// The removed rows.
    pub indices: Vec<usize>,
    /// Wall-clock seconds for the request.
    pub seconds: f64,
    /// Whether any model was retrained from scratch.
    pub retrained: bool,
    /// The certificate of certified Newton removal (`newton`).
    pub certificate: Option<Certificate>,
    /// The certificate of the release of an output-noise mechanism (`output_perturbation`).
    pub release: Option<ReleaseCertificate>,
}

impl RemovalOutcome {
    /// The outcome of request number `request` (1-based) for `indices`, which started at
    /// `start`, from a strategy that issues no certificate.
    pub fn uncertified(
        request: usize,
        indices: &[usize],
        start: std::time::Instant,
        retrained: bool,
    ) -> Self {
        Self {
            request,
            indices: indices.to_vec(),
            seconds: start.elapsed().as_secs_f64(),
            retrained,
            certificate: None,
            release: None,
        }
    }

    /// Whether the released model is certified (`None`: the strategy issues no certificates).
    pub fn certified(&self) -> Option<bool> {
        self.certificate
            .as_ref()
            .map(|c| c.certified)
            .or(self.release.as_ref().map(|r| r.certified))
    }

    /// The ε the released model's certificate spends (`None` without a valid statement).
    pub fn epsilon_spent(&self) -> Option<f64> {
        match (&self.certificate, &self.release) {
            (Some(c), _) => c.epsilon_spent,
            (None, Some(r)) => r.epsilon_spent,
            (None, None) => None,
        }
    }
}

/// A way to remove training rows from a trained model.
///
/// Implementations own their training data and which rows remain; a request that fails
/// validation is an error and changes nothing (see [`crate::validate_request`]).
pub trait RemovalStrategy: Send {
    /// Short name (`newton`, `retrain`, …).
    fn name(&self) -> &str;
    /// The guarantee of the released models.
    fn guarantee(&self) -> Guarantee;
    /// Removes rows (one request; several indices form one batch).
    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome>;
    /// Which training rows remain.
    fn active(&self) -> &[bool];
    /// Decision values, one column per class model (one column for binary models).
    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>>;
    /// The class of each decision column (`None` for a binary model).
    fn classes(&self) -> Vec<Option<f64>>;
    /// The weights as a d × K matrix, for single linear models; `None` for ensembles.
    fn weights(&self) -> Option<DMatrix<f64>>;

    /// Accuracy on `data` (sign agreement for binary, arg-max class for one-vs-rest).
    fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let z = self.decision_function(data.features())?;
        Ok(decision_accuracy(&z, &self.classes(), data.labels()))
    }

    /// Accuracy on the rows `indices` of the training data `train` (e.g. the removed rows).
    fn accuracy_on_rows(&self, train: &Dataset, indices: &[usize]) -> Result<f64> {
        let rows = train.select(indices)?;
        self.accuracy(&rows)
    }
}

impl RemovalStrategy for CertifiedModel {
    fn name(&self) -> &str {
        "newton"
    }

    fn guarantee(&self) -> Guarantee {
        if self.explicit_noise() {
            return Guarantee::Replay;
        }
        if self.params().adaptive_requests {
            return Guarantee::Adaptive;
        }
        if !self.is_certifiable() {
            // σ = 0 (no noise) or rows with ‖x‖ > 1 accepted with `allow_unnormalized`.
            return Guarantee::None;
        }
        Guarantee::Certified {
            epsilon: self.params().epsilon,
            delta: self.params().guarantee_delta(),
        }
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        let c = CertifiedModel::remove(self, indices)?;
        Ok(RemovalOutcome {
            request: c.request,
            indices: c.indices.clone(),
            seconds: c.seconds,
            retrained: c.retrained,
            certificate: Some(c),
            release: None,
        })
    }

    fn active(&self) -> &[bool] {
        CertifiedModel::active(self)
    }

    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        CertifiedModel::decision_function(self, x)
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.class_models().iter().map(|c| c.class).collect()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(self.weight_matrix())
    }
}

/// ‖w − w′‖ per class column (Frobenius over columns when summed by the caller).
pub fn weight_distance(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Vec<f64> {
    a.column_iter()
        .zip(b.column_iter())
        .map(|(x, y)| (x - y).norm())
        .collect()
}

/// Helper for strategies: the decision values of one weight column per class model.
pub(crate) fn decision_from_weights(
    x: &DMatrix<f64>,
    weights: &[DVector<f64>],
) -> Result<DMatrix<f64>> {
    let d = weights.first().map_or(0, |w| w.len());
    if x.ncols() != d {
        return Err(crate::RemovalError::Data(
            lethe_data::DataError::DimensionMismatch {
                expected: d,
                found: x.ncols(),
                context: "features given to a removal strategy".into(),
            },
        ));
    }
    let w = DMatrix::from_columns(weights);
    Ok(x * w)
}

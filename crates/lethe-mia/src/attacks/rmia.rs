//! RMIA, the relative membership-inference attack of Zarifzadeh, Liu, Mahloujifar and Shokri,
//! *Low-Cost High-Power Membership Inference Attacks* (ICML 2024).

use lethe_data::Dataset;
use lethe_models::loss::{sigmoid, softplus};
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput};
use crate::error::{MiaError, Result, invalid};
use crate::reference::{ReferenceConfig, ReferenceSet, ReferenceTraining};
use crate::scores::{Statistic, from_margins};
use crate::target::TargetModel;
use lethe_models::noise::Purpose;

/// RMIA: compares the target example x with population points z through
///
/// ```text
/// LR(x) = Pr(x | θ) / Pr(x),   Pr(x) ≈ mean over reference models θ_k of Pr(x | θ_k),
/// score(x) = fraction of population points z with LR(x) / LR(z) ≥ γ,
/// ```
///
/// where `Pr(x | θ) = p(y|x)` is the model's probability of the true label (σ of the logit
/// confidence). **Online**: reference models are trained on random halves of
/// `targets ++ population` and `Pr(x)` averages all K of them. **Offline**: reference models
/// never see a target; `Pr(x)` is estimated from the OUT models as
/// `½((1 + a) · Pr_OUT(x) + (1 − a))` (the paper's offline approximation; `a` is tuned on
/// reference models in the paper, [`Rmia::offline_a`] here), and the same correction is
/// applied to the population points using their OUT models.
///
/// The population points z are a seeded random subset of the population (without
/// replacement); they are never targets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rmia {
    /// Number of reference models K (even).
    pub n_reference: usize,
    /// Online or offline.
    pub online: bool,
    /// The likelihood-ratio threshold γ ≥ 1 x must beat z by (default 1).
    pub gamma: f64,
    /// Number of population points z (capped at the population size; default 1000).
    pub n_population_points: usize,
    /// The offline interpolation parameter a ∈ [0, 1] (default 0.3; unused online).
    pub offline_a: f64,
    /// Seed of the reference models and of the choice of z.
    pub seed: u64,
    /// How reference models are trained.
    pub training: ReferenceTraining,
}

impl Default for Rmia {
    fn default() -> Self {
        Self {
            n_reference: 64,
            online: true,
            gamma: 1.0,
            n_population_points: 1000,
            offline_a: 0.3,
            seed: 0,
            training: ReferenceTraining::default(),
        }
    }
}

impl Rmia {
    /// Checks the options.
    ///
    /// # Errors
    /// [`MiaError::InvalidParameter`] for an odd K, γ < 1 (or not finite), a ∉ [0, 1], or
    /// no population points.
    pub fn check(&self) -> Result<()> {
        let k = self.n_reference;
        if k < 2 || !k.is_multiple_of(2) {
            return Err(invalid("n_reference", k, "must be even and at least 2"));
        }
        if !(self.gamma.is_finite() && self.gamma >= 1.0) {
            return Err(invalid("gamma", self.gamma, "must be finite and ≥ 1"));
        }
        if !(0.0..=1.0).contains(&self.offline_a) {
            return Err(invalid("offline_a", self.offline_a, "must be in [0, 1]"));
        }
        if self.n_population_points == 0 {
            return Err(invalid("n_population_points", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The reference-set settings this attack needs.
    pub fn reference_config(&self) -> ReferenceConfig {
        ReferenceConfig {
            n_reference: self.n_reference,
            online: self.online,
            seed: self.seed,
            training: self.training,
        }
    }

    /// Trains the reference models and scores every row of `targets`.
    ///
    /// # Errors
    /// As [`Rmia::check`], [`ReferenceSet::train`] and [`Rmia::score_with`].
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
    ) -> Result<AttackOutput> {
        let target = target.into();
        self.check()?;
        let reference = ReferenceSet::train(target, targets, population, &self.reference_config())?;
        self.score_with(target, targets, population, &reference)
    }

    /// Scores every row of `targets` with reference models already trained on these targets
    /// and this population.
    ///
    /// # Errors
    /// As [`Rmia::check`]; [`MiaError::Empty`] without population;
    /// [`MiaError::InvalidParameter`] when `reference` does not match.
    pub fn score_with<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
        reference: &ReferenceSet,
    ) -> Result<AttackOutput> {
        let target = target.into();
        self.check()?;
        let rc = reference.config();
        if rc.n_reference != self.n_reference || rc.online != self.online {
            return Err(invalid(
                "reference set",
                format!("K = {}, online = {}", rc.n_reference, rc.online),
                format!(
                    "the attack needs K = {}, online = {}",
                    self.n_reference, self.online
                ),
            ));
        }
        if reference.n_targets() != targets.n_samples()
            || reference.n_population() != population.n_samples()
        {
            return Err(MiaError::LengthMismatch {
                what: "targets and population of the reference set",
                expected: targets.n_samples() + population.n_samples(),
                found: reference.n_targets() + reference.n_population(),
            });
        }
        if population.is_empty() {
            return Err(MiaError::Empty {
                what: "population (RMIA compares with population points)",
            });
        }
        let loss = target.params()?.loss;
        let phi_of = |data: &Dataset| -> Result<Vec<f64>> {
            from_margins(
                Statistic::LogitConfidence,
                loss,
                &target.margins(data.features())?,
                &target.labels(data)?,
            )
        };
        let k = self.n_reference;
        let a = self.offline_a;
        // ln Pr(x) from the reference statistics of one row
        let ln_marginal = |stats: &dyn Fn(usize) -> f64, is_in: &dyn Fn(usize) -> bool| -> f64 {
            if self.online {
                ((0..k).map(|m| sigmoid(stats(m))).sum::<f64>() / k as f64).ln()
            } else {
                let outs: Vec<f64> = (0..k)
                    .filter(|&m| !is_in(m))
                    .map(|m| sigmoid(stats(m)))
                    .collect();
                let p_out = outs.iter().sum::<f64>() / outs.len() as f64;
                (0.5 * ((1.0 + a) * p_out + (1.0 - a))).ln()
            }
        };
        // ln LR of the population points z
        let n_z = self.n_population_points.min(population.n_samples());
        let mut rng = Purpose::RmiaPopulation.rng(self.seed, 0);
        let z_idx = sample(&mut rng, population.n_samples(), n_z).into_vec();
        let phi_pop = phi_of(population)?;
        let pstats = reference.population_statistics();
        let mut ln_lr_z: Vec<f64> = z_idx
            .iter()
            .map(|&j| {
                -softplus(-phi_pop[j])
                    - ln_marginal(&|m| pstats[(j, m)], &|m| reference.population_in(j, m))
            })
            .collect();
        ln_lr_z.sort_by(f64::total_cmp);
        // scores of the targets
        let phi_t = phi_of(targets)?;
        let tstats = reference.target_statistics();
        let ln_gamma = self.gamma.ln();
        let scores: Vec<f64> = (0..targets.n_samples())
            .map(|i| {
                let ln_lr_x = -softplus(-phi_t[i])
                    - ln_marginal(&|m| tstats[(i, m)], &|m| reference.target_in(i, m));
                // LR(x)/LR(z) ≥ γ  ⇔  ln LR(z) ≤ ln LR(x) − ln γ
                let bound = ln_lr_x - ln_gamma;
                ln_lr_z.partition_point(|&v| v <= bound) as f64 / n_z as f64
            })
            .collect();
        let mode = if self.online { "online" } else { "offline" };
        let variant = if self.online {
            format!("{mode}, gamma = {}, {n_z} population points", self.gamma)
        } else {
            format!(
                "{mode}, gamma = {}, a = {}, {n_z} population points",
                self.gamma, a
            )
        };
        let mut descriptor = AttackDescriptor::new(
            "rmia",
            variant,
            Statistic::Confidence.name(),
            "Zarifzadeh, Liu, Mahloujifar, Shokri: Low-Cost High-Power Membership Inference Attacks (ICML 2024)",
            target,
        )
        .param("gamma", self.gamma)
        .param("n_population_points", n_z)
        .param("offline_a", a)
        .param("population_points_seed", self.seed);
        descriptor.n_reference = Some(k);
        descriptor.online = Some(self.online);
        descriptor.seed = Some(rc.seed);
        descriptor.reference = Some(reference.descriptor().clone());
        AttackOutput::new(scores, descriptor)
    }
}

//! LiRA, the likelihood-ratio attack of Carlini, Chien, Nasr, Song, Terzis and Tramèr,
//! *Membership Inference Attacks From First Principles* (IEEE S&P 2022).

use lethe_data::Dataset;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput, MIN_VARIANCE, ln_normal_pdf, mean_and_ss};
use crate::error::{MiaError, Result, invalid};
use crate::reference::{ReferenceConfig, ReferenceSet, ReferenceTraining};
use crate::scores::{Statistic, from_margins};
use crate::target::TargetModel;

/// How the variance of the IN/OUT Gaussians is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceMode {
    /// One variance for all examples: the pooled within-example variance
    /// `Σ_i Σ_k (φ_k(x_i) − μ_i)² / Σ_i (m_i − 1)`. Carlini et al. recommend it for few
    /// reference models (their code's `fix_variance` instead takes the variance of all values
    /// around the grand mean, which also counts the spread *between* examples).
    Global,
    /// One unbiased sample variance per example (needs ≥ 2 models on each side).
    PerExample,
}

impl VarianceMode {
    fn name(&self) -> &'static str {
        match self {
            VarianceMode::Global => "global variance",
            VarianceMode::PerExample => "per-example variance",
        }
    }
}

/// How the Gaussians turn into a score. Implementations differ here, so the output always
/// names the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiraScoring {
    /// Offline only: the paper's one-sided test (§IV-C), `Λ = Pr[Z < φ]` with
    /// `Z ~ N(μ_out, σ²_out)`. The score is `(φ − μ_out) / σ_out`, a strictly increasing
    /// transform of Λ = Φ(score) that does not saturate at 1 in floating point, so the ROC is
    /// that of Λ exactly. Online LiRA has no one-sided form in the paper; asking for it is an
    /// error rather than a silent substitution.
    OneSidedLikelihoodRatio,
    /// The Gaussian densities, as in the authors' released code: online
    /// `ln N(φ; μ_in, σ²_in) − ln N(φ; μ_out, σ²_out)` (the paper's online test, §IV-B);
    /// offline `−ln N(φ; μ_out, σ²_out)`, which is two-sided (an example far *below* the OUT
    /// distribution also scores high).
    Density,
}

impl LiraScoring {
    fn name(&self) -> &'static str {
        match self {
            LiraScoring::OneSidedLikelihoodRatio => "one-sided likelihood ratio",
            LiraScoring::Density => "density",
        }
    }
}

/// The Likelihood Ratio Attack (LiRA) on the logit-scaled confidence `φ = log(p/(1−p))`
/// (for lethe's models exactly the true-class margin, see [`crate::scores`]).
///
/// For each target example x, LiRA fits Gaussians to `φ_k(x)` over reference models k that did
/// (IN) and did not (OUT) train on x, and compares the target's `φ(x)` with them:
/// - **online**: reference models are trained on random halves of `targets ++ population`
///   (each target IN for exactly K/2 models); score as [`LiraScoring`] says.
/// - **offline**: reference models are trained on random halves of the population only
///   (every target OUT for all K models); no IN distribution.
///
/// With [`ReferenceConfig::training_rows`] the reference models train on as many rows as the
/// target instead of half the pool (online: each target still IN exactly K/2 models); see
/// [`crate::reference`].
///
/// Means are sample means (the released code uses medians). Scores are per example; the ROC
/// thresholds them globally as in the paper.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lira {
    /// Number of reference models K (even).
    pub n_reference: usize,
    /// Online or offline.
    pub online: bool,
    /// Variance estimate.
    pub variance: VarianceMode,
    /// Scoring rule.
    pub scoring: LiraScoring,
    /// Seed of the reference models.
    pub seed: u64,
    /// How reference models are trained.
    pub training: ReferenceTraining,
}

impl Default for Lira {
    fn default() -> Self {
        Self {
            n_reference: 64,
            online: true,
            variance: VarianceMode::PerExample,
            scoring: LiraScoring::Density,
            seed: 0,
            training: ReferenceTraining::default(),
        }
    }
}

impl Lira {
    /// Checks the combination of options.
    ///
    /// # Errors
    /// [`MiaError::Unsupported`] for online one-sided scoring; [`MiaError::InvalidParameter`]
    /// for an odd K, or K too small for per-example variances.
    pub fn check(&self) -> Result<()> {
        if self.online && self.scoring == LiraScoring::OneSidedLikelihoodRatio {
            return Err(MiaError::Unsupported {
                what: "one-sided LiRA scoring is defined for offline LiRA only (Carlini et al. §IV-C); \
                       online LiRA uses the density ratio"
                    .into(),
            });
        }
        let k = self.n_reference;
        if k < 2 || !k.is_multiple_of(2) {
            return Err(invalid("n_reference", k, "must be even and at least 2"));
        }
        let per_side = if self.online { k / 2 } else { k };
        if self.variance == VarianceMode::PerExample && per_side < 2 {
            return Err(invalid(
                "n_reference",
                k,
                "per-example variances need at least 2 reference models on each side",
            ));
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
            training_rows: None,
        }
    }

    /// Trains the reference models and scores every row of `targets`.
    ///
    /// # Errors
    /// As [`Lira::check`], [`ReferenceSet::train`] and [`Lira::score_with`].
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
    ) -> Result<AttackOutput> {
        let target = target.into();
        self.check()?;
        let reference = ReferenceSet::train(target, targets, population, &self.reference_config())?;
        self.score_with(target, targets, &reference)
    }

    /// Scores every row of `targets` with reference models already trained (for example
    /// shared with [`super::Rmia`]); `reference` must have been trained for these targets
    /// with this attack's K and online setting.
    ///
    /// # Errors
    /// As [`Lira::check`]; [`MiaError::InvalidParameter`] when `reference` does not match.
    pub fn score_with<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
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
        if reference.n_targets() != targets.n_samples() {
            return Err(MiaError::LengthMismatch {
                what: "targets of the reference set",
                expected: targets.n_samples(),
                found: reference.n_targets(),
            });
        }
        let phi = from_margins(
            Statistic::LogitConfidence,
            target.params()?.loss,
            &target.margins(targets.features())?,
            &target.labels(targets)?,
        )?;
        let stats = reference.target_statistics();
        let k = self.n_reference;
        let n = targets.n_samples();
        // per example: (mean_in, ss_in, m_in, mean_out, ss_out, m_out)
        let fits: Vec<[f64; 6]> = (0..n)
            .map(|i| {
                let (mut ins, mut outs) = (Vec::with_capacity(k), Vec::with_capacity(k));
                for m in 0..k {
                    if reference.target_in(i, m) {
                        ins.push(stats[(i, m)]);
                    } else {
                        outs.push(stats[(i, m)]);
                    }
                }
                let (mi, si) = if ins.is_empty() {
                    (0.0, 0.0)
                } else {
                    mean_and_ss(&ins)
                };
                let (mo, so) = mean_and_ss(&outs);
                [mi, si, ins.len() as f64, mo, so, outs.len() as f64]
            })
            .collect();
        let pooled = |mean_idx: usize| {
            let (ss, dof) = fits.iter().fold((0.0, 0.0), |(s, d), f| {
                (s + f[mean_idx + 1], d + (f[mean_idx + 2] - 1.0).max(0.0))
            });
            if dof > 0.0 { ss / dof } else { 0.0 }
        };
        let (global_in, global_out) = (pooled(0), pooled(3));
        let var = |f: &[f64; 6], mean_idx: usize, global: f64| -> f64 {
            let v = match self.variance {
                VarianceMode::Global => global,
                VarianceMode::PerExample => f[mean_idx + 1] / (f[mean_idx + 2] - 1.0),
            };
            v.max(MIN_VARIANCE)
        };
        let scores: Vec<f64> = fits
            .iter()
            .zip(&phi)
            .map(|(f, &x)| {
                let (mo, vo) = (f[3], var(f, 3, global_out));
                match (self.online, self.scoring) {
                    (true, _) => {
                        let (mi, vi) = (f[0], var(f, 0, global_in));
                        ln_normal_pdf(x, mi, vi) - ln_normal_pdf(x, mo, vo)
                    }
                    (false, LiraScoring::Density) => -ln_normal_pdf(x, mo, vo),
                    (false, LiraScoring::OneSidedLikelihoodRatio) => (x - mo) / vo.sqrt(),
                }
            })
            .collect();
        let mode = if self.online { "online" } else { "offline" };
        let mut descriptor = AttackDescriptor::new(
            "lira",
            format!("{mode}, {}, {}", self.variance.name(), self.scoring.name()),
            Statistic::LogitConfidence.name(),
            "Carlini, Chien, Nasr, Song, Terzis, Tramèr: Membership Inference Attacks From First Principles (IEEE S&P 2022)",
            target,
        )
        .param("variance", serde_json::to_value(self.variance).unwrap_or_default())
        .param("scoring", serde_json::to_value(self.scoring).unwrap_or_default())
        .param("mean", "sample mean");
        descriptor.n_reference = Some(k);
        descriptor.online = Some(self.online);
        descriptor.seed = Some(rc.seed);
        descriptor.reference = Some(reference.descriptor().clone());
        AttackOutput::new(scores, descriptor)
    }
}

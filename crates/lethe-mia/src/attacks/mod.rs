//! Membership-inference attacks. Each returns one membership score per target example
//! (higher = more likely a member; member = positive class everywhere) together with an
//! [`AttackDescriptor`] that names the attack, its variant and everything needed to
//! reproduce it (number of reference models, online/offline, seeds).
//!
//! | attack | paper | needs |
//! |---|---|---|
//! | [`ThresholdAttack`] / [`LossAttack`] | Yeom et al., CSF 2018; Song & Mittal 2021 | the target only |
//! | [`ShadowAttack`] | Shokri et al., IEEE S&P 2017; Salem et al., NDSS 2019 | population data |
//! | [`Lira`] | Carlini et al., IEEE S&P 2022 | reference models |
//! | [`Rmia`] | Zarifzadeh et al., ICML 2024 | reference models, population points |
//! | [`DifferenceAttack`] | Chen et al., CCS 2021 | (original, unlearned) models |
//! | [`ULira`] | Hayes et al., SaTML 2025 | shadow models and an [`Unlearner`] |

mod difference;
mod lira;
mod rmia;
mod shadow;
mod threshold;
mod ulira;

pub use difference::DifferenceAttack;
pub use lira::{Lira, LiraScoring, VarianceMode};
pub use rmia::{OFFLINE_A_GRID, OfflineA, Rmia, TUNING_PSEUDO_TARGET, Tune};
pub use shadow::{ShadowAttack, ShadowFeatures};
pub use threshold::{LossAttack, ThresholdAttack};
pub use ulira::{NoUnlearning, Retrain, ULira, UnlearnRequest, Unlearner};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, check_scores};
use crate::metrics::{AttackMetrics, EvaluationOptions, evaluate, split_by_membership};
use crate::reference::ReferenceDescriptor;
use crate::target::{EnsembleDescriptor, TargetModel};

/// What an attack was, for result files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackDescriptor {
    /// Attack name: `loss_threshold`, `threshold`, `shadow_models`, `lira`, `rmia`,
    /// `difference`, `u_lira`.
    pub attack: String,
    /// The variant in words, e.g. "offline, per-example variance, one-sided likelihood ratio".
    pub variant: String,
    /// The per-example statistic the attack reads from the model(s).
    pub statistic: String,
    /// The paper it follows.
    pub paper: String,
    /// `binary`, `one_vs_rest`, `binary_ensemble` or `one_vs_rest_ensemble`.
    pub target: String,
    /// For an ensemble target: its size, aggregation and the decision values the attack read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleDescriptor>,
    /// Number of reference/shadow models, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_reference: Option<usize>,
    /// Online (targets may be in reference models) or offline, if applicable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// The seed of every random stream of the attack, if it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How the reference models were trained, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceDescriptor>,
    /// Further attack-specific settings.
    pub parameters: BTreeMap<String, serde_json::Value>,
}

impl AttackDescriptor {
    pub(crate) fn new(
        attack: &str,
        variant: String,
        statistic: &str,
        paper: &str,
        target: TargetModel<'_>,
    ) -> Self {
        Self {
            attack: attack.into(),
            variant,
            statistic: statistic.into(),
            paper: paper.into(),
            target: target.kind_name().into(),
            ensemble: target.ensemble_descriptor(),
            n_reference: None,
            online: None,
            seed: None,
            reference: None,
            parameters: BTreeMap::new(),
        }
    }

    /// A short, stable label of the attack for tables of per-example scores: the statistic
    /// for threshold attacks (`loss`, `confidence`, …), `<attack>_online` or
    /// `<attack>_offline` for attacks that are one or the other (`lira_online`,
    /// `rmia_offline`, `shadow_models_offline`, …), the attack name otherwise (`difference`, …).
    pub fn label(&self) -> String {
        match (self.attack.as_str(), self.online) {
            ("loss_threshold" | "threshold", _) => self.statistic.clone(),
            (name, Some(true)) => format!("{name}_online"),
            (name, Some(false)) => format!("{name}_offline"),
            (name, None) => name.to_string(),
        }
    }

    pub(crate) fn param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }
}

/// Per-example membership scores (higher = member) and the attack's descriptor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackOutput {
    /// One score per target example, in the order of the examples given.
    pub scores: Vec<f64>,
    /// What produced them.
    pub descriptor: AttackDescriptor,
}

impl AttackOutput {
    pub(crate) fn new(scores: Vec<f64>, descriptor: AttackDescriptor) -> Result<Self> {
        if !scores.is_empty() {
            check_scores("attack scores", &scores)?;
        }
        Ok(Self { scores, descriptor })
    }

    /// The metrics of these scores given which examples are members.
    ///
    /// # Errors
    /// [`crate::MiaError::LengthMismatch`] for a mask of the wrong length; errors of
    /// [`evaluate`] (for example no member or no non-member).
    pub fn evaluate(
        &self,
        is_member: &[bool],
        options: &EvaluationOptions,
    ) -> Result<AttackMetrics> {
        let (m, n) = split_by_membership(&self.scores, is_member)?;
        evaluate(&m, &n, options)
    }
}

/// Sample mean and the sum of squared deviations of a slice.
pub(crate) fn mean_and_ss(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, values.iter().map(|v| (v - mean) * (v - mean)).sum())
}

/// `ln N(x; μ, σ²)`.
pub(crate) fn ln_normal_pdf(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * (2.0 * std::f64::consts::PI * var).ln() - (x - mean) * (x - mean) / (2.0 * var)
}

/// Variances below this are raised to it, so that a statistic that does not vary over
/// reference models gives large but finite scores (Carlini et al.'s code adds 1e-30 to σ).
pub(crate) const MIN_VARIANCE: f64 = 1e-24;

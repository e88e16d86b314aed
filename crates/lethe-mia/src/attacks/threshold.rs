//! Threshold attacks on one per-example statistic of the target: the LOSS attack of Yeom et al.
//! and the confidence, entropy and modified-entropy attacks.

use lethe_data::Dataset;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput};
use crate::error::Result;
use crate::scores::{Statistic, membership_scores};
use crate::target::TargetModel;

/// Scores every example by one statistic of the target model, oriented so that higher means
/// member: `−ℓ` (Yeom et al., *Privacy Risk in Machine Learning: Analyzing the Connection to
/// Overfitting*, CSF 2018: members have lower loss), `p(y|x)`, `log(p/(1−p))`, `−H` or
/// `−Mentr` (Song & Mittal, *Systematic Evaluation of Privacy Risks of Machine Learning
/// Models*, USENIX Security 2021). Thresholding the score at every value gives the ROC; no
/// threshold needs to be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdAttack {
    /// The statistic.
    pub statistic: Statistic,
}

impl ThresholdAttack {
    /// The LOSS attack: score `−ℓ(wᵀx, y)`.
    pub fn loss() -> Self {
        Self {
            statistic: Statistic::Loss,
        }
    }

    /// Score `p(y|x)`.
    pub fn confidence() -> Self {
        Self {
            statistic: Statistic::Confidence,
        }
    }

    /// Score `−H(p(·|x))`.
    pub fn entropy() -> Self {
        Self {
            statistic: Statistic::Entropy,
        }
    }

    /// Score `−Mentr(p(·|x), y)`.
    pub fn modified_entropy() -> Self {
        Self {
            statistic: Statistic::ModifiedEntropy,
        }
    }

    /// Scores every row of `examples`.
    ///
    /// # Errors
    /// As [`crate::scores::statistic`].
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        examples: &Dataset,
    ) -> Result<AttackOutput> {
        let target = target.into();
        let scores = membership_scores(target, examples, self.statistic)?;
        let (name, paper) = if self.statistic == Statistic::Loss {
            (
                "loss_threshold",
                "Yeom, Giacomelli, Fredrikson, Jha: Privacy Risk in Machine Learning (CSF 2018)",
            )
        } else {
            (
                "threshold",
                "Song & Mittal: Systematic Evaluation of Privacy Risks of Machine Learning Models (USENIX Security 2021)",
            )
        };
        let sign = if self.statistic.orientation() > 0.0 {
            "+"
        } else {
            "−"
        };
        let descriptor = AttackDescriptor::new(
            name,
            format!("score = {sign}{}", self.statistic.name()),
            self.statistic.name(),
            paper,
            target,
        );
        AttackOutput::new(scores, descriptor)
    }
}

/// Yeom et al.'s LOSS attack (a [`ThresholdAttack`] on the loss).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossAttack;

impl LossAttack {
    /// Scores every row of `examples` by `−ℓ`.
    ///
    /// # Errors
    /// As [`crate::scores::statistic`].
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        examples: &Dataset,
    ) -> Result<AttackOutput> {
        ThresholdAttack::loss().run(target, examples)
    }
}

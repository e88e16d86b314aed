//! The difference attack on (original, unlearned) model pairs, after Chen, Zhang, Wang,
//! Backes, Humbert and Zhang, *When Machine Unlearning Jeopardizes Privacy* (ACM CCS 2021).

use lethe_data::Dataset;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput};
use crate::error::{MiaError, Result};
use crate::scores::{Statistic, membership_scores};
use crate::target::TargetModel;

/// Scores each candidate by how much the removal changed the model on it:
///
/// ```text
/// score(x) = s_original(x) − s_unlearned(x),   s = orientation · statistic
/// ```
///
/// (with the logit confidence, `yz_original − yz_unlearned`). A removed point loses the
/// original model's "member" signal, so its score is high; a point that was never in the
/// training set changes only through the other removals. Positives are the forget set,
/// negatives points neither model trained on.
///
/// Chen et al. feed such differences (of posterior vectors) to an attack classifier trained
/// on shadow (original, unlearned) pairs; this is the threshold version of the same signal,
/// which needs no shadow models and is the natural statistic for a single pair. A trained
/// version belongs with the removal-strategy audit, where shadow unlearning is available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DifferenceAttack {
    /// The statistic whose change is measured (default: logit confidence).
    pub statistic: Statistic,
}

impl Default for DifferenceAttack {
    fn default() -> Self {
        Self {
            statistic: Statistic::LogitConfidence,
        }
    }
}

impl DifferenceAttack {
    /// Scores every row of `candidates` from the original and the unlearned model.
    ///
    /// # Errors
    /// [`MiaError::Unsupported`] when the two models are of different kinds or sizes; errors
    /// of [`crate::scores::statistic`].
    pub fn run<'a, 'b>(
        &self,
        original: impl Into<TargetModel<'a>>,
        unlearned: impl Into<TargetModel<'b>>,
        candidates: &Dataset,
    ) -> Result<AttackOutput> {
        let (original, unlearned) = (original.into(), unlearned.into());
        if original.kind_name() != unlearned.kind_name()
            || original.n_outputs() != unlearned.n_outputs()
            || original.n_features() != unlearned.n_features()
        {
            return Err(MiaError::Unsupported {
                what: format!(
                    "a difference attack between a {} model ({} outputs, d = {}) and a {} model ({} outputs, d = {})",
                    original.kind_name(),
                    original.n_outputs(),
                    original.n_features(),
                    unlearned.kind_name(),
                    unlearned.n_outputs(),
                    unlearned.n_features()
                ),
            });
        }
        let before = membership_scores(original, candidates, self.statistic)?;
        let after = membership_scores(unlearned, candidates, self.statistic)?;
        let scores = before.iter().zip(&after).map(|(a, b)| a - b).collect();
        let descriptor = AttackDescriptor::new(
            "difference",
            format!(
                "threshold on the change of the oriented {} (original − unlearned)",
                self.statistic.name()
            ),
            self.statistic.name(),
            "Chen, Zhang, Wang, Backes, Humbert, Zhang: When Machine Unlearning Jeopardizes Privacy (ACM CCS 2021)",
            original,
        );
        AttackOutput::new(scores, descriptor)
    }
}

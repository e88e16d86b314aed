//! Metrics of a membership-inference attack. Member = positive class; a higher score means
//! "more likely a member".
//!
//! | metric | definition |
//! |---|---|
//! | ROC ([`roc`]) | exact: one operating point per distinct score, ties entering together |
//! | AUC ([`auc`]) | Mann–Whitney: `P(S_m > S_n) + ½ P(S_m = S_n)`; all-equal scores give 0.5 |
//! | TPR at FPR ([`tpr_at_fpr`]) | largest TPR among attainable points with FPR ≤ target (no interpolation) |
//! | advantage | `max_t TPR(t) − FPR(t)` (Yeom et al., CSF 2018) |
//! | balanced accuracy | `max_t (TPR(t) + TNR(t)) / 2 = (1 + advantage) / 2` |
//! | intervals ([`bootstrap_ci`]) | stratified percentile bootstrap |
//! | ε lower bound ([`empirical_epsilon_lower_bound`]) | Clopper–Pearson, see [`epsilon`] |
//! | paired difference ([`paired_auc_difference`]) | AUC_a − AUC_b on the same rows, same bootstrap draws |
//! | over seeds ([`sign_flip_test`], [`holm`]) | exact sign-flip test of paired differences; Holm's adjustment, see [`paired`] |
//!
//! Carlini et al. (*Membership Inference Attacks From First Principles*, IEEE S&P 2022) argue
//! for TPR at low FPR on log-scale ROC curves; [`AttackMetrics::roc`] keeps that region.

mod bootstrap;
pub mod epsilon;
pub mod paired;
mod roc;

pub use bootstrap::{BootstrapIntervals, BootstrapOptions, ConfidenceInterval, bootstrap_ci};
pub use epsilon::{
    EpsilonBound, EpsilonDirection, ScoreEpsilon, beta_quantile, clopper_pearson,
    empirical_epsilon_from_scores, empirical_epsilon_lower_bound, regularized_incomplete_beta,
};
pub use paired::{SignFlipTest, holm, paired_auc_difference, sign_flip_test};
pub use roc::{Roc, RocCurvePoint, RocPoint, auc, roc, tpr_at_fpr};

use serde::{Deserialize, Serialize};

use crate::error::{MiaError, Result};

/// Whether the AUC interval excludes chance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leak {
    /// The AUC interval contains 0.5.
    None,
    /// The whole AUC interval is above 0.5: members score higher.
    AboveChance,
    /// The whole AUC interval is below 0.5: members score *lower*. This is a leak too — the
    /// reversed score separates members — and typical of a removal that over-corrects
    /// (forgotten points look less like members than points never seen).
    BelowChance,
}

/// Options of [`evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationOptions {
    /// Bootstrap settings for the intervals.
    pub bootstrap: BootstrapOptions,
    /// Largest number of ROC points kept in [`AttackMetrics::roc`].
    pub max_roc_points: usize,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            bootstrap: BootstrapOptions::default(),
            max_roc_points: 500,
        }
    }
}

/// Every metric of one attack, ready to be written to a result file (all values finite).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackMetrics {
    /// Members (positives) scored.
    pub n_members: usize,
    /// Non-members (negatives) scored.
    pub n_nonmembers: usize,
    /// AUC (Mann–Whitney, ties ½).
    pub auc: f64,
    /// Bootstrap interval of the AUC.
    pub auc_ci: ConfidenceInterval,
    /// TPR at FPR ≤ 0.1 % (largest attainable; see [`Roc::tpr_at_fpr`]). With fewer than
    /// 1000 non-members this is the TPR at FPR = 0 (see
    /// [`AttackMetrics::tpr_at_0_1pct_fpr_below_resolution`]).
    pub tpr_at_0_1pct_fpr: f64,
    /// Its bootstrap interval.
    pub tpr_at_0_1pct_fpr_ci: ConfidenceInterval,
    /// TPR at FPR ≤ 1 % (the TPR at FPR = 0 with fewer than 100 non-members).
    pub tpr_at_1pct_fpr: f64,
    /// Its bootstrap interval.
    pub tpr_at_1pct_fpr_ci: ConfidenceInterval,
    /// `max_t TPR − FPR`.
    pub advantage: f64,
    /// `(1 + advantage) / 2`, the balanced accuracy at the best threshold.
    pub balanced_accuracy: f64,
    /// The smallest non-zero FPR the data can show, `1 / n_nonmembers`: TPR at a smaller FPR
    /// target is the TPR at FPR = 0.
    pub fpr_resolution: f64,
    /// Whether the 0.1 % FPR level is below [`AttackMetrics::fpr_resolution`] (fewer than
    /// 1000 non-members): `tpr_at_0_1pct_fpr` is then the TPR at FPR = 0, not at 0.1 %.
    #[serde(default)]
    pub tpr_at_0_1pct_fpr_below_resolution: bool,
    /// Whether the 1 % FPR level is below [`AttackMetrics::fpr_resolution`] (fewer than 100
    /// non-members): `tpr_at_1pct_fpr` is then the TPR at FPR = 0.
    #[serde(default)]
    pub tpr_at_1pct_fpr_below_resolution: bool,
    /// Whether the AUC interval lies entirely above or below 0.5.
    pub leak: Leak,
    /// `leak != Leak::None`.
    pub leak_flag: bool,
    /// The bootstrap settings used.
    pub bootstrap: BootstrapOptions,
    /// The ROC curve, down-sampled to at most `max_roc_points` points with the low-FPR
    /// region kept (for log-scale plots).
    pub roc: Vec<RocCurvePoint>,
}

/// Computes [`AttackMetrics`] from member and non-member scores.
///
/// # Errors
/// As [`roc`] and [`bootstrap_ci`].
pub fn evaluate(
    members: &[f64],
    nonmembers: &[f64],
    options: &EvaluationOptions,
) -> Result<AttackMetrics> {
    let curve = roc(members, nonmembers)?;
    let ci = bootstrap_ci(members, nonmembers, &[0.001, 0.01], &options.bootstrap)?;
    let leak = if ci.auc.lower > 0.5 {
        Leak::AboveChance
    } else if ci.auc.upper < 0.5 {
        Leak::BelowChance
    } else {
        Leak::None
    };
    let fpr_resolution = 1.0 / nonmembers.len() as f64;
    Ok(AttackMetrics {
        n_members: members.len(),
        n_nonmembers: nonmembers.len(),
        auc: curve.auc(),
        auc_ci: ci.auc,
        tpr_at_0_1pct_fpr: curve.tpr_at_fpr(0.001)?,
        tpr_at_0_1pct_fpr_ci: ci.tpr_at_fpr[0].1,
        tpr_at_1pct_fpr: curve.tpr_at_fpr(0.01)?,
        tpr_at_1pct_fpr_ci: ci.tpr_at_fpr[1].1,
        advantage: curve.advantage(),
        balanced_accuracy: curve.balanced_accuracy(),
        fpr_resolution,
        tpr_at_0_1pct_fpr_below_resolution: below_resolution(0.001, fpr_resolution),
        tpr_at_1pct_fpr_below_resolution: below_resolution(0.01, fpr_resolution),
        leak,
        leak_flag: leak != Leak::None,
        bootstrap: options.bootstrap,
        roc: curve.curve(options.max_roc_points),
    })
}

/// Whether the FPR level `fpr` is below the resolution `1 / n_nonmembers` of the data, so that
/// the TPR "at FPR ≤ `fpr`" can only be the TPR at FPR = 0. A level equal to the resolution
/// (up to rounding, e.g. 0.01 with 100 non-members) is attainable and not below it.
pub fn below_resolution(fpr: f64, fpr_resolution: f64) -> bool {
    fpr < fpr_resolution * (1.0 - 1e-12)
}

/// Splits per-example scores into (member scores, non-member scores) by a membership mask.
///
/// # Errors
/// [`MiaError::LengthMismatch`] when the lengths differ.
pub fn split_by_membership(scores: &[f64], is_member: &[bool]) -> Result<(Vec<f64>, Vec<f64>)> {
    if scores.len() != is_member.len() {
        return Err(MiaError::LengthMismatch {
            what: "membership mask",
            expected: scores.len(),
            found: is_member.len(),
        });
    }
    let mut m = Vec::new();
    let mut n = Vec::new();
    for (&s, &is) in scores.iter().zip(is_member) {
        if is {
            m.push(s);
        } else {
            n.push(s);
        }
    }
    Ok((m, n))
}

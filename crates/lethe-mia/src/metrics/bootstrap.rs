//! Percentile-bootstrap confidence intervals for the AUC and for TPR at fixed FPRs.

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::roc::{Ranked, auc_from_groups, check_fpr_target, fpr_within};
use crate::error::{Result, invalid};
use lethe_models::noise::Purpose;

/// Settings of the percentile bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapOptions {
    /// Number of bootstrap replicates (≥ 10; 1000 is usual).
    pub reps: usize,
    /// Confidence level of the two-sided interval, in (0, 1); 0.95 is usual.
    pub level: f64,
    /// Seed: replicate r draws from its own ChaCha20 stream of this seed, so the intervals do
    /// not depend on the number of threads.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            reps: 1000,
            level: 0.95,
            seed: 0,
        }
    }
}

impl BootstrapOptions {
    /// Checks `reps ≥ 10` and `0 < level < 1`.
    pub fn check(&self) -> Result<()> {
        if self.reps < 10 {
            return Err(invalid("bootstrap reps", self.reps, "must be at least 10"));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(invalid("bootstrap level", self.level, "must be in (0, 1)"));
        }
        Ok(())
    }
}

/// A two-sided confidence interval around a point estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// The estimate on the full data.
    pub estimate: f64,
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

impl ConfidenceInterval {
    /// Whether `value` lies in `[lower, upper]`.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

/// Bootstrap intervals for the AUC and for TPR at each requested FPR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapIntervals {
    /// AUC.
    pub auc: ConfidenceInterval,
    /// `(target FPR, interval of TPR at that FPR)`, in the order requested.
    pub tpr_at_fpr: Vec<(f64, ConfidenceInterval)>,
    /// The options used.
    pub options: BootstrapOptions,
}

/// One replicate's (AUC, TPR at each target) on a weighted version of the ranked scores.
fn weighted_stats(
    ranked: &Ranked,
    member_weight: &[u32],
    nonmember_weight: &[u32],
    targets: &[f64],
) -> (f64, Vec<f64>) {
    let p = ranked.n_members as u64;
    let n = ranked.n_nonmembers as u64;
    let mut groups = Vec::with_capacity(ranked.group_ends.len());
    let mut start = 0;
    for &end in &ranked.group_ends {
        let (mut tp_g, mut fp_g) = (0u64, 0u64);
        for &(is_member, idx) in &ranked.order[start..end] {
            if is_member {
                tp_g += u64::from(member_weight[idx as usize]);
            } else {
                fp_g += u64::from(nonmember_weight[idx as usize]);
            }
        }
        if tp_g + fp_g > 0 {
            groups.push((tp_g, fp_g));
        }
        start = end;
    }
    let auc = auc_from_groups(groups.iter().copied(), p, n);
    let mut tprs = vec![0.0; targets.len()];
    let (mut tp, mut fp) = (0u64, 0u64);
    for &(tp_g, fp_g) in &groups {
        tp += tp_g;
        fp += fp_g;
        for (t, out) in targets.iter().zip(tprs.iter_mut()) {
            if fpr_within(fp as f64, n as f64, *t) {
                *out = tp as f64 / p as f64;
            }
        }
    }
    (auc, tprs)
}

/// The empirical quantile of sorted data with linear interpolation (type 7 of Hyndman & Fan).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Percentile-bootstrap intervals for the AUC and for TPR at each FPR in `fpr_targets`.
///
/// Members and non-members are resampled *separately* with replacement (a stratified
/// bootstrap, keeping both sample sizes fixed, as the ROC conditions on them). The interval at
/// level `L` is `[q_{(1−L)/2}, q_{(1+L)/2}]` of the replicate statistics (Efron's percentile
/// method). The scores are sorted once; a replicate only re-weights them, so each costs O(P + N).
/// Replicates run in parallel (rayon) from per-replicate streams, so the result is the same
/// for any number of threads.
///
/// # Errors
/// As [`super::roc`]; [`crate::MiaError::InvalidParameter`] for bad options or targets.
pub fn bootstrap_ci(
    members: &[f64],
    nonmembers: &[f64],
    fpr_targets: &[f64],
    options: &BootstrapOptions,
) -> Result<BootstrapIntervals> {
    options.check()?;
    for &t in fpr_targets {
        check_fpr_target(t)?;
    }
    let ranked = Ranked::new(members, nonmembers)?;
    let (p, n) = (members.len(), nonmembers.len());
    let full = weighted_stats(&ranked, &vec![1; p], &vec![1; n], fpr_targets);
    let reps: Vec<(f64, Vec<f64>)> = (0..options.reps)
        .into_par_iter()
        .map(|r| {
            let mut rng = Purpose::Bootstrap.rng(options.seed, r as u64);
            let mut wm = vec![0u32; p];
            for _ in 0..p {
                wm[rng.random_range(0..p)] += 1;
            }
            let mut wn = vec![0u32; n];
            for _ in 0..n {
                wn[rng.random_range(0..n)] += 1;
            }
            weighted_stats(&ranked, &wm, &wn, fpr_targets)
        })
        .collect();
    let (q_lo, q_hi) = ((1.0 - options.level) / 2.0, (1.0 + options.level) / 2.0);
    let interval = |estimate: f64, mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        ConfidenceInterval {
            estimate,
            lower: quantile_sorted(&values, q_lo),
            upper: quantile_sorted(&values, q_hi),
            level: options.level,
        }
    };
    let auc = interval(full.0, reps.iter().map(|r| r.0).collect());
    let tpr_at_fpr = fpr_targets
        .iter()
        .enumerate()
        .map(|(j, &t)| {
            (
                t,
                interval(full.1[j], reps.iter().map(|r| r.1[j]).collect()),
            )
        })
        .collect();
    Ok(BootstrapIntervals {
        auc,
        tpr_at_fpr,
        options: *options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc;

    #[test]
    fn full_weights_reproduce_the_exact_statistics() {
        let m = [0.3, 0.9, 0.9, 2.0, -1.0];
        let nm = [0.1, 0.9, 0.2, -3.0];
        let r = roc(&m, &nm).unwrap();
        let ci = bootstrap_ci(&m, &nm, &[0.0, 0.25], &BootstrapOptions::default()).unwrap();
        assert_eq!(ci.auc.estimate, r.auc());
        assert_eq!(ci.tpr_at_fpr[0].1.estimate, r.tpr_at_fpr(0.0).unwrap());
        assert_eq!(ci.tpr_at_fpr[1].1.estimate, r.tpr_at_fpr(0.25).unwrap());
        assert!(ci.auc.lower <= ci.auc.estimate && ci.auc.estimate <= ci.auc.upper);
    }

    #[test]
    fn reproducible_and_seed_dependent() {
        let m: Vec<f64> = (0..50).map(|i| f64::from(i % 7)).collect();
        let nm: Vec<f64> = (0..40).map(|i| f64::from(i % 5)).collect();
        let o = BootstrapOptions {
            reps: 200,
            level: 0.9,
            seed: 3,
        };
        let a = bootstrap_ci(&m, &nm, &[0.01], &o).unwrap();
        let b = bootstrap_ci(&m, &nm, &[0.01], &o).unwrap();
        assert_eq!(a, b);
        let c = bootstrap_ci(&m, &nm, &[0.01], &BootstrapOptions { seed: 4, ..o }).unwrap();
        assert_ne!(a.auc.lower, c.auc.lower);
    }

    #[test]
    fn bad_options() {
        let o = BootstrapOptions {
            reps: 5,
            ..Default::default()
        };
        assert!(bootstrap_ci(&[1.0], &[0.0], &[], &o).is_err());
        let o = BootstrapOptions {
            level: 1.0,
            ..Default::default()
        };
        assert!(bootstrap_ci(&[1.0], &[0.0], &[], &o).is_err());
        assert!(bootstrap_ci(&[1.0], &[0.0], &[2.0], &BootstrapOptions::default()).is_err());
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(quantile_sorted(&s, 0.0), 0.0);
        assert_eq!(quantile_sorted(&s, 1.0), 3.0);
        assert_eq!(quantile_sorted(&s, 0.5), 1.5);
    }
}

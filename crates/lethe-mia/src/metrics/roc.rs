//! The exact ROC curve, AUC (Mann–Whitney), TPR at a fixed FPR, advantage and balanced accuracy.

use serde::{Deserialize, Serialize};

use crate::error::{Result, check_scores, invalid};

/// One operating point of a threshold attack: predict "member" iff `score ≥ threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RocPoint {
    /// The threshold; `None` for the first point (0, 0), which predicts no member at all.
    pub threshold: Option<f64>,
    /// Members predicted member (true positives).
    pub tp: u64,
    /// Non-members predicted member (false positives).
    pub fp: u64,
    /// tp / #members.
    pub tpr: f64,
    /// fp / #non-members.
    pub fpr: f64,
}

/// A point of a (down-sampled) ROC curve, for plots and result files.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RocCurvePoint {
    /// False-positive rate.
    pub fpr: f64,
    /// True-positive rate.
    pub tpr: f64,
}

/// The exact ROC curve of a membership score (member = positive class, higher score = more
/// likely member).
///
/// Built by sorting all scores once and sweeping the threshold over every *distinct* score:
/// tied scores enter together, so a tie between a member and a non-member gives a diagonal
/// segment, never an optimistic or pessimistic step. The curve starts at (0, 0) (threshold
/// above every score) and ends at (1, 1) (threshold at the lowest score). No threshold grid is
/// involved anywhere.
#[derive(Clone, Debug, PartialEq)]
pub struct Roc {
    points: Vec<RocPoint>,
    n_members: u64,
    n_nonmembers: u64,
    auc: f64,
}

/// All scores sorted once (descending), grouped into runs of equal score. The bootstrap reuses
/// this order: a resample only changes how many times each original score counts.
#[derive(Clone, Debug)]
pub(crate) struct Ranked {
    /// `(is_member, index in its own set)` in descending score order.
    pub order: Vec<(bool, u32)>,
    /// The score of each position in `order`.
    pub sorted_scores: Vec<f64>,
    /// End (exclusive) of each tie group in `order`.
    pub group_ends: Vec<usize>,
    pub n_members: usize,
    pub n_nonmembers: usize,
}

impl Ranked {
    pub(crate) fn new(members: &[f64], nonmembers: &[f64]) -> Result<Self> {
        check_scores("member scores", members)?;
        check_scores("non-member scores", nonmembers)?;
        if members.len() + nonmembers.len() > u32::MAX as usize {
            return Err(invalid(
                "scores",
                members.len() + nonmembers.len(),
                "at most 2^32 − 1 scores are supported",
            ));
        }
        // `+ 0.0` turns −0.0 into +0.0 so that the two zeros form one tie group.
        let mut all: Vec<(f64, bool, u32)> = members
            .iter()
            .enumerate()
            .map(|(i, &s)| (s + 0.0, true, i as u32))
            .chain(
                nonmembers
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| (s + 0.0, false, i as u32)),
            )
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut group_ends = Vec::new();
        for i in 1..all.len() {
            if all[i].0 != all[i - 1].0 {
                group_ends.push(i);
            }
        }
        group_ends.push(all.len());
        Ok(Self {
            sorted_scores: all.iter().map(|a| a.0).collect(),
            order: all.iter().map(|a| (a.1, a.2)).collect(),
            group_ends,
            n_members: members.len(),
            n_nonmembers: nonmembers.len(),
        })
    }

    /// Per tie group: (score, members in the group, non-members in the group).
    pub(crate) fn group_counts(&self) -> Vec<(f64, u64, u64)> {
        let mut out = Vec::with_capacity(self.group_ends.len());
        let mut start = 0;
        for &end in &self.group_ends {
            let m = self.order[start..end].iter().filter(|o| o.0).count() as u64;
            out.push((self.sorted_scores[start], m, (end - start) as u64 - m));
            start = end;
        }
        out
    }
}

/// The Mann–Whitney AUC from per-group counts: P(S_member > S_non) + ½ P(S_member = S_non),
/// accumulated exactly in integers (u128) and divided once.
pub(crate) fn auc_from_groups(groups: impl Iterator<Item = (u64, u64)>, p: u64, n: u64) -> f64 {
    // 2 · Σ_g fp_g · (tp_before + tp_g / 2) = Σ_g fp_g · (2 tp_before + tp_g)
    let mut tp_before: u128 = 0;
    let mut twice: u128 = 0;
    for (tp_g, fp_g) in groups {
        twice += fp_g as u128 * (2 * tp_before + tp_g as u128);
        tp_before += tp_g as u128;
    }
    twice as f64 / (2.0 * p as f64 * n as f64)
}

/// Whether `fp` false positives out of `n` non-members is an FPR of at most `target`.
///
/// Compared as `fp ≤ target · n` with a relative slack of 1e-12, so that `target = 0.01`,
/// `n = 1000` admits exactly 10 false positives despite the binary representation of 0.01.
#[inline]
pub(crate) fn fpr_within(fp: f64, n: f64, target: f64) -> bool {
    fp <= target * n * (1.0 + 1e-12)
}

pub(crate) fn check_fpr_target(target: f64) -> Result<()> {
    if (0.0..=1.0).contains(&target) {
        Ok(())
    } else {
        Err(invalid("target FPR", target, "must be in [0, 1]"))
    }
}

impl Roc {
    pub(crate) fn from_ranked(ranked: &Ranked) -> Self {
        let p = ranked.n_members as u64;
        let n = ranked.n_nonmembers as u64;
        let groups = ranked.group_counts();
        let mut points = Vec::with_capacity(groups.len() + 1);
        points.push(RocPoint {
            threshold: None,
            tp: 0,
            fp: 0,
            tpr: 0.0,
            fpr: 0.0,
        });
        let (mut tp, mut fp) = (0u64, 0u64);
        for &(score, tp_g, fp_g) in &groups {
            tp += tp_g;
            fp += fp_g;
            points.push(RocPoint {
                threshold: Some(score),
                tp,
                fp,
                tpr: tp as f64 / p as f64,
                fpr: fp as f64 / n as f64,
            });
        }
        let auc = auc_from_groups(groups.iter().map(|g| (g.1, g.2)), p, n);
        Self {
            points,
            n_members: p,
            n_nonmembers: n,
            auc,
        }
    }

    /// Every operating point, from (0, 0) to (1, 1), FPR and TPR non-decreasing.
    pub fn points(&self) -> &[RocPoint] {
        &self.points
    }

    /// Number of members (positives).
    pub fn n_members(&self) -> u64 {
        self.n_members
    }

    /// Number of non-members (negatives).
    pub fn n_nonmembers(&self) -> u64 {
        self.n_nonmembers
    }

    /// The area under the exact ROC curve, equal to the Mann–Whitney statistic
    /// `AUC = (1 / (P·N)) Σ_{i ∈ members} Σ_{j ∈ non-members} [s_i > s_j] + ½ [s_i = s_j]`.
    pub fn auc(&self) -> f64 {
        self.auc
    }

    /// The largest TPR among the ROC points whose FPR is ≤ `target`.
    ///
    /// Convention: only thresholds that are actually attainable count — no interpolation
    /// between points (which would need a randomised threshold). With `N` non-members the
    /// smallest non-zero FPR is `1/N`; below it the value is the TPR at FPR = 0.
    ///
    /// # Errors
    /// [`crate::MiaError::InvalidParameter`] unless `0 ≤ target ≤ 1`.
    pub fn tpr_at_fpr(&self, target: f64) -> Result<f64> {
        check_fpr_target(target)?;
        let n = self.n_nonmembers as f64;
        Ok(self
            .points
            .iter()
            .filter(|p| fpr_within(p.fp as f64, n, target))
            .map(|p| p.tpr)
            .fold(0.0, f64::max))
    }

    /// The membership advantage `max_t (TPR(t) − FPR(t))` (Yeom et al. 2018), ≥ 0 because the
    /// curve contains (0, 0). An attack that does better with its score reversed shows up as an
    /// AUC below 0.5, not here.
    pub fn advantage(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.tpr - p.fpr)
            .fold(0.0, f64::max)
    }

    /// The balanced accuracy `(TPR + TNR) / 2` at the best threshold, `= (1 + advantage) / 2`.
    pub fn balanced_accuracy(&self) -> f64 {
        0.5 * (1.0 + self.advantage())
    }

    /// The point that attains [`Roc::advantage`] (the first one in threshold order).
    pub fn best_point(&self) -> RocPoint {
        let mut best = self.points[0];
        for p in &self.points {
            if p.tpr - p.fpr > best.tpr - best.fpr {
                best = *p;
            }
        }
        best
    }

    /// The curve down-sampled to at most `max_points` points (at least 10), keeping (0, 0),
    /// (1, 1) and, within each cell of a grid that is logarithmic in FPR (from `1/N` to 1) and
    /// another that is linear in FPR, the first and last point of the cell. The low-FPR region
    /// that log-scale ROC plots show therefore keeps its resolution.
    pub fn curve(&self, max_points: usize) -> Vec<RocCurvePoint> {
        let max_points = max_points.max(10);
        let as_point = |p: &RocPoint| RocCurvePoint {
            fpr: p.fpr,
            tpr: p.tpr,
        };
        if self.points.len() <= max_points {
            return self.points.iter().map(as_point).collect();
        }
        let cells = ((max_points - 2) / 4) as f64;
        let log_min = (1.0 / self.n_nonmembers as f64).ln();
        let key = |p: &RocPoint| -> (i64, i64) {
            let log_key = if p.fp == 0 {
                -1
            } else {
                ((cells * (p.fpr.ln() - log_min) / -log_min).floor() as i64).min(cells as i64 - 1)
            };
            let lin_key = ((cells * p.fpr).floor() as i64).min(cells as i64 - 1);
            (log_key, lin_key)
        };
        let keys: Vec<(i64, i64)> = self.points.iter().map(key).collect();
        let last = self.points.len() - 1;
        self.points
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                *i == 0 || *i == last || keys[i - 1] != keys[*i] || keys[i + 1] != keys[*i]
            })
            .map(|(_, p)| as_point(p))
            .collect()
    }
}

/// The exact ROC curve of member scores against non-member scores (higher = member).
///
/// # Errors
/// [`crate::MiaError::Empty`] when either set is empty; [`crate::MiaError::NanScore`] for a NaN
/// (±∞ are fine).
///
/// # Example
/// ```
/// let roc = lethe_mia::metrics::roc(&[3.0, 2.0, 1.0], &[2.0, 0.0])?;
/// assert_eq!(roc.auc(), (2.0 + 0.5 + 1.0 + 1.0 + 0.0) / 6.0);
/// assert_eq!(roc.tpr_at_fpr(0.0)?, 1.0 / 3.0);
/// # Ok::<(), lethe_mia::MiaError>(())
/// ```
pub fn roc(members: &[f64], nonmembers: &[f64]) -> Result<Roc> {
    Ok(Roc::from_ranked(&Ranked::new(members, nonmembers)?))
}

/// The AUC (Mann–Whitney statistic, ties counted ½) of member against non-member scores.
///
/// # Errors
/// As [`roc`].
pub fn auc(members: &[f64], nonmembers: &[f64]) -> Result<f64> {
    let ranked = Ranked::new(members, nonmembers)?;
    let groups = ranked.group_counts();
    Ok(auc_from_groups(
        groups.iter().map(|g| (g.1, g.2)),
        ranked.n_members as u64,
        ranked.n_nonmembers as u64,
    ))
}

/// The largest TPR among the points of `roc` with FPR ≤ `target` (see [`Roc::tpr_at_fpr`]).
///
/// # Errors
/// [`crate::MiaError::InvalidParameter`] unless `0 ≤ target ≤ 1`.
pub fn tpr_at_fpr(roc: &Roc, target: f64) -> Result<f64> {
    roc.tpr_at_fpr(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The O(P·N) definition, for cross-checking.
    fn brute_auc(m: &[f64], n: &[f64]) -> f64 {
        let mut s = 0.0;
        for a in m {
            for b in n {
                s += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        s / (m.len() * n.len()) as f64
    }

    #[test]
    fn matches_brute_force_with_ties() {
        let m = [1.0, 2.0, 2.0, 3.0, 5.0, -0.0, f64::INFINITY];
        let n = [0.0, 2.0, 2.0, 4.0, 1.0, f64::NEG_INFINITY];
        let r = roc(&m, &n).unwrap();
        assert!((r.auc() - brute_auc(&m, &n)).abs() < 1e-15);
        // trapezoid area of the exact curve equals the Mann–Whitney AUC
        let area: f64 = r
            .points()
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        assert!((area - r.auc()).abs() < 1e-12);
        let first = r.points()[0];
        let last = *r.points().last().unwrap();
        assert_eq!((first.fpr, first.tpr), (0.0, 0.0));
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        // −0.0 and 0.0 are one tie group
        assert_eq!(
            r.points()
                .iter()
                .filter(|p| p.threshold == Some(0.0))
                .count(),
            1
        );
    }

    #[test]
    fn ties_everywhere_give_one_half() {
        let r = roc(&[1.0; 7], &[1.0; 4]).unwrap();
        assert_eq!(r.auc(), 0.5);
        assert_eq!(r.points().len(), 2);
        assert_eq!(r.advantage(), 0.0);
        assert_eq!(r.tpr_at_fpr(0.5).unwrap(), 0.0);
    }

    #[test]
    fn tpr_at_fpr_convention() {
        // members 10..1, non-members 0.5, 5.5
        let m: Vec<f64> = (1..=10).map(f64::from).collect();
        let r = roc(&m, &[5.5, 0.5]).unwrap();
        assert_eq!(r.tpr_at_fpr(0.0).unwrap(), 0.5);
        assert_eq!(r.tpr_at_fpr(0.49).unwrap(), 0.5);
        assert_eq!(r.tpr_at_fpr(0.5).unwrap(), 1.0);
        assert!(r.tpr_at_fpr(1.5).is_err());
        assert!(r.tpr_at_fpr(f64::NAN).is_err());
        assert_eq!(r.advantage(), 1.0 - 0.5);
        assert_eq!(r.balanced_accuracy(), 0.75);
    }

    #[test]
    fn exact_slack_at_round_fprs() {
        let n: Vec<f64> = (0..1000).map(|i| -f64::from(i)).collect();
        let m = vec![0.5; 3];
        let r = roc(&m, &n).unwrap();
        // 10 false positives at FPR exactly 0.01 are admitted
        assert!(fpr_within(10.0, 1000.0, 0.01));
        assert!(!fpr_within(11.0, 1000.0, 0.01));
        assert_eq!(r.tpr_at_fpr(0.01).unwrap(), 1.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(roc(&[], &[1.0]).is_err());
        assert!(roc(&[1.0], &[]).is_err());
        assert!(matches!(
            roc(&[1.0, f64::NAN], &[1.0]),
            Err(crate::MiaError::NanScore { index: 1, .. })
        ));
    }

    #[test]
    fn curve_is_bounded_and_keeps_the_ends() {
        let m: Vec<f64> = (0..20_000).map(|i| f64::from(i) * 1.3 % 17.0).collect();
        let n: Vec<f64> = (0..20_000)
            .map(|i| f64::from(i) * 0.7 % 13.0 - 0.1)
            .collect();
        let r = roc(&m, &n).unwrap();
        let c = r.curve(500);
        assert!(c.len() <= 500, "{}", c.len());
        assert_eq!((c[0].fpr, c[0].tpr), (0.0, 0.0));
        assert_eq!(*c.last().unwrap(), RocCurvePoint { fpr: 1.0, tpr: 1.0 });
        assert!(
            c.windows(2)
                .all(|w| w[0].fpr <= w[1].fpr && w[0].tpr <= w[1].tpr)
        );
    }
}

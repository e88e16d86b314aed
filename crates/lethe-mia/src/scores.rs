//! Per-example statistics of a target model on labelled examples.
//!
//! For a binary logistic model with margin `z = wᵀx` and label `y ∈ {−1, +1}`:
//!
//! | statistic | formula | member direction |
//! |---|---|---|
//! | loss | `ℓ = log(1 + e^{−yz})` | low |
//! | confidence | `p = σ(yz)`, the probability of the true label | high |
//! | logit confidence | `φ = log(p / (1 − p)) = yz` exactly (no rounding of p) | high |
//! | entropy | `H(σ(z))`, label-free | low |
//! | modified entropy | `−(1 − p_y) log p_y − Σ_{k≠y} p_k log(1 − p_k)` (Song & Mittal, USENIX Security 2021) | low |
//!
//! The logit confidence is the statistic of LiRA (Carlini et al. 2022, §IV-A): computing
//! `log(p/(1−p))` from a rounded `p` saturates at ±36.7; `yz` does not.
//!
//! **One-vs-rest models** (K binary models, margins `z_k`, true class c) have no softmax; lethe
//! does not invent one. The loss is the training loss `Σ_k ℓ(z_k, y_k)` with `y_k = ±1`;
//! the confidence is the per-class sigmoid of the true class, `p = σ(z_c)`, and the logit
//! confidence is `z_c`. Entropy and modified entropy use the per-class sigmoids normalised to
//! sum to one, `q_k = σ(z_k) / Σ_j σ(z_j)`.
//!
//! For the squared loss only the loss `(z − y)²` is defined; the probability-based
//! statistics are an [`MiaError::UnsupportedLoss`].

use lethe_data::Dataset;
use lethe_models::LossKind;
use lethe_models::loss::{Loss, sigmoid, softplus};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{MiaError, Result};
use crate::target::{Labels, TargetModel};

/// A per-example statistic of a model on a labelled example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The training loss ℓ (members: low). Yeom et al.'s LOSS attack.
    Loss,
    /// Probability of the true label p (members: high).
    Confidence,
    /// log(p / (1 − p)) (members: high).
    LogitConfidence,
    /// Shannon entropy of the predicted distribution (members: low).
    Entropy,
    /// Song & Mittal's modified entropy, label-aware (members: low).
    ModifiedEntropy,
}

impl Statistic {
    /// Short name: `loss`, `confidence`, `logit_confidence`, `entropy`, `modified_entropy`.
    pub fn name(&self) -> &'static str {
        match self {
            Statistic::Loss => "loss",
            Statistic::Confidence => "confidence",
            Statistic::LogitConfidence => "logit_confidence",
            Statistic::Entropy => "entropy",
            Statistic::ModifiedEntropy => "modified_entropy",
        }
    }

    /// +1 when members have high values, −1 when they have low values; the membership score
    /// of a threshold attack is `orientation · statistic`.
    pub fn orientation(&self) -> f64 {
        match self {
            Statistic::Confidence | Statistic::LogitConfidence => 1.0,
            Statistic::Loss | Statistic::Entropy | Statistic::ModifiedEntropy => -1.0,
        }
    }
}

fn binary_entropy_of_margin(z: f64) -> f64 {
    // H(σ(z)) = σ(z)(−log σ(z)) + σ(−z)(−log σ(−z)) with −log σ(t) = softplus(−t)
    sigmoid(z) * softplus(-z) + sigmoid(-z) * softplus(z)
}

/// The statistic from precomputed margins (n × K) and labels.
pub(crate) fn from_margins(
    stat: Statistic,
    loss: LossKind,
    margins: &DMatrix<f64>,
    labels: &Labels,
) -> Result<Vec<f64>> {
    let n = margins.nrows();
    if loss == LossKind::Squared && stat != Statistic::Loss {
        return Err(MiaError::UnsupportedLoss {
            what: "a probability-based statistic",
            loss: loss.name(),
        });
    }
    match labels {
        Labels::Binary(y) => Ok((0..n)
            .map(|i| {
                let (z, y) = (margins[(i, 0)], y[i]);
                let t = y * z;
                match stat {
                    Statistic::Loss => loss.value(z, y),
                    Statistic::Confidence => sigmoid(t),
                    Statistic::LogitConfidence => t,
                    Statistic::Entropy => binary_entropy_of_margin(z),
                    Statistic::ModifiedEntropy => 2.0 * sigmoid(-t) * softplus(-t),
                }
            })
            .collect()),
        Labels::Classes(c) => {
            let k_count = margins.ncols();
            Ok((0..n)
                .map(|i| {
                    let c = c[i];
                    let z = |k: usize| margins[(i, k)];
                    match stat {
                        Statistic::Loss => (0..k_count)
                            .map(|k| loss.value(z(k), if k == c { 1.0 } else { -1.0 }))
                            .sum(),
                        Statistic::Confidence => sigmoid(z(c)),
                        Statistic::LogitConfidence => z(c),
                        Statistic::Entropy | Statistic::ModifiedEntropy => {
                            let s: Vec<f64> = (0..k_count).map(|k| sigmoid(z(k))).collect();
                            let total: f64 = s.iter().sum();
                            let ln_total = total.ln();
                            // ln q_k = ln σ(z_k) − ln Σ σ = −softplus(−z_k) − ln Σ σ
                            let ln_q = |k: usize| -softplus(-z(k)) - ln_total;
                            if stat == Statistic::Entropy {
                                (0..k_count).map(|k| -(s[k] / total) * ln_q(k)).sum()
                            } else {
                                (0..k_count)
                                    .map(|k| {
                                        let q = s[k] / total;
                                        if k == c {
                                            -(1.0 - q) * ln_q(k)
                                        } else {
                                            -q * (-q).ln_1p()
                                        }
                                    })
                                    .sum()
                            }
                        }
                    }
                })
                .collect())
        }
    }
}

/// The statistic of `target` on every row of `data` (raw values, not oriented).
///
/// # Errors
/// [`MiaError::UnknownLabel`] for a label the model does not know (not ±1 for a binary
/// logistic model, not a class of a one-vs-rest model); [`MiaError::UnsupportedLoss`] for a
/// probability-based statistic of a squared-loss model; [`MiaError::LengthMismatch`] for a
/// feature-dimension mismatch.
pub fn statistic<'a>(
    target: impl Into<TargetModel<'a>>,
    data: &Dataset,
    stat: Statistic,
) -> Result<Vec<f64>> {
    let target = target.into();
    let margins = target.margins(data.features())?;
    let labels = target.labels(data)?;
    from_margins(stat, target.params()?.loss, &margins, &labels)
}

/// `orientation · statistic`: a membership score (higher = more likely member).
///
/// # Errors
/// As [`statistic`].
pub fn membership_scores<'a>(
    target: impl Into<TargetModel<'a>>,
    data: &Dataset,
    stat: Statistic,
) -> Result<Vec<f64>> {
    let o = stat.orientation();
    Ok(statistic(target, data, stat)?
        .into_iter()
        .map(|v| o * v)
        .collect())
}

/// Per-example loss (see [`statistic`]).
///
/// # Errors
/// As [`statistic`].
pub fn losses<'a>(target: impl Into<TargetModel<'a>>, data: &Dataset) -> Result<Vec<f64>> {
    statistic(target, data, Statistic::Loss)
}

/// Per-example probability of the true label (see [`statistic`]).
///
/// # Errors
/// As [`statistic`].
pub fn confidences<'a>(target: impl Into<TargetModel<'a>>, data: &Dataset) -> Result<Vec<f64>> {
    statistic(target, data, Statistic::Confidence)
}

/// Per-example logit-scaled confidence `log(p/(1−p))`, computed exactly as the true-class
/// margin (see [`statistic`]).
///
/// # Errors
/// As [`statistic`].
pub fn logit_confidences<'a>(
    target: impl Into<TargetModel<'a>>,
    data: &Dataset,
) -> Result<Vec<f64>> {
    statistic(target, data, Statistic::LogitConfidence)
}

/// Per-example prediction entropy (see [`statistic`]).
///
/// # Errors
/// As [`statistic`].
pub fn entropies<'a>(target: impl Into<TargetModel<'a>>, data: &Dataset) -> Result<Vec<f64>> {
    statistic(target, data, Statistic::Entropy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_statistics_are_consistent() {
        let labels = Labels::Binary(vec![1.0, -1.0, 1.0]);
        let z = DMatrix::from_column_slice(3, 1, &[2.0, 2.0, -800.0]);
        let get = |s| from_margins(s, LossKind::Logistic, &z, &labels).unwrap();
        let (l, p, phi, h, me) = (
            get(Statistic::Loss),
            get(Statistic::Confidence),
            get(Statistic::LogitConfidence),
            get(Statistic::Entropy),
            get(Statistic::ModifiedEntropy),
        );
        assert_eq!(phi, vec![2.0, -2.0, -800.0]);
        assert!((p[0] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
        assert!((l[0] + p[0].ln()).abs() < 1e-15);
        assert!((l[2] - 800.0).abs() < 1e-12, "stable for huge margins");
        assert_eq!(h[0], h[1], "entropy is label-free");
        assert!(h[2] >= 0.0 && h[2] < 1e-300);
        // modified entropy: −(1−p) ln p − (1−p) ln p for the binary case
        assert!((me[0] - 2.0 * (1.0 - p[0]) * -(p[0].ln())).abs() < 1e-15);
        assert!(me.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn one_vs_rest_statistics() {
        let labels = Labels::Classes(vec![1]);
        let z = DMatrix::from_row_slice(1, 3, &[-1.0, 3.0, 0.5]);
        let get = |s| from_margins(s, LossKind::Logistic, &z, &labels).unwrap()[0];
        assert_eq!(get(Statistic::LogitConfidence), 3.0);
        let loss = softplus(-1.0) + softplus(-3.0) + softplus(0.5);
        assert!((get(Statistic::Loss) - loss).abs() < 1e-15);
        let s: Vec<f64> = [-1.0, 3.0, 0.5].iter().map(|&v| sigmoid(v)).collect();
        let t: f64 = s.iter().sum();
        let h: f64 = s.iter().map(|v| -(v / t) * (v / t).ln()).sum();
        assert!((get(Statistic::Entropy) - h).abs() < 1e-14);
    }

    #[test]
    fn squared_loss_only_has_a_loss() {
        let labels = Labels::Binary(vec![0.5]);
        let z = DMatrix::from_element(1, 1, 1.0);
        assert_eq!(
            from_margins(Statistic::Loss, LossKind::Squared, &z, &labels).unwrap(),
            vec![0.25]
        );
        assert!(matches!(
            from_margins(Statistic::Confidence, LossKind::Squared, &z, &labels),
            Err(MiaError::UnsupportedLoss { .. })
        ));
    }
}

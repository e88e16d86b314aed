//! The model under attack: a binary linear model, a one-vs-rest model, or an ensemble of
//! linear models whose outputs are aggregated (SISA's shard models).
//!
//! # What an attack sees of an ensemble
//! Every attack reads a model through its decision values (`margins`, n × K), from which
//! [`crate::scores`] derives the loss, the confidence and the other statistics exactly as for
//! a single model. An [`EnsembleModel`] exposes the decision values of **the aggregation it
//! predicts with** ([`Aggregation`]):
//!
//! - [`Aggregation::Average`]: `z̄ = (1/S) Σ_s X W_s`, the averaged decision values (SISA's
//!   `average` aggregation and SISA's decision function). The predicted label is the sign /
//!   arg-max of `z̄`, so a threshold attack on the confidence `σ(y z̄)` reads the same soft
//!   output the prediction is made from.
//! - [`Aggregation::Vote`]: the majority vote of the members (SISA's default). The attacks see
//!   the **vote shares**, smoothed by the Krichevsky–Trofimov (add-½, the Jeffreys prior's
//!   posterior mean) estimator so that every statistic stays finite, as logits:
//!   binary, with `v₊ = #{s : z_s ≥ 0}` (SISA counts `z = 0` as +1),
//!   `q̃₊ = (v₊ + ½)/(S + 1)` and margin `z = ln(q̃₊ / (1 − q̃₊)) = ln((v₊ + ½)/(S − v₊ + ½))`,
//!   so `σ(yz) = q̃_y` is the smoothed share of members that vote for the true label and
//!   `sign(z)` is SISA's vote (ties → +1); one-vs-rest, with `v_k` the members whose arg-max
//!   class is k (first maximum), `q̃_k = (v_k + ½)/(S + K/2)` and margin `z_k = ln(q̃_k / (1 − q̃_k))`,
//!   so the per-class sigmoids are exactly the smoothed vote shares (they sum to one). A
//!   threshold attack on a monotone statistic of the true-label share ranks examples exactly as
//!   the raw vote share does (the smoothing changes no ROC); LiRA and RMIA fit their Gaussians
//!   and ratios to these logits. With S members there are only S + 1 distinct binary scores,
//!   so ROC curves have few points: that is what a vote reveals.

use lethe_data::Dataset;
use lethe_models::{LinearModel, LinearModelParams, LossKind, OneVsRestModel};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{MiaError, Result, invalid};

/// How an [`EnsembleModel`] combines its members' decision values (see the module docs for
/// the decision values the attacks then see).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The mean of the members' decision values.
    Average,
    /// The majority vote of the members' predicted labels, exposed as smoothed vote shares.
    Vote,
}

impl Aggregation {
    /// `average` or `vote`.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregation::Average => "average",
            Aggregation::Vote => "vote",
        }
    }

    /// What the attacks read from an ensemble with this aggregation, in words.
    pub fn score_description(&self) -> &'static str {
        match self {
            Aggregation::Average => "averaged decision values of the members",
            Aggregation::Vote => {
                "add-½ smoothed vote shares of the members, as logits ln(q̃ / (1 − q̃))"
            }
        }
    }

    /// Aggregates the members' decision values (one n × K matrix per member, K = 1 for
    /// binary members) into the ensemble's n × K decision values.
    ///
    /// # Errors
    /// [`MiaError::Empty`] without members; [`MiaError::LengthMismatch`] when the members'
    /// matrices differ in shape.
    pub fn aggregate(&self, per_member: &[DMatrix<f64>]) -> Result<DMatrix<f64>> {
        let (n, k) = common_shape(per_member, "decision values of an ensemble member")?;
        let s = per_member.len() as f64;
        Ok(match self {
            Aggregation::Average => {
                let mut sum = DMatrix::zeros(n, k);
                for z in per_member {
                    sum += z;
                }
                sum / s
            }
            Aggregation::Vote if k == 1 => DMatrix::from_fn(n, 1, |i, _| {
                let plus = per_member.iter().filter(|z| z[(i, 0)] >= 0.0).count() as f64;
                ((plus + 0.5) / (s - plus + 0.5)).ln()
            }),
            Aggregation::Vote => {
                let mut votes = DMatrix::<f64>::zeros(n, k);
                for z in per_member {
                    for i in 0..n {
                        votes[(i, z.row(i).transpose().argmax().0)] += 1.0;
                    }
                }
                let total = s + k as f64 / 2.0;
                votes.map(|v| ((v + 0.5) / (total - v - 0.5)).ln())
            }
        })
    }
}

/// The shape every matrix of a non-empty list shares.
///
/// # Errors
/// [`MiaError::Empty`] for no matrix; [`MiaError::LengthMismatch`] (naming `what`) for one
/// of another shape.
fn common_shape(matrices: &[DMatrix<f64>], what: &'static str) -> Result<(usize, usize)> {
    let first = matrices.first().ok_or(MiaError::Empty {
        what: "ensemble members",
    })?;
    let shape = first.shape();
    match matrices.iter().find(|m| m.shape() != shape) {
        Some(bad) => Err(MiaError::LengthMismatch {
            what,
            expected: shape.0 * shape.1,
            found: bad.len(),
        }),
        None => Ok(shape),
    }
}

/// An ensemble of S linear models of the same shape (SISA's shard models, for example) whose
/// decision values are combined by an [`Aggregation`].
///
/// Attacks that train reference or shadow models train ensembles of the same size and
/// aggregation (see [`crate::reference`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleModel {
    members: Vec<DMatrix<f64>>,
    params: LinearModelParams,
    classes: Option<Vec<f64>>,
    aggregation: Aggregation,
}

impl EnsembleModel {
    /// An ensemble from its members' weights (each d × K; K = 1 for binary members), the
    /// hyper-parameters every member was trained with, the class ids of the K outputs
    /// (`None` for binary members) and the aggregation.
    ///
    /// # Errors
    /// [`MiaError::Empty`] without members; [`MiaError::LengthMismatch`] when members differ
    /// in shape or the class list does not have K entries;
    /// [`MiaError::InvalidParameter`] for binary members with class ids, K ≥ 2 members without
    /// them, or a one-vs-rest ensemble with fewer than two classes.
    pub fn new(
        members: Vec<DMatrix<f64>>,
        params: LinearModelParams,
        classes: Option<Vec<f64>>,
        aggregation: Aggregation,
    ) -> Result<Self> {
        let (_, k) = common_shape(&members, "weights of an ensemble member")?;
        match &classes {
            None if k != 1 => {
                return Err(invalid(
                    "classes",
                    "none",
                    format!("members with {k} outputs are one-vs-rest models: give their classes"),
                ));
            }
            Some(c) if k == 1 => {
                return Err(invalid(
                    "classes",
                    format!("{c:?}"),
                    "binary members (one output) take no class list",
                ));
            }
            Some(c) if c.len() != k => {
                return Err(MiaError::LengthMismatch {
                    what: "class list of a one-vs-rest ensemble",
                    expected: k,
                    found: c.len(),
                });
            }
            _ => {}
        }
        Ok(Self {
            members,
            params,
            classes,
            aggregation,
        })
    }

    /// The members' weights (each d × K).
    pub fn members(&self) -> &[DMatrix<f64>] {
        &self.members
    }

    /// The hyper-parameters of every member.
    pub fn params(&self) -> LinearModelParams {
        self.params
    }

    /// The class ids of the outputs (`None` for binary members).
    pub fn classes(&self) -> Option<&[f64]> {
        self.classes.as_deref()
    }

    /// The aggregation.
    pub fn aggregation(&self) -> Aggregation {
        self.aggregation
    }

    /// The ensemble's decision values on `x` (n × K), as its aggregation defines them.
    ///
    /// # Errors
    /// [`MiaError::LengthMismatch`] when `x` has the wrong number of columns.
    pub fn margins(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        aggregated_margins(x, &self.members, Some(self.aggregation))
    }
}

/// The decision values of members with weights `members` (each d × K) on `x`, aggregated
/// (`None`: exactly one member, whose `X W` is returned).
pub(crate) fn aggregated_margins(
    x: &DMatrix<f64>,
    members: &[DMatrix<f64>],
    aggregation: Option<Aggregation>,
) -> Result<DMatrix<f64>> {
    let per_member = members
        .iter()
        .map(|w| margins_with(x, w))
        .collect::<Result<Vec<_>>>()?;
    match aggregation {
        Some(a) => a.aggregate(&per_member),
        None => per_member.into_iter().next().ok_or(MiaError::Empty {
            what: "model weights",
        }),
    }
}

/// What an attack descriptor records about an ensemble target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleDescriptor {
    /// Number of members S.
    pub members: usize,
    /// `average` or `vote`.
    pub aggregation: Aggregation,
    /// The decision values the attacks read, in words.
    pub score: String,
}

/// A trained model whose training set an attack tries to infer.
///
/// Attacks read its decision values and, to train reference/shadow models the same way, its
/// hyper-parameters (loss, λ, σ, noise kind, solver).
#[derive(Clone, Copy, Debug)]
pub enum TargetModel<'a> {
    /// A binary (±1) model.
    Binary(&'a LinearModel),
    /// A one-vs-rest model over class ids.
    OneVsRest(&'a OneVsRestModel),
    /// An ensemble of binary or one-vs-rest linear models (see the module docs for the
    /// decision values the attacks see).
    Ensemble(&'a EnsembleModel),
}

impl<'a> From<&'a EnsembleModel> for TargetModel<'a> {
    fn from(m: &'a EnsembleModel) -> Self {
        TargetModel::Ensemble(m)
    }
}

impl<'a> From<&'a LinearModel> for TargetModel<'a> {
    fn from(m: &'a LinearModel) -> Self {
        TargetModel::Binary(m)
    }
}

impl<'a> From<&'a OneVsRestModel> for TargetModel<'a> {
    fn from(m: &'a OneVsRestModel) -> Self {
        TargetModel::OneVsRest(m)
    }
}

/// Labels of a dataset, as the target model reads them.
#[derive(Clone, Debug)]
pub(crate) enum Labels {
    /// ±1 labels (or real targets for the squared loss).
    Binary(Vec<f64>),
    /// The index of each row's class in the one-vs-rest model's class list.
    Classes(Vec<usize>),
}

impl TargetModel<'_> {
    /// The hyper-parameters it was trained with (those of the first class model for
    /// one-vs-rest; all class models share them).
    ///
    /// # Errors
    /// [`MiaError::Unsupported`] for a one-vs-rest model without class models.
    pub fn params(&self) -> Result<LinearModelParams> {
        match self {
            TargetModel::Binary(m) => Ok(m.params),
            TargetModel::OneVsRest(m) => {
                m.models
                    .first()
                    .map(|m| m.params)
                    .ok_or_else(|| MiaError::Unsupported {
                        what: "a one-vs-rest model without class models".into(),
                    })
            }
            TargetModel::Ensemble(e) => Ok(e.params),
        }
    }

    /// Number of features d.
    pub fn n_features(&self) -> usize {
        match self {
            TargetModel::Binary(m) => m.weights.len(),
            TargetModel::OneVsRest(m) => m.models.first().map_or(0, |m| m.weights.len()),
            TargetModel::Ensemble(e) => e.members[0].nrows(),
        }
    }

    /// Number of decision values per example: 1 (binary) or K (one-vs-rest).
    pub fn n_outputs(&self) -> usize {
        match self {
            TargetModel::Binary(_) => 1,
            TargetModel::OneVsRest(m) => m.models.len(),
            TargetModel::Ensemble(e) => e.members[0].ncols(),
        }
    }

    /// `"binary"`, `"one_vs_rest"`, `"binary_ensemble"` or `"one_vs_rest_ensemble"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            TargetModel::Binary(_) => "binary",
            TargetModel::OneVsRest(_) => "one_vs_rest",
            TargetModel::Ensemble(e) if e.classes.is_none() => "binary_ensemble",
            TargetModel::Ensemble(_) => "one_vs_rest_ensemble",
        }
    }

    /// The ensemble, if the target is one.
    pub fn ensemble(&self) -> Option<&EnsembleModel> {
        match self {
            TargetModel::Ensemble(e) => Some(e),
            _ => None,
        }
    }

    /// For an ensemble target: its size, aggregation and the score the attacks read.
    pub fn ensemble_descriptor(&self) -> Option<EnsembleDescriptor> {
        self.ensemble().map(|e| EnsembleDescriptor {
            members: e.members.len(),
            aggregation: e.aggregation,
            score: e.aggregation.score_description().into(),
        })
    }

    /// The weights as a d × K matrix (K = 1 for binary). For an ensemble, the mean of the
    /// members' weights: with [`Aggregation::Average`] the ensemble's decision values are
    /// exactly `X` times it; with [`Aggregation::Vote`] it is only a starting point (reference
    /// models are warm-started from it, which changes no minimiser).
    pub fn weight_matrix(&self) -> DMatrix<f64> {
        match self {
            TargetModel::Binary(m) => {
                DMatrix::from_column_slice(m.weights.len(), 1, m.weights.as_slice())
            }
            TargetModel::OneVsRest(m) => {
                let d = self.n_features();
                DMatrix::from_fn(d, m.models.len(), |i, k| m.models[k].weights[i])
            }
            TargetModel::Ensemble(e) => {
                let mut sum = DMatrix::zeros(e.members[0].nrows(), e.members[0].ncols());
                for w in &e.members {
                    sum += w;
                }
                sum / e.members.len() as f64
            }
        }
    }

    /// Decision values, n × K: `X W` for a single model, the aggregated values of
    /// [`EnsembleModel::margins`] for an ensemble.
    ///
    /// # Errors
    /// [`MiaError::LengthMismatch`] when `x` has the wrong number of columns.
    pub fn margins(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        match self {
            TargetModel::Ensemble(e) => e.margins(x),
            _ => margins_with(x, &self.weight_matrix()),
        }
    }

    /// Reads the labels of `data` for this model: ±1 for a binary logistic model (any real
    /// value for the squared loss), the class index for one-vs-rest.
    pub(crate) fn labels(&self, data: &Dataset) -> Result<Labels> {
        match self {
            TargetModel::Binary(m) => binary_labels(m.params.loss, data),
            TargetModel::OneVsRest(m) => class_labels(&m.classes, data),
            TargetModel::Ensemble(e) => match &e.classes {
                None => binary_labels(e.params.loss, data),
                Some(c) => class_labels(c, data),
            },
        }
    }
}

fn binary_labels(loss: LossKind, data: &Dataset) -> Result<Labels> {
    if loss.needs_binary_labels()
        && let Some((row, &label)) = data
            .labels()
            .iter()
            .enumerate()
            .find(|(_, y)| **y != 1.0 && **y != -1.0)
    {
        return Err(MiaError::UnknownLabel {
            row,
            label,
            expected: "+1 or -1 for a binary logistic model".into(),
        });
    }
    Ok(Labels::Binary(data.labels().iter().copied().collect()))
}

fn class_labels(classes: &[f64], data: &Dataset) -> Result<Labels> {
    data.labels()
        .iter()
        .enumerate()
        .map(|(row, &label)| {
            classes
                .iter()
                .position(|&c| c == label)
                .ok_or_else(|| MiaError::UnknownLabel {
                    row,
                    label,
                    expected: format!("one of the model's classes {classes:?}"),
                })
        })
        .collect::<Result<Vec<_>>>()
        .map(Labels::Classes)
}

/// `X W` with a dimension check.
pub(crate) fn margins_with(x: &DMatrix<f64>, w: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    if x.ncols() != w.nrows() {
        return Err(MiaError::LengthMismatch {
            what: "feature dimension of the examples",
            expected: w.nrows(),
            found: x.ncols(),
        });
    }
    Ok(x * w)
}

//! The model under attack: a binary linear model or a one-vs-rest model.

use lethe_data::Dataset;
use lethe_models::{LinearModel, LinearModelParams, OneVsRestModel};
use nalgebra::DMatrix;

use crate::error::{MiaError, Result};

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
        }
    }

    /// Number of features d.
    pub fn n_features(&self) -> usize {
        match self {
            TargetModel::Binary(m) => m.weights.len(),
            TargetModel::OneVsRest(m) => m.models.first().map_or(0, |m| m.weights.len()),
        }
    }

    /// Number of decision values per example: 1 (binary) or K (one-vs-rest).
    pub fn n_outputs(&self) -> usize {
        match self {
            TargetModel::Binary(_) => 1,
            TargetModel::OneVsRest(m) => m.models.len(),
        }
    }

    /// `"binary"` or `"one_vs_rest"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            TargetModel::Binary(_) => "binary",
            TargetModel::OneVsRest(_) => "one_vs_rest",
        }
    }

    /// The weights as a d × K matrix (K = 1 for binary).
    pub fn weight_matrix(&self) -> DMatrix<f64> {
        match self {
            TargetModel::Binary(m) => {
                DMatrix::from_column_slice(m.weights.len(), 1, m.weights.as_slice())
            }
            TargetModel::OneVsRest(m) => {
                let d = self.n_features();
                DMatrix::from_fn(d, m.models.len(), |i, k| m.models[k].weights[i])
            }
        }
    }

    /// Decision values `X W`, n × K.
    ///
    /// # Errors
    /// [`MiaError::LengthMismatch`] when `x` has the wrong number of columns.
    pub fn margins(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        margins_with(x, &self.weight_matrix())
    }

    /// Reads the labels of `data` for this model: ±1 for a binary logistic model (any real
    /// value for the squared loss), the class index for one-vs-rest.
    pub(crate) fn labels(&self, data: &Dataset) -> Result<Labels> {
        match self {
            TargetModel::Binary(m) => {
                if m.params.loss.needs_binary_labels()
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
            TargetModel::OneVsRest(m) => data
                .labels()
                .iter()
                .enumerate()
                .map(|(row, &label)| {
                    m.classes.iter().position(|&c| c == label).ok_or_else(|| {
                        MiaError::UnknownLabel {
                            row,
                            label,
                            expected: format!("one of the model's classes {:?}", m.classes),
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Labels::Classes),
        }
    }
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

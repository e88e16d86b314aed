//! The one concrete dataset type of lethe.

use nalgebra::{DMatrix, DVector, Dyn, MatrixView, U1};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// A labelled dataset: an `n × d` matrix of f64 features (one row per example) and `n` labels.
///
/// Features are stored column-major (nalgebra's `DMatrix`), so `X·v` and `Xᵀ·r` are
/// unit-stride passes and the Hessian `Xᵀ D X` is one GEMM on a transposed view.
/// Labels are f64: `±1` for binary classification, class ids `0..K` for multi-class data
/// (see [`crate::preprocess`] to turn them into ±1) and real targets for regression.
///
/// A `Dataset` is always valid: features and labels agree on `n`, and every value is finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    features: DMatrix<f64>,
    labels: DVector<f64>,
}

impl Dataset {
    /// Builds a dataset, checking that the shapes agree and that every value is finite.
    pub fn new(features: DMatrix<f64>, labels: DVector<f64>) -> Result<Self> {
        if features.nrows() != labels.len() {
            return Err(DataError::LengthMismatch {
                features: features.nrows(),
                labels: labels.len(),
            });
        }
        for column in 0..features.ncols() {
            for (row, &value) in features.column(column).iter().enumerate() {
                if !value.is_finite() {
                    return Err(DataError::NonFiniteFeature { row, column, value });
                }
            }
        }
        if let Some((row, &value)) = labels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DataError::NonFiniteLabel { row, value });
        }
        Ok(Self { features, labels })
    }

    /// Builds a dataset from parts the caller has produced from a valid dataset by operations
    /// that keep every value finite and the shapes in agreement (checked in debug builds).
    pub(crate) fn from_parts_unchecked(features: DMatrix<f64>, labels: DVector<f64>) -> Self {
        debug_assert_eq!(features.nrows(), labels.len());
        debug_assert!(features.iter().all(|v| v.is_finite()));
        debug_assert!(labels.iter().all(|v| v.is_finite()));
        Self { features, labels }
    }

    /// Builds a dataset from row-major features (`rows[i]` is example i).
    pub fn from_rows(rows: &[Vec<f64>], labels: Vec<f64>) -> Result<Self> {
        let d = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != d) {
            return Err(DataError::DimensionMismatch {
                expected: d,
                found: r.len(),
                context: format!("row {i} of the feature rows"),
            });
        }
        let features = DMatrix::from_fn(rows.len(), d, |i, j| rows[i][j]);
        Self::new(features, DVector::from_vec(labels))
    }

    /// Number of examples `n`.
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of features `d`.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Whether the dataset has no examples.
    pub fn is_empty(&self) -> bool {
        self.n_samples() == 0
    }

    /// The `n × d` feature matrix `X`.
    pub fn features(&self) -> &DMatrix<f64> {
        &self.features
    }

    /// The labels `y`.
    pub fn labels(&self) -> &DVector<f64> {
        &self.labels
    }

    /// Example `i` as a `1 × d` row view (stride `n`, no copy).
    ///
    /// # Panics
    /// If `i >= n` (use [`Dataset::check_index`] on untrusted input).
    pub fn row(&self, i: usize) -> MatrixView<'_, f64, U1, Dyn, U1, Dyn> {
        self.features.row(i)
    }

    /// Returns an error unless `i < n`.
    pub fn check_index(&self, i: usize) -> Result<()> {
        if i < self.n_samples() {
            Ok(())
        } else {
            Err(DataError::IndexOutOfRange {
                index: i,
                n: self.n_samples(),
            })
        }
    }

    /// A new dataset holding rows `indices` in that order (indices may repeat).
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        for &i in indices {
            self.check_index(i)?;
        }
        let d = self.n_features();
        let features = DMatrix::from_fn(indices.len(), d, |r, c| self.features[(indices[r], c)]);
        let labels = DVector::from_iterator(indices.len(), indices.iter().map(|&i| self.labels[i]));
        Ok(Self { features, labels })
    }

    /// A new dataset without the rows in `removed` (which need not be sorted; duplicates are
    /// ignored). Order of the kept rows is preserved.
    pub fn without(&self, removed: &[usize]) -> Result<Self> {
        let mut keep = vec![true; self.n_samples()];
        for &i in removed {
            self.check_index(i)?;
            keep[i] = false;
        }
        let kept: Vec<usize> = (0..self.n_samples()).filter(|&i| keep[i]).collect();
        self.select(&kept)
    }

    /// The rows of `self` followed by the rows of `other` (labels likewise).
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] when the two have different numbers of features
    /// (an empty `other` is returned as a copy of `self` whatever its width).
    pub fn stack(&self, other: &Dataset) -> Result<Self> {
        if other.is_empty() {
            return Ok(self.clone());
        }
        if other.n_features() != self.n_features() {
            return Err(DataError::DimensionMismatch {
                expected: self.n_features(),
                found: other.n_features(),
                context: "features of the rows stacked below a dataset".into(),
            });
        }
        let (na, d) = (self.n_samples(), self.n_features());
        let features = DMatrix::from_fn(na + other.n_samples(), d, |i, j| {
            if i < na {
                self.features[(i, j)]
            } else {
                other.features[(i - na, j)]
            }
        });
        let labels = DVector::from_iterator(
            na + other.n_samples(),
            self.labels.iter().chain(other.labels.iter()).copied(),
        );
        Ok(Self { features, labels })
    }

    /// Replaces the labels (same length required).
    pub fn with_labels(&self, labels: DVector<f64>) -> Result<Self> {
        Self::new(self.features.clone(), labels)
    }

    /// Euclidean norm of every row.
    pub fn row_norms(&self) -> Vec<f64> {
        let mut sq = vec![0.0; self.n_samples()];
        for column in self.features.column_iter() {
            for (s, x) in sq.iter_mut().zip(column.iter()) {
                *s += x * x;
            }
        }
        sq.into_iter().map(f64::sqrt).collect()
    }

    /// Checks the precondition of the removal bounds: every row has `‖x_i‖₂ ≤ 1 + tol`.
    ///
    /// `tol` absorbs rounding of rows that were scaled to norm exactly 1 (use `1e-12`).
    pub fn check_row_norms(&self, tol: f64) -> Result<()> {
        match self
            .row_norms()
            .into_iter()
            .enumerate()
            .find(|(_, norm)| *norm > 1.0 + tol)
        {
            Some((row, norm)) => Err(DataError::RowNormExceeded { row, norm }),
            None => Ok(()),
        }
    }

    /// Checks that every label is `+1` or `−1`.
    pub fn check_binary_labels(&self) -> Result<()> {
        match self
            .labels
            .iter()
            .enumerate()
            .find(|(_, y)| **y != 1.0 && **y != -1.0)
        {
            Some((row, &value)) => Err(DataError::InvalidLabel {
                row,
                value,
                expected: "+1 or -1".into(),
            }),
            None => Ok(()),
        }
    }

    /// The distinct labels, sorted ascending.
    pub fn classes(&self) -> Vec<f64> {
        let mut c: Vec<f64> = self.labels.iter().copied().collect();
        c.sort_by(f64::total_cmp);
        c.dedup();
        c
    }

    /// A SHA-256 fingerprint of the shape, features and labels (bit patterns, row-major),
    /// as a lowercase hex string. Two datasets with the same fingerprint hold the same numbers.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update((self.n_samples() as u64).to_le_bytes());
        h.update((self.n_features() as u64).to_le_bytes());
        for i in 0..self.n_samples() {
            for j in 0..self.n_features() {
                h.update(self.features[(i, j)].to_bits().to_le_bytes());
            }
            h.update(self.labels[i].to_bits().to_le_bytes());
        }
        crate::digest::hex(&h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::from_rows(
            &[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]],
            vec![1.0, -1.0, 1.0],
        )
        .unwrap()
    }

    #[test]
    fn row_view_reads_a_row() {
        let ds = tiny();
        let r = ds.row(1);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0], r[1]), (3.0, 4.0));
    }

    #[test]
    fn stack_puts_rows_below_and_checks_the_width() {
        let ds = tiny();
        let both = ds.stack(&ds.select(&[2]).unwrap()).unwrap();
        assert_eq!(both.n_samples(), 4);
        assert_eq!(both.row(3)[1], 6.0);
        assert_eq!(both.labels()[3], ds.labels()[2]);
        assert_eq!(both.row(0)[0], 1.0);
        let empty = Dataset::new(DMatrix::zeros(0, 5), DVector::zeros(0)).unwrap();
        assert_eq!(ds.stack(&empty).unwrap(), ds);
        let wide = Dataset::from_rows(&[vec![1.0, 2.0, 3.0]], vec![1.0]).unwrap();
        assert!(matches!(
            ds.stack(&wide),
            Err(DataError::DimensionMismatch {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn select_and_without_keep_order() {
        let ds = tiny();
        let s = ds.select(&[2, 0]).unwrap();
        assert_eq!(s.features()[(0, 0)], 5.0);
        assert_eq!(s.labels()[1], 1.0);
        let w = ds.without(&[1]).unwrap();
        assert_eq!(w.n_samples(), 2);
        assert_eq!(w.features()[(1, 1)], 6.0);
        assert!(matches!(
            ds.select(&[3]),
            Err(DataError::IndexOutOfRange { index: 3, n: 3 })
        ));
    }

    #[test]
    fn rejects_non_finite_and_mismatch() {
        let e = Dataset::from_rows(&[vec![1.0, f64::NAN]], vec![1.0]).unwrap_err();
        assert!(matches!(
            e,
            DataError::NonFiniteFeature {
                row: 0,
                column: 1,
                ..
            }
        ));
        let e = Dataset::from_rows(&[vec![1.0]], vec![f64::INFINITY]).unwrap_err();
        assert!(matches!(e, DataError::NonFiniteLabel { row: 0, .. }));
        let e = Dataset::from_rows(&[vec![1.0], vec![1.0, 2.0]], vec![1.0, 1.0]).unwrap_err();
        assert!(matches!(e, DataError::DimensionMismatch { .. }));
        let e = Dataset::new(DMatrix::zeros(2, 1), DVector::zeros(3)).unwrap_err();
        assert!(matches!(
            e,
            DataError::LengthMismatch {
                features: 2,
                labels: 3
            }
        ));
    }

    #[test]
    fn norm_and_label_checks() {
        let ds = tiny();
        assert!(matches!(
            ds.check_row_norms(1e-12),
            Err(DataError::RowNormExceeded { row: 0, .. })
        ));
        assert!(ds.check_binary_labels().is_ok());
        let bad = ds
            .with_labels(DVector::from_vec(vec![1.0, 0.0, 1.0]))
            .unwrap();
        assert!(matches!(
            bad.check_binary_labels(),
            Err(DataError::InvalidLabel { row: 1, .. })
        ));
    }

    #[test]
    fn fingerprint_changes_with_content() {
        let a = tiny();
        let b = a
            .with_labels(DVector::from_vec(vec![1.0, 1.0, 1.0]))
            .unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), tiny().fingerprint());
    }
}

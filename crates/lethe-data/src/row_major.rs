//! Row-major feature values (numpy's C order, the text loaders' buffers: `values[i·d + j]` is
//! feature j of example i) copied into the column-major matrix a [`Dataset`] holds.
//!
//! The copy is a transpose: done element by element it is cache-hostile (every write lands on
//! another column), so it goes tile by tile (32 × 32), and column blocks are filled in
//! parallel on rayon's current pool (a pure copy: the result is the same bits for any thread
//! count). On MNIST 3-vs-8 (11,982 × 784, 75 MB) most of the cost is the kernel's first touch
//! of the new 75 MB, which the two cores then share. [`Dataset::from_row_major`] checks
//! finiteness while it copies, so the values are read once instead of once for the copy and
//! once for [`Dataset::new`]'s scan.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Rows and columns of one tile of the transpose.
const TILE: usize = 32;

/// The n × d column-major matrix of the row-major `values` (length n·d).
///
/// # Errors
/// [`DataError::DimensionMismatch`] when `values` does not hold n·d numbers.
pub fn to_column_major(values: &[f64], n: usize, d: usize) -> Result<DMatrix<f64>> {
    Ok(transpose_checked(values, n, d)?.0)
}

/// The column-major copy of `values` and whether every value is finite.
fn transpose_checked(values: &[f64], n: usize, d: usize) -> Result<(DMatrix<f64>, bool)> {
    let expected = n
        .checked_mul(d)
        .ok_or_else(|| DataError::DimensionMismatch {
            expected: usize::MAX,
            found: values.len(),
            context: format!("row-major values of {n} rows × {d} columns overflow usize"),
        })?;
    if values.len() != expected {
        return Err(DataError::DimensionMismatch {
            expected,
            found: values.len(),
            context: format!("row-major values of {n} rows × {d} columns"),
        });
    }
    let mut out = vec![0.0; expected];
    if expected == 0 {
        return Ok((DMatrix::from_vec(n, d, out), true));
    }
    // Output block b holds the columns TILE·b .. TILE·(b+1), contiguous in column-major order.
    let finite = out
        .par_chunks_mut(TILE * n)
        .enumerate()
        .map(|(block, cols)| {
            let j0 = block * TILE;
            let width = cols.len() / n;
            let mut finite = true;
            for i0 in (0..n).step_by(TILE) {
                let i1 = (i0 + TILE).min(n);
                for i in i0..i1 {
                    let row = &values[i * d + j0..i * d + j0 + width];
                    for (jj, &v) in row.iter().enumerate() {
                        cols[jj * n + i] = v;
                        finite &= v.is_finite();
                    }
                }
            }
            finite
        })
        .reduce(|| true, |a, b| a & b);
    Ok((DMatrix::from_vec(n, d, out), finite))
}

impl Dataset {
    /// Builds a dataset from row-major features (`values[i·d + j]` is feature j of example i,
    /// n = `labels.len()` rows), with the checks of [`Dataset::new`] and the same errors: the
    /// first non-finite feature reported is the one `new` reports (column by column).
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] when `values` does not hold n·d numbers;
    /// [`DataError::NonFiniteFeature`] / [`DataError::NonFiniteLabel`] as [`Dataset::new`].
    pub fn from_row_major(values: &[f64], d: usize, labels: DVector<f64>) -> Result<Self> {
        let (features, finite) = transpose_checked(values, labels.len(), d)?;
        if finite {
            if let Some((row, &value)) = labels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(DataError::NonFiniteLabel { row, value });
            }
            Ok(Dataset::from_parts_unchecked(features, labels))
        } else {
            // The rare failure: `new` finds the offender in its own order.
            Dataset::new(features, labels)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any shape (including ones that are not multiples of the tile) copies exactly.
        #[test]
        fn the_copy_is_the_row_major_matrix(n in 0usize..80, d in 0usize..80, seed in 0u64..1000) {
            let values: Vec<f64> = (0..n * d).map(|k| (k as f64) * 0.5 + seed as f64).collect();
            let m = to_column_major(&values, n, d).unwrap();
            prop_assert_eq!(m, DMatrix::from_row_slice(n, d, &values));
            let ds = Dataset::from_row_major(&values, d, DVector::zeros(n)).unwrap();
            prop_assert_eq!(ds.features(), &DMatrix::from_row_slice(n, d, &values));
        }
    }

    #[test]
    fn a_wrong_length_is_a_dimension_mismatch() {
        let e = to_column_major(&[1.0; 5], 2, 3).unwrap_err();
        assert!(matches!(
            e,
            DataError::DimensionMismatch {
                expected: 6,
                found: 5,
                ..
            }
        ));
        let e = Dataset::from_row_major(&[1.0; 5], 3, DVector::zeros(2)).unwrap_err();
        assert!(matches!(
            e,
            DataError::DimensionMismatch {
                expected: 6,
                found: 5,
                ..
            }
        ));
    }

    #[test]
    fn non_finite_values_are_reported_as_new_reports_them() {
        // Row-major order would find (0, 2) first; `new` scans column 0 first and finds (3, 0).
        let (n, d) = (40, 35);
        let mut values = vec![0.25; n * d];
        values[2] = f64::INFINITY;
        values[3 * d] = f64::NAN;
        let labels = DVector::zeros(n);
        let fast = Dataset::from_row_major(&values, d, labels.clone()).unwrap_err();
        let slow = Dataset::new(DMatrix::from_row_slice(n, d, &values), labels).unwrap_err();
        assert_eq!(fast.to_string(), slow.to_string());
        assert!(matches!(
            fast,
            DataError::NonFiniteFeature {
                row: 3,
                column: 0,
                ..
            }
        ));
        let mut labels = DVector::zeros(n);
        labels[7] = f64::NAN;
        let e = Dataset::from_row_major(&vec![0.25; n * d], d, labels).unwrap_err();
        assert!(matches!(e, DataError::NonFiniteLabel { row: 7, .. }));
    }
}

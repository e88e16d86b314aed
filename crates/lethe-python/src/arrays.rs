//! numpy arrays in and out. Inputs are float64 arrays of any memory order (the Python side
//! converts float32, lists and sparse matrices first); they are copied into nalgebra's
//! column-major matrices, whatever their strides.

use nalgebra::{DMatrix, DVector};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

/// Copies an n × d array into a column-major matrix.
///
/// A C-ordered array (numpy's default) is transposed in cache-sized tiles, a Fortran-ordered
/// one is copied as it is, and any other strides element by element. The element-wise copy
/// of a C-ordered MNIST-sized array (11,982 × 784) cost about a tenth of the fit it feeds.
pub fn matrix(x: &PyReadonlyArray2<'_, f64>) -> DMatrix<f64> {
    let a = x.as_array();
    let (n, d) = a.dim();
    if let Some(rows) = a.as_slice() {
        DMatrix::from_vec(n, d, transpose_row_major(rows, n, d))
    } else if let Some(cols) = a.t().as_slice() {
        DMatrix::from_column_slice(n, d, cols)
    } else {
        DMatrix::from_fn(n, d, |i, j| a[[i, j]])
    }
}

/// The column-major copy of the row-major n × d `rows`, tile by tile. (Checked from Python: the
/// parity benchmark's test requires weights bit-identical to a Rust model built from the same
/// bits, and `test_sigma0_equals_sklearn` the σ = 0 match with scikit-learn.)
fn transpose_row_major(rows: &[f64], n: usize, d: usize) -> Vec<f64> {
    const TILE: usize = 32;
    let mut out = vec![0.0; n * d];
    for i0 in (0..n).step_by(TILE) {
        let i1 = (i0 + TILE).min(n);
        for j0 in (0..d).step_by(TILE) {
            let j1 = (j0 + TILE).min(d);
            for i in i0..i1 {
                let row = &rows[i * d..(i + 1) * d];
                for j in j0..j1 {
                    out[j * n + i] = row[j];
                }
            }
        }
    }
    out
}

/// Copies a length-n array into a vector.
pub fn vector(y: &PyReadonlyArray1<'_, f64>) -> DVector<f64> {
    let a = y.as_array();
    DVector::from_iterator(a.len(), a.iter().copied())
}

/// A matrix as a new C-ordered numpy array.
pub fn to_numpy<'py>(py: Python<'py>, m: &DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py)
}

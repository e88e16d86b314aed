//! numpy arrays in and out. Inputs are float64 arrays of any memory order (the Python side
//! converts float32, lists and sparse matrices first); they are copied into nalgebra's
//! column-major matrices, whatever their strides.

use lethe_data::{DataError, Dataset};
use nalgebra::{DMatrix, DVector};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

/// Copies an n × d array into a column-major matrix.
///
/// A C-ordered array (numpy's default) goes through [`lethe_data::row_major`]'s tiled,
/// parallel transpose, a Fortran-ordered one is copied as it is, and any other strides element
/// by element. (The element-wise copy of a C-ordered MNIST-sized array, 11,982 × 784, cost
/// about a tenth of the fit it feeds.)
pub fn matrix(x: &PyReadonlyArray2<'_, f64>) -> Result<DMatrix<f64>, DataError> {
    let a = x.as_array();
    let (n, d) = a.dim();
    if let Some(rows) = a.as_slice() {
        lethe_data::row_major::to_column_major(rows, n, d)
    } else if let Some(cols) = a.t().as_slice() {
        Ok(DMatrix::from_column_slice(n, d, cols))
    } else {
        Ok(DMatrix::from_fn(n, d, |i, j| a[[i, j]]))
    }
}

/// The training data `x`, `y` as a [`Dataset`] (shapes agree, every value finite). A C-ordered
/// `x` is checked while it is copied ([`Dataset::from_row_major`]), so its 75 MB (MNIST) are
/// read once. (Checked from Python: the parity benchmark's test requires weights bit-identical
/// to a Rust model built from the same bits, and `test_sigma0_equals_sklearn` the σ = 0 match
/// with scikit-learn.)
pub fn dataset(
    x: &PyReadonlyArray2<'_, f64>,
    y: &PyReadonlyArray1<'_, f64>,
) -> Result<Dataset, DataError> {
    let labels = vector(y);
    let a = x.as_array();
    match a.as_slice() {
        Some(rows) if a.nrows() == labels.len() => Dataset::from_row_major(rows, a.ncols(), labels),
        _ => Dataset::new(matrix(x)?, labels),
    }
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

//! numpy arrays in and out. Inputs are float64 arrays of any memory order (the Python side
//! converts float32, lists and sparse matrices first); they are copied into nalgebra's
//! column-major matrices, whatever their strides.

use nalgebra::{DMatrix, DVector};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

/// Copies an n × d array into a column-major matrix.
pub fn matrix(x: &PyReadonlyArray2<'_, f64>) -> DMatrix<f64> {
    let a = x.as_array();
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
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

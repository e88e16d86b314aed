//! lethe's errors as Python exceptions.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    _core,
    LetheError,
    PyValueError,
    "An error of lethe's Rust core (invalid parameters or data, a request that cannot be \
     served, an experiment that failed), with lethe's own message. A ValueError, as \
     scikit-learn expects for invalid input."
);

/// Wraps any lethe error (its `Display` names what failed and where) as a [`LetheError`].
pub fn to_py<E: std::fmt::Display>(e: E) -> PyErr {
    LetheError::new_err(e.to_string())
}

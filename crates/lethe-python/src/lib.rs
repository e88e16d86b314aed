//! # lethe-python
//!
//! The native core `lethe._core` of the Python package `lethe` (distribution
//! `lethe-unlearning`, built with maturin). It is deliberately small: the scikit-learn
//! estimators are Python classes (`python/lethe/`) that hold the hyper-parameters and call
//! this module for the math, which stays in lethe's Rust crates:
//!
//! | item | what |
//! |---|---|
//! | [`model::Model`] | a [`lethe_removal::CertifiedModel`]: training, certified removal, decision values |
//! | [`experiment`] | `run_experiment`: a config held in memory through lethe-experiments' runner; `result_tables` |
//! | [`values`] | result-file JSON values as Python objects (a removal's certificate) |
//! | [`errors`] | lethe's typed errors as `lethe.LetheError` (a `ValueError`) with lethe's message |
//!
//! Every heavy call (training, removal, a whole experiment) releases the GIL.

pub mod arrays;
pub mod errors;
pub mod experiment;
pub mod model;
pub mod values;

use pyo3::prelude::*;

/// The module `lethe._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LetheError", m.py().get_type::<errors::LetheError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(experiment::run_experiment_json, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::result_tables, m)?)?;
    Ok(())
}

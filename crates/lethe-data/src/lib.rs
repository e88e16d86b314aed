//! # lethe-data
//!
//! Datasets for certified data removal: one concrete [`Dataset`] type (n × d f64 features,
//! one row per example, and f64 labels), loaders for the formats researchers use (MNIST IDX,
//! CSV, LibSVM/SVMlight, each optionally gzipped), the preprocessing of Guo et al. (2020)
//! (class subsets relabelled ±1, pixel scaling, unit-norm rows), seeded splits and synthetic
//! generators, and small real datasets bundled in the crate.
//!
//! Every function that reads user input returns a typed [`DataError`] naming the file and what
//! is wrong; nothing panics on bad input.

mod dataset;
mod error;

pub use dataset::Dataset;
pub use error::{DataError, Result};

//! # lethe-experiments
//!
//! JSON experiment configs → runs → JSON results → Markdown reports and SVG plots; the library
//! behind the `lethe` binary (DESIGN §6).
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the `lethe.experiment/1` config: typed structs, validation with JSON paths, grids |
//! | [`data`] | finding, loading and preparing datasets, with a per-process cache |
//! | [`data_files`] | provenance of data files: name relative to the data directory, size, SHA-256 |
//! | [`runner`] | one grid point: training, removals, reference retrain, audit, comparison |
//! | [`audit`] | the membership-inference audit of a run: models, rows, reference models, empirical vs certified ε |
//! | [`audit_scores`] | the per-example scores of an audit, a CSV file beside the result |
//! | [`sweep`] | a whole sweep: parallel points, shards, resume, atomic point and result files |
//! | [`report`] | Markdown tables and SVG plots from result files |
//! | [`tables`] | flat CSV tables of a result (`lethe run --tables csv`) |
//! | [`files`] | file safety: no output over an input, writable output checked first, plain file names, stale temporaries |
//! | [`memory`] | the memory estimate of a point and the limit it must fit (`--max-memory`) |
//! | [`json`] | explicit non-finite floats, canonical hashes, atomic writes |
//! | [`verify`] | `lethe verify`: replaying the certificate ledgers of `removal.ledger` runs |
//!
//! Library code never panics on bad input: every failure is an [`ExperimentError`], which the
//! binary maps to an exit code ([`error::exit`]).
//!
//! ```no_run
//! use lethe_experiments::sweep::{RunOptions, run_experiment};
//! let summary = run_experiment("experiments/quickstart.json".as_ref(), &RunOptions::new("results"))?;
//! println!("{} of {} points done", summary.points_done, summary.points_total);
//! # Ok::<(), lethe_experiments::ExperimentError>(())
//! ```

pub mod audit;
pub mod audit_scores;
pub mod config;
pub mod data;
pub mod data_files;
pub mod error;
pub mod files;
pub mod game;
pub mod json;
pub mod memory;
pub mod report;
pub mod runner;
pub mod strict_json;
pub mod sweep;
pub mod tables;
pub mod verify;

pub use error::{ConfigIssue, ConfigIssues, ExperimentError, Result};

//! The Rust half of the Python-parity benchmark (issue 18): fit and certified removals on
//! MNIST 3-vs-8 timed in Rust, so that `crates/lethe-python/bench/parity.py` can time the same
//! calls through the Python package in the same run and report the ratio.
//!
//! Two modes:
//! - `--dump DIR` writes the benchmark data (MNIST 3-vs-8 from `$LETHE_DATA/mnist` with the
//!   paper's preprocessing, or the synthetic stand-in of the same shape; see
//!   [`lethe_benches::mnist_3v8`]) as `DIR/x.f64` (n × d, row-major, little-endian f64),
//!   `DIR/y.f64` (n labels, ±1) and `DIR/meta.json` (`n`, `d`, `source`), so that Python reads
//!   the very same bits with `numpy.fromfile`.
//! - `--time DIR --params JSON --seed S [--rounds K]` reads that dump and, K times, trains a
//!   [`CertifiedModel`] with the `CertifiedParams` given as JSON (the estimator's own
//!   `_params_json()`, so both sides run the same configuration) and serves single removals:
//!   row 0 (which factors the Hessian), row 1, then rows 2 … [`REUSED_REMOVALS`] + 1 (all on
//!   the reused factor; their median is a steadier number than one 4 ms removal on a shared
//!   machine). It prints one JSON object per round: the seconds of the fit and of the
//!   removals, and the `weights_sha256` after the first, the second and the last removal,
//!   which the Python side compares with its own to show both computed the same model.
//!
//! The data are read into a `Dataset` before the clock starts, as the Python side hands the
//! estimator an array it already holds; the Python fit's own copy of that array into the core
//! is part of what the benchmark measures.
//!
//! ```text
//! LETHE_DATA=/path/to/data cargo run --release -p lethe-benches --example python_parity -- --dump /tmp/d
//! cargo run --release -p lethe-benches --example python_parity -- --time /tmp/d --params '{…}' --seed 0
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use lethe_benches::mnist_3v8;
use lethe_data::Dataset;
use lethe_removal::stats::median;
use lethe_removal::{CertifiedModel, CertifiedParams};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// `DIR/meta.json` of a dump.
#[derive(Serialize, Deserialize)]
struct Meta {
    n: usize,
    d: usize,
    source: String,
}

/// Removals on the reused factor after the second one, whose median a round reports.
const REUSED_REMOVALS: usize = 10;

/// One timed round, printed as a JSON line.
#[derive(Serialize)]
struct Round {
    fit_seconds: f64,
    first_removal_seconds: f64,
    second_removal_seconds: f64,
    /// How many removals `reused_removal_seconds` is the median of.
    reused_removals: usize,
    reused_removal_seconds: f64,
    weights_sha256_after_first: String,
    weights_sha256_after_second: String,
    weights_sha256_after_reused: String,
}

type BoxError = Box<dyn std::error::Error>;

fn write_f64s(path: &Path, values: impl Iterator<Item = f64>) -> Result<(), BoxError> {
    let bytes: Vec<u8> = values.flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes)?;
    Ok(())
}

fn read_f64s(path: &Path, len: usize) -> Result<Vec<f64>, BoxError> {
    let bytes = std::fs::read(path)?;
    if bytes.len() != len * 8 {
        return Err(format!(
            "{}: {} bytes, expected {} ({} f64)",
            path.display(),
            bytes.len(),
            len * 8,
            len
        )
        .into());
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

fn dump(dir: &Path) -> Result<(), BoxError> {
    let (train, _test, source) = mnist_3v8();
    std::fs::create_dir_all(dir)?;
    let x = train.features();
    let (n, d) = x.shape();
    write_f64s(
        &dir.join("x.f64"),
        (0..n).flat_map(|i| (0..d).map(move |j| x[(i, j)])),
    )?;
    write_f64s(&dir.join("y.f64"), train.labels().iter().copied())?;
    let meta = Meta {
        n,
        d,
        source: source.to_string(),
    };
    std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    Ok(())
}

fn load(dir: &Path) -> Result<Dataset, BoxError> {
    let meta: Meta = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json"))?)?;
    let x = read_f64s(&dir.join("x.f64"), meta.n * meta.d)?;
    let y = read_f64s(&dir.join("y.f64"), meta.n)?;
    // Row-major in, nalgebra's column-major out: the same conversion the Python binding makes.
    Ok(Dataset::from_row_major(&x, meta.d, DVector::from_vec(y))?)
}

fn time_rounds(dir: &Path, params: &str, seed: u64, rounds: usize) -> Result<(), BoxError> {
    let data = Arc::new(load(dir)?);
    let params: CertifiedParams = serde_json::from_str(params)?;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut model = CertifiedModel::train(params, data.clone(), seed)?;
        let fit_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let first = model.remove(&[0])?;
        let first_removal_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let second = model.remove(&[1])?;
        let second_removal_seconds = start.elapsed().as_secs_f64();
        let mut reused = Vec::with_capacity(REUSED_REMOVALS);
        let mut last = second.weights_sha256.clone();
        for row in 2..2 + REUSED_REMOVALS {
            let start = Instant::now();
            let cert = model.remove(&[row])?;
            reused.push(start.elapsed().as_secs_f64());
            last = cert.weights_sha256;
        }
        let round = Round {
            fit_seconds,
            first_removal_seconds,
            second_removal_seconds,
            reused_removals: REUSED_REMOVALS,
            reused_removal_seconds: median(&reused),
            weights_sha256_after_first: first.weights_sha256,
            weights_sha256_after_second: second.weights_sha256,
            weights_sha256_after_reused: last,
        };
        println!("{}", serde_json::to_string(&round)?);
    }
    Ok(())
}

fn usage() -> BoxError {
    "usage: python_parity --dump DIR | --time DIR --params JSON --seed S [--rounds K]".into()
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    if let Some(dir) = value("--dump") {
        return dump(&PathBuf::from(dir));
    }
    let dir = value("--time").ok_or_else(usage)?;
    let params = value("--params").ok_or_else(usage)?;
    let seed: u64 = value("--seed").ok_or_else(usage)?.parse()?;
    let rounds: usize = value("--rounds").unwrap_or("1").parse()?;
    time_rounds(&PathBuf::from(dir), params, seed, rounds)
}

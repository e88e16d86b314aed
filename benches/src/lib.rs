//! Shared fixtures of the lethe benchmarks.
//!
//! The benchmarks run on the paper's MNIST 3-vs-8 task (Guo et al. 2020, §5): 11 982 training
//! and 1 984 test images of 784 pixels, 3 → +1 and 8 → −1, pixels x/255 − 0.5, rows scaled to
//! unit norm. MNIST is not bundled: set `LETHE_DATA` so that `$LETHE_DATA/mnist` holds the four
//! official `*-idx?-ubyte.gz` files. Without it the fixtures use synthetic data of the same
//! shape (and say so on stderr), so the benchmarks always run and time the same amount of work,
//! although iteration counts (and so training times) differ from MNIST's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lethe_data::{DataError, Dataset, MnistSplit, SyntheticOptions, logistic_planted};
use lethe_models::LinearModelParams;
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, RemovalError, StepSolver};

/// λ of the benchmarks (the paper's MNIST setting).
pub const LAMBDA: f64 = 1e-3;
/// σ of the benchmarks (the paper's MNIST setting).
pub const SIGMA: f64 = 10.0;
/// The seed of every benchmark model.
pub const SEED: u64 = 0;

/// A certified logistic model on `data` (λ = [`LAMBDA`], σ = [`SIGMA`], seed [`SEED`], no
/// retraining: `BudgetPolicy::Never`) with the given removal solver, that has already served
/// one request (row 0), so the fast solvers hold their reused factor, as in a running
/// service.
///
/// # Errors
/// Training or the first removal failing.
pub fn warm_model(
    data: &Arc<Dataset>,
    solver: StepSolver,
    exact_residual: bool,
) -> Result<CertifiedModel, RemovalError> {
    let mut params = CertifiedParams::new(LinearModelParams::logistic(LAMBDA, SIGMA));
    params.solver = solver;
    params.exact_residual = exact_residual;
    params.budget_policy = BudgetPolicy::Never;
    let mut m = CertifiedModel::train(params, data.clone(), SEED)?;
    m.remove(&[0])?;
    Ok(m)
}

/// Rows of the MNIST 3-vs-8 training set (6131 threes + 5851 eights).
pub const MNIST_3V8_TRAIN: usize = 11_982;
/// Rows of the MNIST 3-vs-8 test set (1010 threes + 974 eights).
pub const MNIST_3V8_TEST: usize = 1_984;
/// Pixels per MNIST image.
pub const MNIST_DIM: usize = 784;

/// Description of the data when the official MNIST files were used.
pub const SOURCE_MNIST: &str = "MNIST 3-vs-8 (official files, paper preprocessing)";
/// Description of the data when MNIST was not found.
pub const SOURCE_SYNTHETIC: &str =
    "synthetic logistic_planted, 11982 + 1984 rows x 784, unit-norm rows, seed 0 (MNIST not found)";

/// `$LETHE_DATA/mnist`, if `LETHE_DATA` is set and that directory exists.
///
/// A relative `LETHE_DATA` is taken from the workspace root (where `cargo bench` is normally
/// typed), not from the current directory: cargo runs benchmarks in the package directory
/// (`benches/`), so `LETHE_DATA=../shared/data` would otherwise silently miss.
pub fn mnist_dir() -> Option<PathBuf> {
    let data = PathBuf::from(std::env::var_os("LETHE_DATA")?);
    let data = if data.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(data)
    } else {
        data
    };
    let dir = data.join("mnist");
    dir.is_dir().then_some(dir)
}

/// MNIST 3-vs-8 with the paper's preprocessing from the official files in `dir`:
/// `(train, test)`.
///
/// # Errors
/// A missing or malformed IDX file, as [`lethe_data::load_mnist_3v8`] reports it.
pub fn load_mnist_3v8(dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    Ok((
        lethe_data::load_mnist_3v8(dir, MnistSplit::Train)?,
        lethe_data::load_mnist_3v8(dir, MnistSplit::Test)?,
    ))
}

/// Synthetic stand-in of MNIST 3-vs-8's shape: [`lethe_data::logistic_planted`] with
/// n = 11 982 + 1 984, d = 784, seed 0 (unit-norm rows, ±1 labels), split into the first
/// 11 982 rows (train) and the rest (test).
pub fn synthetic_3v8_shape() -> (Dataset, Dataset) {
    let (all, _) = logistic_planted(
        MNIST_3V8_TRAIN + MNIST_3V8_TEST,
        MNIST_DIM,
        0,
        &SyntheticOptions::default(),
    )
    .expect("valid synthetic shape");
    let train: Vec<usize> = (0..MNIST_3V8_TRAIN).collect();
    let test: Vec<usize> = (MNIST_3V8_TRAIN..all.n_samples()).collect();
    (
        all.select(&train).expect("indices in range"),
        all.select(&test).expect("indices in range"),
    )
}

/// The benchmark data: `(train, test, source description)`.
///
/// Official MNIST 3-vs-8 from `$LETHE_DATA/mnist` when `LETHE_DATA` is set and the directory
/// exists, otherwise [`synthetic_3v8_shape`], announced on stderr.
///
/// # Panics
/// When `$LETHE_DATA/mnist` exists but its files cannot be loaded (a benchmark on silently
/// different data would be misleading).
pub fn mnist_3v8() -> (Dataset, Dataset, &'static str) {
    match mnist_dir() {
        Some(dir) => {
            let (train, test) = load_mnist_3v8(&dir)
                .unwrap_or_else(|e| panic!("cannot load MNIST from {}: {e}", dir.display()));
            eprintln!("benchmark data: {SOURCE_MNIST} from {}", dir.display());
            (train, test, SOURCE_MNIST)
        }
        None => {
            eprintln!(
                "benchmark data: $LETHE_DATA/mnist not found, using {SOURCE_SYNTHETIC}; \
                 set LETHE_DATA to the directory holding mnist/ for the real task"
            );
            let (train, test) = synthetic_3v8_shape();
            (train, test, SOURCE_SYNTHETIC)
        }
    }
}

//! Trains the paper's MNIST 3-vs-8 logistic model (Guo et al. 2020, §5) with every solver.
//!
//! ```text
//! cargo run --release -p lethe-models --example train_mnist -- [MNIST_DIR|-] [LAMBDA] [SIGMA]
//! ```
//!
//! - `MNIST_DIR` holds the four official `*-idx?-ubyte.gz` files; without it (or with `-`) the
//!   example looks in `$LETHE_DATA/mnist`, and if that is not there either it falls back to the
//!   bundled 8×8 digits (3 vs 8, a 20 % test split) and says so.
//! - `LAMBDA` (default 1e-3) and `SIGMA` (default 10) are λ and σ of the perturbed objective
//!   L_b(w) = Σ ℓ(wᵀx_i, y_i) + (λn/2)‖w‖² + bᵀw, b ~ N(0, σ²I) drawn from seed 0.
//!
//! Preprocessing is the paper's: 3 → +1, 8 → −1, pixels x/255 − 0.5 (x/16 − 0.5 for the 8×8
//! digits), rows scaled to unit norm. For each solver it prints the iterations, the training
//! residual r₀ = ‖∇L_b(w)‖ (sum scale), the seconds and the test accuracy; on Linux also the
//! peak resident memory of the process so far (`/usr/bin/time -v` reports the same at exit).

use std::path::{Path, PathBuf};
use std::time::Instant;

use lethe_data::{Dataset, MnistSplit, bundled, load_mnist_3v8, three_vs_eight, train_test_split};
use lethe_models::{LinearModelParams, SolverKind};

type BoxError = Box<dyn std::error::Error>;

/// MNIST 3-vs-8 with the paper's preprocessing, from the official files in `dir`.
fn mnist_3v8(dir: &Path) -> Result<(Dataset, Dataset), BoxError> {
    Ok((
        load_mnist_3v8(dir, MnistSplit::Train)?,
        load_mnist_3v8(dir, MnistSplit::Test)?,
    ))
}

/// The bundled 8×8 digits, 3 vs 8, pixels x/16 − 0.5, unit-norm rows, 80/20 split (seed 0).
fn digits_3v8() -> Result<(Dataset, Dataset), BoxError> {
    let ds = three_vs_eight(&bundled::digits()?, Some(16.0))?;
    Ok(train_test_split(&ds, 0.2, 0)?)
}

/// Linux only: the peak resident set size of the process so far (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The optional positional argument `index` as an f64, `default` when absent.
fn number_arg(args: &[String], index: usize, name: &str, default: f64) -> Result<f64, BoxError> {
    match args.get(index) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|e| format!("{name} must be a number, got {s:?}: {e}").into()),
    }
}

fn run() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let explicit = args
        .first()
        .filter(|a| a.as_str() != "-")
        .map(PathBuf::from);
    let lambda = number_arg(&args, 1, "LAMBDA", 1e-3)?;
    let sigma = number_arg(&args, 2, "SIGMA", 10.0)?;

    let start = Instant::now();
    let from_env = std::env::var_os("LETHE_DATA").map(|d| PathBuf::from(d).join("mnist"));
    let (train, test, source) = match (explicit, from_env) {
        // A directory named on the command line must work: no silent fallback.
        (Some(dir), _) => {
            let (tr, te) = mnist_3v8(&dir)?;
            (tr, te, format!("MNIST 3-vs-8 from {}", dir.display()))
        }
        (None, Some(dir)) if dir.is_dir() => {
            let (tr, te) = mnist_3v8(&dir)?;
            (tr, te, format!("MNIST 3-vs-8 from {}", dir.display()))
        }
        _ => {
            eprintln!(
                "no MNIST directory given and $LETHE_DATA/mnist not found: using the bundled \
                 8x8 digits (3 vs 8, 285 training rows; sigma = 10 is far too large for so few \
                 rows, try sigma = 0.1)"
            );
            let (tr, te) = digits_3v8()?;
            (tr, te, "bundled digits 3-vs-8 (8x8)".to_string())
        }
    };
    train.check_row_norms(1e-12)?;
    println!(
        "{source}: train {} x {}, test {}, loaded in {:.2} s",
        train.n_samples(),
        train.n_features(),
        test.n_samples(),
        start.elapsed().as_secs_f64()
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS after loading: {mib:.0} MiB");
    }
    println!("logistic loss, lambda = {lambda:e}, sigma = {sigma}, seed 0, tolerance 1e-8");
    println!(
        "{:<11} {:>5} {:>6} {:>4} {:>11} {:>8} {:>9}",
        "solver", "iters", "factor", "cg", "residual", "seconds", "test acc"
    );
    for kind in [SolverKind::NewtonPcg, SolverKind::Newton, SolverKind::Lbfgs] {
        let mut params = LinearModelParams::logistic(lambda, sigma);
        params.solver.kind = kind;
        let model = params.fit_seeded(&train, 0)?;
        let r = &model.report;
        println!(
            "{:<11} {:>5} {:>6} {:>4} {:>11.3e} {:>8.3} {:>9.4}",
            kind.name(),
            r.iterations,
            r.factorizations,
            r.cg_iterations,
            r.residual_norm,
            r.seconds,
            model.accuracy(&test)?,
        );
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS: {mib:.0} MiB");
    }
    Ok(())
}

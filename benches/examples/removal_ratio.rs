//! How many times cheaper a certified removal is than retraining, measured in interleaved
//! rounds so that both sides of each ratio see the same machine.
//!
//! The criterion bench (`removal`) times each case in its own window of several seconds; on a
//! shared machine whose speed drifts by tens of percent from minute to minute, the ratio of
//! two medians taken minutes apart inherits that drift (on the development machine the bench's
//! `retrain` median was 195, 360 and 594 ms in three consecutive runs of 2026-11-27). Here every round times, back to back:
//! one retrain from scratch with Newton-PCG (the default solver) and one with L-BFGS (the
//! paper's code), then `--requests` certified single removals with each fast solver
//! (`stale` and `pcg`, with and without the exact-residual diagnostic) and two with the
//! paper's `cholesky`. A ratio is formed inside each round (retrain / the round's median
//! removal), and the summary gives the median, the 10th and 90th percentiles and the number
//! of rounds at or above 100× of those per-round ratios.
//!
//! Data and settings are those of the bench: MNIST 3-vs-8 from `$LETHE_DATA/mnist` (or the
//! synthetic stand-in of the same shape, recorded in the output), λ = 1e-3, σ = 10, seed 0;
//! each removal takes row 1 from a fresh clone of a model that has already served one request
//! (row 0), so the fast solvers hold their reused factor; clones and drops are not timed; the
//! retrains fit the same remaining rows with the model's noise b.
//!
//! Writes `results/removal-ratio.json` (schema `lethe.removal_ratio/1`, with the git commit,
//! host and load averages) and `results/removal-ratio.md`, generated from the JSON.
//!
//! ```text
//! LETHE_DATA=/path/to/data cargo run --release -p lethe-benches --example removal_ratio -- \
//!     [--rounds 30] [--requests 10] [--out results]
//! ```

use std::sync::Arc;
use std::time::Instant;

use lethe_benches::{LAMBDA, SEED, SIGMA, mnist_3v8, warm_model};
use lethe_experiments::runner::{Provenance, load_average};
use lethe_models::SolverKind;
use lethe_removal::StepSolver;
use serde::{Deserialize, Serialize};

/// Certified single removals of the paper's method per round (each one factors the Hessian).
const CHOLESKY_REQUESTS: usize = 2;

/// One removal configuration that is timed in every round.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    solver: StepSolver,
    exact_residual: bool,
}

const CASES: [Case; 5] = [
    Case {
        name: "stale_certificate_only",
        solver: StepSolver::Stale,
        exact_residual: false,
    },
    Case {
        name: "stale",
        solver: StepSolver::Stale,
        exact_residual: true,
    },
    Case {
        name: "pcg_certificate_only",
        solver: StepSolver::Pcg,
        exact_residual: false,
    },
    Case {
        name: "pcg",
        solver: StepSolver::Pcg,
        exact_residual: true,
    },
    Case {
        name: "cholesky",
        solver: StepSolver::Cholesky,
        exact_residual: true,
    },
];

#[derive(Serialize, Deserialize)]
struct Round {
    retrain_newton_pcg_seconds: f64,
    retrain_lbfgs_seconds: f64,
    /// Per case (in the order of `cases`): the seconds of each timed removal.
    removal_seconds: Vec<Vec<f64>>,
}

#[derive(Serialize, Deserialize)]
struct Summary {
    case: String,
    /// `newton_pcg` or `lbfgs`.
    retrain: String,
    /// Median over rounds of the round's median removal time.
    removal_seconds_median: f64,
    /// Median over rounds of the retrain time.
    retrain_seconds_median: f64,
    /// Percentiles of the per-round ratios retrain / median removal.
    ratio_median: f64,
    ratio_p10: f64,
    ratio_p90: f64,
    rounds_at_least_100: usize,
    rounds: usize,
}

#[derive(Serialize)]
struct Output {
    schema: String,
    provenance: Provenance,
    data: String,
    n: usize,
    d: usize,
    lambda: f64,
    sigma: f64,
    seed: u64,
    requests_per_round: usize,
    cholesky_requests_per_round: usize,
    cases: Vec<String>,
    load_average_1m_before: Option<f64>,
    load_average_1m_after: Option<f64>,
    rounds: Vec<Round>,
    summary: Vec<Summary>,
}

/// The value at quantile `q` (nearest rank, lower) of `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).floor() as usize]
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{name} needs a valid value")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = flag(&args, "--rounds", 30)?;
    let requests: usize = flag(&args, "--requests", 10)?;
    let out_dir: String = flag(&args, "--out", "results".to_string())?;
    if rounds == 0 || requests == 0 {
        return Err("--rounds and --requests must be positive".into());
    }
    let (train, _test, source) = mnist_3v8();
    let data = Arc::new(train);
    let models = CASES
        .iter()
        .map(|case| warm_model(&data, case.solver, case.exact_residual))
        .collect::<Result<Vec<_>, _>>()?;
    // The retrains fit the rows a removal of row 1 leaves, with the model's b.
    let reference = &models[0];
    let mut active = reference.active().to_vec();
    active[1] = false;
    let class = &reference.class_models()[0];
    let retrain = |kind: SolverKind| -> Result<f64, Box<dyn std::error::Error>> {
        let mut p = reference.params().model;
        p.solver.kind = kind;
        let t = Instant::now();
        let fit = p.fit_parts(
            data.features(),
            &class.labels,
            Some(&active),
            class.noise.clone(),
            None,
        )?;
        let seconds = t.elapsed().as_secs_f64();
        drop(fit);
        Ok(seconds)
    };
    let load_before = load_average();
    let mut all = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let retrain_newton_pcg_seconds = retrain(SolverKind::NewtonPcg)?;
        let mut removal_seconds = Vec::with_capacity(CASES.len());
        for (case, model) in CASES.iter().zip(&models) {
            let k = if case.solver == StepSolver::Cholesky {
                CHOLESKY_REQUESTS
            } else {
                requests
            };
            let mut times = Vec::with_capacity(k);
            for _ in 0..k {
                let mut m = model.clone();
                let t = Instant::now();
                let certificate = m.remove(&[1])?;
                times.push(t.elapsed().as_secs_f64());
                drop((m, certificate));
            }
            removal_seconds.push(times);
        }
        let retrain_lbfgs_seconds = retrain(SolverKind::Lbfgs)?;
        let stale = quantile(&removal_seconds[0], 0.5);
        eprintln!(
            "round {:>2}/{rounds}: retrain {:.1} ms (Newton-PCG), {:.1} ms (L-BFGS); stale {:.2} ms ({:.0}x)",
            r + 1,
            retrain_newton_pcg_seconds * 1e3,
            retrain_lbfgs_seconds * 1e3,
            stale * 1e3,
            retrain_newton_pcg_seconds / stale,
        );
        all.push(Round {
            retrain_newton_pcg_seconds,
            retrain_lbfgs_seconds,
            removal_seconds,
        });
    }
    let load_after = load_average();
    let summary = summarize(&all);
    let out = Output {
        schema: "lethe.removal_ratio/1".into(),
        provenance: Provenance::detect_with_outputs(Some(std::path::Path::new(&out_dir))),
        data: source.into(),
        n: data.n_samples(),
        d: data.n_features(),
        lambda: LAMBDA,
        sigma: SIGMA,
        seed: SEED,
        requests_per_round: requests,
        cholesky_requests_per_round: CHOLESKY_REQUESTS,
        cases: CASES.iter().map(|c| c.name.to_string()).collect(),
        load_average_1m_before: load_before,
        load_average_1m_after: load_after,
        rounds: all,
        summary,
    };
    std::fs::create_dir_all(&out_dir)?;
    let tmp = format!("{out_dir}/removal-ratio.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&out)?)?;
    std::fs::rename(&tmp, format!("{out_dir}/removal-ratio.json"))?;
    let tmp = format!("{out_dir}/removal-ratio.md.tmp");
    std::fs::write(&tmp, table(&out))?;
    std::fs::rename(&tmp, format!("{out_dir}/removal-ratio.md"))?;
    Ok(())
}

/// Per case and retrain solver: percentiles of the per-round ratios.
fn summarize(rounds: &[Round]) -> Vec<Summary> {
    let mut out = Vec::new();
    for (c, case) in CASES.iter().enumerate() {
        let removal: Vec<f64> = rounds
            .iter()
            .map(|r| quantile(&r.removal_seconds[c], 0.5))
            .collect();
        for (retrain, seconds) in [
            (
                "newton_pcg",
                rounds
                    .iter()
                    .map(|r| r.retrain_newton_pcg_seconds)
                    .collect::<Vec<_>>(),
            ),
            (
                "lbfgs",
                rounds.iter().map(|r| r.retrain_lbfgs_seconds).collect(),
            ),
        ] {
            let ratios: Vec<f64> = seconds.iter().zip(&removal).map(|(r, m)| r / m).collect();
            out.push(Summary {
                case: case.name.into(),
                retrain: retrain.into(),
                removal_seconds_median: quantile(&removal, 0.5),
                retrain_seconds_median: quantile(&seconds, 0.5),
                ratio_median: quantile(&ratios, 0.5),
                ratio_p10: quantile(&ratios, 0.1),
                ratio_p90: quantile(&ratios, 0.9),
                rounds_at_least_100: ratios.iter().filter(|&&x| x >= 100.0).count(),
                rounds: ratios.len(),
            });
        }
    }
    out
}

/// The Markdown table, generated from the JSON.
fn table(out: &Output) -> String {
    let load = |l: Option<f64>| l.map_or_else(|| "–".to_string(), |l| format!("{l:.2}"));
    let mut s = format!(
        "# Certified removal vs retraining, interleaved rounds (generated from removal-ratio.json)\n\n\
         {} (n = {}, d = {}), λ = {}, σ = {}, seed {}. {} rounds; each times one retrain from \
         scratch with Newton-PCG and one with L-BFGS (both to ‖∇L_b‖ ≤ 1e-8), {} certified \
         single removals per fast solver and {} with `cholesky` (the paper's method); ratio = \
         the round's retrain / the round's median removal; percentiles are over rounds. \
         `certificate_only`: bounds and solve residual without the exact-residual diagnostic. \
         Commit {}{}, {}, {} threads; 1-minute load average {} before, {} after.\n\n\
         | removal | retrain | removal (ms) | retrain (ms) | ratio, median | p10 | p90 | rounds ≥ 100× |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
        out.data,
        out.n,
        out.d,
        out.lambda,
        out.sigma,
        out.seed,
        out.rounds.len(),
        out.requests_per_round,
        out.cholesky_requests_per_round,
        out.provenance.git_commit,
        match out.provenance.git_dirty {
            Some(true) => " (with uncommitted changes)",
            _ => "",
        },
        out.provenance.host.cpu,
        out.provenance.host.threads,
        load(out.load_average_1m_before),
        load(out.load_average_1m_after),
    );
    for x in &out.summary {
        s += &format!(
            "| `{}` | {} | {:.2} | {:.1} | {:.0}× | {:.0}× | {:.0}× | {} of {} |\n",
            x.case,
            x.retrain,
            x.removal_seconds_median * 1e3,
            x.retrain_seconds_median * 1e3,
            x.ratio_median,
            x.ratio_p10,
            x.ratio_p90,
            x.rounds_at_least_100,
            x.rounds,
        );
    }
    s
}

//! Scaling of certified removal against retraining on synthetic unit-norm data.
//!
//! For n ∈ {1e3, 1e4, 1e5} × d ∈ {100, 784, 3000} (logistic loss, λ = 1e-3, σ = 10, seed 0):
//! training time, the time of one full retrain on the remaining rows (the faster of Newton-PCG
//! and L-BFGS, both to ‖∇L_b‖ ≤ 1e-8), and the median time of certified single removals with
//! the `pcg` solver once its preconditioner exists (the first request, which factors the
//! Hessian, is reported separately) and with the `stale` solver on the same factor (no CG: one
//! pass over X per request, a larger solve residual in the certificate; the factor is kept, not
//! refreshed: `stale_refactor_ratio: null`). Requests carry the certificate (bounds and solve residual) without the
//! exact-residual diagnostic. Writes `results/scaling.json` (schema `lethe.scaling/2`: the
//! git commit and host as in the runner's results, and each point's 1-minute load average)
//! and `results/scaling.md`, a table generated from that JSON.
//!
//! ```text
//! cargo run --release -p lethe-benches --example scaling -- [--quick] [--out DIR]
//! ```
//! `--quick` runs n ∈ {1e3, 1e4} × d ∈ {100, 784} only.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::synthetic::{SyntheticOptions, logistic_planted};
use lethe_experiments::runner::{Provenance, load_average};
use lethe_models::{LinearModelParams, SolverKind};
use lethe_removal::stats::upper_median;
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, StepSolver};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Point {
    n: usize,
    d: usize,
    train_seconds: f64,
    retrain_seconds_newton_pcg: f64,
    retrain_seconds_lbfgs: f64,
    retrain_seconds: f64,
    first_removal_seconds: f64,
    removal_seconds_median: f64,
    removals_timed: usize,
    speedup: f64,
    cg_iterations_mean: f64,
    stale_removal_seconds_median: f64,
    stale_speedup: f64,
    /// The host's 1-minute load average when the point finished: above the thread count,
    /// other processes competed for the CPU during the timings.
    load_average_1m: Option<f64>,
}

#[derive(Serialize)]
struct Output {
    schema: String,
    lethe_version: String,
    provenance: Provenance,
    lambda: f64,
    sigma: f64,
    seed: u64,
    threads: usize,
    points: Vec<Point>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out_dir = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map_or("results".to_string(), Clone::clone);
    let (ns, ds): (&[usize], &[usize]) = if quick {
        (&[1_000, 10_000], &[100, 784])
    } else {
        (&[1_000, 10_000, 100_000], &[100, 784, 3000])
    };
    let (lambda, sigma, seed) = (1e-3, 10.0, 0);
    let mut points = Vec::new();
    for &n in ns {
        for &d in ds {
            let (data, _) = logistic_planted(n, d, seed, &SyntheticOptions::default())?;
            let data = Arc::new(data);
            let mut params = CertifiedParams::new(LinearModelParams::logistic(lambda, sigma));
            params.solver = StepSolver::Pcg;
            params.budget_policy = BudgetPolicy::Never;
            // The certificate only (bounds and solve residual): the exact-residual diagnostic
            // costs one more pass over X per request (see the MNIST bench for both).
            params.exact_residual = false;
            // On Gaussian data a fresh factor does not bring the stale solve residual below
            // the bound, so refreshing would refactor at every request: keep the factor.
            params.fast_path.stale_refactor_ratio = None;
            let t = Instant::now();
            let mut model = CertifiedModel::train(params, data.clone(), seed)?;
            let train_seconds = t.elapsed().as_secs_f64();
            let t = Instant::now();
            model.remove(&[0])?;
            let first_removal_seconds = t.elapsed().as_secs_f64();
            let requests = if n * d >= 50_000_000 { 10 } else { 30 };
            let mut times = Vec::new();
            let mut cg = 0;
            for i in 1..=requests {
                let c = model.remove(&[i])?;
                times.push(c.seconds);
                cg += c.classes[0].cg_iterations;
            }
            // The same requests' successors with the `stale` solver on the same factor.
            let mut stale = model.clone();
            stale.set_step_solver(StepSolver::Stale);
            let mut stale_times = Vec::new();
            for i in requests + 1..=2 * requests {
                stale_times.push(stale.remove(&[i])?.seconds);
            }
            let stale_removal = upper_median(&stale_times);
            let class = &model.class_models()[0];
            let retrain = |kind: SolverKind| -> Result<f64, Box<dyn std::error::Error>> {
                let mut p = model.params().model;
                p.solver.kind = kind;
                let t = Instant::now();
                p.fit_parts(
                    data.features(),
                    &class.labels,
                    Some(model.active()),
                    class.noise.clone(),
                    None,
                )?;
                Ok(t.elapsed().as_secs_f64())
            };
            let r_pcg = retrain(SolverKind::NewtonPcg)?;
            let r_lbfgs = retrain(SolverKind::Lbfgs)?;
            let retrain_seconds = r_pcg.min(r_lbfgs);
            let removal = upper_median(&times);
            let p = Point {
                n,
                d,
                train_seconds,
                retrain_seconds_newton_pcg: r_pcg,
                retrain_seconds_lbfgs: r_lbfgs,
                retrain_seconds,
                first_removal_seconds,
                removal_seconds_median: removal,
                removals_timed: requests,
                speedup: retrain_seconds / removal,
                cg_iterations_mean: cg as f64 / requests as f64,
                stale_removal_seconds_median: stale_removal,
                stale_speedup: retrain_seconds / stale_removal,
                load_average_1m: load_average(),
            };
            eprintln!(
                "n={n:>6} d={d:>4}: train {:.3}s, retrain {:.3}s, first removal {:.3}s, removal median {:.4}s (pcg, {:.0}x) {:.4}s (stale, {:.0}x)",
                p.train_seconds,
                p.retrain_seconds,
                p.first_removal_seconds,
                p.removal_seconds_median,
                p.speedup,
                p.stale_removal_seconds_median,
                p.stale_speedup
            );
            points.push(p);
        }
    }
    let out = Output {
        schema: "lethe.scaling/2".into(),
        lethe_version: env!("CARGO_PKG_VERSION").into(),
        provenance: Provenance::detect_with_outputs(Some(std::path::Path::new(&out_dir))),
        lambda,
        sigma,
        seed,
        threads: rayon_threads(),
        points,
    };
    std::fs::create_dir_all(&out_dir)?;
    let json = serde_json::to_string_pretty(&out)?;
    let tmp = format!("{out_dir}/scaling.json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, format!("{out_dir}/scaling.json"))?;
    std::fs::write(format!("{out_dir}/scaling.md"), table(&out))?;
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The Markdown table, generated from the JSON.
fn table(out: &Output) -> String {
    let mut s = format!(
        "# Removal vs retraining: scaling (generated from scaling.json)\n\n\
         Synthetic unit-norm logistic data, λ = {}, σ = {}, seed {}, {} threads; `pcg` removal \
         with its reused preconditioner and `stale` removal on the same factor (medians over \
         the timed requests; certificates without the exact-residual diagnostic); retrain = \
         the faster of Newton-PCG and L-BFGS to ‖∇L_b‖ ≤ 1e-8; speed-up = retrain / removal; \
         load = the host's 1-minute load average after the point. Commit {}{}, {}.\n\n\
         | n | d | train (s) | retrain (s) | first removal (s) | pcg removal (s) | pcg speed-up | CG iters/request | stale removal (s) | stale speed-up | load |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        out.lambda,
        out.sigma,
        out.seed,
        out.threads,
        out.provenance.git_commit,
        match out.provenance.git_dirty {
            Some(true) => " (with uncommitted changes)",
            _ => "",
        },
        out.provenance.host.cpu,
    );
    for p in &out.points {
        s += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.5} | {:.0}× | {:.1} | {:.5} | {:.0}× | {} |\n",
            p.n,
            p.d,
            p.train_seconds,
            p.retrain_seconds,
            p.first_removal_seconds,
            p.removal_seconds_median,
            p.speedup,
            p.cg_iterations_mean,
            p.stale_removal_seconds_median,
            p.stale_speedup,
            p.load_average_1m
                .map_or_else(|| "–".to_string(), |l| format!("{l:.2}")),
        );
    }
    s
}

//! Certified removal on MNIST 3-vs-8 next to retraining, in one process (see
//! `lethe_benches::mnist_3v8`; λ = 1e-3, σ = 10, ε = 1, δ = 1e-4, seed 0).
//!
//! ```text
//! LETHE_DATA=/path/to/data cargo bench -p lethe-benches --bench removal
//! ```
//!
//! - `removal/single_{cholesky,pcg,stale}`: one certified single removal with its full
//!   certificate (bounds, solve residual) and the exact-residual diagnostic, from a model that
//!   has already served one request (so the fast paths hold their reused factor, as in a
//!   running service); `cholesky` is the paper's method (build and factor the Hessian for
//!   every request);
//! - `removal/single_{pcg,stale}_certificate_only`: the same without the exact-residual
//!   diagnostic (`exact_residual: false`), which costs one more pass over X for `pcg`;
//! - `removal/batch100_{cholesky,pcg}`: one request of 100 rows;
//! - `removal/sequential1000_{pcg,stale}`: 1000 sequential single removals with full
//!   certificates, Algorithm 2 (retraining when the budget would be exceeded) included;
//!   `sequential1000_stale_keep` keeps the stale factor until a retrain
//!   (`stale_refactor_ratio: null`) instead of refreshing it after a solve residual above the
//!   bound; `sequential1000_stale_certificate_only` is `sequential1000_stale` without the
//!   exact-residual diagnostic (every bound and the solve residual are still computed: the
//!   diagnostic is never part of the certificate, DESIGN §1);
//! - `removal/retrain`: training from scratch on the remaining rows (Algorithm 1) with the
//!   default solver (Newton-PCG), the cost a removal saves — compare the medians as ratios
//!   measured in the same run; `removal/retrain_lbfgs`: the same with L-BFGS, the solver of
//!   the paper's code;
//! - `bounds/data_dependent`: the bound arithmetic alone, given a step (negligible by design).
//!
//! Every request removes the same row from a fresh clone of the model (the clone is set-up,
//! and the model is dropped after the timer stops).

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use lethe_benches::{LAMBDA, SEED, SIGMA, mnist_3v8};
use lethe_data::Dataset;
use lethe_models::{LinearModelParams, SolverKind};
use lethe_removal::{CertifiedModel, CertifiedParams, StepSolver, bounds};

fn train() -> &'static Arc<Dataset> {
    static DATA: OnceLock<Arc<Dataset>> = OnceLock::new();
    DATA.get_or_init(|| {
        let (train, _test, source) = mnist_3v8();
        eprintln!("{source}: {} x {}", train.n_samples(), train.n_features());
        Arc::new(train)
    })
}

/// A trained model that has served one request (row 0), per solver.
fn warm_model(solver: StepSolver, exact_residual: bool) -> CertifiedModel {
    lethe_benches::warm_model(train(), solver, exact_residual).expect("training")
}

fn removal(c: &mut Criterion) {
    let mut g = c.benchmark_group("removal");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    // One request on a fresh clone of `model` per iteration. The clone is set-up and the
    // model is returned, so criterion drops it after the timer stops: neither is part of a
    // removal.
    let mut request = |name: String, model: &CertifiedModel, indices: &[usize]| {
        g.bench_function(name, |b| {
            b.iter_batched(
                || model.clone(),
                |mut m| {
                    let certificate = m.remove(indices).expect("removal");
                    (m, certificate)
                },
                BatchSize::PerIteration,
            )
        });
    };
    for solver in [StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale] {
        let model = warm_model(solver, true);
        request(format!("single_{}", solver.name()), &model, &[1]);
        if solver != StepSolver::Cholesky {
            let lean = warm_model(solver, false);
            let name = format!("single_{}_certificate_only", solver.name());
            request(name, &lean, &[1]);
        }
        if solver != StepSolver::Stale {
            let batch: Vec<usize> = (1..=100).collect();
            request(format!("batch100_{}", solver.name()), &model, &batch);
        }
    }
    for (name, solver, refresh, exact_residual) in [
        ("sequential1000_pcg", StepSolver::Pcg, Some(1.0), true),
        ("sequential1000_stale", StepSolver::Stale, Some(1.0), true),
        ("sequential1000_stale_keep", StepSolver::Stale, None, true),
        (
            "sequential1000_stale_certificate_only",
            StepSolver::Stale,
            Some(1.0),
            false,
        ),
    ] {
        let mut params = CertifiedParams::new(LinearModelParams::logistic(LAMBDA, SIGMA));
        params.solver = solver;
        params.fast_path.stale_refactor_ratio = refresh;
        params.exact_residual = exact_residual;
        let fresh = CertifiedModel::train(params, train().clone(), SEED).expect("training");
        g.bench_function(name, |b| {
            b.iter_batched(
                || fresh.clone(),
                |mut m| {
                    for i in 0..1000 {
                        black_box(m.remove(&[i]).expect("removal"));
                    }
                    m
                },
                BatchSize::PerIteration,
            )
        });
    }
    let model = warm_model(StepSolver::Pcg, true);
    let mut active = model.active().to_vec();
    active[1] = false;
    let class = &model.class_models()[0];
    for (name, kind) in [
        ("retrain", SolverKind::NewtonPcg),
        ("retrain_lbfgs", SolverKind::Lbfgs),
    ] {
        let mut params = model.params().model;
        params.solver.kind = kind;
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    params
                        .fit_parts(
                            train().features(),
                            &class.labels,
                            Some(&active),
                            class.noise.clone(),
                            None,
                        )
                        .expect("retraining"),
                )
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("bounds");
    g.bench_function("data_dependent", |b| {
        b.iter(|| {
            black_box(bounds::data_dependent(
                0.25,
                black_box(93.6),
                black_box(0.01),
                black_box(0.2),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, removal);
criterion_main!(benches);

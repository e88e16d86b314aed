//! Certified removal on MNIST 3-vs-8 next to retraining, in one process (see
//! `lethe_benches::mnist_3v8`; λ = 1e-3, σ = 10, ε = 1, δ = 1e-4, seed 0).
//!
//! ```text
//! LETHE_DATA=/path/to/data cargo bench -p lethe-benches --bench removal
//! ```
//!
//! - `removal/single_{cholesky,pcg,stale}`: one certified single removal with its full
//!   certificate (bounds, solve residual, exact residual), from a model that has already served
//!   one request (so the fast paths hold their reused factor, as in a running service);
//!   `cholesky` is the paper's method (build and factor the Hessian for every request);
//! - `removal/batch100_{cholesky,pcg}`: one request of 100 rows;
//! - `removal/sequential100_pcg`: 100 sequential single removals (Algorithm 2 with retraining);
//! - `removal/retrain`: training from scratch on the remaining rows (Algorithm 1), the cost a
//!   removal saves — compare the medians as ratios measured in the same run;
//! - `bounds/data_dependent`: the bound arithmetic alone, given a step (negligible by design).
//!
//! Every request removes the same row from a fresh clone of the model (the clone is set-up,
//! not timed).

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use lethe_benches::mnist_3v8;
use lethe_data::Dataset;
use lethe_models::LinearModelParams;
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, StepSolver, bounds};

const LAMBDA: f64 = 1e-3;
const SIGMA: f64 = 10.0;
const SEED: u64 = 0;

fn train() -> &'static Arc<Dataset> {
    static DATA: OnceLock<Arc<Dataset>> = OnceLock::new();
    DATA.get_or_init(|| {
        let (train, _test, source) = mnist_3v8();
        eprintln!("{source}: {} x {}", train.n_samples(), train.n_features());
        Arc::new(train)
    })
}

/// A trained model that has served one request (row 0), per solver.
fn warm_model(solver: StepSolver) -> CertifiedModel {
    let mut params = CertifiedParams::new(LinearModelParams::logistic(LAMBDA, SIGMA));
    params.solver = solver;
    params.budget_policy = BudgetPolicy::Never;
    let mut m = CertifiedModel::train(params, train().clone(), SEED).expect("training");
    m.remove(&[0]).expect("first removal");
    m
}

fn removal(c: &mut Criterion) {
    let mut g = c.benchmark_group("removal");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for solver in [StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale] {
        let model = warm_model(solver);
        g.bench_function(format!("single_{}", solver.name()), |b| {
            b.iter_batched(
                || model.clone(),
                |mut m| black_box(m.remove(&[1]).expect("removal")),
                BatchSize::PerIteration,
            )
        });
        if solver != StepSolver::Stale {
            let batch: Vec<usize> = (1..=100).collect();
            g.bench_function(format!("batch100_{}", solver.name()), |b| {
                b.iter_batched(
                    || model.clone(),
                    |mut m| black_box(m.remove(&batch).expect("removal")),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    let mut params = CertifiedParams::new(LinearModelParams::logistic(LAMBDA, SIGMA));
    params.solver = StepSolver::Pcg;
    let fresh = CertifiedModel::train(params, train().clone(), SEED).expect("training");
    g.bench_function("sequential100_pcg", |b| {
        b.iter_batched(
            || fresh.clone(),
            |mut m| {
                for i in 0..100 {
                    black_box(m.remove(&[i]).expect("removal"));
                }
            },
            BatchSize::PerIteration,
        )
    });
    let model = warm_model(StepSolver::Pcg);
    let mut active = model.active().to_vec();
    active[1] = false;
    let class = &model.class_models()[0];
    g.bench_function("retrain", |b| {
        b.iter(|| {
            black_box(
                model
                    .params()
                    .model
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

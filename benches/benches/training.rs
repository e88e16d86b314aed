//! Training and the dense kernels of a removal on MNIST 3-vs-8 (see `lethe_benches::mnist_3v8`).
//!
//! ```text
//! LETHE_DATA=/path/to/data cargo bench -p lethe-benches --bench training
//! ```
//!
//! - `training/{newton_pcg,newton,lbfgs}`: Algorithm 1 of Guo et al. (2020) from w = 0 to
//!   ‖∇L_b‖ ≤ 1e-8 (sum scale), logistic loss, λ = 1e-3, σ = 10, seed 0;
//! - `kernels/hessian`: the dense Hessian Xᵀ diag(ℓ″) X + λnI at w* (`Objective::hessian`,
//!   which plans the product: blocked and sparsity-aware on MNIST, see `linalg::GramPlan`);
//!   `kernels/hessian_planned` the same with the plan made once (as the removal path keeps it)
//!   and `kernels/hessian_dense` the same product as one dense SYRK (`GramPlan::dense`), for
//!   the ratio;
//! - `kernels/cholesky`: its Cholesky factorisation (`linalg::Cholesky::factor`, d = 784);
//! - `kernels/spectral_norm_upper_bound`: the rigorous ‖X‖₂ bound of the certificate.
//!
//! Every routine takes 5 ms to 2 s, so each group uses 10 flat samples and a short measurement
//! time: the whole run takes about 70 s on two idle cores. Criterion warns that it cannot
//! complete 10 samples of `training/newton` in the target time; it then simply takes longer
//! (10 runs of ~1.5 s), which is intended. Under CPU contention everything scales up.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lethe_benches::{LAMBDA, SEED, SIGMA, mnist_3v8};
use lethe_data::Dataset;
use lethe_models::linalg::{Cholesky, GramPlan, spectral_norm_upper_bound, weighted_gram_planned};
use lethe_models::{LinearModelParams, LossKind, Objective, SolverKind};
use nalgebra::DVector;

const TOLERANCE: f64 = 1e-8;

/// The training set, loaded once for both groups.
fn train() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let (train, _test, source) = mnist_3v8();
        eprintln!("{source}: {} x {}", train.n_samples(), train.n_features());
        train
    })
}

fn params(kind: SolverKind) -> LinearModelParams {
    let mut p = LinearModelParams::logistic(LAMBDA, SIGMA);
    p.solver.kind = kind;
    p.solver.tolerance = TOLERANCE;
    p
}

fn training(c: &mut Criterion) {
    let data = train();
    let mut group = c.benchmark_group("training");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for kind in [SolverKind::NewtonPcg, SolverKind::Newton, SolverKind::Lbfgs] {
        let p = params(kind);
        let check = p.fit_seeded(data, SEED).expect("training converges");
        eprintln!(
            "{}: {} iterations, {} factorisations, {} CG steps, r0 = {:.3e}",
            kind.name(),
            check.report.iterations,
            check.report.factorizations,
            check.report.cg_iterations,
            check.report.residual_norm
        );
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                p.fit_seeded(black_box(data), SEED)
                    .expect("training converges")
            })
        });
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    let data = train();
    let model = params(SolverKind::NewtonPcg)
        .fit_seeded(data, SEED)
        .expect("training converges");
    let b: &DVector<f64> = &model.noise;
    let objective =
        Objective::new(data, LossKind::Logistic, LAMBDA, Some(b)).expect("valid objective");
    let w = &model.weights;
    let hessian = objective.hessian(w).expect("Hessian");
    let ones = vec![1.0; data.n_samples()];

    let mut group = c.benchmark_group("kernels");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("hessian", |bench| {
        bench.iter(|| objective.hessian(black_box(w)).expect("Hessian"))
    });
    let curvatures = objective.curvatures(&objective.margins(w));
    let ridge = LAMBDA * data.n_samples() as f64;
    for (name, plan) in [
        ("hessian_planned", GramPlan::new(data.features())),
        ("hessian_dense", GramPlan::dense(data.features())),
    ] {
        group.bench_function(name, |bench| {
            bench.iter(|| {
                weighted_gram_planned(data.features(), &plan, black_box(&curvatures), ridge)
                    .expect("Hessian")
            })
        });
    }
    group.bench_function("cholesky", |bench| {
        bench.iter(|| Cholesky::factor(black_box(&hessian)).expect("SPD"))
    });
    group.bench_function("spectral_norm_upper_bound", |bench| {
        bench.iter(|| spectral_norm_upper_bound(black_box(data.features()), &ones).expect("bound"))
    });
    group.finish();
}

criterion_group!(benches, training, kernels);
criterion_main!(benches);

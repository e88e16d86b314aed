//! LiRA with 64 reference models on MNIST 3-vs-8, online and offline, timed.
//!
//! ```text
//! cargo run --release -p lethe-mia --example lira_mnist -- /path/to/mnist [n_reference] [--cold]
//! ```
//!
//! `--cold` trains reference models from zero with the target's solver tolerance (1e-8)
//! instead of warm-starting from the target's weights with tolerance 1e-6.
//!
//! The directory holds the official `train-images-idx3-ubyte.gz` and
//! `train-labels-idx1-ubyte.gz`. Preprocessing is the paper's: classes 3 (+1) and 8 (−1),
//! pixels / 255 − 0.5, unit-norm rows. The 11 982 training rows are shuffled (seed 0) into
//! 3000 members (the target's training set, λ = 1e-3, σ = 0), 3000 non-members and the rest
//! as population. Online LiRA trains each reference model on a random half of the 6000
//! candidates (3000 rows, as the target); offline LiRA on a random half of the population.

use std::path::PathBuf;
use std::time::Instant;

use lethe_data::{MnistSplit, load_mnist_3v8, preprocess};
use lethe_mia::attacks::{Lira, LiraScoring, LossAttack, VarianceMode};
use lethe_mia::metrics::{AttackMetrics, EvaluationOptions};
use lethe_mia::reference::ReferenceTraining;
use lethe_models::LinearModelParams;

fn summary(name: &str, m: &AttackMetrics, seconds: f64) {
    println!(
        "{name:<44} {seconds:>7.2} s   AUC {:.4} [{:.4}, {:.4}]   TPR@0.1%FPR {:.4}   TPR@1%FPR {:.4}   adv {:.4}",
        m.auc, m.auc_ci.lower, m.auc_ci.upper, m.tpr_at_0_1pct_fpr, m.tpr_at_1pct_fpr, m.advantage
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: lira_mnist MNIST_DIR [n_reference]")?,
    );
    let n_reference: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let cold = args.next().is_some_and(|a| a == "--cold");
    let training = if cold {
        ReferenceTraining {
            tolerance: None,
            warm_start: false,
        }
    } else {
        ReferenceTraining::default()
    };

    let start = Instant::now();
    let ds = load_mnist_3v8(&dir, MnistSplit::Train)?;
    let perm = preprocess::shuffle_indices(ds.n_samples(), 0);
    let (n_members, n_nonmembers) = (3000, 3000);
    let members = ds.select(&perm[..n_members])?;
    let candidates = ds.select(&perm[..n_members + n_nonmembers])?;
    let population = ds.select(&perm[n_members + n_nonmembers..])?;
    let empty = ds.select(&[])?;
    let is_member: Vec<bool> = (0..n_members + n_nonmembers)
        .map(|i| i < n_members)
        .collect();
    println!(
        "MNIST 3-vs-8: {} rows, d = {}; {} members, {} non-members, {} population (loaded in {:.2} s)",
        ds.n_samples(),
        ds.n_features(),
        n_members,
        n_nonmembers,
        population.n_samples(),
        start.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let target = LinearModelParams::logistic(1e-3, 0.0).fit_seeded(&members, 0)?;
    println!(
        "target: trained in {:.2} s ({} iterations, ‖∇‖ = {:.1e}), train acc {:.4}, held-out acc {:.4}",
        t.elapsed().as_secs_f64(),
        target.report.iterations,
        target.report.residual_norm,
        target.accuracy(&members)?,
        target.accuracy(&ds.select(&perm[n_members..n_members + n_nonmembers])?)?
    );
    println!("threads: {}", rayon::current_num_threads());

    let options = EvaluationOptions::default();
    let t = Instant::now();
    let loss = LossAttack.run(&target, &candidates)?;
    summary(
        "LOSS",
        &loss.evaluate(&is_member, &options)?,
        t.elapsed().as_secs_f64(),
    );

    let online = Lira {
        n_reference,
        online: true,
        variance: VarianceMode::PerExample,
        scoring: LiraScoring::Density,
        seed: 1,
        training,
    };
    let t = Instant::now();
    let out = online.run(&target, &candidates, &empty)?;
    let secs = t.elapsed().as_secs_f64();
    summary(
        &format!(
            "LiRA online, {n_reference} refs ({})",
            out.descriptor.variant
        ),
        &out.evaluate(&is_member, &options)?,
        secs,
    );
    let r = out
        .descriptor
        .reference
        .as_ref()
        .ok_or("no reference descriptor")?;
    println!(
        "  reference models: {:.2} s, {:.0} rows each, tolerance {:e}, warm start {}",
        r.seconds, r.mean_training_size, r.tolerance, r.warm_start
    );

    let offline = Lira {
        online: false,
        scoring: LiraScoring::OneSidedLikelihoodRatio,
        ..online
    };
    let t = Instant::now();
    let out = offline.run(&target, &candidates, &population)?;
    let secs = t.elapsed().as_secs_f64();
    summary(
        &format!(
            "LiRA offline, {n_reference} refs ({})",
            out.descriptor.variant
        ),
        &out.evaluate(&is_member, &options)?,
        secs,
    );
    println!("total {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}

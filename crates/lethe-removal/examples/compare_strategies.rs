//! Compares every removal strategy against retraining on MNIST 3-vs-8 and prints Markdown
//! tables (one per deletion distribution). Every number is computed by this run.
//!
//! ```text
//! cargo run --release -p lethe-removal --example compare_strategies -- DIR [OUT.json]
//! ```
//! `DIR` holds the four official MNIST `*-idx?-ubyte.gz` files (or is `--digits` for the
//! bundled 8×8 digits, a quick smoke run). Setup: digits 3 (+1) vs 8 (−1), pixels/255 − 0.5,
//! unit-norm rows; logistic loss, λ = 1e-3, σ = 10, ε = 1, δ = 1e-4, seed 0; 100 single-row
//! requests from each of the deletion distributions random, targeted (class +1, the 3s),
//! informed (largest ‖x‖ first) and exponential (rate 10). With `OUT.json` the full
//! comparisons are written there as JSON.

use std::path::Path;
use std::sync::Arc;

use lethe_data::{Dataset, MnistSplit, bundled, load_mnist, three_vs_eight, train_test_split};
use lethe_models::LinearModelParams;
use lethe_removal::{
    CertifiedParams, Comparison, DeletionOrder, Guarantee, InformedBy, OrderSpec, RetrainNoise,
    SisaAggregation, StrategySpec, batches, compare_strategies, deletion_sequence,
};

fn prepare(ds: &Dataset, pixels: bool) -> Result<Dataset, Box<dyn std::error::Error>> {
    Ok(three_vs_eight(ds, pixels.then_some(255.0))?)
}

fn fmt_time(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn fmt_dist(d: &Option<Vec<f64>>) -> String {
    match d {
        None => "n/a".into(),
        Some(v) => v
            .iter()
            .map(|x| format!("{x:.3e}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn guarantee(g: &Guarantee) -> String {
    g.label()
}

fn table(rows: &[Comparison]) -> String {
    let mut s = String::from(
        "| strategy | guarantee | time / request (median) | speed-up (median) | speed-up (total) \
         | retrains | test acc. | removed-row acc. (retrain) | removed-acc. gap (SAPE) \
         | ‖w − w_retrain‖ fresh b | ‖w − w_retrain‖ same b |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {:.1}× | {:.1}× | {} | {:.4} | {:.3} ({:.3}) | {:.4} | {} | {} |\n",
            c.label,
            guarantee(&c.guarantee),
            fmt_time(c.removal_seconds_median),
            c.speedup,
            c.speedup_total,
            c.retrains,
            c.test_accuracy,
            c.removed_accuracy,
            c.removed_accuracy_retrain,
            c.removed_accuracy_gap_sape,
            fmt_dist(&c.weight_distance_fresh),
            fmt_dist(&c.weight_distance_same_b),
        ));
    }
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or("usage: compare_strategies MNIST_DIR|--digits [OUT.json]")?;
    let (train, test, what) = if dir == "--digits" {
        let ds = prepare(&bundled::digits()?, false)?;
        let (tr, te) = train_test_split(&ds, 0.2, 0)?;
        (tr, te, "bundled digits 3-vs-8".to_string())
    } else {
        let tr = prepare(&load_mnist(Path::new(dir), MnistSplit::Train)?, true)?;
        let te = prepare(&load_mnist(Path::new(dir), MnistSplit::Test)?, true)?;
        (tr, te, "MNIST 3-vs-8".to_string())
    };
    let train = Arc::new(train);
    let seed = 0;
    let requests_per_order = 100;
    let params = CertifiedParams::new(LinearModelParams::logistic(1e-3, 10.0));
    let specs = vec![
        StrategySpec::Newton,
        StrategySpec::Retrain {
            noise: RetrainNoise::Fresh,
        },
        StrategySpec::Retrain {
            noise: RetrainNoise::Same,
        },
        StrategySpec::Influence,
        StrategySpec::Projective,
        StrategySpec::Sisa {
            shards: 5,
            slices: 1,
            aggregation: SisaAggregation::Vote,
        },
        StrategySpec::Sisa {
            shards: 5,
            slices: 1,
            aggregation: SisaAggregation::Average,
        },
    ];
    let orders = [
        OrderSpec::random(),
        OrderSpec::targeted(1.0),
        OrderSpec::informed(InformedBy::Norm),
        OrderSpec::new(DeletionOrder::Exponential),
    ];
    println!(
        "# Removal strategies on {what}\n\n{} training rows, {} test rows, d = {}; logistic, \
         λ = {}, σ = {}, ε = {}, δ = {}, seed {seed}; {requests_per_order} single-row requests \
         per deletion distribution. Times are wall-clock seconds per request as each strategy \
         reports them; speed-up = retrain (fresh b) time / strategy time. The removed-row \
         accuracy gap is the SAPE |a − b| / ((|a| + |b|)/2) against retraining with a fresh b.\n",
        train.n_samples(),
        test.n_samples(),
        train.n_features(),
        params.model.lambda,
        params.model.sigma,
        params.epsilon,
        params.delta
    );
    let mut all = Vec::new();
    for order in &orders {
        let seq = deletion_sequence(order, &train, None, requests_per_order, seed)?;
        let requests = batches(&seq, 1);
        eprintln!("running order {} …", order.label());
        let rows = compare_strategies(&specs, params, Arc::clone(&train), &test, &requests, seed)?;
        println!("## Deletion distribution: {}\n", order.label());
        println!("{}", table(&rows));
        all.push(serde_json::json!({ "order": order, "comparisons": rows }));
    }
    if let Some(out) = args.get(2) {
        std::fs::write(out, serde_json::to_string_pretty(&all)?)?;
        eprintln!("wrote {out}");
    }
    Ok(())
}

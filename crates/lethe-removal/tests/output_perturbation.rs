//! Output perturbation with Newton removal (Sekhari et al. 2021; issue #19): the
//! strong-convexity sensitivity bound, determinism per seed, bad parameters.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::LinearModelParams;
use lethe_removal::{
    CertifiedParams, OutputPerturbationStrategy, RemovalError, RemovalStrategy, StrategySpec,
    build_strategy,
};
use nalgebra::DVector;
use proptest::prelude::*;

fn problem() -> impl Strategy<Value = (Dataset, f64, u64)> {
    (10usize..60, 1usize..6, 1e-2f64..1.0, any::<u64>()).prop_flat_map(|(n, d, lambda, seed)| {
        (
            proptest::collection::vec(proptest::collection::vec(-1.0f64..1.0, d), n),
            proptest::collection::vec(any::<bool>(), n),
        )
            .prop_map(move |(rows, labels)| {
                let rows: Vec<Vec<f64>> = rows
                    .into_iter()
                    .map(|r| {
                        let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt().max(1.0);
                        r.into_iter().map(|x| x / norm).collect()
                    })
                    .collect();
                let mut y: Vec<f64> = labels.iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
                y[0] = 1.0;
                y[1] = -1.0;
                (Dataset::from_rows(&rows, y).unwrap(), lambda, seed)
            })
    })
}

/// w*(D∖R) solved to ‖∇‖ ≤ 1e-12.
fn exact_retrain(params: &LinearModelParams, data: &Dataset, active: &[bool]) -> DVector<f64> {
    let mut p = *params;
    p.solver.tolerance = 1e-12;
    p.fit_parts(
        data.features(),
        data.labels(),
        Some(active),
        DVector::zeros(data.n_features()),
        None,
    )
    .unwrap()
    .weights
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn secret_state_is_within_the_certified_bound((data, lambda, seed) in problem()) {
        let params = LinearModelParams::logistic(lambda, 1.0);
        let data = Arc::new(data);
        let mut s = OutputPerturbationStrategy::train(params, 1.0, 1e-4, Arc::clone(&data), seed).unwrap();
        // Remove rows 2, 3, 4 one at a time (rows 0 and 1 keep both labels).
        for i in 2..5.min(data.n_samples() - 1) {
            s.remove(&[i]).unwrap();
            let bound = s.records().last().unwrap().sensitivity_bound;
            let w = exact_retrain(&params, &data, s.active());
            let dist = (s.secret_weights().column(0) - &w).norm();
            // The retrain's own tolerance 1e-12 moves w by ≤ 1e-12/(λn′).
            let slack = 1e-12 / (lambda * (data.n_samples() - 3) as f64);
            prop_assert!(dist <= bound + slack, "distance {dist} > bound {bound}");
        }
    }
}

fn small() -> Arc<Dataset> {
    let rows: Vec<Vec<f64>> = (0..30)
        .map(|i| {
            let a = i as f64 * 0.7;
            vec![a.cos() * 0.9, a.sin() * 0.4]
        })
        .collect();
    let y: Vec<f64> = (0..30)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    Arc::new(Dataset::from_rows(&rows, y).unwrap())
}

#[test]
fn same_seed_same_release_different_seed_different_noise() {
    let params = LinearModelParams::logistic(0.1, 0.5);
    let run = |seed| {
        let mut s = OutputPerturbationStrategy::train(params, 1.0, 1e-4, small(), seed).unwrap();
        let w0 = s.weights().unwrap();
        s.remove(&[3]).unwrap();
        (w0, s.weights().unwrap(), s.secret_weights())
    };
    let (a0, a1, sa) = run(7);
    let (b0, b1, sb) = run(7);
    let (c0, _, sc) = run(8);
    assert_eq!(a0.as_slice(), b0.as_slice());
    assert_eq!(a1.as_slice(), b1.as_slice());
    assert_ne!(a0.as_slice(), c0.as_slice());
    // The secret state does not depend on the seed (b = 0), only the release noise does.
    assert_eq!(sa.as_slice(), sc.as_slice());
    assert_eq!(sa.as_slice(), sb.as_slice());
    // Fresh noise per release.
    assert_ne!((&a1 - &sa).as_slice(), (&a0 - &sa).as_slice());
}

#[test]
fn bad_parameters_are_typed_errors() {
    let p = LinearModelParams::logistic(0.1, 1.0);
    assert!(matches!(
        OutputPerturbationStrategy::train(p, 0.0, 1e-4, small(), 0),
        Err(RemovalError::InvalidEpsilon { .. })
    ));
    assert!(matches!(
        OutputPerturbationStrategy::train(p, 1.0, 1.5, small(), 0),
        Err(RemovalError::InvalidDelta { .. })
    ));
    let neg = LinearModelParams::logistic(0.1, -1.0);
    assert!(OutputPerturbationStrategy::train(neg, 1.0, 1e-4, small(), 0).is_err());
}

#[test]
fn spec_builds_the_strategy() {
    let spec: StrategySpec =
        serde_json::from_str(r#"{"strategy": "output_perturbation"}"#).unwrap();
    assert_eq!(spec.name(), "output_perturbation");
    let mut s = build_strategy(
        &spec,
        CertifiedParams::new(LinearModelParams::logistic(0.1, 1.0)),
        small(),
        1,
    )
    .unwrap();
    let out = s.remove(&[0, 1]).unwrap();
    assert_eq!(out.request, 1);
    assert_eq!(s.name(), "output_perturbation");
}

//! Output perturbation with Newton removal (Sekhari et al. 2021; issue #19): determinism per
//! seed, the guarantee's preconditions, typed errors, the spec. (The sensitivity bound
//! against exact retrains is a property test beside the code, where the secret state is
//! visible; the statistical check is `lethe-testkit/tests/output_perturbation.rs`.)

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, NoiseKind};
use lethe_removal::{
    BudgetPolicy, CertifiedParams, Guarantee, OutputPerturbationStrategy, RemovalError,
    RemovalStrategy, StrategySpec, build_strategy,
};

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

fn params(lambda: f64, sigma: f64) -> CertifiedParams {
    CertifiedParams::new(LinearModelParams::logistic(lambda, sigma))
}

#[test]
fn same_seed_same_releases_other_seed_other_noise() {
    let run = |seed| {
        let mut s = OutputPerturbationStrategy::train(params(0.1, 0.5), small(), seed).unwrap();
        let w0 = s.weights().unwrap();
        let out = s.remove(&[3]).unwrap();
        (w0, s.weights().unwrap(), out.release.unwrap())
    };
    let (a0, a1, ca) = run(7);
    let (b0, b1, cb) = run(7);
    let (c0, c1, cc) = run(8);
    assert_eq!(a0.as_slice(), b0.as_slice());
    assert_eq!(a1.as_slice(), b1.as_slice());
    assert_ne!(a0.as_slice(), c0.as_slice());
    assert_ne!(a1.as_slice(), c1.as_slice());
    // The secret state, hence the certificate, does not depend on the seed (b = 0).
    assert_eq!(ca.sensitivity_bound, cc.sensitivity_bound);
    assert_eq!(
        (ca.seconds, ca.sensitivity_bound),
        (ca.seconds, cb.sensitivity_bound)
    );
    // Fresh noise per release: the two releases differ by more than the step.
    assert!((&a1 - &a0).norm() > 10.0 * ca.sensitivity_bound);
}

#[test]
fn certificates_follow_the_budget_and_retrain_past_it() {
    // λ small and σ small: the first removals exceed the budget and retrain.
    let mut s = OutputPerturbationStrategy::train(params(1e-3, 1e-4), small(), 0).unwrap();
    let mut retrains = 0;
    for i in 0..6 {
        let c = s.remove(&[i]).unwrap().release.unwrap();
        assert!(c.certified, "request {i}: {c:?}");
        assert!(c.sensitivity_bound <= c.budget);
        assert!(c.epsilon_spent.unwrap() <= c.epsilon);
        assert_eq!(c.n_remaining, 29 - i);
        retrains += usize::from(c.retrained);
        if c.retrained {
            assert_eq!(c.removed_since_anchor, 0);
        }
    }
    assert!(retrains > 0);
    // Policy `never`: the Newton state is released and marked uncertified past the budget.
    let mut p = params(1e-3, 1e-4);
    p.budget_policy = BudgetPolicy::Never;
    let mut s = OutputPerturbationStrategy::train(p, small(), 0).unwrap();
    let c = (0..6)
        .map(|i| s.remove(&[i]).unwrap().release.unwrap())
        .find(|c| !c.certified)
        .expect("some request exceeds the budget");
    assert!(!c.retrained && c.sensitivity_bound > c.budget);
    assert_eq!(
        s.guarantee(),
        Guarantee::Certified {
            epsilon: 1.0,
            delta: 1e-4
        }
    );
}

#[test]
fn the_guarantee_checks_its_preconditions() {
    let s = OutputPerturbationStrategy::train(params(0.1, 0.0), small(), 0).unwrap();
    assert_eq!(s.guarantee(), Guarantee::None);
    assert!(!s.current_certificate().certified);
    assert_eq!(s.current_certificate().epsilon_spent, None);
    let mut p = params(0.1, 1.0);
    p.adaptive_requests = true;
    let mut s = OutputPerturbationStrategy::train(p, small(), 0).unwrap();
    assert_eq!(s.guarantee(), Guarantee::Adaptive);
    assert!(!s.remove(&[0]).unwrap().release.unwrap().certified);
    // Pure ε with the Gamma-norm noise: δ = 0 and ε spent = s/σ.
    let mut p = params(0.1, 1.0);
    p.model.noise = NoiseKind::GammaNorm;
    let mut s = OutputPerturbationStrategy::train(p, small(), 0).unwrap();
    assert_eq!(
        s.guarantee(),
        Guarantee::Certified {
            epsilon: 1.0,
            delta: 0.0
        }
    );
    let c = s.remove(&[0]).unwrap().release.unwrap();
    assert_eq!(c.delta, 0.0);
    assert_eq!(c.accounting, None);
    assert!((c.epsilon_spent.unwrap() - c.sensitivity_bound).abs() <= 1e-15);
}

#[test]
fn unnormalised_rows_are_refused_or_uncertified() {
    let data =
        Arc::new(Dataset::from_rows(&[vec![2.0, 0.0], vec![0.0, 1.0]], vec![1.0, -1.0]).unwrap());
    assert!(matches!(
        OutputPerturbationStrategy::train(params(0.1, 1.0), Arc::clone(&data), 0),
        Err(RemovalError::RowNormExceeded { row: 0, .. })
    ));
    let mut p = params(0.1, 1.0);
    p.allow_unnormalized = true;
    let s = OutputPerturbationStrategy::train(p, data, 0).unwrap();
    assert_eq!(s.guarantee(), Guarantee::None);
}

#[test]
fn bad_parameters_and_requests_are_typed_errors() {
    let mut p = params(0.1, 1.0);
    p.epsilon = 0.0;
    assert!(matches!(
        OutputPerturbationStrategy::train(p, small(), 0),
        Err(RemovalError::InvalidEpsilon { .. })
    ));
    let mut p = params(0.1, 1.0);
    p.delta = 1.5;
    assert!(matches!(
        OutputPerturbationStrategy::train(p, small(), 0),
        Err(RemovalError::InvalidDelta { .. })
    ));
    assert!(OutputPerturbationStrategy::train(params(0.1, -1.0), small(), 0).is_err());
    let mut s = OutputPerturbationStrategy::train(params(0.1, 1.0), small(), 0).unwrap();
    let before = s.weights().unwrap();
    assert!(s.remove(&[99]).is_err());
    assert!(s.remove(&[1, 1]).is_err());
    assert_eq!(s.weights().unwrap(), before);
    assert!(s.active().iter().all(|a| *a));
}

#[test]
fn spec_builds_the_strategy() {
    let spec: StrategySpec =
        serde_json::from_str(r#"{"strategy": "output_perturbation"}"#).unwrap();
    assert_eq!(spec.name(), "output_perturbation");
    let mut s = build_strategy(&spec, params(0.1, 1.0), small(), 1).unwrap();
    let out = s.remove(&[0, 1]).unwrap();
    assert_eq!(out.request, 1);
    assert_eq!(out.certified(), Some(true));
    assert_eq!(s.name(), "output_perturbation");
}

#[test]
fn descent_to_delete_is_the_same_mechanism_with_gradient_steps() {
    let spec: StrategySpec =
        serde_json::from_str(r#"{"strategy": "descent_to_delete", "steps": 4}"#).unwrap();
    assert_eq!(spec, StrategySpec::DescentToDelete { steps: 4 });
    assert_eq!(spec.label(), "descent_to_delete (T=4)");
    assert!(spec.releases_output_noise());
    let default: StrategySpec =
        serde_json::from_str(r#"{"strategy": "descent_to_delete"}"#).unwrap();
    assert_eq!(default, StrategySpec::DescentToDelete { steps: 20 });
    let mut s = build_strategy(&spec, params(0.1, 1.0), small(), 1).unwrap();
    assert_eq!(s.name(), "descent_to_delete");
    let c = s.remove(&[0]).unwrap().release.unwrap();
    assert!(c.certified && c.sensitivity_bound <= c.budget, "{c:?}");
    // More steps, a state closer to w*(D′): a smaller certified bound.
    let more = StrategySpec::DescentToDelete { steps: 40 };
    let mut t = build_strategy(&more, params(0.1, 1.0), small(), 1).unwrap();
    let d = t.remove(&[0]).unwrap().release.unwrap();
    assert!(d.sensitivity_bound < c.sensitivity_bound);
    assert!(matches!(
        build_strategy(
            &StrategySpec::DescentToDelete { steps: 0 },
            params(0.1, 1.0),
            small(),
            1
        ),
        Err(RemovalError::Data(
            lethe_data::DataError::InvalidParameter { name: "steps", .. }
        ))
    ));
}

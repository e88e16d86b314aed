//! The invariants catch what they claim to: each check is run against a mechanism or a
//! certificate with a known defect and must fail, with a message naming the invariant, the
//! request and the numbers. (A check that never fails proves nothing.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind, SolverKind};
use lethe_removal::{
    BudgetPolicy, Certificate, CertifiedModel, CertifiedParams, RemovalError, RemovalOutcome,
    RemovalStrategy, RetrainNoise, RetrainStrategy,
};
use lethe_testkit::reference::{certified_noise, retrain_weights};
use lethe_testkit::strategies::{DatasetParams, RequestPattern, datasets, request_sequences};
use lethe_testkit::{
    BadRequestKind, FixtureStrategy, Flaw, bad_requests, check_bad_requests_untouched,
    check_budget_respected, check_certificate_consistency, check_certified_sequence,
    check_matches_reference, check_residual_within_certificate, check_same_seed_same_trajectory,
    check_squared_loss_equals_retraining, probe_matrix, prop_check,
};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// DESIGN §1's fixture ([`lethe_data::synthetic::design_fixture`]), with its ±1 labels or
/// the real labels of its squared-loss case.
fn fixture_data(real: bool) -> Arc<Dataset> {
    let data = lethe_data::synthetic::design_fixture();
    if real {
        let y = nalgebra::DVector::from_vec(vec![0.5, 1.0, -0.3, 0.2, -1.0, 0.7]);
        Arc::new(data.with_labels(y).unwrap())
    } else {
        Arc::new(data)
    }
}

fn params(loss: LossKind) -> LinearModelParams {
    let mut p = LinearModelParams::logistic(0.1, 1.0);
    p.loss = loss;
    p.solver.kind = SolverKind::Newton;
    p.solver.tolerance = 1e-12;
    p
}

#[test]
fn forgetting_and_wrong_sign_differ_from_retraining() {
    let data = fixture_data(true);
    let p = params(LossKind::Squared);
    for flaw in [Flaw::ForgetsNothing, Flaw::WrongSign] {
        let mut s = FixtureStrategy::train(flaw, p, data.clone(), 3).unwrap();
        let noise = s.noise().to_vec();
        let f = check_squared_loss_equals_retraining(&mut s, &p, &data, &noise, &[vec![5]], 1e-9)
            .unwrap_err();
        assert_eq!(f.invariant, "removal equals the reference");
        assert_eq!(f.request, Some(1));
        assert!(f.to_string().contains("at request 1"), "{f}");
    }
    // The correct twin is exact for the squared loss.
    let mut s = FixtureStrategy::train(Flaw::None, p, data.clone(), 3).unwrap();
    let noise = s.noise().to_vec();
    check_squared_loss_equals_retraining(&mut s, &p, &data, &noise, &[vec![5], vec![0, 2]], 1e-9)
        .unwrap();
}

#[test]
fn partial_application_of_a_bad_request_is_caught() {
    let data = fixture_data(false);
    let mut s = FixtureStrategy::train(
        Flaw::PartialOnError,
        params(LossKind::Logistic),
        data.clone(),
        1,
    )
    .unwrap();
    let f = check_bad_requests_untouched(&mut s, &probe_matrix(&data)).unwrap_err();
    assert_eq!(f.invariant, "bad requests leave the model untouched");
    assert!(f.got.contains("active rows"), "{f}");
    // The same check passes for the correct twin and for lethe's strategies.
    let mut ok =
        FixtureStrategy::train(Flaw::None, params(LossKind::Logistic), data.clone(), 1).unwrap();
    check_bad_requests_untouched(&mut ok, &probe_matrix(&data)).unwrap();
}

#[test]
fn bad_request_catalogue() {
    let mut active = vec![true; 4];
    active[2] = false;
    let kinds: Vec<BadRequestKind> = bad_requests(&active).iter().map(|b| b.kind).collect();
    for k in [
        BadRequestKind::Empty,
        BadRequestKind::UnknownRow,
        BadRequestKind::DuplicateRow,
        BadRequestKind::AlreadyRemoved,
        BadRequestKind::WouldEmpty,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing");
    }
    // Every catalogued request is refused by lethe's validator.
    for b in bad_requests(&active) {
        assert!(
            lethe_removal::validate_request(&active, 3, &b.indices).is_err(),
            "{b:?}"
        );
    }
}

/// A mechanism that is not reproducible: every build draws its noise from a global counter.
#[test]
fn nondeterminism_is_caught() {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let data = fixture_data(false);
    let p = params(LossKind::Logistic);
    let f = check_same_seed_same_trajectory(
        || {
            let seed = COUNTER.fetch_add(1, Ordering::Relaxed);
            Ok(Box::new(RetrainStrategy::train(
                p,
                data.clone(),
                seed,
                RetrainNoise::Fresh,
            )?))
        },
        &[vec![1]],
        &probe_matrix(&data),
    )
    .unwrap_err();
    assert_eq!(f.invariant, "same seed ⇒ identical trajectory");
}

/// A mechanism whose removal depends on hidden mutable state: deterministic at build time,
/// divergent at the second request.
#[test]
fn divergent_trajectories_are_caught_at_the_request() {
    struct Drifting {
        inner: FixtureStrategy,
    }
    static CALLS: AtomicU64 = AtomicU64::new(0);
    impl RemovalStrategy for Drifting {
        fn name(&self) -> &str {
            "drifting"
        }
        fn guarantee(&self) -> lethe_removal::Guarantee {
            lethe_removal::Guarantee::None
        }
        fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome, RemovalError> {
            let mut o = self.inner.remove(indices)?;
            // Every third call anywhere reports itself retrained.
            o.retrained = CALLS.fetch_add(1, Ordering::Relaxed) % 3 == 2;
            Ok(o)
        }
        fn active(&self) -> &[bool] {
            self.inner.active()
        }
        fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, RemovalError> {
            self.inner.decision_function(x)
        }
        fn classes(&self) -> Vec<Option<f64>> {
            self.inner.classes()
        }
        fn weights(&self) -> Option<DMatrix<f64>> {
            self.inner.weights()
        }
    }
    let data = fixture_data(false);
    let p = params(LossKind::Logistic);
    let f = check_same_seed_same_trajectory(
        || {
            Ok(Box::new(Drifting {
                inner: FixtureStrategy::train(Flaw::None, p, data.clone(), 9)?,
            }))
        },
        &[vec![0], vec![1], vec![2]],
        &probe_matrix(&data),
    )
    .unwrap_err();
    assert!(f.request.is_some(), "{f}");
}

fn some_certificates(policy: BudgetPolicy) -> (CertifiedModel, Vec<Certificate>) {
    let data = fixture_data(false);
    let mut cp = CertifiedParams::new(params(LossKind::Logistic));
    cp.budget_policy = policy;
    let mut model = CertifiedModel::train(cp, data, 4).unwrap();
    let certs = check_certified_sequence(&mut model, &[vec![5], vec![4]]).unwrap();
    (model, certs)
}

#[test]
fn understated_certificates_are_caught() {
    let (model, certs) = some_certificates(BudgetPolicy::Never);
    let last = certs.last().unwrap().clone();
    check_residual_within_certificate(&model, &last).unwrap();
    // A certificate claiming less than the true residual.
    let mut lie = last.clone();
    lie.beta = 0.0;
    let f = check_residual_within_certificate(&model, &lie).unwrap_err();
    assert_eq!(f.invariant, "exact residual ≤ certificate");
    assert_eq!(f.request, Some(2));
    // A certificate reporting a residual that is not the recomputed one.
    let mut wrong = last.clone();
    wrong.residual_norm = wrong.residual_norm.map(|r| r * 2.0 + 1e-3);
    assert!(check_residual_within_certificate(&model, &wrong).is_err());
    // β that does not add up.
    let mut sum = last.clone();
    sum.beta = sum.beta_before;
    let f = check_certificate_consistency(&sum, Some(last.beta_before)).unwrap_err();
    assert!(f.what.contains("β after a Newton step"), "{f}");
    // β_before that is not the previous β.
    let f = check_certificate_consistency(&last, Some(last.beta_before * 0.5)).unwrap_err();
    assert!(f.what.contains("beta_before"), "{f}");
    // A negative or NaN bound.
    let mut nan = last.clone();
    nan.bound_data_dependent = f64::NAN;
    assert!(check_certificate_consistency(&nan, None).is_err());
    // A tight bound above the data-dependent one.
    let mut loose = last;
    loose.bound_tight = loose.bound_data_dependent * 2.0 + 1.0;
    loose.certificate_bound = loose.bound_data_dependent + loose.solve_residual;
    assert!(lethe_testkit::check_bound_order(&loose, false).is_err());
}

#[test]
fn budget_violations_are_caught() {
    let (_, certs) = some_certificates(BudgetPolicy::Retrain);
    check_budget_respected(&certs, BudgetPolicy::Retrain).unwrap();
    // A release marked certified past the budget.
    let mut over = certs.clone();
    over[1].beta = over[1].budget * 1.5;
    over[1].certified = true;
    let f = check_budget_respected(&over, BudgetPolicy::Never).unwrap_err();
    assert_eq!(f.request, Some(2));
    // A Newton step applied past the budget under the retrain policy.
    let mut stepped = certs;
    stepped[0].beta = stepped[0].budget * 2.0;
    stepped[0].certified = false;
    stepped[0].retrained = false;
    let f = check_budget_respected(&stepped, BudgetPolicy::Retrain).unwrap_err();
    assert!(f.what.contains("retrain policy"), "{f}");
    assert!(check_budget_respected(&stepped, BudgetPolicy::Never).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On generated data, the forgetting fixture is caught by the retraining reference
    /// whenever the removal changes the retrained model at all.
    #[test]
    fn forgetting_is_caught_on_generated_data(
        (data, requests) in datasets(DatasetParams::regression(4..=20, 1..=3)).prop_flat_map(|d| {
            let n = d.n_samples();
            (Just(d), request_sequences(n, RequestPattern::Mixed { max_size: 2 }, 3))
        }),
    ) {
        prop_assume!(!requests.is_empty());
        let data = Arc::new(data);
        let p = params(LossKind::Squared);
        let mut s = FixtureStrategy::train(Flaw::ForgetsNothing, p, data.clone(), 0).unwrap();
        let noise = s.noise().to_vec();
        let mut active = vec![true; data.n_samples()];
        for r in &requests {
            for &i in r {
                active[i] = false;
            }
        }
        let before = retrain_weights(&p, &data, &vec![true; data.n_samples()], &noise).unwrap();
        let after = retrain_weights(&p, &data, &active, &noise).unwrap();
        let moved = lethe_testkit::reference::max_abs_diff(&before, &after);
        let r = check_squared_loss_equals_retraining(&mut s, &p, &data, &noise, &requests, 1e-9);
        if moved > 1e-6 {
            prop_assert!(r.is_err());
        }
        // And the certified model with its own b passes the same comparison.
        let mut cp = CertifiedParams::new(p);
        cp.budget_policy = BudgetPolicy::Retrain;
        let mut m = CertifiedModel::train(cp, data.clone(), 0).unwrap();
        let noise = certified_noise(&m);
        prop_check(check_matches_reference(
            &mut m,
            &requests,
            |a| retrain_weights(&p, &data, a, &noise),
            1e-8,
        ))?;
    }
}

//! Numeric edge cases: |margin| up to 1e4, λ tiny (1e-12) and huge, σ = 0, n = 1 after
//! removals, singular Hessians as λ → 0. Each must give a correct result (every certificate
//! invariant holds) or a typed error — never a panic, a NaN or a wrong certificate — and a
//! request that fails must leave the model untouched.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::{Loss, LossKind, ModelError};
use lethe_removal::{BudgetPolicy, CertifiedModel, CertifiedParams, RemovalError, StepSolver};
use lethe_testkit::strategies::{
    AdversarialOrder, DatasetParams, Degeneracy, LabelKind, ObjectiveSpec, RowScale,
    adversarial_requests, datasets, degenerate_dataset, degenerate_datasets, extreme_objectives,
};
use lethe_testkit::{
    InvariantFailure, check_budget_respected, check_certified_sequence, prop_check,
};
use proptest::prelude::*;
use proptest::sample::select;

/// What happened to a run on extreme inputs (the payloads are read through `Debug` in
/// failure messages).
#[derive(Debug)]
#[allow(dead_code)]
enum Run {
    /// Every request was served and every invariant held.
    Completed(Vec<lethe_removal::Certificate>),
    /// Training was refused with a typed error.
    TrainError(RemovalError),
    /// Request k (1-based) was refused with a typed error, leaving the model untouched.
    StepError(usize, RemovalError),
}

/// Errors extreme numerics may legitimately cause.
fn assert_typed(e: &RemovalError) {
    assert!(
        matches!(
            e,
            RemovalError::Model(
                ModelError::NotConverged { .. }
                    | ModelError::Linalg(_)
                    | ModelError::TooFewClasses { .. }
                    | ModelError::InvalidLambda { .. }
                    | ModelError::NonFinite { .. }
            ) | RemovalError::Data(_)
                | RemovalError::InvalidEpsilon { .. }
        ),
        "unexpected error kind: {e:?}"
    );
}

/// Trains and removes, checking every certificate invariant after each request; a request
/// that fails must fail with a typed error and leave weights, β and active rows unchanged.
fn run(
    params: CertifiedParams,
    data: Arc<Dataset>,
    seed: u64,
    requests: &[Vec<usize>],
) -> Result<Run, InvariantFailure> {
    let mut model = match CertifiedModel::train(params, data, seed) {
        Ok(m) => m,
        Err(e) => {
            assert_typed(&e);
            return Ok(Run::TrainError(e));
        }
    };
    for w in model.weight_matrix().iter() {
        assert!(w.is_finite(), "non-finite trained weight");
    }
    let mut certs = Vec::new();
    for (k, request) in requests.iter().enumerate() {
        let mut trial = model.clone();
        match check_certified_sequence(&mut trial, std::slice::from_ref(request)) {
            Ok(mut c) => {
                for w in trial.weight_matrix().iter() {
                    assert!(w.is_finite(), "non-finite weight after request {}", k + 1);
                }
                model = trial;
                certs.append(&mut c);
            }
            Err(f) if f.invariant == "requests do what they say" => {
                let weights = model.weight_matrix();
                let active = model.active().to_vec();
                let beta = model.beta();
                let e = model.remove(request).expect_err("the trial failed");
                assert_typed(&e);
                let untouched = model.weight_matrix() == weights
                    && model.active() == active
                    && model.beta() == beta;
                if !untouched {
                    return Err(InvariantFailure::new(
                        "a failed request leaves the model untouched",
                        format!("state after the failing request {request:?} ({e})"),
                        "unchanged weights, β and active rows",
                        format!(
                            "active rows changed: {}, weights changed: {}, β {} → {}",
                            model.active() != active,
                            model.weight_matrix() != weights,
                            beta,
                            model.beta()
                        ),
                    )
                    .at_request(k + 1));
                }
                return Ok(Run::StepError(k + 1, e));
            }
            Err(f) => return Err(f),
        }
    }
    check_budget_respected(&certs, params.budget_policy)?;
    Ok(Run::Completed(certs))
}

fn unit_rows(n: usize, d: usize, seed: u64) -> Dataset {
    lethe_data::synthetic::logistic_planted(n, d, seed, &Default::default())
        .unwrap()
        .0
}

// ---------------------------------------------------------------------------------------------
// |margin| up to 1e4

#[test]
fn losses_are_finite_and_correct_at_margins_of_1e4() {
    for loss in [LossKind::Logistic, LossKind::LogisticTight] {
        for z in [-1e4, -1e3, -40.0, 0.0, 40.0, 1e3, 1e4] {
            for y in [-1.0, 1.0] {
                let (v, d1, d2) = (
                    loss.value(z, y),
                    loss.derivative(z, y),
                    loss.second_derivative(z, y),
                );
                assert!(v.is_finite() && v >= 0.0, "{loss:?} ℓ({z}, {y}) = {v}");
                assert!((-1.0..=1.0).contains(&d1), "{loss:?} ℓ′({z}, {y}) = {d1}");
                assert!(
                    d2.is_finite() && (0.0..=0.25).contains(&d2),
                    "{loss:?} ℓ″ = {d2}"
                );
                // log(1 + e^{−yz}) ≈ max(0, −yz) far from 0.
                if (y * z).abs() >= 40.0 {
                    assert!((v - (-y * z).max(0.0)).abs() < 1e-15 * (1.0 + (y * z).abs()));
                }
            }
        }
    }
    assert_eq!(LossKind::Squared.value(1e4, -1.0), (1e4_f64 + 1.0).powi(2));
}

/// Noise large enough that the weights reach ‖w‖ ≈ 1e4, so |wᵀx_i| reaches ~1e4 on
/// unit-norm rows: the certificates must still hold.
#[test]
fn certificates_hold_with_margins_near_1e4() {
    let data = Arc::new(unit_rows(30, 3, 7));
    for solver in [StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale] {
        for seed in 0..4 {
            let spec = ObjectiveSpec {
                loss: LossKind::Logistic,
                lambda: 0.01,
                sigma: 3e3,
            };
            let mut params = spec.certified_params(BudgetPolicy::Never);
            params.solver = solver;
            let model = CertifiedModel::train(params, data.clone(), seed).unwrap();
            let max_margin = (data.features() * model.weight_matrix()).amax();
            assert!(max_margin > 1e3, "margins only reach {max_margin}");
            let requests = adversarial_requests(&data, AdversarialOrder::WorstFitFirst, 2, 5);
            match run(params, data.clone(), seed, &requests).unwrap() {
                Run::Completed(c) => assert_eq!(c.len(), 5),
                other => panic!("{solver:?}: {other:?}"),
            }
        }
    }
}

/// Rows of norm up to 1e4 (no certificate is claimed with `allow_unnormalized`): training
/// and removal give finite weights or typed errors.
#[test]
fn unnormalized_rows_with_huge_margins_give_results_or_typed_errors() {
    let base = unit_rows(20, 2, 3);
    let data = Arc::new(Dataset::new(base.features() * 1e4, base.labels().clone()).unwrap());
    for loss in [LossKind::Logistic, LossKind::Squared] {
        let spec = ObjectiveSpec {
            loss,
            lambda: 1e-3,
            sigma: 1.0,
        };
        let mut params = spec.certified_params(BudgetPolicy::Retrain);
        // Refused by default…
        assert!(matches!(
            CertifiedModel::train(params, data.clone(), 0),
            Err(RemovalError::RowNormExceeded { .. })
        ));
        // …accepted on request, without a certificate.
        params.allow_unnormalized = true;
        let requests = adversarial_requests(&data, AdversarialOrder::LargestNormFirst, 1, 4);
        match run(params, data.clone(), 0, &requests).unwrap() {
            Run::Completed(certs) => assert!(certs.iter().all(|c| !c.certified)),
            Run::TrainError(_) | Run::StepError(..) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// λ tiny and huge, σ = 0

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// λ ∈ {1e-12, 1e-8, 1e3, 1e6, 1e12} × σ ∈ {0, 1e-6, 1, 1e4} × both losses, on ordinary
    /// data: a correct result or a typed error.
    #[test]
    fn extreme_lambda_and_sigma(
        data in datasets(DatasetParams::binary(3..=24, 1..=4)),
        spec in extreme_objectives(vec![LossKind::Logistic, LossKind::Squared]),
        solver in select(vec![StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale]),
        policy in select(vec![BudgetPolicy::Retrain, BudgetPolicy::Never]),
        seed in any::<u64>(),
    ) {
        let mut params = spec.certified_params(policy);
        params.solver = solver;
        let requests = adversarial_requests(&data, AdversarialOrder::WorstFitFirst, 1, 4);
        let outcome = prop_check(run(params, Arc::new(data), seed, &requests))?;
        if spec.lambda >= 1e3 {
            // Strongly convex enough that nothing may fail.
            prop_assert!(matches!(outcome, Run::Completed(_)), "{outcome:?}");
        }
        if let Run::Completed(certs) = &outcome {
            for c in certs {
                if spec.sigma == 0.0 {
                    // No noise, no certificate; the budget is 0.
                    prop_assert!(!c.certified);
                    prop_assert_eq!(c.budget, 0.0);
                    if policy == BudgetPolicy::Retrain && c.beta_before + c.certificate_bound > 0.0 {
                        prop_assert!(c.retrained);
                    }
                }
            }
        }
    }

    /// Singular Hessians as λ → 0: d > n, collinear or all-zero features, duplicated or zero
    /// rows, with λ ∈ {1e-6, 1e-9, 1e-12} and the squared loss (ℓ″ = 2, so H = 2XᵀX + λnI is
    /// singular in the limit) or the logistic loss.
    #[test]
    fn singular_hessians_as_lambda_goes_to_zero(
        (kind, data) in degenerate_datasets(DatasetParams::binary(2..=12, 1..=4)),
        lambda in select(vec![1e-6, 1e-9, 1e-12]),
        loss in select(vec![LossKind::Squared, LossKind::Logistic]),
        sigma in select(vec![0.0, 1.0]),
        solver in select(vec![StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale]),
        seed in any::<u64>(),
    ) {
        let spec = ObjectiveSpec { loss, lambda, sigma };
        let mut params = spec.certified_params(BudgetPolicy::Never);
        params.solver = solver;
        let requests = adversarial_requests(&data, AdversarialOrder::DuplicatesFirst, 1, 3);
        let r = run(params, Arc::new(data), seed, &requests);
        prop_assert!(r.is_ok(), "{}: {}", kind.name(), r.unwrap_err());
    }
}

// ---------------------------------------------------------------------------------------------
// n = 1 after removals

#[test]
fn draining_to_one_row_and_beyond() {
    for loss in [LossKind::Logistic, LossKind::Squared] {
        for solver in [StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale] {
            for policy in [BudgetPolicy::Retrain, BudgetPolicy::Never] {
                let data = Arc::new(unit_rows(7, 3, 11));
                let spec = ObjectiveSpec {
                    loss,
                    lambda: 0.05,
                    sigma: 1.0,
                };
                let mut params = spec.certified_params(policy);
                params.solver = solver;
                let requests = adversarial_requests(&data, AdversarialOrder::DrainToOne, 1, 10);
                assert_eq!(requests.len(), 6);
                let certs = match run(params, data.clone(), 5, &requests).unwrap() {
                    Run::Completed(c) => c,
                    other => panic!("{loss:?} {solver:?} {policy:?}: {other:?}"),
                };
                assert_eq!(certs.last().unwrap().n_remaining, 1);
                // One row left: removing it is refused, and changes nothing.
                let mut model = CertifiedModel::train(params, data, 5).unwrap();
                for r in &requests {
                    model.remove(r).unwrap();
                }
                let w = model.weight_matrix();
                assert!(matches!(
                    model.remove(&[6]),
                    Err(RemovalError::WouldEmpty {
                        requested: 1,
                        remaining: 1
                    })
                ));
                assert_eq!(model.weight_matrix(), w);
                assert_eq!(model.n_remaining(), 1);
            }
        }
    }
}

#[test]
fn one_vs_rest_drained_to_one_row() {
    let rows: Vec<Vec<f64>> = (0..9)
        .map(|i| {
            let t = i as f64 * 0.7;
            vec![t.cos(), t.sin()]
        })
        .collect();
    let labels: Vec<f64> = (0..9).map(|i| (i % 3) as f64).collect();
    let data = Arc::new(Dataset::from_rows(&rows, labels).unwrap());
    let spec = ObjectiveSpec {
        loss: LossKind::Logistic,
        lambda: 0.1,
        sigma: 1.0,
    };
    let requests = adversarial_requests(&data, AdversarialOrder::OneClassFirst, 2, 10);
    match run(
        spec.certified_params(BudgetPolicy::Retrain),
        data,
        1,
        &requests,
    )
    .unwrap()
    {
        Run::Completed(c) => assert_eq!(c.last().unwrap().n_remaining, 1),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Degenerate data at moderate λ with unit-norm rows exactly at 1

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rows_exactly_at_norm_one_are_accepted_and_certified(
        data in degenerate_dataset(
            Degeneracy::ExactUnitNorm,
            DatasetParams { labels: LabelKind::PlusMinusOne, rows: RowScale::UnitNorm, ..DatasetParams::default() },
        ),
        seed in any::<u64>(),
    ) {
        prop_assert!(data.row_norms().iter().all(|&r| r == 1.0));
        let spec = ObjectiveSpec { loss: LossKind::Logistic, lambda: 0.1, sigma: 5.0 };
        let requests = adversarial_requests(&data, AdversarialOrder::DuplicatesFirst, 1, 4);
        let outcome = prop_check(run(spec.certified_params(BudgetPolicy::Retrain), Arc::new(data), seed, &requests))?;
        prop_assert!(matches!(outcome, Run::Completed(_)), "{outcome:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Regression test: a failed budget retrain must leave the model untouched (found by the
// property test above; fixed in lethe-removal by retraining before committing the request)

/// The shrunk counterexample proptest found: n = 4, d = 3, logistic, λ = 1e-12, σ = 1,
/// budget policy retrain. The first request's bound exceeds the budget, the budget retrain on
/// the 3 remaining rows does not converge, and `remove` returns the error with row 2 already
/// removed (before the fix).
#[test]
fn failed_budget_retrain_leaves_the_model_untouched() {
    let x = nalgebra::DMatrix::from_column_slice(
        4,
        3,
        &[
            -0.09731045895576967,
            0.3215574727352897,
            -0.8186425501273324,
            -0.057453264064787755,
            -0.2137469391470639,
            -0.22817371769012357,
            -0.09009525569122212,
            -0.004909173026925141,
            -0.07188080839066607,
            0.008295594056727067,
            0.10968206906733628,
            0.05944452334305681,
        ],
    );
    let y = nalgebra::DVector::from_vec(vec![1.0, -1.0, -1.0, 1.0]);
    let data = Arc::new(Dataset::new(x, y).unwrap());
    let spec = ObjectiveSpec {
        loss: LossKind::Logistic,
        lambda: 1e-12,
        sigma: 1.0,
    };
    let params = spec.certified_params(BudgetPolicy::Retrain);
    let mut model = CertifiedModel::train(params, data, 10960578877406339144).unwrap();
    let active = model.active().to_vec();
    let requests = model.requests();
    let e = model.remove(&[2]).unwrap_err();
    assert!(
        matches!(e, RemovalError::Model(ModelError::NotConverged { .. })),
        "{e:?}"
    );
    assert_eq!(
        model.active(),
        active.as_slice(),
        "the failed request removed its row"
    );
    assert_eq!(model.requests(), requests, "the failed request was counted");
}

//! lethe's own mechanisms under the testkit: certified Newton removal with each step solver
//! (cholesky, pcg, stale), and retraining, on generated problems, degenerate data and
//! adversarial orders.

use std::sync::Arc;

use lethe_models::LossKind;
use lethe_removal::{
    BoundKind, BudgetPolicy, CertifiedModel, CertifiedParams, RemovalError, RemovalStrategy,
    RetrainNoise, RetrainStrategy, SpectralNormMode, StepSolver,
};
use lethe_testkit::reference::retrain_weights;
use lethe_testkit::strategies::{
    AdversarialOrder, DatasetParams, Degeneracy, LabelKind, ObjectiveParams, ProblemParams,
    RequestPattern, adversarial_requests, datasets, degenerate_datasets, objectives, problems,
    request_sequences,
};
use lethe_testkit::{
    check_bad_requests_untouched, check_certified_sequence, check_certified_squared_loss,
    check_matches_reference, check_same_seed_same_trajectory, probe_matrix, prop_check,
    run_requests,
};
use proptest::prelude::*;
use proptest::sample::select;

const SOLVERS: [StepSolver; 3] = [StepSolver::Cholesky, StepSolver::Pcg, StepSolver::Stale];

fn classification() -> ProblemParams {
    ProblemParams {
        objective: ObjectiveParams {
            losses: vec![
                LossKind::Logistic,
                LossKind::LogisticTight,
                LossKind::Squared,
            ],
            ..ObjectiveParams::default()
        },
        ..ProblemParams::default()
    }
}

fn configure(
    mut params: CertifiedParams,
    solver: StepSolver,
    bound: BoundKind,
    norm: SpectralNormMode,
) -> CertifiedParams {
    params.solver = solver;
    params.bound = bound;
    params.spectral_norm = norm;
    params
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Exact residual ≤ β, per-step residual ≤ previous + bound, certificate arithmetic and
    /// the budget, for every solver, bound, spectral-norm mode and budget policy.
    #[test]
    fn certified_sequences_keep_their_certificates(
        problem in problems(classification()),
        solver in select(SOLVERS.to_vec()),
        bound in select(vec![BoundKind::DataDependent, BoundKind::Tight]),
        norm in select(vec![SpectralNormMode::Training, SpectralNormMode::Remaining]),
        policy in select(vec![BudgetPolicy::Retrain, BudgetPolicy::Never]),
    ) {
        let params = configure(problem.objective.certified_params(policy), solver, bound, norm);
        let mut model = CertifiedModel::train(params, Arc::new(problem.data), problem.seed).unwrap();
        prop_check(check_certified_sequence(&mut model, &problem.requests))?;
    }

    /// One-vs-rest (K = 3) with the class-summed β.
    #[test]
    fn one_vs_rest_keeps_its_certificates(
        data in datasets(DatasetParams::classes(3, 6..=30, 1..=4)),
        objective in objectives(ObjectiveParams::only(LossKind::Logistic)),
        solver in select(SOLVERS.to_vec()),
        seed in any::<u64>(),
        batch in 1usize..=3,
    ) {
        let requests = adversarial_requests(&data, AdversarialOrder::OneClassFirst, batch, 5);
        let params = configure(
            objective.certified_params(BudgetPolicy::Retrain),
            solver,
            BoundKind::DataDependent,
            SpectralNormMode::Training,
        );
        let mut model = CertifiedModel::train(params, Arc::new(data), seed).unwrap();
        prop_assert_eq!(model.class_models().len(), 3);
        prop_check(check_certified_sequence(&mut model, &requests))?;
    }

    /// Squared loss: one Newton step is exact, so removal equals retraining with the same b.
    #[test]
    fn squared_loss_removal_equals_retraining(
        problem in problems(ProblemParams {
            data: DatasetParams::regression(4..=40, 1..=5),
            objective: ObjectiveParams::only(LossKind::Squared),
            ..ProblemParams::default()
        }),
        solver in select(SOLVERS.to_vec()),
    ) {
        let mut params = problem.objective.certified_params(BudgetPolicy::Retrain);
        params.solver = solver;
        let lambda = params.model.lambda;
        let n_final = problem.data.n_samples() - problem.requests.iter().map(Vec::len).sum::<usize>();
        // Both fits stop at ‖∇‖ ≤ 1e-10 and H ⪰ λn′I, so each is within 1e-10/(λn′) of the
        // exact minimiser.
        let tol = 4e-10 / (lambda * n_final as f64) + 1e-10;
        let mut model = CertifiedModel::train(params, Arc::new(problem.data), problem.seed).unwrap();
        prop_check(check_certified_squared_loss(&mut model, &problem.requests, tol))?;
    }

    /// Invalid requests are refused atomically, before and after valid ones, for certified
    /// models (each solver) and retraining.
    #[test]
    fn bad_requests_leave_models_untouched(
        problem in problems(classification()),
        solver in select(SOLVERS.to_vec()),
    ) {
        let data = Arc::new(problem.data);
        let probe = probe_matrix(&data);
        let mut params = problem.objective.certified_params(BudgetPolicy::Retrain);
        params.solver = solver;
        let certified: Box<dyn RemovalStrategy> =
            Box::new(CertifiedModel::train(params, data.clone(), problem.seed).unwrap());
        let retrain: Box<dyn RemovalStrategy> = Box::new(
            RetrainStrategy::train(params.model, data.clone(), problem.seed, RetrainNoise::Fresh).unwrap(),
        );
        for mut s in [certified, retrain] {
            prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
            prop_check(run_requests(s.as_mut(), &problem.requests))?;
            prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
        }
    }

    /// Same seed ⇒ bit-identical trajectories (weights, certificates, decisions), for every
    /// solver and for retraining with fresh noise.
    #[test]
    fn same_seed_same_trajectory(
        problem in problems(classification()),
        solver in select(SOLVERS.to_vec()),
    ) {
        let data = Arc::new(problem.data);
        let probe = probe_matrix(&data);
        let mut params = problem.objective.certified_params(BudgetPolicy::Retrain);
        params.solver = solver;
        let seed = problem.seed;
        prop_check(check_same_seed_same_trajectory(
            || Ok(Box::new(CertifiedModel::train(params, data.clone(), seed)?)),
            &problem.requests,
            &probe,
        ))?;
        prop_check(check_same_seed_same_trajectory(
            || Ok(Box::new(RetrainStrategy::train(params.model, data.clone(), seed, RetrainNoise::Fresh)?)),
            &problem.requests,
            &probe,
        ))?;
    }

    /// Retraining with the training b equals an independent fit on the remaining rows.
    #[test]
    fn retrain_same_noise_matches_an_independent_fit(
        problem in problems(classification()),
    ) {
        let data = Arc::new(problem.data);
        let params = problem.objective.model_params();
        let mut s = RetrainStrategy::train(params, data.clone(), problem.seed, RetrainNoise::Same).unwrap();
        let noise: Vec<_> = (0..s.classes().len())
            .map(|k| params.draw_noise(data.n_features(), problem.seed,
                lethe_models::Stream::TrainingNoise { class: k as u32 }).unwrap())
            .collect();
        prop_check(check_matches_reference(
            &mut s,
            &problem.requests,
            |active| retrain_weights(&params, &data, active, &noise),
            0.0,
        ))?;
    }

    /// The degenerate datasets: every one either trains and keeps every certificate along an
    /// adversarial order, or is refused with a typed error (never a panic).
    #[test]
    fn degenerate_data_gives_certificates_or_typed_errors(
        (kind, data) in degenerate_datasets(DatasetParams::binary(2..=24, 1..=4)),
        objective in objectives(ObjectiveParams {
            losses: vec![LossKind::Logistic, LossKind::Squared],
            ..ObjectiveParams::default()
        }),
        solver in select(SOLVERS.to_vec()),
        order in select(AdversarialOrder::ALL.to_vec()),
        batch in 1usize..=3,
        seed in any::<u64>(),
    ) {
        let requests = adversarial_requests(&data, order, batch, 6);
        let mut params = objective.certified_params(BudgetPolicy::Retrain);
        params.solver = solver;
        match CertifiedModel::train(params, Arc::new(data), seed) {
            Ok(mut model) => {
                let r = check_certified_sequence(&mut model, &requests);
                prop_assert!(r.is_ok(), "{}: {}", kind.name(), r.unwrap_err());
            }
            Err(e) => {
                // Typed, and only for the reasons degenerate data can give.
                prop_assert!(
                    matches!(e, RemovalError::Model(_) | RemovalError::Data(_)),
                    "{}: unexpected error {e:?}", kind.name()
                );
            }
        }
    }

    /// K-class data with one class only is refused with a typed error.
    #[test]
    fn one_class_multiclass_is_a_typed_error(
        data in lethe_testkit::strategies::degenerate_dataset(
            Degeneracy::OneClass,
            DatasetParams { labels: LabelKind::Classes(3), ..DatasetParams::default() },
        ),
    ) {
        let params = CertifiedParams::new(lethe_models::LinearModelParams::logistic(0.1, 1.0));
        // All labels are class 0: not ±1, and fewer than two classes for one-vs-rest.
        let e = CertifiedModel::train(params, Arc::new(data), 0).unwrap_err();
        prop_assert!(matches!(e, RemovalError::Model(lethe_models::ModelError::TooFewClasses { found: 1 })), "{e:?}");
    }

    /// Batched requests (2–4 rows each) keep their certificates too.
    #[test]
    fn batch_requests_keep_their_certificates(
        (data, requests) in datasets(DatasetParams::binary(8..=40, 1..=4)).prop_flat_map(|d| {
            let n = d.n_samples();
            (Just(d), request_sequences(n, RequestPattern::Batch { max_size: 4 }, 4))
        }),
        objective in objectives(ObjectiveParams::only(LossKind::Logistic)),
        solver in select(SOLVERS.to_vec()),
        seed in any::<u64>(),
    ) {
        let mut params = objective.certified_params(BudgetPolicy::Never);
        params.solver = solver;
        let mut model = CertifiedModel::train(params, Arc::new(data), seed).unwrap();
        prop_check(check_certified_sequence(&mut model, &requests))?;
    }
}

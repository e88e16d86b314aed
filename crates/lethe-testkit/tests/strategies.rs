//! Every lethe strategy behind the removal trait (newton, retrain with fresh or same b,
//! influence, SISA with vote and average, projective, output perturbation and
//! Descent-to-Delete) under the trait-level invariants:
//! requests do what they say, bad requests leave the model untouched, and the same seed gives
//! the identical trajectory.

use std::sync::Arc;

use lethe_models::LossKind;
use lethe_removal::{BudgetPolicy, RetrainNoise, SisaAggregation, StrategySpec, build_strategy};
use lethe_testkit::strategies::{DatasetParams, ObjectiveParams, ProblemParams, problems};
use lethe_testkit::{
    check_bad_requests_untouched, check_same_seed_same_trajectory, probe_matrix, prop_check,
    run_requests,
};
use proptest::prelude::*;
use proptest::sample::select;

fn specs() -> Vec<StrategySpec> {
    vec![
        StrategySpec::Newton,
        StrategySpec::Retrain {
            noise: RetrainNoise::Fresh,
        },
        StrategySpec::Retrain {
            noise: RetrainNoise::Same,
        },
        StrategySpec::Influence,
        StrategySpec::Sisa {
            shards: 2,
            slices: 1,
            aggregation: SisaAggregation::Vote,
        },
        StrategySpec::Sisa {
            shards: 3,
            slices: 2,
            aggregation: SisaAggregation::Average,
        },
        StrategySpec::Projective,
        StrategySpec::OutputPerturbation,
        StrategySpec::DescentToDelete { steps: 3 },
    ]
}

fn params() -> ProblemParams {
    ProblemParams {
        data: DatasetParams::binary(6..=30, 1..=4),
        objective: ObjectiveParams {
            losses: vec![LossKind::Logistic, LossKind::Squared],
            ..ObjectiveParams::default()
        },
        ..ProblemParams::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn every_strategy_keeps_the_trait_invariants(
        problem in problems(params()),
        spec in select(specs()),
    ) {
        let data = Arc::new(problem.data);
        let probe = probe_matrix(&data);
        let cp = problem.objective.certified_params(BudgetPolicy::Retrain);
        let seed = problem.seed;
        let mut s = build_strategy(&spec, cp, data.clone(), seed).unwrap();
        prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
        prop_check(run_requests(s.as_mut(), &problem.requests))?;
        prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
        prop_check(check_same_seed_same_trajectory(
            || build_strategy(&spec, cp, data.clone(), seed),
            &problem.requests,
            &probe,
        ))?;
    }

    /// One-vs-rest data (K = 3) through every strategy.
    #[test]
    fn every_strategy_on_three_classes(
        problem in problems(ProblemParams {
            data: DatasetParams::classes(3, 9..=30, 1..=3),
            objective: ObjectiveParams::only(LossKind::Logistic),
            ..ProblemParams::default()
        }),
        spec in select(specs()),
    ) {
        let data = Arc::new(problem.data);
        let probe = probe_matrix(&data);
        let cp = problem.objective.certified_params(BudgetPolicy::Retrain);
        let mut s = build_strategy(&spec, cp, data.clone(), problem.seed).unwrap();
        prop_check(run_requests(s.as_mut(), &problem.requests))?;
        prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
    }
}

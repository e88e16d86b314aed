//! Ensemble targets (SISA's shards): the decision values the attacks see follow the documented
//! aggregation, reference models are ensembles like the target, and an overfit ensemble leaks.

mod common;

use common::{digits10_parts, mask, stack, synthetic_parts};
use lethe_data::Dataset;
use lethe_mia::attacks::{Lira, LossAttack, NoUnlearning, Rmia, ULira, VarianceMode};
use lethe_mia::metrics::EvaluationOptions;
use lethe_mia::{Aggregation, EnsembleModel, MiaError, TargetModel};
use lethe_models::loss::sigmoid;
use lethe_models::{LinearModelParams, OneVsRestModel};
use nalgebra::DMatrix;

const LAMBDA: f64 = 1e-4;

/// S members, each trained on its own block of `rows_each` member rows; returns the members'
/// weights (d × 1), the member rows and the non-member rows.
fn sisa_like(s: usize, rows_each: usize) -> (Vec<DMatrix<f64>>, Dataset, Dataset) {
    let parts = synthetic_parts(&[s * rows_each, s * rows_each], 21);
    let params = LinearModelParams::logistic(LAMBDA, 0.0);
    let members = (0..s)
        .map(|k| {
            let rows: Vec<usize> = (k * rows_each..(k + 1) * rows_each).collect();
            let m = params
                .fit_seeded(&parts[0].select(&rows).unwrap(), k as u64)
                .unwrap();
            DMatrix::from_column_slice(m.weights.len(), 1, m.weights.as_slice())
        })
        .collect();
    (members, parts[0].clone(), parts[1].clone())
}

#[test]
fn binary_vote_margins_are_smoothed_vote_shares_with_sisas_sign() {
    // three members, four examples: votes for +1 are 3, 2, 1, 0 (z = 0 counts as +1)
    let z = |v: [f64; 4]| DMatrix::from_column_slice(4, 1, &v);
    let per_member = [
        z([1.0, 0.0, -1.0, -2.0]),
        z([2.0, 3.0, 0.5, -1.0]),
        z([0.5, -1.0, -0.5, -3.0]),
    ];
    let vote = Aggregation::Vote.aggregate(&per_member).unwrap();
    for (i, plus) in [3.0, 2.0, 1.0, 0.0].iter().enumerate() {
        let q = (plus + 0.5) / 4.0;
        assert!((sigmoid(vote[(i, 0)]) - q).abs() < 1e-15, "row {i}");
        // the sign is the majority vote
        assert_eq!(vote[(i, 0)] >= 0.0, 2.0 * plus >= 3.0, "row {i}");
    }
    let avg = Aggregation::Average.aggregate(&per_member).unwrap();
    assert!((avg[(0, 0)] - 3.5 / 3.0).abs() < 1e-15);
    assert!((avg[(3, 0)] + 2.0).abs() < 1e-15);
}

#[test]
fn one_vs_rest_vote_margins_give_shares_that_sum_to_one() {
    // two members, three classes, two examples
    let a = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, -1.0, 0.0, 2.0, 1.0]);
    let b = DMatrix::from_row_slice(2, 3, &[3.0, 1.0, 0.0, -1.0, -2.0, 0.5]);
    let z = Aggregation::Vote.aggregate(&[a, b]).unwrap();
    // example 0: both vote class 0 → shares (2.5, 0.5, 0.5) / 3.5
    let expect = [[2.5, 0.5, 0.5], [0.5, 1.5, 1.5]];
    for i in 0..2 {
        let shares: Vec<f64> = (0..3).map(|k| sigmoid(z[(i, k)])).collect();
        assert!(
            (shares.iter().sum::<f64>() - 1.0).abs() < 1e-14,
            "{shares:?}"
        );
        for k in 0..3 {
            assert!((shares[k] - expect[i][k] / 3.5).abs() < 1e-14, "{i} {k}");
        }
    }
}

#[test]
fn an_average_ensemble_is_scored_like_the_mean_model() {
    let (members, in_rows, out_rows) = sisa_like(3, 20);
    let candidates = stack(&in_rows, &out_rows);
    let params = LinearModelParams::logistic(LAMBDA, 0.0);
    let ensemble = EnsembleModel::new(members, params, None, Aggregation::Average).unwrap();
    let target = TargetModel::from(&ensemble);
    assert_eq!(target.kind_name(), "binary_ensemble");
    let mean = target.weight_matrix();
    let single = params.fit_seeded(&in_rows, 0).unwrap();
    let single = lethe_models::LinearModel {
        weights: mean.column(0).into_owned(),
        ..single
    };
    let a = LossAttack.run(&ensemble, &candidates).unwrap();
    let b = LossAttack.run(&single, &candidates).unwrap();
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    let e = a.descriptor.ensemble.as_ref().unwrap();
    assert_eq!((e.members, e.aggregation), (3, Aggregation::Average));
    assert!(b.descriptor.ensemble.is_none());
}

#[test]
fn lira_and_rmia_on_an_overfit_ensemble_train_ensemble_references() {
    // 4 members of 30 rows each (d = 50: each member fits its rows exactly), 120 + 120 targets
    let (members, in_rows, out_rows) = sisa_like(4, 30);
    let candidates = stack(&in_rows, &out_rows);
    let is_member = mask(120, 120);
    let params = LinearModelParams::logistic(LAMBDA, 0.0);
    let opts = EvaluationOptions::default();
    for aggregation in [Aggregation::Average, Aggregation::Vote] {
        let ensemble = EnsembleModel::new(members.clone(), params, None, aggregation).unwrap();
        let lira = Lira {
            n_reference: 16,
            online: true,
            variance: VarianceMode::Global,
            seed: 2,
            ..Lira::default()
        };
        // online pool = the 240 targets: every reference ensemble trains on 120 rows, 30 per
        // member, as the target
        let out = lira
            .run(&ensemble, &candidates, &common::empty(50))
            .unwrap();
        let m = out.evaluate(&is_member, &opts).unwrap();
        println!("{aggregation:?} ensemble, online LiRA: {:?}", m.auc_ci);
        assert!(m.auc_ci.lower > 0.5, "{aggregation:?}: {:?}", m.auc_ci);
        let r = out.descriptor.reference.as_ref().unwrap();
        assert_eq!((r.members, r.aggregation), (4, Some(aggregation)));
        assert_eq!(r.mean_training_size, 120.0);
        assert_eq!(out.descriptor.target, "binary_ensemble");
        // the same seed gives the same scores
        let again = lira
            .run(&ensemble, &candidates, &common::empty(50))
            .unwrap();
        assert_eq!(out.scores, again.scores);

        let rmia = Rmia {
            n_reference: 16,
            online: true,
            seed: 2,
            ..Rmia::default()
        };
        let pop = synthetic_parts(&[300, 100], 22).remove(1);
        let out = rmia.run(&ensemble, &candidates, &pop).unwrap();
        let m = out.evaluate(&is_member, &opts).unwrap();
        println!("{aggregation:?} ensemble, online RMIA: {:?}", m.auc_ci);
        assert!(m.auc_ci.lower > 0.5, "{aggregation:?}: {:?}", m.auc_ci);
    }
}

#[test]
fn one_vs_rest_ensembles_read_class_labels() {
    let parts = digits10_parts(&[100, 50], 5);
    let params = LinearModelParams::logistic(1e-4, 0.0);
    let members: Vec<DMatrix<f64>> = (0..2)
        .map(|k| {
            let rows: Vec<usize> = (k * 50..(k + 1) * 50).collect();
            let m =
                OneVsRestModel::fit_seeded(&params, &parts[0].select(&rows).unwrap(), 0).unwrap();
            DMatrix::from_fn(64, m.models.len(), |i, c| m.models[c].weights[i])
        })
        .collect();
    let k = members[0].ncols();
    let classes: Vec<f64> = (0..k).map(|c| c as f64).collect();
    let ensemble = EnsembleModel::new(members, params, Some(classes), Aggregation::Vote).unwrap();
    let out = LossAttack
        .run(&ensemble, &stack(&parts[0], &parts[1]))
        .unwrap();
    assert_eq!(out.descriptor.target, "one_vs_rest_ensemble");
    assert!(out.scores.iter().all(|s| s.is_finite()));
}

#[test]
fn bad_ensembles_are_typed_errors() {
    let params = LinearModelParams::logistic(LAMBDA, 0.0);
    assert!(matches!(
        EnsembleModel::new(Vec::new(), params, None, Aggregation::Vote),
        Err(MiaError::Empty { .. })
    ));
    let (a, b) = (DMatrix::zeros(3, 1), DMatrix::zeros(4, 1));
    assert!(matches!(
        EnsembleModel::new(vec![a.clone(), b], params, None, Aggregation::Vote),
        Err(MiaError::LengthMismatch { .. })
    ));
    assert!(matches!(
        EnsembleModel::new(vec![a.clone()], params, Some(vec![0.0]), Aggregation::Vote),
        Err(MiaError::InvalidParameter { .. })
    ));
    assert!(matches!(
        EnsembleModel::new(vec![DMatrix::zeros(3, 2)], params, None, Aggregation::Vote),
        Err(MiaError::InvalidParameter { .. })
    ));
    assert!(matches!(
        EnsembleModel::new(
            vec![DMatrix::zeros(3, 2)],
            params,
            Some(vec![0.0, 1.0, 2.0]),
            Aggregation::Vote
        ),
        Err(MiaError::LengthMismatch { .. })
    ));
    // more members than a reference model has rows
    let (members, in_rows, _) = sisa_like(4, 5);
    let ensemble = EnsembleModel::new(members, params, None, Aggregation::Vote).unwrap();
    let lira = Lira {
        n_reference: 4,
        online: false,
        variance: VarianceMode::Global,
        ..Lira::default()
    };
    let tiny = in_rows.select(&[0, 1, 2, 3]).unwrap();
    assert!(matches!(
        lira.run(&ensemble, &in_rows, &tiny),
        Err(MiaError::InvalidParameter { .. })
    ));
    // U-LiRA cannot build ensemble shadows through its unlearner interface
    assert!(matches!(
        ULira {
            n_shadow: 4,
            ..ULira::default()
        }
        .run(&ensemble, &in_rows, &tiny, &NoUnlearning),
        Err(MiaError::Unsupported { .. })
    ));
}

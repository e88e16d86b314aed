//! The removal strategies behind one trait (issue #5): retrain, newton, influence, SISA and the
//! projective heuristic; deletion orders; the comparison against retraining.

use std::sync::Arc;

use lethe_data::{Dataset, RowNormalization, bundled, normalize_rows, three_vs_eight};
use lethe_models::{LinearModelParams, Loss, LossKind, Objective, Stream, stream_rng};
use lethe_removal::{
    CertifiedModel, CertifiedParams, DeletionOrder, Guarantee, InfluenceStrategy, InformedBy,
    OrderSpec, RemovalError, RemovalStrategy, RetrainNoise, RetrainStrategy, SisaAggregation,
    SisaConfig, SisaStrategy, StrategySpec, batches, build_strategy, compare_strategies,
    deletion_sequence, sape, validate_request,
};
use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;

/// The bundled digits, 3 (+1) vs 8 (−1), unit-norm rows: 357 × 64.
fn digits() -> Dataset {
    three_vs_eight(&bundled::digits().unwrap(), None).unwrap()
}

/// The bundled digits with all ten classes (one-vs-rest), unit-norm rows, first 400 rows.
fn digits_multiclass() -> Dataset {
    let d = bundled::digits().unwrap();
    let d = d.select(&(0..400).collect::<Vec<_>>()).unwrap();
    normalize_rows(&d, RowNormalization::UnitNorm).unwrap()
}

fn logistic() -> LinearModelParams {
    LinearModelParams::logistic(1e-2, 1.0)
}

/// ‖w₁ − w₂‖ ≤ (‖∇₁‖ + ‖∇₂‖)/μ for two approximate minimisers of a μ-strongly convex
/// objective (μ ≥ λn): the distance two independent solves to tolerance may differ by.
fn solver_slack(params: &LinearModelParams, n: usize) -> f64 {
    2.0 * params.solver.tolerance / (params.lambda * n as f64) + 1e-12
}

#[test]
fn retrain_equals_a_fresh_training_on_the_remaining_rows() {
    let data = Arc::new(digits());
    let params = logistic();
    let seed = 11;
    let requests = [vec![3], vec![100, 7], vec![250]];
    for mode in [RetrainNoise::Same, RetrainNoise::Fresh] {
        let mut s = RetrainStrategy::train(params, Arc::clone(&data), seed, mode).unwrap();
        let mut removed = Vec::new();
        for (r, req) in requests.iter().enumerate() {
            s.remove(req).unwrap();
            removed.extend_from_slice(req);
            let rest = data.without(&removed).unwrap();
            let stream = match mode {
                RetrainNoise::Same => Stream::TrainingNoise { class: 0 },
                RetrainNoise::Fresh => Stream::RetrainNoise {
                    class: 0,
                    retrain: r as u32 + 1,
                },
            };
            let b = params.draw_noise(data.n_features(), seed, stream).unwrap();
            let fresh = params.fit_with_noise(&rest, b).unwrap();
            let w = s.weights().unwrap();
            let dist = (w.column(0) - &fresh.weights).norm();
            assert!(
                dist <= solver_slack(&params, rest.n_samples()),
                "{mode:?} request {r}: ‖w − w_fresh‖ = {dist:e}"
            );
            assert_eq!(s.active().iter().filter(|a| !**a).count(), removed.len());
        }
    }
}

fn sisa_equals_fresh(data: Arc<Dataset>, params: LinearModelParams, config: SisaConfig) {
    let seed = 5;
    let mut sisa = SisaStrategy::train(params, Arc::clone(&data), seed, config).unwrap();
    let n = data.n_samples();
    // Two single removals and a batch that spans several shards.
    let requests = [vec![0], vec![17], vec![40, 41, 42, 200, 333]];
    let mut active = vec![true; n];
    for req in &requests {
        sisa.remove(req).unwrap();
        for &i in req {
            active[i] = false;
        }
        let fresh =
            SisaStrategy::train_masked(params, Arc::clone(&data), seed, config, active.clone())
                .unwrap();
        for s in 0..config.shards {
            assert_eq!(sisa.shard_rows(s), fresh.shard_rows(s));
            for r in 0..config.slices {
                let a = sisa.checkpoint(s, r).unwrap();
                let b = fresh.checkpoint(s, r).unwrap();
                for (wa, wb) in a.iter().zip(b) {
                    assert_eq!(wa, wb, "shard {s} slice {r}: checkpoints differ");
                }
            }
        }
        let za = sisa.decision_function(data.features()).unwrap();
        let zb = fresh.decision_function(data.features()).unwrap();
        assert_eq!(za, zb);
        assert_eq!(
            sisa.predict(data.features()).unwrap(),
            fresh.predict(data.features()).unwrap()
        );
        assert_eq!(sisa.active(), fresh.active());
    }
    // Only the shard that held a single removed row was retrained.
    let mut before = SisaStrategy::train(params, Arc::clone(&data), seed, config).unwrap();
    let (s_hit, _) = before.shard_of(9).unwrap();
    let old: Vec<Vec<DVector<f64>>> = (0..config.shards)
        .map(|s| before.shard_weights(s).unwrap().to_vec())
        .collect();
    before.remove(&[9]).unwrap();
    for (s, w) in old.iter().enumerate() {
        let same = before.shard_weights(s).unwrap() == w.as_slice();
        assert_eq!(
            same,
            s != s_hit,
            "shard {s} (removed row is in shard {s_hit})"
        );
    }
}

#[test]
fn sisa_after_a_removal_equals_a_fresh_sisa_training_without_the_row() {
    let data = Arc::new(digits());
    for (slices, aggregation) in [(1, SisaAggregation::Vote), (3, SisaAggregation::Average)] {
        sisa_equals_fresh(
            Arc::clone(&data),
            logistic(),
            SisaConfig {
                shards: 4,
                slices,
                aggregation,
            },
        );
    }
    // One-vs-rest: ten class models per shard.
    sisa_equals_fresh(
        Arc::new(digits_multiclass()),
        logistic(),
        SisaConfig {
            shards: 3,
            slices: 2,
            aggregation: SisaAggregation::Vote,
        },
    );
}

#[test]
fn sisa_partition_covers_every_row_once_with_balanced_shards() {
    let data = Arc::new(digits());
    let config = SisaConfig {
        shards: 5,
        slices: 3,
        aggregation: SisaAggregation::Vote,
    };
    let sisa = SisaStrategy::train(logistic(), Arc::clone(&data), 1, config).unwrap();
    let mut seen = vec![0; data.n_samples()];
    let mut sizes = Vec::new();
    for s in 0..5 {
        let rows = sisa.shard_rows(s).unwrap();
        sizes.push(rows.len());
        for (p, &i) in rows.iter().enumerate() {
            seen[i] += 1;
            let (shard, slice) = sisa.shard_of(i).unwrap();
            assert_eq!(shard, s);
            let ends: Vec<usize> = (1..=3).map(|r| r * rows.len() / 3).collect();
            assert_eq!(slice, ends.iter().position(|&e| p < e).unwrap(), "row {i}");
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    assert_eq!(sisa.guarantee(), Guarantee::Exact);
    assert!(sisa.weights().is_none());
    // Too many shards for the data.
    let bad = SisaConfig {
        shards: 200,
        slices: 2,
        ..config
    };
    assert!(SisaStrategy::train(logistic(), data, 1, bad).is_err());
}

/// Squared loss: the Hessian 2XᵀX + λnI does not depend on w, so the influence step and the
/// certified Newton step solve H v = Δ with the *same* Δ = mλw + Σ_B ℓ′_j x_j. They differ only
/// in which Hessian: influence keeps the full-data one (H_full), Newton uses the remaining
/// rows' H′ = H_full − Σ_B 2x_jx_jᵀ − mλI (the removed rows' curvature and their share of
/// the regulariser). So with the Hessian's data-dependence accounted for they are equal:
/// H_full (w_inf − w) = Δ = H′ (w_newton − w), and influence equals a Newton step whose
/// Hessian does not change (built here independently, with nalgebra's Cholesky).
#[test]
fn influence_equals_newton_when_the_hessian_does_not_change() {
    let base = digits();
    let n = base.n_samples();
    // Real-valued targets for ridge regression.
    let y = DVector::from_fn(n, |i, _| base.labels()[i] * 0.5 + (i % 7) as f64 * 0.1);
    let data = Arc::new(base.with_labels(y.clone()).unwrap());
    let model = LinearModelParams::squared(1e-2, 1.0);
    let params = CertifiedParams::new(model);
    let seed = 3;
    let mut newton = CertifiedModel::train(params, Arc::clone(&data), seed).unwrap();
    let mut influence = InfluenceStrategy::train(model, Arc::clone(&data), seed).unwrap();
    let w0 = newton.weight_matrix().column(0).into_owned();
    assert_eq!(influence.weights().unwrap().column(0), w0.column(0));

    let batch = [4usize, 90, 211];
    let m = batch.len();
    let x = data.features();
    let lambda = model.lambda;
    let mut delta = &w0 * (m as f64 * lambda);
    for &j in &batch {
        let g = LossKind::Squared.derivative(x.row(j).dot(&w0.transpose()), y[j]);
        delta += x.row(j).transpose() * g;
    }
    newton.remove(&batch).unwrap();
    influence.remove(&batch).unwrap();
    let w_newton = newton.weight_matrix().column(0).into_owned();
    let w_inf = influence.weights().unwrap().column(0).into_owned();

    let h_full = Objective::new(&data, LossKind::Squared, lambda, None)
        .unwrap()
        .hessian(&w0)
        .unwrap();
    let mut remaining = vec![true; n];
    for &j in &batch {
        remaining[j] = false;
    }
    let h_rem = Objective::masked(&data, &remaining, LossKind::Squared, lambda, None)
        .unwrap()
        .hessian(&w0)
        .unwrap();
    // H′ = H_full − Σ_B 2 x_j x_jᵀ − mλI exactly (up to rounding).
    let mut h_check = h_full.clone();
    for &j in &batch {
        let xj = x.row(j).transpose();
        h_check -= &xj * xj.transpose() * 2.0;
    }
    for t in 0..h_check.nrows() {
        h_check[(t, t)] -= m as f64 * lambda;
    }
    assert!((&h_check - &h_rem).norm() <= 1e-10 * h_full.norm());

    // The frozen-Hessian Newton step, computed independently.
    let frozen = &w0 + h_full.clone().cholesky().unwrap().solve(&delta);
    assert!(
        (&w_inf - &frozen).norm() <= 1e-10 * (1.0 + frozen.norm()),
        "influence ≠ Newton step with the full-data Hessian"
    );
    // Both steps solve their system with the same Δ.
    let r_inf = &h_full * (&w_inf - &w0) - &delta;
    let r_newton = &h_rem * (&w_newton - &w0) - &delta;
    assert!(r_inf.norm() <= 1e-9 * delta.norm(), "{}", r_inf.norm());
    assert!(
        r_newton.norm() <= 1e-9 * delta.norm(),
        "{}",
        r_newton.norm()
    );
    // Newton is exact for the squared loss (γ = 0): it equals retraining with the same b;
    // influence is not, because its Hessian keeps the removed rows.
    let mut retrain =
        RetrainStrategy::train(model, Arc::clone(&data), seed, RetrainNoise::Same).unwrap();
    retrain.remove(&batch).unwrap();
    let w_retrain = retrain.weights().unwrap().column(0).into_owned();
    assert!((&w_newton - &w_retrain).norm() <= 1e-8 * (1.0 + w_retrain.norm()));
    assert!((&w_inf - &w_retrain).norm() > 1e3 * (&w_newton - &w_retrain).norm());
    assert_eq!(influence.guarantee(), Guarantee::None);
}

#[test]
fn influence_uses_the_full_hessian_factored_once_for_every_request() {
    let data = Arc::new(digits());
    let seed = 2;
    let mut inf = InfluenceStrategy::train(logistic(), Arc::clone(&data), seed).unwrap();
    let w0 = inf.weights().unwrap().column(0).into_owned();
    let h_full = Objective::new(&data, LossKind::Logistic, 1e-2, None)
        .unwrap()
        .hessian(&w0)
        .unwrap();
    inf.remove(&[1]).unwrap();
    let w1 = inf.weights().unwrap().column(0).into_owned();
    inf.remove(&[2, 3]).unwrap();
    let w2 = inf.weights().unwrap().column(0).into_owned();
    // Second step: Δ at the current w1, solved with H_full at w0.
    let x = data.features();
    let y = data.labels();
    let mut delta = &w1 * (2.0 * 1e-2);
    for &j in &[2usize, 3] {
        let g = LossKind::Logistic.derivative(x.row(j).dot(&w1.transpose()), y[j]);
        delta += x.row(j).transpose() * g;
    }
    let expected = &w1 + h_full.cholesky().unwrap().solve(&delta);
    assert!((&w2 - &expected).norm() <= 1e-10 * (1.0 + expected.norm()));
}

fn all_specs() -> Vec<StrategySpec> {
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
            shards: 3,
            slices: 1,
            aggregation: SisaAggregation::Vote,
        },
        StrategySpec::Sisa {
            shards: 2,
            slices: 3,
            aggregation: SisaAggregation::Average,
        },
        StrategySpec::Projective,
    ]
}

#[test]
fn every_strategy_refuses_bad_requests_identically() {
    // A tiny problem so that "would leave no rows" can be asked for.
    let full = digits();
    let data = Arc::new(full.select(&(0..12).collect::<Vec<_>>()).unwrap());
    let n = data.n_samples();
    let params = CertifiedParams::new(logistic());
    let bad: Vec<Vec<usize>> = vec![
        vec![],
        vec![n],
        vec![1, 5, 1],
        vec![0],          // removed by the first, valid request
        (1..n).collect(), // every remaining row
        vec![2, 0],       // a valid row with an already removed one: nothing changes
        vec![usize::MAX],
    ];
    let mut expected: Option<Vec<String>> = None;
    for spec in all_specs() {
        let spec = match spec {
            StrategySpec::Sisa {
                slices,
                aggregation,
                ..
            } => StrategySpec::Sisa {
                shards: 2,
                slices: slices.min(2),
                aggregation,
            },
            s => s,
        };
        let mut s = build_strategy(&spec, params, Arc::clone(&data), 9).unwrap();
        s.remove(&[0]).unwrap();
        let active = s.active().to_vec();
        let z = s.decision_function(data.features()).unwrap();
        let errors: Vec<String> = bad
            .iter()
            .map(|req| {
                let e = s.remove(req).expect_err("a bad request must fail");
                assert!(
                    matches!(
                        e,
                        RemovalError::EmptyRequest
                            | RemovalError::UnknownRow { .. }
                            | RemovalError::DuplicateRow { .. }
                            | RemovalError::AlreadyRemoved { .. }
                            | RemovalError::WouldEmpty { .. }
                    ),
                    "{}: {e:?}",
                    spec.label()
                );
                // The same error as the shared validator.
                let v = validate_request(&active, n - 1, req).unwrap_err();
                assert_eq!(format!("{v:?}"), format!("{e:?}"));
                format!("{e:?}")
            })
            .collect();
        // Nothing changed.
        assert_eq!(s.active(), active.as_slice(), "{}", spec.label());
        assert_eq!(
            s.decision_function(data.features()).unwrap(),
            z,
            "{}",
            spec.label()
        );
        match &expected {
            None => expected = Some(errors),
            Some(e) => assert_eq!(e, &errors, "{}", spec.label()),
        }
        // A valid request still works afterwards.
        s.remove(&[2, 3]).unwrap();
    }
}

#[test]
fn strategy_specs_round_trip_through_json() {
    let json = r#"[{"strategy":"newton"},{"strategy":"retrain"},{"strategy":"retrain","noise":"same"},
        {"strategy":"influence"},{"strategy":"sisa","shards":5},
        {"strategy":"sisa","shards":5,"slices":4,"aggregation":"average"},{"strategy":"projective"}]"#;
    let specs: Vec<StrategySpec> = serde_json::from_str(json).unwrap();
    assert_eq!(
        specs[4],
        StrategySpec::Sisa {
            shards: 5,
            slices: 1,
            aggregation: SisaAggregation::Vote
        }
    );
    assert_eq!(
        specs[1],
        StrategySpec::Retrain {
            noise: RetrainNoise::Fresh
        }
    );
    let names: Vec<&str> = specs.iter().map(StrategySpec::name).collect();
    assert_eq!(
        names,
        [
            "newton",
            "retrain",
            "retrain",
            "influence",
            "sisa",
            "sisa",
            "projective"
        ]
    );
    let back: Vec<StrategySpec> =
        serde_json::from_str(&serde_json::to_string(&specs).unwrap()).unwrap();
    assert_eq!(back, specs);
}

fn check_valid(seq: &[usize], n: usize, count: usize) {
    assert_eq!(seq.len(), count);
    let mut s = seq.to_vec();
    s.sort_unstable();
    s.dedup();
    assert_eq!(s.len(), count, "duplicates");
    assert!(seq.iter().all(|&i| i < n));
}

#[test]
fn deletion_sequences_are_deterministic_and_valid_for_every_order() {
    let data = digits();
    let n = data.n_samples();
    let model = LinearModelParams::logistic(1e-2, 0.0).fit_with_noise(&data, DVector::zeros(64));
    let w = DMatrix::from_columns(&[model.unwrap().weights]);
    let classes = [None];
    let m = Some((&w, &classes[..], LossKind::Logistic));
    let scores: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
    let specs = vec![
        OrderSpec::random(),
        OrderSpec::targeted(-1.0),
        OrderSpec::informed(InformedBy::Norm),
        OrderSpec::informed(InformedBy::Loss),
        OrderSpec::informed(InformedBy::Gradient),
        OrderSpec::ordered(scores.clone()),
        OrderSpec::new(DeletionOrder::Exponential),
        OrderSpec::new(DeletionOrder::Pareto),
        OrderSpec {
            rate: Some(3.0),
            ..OrderSpec::new(DeletionOrder::Pareto)
        },
    ];
    let count = 40;
    for spec in &specs {
        let a = deletion_sequence(spec, &data, m, count, 7).unwrap();
        let b = deletion_sequence(spec, &data, m, count, 7).unwrap();
        assert_eq!(a, b, "{}", spec.label());
        check_valid(&a, n, count);
        let c = deletion_sequence(spec, &data, m, count, 8).unwrap();
        if !matches!(spec.order, DeletionOrder::Ordered | DeletionOrder::Informed) {
            assert_ne!(a, c, "{}: the seed must matter", spec.label());
        }
        // A longer sequence extends a shorter one for the deterministic orders and the
        // shuffles (same stream, same draws).
        let long = deletion_sequence(spec, &data, m, count + 10, 7).unwrap();
        assert_eq!(&long[..count], a.as_slice(), "{}", spec.label());
    }
    // The largest possible sequence.
    check_valid(
        &deletion_sequence(&OrderSpec::random(), &data, None, n - 1, 0).unwrap(),
        n,
        n - 1,
    );

    // Targeted: all from one class.
    let t = deletion_sequence(&OrderSpec::targeted(1.0), &data, None, count, 1).unwrap();
    assert!(t.iter().all(|&i| data.labels()[i] == 1.0));

    // Informed by loss: non-increasing loss; by gradient: non-increasing ‖∇ℓ‖.
    let z = data.features() * &w;
    let loss = |i: usize| LossKind::Logistic.value(z[(i, 0)], data.labels()[i]);
    let grad = |i: usize| {
        LossKind::Logistic
            .derivative(z[(i, 0)], data.labels()[i])
            .abs()
            * data.row(i).norm()
    };
    let by_loss = deletion_sequence(&specs[3], &data, m, count, 1).unwrap();
    assert!(by_loss.windows(2).all(|p| loss(p[0]) >= loss(p[1])));
    let max_loss = (0..n).map(loss).fold(0.0, f64::max);
    assert_eq!(loss(by_loss[0]), max_loss);
    let by_grad = deletion_sequence(&specs[4], &data, m, count, 1).unwrap();
    assert!(by_grad.windows(2).all(|p| grad(p[0]) >= grad(p[1])));

    // Ordered: the largest scores first, ties by ascending index.
    let ord = deletion_sequence(&specs[5], &data, None, count, 1).unwrap();
    let mut expected: Vec<usize> = (0..n).collect();
    expected.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap());
    assert_eq!(ord, expected[..count]);

    // Exponential/Pareto: rows of low random rank come first. Recompute the documented rank
    // permutation (the first draws of the order stream, `Purpose::DeletionOrder` = 0x101 << 48).
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut stream_rng(7, Stream::Other(0x101 << 48)));
    let mut rank = vec![0usize; n];
    for (r, &i) in perm.iter().enumerate() {
        rank[i] = r;
    }
    for spec in &specs[6..] {
        let seq = deletion_sequence(spec, &data, None, count, 7).unwrap();
        let mean_rank = seq.iter().map(|&i| rank[i] as f64).sum::<f64>() / count as f64;
        assert!(
            mean_rank < 0.25 * n as f64,
            "{}: mean rank {mean_rank} of {n}",
            spec.label()
        );
    }
    // A very flat exponential behaves like uniform sampling.
    let flat = OrderSpec {
        rate: Some(1e-9),
        ..OrderSpec::new(DeletionOrder::Exponential)
    };
    let seq = deletion_sequence(&flat, &data, None, 150, 7).unwrap();
    let mean_rank = seq.iter().map(|&i| rank[i] as f64).sum::<f64>() / 150.0;
    assert!(
        (mean_rank - n as f64 / 2.0).abs() < 0.15 * n as f64,
        "{mean_rank}"
    );

    // Errors.
    let e = |spec: &OrderSpec, model, count| deletion_sequence(spec, &data, model, count, 0);
    assert!(e(&OrderSpec::random(), None, n).is_err());
    assert!(e(&OrderSpec::informed(InformedBy::Loss), None, 5).is_err());
    assert!(e(&OrderSpec::informed(InformedBy::Gradient), None, 5).is_err());
    assert!(e(&OrderSpec::new(DeletionOrder::Targeted), None, 5).is_err());
    assert!(matches!(
        e(&OrderSpec::targeted(3.0), None, 5),
        Err(RemovalError::Data(
            lethe_data::DataError::UnknownClass { .. }
        ))
    ));
    assert!(e(&OrderSpec::targeted(1.0), None, n - 1).is_err());
    assert!(e(&OrderSpec::new(DeletionOrder::Ordered), None, 5).is_err());
    assert!(e(&OrderSpec::ordered(vec![1.0; n - 1]), None, 5).is_err());
    assert!(e(&OrderSpec::ordered(vec![f64::NAN; n]), None, 5).is_err());
    let negative = OrderSpec {
        rate: Some(-1.0),
        ..OrderSpec::new(DeletionOrder::Pareto)
    };
    assert!(e(&negative, None, 5).is_err());
    let w_bad = DMatrix::zeros(3, 1);
    assert!(
        e(
            &OrderSpec::informed(InformedBy::Loss),
            Some((&w_bad, &classes[..], LossKind::Logistic)),
            5
        )
        .is_err()
    );

    // Batches.
    assert_eq!(
        batches(&[1, 2, 3, 4, 5], 2),
        vec![vec![1, 2], vec![3, 4], vec![5]]
    );
    assert_eq!(batches(&[1, 2], 0), vec![vec![1], vec![2]]);
    assert!(batches(&[], 3).is_empty());

    // Serde names.
    let spec: OrderSpec =
        serde_json::from_str(r#"{"order":"informed","informed_by":"gradient"}"#).unwrap();
    assert_eq!(spec, OrderSpec::informed(InformedBy::Gradient));
}

#[test]
fn compare_strategies_on_digits_3_vs_8() {
    let full = digits();
    let (train, test) = lethe_data::train_test_split(&full, 0.2, 0).unwrap();
    let train = Arc::new(train);
    let params = CertifiedParams::new(logistic());
    let seq = deletion_sequence(&OrderSpec::random(), &train, None, 20, 4).unwrap();
    let requests = batches(&seq, 1);
    let specs = all_specs();
    let out = compare_strategies(&specs, params, Arc::clone(&train), &test, &requests, 4).unwrap();
    assert_eq!(out.len(), specs.len());
    for (c, spec) in out.iter().zip(&specs) {
        assert_eq!(&c.spec, spec);
        assert_eq!(c.strategy, spec.name());
        assert_eq!(c.requests, 20);
        assert_eq!(c.rows_removed, 20);
        assert_eq!(c.removal_seconds.len(), 20);
        for a in [
            c.test_accuracy,
            c.removed_accuracy,
            c.removed_accuracy_retrain,
        ] {
            assert!((0.0..=1.0).contains(&a), "{}: {a}", c.label);
        }
        assert!(c.test_accuracy > 0.8, "{}: {}", c.label, c.test_accuracy);
        assert_eq!(
            c.removed_accuracy_gap_sape,
            sape(c.removed_accuracy, c.removed_accuracy_retrain)
        );
        assert!(c.speedup > 0.0 && c.removal_seconds_median >= 0.0);
        let json = serde_json::to_value(c).unwrap();
        assert!(json.get("weight_distance_fresh").is_some());
        match spec {
            StrategySpec::Sisa { .. } => {
                assert!(c.weight_distance_fresh.is_none() && c.weight_distance_same_b.is_none());
                assert_eq!(c.guarantee, Guarantee::Exact);
                assert_eq!(c.retrains, 20);
            }
            _ => {
                assert_eq!(c.weight_distance_fresh.as_ref().unwrap().len(), 1);
                assert_eq!(c.weight_distance_same_b.as_ref().unwrap().len(), 1);
            }
        }
    }
    let by = |label: &str| out.iter().find(|c| c.label == label).unwrap();
    let fresh = by("retrain (fresh b)");
    let same = by("retrain (same b)");
    let newton = by("newton");
    let influence = by("influence");
    assert_eq!(fresh.weight_distance_fresh.as_ref().unwrap()[0], 0.0);
    assert_eq!(same.weight_distance_same_b.as_ref().unwrap()[0], 0.0);
    assert_eq!(fresh.removed_accuracy_gap_sape, 0.0);
    assert_eq!(fresh.guarantee, Guarantee::Exact);
    assert!(matches!(newton.guarantee, Guarantee::Certified { .. }));
    assert_eq!(influence.guarantee, Guarantee::None);
    assert_eq!(by("projective (heuristic)").guarantee, Guarantee::None);
    // Newton tracks the same-b retrain far more closely than two different b's differ.
    let d_newton = newton.weight_distance_same_b.as_ref().unwrap()[0];
    let d_b = same.weight_distance_fresh.as_ref().unwrap()[0];
    assert!(d_newton < 0.1 * d_b, "newton {d_newton} vs b-to-b {d_b}");
    // The Newton step beats the frozen-Hessian influence step.
    let d_inf = influence.weight_distance_same_b.as_ref().unwrap()[0];
    assert!(d_newton <= d_inf, "newton {d_newton} vs influence {d_inf}");
    assert_eq!(newton.certified, Some(true));
}

/// The projective residual update moves w only along the removed rows and, for ridge
/// regression, gives the removed rows exactly their leave-B-out predictions at a fixed
/// regulariser (the generalised hat-matrix identity; PRU keeps λn fixed).
#[test]
fn projective_update_matches_leave_out_predictions_for_ridge() {
    let base = digits();
    let n = base.n_samples();
    let y = DVector::from_fn(n, |i, _| base.labels()[i] * 0.5 + (i % 5) as f64 * 0.2);
    let data = Arc::new(base.with_labels(y).unwrap());
    let model = LinearModelParams::squared(1e-2, 1.0);
    let seed = 8;
    let mut pru = lethe_removal::ProjectiveStrategy::train(model, Arc::clone(&data), seed).unwrap();
    let w0 = pru.weights().unwrap().column(0).into_owned();
    let batch = [10usize, 150];
    pru.remove(&batch).unwrap();
    let w1 = pru.weights().unwrap().column(0).into_owned();
    // Leave-B-out fit with the same b and the same total regulariser λn.
    let rest = data.without(&batch).unwrap();
    let fixed = LinearModelParams {
        lambda: model.lambda * n as f64 / (n - batch.len()) as f64,
        ..model
    };
    let b = model
        .draw_noise(data.n_features(), seed, Stream::TrainingNoise { class: 0 })
        .unwrap();
    let loo = fixed.fit_with_noise(&rest, b).unwrap().weights;
    let x = data.features();
    for &j in &batch {
        let got = x.row(j).dot(&w1.transpose());
        let want = x.row(j).dot(&loo.transpose());
        assert!((got - want).abs() <= 1e-7, "row {j}: {got} vs {want}");
    }
    // The update lies in the span of the removed rows.
    let u = DMatrix::from_fn(2, x.ncols(), |r, c| x[(batch[r], c)]);
    let step = &w1 - &w0;
    let coef = (&u * u.transpose())
        .cholesky()
        .unwrap()
        .solve(&(&u * &step));
    assert!((u.transpose() * coef - &step).norm() <= 1e-10 * (1.0 + step.norm()));
}

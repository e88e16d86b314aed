//! The strategies are valid by construction, so every value proptest shrinks to is valid too:
//! this walks the shrink trees of many generated values (simplify, and complicate after a
//! rejected simplification, as proptest does) and checks every visited value.

use lethe_data::Dataset;
use lethe_removal::validate_request;
use lethe_testkit::strategies::{
    DatasetParams, Degeneracy, LabelKind, ObjectiveParams, ProblemParams, RequestPattern, RowScale,
    datasets, degenerate_dataset, objectives, problems, request_sequences,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// Walks up to `steps` shrink steps of `trees` values drawn from `strategy`, alternating
/// simplify and complicate, calling `check` on every visited value.
fn walk<S: Strategy>(strategy: S, trees: usize, steps: usize, check: impl Fn(&S::Value)) {
    let mut runner = TestRunner::deterministic();
    for _ in 0..trees {
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        check(&tree.current());
        let mut flip = false;
        for _ in 0..steps {
            let moved = if flip {
                tree.complicate()
            } else {
                tree.simplify()
            };
            flip = !flip;
            if !moved && !tree.simplify() {
                break;
            }
            check(&tree.current());
        }
    }
}

fn check_dataset(ds: &Dataset, p: &DatasetParams, one_class: bool) {
    let n = ds.n_samples();
    assert!(p.n.contains(&n) || n >= 2, "n = {n}");
    if matches!(p.rows, RowScale::UnitNorm | RowScale::AtMostOne) {
        ds.check_row_norms(1e-12).unwrap();
    }
    match p.labels {
        LabelKind::PlusMinusOne => {
            ds.check_binary_labels().unwrap();
            if n >= 2 && !one_class {
                assert_eq!(ds.classes().len(), 2);
            }
        }
        LabelKind::Classes(k) => {
            assert!(
                ds.labels()
                    .iter()
                    .all(|y| y.fract() == 0.0 && *y >= 0.0 && *y < k as f64)
            );
            if n >= k && !one_class {
                assert_eq!(ds.classes().len(), k);
            }
        }
        LabelKind::Real => assert!(ds.labels().iter().all(|y| y.abs() <= 2.0)),
    }
}

fn check_requests(n: usize, requests: &[Vec<usize>]) {
    let mut active = vec![true; n];
    let mut left = n;
    for r in requests {
        validate_request(&active, left, r).unwrap();
        for &i in r {
            active[i] = false;
        }
        left -= r.len();
    }
}

#[test]
fn datasets_stay_valid_while_shrinking() {
    for p in [
        DatasetParams::binary(2..=30, 1..=5),
        DatasetParams::classes(3, 3..=20, 1..=3),
        DatasetParams::regression(1..=10, 1..=3).with_rows(RowScale::UnitNorm),
    ] {
        walk(datasets(p.clone()), 40, 200, |ds| {
            check_dataset(ds, &p, false)
        });
    }
}

#[test]
fn degenerate_datasets_stay_valid_and_degenerate_while_shrinking() {
    let p = DatasetParams::binary(2..=16, 1..=4);
    for kind in Degeneracy::ALL {
        walk(degenerate_dataset(kind, p.clone()), 15, 150, |ds| {
            check_dataset(ds, &p, kind == Degeneracy::OneClass);
            let (n, d) = (ds.n_samples(), ds.n_features());
            let x = ds.features();
            match kind {
                Degeneracy::MoreFeaturesThanRows => assert!(d > n),
                Degeneracy::OneClass => assert_eq!(ds.classes().len(), 1),
                Degeneracy::ZeroFeature => assert!(x.column(d - 1).iter().all(|v| *v == 0.0)),
                Degeneracy::ExactUnitNorm => assert!(ds.row_norms().iter().all(|r| *r == 1.0)),
                Degeneracy::ZeroRows => assert!(x.row(0).iter().all(|v| *v == 0.0)),
                Degeneracy::DuplicateRows => {
                    let half = n.div_ceil(2);
                    for i in half..n {
                        assert_eq!(x.row(i), x.row(i - half));
                    }
                }
                Degeneracy::CollinearFeatures => {
                    for i in 0..n {
                        if x[(i, 0)] == 0.0 {
                            assert!(x.row(i).iter().all(|v| *v == 0.0));
                        }
                    }
                }
            }
        });
    }
}

#[test]
fn request_sequences_stay_valid_while_shrinking() {
    for n in [1usize, 2, 5, 17] {
        for pattern in [
            RequestPattern::Single,
            RequestPattern::Batch { max_size: 4 },
            RequestPattern::Mixed { max_size: 3 },
        ] {
            walk(request_sequences(n, pattern, 8), 20, 100, |r| {
                check_requests(n, r)
            });
        }
    }
}

#[test]
fn problems_stay_valid_while_shrinking() {
    let p = ProblemParams::default();
    walk(problems(p.clone()), 40, 150, |prob| {
        check_dataset(&prob.data, &p.data, false);
        check_requests(prob.data.n_samples(), &prob.requests);
        assert!(prob.objective.lambda > 0.0 && prob.objective.sigma >= 0.0);
    });
    walk(
        objectives(ObjectiveParams {
            sigma_zero: true,
            ..ObjectiveParams::default()
        }),
        50,
        50,
        |o| {
            assert!((1e-3..=1.0).contains(&o.lambda));
            assert!(o.sigma == 0.0 || (1e-2..=10.0).contains(&o.sigma));
            o.model_params().check().unwrap();
        },
    );
}

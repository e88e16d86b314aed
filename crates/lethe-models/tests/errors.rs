//! Every bad input gets its own typed error, carrying the offending value and where it is
//! (DESIGN.md §5: library code never panics on user input).

use lethe_data::{DataError, Dataset};
use lethe_models::{
    LinearModelParams, LossKind, ModelError, NoiseKind, Objective, OneVsRestModel, SolverKind,
    SolverOptions,
};
use nalgebra::{DMatrix, DVector};

/// Six unit-norm rows in R² with ±1 labels (the fixture of DESIGN.md §1).
fn fixture() -> Dataset {
    lethe_data::synthetic::design_fixture()
}

fn zeros(d: usize) -> DVector<f64> {
    DVector::zeros(d)
}

// --- data -------------------------------------------------------------------------------------

#[test]
fn non_finite_features_are_refused_with_their_position() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = DMatrix::from_element(3, 2, 0.5);
        x[(2, 1)] = bad;
        let e = Dataset::new(x, DVector::from_element(3, 1.0)).unwrap_err();
        assert!(
            matches!(e, DataError::NonFiniteFeature { row: 2, column: 1, value } if value.to_bits() == bad.to_bits()),
            "{e:?}"
        );
        assert!(e.to_string().contains("(2, 1)"), "{e}");
    }
}

#[test]
fn non_finite_labels_are_refused_with_their_row() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = Dataset::new(
            DMatrix::from_element(3, 2, 0.5),
            DVector::from_vec(vec![1.0, bad, -1.0]),
        )
        .unwrap_err();
        assert!(
            matches!(e, DataError::NonFiniteLabel { row: 1, .. }),
            "{e:?}"
        );
    }
}

#[test]
fn empty_data_has_no_active_rows() {
    let empty = Dataset::new(DMatrix::zeros(0, 3), DVector::zeros(0)).unwrap();
    let params = LinearModelParams::logistic(1e-3, 1.0);
    assert!(matches!(
        params.fit_seeded(&empty, 0),
        Err(ModelError::NoActiveRows)
    ));
    assert!(matches!(
        Objective::new(&empty, LossKind::Squared, 1.0, None),
        Err(ModelError::NoActiveRows)
    ));
    // A mask that removes every row leaves nothing to train on either.
    let data = fixture();
    let none = vec![false; data.n_samples()];
    assert!(matches!(
        params.fit_masked(&data, Some(&none), zeros(2), None),
        Err(ModelError::NoActiveRows)
    ));
    assert!(matches!(
        Objective::masked(&data, &none, LossKind::Logistic, 1.0, None),
        Err(ModelError::NoActiveRows)
    ));
    // One-vs-rest on empty data: no classes at all.
    assert!(matches!(
        OneVsRestModel::fit_seeded(&params, &empty, 0),
        Err(ModelError::TooFewClasses { found: 0 })
    ));
}

#[test]
fn row_norms_above_one_are_refused_when_a_certificate_is_needed() {
    let raw = Dataset::from_rows(&[vec![0.6, 0.8], vec![3.0, 4.0]], vec![1.0, -1.0]).unwrap();
    let e = raw.check_row_norms(1e-12).unwrap_err();
    assert!(
        matches!(e, DataError::RowNormExceeded { row: 1, norm } if (norm - 5.0).abs() < 1e-12),
        "{e:?}"
    );
    // Rounding of rows scaled to norm 1 is tolerated; anything beyond the tolerance is not.
    let edge = Dataset::from_rows(&[vec![1.0 + 1e-13, 0.0]], vec![1.0]).unwrap();
    assert!(edge.check_row_norms(1e-12).is_ok());
    let over = Dataset::from_rows(&[vec![1.0 + 1e-9, 0.0]], vec![1.0]).unwrap();
    assert!(matches!(
        over.check_row_norms(1e-12),
        Err(DataError::RowNormExceeded { row: 0, .. })
    ));
    assert!(fixture().check_row_norms(1e-12).is_ok());
}

// --- shapes ---------------------------------------------------------------------------------

#[test]
fn noise_of_the_wrong_length_is_refused() {
    let data = fixture();
    let params = LinearModelParams::logistic(0.1, 1.0);
    for len in [0, 1, 3] {
        let e = params.fit_with_noise(&data, zeros(len)).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::LengthMismatch { what: "noise vector b", expected: 2, found } if found == len
            ),
            "{e:?}"
        );
    }
    let b = zeros(3);
    assert!(matches!(
        Objective::new(&data, LossKind::Logistic, 0.1, Some(&b)),
        Err(ModelError::LengthMismatch {
            expected: 2,
            found: 3,
            ..
        })
    ));
    let nan_b = DVector::from_vec(vec![0.0, f64::NAN]);
    assert!(matches!(
        params.fit_with_noise(&data, nan_b),
        Err(ModelError::NonFinite {
            what: "noise vector b",
            index: 1
        })
    ));
    // One-vs-rest wants one b per class.
    let three = data
        .with_labels(DVector::from_vec(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]))
        .unwrap();
    assert!(matches!(
        OneVsRestModel::fit_with_noise(&params, &three, vec![zeros(2); 2]),
        Err(ModelError::LengthMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
}

#[test]
fn masks_and_initial_weights_of_the_wrong_length_are_refused() {
    let data = fixture();
    let params = LinearModelParams::logistic(0.1, 0.0);
    let short = vec![true; 5];
    assert!(matches!(
        params.fit_masked(&data, Some(&short), zeros(2), None),
        Err(ModelError::LengthMismatch {
            what: "active-row mask",
            expected: 6,
            found: 5
        })
    ));
    assert!(matches!(
        params.fit_masked(&data, None, zeros(2), Some(zeros(3))),
        Err(ModelError::LengthMismatch {
            what: "initial weights",
            expected: 2,
            found: 3
        })
    ));
    let inf_w0 = DVector::from_vec(vec![f64::INFINITY, 0.0]);
    assert!(matches!(
        params.fit_masked(&data, None, zeros(2), Some(inf_w0)),
        Err(ModelError::NonFinite {
            what: "initial weights",
            index: 0
        })
    ));
}

#[test]
fn predicting_on_features_of_another_dimension_is_refused() {
    let data = fixture();
    let model = LinearModelParams::logistic(0.1, 0.0)
        .fit_seeded(&data, 0)
        .unwrap();
    let wrong = DMatrix::from_element(4, 3, 0.1);
    for e in [
        model.predict(&wrong).unwrap_err(),
        model.decision_function(&wrong).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                ModelError::Data(DataError::DimensionMismatch {
                    expected: 2,
                    found: 3,
                    ..
                })
            ),
            "{e:?}"
        );
    }
    let three = data
        .with_labels(DVector::from_vec(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]))
        .unwrap();
    let ovr =
        OneVsRestModel::fit_seeded(&LinearModelParams::logistic(0.1, 0.0), &three, 0).unwrap();
    assert!(matches!(
        ovr.predict(&wrong),
        Err(ModelError::Data(DataError::DimensionMismatch { .. }))
    ));
    // The right dimension works, including zero rows.
    assert_eq!(model.predict(&DMatrix::zeros(0, 2)).unwrap().len(), 0);
}

// --- labels -----------------------------------------------------------------------------------

#[test]
fn logistic_needs_plus_minus_one_labels() {
    let data = fixture()
        .with_labels(DVector::from_vec(vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]))
        .unwrap();
    for loss in [LossKind::Logistic, LossKind::LogisticTight] {
        let params = LinearModelParams {
            loss,
            ..LinearModelParams::logistic(0.1, 1.0)
        };
        let e = params.fit_seeded(&data, 0).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::Data(DataError::InvalidLabel {
                    row: 1,
                    value: 0.0,
                    ..
                })
            ),
            "{e:?}"
        );
    }
    // The squared loss takes real targets.
    assert!(
        LinearModelParams::squared(0.1, 1.0)
            .fit_seeded(&data, 0)
            .is_ok()
    );
}

#[test]
fn one_vs_rest_needs_two_classes() {
    let data = fixture()
        .with_labels(DVector::from_element(6, 7.0))
        .unwrap();
    let e =
        OneVsRestModel::fit_seeded(&LinearModelParams::logistic(0.1, 1.0), &data, 0).unwrap_err();
    assert!(matches!(e, ModelError::TooFewClasses { found: 1 }), "{e:?}");
    assert!(e.to_string().contains("found 1"), "{e}");
}

// --- hyper-parameters ---------------------------------------------------------------------

#[test]
fn lambda_must_be_finite_and_positive() {
    let data = fixture();
    for bad in [0.0, -0.0, -1e-3, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let params = LinearModelParams::logistic(bad, 1.0);
        for e in [
            params.check().unwrap_err(),
            params.fit_seeded(&data, 0).unwrap_err(),
            Objective::new(&data, LossKind::Squared, bad, None).unwrap_err(),
        ] {
            assert!(
                matches!(e, ModelError::InvalidLambda { value } if value.to_bits() == bad.to_bits()),
                "{bad}: {e:?}"
            );
        }
    }
}

#[test]
fn sigma_must_be_finite_and_non_negative() {
    let data = fixture();
    for bad in [-1e-12, -1.0, f64::NAN, f64::INFINITY] {
        let params = LinearModelParams::logistic(0.1, bad);
        for e in [
            params.check().unwrap_err(),
            params.fit_seeded(&data, 0).unwrap_err(),
            params.fit_with_noise(&data, zeros(2)).unwrap_err(),
        ] {
            assert!(
                matches!(e, ModelError::InvalidSigma { value } if value.to_bits() == bad.to_bits()),
                "{bad}: {e:?}"
            );
        }
        for kind in [NoiseKind::Gaussian, NoiseKind::GammaNorm] {
            let mut rng = lethe_models::stream_rng(0, lethe_models::Stream::Other(0));
            assert!(matches!(
                kind.sample(bad, 2, &mut rng),
                Err(ModelError::InvalidSigma { .. })
            ));
        }
    }
    // σ = 0 is valid: no noise, no certificate.
    let m = LinearModelParams::logistic(0.1, 0.0)
        .fit_seeded(&data, 0)
        .unwrap();
    assert_eq!(m.noise, zeros(2));
}

#[test]
fn solver_options_are_checked() {
    let data = fixture();
    for bad in [0.0, -1e-8, f64::NAN, f64::INFINITY] {
        let mut params = LinearModelParams::logistic(0.1, 0.0);
        params.solver.tolerance = bad;
        let e = params.fit_seeded(&data, 0).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::InvalidSolverOption {
                    name: "tolerance",
                    ..
                }
            ),
            "{bad}: {e:?}"
        );
    }
    let mut params = LinearModelParams::logistic(0.1, 0.0);
    params.solver.max_iterations = 0;
    let e = params.fit_seeded(&data, 0).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidSolverOption {
                name: "max_iterations",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("max_iterations = 0"), "{e}");
}

#[test]
fn a_solver_that_does_not_converge_is_an_error_not_a_model() {
    let data = fixture();
    for kind in [SolverKind::Newton, SolverKind::NewtonPcg, SolverKind::Lbfgs] {
        let params = LinearModelParams {
            solver: SolverOptions {
                kind,
                tolerance: 1e-14,
                max_iterations: 1,
            },
            ..LinearModelParams::logistic(0.1, 1.0)
        };
        let e = params.fit_seeded(&data, 0).unwrap_err();
        match e {
            ModelError::NotConverged {
                solver,
                iterations,
                residual,
                tolerance,
            } => {
                assert_eq!(solver, kind.name());
                assert_eq!(iterations, 1);
                assert!(residual > 1e-14 && residual.is_finite(), "{residual}");
                assert_eq!(tolerance, 1e-14);
            }
            other => panic!("{kind:?}: expected NotConverged, got {other:?}"),
        }
    }
}

#[test]
fn errors_say_what_was_wrong() {
    let msg = ModelError::InvalidLambda { value: -2.0 }.to_string();
    assert!(msg.contains("lambda") && msg.contains("-2"), "{msg}");
    let msg = ModelError::InvalidSigma { value: f64::NAN }.to_string();
    assert!(msg.contains("sigma") && msg.contains("NaN"), "{msg}");
    let msg = ModelError::LengthMismatch {
        what: "noise vector b",
        expected: 784,
        found: 783,
    }
    .to_string();
    assert!(
        msg.contains("noise vector b") && msg.contains("784") && msg.contains("783"),
        "{msg}"
    );
}

// --- memory -----------------------------------------------------------------------------------

/// A Gram matrix (the Hessian's d × d buffer) too large for any machine is a typed error, not
/// a process abort (issue #15): 2^28 features ask for 2^59 bytes. X has no rows, so the test
/// allocates nothing itself.
#[test]
fn an_impossible_gram_matrix_is_out_of_memory_not_an_abort() {
    use lethe_models::linalg::{Cholesky, LinalgError, weighted_gram};
    let d = 1usize << 28;
    let x = DMatrix::<f64>::zeros(0, d);
    match weighted_gram(&x, &[], 1.0) {
        Err(LinalgError::OutOfMemory { rows, cols, .. }) => assert_eq!((rows, cols), (d, d)),
        other => panic!("expected OutOfMemory, got {:?}", other.map(|h| h.shape())),
    }
    // The Cholesky factor allocates its d × d copy fallibly too (d is taken from the rows).
    let h = DMatrix::<f64>::zeros(d, 0);
    let e = Cholesky::factor(&h).unwrap_err();
    assert!(
        matches!(
            e,
            LinalgError::OutOfMemory {
                what: "Cholesky factor",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("out of memory"), "{e}");
}

//! One-vs-rest on the bundled handwritten digits (10 classes, 8×8 pixels), unit-norm rows.

use lethe_data::{RowNormalization, bundled, normalize_rows, train_test_split};
use lethe_models::{LinearModelParams, OneVsRestModel};

#[test]
fn digits_one_vs_rest_is_accurate() {
    let digits = normalize_rows(&bundled::digits().unwrap(), RowNormalization::UnitNorm).unwrap();
    digits.check_row_norms(1e-12).unwrap();
    let (train, test) = train_test_split(&digits, 0.25, 0).unwrap();
    let params = LinearModelParams::logistic(1e-3, 0.0);
    let model = OneVsRestModel::fit_seeded(&params, &train, 0).unwrap();

    assert_eq!(model.classes, (0..10).map(f64::from).collect::<Vec<_>>());
    assert_eq!(model.models.len(), 10);
    for m in &model.models {
        assert!(m.report.residual_norm <= params.solver.tolerance);
        assert_eq!(m.weights.len(), 64);
    }
    let train_acc = model.accuracy(&train).unwrap();
    let test_acc = model.accuracy(&test).unwrap();
    println!(
        "digits one-vs-rest, lambda = 1e-3: train accuracy {train_acc:.4}, test {test_acc:.4}"
    );
    assert!(
        test_acc > 0.9,
        "test accuracy {test_acc} (train {train_acc})"
    );
    assert!(
        train_acc >= test_acc - 0.02,
        "train {train_acc} test {test_acc}"
    );

    // Each class model has its own b_k (drawn from stream k of the seed), and the same seed
    // reproduces the whole model.
    let noisy = LinearModelParams::logistic(1e-3, 1.0);
    let a = OneVsRestModel::fit_seeded(&noisy, &train, 7).unwrap();
    let b = OneVsRestModel::fit_seeded(&noisy, &train, 7).unwrap();
    // (`==` on models would also compare the wall-clock `report.seconds`.)
    for (ma, mb) in a.models.iter().zip(&b.models) {
        assert_eq!(ma.weights, mb.weights);
        assert_eq!(ma.noise, mb.noise);
    }
    assert_ne!(a.models[0].noise, a.models[1].noise);
    assert!(a.accuracy(&test).unwrap() > 0.85);
}

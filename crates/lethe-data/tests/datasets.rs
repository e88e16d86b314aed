//! Bundled datasets, preprocessing on real data, synthetic generators, config (serde) forms,
//! and the full MNIST files when `LETHE_DATA` points at them.

use std::path::PathBuf;

use lethe_data::{
    CsvOptions, DataError, Dataset, LabelColumn, MnistSplit, RowNormalization, Standardizer,
    SyntheticOptions, binary_labels_from_01, binary_subset, bundled, class_subset, load_mnist,
    normalize_rows, one_vs_rest_label_vector, one_vs_rest_labels, scale_pixels, scale_pixels_by,
    shuffle_indices, split_indices, standardize, three_vs_eight, train_test_split,
};

fn count(ds: &Dataset, label: f64) -> usize {
    ds.labels().iter().filter(|&&y| y == label).count()
}

#[test]
fn breast_cancer_shape_and_labels() {
    let t = bundled::table("breast_cancer").unwrap();
    let ds = &t.dataset;
    assert_eq!((ds.n_samples(), ds.n_features()), (569, 30));
    assert_eq!(count(ds, 1.0), 357);
    assert_eq!(count(ds, 0.0), 212);
    assert_eq!(t.label_name.as_deref(), Some("label"));
    let names = t.feature_names.unwrap();
    assert_eq!(names[0], "mean_radius");
    assert_eq!(names[29], "worst_fractal_dimension");
    // First row of the file: 0,17.99,10.38,… and last feature 0.1189.
    assert_eq!(ds.labels()[0], 0.0);
    assert_eq!(ds.features()[(0, 0)], 17.99);
    assert_eq!(ds.features()[(0, 29)], 0.1189);
    assert_eq!(bundled::breast_cancer().unwrap(), *ds);
    // 1 = benign becomes +1.
    let pm = binary_labels_from_01(ds, 1.0).unwrap();
    assert_eq!(count(&pm, 1.0), 357);
    assert_eq!(count(&pm, -1.0), 212);
    pm.check_binary_labels().unwrap();
}

#[test]
fn digits_shape_values_and_3_vs_8() {
    let ds = bundled::digits().unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (1797, 64));
    assert_eq!(ds.classes(), (0..10).map(f64::from).collect::<Vec<_>>());
    assert!(
        ds.features()
            .iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0)
    );
    assert_eq!(ds.features().max(), 16.0);
    // Count the two classes in the raw labels rather than trusting the documented numbers.
    let threes: Vec<usize> = (0..ds.n_samples())
        .filter(|&i| ds.labels()[i] == 3.0)
        .collect();
    let eights: Vec<usize> = (0..ds.n_samples())
        .filter(|&i| ds.labels()[i] == 8.0)
        .collect();
    assert_eq!((threes.len(), eights.len()), (183, 174));

    let sub = binary_subset(&ds, 3.0, 8.0).unwrap();
    assert_eq!(sub.n_samples(), 357);
    assert_eq!(count(&sub, 1.0), 183);
    assert_eq!(count(&sub, -1.0), 174);
    // File order is kept: the subset is the rows of 3s and 8s in increasing row order.
    let mut kept: Vec<usize> = threes.iter().chain(&eights).copied().collect();
    kept.sort_unstable();
    for (r, &i) in kept.iter().enumerate() {
        assert_eq!(sub.row(r), ds.row(i));
        let want = if ds.labels()[i] == 3.0 { 1.0 } else { -1.0 };
        assert_eq!(sub.labels()[r], want);
    }
    let classes = class_subset(&ds, &[8.0, 3.0]).unwrap();
    assert_eq!(classes.features(), sub.features());
    assert_eq!(count(&classes, 3.0), 183);
    assert!(matches!(
        binary_subset(&ds, 3.0, 10.0),
        Err(DataError::UnknownClass { class }) if class == 10.0
    ));
    assert!(bundled::by_name("digits").is_ok());
    assert_eq!(bundled::NAMES, &["breast_cancer", "digits"]);
}

#[test]
fn paper_pixel_pipeline_gives_unit_rows() {
    let ds = binary_subset(&bundled::digits().unwrap(), 3.0, 8.0).unwrap();
    let scaled = scale_pixels(&ds);
    assert_eq!(
        scaled.features()[(0, 0)],
        ds.features()[(0, 0)] / 255.0 - 0.5
    );
    let unit = normalize_rows(&scaled, RowNormalization::UnitNorm).unwrap();
    for n in unit.row_norms() {
        assert!((n - 1.0).abs() < 1e-12, "{n}");
    }
    // The one copy of the pipeline gives the same rows, bit for bit; m = 255 is scale_pixels.
    let digits = bundled::digits().unwrap();
    assert_eq!(three_vs_eight(&digits, Some(255.0)).unwrap(), unit);
    assert_eq!(scale_pixels_by(&ds, 255.0).unwrap(), scaled);
    let by16 = scale_pixels_by(&ds, 16.0).unwrap();
    assert_eq!(by16.features(), &ds.features().map(|x| x / 16.0 - 0.5));
    assert_eq!(
        three_vs_eight(&digits, Some(16.0)).unwrap(),
        normalize_rows(&by16, RowNormalization::UnitNorm).unwrap()
    );
    assert_eq!(
        three_vs_eight(&digits, None).unwrap(),
        normalize_rows(&ds, RowNormalization::UnitNorm).unwrap()
    );
    for m in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            scale_pixels_by(&ds, m),
            Err(DataError::InvalidParameter { .. })
        ));
    }
    assert!(matches!(
        scale_pixels_by(&ds, 1e-310),
        Err(DataError::NonFiniteFeature { .. })
    ));
    unit.check_row_norms(1e-12).unwrap();
    // Normalising keeps labels and order.
    assert_eq!(unit.labels(), ds.labels());
    // Zero rows stay zero under unit normalisation.
    let z = Dataset::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]], vec![1.0, -1.0]).unwrap();
    let zn = normalize_rows(&z, RowNormalization::UnitNorm).unwrap();
    assert_eq!(zn.row_norms()[0], 0.0);
    let bc = bundled::breast_cancer().unwrap();
    let m = normalize_rows(&bc, RowNormalization::MaxNorm).unwrap();
    let norms = m.row_norms();
    let largest = norms.iter().copied().fold(0.0, f64::max);
    assert!((largest - 1.0).abs() < 1e-12);
    assert!(norms.iter().all(|&n| n <= 1.0 + 1e-12));
    assert_eq!(normalize_rows(&bc, RowNormalization::None).unwrap(), bc);
}

#[test]
fn standardize_fits_on_train() {
    let bc = bundled::breast_cancer().unwrap();
    let (train, test) = train_test_split(&bc, 0.25, 3).unwrap();
    let (str_, ste) = standardize(&train, &test).unwrap();
    for j in 0..str_.n_features() {
        let col = str_.features().column(j);
        let mean = col.mean();
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / col.len() as f64;
        assert!(mean.abs() < 1e-12, "column {j} mean {mean}");
        assert!((var - 1.0).abs() < 1e-10, "column {j} var {var}");
    }
    // The test side uses the training statistics.
    let s = Standardizer::fit(&train).unwrap();
    assert_eq!(s.transform(&test).unwrap(), ste);
    let x = test.features()[(0, 4)];
    assert!((ste.features()[(0, 4)] - (x - s.mean()[4]) / s.scale()[4]).abs() < 1e-15);
    // Constant columns get scale 1 (not a division by zero), even when the mean rounds.
    let c = Dataset::from_rows(
        &[vec![0.1, 1.0], vec![0.1, 2.0], vec![0.1, 4.0]],
        vec![0.0; 3],
    )
    .unwrap();
    let sc = Standardizer::fit(&c).unwrap();
    assert_eq!(sc.scale()[0], 1.0);
    assert!(
        sc.transform(&c)
            .unwrap()
            .features()
            .column(0)
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(matches!(
        sc.transform(&bc),
        Err(DataError::DimensionMismatch {
            expected: 2,
            found: 30,
            ..
        })
    ));
    let empty = bc.select(&[]).unwrap();
    assert!(matches!(
        Standardizer::fit(&empty),
        Err(DataError::Empty { .. })
    ));
}

#[test]
fn splits_are_seeded_and_sized() {
    let ds = bundled::digits().unwrap();
    let (tr, te) = train_test_split(&ds, 0.2, 42).unwrap();
    assert_eq!(te.n_samples(), 360); // ⌈0.2 · 1797⌉
    assert_eq!(tr.n_samples(), 1797 - 360);
    let (tr2, te2) = train_test_split(&ds, 0.2, 42).unwrap();
    assert_eq!(
        (tr.fingerprint(), te.fingerprint()),
        (tr2.fingerprint(), te2.fingerprint())
    );
    let (tr3, _) = train_test_split(&ds, 0.2, 43).unwrap();
    assert_ne!(tr.fingerprint(), tr3.fingerprint());

    let (a, b) = split_indices(10, 0.3, 0).unwrap();
    assert_eq!((a.len(), b.len()), (7, 3));
    let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
    assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]));
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    // The test rows are exactly the selected indices, in order.
    let (tri, tei) = split_indices(ds.n_samples(), 0.2, 42).unwrap();
    assert_eq!(ds.select(&tei).unwrap(), te);
    assert_eq!(ds.select(&tri).unwrap(), tr);

    for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
        assert!(matches!(
            train_test_split(&ds, bad, 0),
            Err(DataError::InvalidParameter {
                name: "test_fraction",
                ..
            })
        ));
    }
    let two = ds.select(&[0, 1]).unwrap();
    assert!(train_test_split(&two, 0.5, 0).is_ok());
    assert_eq!(split_indices(2, 0.01, 0).unwrap().1.len(), 1); // ⌈0.02⌉ = 1
    assert!(split_indices(1, 0.5, 0).is_err());
    assert!(split_indices(0, 0.5, 0).is_err());
    assert!(train_test_split(&two, 0.99, 0).is_err());

    let p = shuffle_indices(100, 9);
    assert_eq!(p, shuffle_indices(100, 9));
    assert_ne!(p, shuffle_indices(100, 10));
    let mut s = p.clone();
    s.sort_unstable();
    assert_eq!(s, (0..100).collect::<Vec<_>>());
    assert!(shuffle_indices(0, 1).is_empty());
}

#[test]
fn one_vs_rest_and_01_labels() {
    let ds = bundled::digits().unwrap();
    let ovr = one_vs_rest_labels(&ds, 7.0);
    assert_eq!(count(&ovr, 1.0), count(&ds, 7.0));
    assert_eq!(ovr.features(), ds.features());
    assert_eq!(ovr.labels(), &one_vs_rest_label_vector(ds.labels(), 7.0));
    assert_eq!(count(&ovr, 1.0) + count(&ovr, -1.0), ds.n_samples());
    assert!(matches!(
        binary_labels_from_01(&ds, 1.0),
        Err(DataError::InvalidLabel { .. })
    ));
    let bc = bundled::breast_cancer().unwrap();
    assert!(matches!(
        binary_labels_from_01(&bc, 2.0),
        Err(DataError::InvalidParameter { .. })
    ));
    let neg = binary_labels_from_01(&bc, 0.0).unwrap();
    assert_eq!(count(&neg, 1.0), 212);
}

#[test]
fn synthetic_generators() {
    let (ds, w) = lethe_data::logistic_planted(300, 7, 5, &SyntheticOptions::default()).unwrap();
    assert_eq!((ds.n_samples(), ds.n_features(), w.len()), (300, 7, 7));
    ds.check_binary_labels().unwrap();
    for n in ds.row_norms() {
        assert!((n - 1.0).abs() < 1e-12);
    }
    let (lin, w) = lethe_data::linear_gaussian(100, 3, 0.1, 5).unwrap();
    let resid = lin.labels() - lin.features() * &w;
    let rms = (resid.norm_squared() / 100.0).sqrt();
    assert!(rms > 0.05 && rms < 0.2, "{rms}");
}

#[test]
fn options_deserialize_from_config_json() {
    let o: CsvOptions = serde_json::from_str(r#"{"label_column": "target"}"#).unwrap();
    assert_eq!(o.label_column, LabelColumn::Name("target".into()));
    assert!(o.has_header);
    let o: CsvOptions =
        serde_json::from_str(r#"{"label_column": 3, "has_header": false}"#).unwrap();
    assert_eq!(o.label_column, LabelColumn::Index(3));
    let n: RowNormalization = serde_json::from_str(r#""max_norm""#).unwrap();
    assert_eq!(n, RowNormalization::MaxNorm);
    assert_eq!(
        serde_json::to_string(&RowNormalization::UnitNorm).unwrap(),
        r#""unit_norm""#
    );
    let s: MnistSplit = serde_json::from_str(r#""test""#).unwrap();
    assert_eq!(s, MnistSplit::Test);
    let o: SyntheticOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(o, SyntheticOptions::default());
}

/// Full MNIST, only when `LETHE_DATA` names a directory with `mnist/` in it (as the `lethe` CLI
/// expects). Fresh clones have no data, so without the variable the test passes trivially.
#[test]
fn full_mnist_from_lethe_data() {
    let Some(root) = std::env::var_os("LETHE_DATA") else {
        eprintln!("LETHE_DATA is not set: skipping the full-MNIST test");
        return;
    };
    let dir = PathBuf::from(root).join("mnist");
    let train = load_mnist(&dir, MnistSplit::Train).unwrap();
    assert_eq!((train.n_samples(), train.n_features()), (60000, 784));
    assert_eq!(count(&train, 3.0), 6131);
    assert_eq!(count(&train, 8.0), 5851);
    assert!(train.features().iter().all(|&v| (0.0..=255.0).contains(&v)));
    assert_eq!(train.features().max(), 255.0);
    let sub = binary_subset(&train, 3.0, 8.0).unwrap();
    assert_eq!(sub.n_samples(), 11982);
    // Loading only the two classes gives the same rows, in the same order.
    let direct = lethe_data::load_mnist_classes(&dir, MnistSplit::Train, &[3, 8]).unwrap();
    assert_eq!(binary_subset(&direct, 3.0, 8.0).unwrap(), sub);
    let unit = normalize_rows(&scale_pixels(&sub), RowNormalization::UnitNorm).unwrap();
    unit.check_row_norms(1e-12).unwrap();
    assert_eq!(
        lethe_data::load_mnist_3v8(&dir, MnistSplit::Train).unwrap(),
        unit
    );
    let test = load_mnist(&dir, MnistSplit::Test).unwrap();
    assert_eq!((test.n_samples(), test.n_features()), (10000, 784));
    assert_eq!(count(&test, 3.0) + count(&test, 8.0), 1984);
    // Fashion-MNIST uses the same file names, in `fashion-mnist/`.
    let fashion = PathBuf::from(std::env::var_os("LETHE_DATA").unwrap()).join("fashion-mnist");
    if fashion.is_dir() {
        let f = load_mnist(&fashion, MnistSplit::Test).unwrap();
        assert_eq!((f.n_samples(), f.n_features()), (10000, 784));
        assert!((0..10).all(|c| count(&f, f64::from(c)) == 1000));
    }
}

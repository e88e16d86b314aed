//! The file loaders (IDX, CSV, LibSVM) on small files written to a temporary directory: values,
//! gzip and plain, and every corruption case giving the right typed error.

mod common;

use std::path::Path;

use common::{TempDir, gz, idx_images, idx_labels};
use lethe_data::csv::parse_csv;
use lethe_data::idx::{load_idx_images, load_idx_labels, mnist_files};
use lethe_data::{
    CsvOptions, DataError, LabelColumn, MnistSplit, RowNormalization, binary_subset, load_csv,
    load_csv_table, load_idx_dataset, load_libsvm, load_mnist, load_mnist_3v8, normalize_rows,
    scale_pixels,
};

/// Asserts a `Format` error for `path` whose message contains every needle.
fn assert_format(result: Result<impl std::fmt::Debug, DataError>, path: &Path, needles: &[&str]) {
    match result {
        Err(DataError::Format { path: p, what }) => {
            assert_eq!(p, path, "error names the wrong file: {what}");
            for n in needles {
                assert!(what.contains(n), "{what:?} lacks {n:?}");
            }
        }
        other => panic!(
            "expected a format error for {}, got {other:?}",
            path.display()
        ),
    }
}

// ---------------------------------------------------------------- IDX

/// Three 2×3 images with pixels 0..18 and labels 3, 8, 3.
fn tiny_mnist() -> (Vec<u8>, Vec<u8>) {
    let px: Vec<u8> = (0..18).map(|v| v * 14).collect();
    (idx_images(3, 2, 3, &px), idx_labels(3, &[3, 8, 3]))
}

#[test]
fn mnist_3v8_is_the_paper_pipeline() {
    let (im, lb) = tiny_mnist();
    let dir = TempDir::new("mnist-3v8");
    dir.write("train-images-idx3-ubyte.gz", &gz(&im));
    dir.write("train-labels-idx1-ubyte.gz", &gz(&lb));
    let all = load_mnist(dir.path(), MnistSplit::Train).unwrap();
    let want = normalize_rows(
        &scale_pixels(&binary_subset(&all, 3.0, 8.0).unwrap()),
        RowNormalization::UnitNorm,
    )
    .unwrap();
    let got = load_mnist_3v8(dir.path(), MnistSplit::Train).unwrap();
    assert_eq!(got, want);
    assert_eq!(got.labels().as_slice(), &[1.0, -1.0, 1.0]);
}

#[test]
fn mnist_loads_gzip_and_raw_names() {
    let (im, lb) = tiny_mnist();
    for gzip in [false, true] {
        let dir = TempDir::new("mnist");
        let (im_name, lb_name, im_bytes, lb_bytes) = if gzip {
            (
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                gz(&im),
                gz(&lb),
            )
        } else {
            (
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                im.clone(),
                lb.clone(),
            )
        };
        dir.write(im_name, &im_bytes);
        dir.write(lb_name, &lb_bytes);
        let ds = load_mnist(dir.path(), MnistSplit::Train).unwrap();
        assert_eq!((ds.n_samples(), ds.n_features()), (3, 6));
        assert_eq!(ds.labels().as_slice(), &[3.0, 8.0, 3.0]);
        // Row 1 holds pixels 6..12 of the file, row-major.
        for j in 0..6 {
            assert_eq!(ds.features()[(1, j)], f64::from((6 + j as u8) * 14));
        }
        // The test split is looked up under t10k-* and is absent here.
        match load_mnist(dir.path(), MnistSplit::Test) {
            Err(DataError::Io { path, source }) => {
                assert!(path.ends_with("t10k-images-idx3-ubyte.gz"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn mnist_prefers_gz_and_accepts_dotted_names() {
    let (im, lb) = tiny_mnist();
    let dir = TempDir::new("dotted");
    dir.write("t10k-images.idx3-ubyte", &im);
    dir.write("t10k-labels-idx1-ubyte.gz", &gz(&lb));
    dir.write("t10k-labels-idx1-ubyte", b"garbage");
    let (i, l) = mnist_files(dir.path(), MnistSplit::Test).unwrap();
    assert!(i.ends_with("t10k-images.idx3-ubyte"));
    assert!(l.ends_with("t10k-labels-idx1-ubyte.gz"));
    assert_eq!(
        load_mnist(dir.path(), MnistSplit::Test)
            .unwrap()
            .n_samples(),
        3
    );
}

#[test]
fn gzip_detected_by_magic_not_extension() {
    let (im, _) = tiny_mnist();
    let dir = TempDir::new("magic");
    let a = dir.write("plain-but-named.gz", &im);
    let b = dir.write("gzip-but-named.raw", &gz(&im));
    assert_eq!(load_idx_images(&a).unwrap(), load_idx_images(&b).unwrap());
}

#[test]
fn idx_bad_magic() {
    let (im, lb) = tiny_mnist();
    let dir = TempDir::new("badmagic");
    // A label file where images are expected: the message says what it looks like.
    let p = dir.write("swapped", &lb);
    assert_format(
        load_idx_images(&p),
        &p,
        &["bad magic", "0x00000801", "label file"],
    );
    let p = dir.write("swapped2.gz", &gz(&im));
    assert_format(load_idx_labels(&p), &p, &["bad magic", "0x00000803"]);
    let mut bad = im.clone();
    bad[2] = 0x0d;
    let p = dir.write("bad", &bad);
    assert_format(load_idx_images(&p), &p, &["bad magic", "0x00000d03"]);
}

#[test]
fn idx_truncated_and_trailing() {
    let (im, lb) = tiny_mnist();
    let dir = TempDir::new("trunc");
    for gzip in [false, true] {
        let wrap = |b: &[u8]| if gzip { gz(b) } else { b.to_vec() };
        let p = dir.write("short", &wrap(&im[..im.len() - 1]));
        assert_format(
            load_idx_images(&p),
            &p,
            &["truncated", "18 bytes", "has 17"],
        );
        let mut long = im.clone();
        long.extend([1, 2, 3]);
        let p = dir.write("long", &wrap(&long));
        assert_format(load_idx_images(&p), &p, &["trailing", "18 bytes", "has 21"]);
        let p = dir.write("hdr", &wrap(&im[..10]));
        assert_format(
            load_idx_images(&p),
            &p,
            &["truncated header", "10 bytes", "needs 16"],
        );
        let p = dir.write("lshort", &wrap(&lb[..lb.len() - 2]));
        assert_format(load_idx_labels(&p), &p, &["truncated", "3 bytes", "has 1"]);
        let p = dir.write("empty", &wrap(&[]));
        assert_format(load_idx_labels(&p), &p, &["truncated header", "0 bytes"]);
    }
}

#[test]
fn idx_huge_header_in_tiny_file() {
    let dir = TempDir::new("huge");
    let p = dir.write("im", &idx_images(1_000_000_000, 28, 28, &[7; 1024]));
    assert_format(
        load_idx_images(&p),
        &p,
        &["truncated", "784000000000 bytes", "has 1024"],
    );
    let p = dir.write("lb.gz", &gz(&idx_labels(u32::MAX, &[1; 10])));
    assert_format(
        load_idx_labels(&p),
        &p,
        &["truncated", "4294967295 bytes", "has 10"],
    );
    let p = dir.write("ovf", &idx_images(u32::MAX, u32::MAX, u32::MAX, &[]));
    assert_format(load_idx_images(&p), &p, &["overflow"]);
}

#[test]
fn idx_count_mismatch_names_both_files() {
    let dir = TempDir::new("count");
    let im = dir.write("im", &idx_images(2, 1, 1, &[1, 2]));
    let lb = dir.write("lb", &idx_labels(3, &[1, 2, 3]));
    match load_idx_dataset(&im, &lb) {
        Err(DataError::Format { path, what }) => {
            assert_eq!(path, im);
            assert!(
                what.contains("2 images") && what.contains("3 labels"),
                "{what}"
            );
            assert!(what.contains(&lb.display().to_string()), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // An empty but well-formed pair is an Empty error, not a dataset.
    let im = dir.write("im0", &idx_images(0, 28, 28, &[]));
    let lb = dir.write("lb0", &idx_labels(0, &[]));
    assert!(matches!(
        load_idx_dataset(&im, &lb),
        Err(DataError::Empty { .. })
    ));
}

#[test]
fn corrupt_gzip_is_a_format_error() {
    let (im, _) = tiny_mnist();
    let dir = TempDir::new("gzcorrupt");
    let mut bytes = gz(&im);
    let n = bytes.len();
    bytes.truncate(n - 5);
    let p = dir.write("cut.gz", &bytes);
    assert_format(load_idx_images(&p), &p, &["gzip"]);
    let p = dir.write("junk.gz", &[0x1f, 0x8b, 0, 0, 0, 0]);
    assert_format(load_idx_images(&p), &p, &["gzip"]);
}

#[test]
fn missing_file_is_io_error() {
    let dir = TempDir::new("missing");
    let p = dir.path().join("nope.gz");
    match load_idx_images(&p) {
        Err(DataError::Io { path, source }) => {
            assert_eq!(path, p);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        load_csv(&p, &CsvOptions::default()),
        Err(DataError::Io { .. })
    ));
    assert!(matches!(load_libsvm(&p, None), Err(DataError::Io { .. })));
}

// ---------------------------------------------------------------- CSV

const CSV: &str = "label, a ,b\n1,0.5,-2\n0,1e-3,3\n\n1,4,5\n";

#[test]
fn csv_plain_and_gzip_agree() {
    let dir = TempDir::new("csv");
    let a = dir.write("t.csv", CSV.as_bytes());
    let b = dir.write("t.csv.gz", &gz(CSV.as_bytes()));
    let ta = load_csv_table(&a, &CsvOptions::default()).unwrap();
    let tb = load_csv_table(&b, &CsvOptions::default()).unwrap();
    assert_eq!(ta, tb);
    let ds = ta.dataset;
    assert_eq!((ds.n_samples(), ds.n_features()), (3, 2));
    assert_eq!(ds.labels().as_slice(), &[1.0, 0.0, 1.0]);
    assert_eq!(ds.features()[(1, 0)], 1e-3);
    assert_eq!(ds.features()[(0, 1)], -2.0);
    assert_eq!(ta.feature_names.unwrap(), vec!["a", "b"]);
    assert_eq!(ta.label_name.as_deref(), Some("label"));
}

#[test]
fn csv_label_column_choices() {
    let by_name = CsvOptions {
        label_column: LabelColumn::Name("b".into()),
        has_header: true,
    };
    let t = parse_csv(CSV.as_bytes(), "m", &by_name).unwrap();
    assert_eq!(t.dataset.labels().as_slice(), &[-2.0, 3.0, 5.0]);
    assert_eq!(t.feature_names.unwrap(), vec!["label", "a"]);
    let by_index = CsvOptions {
        label_column: LabelColumn::Index(1),
        has_header: true,
    };
    let t = parse_csv(CSV.as_bytes(), "m", &by_index).unwrap();
    assert_eq!(t.dataset.labels().as_slice(), &[0.5, 1e-3, 4.0]);
    let no_header = CsvOptions {
        label_column: LabelColumn::Index(0),
        has_header: false,
    };
    let t = parse_csv(&b"1,2\n3,4\n"[..], "m", &no_header).unwrap();
    assert_eq!(t.dataset.n_samples(), 2);
    let missing = CsvOptions {
        label_column: LabelColumn::Name("target".into()),
        has_header: true,
    };
    let e = parse_csv(CSV.as_bytes(), "m", &missing)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no column named 'target'") && e.contains("label, a, b"),
        "{e}"
    );
    let name_without_header = CsvOptions {
        label_column: LabelColumn::Name("a".into()),
        has_header: false,
    };
    assert!(matches!(
        parse_csv(CSV.as_bytes(), "m", &name_without_header),
        Err(DataError::InvalidParameter { .. })
    ));
    let out_of_range = CsvOptions {
        label_column: LabelColumn::Index(3),
        has_header: true,
    };
    let e = parse_csv(CSV.as_bytes(), "m", &out_of_range)
        .unwrap_err()
        .to_string();
    assert!(e.contains("label column index 3"), "{e}");
}

#[test]
fn csv_errors_name_file_line_and_column() {
    let dir = TempDir::new("csverr");
    let d = CsvOptions::default();
    for gzip in [false, true] {
        let wrap = |s: &str| {
            if gzip {
                gz(s.as_bytes())
            } else {
                s.as_bytes().to_vec()
            }
        };
        let p = dir.write("ragged", &wrap("y,a,b\n1,2,3\n1,2\n"));
        assert_format(
            load_csv(&p, &d),
            &p,
            &["line 3", "2 fields, expected 3", "header on line 1"],
        );
        let p = dir.write("nan", &wrap("y,a,b\n1,2,3\n\n1,2,abc\n"));
        assert_format(load_csv(&p, &d), &p, &["line 4, column 3 ('b')", "'abc'"]);
        let p = dir.write("label", &wrap("y,a\n?,1\n"));
        assert_format(load_csv(&p, &d), &p, &["line 2, column 1 ('y')"]);
        let p = dir.write("inf", &wrap("y,a\n1,inf\n"));
        assert_format(
            load_csv(&p, &d),
            &p,
            &["line 2, column 2", "not a finite number"],
        );
        let p = dir.write("empty", &wrap(""));
        assert_format(load_csv(&p, &d), &p, &["empty"]);
        let p = dir.write("blank", &wrap("\n \n"));
        assert_format(load_csv(&p, &d), &p, &["empty"]);
        let p = dir.write("header_only", &wrap("y,a\n"));
        assert_format(load_csv(&p, &d), &p, &["no data rows"]);
        let p = dir.write("utf8", &wrap("y,a\n1,\u{00e9}\n"));
        assert_format(load_csv(&p, &d), &p, &["line 2, column 2"]);
        let mut bytes = b"y,a\n1,2\n".to_vec();
        bytes.extend([0xff, b',', b'1', b'\n']);
        let p = dir.write("bin", &wrap(std::str::from_utf8(&bytes[..8]).unwrap()));
        assert!(load_csv(&p, &d).is_ok());
        let p = dir.write("bin2", &bytes);
        assert_format(load_csv(&p, &d), &p, &["line 3", "UTF-8"]);
    }
    let no_header = CsvOptions {
        label_column: LabelColumn::Index(0),
        has_header: false,
    };
    let p = dir.write("nh", b"1,2\n3\n");
    assert_format(
        load_csv(&p, &no_header),
        &p,
        &["line 2", "1 fields, expected 2 as in line 1"],
    );
}

// ---------------------------------------------------------------- LibSVM

const SVM: &str = "# a comment line\n+1 qid:1 1:0.5 4:-2 # trailing\n-1 2:3\n\n0 1:1e2 3:0\n";

#[test]
fn libsvm_plain_and_gzip_agree() {
    let dir = TempDir::new("svm");
    let a = dir.write("t.svm", SVM.as_bytes());
    let b = dir.write("t.svm.gz", &gz(SVM.as_bytes()));
    let ds = load_libsvm(&a, None).unwrap();
    assert_eq!(ds, load_libsvm(&b, None).unwrap());
    assert_eq!((ds.n_samples(), ds.n_features()), (3, 4));
    assert_eq!(ds.labels().as_slice(), &[1.0, -1.0, 0.0]);
    let x = ds.features();
    assert_eq!((x[(0, 0)], x[(0, 1)], x[(0, 3)]), (0.5, 0.0, -2.0));
    assert_eq!((x[(1, 1)], x[(2, 0)], x[(2, 2)]), (3.0, 100.0, 0.0));
    let wide = load_libsvm(&a, Some(10)).unwrap();
    assert_eq!(wide.n_features(), 10);
    assert_eq!(wide.features()[(0, 3)], -2.0);
}

#[test]
fn libsvm_errors_name_file_and_line() {
    let dir = TempDir::new("svmerr");
    let cases: &[(&str, Option<usize>, &[&str])] = &[
        ("1 1:1\n1 0:2\n", None, &["line 2", "index 0"]),
        ("1 1:1\n\n1 3:1 2:1\n", None, &["line 3", "index 2 after 3"]),
        ("1 2:1 2:1\n", None, &["line 1", "index 2 after 2"]),
        (
            "1 5:1\n",
            Some(4),
            &["line 1", "index 5", "declared to have 4"],
        ),
        ("1 99999999:1\n", None, &["line 1", "too large"]),
        ("1 a:1\n", None, &["line 1", "'a'"]),
        ("1 1:x\n", None, &["line 1", "value 'x'"]),
        ("1 1:nan\n", None, &["line 1", "value 'nan'"]),
        ("one 1:1\n", None, &["line 1", "label 'one'"]),
        (
            "1 1:1 2\n",
            None,
            &["line 1", "'2' is not an index:value pair"],
        ),
        ("# only a comment\n", None, &["no examples"]),
        ("", None, &["no examples"]),
    ];
    for gzip in [false, true] {
        for (i, (text, d, needles)) in cases.iter().enumerate() {
            let bytes = if gzip {
                gz(text.as_bytes())
            } else {
                text.as_bytes().to_vec()
            };
            let p = dir.write(&format!("c{i}"), &bytes);
            assert_format(load_libsvm(&p, *d), &p, needles);
        }
    }
    let p = dir.write("dense", "1 9000000:1\n".repeat(200).as_bytes());
    assert_format(load_libsvm(&p, None), &p, &["too large to densify"]);
    let p = dir.write("ok", b"1 1:1\n");
    assert!(matches!(
        load_libsvm(&p, Some(usize::MAX)),
        Err(DataError::InvalidParameter { .. })
    ));
}

//! Property tests: every loader, fed arbitrary bytes (plain, gzip-wrapped, or starting with the
//! gzip magic), returns `Ok` or `Err` and never panics; valid data round-trips exactly.

mod common;

use common::{gz, idx_images, idx_labels};
use lethe_data::idx::{parse_idx_images, parse_idx_labels};
use lethe_data::{CsvOptions, Dataset, LabelColumn, parse_csv, parse_libsvm};
use proptest::prelude::*;

/// Runs every parser on `bytes`; each must return without panicking.
fn all_parsers(bytes: &[u8]) {
    let _ = parse_idx_images(bytes, "fuzz");
    let _ = parse_idx_labels(bytes, "fuzz");
    let _ = parse_csv(bytes, "fuzz", &CsvOptions::default());
    let no_header = CsvOptions {
        label_column: LabelColumn::Index(1),
        has_header: false,
    };
    let _ = parse_csv(bytes, "fuzz", &no_header);
    let by_name = CsvOptions {
        label_column: LabelColumn::Name("y".into()),
        has_header: true,
    };
    let _ = parse_csv(bytes, "fuzz", &by_name);
    let _ = parse_libsvm(bytes, "fuzz", None);
    let _ = parse_libsvm(bytes, "fuzz", Some(8));
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Data shaped like the real inputs, to reach deeper than the first check.
fn csvish() -> impl Strategy<Value = String> {
    "[0-9a-y,.eE+\\- \r\n]{0,200}"
}

fn svmish() -> impl Strategy<Value = String> {
    "[0-9:.eq+\\-# \n]{0,200}"
}

/// An IDX image or label file with a plausible header and a body whose length is near the
/// announced one (exact, short or long), possibly with a corrupted byte.
fn idxish() -> impl Strategy<Value = Vec<u8>> {
    (
        0u32..5,
        0u32..4,
        0u32..4,
        -2i64..3,
        any::<bool>(),
        any::<(usize, u8)>(),
    )
        .prop_map(|(n, r, c, delta, labels, (pos, flip))| {
            let want = if labels { n } else { n * r * c } as i64;
            let len = (want + delta).max(0) as usize;
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut v = if labels {
                idx_labels(n, &body)
            } else {
                idx_images(n, r, c, &body)
            };
            if flip != 0 {
                let k = pos % v.len();
                v[k] ^= flip;
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(b in bytes(512)) {
        all_parsers(&b);
    }

    #[test]
    fn gzip_wrapped_bytes_never_panic(b in bytes(512)) {
        all_parsers(&gz(&b));
    }

    #[test]
    fn gzip_magic_then_garbage_never_panics(b in bytes(256)) {
        let mut v = vec![0x1f, 0x8b];
        v.extend(b);
        all_parsers(&v);
    }

    #[test]
    fn truncated_or_damaged_gzip_never_panics(b in bytes(256), cut in any::<usize>(), flip in any::<(usize, u8)>()) {
        let mut z = gz(&b);
        let (pos, x) = flip;
        let k = pos % z.len();
        z[k] ^= x;
        z.truncate(cut % (z.len() + 1));
        all_parsers(&z);
    }

    #[test]
    fn text_like_input_never_panics(s in csvish(), t in svmish()) {
        all_parsers(s.as_bytes());
        all_parsers(t.as_bytes());
    }

    #[test]
    fn idx_like_input_never_panics(v in idxish()) {
        all_parsers(&v);
        all_parsers(&gz(&v));
    }

    #[test]
    fn valid_idx_round_trips(n in 1u32..6, r in 1u32..4, c in 1u32..4, seed in any::<u8>()) {
        let px: Vec<u8> = (0..n * r * c).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let im = parse_idx_images(&gz(&idx_images(n, r, c, &px))[..], "ok").unwrap();
        prop_assert_eq!((im.n, im.rows, im.cols), (n as usize, r as usize, c as usize));
        prop_assert_eq!(&im.pixels, &px);
        let labels: Vec<u8> = (0..n as u8).collect();
        prop_assert_eq!(parse_idx_labels(&idx_labels(n, &labels)[..], "ok").unwrap(), labels);
    }

    #[test]
    fn csv_and_libsvm_round_trip(
        rows in proptest::collection::vec(proptest::collection::vec(-1e6f64..1e6, 3), 1..20),
        labels in proptest::collection::vec(-5i32..5, 20),
    ) {
        let labels: Vec<f64> = labels[..rows.len()].iter().map(|&y| f64::from(y)).collect();
        let ds = Dataset::from_rows(&rows, labels.clone()).unwrap();
        let mut csv = String::from("y,a,b,c\n");
        let mut svm = String::new();
        for (row, y) in rows.iter().zip(&labels) {
            csv.push_str(&format!("{y},{},{},{}\n", row[0], row[1], row[2]));
            svm.push_str(&y.to_string());
            for (j, v) in row.iter().enumerate() {
                svm.push_str(&format!(" {}:{v}", j + 1));
            }
            svm.push('\n');
        }
        let t = parse_csv(&gz(csv.as_bytes())[..], "rt", &CsvOptions::default()).unwrap();
        prop_assert_eq!(&t.dataset, &ds);
        let s = parse_libsvm(svm.as_bytes(), "rt", Some(3)).unwrap();
        prop_assert_eq!(&s, &ds);
    }
}

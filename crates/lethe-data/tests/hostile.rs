//! Hostile and careless data files: dense-size blow-ups, gzip bombs, gigantic lines, IDX
//! headers that announce more than the file holds, byte-order marks and header-less CSV. Each
//! must give a typed error naming the file (or load correctly), never an abort or a hang. The
//! bombs are small: a tiny limit override stands in for the machine's memory.

mod common;

use std::path::Path;

use common::{TempDir, gz, idx_images, idx_labels};
use lethe_data::idx::load_idx_images_with;
use lethe_data::{
    CsvOptions, DataError, Limits, load_csv, load_csv_table_with, load_idx_dataset_with,
    load_libsvm, load_libsvm_with,
};

/// Asserts a `TooLarge` error for `path` whose message contains every needle.
fn assert_too_large<T: std::fmt::Debug>(
    result: Result<T, DataError>,
    path: &Path,
    needles: &[&str],
) {
    match result {
        Err(e @ DataError::TooLarge { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "the error does not name {}: {msg}",
                path.display()
            );
            for n in needles {
                assert!(msg.contains(n), "{msg:?} lacks {n:?}");
            }
        }
        other => panic!("expected TooLarge for {}, got {other:?}", path.display()),
    }
}

fn limits(max_memory: u64) -> Limits {
    Limits::with_max_memory(max_memory)
}

#[test]
fn libsvm_huge_index_in_a_tiny_file_is_refused_with_the_size() {
    let dir = TempDir::new("svm-huge");
    let p = dir.write("tiny.svm", b"+1 1:1 4000000:1\n");
    assert_too_large(
        load_libsvm_with(&p, None, &limits(1 << 20)),
        &p,
        &["1 × 4000000", "30.5 MiB", "LETHE_MAX_MEMORY"],
    );
}

#[test]
fn csv_with_30000_columns_is_refused_before_the_matrix_is_built() {
    let dir = TempDir::new("csv-wide");
    let header: Vec<String> = (0..30_001).map(|j| format!("c{j}")).collect();
    let row = format!("1{}\n", ",0".repeat(30_000));
    let text = format!("{}\n{}", header.join(","), row.repeat(5));
    let p = dir.write("wide.csv", text.as_bytes());
    assert_too_large(
        load_csv_table_with(&p, &CsvOptions::default(), &limits(1 << 20)),
        &p,
        &["× 30000"],
    );
}

#[test]
fn idx_300x300_images_are_refused_by_their_dense_size() {
    let dir = TempDir::new("idx-wide");
    let n = 20u32;
    let images = dir.write(
        "images-idx3-ubyte",
        &idx_images(n, 300, 300, &vec![0u8; 20 * 90_000]),
    );
    let labels = dir.write("labels-idx1-ubyte", &idx_labels(n, &[0u8; 20]));
    assert_too_large(
        load_idx_dataset_with(&images, &labels, &limits(4 << 20)),
        &images,
        &["20 × 90000"],
    );
}

#[test]
fn idx_gzip_header_announcing_ten_million_images_fails_before_inflating() {
    let dir = TempDir::new("idx-bomb");
    // A short body: reading it would end in "truncated"; the refusal must come first.
    let p = dir.write(
        "bomb-idx3-ubyte.gz",
        &gz(&idx_images(10_000_000, 28, 28, &[0u8; 4096])),
    );
    let small = Limits {
        max_decompressed_bytes: Some(64 << 20),
        ..limits(1 << 40)
    };
    assert_too_large(
        load_idx_images_with(&p, &small),
        &p,
        &["7840000000 bytes of pixels"],
    );
    // The memory limit alone (the default cap) refuses it too.
    assert_too_large(load_idx_images_with(&p, &limits(1 << 30)), &p, &["pixels"]);
}

#[test]
fn idx_raw_header_is_checked_against_the_file_size() {
    let dir = TempDir::new("idx-raw");
    let p = dir.write(
        "short-idx3-ubyte",
        &idx_images(10_000_000, 28, 28, &[0u8; 100]),
    );
    match load_idx_images_with(&p, &limits(1 << 40)) {
        Err(DataError::Format { what, .. }) => {
            assert!(
                what.contains("truncated") && what.contains("the file has 100"),
                "{what}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gzip_bombs_stop_at_the_decompression_cap() {
    let dir = TempDir::new("bombs");
    let csv = [b"y,a\n".to_vec(), b"1,0\n".repeat(1 << 18)].concat();
    let svm = b"1 1:1\n".repeat(1 << 18);
    let cap = Limits {
        max_decompressed_bytes: Some(256 << 10),
        ..limits(1 << 30)
    };
    let p = dir.write("bomb.csv.gz", &gz(&csv));
    assert_too_large(
        load_csv_table_with(&p, &CsvOptions::default(), &cap),
        &p,
        &["gzip stream inflates to more than 256.0 KiB"],
    );
    let p = dir.write("bomb.svm.gz", &gz(&svm));
    assert_too_large(load_libsvm_with(&p, None, &cap), &p, &["gzip"]);
}

#[test]
fn a_single_gigantic_line_is_refused_at_the_line_limit() {
    let dir = TempDir::new("long-line");
    let line = [b"1".to_vec(), b",0".repeat(1 << 18), b"\n".to_vec()].concat();
    let short_lines = Limits {
        max_line_bytes: 4096,
        ..limits(1 << 30)
    };
    for (name, bytes) in [("line.csv", line.clone()), ("line.csv.gz", gz(&line))] {
        let p = dir.write(name, &bytes);
        let opts = CsvOptions {
            has_header: false,
            ..CsvOptions::default()
        };
        assert_too_large(
            load_csv_table_with(&p, &opts, &short_lines),
            &p,
            &["line 1 is longer than 4.0 KiB"],
        );
        assert_too_large(load_libsvm_with(&p, None, &short_lines), &p, &["line 1"]);
    }
}

#[test]
fn a_byte_order_mark_is_accepted_in_libsvm_and_csv_files() {
    let dir = TempDir::new("bom");
    let p = dir.write("bom.svm", b"\xef\xbb\xbf+1 1:0.5\n-1 2:1\n");
    let ds = load_libsvm(&p, None).unwrap();
    assert_eq!(ds.labels().as_slice(), &[1.0, -1.0]);
    let p = dir.write("bom.csv", b"\xef\xbb\xbfy,a\n1,2\n0,3\n");
    let ds = load_csv(&p, &CsvOptions::default()).unwrap();
    assert_eq!(ds.n_samples(), 2);
}

#[test]
fn a_header_less_csv_read_with_a_header_is_an_error_naming_the_option() {
    let dir = TempDir::new("no-header");
    let p = dir.write("plain.csv", b"1,0.5,2\n0,1.5,3\n1,2.5,4\n");
    match load_csv(&p, &CsvOptions::default()) {
        Err(DataError::Format { path, what }) => {
            assert_eq!(path, p);
            assert!(
                what.contains("has_header: false") && what.contains("all numbers"),
                "{what}"
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    let opts = CsvOptions {
        has_header: false,
        ..CsvOptions::default()
    };
    assert_eq!(load_csv(&p, &opts).unwrap().n_samples(), 3);
}

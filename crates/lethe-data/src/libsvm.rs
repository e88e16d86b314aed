//! LibSVM / SVMlight sparse text files (plain or gzip, detected from the content).
//!
//! One example per line: `label idx:val idx:val … [# comment]`, with 1-based, strictly
//! increasing feature indices; a `qid:N` token is accepted and ignored, blank and comment-only
//! lines are skipped; a UTF-8 byte-order mark before the first line is dropped. The result is
//! densified, so its size is bounded by [`Limits::max_memory`] and by these: indices above
//! [`MAX_LIBSVM_FEATURES`] (or above `n_features` when given) and dense matrices of more than
//! [`MAX_DENSE_ENTRIES`] entries are refused with an error instead of an allocation.

use std::io::Read;
use std::path::Path;

use nalgebra::{DMatrix, DVector};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::Input;
use crate::limits::Limits;

/// Bytes one stored sparse entry (row, column, value) takes while the file is parsed.
const ENTRY_BYTES: u64 = std::mem::size_of::<(usize, usize, f64)>() as u64;

/// The largest feature index (and so dimension) a LibSVM file may use.
pub const MAX_LIBSVM_FEATURES: usize = 10_000_000;

/// The largest dense matrix (rows × features) a LibSVM file may be expanded to: 2^29 entries,
/// 4 GiB of f64.
pub const MAX_DENSE_ENTRIES: usize = 1 << 29;

/// Densification may take at most this many dense entries per stored value (or
/// [`DENSE_FLOOR`], whichever is larger): real sparse sets expand by a small factor (a9a: ~3),
/// while a tiny file with huge indices would otherwise allocate gigabytes.
pub const MAX_DENSE_PER_STORED_VALUE: usize = 4096;

/// Dense sizes up to this many entries (128 MiB of f64) are always allowed.
pub const DENSE_FLOOR: usize = 1 << 24;

/// Loads a LibSVM/SVMlight file (plain or gzip) as a dense dataset.
///
/// With `n_features = Some(d)` the dataset has exactly `d` columns and an index above `d` is an
/// error; with `None` the dimension is the largest index present.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; [`DataError::Format`] naming the file and
/// line for a bad label or value, an index that is 0, not increasing, above `n_features` or
/// above [`MAX_LIBSVM_FEATURES`], a file without examples, or a dense size above
/// [`MAX_DENSE_ENTRIES`]; [`DataError::InvalidParameter`] for `n_features` above
/// [`MAX_LIBSVM_FEATURES`].
pub fn load_libsvm(path: &Path, n_features: Option<usize>) -> Result<Dataset> {
    let mut input = Input::open(path)?;
    libsvm_from_input(&mut input, n_features)
}

/// As [`load_libsvm`], under explicit [`Limits`] instead of [`Limits::from_env`].
///
/// # Errors
/// As [`load_libsvm`], plus [`DataError::TooLarge`] when the dense matrix, the sparse entries,
/// a line or the decompressed text exceeds a limit.
pub fn load_libsvm_with(
    path: &Path,
    n_features: Option<usize>,
    limits: &Limits,
) -> Result<Dataset> {
    let mut input = Input::open_with(path, limits)?;
    libsvm_from_input(&mut input, n_features)
}

/// Parses LibSVM content (plain or gzip) from any reader; `name` stands for the path in errors.
///
/// # Errors
/// As [`load_libsvm`].
pub fn parse_libsvm<R: Read>(
    reader: R,
    name: impl AsRef<Path>,
    n_features: Option<usize>,
) -> Result<Dataset> {
    let mut input = Input::from_reader(reader, name)?;
    libsvm_from_input(&mut input, n_features)
}

fn parse_value(input: &Input<'_>, token: &str, line: usize, what: &str) -> Result<f64> {
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => {
            let shown: String = token.chars().take(40).collect();
            Err(input.format_error(format!(
                "line {line}: {what} '{shown}' is not a finite number"
            )))
        }
    }
}

fn libsvm_from_input(input: &mut Input<'_>, n_features: Option<usize>) -> Result<Dataset> {
    if let Some(d) = n_features
        && d > MAX_LIBSVM_FEATURES
    {
        return Err(DataError::InvalidParameter {
            name: "n_features",
            value: d.to_string(),
            reason: format!("at most {MAX_LIBSVM_FEATURES} features are supported"),
        });
    }
    let limit = n_features.unwrap_or(MAX_LIBSVM_FEATURES);
    let mut raw = Vec::new();
    let mut line_no = 0usize;
    let mut labels: Vec<f64> = Vec::new();
    // Sparse entries (row, 0-based column, value).
    let mut entries: Vec<(usize, usize, f64)> = Vec::new();
    let mut max_index = 0usize;
    while let Some(text) = input.read_text_line(&mut raw, &mut line_no)? {
        let text = match text.find('#') {
            Some(k) => &text[..k],
            None => text,
        };
        let mut tokens = text.split_ascii_whitespace();
        let Some(label) = tokens.next() else {
            continue;
        };
        let row = labels.len();
        labels.push(parse_value(input, label, line_no, "label")?);
        let mut previous = 0usize;
        for token in tokens {
            let Some((key, value)) = token.split_once(':') else {
                let shown: String = token.chars().take(40).collect();
                return Err(input.format_error(format!(
                    "line {line_no}: '{shown}' is not an index:value pair"
                )));
            };
            if key == "qid" {
                continue;
            }
            let index: usize = match key.parse() {
                Ok(i) => i,
                Err(_) => {
                    let shown: String = key.chars().take(40).collect();
                    return Err(input.format_error(format!(
                        "line {line_no}: feature index '{shown}' is not a non-negative integer"
                    )));
                }
            };
            if index == 0 {
                return Err(input.format_error(format!(
                    "line {line_no}: feature index 0, but LibSVM indices start at 1"
                )));
            }
            if index <= previous {
                return Err(input.format_error(format!(
                    "line {line_no}: feature index {index} after {previous}; indices must be \
                     strictly increasing"
                )));
            }
            if index > limit {
                let why = match n_features {
                    Some(d) => format!("the data was declared to have {d} features"),
                    None => format!("at most {MAX_LIBSVM_FEATURES} features are supported"),
                };
                return Err(input.format_error(format!(
                    "line {line_no}: feature index {index} is too large: {why}"
                )));
            }
            previous = index;
            let v = parse_value(input, value, line_no, "value")?;
            max_index = max_index.max(index);
            if v != 0.0 {
                input.check_memory(
                    "the sparse entries read so far",
                    (entries.len() as u64 + 1).saturating_mul(ENTRY_BYTES),
                )?;
                entries.push((row, index - 1, v));
            }
        }
    }
    if labels.is_empty() {
        return Err(input.format_error("no examples (the file is empty or only has comments)"));
    }
    let n = labels.len();
    let d = n_features.unwrap_or(max_index);
    let stored = entries.len().max(n);
    let limit = MAX_DENSE_ENTRIES.min(
        stored
            .saturating_mul(MAX_DENSE_PER_STORED_VALUE)
            .max(DENSE_FLOOR),
    );
    match n.checked_mul(d) {
        Some(total) if total <= limit => {}
        _ => {
            return Err(input.format_error(format!(
                "{n} examples × {d} features is too large to densify from {stored} stored \
                 values (limit {limit} entries: at most {MAX_DENSE_PER_STORED_VALUE} per stored \
                 value, never more than {MAX_DENSE_ENTRIES})"
            )));
        }
    }
    input.check_dense(n, d)?;
    let mut features = DMatrix::zeros(n, d);
    for (i, j, v) in entries {
        features[(i, j)] = v;
    }
    Dataset::new(features, DVector::from_vec(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, d: Option<usize>) -> Result<Dataset> {
        parse_libsvm(text.as_bytes(), "t.svm", d)
    }

    #[test]
    fn parses_sparse_rows() {
        let ds = parse(
            "# header comment\n+1 qid:3 1:0.5 3:2 # c\n\n-1 2:-1\n0\n",
            None,
        )
        .unwrap();
        assert_eq!((ds.n_samples(), ds.n_features()), (3, 3));
        assert_eq!(ds.labels().as_slice(), &[1.0, -1.0, 0.0]);
        assert_eq!(ds.features()[(0, 0)], 0.5);
        assert_eq!(ds.features()[(0, 2)], 2.0);
        assert_eq!(ds.features()[(1, 1)], -1.0);
        assert_eq!(ds.features()[(2, 2)], 0.0);
        assert_eq!(parse("1 1:1\n", Some(5)).unwrap().n_features(), 5);
    }

    #[test]
    fn bad_indices_are_errors_with_lines() {
        for (text, needle) in [
            ("1 1:1\n1 0:1\n", "line 2: feature index 0"),
            ("1 2:1 2:1\n", "strictly increasing"),
            ("1 3:1 2:1\n", "strictly increasing"),
            ("1 x:1\n", "not a non-negative integer"),
            ("1 -1:1\n", "not a non-negative integer"),
            ("1 1\n", "not an index:value pair"),
            ("1 1:abc\n", "value 'abc'"),
            ("a 1:1\n", "label 'a'"),
            ("1 10000001:1\n", "too large"),
            ("", "no examples"),
        ] {
            let e = parse(text, None).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        let e = parse("1 6:1\n", Some(5)).unwrap_err().to_string();
        assert!(e.contains("declared to have 5"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_label() {
        let ds = parse("\u{feff}+1 1:0.5\n-1 2:1\n", None).unwrap();
        assert_eq!(ds.labels().as_slice(), &[1.0, -1.0]);
    }

    #[test]
    fn the_dense_size_is_checked_against_the_memory_limit() {
        // 31 bytes asking for a 1 × 4,000,000 matrix (32 MB): refused under a 1 MiB limit.
        let text = "+1 1:1 4000000:1\n";
        let limits = Limits::with_max_memory(1 << 20);
        let mut input = Input::from_reader_with(text.as_bytes(), "small.svm", &limits).unwrap();
        let e = libsvm_from_input(&mut input, None).unwrap_err();
        assert!(
            matches!(&e, DataError::TooLarge { needed: Some(32_000_000), limit, .. } if *limit == 1 << 20),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("small.svm") && msg.contains("LETHE_MAX_MEMORY"),
            "{msg}"
        );
    }

    #[test]
    fn sparse_entries_are_held_to_the_memory_limit() {
        let text = "1 1:1 2:1 3:1\n".repeat(100);
        let limits = Limits::with_max_memory(ENTRY_BYTES * 50);
        let mut input = Input::from_reader_with(text.as_bytes(), "many.svm", &limits).unwrap();
        let e = libsvm_from_input(&mut input, None).unwrap_err();
        assert!(
            matches!(&e, DataError::TooLarge { what, .. } if what.contains("sparse")),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_huge_dense_matrices() {
        let line = "1 9999999:1\n";
        let e = parse(&line.repeat(100), None).unwrap_err().to_string();
        assert!(e.contains("too large to densify"), "{e}");
        assert!(matches!(
            parse("1 1:1", Some(MAX_LIBSVM_FEATURES + 1)),
            Err(DataError::InvalidParameter { .. })
        ));
    }
}

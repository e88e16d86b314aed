//! Comma-separated numeric tables (plain or gzip, detected from the content).
//!
//! The format is the simple one of the project's data files: one optional header line, comma
//! separators, no quoting, one example per line, every field a number. Whitespace around fields
//! and blank lines are ignored, `\r\n` line ends and a UTF-8 byte-order mark are accepted.
//! One column is the label (the first by default), the others are the features in file order.
//! A header line made only of numbers is refused (it is almost always a data row of a file
//! without header, which `has_header: true` would silently drop), except the column numbers
//! `0,1,2,…` that pandas writes for unnamed columns.
//!
//! Errors name the file, the 1-based line and the 1-based column (with its header name when
//! there is a header).

use std::io::Read;
use std::path::Path;

use nalgebra::DVector;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::Input;
use crate::limits::Limits;

/// Which column of a CSV file holds the label.
///
/// In JSON configs it is written as a number (0-based index) or a string (header name).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum LabelColumn {
    /// The column at this 0-based position.
    Index(usize),
    /// The column whose header is this name (requires a header line; first match wins).
    Name(String),
}

impl Default for LabelColumn {
    /// The first column.
    fn default() -> Self {
        LabelColumn::Index(0)
    }
}

/// How to read a CSV file. The default is: label in the first column, one header line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CsvOptions {
    /// The label column (default: the first).
    pub label_column: LabelColumn,
    /// Whether the first non-blank line is a header of column names (default: true).
    pub has_header: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            label_column: LabelColumn::default(),
            has_header: true,
        }
    }
}

/// A parsed CSV file: the dataset plus the column names from the header, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    /// The examples: features are every column but the label's, in file order.
    pub dataset: Dataset,
    /// Names of the feature columns (header order, label column left out), when there is a
    /// header.
    pub feature_names: Option<Vec<String>>,
    /// Name of the label column, when there is a header.
    pub label_name: Option<String>,
}

/// Loads a CSV file (plain or gzip) as a dataset.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; [`DataError::Format`] naming the file, line
/// and column for an empty file, a file without data rows, a ragged row, an unparsable or
/// non-finite number, or a label column that does not exist;
/// [`DataError::InvalidParameter`] for [`LabelColumn::Name`] without a header.
///
/// # Example
/// ```no_run
/// use lethe_data::{load_csv, CsvOptions, LabelColumn};
/// let opts = CsvOptions { label_column: LabelColumn::Name("target".into()), has_header: true };
/// let ds = load_csv("data/diabetes.csv.gz".as_ref(), &opts)?;
/// # Ok::<(), lethe_data::DataError>(())
/// ```
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    load_csv_table(path, options).map(|t| t.dataset)
}

/// Loads a CSV file (plain or gzip) with its column names. Errors as [`load_csv`].
///
/// # Errors
/// As [`load_csv`].
pub fn load_csv_table(path: &Path, options: &CsvOptions) -> Result<CsvTable> {
    let mut input = Input::open(path)?;
    csv_from_input(&mut input, options)
}

/// As [`load_csv_table`], under explicit [`Limits`] instead of [`Limits::from_env`].
///
/// # Errors
/// As [`load_csv`], plus [`DataError::TooLarge`] when the dense matrix, a line or the
/// decompressed text exceeds a limit.
pub fn load_csv_table_with(path: &Path, options: &CsvOptions, limits: &Limits) -> Result<CsvTable> {
    let mut input = Input::open_with(path, limits)?;
    csv_from_input(&mut input, options)
}

/// Parses CSV content (plain or gzip) from any reader; `name` stands for the path in errors.
///
/// # Errors
/// As [`load_csv`].
pub fn parse_csv<R: Read>(
    reader: R,
    name: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<CsvTable> {
    let mut input = Input::from_reader(reader, name)?;
    csv_from_input(&mut input, options)
}

/// Position of the label column among `n_cols` columns.
fn resolve_label(
    input: &Input<'_>,
    options: &CsvOptions,
    header: Option<&[String]>,
    n_cols: usize,
    line: usize,
) -> Result<usize> {
    match &options.label_column {
        LabelColumn::Index(i) if *i < n_cols => Ok(*i),
        LabelColumn::Index(i) => Err(input.format_error(format!(
            "label column index {i} (0-based) is out of range: line {line} has {n_cols} columns"
        ))),
        LabelColumn::Name(name) => {
            let header = header.unwrap_or(&[]);
            header.iter().position(|h| h == name).ok_or_else(|| {
                let shown: Vec<&str> = header.iter().take(12).map(String::as_str).collect();
                let more = if header.len() > shown.len() {
                    ", …"
                } else {
                    ""
                };
                input.format_error(format!(
                    "no column named '{name}' in the header on line {line} (columns: {}{more})",
                    shown.join(", ")
                ))
            })
        }
    }
}

fn parse_number(
    input: &Input<'_>,
    field: &str,
    line: usize,
    column: usize,
    header: Option<&[String]>,
) -> Result<f64> {
    let describe = || match header.and_then(|h| h.get(column)) {
        Some(name) => format!("line {line}, column {} ('{name}')", column + 1),
        None => format!("line {line}, column {}", column + 1),
    };
    let field = field.trim();
    if field.is_empty() {
        return Err(input.format_error(format!("{}: empty field", describe())));
    }
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => {
            Err(input.format_error(format!("{}: '{field}' is not a finite number", describe())))
        }
        Err(_) => {
            let shown: String = field.chars().take(40).collect();
            Err(input.format_error(format!(
                "{}: cannot parse '{shown}' as a number",
                describe()
            )))
        }
    }
}

/// Whether header `names` are really a data row: every field is a number, and they are not the
/// column numbers `0, 1, 2, …` that a table exported without names (pandas' default) carries.
fn looks_like_data(names: &[String]) -> bool {
    let numeric = names.iter().all(|n| n.parse::<f64>().is_ok());
    let column_numbers = names
        .iter()
        .enumerate()
        .all(|(i, n)| n.parse::<usize>() == Ok(i));
    numeric && !column_numbers
}

/// The CSV parser shared by files, readers and the bundled datasets.
pub(crate) fn csv_from_input(input: &mut Input<'_>, options: &CsvOptions) -> Result<CsvTable> {
    if !options.has_header
        && let LabelColumn::Name(name) = &options.label_column
    {
        return Err(DataError::InvalidParameter {
            name: "label_column",
            value: format!("'{name}'"),
            reason: "a label column can only be chosen by name when the file has a header".into(),
        });
    }
    let mut raw = Vec::new();
    let mut line_no = 0usize;
    let mut saw_content = false;
    let mut header: Option<Vec<String>> = None;
    // (number of columns, label column, line that fixed the column count)
    let mut layout: Option<(usize, usize, usize)> = None;
    let mut features: Vec<f64> = Vec::new();
    let mut labels: Vec<f64> = Vec::new();
    while let Some(text) = input.read_text_line(&mut raw, &mut line_no)? {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        saw_content = true;
        if options.has_header && header.is_none() {
            let names: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
            if looks_like_data(&names) {
                let shown: String = text.chars().take(60).collect();
                let more = if text.chars().count() > 60 { "…" } else { "" };
                return Err(input.format_error(format!(
                    "line {line_no}: the header line '{shown}{more}' is all numbers, so it looks \
                     like a data row and would be lost; if the file has no header, set \
                     `has_header: false` (`dataset.has_header` in a config)"
                )));
            }
            let label = resolve_label(input, options, Some(&names), names.len(), line_no)?;
            layout = Some((names.len(), label, line_no));
            header = Some(names);
            continue;
        }
        let n_fields = text.split(',').count();
        let (n_cols, label_col, fixed_by) = match layout {
            Some(l) => l,
            None => {
                let label = resolve_label(input, options, None, n_fields, line_no)?;
                let l = (n_fields, label, line_no);
                layout = Some(l);
                l
            }
        };
        input.check_dense(labels.len() + 1, n_cols - 1)?;
        if n_fields != n_cols {
            let origin = if header.is_some() {
                format!("the header on line {fixed_by}")
            } else {
                format!("line {fixed_by}")
            };
            return Err(input.format_error(format!(
                "line {line_no}: {n_fields} fields, expected {n_cols} as in {origin}"
            )));
        }
        for (j, field) in text.split(',').enumerate() {
            let v = parse_number(input, field, line_no, j, header.as_deref())?;
            if j == label_col {
                labels.push(v);
            } else {
                features.push(v);
            }
        }
    }
    if !saw_content {
        return Err(input.format_error("the file is empty"));
    }
    let Some((n_cols, label_col, _)) = layout else {
        return Err(input.format_error("the file is empty"));
    };
    if labels.is_empty() {
        return Err(input.format_error("no data rows after the header"));
    }
    let d = n_cols - 1;
    let dataset = Dataset::from_row_major(&features, d, DVector::from_vec(labels))?;
    let (feature_names, label_name) = match header {
        Some(mut names) => {
            let label = names.remove(label_col);
            (Some(names), Some(label))
        }
        None => (None, None),
    };
    Ok(CsvTable {
        dataset,
        feature_names,
        label_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, options: &CsvOptions) -> Result<CsvTable> {
        parse_csv(text.as_bytes(), "t.csv", options)
    }

    #[test]
    fn parses_with_header_and_label_by_name() {
        let opts = CsvOptions {
            label_column: LabelColumn::Name("y".into()),
            has_header: true,
        };
        let t = parse("\u{feff}a, y ,b\r\n1,0,2\r\n\n 3 , 1 , 4e0 \n", &opts).unwrap();
        assert_eq!(t.label_name.as_deref(), Some("y"));
        assert_eq!(t.feature_names.unwrap(), vec!["a", "b"]);
        assert_eq!(t.dataset.n_samples(), 2);
        assert_eq!(t.dataset.features()[(1, 1)], 4.0);
        assert_eq!(t.dataset.labels()[1], 1.0);
    }

    #[test]
    fn parses_without_header() {
        let opts = CsvOptions {
            label_column: LabelColumn::Index(2),
            has_header: false,
        };
        let t = parse("1,2,-1\n3,4,1", &opts).unwrap();
        assert!(t.feature_names.is_none());
        assert_eq!(t.dataset.labels().as_slice(), &[-1.0, 1.0]);
        assert_eq!(t.dataset.features()[(1, 0)], 3.0);
    }

    #[test]
    fn an_all_numeric_header_is_refused_naming_the_option() {
        let e = parse("1,2,3\n0,4,5\n", &CsvOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("line 1") && msg.contains("has_header: false"),
            "{msg}"
        );
        // pandas' unnamed columns are names, not data.
        let t = parse("0,1,2\n0,4,5\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.dataset.n_samples(), 1);
        let t = parse("y,1,2\n0,4,5\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.feature_names.unwrap(), vec!["1", "2"]);
    }

    #[test]
    fn the_dense_matrix_is_checked_while_parsing() {
        let text = format!(
            "y,{}\n",
            (1..=100)
                .map(|j| format!("x{j}"))
                .collect::<Vec<_>>()
                .join(",")
        ) + &format!("1{}\n", ",0".repeat(100)).repeat(20);
        let limits = Limits::with_max_memory(100 * 8 * 10);
        let mut input = Input::from_reader_with(text.as_bytes(), "wide.csv", &limits).unwrap();
        let e = csv_from_input(&mut input, &CsvOptions::default()).unwrap_err();
        assert!(
            matches!(
                &e,
                DataError::TooLarge {
                    needed: Some(8800),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("11 × 100"), "{e}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let d = CsvOptions::default();
        let e = parse("y,a\n1,2\n0,x\n", &d).unwrap_err().to_string();
        assert!(e.contains("line 3, column 2 ('a')"), "{e}");
        let e = parse("y,a\n1,2\n0,2,3\n", &d).unwrap_err().to_string();
        assert!(e.contains("line 3: 3 fields, expected 2"), "{e}");
        let e = parse("y,a\n1,nan\n", &d).unwrap_err().to_string();
        assert!(e.contains("not a finite number"), "{e}");
        let e = parse("", &d).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = parse("y,a\n", &d).unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = parse("y,a\n1,\n", &d).unwrap_err().to_string();
        assert!(e.contains("empty field"), "{e}");
    }
}

//! Small real datasets compiled into the crate, so examples and quickstarts need no files.
//!
//! | name | rows × features | labels |
//! |---|---|---|
//! | `breast_cancer` | 569 × 30 | 0/1, `1` = benign (357), `0` = malignant (212) |
//! | `digits` | 1797 × 64 (8×8 pixels, integers 0..16) | digit 0..9 |
//!
//! Both are scikit-learn's copies of UCI datasets (Breast Cancer Wisconsin (Diagnostic) and the
//! test part of Optical Recognition of Handwritten Digits), stored as gzipped CSV with the label
//! in the first column; see `data/README.md` in the crate for origin, licences and checksums.
//! Labels are as in the files: use [`crate::preprocess::binary_labels_from_01`] or
//! [`crate::preprocess::binary_subset`] to get ±1 labels, and
//! [`crate::preprocess::normalize_rows`] before certified training.
//!
//! # Example
//! ```
//! use lethe_data::{bundled, preprocess};
//! let digits = bundled::digits()?;
//! let three_vs_eight = preprocess::binary_subset(&digits, 3.0, 8.0)?;
//! assert_eq!(three_vs_eight.n_samples(), 183 + 174);
//! # Ok::<(), lethe_data::DataError>(())
//! ```

use crate::csv::{CsvOptions, CsvTable, csv_from_input};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::Input;

/// A dataset shipped inside the crate.
#[derive(Clone, Copy, Debug)]
pub struct BundledDataset {
    /// The name accepted by [`by_name`].
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// The gzipped CSV bytes as shipped.
    pub bytes: &'static [u8],
    /// SHA-256 of [`BundledDataset::bytes`] (lowercase hex), as listed in `data/README.md`.
    pub sha256: &'static str,
}

/// Every bundled dataset.
pub const DATASETS: &[BundledDataset] = &[
    BundledDataset {
        name: "breast_cancer",
        description: "Breast Cancer Wisconsin (Diagnostic), 569 x 30, label 1 = benign, 0 = malignant",
        bytes: include_bytes!("../data/breast_cancer.csv.gz"),
        sha256: "21d7f9f602859dcde2b314ad42ae4d5dbe29f376cdfebbd8fd67eb3594485fa8",
    },
    BundledDataset {
        name: "digits",
        description: "Optical Recognition of Handwritten Digits, 1797 x 64 (8x8 pixels 0..16), label = digit 0..9",
        bytes: include_bytes!("../data/digits.csv.gz"),
        sha256: "4c100f4415fb5929a3cae5a42cf1bd0ce7271830ac16c25a79ccb4970693c0da",
    },
];

/// The names of the bundled datasets, as accepted by [`by_name`].
pub const NAMES: &[&str] = &["breast_cancer", "digits"];

/// The bundled dataset called `name`, if there is one.
pub fn info(name: &str) -> Option<&'static BundledDataset> {
    DATASETS.iter().find(|d| d.name == name)
}

fn unknown(name: &str) -> DataError {
    DataError::InvalidParameter {
        name: "dataset",
        value: name.to_string(),
        reason: format!("not a bundled dataset; bundled are: {}", NAMES.join(", ")),
    }
}

/// A bundled dataset with its column names.
///
/// # Errors
/// [`DataError::InvalidParameter`] for an unknown name.
pub fn table(name: &str) -> Result<CsvTable> {
    let data = info(name).ok_or_else(|| unknown(name))?;
    let display = format!("bundled:{}.csv.gz", data.name);
    let mut input = Input::from_bytes(data.bytes, display)?;
    csv_from_input(&mut input, &CsvOptions::default())
}

/// A bundled dataset by name (one of [`NAMES`]).
///
/// # Errors
/// [`DataError::InvalidParameter`] for an unknown name.
pub fn by_name(name: &str) -> Result<Dataset> {
    table(name).map(|t| t.dataset)
}

/// Breast Cancer Wisconsin (Diagnostic): 569 × 30 raw (unscaled) features, labels 0/1 with
/// `1` = benign (357 rows) and `0` = malignant (212 rows).
///
/// # Errors
/// None in practice (the bytes are checked by the crate's tests); the parser is the CSV loader.
pub fn breast_cancer() -> Result<Dataset> {
    by_name("breast_cancer")
}

/// Handwritten digits: 1797 × 64 features (8×8 images, integer intensities 0..16, row-major),
/// labels the digit 0..9.
///
/// # Errors
/// None in practice (the bytes are checked by the crate's tests); the parser is the CSV loader.
pub fn digits() -> Result<Dataset> {
    by_name("digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn names_match_datasets_and_checksums_hold() {
        assert_eq!(NAMES.len(), DATASETS.len());
        for (name, data) in NAMES.iter().zip(DATASETS) {
            assert_eq!(*name, data.name);
            let digest = crate::digest::hex(&Sha256::digest(data.bytes));
            assert_eq!(digest, data.sha256, "{name}");
        }
        assert!(matches!(
            by_name("mnist"),
            Err(DataError::InvalidParameter { .. })
        ));
    }
}

//! # lethe-data
//!
//! Datasets for certified data removal: one concrete [`Dataset`] type (n × d f64 features,
//! one row per example, and f64 labels), loaders for the formats researchers use (MNIST IDX,
//! CSV, LibSVM/SVMlight, each optionally gzipped), the preprocessing of Guo et al. (2020)
//! (class subsets relabelled ±1, pixel scaling, unit-norm rows), seeded splits and synthetic
//! generators, and small real datasets bundled in the crate.
//!
//! Every function that reads user input returns a typed [`DataError`] naming the file and what
//! is wrong; nothing panics on bad input. Gzip compression is detected from the content, never
//! from the file name.
//!
//! | module | what |
//! |---|---|
//! | [`digest`] | lowercase hex of digests |
//! | [`io`] | gzip-or-plain input with error classification |
//! | [`limits`] | memory, line and decompression limits of the loaders |
//! | [`idx`] | MNIST / Fashion-MNIST IDX files ([`load_mnist`]) |
//! | [`csv`] | numeric CSV tables ([`load_csv`]) |
//! | [`libsvm`] | LibSVM / SVMlight files ([`load_libsvm`]) |
//! | [`row_major`] | row-major values (numpy's C order) into a [`Dataset`] ([`Dataset::from_row_major`]) |
//! | [`preprocess`] | class subsets, ±1 labels, pixel scaling, row norms, standardisation, splits; the paper's 3-vs-8 task ([`three_vs_eight`], [`load_mnist_3v8`]) |
//! | [`synthetic`] | seeded planted logistic and linear data |
//! | [`bundled`] | breast cancer and digits, compiled into the crate |
//!
//! # Example: the paper's MNIST 3-vs-8 preprocessing, on the bundled digits
//! ```
//! use lethe_data::{bundled, preprocess, RowNormalization};
//! let digits = bundled::digits()?;
//! let ds = preprocess::binary_subset(&digits, 3.0, 8.0)?; // 3 → +1, 8 → −1
//! let ds = preprocess::normalize_rows(&ds, RowNormalization::UnitNorm)?;
//! ds.check_row_norms(1e-12)?;
//! // The same steps in one call (`None`: no pixel scaling); `load_mnist_3v8` reads the
//! // official MNIST files and scales their pixels by 255 as well.
//! assert_eq!(preprocess::three_vs_eight(&digits, None)?, ds);
//! let (train, test) = preprocess::train_test_split(&ds, 0.2, 0)?;
//! assert_eq!(train.n_samples() + test.n_samples(), 357);
//! # Ok::<(), lethe_data::DataError>(())
//! ```

pub mod bundled;
pub mod csv;
mod dataset;
pub mod digest;
mod error;
pub mod idx;
pub mod io;
pub mod libsvm;
pub mod limits;
pub mod preprocess;
pub mod row_major;
pub mod synthetic;

pub use csv::{
    CsvOptions, CsvTable, LabelColumn, load_csv, load_csv_table, load_csv_table_with, parse_csv,
};
pub use dataset::Dataset;
pub use error::{DataError, Result};
pub use idx::{
    IdxImages, MnistSplit, load_idx_dataset, load_idx_dataset_with, load_mnist, load_mnist_3v8,
    load_mnist_classes, load_mnist_classes_with, load_mnist_with,
};
pub use libsvm::{load_libsvm, load_libsvm_with, parse_libsvm};
pub use limits::{Limits, MAX_MEMORY_ENV};
pub use preprocess::{
    RowNormalization, Standardizer, binary_labels_from_01, binary_subset, class_subset,
    normalize_rows, one_vs_rest_label_vector, one_vs_rest_labels, scale_pixels, scale_pixels_by,
    shuffle_indices, split_indices, standardize, three_vs_eight, train_test_split,
};
pub use synthetic::{SyntheticOptions, linear_gaussian, logistic_planted};

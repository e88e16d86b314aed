//! Preprocessing: class subsets and relabelling, pixel scaling, row normalisation,
//! standardisation and seeded splits.
//!
//! The paper's MNIST pipeline (Guo et al. 2020, 3-vs-8) is
//! [`binary_subset`]`(ds, 3.0, 8.0)` → [`scale_pixels`] → [`normalize_rows`] with
//! [`RowNormalization::UnitNorm`]: [`three_vs_eight`] (on loaded digits; any pixel range,
//! [`scale_pixels_by`]) and [`crate::idx::load_mnist_3v8`] (from the official files) are that
//! pipeline, the one copy every example, benchmark and test calls. Every function returns a new dataset; row order is the input's
//! unless said otherwise, so row indices stay meaningful (for example as removal requests).

use std::str::FromStr;

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

fn check_class(name: &'static str, class: f64) -> Result<()> {
    if class.is_finite() {
        Ok(())
    } else {
        Err(DataError::InvalidParameter {
            name,
            value: class.to_string(),
            reason: "a class label must be finite".into(),
        })
    }
}

/// Keeps the rows whose label is `positive` or `negative` (file order kept) and relabels them
/// `positive → +1`, `negative → −1`. The paper's MNIST task is `binary_subset(ds, 3.0, 8.0)`.
///
/// # Errors
/// [`DataError::UnknownClass`] when either class does not occur;
/// [`DataError::InvalidParameter`] when the two classes are equal or not finite.
pub fn binary_subset(ds: &Dataset, positive: f64, negative: f64) -> Result<Dataset> {
    check_class("positive", positive)?;
    check_class("negative", negative)?;
    if positive == negative {
        return Err(DataError::InvalidParameter {
            name: "negative",
            value: negative.to_string(),
            reason: "the positive and negative classes must differ".into(),
        });
    }
    let labels = ds.labels();
    for class in [positive, negative] {
        if !labels.iter().any(|&y| y == class) {
            return Err(DataError::UnknownClass { class });
        }
    }
    let keep: Vec<usize> = (0..ds.n_samples())
        .filter(|&i| labels[i] == positive || labels[i] == negative)
        .collect();
    Ok(one_vs_rest_labels(&ds.select(&keep)?, positive))
}

/// Keeps the rows whose label is one of `classes` (file order kept), labels unchanged.
///
/// # Errors
/// [`DataError::UnknownClass`] for a class that does not occur;
/// [`DataError::InvalidParameter`] for an empty or non-finite class list.
pub fn class_subset(ds: &Dataset, classes: &[f64]) -> Result<Dataset> {
    if classes.is_empty() {
        return Err(DataError::InvalidParameter {
            name: "classes",
            value: "[]".into(),
            reason: "at least one class is required".into(),
        });
    }
    let labels = ds.labels();
    for &class in classes {
        check_class("classes", class)?;
        if !labels.iter().any(|&y| y == class) {
            return Err(DataError::UnknownClass { class });
        }
    }
    let keep: Vec<usize> = (0..ds.n_samples())
        .filter(|&i| classes.contains(&labels[i]))
        .collect();
    ds.select(&keep)
}

/// Maps 0/1 labels to ±1: rows labelled `positive_label` get `+1`, the others `−1`.
///
/// # Errors
/// [`DataError::InvalidParameter`] unless `positive_label` is 0 or 1;
/// [`DataError::InvalidLabel`] for a label that is neither 0 nor 1.
pub fn binary_labels_from_01(ds: &Dataset, positive_label: f64) -> Result<Dataset> {
    if positive_label != 0.0 && positive_label != 1.0 {
        return Err(DataError::InvalidParameter {
            name: "positive_label",
            value: positive_label.to_string(),
            reason: "must be 0 or 1".into(),
        });
    }
    if let Some((row, &value)) = ds
        .labels()
        .iter()
        .enumerate()
        .find(|(_, y)| **y != 0.0 && **y != 1.0)
    {
        return Err(DataError::InvalidLabel {
            row,
            value,
            expected: "0 or 1".into(),
        });
    }
    Ok(one_vs_rest_labels(ds, positive_label))
}

/// The one-vs-rest labels of `class`: `+1` where a label equals `class`, `−1` elsewhere. lethe's
/// one implementation: [`one_vs_rest_labels`] relabels a dataset with it, and lethe-models'
/// one-vs-rest training and lethe-removal's label sets call it on a label vector.
pub fn one_vs_rest_label_vector(labels: &DVector<f64>, class: f64) -> DVector<f64> {
    labels.map(|y| if y == class { 1.0 } else { -1.0 })
}

/// Relabels for one-vs-rest: `+1` where the label equals `class`, `−1` elsewhere
/// ([`one_vs_rest_label_vector`] of the labels, features unchanged).
pub fn one_vs_rest_labels(ds: &Dataset, class: f64) -> Dataset {
    Dataset::from_parts_unchecked(
        ds.features().clone(),
        one_vs_rest_label_vector(ds.labels(), class),
    )
}

/// Scales raw 0..255 pixels as the paper's code does: `x / 255 − 0.5` ([`scale_pixels_by`]
/// with m = 255, which cannot fail).
pub fn scale_pixels(ds: &Dataset) -> Dataset {
    Dataset::from_parts_unchecked(pixels_scaled(ds, 255.0), ds.labels().clone())
}

/// Scales raw pixels in 0..m to `x / m − 0.5`: m = 255 for MNIST ([`scale_pixels`]), 16 for
/// the bundled 8×8 digits; `dataset.pixel_scale` of an experiment config.
///
/// # Errors
/// [`DataError::InvalidParameter`] unless m is finite and > 0;
/// [`DataError::NonFiniteFeature`] when a scaled value overflows (a tiny m).
pub fn scale_pixels_by(ds: &Dataset, m: f64) -> Result<Dataset> {
    if !(m.is_finite() && m > 0.0) {
        return Err(DataError::InvalidParameter {
            name: "pixel_scale",
            value: m.to_string(),
            reason: "the pixel range must be a finite number > 0".into(),
        });
    }
    Dataset::new(pixels_scaled(ds, m), ds.labels().clone())
}

fn pixels_scaled(ds: &Dataset, m: f64) -> DMatrix<f64> {
    ds.features().map(|x| x / m - 0.5)
}

/// The paper's MNIST 3-vs-8 task (Guo et al. 2020, §5) from a dataset labelled by digit:
/// [`binary_subset`]`(ds, 3.0, 8.0)` (3 → +1, 8 → −1, file order kept), then
/// [`scale_pixels_by`]`(m)` when `pixel_max` is `Some(m)` (255 for MNIST's raw pixels, 16 for
/// the bundled digits; `None` leaves the features as they are), then [`normalize_rows`] with
/// [`RowNormalization::UnitNorm`]. [`crate::idx::load_mnist_3v8`] applies it to the official
/// files.
///
/// # Errors
/// As [`binary_subset`], [`scale_pixels_by`] and [`normalize_rows`].
pub fn three_vs_eight(ds: &Dataset, pixel_max: Option<f64>) -> Result<Dataset> {
    let ds = binary_subset(ds, 3.0, 8.0)?;
    let ds = match pixel_max {
        Some(m) => scale_pixels_by(&ds, m)?,
        None => ds,
    };
    normalize_rows(&ds, RowNormalization::UnitNorm)
}

/// How to bring rows to norm ≤ 1, as the removal bounds require.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RowNormalization {
    /// Every row scaled to Euclidean norm 1 (all-zero rows stay zero). The default.
    #[default]
    UnitNorm,
    /// Every row divided by the largest row norm, which keeps the rows' relative sizes.
    MaxNorm,
    /// Rows left as they are.
    None,
}

impl FromStr for RowNormalization {
    type Err = DataError;

    /// Parses `unit_norm`, `max_norm` or `none`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "unit_norm" => Ok(Self::UnitNorm),
            "max_norm" => Ok(Self::MaxNorm),
            "none" => Ok(Self::None),
            other => Err(DataError::InvalidParameter {
                name: "normalize",
                value: other.to_string(),
                reason: "expected unit_norm, max_norm or none".into(),
            }),
        }
    }
}

/// `(max |x_ij|, sqrt(Σ_j (x_ij / max)²))` for every row: the norm is the product, computed
/// without overflow or underflow in the squares.
fn scaled_row_norms(x: &DMatrix<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows();
    let mut max_abs = vec![0.0f64; n];
    for column in x.column_iter() {
        for (m, v) in max_abs.iter_mut().zip(column.iter()) {
            *m = m.max(v.abs());
        }
    }
    let mut sum = vec![0.0f64; n];
    for column in x.column_iter() {
        for ((s, v), m) in sum.iter_mut().zip(column.iter()).zip(&max_abs) {
            if *m > 0.0 {
                let t = v / m;
                *s += t * t;
            }
        }
    }
    (max_abs, sum.into_iter().map(f64::sqrt).collect())
}

/// Normalises rows (see [`RowNormalization`]).
///
/// `UnitNorm` divides each row first by its largest entry and then by the norm of the result,
/// so it is exact to rounding (norm 1 within a few ulps) even for very large or tiny values.
///
/// # Errors
/// [`DataError::InvalidParameter`] when, for `MaxNorm`, the largest row norm overflows f64.
pub fn normalize_rows(ds: &Dataset, how: RowNormalization) -> Result<Dataset> {
    let x = ds.features();
    let features = match how {
        RowNormalization::None => x.clone(),
        RowNormalization::UnitNorm => {
            let (max_abs, scaled) = scaled_row_norms(x);
            let mut out = x.clone();
            for mut column in out.column_iter_mut() {
                for ((v, m), s) in column.iter_mut().zip(&max_abs).zip(&scaled) {
                    if *m > 0.0 {
                        *v = (*v / m) / s;
                    }
                }
            }
            out
        }
        RowNormalization::MaxNorm => {
            let (max_abs, scaled) = scaled_row_norms(x);
            let largest = max_abs
                .iter()
                .zip(&scaled)
                .map(|(m, s)| m * s)
                .fold(0.0f64, f64::max);
            if !largest.is_finite() {
                return Err(DataError::InvalidParameter {
                    name: "normalize",
                    value: "max_norm".into(),
                    reason: "the largest row norm overflows f64".into(),
                });
            }
            if largest > 0.0 {
                x.map(|v| v / largest)
            } else {
                x.clone()
            }
        }
    };
    Dataset::new(features, ds.labels().clone())
}

/// Column standardisation fitted on one dataset (usually the training set) and applied to any
/// dataset of the same dimension: `(x_j − mean_j) / scale_j`, with the population standard
/// deviation as the scale and `scale_j = 1` for a constant column.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    mean: DVector<f64>,
    scale: DVector<f64>,
}

impl Standardizer {
    /// Fits column means and standard deviations.
    ///
    /// # Errors
    /// [`DataError::Empty`] for a dataset without rows; [`DataError::InvalidParameter`] when a
    /// column's mean or spread overflows f64.
    pub fn fit(ds: &Dataset) -> Result<Self> {
        let n = ds.n_samples();
        if n == 0 {
            return Err(DataError::Empty {
                context: "cannot fit a standardizer on a dataset without rows".into(),
            });
        }
        let d = ds.n_features();
        let mut mean = DVector::zeros(d);
        let mut scale = DVector::from_element(d, 1.0);
        for (j, column) in ds.features().column_iter().enumerate() {
            let (lo, hi) = column
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            if lo == hi {
                mean[j] = lo;
                continue;
            }
            let m = column.iter().sum::<f64>() / n as f64;
            let spread = column.iter().fold(0.0f64, |a, v| a.max((v - m).abs()));
            let var = column
                .iter()
                .map(|v| {
                    let t = (v - m) / spread;
                    t * t
                })
                .sum::<f64>()
                / n as f64;
            let s = spread * var.sqrt();
            if !m.is_finite() || !s.is_finite() {
                return Err(DataError::InvalidParameter {
                    name: "features",
                    value: format!("column {j}"),
                    reason: "its mean or standard deviation overflows f64".into(),
                });
            }
            mean[j] = m;
            if s > 0.0 {
                scale[j] = s;
            }
        }
        Ok(Self { mean, scale })
    }

    /// The fitted column means.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// The fitted column scales (standard deviations; 1 for constant columns).
    pub fn scale(&self) -> &DVector<f64> {
        &self.scale
    }

    /// Applies the fitted transformation; labels are unchanged.
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] when `ds` has another number of features;
    /// [`DataError::NonFiniteFeature`] if a transformed value overflows.
    pub fn transform(&self, ds: &Dataset) -> Result<Dataset> {
        if ds.n_features() != self.mean.len() {
            return Err(DataError::DimensionMismatch {
                expected: self.mean.len(),
                found: ds.n_features(),
                context: "dataset given to a fitted standardizer".into(),
            });
        }
        let mut x = ds.features().clone();
        for (j, mut column) in x.column_iter_mut().enumerate() {
            let (m, s) = (self.mean[j], self.scale[j]);
            for v in column.iter_mut() {
                *v = (*v - m) / s;
            }
        }
        Dataset::new(x, ds.labels().clone())
    }
}

/// Standardises `train` and `test` with column statistics fitted on `train` only.
///
/// # Errors
/// As [`Standardizer::fit`] and [`Standardizer::transform`].
pub fn standardize(train: &Dataset, test: &Dataset) -> Result<(Dataset, Dataset)> {
    let s = Standardizer::fit(train)?;
    Ok((s.transform(train)?, s.transform(test)?))
}

/// A seeded random permutation of `0..n` (ChaCha20 seeded with `seed_from_u64(seed)`, then a
/// Fisher–Yates shuffle); the same seed always gives the same permutation.
pub fn shuffle_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng);
    idx
}

/// The row indices of a seeded train/test split of `n` rows: `(train, test)`, each sorted
/// ascending (so both sides keep the original row order).
///
/// The test side has `⌈test_fraction · n⌉` rows (with a 1e-9 tolerance, so `0.3 · 10` gives 3)
/// and is the first part of [`shuffle_indices`]`(n, seed)`.
///
/// # Errors
/// [`DataError::InvalidParameter`] unless `0 < test_fraction < 1` and both sides are non-empty.
pub fn split_indices(n: usize, test_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::InvalidParameter {
            name: "test_fraction",
            value: test_fraction.to_string(),
            reason: "must lie strictly between 0 and 1".into(),
        });
    }
    let n_test = ((test_fraction * n as f64) - 1e-9).ceil().max(0.0) as usize;
    if n_test == 0 || n_test >= n {
        return Err(DataError::InvalidParameter {
            name: "test_fraction",
            value: test_fraction.to_string(),
            reason: format!(
                "splitting {n} rows gives {n_test} test and {} training rows; both must be \
                 non-empty",
                n.saturating_sub(n_test)
            ),
        });
    }
    let perm = shuffle_indices(n, seed);
    let mut test = perm[..n_test].to_vec();
    let mut train = perm[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok((train, test))
}

/// A seeded train/test split: `(train, test)`, see [`split_indices`]. Rows keep their original
/// relative order on both sides.
///
/// # Errors
/// As [`split_indices`].
pub fn train_test_split(ds: &Dataset, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let (train, test) = split_indices(ds.n_samples(), test_fraction, seed)?;
    Ok((ds.select(&train)?, ds.select(&test)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds() -> Dataset {
        Dataset::from_rows(
            &[
                vec![3.0, 4.0],
                vec![0.0, 0.0],
                vec![1e300, 1e300],
                vec![-1e-300, 0.0],
                vec![6.0, 8.0],
            ],
            vec![3.0, 8.0, 1.0, 8.0, 3.0],
        )
        .unwrap()
    }

    #[test]
    fn unit_norm_handles_extremes() {
        let u = normalize_rows(&ds(), RowNormalization::UnitNorm).unwrap();
        let norms = u.row_norms();
        for (i, n) in norms.iter().enumerate() {
            let want = if i == 1 { 0.0 } else { 1.0 };
            assert!((n - want).abs() < 1e-12, "row {i}: {n}");
        }
        assert_eq!(u.features()[(0, 0)], 0.6);
    }

    #[test]
    fn max_norm_keeps_ratios() {
        let d = Dataset::from_rows(&[vec![3.0, 4.0], vec![0.6, 0.8]], vec![1.0, 1.0]).unwrap();
        let m = normalize_rows(&d, RowNormalization::MaxNorm).unwrap();
        let norms = m.row_norms();
        assert!((norms[0] - 1.0).abs() < 1e-15 && (norms[1] - 0.2).abs() < 1e-15);
        assert_eq!(
            "max_norm".parse::<RowNormalization>().unwrap(),
            RowNormalization::MaxNorm
        );
        assert!("unit".parse::<RowNormalization>().is_err());
    }

    #[test]
    fn subsets_and_labels() {
        let b = binary_subset(&ds(), 3.0, 8.0).unwrap();
        assert_eq!(b.labels().as_slice(), &[1.0, -1.0, -1.0, 1.0]);
        assert_eq!(b.features()[(3, 0)], 6.0);
        assert!(matches!(
            binary_subset(&ds(), 3.0, 5.0),
            Err(DataError::UnknownClass { class: 5.0 })
        ));
        assert!(matches!(
            binary_subset(&ds(), 3.0, 3.0),
            Err(DataError::InvalidParameter { .. })
        ));
        let c = class_subset(&ds(), &[1.0, 3.0]).unwrap();
        assert_eq!(c.labels().as_slice(), &[3.0, 1.0, 3.0]);
        assert!(matches!(
            class_subset(&ds(), &[2.0]),
            Err(DataError::UnknownClass { .. })
        ));
        let o = one_vs_rest_labels(&ds(), 8.0);
        assert_eq!(o.labels().as_slice(), &[-1.0, 1.0, -1.0, 1.0, -1.0]);
        assert!(matches!(
            binary_labels_from_01(&ds(), 1.0),
            Err(DataError::InvalidLabel { row: 0, .. })
        ));
    }
}

//! Shared fixtures: the bundled digits 3-vs-8 task, split into disjoint parts.

#![allow(dead_code)]

use lethe_data::{Dataset, RowNormalization, bundled, preprocess};
use nalgebra::{DMatrix, DVector};

/// Digits 3 (+1) vs 8 (−1), unit-norm rows, shuffled with `seed` and cut into consecutive
/// parts of the given sizes (the rest of the 357 rows is returned last).
pub fn digits_parts(sizes: &[usize], seed: u64) -> Vec<Dataset> {
    let digits = bundled::digits().unwrap();
    let ds = preprocess::three_vs_eight(&digits, None).unwrap();
    shuffled_parts(&ds, sizes, seed)
}

/// Rows of `a` followed by rows of `b`.
pub fn stack(a: &Dataset, b: &Dataset) -> Dataset {
    a.stack(b).unwrap()
}

/// A dataset with no rows and `d` features.
pub fn empty(d: usize) -> Dataset {
    Dataset::new(DMatrix::zeros(0, d), DVector::zeros(0)).unwrap()
}

/// `[true; m] ++ [false; n]`.
pub fn mask(m: usize, n: usize) -> Vec<bool> {
    (0..m + n).map(|i| i < m).collect()
}

/// A planted logistic problem (d = 50, unit-norm rows, signal 2: labels are noisy, so a model
/// trained on 40 rows fits them perfectly and generalises at about 70 %), cut into parts.
pub fn synthetic_parts(sizes: &[usize], seed: u64) -> Vec<Dataset> {
    let total: usize = sizes.iter().sum();
    let (ds, _) = lethe_data::synthetic::logistic_planted(
        total,
        50,
        seed,
        &lethe_data::SyntheticOptions { signal: 2.0 },
    )
    .unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    for &s in sizes {
        out.push(ds.select(&(start..start + s).collect::<Vec<_>>()).unwrap());
        start += s;
    }
    out
}

/// The ten-class bundled digits, unit-norm rows, shuffled with `seed` and cut into parts
/// (the rest last).
pub fn digits10_parts(sizes: &[usize], seed: u64) -> Vec<Dataset> {
    let digits = bundled::digits().unwrap();
    let ds = preprocess::normalize_rows(&digits, RowNormalization::UnitNorm).unwrap();
    shuffled_parts(&ds, sizes, seed)
}

/// `ds` shuffled with `seed` and cut into parts of `sizes` (the rest last).
fn shuffled_parts(ds: &Dataset, sizes: &[usize], seed: u64) -> Vec<Dataset> {
    let perm = preprocess::shuffle_indices(ds.n_samples(), seed);
    let mut out = Vec::new();
    let mut start = 0;
    for &s in sizes {
        out.push(ds.select(&perm[start..start + s]).unwrap());
        start += s;
    }
    out.push(ds.select(&perm[start..]).unwrap());
    out
}

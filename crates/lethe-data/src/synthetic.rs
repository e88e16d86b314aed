//! Seeded synthetic data with a planted model, for tests and controlled experiments.
//!
//! Rows are standard Gaussian vectors scaled to unit Euclidean norm, so they satisfy the
//! `‖x_i‖ ≤ 1` precondition of the removal bounds. Everything is drawn from one
//! `ChaCha20Rng::seed_from_u64(seed)` stream in a fixed order (first `w_true`, then row by row:
//! the `d` coordinates, then that row's label draw), so a seed reproduces the data exactly.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::libsvm::MAX_DENSE_ENTRIES;

/// Options of [`logistic_planted`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SyntheticOptions {
    /// Scale of the planted weights: `w_true = signal · g` with `g ~ N(0, I_d)`. As rows have
    /// unit norm, every margin `w_trueᵀx` is distributed `N(0, signal²)` whatever `d` is, so
    /// larger values give cleaner labels. Default 3.
    pub signal: f64,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        Self { signal: 3.0 }
    }
}

fn check_shape(n: usize, d: usize) -> Result<()> {
    if n == 0 || d == 0 {
        return Err(DataError::InvalidParameter {
            name: if n == 0 { "n" } else { "d" },
            value: "0".into(),
            reason: "synthetic data needs at least one row and one feature".into(),
        });
    }
    match n.checked_mul(d) {
        Some(total) if total <= MAX_DENSE_ENTRIES => Ok(()),
        _ => Err(DataError::InvalidParameter {
            name: "n",
            value: format!("{n} (with d = {d})"),
            reason: format!("n · d must be at most {MAX_DENSE_ENTRIES}"),
        }),
    }
}

fn gaussian_vector(rng: &mut ChaCha20Rng, d: usize) -> DVector<f64> {
    DVector::from_iterator(d, (0..d).map(|_| rng.sample::<f64, _>(StandardNormal)))
}

/// Draws `n` unit-norm Gaussian rows, calling `label(rng, row)` after each row is drawn.
fn unit_rows(
    rng: &mut ChaCha20Rng,
    n: usize,
    d: usize,
    mut label: impl FnMut(&mut ChaCha20Rng, &[f64]) -> f64,
) -> (DMatrix<f64>, DVector<f64>) {
    let mut x = DMatrix::zeros(n, d);
    let mut y = DVector::zeros(n);
    let mut row = vec![0.0; d];
    for i in 0..n {
        // A zero Gaussian vector has probability 0; redraw rather than divide by zero.
        let norm = loop {
            for v in row.iter_mut() {
                *v = rng.sample(StandardNormal);
            }
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                break norm;
            }
        };
        for (j, v) in row.iter_mut().enumerate() {
            *v /= norm;
            x[(i, j)] = *v;
        }
        y[i] = label(rng, &row);
    }
    (x, y)
}

fn dot(w: &DVector<f64>, x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Binary classification data from a planted logistic model: unit-norm Gaussian rows,
/// `w_true = signal · N(0, I_d)`, and `y_i = +1` with probability `σ(w_trueᵀx_i)`, else `−1`.
/// Returns the dataset and `w_true`.
///
/// # Errors
/// [`DataError::InvalidParameter`] for `n = 0`, `d = 0`, a huge `n · d`, or a non-finite or
/// negative `signal`.
///
/// # Example
/// ```
/// use lethe_data::synthetic::{logistic_planted, SyntheticOptions};
/// let (ds, w) = logistic_planted(100, 5, 42, &SyntheticOptions::default())?;
/// assert_eq!((ds.n_samples(), ds.n_features(), w.len()), (100, 5, 5));
/// ds.check_row_norms(1e-12)?;
/// ds.check_binary_labels()?;
/// # Ok::<(), lethe_data::DataError>(())
/// ```
pub fn logistic_planted(
    n: usize,
    d: usize,
    seed: u64,
    options: &SyntheticOptions,
) -> Result<(Dataset, DVector<f64>)> {
    check_shape(n, d)?;
    if !(options.signal.is_finite() && options.signal >= 0.0) {
        return Err(DataError::InvalidParameter {
            name: "signal",
            value: options.signal.to_string(),
            reason: "must be finite and non-negative".into(),
        });
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let w = gaussian_vector(&mut rng, d) * options.signal;
    let (x, y) = unit_rows(&mut rng, n, d, |rng, row| {
        let p = sigmoid(dot(&w, row));
        if rng.random::<f64>() < p { 1.0 } else { -1.0 }
    });
    Ok((Dataset::new(x, y)?, w))
}

/// Regression data from a planted linear model: unit-norm Gaussian rows,
/// `w_true ~ N(0, I_d)`, and `y_i = w_trueᵀx_i + noise_std · ε_i` with `ε_i ~ N(0, 1)`.
/// Returns the dataset and `w_true`.
///
/// # Errors
/// [`DataError::InvalidParameter`] for `n = 0`, `d = 0`, a huge `n · d`, or a non-finite or
/// negative `noise_std`.
pub fn linear_gaussian(
    n: usize,
    d: usize,
    noise_std: f64,
    seed: u64,
) -> Result<(Dataset, DVector<f64>)> {
    check_shape(n, d)?;
    if !(noise_std.is_finite() && noise_std >= 0.0) {
        return Err(DataError::InvalidParameter {
            name: "noise_std",
            value: noise_std.to_string(),
            reason: "must be finite and non-negative".into(),
        });
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let w = gaussian_vector(&mut rng, d);
    let (x, y) = unit_rows(&mut rng, n, d, |rng, row| {
        dot(&w, row) + noise_std * rng.sample::<f64, _>(StandardNormal)
    });
    Ok((Dataset::new(x, y)?, w))
}

/// The numeric test fixture of lethe's design reference (DESIGN.md §1): six rows in R²,
/// (1, 2), (2, −1), (−1, −1.5), (0.5, 0.5), (−2, 1), (1.5, −0.5), each divided by its norm, with
/// labels y = (+1, +1, −1, +1, −1, −1). With λ = 0.1, b = (0.3, −0.2) and the logistic loss its
/// optimum is w* = (0.649819846191317, 0.9405570922681326); the reference also gives the
/// removal step, every bound and the retrained weights, so any implementation can be checked
/// against it.
pub fn design_fixture() -> Dataset {
    const RAW: [[f64; 2]; 6] = [
        [1.0, 2.0],
        [2.0, -1.0],
        [-1.0, -1.5],
        [0.5, 0.5],
        [-2.0, 1.0],
        [1.5, -0.5],
    ];
    let rows: Vec<Vec<f64>> = RAW
        .iter()
        .map(|r| {
            let n = (r[0] * r[0] + r[1] * r[1]).sqrt();
            vec![r[0] / n, r[1] / n]
        })
        .collect();
    Dataset::from_rows(&rows, vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
        .expect("the fixture rows are finite and rectangular")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_seeded_and_planted() {
        let opts = SyntheticOptions { signal: 10.0 };
        let (a, w) = logistic_planted(2000, 4, 7, &opts).unwrap();
        let (b, w2) = logistic_planted(2000, 4, 7, &opts).unwrap();
        assert_eq!(a, b);
        assert_eq!(w, w2);
        let (c, _) = logistic_planted(2000, 4, 8, &opts).unwrap();
        assert_ne!(a, c);
        a.check_row_norms(1e-12).unwrap();
        a.check_binary_labels().unwrap();
        for norm in a.row_norms() {
            assert!((norm - 1.0).abs() < 1e-12);
        }
        // With a strong signal, the planted model classifies most rows correctly.
        let agree = (0..a.n_samples())
            .filter(|&i| (a.row(i) * &w)[0].signum() == a.labels()[i])
            .count();
        assert!(agree as f64 > 0.85 * 2000.0, "{agree}");
    }

    #[test]
    fn linear_without_noise_is_exact() {
        let (ds, w) = linear_gaussian(50, 3, 0.0, 1).unwrap();
        let pred = ds.features() * &w;
        assert!((pred - ds.labels()).amax() < 1e-12);
        assert!(linear_gaussian(0, 3, 0.0, 1).is_err());
        assert!(linear_gaussian(3, 0, 0.0, 1).is_err());
        assert!(linear_gaussian(3, 3, -1.0, 1).is_err());
        assert!(linear_gaussian(usize::MAX, 3, 1.0, 1).is_err());
        let bad = SyntheticOptions { signal: f64::NAN };
        assert!(logistic_planted(3, 3, 1, &bad).is_err());
    }
}

//! Dense kernels behind the public nalgebra types.
//!
//! nalgebra stays the public type; the hot kernels (the weighted Gram matrix `XᵀDX`, the
//! Cholesky factorisation and the symmetric eigen-solve) run in faer on zero-copy views of
//! nalgebra's column-major storage. Measured on the 2-core development machine (MNIST 3-vs-8,
//! 11,982 × 784): nalgebra's `tr_mul` takes seconds for `XᵀX` where a blocked GEMM takes a
//! tenth of a second, and nalgebra's unblocked Cholesky is several times slower than faer's.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::linalg::solvers::Solve;
use faer::{Accum, MatMut, MatRef, Par, Side};
use nalgebra::{DMatrix, DVector};

/// Errors of the dense kernels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinalgError {
    /// The matrix handed to the Cholesky factorisation is not (numerically) positive definite.
    #[error("matrix is not positive definite: non-positive pivot at index {index}")]
    NotPositiveDefinite {
        /// The pivot where the factorisation broke down.
        index: usize,
    },
    /// The symmetric eigen-solver did not converge.
    #[error("symmetric eigen-solver did not converge")]
    EigenNoConvergence,
    /// A weight of the Gram matrix is negative (the loss would not be convex).
    #[error("weight {index} of the Gram matrix is negative or not finite: {value}")]
    NegativeWeight {
        /// Row whose weight is invalid.
        index: usize,
        /// The weight.
        value: f64,
    },
}

/// The parallelism the kernels use: faer's rayon backend on the global pool (both cores here).
pub fn parallelism() -> Par {
    Par::rayon(0)
}

/// A zero-copy faer view of a nalgebra matrix.
pub fn as_faer(m: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

/// A zero-copy mutable faer view of a nalgebra matrix.
pub fn as_faer_mut(m: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = m.shape();
    MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// `XᵀDX + ridge·I` for `D = diag(weights)` with non-negative weights.
///
/// Computed as `YᵀY` with `Y = D^{1/2}X` by a lower-triangular (SYRK-like) GEMM, then mirrored:
/// half the flops of a general product. Rows with weight zero contribute nothing, which is how
/// removed rows are left out without copying the data.
pub fn weighted_gram(
    x: &DMatrix<f64>,
    weights: &[f64],
    ridge: f64,
) -> Result<DMatrix<f64>, LinalgError> {
    assert_eq!(x.nrows(), weights.len(), "one weight per row");
    if let Some((index, &value)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(**w >= 0.0) || !w.is_finite())
    {
        return Err(LinalgError::NegativeWeight { index, value });
    }
    let (n, d) = x.shape();
    let sqrt_w: Vec<f64> = weights.iter().map(|w| w.sqrt()).collect();
    let mut y = DMatrix::<f64>::zeros(n, d);
    for (mut ycol, xcol) in y.column_iter_mut().zip(x.column_iter()) {
        for ((yi, xi), si) in ycol.iter_mut().zip(xcol.iter()).zip(&sqrt_w) {
            *yi = xi * si;
        }
    }
    let mut h = DMatrix::<f64>::zeros(d, d);
    {
        let yf = as_faer(&y);
        matmul(
            as_faer_mut(&mut h),
            BlockStructure::TriangularLower,
            Accum::Replace,
            yf.transpose(),
            BlockStructure::Rectangular,
            yf,
            BlockStructure::Rectangular,
            1.0,
            parallelism(),
        );
    }
    for j in 0..d {
        h[(j, j)] += ridge;
        for i in 0..j {
            h[(i, j)] = h[(j, i)];
        }
    }
    Ok(h)
}

/// Below this many matrix entries the kernels run on one thread (thread start-up would dominate).
const PARALLEL_MIN_ENTRIES: usize = 1 << 17;

fn par_for(entries: usize) -> Par {
    if entries >= PARALLEL_MIN_ENTRIES {
        parallelism()
    } else {
        Par::Seq
    }
}

/// `X v` (one pass over X; faer's GEMV, on both cores for large X — memory bandwidth per core
/// is the limit: 7.8 ms on one core, 2.3 ms on two for MNIST 3-vs-8 on the development machine).
pub fn mat_vec(x: &DMatrix<f64>, v: &DVector<f64>) -> DVector<f64> {
    assert_eq!(x.ncols(), v.len(), "X v: dimension mismatch");
    let mut out = DVector::zeros(x.nrows());
    matmul_plain(
        MatMut::from_column_major_slice_mut(out.as_mut_slice(), x.nrows(), 1),
        as_faer(x),
        MatRef::from_column_major_slice(v.as_slice(), v.len(), 1),
        par_for(x.len()),
    );
    out
}

/// `Xᵀ r` (one pass over X).
pub fn mat_t_vec(x: &DMatrix<f64>, r: &DVector<f64>) -> DVector<f64> {
    assert_eq!(x.nrows(), r.len(), "Xᵀ r: dimension mismatch");
    let mut out = DVector::zeros(x.ncols());
    matmul_plain(
        MatMut::from_column_major_slice_mut(out.as_mut_slice(), x.ncols(), 1),
        as_faer(x).transpose(),
        MatRef::from_column_major_slice(r.as_slice(), r.len(), 1),
        par_for(x.len()),
    );
    out
}

fn matmul_plain(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>, par: Par) {
    faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0, par);
}

/// A Cholesky factor `H = L Lᵀ` of a symmetric positive-definite matrix.
///
/// Solving uses two triangular solves; no inverse is ever formed.
#[derive(Debug, Clone)]
pub struct Cholesky {
    llt: faer::linalg::solvers::Llt<f64>,
}

impl Cholesky {
    /// Factors `h` (only its lower triangle is read).
    pub fn factor(h: &DMatrix<f64>) -> Result<Self, LinalgError> {
        let llt = as_faer(h).llt(Side::Lower).map_err(|e| match e {
            faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
                LinalgError::NotPositiveDefinite { index }
            }
        })?;
        Ok(Self { llt })
    }

    /// Dimension of the factored matrix.
    pub fn dim(&self) -> usize {
        self.llt.L().nrows()
    }

    /// Solves `H x = rhs`.
    pub fn solve(&self, rhs: &DVector<f64>) -> DVector<f64> {
        let mut out = rhs.clone();
        self.solve_in_place(&mut out);
        out
    }

    /// Solves `H x = rhs` in place.
    pub fn solve_in_place(&self, rhs: &mut DVector<f64>) {
        let n = rhs.len();
        self.llt.solve_in_place(MatMut::from_column_major_slice_mut(
            rhs.as_mut_slice(),
            n,
            1,
        ));
    }

    /// The lower-triangular factor L as a nalgebra matrix (a copy).
    pub fn lower(&self) -> DMatrix<f64> {
        let l = self.llt.L();
        DMatrix::from_fn(
            l.nrows(),
            l.ncols(),
            |i, j| if i >= j { l[(i, j)] } else { 0.0 },
        )
    }
}

/// A rigorous upper bound on the spectral norm ‖X‖₂ of an `n × d` matrix whose rows with
/// `weights[i] == 0` are ignored (pass all ones for the whole matrix).
///
/// ‖X‖₂² = λ_max(XᵀX). The Gram matrix is formed by GEMM and its eigenvalues by faer's
/// symmetric eigen-solver; both are backward stable, so the computed λ_max is within
/// `c·(n + d)·u·‖X‖_F²` of the exact one (u the unit round-off). We add the allowance
/// `4·(n + d)·u·‖X‖_F²` and never return more than ‖X‖_F (plus the same allowance), which is
/// itself a valid bound.
/// This is an upper bound by construction, unlike power iteration, which approaches
/// ‖X‖₂ from below.
pub fn spectral_norm_upper_bound(x: &DMatrix<f64>, weights: &[f64]) -> Result<f64, LinalgError> {
    let (n, d) = x.shape();
    if n == 0 || d == 0 {
        return Ok(0.0);
    }
    let gram = weighted_gram(x, weights, 0.0)?;
    spectral_norm_upper_bound_from_gram(&gram, n)
}

/// The same bound from a precomputed Gram matrix `G = XᵀX` of `n` rows (only its lower triangle
/// is read): √(λ_max(G) + 4(n + d)·u·tr(G)), capped at √(tr(G) + 4(n + d)·u·tr(G)) ≥ ‖X‖_F.
pub fn spectral_norm_upper_bound_from_gram(
    gram: &DMatrix<f64>,
    n: usize,
) -> Result<f64, LinalgError> {
    let d = gram.nrows();
    if d == 0 {
        return Ok(0.0);
    }
    let frobenius_sq: f64 = (0..d).map(|j| gram[(j, j)]).sum::<f64>().max(0.0);
    let eig = as_faer(gram)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|_| LinalgError::EigenNoConvergence)?;
    let lambda_max = eig.iter().copied().fold(0.0_f64, f64::max);
    let allowance = 4.0 * (n + d) as f64 * f64::EPSILON * frobenius_sq;
    // The cap ‖X‖_F needs the same allowance: tr(G) is a sum of n·d squares and its computed
    // value can be below the exact ‖X‖_F² by ~(n + d)·u relative, which matters when X has
    // rank one (then ‖X‖₂ = ‖X‖_F exactly).
    Ok((lambda_max + allowance)
        .sqrt()
        .min((frobenius_sq + allowance).sqrt()))
}

/// Removes rows from a Gram matrix in place: `G ← G − Σ_j x_j x_jᵀ` (full matrix, O(md²)).
pub fn gram_downdate(gram: &mut DMatrix<f64>, x: &DMatrix<f64>, rows: &[usize]) {
    let d = gram.nrows();
    for &j in rows {
        let xj: Vec<f64> = (0..d).map(|k| x[(j, k)]).collect();
        for (c, xc) in xj.iter().enumerate() {
            let mut col = gram.column_mut(c);
            for (r, xr) in xj.iter().enumerate() {
                col[r] -= xr * xc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, d: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n, d, |i, j| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4)
    }

    #[test]
    fn gram_matches_naive_product() {
        let x = sample(40, 7);
        let w: Vec<f64> = (0..40).map(|i| (i % 5) as f64 * 0.3).collect();
        let g = weighted_gram(&x, &w, 0.5).unwrap();
        let naive = x.transpose() * DMatrix::from_diagonal(&DVector::from_vec(w)) * &x
            + DMatrix::identity(7, 7) * 0.5;
        assert!((g - naive).abs().max() < 1e-12);
    }

    #[test]
    fn cholesky_solves_and_rejects_indefinite() {
        let x = sample(30, 5);
        let h = weighted_gram(&x, &[1.0; 30], 1.0).unwrap();
        let chol = Cholesky::factor(&h).unwrap();
        let b = DVector::from_fn(5, |i, _| i as f64 - 2.0);
        let sol = chol.solve(&b);
        assert!((&h * sol - b).norm() < 1e-12);
        let l = chol.lower();
        assert!((&l * l.transpose() - &h).abs().max() < 1e-12);
        let bad = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(matches!(
            Cholesky::factor(&bad),
            Err(LinalgError::NotPositiveDefinite { index: 1 })
        ));
    }

    #[test]
    fn spectral_bound_is_above_the_svd_and_below_frobenius() {
        let x = sample(50, 6);
        let exact = x.clone().svd(false, false).singular_values.max();
        let bound = spectral_norm_upper_bound(&x, &[1.0; 50]).unwrap();
        assert!(
            bound >= exact && bound <= exact * (1.0 + 1e-10),
            "{bound} vs {exact}"
        );
        assert!(bound <= x.norm() * (1.0 + 1e-15));
    }

    #[test]
    fn negative_weights_are_refused() {
        let x = sample(3, 2);
        assert!(matches!(
            weighted_gram(&x, &[1.0, -1.0, 0.0], 0.0),
            Err(LinalgError::NegativeWeight { index: 1, .. })
        ));
        assert!(weighted_gram(&x, &[1.0, f64::NAN, 0.0], 0.0).is_err());
    }
}

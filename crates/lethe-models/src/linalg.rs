//! Dense kernels behind the public nalgebra types.
//!
//! nalgebra stays the public type; the hot kernels (the weighted Gram matrix `XᵀDX`, the
//! Cholesky factorisation and the symmetric eigen-solve) run in faer on zero-copy views of
//! nalgebra's column-major storage. Measured on the 2-core development machine (MNIST 3-vs-8,
//! 11,982 × 784): nalgebra's `tr_mul` takes seconds for `XᵀX` where a blocked GEMM takes a
//! tenth of a second, and nalgebra's unblocked Cholesky is several times slower than faer's.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
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
/// Solving uses two triangular solves; no inverse is ever formed. The factor can be updated
/// in O(rd²) for a rank-r change `H ± Σ w_k w_kᵀ` ([`Cholesky::rank_update`]).
#[derive(Debug, Clone)]
pub struct Cholesky {
    l: faer::Mat<f64>,
}

impl Cholesky {
    /// Factors `h` (only its lower triangle is read).
    pub fn factor(h: &DMatrix<f64>) -> Result<Self, LinalgError> {
        let d = h.nrows();
        let mut l = faer::Mat::<f64>::zeros(d, d);
        l.copy_from_triangular_lower(as_faer(h));
        let par = parallelism();
        let mut mem = faer::dyn_stack::MemBuffer::new(
            faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
                d,
                par,
                Default::default(),
            ),
        );
        let stack = faer::dyn_stack::MemStack::new(&mut mem);
        faer::linalg::cholesky::llt::factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            par,
            stack,
            Default::default(),
        )
        .map_err(|e| match e {
            faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
                LinalgError::NotPositiveDefinite { index }
            }
        })?;
        for j in 0..d {
            for i in 0..j {
                l[(i, j)] = 0.0;
            }
        }
        Ok(Self { l })
    }

    /// Dimension of the factored matrix.
    pub fn dim(&self) -> usize {
        self.l.nrows()
    }

    /// Solves `H x = rhs`.
    pub fn solve(&self, rhs: &DVector<f64>) -> DVector<f64> {
        let mut out = rhs.clone();
        self.solve_in_place(&mut out);
        out
    }

    /// Solves `H x = rhs` in place (`L y = rhs`, then `Lᵀ x = y`).
    pub fn solve_in_place(&self, rhs: &mut DVector<f64>) {
        let n = rhs.len();
        let par = if n >= 512 { parallelism() } else { Par::Seq };
        let mut r = MatMut::from_column_major_slice_mut(rhs.as_mut_slice(), n, 1);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            self.l.as_ref(),
            r.as_mut(),
            par,
        );
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            self.l.as_ref().transpose(),
            r,
            par,
        );
    }

    /// Updates the factor in place to that of `H + Σ_k alpha_k w_k w_kᵀ`, where `w_k` are the
    /// columns of `w` (d × r). Negative `alpha` downdates; a downdate that would make the matrix
    /// indefinite is an error and leaves the factor unusable (refactor then).
    pub fn rank_update(&mut self, w: &DMatrix<f64>, alpha: &[f64]) -> Result<(), LinalgError> {
        assert_eq!(w.ncols(), alpha.len(), "one alpha per column");
        assert_eq!(w.nrows(), self.dim(), "update vectors of dimension d");
        let mut wf = faer::Mat::<f64>::from_fn(w.nrows(), w.ncols(), |i, j| w[(i, j)]);
        let mut a = faer::Col::<f64>::from_fn(alpha.len(), |k| alpha[k]);
        faer::linalg::cholesky::llt::update::rank_r_update_clobber(
            self.l.as_mut(),
            wf.as_mut(),
            a.as_diagonal_mut(),
        )
        .map_err(|e| match e {
            faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
                LinalgError::NotPositiveDefinite { index }
            }
        })
    }

    /// The lower-triangular factor L as a nalgebra matrix (a copy).
    pub fn lower(&self) -> DMatrix<f64> {
        DMatrix::from_fn(self.dim(), self.dim(), |i, j| self.l[(i, j)])
    }
}

/// A row-major copy of a feature matrix (each example contiguous), for the streaming kernels
/// of the removal fast path: one sequential read of X per pass.
#[derive(Clone, Debug, PartialEq)]
pub struct RowMajor {
    data: Vec<f64>,
    n: usize,
    d: usize,
}

impl RowMajor {
    /// Copies (transposes) an n × d column-major matrix.
    pub fn from_matrix(x: &DMatrix<f64>) -> Self {
        let (n, d) = x.shape();
        let mut data = vec![0.0; n * d];
        // Transpose in tiles so both sides stay in cache.
        const TILE: usize = 64;
        for i0 in (0..n).step_by(TILE) {
            for k0 in (0..d).step_by(TILE) {
                for k in k0..(k0 + TILE).min(d) {
                    let col = &x.as_slice()[k * n..(k + 1) * n];
                    for i in i0..(i0 + TILE).min(n) {
                        data[i * d + k] = col[i];
                    }
                }
            }
        }
        Self { data, n, d }
    }

    /// Rows n.
    pub fn nrows(&self) -> usize {
        self.n
    }

    /// Columns d.
    pub fn ncols(&self) -> usize {
        self.d
    }

    /// Row i.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// One fused, streaming pass over the rows of X: `u_i = x_iᵀv`, `(p_i, q_i) = f(i, u_i)`, and
/// the sums `Xᵀp = Σ p_i x_i` and (if `with_q`) `Xᵀq` — e.g. `p_i = ℓ″_i u_i` for a
/// Hessian-vector product and `q_i = ℓ′(z_i + u_i)` for the gradient at `w + v`. Rows whose
/// `(p_i, q_i)` are both zero are skipped after the dot product.
///
/// Each row is read once, sequentially; the row range is split into one contiguous part per
/// rayon thread and the partial sums are added in a fixed order, so the result is
/// deterministic for a given thread count. Returns `(u, Xᵀp, Xᵀq)` (`Xᵀq` is zero when
/// `with_q` is false).
pub fn fused_pass(
    x: &RowMajor,
    v: &DVector<f64>,
    with_q: bool,
    f: impl Fn(usize, f64) -> (f64, f64) + Sync,
) -> (DVector<f64>, DVector<f64>, DVector<f64>) {
    let (n, d) = (x.n, x.d);
    assert_eq!(v.len(), d, "fused pass: dimension mismatch");
    let threads = if n * d >= PARALLEL_MIN_ENTRIES {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let chunk = n.div_ceil(threads).max(1);
    let vs = v.as_slice();
    let mut u = DVector::<f64>::zeros(n);
    let parts: Vec<(Vec<f64>, Vec<f64>)> = {
        use rayon::prelude::*;
        u.as_mut_slice()
            .par_chunks_mut(chunk)
            .enumerate()
            .map(|(t, u_part)| {
                let start = t * chunk;
                let mut acc_p = vec![0.0; d];
                let mut acc_q = vec![0.0; if with_q { d } else { 0 }];
                let mut p = vec![0.0; FUSED_BLOCK_ROWS];
                let mut q = vec![0.0; FUSED_BLOCK_ROWS];
                let mut b0 = 0;
                while b0 < u_part.len() {
                    let rows = FUSED_BLOCK_ROWS.min(u_part.len() - b0);
                    let r0 = start + b0;
                    let block = &x.data[r0 * d..(r0 + rows) * d];
                    let ub = &mut u_part[b0..b0 + rows];
                    block_dots(block, d, vs, ub);
                    for (r, ui) in ub.iter().enumerate() {
                        (p[r], q[r]) = f(r0 + r, *ui);
                    }
                    if with_q {
                        block_axpy2(block, d, &p[..rows], &q[..rows], &mut acc_p, &mut acc_q);
                    } else {
                        block_axpy1(block, d, &p[..rows], &mut acc_p);
                    }
                    b0 += rows;
                }
                (acc_p, acc_q)
            })
            .collect()
    };
    let mut xp = DVector::<f64>::zeros(d);
    let mut xq = DVector::<f64>::zeros(d);
    for (acc_p, acc_q) in &parts {
        for k in 0..d {
            xp[k] += acc_p[k];
            if with_q {
                xq[k] += acc_q[k];
            }
        }
    }
    (u, xp, xq)
}

/// Rows per block of the fused pass: 256 rows × 784 features (1.6 MB) stay in a core's L2
/// cache between the dot products and the accumulation.
const FUSED_BLOCK_ROWS: usize = 256;

// The block kernels are compiled for AVX-512 and AVX2 as well as the baseline and dispatched
// at run time. Their floating-point operation order is fixed by the code (eight explicit
// accumulators, no contraction), so every variant returns bit-identical results.

/// `out_r = row_r · v` for the rows of a row-major block.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn block_dots(block: &[f64], d: usize, v: &[f64], out: &mut [f64]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(d)) {
        *o = dot(row, v);
    }
}

/// `acc_p += Σ_r p_r row_r` and `acc_q += Σ_r q_r row_r`, skipping rows with p_r = q_r = 0.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn block_axpy2(
    block: &[f64],
    d: usize,
    p: &[f64],
    q: &[f64],
    acc_p: &mut [f64],
    acc_q: &mut [f64],
) {
    for ((row, &pr), &qr) in block.chunks_exact(d).zip(p).zip(q) {
        if pr == 0.0 && qr == 0.0 {
            continue;
        }
        for ((a, b), x) in acc_p.iter_mut().zip(acc_q.iter_mut()).zip(row) {
            *a += pr * x;
            *b += qr * x;
        }
    }
}

/// `acc += Σ_r p_r row_r`, skipping rows with p_r = 0.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn block_axpy1(block: &[f64], d: usize, p: &[f64], acc: &mut [f64]) {
    for (row, &pr) in block.chunks_exact(d).zip(p) {
        if pr == 0.0 {
            continue;
        }
        for (a, x) in acc.iter_mut().zip(row) {
            *a += pr * x;
        }
    }
}

/// A dot product with eight independent accumulators (so the compiler can vectorise it).
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ac, ar) = a.split_at(a.len() / 8 * 8);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(8).zip(bc.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
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
    let trace: f64 = (0..gram.nrows())
        .map(|j| gram[(j, j)])
        .sum::<f64>()
        .max(0.0);
    spectral_norm_upper_bound_with_allowance(gram, n, trace)
}

/// The bound for a Gram matrix that was *downdated* (rows subtracted after the product): its
/// rounding error is that of the original product, so the allowance must be computed from the
/// original row count `n_products` (rows multiplied plus rows subtracted) and the original
/// trace `reference_trace`, not from the smaller remaining ones.
pub fn spectral_norm_upper_bound_with_allowance(
    gram: &DMatrix<f64>,
    n_products: usize,
    reference_trace: f64,
) -> Result<f64, LinalgError> {
    let d = gram.nrows();
    if d == 0 {
        return Ok(0.0);
    }
    let n = n_products;
    let frobenius_sq: f64 = (0..d).map(|j| gram[(j, j)]).sum::<f64>().max(0.0);
    let eig = as_faer(gram)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|_| LinalgError::EigenNoConvergence)?;
    let lambda_max = eig.iter().copied().fold(0.0_f64, f64::max);
    let allowance = 4.0 * (n + d) as f64 * f64::EPSILON * reference_trace.max(frobenius_sq);
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
    fn fused_pass_matches_separate_products() {
        for (n, d) in [(37, 5), (1000, 200)] {
            let x = sample(n, d);
            let v = DVector::from_fn(d, |i, _| (i as f64 * 0.37).sin());
            let c: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.1).collect();
            let xr = RowMajor::from_matrix(&x);
            assert_eq!(xr.row(3)[1], x[(3, 1)]);
            let (u, xp, xq) = fused_pass(&xr, &v, true, |i, ui| (c[i] * ui, (ui + 1.0).tanh()));
            let u_ref = &x * &v;
            let p = DVector::from_fn(n, |i, _| c[i] * u_ref[i]);
            let q = DVector::from_fn(n, |i, _| (u_ref[i] + 1.0).tanh());
            assert!((&u - &u_ref).norm() < 1e-10);
            assert!((xp - x.transpose() * p).norm() < 1e-9);
            assert!((xq - x.transpose() * q).norm() < 1e-9);
            let (_, xp1, xq1) = fused_pass(&xr, &v, false, |i, ui| (c[i] * ui, 0.0));
            assert_eq!(xq1, DVector::zeros(d));
            assert!((xp1 - fused_pass(&xr, &v, true, |i, ui| (c[i] * ui, 0.0)).1).norm() < 1e-9);
        }
    }

    #[test]
    fn rank_downdate_equals_refactoring() {
        let x = sample(60, 6);
        let h = weighted_gram(&x, &[1.0; 60], 2.0).unwrap();
        let mut chol = Cholesky::factor(&h).unwrap();
        let rows = [3usize, 17];
        let w = DMatrix::from_fn(6, 2, |i, k| x[(rows[k], i)]);
        chol.rank_update(&w, &[-1.0, -1.0]).unwrap();
        let mut weights = [1.0; 60];
        for r in rows {
            weights[r] = 0.0;
        }
        let h2 = weighted_gram(&x, &weights, 2.0).unwrap();
        let l = chol.lower();
        assert!((&l * l.transpose() - h2).abs().max() < 1e-12);
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

//! Dense kernels behind the public nalgebra types.
//!
//! nalgebra stays the public type; the hot kernels (the weighted Gram matrix `XᵀDX`, the
//! Cholesky factorisation and the symmetric eigen-solve) run in faer on zero-copy views of
//! nalgebra's column-major storage. Measured on the 2-core development machine (MNIST 3-vs-8,
//! 11,982 × 784): nalgebra's `tr_mul` takes seconds for `XᵀX` where a blocked GEMM takes a
//! tenth of a second, and nalgebra's unblocked Cholesky is several times slower than faer's.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::{DMatrix, DVector};

use crate::alloc::{try_faer_zeros, try_zeroed_vec, try_zeros};

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
    /// A large dense buffer (a d × d Hessian or factor, an n × d copy of X) of `rows × cols`
    /// f64 could not be allocated: the problem is too large for this machine's memory.
    #[error(
        "cannot allocate the {what} ({rows} × {cols} f64, {:.3} GiB): out of memory; reduce the \
         number of features or rows",
        *rows as f64 * *cols as f64 * 8.0 / (1u64 << 30) as f64
    )]
    OutOfMemory {
        /// Which buffer.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
}

/// The parallelism of the faer kernels whose results do not depend on the thread count:
/// faer's rayon backend on the current pool (both cores here).
///
/// Only GEMM-like products (including the triangular ones of the SYRK) and the Cholesky
/// factorisation run on it: they split the *output* among threads and every entry is summed
/// in the same order whatever the split. faer's parallel matrix-vector product splits the
/// *inner* dimension into one part per thread and adds the parts, so its result (and that of
/// the triangular solves and the eigen-solver built on it) changes with the thread count;
/// those run sequentially or on [`fixed_parts`] here. `tests/thread_determinism.rs` compares
/// every kernel bit for bit under pools of 1, 2, 3 and 8 threads.
pub fn parallelism() -> Par {
    Par::rayon(0)
}

/// The number of parts a parallel reduction over rows is split into: fixed, so that which
/// rows are summed together, and in which order the partial sums are added, depend on the
/// problem size only — never on the number of threads or on scheduling (one seed gives one
/// result on any machine). 16 parts keep 2 to 16 cores busy with little imbalance.
pub const REDUCTION_PARTS: usize = 16;

/// The number of groups the blocks of a Gram matrix are split into. Each group owns a d × d
/// partial sum, so this is kept smaller than [`REDUCTION_PARTS`] (memory 4·8d² bytes, 20 MB
/// at d = 784); like it, it does not depend on the thread count.
pub const GRAM_GROUPS: usize = 4;

/// The length of each of at most `parts` contiguous chunks covering `len` items (at least 1):
/// a partition that depends on `len` and `parts` only.
pub fn fixed_parts(len: usize, parts: usize) -> usize {
    len.div_ceil(parts.max(1)).max(1)
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
/// Plans the product for `x` ([`GramPlan::new`], one read of X) and computes it with
/// [`weighted_gram_planned`]; callers that form many Gram matrices of the same X (one per
/// removal request on the exact path) keep the plan.
pub fn weighted_gram(
    x: &DMatrix<f64>,
    weights: &[f64],
    ridge: f64,
) -> Result<DMatrix<f64>, LinalgError> {
    weighted_gram_planned(x, &GramPlan::new(x), weights, ridge)
}

/// Rows per block of the blocked sparse Gram: large enough for an efficient GEMM, small enough
/// that a block's union of non-background columns stays well below d on image data (MNIST
/// 3-vs-8: 41 % of the dense flops at 256 rows, 37 % at 128, 45 % at 512).
pub const GRAM_BLOCK_ROWS: usize = 256;

/// The blocked path is taken when it needs at most this fraction of the dense flops (it
/// gathers and scatters, so it must save enough to pay for that).
const GRAM_SPARSE_MAX_FRACTION: f64 = 0.75;

/// A block of consecutive rows and the columns where at least one of them differs from its
/// row's background value (sorted).
#[derive(Clone, Debug, PartialEq)]
struct GramBlock {
    rows: std::ops::Range<usize>,
    cols: Vec<usize>,
}

/// How [`weighted_gram_planned`] forms `XᵀDX` for one matrix X: per row a background value
/// `o_i` and, per block of [`GRAM_BLOCK_ROWS`] rows, the columns where some row differs from
/// its background.
///
/// Write `X = P + o𝟙ᵀ`, so that `P` is zero wherever a pixel is background. Then, exactly,
///
/// `XᵀDX = PᵀDP + u𝟙ᵀ + 𝟙uᵀ + α𝟙𝟙ᵀ`, with `u = PᵀDo` and `α = oᵀDo`,
///
/// and `PᵀDP = Σ_b P_bᵀ D_b P_b` needs, per block b, only the columns `U_b` where `P_b` is
/// not zero. The background of row i is its minimum when more than half of the row equals it
/// (image data: the paper's MNIST preprocessing `(x/255 − 0.5)/‖·‖` maps every black pixel
/// of a row to the same value), else 0 (sparse data). Nothing is approximated: entries equal
/// to the background give `P_ij = 0` exactly, the rest `P_ij = x_ij − o_i` with one rounding,
/// the same order of error as the dense product's own. On MNIST 3-vs-8 (11,982 × 784, 21 %
/// non-background pixels) the blocks need 41 % of the dense flops.
#[derive(Clone, Debug, PartialEq)]
pub struct GramPlan {
    n: usize,
    d: usize,
    offsets: Vec<f64>,
    blocks: Vec<GramBlock>,
    sparse: bool,
}

impl GramPlan {
    /// Plans the Gram matrices of `x` (one parallel read of X).
    pub fn new(x: &DMatrix<f64>) -> Self {
        use rayon::prelude::*;
        let (n, d) = x.shape();
        let xs = x.as_slice();
        let starts: Vec<usize> = (0..n).step_by(GRAM_BLOCK_ROWS).collect();
        let planned: Vec<(Vec<f64>, GramBlock)> = starts
            .par_iter()
            .map(|&r0| {
                let rows = r0..(r0 + GRAM_BLOCK_ROWS).min(n);
                let len = rows.len();
                let mut min = vec![f64::INFINITY; len];
                for k in 0..d {
                    for (m, &v) in min.iter_mut().zip(&xs[k * n + r0..k * n + r0 + len]) {
                        *m = m.min(v);
                    }
                }
                let mut count = vec![0usize; len];
                for k in 0..d {
                    for ((c, &m), &v) in count
                        .iter_mut()
                        .zip(&min)
                        .zip(&xs[k * n + r0..k * n + r0 + len])
                    {
                        *c += usize::from(v == m);
                    }
                }
                let offsets: Vec<f64> = min
                    .iter()
                    .zip(&count)
                    .map(|(&m, &c)| background_from(m, c, d))
                    .collect();
                let cols = (0..d)
                    .filter(|&k| {
                        xs[k * n + r0..k * n + r0 + len]
                            .iter()
                            .zip(&offsets)
                            .any(|(v, o)| v != o)
                    })
                    .collect();
                (offsets, GramBlock { rows, cols })
            })
            .collect();
        let mut offsets = Vec::with_capacity(n);
        let mut blocks = Vec::with_capacity(planned.len());
        for (o, b) in planned {
            offsets.extend(o);
            blocks.push(b);
        }
        let sparse_flops: f64 = blocks
            .iter()
            .map(|b| b.rows.len() as f64 * (b.cols.len() as f64).powi(2))
            .sum();
        let dense_flops = n as f64 * (d as f64).powi(2);
        let sparse = n > 0 && sparse_flops <= GRAM_SPARSE_MAX_FRACTION * dense_flops;
        Self {
            n,
            d,
            offsets,
            blocks,
            sparse,
        }
    }

    /// A plan that always takes the dense path (for comparisons and for data known to be
    /// dense).
    pub fn dense(x: &DMatrix<f64>) -> Self {
        let (n, d) = x.shape();
        Self {
            n,
            d,
            offsets: vec![0.0; n],
            blocks: vec![GramBlock {
                rows: 0..n,
                cols: (0..d).collect(),
            }],
            sparse: false,
        }
    }

    /// The GEMM flops of the blocked path as a fraction of the dense product's.
    pub fn flop_fraction(&self) -> f64 {
        let sparse: f64 = self
            .blocks
            .iter()
            .map(|b| b.rows.len() as f64 * (b.cols.len() as f64).powi(2))
            .sum();
        sparse / (self.n as f64 * (self.d as f64).powi(2)).max(1.0)
    }

    /// Whether the blocked sparse path is used (else one dense SYRK).
    pub fn is_sparse(&self) -> bool {
        self.sparse
    }
}

/// `XᵀDX + ridge·I` for `D = diag(weights)` with non-negative weights, by the plan's method:
///
/// * **blocked sparse** (see [`GramPlan`]): per block a lower-triangular GEMM of size
///   `|U_b|²·|b|/2` on the gathered `D_b^{1/2}P[b, U_b]`, added into `H[U_b, U_b]`, then the
///   rank-two background correction;
/// * **dense**: `YᵀY` with `Y = D^{1/2}X` by one lower-triangular (SYRK-like) GEMM on both
///   cores, half the flops of a general product.
///
/// Rows with weight zero contribute nothing, which is how removed rows are left out without
/// copying the data. The blocks are split into [`GRAM_GROUPS`] contiguous groups and the
/// groups' sums are added in a fixed order, so the result does not depend on the thread
/// count.
///
/// # Panics
/// If `plan` was made for a matrix of another shape or `weights` has not one entry per row.
pub fn weighted_gram_planned(
    x: &DMatrix<f64>,
    plan: &GramPlan,
    weights: &[f64],
    ridge: f64,
) -> Result<DMatrix<f64>, LinalgError> {
    assert_eq!(x.nrows(), weights.len(), "one weight per row");
    assert_eq!((plan.n, plan.d), x.shape(), "plan made for another matrix");
    check_weights(weights)?;
    let (n, d) = x.shape();
    let sqrt_w: Vec<f64> = weights.iter().map(|w| w.sqrt()).collect();
    let mut h = if plan.sparse {
        blocked_gram(x, plan, &sqrt_w)?
    } else {
        let mut y = try_zeros("scaled copy of X", n, d)?;
        for (mut ycol, xcol) in y.column_iter_mut().zip(x.column_iter()) {
            for ((yi, xi), si) in ycol.iter_mut().zip(xcol.iter()).zip(&sqrt_w) {
                *yi = xi * si;
            }
        }
        let mut h = try_zeros("Gram matrix", d, d)?;
        syrk_lower(as_faer_mut(&mut h), as_faer(&y), parallelism());
        h
    };
    for j in 0..d {
        h[(j, j)] += ridge;
        for i in 0..j {
            h[(i, j)] = h[(j, i)];
        }
    }
    Ok(h)
}

/// The lower triangle of `dst ← YᵀY` (a SYRK by faer's triangular GEMM; the strict upper
/// triangle of `dst` is left untouched).
fn syrk_lower(dst: MatMut<'_, f64>, y: MatRef<'_, f64>, par: Par) {
    matmul(
        dst,
        BlockStructure::TriangularLower,
        Accum::Replace,
        y.transpose(),
        BlockStructure::Rectangular,
        y,
        BlockStructure::Rectangular,
        1.0,
        par,
    );
}

/// The lower triangle of `XᵀDX` by the blocked sparse method of [`GramPlan`].
fn blocked_gram(
    x: &DMatrix<f64>,
    plan: &GramPlan,
    sqrt_w: &[f64],
) -> Result<DMatrix<f64>, LinalgError> {
    use rayon::prelude::*;
    let (n, d) = x.shape();
    let xs = x.as_slice();
    let offsets = &plan.offsets;
    let per_group = fixed_parts(plan.blocks.len(), GRAM_GROUPS);
    // Per group: the lower triangle of Σ_b P_bᵀD_bP_b, u = PᵀDo restricted to the group's
    // rows, and α = oᵀDo over them.
    let partials: Vec<(DMatrix<f64>, Vec<f64>, f64)> = plan
        .blocks
        .par_chunks(per_group)
        .map(|group| {
            let mut h = try_zeros("per-thread Gram matrix", d, d)?;
            let mut u = vec![0.0; d];
            let mut alpha = 0.0;
            let (mut y, mut g) = (Vec::new(), Vec::new());
            for block in group {
                let rows = block.rows.clone();
                // D^{1/2} o on the block's rows.
                let so: Vec<f64> = rows.clone().map(|i| sqrt_w[i] * offsets[i]).collect();
                alpha += so.iter().map(|t| t * t).sum::<f64>();
                let (r, c) = (rows.len(), block.cols.len());
                if c == 0 {
                    continue;
                }
                y.clear();
                for &k in &block.cols {
                    let col = &xs[k * n + rows.start..k * n + rows.end];
                    let start = y.len();
                    y.extend(
                        col.iter()
                            .zip(&offsets[rows.clone()])
                            .zip(&sqrt_w[rows.clone()])
                            .map(|((v, o), s)| if v == o { 0.0 } else { (v - o) * s }),
                    );
                    u[k] += dot(&y[start..], &so);
                }
                g.clear();
                g.resize(c * c, 0.0);
                syrk_lower(
                    MatMut::from_column_major_slice_mut(&mut g, c, c),
                    MatRef::from_column_major_slice(&y, r, c),
                    Par::Seq,
                );
                // `cols` is sorted, so the block's lower triangle lands in H's lower triangle.
                for (jc, &kj) in block.cols.iter().enumerate() {
                    let hcol = &mut h.as_mut_slice()[kj * d..(kj + 1) * d];
                    for (gv, &ki) in g[jc * c + jc..(jc + 1) * c].iter().zip(&block.cols[jc..]) {
                        hcol[ki] += gv;
                    }
                }
            }
            Ok((h, u, alpha))
        })
        .collect::<Result<_, LinalgError>>()?;
    let mut h = try_zeros("Gram matrix", d, d)?;
    let mut u = vec![0.0; d];
    let mut alpha = 0.0;
    for (hp, up, ap) in partials {
        h += hp;
        for (a, b) in u.iter_mut().zip(&up) {
            *a += b;
        }
        alpha += ap;
    }
    // The background correction u𝟙ᵀ + 𝟙uᵀ + α𝟙𝟙ᵀ, lower triangle.
    if alpha != 0.0 || u.iter().any(|t| *t != 0.0) {
        for j in 0..d {
            for i in j..d {
                h[(i, j)] += (u[i] + u[j]) + alpha;
            }
        }
    }
    Ok(h)
}

/// Below this many matrix entries the kernels run on one thread (thread start-up would dominate).
const PARALLEL_MIN_ENTRIES: usize = 1 << 17;

/// `X v` (one pass over X; on both cores for large X — memory bandwidth per core is the
/// limit: 7.8 ms on one core, 2.3 ms on two for MNIST 3-vs-8 on the development machine).
///
/// The rows are split into [`REDUCTION_PARTS`] fixed chunks, each a sequential faer GEMV, so
/// every entry is one sum in one order whatever the thread count (faer's own parallel GEMV
/// splits the columns among threads and adds the parts).
pub fn mat_vec(x: &DMatrix<f64>, v: &DVector<f64>) -> DVector<f64> {
    assert_eq!(x.ncols(), v.len(), "X v: dimension mismatch");
    let mut out = DVector::zeros(x.nrows());
    let rhs = MatRef::from_column_major_slice(v.as_slice(), v.len(), 1);
    split_rows(out.as_mut_slice(), x.len(), |start, dst| {
        let lhs = as_faer(x).subrows(start, dst.len());
        gemv_seq(dst, lhs, rhs);
    });
    out
}

/// `Xᵀ r` (one pass over X): the columns are split into [`REDUCTION_PARTS`] fixed chunks,
/// each a sequential faer product, so every entry is one dot product in one order.
pub fn mat_t_vec(x: &DMatrix<f64>, r: &DVector<f64>) -> DVector<f64> {
    assert_eq!(x.nrows(), r.len(), "Xᵀ r: dimension mismatch");
    let mut out = DVector::zeros(x.ncols());
    let rhs = MatRef::from_column_major_slice(r.as_slice(), r.len(), 1);
    split_rows(out.as_mut_slice(), x.len(), |start, dst| {
        let lhs = as_faer(x).subcols(start, dst.len()).transpose();
        gemv_seq(dst, lhs, rhs);
    });
    out
}

/// `dst ← lhs·rhs` for one column `rhs`, on the calling thread.
fn gemv_seq(dst: &mut [f64], lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    let rows = dst.len();
    matmul_plain(
        MatMut::from_column_major_slice_mut(dst, rows, 1),
        lhs,
        rhs,
        Par::Seq,
    );
}

/// Fills `out` by `f(start, chunk)` on [`REDUCTION_PARTS`] fixed chunks, in parallel when the
/// product reads at least [`PARALLEL_MIN_ENTRIES`] entries (else as one chunk): every entry is
/// computed by one call, so the result does not depend on the thread count.
fn split_rows(out: &mut [f64], entries: usize, f: impl Fn(usize, &mut [f64]) + Sync) {
    use rayon::prelude::*;
    if entries < PARALLEL_MIN_ENTRIES || out.is_empty() {
        f(0, out);
        return;
    }
    let chunk = fixed_parts(out.len(), REDUCTION_PARTS);
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(t, dst)| f(t * chunk, dst));
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
        let mut l = try_faer_zeros("Cholesky factor", d, d)?;
        l.copy_from_triangular_lower(as_faer(h));
        let par = parallelism();
        let scratch = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
            d,
            par,
            Default::default(),
        );
        let mut mem =
            faer::dyn_stack::MemBuffer::try_new(scratch).map_err(|_| LinalgError::OutOfMemory {
                what: "Cholesky workspace",
                rows: scratch.size_bytes() / 8,
                cols: 1,
            })?;
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

    /// Solves `H x = rhs` in place (`L y = rhs`, then `Lᵀ x = y`), on the calling thread.
    ///
    /// faer's parallel triangular solves update with a parallel GEMV that splits the inner
    /// dimension per thread, so their result changes with the thread count; one thread is
    /// bit-reproducible, and at d = 784 also faster on its own (0.18 vs 0.37 ms on the
    /// development machine).
    pub fn solve_in_place(&self, rhs: &mut DVector<f64>) {
        let n = rhs.len();
        let par = Par::Seq;
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

    /// [`Cholesky::solve`] on the calling thread only: for running a solve next to other work
    /// (`rayon::join`). Every solve runs on one thread now (see [`Cholesky::solve_in_place`]);
    /// this name stays for callers that rely on it.
    pub fn solve_single_threaded(&self, rhs: &DVector<f64>) -> DVector<f64> {
        self.solve(rhs)
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

/// A row-major copy of a feature matrix for the streaming kernels of the removal fast path:
/// one sequential read of X per pass.
///
/// Rows are stored either densely (each example contiguous) or, when at most half of the
/// entries differ from their row's background value (see [`row_background`]), as
/// background + compressed sparse row: `x_i = o_i𝟙 + p_i` with `p_i` kept as (column, value)
/// pairs. Then `x_iᵀv = o_i·Σ_j v_j + p_iᵀv` and `Σ_i a_i x_i = 𝟙·Σ_i a_i o_i + Σ_i a_i p_i`,
/// so a pass reads only the non-background entries: on MNIST 3-vs-8 (21 % non-background
/// pixels) 24 MB instead of 75 MB. Columns where most rows differ from their background (the
/// centre of an image) are kept densely for every row instead ([`CORE_MIN_DENSITY`]).
/// `p_ij = x_ij − o_i` is rounded once, so the sparse form reproduces X to within one
/// rounding per entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RowMajor {
    n: usize,
    d: usize,
    storage: RowStorage,
}

#[derive(Clone, Debug, PartialEq)]
enum RowStorage {
    Dense(Vec<f64>),
    Sparse {
        /// Background o_i per row.
        offsets: Vec<f64>,
        /// The core columns: those where at least [`CORE_MIN_DENSITY`] of the rows differ
        /// from their background, stored densely.
        core_cols: Vec<u32>,
        /// `n × core_cols.len()`, row-major: p_ij for the core columns j (zeros included).
        core_vals: Vec<f64>,
        /// Row i's entries in the other columns are `starts[i]..starts[i + 1]`.
        starts: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<f64>,
    },
}

/// A column is stored densely in the sparse row storage (a core column) when at least this
/// fraction of the rows differ from their background in it. Dense storage costs 8 bytes per
/// row against 12 per non-background entry, so at density 1/2 the bytes read are about the
/// same, and the core is read with contiguous loads instead of gathers and scatters. On MNIST
/// 3-vs-8, 161 of 784 columns are core and hold 66 % of the non-background pixels, so a row
/// costs 161 contiguous entries and 57 gathered ones instead of 168 gathered ones; a fused
/// Hessian-vector pass with the gradient took 1.7–2.2 ms instead of 2.3–2.8 ms (both cores,
/// same runs, development machine).
const CORE_MIN_DENSITY: f64 = 0.5;

/// The sparse row storage is used when at most this fraction of the entries differ from their
/// row's background.
const SPARSE_ROWS_MAX_DENSITY: f64 = 0.5;

/// The background value of a row: its minimum when more than half of the row equals it (image
/// data: the paper's MNIST preprocessing `(x/255 − 0.5)/‖·‖` maps every black pixel of a row
/// to the same value), else 0 (which covers sparse data).
pub fn row_background(row: impl Iterator<Item = f64> + Clone) -> f64 {
    let min = row.clone().fold(f64::INFINITY, f64::min);
    let (equal, len) = row.fold((0usize, 0usize), |(e, l), v| {
        (e + usize::from(v == min), l + 1)
    });
    background_from(min, equal, len)
}

/// The rule of [`row_background`] (shared with [`GramPlan::new`], which finds a block's minima
/// and counts column by column): the row minimum `min` when `equal` of the row's `len`
/// entries, more than half, equal it; else 0.
fn background_from(min: f64, equal: usize, len: usize) -> f64 {
    if 2 * equal > len { min } else { 0.0 }
}

impl RowMajor {
    /// Copies (transposes) an n × d column-major matrix, choosing the dense or the
    /// background + sparse storage.
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
        let offsets: Vec<f64> = if d == 0 {
            vec![0.0; n]
        } else {
            data.chunks_exact(d)
                .map(|row| row_background(row.iter().copied()))
                .collect()
        };
        let nnz: usize = if d == 0 {
            0
        } else {
            data.chunks_exact(d)
                .zip(&offsets)
                .map(|(row, o)| row.iter().filter(|v| *v != o).count())
                .sum()
        };
        let sparse = d <= u32::MAX as usize
            && n * d > 0
            && (nnz as f64) <= SPARSE_ROWS_MAX_DENSITY * (n * d) as f64;
        if !sparse {
            return Self {
                n,
                d,
                storage: RowStorage::Dense(data),
            };
        }
        let mut column_counts = vec![0usize; d];
        for (row, &o) in data.chunks_exact(d).zip(&offsets) {
            for (count, &v) in column_counts.iter_mut().zip(row) {
                *count += usize::from(v != o);
            }
        }
        let is_core: Vec<bool> = column_counts
            .iter()
            .map(|&c| c as f64 >= CORE_MIN_DENSITY * n as f64)
            .collect();
        let core_cols: Vec<u32> = (0..d).filter(|&k| is_core[k]).map(|k| k as u32).collect();
        let core_nnz: usize = (0..d)
            .filter(|&k| is_core[k])
            .map(|k| column_counts[k])
            .sum();
        let mut core_vals = Vec::with_capacity(n * core_cols.len());
        let mut starts = Vec::with_capacity(n + 1);
        let mut cols = Vec::with_capacity(nnz - core_nnz);
        let mut vals = Vec::with_capacity(nnz - core_nnz);
        starts.push(0);
        for (row, &o) in data.chunks_exact(d).zip(&offsets) {
            for (k, &v) in row.iter().enumerate() {
                if is_core[k] {
                    core_vals.push(if v != o { v - o } else { 0.0 });
                } else if v != o {
                    cols.push(k as u32);
                    vals.push(v - o);
                }
            }
            starts.push(cols.len());
        }
        Self {
            n,
            d,
            storage: RowStorage::Sparse {
                offsets,
                core_cols,
                core_vals,
                starts,
                cols,
                vals,
            },
        }
    }

    /// Rows n.
    pub fn nrows(&self) -> usize {
        self.n
    }

    /// Columns d.
    pub fn ncols(&self) -> usize {
        self.d
    }

    /// The factor κ of the rounding-error bounds of [`fused_pass`], for rows with ‖x_i‖ ≤ 1:
    /// `|fl(x_iᵀv) − x_iᵀv| ≤ γ_{d+4}·κ·‖v‖` for every row and
    /// `‖fl(Xᵀp) − Xᵀp‖₂ ≤ γ_{n+8}·κ·‖p‖₁`, with κ = 1 for the dense storage and
    /// κ = 1 + 2√d·max_i |o_i| for the background + sparse storage (which evaluates
    /// `x_iᵀv = o_i·Σ_j v_j + p_iᵀv` and `Σ_i a_i x_i = 𝟙·Σ_i a_i o_i + Σ_i a_i p_i`, with
    /// `‖p_i‖ ≤ ‖x_i‖ + √d|o_i|`; Higham §3.1 for each sum, in any order). Rounded up.
    pub fn pass_error_factor(&self) -> f64 {
        match &self.storage {
            RowStorage::Dense(_) => 1.0,
            RowStorage::Sparse { offsets, .. } => {
                let o = offsets.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
                round_up(1.0 + 2.0 * (self.d as f64).sqrt().next_up() * o, 3)
            }
        }
    }

    /// Whether the background + sparse storage is used.
    pub fn is_sparse(&self) -> bool {
        matches!(self.storage, RowStorage::Sparse { .. })
    }
}

/// One fused, streaming pass over the rows of X: `u_i = x_iᵀv`, `(p_i, q_i) = f(i, u_i)`, and
/// the sums `Xᵀp = Σ p_i x_i` and (if `with_q`) `Xᵀq` — e.g. `p_i = ℓ″_i u_i` for a
/// Hessian-vector product and `q_i = ℓ′(z_i + u_i)` for the gradient at `w + v`. Rows whose
/// `(p_i, q_i)` are both zero are skipped after the dot product.
///
/// Each row is read once, sequentially; the row range is split into [`REDUCTION_PARTS`]
/// contiguous parts and the partial sums are added in a fixed order, so the result does not
/// depend on the thread count. Returns `(u, Xᵀp, Xᵀq)` (`Xᵀq` is zero when
/// `with_q` is false).
pub fn fused_pass(
    x: &RowMajor,
    v: &DVector<f64>,
    with_q: bool,
    f: impl Fn(usize, f64) -> (f64, f64) + Sync,
) -> (DVector<f64>, DVector<f64>, DVector<f64>) {
    let (n, d) = (x.n, x.d);
    assert_eq!(v.len(), d, "fused pass: dimension mismatch");
    let parts = if n * d >= PARALLEL_MIN_ENTRIES {
        REDUCTION_PARTS
    } else {
        1
    };
    let chunk = fixed_parts(n, parts);
    let vs = v.as_slice();
    let v_sum: f64 = vs.iter().sum();
    // The sparse storage's kernels take v followed by its core entries, and accumulate the
    // core columns' sums after the d ordinary entries (see `SparseRows`).
    let core_cols: &[u32] = match &x.storage {
        RowStorage::Sparse { core_cols, .. } => core_cols,
        RowStorage::Dense(_) => &[],
    };
    let k = core_cols.len();
    let v_ext = with_core_entries(vs, core_cols);
    let mut u = DVector::<f64>::zeros(n);
    let parts: Vec<(Vec<f64>, Vec<f64>)> = {
        use rayon::prelude::*;
        u.as_mut_slice()
            .par_chunks_mut(chunk)
            .enumerate()
            .map(|(t, u_part)| {
                let start = t * chunk;
                let mut acc_p = vec![0.0; d + k];
                let mut acc_q = vec![0.0; if with_q { d + k } else { 0 }];
                match &x.storage {
                    RowStorage::Dense(data) => {
                        let part = &data[start * d..(start + u_part.len()) * d];
                        dense_rows_pass(
                            part,
                            d,
                            vs,
                            u_part,
                            |r, ui| f(start + r, ui),
                            &mut acc_p,
                            with_q.then_some(&mut acc_q[..]),
                        );
                    }
                    RowStorage::Sparse {
                        offsets,
                        core_cols,
                        core_vals,
                        starts,
                        cols,
                        vals,
                    } => {
                        let range = start..start + u_part.len();
                        let (sp, sq) = sparse_rows_pass(
                            SparseRows {
                                offsets: &offsets[range.clone()],
                                core: &core_vals[range.start * k..range.end * k],
                                core_width: k,
                                starts: &starts[range.start..=range.end],
                                cols,
                                vals,
                            },
                            PassBuffers {
                                v: &v_ext,
                                v_sum,
                                u: u_part,
                                acc_p: &mut acc_p,
                                acc_q: with_q.then_some(&mut acc_q[..]),
                            },
                            |r, ui| f(start + r, ui),
                        );
                        // The background's share 𝟙·Σ_i p_i o_i (and q), then the core
                        // columns' sums into their columns.
                        for (acc, s) in [(&mut acc_p, sp), (&mut acc_q, sq)] {
                            for a in acc.iter_mut().take(d) {
                                *a += s;
                            }
                            fold_core_sums(acc, core_cols);
                        }
                    }
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

/// `v` followed by its core entries `v[core_cols[k]]`: the vector the sparse kernels take.
fn with_core_entries(v: &[f64], core_cols: &[u32]) -> Vec<f64> {
    v.iter()
        .copied()
        .chain(core_cols.iter().map(|&c| v[c as usize]))
        .collect()
}

/// Adds the core columns' sums, kept after the d ordinary entries of an accumulator of length
/// `d + K`, into their columns (which no sparse entry touches), leaving length d. An empty
/// accumulator (no q) stays empty.
fn fold_core_sums(acc: &mut Vec<f64>, core_cols: &[u32]) {
    if acc.is_empty() {
        return;
    }
    let d = acc.len() - core_cols.len();
    let (main, core) = acc.split_at_mut(d);
    for (&c, &a) in core_cols.iter().zip(core.iter()) {
        main[c as usize] += a;
    }
    acc.truncate(d);
}

/// A contiguous range of background + sparse rows.
///
/// The kernels take `v` extended by its core entries ([`with_core_entries`]) and accumulators
/// of the same length `d + K`: the core columns' sums go to `d..d + K` ([`fold_core_sums`]),
/// the other columns' to their own entries.
struct SparseRows<'a> {
    offsets: &'a [f64],
    /// The rows' core entries, `offsets.len() × core_width` row-major.
    core: &'a [f64],
    /// K, the number of core columns.
    core_width: usize,
    /// `offsets.len() + 1` entries, indexing `cols`/`vals` globally.
    starts: &'a [usize],
    cols: &'a [u32],
    vals: &'a [f64],
}

/// The sparse rows' part of [`fused_pass`]: `u_r = (o_r·Σv + core_rᵀv_core) + p_rᵀv` (the
/// core entries' dot product with 16 partial sums, [`dot16`]), then the core entries
/// `p_r·core_r` into `acc_p[d..]` and the sparse ones into `acc_p[..d]` (and q), returning the
/// background sums `(Σ_r p_r o_r, Σ_r q_r o_r)`.
///
/// On AVX-512 the row dot products gather 8 entries of `v` at a time and the accumulation
/// gathers, updates and scatters 8 entries of `acc_p` (and `acc_q`) at a time — valid because a
/// row's column indices are distinct. On MNIST 3-vs-8 that made a fused Hessian-vector pass
/// 1.5 ms instead of 2.1–2.3 ms (both cores, development machine). Both variants make the same
/// floating-point operations in the same order (8 interleaved partial dot products reduced in
/// a fixed tree, then the tail; separate multiply and add, no contraction), so they return
/// bit-identical results.
fn sparse_rows_pass(
    rows: SparseRows<'_>,
    io: PassBuffers<'_>,
    f: impl Fn(usize, f64) -> (f64, f64),
) -> (f64, f64) {
    assert_eq!(
        io.acc_p.len(),
        io.v.len(),
        "sparse pass: accumulator length"
    );
    if let Some(q) = &io.acc_q {
        assert_eq!(q.len(), io.v.len(), "sparse pass: accumulator length");
    }
    #[cfg(target_arch = "x86_64")]
    if io.v.len() <= i32::MAX as usize && std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is available (checked at run time), and every column index of a
        // `RowMajor` is below its d (`from_matrix` builds them from positions in rows of length
        // d and nothing else writes them), which equals `v.len()`, `acc_p.len()` and
        // `acc_q.len()` (asserted above and in `fused_pass`) and fits an i32 (checked above).
        return unsafe { avx512::sparse_rows_pass(rows, io, f) };
    }
    sparse_rows_pass_portable(rows, io, f)
}

/// The vector a sparse pass multiplies and the buffers it fills: `v` (extended by its core
/// entries, [`with_core_entries`]), `v_sum = Σ_j v_j` over the d ordinary entries, the row
/// products `u`, and the accumulators of length `v.len()` for `Xᵀp` and (optionally) `Xᵀq`.
struct PassBuffers<'a> {
    v: &'a [f64],
    v_sum: f64,
    u: &'a mut [f64],
    acc_p: &'a mut [f64],
    acc_q: Option<&'a mut [f64]>,
}

/// The two per-row kernels of [`sparse_rows_pass`], one implementation per instruction set.
trait RowKernels {
    /// `Σ_k x_k v[c_k]` over one row's `(c_k, x_k)` (8 interleaved partial sums, reduced by
    /// [`reduce8`], then the remaining entries in order).
    ///
    /// # Safety
    /// The implementation's instruction set must be available, every index must be below
    /// `v.len()` (and fit an i32).
    unsafe fn dot(cols: &[u32], vals: &[f64], v: &[f64]) -> f64;

    /// `acc[c_k] += s·x_k` over one row's `(c_k, x_k)`, whose indices are distinct.
    ///
    /// # Safety
    /// As for [`RowKernels::dot`], with `acc` in place of `v`.
    unsafe fn scatter_add(acc: &mut [f64], cols: &[u32], vals: &[f64], s: f64);
}

/// Reduces 8 partial sums in the fixed order shared by both variants of [`sparse_rows_pass`].
#[inline(always)]
fn reduce8(a: &[f64; 8]) -> f64 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// The row loop of [`sparse_rows_pass`], generic over its kernels.
///
/// # Safety
/// That of `K`'s kernels for every row.
#[inline(always)]
unsafe fn sparse_rows_loop<K: RowKernels>(
    rows: SparseRows<'_>,
    io: PassBuffers<'_>,
    f: impl Fn(usize, f64) -> (f64, f64),
) -> (f64, f64) {
    let PassBuffers {
        v,
        v_sum,
        u,
        acc_p,
        acc_q,
    } = io;
    let k = rows.core_width;
    let d = v.len() - k;
    let v_core = &v[d..];
    let mut sp = 0.0;
    let mut sq = 0.0;
    let (acc_p, acc_p_core) = acc_p.split_at_mut(d);
    let mut acc_q = acc_q.map(|a| a.split_at_mut(d));
    for (r, (ur, &o)) in u.iter_mut().zip(rows.offsets).enumerate() {
        let span = rows.starts[r]..rows.starts[r + 1];
        let (cols, vals) = (&rows.cols[span.clone()], &rows.vals[span]);
        let core = &rows.core[r * k..(r + 1) * k];
        // SAFETY: passed on from the caller.
        *ur = (o * v_sum + dot16(core, v_core)) + unsafe { K::dot(cols, vals, v) };
        let (p, q) = f(r, *ur);
        if p != 0.0 {
            sp += p * o;
            axpy(acc_p_core, core, p);
            // SAFETY: passed on from the caller; a row's indices are distinct.
            unsafe { K::scatter_add(acc_p, cols, vals, p) };
        }
        if let Some((acc_q, acc_q_core)) = acc_q.as_mut()
            && q != 0.0
        {
            sq += q * o;
            axpy(acc_q_core, core, q);
            // SAFETY: as above.
            unsafe { K::scatter_add(acc_q, cols, vals, q) };
        }
    }
    (sp, sq)
}

/// Plain Rust kernels (bounds-checked), for every machine.
struct PortableKernels;

impl RowKernels for PortableKernels {
    #[inline(always)]
    unsafe fn dot(cols: &[u32], vals: &[f64], v: &[f64]) -> f64 {
        let mut acc = [0.0; 8];
        let (cc, cr) = cols.split_at(cols.len() / 8 * 8);
        let (vc, vr) = vals.split_at(cc.len());
        for (c8, v8) in cc.chunks_exact(8).zip(vc.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] += v8[l] * v[c8[l] as usize];
            }
        }
        let mut dot = reduce8(&acc);
        for (c, x) in cr.iter().zip(vr) {
            dot += x * v[*c as usize];
        }
        dot
    }

    #[inline(always)]
    unsafe fn scatter_add(acc: &mut [f64], cols: &[u32], vals: &[f64], s: f64) {
        for (c, x) in cols.iter().zip(vals) {
            acc[*c as usize] += s * x;
        }
    }
}

/// The portable variant of [`sparse_rows_pass`] (compiled for AVX2 as well as the baseline).
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn sparse_rows_pass_portable(
    rows: SparseRows<'_>,
    io: PassBuffers<'_>,
    f: impl Fn(usize, f64) -> (f64, f64),
) -> (f64, f64) {
    // SAFETY: the portable kernels index with bounds checks and need no instruction set.
    unsafe { sparse_rows_loop::<PortableKernels>(rows, io, f) }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm512_add_pd, _mm512_i32gather_pd, _mm512_i32scatter_pd,
        _mm512_loadu_pd, _mm512_mul_pd, _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd,
    };

    use super::{PassBuffers, RowKernels, SparseRows, reduce8, sparse_rows_loop};

    /// 8-lane gathers and scatters.
    struct Avx512Kernels;

    impl RowKernels for Avx512Kernels {
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn dot(cols: &[u32], vals: &[f64], v: &[f64]) -> f64 {
            let k8 = cols.len() / 8 * 8;
            let mut acc = [0.0; 8];
            // SAFETY: k + 8 ≤ k8 ≤ the row's length, and the indices are below v.len() (the
            // caller's guarantee).
            unsafe {
                let mut a = _mm512_setzero_pd();
                for k in (0..k8).step_by(8) {
                    let idx = _mm256_loadu_si256(cols.as_ptr().add(k).cast::<__m256i>());
                    let x = _mm512_loadu_pd(vals.as_ptr().add(k));
                    let g = _mm512_i32gather_pd::<8>(idx, v.as_ptr());
                    a = _mm512_add_pd(a, _mm512_mul_pd(x, g));
                }
                _mm512_storeu_pd(acc.as_mut_ptr(), a);
            }
            let mut dot = reduce8(&acc);
            for (c, x) in cols[k8..].iter().zip(&vals[k8..]) {
                dot += x * v[*c as usize];
            }
            dot
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn scatter_add(acc: &mut [f64], cols: &[u32], vals: &[f64], s: f64) {
            let k8 = cols.len() / 8 * 8;
            for k in (0..k8).step_by(8) {
                // SAFETY: 8 entries from k exist; the indices are below acc.len() and, within
                // a row, distinct, so the gather-update-scatter loses no update.
                unsafe {
                    let idx = _mm256_loadu_si256(cols.as_ptr().add(k).cast::<__m256i>());
                    let x = _mm512_loadu_pd(vals.as_ptr().add(k));
                    let old = _mm512_i32gather_pd::<8>(idx, acc.as_ptr());
                    let new = _mm512_add_pd(old, _mm512_mul_pd(_mm512_set1_pd(s), x));
                    _mm512_i32scatter_pd::<8>(acc.as_mut_ptr(), idx, new);
                }
            }
            for (c, x) in cols[k8..].iter().zip(&vals[k8..]) {
                acc[*c as usize] += s * x;
            }
        }
    }

    /// The AVX-512 variant of [`super::sparse_rows_pass`].
    ///
    /// # Safety
    /// AVX-512F must be available, and every column index in `rows.cols` must be below
    /// `v.len()`, `acc_p.len()` and `acc_q`'s length, which must fit an i32.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sparse_rows_pass(
        rows: SparseRows<'_>,
        io: PassBuffers<'_>,
        f: impl Fn(usize, f64) -> (f64, f64),
    ) -> (f64, f64) {
        // SAFETY: the caller's guarantee is the kernels'.
        unsafe { sparse_rows_loop::<Avx512Kernels>(rows, io, f) }
    }
}

// The dense row kernels are compiled for AVX-512 and AVX2 as well as the baseline and
// dispatched at run time. Their floating-point operation order is fixed by the code (eight explicit
// accumulators, no contraction), so every variant returns bit-identical results.

/// The dense rows' part of [`fused_pass`], one row at a time: `u_r = row_r · v`, `(p_r, q_r)
/// = f(r, u_r)`, then `acc_p += p_r row_r` (and `acc_q += q_r row_r`) while the row is still in
/// the L1 cache, skipping rows whose p_r (and q_r) are zero. So X is read from memory once and
/// the accumulation reads it from L1: on synthetic data at n = 3·10⁴, d = 3000 a pass with
/// the accumulation took 54–62 ms this way against 65–71 ms when blocks of rows were first
/// dotted and then accumulated from L2 (reading the block alone: 45–48 ms).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn dense_rows_pass(
    data: &[f64],
    d: usize,
    v: &[f64],
    u: &mut [f64],
    f: impl Fn(usize, f64) -> (f64, f64),
    acc_p: &mut [f64],
    mut acc_q: Option<&mut [f64]>,
) {
    for (r, (ur, row)) in u.iter_mut().zip(data.chunks_exact(d)).enumerate() {
        *ur = dot(row, v);
        let (p, q) = f(r, *ur);
        match acc_q.as_deref_mut() {
            Some(acc_q) if p != 0.0 || q != 0.0 => {
                for ((a, b), x) in acc_p.iter_mut().zip(acc_q.iter_mut()).zip(row) {
                    *a += p * x;
                    *b += q * x;
                }
            }
            None if p != 0.0 => {
                for (a, x) in acc_p.iter_mut().zip(row) {
                    *a += p * x;
                }
            }
            _ => {}
        }
    }
}

/// `acc += s·x`, element by element (a separate multiply and add, so every instruction set
/// rounds the same way).
#[inline(always)]
fn axpy(acc: &mut [f64], x: &[f64], s: f64) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a += s * x;
    }
}

/// A dot product with eight independent accumulators (so the compiler can vectorise it).
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    dot_lanes::<8>(a, b)
}

/// A dot product with sixteen independent accumulators (two vectors of eight lanes, so two
/// dependency chains).
#[inline(always)]
fn dot16(a: &[f64], b: &[f64]) -> f64 {
    dot_lanes::<16>(a, b)
}

/// A dot product with `L` (a multiple of 8) partial sums, folded to 8 (lane l gets l + 8,
/// l + 16, …), reduced in a fixed tree, then the remaining entries in order — the same
/// operations on every instruction set.
#[inline(always)]
fn dot_lanes<const L: usize>(a: &[f64], b: &[f64]) -> f64 {
    const { assert!(L >= 8 && L.is_multiple_of(8)) };
    let mut acc = [0.0; L];
    let (ac, ar) = a.split_at(a.len() / L * L);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(L).zip(bc.chunks_exact(L)) {
        for l in 0..L {
            acc[l] += x[l] * y[l];
        }
    }
    let mut h = [0.0; 8];
    h.copy_from_slice(&acc[..8]);
    for l in 8..L {
        h[l % 8] += acc[l];
    }
    let mut s = ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]));
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// The unit round-off u = 2⁻⁵³ of IEEE double precision (round to nearest).
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// Half the smallest positive subnormal, 2⁻¹⁰⁷⁵: the absolute error a product or quotient can
/// make when it underflows (the standard model with gradual underflow, Higham §2.2:
/// fl(a ∘ b) = (a ∘ b)(1 + δ) + η, |δ| ≤ u, |η| ≤ 2⁻¹⁰⁷⁵; sums and differences have η = 0).
const UNDERFLOW_ETA: f64 = f64::from_bits(1) / 2.0;

/// γ_k = ku/(1 − ku) (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1),
/// rounded up; +∞ when ku ≥ 1/2.
pub fn gamma(k: usize) -> f64 {
    // k·u is exact (u is a power of two and k < 2⁵³); the quotient is rounded up by the factor.
    let ku = k as f64 * UNIT_ROUNDOFF;
    if ku >= 0.5 {
        return f64::INFINITY;
    }
    ((ku / (1.0 - ku)) * (1.0 + 4.0 * UNIT_ROUNDOFF)).next_up()
}

/// An upper bound on the exact value of a non-negative quantity whose floating-point
/// evaluation `x` took at most `ops` roundings of relative size ≤ u each (sums and products of
/// non-negative numbers): x·(1 + 2(ops + 1)u), rounded up. Valid for `ops` < 2⁴⁵, where
/// (1 + u)^k ≤ 1 + 1.01·ku.
pub fn round_up(x: f64, ops: usize) -> f64 {
    (x * (1.0 + 2.0 * (ops + 1) as f64 * UNIT_ROUNDOFF)).next_up()
}

/// `a + b` rounded up (upward-rounded accumulation of bounds).
pub fn add_up(a: f64, b: f64) -> f64 {
    (a + b).next_up()
}

/// The Gram matrix `Ĝ = fl(XᵀX)` of a set of rows, with a proven bound on its forward error.
///
/// # What is proved
/// The product is formed by a **plain dense** method: the rows are cut into blocks of at most
/// [`GRAM_BLOCK_ROWS`] rows, each block's `X_bᵀX_b` by faer's triangular GEMM (a classical
/// blocked product: every entry is a sum of the block's products `x_ij x_ik`, formed in some
/// order with ordinary or fused multiply-adds — no fast, Strassen-like algorithm), and the
/// block products summed entry by entry. For any order of summation of k products the
/// computed inner product satisfies `|fl(aᵀb) − aᵀb| ≤ γ_k |a|ᵀ|b|` (Higham §3.1, eq. (3.5),
/// and Lemma 3.3 for composing the block sums), so elementwise
///
/// `|Ĝ − G| ≤ γ_N |X|ᵀ|X|`, N = [`GRAM_BLOCK_ROWS`] + (number of blocks)
///
/// (plus `2n·2⁻¹⁰⁷⁵` per entry for underflow). By Cauchy–Schwarz,
/// `‖|X|ᵀ|X|‖_F ≤ Σ_j ‖X e_j‖² = ‖X‖_F²`, hence
/// `‖Ĝ − G‖₂ ≤ ‖Ĝ − G‖_F ≤ γ_N ‖X‖_F²` and `|tr(Ĝ) − tr(G)| ≤ γ_N ‖X‖_F²`
/// ([`ErrorBoundedGram::error_bound`]). The background/blocked-sparse [`GramPlan`] is **not**
/// used here: it subtracts large background terms, and its error is not bounded by
/// `γ_N |X|ᵀ|X|`.
///
/// Each [`ErrorBoundedGram::downdate`] of m rows (`G ← G − Σ x_j x_jᵀ`, one product and one
/// subtraction per entry and row) adds at most `(1 + u)e + u|G′| + u(1 + u)|x_j x_jᵀ|` per
/// entry; with `|G′| ≤ |X|ᵀ|X|` and `Σ_j |x_j x_jᵀ| ≤ |X|ᵀ|X|` the bound becomes
/// `γ_{N + 2m + 2} |X|ᵀ|X|` (Lemma 3.3), with ‖X‖_F² of the rows originally multiplied.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBoundedGram {
    gram: DMatrix<f64>,
    /// |Ĝ − G| ≤ γ_depth |X|ᵀ|X| + `absolute` elementwise.
    depth: usize,
    absolute: f64,
    /// An upper bound on ‖X‖_F² of the rows multiplied (= tr(|X|ᵀ|X|)).
    frobenius_sq: f64,
}

impl ErrorBoundedGram {
    /// `XᵀX` over the rows with `keep[i]` (every row when `keep` is `None`).
    ///
    /// # Panics
    /// If `keep` has not one entry per row.
    pub fn new(x: &DMatrix<f64>, keep: Option<&[bool]>) -> Self {
        use rayon::prelude::*;
        let (n, d) = x.shape();
        if let Some(k) = keep {
            assert_eq!(k.len(), n, "one flag per row");
        }
        let rows: Vec<usize> = (0..n).filter(|&i| keep.is_none_or(|k| k[i])).collect();
        let blocks: Vec<&[usize]> = rows.chunks(GRAM_BLOCK_ROWS).collect();
        let per_group = fixed_parts(blocks.len(), GRAM_GROUPS);
        let xs = x.as_slice();
        let partials: Vec<DMatrix<f64>> = blocks
            .par_chunks(per_group)
            .map(|group| {
                let mut acc = DMatrix::<f64>::zeros(d, d);
                let mut y = Vec::new();
                let mut g = vec![0.0; d * d];
                for block in group {
                    let r = block.len();
                    y.clear();
                    for k in 0..d {
                        y.extend(block.iter().map(|&i| xs[k * n + i]));
                    }
                    syrk_lower(
                        MatMut::from_column_major_slice_mut(&mut g, d, d),
                        MatRef::from_column_major_slice(&y, r, d),
                        Par::Seq,
                    );
                    for j in 0..d {
                        let col = &mut acc.as_mut_slice()[j * d..(j + 1) * d];
                        for (a, gv) in col[j..].iter_mut().zip(&g[j * d + j..(j + 1) * d]) {
                            *a += gv;
                        }
                    }
                }
                acc
            })
            .collect();
        let mut gram = DMatrix::<f64>::zeros(d, d);
        for p in partials {
            gram += p;
        }
        for j in 0..d {
            for i in 0..j {
                gram[(i, j)] = gram[(j, i)];
            }
        }
        let depth = GRAM_BLOCK_ROWS + blocks.len() + 1;
        // Underflow: at most one η per product, n products per entry (times 1 + γ ≤ 2).
        let absolute = 2.0 * rows.len() as f64 * UNDERFLOW_ETA;
        // ‖X‖_F² = Σ_j G_jj and G_jj ≤ (Ĝ_jj + absolute)/(1 − γ_N) (its terms are ≥ 0).
        let diag: f64 = (0..d).map(|j| gram[(j, j)].max(0.0) + absolute).sum();
        let g = gamma(depth);
        let frobenius_sq = if g < 0.5 {
            round_up(round_up(diag, d) * (1.0 + 2.0 * g), 1)
        } else {
            f64::INFINITY
        };
        Self {
            gram,
            depth,
            absolute,
            frobenius_sq,
        }
    }

    /// The computed Gram matrix (full, symmetric).
    pub fn gram(&self) -> &DMatrix<f64> {
        &self.gram
    }

    /// A bound ε with ‖Ĝ − G‖₂ ≤ ε and |tr(Ĝ) − tr(G)| ≤ ε, where G is the exact Gram matrix of
    /// the rows multiplied minus the rows downdated: γ_N·‖X‖_F² + d·(underflow).
    pub fn error_bound(&self) -> f64 {
        let d = self.gram.nrows() as f64;
        add_up(
            round_up(gamma(self.depth) * self.frobenius_sq, 1),
            round_up(d * self.absolute, 1),
        )
    }

    /// An upper bound on ‖X‖_F² of the rows originally multiplied.
    pub fn frobenius_sq_bound(&self) -> f64 {
        self.frobenius_sq
    }

    /// Removes rows: `G ← G − Σ_j x_j x_jᵀ` (O(md²)), and widens the error bound accordingly.
    pub fn downdate(&mut self, x: &DMatrix<f64>, rows: &[usize]) {
        gram_downdate(&mut self.gram, x, rows);
        self.depth += 2 * rows.len() + 2;
        self.absolute += 2.0 * rows.len() as f64 * UNDERFLOW_ETA;
    }

    /// A proven upper bound on ‖X‖₂ for the exact rows this Gram matrix stands for:
    /// √min(t + ε, tr(Ĝ) + ε), rounded up, where t ≥ λ_max(Ĝ) is verified a posteriori by
    /// [`verified_lambda_max_upper_bound`] and ε = [`ErrorBoundedGram::error_bound`]
    /// (Weyl: λ_max(G) ≤ λ_max(Ĝ) + ‖G − Ĝ‖₂; and λ_max(G) ≤ tr(G) since G ⪰ 0). When the
    /// verification fails, the Frobenius bound alone is returned.
    ///
    /// # Errors
    /// If the eigen-solver does not converge.
    pub fn spectral_norm_upper_bound(&self) -> Result<f64, LinalgError> {
        let d = self.gram.nrows();
        if d == 0 {
            return Ok(0.0);
        }
        let eps = self.error_bound();
        let trace: f64 = (0..d).map(|j| self.gram[(j, j)].max(0.0)).sum();
        let frobenius = add_up(round_up(trace, d), eps);
        let lambda = verified_lambda_max_upper_bound(&self.gram)?
            .map_or(f64::INFINITY, |t| add_up(t.max(0.0), eps));
        Ok(lambda.min(frobenius).sqrt().next_up())
    }
}

/// A proven upper bound t on λ_max(A) for a symmetric floating-point matrix A (lower triangle
/// read), or `None` when the verification does not succeed.
///
/// A candidate t = λ̂ + margin (λ̂ from faer's symmetric eigen-solver, not trusted) is
/// verified by running a plain textbook Cholesky ([`textbook_cholesky_succeeds`]) on the
/// floating-point matrix `Ã = fl(t·I − A)` (only its diagonal is rounded).
///
/// # Proof
/// If the Cholesky algorithm runs to completion on a symmetric floating-point matrix Ã, the
/// computed factor satisfies `L̂L̂ᵀ = Ã + ΔA` with `|ΔA| ≤ γ_{d+1}|L̂||L̂ᵀ|` (Higham Thm 10.3;
/// its proof uses only that every pivot was positive, not that Ã is definite — the
/// observation behind Rump, "Verification of positive definiteness", BIT 46 (2006) 433–452,
/// Lemma 2.1 / Theorem 2.3). Then `‖ΔA‖₂ ≤ γ_{d+1}‖L̂‖_F²` and
/// `‖L̂‖_F² = tr(Ã + ΔA) ≤ tr(Ã) + γ_{d+1}‖L̂‖_F²`, so
/// `λ_min(Ã) ≥ −c`, `c = γ_{d+1}/(1 − γ_{d+1}) · tr(Ã) + (underflow)` — Rump's constant
/// (Theorem 2.3, Corollary 2.4); we use `4(d + 1)²·2⁻¹⁰⁷⁴·(1 + max Ã_jj)` for the underflow
/// term, which dominates the per-entry η contributions of the d + 1 roundings of each
/// entry of L̂L̂ᵀ. The exact `t·I − A = Ã + F` with F diagonal,
/// `|F_jj| ≤ u/(1 − u)·Ã_jj`. Hence `λ_max(A) ≤ t + c + max_j |F_jj|`, every operation rounded
/// up. If the check fails, the margin grows eightfold, at most 12 times.
///
/// # Errors
/// If the eigen-solver does not converge.
pub fn verified_lambda_max_upper_bound(a: &DMatrix<f64>) -> Result<Option<f64>, LinalgError> {
    let d = a.nrows();
    if d == 0 {
        return Ok(Some(0.0));
    }
    if (0..d).any(|j| (j..d).any(|i| !a[(i, j)].is_finite())) {
        return Ok(None);
    }
    let eig = eigenvalues_sequential(as_faer(a))?;
    let lambda = eig.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let scale = (0..d)
        .map(|j| a[(j, j)].abs())
        .fold(lambda.abs(), f64::max)
        .max(f64::MIN_POSITIVE);
    // The eigen-solver's error is a small multiple of d·u·‖A‖₂; start there.
    let mut margin = 16.0 * d as f64 * UNIT_ROUNDOFF * scale;
    let g = gamma(d + 1);
    for _ in 0..12 {
        let t = lambda + margin;
        // Ã = fl(t·I − A), row-major lower triangle.
        let mut at = try_zeroed_vec("eigenvalue check matrix", d, d)?;
        for i in 0..d {
            for j in 0..i {
                at[i * d + j] = -a[(i, j)];
            }
            at[i * d + i] = t - a[(i, i)];
        }
        if textbook_cholesky_succeeds(&mut at, d) {
            // Success implies every Ã_jj > 0 (the first operation on a pivot subtracts a sum of
            // squares from it and the result was positive).
            let (mut tr, mut max_diag) = (0.0_f64, 0.0_f64);
            for j in 0..d {
                let v = t - a[(j, j)];
                tr += v;
                max_diag = max_diag.max(v);
            }
            let c = add_up(
                round_up(round_up(tr, d) * g * (1.0 + 2.0 * g), 2),
                round_up(
                    4.0 * ((d + 1) * (d + 1)) as f64 * f64::from_bits(1) * (1.0 + max_diag),
                    3,
                ),
            );
            let f = round_up(UNIT_ROUNDOFF * max_diag * (1.0 + 2.0 * UNIT_ROUNDOFF), 2);
            return Ok(Some(add_up(add_up(t, c), f)));
        }
        margin *= 8.0;
    }
    Ok(None)
}

/// The eigenvalues of a symmetric matrix (lower triangle read) by faer's solver on one thread:
/// its tridiagonalisation is built on GEMVs whose parallel form depends on the thread count
/// (see [`parallelism`]), and the candidate λ̂ enters the verified bound.
fn eigenvalues_sequential(a: MatRef<'_, f64>) -> Result<Vec<f64>, LinalgError> {
    use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
    let n = a.nrows();
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut mem = faer::dyn_stack::MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::No,
        Par::Seq,
        Default::default(),
    ));
    self_adjoint_evd(
        a,
        s.as_mut(),
        None,
        Par::Seq,
        faer::dyn_stack::MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| LinalgError::EigenNoConvergence)?;
    Ok(s.column_vector().iter().copied().collect())
}

/// The textbook (row-oriented, unblocked) Cholesky factorisation `Ã = L̂L̂ᵀ` of a symmetric
/// matrix given by its lower triangle in row-major order, overwritten by L̂; returns whether
/// it ran to completion (every pivot positive and finite). Each entry is
/// `l_ij = (a_ij − Σ_{k<j} l_ik l_jk)/l_jj` and `l_jj = √(a_jj − Σ_{k<j} l_jk²)`, the inner
/// products evaluated with separate multiplies and adds in a fixed order — Higham's
/// Algorithm 10.2, to which Theorem 10.3 applies (for any order of the inner products).
pub fn textbook_cholesky_succeeds(a: &mut [f64], d: usize) -> bool {
    assert_eq!(a.len(), d * d, "d × d storage");
    for i in 0..d {
        for j in 0..=i {
            let (before, row_i) = a.split_at_mut(i * d);
            let s = if i == j {
                let li = &row_i[..j];
                row_i[j] - dot(li, li)
            } else {
                let lj = &before[j * d..j * d + j];
                row_i[j] - dot(&row_i[..j], lj)
            };
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return false;
                }
                row_i[j] = s.sqrt();
            } else {
                let ljj = before[j * d + j];
                row_i[j] = s / ljj;
                if !row_i[j].is_finite() {
                    return false;
                }
            }
        }
    }
    true
}

/// Row weights must be finite and ≥ 0: the first that is not, as
/// [`LinalgError::NegativeWeight`].
fn check_weights(weights: &[f64]) -> Result<(), LinalgError> {
    match weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(**w >= 0.0) || !w.is_finite())
    {
        Some((index, &value)) => Err(LinalgError::NegativeWeight { index, value }),
        None => Ok(()),
    }
}

/// A rigorous upper bound on the spectral norm ‖Y‖₂, `Y = diag(√w)·X`, of an `n × d` matrix
/// (rows with `weights[i] == 0` are left out; pass all ones for the whole matrix), by
/// [`ErrorBoundedGram::spectral_norm_upper_bound`]. Weights other than 0 and 1 scale the rows
/// in floating point first, `Ŷ = fl(√w ∘ X)` with `|Y − Ŷ| ≤ γ_2|Y|`, and the bound adds
/// `‖Y − Ŷ‖_F ≤ γ_2/(1 − γ_2)·‖Ŷ‖_F` (‖Y‖₂ ≤ ‖Ŷ‖₂ + ‖Y − Ŷ‖₂).
///
/// This is an upper bound by construction, unlike power iteration, which approaches
/// ‖X‖₂ from below.
///
/// # Errors
/// A negative or non-finite weight; an eigen-solver failure.
pub fn spectral_norm_upper_bound(x: &DMatrix<f64>, weights: &[f64]) -> Result<f64, LinalgError> {
    assert_eq!(x.nrows(), weights.len(), "one weight per row");
    check_weights(weights)?;
    let (n, d) = x.shape();
    if n == 0 || d == 0 {
        return Ok(0.0);
    }
    if weights.iter().all(|&w| w == 0.0 || w == 1.0) {
        let keep: Vec<bool> = weights.iter().map(|&w| w == 1.0).collect();
        return ErrorBoundedGram::new(x, Some(&keep)).spectral_norm_upper_bound();
    }
    let sqrt_w: Vec<f64> = weights.iter().map(|w| w.sqrt()).collect();
    let mut y = try_zeros("scaled copy of X", n, d)?;
    for (mut ycol, xcol) in y.column_iter_mut().zip(x.column_iter()) {
        for ((yi, xi), si) in ycol.iter_mut().zip(xcol.iter()).zip(&sqrt_w) {
            *yi = xi * si;
        }
    }
    let gram = ErrorBoundedGram::new(&y, None);
    let g2 = gamma(2);
    let scaling = round_up(
        gram.frobenius_sq_bound().sqrt().next_up() * g2 * (1.0 + 2.0 * g2),
        2,
    );
    Ok(add_up(gram.spectral_norm_upper_bound()?, scaling))
}

/// Removes rows from a Gram matrix in place: `G ← G − Σ_j x_j x_jᵀ` (full matrix, O(md²)).
/// See [`ErrorBoundedGram::downdate`] for the error bound.
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

    /// Image-like data: each block of rows uses its own window of columns; outside it a row
    /// holds `background` (0 for sparse data, a per-row negative value for centred images).
    fn image_sample(n: usize, d: usize, background: bool) -> DMatrix<f64> {
        DMatrix::from_fn(n, d, |i, j| {
            let window = (i / GRAM_BLOCK_ROWS) * 5 % d;
            if (window..window + 8).contains(&j) && (i + j) % 3 != 0 {
                ((i * 7 + j * 13) % 11) as f64 / 11.0 + 0.1
            } else if background {
                -0.5 / (1.0 + (i % 7) as f64)
            } else {
                0.0
            }
        })
    }

    #[test]
    fn blocked_sparse_gram_matches_naive_product() {
        let (n, d) = (1000, 40);
        for background in [false, true] {
            let x = image_sample(n, d, background);
            let plan = GramPlan::new(&x);
            assert!(plan.is_sparse(), "fraction {}", plan.flop_fraction());
            assert!(plan.flop_fraction() < 0.2);
            // Weights with zeros (removed rows) and a ridge.
            let w: Vec<f64> = (0..n).map(|i| (i % 4) as f64 * 0.25).collect();
            let g = weighted_gram_planned(&x, &plan, &w, 0.5).unwrap();
            let naive = x.transpose() * DMatrix::from_diagonal(&DVector::from_vec(w.clone())) * &x
                + DMatrix::identity(d, d) * 0.5;
            let scale = naive.abs().max();
            assert!((&g - &naive).abs().max() < 1e-13 * scale, "{background}");
            assert_eq!(g, g.transpose());
            assert_eq!(g, weighted_gram(&x, &w, 0.5).unwrap(), "deterministic");
            // All weights zero: only the ridge.
            let z = weighted_gram_planned(&x, &plan, &vec![0.0; n], 2.0).unwrap();
            assert_eq!(z, DMatrix::identity(d, d) * 2.0);
        }
        // Dense data takes the dense path.
        assert!(!GramPlan::new(&sample(1000, 40)).is_sparse());
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
        let cases = [
            (sample(37, 5), false),
            (sample(1000, 200), false),
            (image_sample(1000, 40, false), true),
            (image_sample(1000, 40, true), true),
            (image_sample(20, 40, true), true),
            (image_sample(4000, 40, true), true),
            (ragged_sample(3000, 120), true),
            (cored_sample(3000, 120), true),
            (cored_sample(7, 120), true),
        ];
        for (x, sparse) in cases {
            let (n, d) = x.shape();
            let v = DVector::from_fn(d, |i, _| (i as f64 * 0.37).sin());
            let c: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.1).collect();
            let xr = RowMajor::from_matrix(&x);
            assert_eq!(xr.is_sparse(), sparse);
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

    /// Rows with 0 to 36 non-background entries (so every remainder modulo 8 occurs) on a
    /// per-row background.
    fn ragged_sample(n: usize, d: usize) -> DMatrix<f64> {
        DMatrix::from_fn(n, d, |i, j| {
            let k = i % 37;
            if j % 3 == i % 3 && j / 3 < k {
                ((i * 7 + j * 13) as f64 * 0.1).sin() + 1.5
            } else {
                -0.3 / (1.0 + (i % 5) as f64)
            }
        })
    }

    /// [`ragged_sample`] with 13 core columns (non-background in 3 of 4 rows, or in every row)
    /// spread over the row, next to its sparse entries.
    fn cored_sample(n: usize, d: usize) -> DMatrix<f64> {
        let ragged = ragged_sample(n, d);
        DMatrix::from_fn(n, d, |i, j| {
            if j % 9 == 4 && (i % 4 != 0 || j < 10) {
                ((i * 3 + j * 5) as f64 * 0.07).cos() + 2.0
            } else {
                ragged[(i, j)]
            }
        })
    }

    #[test]
    fn core_columns_are_the_dense_ones() {
        let core = |x: &DMatrix<f64>| match &RowMajor::from_matrix(x).storage {
            RowStorage::Sparse { core_cols, .. } => core_cols.clone(),
            RowStorage::Dense(_) => panic!("stored sparse"),
        };
        assert_eq!(core(&ragged_sample(400, 120)), Vec::<u32>::new());
        let expected: Vec<u32> = (0..120).filter(|j| j % 9 == 4).collect();
        assert_eq!(core(&cored_sample(400, 120)), expected);
    }

    #[test]
    fn sparse_pass_variants_agree_bit_for_bit() {
        for x in [ragged_sample(400, 120), cored_sample(400, 120)] {
            sparse_pass_variants_agree_on(&x);
        }
    }

    fn sparse_pass_variants_agree_on(x: &DMatrix<f64>) {
        let (n, d) = x.shape();
        let xr = RowMajor::from_matrix(x);
        let RowStorage::Sparse {
            offsets,
            core_cols,
            core_vals,
            starts,
            cols,
            vals,
        } = &xr.storage
        else {
            panic!("the sample is stored sparse");
        };
        let rows = || SparseRows {
            offsets,
            core: core_vals,
            core_width: core_cols.len(),
            starts,
            cols,
            vals,
        };
        let k = core_cols.len();
        let v: Vec<f64> = (0..d).map(|i| (i as f64 * 0.37).sin()).collect();
        let v_sum: f64 = v.iter().sum();
        let v_ext = with_core_entries(&v, core_cols);
        // Some rows with p = 0 or q = 0 (skipped accumulations).
        let f = |i: usize, ui: f64| {
            let p = if i.is_multiple_of(5) {
                0.0
            } else {
                0.1 * (i % 7) as f64 * ui
            };
            let q = if i.is_multiple_of(4) {
                0.0
            } else {
                (ui + 1.0).tanh()
            };
            (p, q)
        };
        let run = |portable: bool| {
            let mut u = vec![0.0; n];
            let mut acc_p = vec![0.0; d + k];
            let mut acc_q = vec![0.0; d + k];
            let pass = if portable {
                sparse_rows_pass_portable
            } else {
                sparse_rows_pass
            };
            let io = PassBuffers {
                v: &v_ext,
                v_sum,
                u: &mut u,
                acc_p: &mut acc_p,
                acc_q: Some(&mut acc_q),
            };
            let sums = pass(rows(), io, f);
            fold_core_sums(&mut acc_p, core_cols);
            fold_core_sums(&mut acc_q, core_cols);
            (u, acc_p, acc_q, sums)
        };
        let (u, acc_p, acc_q, (sp, sq)) = run(false);
        assert_eq!(
            (u.clone(), acc_p.clone(), acc_q.clone(), (sp, sq)),
            run(true)
        );
        // And both are the products they stand for.
        let u_ref = x * DVector::from_vec(v.clone());
        let (mut p, mut q) = (DVector::zeros(n), DVector::zeros(n));
        for i in 0..n {
            (p[i], q[i]) = f(i, u[i]);
        }
        assert!((DVector::from_vec(u) - u_ref).abs().max() < 1e-12);
        let xp = DVector::from_vec(acc_p).add_scalar(sp);
        let xq = DVector::from_vec(acc_q).add_scalar(sq);
        assert!((xp - x.transpose() * p).abs().max() < 1e-11);
        assert!((xq - x.transpose() * q).abs().max() < 1e-11);
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

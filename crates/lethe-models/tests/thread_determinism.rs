//! One input gives one output whatever the thread count: every parallel kernel of
//! `lethe_models::linalg` is run under rayon pools of 1, 2, 3 and 8 threads and must return
//! bit-identical results (a researcher expects one seed to give one result on any machine).
//!
//! The sizes are above the kernels' thresholds for going parallel (`n·d ≥ 2¹⁷` entries,
//! d ≥ 512 for the triangular solves), so the parallel code paths are the ones compared.

use lethe_models::linalg::{
    Cholesky, ErrorBoundedGram, GramPlan, RowMajor, fused_pass, mat_t_vec, mat_vec,
    spectral_norm_upper_bound, weighted_gram, weighted_gram_planned,
};
use nalgebra::{DMatrix, DVector};

const THREADS: [usize; 4] = [1, 2, 3, 8];

/// Runs `f` in a rayon pool of `k` threads.
fn in_pool<T: Send>(k: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(k)
        .build()
        .unwrap()
        .install(f)
}

/// The bit patterns of a slice of floats (so that -0.0 ≠ 0.0 and NaNs compare too).
fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Asserts that `f` returns the same bits under every pool of [`THREADS`].
fn assert_thread_independent(what: &str, f: impl Fn() -> Vec<f64> + Sync) {
    let reference = bits(&in_pool(1, &f));
    for k in &THREADS[1..] {
        let got = bits(&in_pool(*k, &f));
        let differing = reference.iter().zip(&got).filter(|(a, b)| a != b).count();
        assert_eq!(
            (got.len(), differing),
            (reference.len(), 0),
            "{what}: {differing} of {} entries differ between 1 and {k} threads",
            reference.len()
        );
    }
}

/// A deterministic pseudo-random value in [-0.5, 0.5) (SplitMix64 of `i`).
fn noise(i: u64) -> f64 {
    (lethe_models::splitmix64(i) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// Dense data: every entry non-zero, rows of norm ≤ 1.
fn dense(n: usize, d: usize) -> DMatrix<f64> {
    let scale = 1.0 / (d as f64).sqrt();
    DMatrix::from_fn(n, d, |i, j| scale * noise((i * d + j) as u64))
}

/// Image-like data (as MNIST after the paper's preprocessing): a per-row negative background
/// and a window of "ink" columns that moves from one block of 256 rows to the next, so the
/// Gram plan and the row-major copy both take their sparse paths.
fn image_like(n: usize, d: usize) -> DMatrix<f64> {
    let scale = 1.0 / (d as f64).sqrt();
    DMatrix::from_fn(n, d, |i, j| {
        let window = (i / 256 * 7) % (d - d / 4);
        if (window..window + d / 4).contains(&j) && (i + j) % 5 != 0 {
            scale * (0.6 + noise((i * d + j) as u64))
        } else {
            -scale * 0.3 / (1.0 + (i % 7) as f64)
        }
    })
}

fn weights(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.25 * (0.5 + noise(i as u64 + 7))).collect()
}

#[test]
fn weighted_gram_dense_is_thread_independent() {
    let (n, d) = (3000, 96);
    let x = dense(n, d);
    let w = weights(n);
    assert!(!GramPlan::new(&x).is_sparse());
    assert_thread_independent("dense weighted Gram", || {
        weighted_gram(&x, &w, 0.5).unwrap().as_slice().to_vec()
    });
}

#[test]
fn weighted_gram_blocked_sparse_is_thread_independent() {
    let (n, d) = (3000, 96);
    let x = image_like(n, d);
    let w = weights(n);
    let plan = GramPlan::new(&x);
    assert!(
        plan.is_sparse(),
        "the blocked sparse path is the one tested"
    );
    assert_thread_independent("blocked sparse weighted Gram", || {
        weighted_gram_planned(&x, &plan, &w, 0.5)
            .unwrap()
            .as_slice()
            .to_vec()
    });
}

#[test]
fn error_bounded_gram_and_spectral_bound_are_thread_independent() {
    let (n, d) = (3000, 64);
    let x = dense(n, d);
    let keep: Vec<bool> = (0..n).map(|i| i % 11 != 3).collect();
    assert_thread_independent("error-bounded Gram", || {
        let g = ErrorBoundedGram::new(&x, Some(&keep));
        let mut out = g.gram().as_slice().to_vec();
        out.push(g.error_bound());
        out.push(g.spectral_norm_upper_bound().unwrap());
        out
    });
    let w = weights(n);
    assert_thread_independent("spectral-norm bound with weights", || {
        vec![spectral_norm_upper_bound(&x, &w).unwrap()]
    });
}

#[test]
fn matrix_vector_products_are_thread_independent() {
    let (n, d) = (4000, 80);
    let x = dense(n, d);
    let v = DVector::from_fn(d, |j, _| noise(j as u64 + 1));
    let r = DVector::from_fn(n, |i, _| noise(i as u64 + 2));
    assert_thread_independent("X v", || mat_vec(&x, &v).as_slice().to_vec());
    assert_thread_independent("Xᵀ r", || mat_t_vec(&x, &r).as_slice().to_vec());
}

#[test]
fn fused_pass_is_thread_independent_on_both_storages() {
    let (n, d) = (4000, 80);
    for (name, x) in [("dense", dense(n, d)), ("sparse", image_like(n, d))] {
        let rows = RowMajor::from_matrix(&x);
        assert_eq!(rows.is_sparse(), name == "sparse", "{name} storage");
        let v = DVector::from_fn(d, |j, _| noise(j as u64 + 3));
        assert_thread_independent(&format!("fused pass ({name} rows)"), || {
            let (u, xp, xq) = fused_pass(&rows, &v, true, |i, ui| {
                let s = 0.2 + 0.1 * (i % 3) as f64;
                if i % 17 == 0 {
                    (0.0, 0.0)
                } else {
                    (s * ui, ui - s)
                }
            });
            [u.as_slice(), xp.as_slice(), xq.as_slice()].concat()
        });
    }
}

#[test]
fn cholesky_factor_of_mnist_size_is_thread_independent() {
    // d = 784 as MNIST: faer's blocked factorisation recurses into parallel GEMMs here.
    let (n, d) = (1600, 784);
    let x = dense(n, d);
    let h = weighted_gram(&x, &weights(n), 1.0).unwrap();
    assert_thread_independent("Cholesky factor (d = 784)", || {
        Cholesky::factor(&h).unwrap().lower().as_slice().to_vec()
    });
}

#[test]
fn cholesky_factor_solve_and_update_are_thread_independent() {
    // d ≥ 512 so that the solves take their parallel path too.
    let (n, d) = (1200, 520);
    let x = dense(n, d);
    let h = weighted_gram(&x, &weights(n), 1.0).unwrap();
    let rhs = DVector::from_fn(d, |j, _| noise(j as u64 + 5));
    let w = DMatrix::from_fn(d, 2, |i, j| 0.05 * noise((i * 2 + j) as u64 + 9));
    assert_thread_independent("Cholesky factor", || {
        Cholesky::factor(&h).unwrap().lower().as_slice().to_vec()
    });
    let c = Cholesky::factor(&h).unwrap();
    assert_thread_independent("Cholesky solve", || c.solve(&rhs).as_slice().to_vec());
    assert_thread_independent("single-threaded Cholesky solve", || {
        c.solve_single_threaded(&rhs).as_slice().to_vec()
    });
    assert_thread_independent("Cholesky rank update", || {
        let mut c = c.clone();
        c.rank_update(&w, &[1.0, -0.5]).unwrap();
        c.lower().as_slice().to_vec()
    });
}

//! The dense kernels: factor, rebuild, compare; and the spectral-norm bound is an upper bound.

use lethe_models::linalg::{
    Cholesky, ErrorBoundedGram, spectral_norm_upper_bound, textbook_cholesky_succeeds,
    verified_lambda_max_upper_bound, weighted_gram,
};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;

/// (a·b) as an unevaluated sum hi + lo (exact, by FMA).
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// (a + b) as an unevaluated sum hi + lo (exact).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Σ v_j² in double-double arithmetic (relative error ~1e-30 for these sizes).
fn sum_squares_dd(v: &[f64]) -> (f64, f64) {
    let (mut hi, mut lo) = (0.0, 0.0);
    for &x in v {
        let (p, e) = two_prod(x, x);
        let (s, e2) = two_sum(hi, p);
        hi = s;
        lo += e + e2;
    }
    two_sum(hi, lo)
}

#[test]
fn spectral_bound_is_rigorous_for_rank_one_data() {
    // n copies of one row x: ‖X‖₂ = ‖X‖_F = √n‖x‖ exactly, the case where a bound computed in
    // floating point is most easily below the truth. Compare squares against a double-double
    // reference: bound² ≥ n·Σx_j² must hold (bound² is rounded up by at most 1 ulp).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for n in [3usize, 1000, 11982] {
        for d in [1usize, 2, 7] {
            for _ in 0..4 {
                let x: Vec<f64> = (0..d).map(|_| 0.05 + 0.9 * uniform()).collect();
                let (hi, lo) = sum_squares_dd(&x);
                let m = DMatrix::from_fn(n, d, |_, j| x[j]);
                let bound = spectral_norm_upper_bound(&m, &vec![1.0; n]).unwrap();
                // bound² − n(hi + lo) ≥ 0, evaluated exactly enough: bound² as hi+lo, minus n·hi
                // (n·hi exact to within one rounding, which is tracked by two_prod).
                let (b2, b2e) = two_prod(bound, bound);
                let (nh, nhe) = two_prod(n as f64, hi);
                let excess = (b2 - nh) + (b2e - nhe - n as f64 * lo);
                assert!(
                    excess >= 0.0,
                    "n = {n}, d = {d}: bound² falls short of ‖X‖₂² by {:e} (relative)",
                    -excess / nh
                );
                // ... and is tight: within γ_N of the Frobenius bound, N = 256 + ⌈n/256⌉ + 1.
                assert!(excess <= 4.0 * (260 + n / 256) as f64 * f64::EPSILON * nh);
            }
        }
    }
}

/// A small deterministic generator (no dependence on proptest's streams).
fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    }
}

#[test]
fn spectral_bound_dominates_exact_rank_one_products() {
    // X = a·bᵀ with a_i, b_j integers times 2⁻¹² (below 2¹²), so every entry a_i b_j is exact
    // and ‖X‖₂² = (Σa_i²)(Σb_j²) exactly (integer arithmetic).
    let mut next = lcg(7);
    for (n, d) in [(5usize, 3usize), (700, 20), (3000, 64)] {
        let a: Vec<u64> = (0..n).map(|_| 1 + next() % 4095).collect();
        let b: Vec<u64> = (0..d).map(|_| 1 + next() % 4095).collect();
        let scale = 2f64.powi(-12);
        let x = DMatrix::from_fn(n, d, |i, j| a[i] as f64 * scale * (b[j] as f64 * scale));
        let sa: u128 = a.iter().map(|&v| (v * v) as u128).sum();
        let sb: u128 = b.iter().map(|&v| (v * v) as u128).sum();
        let exact_sq = sa * sb; // ‖X‖₂² · 2⁴⁸
        let bound = spectral_norm_upper_bound(&x, &vec![1.0; n]).unwrap();
        // bound² · 2⁴⁸ ≥ exact_sq, compared exactly: bound is a float, so bound·2²⁴ = m·2^e.
        let scaled = bound * 2f64.powi(24);
        let (hi, lo) = (scaled * scaled, scaled.mul_add(scaled, -(scaled * scaled)));
        let exact = exact_sq as f64;
        let exact_lo = (exact_sq as i128 - exact as i128) as f64; // exact_sq < 2⁹⁶
        assert!(
            (hi - exact) + (lo - exact_lo) >= 0.0,
            "n = {n}, d = {d}: bound {bound} below ‖X‖₂ = {}",
            (exact_sq as f64).sqrt() / 2f64.powi(24)
        );
        let norm = (exact_sq as f64).sqrt() / 2f64.powi(24);
        assert!(bound <= norm * (1.0 + 1e-11), "{bound} vs {norm}");
    }
}

#[test]
fn spectral_bound_dominates_exact_orthogonal_columns() {
    // Columns of a Sylvester–Hadamard matrix (±1, orthogonal) scaled by c_j = k_j/64:
    // XᵀX = n·diag(c_j²) exactly, ‖X‖₂ = √n·max c_j.
    for (log_n, d) in [(3u32, 5usize), (9, 40), (12, 100)] {
        let n = 1usize << log_n;
        let c: Vec<f64> = (0..d).map(|j| (1 + (j * 37) % 61) as f64 / 64.0).collect();
        let x = DMatrix::from_fn(n, d, |i, j| {
            let sign = if (i & j).count_ones() % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            sign * c[j]
        });
        let cmax = c.iter().copied().fold(0.0, f64::max);
        let bound = spectral_norm_upper_bound(&x, &vec![1.0; n]).unwrap();
        // ‖X‖₂² = n·c_max² exactly (a float: n a power of two, c_max² exact in 13 bits).
        assert!(bound * bound >= n as f64 * cmax * cmax, "n = {n}: {bound}");
        assert!(bound >= (n as f64).sqrt() * cmax);
        assert!(bound <= (n as f64).sqrt() * cmax * (1.0 + 1e-11), "{bound}");
    }
}

#[test]
fn spectral_bound_is_tight_on_mnist_sized_random_data() {
    // Unit-norm rows with a common positive mean (like centred images): the verified bound is
    // at most 1e-10 relative above faer's own (unverified) λ_max of the same product; the
    // previous allowance 4(n + d)·2u·tr(G) was ~2e-9 relative here.
    let (n, d) = (12_000usize, 784usize);
    let mut next = lcg(11);
    let mut x = DMatrix::from_fn(n, d, |_, _| (next() % 2001) as f64 / 1000.0 - 1.0 + 0.02);
    for mut row in x.row_iter_mut() {
        let norm = row.norm();
        row /= norm;
    }
    let gram = ErrorBoundedGram::new(&x, None);
    let computed = gram
        .gram()
        .symmetric_eigenvalues()
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .sqrt();
    let bound = gram.spectral_norm_upper_bound().unwrap();
    let rel = bound / computed - 1.0;
    assert!((0.0..=1e-10).contains(&rel), "relative excess {rel:e}");
    assert!(bound < x.norm(), "tighter than Frobenius");
}

#[test]
fn verified_lambda_max_and_textbook_cholesky() {
    // λ_max of diag(1, 2, 3) plus a symmetric perturbation; the verified bound is above the
    // exact eigenvalue and close to it.
    let a = DMatrix::from_row_slice(3, 3, &[1.0, 0.5, 0.0, 0.5, 2.0, 0.25, 0.0, 0.25, 3.0]);
    let exact = a.clone().symmetric_eigenvalues().max();
    let t = verified_lambda_max_upper_bound(&a).unwrap().unwrap();
    assert!(t >= exact && t <= exact * (1.0 + 1e-13), "{t} vs {exact}");
    // The Cholesky check accepts a definite matrix and rejects a singular and an indefinite one.
    let mut spd = vec![4.0, 0.0, 2.0, 3.0];
    assert!(textbook_cholesky_succeeds(&mut spd, 2));
    assert_eq!(spd, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
    assert!(!textbook_cholesky_succeeds(&mut [1.0, 0.0, 1.0, 1.0], 2));
    assert!(!textbook_cholesky_succeeds(&mut [1.0, 0.0, 2.0, 1.0], 2));
    // Non-finite input is not verified.
    let nan = DMatrix::from_row_slice(1, 1, &[f64::NAN]);
    assert_eq!(verified_lambda_max_upper_bound(&nan).unwrap(), None);
}

#[test]
fn downdated_gram_bound_dominates_the_remaining_rows() {
    let mut next = lcg(3);
    let (n, d) = (400usize, 12usize);
    let x = DMatrix::from_fn(n, d, |_, _| (next() % 1001) as f64 / 1000.0 - 0.3);
    let mut g = ErrorBoundedGram::new(&x, None);
    let full = g.spectral_norm_upper_bound().unwrap();
    let removed: Vec<usize> = (0..n).step_by(3).collect();
    g.downdate(&x, &removed);
    let bound = g.spectral_norm_upper_bound().unwrap();
    let kept: Vec<usize> = (0..n).filter(|i| i % 3 != 0).collect();
    let exact = x.select_rows(&kept).svd(false, false).singular_values.max();
    assert!(bound >= exact * (1.0 + 1e-14) && bound <= exact * (1.0 + 1e-9));
    assert!(bound < full);
    // The downdate widened the error bound.
    assert!(g.error_bound() > ErrorBoundedGram::new(&x, None).error_bound());
}

fn matrix(max_n: usize, max_d: usize) -> impl Strategy<Value = DMatrix<f64>> {
    (1..=max_n, 1..=max_d).prop_flat_map(|(n, d)| {
        prop::collection::vec(-1.0f64..1.0, n * d)
            .prop_map(move |v| DMatrix::from_column_slice(n, d, &v))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spectral_bound_is_above_the_svd_and_tight(
        x in matrix(60, 8),
        drop in prop::collection::vec(any::<bool>(), 60),
    ) {
        let n = x.nrows();
        let weights: Vec<f64> = (0..n).map(|i| if drop[i] { 0.0 } else { 1.0 }).collect();
        let kept: Vec<usize> = (0..n).filter(|&i| !drop[i]).collect();
        let sub = x.select_rows(&kept);
        let bound = spectral_norm_upper_bound(&x, &weights).unwrap();
        let exact = if kept.is_empty() {
            0.0
        } else {
            sub.clone().svd(false, false).singular_values.max()
        };
        // The SVD reference itself carries ~1e-15 relative error.
        prop_assert!(bound >= exact * (1.0 - 1e-14), "{bound} < σ_max {exact}");
        prop_assert!(bound <= exact * (1.0 + 1e-9) + 1e-150, "{bound} ≫ σ_max {exact}");
        prop_assert!(bound <= sub.norm() * (1.0 + 1e-12) + 1e-150);
        // Zero-weight rows are ignored, so removing rows never increases the bound.
        let all = spectral_norm_upper_bound(&x, &vec![1.0; n]).unwrap();
        prop_assert!(bound <= all * (1.0 + 1e-12));
    }

    #[test]
    fn weighted_gram_and_cholesky_factor_rebuild_and_solve(
        x in matrix(50, 8),
        w in prop::collection::vec(0.0f64..0.25, 50),
        ridge in 1e-3f64..10.0,
        rhs in prop::collection::vec(-1.0f64..1.0, 8),
    ) {
        let (n, d) = x.shape();
        let w = &w[..n];
        let h = weighted_gram(&x, w, ridge).unwrap();
        let naive = x.transpose() * DMatrix::from_diagonal(&DVector::from_column_slice(w)) * &x
            + DMatrix::identity(d, d) * ridge;
        prop_assert!((&h - &naive).amax() <= 1e-13 * (1.0 + naive.amax()));
        prop_assert_eq!(&h, &h.transpose());

        let chol = Cholesky::factor(&h).unwrap();
        prop_assert_eq!(chol.dim(), d);
        let l = chol.lower();
        prop_assert!((&l * l.transpose() - &h).amax() <= 1e-13 * h.amax());
        let b = DVector::from_column_slice(&rhs[..d]);
        let sol = chol.solve(&b);
        prop_assert!((&h * &sol - &b).norm() <= 1e-12 * (h.norm() * sol.norm() + b.norm()));
        let mut in_place = b.clone();
        chol.solve_in_place(&mut in_place);
        prop_assert_eq!(in_place, sol);
    }
}

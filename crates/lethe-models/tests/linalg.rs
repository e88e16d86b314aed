//! The dense kernels: factor, rebuild, compare; and the spectral-norm bound is an upper bound.

use lethe_models::linalg::{Cholesky, spectral_norm_upper_bound, weighted_gram};
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
                // ... and is tight: within the documented allowance 4(n + d)u.
                assert!(excess <= 5.0 * (n + d) as f64 * f64::EPSILON * nh);
            }
        }
    }
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

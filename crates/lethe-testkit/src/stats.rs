//! Two-sample tests for the statistical check of the guarantee.

/// The result of a two-sample Kolmogorov–Smirnov test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KsResult {
    /// D = sup_t |F_a(t) − F_b(t)|.
    pub statistic: f64,
    /// The asymptotic p-value Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D), nₑ = n_a·n_b/(n_a + n_b)
    /// (Stephens' small-sample correction, as in *Numerical Recipes* §14.3).
    pub p_value: f64,
    /// Size of the first sample.
    pub n_a: usize,
    /// Size of the second sample.
    pub n_b: usize,
}

/// The Kolmogorov distribution's tail Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}, with the
/// dual (Jacobi theta) series for small λ where the alternating one converges slowly.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if !(lambda > 0.0) {
        return 1.0;
    }
    if lambda < 1.18 {
        // Q = 1 − (√(2π)/λ) Σ_{j≥1} exp(−(2j − 1)²π²/(8λ²)).
        let y = (-std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda)).exp();
        let mut sum = 0.0;
        let mut j = 1i32;
        loop {
            let term = y.powi((2 * j - 1).pow(2));
            sum += term;
            if term < 1e-17 * sum.max(1e-300) || j > 100 {
                break;
            }
            j += 1;
        }
        (1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum).clamp(0.0, 1.0)
    } else {
        let x = (-2.0 * lambda * lambda).exp();
        let mut sum = 0.0;
        let mut sign = 1.0;
        for j in 1..=100i32 {
            let term = x.powi(j * j);
            sum += sign * term;
            if term < 1e-17 {
                break;
            }
            sign = -sign;
        }
        (2.0 * sum).clamp(0.0, 1.0)
    }
}

/// The two-sample Kolmogorov–Smirnov test of `a` against `b` (NaNs are an error: `None`).
/// Ties are handled exactly (the ECDFs are compared after every distinct value).
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> Option<KsResult> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| v.is_nan()) {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len(), b.len());
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < na && j < nb {
        let t = if a[i] <= b[j] { a[i] } else { b[j] };
        while i < na && a[i] <= t {
            i += 1;
        }
        while j < nb && b[j] <= t {
            j += 1;
        }
        d = d.max((i as f64 / na as f64 - j as f64 / nb as f64).abs());
    }
    let ne = (na * nb) as f64 / (na + nb) as f64;
    let root = ne.sqrt();
    let p_value = kolmogorov_q((root + 0.12 + 0.11 / root) * d);
    Some(KsResult {
        statistic: d,
        p_value,
        n_a: na,
        n_b: nb,
    })
}

/// Mean ([`lethe_removal::stats::mean`]) and (unbiased) standard deviation.
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = lethe_removal::stats::mean(x);
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kolmogorov_tail_known_values() {
        // Q_KS(λ) at the classic critical values: 1.358 ↔ 0.05, 1.628 ↔ 0.01, 1.224 ↔ 0.10.
        assert!((kolmogorov_q(1.3581) - 0.05).abs() < 2e-4);
        assert!((kolmogorov_q(1.6276) - 0.01).abs() < 1e-4);
        assert!((kolmogorov_q(1.2239) - 0.10).abs() < 2e-4);
        // Both series agree where they meet.
        let below = kolmogorov_q(1.18 - 1e-12);
        let above = kolmogorov_q(1.18 + 1e-12);
        assert!((below - above).abs() < 1e-9, "{below} {above}");
        assert_eq!(kolmogorov_q(0.0), 1.0);
        assert!(kolmogorov_q(0.3) > 0.9999);
        assert!(kolmogorov_q(5.0) < 1e-20);
    }

    #[test]
    fn ks_statistic_by_hand() {
        let r = ks_two_sample(&[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5, 4.5]).unwrap();
        // After 3: F_a = 1, F_b = 2/4 → D = 0.5.
        assert!((r.statistic - 0.5).abs() < 1e-15);
        let same = ks_two_sample(&[1.0, 1.0, 2.0], &[1.0, 2.0, 1.0]).unwrap();
        assert_eq!(same.statistic, 0.0);
        assert_eq!(same.p_value, 1.0);
        let apart = ks_two_sample(&[0.0; 50], &[1.0; 50]).unwrap();
        assert_eq!(apart.statistic, 1.0);
        assert!(apart.p_value < 1e-15);
        assert!(ks_two_sample(&[], &[1.0]).is_none());
        assert!(ks_two_sample(&[f64::NAN], &[1.0]).is_none());
    }
}

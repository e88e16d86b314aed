//! Summary statistics of lethe's timings and bounds: the one median and mean that
//! lethe-removal's comparison, lethe-experiments' summaries and reports, lethe-testkit and the
//! benchmarks use.
//!
//! Sorting uses [`f64::total_cmp`], so NaN sorts after +∞ (before −∞ when negative) instead of
//! panicking; [`finite_median`] drops non-finite values first.

/// The arithmetic mean of `v` (summed in order); NaN for no values.
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The median of `v`: the middle value of the sorted values, the mean of the two middle values
/// for an even count; NaN for no values.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let s = sorted(v);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The [`median`] of the finite values of `v`; `None` when none is finite (the paper report's
/// table cells).
pub fn finite_median(v: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (!finite.is_empty()).then(|| median(&finite))
}

/// The upper median of `v`: the value at position ⌊n/2⌋ of the sorted values (the larger middle
/// value for an even count, never an average; the scaling benchmark's timing statistic).
///
/// # Panics
/// When `v` is empty.
pub fn upper_median(v: &[f64]) -> f64 {
    assert!(!v.is_empty(), "the upper median of no values");
    sorted(v)[v.len() / 2]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_means() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(upper_median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(upper_median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert!(mean(&[]).is_nan());
        assert_eq!(
            finite_median(&[f64::NAN, 1.0, f64::INFINITY, 3.0]),
            Some(2.0)
        );
        assert_eq!(finite_median(&[f64::NAN, f64::NEG_INFINITY]), None);
        assert_eq!(finite_median(&[]), None);
        // NaN sorts last instead of panicking.
        assert_eq!(median(&[f64::NAN, 1.0, 2.0]), 2.0);
    }
}

//! The example of the crate docs, as a test: a user's own mechanism
//! (`examples/custom_mechanism.rs`, exact ridge-regression removal) under the harness.

#[allow(dead_code)]
#[path = "../examples/custom_mechanism.rs"]
mod example;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Requests, bad requests, determinism, and equality with retraining.
    #[test]
    fn ridge_downdate_passes_the_harness((data, requests, seed) in example::problems()) {
        lethe_testkit::prop_check(example::check_problem(data, &requests, seed))?;
    }
}

/// The statistical check: removed ≈ retrained with a fresh b.
#[test]
fn ridge_downdate_passes_the_statistical_check() {
    let report = example::statistical_check(400).unwrap();
    assert!(!report.rejected);
    assert_eq!(report.retrained_draws, 0);
}

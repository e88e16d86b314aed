//! # lethe-testkit
//!
//! A property-based test harness for data-removal mechanisms: for lethe's own mechanisms and
//! for anyone who writes their own behind [`lethe_removal::RemovalStrategy`].
//!
//! | module | what |
//! |---|---|
//! | [`strategies`] | proptest strategies: datasets (n, d, unit-norm rows, ±1 / K-class / real labels, the [`Degeneracy`] cases that break solvers), objectives (loss, λ, σ, extremes), request sequences (single, batch, adversarially ordered); all valid by construction, so shrinking keeps them valid |
//! | [`invariants`] | reusable invariants as plain functions returning an [`InvariantFailure`] (what, expected, got, request number) |
//! | [`guarantee`] | a statistical check of the guarantee: many noise draws, removed versus retrained, a KS test at a stated level |
//! | [`fixtures`] | deliberately broken mechanisms, to show the checks catch real bugs |
//! | [`reference`](mod@reference) | independent recomputations: exact residuals, retraining |
//! | [`stats`] | the two-sample Kolmogorov–Smirnov test |
//!
//! ## The invariants
//! - **requests do what they say** ([`run_requests`]): exactly the requested rows leave;
//! - **bad requests leave the model untouched** ([`check_bad_requests_untouched`]): empty,
//!   unknown, duplicated, already removed rows and "remove everything" are errors, and the
//!   weights, active rows and decisions stay bit-for-bit the same;
//! - **same seed ⇒ identical trajectory** ([`check_same_seed_same_trajectory`]);
//! - **squared-loss removal equals retraining** ([`check_squared_loss_equals_retraining`],
//!   [`check_certified_squared_loss`]), or any reference ([`check_matches_reference`]);
//! - **exact residual ≤ the claimed certificate** ([`check_residual_within_certificate`],
//!   [`check_step_residual`]): the residual ‖∇L_b(w; D′)‖, b included, recomputed from
//!   scratch, never exceeds β;
//! - **β never exceeds the budget in a released model** ([`check_budget_respected`]), and
//!   the certificate's own arithmetic ([`check_certificate_consistency`]);
//! - all certificate checks along a sequence: [`check_certified_sequence`];
//! - **the guarantee itself**, statistically: [`GuaranteeCheck`].
//!
//! Each returns `Result<(), InvariantFailure>` and never panics, so it works from a plain
//! `#[test]` (`.unwrap()` prints the failure), inside `proptest!` (via [`prop_check`]) or in
//! any other harness.
//!
//! ## Testing your own mechanism
//! Implement [`RemovalStrategy`] and hand the harness a way to build it. The full, runnable
//! version of this example is `examples/custom_mechanism.rs` (an exact ridge-regression
//! downdate; `cargo run --release -p lethe-testkit --example custom_mechanism`), and its test
//! is `tests/custom_mechanism.rs`. In short:
//!
//! ```
//! use std::sync::Arc;
//! use lethe_removal::{RemovalStrategy, RetrainNoise, RetrainStrategy};
//! use lethe_testkit::strategies::{datasets, request_sequences, DatasetParams, RequestPattern};
//! use lethe_testkit::{check_bad_requests_untouched, check_same_seed_same_trajectory,
//!     prop_check, probe_matrix, run_requests};
//! use lethe_models::LinearModelParams;
//! use proptest::prelude::*;
//!
//! // Your mechanism: here lethe's retraining, standing in for your own type.
//! fn build(data: Arc<lethe_data::Dataset>, seed: u64)
//!     -> Result<Box<dyn RemovalStrategy>, lethe_removal::RemovalError> {
//!     let params = LinearModelParams::logistic(0.1, 1.0);
//!     Ok(Box::new(RetrainStrategy::train(params, data, seed, RetrainNoise::Fresh)?))
//! }
//!
//! proptest!(ProptestConfig::with_cases(8), |((data, requests) in datasets(DatasetParams::binary(6..=12, 1..=3))
//!     .prop_flat_map(|d| { let n = d.n_samples(); (Just(d), request_sequences(n, RequestPattern::Single, 3)) }))| {
//!     let data = Arc::new(data);
//!     let probe = probe_matrix(&data);
//!     let mut s = build(data.clone(), 7).unwrap();
//!     prop_check(run_requests(s.as_mut(), &requests).map(|_| ()))?;
//!     prop_check(check_bad_requests_untouched(s.as_mut(), &probe))?;
//!     prop_check(check_same_seed_same_trajectory(|| build(data.clone(), 7), &requests, &probe))?;
//! });
//! ```
//!
//! ## Statistical check, in one call
//! ```
//! use std::sync::Arc;
//! use lethe_removal::{CertifiedModel, CertifiedParams};
//! use lethe_testkit::GuaranteeCheck;
//!
//! let mut check = GuaranteeCheck::tiny(20, 2, 1);
//! check.draws = 60; // keep the doc test fast; the suites use more
//! let params = CertifiedParams::new(check.params);
//! let report = check
//!     .run(|data, seed| Ok(Box::new(CertifiedModel::train(params, data, seed)?)))
//!     .unwrap();
//! report.expect_not_rejected().unwrap();
//! assert_eq!(report.retrained_draws, 0); // the certificate held: every draw took the step
//! ```
//!
//! ## The guarantee's scope
//! Certified removal is proved for request sequences that do not depend on the released
//! models (non-adaptive). The adversarial orders of [`strategies::AdversarialOrder`] look at
//! the data only, never at a released model, so they stay inside that setting.

pub mod fixtures;
pub mod guarantee;
pub mod invariants;
pub mod reference;
pub mod stats;
pub mod strategies;

pub use fixtures::{FixtureStrategy, Flaw};
pub use guarantee::{CoordinateTest, GuaranteeCheck, GuaranteeReport};
pub use invariants::{
    BadRequest, BadRequestKind, CheckResult, InvariantFailure, bad_requests,
    check_bad_requests_untouched, check_bound_order, check_budget_respected,
    check_certificate_consistency, check_certified_sequence, check_certified_squared_loss,
    check_matches_reference, check_residual_within_certificate, check_same_seed_same_trajectory,
    check_squared_loss_equals_retraining, check_step_residual, run_requests, without_timings,
};
pub use lethe_removal::RemovalStrategy;
pub use strategies::{
    AdversarialOrder, DatasetParams, Degeneracy, LabelKind, ObjectiveParams, ObjectiveSpec,
    Problem, ProblemParams, RequestPattern, RowScale, probe_matrix,
};

/// Turns a check's result into a proptest result, so `?` works inside `proptest!`:
/// `prop_check(check_bad_requests_untouched(s, &probe))?;`.
///
/// # Errors
/// A [`proptest::test_runner::TestCaseError::Fail`] carrying the failure's message.
pub fn prop_check<T>(result: CheckResult<T>) -> Result<T, proptest::test_runner::TestCaseError> {
    result.map_err(|f| proptest::test_runner::TestCaseError::fail(f.to_string()))
}

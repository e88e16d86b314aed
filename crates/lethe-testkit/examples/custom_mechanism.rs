//! Writing your own removal mechanism and testing it with lethe-testkit.
//!
//! The mechanism: exact removal for ridge regression on the perturbed objective
//! L_b(w) = Σ (wᵀx_i − y_i)² + (λn/2)‖w‖² + bᵀw. Its minimiser solves
//! (2XᵀX + λnI) w = 2Xᵀy − b, so the mechanism keeps G = XᵀX and r = Xᵀy of the remaining
//! rows, subtracts a removed row's x xᵀ and y x, and re-solves a d × d system. No data pass,
//! and exact: the result *is* retraining with the same b.
//!
//! The harness then checks, on generated problems (`run` below):
//! 1. requests do what they say, and bad requests leave the model untouched;
//! 2. the same seed gives the identical trajectory;
//! 3. removal equals retraining with the same b (lethe's own solver as the reference);
//! 4. statistically: the removed model is distributed like retraining with a fresh b.
//!
//! Run it with `cargo run --release -p lethe-testkit --example custom_mechanism`; the same
//! checks run in CI from `tests/custom_mechanism.rs`.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind, SolverKind, Stream};
use lethe_removal::{Guarantee, RemovalError, RemovalOutcome, RemovalStrategy, validate_request};
use lethe_testkit::strategies::{
    DatasetParams, RequestPattern, adversarial_sequences, datasets, request_sequences,
};
use lethe_testkit::{
    CheckResult, GuaranteeCheck, check_bad_requests_untouched, check_same_seed_same_trajectory,
    check_squared_loss_equals_retraining, probe_matrix, run_requests,
};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Exact ridge-regression removal by updating XᵀX and Xᵀy.
pub struct RidgeDowndate {
    data: Arc<Dataset>,
    lambda: f64,
    noise: DVector<f64>,
    gram: DMatrix<f64>,
    xty: DVector<f64>,
    active: Vec<bool>,
    n_active: usize,
    weights: DVector<f64>,
    requests: usize,
}

impl RidgeDowndate {
    /// Trains on every row; b ~ N(0, σ²I) from lethe's training stream of `seed`, so that the
    /// mechanism is comparable with lethe's own (same seed ⇒ same b).
    pub fn train(
        params: &LinearModelParams,
        data: Arc<Dataset>,
        seed: u64,
    ) -> Result<Self, RemovalError> {
        params.check()?;
        let noise =
            params.draw_noise(data.n_features(), seed, Stream::TrainingNoise { class: 0 })?;
        let x = data.features();
        let mut s = Self {
            lambda: params.lambda,
            noise,
            gram: x.transpose() * x,
            xty: x.transpose() * data.labels(),
            active: vec![true; data.n_samples()],
            n_active: data.n_samples(),
            weights: DVector::zeros(data.n_features()),
            requests: 0,
            data,
        };
        s.weights = s.solve(&s.gram, &s.xty, s.n_active)?;
        Ok(s)
    }

    /// w = (2G + λn′I)⁻¹(2r − b).
    fn solve(
        &self,
        gram: &DMatrix<f64>,
        xty: &DVector<f64>,
        n: usize,
    ) -> Result<DVector<f64>, RemovalError> {
        let d = gram.nrows();
        let h = gram * 2.0 + DMatrix::identity(d, d) * (self.lambda * n as f64);
        let rhs = xty * 2.0 - &self.noise;
        let chol = lethe_models::linalg::Cholesky::factor(&h)?;
        Ok(chol.solve(&rhs))
    }
}

impl RemovalStrategy for RidgeDowndate {
    fn name(&self) -> &str {
        "ridge-downdate"
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::Exact
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome, RemovalError> {
        // Validate first, then compute on copies, then commit: a failure changes nothing.
        validate_request(&self.active, self.n_active, indices)?;
        let start = Instant::now();
        let (mut gram, mut xty) = (self.gram.clone(), self.xty.clone());
        for &i in indices {
            let x = self.data.row(i).transpose();
            gram -= &x * x.transpose();
            xty -= x * self.data.labels()[i];
        }
        let n = self.n_active - indices.len();
        let weights = self.solve(&gram, &xty, n)?;
        for &i in indices {
            self.active[i] = false;
        }
        (self.gram, self.xty, self.n_active, self.weights) = (gram, xty, n, weights);
        self.requests += 1;
        Ok(RemovalOutcome::uncertified(
            self.requests,
            indices,
            start,
            false,
        ))
    }

    fn active(&self) -> &[bool] {
        &self.active
    }

    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, RemovalError> {
        if x.ncols() != self.weights.len() {
            return Err(RemovalError::Data(
                lethe_data::DataError::DimensionMismatch {
                    expected: self.weights.len(),
                    found: x.ncols(),
                    context: "features given to ridge-downdate".into(),
                },
            ));
        }
        Ok(x * DMatrix::from_columns(std::slice::from_ref(&self.weights)))
    }

    fn classes(&self) -> Vec<Option<f64>> {
        vec![None]
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(DMatrix::from_columns(std::slice::from_ref(&self.weights)))
    }
}

/// The model parameters the mechanism and its references share.
pub fn ridge_params(lambda: f64, sigma: f64) -> LinearModelParams {
    let mut p = LinearModelParams::squared(lambda, sigma);
    p.solver.kind = SolverKind::Newton;
    p.solver.tolerance = 1e-12;
    p
}

/// Checks 1–3 on one problem.
pub fn check_problem(data: Dataset, requests: &[Vec<usize>], seed: u64) -> CheckResult {
    let data = Arc::new(data);
    let params = ridge_params(0.05, 1.0);
    let probe = probe_matrix(&data);
    let build = || -> Result<Box<dyn RemovalStrategy>, RemovalError> {
        Ok(Box::new(RidgeDowndate::train(&params, data.clone(), seed)?))
    };
    // 1. Requests and bad requests (before and after the valid ones).
    let mut s = RidgeDowndate::train(&params, data.clone(), seed).expect("trains");
    check_bad_requests_untouched(&mut s, &probe)?;
    run_requests(&mut s, requests)?;
    check_bad_requests_untouched(&mut s, &probe)?;
    // 2. Determinism.
    check_same_seed_same_trajectory(build, requests, &probe)?;
    // 3. Equal to lethe's retraining with the same b. Both solve to ‖∇‖ ≤ 1e-12 with
    //    H ⪰ λn′I, so they agree to ~1e-12/(λn′); allow 1e-8.
    let mut s = RidgeDowndate::train(&params, data.clone(), seed).expect("trains");
    let noise = vec![s.noise.clone()];
    check_squared_loss_equals_retraining(&mut s, &params, &data, &noise, requests, 1e-8)
}

/// The problems: regression data (n ∈ 3..=30, d ∈ 1..=4, ‖x‖ ≤ 1), random or adversarial
/// request sequences.
pub fn problems() -> impl Strategy<Value = (Dataset, Vec<Vec<usize>>, u64)> {
    datasets(DatasetParams::regression(3..=30, 1..=4)).prop_flat_map(|data| {
        let n = data.n_samples();
        let requests = prop_oneof![
            request_sequences(n, RequestPattern::Mixed { max_size: 3 }, 5),
            adversarial_sequences(data.clone(), 2, 5).prop_map(|(_, r)| r),
        ];
        (Just(data), requests, any::<u64>())
    })
}

/// Check 4: the statistical check on a tiny regression problem (n = 20, d = 2).
pub fn statistical_check(draws: usize) -> CheckResult<lethe_testkit::GuaranteeReport> {
    let (data, _) = lethe_data::synthetic::linear_gaussian(20, 2, 0.3, 17).expect("valid");
    let params = ridge_params(0.1, 0.5);
    let check = GuaranteeCheck {
        data: Arc::new(data),
        params,
        requests: vec![vec![0], vec![3, 4]],
        draws,
        level: 0.01,
        seed: 17,
    };
    let report =
        check.run(|data, seed| Ok(Box::new(RidgeDowndate::train(&params, data, seed)?)))?;
    report.expect_not_rejected()?;
    Ok(report)
}

/// Sanity: the loss really is the squared one (the mechanism's algebra assumes it).
pub fn loss() -> LossKind {
    ridge_params(1.0, 0.0).loss
}

fn main() {
    assert_eq!(loss(), LossKind::Squared);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::with_cases(64)
    });
    let result = runner.run(&problems(), |(data, requests, seed)| {
        check_problem(data, &requests, seed)
            .map_err(|f| proptest::test_runner::TestCaseError::fail(f.to_string()))
    });
    match result {
        Ok(()) => println!("checks 1–3 passed on 64 generated problems"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    match statistical_check(400) {
        Ok(r) => println!(
            "check 4 passed: KS p = {:.3} over {} draws (level {})",
            r.p_value, r.draws, r.level
        ),
        Err(f) => {
            eprintln!("{f}");
            std::process::exit(1);
        }
    }
}

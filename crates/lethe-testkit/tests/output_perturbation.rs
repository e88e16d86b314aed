//! The statistical check of the guarantee for output perturbation (Sekhari et al. 2021) and
//! Descent-to-Delete (Neel et al. 2021; issue #19): the released model must not be told apart
//! from the *ideal retrain release* — the exact b = 0 minimiser on the remaining rows plus
//! fresh release noise, the distribution its certificate is about — and deliberately broken
//! variants must be.
//!
//! Same tiny problem, level and draw counts as `tests/guarantee.rs`
//! ([`GuaranteeCheck::tiny`]: n = 20, d = 2, 400 draws, α = 0.01), except σ: output noise is
//! added to w itself, where loss perturbation's b moves w by about σ/(λn) = σ/4 here, so σ =
//! 0.05 gives the check the same scale (and power) as loss perturbation's σ = 0.5 has there.
//! Seeded, so deterministic.

use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::LinearModelParams;
use lethe_removal::{
    CertifiedParams, Guarantee, OutputPerturbationStrategy, RemovalError, RemovalOutcome,
    RemovalStrategy, SecretUpdate, validate_request,
};
use lethe_testkit::{GuaranteeCheck, GuaranteeReport};
use nalgebra::DMatrix;

/// One draw of the ideal retrain release on the rows `active`: output perturbation trained
/// on those rows alone (its first release is w*(D′) + ν).
fn ideal_retrain(
    params: &LinearModelParams,
    data: &Dataset,
    active: &[bool],
    seed: u64,
) -> Result<DMatrix<f64>, String> {
    let rows: Vec<usize> = (0..active.len()).filter(|&i| active[i]).collect();
    let remaining = Arc::new(data.select(&rows).map_err(|e| e.to_string())?);
    let s = OutputPerturbationStrategy::train(CertifiedParams::new(*params), remaining, seed)
        .map_err(|e| e.to_string())?;
    s.weights().ok_or_else(|| "no weights".to_string())
}

/// The tiny problem with output-noise scale σ = 0.05.
fn tiny(seed: u64) -> GuaranteeCheck {
    let mut check = GuaranteeCheck::tiny(20, 2, seed);
    check.params.sigma = 0.05;
    check
}

/// Both updates: Sekhari's Newton step and Descent-to-Delete with five steps per request.
const UPDATES: [SecretUpdate; 2] = [SecretUpdate::Newton, SecretUpdate::Descent { steps: 5 }];

fn train(
    params: CertifiedParams,
    data: Arc<Dataset>,
    seed: u64,
    update: SecretUpdate,
) -> Result<OutputPerturbationStrategy, RemovalError> {
    OutputPerturbationStrategy::train_with_update(params, data, seed, update)
}

fn check_with(
    check: &GuaranteeCheck,
    build: impl FnMut(Arc<Dataset>, u64) -> Result<Box<dyn RemovalStrategy>, RemovalError>,
) -> GuaranteeReport {
    check.run_against(build, ideal_retrain).unwrap()
}

#[test]
fn both_updates_are_not_rejected_and_every_draw_is_certified() {
    for update in UPDATES {
        for seed in [11, 12, 13] {
            let check = tiny(seed);
            let params = CertifiedParams::new(check.params);
            let report = check_with(&check, |data, s| {
                Ok(Box::new(train(params, data, s, update)?))
            });
            report.expect_not_rejected().unwrap();
            assert_eq!(
                report.certified_draws, check.draws,
                "{update:?}, seed {seed}"
            );
            assert_eq!(report.retrained_draws, 0, "{update:?}, seed {seed}");
        }
    }
}

/// Broken: the release noise is 10× smaller than the σ the certificate is about.
#[test]
fn release_noise_scaled_down_tenfold_is_caught() {
    for update in UPDATES {
        let check = tiny(11);
        let mut params = CertifiedParams::new(check.params);
        params.model.sigma /= 10.0;
        check_with(&check, |data, s| {
            Ok(Box::new(train(params, data, s, update)?))
        })
        .expect_rejected()
        .unwrap();
    }
}

/// Broken: releases the training state plus noise and ignores the requests.
struct ForgetsNothing {
    inner: OutputPerturbationStrategy,
    active: Vec<bool>,
}

impl RemovalStrategy for ForgetsNothing {
    fn name(&self) -> &str {
        "output perturbation (forgets nothing)"
    }
    fn guarantee(&self) -> Guarantee {
        self.inner.guarantee()
    }
    fn remove(&mut self, indices: &[usize]) -> lethe_removal::Result<RemovalOutcome> {
        let n_active = self.active.iter().filter(|a| **a).count();
        validate_request(&self.active, n_active, indices)?;
        for &i in indices {
            self.active[i] = false;
        }
        Ok(RemovalOutcome::uncertified(
            1,
            indices,
            std::time::Instant::now(),
            false,
        ))
    }
    fn active(&self) -> &[bool] {
        &self.active
    }
    fn decision_function(&self, x: &DMatrix<f64>) -> lethe_removal::Result<DMatrix<f64>> {
        self.inner.decision_function(x)
    }
    fn classes(&self) -> Vec<Option<f64>> {
        self.inner.classes()
    }
    fn weights(&self) -> Option<DMatrix<f64>> {
        self.inner.weights()
    }
}

#[test]
fn a_release_that_forgets_nothing_is_caught() {
    for update in UPDATES {
        let check = tiny(11);
        let params = CertifiedParams::new(check.params);
        check_with(&check, |data, s| {
            let n = data.n_samples();
            Ok(Box::new(ForgetsNothing {
                inner: train(params, data, s, update)?,
                active: vec![true; n],
            }))
        })
        .expect_rejected()
        .unwrap();
    }
}

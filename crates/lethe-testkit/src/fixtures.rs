//! Test fixtures: deliberately broken removal mechanisms (and their correct twin), so that a
//! harness can show it catches real mistakes — a check that never fails proves nothing.
//!
//! [`FixtureStrategy`] trains like every lethe strategy (b from the training streams of the
//! seed, the damped Newton solver) and removes with one [`Flaw`]:
//!
//! | flaw | removal | what should catch it |
//! |---|---|---|
//! | [`Flaw::None`] | one Newton step on L_b(·; D′) with the exact Hessian (correct) | nothing |
//! | [`Flaw::ForgetsNothing`] | marks rows removed, leaves w unchanged | the statistical check, the retraining reference |
//! | [`Flaw::WrongSign`] | w + H⁻¹∇L_b(w; D′): the step in the wrong direction | the statistical check, the retraining reference |
//! | [`Flaw::PartialOnError`] | validates after marking rows: a bad request half-applies | the bad-request check |
//!
//! All claim [`Guarantee::Exact`] — that is the lie the checks must expose.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::linalg::Cholesky;
use lethe_models::{LinearModelParams, Objective, Stream};
use lethe_removal::{
    Guarantee, RemovalError, RemovalOutcome, RemovalStrategy, label_sets, validate_request,
};
use nalgebra::{DMatrix, DVector};

/// What a [`FixtureStrategy`] gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// Nothing: one exact-Hessian Newton step on the remaining rows (a correct, uncertified
    /// mechanism; the control of the statistical check).
    None,
    /// "Forgets" by marking rows removed without changing the weights.
    ForgetsNothing,
    /// Takes the Newton step with the wrong sign.
    WrongSign,
    /// Correct steps, but a request is applied row by row before it is validated, so an
    /// invalid request leaves its valid prefix removed.
    PartialOnError,
}

impl Flaw {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Flaw::None => "newton (correct)",
            Flaw::ForgetsNothing => "forgets nothing",
            Flaw::WrongSign => "wrong-sign newton",
            Flaw::PartialOnError => "partial on error",
        }
    }
}

/// A removal mechanism with a known [`Flaw`] (see the module docs).
#[derive(Clone, Debug)]
pub struct FixtureStrategy {
    flaw: Flaw,
    params: LinearModelParams,
    data: Arc<Dataset>,
    active: Vec<bool>,
    n_active: usize,
    classes: Vec<(Option<f64>, DVector<f64>)>,
    noise: Vec<DVector<f64>>,
    weights: Vec<DVector<f64>>,
    requests: usize,
}

impl FixtureStrategy {
    /// Trains on every row with b_k from the training streams of `seed` (the same b as
    /// [`lethe_removal::CertifiedModel::train`] with the same seed).
    ///
    /// # Errors
    /// Invalid parameters or labels; a solver that does not converge.
    pub fn train(
        flaw: Flaw,
        params: LinearModelParams,
        data: Arc<Dataset>,
        seed: u64,
    ) -> Result<Self, RemovalError> {
        params.check()?;
        let classes = label_sets(&data, params.loss)?;
        let d = data.n_features();
        let noise = (0..classes.len())
            .map(|k| params.draw_noise(d, seed, Stream::TrainingNoise { class: k as u32 }))
            .collect::<lethe_models::Result<Vec<_>>>()?;
        let weights = classes
            .iter()
            .zip(&noise)
            .map(|((_, y), b)| {
                Ok(params
                    .fit_parts(data.features(), y, None, b.clone(), None)?
                    .weights)
            })
            .collect::<Result<Vec<_>, RemovalError>>()?;
        let n = data.n_samples();
        Ok(Self {
            flaw,
            params,
            data,
            active: vec![true; n],
            n_active: n,
            classes,
            noise,
            weights,
            requests: 0,
        })
    }

    /// The flaw.
    pub fn flaw(&self) -> Flaw {
        self.flaw
    }

    /// The perturbations b_k.
    pub fn noise(&self) -> &[DVector<f64>] {
        &self.noise
    }

    fn step(&self, k: usize, remaining: &[bool]) -> Result<DVector<f64>, RemovalError> {
        let w = &self.weights[k];
        let objective = Objective::from_parts(
            self.data.features(),
            &self.classes[k].1,
            Some(remaining),
            self.params.loss,
            self.params.lambda,
            Some(&self.noise[k]),
        )?;
        let g = objective.gradient(w);
        let h = objective.hessian(w)?;
        let s = Cholesky::factor(&h)?.solve(&g);
        Ok(match self.flaw {
            Flaw::WrongSign => w + s,
            _ => w - s,
        })
    }
}

impl RemovalStrategy for FixtureStrategy {
    fn name(&self) -> &str {
        self.flaw.name()
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::Exact
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome, RemovalError> {
        let start = Instant::now();
        if self.flaw == Flaw::PartialOnError {
            for &i in indices {
                if i < self.active.len() && self.active[i] && self.n_active > 1 {
                    self.active[i] = false;
                    self.n_active -= 1;
                } else {
                    validate_request(&self.active, self.n_active, &[i])?;
                }
            }
            if indices.is_empty() {
                return Err(RemovalError::EmptyRequest);
            }
        } else {
            validate_request(&self.active, self.n_active, indices)?;
        }
        let mut remaining = self.active.clone();
        for &i in indices {
            remaining[i] = false;
        }
        let new_weights = if self.flaw == Flaw::ForgetsNothing {
            self.weights.clone()
        } else {
            (0..self.weights.len())
                .map(|k| self.step(k, &remaining))
                .collect::<Result<Vec<_>, _>>()?
        };
        self.weights = new_weights;
        self.n_active = remaining.iter().filter(|a| **a).count();
        self.active = remaining;
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
        let d = self.data.n_features();
        if x.ncols() != d {
            return Err(RemovalError::Data(
                lethe_data::DataError::DimensionMismatch {
                    expected: d,
                    found: x.ncols(),
                    context: "features given to a fixture strategy".into(),
                },
            ));
        }
        Ok(x * DMatrix::from_columns(&self.weights))
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.classes.iter().map(|(c, _)| *c).collect()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(DMatrix::from_columns(&self.weights))
    }
}

//! Influence-function removal (Koh & Liang, ICML 2017): one Newton-like step with the Hessian
//! of the **original full-data** objective, factored once at training.
//!
//! For a request B of m rows, every class model k takes
//!
//! w⁻ = w + H_full⁻¹ Δ,   Δ = mλw + Σ_{j∈B} ℓ′(wᵀx_j, y_j) x_j,
//! H_full = Σ_{i=1}^{n} ℓ″(w*ᵀx_i, y_i) x_i x_iᵀ + λnI
//!
//! where w is the current weight vector and H_full is the Hessian of the training objective
//! (all n rows, at the trained w*). H_full is built and Cholesky-factored once at training and
//! never refreshed, so a request costs O(md) for Δ and O(d²) for the two triangular solves.
//!
//! Compared with the Newton step of Guo et al. (`newton`), which uses the Hessian of the
//! *remaining* rows at the *current* w, H_full keeps the removed rows' curvature
//! Σ_{j∈B} ℓ″_j x_j x_jᵀ and the regulariser's share mλI (and, after the first request, uses
//! stale curvatures). For the squared loss ℓ″ = 2 everywhere, so the two steps solve the same
//! equation with Hessians that differ by exactly Σ_{j∈B} 2x_j x_jᵀ + mλI: the influence step
//! is the Newton step with the Hessian frozen at the full data (see the tests).
//!
//! No certificate: no bound on the gradient residual is tracked, so the released models carry
//! [`Guarantee::None`]. The initial model is the one [`crate::CertifiedModel::train`] builds
//! with the same seed (same b from the training streams), so the two start identical.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::linalg::{Cholesky, mat_vec, weighted_gram};
use lethe_models::{LinearModelParams, Loss, Stream};
use nalgebra::{DMatrix, DVector};

use super::{Guarantee, RemovalOutcome, RemovalStrategy, decision_from_weights};
use crate::certified::{label_sets, validate_request};
use crate::error::{RemovalError, Result};

/// A trained model with its full-data Hessian factored once (shared by the influence and the
/// projective-residual strategies).
#[derive(Clone, Debug)]
pub(crate) struct FrozenHessianModel {
    pub params: LinearModelParams,
    pub data: Arc<Dataset>,
    pub active: Vec<bool>,
    pub n_active: usize,
    /// (class, ±1 or real labels) per class model.
    pub classes: Vec<(Option<f64>, DVector<f64>)>,
    pub weights: Vec<DVector<f64>>,
    pub noise: Vec<DVector<f64>>,
    /// ℓ″(w*ᵀx_i, y_i) at training, per class model (the curvatures inside H_full).
    pub curvatures: Vec<Vec<f64>>,
    /// Cholesky factors of H_full, per class model.
    pub factors: Vec<Cholesky>,
    pub requests: usize,
    pub train_seconds: f64,
    pub factor_seconds: f64,
}

impl FrozenHessianModel {
    /// Trains every class model on all rows with b_k from the training streams of `seed` (as
    /// `CertifiedModel::train`) and factors H_full.
    pub fn train(params: LinearModelParams, data: Arc<Dataset>, seed: u64) -> Result<Self> {
        params.check()?;
        if data.is_empty() {
            return Err(RemovalError::Data(lethe_data::DataError::Empty {
                context: "training a removal strategy needs at least one row".into(),
            }));
        }
        let classes = label_sets(&data, params.loss)?;
        let d = data.n_features();
        let n = data.n_samples();
        let start = Instant::now();
        let mut weights = Vec::with_capacity(classes.len());
        let mut noise = Vec::with_capacity(classes.len());
        for (k, (_, y)) in classes.iter().enumerate() {
            let b = params.draw_noise(d, seed, Stream::TrainingNoise { class: k as u32 })?;
            let m = params.fit_parts(data.features(), y, None, b, None)?;
            weights.push(m.weights);
            noise.push(m.noise);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut curvatures = Vec::with_capacity(classes.len());
        let mut factors = Vec::with_capacity(classes.len());
        for ((_, y), w) in classes.iter().zip(&weights) {
            let z = mat_vec(data.features(), w);
            let c: Vec<f64> = (0..n)
                .map(|i| params.loss.second_derivative(z[i], y[i]))
                .collect();
            let h = weighted_gram(data.features(), &c, params.lambda * n as f64)?;
            factors.push(Cholesky::factor(&h)?);
            curvatures.push(c);
        }
        let factor_seconds = t.elapsed().as_secs_f64();
        Ok(Self {
            params,
            active: vec![true; n],
            n_active: n,
            classes,
            weights,
            noise,
            curvatures,
            factors,
            requests: 0,
            train_seconds,
            factor_seconds,
            data,
        })
    }

    /// Δ = mλw + Σ_{j∈B} ℓ′(wᵀx_j, y_j) x_j for class model k at its current weights.
    pub fn removal_gradient(&self, k: usize, indices: &[usize]) -> DVector<f64> {
        let x = self.data.features();
        let w = &self.weights[k];
        let y = &self.classes[k].1;
        let mut delta = w * (indices.len() as f64 * self.params.lambda);
        for &j in indices {
            let g = self
                .params
                .loss
                .derivative(x.row(j).dot(&w.transpose()), y[j]);
            for (t, dt) in delta.iter_mut().enumerate() {
                *dt += g * x[(j, t)];
            }
        }
        delta
    }

    /// Installs the updated `weights` and marks `indices` removed (after validation and a
    /// successful update); the outcome of a request that started at `start`.
    pub fn commit(
        &mut self,
        weights: Vec<DVector<f64>>,
        indices: &[usize],
        start: Instant,
    ) -> RemovalOutcome {
        self.weights = weights;
        for &i in indices {
            self.active[i] = false;
        }
        self.n_active -= indices.len();
        self.requests += 1;
        RemovalOutcome::uncertified(self.requests, indices, start, false)
    }

    pub fn weight_matrix(&self) -> DMatrix<f64> {
        DMatrix::from_columns(&self.weights)
    }

    pub fn class_ids(&self) -> Vec<Option<f64>> {
        self.classes.iter().map(|(c, _)| *c).collect()
    }
}

/// Koh & Liang's influence-function removal with the full-data Hessian factored once
/// (see the module docs). No guarantee.
#[derive(Clone, Debug)]
pub struct InfluenceStrategy {
    inner: FrozenHessianModel,
}

impl InfluenceStrategy {
    /// Trains on every row with b_k from the training streams of `seed` (the same initial model
    /// as [`crate::CertifiedModel::train`] with the same seed) and factors H_full once.
    ///
    /// # Errors
    /// Invalid parameters or labels, an empty dataset, a solver that does not converge, or a
    /// Hessian that is not positive definite.
    pub fn train(params: LinearModelParams, data: Arc<Dataset>, seed: u64) -> Result<Self> {
        Ok(Self {
            inner: FrozenHessianModel::train(params, data, seed)?,
        })
    }

    /// Seconds to train the class models (without the Hessian factorisation).
    pub fn train_seconds(&self) -> f64 {
        self.inner.train_seconds
    }

    /// Seconds to build and factor H_full (once).
    pub fn factor_seconds(&self) -> f64 {
        self.inner.factor_seconds
    }

    /// The perturbations b_k the model was trained with.
    pub fn noise(&self) -> &[DVector<f64>] {
        &self.inner.noise
    }

    /// Solves H_full,k x = rhs with the factor of class model k (for diagnostics and tests).
    pub fn solve_full_hessian(&self, k: usize, rhs: &DVector<f64>) -> Option<DVector<f64>> {
        self.inner.factors.get(k).map(|f| f.solve(rhs))
    }
}

impl RemovalStrategy for InfluenceStrategy {
    fn name(&self) -> &str {
        "influence"
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::None
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        validate_request(&self.inner.active, self.inner.n_active, indices)?;
        let start = Instant::now();
        let new: Vec<DVector<f64>> = (0..self.inner.classes.len())
            .map(|k| {
                let delta = self.inner.removal_gradient(k, indices);
                &self.inner.weights[k] + self.inner.factors[k].solve(&delta)
            })
            .collect();
        Ok(self.inner.commit(new, indices, start))
    }

    fn active(&self) -> &[bool] {
        &self.inner.active
    }

    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        decision_from_weights(x, &self.inner.weights)
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.inner.class_ids()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(self.inner.weight_matrix())
    }
}

//! **Heuristic**: the projective residual update (PRU) of Izzo, Smart, Chaudhuri and Zou,
//! *Approximate Data Deletion from Machine Learning Models*, AISTATS 2021. No guarantee.
//!
//! For a request B (m rows, U = X_B the m × d matrix of the removed rows) and every class model:
//! 1. **Leave-B-out predictions.** With the full-data Hessian H (factored once at training, as
//!    for the influence strategy; d_j = ℓ″ of row j at training, g_j = ℓ′ at the current w):
//!    S = H⁻¹Uᵀ, K = U S (m × m), and the Newton/Woodbury estimate of the margins the model
//!    would give the removed rows after removing them,
//!    z′_B = z_B + K (I − D K)⁻¹ g,  D = diag(d_j).
//!    This is (H − UᵀDU)⁻¹Uᵀg mapped through U: for the squared loss (ridge) it is exactly
//!    the leave-B-out prediction at fixed λn (the generalised hat-matrix formula); for the
//!    logistic loss it is the one-Newton-step linearisation Izzo et al. use.
//!    H − UᵀDU ⪰ λnI, so I − DK is invertible.
//! 2. **Projection.** The update is restricted to span{x_j : j ∈ B} and chosen so that the
//!    removed rows' margins match z′_B in least squares:
//!    Δw = Uᵀ (UUᵀ)⁺ (z′_B − z_B),  w⁻ = w + Δw,
//!    with the pseudo-inverse of the m × m Gram matrix from its symmetric eigen-decomposition
//!    (eigenvalues below 1e-12 · the largest are dropped).
//!
//! The regulariser's share mλ‖w‖²/2 is not taken out (PRU keeps λ fixed) and H is never
//! refreshed. Cost per request O(md² + m²d + m³).

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, Loss};
use nalgebra::{DMatrix, DVector};

use super::influence::FrozenHessianModel;
use super::{Guarantee, RemovalOutcome, RemovalStrategy, decision_from_weights};
use crate::certified::validate_request;
use crate::error::{RemovalError, Result};

/// Izzo et al.'s projective residual update (heuristic, no guarantee; see the module docs).
#[derive(Clone, Debug)]
pub struct ProjectiveStrategy {
    inner: FrozenHessianModel,
}

impl ProjectiveStrategy {
    /// Trains on every row with b_k from the training streams of `seed` (the same initial model
    /// as [`crate::CertifiedModel::train`] with the same seed) and factors H_full once.
    ///
    /// # Errors
    /// As [`super::InfluenceStrategy::train`].
    pub fn train(params: LinearModelParams, data: Arc<Dataset>, seed: u64) -> Result<Self> {
        Ok(Self {
            inner: FrozenHessianModel::train(params, data, seed)?,
        })
    }

    /// Seconds to train the class models (without the Hessian factorisation).
    pub fn train_seconds(&self) -> f64 {
        self.inner.train_seconds
    }

    fn update(&self, k: usize, indices: &[usize]) -> Result<DVector<f64>> {
        let inner = &self.inner;
        let x = inner.data.features();
        let d = x.ncols();
        let m = indices.len();
        let w = &inner.weights[k];
        let y = &inner.classes[k].1;
        let loss = inner.params.loss;
        let u = DMatrix::from_fn(m, d, |r, c| x[(indices[r], c)]);
        let z_b = &u * w;
        let g = DVector::from_fn(m, |r, _| loss.derivative(z_b[r], y[indices[r]]));
        let mut s = DMatrix::zeros(d, m);
        for r in 0..m {
            let col = inner.factors[k].solve(&u.row(r).transpose());
            s.set_column(r, &col);
        }
        let kmat = &u * &s;
        // I − D K
        let mut a = DMatrix::identity(m, m);
        for r in 0..m {
            let dr = inner.curvatures[k][indices[r]];
            for c in 0..m {
                a[(r, c)] -= dr * kmat[(r, c)];
            }
        }
        // I − DK is singular exactly when H − UᵀDU is; that cannot happen (H − UᵀDU ⪰ λnI)
        // short of round-off, and is then reported as a Hessian that is not positive definite.
        let t = a
            .lu()
            .solve(&g)
            .ok_or(RemovalError::Model(lethe_models::ModelError::Linalg(
                lethe_models::linalg::LinalgError::NotPositiveDefinite { index: 0 },
            )))?;
        let dz = &kmat * t;
        // Δw = Uᵀ (UUᵀ)⁺ dz
        let gram = &u * u.transpose();
        let eig = gram.symmetric_eigen();
        let max = eig.eigenvalues.iter().copied().fold(0.0_f64, f64::max);
        let q = &eig.eigenvectors;
        let qt_dz = q.transpose() * &dz;
        let scaled = DVector::from_fn(m, |r, _| {
            let e = eig.eigenvalues[r];
            if e > 1e-12 * max && e > 0.0 {
                qt_dz[r] / e
            } else {
                0.0
            }
        });
        let coef = q * scaled;
        Ok(w + u.transpose() * coef)
    }
}

impl RemovalStrategy for ProjectiveStrategy {
    fn name(&self) -> &str {
        "projective"
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::None
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        validate_request(&self.inner.active, self.inner.n_active, indices)?;
        let start = Instant::now();
        let new = (0..self.inner.classes.len())
            .map(|k| self.update(k, indices))
            .collect::<Result<Vec<_>>>()?;
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

//! The perturbed, L2-regularised objective of Guo et al. (2020) in **sum form**.
//!
//! L_b(w; D) = Σ_{i ∈ D} ℓ(wᵀx_i, y_i) + (λ n_D / 2)‖w‖² + bᵀw          (paper eq. (1) with the
//! loss-perturbation term bᵀw of §3.2; the paper's regulariser is λn/2 in sum scale)
//!
//! ∇L_b(w) = Σ_i ℓ′(z_i, y_i) x_i + λ n_D w + b
//! ∇²L_b(w) = Σ_i ℓ″(z_i, y_i) x_i x_iᵀ + λ n_D I
//!
//! Rows can be left out with an *active mask* instead of copying the data: inactive rows
//! contribute nothing and n_D counts only active rows. This is how removal evaluates the
//! objective on D′ = D ∖ B, including the regulariser λ(n − m)/2‖w‖².

use lethe_data::{DataError, Dataset};
use nalgebra::{DMatrix, DVector};

use crate::error::{ModelError, Result};
use crate::linalg::{mat_t_vec, mat_vec, weighted_gram};
use crate::loss::{Loss, LossKind};

/// The perturbed objective on (a masked subset of) a dataset.
#[derive(Clone, Copy, Debug)]
pub struct Objective<'a> {
    x: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    active: Option<&'a [bool]>,
    n_active: usize,
    loss: LossKind,
    lambda: f64,
    noise: Option<&'a DVector<f64>>,
}

/// Checks that λ is finite and positive.
pub fn check_lambda(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda > 0.0 {
        Ok(())
    } else {
        Err(ModelError::InvalidLambda { value: lambda })
    }
}

/// Checks that a vector is finite.
pub(crate) fn check_finite(what: &'static str, v: &DVector<f64>) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(ModelError::NonFinite { what, index }),
        None => Ok(()),
    }
}

impl<'a> Objective<'a> {
    /// The objective on every row of `data`. `noise` is b (None means b = 0).
    ///
    /// Checks λ > 0, the length and finiteness of b, and ±1 labels for the logistic loss.
    pub fn new(
        data: &'a Dataset,
        loss: LossKind,
        lambda: f64,
        noise: Option<&'a DVector<f64>>,
    ) -> Result<Self> {
        Self::from_parts(data.features(), data.labels(), None, loss, lambda, noise)
    }

    /// The objective on the rows `i` with `active[i] == true`.
    pub fn masked(
        data: &'a Dataset,
        active: &'a [bool],
        loss: LossKind,
        lambda: f64,
        noise: Option<&'a DVector<f64>>,
    ) -> Result<Self> {
        Self::from_parts(
            data.features(),
            data.labels(),
            Some(active),
            loss,
            lambda,
            noise,
        )
    }

    /// The objective on features `x` (n × d) and labels `y` given separately (one-vs-rest
    /// models share one feature matrix with K label vectors), on the rows with `active[i]`
    /// (all rows if `None`).
    pub fn from_parts(
        x: &'a DMatrix<f64>,
        y: &'a DVector<f64>,
        active: Option<&'a [bool]>,
        loss: LossKind,
        lambda: f64,
        noise: Option<&'a DVector<f64>>,
    ) -> Result<Self> {
        check_lambda(lambda)?;
        if y.len() != x.nrows() {
            return Err(ModelError::Data(DataError::LengthMismatch {
                features: x.nrows(),
                labels: y.len(),
            }));
        }
        // A Dataset is finite by construction; raw matrices are checked here.
        for column in 0..x.ncols() {
            if let Some(row) = x.column(column).iter().position(|v| !v.is_finite()) {
                return Err(ModelError::Data(DataError::NonFiniteFeature {
                    row,
                    column,
                    value: x[(row, column)],
                }));
            }
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Data(DataError::NonFiniteLabel {
                row,
                value: y[row],
            }));
        }
        if let Some(b) = noise {
            if b.len() != x.ncols() {
                return Err(ModelError::LengthMismatch {
                    what: "noise vector b",
                    expected: x.ncols(),
                    found: b.len(),
                });
            }
            check_finite("noise vector b", b)?;
        }
        let n_active = match active {
            Some(mask) => {
                if mask.len() != x.nrows() {
                    return Err(ModelError::LengthMismatch {
                        what: "active-row mask",
                        expected: x.nrows(),
                        found: mask.len(),
                    });
                }
                mask.iter().filter(|a| **a).count()
            }
            None => x.nrows(),
        };
        if n_active == 0 {
            return Err(ModelError::NoActiveRows);
        }
        if loss.needs_binary_labels()
            && let Some((row, &value)) = y
                .iter()
                .enumerate()
                .find(|(_, v)| **v != 1.0 && **v != -1.0)
        {
            return Err(ModelError::Data(DataError::InvalidLabel {
                row,
                value,
                expected: "+1 or -1 (the logistic loss)".into(),
            }));
        }
        Ok(Self {
            x,
            y,
            active,
            n_active,
            loss,
            lambda,
            noise,
        })
    }

    /// The feature matrix X (all rows, active or not).
    pub fn features(&self) -> &'a DMatrix<f64> {
        self.x
    }

    /// The labels y (all rows, active or not).
    pub fn labels(&self) -> &'a DVector<f64> {
        self.y
    }

    /// The loss.
    pub fn loss(&self) -> LossKind {
        self.loss
    }

    /// λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// b, if any.
    pub fn noise(&self) -> Option<&'a DVector<f64>> {
        self.noise
    }

    /// Number of active rows n_D (the regulariser is λ n_D / 2 ‖w‖²).
    pub fn n_active(&self) -> usize {
        self.n_active
    }

    /// Number of features d.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// Whether row i is active.
    #[inline]
    pub fn is_active(&self, i: usize) -> bool {
        self.active.is_none_or(|m| m[i])
    }

    /// The margins z = Xw for every row (active or not).
    pub fn margins(&self, w: &DVector<f64>) -> DVector<f64> {
        mat_vec(self.x, w)
    }

    /// L_b(w) given the margins z = Xw.
    pub fn value_from_margins(&self, w: &DVector<f64>, z: &DVector<f64>) -> f64 {
        let y = self.y;
        let mut sum = 0.0;
        for i in 0..z.len() {
            if self.is_active(i) {
                sum += self.loss.value(z[i], y[i]);
            }
        }
        sum + 0.5 * self.lambda * self.n_active as f64 * w.norm_squared()
            + self.noise.map_or(0.0, |b| b.dot(w))
    }

    /// L_b(w).
    pub fn value(&self, w: &DVector<f64>) -> f64 {
        self.value_from_margins(w, &self.margins(w))
    }

    /// ∇L_b(w) given the margins: Xᵀ(ℓ′ ∘ mask) + λ n_D w + b.
    pub fn gradient_from_margins(&self, w: &DVector<f64>, z: &DVector<f64>) -> DVector<f64> {
        let y = self.y;
        let r = DVector::from_fn(z.len(), |i, _| {
            if self.is_active(i) {
                self.loss.derivative(z[i], y[i])
            } else {
                0.0
            }
        });
        let mut g = mat_t_vec(self.x, &r);
        g.axpy(self.lambda * self.n_active as f64, w, 1.0);
        if let Some(b) = self.noise {
            g += b;
        }
        g
    }

    /// ∇L_b(w).
    pub fn gradient(&self, w: &DVector<f64>) -> DVector<f64> {
        self.gradient_from_margins(w, &self.margins(w))
    }

    /// The curvature weights ℓ″(z_i, y_i) of active rows (0 for inactive rows).
    pub fn curvatures(&self, z: &DVector<f64>) -> Vec<f64> {
        let y = self.y;
        (0..z.len())
            .map(|i| {
                if self.is_active(i) {
                    self.loss.second_derivative(z[i], y[i])
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The dense Hessian Xᵀ diag(ℓ″) X + λ n_D I from precomputed curvatures.
    pub fn hessian_from_curvatures(&self, curvatures: &[f64]) -> Result<DMatrix<f64>> {
        Ok(weighted_gram(
            self.x,
            curvatures,
            self.lambda * self.n_active as f64,
        )?)
    }

    /// The dense Hessian ∇²L_b(w) (b does not enter it).
    pub fn hessian(&self, w: &DVector<f64>) -> Result<DMatrix<f64>> {
        self.hessian_from_curvatures(&self.curvatures(&self.margins(w)))
    }

    /// The Hessian-vector product ∇²L_b(w)·v = Xᵀ(ℓ″ ∘ Xv) + λ n_D v, in two passes over X.
    pub fn hessian_vector(&self, curvatures: &[f64], v: &DVector<f64>) -> DVector<f64> {
        let mut xv = mat_vec(self.x, v);
        for (t, c) in xv.iter_mut().zip(curvatures) {
            *t *= c;
        }
        let mut out = mat_t_vec(self.x, &xv);
        out.axpy(self.lambda * self.n_active as f64, v, 1.0);
        out
    }
}

//! `lethe._core.Model`: one [`CertifiedModel`] (Algorithm 1's training, Algorithm 2's
//! sequential certified removal with budget and retraining), driven from Python.
//!
//! The objective is lethe's sum form L_b(w; D) = Σᵢ ℓ(wᵀxᵢ, yᵢ) + (λn/2)‖w‖² + bᵀw (DESIGN
//! §1); a removal of the rows B takes the Newton step w⁻ = w + H⁻¹Δ with
//! Δ = mλw + Σ_{j∈B} ∇ℓ(wᵀx_j, y_j) and charges its certificate to β ≤ budget. All of it is
//! [`CertifiedModel`]'s: this type only converts arguments and results.

use std::sync::Arc;

use lethe_removal::{CertifiedModel, CertifiedParams};
use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::arrays::{dataset, matrix, to_numpy};
use crate::errors::to_py;
use crate::values::to_python;

/// A trained certified model (binary, one-vs-rest, or squared loss).
#[pyclass(module = "lethe._core")]
pub struct Model {
    inner: CertifiedModel,
}

#[pymethods]
impl Model {
    /// Trains on `x` (n × d, float64) and `y` (length n: ±1 for a binary logistic model, class
    /// ids for one-vs-rest, real targets for the squared loss) with the `CertifiedParams` given
    /// as JSON (the serde form of `lethe_removal::CertifiedParams`, validated by it) and b drawn
    /// from the training streams of `seed`. Releases the GIL while training.
    #[staticmethod]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, f64>,
        params_json: &str,
        seed: u64,
    ) -> PyResult<Self> {
        let params: CertifiedParams = serde_json::from_str(params_json)
            .map_err(|e| to_py(format!("invalid certified-removal parameters: {e}")))?;
        let data = dataset(&x, &y).map_err(to_py)?;
        let inner = py
            .detach(|| CertifiedModel::train(params, Arc::new(data), seed))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Removes the rows `indices` (0-based positions in the training data) as one request and
    /// returns its `Certificate` as a dict of its serde fields (±∞ as floats, NaN as None; see
    /// [`crate::values`]). A request that fails validation changes nothing. Releases the GIL
    /// while removing.
    fn remove<'py>(&mut self, py: Python<'py>, indices: Vec<usize>) -> PyResult<Bound<'py, PyAny>> {
        let inner = &mut self.inner;
        let cert = py.detach(|| inner.remove(&indices)).map_err(to_py)?;
        let v = lethe_experiments::json::to_value(&cert).map_err(to_py)?;
        to_python(py, &v)
    }

    /// Decision values X W (n × K, K = 1 for a binary or squared-loss model).
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(&x).map_err(to_py)?;
        let z = py
            .detach(|| self.inner.decision_function(&x))
            .map_err(to_py)?;
        Ok(to_numpy(py, &z))
    }

    /// The weights as a d × K array.
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        to_numpy(py, &self.inner.weight_matrix())
    }

    /// SHA-256 of the released weights' bit patterns (the `weights_sha256` of certificates).
    fn weights_sha256(&self) -> String {
        self.inner.weights_sha256()
    }

    /// The class each weight column separates from the rest (None for a binary model).
    fn class_labels(&self) -> Vec<Option<f64>> {
        self.inner.class_models().iter().map(|c| c.class).collect()
    }

    /// The accumulated residual β.
    #[getter]
    fn beta(&self) -> f64 {
        self.inner.beta()
    }

    /// The residual budget (σ·r*(ε, δ), σε/c or σε).
    #[getter]
    fn budget(&self) -> f64 {
        self.inner.budget()
    }

    /// The ε the current β spends under the configured accounting (None without a
    /// certificate).
    #[getter]
    fn epsilon_spent(&self) -> Option<f64> {
        self.inner.epsilon_spent_now().0
    }

    /// Requests served.
    #[getter]
    fn requests(&self) -> usize {
        self.inner.requests()
    }

    /// Budget retrains so far.
    #[getter]
    fn retrains(&self) -> u32 {
        self.inner.retrains()
    }

    /// Rows remaining.
    #[getter]
    fn n_remaining(&self) -> usize {
        self.inner.n_remaining()
    }

    /// Whether the current model is certified (σ > 0, rows ‖x‖ ≤ 1, β ≤ budget).
    #[getter]
    fn is_certified(&self) -> bool {
        self.inner.is_certified()
    }

    /// The rigorous upper bound on ‖X‖₂ of the training data the bounds use.
    #[getter]
    fn spectral_norm(&self) -> f64 {
        self.inner.spectral_norm()
    }

    /// Who can know b (`derivable_from_seed` for models trained here).
    #[getter]
    fn noise_secrecy(&self) -> &'static str {
        self.inner.noise_secrecy().name()
    }

    /// The last (re)training's `TrainSummary` as JSON.
    fn train_summary_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.train_summary()).map_err(to_py)
    }
}

//! Binary and one-vs-rest linear models trained on the perturbed objective (Algorithm 1 of
//! Guo et al. 2020).
//!
//! Hyper-parameters ([`LinearModelParams`]) and fitted state ([`LinearModel`]) are different
//! types, so a model can never be used before it is trained or with parameters it was not
//! trained with.

use lethe_data::Dataset;
use lethe_data::preprocess::one_vs_rest_label_vector;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::loss::LossKind;
use crate::noise::{NoiseKind, Stream, keyed_stream_rng, stream_rng};
use crate::objective::{Objective, check_finite, check_lambda};
use crate::solver::{SolverOptions, SolverReport, minimize};

/// Hyper-parameters of a perturbed L2-regularised linear model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearModelParams {
    /// The loss ℓ.
    pub loss: LossKind,
    /// λ > 0; the regulariser is (λn/2)‖w‖² in sum scale.
    pub lambda: f64,
    /// Scale σ ≥ 0 of the perturbation b (σ = 0: no noise, no certificate).
    pub sigma: f64,
    /// Distribution of b.
    #[serde(default)]
    pub noise: NoiseKind,
    /// Solver settings.
    #[serde(default)]
    pub solver: SolverOptions,
}

impl LinearModelParams {
    /// Logistic regression with the paper's γ, Gaussian noise and the default solver.
    pub fn logistic(lambda: f64, sigma: f64) -> Self {
        Self {
            loss: LossKind::Logistic,
            lambda,
            sigma,
            noise: NoiseKind::Gaussian,
            solver: SolverOptions::default(),
        }
    }

    /// Squared-loss (ridge) regression with Gaussian noise and the default solver.
    pub fn squared(lambda: f64, sigma: f64) -> Self {
        Self {
            loss: LossKind::Squared,
            ..Self::logistic(lambda, sigma)
        }
    }

    /// Checks λ > 0, σ ≥ 0 (both finite) and the solver options.
    pub fn check(&self) -> Result<()> {
        check_lambda(self.lambda)?;
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(ModelError::InvalidSigma { value: self.sigma });
        }
        self.solver.check()
    }

    /// Draws b for the given stream of `seed`.
    pub fn draw_noise(&self, d: usize, seed: u64, stream: Stream) -> Result<DVector<f64>> {
        self.noise
            .sample(self.sigma, d, &mut stream_rng(seed, stream))
    }

    /// Draws b for the given stream of a 256-bit secret `key` (see
    /// [`crate::noise::keyed_stream_rng`]).
    pub fn draw_noise_keyed(
        &self,
        d: usize,
        key: &[u8; 32],
        stream: Stream,
    ) -> Result<DVector<f64>> {
        self.noise
            .sample(self.sigma, d, &mut keyed_stream_rng(key, stream))
    }

    /// Trains on every row with b drawn from the training stream of `seed` (class 0).
    pub fn fit_seeded(&self, data: &Dataset, seed: u64) -> Result<LinearModel> {
        let b = self.draw_noise(data.n_features(), seed, Stream::TrainingNoise { class: 0 })?;
        self.fit_with_noise(data, b)
    }

    /// Trains on every row with an explicit b.
    pub fn fit_with_noise(&self, data: &Dataset, b: DVector<f64>) -> Result<LinearModel> {
        self.fit_masked(data, None, b, None)
    }

    /// Trains on the rows with `active[i]` (all rows if `None`), with an explicit b, from `w0`
    /// (zero if `None`).
    pub fn fit_masked(
        &self,
        data: &Dataset,
        active: Option<&[bool]>,
        b: DVector<f64>,
        w0: Option<DVector<f64>>,
    ) -> Result<LinearModel> {
        self.fit_parts(data.features(), data.labels(), active, b, w0)
    }

    /// Trains on features `x` and labels `y` given separately (rows with `active[i]`, all if
    /// `None`), with an explicit b, from `w0` (zero if `None`).
    pub fn fit_parts(
        &self,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        active: Option<&[bool]>,
        b: DVector<f64>,
        w0: Option<DVector<f64>>,
    ) -> Result<LinearModel> {
        self.check()?;
        let objective = Objective::from_parts(x, y, active, self.loss, self.lambda, Some(&b))?;
        let w0 = w0.unwrap_or_else(|| DVector::zeros(x.ncols()));
        check_finite("initial weights", &w0)?;
        let (weights, report) = minimize(&objective, w0, &self.solver)?;
        Ok(LinearModel {
            weights,
            noise: b,
            params: *self,
            report,
        })
    }
}

/// A trained binary (or regression) linear model: w minimising L_b on its training rows.
///
/// Equality compares the model — weights, noise, hyper-parameters and the solver's
/// deterministic record (iterations, r₀, factorisations, CG steps) — not the wall-clock time
/// training took, so two runs with the same seed compare equal.
#[derive(Clone, Debug)]
pub struct LinearModel {
    /// The weights w.
    pub weights: DVector<f64>,
    /// The perturbation b it was trained with.
    pub noise: DVector<f64>,
    /// The hyper-parameters it was trained with.
    pub params: LinearModelParams,
    /// What the solver did (iterations, r₀ = final ‖∇L_b‖, time).
    pub report: SolverReport,
}

impl PartialEq for LinearModel {
    fn eq(&self, other: &Self) -> bool {
        let timeless = |r: &SolverReport| SolverReport {
            seconds: 0.0,
            ..r.clone()
        };
        self.weights == other.weights
            && self.noise == other.noise
            && self.params == other.params
            && timeless(&self.report) == timeless(&other.report)
    }
}

impl LinearModel {
    /// Decision values Xw.
    pub fn decision_function(&self, x: &DMatrix<f64>) -> Result<DVector<f64>> {
        check_dim(x, self.weights.len())?;
        Ok(x * &self.weights)
    }

    /// Predicted labels: sign(Xw) ∈ {−1, +1} (ties go to +1) for classification losses, Xw
    /// for the squared loss.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<DVector<f64>> {
        let z = self.decision_function(x)?;
        Ok(if self.params.loss.needs_binary_labels() {
            z.map(|v| if v >= 0.0 { 1.0 } else { -1.0 })
        } else {
            z
        })
    }

    /// Fraction of rows whose predicted sign equals the ±1 label.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let z = self.decision_function(data.features())?;
        Ok(sign_accuracy(&z, data.labels()))
    }
}

/// Fraction of rows with sign(z_i) = y_i (z = 0 counts as +1); NaN for empty data.
pub fn sign_accuracy(z: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let hits = z
        .iter()
        .zip(y.iter())
        .filter(|(z, y)| (if **z >= 0.0 { 1.0 } else { -1.0 }) == **y)
        .count();
    hits as f64 / z.len() as f64
}

fn check_dim(x: &DMatrix<f64>, d: usize) -> Result<()> {
    if x.ncols() != d {
        return Err(ModelError::Data(lethe_data::DataError::DimensionMismatch {
            expected: d,
            found: x.ncols(),
            context: "features given to a trained model".into(),
        }));
    }
    Ok(())
}

/// One binary model per class (one-vs-rest), each with its own perturbation b_k.
#[derive(Clone, Debug, PartialEq)]
pub struct OneVsRestModel {
    /// The class labels, ascending; model k separates `classes[k]` (+1) from the rest (−1).
    pub classes: Vec<f64>,
    /// The binary models.
    pub models: Vec<LinearModel>,
}

impl OneVsRestModel {
    /// Trains one model per distinct label of `data` (class ids), b_k from the training stream
    /// of class k under `seed`.
    pub fn fit_seeded(params: &LinearModelParams, data: &Dataset, seed: u64) -> Result<Self> {
        let classes = data.classes();
        let noises = (0..classes.len())
            .map(|k| {
                params.draw_noise(
                    data.n_features(),
                    seed,
                    Stream::TrainingNoise { class: k as u32 },
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Self::fit_with_noise(params, data, noises)
    }

    /// Trains one model per class with explicit perturbations (one b_k per class).
    pub fn fit_with_noise(
        params: &LinearModelParams,
        data: &Dataset,
        noises: Vec<DVector<f64>>,
    ) -> Result<Self> {
        let classes = data.classes();
        if classes.len() < 2 {
            return Err(ModelError::TooFewClasses {
                found: classes.len(),
            });
        }
        if noises.len() != classes.len() {
            return Err(ModelError::LengthMismatch {
                what: "list of per-class noise vectors",
                expected: classes.len(),
                found: noises.len(),
            });
        }
        let models = classes
            .iter()
            .zip(noises)
            .map(|(&c, b)| {
                let labels = one_vs_rest_label_vector(data.labels(), c);
                params.fit_parts(data.features(), &labels, None, b, None)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { classes, models })
    }

    /// Decision values, one column per class.
    pub fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let mut out = DMatrix::zeros(x.nrows(), self.models.len());
        for (k, m) in self.models.iter().enumerate() {
            out.set_column(k, &m.decision_function(x)?);
        }
        Ok(out)
    }

    /// Predicted class: the label of the largest decision value.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<DVector<f64>> {
        let z = self.decision_function(x)?;
        Ok(DVector::from_fn(x.nrows(), |i, _| {
            let (k, _) =
                z.row(i)
                    .iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                        if v > best.1 { (k, v) } else { best }
                    });
            self.classes[k]
        }))
    }

    /// Fraction of rows whose predicted class equals the label.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let p = self.predict(data.features())?;
        let hits = p
            .iter()
            .zip(data.labels().iter())
            .filter(|(a, b)| a == b)
            .count();
        Ok(hits as f64 / data.n_samples() as f64)
    }
}

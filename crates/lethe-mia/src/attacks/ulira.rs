//! A per-example U-LiRA test of an unlearned model against retraining, after Hayes,
//! Shumailov, Triantafillou, Khalifa and Papernot, *Inexact Unlearning Needs More Careful
//! Evaluations to Avoid a False Sense of Privacy* (arXiv 2403.01218, 2024).

use lethe_data::Dataset;
use lethe_models::{LinearModel, LinearModelParams};
use nalgebra::{DMatrix, DVector};
use rand::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    AttackDescriptor, AttackOutput, MIN_VARIANCE, VarianceMode, ln_normal_pdf, mean_and_ss,
};
use crate::error::{MiaError, Result, invalid};
use crate::reference::{ReferenceTraining, Trainer, require_logistic};
use crate::scores::{Statistic, from_margins};
use crate::target::TargetModel;
use lethe_models::noise::Purpose;

/// What an [`Unlearner`] is asked to do for one U-LiRA shadow model: train on the rows
/// `trained_on` of `data`, remove the rows `forget`, and return the decision values of the
/// result on `evaluate`.
#[derive(Clone, Copy, Debug)]
pub struct UnlearnRequest<'a> {
    /// Hyper-parameters to train with (the audited model's, with the reference solver
    /// tolerance of [`ReferenceTraining`]).
    pub params: LinearModelParams,
    /// The data the masks and indices refer to (±1 labels).
    pub data: &'a Dataset,
    /// The rows of the original training set.
    pub trained_on: &'a [bool],
    /// The rows to remove (a subset of `trained_on`), ascending.
    pub forget: &'a [usize],
    /// Features of the rows to return decision values for.
    pub evaluate: &'a DMatrix<f64>,
    /// Weights to start solvers from, if warm starts are wanted.
    pub warm_start: Option<&'a DVector<f64>>,
    /// Seed of every random choice of this shadow model (training noise, fresh noise).
    pub seed: u64,
}

/// A complete "train, then remove" procedure for binary models, as U-LiRA's shadow models
/// run it. Training is part of the procedure because some removal strategies (sharded ones,
/// for example) train differently; lethe-removal's strategies can implement it directly.
pub trait Unlearner: Sync {
    /// A short name for the descriptor.
    fn name(&self) -> String;
    /// Trains, removes `request.forget`, and returns the decision values (one column) on
    /// `request.evaluate`.
    ///
    /// # Errors
    /// Whatever the procedure reports, as an [`MiaError`].
    fn unlearn(&self, request: &UnlearnRequest<'_>) -> Result<DMatrix<f64>>;
}

fn fit_rows(request: &UnlearnRequest<'_>, rows: &[bool], role: &str) -> Result<LinearModel> {
    let wrap = |source| MiaError::Training {
        role: role.into(),
        source,
    };
    let b = request
        .params
        .draw_noise(
            request.data.n_features(),
            request.seed,
            lethe_models::Stream::TrainingNoise { class: 0 },
        )
        .map_err(wrap)?;
    request
        .params
        .fit_masked(request.data, Some(rows), b, request.warm_start.cloned())
        .map_err(wrap)
}

fn decisions(model: &LinearModel, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let z = model.decision_function(x)?;
    Ok(DMatrix::from_column_slice(z.len(), 1, z.as_slice()))
}

/// Exact unlearning: the model trained from scratch on `trained_on ∖ forget` (noise from the
/// training stream of the request's seed), which is what the original would have been
/// without the forget set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Retrain;

impl Unlearner for Retrain {
    fn name(&self) -> String {
        "retrain".into()
    }

    fn unlearn(&self, request: &UnlearnRequest<'_>) -> Result<DMatrix<f64>> {
        let mut keep = request.trained_on.to_vec();
        for &i in request.forget {
            if i >= keep.len() {
                return Err(invalid(
                    "forget index",
                    i,
                    format!("must be < {}", keep.len()),
                ));
            }
            keep[i] = false;
        }
        decisions(&fit_rows(request, &keep, "retrained")?, request.evaluate)
    }
}

/// No unlearning at all: the model trained on `trained_on`, forget set included. The
/// baseline every audit must catch.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoUnlearning;

impl Unlearner for NoUnlearning {
    fn name(&self) -> String {
        "none (the original model is kept)".into()
    }

    fn unlearn(&self, request: &UnlearnRequest<'_>) -> Result<DMatrix<f64>> {
        decisions(
            &fit_rows(request, request.trained_on, "original")?,
            request.evaluate,
        )
    }
}

/// U-LiRA: is the given model "trained on x, then x unlearned" or "never trained on x"?
///
/// K shadow models run the audited procedure (an [`Unlearner`]: train, then remove) with the
/// audited model's loss, λ, σ and noise on `candidates ++ population`, under a balanced
/// assignment: each candidate is in the **forget** set of exactly K/2 shadow models (trained
/// on, then removed) and **never seen** by the other K/2; each population row is in the
/// retained training set of exactly K/2 models. After unlearning,
/// each candidate x has K/2 values `φ_k(x)` (logit confidence) under "unlearned" and K/2
/// under "never seen"; like online LiRA, the score of the audited model is
///
/// ```text
/// ln N(φ(x); μ_unlearned, σ²_unlearned) − ln N(φ(x); μ_unseen, σ²_unseen)
/// ```
///
/// (high: x looks unlearned rather than never seen). With exact unlearning both
/// distributions coincide and the AUC (forget set vs held-out candidates) is 0.5 up to noise.
/// The "never seen" models also had the other candidates removed, as the audited model's
/// held-out points did. For the shadows to match the audit, use candidates = forget set ∪ an
/// equally large held-out set (so each shadow forgets as many points as the audited removal)
/// and a population about twice the audited model's retained training set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ULira {
    /// Number of shadow models K (even; ≥ 4 for per-example variances).
    pub n_shadow: usize,
    /// Variance estimate (as LiRA).
    pub variance: VarianceMode,
    /// Seed of the assignment, the noise and the unlearner.
    pub seed: u64,
    /// How shadow models are trained.
    pub training: ReferenceTraining,
}

impl Default for ULira {
    fn default() -> Self {
        Self {
            n_shadow: 32,
            variance: VarianceMode::PerExample,
            seed: 0,
            training: ReferenceTraining::default(),
        }
    }
}

impl ULira {
    /// Scores every row of `candidates` on the audited (unlearned) binary model.
    ///
    /// # Errors
    /// [`MiaError::InvalidParameter`] for an odd or too small K; [`MiaError::UnsupportedLoss`]
    /// for a squared-loss model; errors of training and of the unlearner.
    pub fn run<'a>(
        &self,
        unlearned: impl Into<TargetModel<'a>>,
        candidates: &Dataset,
        population: &Dataset,
        unlearner: &dyn Unlearner,
    ) -> Result<AttackOutput> {
        let target = unlearned.into();
        if target.ensemble().is_some() {
            return Err(MiaError::Unsupported {
                what: "U-LiRA on an ensemble: the unlearner interface returns one model's \
                       decision values, so its shadow models could not be ensembles like the target"
                    .into(),
            });
        }
        if target.n_outputs() != 1 {
            return Err(MiaError::Unsupported {
                what: "U-LiRA on one-vs-rest models (the unlearner interface is binary)".into(),
            });
        }
        require_logistic(target, "U-LiRA")?;
        let k = self.n_shadow;
        if k < 2 || !k.is_multiple_of(2) {
            return Err(invalid("n_shadow", k, "must be even and at least 2"));
        }
        if self.variance == VarianceMode::PerExample && k < 4 {
            return Err(invalid(
                "n_shadow",
                k,
                "per-example variances need at least 4 shadow models",
            ));
        }
        if candidates.is_empty() {
            return Err(MiaError::Empty { what: "candidates" });
        }
        let pool = candidates.stack(population)?;
        let nc = candidates.n_samples();
        let trainer = Trainer::new(target, &pool, &self.training)?;
        let loss = trainer.params.loss;
        let assignment = crate::reference::balanced_assignment(
            pool.n_samples(),
            k,
            self.seed,
            Purpose::UliraAssignment,
        );
        let labels = target.labels(candidates)?;
        let warm = self
            .training
            .warm_start
            .then(|| target.weight_matrix().column(0).into_owned());
        let per_model: Vec<Vec<f64>> = (0..k)
            .into_par_iter()
            .map(|m| {
                let mask: Vec<bool> = (0..pool.n_samples())
                    .map(|i| assignment[i * k + m])
                    .collect();
                let forget: Vec<usize> = (0..nc).filter(|&i| mask[i]).collect();
                let request = UnlearnRequest {
                    params: trainer.params,
                    data: &pool,
                    trained_on: &mask,
                    forget: &forget,
                    evaluate: candidates.features(),
                    warm_start: warm.as_ref(),
                    seed: Purpose::UliraUnlearn.rng(self.seed, m as u64).next_u64(),
                };
                let z = unlearner.unlearn(&request)?;
                if z.nrows() != nc || z.ncols() != 1 {
                    return Err(MiaError::LengthMismatch {
                        what: "decision values returned by the unlearner",
                        expected: nc,
                        found: z.len(),
                    });
                }
                from_margins(Statistic::LogitConfidence, loss, &z, &labels)
            })
            .collect::<Result<_>>()?;
        let phi = from_margins(
            Statistic::LogitConfidence,
            loss,
            &target.margins(candidates.features())?,
            &labels,
        )?;
        // per candidate: (mean, ss, count) for forgotten and never-seen
        let fits: Vec<[(f64, f64, f64); 2]> = (0..nc)
            .map(|i| {
                let (mut f, mut o) = (Vec::new(), Vec::new());
                for (m, vals) in per_model.iter().enumerate() {
                    if assignment[i * k + m] {
                        f.push(vals[i]);
                    } else {
                        o.push(vals[i]);
                    }
                }
                let (mf, sf) = mean_and_ss(&f);
                let (mo, so) = mean_and_ss(&o);
                [(mf, sf, f.len() as f64), (mo, so, o.len() as f64)]
            })
            .collect();
        let pooled = |side: usize| {
            let (ss, dof) = fits
                .iter()
                .fold((0.0, 0.0), |(s, d), f| (s + f[side].1, d + f[side].2 - 1.0));
            if dof > 0.0 { ss / dof } else { 0.0 }
        };
        let global = [pooled(0), pooled(1)];
        let var = |f: &(f64, f64, f64), side: usize| -> f64 {
            match self.variance {
                VarianceMode::Global => global[side],
                VarianceMode::PerExample => f.1 / (f.2 - 1.0),
            }
            .max(MIN_VARIANCE)
        };
        let scores = fits
            .iter()
            .zip(&phi)
            .map(|(f, &x)| {
                ln_normal_pdf(x, f[0].0, var(&f[0], 0)) - ln_normal_pdf(x, f[1].0, var(&f[1], 1))
            })
            .collect();
        let params = trainer.params;
        let mut descriptor = AttackDescriptor::new(
            "u_lira",
            format!(
                "per-example Gaussian likelihood ratio, unlearned vs never seen, {}, unlearner: {}",
                match self.variance {
                    VarianceMode::Global => "global variance",
                    VarianceMode::PerExample => "per-example variance",
                },
                unlearner.name()
            ),
            Statistic::LogitConfidence.name(),
            "Hayes, Shumailov, Triantafillou, Khalifa, Papernot: Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy (arXiv 2403.01218, 2024)",
            target,
        )
        .param("unlearner", unlearner.name())
        .param("pool_size", pool.n_samples())
        .param("lambda", params.lambda)
        .param("sigma", params.sigma)
        .param("tolerance", params.solver.tolerance)
        .param("warm_start", self.training.warm_start);
        descriptor.n_reference = Some(k);
        descriptor.online = Some(true);
        descriptor.seed = Some(self.seed);
        AttackOutput::new(scores, descriptor)
    }
}

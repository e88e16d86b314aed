//! A certified model: training (Algorithm 1) and sequential removal with a budget and
//! retraining (Algorithm 2 of Guo et al. 2020).

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_data::preprocess::one_vs_rest_label_vector;
use lethe_models::accounting::{gaussian_delta, paper_is_valid};
use lethe_models::linalg::{ErrorBoundedGram, GramPlan, RowMajor};
use lethe_models::{Accounting, LinearModelParams, Loss, LossKind, NoiseKind, Stream, gaussian_c};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bounds::BoundKind;
use crate::error::{RemovalError, Result};
use crate::noise_key::NoiseKey;
use crate::rounding::{accumulate, derivative_l1, training_allowance};
use crate::step::{FastPathOptions, StepCache, StepInput, StepReport, StepSolver, newton_step};

/// What happens when a step would push β over the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPolicy {
    /// Algorithm 2: retrain from scratch on the remaining rows with a fresh b. Every released
    /// model then has β ≤ budget.
    #[default]
    Retrain,
    /// Never retrain: apply every step and report the ε the accumulated β corresponds to (for
    /// studying bound growth, e.g. the paper's Figure 2). Released models past the budget are
    /// marked `certified: false`.
    Never,
}

/// Which rigorous upper bound on ‖X‖₂ the data-dependent bounds use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpectralNormMode {
    /// ‖X‖₂ of the full training data, computed once (an exact symmetric eigen-solve of XᵀX plus
    /// a rounding allowance). Valid for every later request because removing rows never
    /// increases ‖X‖₂. O(1) per request.
    #[default]
    Training,
    /// ‖X′‖₂ of the remaining rows for every request: the Gram matrix is downdated
    /// (O(md²)) and eigen-solved (O(d³)). Slightly tighter; what DESIGN's fixture uses.
    Remaining,
}

/// Who can know the perturbation b of a model — which decides whether its certificates protect
/// anything. The guarantee of Guo et al. (2020) is about a *secret* random b.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSecrecy {
    /// b is drawn from the named streams of the experiment `seed` ([`CertifiedModel::train`]).
    /// The seed is written in every result and b in every ledger header, so anyone holding
    /// them can re-derive b: right for research and reproduction, not for a deployment.
    DerivableFromSeed,
    /// b is drawn from a 256-bit secret kept in a key file ([`CertifiedModel::train_with_key`]);
    /// results never contain it and a ledger holds only a commitment to b.
    KeyFile,
    /// b was given explicitly ([`CertifiedModel::train_with_noise`]): public and fixed, so the
    /// run is a *replay* and certifies nothing (every bound is still reported).
    ExplicitReplay,
}

impl NoiseSecrecy {
    /// The snake-case name used in results and ledgers.
    pub fn name(&self) -> &'static str {
        match self {
            NoiseSecrecy::DerivableFromSeed => "derivable_from_seed",
            NoiseSecrecy::KeyFile => "key_file",
            NoiseSecrecy::ExplicitReplay => "explicit_replay",
        }
    }
}

/// Where the initial b of [`CertifiedModel`]'s training comes from.
enum NoiseInit {
    Seeded,
    Explicit(Vec<DVector<f64>>),
    Key(NoiseKey),
}

/// Hyper-parameters of certified removal (unchecked; see [`CertifiedParams::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedParams {
    /// The model: loss, λ, σ, noise distribution, training solver.
    pub model: LinearModelParams,
    /// ε of (ε, δ)-certified removal.
    pub epsilon: f64,
    /// δ of (ε, δ)-certified removal (unused by the Gamma-norm noise, which is pure ε).
    pub delta: f64,
    /// How the Gaussian noise's (ε, δ) is accounted: the exact profile (`analytic`, the
    /// default) or the paper's σε/c (`paper`, refused where it is not valid). Unused by the
    /// Gamma-norm noise.
    #[serde(default)]
    pub accounting: Accounting,
    /// The caller declares that the removal requests may depend on released models (e.g. rows
    /// ranked by the released model's loss): the theorem covers only requests fixed
    /// independently of b, so no certificate is then issued (guarantee `adaptive`).
    #[serde(default)]
    pub adaptive_requests: bool,
    /// Which bound is the certificate.
    #[serde(default)]
    pub bound: BoundKind,
    /// How Newton steps are solved.
    #[serde(default)]
    pub solver: StepSolver,
    /// What to do when the budget would be exceeded.
    #[serde(default)]
    pub budget_policy: BudgetPolicy,
    /// Which ‖X‖₂ upper bound the bounds use.
    #[serde(default)]
    pub spectral_norm: SpectralNormMode,
    /// Accept rows with norm > 1; no certificate is then issued.
    #[serde(default)]
    pub allow_unnormalized: bool,
    /// Compute the exact residual ‖∇L_b(w⁻; D′)‖ for every request (fused into the step's
    /// last pass over X).
    #[serde(default = "yes")]
    pub exact_residual: bool,
    /// Tuning of the `pcg` and `stale` solvers.
    #[serde(default)]
    pub fast_path: FastPathOptions,
}

fn yes() -> bool {
    true
}

impl CertifiedParams {
    /// Paper defaults around `model`: ε = 1, δ = 1e-4, data-dependent bound, Cholesky steps,
    /// Algorithm 2's retraining.
    pub fn new(model: LinearModelParams) -> Self {
        Self {
            model,
            epsilon: 1.0,
            delta: 1e-4,
            accounting: Accounting::default(),
            adaptive_requests: false,
            bound: BoundKind::default(),
            solver: StepSolver::default(),
            budget_policy: BudgetPolicy::default(),
            spectral_norm: SpectralNormMode::default(),
            allow_unnormalized: false,
            exact_residual: true,
            fast_path: FastPathOptions::default(),
        }
    }

    /// Checks every parameter.
    pub fn check(&self) -> Result<()> {
        self.model.check()?;
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(RemovalError::InvalidEpsilon {
                value: self.epsilon,
            });
        }
        if self.model.noise == NoiseKind::Gaussian && !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(RemovalError::InvalidDelta { value: self.delta });
        }
        if self.model.noise == NoiseKind::Gaussian
            && self.accounting == Accounting::Paper
            && !paper_is_valid(self.epsilon, self.delta)
        {
            let c = gaussian_c(self.delta);
            return Err(RemovalError::PaperAccountingInvalid {
                epsilon: self.epsilon,
                delta: self.delta,
                true_delta: gaussian_delta(self.epsilon, self.epsilon / c),
            });
        }
        Ok(())
    }

    /// The residual budget: σ·r*(ε, δ) of the exact profile (analytic accounting), σε/c
    /// (paper accounting) or σε (Gamma-norm noise); see `lethe_models::accounting`.
    pub fn budget(&self) -> f64 {
        self.model.noise.residual_budget(
            self.model.sigma,
            self.epsilon,
            self.delta,
            self.accounting,
        )
    }

    /// The δ of the guarantee: `delta` for Gaussian noise, 0 for the Gamma-norm noise.
    pub fn guarantee_delta(&self) -> f64 {
        self.model.noise.guarantee_delta(self.delta)
    }

    /// The accounting that applies: `None` for the Gamma-norm noise (pure ε needs none).
    pub fn accounting_used(&self) -> Option<Accounting> {
        (self.model.noise == NoiseKind::Gaussian).then_some(self.accounting)
    }
}

/// One binary model of a certified model (the only one for binary data; one per class for
/// one-vs-rest).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassModel {
    /// The class this model separates (+1) from the rest, for one-vs-rest; `None` for binary.
    pub class: Option<f64>,
    /// Its ±1 (or real, for squared loss) labels.
    pub labels: DVector<f64>,
    /// Current weights.
    pub weights: DVector<f64>,
    /// Current perturbation b.
    pub noise: DVector<f64>,
    /// Training residual r₀ of the last (re)training.
    pub training_residual: f64,
}

/// Summary of the last (re)training: the first training, or the latest budget retrain
/// ([`CertifiedModel::initial_train_summary`] keeps the first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Seconds to train all class models.
    pub seconds: f64,
    /// Solver iterations summed over class models.
    pub iterations: usize,
    /// Σ_k r₀_k: the class-summed training residual (as computed by the solver).
    pub residual_norm: f64,
    /// Seconds for the ‖X‖₂ upper bound (once per model, at the first training).
    pub spectral_norm_seconds: f64,
    /// Σ_k of the floating-point allowances of r₀_k ([`crate::rounding`]); β starts at
    /// `residual_norm + rounding_allowance` (rounded up).
    pub rounding_allowance: f64,
    /// Which budget retrain this training was (0: the first training, 1: the first retrain, …).
    pub retrain: u32,
}

/// The certificate of one removal request (all norms in sum scale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// 1-based request number.
    pub request: usize,
    /// The removed rows (0-based indices into the training set).
    pub indices: Vec<usize>,
    /// Rows remaining after the request.
    pub n_remaining: usize,
    /// Which bound is the certificate (`data_dependent` or `tight`).
    pub bound_kind: String,
    /// The upper bound on ‖X‖₂ the bounds used.
    pub spectral_norm: f64,
    /// How the step was solved.
    pub solver: String,
    /// γ‖X‖₂‖v‖‖Xv‖, summed over class models (Corollary 1/2).
    pub bound_data_dependent: f64,
    /// (γ/2)‖X‖₂‖Xv‖₄², summed over class models (beyond the paper).
    pub bound_tight: f64,
    /// γ(n − m)‖v‖², summed over class models.
    pub bound_gamma_n_v2: f64,
    /// 4γm²C²/(λ²(n − m)), summed over class models (Theorem 1; valid for b = 0 only, never
    /// used as the certificate).
    pub bound_worst_case: f64,
    /// ‖Hv − Δ‖ summed over class models (round-off for Cholesky).
    pub solve_residual: f64,
    /// The bound charged to the budget: Σ_k (certified bound + solve residual + rounding
    /// allowance), rounded up. The certified bound of each class model is the smaller of the
    /// chosen bound (`bound_kind`) and γ(n − m)‖v‖².
    pub certificate_bound: f64,
    /// Which bound was certified: `data_dependent`, `tight` or `gamma_n_v2`, or `mixed` when
    /// the class models of a one-vs-rest model used different ones (see `classes`).
    pub certificate_bound_source: String,
    /// Σ_k of the floating-point allowances included in `certificate_bound`
    /// ([`crate::rounding`]).
    pub rounding_allowance: f64,
    /// ‖∇L_b‖ of the Newton step's model on the remaining rows, including bᵀw, summed over
    /// classes (diagnostic; `None` if not computed).
    pub step_residual_norm: Option<f64>,
    /// ‖∇L_b‖ of the released model: the step's, or r₀ of the retrained model.
    pub residual_norm: Option<f64>,
    /// β before the request.
    pub beta_before: f64,
    /// β after the request (Σ_k r₀_k after a retrain).
    pub beta: f64,
    /// The budget: σ·r*(ε, δ) (analytic accounting), σε/c (paper) or σε (Gamma-norm).
    pub budget: f64,
    /// c(δ) = √(2 ln(1.5/δ)) of the paper's calibration (1 for the Gamma-norm noise).
    pub c_delta: f64,
    /// How (ε, δ) is accounted (`analytic` or `paper`); null for the Gamma-norm noise, whose
    /// guarantee is pure ε.
    pub accounting: Option<Accounting>,
    /// The target ε.
    pub epsilon: f64,
    /// δ of the guarantee (0 for the Gamma-norm noise: pure ε).
    pub delta: f64,
    /// The smallest ε the accumulated β certifies under `accounting` (β/σ for pure ε); null
    /// when no certificate can be issued (σ = 0, unnormalised rows, a replayed b, adaptive
    /// requests) or when the paper's formula β·c/σ is not a valid (ε, δ) statement there.
    pub epsilon_spent: Option<f64>,
    /// The same under the exact (analytic) accounting, for comparison when `accounting` is
    /// `paper` (null for the Gamma-norm noise and where `epsilon_spent` is null for lack of a
    /// certificate).
    pub epsilon_spent_analytic: Option<f64>,
    /// Whether the model was retrained from scratch with a fresh b.
    pub retrained: bool,
    /// Whether the released model is (ε, δ)-certified: noise σ > 0 drawn at random (not given
    /// explicitly: a replay certifies nothing), every row ‖x‖ ≤ 1, a convex loss, and
    /// β ≤ budget. (Squared loss: the step is exact; β stays r₀.)
    pub certified: bool,
    /// Whether the Newton step has no Taylor remainder (γ = 0: squared loss), so the
    /// data-dependent and tight bounds are 0. The linear solve is exact only on the `cholesky`
    /// path; on `pcg` and `stale` its residual ‖Hv − Δ‖ is in `solve_residual` (and in the
    /// certificate) whatever the loss.
    pub exact_step: bool,
    /// Seconds for the whole request (step, bounds, retraining if any).
    pub seconds: f64,
    /// Seconds for the Newton step and its bounds.
    pub step_seconds: f64,
    /// Seconds of retraining (0 if none).
    pub retrain_seconds: f64,
    /// Per-class step details.
    pub classes: Vec<StepReport>,
    /// SHA-256 of the released weights (bit patterns), for replay.
    pub weights_sha256: String,
}

/// A model trained on the perturbed objective that can remove rows with certificates.
#[derive(Clone, Debug)]
pub struct CertifiedModel {
    params: CertifiedParams,
    seed: u64,
    data: Arc<Dataset>,
    /// Row-major copy of the features for the streaming passes of removal steps.
    rows: Arc<RowMajor>,
    /// How Hessians XᵀDX of these features are formed (exploits image background/sparsity).
    gram_plan: Arc<GramPlan>,
    active: Vec<bool>,
    n_active: usize,
    classes: Vec<ClassModel>,
    caches: Vec<StepCache>,
    spectral_norm: f64,
    /// XᵀX of the remaining rows with its error bound (only in [`SpectralNormMode::Remaining`]).
    gram: Option<ErrorBoundedGram>,
    beta: f64,
    requests: usize,
    retrains: u32,
    certifiable: bool,
    explicit_noise: bool,
    /// The secret the noise streams are keyed by, instead of `seed` (key-file models).
    noise_key: Option<NoiseKey>,
    train: TrainSummary,
    initial_train: TrainSummary,
}

impl CertifiedModel {
    /// Trains on `data` with b drawn from the training streams of `seed`.
    ///
    /// Binary data (labels ±1, or real labels for the squared loss) gives one model; class ids
    /// with a logistic loss give one-vs-rest with one b_k per class.
    ///
    /// b is then derivable by anyone who knows `seed` ([`NoiseSecrecy::DerivableFromSeed`]):
    /// fine for research; a deployment should use [`CertifiedModel::train_with_key`].
    pub fn train(params: CertifiedParams, data: Arc<Dataset>, seed: u64) -> Result<Self> {
        Self::train_impl(params, data, seed, NoiseInit::Seeded)
    }

    /// Trains with explicit perturbations (one per class model), e.g. to replay another
    /// implementation's run. Retraining still draws fresh b from `seed`'s streams.
    ///
    /// Such a model is a **replay** ([`NoiseSecrecy::ExplicitReplay`]): the guarantee needs b to
    /// be a secret random draw, and a b that was chosen and written down is neither. It is
    /// never certified ([`CertifiedModel::is_certified`] is false and every certificate says
    /// `certified: false`), its [`crate::RemovalStrategy::guarantee`] is
    /// [`crate::Guarantee::Replay`], and it still reports every bound, β and the budget.
    pub fn train_with_noise(
        params: CertifiedParams,
        data: Arc<Dataset>,
        seed: u64,
        noise: Vec<DVector<f64>>,
    ) -> Result<Self> {
        Self::train_impl(params, data, seed, NoiseInit::Explicit(noise))
    }

    /// Trains with every noise stream (the initial b and every retrain's fresh b) keyed by the
    /// secret `key` instead of `seed` ([`NoiseSecrecy::KeyFile`]), so b cannot be derived from
    /// anything a result or ledger contains. `seed` is kept only for the record.
    pub fn train_with_key(
        params: CertifiedParams,
        data: Arc<Dataset>,
        seed: u64,
        key: NoiseKey,
    ) -> Result<Self> {
        Self::train_impl(params, data, seed, NoiseInit::Key(key))
    }

    fn train_impl(
        params: CertifiedParams,
        data: Arc<Dataset>,
        seed: u64,
        noise: NoiseInit,
    ) -> Result<Self> {
        params.check()?;
        if data.is_empty() {
            return Err(RemovalError::Data(lethe_data::DataError::Empty {
                context: "certified training needs at least one row".into(),
            }));
        }
        let certifiable_norms = check_row_norms(&data, params.allow_unnormalized)?;
        let loss = params.model.loss;
        let label_sets = label_sets(&data, loss)?;
        let d = data.n_features();
        let explicit_noise = matches!(noise, NoiseInit::Explicit(_));
        let (noises, noise_key) = match noise {
            NoiseInit::Explicit(v) => {
                if v.len() != label_sets.len() {
                    return Err(RemovalError::NoiseCount {
                        expected: label_sets.len(),
                        found: v.len(),
                    });
                }
                (v, None)
            }
            NoiseInit::Seeded => (
                (0..label_sets.len())
                    .map(|k| {
                        draw_noise(
                            &params,
                            d,
                            seed,
                            None,
                            Stream::TrainingNoise { class: k as u32 },
                        )
                    })
                    .collect::<lethe_models::Result<Vec<_>>>()?,
                None,
            ),
            NoiseInit::Key(key) => (
                (0..label_sets.len())
                    .map(|k| {
                        draw_noise(
                            &params,
                            d,
                            seed,
                            Some(&key),
                            Stream::TrainingNoise { class: k as u32 },
                        )
                    })
                    .collect::<lethe_models::Result<Vec<_>>>()?,
                Some(key),
            ),
        };
        let start = Instant::now();
        let mut classes = Vec::with_capacity(label_sets.len());
        let mut iterations = 0;
        let mut allowance = 0.0;
        for ((class, labels), b) in label_sets.into_iter().zip(noises) {
            let m = params
                .model
                .fit_parts(data.features(), &labels, None, b, None)?;
            iterations += m.report.iterations;
            allowance = accumulate(
                allowance,
                residual_allowance(
                    &params,
                    data.features(),
                    &labels,
                    None,
                    &m.weights,
                    &m.noise,
                    m.report.residual_norm,
                ),
            );
            classes.push(ClassModel {
                class,
                labels,
                weights: m.weights,
                noise: m.noise,
                training_residual: m.report.residual_norm,
            });
        }
        let seconds = start.elapsed().as_secs_f64();
        let t = Instant::now();
        let gram_plan = Arc::new(GramPlan::new(data.features()));
        // A plain dense product with a proven error bound (not the blocked-sparse plan, whose
        // background subtraction has no such bound) and an a-posteriori verified λ_max.
        let (spectral_norm, gram) = if loss.gamma() > 0.0 {
            let gram = ErrorBoundedGram::new(data.features(), None);
            let norm = gram.spectral_norm_upper_bound()?;
            let keep = params.spectral_norm == SpectralNormMode::Remaining;
            (norm, keep.then_some(gram))
        } else {
            (0.0, None)
        };
        let spectral_norm_seconds = t.elapsed().as_secs_f64();
        let r0: f64 = classes.iter().map(|c| c.training_residual).sum();
        let beta = accumulate(r0, allowance);
        let n = data.n_samples();
        let train = TrainSummary {
            seconds,
            iterations,
            residual_norm: r0,
            spectral_norm_seconds,
            rounding_allowance: allowance,
            retrain: 0,
        };
        Ok(Self {
            params,
            seed,
            active: vec![true; n],
            n_active: n,
            caches: vec![StepCache::default(); classes.len()],
            classes,
            spectral_norm,
            gram,
            beta,
            requests: 0,
            retrains: 0,
            // An explicit b is public (a replay) and adaptive requests depend on b: neither
            // is ever certified.
            certifiable: certifiable_norms
                && params.model.sigma > 0.0
                && !explicit_noise
                && !params.adaptive_requests,
            explicit_noise,
            noise_key,
            rows: Arc::new(RowMajor::from_matrix(data.features())),
            gram_plan,
            initial_train: train.clone(),
            train,
            data,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &CertifiedParams {
        &self.params
    }

    /// Changes the solver of subsequent removal steps (the certificates stay rigorous with any
    /// solver: each one charges its own solve residual). `pcg` and `stale` share their reused
    /// factor; switching to or from `cholesky` (which keeps no factor up to date) makes the
    /// next fast request refactor.
    pub fn set_step_solver(&mut self, solver: StepSolver) {
        let fast = |s: StepSolver| s != StepSolver::Cholesky;
        if fast(solver) != fast(self.params.solver) {
            for cache in &mut self.caches {
                cache.stale = true;
            }
        }
        self.params.solver = solver;
    }

    /// The seed every random stream derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The training data (all rows, removed or not).
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// Which rows remain.
    pub fn active(&self) -> &[bool] {
        &self.active
    }

    /// The 0-based indices of the remaining rows.
    pub fn remaining_indices(&self) -> Vec<usize> {
        (0..self.active.len()).filter(|&i| self.active[i]).collect()
    }

    /// Number of remaining rows.
    pub fn n_remaining(&self) -> usize {
        self.n_active
    }

    /// The class models (one for binary data).
    pub fn class_models(&self) -> &[ClassModel] {
        &self.classes
    }

    /// The weights as a d × K matrix (K = 1 for binary models).
    pub fn weight_matrix(&self) -> DMatrix<f64> {
        DMatrix::from_columns(
            &self
                .classes
                .iter()
                .map(|c| c.weights.clone())
                .collect::<Vec<_>>(),
        )
    }

    /// The rigorous upper bound on ‖X‖₂ used by the bounds (of the full training data).
    pub fn spectral_norm(&self) -> f64 {
        self.spectral_norm
    }

    /// The accumulated residual β.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The residual budget (see [`CertifiedParams::budget`]).
    pub fn budget(&self) -> f64 {
        self.params.budget()
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Retrains so far.
    pub fn retrains(&self) -> u32 {
        self.retrains
    }

    /// Whether the model trained with explicit (not seeded) noise: a replay, never certified.
    pub fn explicit_noise(&self) -> bool {
        self.explicit_noise
    }

    /// Who can know b: derivable from the seed, secret in a key file, or an explicit replay.
    pub fn noise_secrecy(&self) -> NoiseSecrecy {
        if self.explicit_noise {
            NoiseSecrecy::ExplicitReplay
        } else if self.noise_key.is_some() {
            NoiseSecrecy::KeyFile
        } else {
            NoiseSecrecy::DerivableFromSeed
        }
    }

    /// The last training's summary: the first training, or the latest budget retrain.
    pub fn train_summary(&self) -> &TrainSummary {
        &self.train
    }

    /// The first training's summary (unchanged by budget retrains).
    pub fn initial_train_summary(&self) -> &TrainSummary {
        &self.initial_train
    }

    /// Whether the current model is certified (σ > 0, b drawn at random rather than given
    /// explicitly, non-adaptive requests, rows ‖x‖ ≤ 1 and β ≤ budget).
    pub fn is_certified(&self) -> bool {
        self.certifiable && self.beta <= self.budget()
    }

    /// Whether this model can issue certificates at all (σ > 0, rows ‖x‖ ≤ 1, requests not
    /// declared adaptive), whatever β.
    pub fn is_certifiable(&self) -> bool {
        self.certifiable
    }

    /// The ε the current β spends under the configured accounting and under the analytic one
    /// (the values a certificate issued now would carry).
    pub fn epsilon_spent_now(&self) -> (Option<f64>, Option<f64>) {
        let analytic = match self.params.model.noise {
            NoiseKind::Gaussian => self.epsilon_for(self.beta, Accounting::Analytic),
            NoiseKind::GammaNorm => None,
        };
        (
            self.epsilon_for(self.beta, self.params.accounting),
            analytic,
        )
    }

    /// The ε the accumulated residual `beta` spends under `accounting` (`None` without a
    /// valid statement, see [`Certificate::epsilon_spent`]).
    fn epsilon_for(&self, beta: f64, accounting: Accounting) -> Option<f64> {
        if !self.certifiable {
            return None;
        }
        let p = &self.params;
        p.model
            .noise
            .epsilon_for_residual(p.model.sigma, beta, p.delta, accounting)
    }

    /// Decision values X W (n × K).
    pub fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        if x.ncols() != self.data.n_features() {
            return Err(RemovalError::Data(
                lethe_data::DataError::DimensionMismatch {
                    expected: self.data.n_features(),
                    found: x.ncols(),
                    context: "features given to a certified model".into(),
                },
            ));
        }
        Ok(x * self.weight_matrix())
    }

    /// Accuracy on `data`: sign agreement for binary models, arg-max class for one-vs-rest,
    /// and NaN for the squared loss (use [`CertifiedModel::decision_function`]).
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let z = self.decision_function(data.features())?;
        if !self.params.model.loss.needs_binary_labels() {
            return Ok(f64::NAN);
        }
        let classes: Vec<Option<f64>> = self.classes.iter().map(|c| c.class).collect();
        Ok(decision_accuracy(&z, &classes, data.labels()))
    }

    /// SHA-256 of the weights' bit patterns (class by class).
    pub fn weights_sha256(&self) -> String {
        let mut h = Sha256::new();
        for c in &self.classes {
            for w in c.weights.iter() {
                h.update(w.to_bits().to_le_bytes());
            }
        }
        lethe_data::digest::hex(&h.finalize())
    }

    /// Checks a request without changing anything.
    pub fn validate_request(&self, indices: &[usize]) -> Result<()> {
        validate_request(&self.active, self.n_active, indices)
    }

    /// Removes the rows `indices` (one index: a single removal; several: one batch step) and
    /// returns the certificate. Invalid requests are errors and change nothing.
    pub fn remove(&mut self, indices: &[usize]) -> Result<Certificate> {
        self.validate_request(indices)?;
        let start = Instant::now();
        let mut remaining = self.active.clone();
        for &i in indices {
            remaining[i] = false;
        }
        let n_remaining = self.n_active - indices.len();
        let loss = self.params.model.loss;
        let new_gram = self.gram.as_ref().map(|g| {
            let mut g = g.clone();
            g.downdate(self.data.features(), indices);
            g
        });
        // The downdated Gram matrix carries its own error bound; the training-data bound stays
        // valid (removing rows never increases ‖X‖₂), so the smaller of the two is used.
        let spectral_norm = match &new_gram {
            Some(g) => g.spectral_norm_upper_bound()?.min(self.spectral_norm),
            None => self.spectral_norm,
        };
        let mut steps = Vec::with_capacity(self.classes.len());
        let mut outcomes = Vec::with_capacity(self.classes.len());
        for (class, cache) in self.classes.iter().zip(&self.caches) {
            let out = newton_step(
                &StepInput {
                    x: self.data.features(),
                    rows: &self.rows,
                    gram_plan: &self.gram_plan,
                    y: &class.labels,
                    remaining: &remaining,
                    n_remaining,
                    removed: indices,
                    w: &class.weights,
                    b: &class.noise,
                    loss,
                    lambda: self.params.model.lambda,
                    spectral_norm,
                    bound: self.params.bound,
                    exact_residual: self.params.exact_residual,
                    solver: self.params.solver,
                    options: self.params.fast_path,
                },
                cache,
            )?;
            steps.push(out.report.clone());
            outcomes.push(out);
        }
        let step_seconds = start.elapsed().as_secs_f64();
        let sum = |f: fn(&StepReport) -> f64| steps.iter().map(f).sum::<f64>();
        let bound_data_dependent = sum(|s| s.bound_data_dependent);
        let bound_tight = sum(|s| s.bound_tight);
        let solve_residual = sum(|s| s.solve_residual);
        let rounding_allowance = sum(|s| s.rounding_allowance);
        // Σ_k (certified bound + solve residual + allowance), every addition rounded up.
        let certificate_bound = steps.iter().fold(0.0, |acc, s| {
            accumulate(
                acc,
                accumulate(
                    accumulate(s.certified_bound, s.solve_residual),
                    s.rounding_allowance,
                ),
            )
        });
        let certificate_bound_source = match steps.first() {
            Some(first)
                if steps
                    .iter()
                    .all(|s| s.certified_bound_source == first.certified_bound_source) =>
            {
                first.certified_bound_source.clone()
            }
            _ => "mixed".to_string(),
        };
        let step_residual_norm = if self.params.exact_residual {
            Some(steps.iter().filter_map(|s| s.exact_residual).sum())
        } else {
            None
        };
        let budget = self.budget();
        let beta_before = self.beta;
        let retrain = self.params.budget_policy == BudgetPolicy::Retrain
            && !(accumulate(beta_before, certificate_bound) <= budget);

        // Retraining (if needed) happens before anything is committed, so that a failed
        // retrain leaves the model exactly as it was.
        let mut retrain_seconds = 0.0;
        let retrained = if retrain {
            let t = Instant::now();
            let fitted = self.retrain_classes(&remaining)?;
            retrain_seconds = t.elapsed().as_secs_f64();
            Some(fitted)
        } else {
            None
        };
        let step_residual_bound = certificate_bound;

        // Commit: nothing above changed the model.
        self.active = remaining;
        self.n_active = n_remaining;
        self.gram = new_gram;
        self.requests += 1;
        let residual_norm;
        if let Some(fitted) = retrained {
            self.retrains += 1;
            for cache in &mut self.caches {
                cache.reset();
            }
            let (mut r0_sum, mut allowance, mut iterations) = (0.0, 0.0, 0);
            for (class, fit) in self.classes.iter_mut().zip(fitted) {
                class.weights = fit.weights;
                class.noise = fit.noise;
                class.training_residual = fit.residual;
                r0_sum += fit.residual;
                allowance = accumulate(allowance, fit.allowance);
                iterations += fit.iterations;
            }
            self.beta = accumulate(r0_sum, allowance);
            self.train = TrainSummary {
                seconds: retrain_seconds,
                iterations,
                residual_norm: r0_sum,
                spectral_norm_seconds: self.train.spectral_norm_seconds,
                rounding_allowance: allowance,
                retrain: self.retrains,
            };
            residual_norm = Some(r0_sum);
        } else {
            let fast = self.params.solver != StepSolver::Cholesky;
            for ((class, cache), out) in self.classes.iter_mut().zip(&mut self.caches).zip(outcomes)
            {
                class.weights = out.w_new;
                cache.margins = Some(out.margins_new);
                cache.margin_error = out.margin_error;
                if !fast {
                    continue;
                }
                if let Some((factor, curvatures)) = out.new_factor {
                    // Built on the remaining rows: nothing to downdate.
                    cache.factor = Some(factor);
                    cache.factor_curvatures = curvatures;
                    cache.factorizations += 1;
                    cache.stale = false;
                } else if let Some(factor) = cache.factor.as_mut() {
                    // Remove the rows' terms c_j x_j x_jᵀ from the factor exactly (O(md²)).
                    let x = self.data.features();
                    let rows: Vec<usize> = indices
                        .iter()
                        .copied()
                        .filter(|&j| cache.factor_curvatures[j] > 0.0)
                        .collect();
                    if !rows.is_empty() {
                        let wmat = DMatrix::from_fn(x.ncols(), rows.len(), |i, k| x[(rows[k], i)]);
                        let alpha: Vec<f64> =
                            rows.iter().map(|&j| -cache.factor_curvatures[j]).collect();
                        if factor.rank_update(&wmat, &alpha).is_err() {
                            cache.stale = true;
                        }
                        for &j in &rows {
                            cache.factor_curvatures[j] = 0.0;
                        }
                    }
                }
                cache.stale |= out.mark_stale;
            }
            self.beta = accumulate(beta_before, step_residual_bound);
            residual_norm = step_residual_norm;
        }
        let noise = self.params.model.noise;
        let spent = self.epsilon_spent_now();
        Ok(Certificate {
            request: self.requests,
            indices: indices.to_vec(),
            n_remaining,
            bound_kind: self.params.bound.name().into(),
            spectral_norm,
            solver: self.params.solver.name().into(),
            bound_data_dependent,
            bound_tight,
            bound_gamma_n_v2: sum(|s| s.bound_gamma_n_v2),
            bound_worst_case: sum(|s| s.bound_worst_case),
            solve_residual,
            certificate_bound,
            certificate_bound_source,
            rounding_allowance,
            step_residual_norm,
            residual_norm,
            beta_before,
            beta: self.beta,
            budget,
            c_delta: match noise {
                NoiseKind::Gaussian => gaussian_c(self.params.delta),
                NoiseKind::GammaNorm => 1.0,
            },
            accounting: self.params.accounting_used(),
            epsilon: self.params.epsilon,
            delta: self.params.guarantee_delta(),
            epsilon_spent: spent.0,
            epsilon_spent_analytic: spent.1,
            retrained: retrain,
            certified: self.is_certified(),
            exact_step: loss.gamma() == 0.0,
            seconds: start.elapsed().as_secs_f64(),
            step_seconds,
            retrain_seconds,
            classes: steps,
            weights_sha256: self.weights_sha256(),
        })
    }

    /// Algorithm 2's retraining: every class model from scratch (w = 0) on the remaining rows
    /// with a fresh b from the retrain stream; β ← Σ_k r₀_k.
    /// Algorithm 2's retraining, computed without changing the model: every class model from
    /// scratch (w = 0) on the rows `remaining` with a fresh b from the retrain stream
    /// (retrain number `self.retrains + 1`). Returns (w, b, r₀) per class.
    fn retrain_classes(&self, remaining: &[bool]) -> Result<Vec<Retrained>> {
        let n_remaining = remaining.iter().filter(|r| **r).count();
        let d = self.data.n_features();
        self.classes
            .iter()
            .enumerate()
            .map(|(k, class)| {
                let b = draw_noise(
                    &self.params,
                    d,
                    self.seed,
                    self.noise_key.as_ref(),
                    Stream::RetrainNoise {
                        class: k as u32,
                        retrain: self.retrains + 1,
                    },
                )?;
                let m = self.params.model.fit_parts(
                    self.data.features(),
                    &class.labels,
                    Some(remaining),
                    b,
                    None,
                )?;
                let allowance = residual_allowance_masked(
                    &self.params,
                    self.data.features(),
                    &class.labels,
                    Some(remaining),
                    n_remaining,
                    &m.weights,
                    &m.noise,
                    m.report.residual_norm,
                );
                Ok(Retrained {
                    weights: m.weights,
                    noise: m.noise,
                    residual: m.report.residual_norm,
                    allowance,
                    iterations: m.report.iterations,
                })
            })
            .collect()
    }
}

/// b for `stream`, keyed by `key` when there is one, else by `seed`.
fn draw_noise(
    params: &CertifiedParams,
    d: usize,
    seed: u64,
    key: Option<&NoiseKey>,
    stream: Stream,
) -> lethe_models::Result<DVector<f64>> {
    match key {
        Some(k) => params.model.draw_noise_keyed(d, k.bytes(), stream),
        None => params.model.draw_noise(d, seed, stream),
    }
}

/// One class model retrained from scratch.
struct Retrained {
    weights: DVector<f64>,
    noise: DVector<f64>,
    /// r₀ as computed by the solver.
    residual: f64,
    /// Its floating-point allowance.
    allowance: f64,
    iterations: usize,
}

/// The floating-point allowance of a training residual on all rows.
fn residual_allowance(
    params: &CertifiedParams,
    x: &DMatrix<f64>,
    labels: &DVector<f64>,
    active: Option<&[bool]>,
    w: &DVector<f64>,
    b: &DVector<f64>,
    r0: f64,
) -> f64 {
    residual_allowance_masked(params, x, labels, active, x.nrows(), w, b, r0)
}

/// The floating-point allowance of a training residual r₀ = fl‖∇L_b(w)‖ on the rows `active`
/// (`n_active` of them), see [`crate::rounding::training_allowance`]. One pass over X.
#[allow(clippy::too_many_arguments)]
fn residual_allowance_masked(
    params: &CertifiedParams,
    x: &DMatrix<f64>,
    labels: &DVector<f64>,
    active: Option<&[bool]>,
    n_active: usize,
    w: &DVector<f64>,
    b: &DVector<f64>,
    r0: f64,
) -> f64 {
    let loss = params.model.loss;
    let margins = lethe_models::linalg::mat_vec(x, w);
    training_allowance(
        x.nrows(),
        n_active,
        x.ncols(),
        loss,
        params.model.lambda,
        w.norm(),
        b.norm(),
        derivative_l1(loss, &margins, labels, active),
        r0,
    )
}

/// Whether every row has ‖x_i‖ ≤ 1 (to 1e-12), the bounds' precondition: `true` if so; `false`
/// for a longer row accepted with `allow_unnormalized` (nothing is then certified).
///
/// # Errors
/// [`RemovalError::RowNormExceeded`] for the first longer row without `allow_unnormalized`;
/// other data errors (non-finite values).
pub(crate) fn check_row_norms(data: &Dataset, allow_unnormalized: bool) -> Result<bool> {
    match data.check_row_norms(1e-12) {
        Ok(()) => Ok(true),
        Err(lethe_data::DataError::RowNormExceeded { row, norm }) => {
            if allow_unnormalized {
                Ok(false)
            } else {
                Err(RemovalError::RowNormExceeded { row, norm })
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The label vectors of the class models: one (the labels themselves) for ±1 data or the
/// squared loss, else one ±1 vector per class (one-vs-rest) with its class label.
pub fn label_sets(data: &Dataset, loss: LossKind) -> Result<Vec<(Option<f64>, DVector<f64>)>> {
    if !loss.needs_binary_labels() || data.check_binary_labels().is_ok() {
        return Ok(vec![(None, data.labels().clone())]);
    }
    let classes = data.classes();
    if classes.len() < 2 {
        return Err(lethe_models::ModelError::TooFewClasses {
            found: classes.len(),
        }
        .into());
    }
    Ok(classes
        .iter()
        .map(|&c| (Some(c), one_vs_rest_label_vector(data.labels(), c)))
        .collect())
}

/// Accuracy of decision values `z` (n × K) against `labels`: sign agreement with ±1 labels for
/// one column, arg-max class for one-vs-rest (`classes[k]` is column k's class).
pub fn decision_accuracy(z: &DMatrix<f64>, classes: &[Option<f64>], labels: &DVector<f64>) -> f64 {
    if z.ncols() == 1 {
        return lethe_models::model::sign_accuracy(&z.column(0).into_owned(), labels);
    }
    let hits = (0..z.nrows())
        .filter(|&i| classes[z.row(i).transpose().argmax().0] == Some(labels[i]))
        .count();
    hits as f64 / z.nrows() as f64
}

/// Checks a request against the remaining rows: non-empty, known, not duplicated, not
/// already removed, and leaving at least one row.
pub fn validate_request(active: &[bool], n_active: usize, indices: &[usize]) -> Result<()> {
    if indices.is_empty() {
        return Err(RemovalError::EmptyRequest);
    }
    let mut seen = std::collections::HashSet::with_capacity(indices.len());
    for &i in indices {
        if i >= active.len() {
            return Err(RemovalError::UnknownRow {
                index: i,
                n: active.len(),
            });
        }
        if !seen.insert(i) {
            return Err(RemovalError::DuplicateRow { index: i });
        }
        if !active[i] {
            return Err(RemovalError::AlreadyRemoved { index: i });
        }
    }
    if indices.len() >= n_active {
        return Err(RemovalError::WouldEmpty {
            requested: indices.len(),
            remaining: n_active,
        });
    }
    Ok(())
}

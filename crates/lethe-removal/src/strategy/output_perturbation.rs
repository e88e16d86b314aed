//! Output perturbation on a secret state: with Newton removal (Sekhari, Acharya, Kamath,
//! Suresh, *Remember What You Want to Forget: Algorithms for Machine Unlearning*, NeurIPS
//! 2021, Algorithms 1 and 2) or by gradient descent (Neel, Roth, Sharifi-Malvajerdi,
//! *Descent-to-Delete: Gradient-Based Methods for Machine Unlearning*, ALT 2021, the variant
//! with an unpublished secret state).
//!
//! **Mechanism.** Training minimises the *unperturbed* objective
//! L(w; D) = Σ_i ℓ(wᵀx_i, y_i) + (λn/2)‖w‖² (b = 0; DESIGN §1's sum scale) and keeps its
//! solution w₀ as the *anchor*, never published. After requests removing the rows U (all
//! rows removed since the anchor was trained), the *secret state* is one batch Newton step
//! from the anchor on the stored statistics (Sekhari's Algorithm 2; Guo et al.'s batch step of
//! DESIGN §1 with B = U):
//!
//! Δ = |U|λw₀ + Σ_{j∈U} ∇ℓ(w₀ᵀx_j, y_j),  H = Σ_{i∉U} ℓ″(w₀ᵀx_i, y_i) x_i x_iᵀ + λ(n − |U|)I,
//! w_s = w₀ + H⁻¹Δ.
//!
//! **Descent-to-Delete** ([`SecretUpdate::Descent`]) instead takes T gradient-descent steps on
//! the remaining rows from the *current* secret state, w ← w − η∇L(w; D∖R) with
//! η = 2/(L + μ), L = c_max·S² + λn′ (c_max = sup ℓ″, S the rigorous ‖X‖₂ bound of the
//! training rows) and μ = λn′, each step contracting the distance to w*(D∖R) by
//! ρ = (L − μ)/(L + μ) (Neel et al.'s Theorem 3.1 for strongly convex smooth losses, in
//! lethe's sum scale). Neel et al. calibrate the noise to the a-priori contraction bound; lethe
//! certifies each release with the same a-posteriori bound as below (which needs no bounded
//! parameter domain, so no projection is taken) and reports the contraction bound next to it.
//!
//! Every release (after training and after each request) is w_s + ν, ν drawn **fresh per
//! release** with the configured noise (`model.noise`, scale σ) from the stream
//! [`Stream::ReleaseNoise`] of (seed, class, release number).
//!
//! **Proof note (certificate).** Claim: for the rows R removed so far and the n′ rows that
//! remain, the release w_s + ν and the *ideal retrain release* w*(D∖R) + ν′ (w*(D∖R) the exact
//! minimiser of L(·; D∖R), ν′ a fresh draw of the same noise) are (ε, δ)-indistinguishable
//! (Guo et al.'s Definition 1 with the retrain A(D∖R) = w*(D∖R) + ν′).
//! 1. L(·; D∖R) is λn′-strongly convex (ℓ convex, the regulariser λn′/2‖w‖²), so for any w,
//!    ‖w − w*(D∖R)‖ ≤ ‖∇L(w; D∖R)‖ / (λn′).
//! 2. lethe evaluates ‖∇L(w_s; D∖R)‖ in floating point exactly as the solvers evaluate their
//!    residual and adds the proven allowance of [`crate::rounding::training_allowance`]
//!    (b = 0; it assumes ‖x_i‖ ≤ 1, which is checked, and ℓ′ within 16u), then divides by a
//!    lower bound on λn′ and rounds up: s_k ≥ ‖w_{s,k} − w*_k(D∖R)‖ in real arithmetic.
//!    One-vs-rest: s = Σ_k s_k ≥ the norm of the stacked difference (√Σ s_k² ≤ Σ s_k), and ν
//!    is i.i.d. over all K·d coordinates (Gaussian) or one Gamma-norm draw per class model,
//!    whose densities multiply.
//! 3. Gaussian ν ~ N(0, σ²I): the Gaussian mechanism with ℓ₂ sensitivity s is (ε, δ)-DP iff
//!    s ≤ σ·r*(ε, δ) (Balle & Wang 2018, Thm 8: the exact profile, `certificate.accounting =
//!    analytic`), or s ≤ σε/c(δ) where the classic calibration is valid (`paper`).
//!    Gamma-norm ν with density ∝ exp(−‖ν‖/σ): shifting the mean by s changes the log density
//!    by at most s/σ, so s ≤ σε gives pure ε. Both are [`NoiseKind::residual_budget`] — the
//!    same budget function as loss perturbation, since there the residual is the sensitivity
//!    of b and here s is the sensitivity of the output.
//! 4. When s exceeds the budget, the anchor is retrained on the remaining rows (b = 0), U is
//!    emptied and s is recomputed on the new state (budget policy `retrain`); with policy
//!    `never` the Newton state is released and marked uncertified. s and the decision depend
//!    only on the data and the requests, never on ν, so they leak nothing beyond the release.
//!
//! Assumptions, and how lethe checks them: rows with ‖x_i‖ ≤ 1 (checked; with
//! `allow_unnormalized` nothing is certified), σ > 0, requests that do not depend on the
//! releases (`adaptive_requests` makes the guarantee [`Guarantee::Adaptive`]); the guarantee
//! is per released model, as Guo's is: an observer of several releases sees several noisy
//! copies of related secret states, which this analysis does not cover. The noise is
//! sampled in floating point (Mironov 2012's caveat applies, as to every lethe mechanism).
//!
//! **A-priori bounds and deletion capacity.** Descent: the previous state was within its
//! certified bound s_prev of w*(D); removing m rows moves the minimiser by at most 2mC/(λn′)
//! per class model, so after T steps the state is within ρ^T·(s_prev + K·2mC/(λn′))
//! (`sensitivity_worst_case`, exact arithmetic). Newton: for an exact anchor (b = 0, ∇L(w₀; D) = 0),
//! Guo et al.'s Theorem 1 bounds the Newton step's gradient residual by 4γm²C²/(λ²(n − m))
//! (m = |U|), so by step 1 ‖w_s − w*(D∖U)‖ ≤ 4γm²C²/(λ³(n − m)²) — Sekhari et al.'s
//! Lemma 3 in lethe's scale. It is reported (`sensitivity_worst_case`) and gives the
//! *a-priori deletion capacity*: the largest m with K·4γm²C²/(λ³(n − m)²) ≤ budget
//! ([`OutputPerturbationStrategy::deletion_capacity`]). It is never the certificate: the
//! anchor is a solver output, not an exact minimiser.

use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::linalg::{Cholesky, add_up, round_up, weighted_gram};
use lethe_models::objective::Objective;
use lethe_models::{Accounting, Loss, LossKind, NoiseKind, Stream};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{Guarantee, RemovalOutcome, RemovalStrategy, decision_from_weights};
use crate::bounds::worst_case;
use crate::certified::{
    BudgetPolicy, CertifiedParams, check_row_norms, label_sets, validate_request,
};
use crate::error::{RemovalError, Result};
use crate::rounding::{derivative_l1, training_allowance};

/// The Newton step's CG stops at ‖H_U v − Δ_U‖ ≤ this × ‖Δ_U‖ …
const NEWTON_SOLVE_TOLERANCE: f64 = 1e-12;
/// … or after this many iterations (an inexact solve only loosens the certificate).
const NEWTON_SOLVE_MAX_ITERATIONS: usize = 500;

/// The certificate of one model released by an output-noise mechanism: the released secret
/// state is within `sensitivity_bound` of the exact retrain minimiser, and the release noise
/// turns that into (ε, δ) (see [`crate::OutputPerturbationStrategy`]'s proof note).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseCertificate {
    /// The request after which the model was released (0: the release after training).
    pub request: usize,
    /// Rows remaining.
    pub n_remaining: usize,
    /// Rows removed since the secret state's anchor was (re)trained (m of the batch step).
    pub removed_since_anchor: usize,
    /// Σ_k ‖∇L(w_s,k; D∖R)‖ as computed (b = 0, sum scale).
    pub gradient_norm: f64,
    /// Σ_k of the floating-point allowances added to the computed gradient norms.
    pub rounding_allowance: f64,
    /// s = Σ_k (‖∇L(w_s,k; D∖R)‖ + allowance)/(λn′), rounded up: a bound on
    /// ‖w_s − w*(D∖R)‖, the sensitivity the release noise is calibrated to.
    pub sensitivity_bound: f64,
    /// Σ_k 4γm²C²/(λ³(n − m)²): the a-priori bound for an exact anchor (Sekhari et al.'s
    /// Lemma 3; reported, never the certificate). 0 for the squared loss, +∞ without C.
    pub sensitivity_worst_case: f64,
    /// The largest sensitivity the noise covers at (ε, δ) ([`NoiseKind::residual_budget`]).
    pub budget: f64,
    /// How (ε, δ) is accounted (null for the Gamma-norm noise: pure ε).
    pub accounting: Option<Accounting>,
    /// The target ε.
    pub epsilon: f64,
    /// δ of the guarantee (0 for the Gamma-norm noise).
    pub delta: f64,
    /// The smallest ε the sensitivity bound certifies (null without a certificate).
    pub epsilon_spent: Option<f64>,
    /// Whether the anchor was retrained for this release.
    pub retrained: bool,
    /// Whether the release is certified: certifiable run (σ > 0, rows ‖x‖ ≤ 1, non-adaptive
    /// requests) and s ≤ budget.
    pub certified: bool,
    /// Seconds of the request (step, bound, retrain if any).
    pub seconds: f64,
    /// Seconds of the retrain (0 without one).
    pub retrain_seconds: f64,
}

/// One class model's anchor: the b = 0 minimiser on the rows active when it was trained, and
/// its margins X w₀ (every row).
#[derive(Clone, Debug)]
struct Anchor {
    weights: DVector<f64>,
    margins: DVector<f64>,
    /// The Cholesky factor of the Hessian at w₀ on the rows the anchor was trained on, made at
    /// the first Newton request after (re)training: the preconditioner of every later step.
    factor: Option<Arc<Cholesky>>,
}

/// How the secret state follows the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "update", rename_all = "snake_case")]
pub enum SecretUpdate {
    /// Sekhari et al.: one batch Newton step from the anchor on every row removed since it.
    Newton,
    /// Neel et al.'s Descent-to-Delete: `steps` gradient-descent steps on the remaining rows
    /// from the current secret state (module docs).
    Descent {
        /// Gradient steps per request (≥ 1).
        steps: usize,
    },
}

/// Output perturbation on a secret state: Sekhari et al.'s Newton removal or Neel et al.'s
/// Descent-to-Delete (see the module docs).
#[derive(Clone, Debug)]
pub struct OutputPerturbationStrategy {
    params: CertifiedParams,
    update: SecretUpdate,
    /// A rigorous upper bound on ‖X‖₂ of the training rows (Descent only; 0 otherwise).
    spectral_norm: f64,
    seed: u64,
    data: Arc<Dataset>,
    active: Vec<bool>,
    n_active: usize,
    classes: Vec<(Option<f64>, DVector<f64>)>,
    anchors: Vec<Anchor>,
    /// Rows removed since the anchors were trained (U).
    removed_since_anchor: Vec<usize>,
    secret: Vec<DVector<f64>>,
    released: Vec<DVector<f64>>,
    releases: u32,
    requests: usize,
    /// σ > 0, rows ‖x‖ ≤ 1 and non-adaptive requests.
    certifiable: bool,
    current: ReleaseCertificate,
}

impl OutputPerturbationStrategy {
    /// Trains the anchor w₀ (b = 0) on every row and releases w₀ + ν.
    ///
    /// `params`: the model (loss, λ, σ, noise, solver), ε, δ, accounting, budget policy,
    /// `adaptive_requests` and `allow_unnormalized`; the Newton-path options (bound kind,
    /// step solver, spectral norm) do not apply.
    ///
    /// # Errors
    /// Invalid parameters; rows with ‖x‖ > 1 without `allow_unnormalized`; labels the loss
    /// cannot use; a solver that fails.
    pub fn train(params: CertifiedParams, data: Arc<Dataset>, seed: u64) -> Result<Self> {
        Self::train_with_update(params, data, seed, SecretUpdate::Newton)
    }

    /// As [`OutputPerturbationStrategy::train`], with the secret state following the requests
    /// by `update` ([`SecretUpdate::Descent`]: Descent-to-Delete).
    ///
    /// # Errors
    /// As [`OutputPerturbationStrategy::train`]; `steps` = 0; an eigen-solver failure of the
    /// ‖X‖₂ bound.
    pub fn train_with_update(
        params: CertifiedParams,
        data: Arc<Dataset>,
        seed: u64,
        update: SecretUpdate,
    ) -> Result<Self> {
        params.check()?;
        if update == (SecretUpdate::Descent { steps: 0 }) {
            return Err(RemovalError::Data(
                lethe_data::DataError::InvalidParameter {
                    name: "steps",
                    value: "0".into(),
                    reason: "Descent-to-Delete needs at least one gradient step per request".into(),
                },
            ));
        }
        if data.is_empty() {
            return Err(RemovalError::Data(lethe_data::DataError::Empty {
                context: "training a removal strategy needs at least one row".into(),
            }));
        }
        let norms_ok = check_row_norms(&data, params.allow_unnormalized)?;
        let classes = label_sets(&data, params.model.loss)?;
        let n = data.n_samples();
        let start = Instant::now();
        let spectral_norm = match update {
            SecretUpdate::Newton => 0.0,
            SecretUpdate::Descent { .. } => {
                lethe_models::linalg::spectral_norm_upper_bound(data.features(), &vec![1.0; n])?
            }
        };
        let mut s = Self {
            certifiable: norms_ok && params.model.sigma > 0.0 && !params.adaptive_requests,
            params,
            update,
            spectral_norm,
            seed,
            active: vec![true; n],
            n_active: n,
            anchors: Vec::new(),
            removed_since_anchor: Vec::new(),
            secret: Vec::new(),
            released: Vec::new(),
            releases: 0,
            requests: 0,
            current: placeholder_certificate(),
            classes,
            data,
        };
        s.anchors = s.fit_anchors()?;
        s.secret = s.anchors.iter().map(|a| a.weights.clone()).collect();
        s.release()?;
        s.current = s.certificate(false, start, 0.0, 0.0);
        Ok(s)
    }

    /// The b = 0 minimiser of every class model on the active rows.
    fn fit_anchors(&self) -> Result<Vec<Anchor>> {
        let x = self.data.features();
        let d = self.data.n_features();
        self.classes
            .iter()
            .map(|(_, y)| {
                let m = self.params.model.fit_parts(
                    x,
                    y,
                    Some(&self.active),
                    DVector::zeros(d),
                    None,
                )?;
                Ok(Anchor {
                    margins: lethe_models::linalg::mat_vec(x, &m.weights),
                    weights: m.weights,
                    factor: None,
                })
            })
            .collect()
    }

    /// Draws the next release: w_s + ν with fresh ν per class model.
    fn release(&mut self) -> Result<()> {
        self.releases += 1;
        let d = self.data.n_features();
        self.released = self
            .secret
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let nu = self.params.model.draw_noise(
                    d,
                    self.seed,
                    Stream::ReleaseNoise {
                        class: k as u32,
                        release: self.releases,
                    },
                )?;
                Ok(w + nu)
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// The largest sensitivity the noise covers at (ε, δ).
    pub fn budget(&self) -> f64 {
        let p = &self.params;
        p.model
            .noise
            .residual_budget(p.model.sigma, p.epsilon, p.delta, p.accounting)
    }

    /// The certificate of the model released now.
    pub fn current_certificate(&self) -> &ReleaseCertificate {
        &self.current
    }

    /// The a-priori deletion capacity at this σ and (ε, δ) ([`output_perturbation_capacity`]
    /// for the training rows, class models and budget of this strategy).
    pub fn deletion_capacity(&self) -> Option<usize> {
        let p = &self.params.model;
        output_perturbation_capacity(
            p.loss,
            p.lambda,
            self.classes.len(),
            self.data.n_samples(),
            self.budget(),
        )
    }

    /// (Σ_k computed ‖∇L(w_s,k; D∖R)‖, Σ_k allowances, s) for the current secret state.
    fn sensitivity(&self) -> (f64, f64, f64) {
        let x = self.data.features();
        let p = &self.params.model;
        // A lower bound on λn′ (fl(λn′) is within half an ulp).
        let strong_convexity = (p.lambda * self.n_active as f64).next_down();
        let (mut gradient, mut allowance, mut bound) = (0.0, 0.0, 0.0);
        for ((_, y), w) in self.classes.iter().zip(&self.secret) {
            let objective = Objective::from_parts(x, y, Some(&self.active), p.loss, p.lambda, None)
                .expect("the strategy's own rows, labels and λ were checked at training");
            let margins = objective.margins(w);
            let r = objective.gradient_from_margins(w, &margins).norm();
            let a = training_allowance(
                x.nrows(),
                self.n_active,
                x.ncols(),
                p.loss,
                p.lambda,
                w.norm(),
                0.0,
                derivative_l1(p.loss, &margins, y, Some(&self.active)),
                r,
            );
            gradient = add_up(gradient, r);
            allowance = add_up(allowance, a);
            bound = add_up(bound, round_up(add_up(r, a) / strong_convexity, 2));
        }
        (gradient, allowance, bound)
    }

    /// The certificate of the current secret state (after its release).
    fn certificate(
        &self,
        retrained: bool,
        start: Instant,
        retrain_seconds: f64,
        worst_case: f64,
    ) -> ReleaseCertificate {
        let (gradient_norm, rounding_allowance, sensitivity_bound) = self.sensitivity();
        let p = &self.params;
        let budget = self.budget();
        let certified = self.certifiable && sensitivity_bound <= budget;
        let m = self.removed_since_anchor.len();
        ReleaseCertificate {
            request: self.requests,
            n_remaining: self.n_active,
            removed_since_anchor: m,
            gradient_norm,
            rounding_allowance,
            sensitivity_bound,
            sensitivity_worst_case: worst_case,
            budget,
            accounting: (p.model.noise == NoiseKind::Gaussian).then_some(p.accounting),
            epsilon: p.epsilon,
            delta: p.guarantee_delta(),
            epsilon_spent: self
                .certifiable
                .then(|| {
                    p.model.noise.epsilon_for_residual(
                        p.model.sigma,
                        sensitivity_bound,
                        p.delta,
                        p.accounting,
                    )
                })
                .flatten(),
            retrained,
            certified,
            seconds: start.elapsed().as_secs_f64(),
            retrain_seconds,
        }
    }

    /// The batch Newton step from class model k's anchor removing every row of U:
    /// v = H_U⁻¹Δ_U by conjugate gradients on the exact H_U (Hessian-vector products, two
    /// passes over X each), preconditioned by the Cholesky factor of the anchor's Hessian on
    /// all its rows (H_U is that matrix minus the |U| removed rows' terms, so CG needs about
    /// |U| + a few iterations). The solve need not be exact: the certificate is the a-posteriori
    /// gradient bound of the state reached. Returns the state and the CG iterations.
    fn newton_step(&mut self, k: usize) -> Result<(DVector<f64>, usize)> {
        let x = self.data.features();
        let loss = self.params.model.loss;
        let lambda = self.params.model.lambda;
        let y = &self.classes[k].1;
        let z0 = &self.anchors[k].margins;
        let curvature = |i: usize| loss.second_derivative(z0[i], y[i]);
        if self.anchors[k].factor.is_none() {
            // The anchor's rows: those active now and those removed since it was trained.
            let mut c: Vec<f64> = (0..x.nrows())
                .map(|i| if self.active[i] { curvature(i) } else { 0.0 })
                .collect();
            for &j in &self.removed_since_anchor {
                c[j] = curvature(j);
            }
            let n_anchor = self.n_active + self.removed_since_anchor.len();
            let h = weighted_gram(x, &c, lambda * n_anchor as f64)?;
            self.anchors[k].factor = Some(Arc::new(Cholesky::factor(&h)?));
        }
        let Anchor {
            weights: w0,
            margins: z0,
            factor,
        } = &self.anchors[k];
        let factor = factor.as_ref().expect("factored above");
        let mut delta = w0 * (self.removed_since_anchor.len() as f64 * lambda);
        for &j in &self.removed_since_anchor {
            delta.axpy(loss.derivative(z0[j], y[j]), &x.row(j).transpose(), 1.0);
        }
        let objective = Objective::from_parts(x, y, Some(&self.active), loss, lambda, None)?;
        let curvatures = objective.curvatures(z0);
        let solve = lethe_models::solver::preconditioned_cg(
            |v| objective.hessian_vector(&curvatures, v),
            |r| factor.solve(r),
            &delta,
            None,
            NEWTON_SOLVE_TOLERANCE * delta.norm(),
            NEWTON_SOLVE_MAX_ITERATIONS,
        );
        Ok((w0 + solve.solution, solve.iterations))
    }

    #[cfg(test)]
    fn secret_weights(&self) -> DMatrix<f64> {
        DMatrix::from_columns(&self.secret)
    }
}

/// Σ_k 4γm²C²/(λ³ n′²) over `classes` class models, rounded up: the a-priori bound on
/// ‖w_s − w*(D∖U)‖ after a batch Newton step removing m rows from an exact b = 0 anchor,
/// n′ = n − m rows remaining (the module docs' Sekhari et al. Lemma 3). 0 for γ = 0, +∞
/// without a gradient bound C.
pub fn output_perturbation_worst_case(
    loss: LossKind,
    lambda: f64,
    classes: usize,
    m: usize,
    n_remaining: usize,
) -> f64 {
    let per_class = worst_case(loss.gamma(), loss.gradient_bound(), lambda, m, n_remaining)
        / (lambda * n_remaining as f64);
    round_up(per_class * classes as f64, 4)
}

/// The a-priori deletion capacity of output perturbation with Newton removal: the largest
/// m ≤ n − 1 with [`output_perturbation_worst_case`]`(m, n − m)` ≤ `budget`, for an anchor trained on
/// all n rows — how many rows can be removed, in one batch or one at a time from the same
/// anchor, before the noise no longer covers the worst case (Sekhari et al. 2021, §4, in
/// lethe's scale). 0 when not even one row fits, `None` when C is unknown, n − 1 when γ = 0.
pub fn output_perturbation_capacity(
    loss: LossKind,
    lambda: f64,
    classes: usize,
    n: usize,
    budget: f64,
) -> Option<usize> {
    let fits = |m: usize| output_perturbation_worst_case(loss, lambda, classes, m, n - m) <= budget;
    if loss.gamma() > 0.0 && loss.gradient_bound().is_none() {
        return None;
    }
    if n < 2 || !fits(1) {
        return Some(0);
    }
    // The bound grows with m: binary search for the last m that fits.
    let (mut lo, mut hi) = (1, n - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) { lo = mid } else { hi = mid - 1 }
    }
    Some(lo)
}

/// The certificate slot before the first release is computed.
fn placeholder_certificate() -> ReleaseCertificate {
    ReleaseCertificate {
        request: 0,
        n_remaining: 0,
        removed_since_anchor: 0,
        gradient_norm: f64::NAN,
        rounding_allowance: f64::NAN,
        sensitivity_bound: f64::INFINITY,
        sensitivity_worst_case: f64::INFINITY,
        budget: 0.0,
        accounting: None,
        epsilon: f64::NAN,
        delta: f64::NAN,
        epsilon_spent: None,
        retrained: false,
        certified: false,
        seconds: 0.0,
        retrain_seconds: 0.0,
    }
}

impl RemovalStrategy for OutputPerturbationStrategy {
    fn name(&self) -> &str {
        match self.update {
            SecretUpdate::Newton => "output_perturbation",
            SecretUpdate::Descent { .. } => "descent_to_delete",
        }
    }

    fn guarantee(&self) -> Guarantee {
        if self.params.adaptive_requests {
            return Guarantee::Adaptive;
        }
        if !self.certifiable {
            // σ = 0 or rows with ‖x‖ > 1 accepted with `allow_unnormalized`.
            return Guarantee::None;
        }
        Guarantee::Certified {
            epsilon: self.params.epsilon,
            delta: self.params.guarantee_delta(),
        }
    }

    fn remove(&mut self, indices: &[usize]) -> Result<RemovalOutcome> {
        validate_request(&self.active, self.n_active, indices)?;
        let start = Instant::now();
        let saved = (
            self.active.clone(),
            self.n_active,
            self.removed_since_anchor.len(),
            self.anchors.clone(),
            self.secret.clone(),
        );
        for &i in indices {
            self.active[i] = false;
        }
        self.n_active -= indices.len();
        self.removed_since_anchor.extend_from_slice(indices);
        let previous_bound = self.current.sensitivity_bound;
        let result = self.step_or_retrain(indices.len(), previous_bound);
        let (retrained, retrain_seconds, worst_case) = match result {
            Ok(r) => r,
            Err(e) => {
                let (active, n_active, removed, anchors, secret) = saved;
                self.active = active;
                self.n_active = n_active;
                self.removed_since_anchor.truncate(removed);
                self.anchors = anchors;
                self.secret = secret;
                return Err(e);
            }
        };
        self.requests += 1;
        self.release()?;
        self.current = self.certificate(retrained, start, retrain_seconds, worst_case);
        Ok(RemovalOutcome {
            release: Some(self.current.clone()),
            ..RemovalOutcome::uncertified(self.requests, indices, start, retrained)
        })
    }

    fn active(&self) -> &[bool] {
        &self.active
    }

    fn decision_function(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        decision_from_weights(x, &self.released)
    }

    fn classes(&self) -> Vec<Option<f64>> {
        self.classes.iter().map(|(c, _)| *c).collect()
    }

    fn weights(&self) -> Option<DMatrix<f64>> {
        Some(DMatrix::from_columns(&self.released))
    }
}

impl OutputPerturbationStrategy {
    /// The update of the secret state, then a retrain of the anchors when its bound exceeds
    /// the budget (policy `retrain`). `m` rows were just removed; `previous_bound` is the
    /// sensitivity bound of the state before them. Returns (retrained, retrain seconds, the
    /// a-priori bound of the released state).
    fn step_or_retrain(&mut self, m: usize, previous_bound: f64) -> Result<(bool, f64, f64)> {
        let worst_case = match self.update {
            SecretUpdate::Newton => {
                let mut secret = Vec::with_capacity(self.classes.len());
                for k in 0..self.classes.len() {
                    secret.push(self.newton_step(k)?.0);
                }
                self.secret = secret;
                let p = &self.params.model;
                output_perturbation_worst_case(
                    p.loss,
                    p.lambda,
                    self.classes.len(),
                    self.removed_since_anchor.len(),
                    self.n_active,
                )
            }
            SecretUpdate::Descent { steps } => {
                self.secret = (0..self.classes.len())
                    .map(|k| self.descent(k, steps))
                    .collect();
                self.descent_worst_case(m, previous_bound, steps)
            }
        };
        let (_, _, bound) = self.sensitivity();
        if bound <= self.budget() || self.params.budget_policy == BudgetPolicy::Never {
            return Ok((false, 0.0, worst_case));
        }
        let t = Instant::now();
        self.anchors = self.fit_anchors()?;
        self.removed_since_anchor.clear();
        self.secret = self.anchors.iter().map(|a| a.weights.clone()).collect();
        Ok((true, t.elapsed().as_secs_f64(), 0.0))
    }

    /// The smoothness L = c_max·S² + λn′ and strong convexity μ = λn′ of L(·; D∖R) (S the
    /// ‖X‖₂ bound of the training rows, which removing rows never increases).
    fn smoothness(&self) -> (f64, f64) {
        let p = &self.params.model;
        let mu = p.lambda * self.n_active as f64;
        let curvature = crate::rounding::curvature_bound(p.loss);
        (curvature * self.spectral_norm * self.spectral_norm + mu, mu)
    }

    /// `steps` gradient-descent steps w ← w − η∇L(w; D∖R), η = 2/(L + μ), on class model k
    /// from its current secret state.
    fn descent(&self, k: usize, steps: usize) -> DVector<f64> {
        let x = self.data.features();
        let p = &self.params.model;
        let objective = Objective::from_parts(
            x,
            &self.classes[k].1,
            Some(&self.active),
            p.loss,
            p.lambda,
            None,
        )
        .expect("the strategy's own rows, labels and λ were checked at training");
        let (l, mu) = self.smoothness();
        let eta = 2.0 / (l + mu);
        let mut w = self.secret[k].clone();
        for _ in 0..steps {
            let g = objective.gradient(&w);
            w.axpy(-eta, &g, 1.0);
        }
        w
    }

    /// Neel et al.'s contraction bound after a request of m rows: the previous state was
    /// within `previous` of w*(D) (its certified bound), removing m rows moves the minimiser
    /// by at most 2mC/(λn′) per class model (‖Δ‖ ≤ mλ‖w*‖ + mC ≤ 2mC, ‖w*‖ ≤ C/λ, and strong
    /// convexity), and each step contracts the distance by ρ = (L − μ)/(L + μ), so the state is
    /// within ρ^T·(previous + K·2mC/(λn′)). Exact arithmetic (the steps' rounding is not
    /// charged): reported, never the certificate. +∞ without C.
    fn descent_worst_case(&self, m: usize, previous: f64, steps: usize) -> f64 {
        let p = &self.params.model;
        let Some(c) = p.loss.gradient_bound() else {
            return f64::INFINITY;
        };
        let (l, mu) = self.smoothness();
        let rho = (l - mu) / (l + mu);
        let shift =
            self.classes.len() as f64 * 2.0 * m as f64 * c / (p.lambda * self.n_active as f64);
        round_up(
            rho.powi(steps.min(i32::MAX as usize) as i32) * (previous + shift),
            8,
        )
    }

    /// How the secret state follows the requests.
    pub fn update(&self) -> SecretUpdate {
        self.update
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lethe_models::LinearModelParams;
    use proptest::prelude::*;

    fn problem() -> impl proptest::strategy::Strategy<Value = (Dataset, f64, u64)> {
        (10usize..60, 1usize..6, 1e-2f64..1.0, any::<u64>()).prop_flat_map(
            |(n, d, lambda, seed)| {
                (
                    proptest::collection::vec(proptest::collection::vec(-1.0f64..1.0, d), n),
                    proptest::collection::vec(any::<bool>(), n),
                )
                    .prop_map(move |(rows, labels)| {
                        let rows: Vec<Vec<f64>> = rows
                            .into_iter()
                            .map(|r| {
                                let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt().max(1.0);
                                r.into_iter().map(|x| x / norm).collect()
                            })
                            .collect();
                        let mut y: Vec<f64> =
                            labels.iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
                        y[0] = 1.0;
                        y[1] = -1.0;
                        (Dataset::from_rows(&rows, y).unwrap(), lambda, seed)
                    })
            },
        )
    }

    /// w*(D∖R) solved to ‖∇‖ ≤ 1e-13.
    fn exact_retrain(params: &LinearModelParams, data: &Dataset, active: &[bool]) -> DVector<f64> {
        let mut p = *params;
        p.solver.tolerance = 1e-13;
        p.fit_parts(
            data.features(),
            data.labels(),
            Some(active),
            DVector::zeros(data.n_features()),
            None,
        )
        .unwrap()
        .weights
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// The proof note's inequality: ‖w_s − w*(D∖R)‖ ≤ s after every request, for single
        /// and batch requests, Newton and descent updates, with and without budget retrains.
        #[test]
        fn the_secret_state_is_within_its_sensitivity_bound(
            (data, lambda, seed) in problem(),
            sigma in prop_oneof![Just(1e-3), Just(1.0)],
            batch in 1usize..4,
            update in prop_oneof![
                Just(SecretUpdate::Newton),
                (1usize..8).prop_map(|steps| SecretUpdate::Descent { steps }),
            ],
        ) {
            let mut params = CertifiedParams::new(LinearModelParams::logistic(lambda, sigma));
            params.model.solver.tolerance = 1e-10;
            let data = Arc::new(data);
            let mut s = OutputPerturbationStrategy::train_with_update(
                params, Arc::clone(&data), seed, update,
            ).unwrap();
            let n = data.n_samples();
            let mut next = 2;
            while next + batch < n.min(14) {
                let rows: Vec<usize> = (next..next + batch).collect();
                next += batch;
                let out = s.remove(&rows).unwrap();
                let cert = out.release.unwrap();
                let w = exact_retrain(&params.model, &data, s.active());
                let dist = (s.secret_weights().column(0) - &w).norm();
                // The reference's own tolerance 1e-13 moves it by ≤ 1e-13/(λn′).
                let slack = 1e-13 / (lambda * cert.n_remaining as f64);
                prop_assert!(dist <= cert.sensitivity_bound + slack,
                    "distance {dist} > bound {}", cert.sensitivity_bound);
                prop_assert_eq!(cert.certified, cert.sensitivity_bound <= cert.budget);
                // Descent's contraction bound (exact arithmetic) holds too.
                if matches!(update, SecretUpdate::Descent { .. }) && !cert.retrained {
                    prop_assert!(dist <= cert.sensitivity_worst_case * (1.0 + 1e-9) + slack,
                        "distance {dist} > contraction bound {}", cert.sensitivity_worst_case);
                }
                if cert.retrained {
                    prop_assert_eq!(cert.removed_since_anchor, 0);
                }
            }
        }
    }

    #[test]
    fn the_a_priori_capacity_is_the_last_m_within_the_budget() {
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let a = i as f64 * 0.37;
                vec![a.cos() * 0.8, a.sin() * 0.5]
            })
            .collect();
        let y: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let data = Arc::new(Dataset::from_rows(&rows, y).unwrap());
        let params = CertifiedParams::new(LinearModelParams::logistic(0.5, 1.0));
        let s = OutputPerturbationStrategy::train(params, data, 0).unwrap();
        let m = s.deletion_capacity().unwrap();
        let budget = s.budget();
        let wc = |m: usize| output_perturbation_worst_case(LossKind::Logistic, 0.5, 1, m, 200 - m);
        assert!(m > 1 && m < 199);
        assert!(wc(m) <= budget);
        assert!(wc(m + 1) > budget);
    }
}

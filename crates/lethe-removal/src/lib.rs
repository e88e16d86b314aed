//! # lethe-removal
//!
//! Certified data removal from L2-regularised linear and logistic models, after Guo, Goldstein,
//! Hannun and van der Maaten, *Certified Data Removal from Machine Learning Models*, ICML 2020.
//!
//! ## The guarantee
//! A model trained on the perturbed objective L_b(w; D) = Σ ℓ(wᵀx_i, y_i) + (λn/2)‖w‖² + bᵀw
//! with b ~ N(0, σ²I) and then updated by Newton removal steps is (ε, δ)-*certified*: for every
//! removal sequence, the distribution of the released model is (ε, δ)-indistinguishable from that
//! of retraining from scratch on the remaining data — as long as the accumulated gradient
//! residual β stays within the budget (Theorem 3): by default the largest β whose Gaussian
//! mechanism is (ε, δ)-private under the exact privacy profile (Balle & Wang 2018, Thm 8;
//! ≈ 0.314σ at ε = 1, δ = 1e-4), or, with [`lethe_models::Accounting::Paper`], the paper's σε/c,
//! c = √(2 ln(1.5/δ)) (≈ 0.228σ; refused where it is not valid, above ε ≈ 8.38 at δ = 1e-4).
//! See `lethe_models::accounting`. [`CertifiedModel`] tracks β exactly
//! as Algorithm 2: it starts at the training residual r₀, grows by the certificate bound of
//! every step, and a request that would exceed the budget triggers retraining from scratch with
//! a fresh b.
//!
//! ## Assumptions (checked where they can be)
//! - every training row has ‖x_i‖₂ ≤ 1 (checked; opting out with `allow_unnormalized` means no
//!   certificate is issued);
//! - the loss is convex with γ-Lipschitz ℓ″ (logistic: γ = 1/4, or the tight 1/(6√3); squared:
//!   γ = 0, the step is exact);
//! - the training solver converged: r₀ = ‖∇L_b(w*; D)‖ is recorded and charged to β;
//! - **the removal requests do not depend on the released models** (non-adaptive sequences):
//!   the theorem is stated for a fixed sequence. An adversary who picks requests after looking
//!   at released models is not covered: such runs are labelled `adaptive` and not certified;
//! - **b is secret**: a b given explicitly (a replay) certifies nothing.
//!
//! ## Formulas (paper equation numbers)
//! - Newton step, eq. (3): w⁻ = w + H⁻¹Δ, Δ = mλw + Σ_{j∈B} ∇ℓ(wᵀx_j, y_j),
//!   H = ∇²L(w; D′) including λ(n − m)I (the paper's Algorithm 2 misprints it without).
//! - Data-dependent bound, Corollary 1 (single) / Corollary 2 (batch): γ‖X‖₂‖v‖‖Xv‖.
//! - Worst-case bound, Theorem 1 (and its batch form): 4γm²C²/(λ²(n − m)); valid for b = 0 only,
//!   reported but never used as a certificate.
//! - Budget, Theorem 3 / Algorithm 2: β ≤ σ·r*(ε, δ) (exact profile) or σε/c (the paper's).
//!
//! The proof note with the constants is in [`bounds`].
//!
//! ## A second certified mechanism
//! [`OutputPerturbationStrategy`] is Sekhari et al.'s output perturbation (NeurIPS 2021): no
//! loss noise, a secret state moved by one batch Newton step from its anchor, and every
//! release plus fresh noise calibrated to a strong-convexity bound on the distance to the
//! exact retrain minimiser (its proof note is in the module). Its per-release certificate is
//! a [`ReleaseCertificate`] in [`RemovalOutcome::release`]; the reference it is certified
//! against is the exact minimiser plus noise, not Algorithm 1's loss-perturbed retrain.
//!
//! ```
//! use std::sync::Arc;
//! use lethe_data::{bundled, three_vs_eight};
//! use lethe_models::LinearModelParams;
//! use lethe_removal::{CertifiedModel, CertifiedParams};
//!
//! let digits = bundled::digits().unwrap();
//! let data = three_vs_eight(&digits, None).unwrap(); // 3 → +1, 8 → −1, unit-norm rows
//! let params = CertifiedParams::new(LinearModelParams::logistic(1e-2, 10.0));
//! let mut model = CertifiedModel::train(params, Arc::new(data), 0).unwrap();
//! let cert = model.remove(&[5]).unwrap();
//! assert!(cert.step_residual_norm.unwrap() <= cert.certificate_bound + model.train_summary().residual_norm);
//! assert!(cert.beta <= cert.budget);
//! ```

pub mod bounds;
mod certified;
pub mod compare;
mod error;
pub mod ledger;
mod noise_key;
pub mod orders;
pub mod rounding;
pub mod stats;
pub mod step;
pub mod strategy;

pub use bounds::BoundKind;
pub use certified::{
    BudgetPolicy, Certificate, CertifiedModel, CertifiedParams, ClassModel, NoiseSecrecy,
    SpectralNormMode, TrainSummary, decision_accuracy, label_sets, validate_request,
};
pub use compare::{Comparison, compare_strategies, sape};
pub use error::{RemovalError, Result};
pub use ledger::{Ledger, VerifyOptions, verify, verify_with};
pub use noise_key::NoiseKey;
pub use orders::{
    DeletionOrder, InformedBy, ModelView, OrderSpec, ScoringModel, batches, deletion_sequence,
};
pub use step::{FastPathOptions, StepReport, StepSolver};
pub use strategy::{
    Guarantee, RemovalOutcome, RemovalStrategy, RetrainNoise, RetrainStrategy, weight_distance,
};
pub use strategy::{
    InfluenceStrategy, OutputPerturbationStrategy, ProjectiveStrategy, ReleaseCertificate,
    SecretUpdate, SisaAggregation, SisaConfig, SisaStrategy, StrategySpec, build_strategy,
    output_perturbation_capacity, output_perturbation_worst_case,
};

//! # lethe-models
//!
//! L2-regularised linear and logistic models trained on the randomly perturbed loss of
//! Guo, Goldstein, Hannun and van der Maaten, *Certified Data Removal from Machine Learning
//! Models* (ICML 2020):
//!
//! L_b(w; D) = Σ_i ℓ(wᵀx_i, y_i) + (λn/2)‖w‖² + bᵀw      (sum form, see [`objective`])
//!
//! - [`loss`]: the logistic and squared losses with ℓ′, ℓ″, γ (Lipschitz constant of ℓ″) and C;
//! - [`objective`]: value, gradient, dense Hessian and Hessian-vector products, on all rows or a
//!   masked subset (so removal never copies the data);
//! - [`accounting`]: (ε, δ) of the Gaussian noise: the exact privacy profile (Balle & Wang
//!   2018) and the paper's calibration, with where each is valid;
//! - [`noise`]: Gaussian and Gamma-norm perturbations from named, seeded ChaCha20 streams;
//!   [`noise::Purpose`], the one list of stream purposes of every lethe crate, and lethe's seed
//!   derivers ([`noise::derived_seed`], [`noise::splitmix64`]);
//! - [`solver`]: damped Newton (Cholesky), Newton with a reused Cholesky preconditioner, L-BFGS;
//!   all stop on ‖∇L_b‖ ≤ tolerance and report r₀; non-convergence is an error;
//! - [`model`]: binary and one-vs-rest models;
//! - [`linalg`]: the faer-backed kernels (weighted Gram, Cholesky, rigorous ‖X‖₂ bound);
//! - [`alloc`]: fallible allocation of the large dense buffers (an error, not an abort).
//!
//! ```
//! use lethe_data::Dataset;
//! use lethe_models::{LinearModelParams, LossKind};
//!
//! let rows: [[f64; 2]; 6] = [[1.0, 2.0], [2.0, -1.0], [-1.0, -1.5], [0.5, 0.5], [-2.0, 1.0], [1.5, -0.5]];
//! let rows: Vec<Vec<f64>> = rows
//!     .iter()
//!     .map(|r| {
//!         let n = (r[0] * r[0] + r[1] * r[1]).sqrt();
//!         vec![r[0] / n, r[1] / n]
//!     })
//!     .collect();
//! let data = Dataset::from_rows(&rows, vec![1.0, 1.0, -1.0, 1.0, -1.0, -1.0]).unwrap();
//! let params = LinearModelParams::logistic(0.1, 0.0);
//! let model = params.fit_with_noise(&data, nalgebra::DVector::from_vec(vec![0.3, -0.2])).unwrap();
//! assert!((model.weights[0] - 0.649819846191317).abs() < 1e-12);
//! assert!(model.report.residual_norm <= 1e-8);
//! ```

pub mod accounting;
pub mod alloc;
pub mod error;
pub mod linalg;
pub mod loss;
pub mod model;
pub mod noise;
pub mod objective;
pub mod solver;

pub use accounting::Accounting;
pub use error::{ModelError, Result};
pub use loss::{Loss, LossKind};
pub use model::{LinearModel, LinearModelParams, OneVsRestModel};
pub use noise::{
    NoiseKind, Purpose, Stream, derived_seed, gaussian_c, keyed_stream_rng, splitmix64, stream_rng,
};
pub use objective::Objective;
pub use solver::{SolverKind, SolverOptions, SolverReport, set_progress};

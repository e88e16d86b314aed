//! # lethe-mia
//!
//! Membership inference for lethe's linear and logistic models: attacks, their metrics, and
//! the pieces of an unlearning audit (§3 of the design). **Member = positive class,
//! everywhere**; every attack returns one score per example, higher meaning "more likely a
//! member" (for unlearning attacks: "more likely in the forget set").
//!
//! | module | what |
//! |---|---|
//! | [`scores`] | per-example loss, confidence, logit confidence, entropy, modified entropy |
//! | [`attacks`] | LOSS/threshold (Yeom), shadow models (Shokri), LiRA online/offline (Carlini), RMIA (Zarifzadeh), the difference attack (Chen) and U-LiRA (Hayes) |
//! | [`reference`](mod@reference) | reference models trained like the target, in parallel, from seeds |
//! | [`EnsembleModel`] | an ensemble target (SISA's shards): what the attacks see of it is documented in [`TargetModel`]'s module, re-exported here |
//! | [`game`] | the certified-removal game: an (ε, δ) lower bound from many unlearned and retrained draws, the comparison the theorem makes |
//! | [`metrics`] | exact ROC, AUC, TPR at low FPR, advantage, bootstrap intervals, empirical ε lower bounds |
//!
//! Every random choice comes from named ChaCha20 streams of one seed (purposes 1–12 of
//! [`lethe_models::noise::Purpose`], the one list of stream purposes of every lethe crate:
//! stream `(purpose << 48) + index`), so results do not depend on the number of threads.
//! Errors are typed ([`MiaError`]); bad input (empty sets, mismatched lengths, NaN scores, bad
//! parameters) is an error, never a panic.
//!
//! # Example: the LOSS attack on an overfit model
//! ```
//! use lethe_data::{bundled, preprocess};
//! use lethe_mia::{attacks::LossAttack, metrics::EvaluationOptions};
//! use lethe_models::LinearModelParams;
//!
//! let digits = bundled::digits()?;
//! let ds = preprocess::three_vs_eight(&digits, None)?; // 3 → +1, 8 → −1, unit-norm rows
//! let members = ds.select(&(0..60).collect::<Vec<_>>())?;
//! let model = LinearModelParams::logistic(1e-4, 0.0).fit_seeded(&members, 0)?;
//!
//! let candidates = ds.select(&(0..120).collect::<Vec<_>>())?; // 60 members, 60 held out
//! let is_member: Vec<bool> = (0..120).map(|i| i < 60).collect();
//! let out = LossAttack.run(&model, &candidates)?;
//! let metrics = out.evaluate(&is_member, &EvaluationOptions::default())?;
//! assert!(metrics.auc > 0.5);
//! println!("{}", serde_json::to_string(&metrics).unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod attacks;
mod error;
pub mod game;
pub mod metrics;
pub mod reference;
pub mod scores;
mod target;

pub use attacks::{AttackDescriptor, AttackOutput};
pub use error::{MiaError, Result};
pub use target::{Aggregation, EnsembleDescriptor, EnsembleModel, TargetModel};

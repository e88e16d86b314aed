//! `lethe verify`: replaying the certificate ledgers that `removal.ledger: true` writes.
//!
//! A ledger written by `lethe run` carries, in its header's `context`, the resolved config of
//! its point and the directory of the config file. [`verify_ledger`] rebuilds the training data
//! through the same pipeline as `run` ([`crate::data::prepare`]; non-bundled data under
//! `--data-dir` or `$LETHE_DATA`, relative csv/libsvm paths then against the recorded config
//! directory), takes the certified-removal parameters and the seed from the config (so an
//! edited header parameter is named as such), and replays the ledger with
//! [`lethe_removal::ledger::verify_with`]: every field of every line is recomputed and compared
//! bit for bit, except wall-clock timings, which the hash chain covers. Replay needs the same
//! lethe version; the thread count is taken from the ledger.
//!
//! A ledger of a `model.noise_key` run holds no b, only a commitment to it: it replays only
//! with the key file (`--noise-key FILE`).

use std::path::{Path, PathBuf};

use lethe_removal::ledger::{self, Verification};
use lethe_removal::{NoiseKey, NoiseSecrecy, VerifyOptions, verify_with};
use serde_json::Value;

use crate::config::ExperimentConfig;
use crate::data::{self, DataContext};
use crate::error::{ExperimentError, Result};
use crate::runner::certified_params;

/// Replays one ledger written by `lethe run` (see the module docs).
///
/// # Errors
/// [`ExperimentError::Ledger`] when the ledger differs from its replay (exit code 1), is cut
/// short (1), is not a ledger or cannot be read (4), or needs a key that was not given (2);
/// [`ExperimentError::DataNotFound`] when its training data is missing (3).
pub fn verify_ledger(
    path: &Path,
    data_dir: Option<PathBuf>,
    noise_key: Option<&Path>,
) -> Result<Verification> {
    let wrap = |source: lethe_removal::RemovalError| ExperimentError::Ledger {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    let header = ledger::read_header(path).map_err(wrap)?;
    let not_ours = |what: &str| ExperimentError::Result {
        path: path.to_path_buf(),
        what: format!(
            "{what}: not a ledger written by `lethe run` (replay it with \
             lethe_removal::ledger::verify and its training data)"
        ),
    };
    let context = header
        .context
        .as_ref()
        .ok_or_else(|| not_ours("the header has no run context"))?;
    let config = context
        .get("config")
        .ok_or_else(|| not_ours("the header's context has no config"))?;
    let cfg = ExperimentConfig::from_value(config)
        .map_err(|e| not_ours(&format!("the config in its header does not parse ({e})")))?;
    let config_dir = context
        .get("config_dir")
        .and_then(Value::as_str)
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let key = match (header.noise_secrecy, noise_key) {
        (NoiseSecrecy::KeyFile, None) => {
            return Err(ExperimentError::Usage(format!(
                "{}: this ledger was written with a secret noise key (model.noise_key \
                 \"{}\"): b is not in the ledger, only its commitment; pass --noise-key FILE",
                path.display(),
                cfg.model.noise_key.as_deref().unwrap_or("?")
            )));
        }
        (_, Some(k)) => Some(NoiseKey::load(k).map_err(wrap)?),
        (_, None) => None,
    };
    let ctx = DataContext::new(data_dir, config_dir);
    let prepared = data::prepare(&cfg, &ctx)?;
    verify_with(
        path,
        prepared.train,
        &VerifyOptions {
            noise_key: key,
            params: Some(certified_params(&cfg)),
            seed: Some(cfg.seed),
        },
    )
    .map_err(wrap)
}

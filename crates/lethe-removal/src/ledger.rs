//! An append-only JSON-lines ledger of certificates.
//!
//! Line 1 is a header with everything needed to replay the run: the lethe version, the seed, the
//! SHA-256 fingerprint of the training data, the certified-removal parameters, the initial
//! perturbations b_k and a hash of the initial weights. Every further line is one
//! [`Certificate`], appended and flushed as soon as its request is served. [`verify`] retrains
//! from the header, replays every request and checks that each released model is reproduced
//! bit for bit (weights hash, β and the certificate bound), so a third party can audit a
//! removal history without trusting the process that wrote it.
//!
//! Bit-for-bit replay needs the same lethe version and the same number of threads (parallel
//! reductions sum in a thread-dependent order).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lethe_data::Dataset;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use crate::certified::{Certificate, CertifiedModel, CertifiedParams};
use crate::error::{RemovalError, Result};

/// Schema tag of the ledger format.
pub const LEDGER_SCHEMA: &str = "lethe.ledger/1";

/// The first line of a ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerHeader {
    /// [`LEDGER_SCHEMA`].
    pub schema: String,
    /// Version of lethe-removal that wrote it.
    pub lethe_version: String,
    /// The seed of every random stream.
    pub seed: u64,
    /// [`Dataset::fingerprint`] of the training data.
    pub data_fingerprint: String,
    /// Rows of the training data.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// The certified-removal parameters.
    pub params: CertifiedParams,
    /// Whether the initial noise was given explicitly (else it is re-drawn from the seed).
    pub explicit_noise: bool,
    /// The initial perturbations b_k, one list per class model.
    pub noise: Vec<Vec<f64>>,
    /// SHA-256 of the initial weights.
    pub initial_weights_sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header(Box<LedgerHeader>),
    Certificate(Box<Certificate>),
}

/// An open ledger file, appended to one certificate at a time.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
}

fn ledger_err(path: &Path, what: impl Into<String>) -> RemovalError {
    RemovalError::Ledger {
        path: path.display().to_string(),
        what: what.into(),
    }
}

impl Ledger {
    /// Creates a new ledger for a freshly trained `model` (the file must not exist: a ledger is
    /// never overwritten) and writes its header.
    pub fn create(path: impl AsRef<Path>, model: &CertifiedModel) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if model.requests() > 0 {
            return Err(ledger_err(
                &path,
                "a ledger must start from a freshly trained model (no requests served yet)",
            ));
        }
        let header = LedgerHeader {
            schema: LEDGER_SCHEMA.into(),
            lethe_version: env!("CARGO_PKG_VERSION").into(),
            seed: model.seed(),
            data_fingerprint: model.data().fingerprint(),
            n: model.data().n_samples(),
            d: model.data().n_features(),
            params: *model.params(),
            explicit_noise: model.explicit_noise(),
            noise: model
                .class_models()
                .iter()
                .map(|c| c.noise.iter().copied().collect())
                .collect(),
            initial_weights_sha256: model.weights_sha256(),
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ledger_err(&path, format!("cannot create: {e}")))?;
        let mut ledger = Self { path, file };
        ledger.write_line(&Line::Header(Box::new(header)))?;
        Ok(ledger)
    }

    /// Appends one certificate and flushes it to the OS.
    pub fn append(&mut self, certificate: &Certificate) -> Result<()> {
        self.write_line(&Line::Certificate(Box::new(certificate.clone())))
    }

    /// The ledger's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, line: &Line) -> Result<()> {
        let mut text = serde_json::to_string(line)
            .map_err(|e| ledger_err(&self.path, format!("cannot serialise: {e}")))?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| ledger_err(&self.path, format!("cannot write: {e}")))
    }
}

/// Reads a ledger: its header and certificates, in order.
pub fn read(path: impl AsRef<Path>) -> Result<(LedgerHeader, Vec<Certificate>)> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| ledger_err(path, format!("cannot open: {e}")))?;
    let mut header = None;
    let mut certificates = Vec::new();
    for (k, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| ledger_err(path, format!("line {}: {e}", k + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| ledger_err(path, format!("line {}: {e}", k + 1)))?;
        match (parsed, k) {
            (Line::Header(h), 0) => header = Some(*h),
            (Line::Header(_), _) => {
                return Err(ledger_err(path, format!("line {}: a second header", k + 1)));
            }
            (Line::Certificate(_), 0) => {
                return Err(ledger_err(path, "line 1 must be the header"));
            }
            (Line::Certificate(c), _) => certificates.push(*c),
        }
    }
    let header = header.ok_or_else(|| ledger_err(path, "empty ledger"))?;
    if header.schema != LEDGER_SCHEMA {
        return Err(ledger_err(
            path,
            format!("schema {} is not {LEDGER_SCHEMA}", header.schema),
        ));
    }
    Ok((header, certificates))
}

/// What [`verify`] checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Requests replayed.
    pub requests: usize,
    /// Retrains replayed.
    pub retrains: usize,
    /// SHA-256 of the final weights (equal to the ledger's last record).
    pub final_weights_sha256: String,
}

/// Replays a ledger on `data` and checks that every released model is reproduced bit for bit.
pub fn verify(path: impl AsRef<Path>, data: Arc<Dataset>) -> Result<Verification> {
    let path = path.as_ref();
    let (header, certificates) = read(path)?;
    if data.fingerprint() != header.data_fingerprint {
        return Err(ledger_err(
            path,
            "the data's fingerprint differs from the ledger's: not the same training data",
        ));
    }
    let mut model = if header.explicit_noise {
        let noise = header
            .noise
            .iter()
            .map(|b| DVector::from_vec(b.clone()))
            .collect();
        CertifiedModel::train_with_noise(header.params, data, header.seed, noise)?
    } else {
        CertifiedModel::train(header.params, data, header.seed)?
    };
    if model.weights_sha256() != header.initial_weights_sha256 {
        return Err(ledger_err(
            path,
            "retraining did not reproduce the initial weights",
        ));
    }
    let mut retrains = 0;
    for (k, expected) in certificates.iter().enumerate() {
        let got = model
            .remove(&expected.indices)
            .map_err(|e| ledger_err(path, format!("request {}: {e}", k + 1)))?;
        let same = got.weights_sha256 == expected.weights_sha256
            && got.beta.to_bits() == expected.beta.to_bits()
            && got.certificate_bound.to_bits() == expected.certificate_bound.to_bits()
            && got.retrained == expected.retrained
            && got.request == expected.request;
        if !same {
            return Err(ledger_err(
                path,
                format!(
                    "request {} did not replay: weights {} vs {}, β {} vs {}, bound {} vs {}, retrained {} vs {}",
                    k + 1,
                    got.weights_sha256,
                    expected.weights_sha256,
                    got.beta,
                    expected.beta,
                    got.certificate_bound,
                    expected.certificate_bound,
                    got.retrained,
                    expected.retrained
                ),
            ));
        }
        retrains += usize::from(got.retrained);
    }
    Ok(Verification {
        requests: certificates.len(),
        retrains,
        final_weights_sha256: model.weights_sha256(),
    })
}

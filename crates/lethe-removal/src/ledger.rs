//! A tamper-evident, append-only JSON-lines ledger of certificates (`lethe.ledger/2`).
//!
//! # Format
//! One JSON object per line, each terminated by `\n`, each with a `kind`:
//! 1. `header` ([`LedgerHeader`]): everything needed to replay the run — the lethe version, the
//!    seed, the rayon thread count, the SHA-256 fingerprint of the training data, the
//!    certified-removal parameters, where b came from ([`NoiseSecrecy`]), the initial b itself
//!    unless it is secret, a SHA-256 commitment to it ([`noise_commitment`]), the initial
//!    weights' hash, β, ‖X‖₂'s bound, the budget, and an optional opaque `context` (the `lethe`
//!    CLI stores the run's resolved experiment config there, so `lethe verify` can rebuild the
//!    training data);
//! 2. one `certificate` line per request ([`Certificate`], appended and flushed as soon as
//!    the request is served);
//! 3. a closing `close` line ([`LedgerClose`]): the number of requests and the final weights'
//!    hash, written by [`Ledger::close`]. A ledger without it was cut short (or its writer
//!    never finished) and does not verify.
//!
//! Every line carries `prev_sha256`: the SHA-256 (lower-case hex) of the exact bytes of the line
//! before it, without its `\n`; the header's is [`GENESIS_SHA256`] (64 zeros). Removing,
//! inserting, reordering or editing a line therefore breaks the chain at the next line.
//!
//! # Verification
//! [`verify`] retrains from the header on the given data, replays every request and compares
//! **every field of every line** with what the replay produces, bit for bit (floats by their
//! bit patterns), and checks the hash chain and the closing record. It fails with the 1-based
//! line number and the dotted field path of the first difference
//! ([`RemovalError::LedgerMismatch`]). The one exception is wall-clock timings — fields named
//! `seconds` or ending in `_seconds` (`seconds`, `step_seconds`, `retrain_seconds`, and any
//! timing inside the per-class step reports) — which no replay can reproduce; they are still
//! covered by the hash chain.
//!
//! The chain is not a signature: whoever can write the file can rewrite it consistently. It
//! makes every edit that leaves the replayable fields alone (timings, or a line left out) show,
//! and the replay catches every edit of a replayable field however the chain was rewritten. To
//! pin a ledger against wholesale rewriting, publish the hash of its last line
//! ([`Verification::head_sha256`], [`ClosedLedger::head_sha256`]).
//!
//! # Secrecy of b
//! The certificates mean something only while b is secret. A model trained from a seed
//! ([`CertifiedModel::train`]) has a b that is derivable from the seed — and the header of its
//! ledger writes b out in full. Such a ledger proves what the run computed, not that its
//! removals are private. With a key-file model ([`CertifiedModel::train_with_key`]) the header
//! holds only [`noise_commitment`], and replaying needs the key ([`VerifyOptions::noise_key`]).
//! A model with an explicit b is a replay and certifies nothing at all
//! ([`crate::Guarantee::Replay`]).
//!
//! # Reproducibility
//! Bit-for-bit replay needs the same lethe version (checked: `lethe_version` is a header field).
//! It does not need the writer's thread count: every reduction of lethe-models sums in an order
//! fixed independently of the threads, so [`verify`] replays on the caller's pool; the header's
//! `threads` is provenance.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lethe_data::Dataset;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::certified::{Certificate, CertifiedModel, CertifiedParams, NoiseSecrecy};
use crate::error::{RemovalError, Result};
use crate::noise_key::NoiseKey;

/// Schema tag of the ledger format.
pub const LEDGER_SCHEMA: &str = "lethe.ledger/2";

/// The `prev_sha256` of the header line: 64 zeros (there is no line before it).
pub const GENESIS_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The largest thread count a ledger may ask [`verify`] to replay with.
const MAX_THREADS: usize = 1024;

/// The first line of a ledger (`"kind": "header"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerHeader {
    /// [`LEDGER_SCHEMA`].
    pub schema: String,
    /// Version of lethe-removal that wrote it (replay needs the same version).
    pub lethe_version: String,
    /// The seed of the random streams (of the noise too, unless `noise_secrecy` is `key_file`).
    pub seed: u64,
    /// Rayon threads of the writing process (provenance only: results do not depend on the
    /// thread count, so [`verify`] replays on any pool).
    pub threads: usize,
    /// [`Dataset::fingerprint`] of the training data.
    pub data_fingerprint: String,
    /// Rows of the training data.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// The certified-removal parameters.
    pub params: CertifiedParams,
    /// Where b came from, hence who can know it.
    pub noise_secrecy: NoiseSecrecy,
    /// The initial perturbations b_k, one list per class model; absent when b is secret
    /// (`key_file`). For `derivable_from_seed` they are re-derived from the seed and compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Vec<Vec<f64>>>,
    /// [`noise_commitment`] of the initial b.
    pub noise_commitment: String,
    /// SHA-256 of the initial weights.
    pub initial_weights_sha256: String,
    /// β after training: Σ_k r₀_k.
    pub initial_beta: f64,
    /// The upper bound on ‖X‖₂ the bounds use.
    pub spectral_norm: f64,
    /// The budget σε/c (or σε).
    pub budget: f64,
    /// Whether the freshly trained model is certified.
    pub certified: bool,
    /// Opaque context the writer attached (the `lethe` CLI: the resolved experiment config
    /// and the config's directory), copied unchanged by the replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl LedgerHeader {
    /// The header of a freshly trained `model`, with `context` attached.
    pub fn of(model: &CertifiedModel, context: Option<Value>) -> Self {
        let secrecy = model.noise_secrecy();
        Self {
            schema: LEDGER_SCHEMA.into(),
            lethe_version: env!("CARGO_PKG_VERSION").into(),
            seed: model.seed(),
            threads: rayon::current_num_threads(),
            data_fingerprint: model.data().fingerprint(),
            n: model.data().n_samples(),
            d: model.data().n_features(),
            params: *model.params(),
            noise_secrecy: secrecy,
            noise: (secrecy != NoiseSecrecy::KeyFile).then(|| {
                model
                    .class_models()
                    .iter()
                    .map(|c| c.noise.iter().copied().collect())
                    .collect()
            }),
            noise_commitment: noise_commitment(model),
            initial_weights_sha256: model.weights_sha256(),
            initial_beta: model.beta(),
            spectral_norm: model.spectral_norm(),
            budget: model.budget(),
            certified: model.is_certified(),
            context,
        }
    }
}

/// The closing line of a ledger (`"kind": "close"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerClose {
    /// Requests served (certificate lines).
    pub requests: usize,
    /// SHA-256 of the final weights.
    pub final_weights_sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header(Box<LedgerHeader>),
    Certificate(Box<Certificate>),
    Close(LedgerClose),
}

/// SHA-256 commitment to a model's current perturbations b_k: the hash of the domain tag
/// `lethe.noise/1`, then, for each class model, the length of b_k and the IEEE-754 bit patterns
/// of its components (each as a little-endian u64). It commits to b itself, not to the key it
/// was drawn from. A ledger header holds the commitment of the initial b.
pub fn noise_commitment(model: &CertifiedModel) -> String {
    let mut h = Sha256::new();
    h.update(b"lethe.noise/1");
    for c in model.class_models() {
        h.update((c.noise.len() as u64).to_le_bytes());
        for x in c.noise.iter() {
            h.update(x.to_bits().to_le_bytes());
        }
    }
    lethe_data::digest::hex(&h.finalize())
}

/// SHA-256 (hex) of a line's bytes, as the next line's `prev_sha256`.
pub fn line_sha256(line: &[u8]) -> String {
    lethe_data::digest::hex(&Sha256::digest(line))
}

fn ledger_err(path: &Path, what: impl Into<String>) -> RemovalError {
    RemovalError::Ledger {
        path: path.display().to_string(),
        what: what.into(),
    }
}

/// The JSON object of a line with its `prev_sha256`.
fn line_value(line: &Line, prev_sha256: &str) -> std::result::Result<Value, String> {
    let mut v = serde_json::to_value(line).map_err(|e| format!("cannot serialise: {e}"))?;
    match &mut v {
        Value::Object(m) => {
            m.insert("prev_sha256".into(), Value::String(prev_sha256.into()));
        }
        _ => return Err("a ledger line must serialise to an object".into()),
    }
    Ok(v)
}

/// An open ledger file, appended to one certificate at a time and finished by
/// [`Ledger::close`]. Dropping it without closing leaves a ledger that does not verify.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
    prev_sha256: String,
    lines: usize,
    certificates: usize,
    last_weights_sha256: Option<String>,
}

/// A ledger after [`Ledger::close`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedLedger {
    /// The file.
    pub path: PathBuf,
    /// Lines written (header, certificates, close).
    pub lines: usize,
    /// Certificates written.
    pub requests: usize,
    /// SHA-256 of the closing line: publishing it pins the whole ledger.
    pub head_sha256: String,
}

impl Ledger {
    /// Creates a new ledger for a freshly trained `model` (the file must not exist: a ledger is
    /// never overwritten) and writes its header.
    ///
    /// # Errors
    /// [`RemovalError::Ledger`] if the model already served requests or the file exists or
    /// cannot be written.
    pub fn create(path: impl AsRef<Path>, model: &CertifiedModel) -> Result<Self> {
        Self::create_with_context(path, model, None)
    }

    /// [`Ledger::create`] with an opaque `context` stored in the header (and copied unchanged
    /// by the replay), e.g. what a verifier needs to rebuild the training data.
    ///
    /// # Errors
    /// As [`Ledger::create`].
    pub fn create_with_context(
        path: impl AsRef<Path>,
        model: &CertifiedModel,
        context: Option<Value>,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if model.requests() > 0 {
            return Err(ledger_err(
                &path,
                "a ledger must start from a freshly trained model (no requests served yet)",
            ));
        }
        let header = LedgerHeader::of(model, context);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ledger_err(&path, format!("cannot create: {e}")))?;
        let mut ledger = Self {
            path,
            file,
            prev_sha256: GENESIS_SHA256.into(),
            lines: 0,
            certificates: 0,
            last_weights_sha256: None,
        };
        ledger.write_line(&Line::Header(Box::new(header)))?;
        Ok(ledger)
    }

    /// Appends the certificate of the next request and flushes it to the OS.
    ///
    /// # Errors
    /// [`RemovalError::Ledger`] if it is not the next request's certificate (they must be
    /// appended in order, every one) or the file cannot be written.
    pub fn append(&mut self, certificate: &Certificate) -> Result<()> {
        if certificate.request != self.certificates + 1 {
            return Err(ledger_err(
                &self.path,
                format!(
                    "the certificate of request {} cannot follow {} certificates: append every \
                     certificate, in order",
                    certificate.request, self.certificates
                ),
            ));
        }
        self.write_line(&Line::Certificate(Box::new(certificate.clone())))?;
        self.certificates += 1;
        self.last_weights_sha256 = Some(certificate.weights_sha256.clone());
        Ok(())
    }

    /// Writes the closing record (the number of requests and the final weights' hash of
    /// `model`, which must be the model whose certificates were appended) and syncs the file.
    ///
    /// # Errors
    /// [`RemovalError::Ledger`] if `model` served a different number of requests or holds
    /// other weights than the last certificate, or the file cannot be written.
    pub fn close(mut self, model: &CertifiedModel) -> Result<ClosedLedger> {
        let weights = model.weights_sha256();
        if model.requests() != self.certificates
            || self
                .last_weights_sha256
                .as_ref()
                .is_some_and(|w| *w != weights)
        {
            return Err(ledger_err(
                &self.path,
                format!(
                    "cannot close: the model served {} requests, {} certificates were appended \
                     (or its weights are not the last certificate's)",
                    model.requests(),
                    self.certificates
                ),
            ));
        }
        self.write_line(&Line::Close(LedgerClose {
            requests: self.certificates,
            final_weights_sha256: weights,
        }))?;
        self.file
            .sync_all()
            .map_err(|e| ledger_err(&self.path, format!("cannot sync: {e}")))?;
        Ok(ClosedLedger {
            path: self.path,
            lines: self.lines,
            requests: self.certificates,
            head_sha256: self.prev_sha256,
        })
    }

    /// The ledger's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the last line written.
    pub fn head_sha256(&self) -> &str {
        &self.prev_sha256
    }

    fn write_line(&mut self, line: &Line) -> Result<()> {
        let value = line_value(line, &self.prev_sha256).map_err(|e| ledger_err(&self.path, e))?;
        let text = serde_json::to_string(&value)
            .map_err(|e| ledger_err(&self.path, format!("cannot serialise: {e}")))?;
        let mut bytes = text.into_bytes();
        let sha = line_sha256(&bytes);
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.flush())
            .map_err(|e| ledger_err(&self.path, format!("cannot write: {e}")))?;
        self.prev_sha256 = sha;
        self.lines += 1;
        Ok(())
    }
}

/// One complete line of a ledger file.
struct RawLine {
    /// The bytes without `\n`.
    bytes: Vec<u8>,
    /// Parsed.
    value: Value,
}

/// The complete lines of a ledger and whether the file ends in an unterminated line.
fn read_lines(path: &Path) -> Result<(Vec<RawLine>, bool)> {
    let bytes = std::fs::read(path).map_err(|e| ledger_err(path, format!("cannot read: {e}")))?;
    if bytes.is_empty() {
        return Err(ledger_err(path, "empty file: not a ledger"));
    }
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // The piece after the last `\n` is empty for a complete file.
    let tail = pieces.pop().unwrap_or_default();
    let mut lines = Vec::with_capacity(pieces.len());
    for (k, piece) in pieces.into_iter().enumerate() {
        let text = std::str::from_utf8(piece)
            .map_err(|_| ledger_err(path, format!("line {}: not UTF-8: not a ledger", k + 1)))?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ledger_err(
                path,
                format!("line {}: not JSON ({e}): not a ledger", k + 1),
            )
        })?;
        if !value.is_object() {
            return Err(ledger_err(
                path,
                format!("line {}: not a JSON object: not a ledger", k + 1),
            ));
        }
        lines.push(RawLine {
            bytes: piece.to_vec(),
            value,
        });
    }
    Ok((lines, !tail.is_empty()))
}

/// Parses and checks the header line (line 1) of a ledger.
fn parse_header(path: &Path, line: &RawLine) -> Result<LedgerHeader> {
    let kind = line.value.get("kind").and_then(Value::as_str);
    if kind != Some("header") {
        return Err(ledger_err(
            path,
            "line 1 is not a ledger header: not a ledger",
        ));
    }
    match line.value.get("schema").and_then(Value::as_str) {
        Some(LEDGER_SCHEMA) => {}
        Some(other) => {
            return Err(ledger_err(
                path,
                format!(
                    "schema {other} is not {LEDGER_SCHEMA} (ledgers of lethe.ledger/1 carry no \
                     hash chain and cannot be verified by this version)"
                ),
            ));
        }
        None => return Err(ledger_err(path, "line 1 has no schema: not a ledger")),
    }
    match serde_json::from_value::<Line>(line.value.clone()) {
        Ok(Line::Header(h)) => Ok(*h),
        Ok(_) => Err(ledger_err(path, "line 1 is not a ledger header")),
        Err(e) => Err(ledger_err(path, format!("line 1: not a valid header: {e}"))),
    }
}

/// Reads the header of a ledger (to find its context, noise secrecy, …) without replaying.
///
/// # Errors
/// [`RemovalError::Ledger`] if the file cannot be read or is not a `lethe.ledger/2` file.
pub fn read_header(path: impl AsRef<Path>) -> Result<LedgerHeader> {
    let path = path.as_ref();
    let (lines, _) = read_lines(path)?;
    let first = lines
        .first()
        .ok_or_else(|| ledger_err(path, "no complete line: not a ledger"))?;
    parse_header(path, first)
}

/// The lines of a ledger, parsed (nothing is checked beyond their syntax; see [`verify`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerContents {
    /// Line 1.
    pub header: LedgerHeader,
    /// The certificate lines, in order.
    pub certificates: Vec<Certificate>,
    /// The closing line, if present.
    pub close: Option<LedgerClose>,
}

/// Reads a ledger: its header, certificates and closing record.
///
/// # Errors
/// [`RemovalError::Ledger`] if the file cannot be read or a line is not a ledger line.
pub fn read(path: impl AsRef<Path>) -> Result<LedgerContents> {
    let path = path.as_ref();
    let (lines, _) = read_lines(path)?;
    let first = lines
        .first()
        .ok_or_else(|| ledger_err(path, "no complete line: not a ledger"))?;
    let header = parse_header(path, first)?;
    let mut certificates = Vec::new();
    let mut close = None;
    for (k, line) in lines.iter().enumerate().skip(1) {
        match serde_json::from_value::<Line>(line.value.clone()) {
            Ok(Line::Certificate(c)) => certificates.push(*c),
            Ok(Line::Close(c)) => close = Some(c),
            Ok(Line::Header(_)) => {
                return Err(ledger_err(path, format!("line {}: a second header", k + 1)));
            }
            Err(e) => return Err(ledger_err(path, format!("line {}: {e}", k + 1))),
        }
    }
    Ok(LedgerContents {
        header,
        certificates,
        close,
    })
}

/// What [`verify`] checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Requests replayed.
    pub requests: usize,
    /// Retrains replayed.
    pub retrains: usize,
    /// SHA-256 of the final weights (equal to the closing record's).
    pub final_weights_sha256: String,
    /// Lines checked (header, certificates, close).
    pub lines: usize,
    /// SHA-256 of the closing line.
    pub head_sha256: String,
    /// Where b came from.
    pub noise_secrecy: NoiseSecrecy,
}

/// Options of [`verify_with`].
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The key of a `key_file` ledger (required for those).
    pub noise_key: Option<NoiseKey>,
    /// The parameters the verifier knows the run used (e.g. from its config). When given, the
    /// replay uses them rather than the header's, so an edited header parameter is named as
    /// such (`line 1, field params.…`).
    pub params: Option<CertifiedParams>,
    /// Likewise for the seed.
    pub seed: Option<u64>,
}

/// Replays a ledger on `data` and checks every line, field by field (see the module docs).
///
/// # Errors
/// [`RemovalError::LedgerMismatch`] naming the first line and field that differ (the hash chain
/// included), [`RemovalError::LedgerReplay`] when a recorded request cannot be served,
/// [`RemovalError::LedgerNotClosed`] for a ledger without its closing record,
/// [`RemovalError::LedgerNeedsKey`] for a key-file ledger without the key, and
/// [`RemovalError::Ledger`] when the file cannot be read or is not a ledger.
pub fn verify(path: impl AsRef<Path>, data: Arc<Dataset>) -> Result<Verification> {
    verify_with(path, data, &VerifyOptions::default())
}

/// [`verify`] with a noise key and the parameters the verifier expects.
///
/// # Errors
/// As [`verify`].
pub fn verify_with(
    path: impl AsRef<Path>,
    data: Arc<Dataset>,
    options: &VerifyOptions,
) -> Result<Verification> {
    let path = path.as_ref();
    let (lines, unterminated) = read_lines(path)?;
    let first = lines
        .first()
        .ok_or_else(|| ledger_err(path, "no complete line: not a ledger"))?;
    let header = parse_header(path, first)?;
    let mismatch =
        |line: usize, field: &str, expected: String, found: String| RemovalError::LedgerMismatch {
            path: path.display().to_string(),
            line,
            field: field.into(),
            expected,
            found,
        };
    // What can be checked before replaying anything.
    let stored = &first.value;
    let quick = [
        ("prev_sha256", Value::from(GENESIS_SHA256)),
        ("lethe_version", Value::from(env!("CARGO_PKG_VERSION"))),
        ("data_fingerprint", Value::from(data.fingerprint())),
        ("n", Value::from(data.n_samples())),
        ("d", Value::from(data.n_features())),
    ];
    for (field, expected) in quick {
        if let Some((f, e, g)) = first_difference(&expected, field_of(stored, field), field, &[]) {
            return Err(mismatch(1, &f, e, g));
        }
    }
    if let Some(p) = &options.params {
        let expected = serde_json::to_value(p).map_err(|e| ledger_err(path, e.to_string()))?;
        if let Some((f, e, g)) =
            first_difference(&expected, field_of(stored, "params"), "params", &[])
        {
            return Err(mismatch(1, &f, e, g));
        }
    }
    if let Some(seed) = options.seed
        && seed != header.seed
    {
        return Err(mismatch(
            1,
            "seed",
            seed.to_string(),
            header.seed.to_string(),
        ));
    }
    if !(1..=MAX_THREADS).contains(&header.threads) {
        return Err(mismatch(
            1,
            "threads",
            format!("a thread count in 1..={MAX_THREADS}"),
            header.threads.to_string(),
        ));
    }
    // Every kernel's result is independent of the thread count (lethe-models' `linalg`), so
    // the replay runs on the caller's pool whatever `threads` the writer had.
    replay(path, &lines, unterminated, &header, data, options)
}

/// The field `name` of a line object (`Null` when absent).
fn field_of<'a>(v: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(name).unwrap_or(&NULL)
}

/// Header fields compared first, in this order, so the most telling difference is named.
const HEADER_ORDER: &[&str] = &[
    "prev_sha256",
    "kind",
    "schema",
    "lethe_version",
    "data_fingerprint",
    "n",
    "d",
    "threads",
    "seed",
    "params",
    "noise_secrecy",
    "noise_commitment",
    "noise",
    "initial_weights_sha256",
];

/// Certificate and close fields compared first.
const LINE_ORDER: &[&str] = &["prev_sha256", "kind", "request", "indices"];

fn replay(
    path: &Path,
    lines: &[RawLine],
    unterminated: bool,
    header: &LedgerHeader,
    data: Arc<Dataset>,
    options: &VerifyOptions,
) -> Result<Verification> {
    let mismatch = |line: usize, (field, expected, found): (String, String, String)| {
        RemovalError::LedgerMismatch {
            path: path.display().to_string(),
            line,
            field,
            expected,
            found,
        }
    };
    let replay_err = |line: usize, what: String| RemovalError::LedgerReplay {
        path: path.display().to_string(),
        line,
        what,
    };
    let params = options.params.unwrap_or(header.params);
    let seed = options.seed.unwrap_or(header.seed);
    let trained = match header.noise_secrecy {
        NoiseSecrecy::DerivableFromSeed => CertifiedModel::train(params, data, seed),
        NoiseSecrecy::ExplicitReplay => {
            let noise = header.noise.as_ref().ok_or_else(|| {
                mismatch(
                    1,
                    (
                        "noise".into(),
                        "the explicit b of a replay".into(),
                        "absent".into(),
                    ),
                )
            })?;
            let noise = noise.iter().map(|b| DVector::from_vec(b.clone())).collect();
            CertifiedModel::train_with_noise(params, data, seed, noise)
        }
        NoiseSecrecy::KeyFile => {
            let key = options
                .noise_key
                .clone()
                .ok_or_else(|| RemovalError::LedgerNeedsKey {
                    path: path.display().to_string(),
                })?;
            CertifiedModel::train_with_key(params, data, seed, key)
        }
    };
    let mut model = trained.map_err(|e| replay_err(1, format!("retraining failed: {e}")))?;
    if header.noise_secrecy == NoiseSecrecy::KeyFile {
        let commitment = noise_commitment(&model);
        if commitment != header.noise_commitment {
            return Err(mismatch(
                1,
                (
                    "noise_commitment".into(),
                    format!("{commitment} (from the key given: not this ledger's key?)"),
                    header.noise_commitment.clone(),
                ),
            ));
        }
    }
    // `threads` is provenance (no result depends on it), copied like `context`.
    let expected_header = LedgerHeader {
        threads: header.threads,
        ..LedgerHeader::of(&model, header.context.clone())
    };
    let expected = line_value(&Line::Header(Box::new(expected_header)), GENESIS_SHA256)
        .map_err(|e| ledger_err(path, e))?;
    if let Some(d) = first_difference(&expected, &lines[0].value, "", HEADER_ORDER) {
        return Err(mismatch(1, d));
    }

    let mut retrains = 0;
    let mut closed = false;
    for (k, line) in lines.iter().enumerate().skip(1) {
        let number = k + 1;
        let prev = line_sha256(&lines[k - 1].bytes);
        if closed {
            return Err(mismatch(
                number,
                (
                    "kind".into(),
                    "the end of the ledger (after its closing record)".into(),
                    shown(field_of(&line.value, "kind")),
                ),
            ));
        }
        let stored_prev = field_of(&line.value, "prev_sha256");
        if stored_prev.as_str() != Some(prev.as_str()) {
            return Err(mismatch(
                number,
                (
                    "prev_sha256".into(),
                    format!(
                        "{prev} (the hash of line {k}: line {k} was changed, or lines were \
                         removed, inserted or reordered)"
                    ),
                    shown(stored_prev),
                ),
            ));
        }
        let expected = match line.value.get("kind").and_then(Value::as_str) {
            Some("certificate") => {
                let indices: Vec<usize> = serde_json::from_value(
                    field_of(&line.value, "indices").clone(),
                )
                .map_err(|e| replay_err(number, format!("`indices` is not a list of rows: {e}")))?;
                let c = model
                    .remove(&indices)
                    .map_err(|e| replay_err(number, e.to_string()))?;
                retrains += usize::from(c.retrained);
                Line::Certificate(Box::new(c))
            }
            Some("close") => {
                let close = LedgerClose {
                    requests: model.requests(),
                    final_weights_sha256: model.weights_sha256(),
                };
                closed = true;
                Line::Close(close)
            }
            _ => {
                return Err(mismatch(
                    number,
                    (
                        "kind".into(),
                        "\"certificate\" or \"close\"".into(),
                        shown(field_of(&line.value, "kind")),
                    ),
                ));
            }
        };
        let expected = line_value(&expected, &prev).map_err(|e| ledger_err(path, e))?;
        if let Some(d) = first_difference(&expected, &line.value, "", LINE_ORDER) {
            return Err(mismatch(number, d));
        }
    }
    if !closed || unterminated {
        if closed {
            return Err(mismatch(
                lines.len() + 1,
                (
                    "kind".into(),
                    "the end of the ledger (after its closing record)".into(),
                    "an unterminated line".into(),
                ),
            ));
        }
        return Err(RemovalError::LedgerNotClosed {
            path: path.display().to_string(),
            lines: lines.len(),
        });
    }
    let last = lines
        .last()
        .map(|l| line_sha256(&l.bytes))
        .unwrap_or_default();
    Ok(Verification {
        requests: model.requests(),
        retrains,
        final_weights_sha256: model.weights_sha256(),
        lines: lines.len(),
        head_sha256: last,
        noise_secrecy: header.noise_secrecy,
    })
}

/// Whether a field holds a wall-clock timing, which a replay cannot reproduce.
fn is_timing(key: &str) -> bool {
    key == "seconds" || key.ends_with("_seconds")
}

/// At most 120 characters of a value, for messages.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether two JSON numbers are the same: the same kind (unsigned, signed, float) and, for
/// floats, the same bit pattern.
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    match (a.is_f64(), b.is_f64(), a.as_f64(), b.as_f64()) {
        (true, true, Some(x), Some(y)) => x.to_bits() == y.to_bits(),
        _ => false,
    }
}

/// The first field where `found` (the ledger) differs from `expected` (the replay), as (dotted
/// path, expected, found); objects in `priority` order first, then by sorted key; timings
/// ignored.
fn first_difference(
    expected: &Value,
    found: &Value,
    path: &str,
    priority: &[&str],
) -> Option<(String, String, String)> {
    const ABSENT: &str = "nothing (absent)";
    match (expected, found) {
        (Value::Object(e), Value::Object(f)) => {
            let mut keys: Vec<&String> = e.keys().chain(f.keys()).collect();
            keys.sort_by_key(|k| {
                (
                    priority
                        .iter()
                        .position(|p| p == k)
                        .unwrap_or(priority.len()),
                    k.as_str(),
                )
            });
            keys.dedup();
            for key in keys {
                if is_timing(key) {
                    continue;
                }
                let p = child(path, key);
                match (e.get(key), f.get(key)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = first_difference(a, b, &p, &[]) {
                            return Some(d);
                        }
                    }
                    (Some(a), None) => return Some((p, shown(a), ABSENT.into())),
                    (None, Some(b)) => return Some((p, ABSENT.into(), shown(b))),
                    (None, None) => {}
                }
            }
            None
        }
        (Value::Array(e), Value::Array(f)) => {
            for (i, (a, b)) in e.iter().zip(f).enumerate() {
                if let Some(d) = first_difference(a, b, &format!("{path}[{i}]"), &[]) {
                    return Some(d);
                }
            }
            let n = e.len().min(f.len());
            match (e.get(n), f.get(n)) {
                (Some(a), None) => Some((format!("{path}[{n}]"), shown(a), ABSENT.into())),
                (None, Some(b)) => Some((format!("{path}[{n}]"), ABSENT.into(), shown(b))),
                _ => None,
            }
        }
        (Value::Number(a), Value::Number(b)) if same_number(a, b) => None,
        (a, b) if !a.is_number() && a == b => None,
        (a, b) => Some((path.to_string(), shown(a), shown(b))),
    }
}

//! Running one grid point: data, training, the removal sequence, the reference retrain, and
//! the optional audit and strategy comparison. The result is a [`RunRecord`], the element of
//! `runs` in a result file (field names per DESIGN §6, see the crate README).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use lethe_data::Dataset;
use lethe_models::LinearModelParams;
use lethe_models::noise::Purpose;
use lethe_removal::stats::{mean, median};
use lethe_removal::{
    BudgetPolicy, CertifiedModel, CertifiedParams, Comparison, Guarantee, Ledger, NoiseKey,
    NoiseSecrecy, RemovalStrategy, ScoringModel, SisaConfig, SisaStrategy, StrategySpec, batches,
    build_strategy, compare_strategies, decision_accuracy, deletion_sequence, label_sets,
};
use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{
    AuditModel, AuditTarget, CertificateKind, Certification, run_audit_with_scores,
};
use crate::audit_scores::ScoresTarget;
use crate::config::{ExperimentConfig, Indices};
use crate::data::{DataCache, DataContext, DataInfo};
use crate::error::{ExperimentError, Result};
use crate::memory::PointBudget;

pub use crate::audit::{AuditEntry, AuditRecord};

/// What a running point reports, for progress display. Implementations must be cheap.
pub trait PointProgress: Sync {
    /// A new phase started (`"loading data"`, `"training"`, …).
    fn phase(&self, what: &str);
    /// `done` of `total` removal requests served.
    fn requests(&self, done: usize, total: usize);
}

/// A [`PointProgress`] that ignores everything.
pub struct NoProgress;

impl PointProgress for NoProgress {
    fn phase(&self, _: &str) {}
    fn requests(&self, _: usize, _: usize) {}
}

/// Provenance shared by every point of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Provenance {
    /// The crate version (`lethe_version`).
    pub lethe_version: String,
    /// `git rev-parse HEAD` in the working directory at run time, or `"unknown"`.
    pub git_commit: String,
    /// Whether `git status --porcelain` showed changes outside the output directory (`None`
    /// when unknown).
    pub git_dirty: Option<bool>,
    /// The commit the binary was built from (`"unknown"` outside a checkout).
    pub build_commit: String,
    /// The machine.
    pub host: Host,
    /// Who can know the noise b of this point's model: `derivable_from_seed` (the default:
    /// b follows from `seed`, which every result contains, so the certificates describe the
    /// mechanism but keep nothing secret from a reader of the result), `key_file`
    /// (`model.noise_key`: b drawn from a secret key that no result contains) or
    /// `explicit_replay` (`model.noise_vector`: b is public, nothing is certified).
    pub noise_secrecy: NoiseSecrecy,
    /// The data files this point read, each relative to the data directory, with its size and
    /// SHA-256 ([`crate::data_files`]; empty for bundled and synthetic data).
    pub data_files: Vec<crate::data_files::DataFile>,
}

/// The machine a point ran on (for timing comparisons).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Host {
    /// CPU model (from /proc/cpuinfo on Linux, else "unknown").
    pub cpu: String,
    /// Threads available to the process.
    pub threads: usize,
    /// `std::env::consts::OS`.
    pub os: String,
}

impl Host {
    /// Detects the host.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cpu,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_string(),
        }
    }
}

impl Provenance {
    /// Looks up the git commit of the current directory.
    pub fn detect() -> Self {
        Self::detect_with_outputs(None)
    }

    /// Like [`Provenance::detect`], but changes inside `outputs` (the result directory, whose
    /// committed files a re-run regenerates) do not make the tree count as dirty.
    pub fn detect_with_outputs(outputs: Option<&std::path::Path>) -> Self {
        Self::detect_in(std::path::Path::new("."), outputs)
    }

    /// [`Provenance::detect_with_outputs`] for the git work tree that holds `dir`.
    pub fn detect_in(dir: &std::path::Path, outputs: Option<&std::path::Path>) -> Self {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let commit = git(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty());
        // Whole work tree (`:/`), minus the outputs if they lie inside it.
        let exclude = outputs
            .and_then(|o| std::fs::canonicalize(o).ok())
            .map(|o| format!(":(exclude){}", o.display()));
        let dirty = commit
            .as_ref()
            .and_then(|_| {
                let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--", ":/"];
                if let Some(e) = &exclude {
                    args.push(e);
                }
                git(&args).or_else(|| git(&["status", "--porcelain", "--untracked-files=no"]))
            })
            .map(|s| !s.is_empty());
        Self {
            lethe_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: commit.unwrap_or_else(|| "unknown".into()),
            git_dirty: dirty,
            build_commit: env!("LETHE_BUILD_COMMIT").to_string(),
            host: Host::detect(),
            noise_secrecy: NoiseSecrecy::DerivableFromSeed,
            data_files: Vec::new(),
        }
    }
}

/// The initial training.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainRecord {
    /// `removal.strategy`'s name.
    pub strategy: String,
    /// What the strategy guarantees.
    pub guarantee: Guarantee,
    /// Wall-clock seconds of training (all class models; for newton without the ‖X‖₂ bound).
    pub seconds: f64,
    /// Solver iterations summed over class models (newton only).
    pub iterations: Option<usize>,
    /// r₀ = ‖∇L_b(w*; D)‖ summed over class models, sum scale (newton only).
    pub residual_norm: Option<f64>,
    /// Test accuracy of the trained model (fraction; null for the squared loss).
    pub test_accuracy: f64,
    /// Training accuracy.
    pub train_accuracy: f64,
    /// The rigorous upper bound on ‖X‖₂ (newton only).
    pub spectral_norm: Option<f64>,
    /// Seconds to compute it (newton only).
    pub spectral_norm_seconds: Option<f64>,
    /// Class models trained (1 for binary data).
    pub class_models: usize,
    /// ‖B‖_F = √(Σ_k ‖b_k‖²), the Frobenius norm of the stacked perturbations of all class
    /// models (= ‖b‖ for binary data; newton only).
    pub noise_norm: Option<f64>,
    /// ‖W‖_F = √(Σ_k ‖w_k‖²), the Frobenius norm of the d × K weight matrix of all class
    /// models (= ‖w‖ for binary data), when the strategy has single weights.
    pub weight_norm: Option<f64>,
}

/// One removal request (DESIGN §6 names first; null = not applicable to the strategy).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemovalRecord {
    /// 1-based request number.
    pub request: usize,
    /// Removed training rows (0-based).
    pub indices: Vec<usize>,
    /// γ‖X‖₂‖v‖‖Xv‖, summed over class models (Corollary 1/2).
    pub bound_data_dependent: Option<f64>,
    /// 4γm²C²/(λ²(n − m)) (Theorem 1; valid for b = 0 only, never the certificate).
    pub bound_worst_case: Option<f64>,
    /// ‖∇L_b‖ of the released model on the remaining rows, including bᵀw (sum scale).
    pub residual_norm: Option<f64>,
    /// Accumulated residual β after the request.
    pub beta: Option<f64>,
    /// The residual budget (σ·r*(ε, δ) under analytic accounting, σε/c under the paper's).
    pub budget: Option<f64>,
    /// Whether the model was retrained from scratch.
    pub retrained: bool,
    /// Wall-clock seconds of the request (a retrain included).
    pub seconds: f64,
    /// Rows remaining after the request.
    pub n_remaining: usize,
    /// (γ/2)‖X‖₂‖Xv‖₄² (beyond the paper).
    pub bound_tight: Option<f64>,
    /// γ(n − m)‖v‖².
    pub bound_gamma_n_v2: Option<f64>,
    /// ‖Hv − Δ‖ of the step's solve.
    pub solve_residual: Option<f64>,
    /// newton: the bound charged to β (chosen bound + solve residual + rounding allowance);
    /// output_perturbation: the release's sensitivity bound s ≥ ‖w_s − w*(D∖R)‖, compared
    /// with `budget` on its own (no accumulation).
    pub certificate_bound: Option<f64>,
    /// ‖∇L_b‖ of the Newton step's model (differs from `residual_norm` after a retrain).
    pub step_residual_norm: Option<f64>,
    /// β before the request.
    pub beta_before: Option<f64>,
    /// The smallest ε that β certifies under `certificate.accounting` (null without a valid
    /// statement: no certificate, or the paper's formula β·c/σ beyond where it is valid).
    pub epsilon_spent: Option<f64>,
    /// The same under the exact (analytic) accounting, for comparison with `paper`.
    pub epsilon_spent_analytic: Option<f64>,
    /// Whether the released model is (ε, δ)-certified.
    pub certified: Option<bool>,
    /// Seconds of the Newton step and its bounds.
    pub step_seconds: Option<f64>,
    /// Seconds of a budget retrain (0 without one).
    pub retrain_seconds: Option<f64>,
    /// CG iterations summed over class models (fast solvers).
    pub cg_iterations: Option<usize>,
    /// Whether a Hessian was built and factored for this request (any class model).
    pub factored: Option<bool>,
    /// output_perturbation: the floating-point allowance included in `certificate_bound`
    /// (newton's is in its certificate ledger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounding_allowance: Option<f64>,
    /// output_perturbation: the a-priori bound on ‖w_s − w*(D∖R)‖ for the rows removed since
    /// the anchor, Σ_k 4γm²C²/(λ³(n − m)²) (Sekhari et al.'s Lemma 3 for an exact anchor;
    /// reported, never the certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity_worst_case: Option<f64>,
}

/// The reference retrain: every class model from scratch on the rows remaining after the last
/// request, with a fresh b (Algorithm 1), timed in the same process.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetrainRecord {
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows trained on.
    pub n_rows: usize,
    /// Solver iterations summed over class models.
    pub iterations: usize,
    /// Its training residual (sum over class models).
    pub residual_norm: f64,
    /// Its test accuracy.
    pub test_accuracy: f64,
    /// Its accuracy on the removed rows (null without removals).
    pub removed_accuracy: f64,
    /// ‖w − w_retrain‖ per class model, for strategies with single weights (the two models
    /// have independent b, so this mixes removal error and noise).
    pub weight_distance: Option<Vec<f64>>,
}

/// The summary of a run (DESIGN §6 names first).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Requests served.
    pub requests: usize,
    /// Requests served before the first one that needed a retrain (budget policy `retrain`)
    /// or pushed β over the budget (policy `never`). For strategies without a budget: every
    /// request served.
    pub supported_removals: usize,
    /// Requests that retrained from scratch (budget retrains for newton; every request for
    /// retrain; shard retrains for SISA).
    pub retrains: usize,
    /// Test accuracy of the model released after the last request.
    pub test_accuracy_after: f64,
    /// Median seconds per request.
    pub removal_seconds_median: f64,
    /// Median seconds of the full retrains timed in this run: budget retrains of newton and the
    /// reference retrain.
    pub retrain_seconds_median: f64,
    /// Rows removed.
    pub rows_removed: usize,
    /// Rows removed by the supported requests.
    pub supported_rows: usize,
    /// Mean seconds per request.
    pub removal_seconds_mean: f64,
    /// Total seconds of all requests.
    pub removal_seconds_total: f64,
    /// Full retrains timed (at least 1: the reference retrain).
    pub retrains_timed: usize,
    /// `retrain_seconds_median / removal_seconds_median`.
    pub speedup_median: f64,
    /// Accuracy of the released model on the removed rows.
    pub removed_accuracy_after: f64,
    /// Whether the sequence stopped at the first unsupported request
    /// (`stop_when_budget_exceeded`).
    pub stopped_early: bool,
    /// β after the last request (newton).
    pub beta_final: Option<f64>,
    /// The residual budget under `certificate.accounting` (newton; output_perturbation: the
    /// sensitivity budget of every release).
    pub budget: Option<f64>,
    /// The ε of the final β under `certificate.accounting` (with budget policy `never`, the ε
    /// that certifies every request without retraining, e.g. Figure 1's "ε at 100 removals");
    /// null without a valid (ε, δ) statement.
    pub epsilon_spent_final: Option<f64>,
    /// The ε of the final β under the exact (analytic) accounting.
    pub epsilon_spent_analytic_final: Option<f64>,
    /// The budget under the exact (analytic) accounting at this (ε, δ, σ) (newton with Gaussian
    /// noise), next to `budget` when the run uses the paper's calibration.
    pub budget_analytic: Option<f64>,
    /// With budget policy `never`: the requests served before β first exceeded
    /// `budget_analytic` (what `supported_removals` would be under the exact accounting); null
    /// when the run stopped at its own budget before reaching this one.
    pub supported_removals_analytic: Option<usize>,
    /// Whether the final released model is certified.
    pub certified_final: Option<bool>,
    /// Mean certificate bound per request.
    pub certificate_bound_mean: Option<f64>,
    /// (budget − r₀) / mean certificate bound: requests one model supports at this ε if
    /// every request costs the mean observed bound (≥ 0; "inf" when the bound is 0).
    pub expected_supported_removals: Option<f64>,
    /// Σ of the data-dependent bounds over all requests.
    pub bound_data_dependent_total: Option<f64>,
    /// Σ of the worst-case bounds over all requests.
    pub bound_worst_case_total: Option<f64>,
    /// Exact residual of the last released model.
    pub residual_norm_final: Option<f64>,
    /// output_perturbation: the a-priori deletion capacity, the rows removable from one
    /// anchor before the worst-case sensitivity exceeds the budget
    /// (`lethe_removal::output_perturbation_capacity`; absent for other strategies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_capacity_worst_case: Option<usize>,
}

/// Seconds per phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Loading and preparing data (0 when cached).
    pub data: f64,
    /// Whether the data came from the process cache.
    pub data_cached: bool,
    /// Initial training (for newton with the ‖X‖₂ bound).
    pub train: f64,
    /// Building the request sequence.
    pub order: f64,
    /// All removal requests.
    pub removals: f64,
    /// The reference retrain.
    pub reference_retrain: f64,
    /// Evaluating accuracies.
    pub evaluation: f64,
    /// The audit.
    pub audit: f64,
    /// The strategy comparison.
    pub compare: f64,
    /// The whole point.
    pub total: f64,
}

/// Everything one grid point produced: an element of `runs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// Grid index.
    pub index: usize,
    /// Hash of the resolved point config (first 16 hex digits of SHA-256).
    pub hash: String,
    /// This point's grid and variant values (dotted path → value).
    pub params: BTreeMap<String, Value>,
    /// The seed of every random stream.
    pub seed: u64,
    /// The resolved config of this point.
    pub config: Value,
    /// Provenance of the process that computed the point.
    pub provenance: Provenance,
    /// Unix time (seconds) when the point finished.
    pub finished_unix: u64,
    /// The data.
    pub data: DataInfo,
    /// The initial training.
    pub train: TrainRecord,
    /// One record per request.
    pub removals: Vec<RemovalRecord>,
    /// The summary.
    pub summary: Summary,
    /// The reference retrain.
    pub reference_retrain: RetrainRecord,
    /// The audit, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditRecord>,
    /// The comparison, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<Vec<Comparison>>,
    /// Seconds per phase.
    pub timings: Timings,
    /// The host's 1-minute load average when the point finished (Linux `/proc/loadavg`; null
    /// elsewhere): above the number of threads, other processes competed for the CPU.
    pub load_average_1m: Option<f64>,
    /// The certificate ledger of this point (`removal.ledger`), relative to the output
    /// directory: `<name>.ledgers/<index>-<hash>.jsonl`; null without one.
    pub ledger: Option<String>,
}

/// Where a point writes its ledger (`removal.ledger: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerTarget {
    /// The output directory.
    pub out_dir: std::path::PathBuf,
    /// The ledger's path relative to `out_dir` (recorded in [`RunRecord::ledger`]).
    pub relative: String,
    /// Replace an existing ledger (`--force`); otherwise an existing file is an error.
    pub replace: bool,
}

impl LedgerTarget {
    /// The ledger of point `index` with config hash `hash` of experiment `name`:
    /// `OUT/<name>.ledgers/<index>-<hash>.jsonl`.
    pub fn new(
        out_dir: &std::path::Path,
        name: &str,
        index: usize,
        hash: &str,
        replace: bool,
    ) -> Self {
        Self {
            out_dir: out_dir.to_path_buf(),
            relative: format!("{name}.ledgers/{index}-{hash}.jsonl"),
            replace,
        }
    }

    /// The final path.
    pub fn path(&self) -> std::path::PathBuf {
        self.out_dir.join(&self.relative)
    }
}

/// A ledger being written under a temporary name in the ledger directory; [`PointLedger::finish`]
/// closes it and renames it to its final name, so a killed or failed run never leaves a half
/// ledger under the final name (a failed point removes its temporary file).
struct PointLedger {
    ledger: Option<Ledger>,
    tmp: std::path::PathBuf,
    target: LedgerTarget,
}

impl PointLedger {
    fn create(target: &LedgerTarget, model: &CertifiedModel, context: Value) -> Result<Self> {
        let path = target.path();
        if !target.replace && path.exists() {
            return Err(ExperimentError::Result {
                path,
                what: "a ledger of this point exists although its point file does not; move it \
                       away or re-run with --force (ledgers are never overwritten otherwise)"
                    .into(),
            });
        }
        let dir = path.parent().unwrap_or(&target.out_dir).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| ExperimentError::Io {
            path: dir.clone(),
            source: e,
        })?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let ledger = Ledger::create_with_context(&tmp, model, Some(context))?;
        Ok(Self {
            ledger: Some(ledger),
            tmp,
            target: target.clone(),
        })
    }

    fn append(&mut self, c: &lethe_removal::Certificate) -> Result<()> {
        match &mut self.ledger {
            Some(l) => Ok(l.append(c)?),
            None => Ok(()),
        }
    }

    /// Closes the ledger and moves it to its final name; returns that name relative to OUT.
    fn finish(mut self, model: &CertifiedModel) -> Result<String> {
        if let Some(l) = self.ledger.take() {
            l.close(model)?;
        }
        let path = self.target.path();
        if !self.target.replace && path.exists() {
            return Err(ExperimentError::Result {
                path,
                what: "a ledger appeared under this name while the point ran; not overwritten"
                    .into(),
            });
        }
        std::fs::rename(&self.tmp, &path).map_err(|e| ExperimentError::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok(self.target.relative.clone())
    }
}

impl Drop for PointLedger {
    fn drop(&mut self) {
        // Not finished (the point failed): remove the temporary file.
        if self.ledger.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The noise key of a config with `model.noise_key` (a relative path against the config's
/// directory), created with fresh OS entropy if the file does not exist.
///
/// # Errors
/// [`ExperimentError::Removal`] if the key file cannot be read, created or parsed.
pub fn noise_key(cfg: &ExperimentConfig, ctx: &DataContext) -> Result<Option<NoiseKey>> {
    match &cfg.model.noise_key {
        Some(p) => {
            let path = ctx.config_dir.join(p);
            Ok(Some(NoiseKey::load_or_create(&path)?.0))
        }
        None => Ok(None),
    }
}

/// The host's 1-minute load average (Linux `/proc/loadavg`), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The certified-removal parameters of a resolved config.
pub fn certified_params(cfg: &ExperimentConfig) -> CertifiedParams {
    let model = LinearModelParams {
        loss: cfg.model.loss,
        lambda: cfg.model.lambda,
        sigma: cfg.model.sigma,
        noise: cfg.model.noise,
        solver: cfg.model.solver,
    };
    let mut p = CertifiedParams::new(model);
    p.epsilon = cfg.certificate.epsilon;
    p.delta = cfg.certificate.delta;
    p.accounting = cfg.certificate.accounting;
    p.adaptive_requests = cfg.removal.order.0.is_adaptive();
    p.bound = cfg.removal.bound;
    p.solver = cfg.removal.solver;
    p.budget_policy = cfg.removal.budget_policy;
    p.spectral_norm = cfg.removal.spectral_norm;
    p.exact_residual = cfg.removal.exact_residual;
    p.fast_path = cfg.removal.fast_path;
    p
}

/// The request sequence of a resolved config: explicit indices, or `requests` batches of
/// `batch_size` rows from the deletion order.
///
/// # Errors
/// Errors of `lethe_removal::deletion_sequence` (too many rows, a targeted class that does
/// not occur, …).
pub fn request_sequence(
    cfg: &ExperimentConfig,
    train: &Dataset,
    model: Option<(&DMatrix<f64>, &[Option<f64>])>,
) -> Result<Vec<Vec<usize>>> {
    let r = &cfg.removal;
    if let Some(ix) = &r.indices {
        return Ok(match ix {
            Indices::Flat(v) => batches(v, r.batch_size),
            Indices::Batches(b) => b.clone(),
        });
    }
    if r.requests == 0 {
        return Ok(Vec::new());
    }
    let count = r.requests.checked_mul(r.batch_size).ok_or_else(|| {
        ExperimentError::Usage("removal.requests × removal.batch_size overflows".into())
    })?;
    let seq = deletion_sequence(
        &r.order.0,
        train,
        model.map(|(w, c)| (w, c, cfg.model.loss)),
        count,
        cfg.seed,
    )?;
    Ok(batches(&seq, r.batch_size))
}

/// The guarantee of a run: the strategy's own, unless the requests are adaptive (chosen with
/// the released model, `informed_model: released`). Then certified removal does not apply
/// (newton reports `adaptive` itself), and neither does SISA's exactness: its released
/// ensemble depends on the secret partition, so requests chosen from it are not independent of
/// it (Gupta et al., "Adaptive Machine Unlearning", NeurIPS 2021). Retraining with a fresh b
/// stays exact: its output is independent of everything released before.
fn run_guarantee(cfg: &ExperimentConfig, strategy_guarantee: Guarantee) -> Guarantee {
    let fresh_retrain = matches!(
        cfg.removal.strategy.0,
        StrategySpec::Retrain {
            noise: lethe_removal::RetrainNoise::Fresh
        }
    );
    match strategy_guarantee {
        Guarantee::Exact if cfg.removal.order.0.is_adaptive() && !fresh_retrain => {
            Guarantee::Adaptive
        }
        g => g,
    }
}

/// The weights that score rows for an informed order by loss or gradient
/// (`removal.order.informed_model`): a noiseless model (σ = 0), a model with its own noise
/// draw from [`Purpose::OrderScoring`], or the released model `released` (adaptive). `None`
/// when the order needs no model.
fn scoring_weights(
    cfg: &ExperimentConfig,
    train: &Dataset,
    released: Option<&DMatrix<f64>>,
) -> Result<Option<DMatrix<f64>>> {
    let order = &cfg.removal.order.0;
    if !order.needs_model() {
        return Ok(released.cloned());
    }
    let mut params = certified_params(cfg).model;
    match order.informed_model {
        ScoringModel::Released => return Ok(released.cloned()),
        ScoringModel::Noiseless => params.sigma = 0.0,
        ScoringModel::Independent => {}
    }
    let columns = label_sets(train, params.loss)?
        .iter()
        .enumerate()
        .map(|(k, (_, labels))| {
            let b = params.draw_noise(
                train.n_features(),
                cfg.seed,
                Purpose::OrderScoring.stream(k as u64),
            )?;
            Ok(params
                .fit_parts(train.features(), labels, None, b, None)?
                .weights)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(DMatrix::from_columns(&columns)))
}

/// The trained strategy. SISA is kept as its concrete type so that the audit can read its
/// shard models; every other strategy is used through [`RemovalStrategy`].
enum Trained {
    Sisa(SisaStrategy),
    /// Certified Newton removal, kept concrete for its ledger.
    Newton(Box<CertifiedModel>),
    Other(Box<dyn RemovalStrategy>),
}

impl std::ops::Deref for Trained {
    type Target = dyn RemovalStrategy;

    fn deref(&self) -> &Self::Target {
        match self {
            Trained::Sisa(s) => s,
            Trained::Newton(m) => m.as_ref(),
            Trained::Other(b) => b.as_ref(),
        }
    }
}

impl std::ops::DerefMut for Trained {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Trained::Sisa(s) => s,
            Trained::Newton(m) => m.as_mut(),
            Trained::Other(b) => b.as_mut(),
        }
    }
}

impl Trained {
    /// What the audit attacks now: SISA's ensemble, or the single weight matrix.
    fn audit_model(&self) -> Option<AuditModel> {
        match self {
            Trained::Sisa(s) => Some(AuditModel::sisa(s)),
            Trained::Newton(m) => RemovalStrategy::weights(m.as_ref()).map(AuditModel::Linear),
            Trained::Other(b) => b.weights().map(AuditModel::Linear),
        }
    }
}

/// What the removal certifies about the unlearned model.
fn unlearned_certification(
    cfg: &ExperimentConfig,
    guarantee: Guarantee,
    summary: &Summary,
) -> Certification {
    match guarantee {
        Guarantee::Certified { delta, .. } => match summary.epsilon_spent_final {
            _ if !(cfg.model.sigma > 0.0) => Certification::new(
                CertificateKind::None,
                None,
                None,
                "σ = 0: no noise, so no certificate",
            ),
            // The strategy reports whether the released model is certified (σ > 0, rows
            // ‖x‖ ≤ 1, convex loss, β ≤ budget); without that, no finite ε is claimed.
            _ if summary.certified_final == Some(false) => Certification::new(
                CertificateKind::None,
                None,
                None,
                "not certified: the released model is not certifiable (e.g. trained on rows with \
                 ‖x‖ > 1) or its bound (the accumulated residual β, or the release's \
                 sensitivity) exceeds the budget",
            ),
            Some(e) if e.is_finite() => Certification::new(
                CertificateKind::Certified,
                Some(e),
                Some(delta),
                match (cfg.model.noise, cfg.certificate.accounting) {
                    _ if cfg.removal.strategy.0.releases_output_noise() => {
                        "(ε, δ)-certified release (output perturbation: Sekhari et al. 2021, or \
                         Descent-to-Delete, Neel et al. 2021): \
                         the released secret state is within the sensitivity bound s of the \
                         exact retrain minimiser (strong convexity, rounding included), and ε \
                         is the smallest the release noise certifies for s (exact Gaussian \
                         profile, or s/σ for the Gamma-norm noise)"
                    }
                    (lethe_models::NoiseKind::GammaNorm, _) => {
                        "pure ε-certified removal (Gamma-norm noise, δ = 0): ε of the final \
                         accumulated residual β, β/σ"
                    }
                    (_, lethe_models::Accounting::Analytic) => {
                        "(ε, δ)-certified removal: the smallest ε with δ(ε; β/σ) ≤ δ under the \
                         exact Gaussian privacy profile (Balle & Wang 2018), β the final \
                         accumulated residual"
                    }
                    (_, lethe_models::Accounting::Paper) => {
                        "(ε, δ)-certified removal: ε of the final accumulated residual β by the \
                         paper's formula β·c(δ)/σ (checked valid under the exact profile)"
                    }
                },
            ),
            _ => Certification::new(
                CertificateKind::None,
                None,
                None,
                if cfg.model.sigma > 0.0 {
                    "no valid (ε, δ) statement for the final model (uncertifiable, or the \
                     paper's formula beyond its validity)"
                } else {
                    "σ = 0: no noise, so no certificate"
                },
            ),
        },
        Guarantee::Adaptive => Certification::new(
            CertificateKind::None,
            None,
            None,
            "adaptive requests (chosen with the released model): the theorem does not apply, \
             no certificate",
        ),
        Guarantee::Exact => Certification::new(
            CertificateKind::Exact,
            Some(0.0),
            Some(0.0),
            "exact removal: distributed as retraining from scratch",
        ),
        Guarantee::None => Certification::new(
            CertificateKind::None,
            None,
            None,
            match cfg.removal.strategy.0 {
                StrategySpec::Newton if cfg.model.sigma == 0.0 => {
                    "σ = 0: no noise, so no certificate".to_string()
                }
                ref s if s.releases_output_noise() && cfg.model.sigma == 0.0 => {
                    "σ = 0: no release noise, so no certificate".to_string()
                }
                ref s if matches!(s, StrategySpec::Newton) || s.releases_output_noise() => {
                    "no certificate (rows with ‖x‖ > 1)".to_string()
                }
                ref other => format!("strategy `{}` has no guarantee", other.name()),
            },
        ),
        Guarantee::Replay => Certification::new(
            CertificateKind::None,
            None,
            None,
            "replay: b was given explicitly (model.noise_vector), so it is public and nothing \
             is certified",
        ),
    }
}

/// The reference retrain's model and cost.
pub(crate) struct Retrained {
    pub(crate) weights: DMatrix<f64>,
    pub(crate) classes: Vec<Option<f64>>,
    pub(crate) seconds: f64,
    pub(crate) iterations: usize,
    pub(crate) residual: f64,
}

/// Trains a fresh model on the remaining rows (Algorithm 1 with b from the
/// [`Purpose::ReferenceRetrain`] streams of `seed`): the run's reference retrain with the experiment
/// seed, the game's retrained draws with theirs. For `output_perturbation` and
/// `descent_to_delete` it is the retrain that mechanism's certificate is about instead: the
/// b = 0 minimiser plus release noise ν drawn from the same streams (the solver's minimiser
/// stands in for the exact one, within its tolerance/(λn′)).
pub(crate) fn reference_retrain(
    cfg: &ExperimentConfig,
    train: &Dataset,
    active: &[bool],
    seed: u64,
) -> Result<Retrained> {
    let params = certified_params(cfg).model;
    let sets = label_sets(train, params.loss)?;
    let start = Instant::now();
    let mut columns = Vec::with_capacity(sets.len());
    let mut classes = Vec::with_capacity(sets.len());
    let mut iterations = 0;
    let mut residual = 0.0;
    let output_noise = cfg.removal.strategy.0.releases_output_noise();
    for (k, (class, labels)) in sets.iter().enumerate() {
        let noise = params.draw_noise(
            train.n_features(),
            seed,
            Purpose::ReferenceRetrain.stream(k as u64),
        )?;
        let (b, release_noise) = if output_noise {
            (DVector::zeros(train.n_features()), Some(noise))
        } else {
            (noise, None)
        };
        let m = params.fit_parts(train.features(), labels, Some(active), b, None)?;
        iterations += m.report.iterations;
        residual += m.report.residual_norm;
        columns.push(match release_noise {
            Some(nu) => m.weights + nu,
            None => m.weights,
        });
        classes.push(*class);
    }
    Ok(Retrained {
        weights: DMatrix::from_columns(&columns),
        classes,
        seconds: start.elapsed().as_secs_f64(),
        iterations,
        residual,
    })
}

fn accuracy_of(w: &DMatrix<f64>, classes: &[Option<f64>], data: &Dataset) -> f64 {
    decision_accuracy(&(data.features() * w), classes, data.labels())
}

/// Runs one grid point of a resolved config. With a `budget`, the point is refused
/// ([`ExperimentError::TooLarge`]) before its data are loaded, and again before training, when
/// its memory estimate exceeds its share of the limit.
///
/// # Errors
/// Data, training, removal, audit or comparison failures, each typed.
#[allow(clippy::too_many_arguments)]
pub fn run_point(
    cfg: &ExperimentConfig,
    index: usize,
    params: BTreeMap<String, Value>,
    config_value: Value,
    hash: String,
    provenance: &Provenance,
    ctx: &DataContext,
    cache: &DataCache,
    progress: &dyn PointProgress,
    ledger_target: Option<&LedgerTarget>,
    scores_target: Option<&ScoresTarget>,
    budget: Option<&PointBudget>,
) -> Result<RunRecord> {
    let start = Instant::now();
    let mut timings = Timings::default();
    let classification = cfg.model.loss.needs_binary_labels();

    if let Some(b) = budget {
        b.check_config(cfg)?;
    }
    progress.phase("loading data");
    let t = Instant::now();
    let (data, cached) = cache.get(cfg, ctx)?;
    timings.data = t.elapsed().as_secs_f64();
    timings.data_cached = cached;
    if let Some(b) = budget {
        b.check_data(cfg, &data.info)?;
    }
    let train = Arc::clone(&data.train);

    progress.phase("training");
    let t = Instant::now();
    let cparams = certified_params(cfg);
    let spec = &cfg.removal.strategy.0;
    let mut newton_info = None;
    // The ε that r₀ spends under the configured and the analytic accounting (newton).
    let mut initial_epsilon = None;
    let mut strategy: Trained = match spec {
        StrategySpec::Newton => {
            let model = match (&cfg.model.noise_vector, noise_key(cfg, ctx)?) {
                (Some(nv), _) => CertifiedModel::train_with_noise(
                    cparams,
                    Arc::clone(&train),
                    cfg.seed,
                    nv.vectors().into_iter().map(DVector::from_vec).collect(),
                )?,
                (None, Some(key)) => {
                    CertifiedModel::train_with_key(cparams, Arc::clone(&train), cfg.seed, key)?
                }
                (None, None) => CertifiedModel::train(cparams, Arc::clone(&train), cfg.seed)?,
            };
            initial_epsilon = Some(model.epsilon_spent_now());
            newton_info = Some((
                model.train_summary().clone(),
                model.spectral_norm(),
                // ‖B‖_F over every class model; ‖b‖ of a secret b is not written.
                (model.noise_secrecy() != NoiseSecrecy::KeyFile).then(|| {
                    model
                        .class_models()
                        .iter()
                        .map(|c| c.noise.norm_squared())
                        .sum::<f64>()
                        .sqrt()
                }),
                model.budget(),
                model.is_certified(),
            ));
            Trained::Newton(Box::new(model))
        }
        StrategySpec::Sisa {
            shards,
            slices,
            aggregation,
        } => Trained::Sisa(SisaStrategy::train(
            cparams.model,
            Arc::clone(&train),
            cfg.seed,
            SisaConfig {
                shards: *shards,
                slices: *slices,
                aggregation: *aggregation,
            },
        )?),
        other => Trained::Other(build_strategy(
            other,
            cparams,
            Arc::clone(&train),
            cfg.seed,
        )?),
    };
    timings.train = t.elapsed().as_secs_f64();
    let classes = strategy.classes();
    let initial_weights = strategy.weights();
    let initial_audit_model = cfg.audit.as_ref().and_then(|_| strategy.audit_model());

    let t = Instant::now();
    let test_accuracy = strategy.accuracy(&data.test)?;
    let train_accuracy = strategy.accuracy(&train)?;
    timings.evaluation += t.elapsed().as_secs_f64();
    let (test_accuracy, train_accuracy) = if classification {
        (test_accuracy, train_accuracy)
    } else {
        (f64::NAN, f64::NAN)
    };
    let train_record = TrainRecord {
        strategy: spec.name().to_string(),
        guarantee: run_guarantee(cfg, strategy.guarantee()),
        seconds: newton_info
            .as_ref()
            .map_or(timings.train, |(s, ..)| s.seconds),
        iterations: newton_info.as_ref().map(|(s, ..)| s.iterations),
        residual_norm: newton_info.as_ref().map(|(s, ..)| s.residual_norm),
        test_accuracy,
        train_accuracy,
        spectral_norm: newton_info.as_ref().map(|(_, n, ..)| *n),
        spectral_norm_seconds: newton_info.as_ref().map(|(s, ..)| s.spectral_norm_seconds),
        class_models: classes.len(),
        noise_norm: newton_info.as_ref().and_then(|(_, _, b, ..)| *b),
        weight_norm: initial_weights.as_ref().map(|w| w.norm()),
    };

    progress.phase("ordering requests");
    let t = Instant::now();
    let scoring = scoring_weights(cfg, &train, initial_weights.as_ref())?;
    let requests = request_sequence(
        cfg,
        &train,
        scoring.as_ref().map(|w| (w, classes.as_slice())),
    )?;
    timings.order = t.elapsed().as_secs_f64();

    let mut ledger = match (&strategy, cfg.removal.ledger) {
        (Trained::Newton(model), true) => {
            let target = ledger_target.ok_or_else(|| {
                ExperimentError::Usage(
                    "removal.ledger needs an output directory for the ledger file".into(),
                )
            })?;
            let context = serde_json::json!({
                "config": config_value,
                "config_dir": ctx.config_dir,
            });
            Some(PointLedger::create(target, model, context)?)
        }
        (_, true) => {
            return Err(ExperimentError::Usage(format!(
                "removal.ledger: strategy `{}` issues no certificates (newton only)",
                spec.name()
            )));
        }
        _ => None,
    };

    progress.phase("removing");
    let t = Instant::now();
    let mut removals = Vec::with_capacity(requests.len());
    let mut supported = None;
    let mut stopped_early = false;
    let mut budget_retrain_seconds = Vec::new();
    let total = requests.len();
    progress.requests(0, total);
    for (i, batch) in requests.iter().enumerate() {
        let outcome = strategy.remove(batch)?;
        let cert = outcome.certificate.as_ref();
        if let (Some(l), Some(c)) = (&mut ledger, cert) {
            l.append(c)?;
        }
        let release = outcome.release.as_ref();
        // (bound charged, budget, retrained, retrain seconds) of a certified strategy.
        let charged = cert
            .map(|c| (c.beta, c.budget, c.retrained, c.retrain_seconds))
            .or(release.map(|r| {
                (
                    r.sensitivity_bound,
                    r.budget,
                    r.retrained,
                    r.retrain_seconds,
                )
            }));
        let exceeded = match charged {
            Some((bound, budget, retrained, _)) => match cfg.removal.budget_policy {
                BudgetPolicy::Retrain => retrained,
                BudgetPolicy::Never => !(bound <= budget),
            },
            None => false,
        };
        if let Some((.., true, seconds)) = charged {
            budget_retrain_seconds.push(seconds);
        }
        removals.push(RemovalRecord {
            request: outcome.request,
            indices: outcome.indices.clone(),
            bound_data_dependent: cert.map(|c| c.bound_data_dependent),
            bound_worst_case: cert.map(|c| c.bound_worst_case),
            residual_norm: cert.and_then(|c| c.residual_norm),
            beta: cert.map(|c| c.beta),
            budget: charged.map(|(_, b, ..)| b),
            retrained: outcome.retrained,
            seconds: outcome.seconds,
            n_remaining: cert
                .map(|c| c.n_remaining)
                .or(release.map(|r| r.n_remaining))
                .unwrap_or_else(|| strategy.active().iter().filter(|a| **a).count()),
            bound_tight: cert.map(|c| c.bound_tight),
            bound_gamma_n_v2: cert.map(|c| c.bound_gamma_n_v2),
            solve_residual: cert.map(|c| c.solve_residual),
            certificate_bound: cert
                .map(|c| c.certificate_bound)
                .or(release.map(|r| r.sensitivity_bound)),
            step_residual_norm: cert.and_then(|c| c.step_residual_norm),
            beta_before: cert.map(|c| c.beta_before),
            epsilon_spent: outcome.epsilon_spent(),
            epsilon_spent_analytic: cert.and_then(|c| c.epsilon_spent_analytic),
            certified: outcome.certified(),
            step_seconds: cert.map(|c| c.step_seconds),
            retrain_seconds: charged.map(|(.., seconds)| seconds),
            rounding_allowance: release.map(|r| r.rounding_allowance),
            sensitivity_worst_case: release.map(|r| r.sensitivity_worst_case),
            cg_iterations: cert.map(|c| c.classes.iter().map(|s| s.cg_iterations).sum()),
            factored: cert.map(|c| c.classes.iter().any(|s| s.factored)),
        });
        progress.requests(i + 1, total);
        if exceeded && supported.is_none() {
            supported = Some(i);
            if cfg.removal.stop_when_budget_exceeded {
                stopped_early = i + 1 < total;
                break;
            }
        }
    }
    timings.removals = t.elapsed().as_secs_f64();
    let ledger_path = match (ledger, &strategy) {
        (Some(l), Trained::Newton(model)) => Some(l.finish(model)?),
        _ => None,
    };
    let served = removals.len();
    let supported_removals = supported.unwrap_or(served);
    let removed: Vec<usize> = removals.iter().flat_map(|r| r.indices.clone()).collect();
    let supported_rows: usize = removals[..supported_removals]
        .iter()
        .map(|r| r.indices.len())
        .sum();

    let t = Instant::now();
    let test_accuracy_after = if classification {
        strategy.accuracy(&data.test)?
    } else {
        f64::NAN
    };
    let removed_accuracy_after = if classification && !removed.is_empty() {
        strategy.accuracy_on_rows(&train, &removed)?
    } else {
        f64::NAN
    };
    timings.evaluation += t.elapsed().as_secs_f64();

    progress.phase("reference retrain");
    let active = strategy.active().to_vec();
    let remaining: Vec<usize> = (0..active.len()).filter(|&i| active[i]).collect();
    let Retrained {
        weights: w_ref,
        classes: ref_classes,
        seconds: ref_seconds,
        iterations: ref_iterations,
        residual: ref_residual,
    } = reference_retrain(cfg, &train, &active, cfg.seed)?;
    timings.reference_retrain = ref_seconds;
    let final_weights = strategy.weights();
    let reference = RetrainRecord {
        seconds: ref_seconds,
        n_rows: remaining.len(),
        iterations: ref_iterations,
        residual_norm: ref_residual,
        test_accuracy: if classification {
            accuracy_of(&w_ref, &ref_classes, &data.test)
        } else {
            f64::NAN
        },
        removed_accuracy: if classification && !removed.is_empty() {
            accuracy_of(&w_ref, &ref_classes, &train.select(&removed)?)
        } else {
            f64::NAN
        },
        weight_distance: final_weights
            .as_ref()
            .map(|w| lethe_removal::weight_distance(w, &w_ref)),
    };

    let seconds: Vec<f64> = removals.iter().map(|r| r.seconds).collect();
    let mut retrain_times = budget_retrain_seconds;
    retrain_times.push(ref_seconds);
    let certs: Vec<f64> = removals
        .iter()
        .filter_map(|r| r.certificate_bound)
        .collect();
    let last = removals.last();
    let budget = newton_info
        .as_ref()
        .map(|(_, _, _, b, _)| *b)
        .or(last.and_then(|r| r.budget));
    let r0 = newton_info.as_ref().map(|(s, ..)| s.residual_norm);
    let certificate_bound_mean = (!certs.is_empty()).then(|| mean(&certs));
    let expected_supported_removals = match (budget, r0, certificate_bound_mean) {
        (Some(b), Some(r0), Some(m)) => Some(if m > 0.0 {
            ((b - r0) / m).max(0.0)
        } else if b >= r0 {
            f64::INFINITY
        } else {
            0.0
        }),
        _ => None,
    };
    let sum_opt = |f: fn(&RemovalRecord) -> Option<f64>| -> Option<f64> {
        let v: Vec<f64> = removals.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let budget_analytic = match (&cfg.removal.strategy.0, cfg.model.noise) {
        (StrategySpec::Newton, lethe_models::NoiseKind::Gaussian) => {
            Some(cfg.model.noise.residual_budget(
                cfg.model.sigma,
                cfg.certificate.epsilon,
                cfg.certificate.delta,
                lethe_models::Accounting::Analytic,
            ))
        }
        _ => None,
    };
    // Null when the run stopped early at its own budget before β reached the analytic one:
    // the count is then not known.
    let supported_removals_analytic = budget_analytic
        .filter(|_| cfg.removal.budget_policy == BudgetPolicy::Never)
        .and_then(|b| {
            removals
                .iter()
                .position(|r| r.beta.is_some_and(|beta| !(beta <= b)))
                .or((!stopped_early).then_some(served))
        });
    let removal_seconds_median = median(&seconds);
    let retrain_seconds_median = median(&retrain_times);
    let summary = Summary {
        requests: served,
        supported_removals,
        retrains: removals.iter().filter(|r| r.retrained).count(),
        test_accuracy_after,
        removal_seconds_median,
        retrain_seconds_median,
        rows_removed: removed.len(),
        supported_rows,
        removal_seconds_mean: mean(&seconds),
        removal_seconds_total: seconds.iter().sum(),
        retrains_timed: retrain_times.len(),
        speedup_median: retrain_seconds_median / removal_seconds_median,
        removed_accuracy_after,
        stopped_early,
        beta_final: last.and_then(|r| r.beta).or(r0),
        budget,
        epsilon_spent_final: match last {
            Some(r) => r.epsilon_spent,
            None => initial_epsilon.and_then(|(e, _)| e),
        },
        epsilon_spent_analytic_final: match last {
            Some(r) => r.epsilon_spent_analytic,
            None => initial_epsilon.and_then(|(_, e)| e),
        },
        budget_analytic,
        supported_removals_analytic,
        // Without requests: whether the trained model itself is certified.
        certified_final: last
            .and_then(|r| r.certified)
            .or(newton_info.as_ref().map(|(.., c)| *c)),
        certificate_bound_mean,
        expected_supported_removals,
        bound_data_dependent_total: sum_opt(|r| r.bound_data_dependent),
        bound_worst_case_total: sum_opt(|r| r.bound_worst_case),
        residual_norm_final: last.and_then(|r| r.residual_norm),
        deletion_capacity_worst_case: match spec {
            StrategySpec::OutputPerturbation => lethe_removal::output_perturbation_capacity(
                cparams.model.loss,
                cparams.model.lambda,
                classes.len(),
                train.n_samples(),
                cparams.model.noise.residual_budget(
                    cparams.model.sigma,
                    cparams.epsilon,
                    cparams.delta,
                    cparams.accounting,
                ),
            ),
            _ => None,
        },
    };

    let mut audit_scores = None;
    let mut audit = match &cfg.audit {
        Some(audit_config) => {
            progress.phase("audit");
            let t = Instant::now();
            let record = match (initial_audit_model, strategy.audit_model()) {
                (Some(original), Some(unlearned)) => {
                    let mut targets = vec![
                        AuditTarget {
                            name: "original",
                            model: original,
                            certification: Certification::new(
                                CertificateKind::NotARemoval,
                                None,
                                None,
                                "the model before removal: the forget rows are training members",
                            ),
                            control: false,
                            training_rows: active.len(),
                        },
                        AuditTarget {
                            name: "unlearned",
                            model: unlearned,
                            certification: unlearned_certification(
                                cfg,
                                run_guarantee(cfg, strategy.guarantee()),
                                &summary,
                            ),
                            control: true,
                            training_rows: remaining.len(),
                        },
                        AuditTarget {
                            name: "retrained",
                            model: AuditModel::Linear(w_ref.clone()),
                            certification: Certification::new(
                                CertificateKind::Reference,
                                Some(0.0),
                                Some(0.0),
                                "retrained from scratch on the remaining rows with a fresh b \
                                 (Algorithm 1): the distribution removals are compared with",
                            ),
                            control: false,
                            training_rows: remaining.len(),
                        },
                    ];
                    if let Trained::Sisa(s) = &strategy {
                        let seed = Purpose::AuditSisaRetrain.derived_seed(cfg.seed, 0);
                        let fresh = SisaStrategy::train_masked(
                            cparams.model,
                            Arc::clone(&train),
                            seed,
                            s.config(),
                            active.clone(),
                        )?;
                        targets.push(AuditTarget {
                            name: "retrained_ensemble",
                            model: AuditModel::sisa(&fresh),
                            certification: Certification::new(
                                CertificateKind::Reference,
                                Some(0.0),
                                Some(0.0),
                                format!(
                                    "SISA retrained from scratch on the remaining rows with fresh \
                                     randomness (partition and b from seed {seed})"
                                ),
                            ),
                            control: false,
                            training_rows: remaining.len(),
                        });
                    }
                    let (mut record, scores) = run_audit_with_scores(
                        cfg,
                        audit_config,
                        &data,
                        &classes,
                        &removed,
                        &remaining,
                        &targets,
                    )?;
                    if let Some(game) = &audit_config.game {
                        progress.phase("certified-removal game");
                        record.game = Some(crate::game::run_game(
                            cfg,
                            game,
                            audit_config.epsilon_confidence,
                            audit_config.epsilon_delta.unwrap_or(cfg.certificate.delta),
                            &train,
                            &requests[..served],
                            run_guarantee(cfg, strategy.guarantee()),
                        )?);
                    }
                    audit_scores = Some(scores);
                    record
                }
                _ => AuditRecord::skipped(format!(
                    "strategy `{}` releases a model the audit cannot read (neither single \
                     weights nor SISA's shards)",
                    spec.name()
                )),
            };
            timings.audit = t.elapsed().as_secs_f64();
            Some(record)
        }
        None => None,
    };

    let compare = match &cfg.compare {
        Some(c) => {
            progress.phase("comparing strategies");
            let t = Instant::now();
            let specs: Vec<StrategySpec> = c.strategies.iter().map(|s| s.0.clone()).collect();
            let out = compare_strategies(
                &specs,
                certified_params(cfg),
                Arc::clone(&train),
                &data.test,
                &requests[..served],
                cfg.seed,
            )?;
            timings.compare = t.elapsed().as_secs_f64();
            Some(out)
        }
        None => None,
    };

    // Written last, so that a point failing before this leaves no scores file.
    if let (Some(target), Some(record), Some(scores)) =
        (scores_target, audit.as_mut(), audit_scores)
        && record.skipped.is_none()
    {
        let t = Instant::now();
        record.scores = Some(target.write(&scores)?);
        timings.audit += t.elapsed().as_secs_f64();
    }

    timings.total = start.elapsed().as_secs_f64();
    Ok(RunRecord {
        index,
        hash,
        params,
        seed: cfg.seed,
        config: config_value,
        provenance: Provenance {
            noise_secrecy: match &strategy {
                Trained::Newton(m) => m.noise_secrecy(),
                _ => NoiseSecrecy::DerivableFromSeed,
            },
            data_files: data.info.data_files.clone(),
            ..provenance.clone()
        },
        finished_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        data: data.info.clone(),
        train: train_record,
        removals,
        summary,
        reference_retrain: reference,
        audit,
        compare,
        timings,
        load_average_1m: load_average(),
        ledger: ledger_path,
    })
}

//! Experiment configs (`lethe.experiment/1`): typed structs, a validator that reports every
//! problem at once with its JSON path, and grid expansion.
//!
//! A config is read in three steps:
//! 1. the file is parsed to a [`serde_json::Value`] and walked by a schema ([`validate_value`]):
//!    unknown fields, wrong types and out-of-range values anywhere — including every value of
//!    the grid — are collected with paths like `$.model.lambda` or `$.grid["model.sigma"][2]`;
//! 2. every grid point is resolved (base config with the point's overrides) and checked for
//!    cross-field problems (a `csv` dataset without `path`, an audit without removals, …);
//! 3. the typed structs below are deserialised with `deny_unknown_fields` at every level, and
//!    defaults are made explicit ([`ExperimentConfig::resolve`]), so a result embeds the full
//!    resolved config.
//!
//! See the crate's README for the field reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lethe_data::{LabelColumn, RowNormalization};
use lethe_mia::attacks::{Lira, LiraScoring, OfflineA, Rmia, VarianceMode};
use lethe_mia::game::GameStatistic;
use lethe_mia::metrics::BootstrapOptions;
use lethe_mia::reference::ReferenceTraining;
use lethe_mia::scores::Statistic;
use lethe_models::{Accounting, LossKind, NoiseKind, SolverKind, SolverOptions};
use lethe_removal::{
    BoundKind, BudgetPolicy, DeletionOrder, FastPathOptions, OrderSpec, SpectralNormMode,
    StepSolver, StrategySpec,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{ConfigIssue, ConfigIssues, ExperimentError, Result};

/// The schema tag every experiment config carries.
pub const EXPERIMENT_SCHEMA: &str = "lethe.experiment/1";

/// Dataset names besides the bundled ones (`lethe_data::bundled::NAMES`).
pub const FILE_DATASETS: &[&str] = &["mnist", "fashion_mnist", "csv", "libsvm", "synthetic"];

/// Every accepted `dataset.name`.
pub fn dataset_names() -> Vec<&'static str> {
    lethe_data::bundled::NAMES
        .iter()
        .chain(FILE_DATASETS)
        .copied()
        .collect()
}

// =============================================================================================
// Typed config

/// A complete experiment config. Field names are the contract of DESIGN §6; everything else
/// is a documented extension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Always [`EXPERIMENT_SCHEMA`].
    pub schema: String,
    /// Name of the experiment: the result file is `<out>/<name>.json`. Letters, digits, `.`,
    /// `_` and `-` only.
    pub name: String,
    /// Free text, copied to the result and the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which figure or table of Guo et al. (2020) this experiment reproduces; the report then
    /// adds the paper's values and the matching plot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduces: Option<Reproduces>,
    /// The seed every random stream derives from (noise, splits, request orders, audits).
    #[serde(default)]
    pub seed: u64,
    /// The data.
    pub dataset: DatasetConfig,
    /// The model.
    pub model: ModelConfig,
    /// (ε, δ) of certified removal.
    #[serde(default)]
    pub certificate: CertificateConfig,
    /// The removal requests and how they are served.
    #[serde(default)]
    pub removal: RemovalConfig,
    /// Membership-inference audit of the removal (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditConfig>,
    /// Strategies compared with retraining on the same requests (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareConfig>,
    /// A sweep: dotted config path → list of values; the points are the Cartesian product
    /// (keys in sorted order, the last key varying fastest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid: BTreeMap<String, Vec<Value>>,
    /// Extension: a list of override sets (dotted path → value) applied *together*; the points
    /// are every variant × every grid combination (variants outermost). Use it for values that
    /// must change in lockstep (1000 single removals vs 100 batches of 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<BTreeMap<String, Value>>,
}

/// The figures and tables of Guo et al. (2020) that lethe's report knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reproduces {
    /// Figure 1 left: test accuracy vs σ for several λ.
    Guo2020Fig1Accuracy,
    /// Figure 1 middle and right: ε at 100 removals and supported removals at ε = 1.
    Guo2020Fig1Budget,
    /// Figure 2: cumulative gradient-residual norms over 1000 removals.
    Guo2020Fig2Residuals,
    /// Table 1: training and removal time.
    Guo2020Table1Timing,
}

/// `dataset.pixel_scale`: `"auto"`, `"none"` or a number m (features become x/m − 0.5).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum PixelScale {
    /// x/255 − 0.5 for MNIST and Fashion-MNIST, x/16 − 0.5 for the bundled digits, nothing
    /// otherwise.
    #[default]
    Auto,
    /// No pixel scaling.
    None,
    /// x/m − 0.5.
    Max(f64),
}

impl Serialize for PixelScale {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            PixelScale::Auto => s.serialize_str("auto"),
            PixelScale::None => s.serialize_str("none"),
            PixelScale::Max(m) => s.serialize_f64(*m),
        }
    }
}

impl<'de> Deserialize<'de> for PixelScale {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s == "auto" => Ok(PixelScale::Auto),
            Value::String(s) if s == "none" => Ok(PixelScale::None),
            Value::Number(n) => n
                .as_f64()
                .filter(|m| m.is_finite() && *m > 0.0)
                .map(PixelScale::Max)
                .ok_or_else(|| serde::de::Error::custom("pixel_scale must be a number > 0")),
            other => Err(serde::de::Error::custom(format!(
                "pixel_scale must be \"auto\", \"none\" or a number > 0, got {other}"
            ))),
        }
    }
}

/// `dataset`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A bundled set (`breast_cancer`, `digits`), `mnist`, `fashion_mnist`, `csv`, `libsvm` or
    /// `synthetic`.
    pub name: String,
    /// Classes to keep. Two classes `[a, b]`: a → +1, b → −1 (the paper's `[3, 8]`). More:
    /// those classes, one-vs-rest. Omitted: every class (one-vs-rest for more than two; 0/1
    /// labels become 1 → +1, 0 → −1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<f64>>,
    /// File of a `csv` or `libsvm` dataset (relative: against `--data-dir`, then the config's
    /// directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Separate test file (same format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<String>,
    /// Fraction of rows held out for testing (seeded split). Default: the official test set
    /// for MNIST / Fashion-MNIST, `test_path` when given, else 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// CSV label column: 0-based index or header name (default: the first column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<LabelColumn>,
    /// Extension: whether the CSV file has a header line (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_header: Option<bool>,
    /// Extension: number of features of a LibSVM file (default: the largest index present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_features: Option<usize>,
    /// Row scaling: `unit_norm` (default), `max_norm` or `none`.
    #[serde(default)]
    pub normalize: RowNormalization,
    /// Standardise columns (fitted on the training split) before row scaling.
    #[serde(default)]
    pub standardize: bool,
    /// Extension: pixel scaling before everything else (see [`PixelScale`]).
    #[serde(default)]
    pub pixel_scale: PixelScale,
    /// Extension: seed of the train/test split (default: the experiment seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Synthetic data: number of rows (train + test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Synthetic data: number of features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<usize>,
    /// Synthetic data: seed (default: the experiment seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Synthetic logistic data: scale of the planted weights (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<f64>,
    /// Synthetic regression data (squared loss): label noise (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_std: Option<f64>,
}

/// `model.noise_vector`: b given explicitly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NoiseVector {
    /// One b (binary models).
    Single(Vec<f64>),
    /// One b_k per class model (one-vs-rest).
    PerClass(Vec<Vec<f64>>),
}

impl NoiseVector {
    /// The vectors, one per class model.
    pub fn vectors(&self) -> Vec<Vec<f64>> {
        match self {
            NoiseVector::Single(v) => vec![v.clone()],
            NoiseVector::PerClass(v) => v.clone(),
        }
    }
}

fn logistic() -> LossKind {
    LossKind::Logistic
}

/// `model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `logistic` (γ = 1/4, default), `logistic_tight` (γ = 1/(6√3)) or `squared`.
    #[serde(default = "logistic")]
    pub loss: LossKind,
    /// λ > 0 (sum scale: the regulariser is λn/2 ‖w‖²).
    pub lambda: f64,
    /// σ ≥ 0, the scale of the perturbation b.
    pub sigma: f64,
    /// `gaussian` (default) or `gamma_norm`.
    #[serde(default)]
    pub noise: NoiseKind,
    /// b given explicitly (d numbers, or K lists for one-vs-rest). A run with an explicit b is
    /// a **replay**: b is public, so nothing is certified (`guarantee` kind `replay`,
    /// `certified: false`, no ε), though every bound is still reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_vector: Option<NoiseVector>,
    /// Extension (deployment): a key file whose 256-bit secret seeds every noise stream of the
    /// model (training and retrains) instead of `seed`, so b is not derivable from the result.
    /// Created with 32 bytes of OS entropy (hex, mode 0600) if it does not exist; a relative
    /// path is resolved against the config's directory. Results and ledgers never contain
    /// the key or b (a ledger holds a SHA-256 commitment to b).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_key: Option<String>,
    /// Extension: the training solver `{kind, tolerance, max_iterations}` (default newton_pcg,
    /// ‖∇L_b‖ ≤ 1e-8, 1000 iterations).
    #[serde(default)]
    pub solver: SolverOptions,
}

fn default_epsilon() -> f64 {
    1.0
}

fn default_delta() -> f64 {
    1e-4
}

/// `certificate`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// ε > 0 (default 1).
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// δ ∈ (0, 1) (default 1e-4; unused by the `gamma_norm` noise, which is pure ε).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// `analytic` (default: the exact Gaussian privacy profile) or `paper` (σε/c; refused at an
    /// ε where it is not valid).
    #[serde(default)]
    pub accounting: Accounting,
}

impl Default for CertificateConfig {
    fn default() -> Self {
        Self {
            epsilon: default_epsilon(),
            delta: default_delta(),
            accounting: Accounting::default(),
        }
    }
}

/// A removal strategy: a name (`"newton"`) or a spec object (`{"strategy": "sisa",
/// "shards": 5}`), as `lethe_removal::StrategySpec` deserialises it.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig(pub StrategySpec);

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig(StrategySpec::Newton)
    }
}

impl StrategyConfig {
    /// Parses a name or a spec object.
    pub fn from_value(v: &Value) -> std::result::Result<Self, String> {
        let obj = match v {
            Value::String(s) => {
                let mut m = Map::new();
                m.insert("strategy".into(), Value::String(s.clone()));
                Value::Object(m)
            }
            Value::Object(_) => v.clone(),
            other => return Err(format!("expected a strategy name or object, got {other}")),
        };
        serde_json::from_value::<StrategySpec>(obj)
            .map(StrategyConfig)
            .map_err(|e| e.to_string())
    }
}

impl Serialize for StrategyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let v = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        match &v {
            Value::Object(m) if m.len() == 1 => {
                m.get("strategy").cloned().unwrap_or(v.clone()).serialize(s)
            }
            _ => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        StrategyConfig::from_value(&v).map_err(serde::de::Error::custom)
    }
}

/// A deletion order: a name (`"random"`) or an object as `lethe_removal::OrderSpec`
/// deserialises it (`{"order": "targeted", "target_class": 1}`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OrderConfig(pub OrderSpec);

/// Fields of `lethe_removal::OrderSpec`, for unknown-field checks.
const ORDER_FIELDS: &[&str] = &[
    "order",
    "target_class",
    "informed_by",
    "informed_model",
    "scores",
    "rate",
];

impl OrderConfig {
    /// Parses a name or an object.
    pub fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::String(_) => serde_json::from_value::<DeletionOrder>(v.clone())
                .map(|o| OrderConfig(OrderSpec::new(o)))
                .map_err(|e| e.to_string()),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| !ORDER_FIELDS.contains(&k.as_str())) {
                    return Err(format!(
                        "unknown field `{k}`, expected one of {}",
                        ORDER_FIELDS.join(", ")
                    ));
                }
                serde_json::from_value::<OrderSpec>(v.clone())
                    .map(OrderConfig)
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("expected an order name or object, got {other}")),
        }
    }
}

impl Serialize for OrderConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 == OrderSpec::new(self.0.order.clone()) {
            self.0.order.serialize(s)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for OrderConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        OrderConfig::from_value(&v).map_err(serde::de::Error::custom)
    }
}

/// `removal.indices`: rows to remove explicitly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Indices {
    /// A flat list of rows, cut into requests of `batch_size`.
    Flat(Vec<usize>),
    /// A list of batches, one request each.
    Batches(Vec<Vec<usize>>),
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// `removal`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalConfig {
    /// `newton` (default), `retrain`, `influence`, `sisa`, … (see [`StrategyConfig`]).
    #[serde(default)]
    pub strategy: StrategyConfig,
    /// Number of removal requests (default 0: train, test and time one retrain only).
    #[serde(default)]
    pub requests: usize,
    /// Rows per request (default 1).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Deletion order: `random` (default), `targeted`, `informed`, … (see [`OrderConfig`]).
    #[serde(default)]
    pub order: OrderConfig,
    /// How a Newton step is solved: `cholesky` (default, the paper's) or the fast paths that
    /// `lethe_removal::StepSolver` offers.
    #[serde(default)]
    pub solver: StepSolver,
    /// Explicit requests: 0-based training rows (flat: cut into `batch_size`; nested: batches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indices: Option<Indices>,
    /// Extension: the bound charged to the budget, `data_dependent` (default, the paper's) or
    /// `tight`.
    #[serde(default)]
    pub bound: BoundKind,
    /// Extension: `retrain` (Algorithm 2, default) or `never` (apply every step and report ε).
    #[serde(default)]
    pub budget_policy: BudgetPolicy,
    /// Extension: stop the sequence after the first request that exceeds the budget.
    #[serde(default)]
    pub stop_when_budget_exceeded: bool,
    /// Extension: which ‖X‖₂ upper bound: `training` (default) or `remaining`.
    #[serde(default)]
    pub spectral_norm: SpectralNormMode,
    /// Extension: compute the exact residual for every request (default true).
    #[serde(default = "yes")]
    pub exact_residual: bool,
    /// Extension: tuning of the fast step solvers.
    #[serde(default)]
    pub fast_path: FastPathOptions,
    /// Extension: write a tamper-evident certificate ledger (`lethe_removal::ledger`) beside
    /// the result, `OUT/<name>.ledgers/<index>-<hash>.jsonl`, replayable with `lethe verify`
    /// (`newton` only; default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ledger: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for RemovalConfig {
    fn default() -> Self {
        Self {
            strategy: StrategyConfig::default(),
            requests: 0,
            batch_size: 1,
            order: OrderConfig::default(),
            solver: StepSolver::default(),
            indices: None,
            bound: BoundKind::default(),
            budget_policy: BudgetPolicy::default(),
            stop_when_budget_exceeded: false,
            spectral_norm: SpectralNormMode::default(),
            exact_residual: true,
            fast_path: FastPathOptions::default(),
            ledger: false,
        }
    }
}

fn loss_statistic() -> Vec<AuditAttack> {
    vec![AuditAttack::Statistic(Statistic::Loss)]
}

fn default_epsilon_confidence() -> f64 {
    0.95
}

/// `audit` (extension): a membership-inference audit of the removal. Members are the removed
/// rows (the forget set), non-members an equally large seeded sample of the test set; the same
/// attack runs on the model before removal, the unlearned model and the reference retrained
/// model (and, as a control, on retained training rows vs the test set). For every
/// forget-set result the runner also reports an empirical ε lower bound (Clopper–Pearson at
/// `epsilon_confidence`, for `epsilon_delta`) next to the ε the removal certifies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The attacks: threshold attacks by statistic — `loss` (Yeom et al.'s LOSS attack,
    /// default), `confidence`, `logit_confidence`, `entropy`, `modified_entropy` — and
    /// attacks with reference models as objects, `{"attack": "lira", …}` and
    /// `{"attack": "rmia", …}` (see [`ReferenceAttack`]).
    #[serde(default = "loss_statistic")]
    pub attacks: Vec<AuditAttack>,
    /// Bootstrap of the intervals (default 1000 replicates, 95 %, seed = experiment seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapOptions>,
    /// Number of ROC points kept per attack (default 100; 0 drops the curves).
    #[serde(default = "default_roc_points")]
    pub roc_points: usize,
    /// Joint confidence of the empirical ε lower bounds (default 0.95).
    #[serde(default = "default_epsilon_confidence")]
    pub epsilon_confidence: f64,
    /// The δ the empirical ε lower bounds assume (default: `certificate.delta`, made explicit
    /// when the config is resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon_delta: Option<f64>,
    /// At most this many population rows for the reference models of LiRA and RMIA (a
    /// seeded sample; default: every training and test row outside the evaluated rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population_size: Option<usize>,
    /// How many rows each reference model of LiRA and RMIA trains on: `target` (default) as
    /// many as the attacked model (original: every training row; unlearned and retrained: the
    /// remaining rows; SISA: the same rows, split into the same number of shards), or
    /// `half_pool`, the balanced design where each model sees about half of the pool (the
    /// behaviour before this option). Where the pool cannot supply the rows, the audit warns
    /// (`audit.warnings`) and records requested and actual sizes in `attack.reference`.
    #[serde(default)]
    pub reference_rows: ReferenceRows,
    /// Which rows RMIA compares with (its population points z): `held_out` (default) test
    /// rows outside the evaluated non-members, which no audited model trained on, or
    /// `reference_population`, the reference models' whole population (which also holds
    /// training rows of the attacked model; the behaviour before this option).
    #[serde(default)]
    pub rmia_population: RmiaPopulation,
    /// At most this many members (and as many non-members) per evaluation (default: as many
    /// as possible, min(removed, test, remaining rows)). Capping it leaves test rows outside
    /// the non-members for RMIA's `held_out` population points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_members: Option<usize>,
    /// The certified-removal game (`crate::game`): T unlearned draws against T retrained
    /// draws, an (ε, δ) lower bound at `epsilon_confidence` and `epsilon_delta` next to the
    /// mechanism's claim. Absent: not played.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game: Option<GameConfig>,
}

/// `audit.reference_rows`: the training-set size of LiRA's and RMIA's reference models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceRows {
    /// As many rows as the attacked model (`lethe_mia::reference::ReferenceConfig::training_rows`).
    #[default]
    Target,
    /// Every pool row in exactly half of the models (about half of the pool per model).
    HalfPool,
}

/// `audit.rmia_population`: where RMIA's population points z come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RmiaPopulation {
    /// Test rows outside the evaluated non-members: non-members of every audited model.
    #[default]
    HeldOut,
    /// The reference models' whole population (training rows of the attacked model included).
    ReferencePopulation,
}

/// `audit.game`: draws per side and the statistics the selection half chooses from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GameConfig {
    /// Unlearned draws and retrained draws T, each (≥ 4; default 1000).
    #[serde(default = "default_game_trials")]
    pub trials: usize,
    /// `forget_loss`, `projection`, `distance` (`lethe_mia::game::GameStatistic`; default
    /// all; SISA's ensemble uses `forget_loss` only).
    #[serde(default = "all_game_statistics")]
    pub statistics: Vec<GameStatistic>,
}

fn default_game_trials() -> usize {
    1000
}

fn all_game_statistics() -> Vec<GameStatistic> {
    GameStatistic::ALL.to_vec()
}

/// One entry of `audit.attacks`: a statistic name (a threshold attack) or an attack object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuditAttack {
    /// A threshold attack on one statistic (`"loss"`, `"confidence"`, …).
    Statistic(Statistic),
    /// An attack with reference models.
    Reference(ReferenceAttack),
}

/// An audit attack with reference models, tagged by `attack`. Reference models are trained
/// like the attacked model (loss, λ, σ, noise, solver; ensembles of the same size and
/// aggregation for SISA) on a population that never contains an evaluated row: every row of
/// the training and test sets outside the evaluation's members and non-members. Online, the
/// evaluated rows join the pool and every one is IN exactly half of the reference models
/// (`lethe_mia::reference`); offline, the reference models see the population only. Each
/// reference model trains on as many rows as the attacked model where the pool allows
/// (`audit.reference_rows`). RMIA's population points are test rows outside the evaluated
/// non-members (`audit.rmia_population`). LiRA and RMIA entries with the same `n_reference`,
/// `online`, `seed` and `training` share their reference models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case")]
pub enum ReferenceAttack {
    /// LiRA (Carlini et al., IEEE S&P 2022): `lethe_mia::attacks::Lira`.
    Lira(LiraAttackConfig),
    /// RMIA (Zarifzadeh et al., ICML 2024): `lethe_mia::attacks::Rmia`.
    Rmia(RmiaAttackConfig),
}

/// `{"attack": "lira", …}`: the fields of `lethe_mia::attacks::Lira`; `seed` defaults to the
/// experiment seed (lethe-mia's streams are namespaced, so they never coincide with the
/// training streams of the same seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiraAttackConfig {
    /// Number of reference models K (even; default 64).
    pub n_reference: usize,
    /// Online (default) or offline.
    pub online: bool,
    /// `per_example` (default) or `global` variances.
    pub variance: VarianceMode,
    /// `density` (default) or `one_sided_likelihood_ratio` (offline only).
    pub scoring: LiraScoring,
    /// Seed of the reference models (default: the experiment seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Solver tolerance and warm start of the reference models.
    pub training: ReferenceTraining,
}

impl Default for LiraAttackConfig {
    fn default() -> Self {
        let d = Lira::default();
        Self {
            n_reference: d.n_reference,
            online: d.online,
            variance: d.variance,
            scoring: d.scoring,
            seed: None,
            training: d.training,
        }
    }
}

impl LiraAttackConfig {
    /// The lethe-mia attack, with `default_seed` when no seed is given.
    pub fn attack(&self, default_seed: u64) -> Lira {
        Lira {
            n_reference: self.n_reference,
            online: self.online,
            variance: self.variance,
            scoring: self.scoring,
            seed: self.seed.unwrap_or(default_seed),
            training: self.training,
        }
    }
}

/// `{"attack": "rmia", …}`: the fields of `lethe_mia::attacks::Rmia`; `seed` as for LiRA.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RmiaAttackConfig {
    /// Number of reference models K (even; default 64).
    pub n_reference: usize,
    /// Online (default) or offline.
    pub online: bool,
    /// γ ≥ 1 (default 1).
    pub gamma: f64,
    /// Population points z (capped at the population size; default 1000).
    pub n_population_points: usize,
    /// The offline interpolation: a fixed a ∈ [0, 1] (default 0.3) or `"tune"` (tuned on the
    /// reference models as ml_privacy_meter does; see `lethe_mia::attacks::Rmia`).
    pub offline_a: OfflineA,
    /// Seed of the reference models and of the choice of z (default: the experiment seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Solver tolerance and warm start of the reference models.
    pub training: ReferenceTraining,
}

impl Default for RmiaAttackConfig {
    fn default() -> Self {
        let d = Rmia::default();
        Self {
            n_reference: d.n_reference,
            online: d.online,
            gamma: d.gamma,
            n_population_points: d.n_population_points,
            offline_a: d.offline_a,
            seed: None,
            training: d.training,
        }
    }
}

impl RmiaAttackConfig {
    /// The lethe-mia attack, with `default_seed` when no seed is given.
    pub fn attack(&self, default_seed: u64) -> Rmia {
        Rmia {
            n_reference: self.n_reference,
            online: self.online,
            gamma: self.gamma,
            n_population_points: self.n_population_points,
            offline_a: self.offline_a,
            seed: self.seed.unwrap_or(default_seed),
            training: self.training,
        }
    }
}

fn default_roc_points() -> usize {
    100
}

/// `compare` (extension): strategies run on the same request sequence and measured against
/// retraining (`lethe_removal::compare_strategies`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// The strategies (names or spec objects).
    pub strategies: Vec<StrategyConfig>,
}

impl ExperimentConfig {
    /// Deserialises a config value (no validation beyond serde's).
    ///
    /// # Errors
    /// [`ExperimentError::Json`] with serde's message.
    pub fn from_value(v: &Value) -> Result<Self> {
        serde_json::from_value(v.clone()).map_err(|e| ExperimentError::Json {
            path: PathBuf::from("<config>"),
            what: e.to_string(),
        })
    }

    /// The config with every default made explicit: the test split, the split seed, the pixel
    /// scale, the synthetic seed and parameters, CSV options and the number of requests of
    /// explicit indices.
    pub fn resolve(&self) -> Self {
        let mut c = self.clone();
        let ds = &mut c.dataset;
        let image = matches!(ds.name.as_str(), "mnist" | "fashion_mnist");
        if ds.test_fraction.is_none() && ds.test_path.is_none() && !image {
            ds.test_fraction = Some(0.2);
        }
        if ds.test_fraction.is_some() && ds.split_seed.is_none() {
            ds.split_seed = Some(self.seed);
        }
        if ds.pixel_scale == PixelScale::Auto {
            ds.pixel_scale = match ds.name.as_str() {
                "mnist" | "fashion_mnist" => PixelScale::Max(255.0),
                "digits" => PixelScale::Max(16.0),
                _ => PixelScale::None,
            };
        }
        match ds.name.as_str() {
            "synthetic" => {
                ds.seed.get_or_insert(self.seed);
                if c.model.loss == LossKind::Squared {
                    ds.noise_std.get_or_insert(0.1);
                } else {
                    ds.signal.get_or_insert(3.0);
                }
            }
            "csv" => {
                ds.label_column.get_or_insert(LabelColumn::Index(0));
                ds.has_header.get_or_insert(true);
            }
            _ => {}
        }
        let r = &mut c.removal;
        if let Some(ix) = &r.indices {
            r.requests = match ix {
                Indices::Flat(v) => v.len().div_ceil(r.batch_size.max(1)),
                Indices::Batches(b) => b.len(),
            };
        }
        if let Some(a) = &mut c.audit {
            if a.bootstrap.is_none() {
                a.bootstrap = Some(BootstrapOptions {
                    seed: self.seed,
                    ..BootstrapOptions::default()
                });
            }
            a.epsilon_delta.get_or_insert(self.certificate.delta);
            for attack in &mut a.attacks {
                match attack {
                    AuditAttack::Statistic(_) => {}
                    AuditAttack::Reference(ReferenceAttack::Lira(l)) => {
                        l.seed.get_or_insert(self.seed);
                    }
                    AuditAttack::Reference(ReferenceAttack::Rmia(r)) => {
                        r.seed.get_or_insert(self.seed);
                    }
                }
            }
        }
        c
    }
}

// =============================================================================================
// Schema and validation

type Check = fn(&Value, &str, &mut Vec<ConfigIssue>);

/// What a field holds.
enum Kind {
    /// An object with these fields (unknown fields are errors).
    Object(&'static [Field]),
    /// A leaf checked by a function.
    Leaf(Check),
}

/// One field of the schema.
struct Field {
    name: &'static str,
    required: bool,
    kind: Kind,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        required: true,
        kind,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        required: false,
        kind,
    }
}

const ROOT: &[Field] = &[
    req("schema", Kind::Leaf(check_schema)),
    req("name", Kind::Leaf(check_name)),
    opt("description", Kind::Leaf(string)),
    opt("reproduces", Kind::Leaf(de::<Reproduces>)),
    opt("seed", Kind::Leaf(uint)),
    req("dataset", Kind::Object(DATASET)),
    req("model", Kind::Object(MODEL)),
    opt("certificate", Kind::Object(CERTIFICATE)),
    opt("removal", Kind::Object(REMOVAL)),
    opt("audit", Kind::Object(AUDIT)),
    opt("compare", Kind::Object(COMPARE)),
    opt("grid", Kind::Leaf(any)),
    opt("variants", Kind::Leaf(any)),
];

const DATASET: &[Field] = &[
    req("name", Kind::Leaf(check_dataset_name)),
    opt("classes", Kind::Leaf(check_classes)),
    opt("path", Kind::Leaf(string)),
    opt("test_path", Kind::Leaf(string)),
    opt("test_fraction", Kind::Leaf(open_unit)),
    opt("label_column", Kind::Leaf(check_label_column)),
    opt("has_header", Kind::Leaf(boolean)),
    opt("n_features", Kind::Leaf(pos_int)),
    opt("normalize", Kind::Leaf(de::<RowNormalization>)),
    opt("standardize", Kind::Leaf(boolean)),
    opt("pixel_scale", Kind::Leaf(de::<PixelScale>)),
    opt("split_seed", Kind::Leaf(uint)),
    opt("n", Kind::Leaf(pos_int)),
    opt("d", Kind::Leaf(pos_int)),
    opt("seed", Kind::Leaf(uint)),
    opt("signal", Kind::Leaf(non_negative)),
    opt("noise_std", Kind::Leaf(non_negative)),
];

const MODEL: &[Field] = &[
    opt("loss", Kind::Leaf(de::<LossKind>)),
    req("lambda", Kind::Leaf(check_lambda)),
    req("sigma", Kind::Leaf(check_sigma)),
    opt("noise", Kind::Leaf(de::<NoiseKind>)),
    opt("noise_vector", Kind::Leaf(check_noise_vector)),
    opt("noise_key", Kind::Leaf(check_noise_key)),
    opt("solver", Kind::Object(MODEL_SOLVER)),
];

const MODEL_SOLVER: &[Field] = &[
    opt("kind", Kind::Leaf(de::<SolverKind>)),
    opt("tolerance", Kind::Leaf(check_tolerance)),
    opt("max_iterations", Kind::Leaf(pos_int)),
];

const CERTIFICATE: &[Field] = &[
    opt("epsilon", Kind::Leaf(check_epsilon)),
    opt("delta", Kind::Leaf(check_delta)),
    opt("accounting", Kind::Leaf(de::<Accounting>)),
];

const REMOVAL: &[Field] = &[
    opt("strategy", Kind::Leaf(check_strategy)),
    opt("requests", Kind::Leaf(uint)),
    opt("batch_size", Kind::Leaf(pos_int)),
    opt("order", Kind::Leaf(check_order)),
    opt("solver", Kind::Leaf(de::<StepSolver>)),
    opt("indices", Kind::Leaf(check_indices)),
    opt("bound", Kind::Leaf(de::<BoundKind>)),
    opt("budget_policy", Kind::Leaf(de::<BudgetPolicy>)),
    opt("stop_when_budget_exceeded", Kind::Leaf(boolean)),
    opt("spectral_norm", Kind::Leaf(de::<SpectralNormMode>)),
    opt("exact_residual", Kind::Leaf(boolean)),
    opt("fast_path", Kind::Leaf(check_fast_path)),
    opt("ledger", Kind::Leaf(boolean)),
];

const AUDIT: &[Field] = &[
    opt("attacks", Kind::Leaf(check_attacks)),
    opt("bootstrap", Kind::Leaf(check_bootstrap)),
    opt("roc_points", Kind::Leaf(uint)),
    opt("epsilon_confidence", Kind::Leaf(open_unit)),
    opt("epsilon_delta", Kind::Leaf(check_delta)),
    opt("population_size", Kind::Leaf(pos_int)),
    opt("reference_rows", Kind::Leaf(de::<ReferenceRows>)),
    opt("rmia_population", Kind::Leaf(de::<RmiaPopulation>)),
    opt("max_members", Kind::Leaf(pos_int)),
    opt("game", Kind::Object(AUDIT_GAME)),
];

/// `audit.game`.
const AUDIT_GAME: &[Field] = &[
    opt("trials", Kind::Leaf(check_game_trials)),
    opt("statistics", Kind::Leaf(check_game_statistics)),
];

/// `audit.attacks[i]` with `"attack": "lira"`.
const AUDIT_LIRA: &[Field] = &[
    req("attack", Kind::Leaf(string)),
    opt("n_reference", Kind::Leaf(check_n_reference)),
    opt("online", Kind::Leaf(boolean)),
    opt("variance", Kind::Leaf(de::<VarianceMode>)),
    opt("scoring", Kind::Leaf(de::<LiraScoring>)),
    opt("seed", Kind::Leaf(uint)),
    opt("training", Kind::Object(REFERENCE_TRAINING)),
];

/// `audit.attacks[i]` with `"attack": "rmia"`.
const AUDIT_RMIA: &[Field] = &[
    req("attack", Kind::Leaf(string)),
    opt("n_reference", Kind::Leaf(check_n_reference)),
    opt("online", Kind::Leaf(boolean)),
    opt("gamma", Kind::Leaf(check_gamma)),
    opt("n_population_points", Kind::Leaf(pos_int)),
    opt("offline_a", Kind::Leaf(check_offline_a)),
    opt("seed", Kind::Leaf(uint)),
    opt("training", Kind::Object(REFERENCE_TRAINING)),
];

/// `training` of a reference-model attack (`lethe_mia::reference::ReferenceTraining`).
const REFERENCE_TRAINING: &[Field] = &[
    opt("tolerance", Kind::Leaf(positive_or_null)),
    opt("warm_start", Kind::Leaf(boolean)),
];

const COMPARE: &[Field] = &[req("strategies", Kind::Leaf(check_strategies))];

/// Paths that a grid or a variant may not change.
const FIXED_PATHS: &[&str] = &["schema", "name", "grid", "variants", "reproduces"];

/// `$.a.b` for identifier-like keys, `$["a.b"]` otherwise.
pub fn child_path(parent: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if simple {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Value::String(key.to_string()))
    }
}

fn index_path(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Which dotted paths the grid or every variant provides (so the base may leave them out).
struct Provided<'a> {
    prefix: String,
    paths: &'a BTreeSet<String>,
}

impl Provided<'_> {
    fn child(&self, key: &str) -> Provided<'_> {
        Provided {
            prefix: if self.prefix.is_empty() {
                key.to_string()
            } else {
                format!("{}.{key}", self.prefix)
            },
            paths: self.paths,
        }
    }

    /// Whether this path or one of its parents is provided.
    fn covers(&self) -> bool {
        let mut p = self.prefix.as_str();
        loop {
            if self.paths.contains(p) {
                return true;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return false,
            }
        }
    }
}

fn check_kind(v: &Value, kind: &Kind, path: &str, out: &mut Vec<ConfigIssue>) {
    let none = BTreeSet::new();
    check_kind_in(
        v,
        kind,
        path,
        &Provided {
            prefix: String::new(),
            paths: &none,
        },
        out,
    );
}

fn check_kind_in(
    v: &Value,
    kind: &Kind,
    path: &str,
    provided: &Provided<'_>,
    out: &mut Vec<ConfigIssue>,
) {
    match kind {
        Kind::Leaf(f) => f(v, path, out),
        Kind::Object(fields) => check_object(v, fields, path, provided, out),
    }
}

fn check_object(
    v: &Value,
    fields: &[Field],
    path: &str,
    provided: &Provided<'_>,
    out: &mut Vec<ConfigIssue>,
) {
    let Value::Object(map) = v else {
        out.push(ConfigIssue::new(
            path,
            format!("expected an object, found {}", type_name(v)),
        ));
        return;
    };
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) {
            out.push(ConfigIssue::new(
                child_path(path, key),
                format!(
                    "unknown field `{key}` (expected one of: {})",
                    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for field in fields {
        let sub = provided.child(field.name);
        match map.get(field.name) {
            Some(value) => {
                check_kind_in(value, &field.kind, &child_path(path, field.name), &sub, out)
            }
            None if field.required && !sub.covers() => out.push(ConfigIssue::new(
                child_path(path, field.name),
                "missing required field",
            )),
            None => {}
        }
    }
}

fn lookup_kind(dotted: &str) -> Option<&'static Kind> {
    let mut fields = ROOT;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = fields.iter().find(|f| f.name == part)?;
        if parts.peek().is_none() {
            return Some(&field.kind);
        }
        match &field.kind {
            Kind::Object(inner) => fields = inner,
            Kind::Leaf(_) => return None,
        }
    }
    None
}

fn finite(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) -> Option<f64> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Some(x),
        _ => {
            out.push(ConfigIssue::new(
                path,
                format!("expected a number, found {} ({})", type_name(v), shown(v)),
            ));
            None
        }
    }
}

fn any(_: &Value, _: &str, _: &mut Vec<ConfigIssue>) {}

fn string(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if !v.is_string() {
        out.push(ConfigIssue::new(
            path,
            format!("expected a string, found {}", type_name(v)),
        ));
    }
}

fn boolean(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if !v.is_boolean() {
        out.push(ConfigIssue::new(
            path,
            format!("expected true or false, found {}", type_name(v)),
        ));
    }
}

fn uint(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if v.as_u64().is_none() {
        out.push(ConfigIssue::new(
            path,
            format!(
                "expected a non-negative integer, found {} ({})",
                type_name(v),
                shown(v)
            ),
        ));
    }
}

fn pos_int(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_u64() {
        Some(n) if n >= 1 => {}
        _ => out.push(ConfigIssue::new(
            path,
            format!("expected an integer ≥ 1, found {}", shown(v)),
        )),
    }
}

fn positive(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x > 0.0)
    {
        out.push(ConfigIssue::new(path, format!("must be > 0, got {x}")));
    }
}

fn non_negative(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x >= 0.0)
    {
        out.push(ConfigIssue::new(path, format!("must be ≥ 0, got {x}")));
    }
}

fn open_unit(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x > 0.0 && x < 1.0)
    {
        out.push(ConfigIssue::new(
            path,
            format!("must lie strictly between 0 and 1, got {x}"),
        ));
    }
}

fn check_lambda(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x > 0.0)
    {
        out.push(ConfigIssue::new(
            path,
            format!("λ must be > 0 (the objective must be strongly convex), got {x}"),
        ));
    }
}

fn check_sigma(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x >= 0.0)
    {
        out.push(ConfigIssue::new(path, format!("σ must be ≥ 0, got {x}")));
    }
}

fn check_epsilon(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x > 0.0)
    {
        out.push(ConfigIssue::new(path, format!("ε must be > 0, got {x}")));
    }
}

fn check_delta(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x > 0.0 && x < 1.0)
    {
        out.push(ConfigIssue::new(
            path,
            format!("δ must lie in (0, 1), got {x}"),
        ));
    }
}

fn de<T: DeserializeOwned>(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Err(e) = serde_json::from_value::<T>(v.clone()) {
        out.push(ConfigIssue::new(path, format!("{e} (found {})", shown(v))));
    }
}

fn check_schema(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if v.as_str() != Some(EXPERIMENT_SCHEMA) {
        out.push(ConfigIssue::new(
            path,
            format!("expected \"{EXPERIMENT_SCHEMA}\", found {}", shown(v)),
        ));
    }
}

/// Whether `name` is usable as a result file name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_name(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_str() {
        Some(s) if valid_name(s) => {}
        Some(s) => out.push(ConfigIssue::new(
            path,
            format!(
                "\"{s}\" is not a valid experiment name: use 1–128 letters, digits, '.', '_' or \
                 '-', not starting with '.' (it names the result file)"
            ),
        )),
        None => string(v, path, out),
    }
}

fn check_dataset_name(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_str() {
        Some(s) if dataset_names().contains(&s) => {}
        Some(s) => out.push(ConfigIssue::new(
            path,
            format!(
                "unknown dataset \"{s}\" (expected one of: {})",
                dataset_names().join(", ")
            ),
        )),
        None => string(v, path, out),
    }
}

fn check_classes(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let Some(items) = v.as_array() else {
        out.push(ConfigIssue::new(
            path,
            format!("expected a list of class labels, found {}", type_name(v)),
        ));
        return;
    };
    let mut seen = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(x) = finite(item, &index_path(path, i), out) {
            if seen.contains(&x) {
                out.push(ConfigIssue::new(
                    index_path(path, i),
                    format!("class {x} is listed twice"),
                ));
            }
            seen.push(x);
        }
    }
    if items.len() < 2 {
        out.push(ConfigIssue::new(
            path,
            format!("at least two classes are needed, found {}", items.len()),
        ));
    }
}

fn check_label_column(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if !(v.is_string() || v.as_u64().is_some()) {
        out.push(ConfigIssue::new(
            path,
            format!(
                "expected a 0-based column index or a header name, found {}",
                shown(v)
            ),
        ));
    }
}

fn check_noise_vector(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let Some(items) = v.as_array() else {
        out.push(ConfigIssue::new(
            path,
            "expected a list of d numbers, or one such list per class",
        ));
        return;
    };
    if items.is_empty() {
        out.push(ConfigIssue::new(path, "must not be empty"));
    }
    let nested = items.first().is_some_and(Value::is_array);
    for (i, item) in items.iter().enumerate() {
        let p = index_path(path, i);
        if nested {
            match item.as_array() {
                Some(inner) => {
                    for (j, x) in inner.iter().enumerate() {
                        finite(x, &index_path(&p, j), out);
                    }
                }
                None => out.push(ConfigIssue::new(
                    p,
                    "expected a list (all entries must be lists when the first is)",
                )),
            }
        } else {
            finite(item, &p, out);
        }
    }
}

fn check_noise_key(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => {}
        Some(_) => out.push(ConfigIssue::new(
            path,
            "the key file path must not be empty",
        )),
        None => string(v, path, out),
    }
}

fn check_indices(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let Some(items) = v.as_array() else {
        out.push(ConfigIssue::new(
            path,
            "expected a list of row indices or a list of batches",
        ));
        return;
    };
    let nested = items.first().is_some_and(Value::is_array);
    let mut seen = BTreeSet::new();
    let mut note = |i: u64, p: String, out: &mut Vec<ConfigIssue>| {
        if !seen.insert(i) {
            out.push(ConfigIssue::new(p, format!("row {i} is requested twice")));
        }
    };
    for (i, item) in items.iter().enumerate() {
        let p = index_path(path, i);
        if nested {
            match item.as_array() {
                Some(inner) if !inner.is_empty() => {
                    for (j, x) in inner.iter().enumerate() {
                        let q = index_path(&p, j);
                        match x.as_u64() {
                            Some(r) => note(r, q, out),
                            None => uint(x, &q, out),
                        }
                    }
                }
                Some(_) => out.push(ConfigIssue::new(p, "a batch must not be empty")),
                None => out.push(ConfigIssue::new(
                    p,
                    "expected a list (all entries must be batches when the first is)",
                )),
            }
        } else {
            match item.as_u64() {
                Some(r) => note(r, p, out),
                None => uint(item, &p, out),
            }
        }
    }
}

/// The fields a strategy object may have besides `strategy`, and which must be integers ≥ 1.
fn strategy_fields(strategy: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match strategy {
        "retrain" => (&["noise"], &[]),
        "sisa" => (&["shards", "slices", "aggregation"], &["shards", "slices"]),
        "descent_to_delete" => (&["steps"], &["steps"]),
        _ => (&[], &[]),
    }
}

fn check_strategy(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let spec = StrategyConfig::from_value(v);
    // Every object rejects unknown fields (serde's tagged enum silently drops them).
    if let Some(m) = v.as_object()
        && let Some(strategy) = m.get("strategy").and_then(Value::as_str)
    {
        let (allowed, counts) = strategy_fields(strategy);
        for key in m.keys().filter(|k| *k != "strategy") {
            if !allowed.contains(&key.as_str()) {
                out.push(ConfigIssue::new(
                    child_path(path, key),
                    format!(
                        "unknown field of a `{strategy}` strategy ({})",
                        if allowed.is_empty() {
                            "it takes no settings".to_string()
                        } else {
                            format!("allowed: strategy, {}", allowed.join(", "))
                        }
                    ),
                ));
            }
        }
        for key in counts {
            if let Some(x) = m.get(*key) {
                pos_int(x, &child_path(path, key), out);
            }
        }
        if spec.is_ok() {
            return;
        }
    }
    if let Err(e) = spec {
        out.push(ConfigIssue::new(path, format!("{e} (found {})", shown(v))));
    }
}

/// The smallest `model.solver.tolerance` accepted: ‖∇L_b‖ is a sum over the rows, and
/// rounding alone makes it about n · 2.2e-16, so a smaller tolerance is never reached and the
/// solver would run until `max_iterations`.
pub const MIN_TOLERANCE: f64 = 1e-14;

fn check_tolerance(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out) {
        if !(x > 0.0) {
            out.push(ConfigIssue::new(path, format!("must be > 0, got {x}")));
        } else if x < MIN_TOLERANCE {
            out.push(ConfigIssue::new(
                path,
                format!(
                    "{x:e} is below what f64 arithmetic can reach for a gradient norm (rounding \
                     alone gives about n · 2.2e-16): use at least {MIN_TOLERANCE:e}"
                ),
            ));
        }
    }
}

fn check_fast_path(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Err(e) = serde_json::from_value::<FastPathOptions>(v.clone()) {
        out.push(ConfigIssue::new(path, e.to_string()));
        return;
    }
    let Some(m) = v.as_object() else { return };
    for key in ["solve_ratio", "absolute_tolerance"] {
        if let Some(x) = m.get(key) {
            non_negative(x, &child_path(path, key), out);
        }
    }
    if let Some(x) = m.get("stale_refactor_ratio")
        && !x.is_null()
    {
        non_negative(x, &child_path(path, "stale_refactor_ratio"), out);
    }
}

fn check_strategies(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_array() {
        Some(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                check_strategy(item, &index_path(path, i), out);
            }
        }
        _ => out.push(ConfigIssue::new(
            path,
            "expected a non-empty list of strategies",
        )),
    }
}

fn check_order(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Err(e) = OrderConfig::from_value(v) {
        out.push(ConfigIssue::new(path, format!("{e} (found {})", shown(v))));
        return;
    }
    // An exponential rate or Pareto shape must be > 0 (the weights are undefined otherwise).
    if let Some(rate) = v.get("rate")
        && !rate.is_null()
    {
        positive(rate, &child_path(path, "rate"), out);
    }
}

fn check_attacks(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_array() {
        Some(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                check_attack(item, &index_path(path, i), out);
            }
        }
        _ => out.push(ConfigIssue::new(
            path,
            "expected a non-empty list of attacks (e.g. [\"loss\", {\"attack\": \"lira\"}])",
        )),
    }
}

/// The check of an attack object's fields together (lethe-mia's own `check`): the first
/// problem, if any.
type CombinedCheck = fn(&Value) -> Option<lethe_mia::MiaError>;

/// One entry of `audit.attacks`: a statistic name, or a LiRA/RMIA object whose fields are
/// checked one by one and then together (lethe-mia's own `check`).
fn check_attack(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let Value::Object(map) = v else {
        if v.is_string() {
            de::<Statistic>(v, path, out);
        } else {
            out.push(ConfigIssue::new(
                path,
                format!(
                    "expected a statistic name or an attack object, found {}",
                    type_name(v)
                ),
            ));
        }
        return;
    };
    let before = out.len();
    let (fields, combined): (&[Field], CombinedCheck) = match map
        .get("attack")
        .and_then(Value::as_str)
    {
        Some("lira") => (AUDIT_LIRA, |v| {
            serde_json::from_value::<LiraAttackConfig>(strip_tag(v))
                .ok()
                .and_then(|c| c.attack(0).check().err())
        }),
        Some("rmia") => (AUDIT_RMIA, |v| {
            serde_json::from_value::<RmiaAttackConfig>(strip_tag(v))
                .ok()
                .and_then(|c| c.attack(0).check().err())
        }),
        _ => {
            out.push(ConfigIssue::new(
                    child_path(path, "attack"),
                    format!(
                        "expected \"lira\" or \"rmia\" (threshold attacks are given by statistic name, e.g. \"loss\"), found {}",
                        map.get("attack").map_or("nothing".into(), shown)
                    ),
                ));
            return;
        }
    };
    check_kind(v, &Kind::Object(fields), path, out);
    if out.len() == before
        && let Some(e) = combined(v)
    {
        let at = match &e {
            lethe_mia::MiaError::InvalidParameter { name, .. }
                if fields.iter().any(|f| f.name == *name) =>
            {
                child_path(path, name)
            }
            lethe_mia::MiaError::Unsupported { .. } => child_path(path, "scoring"),
            _ => path.to_string(),
        };
        out.push(ConfigIssue::new(at, e.to_string()));
    }
}

/// An attack object without its `attack` tag (for deserialising the variant's fields).
fn strip_tag(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("attack");
    }
    v
}

fn check_game_trials(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_u64() {
        Some(n) if (4..=crate::memory::MAX_GAME_TRIALS).contains(&n) => {}
        _ => out.push(ConfigIssue::new(
            path,
            format!(
                "expected an integer from 4 (2 draws to choose the test, 2 to count, per side) \
                 to {}, found {}",
                crate::memory::MAX_GAME_TRIALS,
                shown(v)
            ),
        )),
    }
}

fn check_game_statistics(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match serde_json::from_value::<Vec<GameStatistic>>(v.clone()) {
        Ok(s) if s.is_empty() => out.push(ConfigIssue::new(
            path,
            "expected at least one of `forget_loss`, `projection`, `distance`",
        )),
        Ok(_) => {}
        Err(e) => out.push(ConfigIssue::new(path, format!("{e} (found {})", shown(v)))),
    }
}

fn check_n_reference(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match v.as_u64() {
        Some(n) if n > crate::memory::MAX_REFERENCE_MODELS => out.push(ConfigIssue::new(
            path,
            format!(
                "{n} reference models is more than the {} lethe trains for one attack",
                crate::memory::MAX_REFERENCE_MODELS
            ),
        )),
        Some(n) if n >= 2 && n % 2 == 0 => {}
        _ => out.push(ConfigIssue::new(
            path,
            format!(
                "expected an even number of reference models ≥ 2, found {}",
                shown(v)
            ),
        )),
    }
}

fn check_gamma(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(x >= 1.0)
    {
        out.push(ConfigIssue::new(path, format!("γ must be ≥ 1, got {x}")));
    }
}

fn closed_unit(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if let Some(x) = finite(v, path, out)
        && !(0.0..=1.0).contains(&x)
    {
        out.push(ConfigIssue::new(
            path,
            format!("must lie in [0, 1], got {x}"),
        ));
    }
}

fn check_offline_a(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if v.is_string() {
        if v.as_str() != Some("tune") {
            out.push(ConfigIssue::new(
                path,
                format!(
                    "expected a number in [0, 1] or \"tune\", found {}",
                    shown(v)
                ),
            ));
        }
    } else {
        closed_unit(v, path, out);
    }
}

fn positive_or_null(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    if !v.is_null() {
        positive(v, path, out);
    }
}

fn check_bootstrap(v: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    match serde_json::from_value::<BootstrapOptions>(v.clone()) {
        Ok(b) => {
            if let Err(e) = b.check() {
                out.push(ConfigIssue::new(path, e.to_string()));
            }
            if b.reps as u64 > crate::memory::MAX_BOOTSTRAP_REPS {
                out.push(ConfigIssue::new(
                    child_path(path, "reps"),
                    format!(
                        "{} bootstrap replicates is more than the {} lethe runs",
                        b.reps,
                        crate::memory::MAX_BOOTSTRAP_REPS
                    ),
                ));
            }
        }
        Err(e) => out.push(ConfigIssue::new(path, e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Grid

/// One grid point: its index, its parameter values and where each came from.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSpec {
    /// 0-based index in the sweep (variants outermost, then grid keys in sorted order).
    pub index: usize,
    /// Dotted path → value of this point.
    pub params: BTreeMap<String, Value>,
    /// Dotted path → JSON path of the grid or variant entry that set it.
    pub sources: BTreeMap<String, String>,
}

fn grid_of(root: &Value) -> Vec<(String, Vec<Value>)> {
    root.get("grid")
        .and_then(Value::as_object)
        .map(|m| {
            let mut v: Vec<(String, Vec<Value>)> = m
                .iter()
                .filter_map(|(k, vals)| vals.as_array().map(|a| (k.clone(), a.clone())))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        })
        .unwrap_or_default()
}

fn variants_of(root: &Value) -> Vec<BTreeMap<String, Value>> {
    root.get("variants")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// The dotted paths set by the grid or by every variant.
fn provided_paths(root: &Value) -> BTreeSet<String> {
    let mut paths: BTreeSet<String> = grid_of(root).into_iter().map(|(k, _)| k).collect();
    let variants = variants_of(root);
    if let Some(first) = variants.first() {
        for key in first.keys() {
            if variants.iter().all(|v| v.contains_key(key)) {
                paths.insert(key.clone());
            }
        }
    }
    paths
}

/// The most grid points (variants × grid combinations) a config may expand to.
pub const MAX_POINTS: usize = 100_000;

/// The number of points a config value expands to, `None` if it overflows `usize`.
pub fn point_count(root: &Value) -> Option<usize> {
    let combos = grid_of(root)
        .iter()
        .try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()))?;
    combos.checked_mul(variants_of(root).len().max(1))
}

/// Expands the grid and variants of a config value into points (one point without either).
///
/// Callers must check [`point_count`] against [`MAX_POINTS`] first ([`load`] does): a small
/// file can describe an astronomically large grid. Beyond [`MAX_POINTS`] this returns no points.
pub fn expand(root: &Value) -> Vec<PointSpec> {
    if point_count(root).is_none_or(|n| n > MAX_POINTS) {
        return Vec::new();
    }
    let grid = grid_of(root);
    let variants = variants_of(root);
    let variant_list: Vec<Option<(usize, BTreeMap<String, Value>)>> = if variants.is_empty() {
        vec![None]
    } else {
        variants.into_iter().enumerate().map(Some).collect()
    };
    let combos: usize = grid.iter().map(|(_, v)| v.len()).product();
    let mut points = Vec::new();
    for variant in &variant_list {
        for mut c in 0..combos {
            let mut params = BTreeMap::new();
            let mut sources = BTreeMap::new();
            if let Some((vi, overrides)) = variant {
                for (k, v) in overrides {
                    params.insert(k.clone(), v.clone());
                    sources.insert(k.clone(), child_path(&index_path("$.variants", *vi), k));
                }
            }
            // Last key varies fastest.
            let mut picks = vec![0; grid.len()];
            for (slot, (_, values)) in picks.iter_mut().zip(&grid).rev() {
                *slot = c % values.len();
                c /= values.len();
            }
            for ((key, values), &i) in grid.iter().zip(&picks) {
                params.insert(key.clone(), values[i].clone());
                sources.insert(key.clone(), index_path(&child_path("$.grid", key), i));
            }
            points.push(PointSpec {
                index: points.len(),
                params,
                sources,
            });
        }
    }
    points
}

/// Sets `value` at a dotted path, creating objects on the way.
pub fn set_dotted(root: &mut Value, dotted: &str, value: Value) {
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Removes the value at a dotted path, if present.
pub fn remove_dotted(root: &mut Value, dotted: &str) {
    match dotted.rsplit_once('.') {
        Some((parent, last)) => {
            let mut cur = &mut *root;
            for part in parent.split('.') {
                match cur.get_mut(part) {
                    Some(next) => cur = next,
                    None => return,
                }
            }
            if let Value::Object(m) = cur {
                m.remove(last);
            }
        }
        None => {
            if let Value::Object(m) = root {
                m.remove(dotted);
            }
        }
    }
}

/// The base config value (without `grid` and `variants`) with `point`'s overrides applied.
pub fn point_value(root: &Value, point: &PointSpec) -> Value {
    with_overrides(&without_sweep(root), point)
}

/// `root` without `grid` and `variants`, copied entry by entry (the sweep's arrays, which can
/// be most of a large config, are not copied at all).
fn without_sweep(root: &Value) -> Value {
    match root {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "grid" && *k != "variants")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        v => v.clone(),
    }
}

/// A copy of `base` (a value from [`without_sweep`]) with `point`'s overrides applied.
fn with_overrides(base: &Value, point: &PointSpec) -> Value {
    let mut v = base.clone();
    for (k, val) in &point.params {
        set_dotted(&mut v, k, val.clone());
    }
    v
}

/// What validating every point needs of the base config: [`without_sweep`] and, when
/// `description` is a string, an empty one (free text that no check reads, and that would be
/// copied once per point: 100,000 points of a 20 KB description are 2 GB).
fn validation_base(root: &Value) -> Value {
    let mut v = without_sweep(root);
    if let Some(Value::String(d)) = v.get_mut("description") {
        d.clear();
    }
    v
}

fn check_override_key(key: &str, path: &str, out: &mut Vec<ConfigIssue>) -> Option<&'static Kind> {
    if FIXED_PATHS.contains(&key.split('.').next().unwrap_or("")) {
        out.push(ConfigIssue::new(
            path,
            format!("`{key}` cannot vary within one experiment"),
        ));
        return None;
    }
    match lookup_kind(key) {
        Some(kind) => Some(kind),
        None => {
            out.push(ConfigIssue::new(
                path,
                format!(
                    "`{key}` is not a config field (use dotted paths such as \"model.lambda\"; \
                     strategy and order objects are replaced whole)"
                ),
            ));
            None
        }
    }
}

fn check_grid(root: &Value, out: &mut Vec<ConfigIssue>) {
    let mut grid_keys = BTreeSet::new();
    if let Some(g) = root.get("grid") {
        match g.as_object() {
            None => out.push(ConfigIssue::new(
                "$.grid",
                format!(
                    "expected an object of \"dotted.path\": [values], found {}",
                    type_name(g)
                ),
            )),
            Some(map) => {
                for (key, values) in map {
                    let path = child_path("$.grid", key);
                    grid_keys.insert(key.clone());
                    let kind = check_override_key(key, &path, out);
                    match values.as_array() {
                        Some(items) if !items.is_empty() => {
                            if let Some(kind) = kind {
                                for (i, item) in items.iter().enumerate() {
                                    check_kind(item, kind, &index_path(&path, i), out);
                                }
                            }
                        }
                        _ => out.push(ConfigIssue::new(
                            path,
                            "expected a non-empty list of values",
                        )),
                    }
                }
            }
        }
    }
    if let Some(vs) = root.get("variants") {
        match vs.as_array() {
            Some(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let vpath = index_path("$.variants", i);
                    match item.as_object() {
                        Some(map) if !map.is_empty() => {
                            for (key, value) in map {
                                let path = child_path(&vpath, key);
                                if grid_keys.contains(key) {
                                    out.push(ConfigIssue::new(
                                        &path,
                                        format!("`{key}` is set by both the grid and a variant"),
                                    ));
                                }
                                if let Some(kind) = check_override_key(key, &path, out) {
                                    check_kind(value, kind, &path, out);
                                }
                            }
                        }
                        _ => out.push(ConfigIssue::new(
                            vpath,
                            "expected a non-empty object of \"dotted.path\": value",
                        )),
                    }
                }
            }
            _ => out.push(ConfigIssue::new(
                "$.variants",
                "expected a non-empty list of objects",
            )),
        }
    }
}

/// Structural and field-level validation of a config value: every unknown field, wrong type
/// and out-of-range value, including every grid value and variant. Returns the issues sorted
/// and without duplicates.
pub fn validate_value(root: &Value) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    let paths = provided_paths(root);
    check_object(
        root,
        ROOT,
        "$",
        &Provided {
            prefix: String::new(),
            paths: &paths,
        },
        &mut out,
    );
    if root.is_object() {
        check_grid(root, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------------
// Cross-field checks of one resolved point (on the value, so they run even when other fields
// are broken).

fn s<'a>(v: &'a Value, dotted: &str) -> Option<&'a str> {
    crate::json::get(v, dotted).and_then(Value::as_str)
}

fn has(v: &Value, dotted: &str) -> bool {
    crate::json::get(v, dotted).is_some_and(|x| !x.is_null())
}

/// Cross-field problems of one point config value. Paths are plain config paths
/// (`$.dataset.path`); [`remap`] points them at the grid entry that set the value.
pub fn cross_check(v: &Value) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    let name = s(v, "dataset.name").unwrap_or("");
    let file_based = matches!(name, "csv" | "libsvm");
    if file_based && !has(v, "dataset.path") {
        out.push(ConfigIssue::new(
            "$.dataset.path",
            format!("a `{name}` dataset needs `path`"),
        ));
    }
    if !file_based && !name.is_empty() {
        for field in ["path", "test_path"] {
            if has(v, &format!("dataset.{field}")) {
                out.push(ConfigIssue::new(
                    format!("$.dataset.{field}"),
                    format!("`{field}` is only used by csv and libsvm datasets, not `{name}`"),
                ));
            }
        }
    }
    if name != "csv" {
        for field in ["label_column", "has_header"] {
            if has(v, &format!("dataset.{field}")) && !name.is_empty() {
                out.push(ConfigIssue::new(
                    format!("$.dataset.{field}"),
                    format!("`{field}` is only used by csv datasets"),
                ));
            }
        }
    }
    if name != "libsvm" && has(v, "dataset.n_features") && !name.is_empty() {
        out.push(ConfigIssue::new(
            "$.dataset.n_features",
            "`n_features` is only used by libsvm datasets",
        ));
    }
    if name == "synthetic" {
        for field in ["n", "d"] {
            if !has(v, &format!("dataset.{field}")) {
                out.push(ConfigIssue::new(
                    format!("$.dataset.{field}"),
                    format!("a synthetic dataset needs `{field}`"),
                ));
            }
        }
        if let (Some(n), Some(d)) = (
            crate::json::get(v, "dataset.n").and_then(Value::as_u64),
            crate::json::get(v, "dataset.d").and_then(Value::as_u64),
        ) && n.saturating_mul(d) > lethe_data::libsvm::MAX_DENSE_ENTRIES as u64
        {
            out.push(ConfigIssue::new(
                "$.dataset.n",
                format!(
                    "n · d = {} exceeds the dense limit {}",
                    n.saturating_mul(d),
                    lethe_data::libsvm::MAX_DENSE_ENTRIES
                ),
            ));
        }
    } else if !name.is_empty() {
        for field in ["n", "d", "seed", "signal", "noise_std"] {
            if has(v, &format!("dataset.{field}")) {
                out.push(ConfigIssue::new(
                    format!("$.dataset.{field}"),
                    format!("`{field}` is only used by synthetic datasets"),
                ));
            }
        }
    }
    if has(v, "dataset.test_path") && has(v, "dataset.test_fraction") {
        out.push(ConfigIssue::new(
            "$.dataset.test_fraction",
            "give either `test_path` or `test_fraction`, not both",
        ));
    }
    let loss = s(v, "model.loss").unwrap_or("logistic");
    if loss == "squared"
        && let Some(c) = crate::json::get(v, "dataset.classes").and_then(Value::as_array)
        && c.len() > 2
    {
        out.push(ConfigIssue::new(
            "$.dataset.classes",
            "the squared loss is a regression loss: give at most two classes (mapped to ±1)",
        ));
    }
    let requests = crate::json::get(v, "removal.requests").and_then(Value::as_u64);
    let batch = crate::json::get(v, "removal.batch_size")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let explicit = crate::json::get(v, "removal.indices").and_then(Value::as_array);
    let effective_requests = match explicit {
        Some(items) if items.first().is_some_and(Value::is_array) => items.len() as u64,
        Some(items) => (items.len() as u64).div_ceil(batch),
        None => requests.unwrap_or(0),
    };
    if let Some(r) = requests
        && explicit.is_none()
        && r.checked_mul(batch)
            .is_none_or(|rows| usize::try_from(rows).is_err())
    {
        out.push(ConfigIssue::new(
            "$.removal.requests",
            format!("requests × batch_size = {r} × {batch} rows overflows"),
        ));
    }
    if let (Some(r), Some(_)) = (requests, explicit)
        && r != effective_requests
    {
        out.push(ConfigIssue::new(
            "$.removal.requests",
            format!(
                "`requests` = {r} disagrees with the {effective_requests} requests of \
                 `indices`; leave `requests` out when `indices` is given"
            ),
        ));
    }
    if has(v, "audit") {
        if effective_requests == 0 {
            out.push(ConfigIssue::new(
                "$.audit",
                "an audit needs removals (removal.requests > 0): the forget set is the removed rows",
            ));
        }
        if loss == "squared" {
            out.push(ConfigIssue::new(
                "$.audit",
                "membership-inference audits need a classification loss, not `squared`",
            ));
        }
    }
    if has(v, "compare") && effective_requests == 0 {
        out.push(ConfigIssue::new(
            "$.compare",
            "comparing strategies needs removals (removal.requests > 0)",
        ));
    }
    let gaussian = s(v, "model.noise").unwrap_or("gaussian") == "gaussian";
    if gaussian && s(v, "certificate.accounting") == Some("paper") {
        let epsilon = crate::json::get(v, "certificate.epsilon")
            .and_then(Value::as_f64)
            .unwrap_or_else(default_epsilon);
        let delta = crate::json::get(v, "certificate.delta")
            .and_then(Value::as_f64)
            .unwrap_or_else(default_delta);
        if epsilon > 0.0
            && delta > 0.0
            && delta < 1.0
            && !lethe_models::accounting::paper_is_valid(epsilon, delta)
        {
            out.push(ConfigIssue::new(
                "$.certificate.epsilon",
                format!(
                    "accounting `paper` (σε/c) is not a valid (ε, δ) statement at ε = {epsilon}, \
                     δ = {delta}: the exact Gaussian profile gives δ = {:.3e} (it holds up to \
                     ε ≈ {:.2} at this δ); use `\"accounting\": \"analytic\"` or a smaller ε",
                    lethe_models::accounting::gaussian_delta(
                        epsilon,
                        epsilon / lethe_models::gaussian_c(delta)
                    ),
                    lethe_models::accounting::paper_validity_limit(delta)
                ),
            ));
        }
    }
    let newton = match crate::json::get(v, "removal.strategy") {
        None => true,
        Some(Value::String(name)) => name == "newton",
        Some(other) => other.get("strategy").and_then(Value::as_str) == Some("newton"),
    };
    if crate::json::get(v, "removal.ledger").and_then(Value::as_bool) == Some(true) && !newton {
        out.push(ConfigIssue::new(
            "$.removal.ledger",
            "a certificate ledger is written by the `newton` strategy only (other strategies \
             issue no certificates)",
        ));
    }
    if has(v, "model.noise_key") {
        if has(v, "model.noise_vector") {
            out.push(ConfigIssue::new(
                "$.model.noise_key",
                "give either `noise_key` (a secret b) or `noise_vector` (an explicit, public b), \
                 not both",
            ));
        }
        if !newton {
            out.push(ConfigIssue::new(
                "$.model.noise_key",
                "a noise key is only used by the `newton` strategy",
            ));
        }
        if has(v, "compare") {
            out.push(ConfigIssue::new(
                "$.model.noise_key",
                "a noise key cannot be combined with `compare` (compared strategies draw b from \
                 the seed)",
            ));
        }
    }
    if has(v, "model.noise_vector") {
        if !newton {
            out.push(ConfigIssue::new(
                "$.model.noise_vector",
                "an explicit noise vector is only used by the `newton` strategy",
            ));
        }
        if has(v, "compare") {
            out.push(ConfigIssue::new(
                "$.model.noise_vector",
                "an explicit noise vector cannot be combined with `compare` (compared \
                 strategies draw b from the seed)",
            ));
        }
    }
    out
}

/// Points a plain config path at the grid or variant entry that set it in this point.
pub fn remap(issue: ConfigIssue, point: &PointSpec) -> ConfigIssue {
    for (key, source) in &point.sources {
        let plain = format!("$.{key}");
        if issue.path == plain || issue.path.starts_with(&format!("{plain}.")) {
            return ConfigIssue::with_exit_code(
                format!("{}{}", source, &issue.path[plain.len()..]),
                issue.message,
                issue.exit_code,
            );
        }
    }
    issue
}

// ---------------------------------------------------------------------------------------------
// Loading

/// A parsed and validated config with its grid points.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The config file.
    pub file: PathBuf,
    /// The directory relative data paths fall back to.
    pub dir: PathBuf,
    /// The file as parsed.
    pub raw: Value,
    /// The resolved config of the first point (name, schema and every value no point varies
    /// are the same for all points).
    pub base: ExperimentConfig,
    /// The points of the sweep.
    pub points: Vec<PointSpec>,
}

impl LoadedConfig {
    /// The resolved config of one point (base with the point's overrides, defaults explicit).
    ///
    /// # Errors
    /// [`ExperimentError::Config`] if the point does not deserialise (validation catches this
    /// first).
    pub fn point_config(&self, point: &PointSpec) -> Result<ExperimentConfig> {
        let v = point_value(&self.raw, point);
        ExperimentConfig::from_value(&v)
            .map(|c| c.resolve())
            .map_err(|e| self.issue(format!("grid point {}", point.index), e.to_string()))
    }

    fn issue(&self, path: impl Into<String>, message: impl Into<String>) -> ExperimentError {
        ExperimentError::Config(ConfigIssues {
            file: self.file.clone(),
            issues: vec![ConfigIssue::new(path, message)],
        })
    }

    /// The resolved config as embedded in result files: every default explicit, the grid and
    /// variants as written, and each varied path at the file's base value (absent when the
    /// file gives none there).
    ///
    /// # Errors
    /// [`ExperimentError::Json`] if serialisation fails.
    pub fn resolved_value(&self) -> Result<Value> {
        let mut v = crate::json::to_value(&self.base)?;
        let varied: BTreeSet<&String> = self.points.iter().flat_map(|p| p.params.keys()).collect();
        for key in varied {
            match crate::json::get(&self.raw, key) {
                Some(x) => set_dotted(&mut v, key, x.clone()),
                None => remove_dotted(&mut v, key),
            }
        }
        if let Value::Object(m) = &mut v {
            if let Some(g) = self.raw.get("grid") {
                m.insert("grid".into(), g.clone());
            }
            if let Some(vs) = self.raw.get("variants") {
                m.insert("variants".into(), vs.clone());
            }
        }
        Ok(v)
    }
}

/// Parses a config file and reports every problem at once: JSON syntax, schema, grid values
/// and cross-field problems of every point. Data files are checked by
/// [`crate::data::check_files`].
///
/// # Errors
/// [`ExperimentError::Io`] when the file cannot be read; [`ExperimentError::Config`] with every
/// problem found.
pub fn load(file: &Path) -> Result<LoadedConfig> {
    let text = crate::json::read_text(file)?;
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    load_str(&text, file, dir)
}

/// Parses and validates a config given as JSON text (for example from Python's
/// `lethe.run_experiment`), exactly as [`load`] does a file: `label` names it in error
/// messages (a file name, or a placeholder such as `<python>`) and `dir` is the directory
/// relative data paths fall back to.
///
/// # Errors
/// [`ExperimentError::Config`] with every problem found.
pub fn load_str(text: &str, label: &Path, dir: PathBuf) -> Result<LoadedConfig> {
    let file = label;
    let fail = |issues: Vec<ConfigIssue>| {
        ExperimentError::Config(ConfigIssues {
            file: file.to_path_buf(),
            issues,
        })
    };
    let raw: Value = crate::strict_json::parse(text)
        .map_err(|e| fail(vec![ConfigIssue::new("$", format!("not valid JSON: {e}"))]))?;
    let mut issues = validate_value(&raw);
    match point_count(&raw) {
        Some(n) if n <= MAX_POINTS => {}
        count => {
            issues.push(ConfigIssue::new(
                "$.grid",
                match count {
                    Some(n) => format!("the grid and variants give {n} points (at most {MAX_POINTS})"),
                    None => format!("the grid and variants give more points than fit in memory (at most {MAX_POINTS})"),
                },
            ));
            issues.sort();
            issues.dedup();
            return Err(fail(issues));
        }
    }
    let points = expand(&raw);
    if raw.is_object() {
        // Issue → the points it occurs in; issues of some points only name them.
        let mut found: BTreeMap<ConfigIssue, Vec<&PointSpec>> = BTreeMap::new();
        let checked = validation_base(&raw);
        for point in &points {
            let v = with_overrides(&checked, point);
            for issue in cross_check(&v) {
                found.entry(remap(issue, point)).or_default().push(point);
            }
        }
        for (issue, at) in found {
            if at.len() == points.len() {
                issues.push(issue);
            } else {
                let mut names: Vec<String> = at
                    .iter()
                    .take(3)
                    .map(|p| {
                        let vals: Vec<String> =
                            p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!("{} ({})", p.index, vals.join(", "))
                    })
                    .collect();
                if at.len() > 3 {
                    names.push(format!("and {} more", at.len() - 3));
                }
                issues.push(ConfigIssue::new(
                    issue.path,
                    format!("{} — in grid point {}", issue.message, names.join(", ")),
                ));
            }
        }
    }
    issues.sort();
    issues.dedup();
    if !issues.is_empty() {
        return Err(fail(issues));
    }
    // Every point must deserialise (the schema should have caught everything already); the
    // first one, with its description, is the base.
    let checked = validation_base(&raw);
    let mut base = None;
    for point in &points {
        let v = if base.is_none() {
            point_value(&raw, point)
        } else {
            with_overrides(&checked, point)
        };
        match ExperimentConfig::from_value(&v) {
            Ok(c) => {
                base.get_or_insert(c.resolve());
            }
            Err(e) => {
                return Err(fail(vec![ConfigIssue::new(
                    format!("$ (grid point {})", point.index),
                    e.to_string(),
                )]));
            }
        }
    }
    let base = base.ok_or_else(|| fail(vec![ConfigIssue::new("$", "the sweep has no points")]))?;
    Ok(LoadedConfig {
        file: file.to_path_buf(),
        dir,
        raw,
        base,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "schema": "lethe.experiment/1", "name": "t", "seed": 0,
            "dataset": {"name": "digits", "classes": [3, 8]},
            "model": {"loss": "logistic", "lambda": 1e-3, "sigma": 1.0},
            "removal": {"requests": 3}
        })
    }

    #[test]
    fn a_good_config_has_no_issues() {
        assert_eq!(validate_value(&base()), vec![]);
        assert!(cross_check(&base()).is_empty());
    }

    #[test]
    fn paths_render_like_jsonpath() {
        assert_eq!(child_path("$", "model"), "$.model");
        assert_eq!(
            child_path("$.grid", "model.lambda"),
            "$.grid[\"model.lambda\"]"
        );
    }

    #[test]
    fn strategy_and_order_round_trip_as_names() {
        let c = StrategyConfig::from_value(&json!("newton")).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), json!("newton"));
        let o = OrderConfig::from_value(&json!("random")).unwrap();
        assert_eq!(serde_json::to_value(&o).unwrap(), json!("random"));
        assert!(OrderConfig::from_value(&json!({"order": "random", "bogus": 1})).is_err());
    }
}

//! Finding, loading and preparing the data of an experiment, with a per-process cache.
//!
//! # Where files are looked for
//! - MNIST: `DIR/mnist/` with the four official `*-idx?-ubyte.gz` files; Fashion-MNIST:
//!   `DIR/fashion-mnist/` (or `DIR/fashion_mnist/`), where DIR is `--data-dir`, else the
//!   `LETHE_DATA` environment variable.
//! - `csv` / `libsvm` paths: absolute paths as given; relative ones against DIR first, then the
//!   config file's directory.
//!
//! # Preparation, in this order
//! 1. load the training file (and the test file: MNIST's official `t10k` files, or `test_path`);
//! 2. classes: `[a, b]` keeps those two classes with a → +1 and b → −1; more classes keep
//!    those (one-vs-rest models); without `classes`, labels that are exactly {0, 1} become
//!    1 → +1 and 0 → −1 (breast_cancer: benign = +1), labels ±1 stay, and anything else is
//!    kept as class ids (one-vs-rest) or, for the squared loss, as real targets;
//! 3. pixel scaling x/m − 0.5 (`pixel_scale`; MNIST m = 255, bundled digits m = 16);
//! 4. the seeded train/test split (`test_fraction`, `split_seed`), which keeps row order;
//! 5. column standardisation fitted on the training split (`standardize`);
//! 6. row scaling (`normalize`: `unit_norm`, `max_norm`, `none`), each split separately (a
//!    positive rescaling of test rows does not change a linear model's predictions).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lethe_data::synthetic::{SyntheticOptions, linear_gaussian, logistic_planted};
use lethe_data::{
    CsvOptions, Dataset, MnistSplit, binary_labels_from_01, binary_subset, bundled, class_subset,
    load_csv, load_libsvm, load_mnist, load_mnist_classes, normalize_rows, scale_pixels_by,
    standardize, train_test_split,
};
use lethe_models::LossKind;
use serde::Serialize;

use crate::config::{DatasetConfig, ExperimentConfig, PixelScale};
use crate::data_files::{DataFile, describe};
use crate::error::{ConfigIssue, ExperimentError, Result};

/// The environment variable naming the data directory when `--data-dir` is not given.
pub const DATA_ENV: &str = "LETHE_DATA";

/// Where to look for data files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataContext {
    /// `--data-dir`, else `$LETHE_DATA`, else none.
    pub data_dir: Option<PathBuf>,
    /// The config file's directory (fallback for relative paths).
    pub config_dir: PathBuf,
}

impl DataContext {
    /// A context from `--data-dir` (falling back to `$LETHE_DATA`) and the config's directory.
    pub fn new(data_dir: Option<PathBuf>, config_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.or_else(|| {
            std::env::var_os(DATA_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        Self {
            data_dir,
            config_dir: config_dir.into(),
        }
    }

    /// Candidate locations of a relative (or absolute) data path, in the order tried.
    pub fn candidates(&self, path: &str) -> Vec<PathBuf> {
        let p = Path::new(path);
        if p.is_absolute() {
            return vec![p.to_path_buf()];
        }
        let mut v = Vec::new();
        if let Some(d) = &self.data_dir {
            v.push(d.join(p));
        }
        v.push(self.config_dir.join(p));
        v
    }

    /// The first existing candidate of `path`.
    ///
    /// # Errors
    /// [`ExperimentError::DataNotFound`] listing every path tried.
    pub fn find(&self, path: &str, what: &str) -> Result<PathBuf> {
        let tried = self.candidates(path);
        tried
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| ExperimentError::DataNotFound {
                what: format!("{what} `{path}`"),
                tried,
                hint: Some(
                    "relative paths are resolved against --data-dir (or $LETHE_DATA), then the \
                     config's directory"
                        .into(),
                ),
            })
    }

    /// The directory of an image dataset (`mnist` or `fashion_mnist`).
    ///
    /// # Errors
    /// [`ExperimentError::DataNotFound`] when no data directory is configured or none of the
    /// candidate directories holds the four IDX files.
    pub fn image_dir(&self, name: &str) -> Result<PathBuf> {
        let subdirs: &[&str] = if name == "mnist" {
            &["mnist"]
        } else {
            &["fashion-mnist", "fashion_mnist"]
        };
        let Some(root) = &self.data_dir else {
            return Err(ExperimentError::DataNotFound {
                what: format!("the {name} files (no data directory given)"),
                tried: Vec::new(),
                hint: Some(format!(
                    "pass --data-dir DIR or set {DATA_ENV}=DIR, with the four official \
                     *-idx?-ubyte.gz files in DIR/{}/",
                    subdirs[0]
                )),
            });
        };
        let mut tried = Vec::new();
        for sub in subdirs {
            let dir = root.join(sub);
            let ok = [MnistSplit::Train, MnistSplit::Test]
                .into_iter()
                .all(|s| lethe_data::idx::mnist_files(&dir, s).is_ok());
            if ok {
                return Ok(dir);
            }
            for split in ["train", "t10k"] {
                tried.push(dir.join(format!("{split}-images-idx3-ubyte.gz")));
                tried.push(dir.join(format!("{split}-labels-idx1-ubyte.gz")));
            }
        }
        Err(ExperimentError::DataNotFound {
            what: format!("the {name} files"),
            tried,
            hint: Some(format!(
                "download the four official files into DIR/{}/ and pass --data-dir DIR",
                subdirs[0]
            )),
        })
    }
}

/// Checks that every data file of a dataset config can be found, as `lethe validate` reports
/// it (paths relative to the config's JSON path `$.dataset`).
pub fn check_files(ds: &DatasetConfig, ctx: &DataContext) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    match ds.name.as_str() {
        "mnist" | "fashion_mnist" => {
            if let Err(e) = ctx.image_dir(&ds.name) {
                out.push(ConfigIssue::with_exit_code(
                    "$.dataset.name",
                    e.to_string(),
                    e.exit_code(),
                ));
            }
        }
        "csv" | "libsvm" => {
            let paths = [("path", &ds.path), ("test_path", &ds.test_path)];
            out.extend(check_data_paths(
                paths.iter().filter_map(|(f, p)| Some((*f, p.as_deref()?))),
                ctx,
            ));
        }
        _ => {}
    }
    out
}

/// The data-file problems of a config that does not validate (best effort, from the raw JSON:
/// the base `dataset` and grid values of `dataset.path`/`dataset.test_path`), so that
/// `lethe validate` reports them together with the config's own problems.
pub fn check_raw_files(config_path: &Path, data_dir: Option<PathBuf>) -> Vec<ConfigIssue> {
    let Ok(raw) = crate::json::read_json(config_path) else {
        return Vec::new();
    };
    let config_dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let ctx = DataContext::new(data_dir, config_dir);
    let ds = &raw["dataset"];
    let mut out = Vec::new();
    match ds["name"].as_str() {
        Some(name @ ("mnist" | "fashion_mnist")) => {
            if let Err(e) = ctx.image_dir(name) {
                out.push(ConfigIssue::with_exit_code(
                    "$.dataset.name",
                    e.to_string(),
                    e.exit_code(),
                ));
            }
        }
        Some("csv" | "libsvm") => {
            let base = ["path", "test_path"]
                .into_iter()
                .filter_map(|f| Some((f, ds[f].as_str()?)));
            out.extend(check_data_paths(base, &ctx));
            for field in ["path", "test_path"] {
                let key = format!("dataset.{field}");
                if let Some(values) = raw["grid"][&key].as_array() {
                    for (i, v) in values.iter().enumerate() {
                        if let Some(p) = v.as_str() {
                            out.extend(check_data_paths([(field, p)], &ctx).into_iter().map(
                                |issue| {
                                    ConfigIssue::with_exit_code(
                                        format!("$.grid[\"{key}\"][{i}]"),
                                        issue.message,
                                        issue.exit_code,
                                    )
                                },
                            ));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Checks that each `dataset.<field>` path is found (exit code 3 otherwise) and can be opened
/// (exit code 4 otherwise).
pub fn check_data_paths<'a>(
    paths: impl IntoIterator<Item = (&'a str, &'a str)>,
    ctx: &DataContext,
) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    for (field, p) in paths {
        let at = format!("$.dataset.{field}");
        match ctx.find(p, "data file") {
            Err(e) => out.push(ConfigIssue::with_exit_code(
                at,
                e.to_string(),
                e.exit_code(),
            )),
            Ok(found) => {
                if let Err(e) = std::fs::File::open(&found) {
                    out.push(ConfigIssue::with_exit_code(
                        at,
                        format!("data file {} cannot be read: {e}", found.display()),
                        crate::error::exit::IO,
                    ));
                }
            }
        }
    }
    out
}

/// What was loaded, for result files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataInfo {
    /// `dataset.name`.
    pub name: String,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Features.
    pub d: usize,
    /// Distinct training labels after relabelling.
    pub classes: Vec<f64>,
    /// How labels were mapped, in words.
    pub labels: String,
    /// The files read (empty for bundled and synthetic data), as found on this machine.
    pub files: Vec<String>,
    /// Each data file read, relative to the data directory, with its size and SHA-256. Written
    /// into the run's `provenance.data_files`, not here.
    #[serde(skip)]
    pub data_files: Vec<DataFile>,
    /// Largest training row norm after preprocessing.
    pub max_row_norm: f64,
    /// [`Dataset::fingerprint`] of the prepared training set.
    pub train_fingerprint: String,
    /// Seconds to load and prepare.
    pub seconds: f64,
}

/// Prepared training and test sets.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The training set (row indices of removal requests refer to it).
    pub train: Arc<Dataset>,
    /// The test set.
    pub test: Arc<Dataset>,
    /// What was loaded.
    pub info: DataInfo,
}

/// Refuses training data with a single label under a classification loss: it would train a
/// constant model whose certificates mean nothing. Checked where the label set is turned into
/// ±1 ([`relabel`]); `context` names the data.
fn check_two_classes(ds: &Dataset, loss: LossKind, context: &str) -> Result<()> {
    match ds.classes()[..] {
        [class] if loss.needs_binary_labels() => Err(lethe_data::DataError::SingleClass {
            class,
            context: context.to_string(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Maps the labels as the module docs say (step 2).
fn relabel(ds: &Dataset, classes: Option<&[f64]>, loss: LossKind) -> Result<(Dataset, String)> {
    Ok(match classes {
        Some([a, b]) => (binary_subset(ds, *a, *b)?, format!("{a} → +1, {b} → −1")),
        Some(list) => (
            class_subset(ds, list)?,
            format!("classes {list:?}, one-vs-rest"),
        ),
        None => {
            let found = ds.classes();
            if loss.needs_binary_labels() && found == [0.0, 1.0] {
                (binary_labels_from_01(ds, 1.0)?, "1 → +1, 0 → −1".into())
            } else if found == [-1.0, 1.0] {
                (ds.clone(), "±1 as in the file".into())
            } else if loss.needs_binary_labels() {
                (ds.clone(), format!("{} classes, one-vs-rest", found.len()))
            } else {
                (ds.clone(), "real targets as in the file".into())
            }
        }
    })
}

/// Loads and prepares the data of a resolved config (see the module docs).
///
/// # Errors
/// [`ExperimentError::DataNotFound`] for missing files, [`ExperimentError::Data`] for files
/// that do not parse or preprocessing that fails (an unknown class, a bad split, …).
pub fn prepare(cfg: &ExperimentConfig, ctx: &DataContext) -> Result<Prepared> {
    let start = Instant::now();
    let ds = &cfg.dataset;
    let loss = cfg.model.loss;
    let mut files = Vec::new();
    let mut data_files = Vec::new();
    let (train_raw, test_raw): (Dataset, Option<Dataset>) = match ds.name.as_str() {
        "mnist" | "fashion_mnist" => {
            let dir = ctx.image_dir(&ds.name)?;
            files.push(dir.display().to_string());
            // With integer classes, convert only those images (12k of 60k for 3 vs 8).
            let subset: Option<Vec<u8>> = ds.classes.as_ref().and_then(|cs| {
                cs.iter()
                    .map(|&c| (c.fract() == 0.0 && (0.0..=255.0).contains(&c)).then_some(c as u8))
                    .collect()
            });
            let load = |split| -> Result<Dataset> {
                Ok(match &subset {
                    Some(cs) => load_mnist_classes(&dir, split, cs)?,
                    None => load_mnist(&dir, split)?,
                })
            };
            let train = load(MnistSplit::Train)?;
            let test = if ds.test_fraction.is_none() {
                Some(load(MnistSplit::Test)?)
            } else {
                None
            };
            let splits: &[MnistSplit] = match test {
                Some(_) => &[MnistSplit::Train, MnistSplit::Test],
                None => &[MnistSplit::Train],
            };
            for &split in splits {
                let (images, labels) = lethe_data::idx::mnist_files(&dir, split)?;
                data_files.push(describe(&images, ctx)?);
                data_files.push(describe(&labels, ctx)?);
            }
            (train, test)
        }
        "csv" | "libsvm" => {
            let path = ds.path.as_deref().ok_or_else(|| {
                ExperimentError::Usage(format!("a `{}` dataset needs `path`", ds.name))
            })?;
            let load = |p: &Path| -> Result<Dataset> {
                if ds.name == "csv" {
                    let opts = CsvOptions {
                        label_column: ds.label_column.clone().unwrap_or_default(),
                        has_header: ds.has_header.unwrap_or(true),
                    };
                    Ok(load_csv(p, &opts)?)
                } else {
                    Ok(load_libsvm(p, ds.n_features)?)
                }
            };
            let train_path = ctx.find(path, "data file")?;
            files.push(train_path.display().to_string());
            data_files.push(describe(&train_path, ctx)?);
            let train = load(&train_path)?;
            let test = match &ds.test_path {
                Some(tp) => {
                    let test_path = ctx.find(tp, "test file")?;
                    files.push(test_path.display().to_string());
                    data_files.push(describe(&test_path, ctx)?);
                    let mut test = load(&test_path)?;
                    // LibSVM files may have fewer columns when their last features are zero.
                    if ds.name == "libsvm" && ds.n_features.is_none() {
                        let d = train.n_features().max(test.n_features());
                        let train_d = load_libsvm(&train_path, Some(d))?;
                        test = load_libsvm(&test_path, Some(d))?;
                        return finish(cfg, train_d, Some(test), (files, data_files), start);
                    }
                    Some(test)
                }
                None => None,
            };
            (train, test)
        }
        "synthetic" => {
            let n = ds.n.unwrap_or(0);
            let d = ds.d.unwrap_or(0);
            let seed = ds.seed.unwrap_or(cfg.seed);
            let data = if loss == LossKind::Squared {
                linear_gaussian(n, d, ds.noise_std.unwrap_or(0.1), seed)?.0
            } else {
                logistic_planted(
                    n,
                    d,
                    seed,
                    &SyntheticOptions {
                        signal: ds.signal.unwrap_or(3.0),
                    },
                )?
                .0
            };
            (data, None)
        }
        name => (bundled::by_name(name)?, None),
    };
    finish(cfg, train_raw, test_raw, (files, data_files), start)
}

fn finish(
    cfg: &ExperimentConfig,
    train_raw: Dataset,
    test_raw: Option<Dataset>,
    (files, data_files): (Vec<String>, Vec<DataFile>),
    start: Instant,
) -> Result<Prepared> {
    let ds = &cfg.dataset;
    let loss = cfg.model.loss;
    let context = match files.first() {
        Some(f) => format!("the training data ({f})"),
        None => format!("the training data of dataset `{}`", ds.name),
    };
    check_two_classes(&train_raw, loss, &context)?;
    let (train, labels) = relabel(&train_raw, ds.classes.as_deref(), loss)?;
    let test = match test_raw {
        Some(t) => Some(relabel(&t, ds.classes.as_deref(), loss)?.0),
        None => None,
    };
    let (train, test) = match ds.pixel_scale {
        PixelScale::Max(m) => (
            scale_pixels_by(&train, m)?,
            test.map(|t| scale_pixels_by(&t, m)).transpose()?,
        ),
        PixelScale::None | PixelScale::Auto => (train, test),
    };
    let (train, test) = match (test, ds.test_fraction) {
        (Some(t), None) => (train, t),
        (_, fraction) => {
            let f = fraction.unwrap_or(0.2);
            train_test_split(&train, f, ds.split_seed.unwrap_or(cfg.seed))?
        }
    };
    if train.n_features() != test.n_features() {
        return Err(lethe_data::DataError::DimensionMismatch {
            expected: train.n_features(),
            found: test.n_features(),
            context: "test set vs training set".into(),
        }
        .into());
    }
    let (train, test) = if ds.standardize {
        standardize(&train, &test)?
    } else {
        (train, test)
    };
    let train = normalize_rows(&train, ds.normalize)?;
    let test = normalize_rows(&test, ds.normalize)?;
    let max_row_norm = train.row_norms().into_iter().fold(0.0f64, f64::max);
    let info = DataInfo {
        name: ds.name.clone(),
        n_train: train.n_samples(),
        n_test: test.n_samples(),
        d: train.n_features(),
        classes: train.classes(),
        labels,
        files,
        data_files,
        max_row_norm,
        train_fingerprint: train.fingerprint(),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(Prepared {
        train: Arc::new(train),
        test: Arc::new(test),
        info,
    })
}

type Slot = Arc<Mutex<Option<Arc<Prepared>>>>;

/// A per-process cache of prepared data, keyed by the resolved dataset config (plus the loss,
/// the experiment seed and the data context): grid points that share data load it once, and
/// points that need the same data at the same time wait for one load.
#[derive(Debug, Default)]
pub struct DataCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl DataCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prepared data of `cfg`, loading it on first use. Errors are not cached.
    ///
    /// # Errors
    /// As [`prepare`].
    pub fn get(&self, cfg: &ExperimentConfig, ctx: &DataContext) -> Result<(Arc<Prepared>, bool)> {
        let key = format!(
            "{}|{}|{}|{:?}|{}",
            serde_json::to_string(&cfg.dataset).unwrap_or_default(),
            cfg.model.loss.name(),
            cfg.seed,
            ctx.data_dir,
            ctx.config_dir.display()
        );
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key).or_default().clone()
        };
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = guard.as_ref() {
            return Ok((p.clone(), true));
        }
        let p = Arc::new(prepare(cfg, ctx)?);
        *guard = Some(p.clone());
        Ok((p, false))
    }
}

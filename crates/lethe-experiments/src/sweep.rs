//! Running a whole experiment: grid points in parallel, shards, resuming, and the merged
//! result file.
//!
//! # Files
//! - `DIR/<name>.points/<index>-<key>.json`: one finished grid point (`lethe.point/1`), written
//!   atomically as soon as the point finishes. `<key>` is the point's [`result_key`]: the first
//!   16 hex digits of the SHA-256 of its resolved config without the fields that only name or
//!   describe it ([`NON_RESULT_FIELDS`]), so a changed config never reuses a stale point (the
//!   stale file is left alone, never deleted), while an edited description, or a grid value
//!   inserted before a point (which shifts its index), reuses the finished file with the same
//!   key: it is copied to the point's new name with its index, params and config updated.
//! - `DIR/<name>.json`: the merged result (`lethe.result/1`), rewritten atomically after every
//!   run from every point file present, in grid order. `points_done < points_total` while
//!   shards are missing.
//!
//! - `DIR/<name>.points/<index>-<key>.failed`: the error of a point whose last run failed
//!   (`lethe.point-failure/1`); the merged result lists these points under `failed`.
//!
//! A re-run skips points whose file exists; a killed run leaves only complete point files
//! (plus possibly a `.…tmp` file, ignored, and removed by a later run once it is
//! [`crate::files::STALE_TMP_AGE`] old). A run refuses to write its result over its own config
//! and checks that the output directory is writable before computing anything. Shards (`--shard I/N`, 0 ≤ I < N) run the points
//! with `index % N == I`, so N array jobs cover every point exactly once; the last one to finish
//! writes a complete merged file (or run `lethe run CONFIG --merge-only` afterwards); merges
//! hold an exclusive lock on `DIR/<name>.points/merge.lock`, so concurrent ones never leave an
//! incomplete file behind a complete one.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::audit_scores::{ScoresTarget, scores_dir_name};
use crate::config::{self, LoadedConfig, PointSpec};
use crate::data::{self, DataCache, DataContext};
use crate::error::{ConfigIssue, ConfigIssues, ExperimentError, Result};
use crate::json;
use crate::memory::{MemoryLimit, PointBudget, Shape, check_point};
use crate::runner::{LedgerTarget, PointProgress, Provenance, noise_key, run_point};

/// Top-level config fields that name or describe an experiment and never change a number of
/// its results: left out of [`result_key`].
pub const NON_RESULT_FIELDS: &[&str] = &["name", "description", "reproduces"];

/// The key finished points are found by: the first 16 hex digits of the SHA-256 of a point's
/// resolved config without [`NON_RESULT_FIELDS`] (everything else — seed, data, model,
/// removal, audit — determines the result).
pub fn result_key(config_value: &Value) -> String {
    let mut v = config_value.clone();
    if let Value::Object(m) = &mut v {
        for f in NON_RESULT_FIELDS {
            m.remove(*f);
        }
    }
    json::hash(&v)[..16].to_string()
}

/// Schema tag of a merged result file.
pub const RESULT_SCHEMA: &str = "lethe.result/1";
/// Schema tag of a point file.
pub const POINT_SCHEMA: &str = "lethe.point/1";
/// Schema tag of the record of a failed point.
pub const FAILURE_SCHEMA: &str = "lethe.point-failure/1";

/// `--shard I/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0 ≤ index < count.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 0 ≤ I < N.
    ///
    /// # Errors
    /// [`ExperimentError::Usage`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            ExperimentError::Usage(format!(
                "--shard expects I/N with 0 ≤ I < N (e.g. 0/4 … 3/4), got \"{s}\""
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// Whether grid point `i` belongs to this shard.
    pub fn contains(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// Options of [`run_experiment`].
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Output directory (`results/` by default in the binary).
    pub out_dir: PathBuf,
    /// `--data-dir` (falls back to `$LETHE_DATA`).
    pub data_dir: Option<PathBuf>,
    /// Grid points run in parallel (≥ 1).
    pub jobs: usize,
    /// Run only this shard's points.
    pub shard: Option<Shard>,
    /// No progress output.
    pub quiet: bool,
    /// Only merge the point files present; run nothing.
    pub merge_only: bool,
    /// Re-run points even when their file exists (the new file replaces the old one).
    pub force: bool,
    /// `--max-memory` in bytes: the memory the points running at once may use together. `None`:
    /// `$LETHE_MAX_MEMORY`, else the available memory ([`MemoryLimit::detect`]).
    pub max_memory: Option<u64>,
}

impl RunOptions {
    /// Defaults: `results/`, one job, no shard, progress shown.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            data_dir: None,
            jobs: 1,
            shard: None,
            quiet: false,
            merge_only: false,
            force: false,
            max_memory: None,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The merged result file.
    pub result_path: PathBuf,
    /// Points in the sweep.
    pub points_total: usize,
    /// Points whose file exists after the run.
    pub points_done: usize,
    /// Points run now.
    pub ran: Vec<usize>,
    /// Points of this shard skipped because they were finished.
    pub skipped: Vec<usize>,
    /// Points that failed, with the error.
    pub failed: Vec<(usize, String)>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A resolved grid point.
#[derive(Clone, Debug)]
pub struct ResolvedPoint {
    /// The spec (index, params).
    pub spec: PointSpec,
    /// The resolved config.
    pub config: config::ExperimentConfig,
    /// Its value (embedded in the run).
    pub value: Value,
    /// First 16 hex digits of the SHA-256 of `value`.
    pub hash: String,
    /// [`result_key`] of `value`: names the point's files.
    pub key: String,
}

/// Resolves every point of a loaded config.
///
/// # Errors
/// As [`LoadedConfig::point_config`].
pub fn resolve_points(loaded: &LoadedConfig) -> Result<Vec<ResolvedPoint>> {
    loaded
        .points
        .iter()
        .map(|p| {
            let config = loaded.point_config(p)?;
            let value = json::to_value(&config)?;
            let hash = json::hash(&value)[..16].to_string();
            let key = result_key(&value);
            Ok(ResolvedPoint {
                spec: p.clone(),
                config,
                value,
                hash,
                key,
            })
        })
        .collect()
}

/// `DIR/<name>.points`.
pub fn points_dir(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!("{name}.points"))
}

/// The file of one point (`key` is its [`result_key`]).
pub fn point_file(out_dir: &Path, name: &str, index: usize, key: &str) -> PathBuf {
    points_dir(out_dir, name).join(format!("{index}-{key}.json"))
}

/// `DIR/<name>.json`, the merged result.
pub fn result_file(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!("{name}.json"))
}

/// The record of a point that failed in its last run (`lethe.point-failure/1`: index, params,
/// error, exit code), next to where its point file would be. Removed when the point succeeds.
pub fn failure_file(out_dir: &Path, name: &str, index: usize, key: &str) -> PathBuf {
    points_dir(out_dir, name).join(format!("{index}-{key}.failed"))
}

/// Reads a failure record ([`failure_file`]), if there is one.
pub fn read_failure(path: &Path) -> Option<Value> {
    let v = json::read_json(path).ok()?;
    (v.get("schema")?.as_str()? == FAILURE_SCHEMA).then_some(v)
}

/// Reads a finished point file, if it exists and is a complete point whose config has this
/// [`result_key`].
pub fn read_point(path: &Path, key: &str) -> Option<Value> {
    let v = json::read_json(path).ok()?;
    if v.get("schema")?.as_str()? != POINT_SCHEMA {
        return None;
    }
    let run = v.get("run")?;
    (result_key(run.get("config")?) == key).then(|| run.clone())
}

/// The finished point files of a sweep by the key in their name (`<index>-<key>.json`), to
/// reuse a point computed under another index or description.
fn finished_by_key(dir: &Path) -> BTreeMap<String, PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let stem = p.file_name()?.to_str()?.strip_suffix(".json")?;
            let (_, key) = stem.split_once('-')?;
            Some((key.to_string(), p))
        })
        .collect()
}

/// Gives a finished run (same [`result_key`] as `p`) the index, params, config and hash of
/// `p`: the numbers are those `p` computes, the description and grid position are `p`'s.
fn present_as(run: &mut Value, p: &ResolvedPoint) {
    if let Value::Object(m) = run {
        m.insert("index".into(), json!(p.spec.index));
        m.insert("params".into(), json!(p.spec.params));
        m.insert("config".into(), p.value.clone());
        m.insert("hash".into(), json!(p.hash));
    }
}

/// Reuses a finished point with `p`'s key found under another file name: its run, with the
/// index, params, config and hash of `p` (the numbers are those `p` would compute), is written
/// to `p`'s own point file. Returns whether it was reused.
fn reuse_point(
    p: &ResolvedPoint,
    name: &str,
    out_dir: &Path,
    found: &BTreeMap<String, PathBuf>,
) -> bool {
    let Some(mut run) = found.get(&p.key).and_then(|f| read_point(f, &p.key)) else {
        return false;
    };
    present_as(&mut run, p);
    let doc = json!({"schema": POINT_SCHEMA, "name": name, "run": run});
    json::write_json_atomic(&point_file(out_dir, name, p.spec.index, &p.key), &doc).is_ok()
}

/// Validates a config completely: schema, grid, cross-field problems, data files (with the
/// paths tried) and the memory estimate of every point against the detected limit
/// ([`MemoryLimit::detect`]), for `lethe validate`.
///
/// # Errors
/// [`ExperimentError::Config`] listing every problem; [`ExperimentError::Io`] when the file
/// cannot be read; [`ExperimentError::Usage`] for a malformed `$LETHE_MAX_MEMORY`.
pub fn validate(config_path: &Path, data_dir: Option<PathBuf>) -> Result<LoadedConfig> {
    validate_with_limit(config_path, data_dir, &MemoryLimit::detect(None)?)
}

/// [`validate`] against a given memory limit (`lethe validate --max-memory`). A point is
/// estimated on the shape its config determines ([`Shape::from_config`]); CSV data, whose
/// shape only loading tells, are estimated by `lethe run`.
///
/// # Errors
/// As [`validate`].
pub fn validate_with_limit(
    config_path: &Path,
    data_dir: Option<PathBuf>,
    limit: &MemoryLimit,
) -> Result<LoadedConfig> {
    let loaded = match config::load(config_path) {
        Ok(l) => l,
        Err(ExperimentError::Config(mut c)) => {
            // Report the data files too, not only the config's own problems.
            c.issues
                .extend(data::check_raw_files(config_path, data_dir));
            c.issues.sort();
            c.issues.dedup();
            return Err(ExperimentError::Config(c));
        }
        Err(e) => return Err(e),
    };
    let ctx = DataContext::new(data_dir, loaded.dir.clone());
    let mut issues = Vec::new();
    let threads = rayon::current_num_threads();
    let several = loaded.points.len() > 1;
    // One point's config at a time: holding every resolved point (each with its own copy of
    // the description) took 4.9 GB for 100,000 points of a 20 KB description.
    for spec in &loaded.points {
        let point = loaded.point_config(spec)?;
        for issue in data::check_files(&point.dataset, &ctx) {
            let issue = config::remap(issue, spec);
            if !issues.contains(&issue) {
                issues.push(issue);
            }
        }
        if let Some(shape) = Shape::from_config(&point.dataset)
            && let Err(mut issue) = check_point(&point, &shape, threads, 1, limit)
        {
            if several {
                issue.message = format!("grid point {}: {}", spec.index, issue.message);
            }
            issues.push(config::remap(issue, spec));
        }
    }
    if issues.is_empty() {
        Ok(loaded)
    } else {
        issues.sort();
        Err(ExperimentError::Config(ConfigIssues {
            file: config_path.to_path_buf(),
            issues,
        }))
    }
}

/// Short text of a point's parameters: `lambda=0.001 sigma=10`.
pub fn describe(params: &BTreeMap<String, Value>) -> String {
    if params.is_empty() {
        return "base".into();
    }
    params
        .iter()
        .map(|(k, v)| {
            let short = k.rsplit('.').next().unwrap_or(k);
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{short}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Progress display of a whole run.
struct Display {
    mode: Mode,
    total: usize,
    done: Mutex<usize>,
    start: Instant,
}

enum Mode {
    Quiet,
    Lines,
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
    },
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Display {
    fn new(quiet: bool, total: usize, name: &str) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(style(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} points, {eta} left",
            ));
            overall.set_prefix(name.to_string());
            overall.enable_steady_tick(Duration::from_millis(250));
            Mode::Bars { multi, overall }
        } else {
            Mode::Lines
        };
        Self {
            mode,
            total,
            done: Mutex::new(0),
            start: Instant::now(),
        }
    }

    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{text}"),
            Mode::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
        }
    }

    fn start_point(&self, index: usize, what: &str) -> PointBar {
        match &self.mode {
            Mode::Bars { multi, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style(
                    "  {prefix} {msg} {bar:20} {pos}/{len} requests, {eta} left",
                ));
                bar.set_prefix(format!("#{index} {what}:"));
                PointBar { bar: Some(bar) }
            }
            Mode::Lines => {
                eprintln!("[lethe] point {index} ({what}) started");
                PointBar { bar: None }
            }
            Mode::Quiet => PointBar { bar: None },
        }
    }

    fn finish_point(&self, bar: PointBar, index: usize, what: &str, outcome: &str) {
        let done = {
            let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
            *d += 1;
            *d
        };
        if let Some(b) = bar.bar {
            b.finish_and_clear();
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = if done > 0 && done < self.total {
            format!(
                ", ~{:.0} s left",
                elapsed / done as f64 * (self.total - done) as f64
            )
        } else {
            String::new()
        };
        let text = format!(
            "[lethe] point {index} ({what}) {outcome} [{done}/{} of this run, {elapsed:.1} s{eta}]",
            self.total
        );
        match &self.mode {
            Mode::Bars { multi, overall } => {
                overall.inc(1);
                let _ = multi.println(text);
            }
            Mode::Lines => eprintln!("{text}"),
            Mode::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.finish_and_clear();
        }
    }
}

struct PointBar {
    bar: Option<ProgressBar>,
}

impl PointProgress for PointBar {
    fn phase(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_string());
        }
    }

    fn requests(&self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            if b.length() != Some(total as u64) {
                b.set_length(total as u64);
                b.reset_eta();
            }
            b.set_position(done as u64);
        }
    }
}

/// Runs an experiment (see the module docs) and writes the merged result.
///
/// # Errors
/// [`ExperimentError::Config`] for an invalid config; [`ExperimentError::Points`] (after
/// merging everything that finished) when points failed; I/O errors writing results.
pub fn run_experiment(config_path: &Path, opts: &RunOptions) -> Result<RunSummary> {
    let loaded = config::load(config_path)?;
    run_loaded(&loaded, opts)
}

/// Runs an already loaded config ([`config::load`] or, for a config held in memory,
/// [`config::load_str`]) exactly as [`run_experiment`] runs a file: same points, same seeds,
/// same merged result in `opts.out_dir`.
///
/// # Errors
/// As [`run_experiment`], except reading the config.
pub fn run_loaded(loaded: &LoadedConfig, opts: &RunOptions) -> Result<RunSummary> {
    let start = Instant::now();
    let config_path = loaded.file.as_path();
    let points = resolve_points(loaded)?;
    let name = loaded.base.name.clone();
    let ctx = DataContext::new(opts.data_dir.clone(), loaded.dir.clone());
    let provenance = Provenance::detect_with_outputs(Some(&opts.out_dir));
    if opts.jobs == 0 {
        return Err(ExperimentError::Usage("--jobs must be at least 1".into()));
    }
    let limit = MemoryLimit::detect(opts.max_memory)?;
    crate::files::refuse_overwrite(&result_file(&opts.out_dir, &name), [config_path])?;

    let mine: Vec<&ResolvedPoint> = points
        .iter()
        .filter(|p| opts.shard.is_none_or(|s| s.contains(p.spec.index)))
        .collect();
    let mut skipped = Vec::new();
    let mut reused = 0;
    let mut pending = Vec::new();
    let found = finished_by_key(&points_dir(&opts.out_dir, &name));
    for p in &mine {
        let file = point_file(&opts.out_dir, &name, p.spec.index, &p.key);
        if !opts.force && read_point(&file, &p.key).is_some() {
            skipped.push(p.spec.index);
        } else if !opts.force && !opts.merge_only && reuse_point(p, &name, &opts.out_dir, &found) {
            skipped.push(p.spec.index);
            reused += 1;
        } else if !opts.merge_only {
            pending.push(*p);
        }
    }

    // Check the data files of the points to run before starting anything.
    if !pending.is_empty() {
        let mut issues: Vec<ConfigIssue> = Vec::new();
        for p in &pending {
            for issue in data::check_files(&p.config.dataset, &ctx) {
                let issue = config::remap(issue, &p.spec);
                if !issues.contains(&issue) {
                    issues.push(issue);
                }
            }
        }
        if !issues.is_empty() {
            issues.sort();
            return Err(ExperimentError::Config(ConfigIssues {
                file: config_path.to_path_buf(),
                issues,
            }));
        }
    }

    // Fail now, not after computing every point, when the results cannot be written.
    crate::files::check_writable_dir(&points_dir(&opts.out_dir, &name))?;
    crate::files::clean_stale_tmp(&opts.out_dir);
    crate::files::clean_stale_tmp(&points_dir(&opts.out_dir, &name));
    crate::files::clean_stale_tmp(&opts.out_dir.join(scores_dir_name(&name)));
    // Create missing noise key files once, before points run in parallel.
    for p in &pending {
        noise_key(&p.config, &ctx)?;
    }

    // Each point is checked against its share of the limit inside its job, so a point too
    // large for the machine fails alone and is recorded; the others run.
    let budget = PointBudget {
        limit,
        concurrent: opts.jobs.min(pending.len()).max(1),
    };
    let display = Display::new(opts.quiet, pending.len(), &name);
    if !skipped.is_empty() {
        display.line(&format!(
            "[lethe] {name}: {} point(s) already finished, skipped ({reused} found under \
             another index or description)",
            skipped.len()
        ));
    }
    let cache = DataCache::new();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| ExperimentError::Usage(format!("cannot start {} jobs: {e}", opts.jobs)))?;
    let outcomes: Vec<(usize, Result<()>)> = pool.install(|| {
        pending
            .par_iter()
            .map(|p| {
                let what = describe(&p.spec.params);
                let bar = display.start_point(p.spec.index, &what);
                let ledger =
                    LedgerTarget::new(&opts.out_dir, &name, p.spec.index, &p.hash, opts.force);
                let scores =
                    ScoresTarget::new(&opts.out_dir, &name, p.spec.index, &p.hash, opts.force);
                let result = run_point(
                    &p.config,
                    p.spec.index,
                    p.spec.params.clone(),
                    p.value.clone(),
                    p.hash.clone(),
                    &provenance,
                    &ctx,
                    &cache,
                    &bar,
                    Some(&ledger),
                    Some(&scores),
                    Some(&budget),
                )
                .map_err(|e| match e {
                    // Point the refusal at the grid entry that set the value.
                    ExperimentError::TooLarge(issue) => {
                        ExperimentError::TooLarge(Box::new(config::remap(*issue, &p.spec)))
                    }
                    other => other,
                })
                .and_then(|record| {
                    // what weakens the audit is said as it happens, not only in the file
                    for w in record.audit.iter().flat_map(|a| &a.warnings) {
                        display.line(&format!("[lethe] point {} warning: {w}", p.spec.index));
                    }
                    let run = json::to_value(&record)?;
                    let doc = json!({"schema": POINT_SCHEMA, "name": name, "run": run});
                    json::write_json_atomic(
                        &point_file(&opts.out_dir, &name, p.spec.index, &p.key),
                        &doc,
                    )?;
                    Ok(record.timings.total)
                });
                let failure = failure_file(&opts.out_dir, &name, p.spec.index, &p.key);
                let outcome = match &result {
                    Ok(s) => {
                        let _ = std::fs::remove_file(&failure);
                        format!("done in {s:.1} s")
                    }
                    Err(e) => {
                        // Recorded so that the merged result says why the point is missing.
                        let doc = json!({"schema": FAILURE_SCHEMA, "index": p.spec.index,
                            "params": p.spec.params, "error": e.to_string(),
                            "exit_code": e.exit_code()});
                        let _ = json::write_json_atomic(&failure, &doc);
                        format!("FAILED: {e}")
                    }
                };
                display.finish_point(bar, p.spec.index, &what, &outcome);
                (p.spec.index, result.map(|_| ()))
            })
            .collect()
    });
    display.finish();

    let (points_done, result_path) = merge(loaded, &points, &opts.out_dir, &provenance)?;
    let mut failed = Vec::new();
    let mut errors = Vec::new();
    let mut ran = Vec::new();
    for (index, r) in outcomes {
        match r {
            Ok(()) => ran.push(index),
            Err(e) => {
                failed.push((index, e.to_string()));
                let params = points
                    .iter()
                    .find(|p| p.spec.index == index)
                    .map(|p| serde_json::to_string(&p.spec.params).unwrap_or_default())
                    .unwrap_or_default();
                errors.push(ExperimentError::Point {
                    index,
                    params,
                    source: Box::new(e),
                });
            }
        }
    }
    let summary = RunSummary {
        result_path,
        points_total: points.len(),
        points_done,
        ran,
        skipped,
        failed,
        seconds: start.elapsed().as_secs_f64(),
    };
    match errors.len() {
        0 => Ok(summary),
        1 => Err(errors.remove(0)),
        _ => Err(ExperimentError::Points(errors)),
    }
}

/// The lock file merges of a sweep hold ([`crate::files::FileLock`]).
pub fn merge_lock_file(out_dir: &Path, name: &str) -> PathBuf {
    points_dir(out_dir, name).join("merge.lock")
}

/// Merges every finished point file of the sweep into `DIR/<name>.json` (atomically) and
/// returns the number of points included and the path.
///
/// Safe under concurrency: the point files are read and the merged file renamed into place
/// under an exclusive lock ([`merge_lock_file`]), so concurrent merges (shards finishing
/// together) run one after another and the last one, which sees every point file written
/// before it, leaves a merged file with all of them.
///
/// # Errors
/// I/O errors locking or writing the merged file.
pub fn merge(
    loaded: &LoadedConfig,
    points: &[ResolvedPoint],
    out_dir: &Path,
    provenance: &Provenance,
) -> Result<(usize, PathBuf)> {
    let name = &loaded.base.name;
    let _lock = crate::files::FileLock::exclusive(&merge_lock_file(out_dir, name))?;
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for p in points {
        if let Some(mut run) = read_point(&point_file(out_dir, name, p.spec.index, &p.key), &p.key)
        {
            present_as(&mut run, p);
            runs.push(run);
        } else if let Some(f) = read_failure(&failure_file(out_dir, name, p.spec.index, &p.key)) {
            failed.push(f);
        }
    }
    let mut doc = Map::new();
    doc.insert("schema".into(), json!(RESULT_SCHEMA));
    doc.insert("name".into(), json!(name));
    if let Some(d) = &loaded.base.description {
        doc.insert("description".into(), json!(d));
    }
    if let Some(r) = &loaded.base.reproduces {
        doc.insert("reproduces".into(), json::to_value(r)?);
    }
    doc.insert("lethe_version".into(), json!(provenance.lethe_version));
    doc.insert("git_commit".into(), json!(provenance.git_commit));
    doc.insert("git_dirty".into(), json!(provenance.git_dirty));
    doc.insert("build_commit".into(), json!(provenance.build_commit));
    doc.insert("seed".into(), json!(loaded.base.seed));
    doc.insert("config".into(), loaded.resolved_value()?);
    doc.insert("points_total".into(), json!(points.len()));
    doc.insert("points_done".into(), json!(runs.len()));
    doc.insert("complete".into(), json!(runs.len() == points.len()));
    let done = runs.len();
    doc.insert("runs".into(), Value::Array(runs));
    if !failed.is_empty() {
        doc.insert("failed".into(), Value::Array(failed));
    }
    let path = result_file(out_dir, name);
    json::write_json_atomic(&path, &Value::Object(doc))?;
    Ok((done, path))
}

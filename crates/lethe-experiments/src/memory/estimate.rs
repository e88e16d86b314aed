//! The memory estimate of one run point, and the check against the limit.
//!
//! The estimate counts the large buffers alive at the peak, in bytes (f64 = 8):
//!
//! * **d × d matrices**: per class model being trained or stepped at once (one-vs-rest models
//!   run in parallel, up to the thread count), the Hessian (or final Gram matrix) and its
//!   Cholesky factor, and two buffers per thread (the per-thread partial sums of the blocked
//!   and of the error-bounded Gram matrix behind the rigorous ‖X‖₂ bound); plus the factor and
//!   Gram matrix every class model keeps for the fast path;
//! * **X**: the training and test features, the row-major copy of the removal fast path and
//!   one scaled copy `D^{1/2}X` per class model trained at once;
//! * **reference models** of LiRA and RMIA: the membership assignment (pool × K bytes), the
//!   statistics of every model on every evaluated and population row (twice: per model, then
//!   as a matrix), the stacked pool, and the reference models trained in parallel (each with
//!   its own d × d matrices and scaled pool);
//! * **bootstrap**: per replicate its statistics and their copy when the intervals are read.
//!
//! It is an estimate of the peak, not an exact account (small vectors and allocator overhead
//! are left out), meant to refuse points that cannot fit, before they abort the process.

use super::limit::{MemoryLimit, format_bytes};
use crate::config::{AuditAttack, DatasetConfig, ExperimentConfig, ReferenceAttack};
use crate::error::ConfigIssue;

const F64: u128 = 8;

/// FPR targets whose TPR a bootstrap replicate records (an upper bound of what audits use).
const BOOTSTRAP_TARGETS: u128 = 4;

/// The shape of a point's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Training rows (0 when not known before loading: the estimate is then a lower bound).
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Features.
    pub d: usize,
    /// Class models: the number of classes for one-vs-rest, else 1.
    pub class_models: usize,
}

impl Shape {
    /// The shape the config alone determines, for `lethe validate` and before loading: exact
    /// for synthetic and bundled data; d without the rows for LibSVM with `n_features` and for
    /// the image sets; `None` for CSV files and LibSVM without `n_features`.
    pub fn from_config(ds: &DatasetConfig) -> Option<Self> {
        let (rows, d, classes) = match ds.name.as_str() {
            "synthetic" => (ds.n?, ds.d?, 2),
            "digits" => (1797, 64, 10),
            "breast_cancer" => (569, 30, 2),
            "mnist" | "fashion_mnist" => (0, 784, 10),
            "libsvm" => (0, ds.n_features?, 2),
            _ => return None,
        };
        let classes = ds.classes.as_ref().map_or(classes, Vec::len);
        Some(Self {
            n_train: rows,
            n_test: 0,
            d,
            class_models: if classes > 2 { classes } else { 1 },
        })
    }
}

/// One component of an [`Estimate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// What it is, for people (`"d × d matrices (d = 40000, 10 at once)"`).
    pub what: String,
    /// The config path to change to make it smaller.
    pub path: String,
    /// What to change, in words.
    pub advice: String,
    /// Bytes.
    pub bytes: u128,
}

/// The memory a point needs at its peak, by component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The components (those of zero bytes left out).
    pub parts: Vec<Part>,
}

impl Estimate {
    /// The total in bytes.
    pub fn total(&self) -> u128 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The largest component.
    pub fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by_key(|p| p.bytes)
    }
}

fn sq(d: usize) -> u128 {
    d as u128 * d as u128
}

/// The config path of the feature dimension of `ds`.
fn dimension_path(ds: &DatasetConfig) -> &'static str {
    match ds.name.as_str() {
        "synthetic" => "$.dataset.d",
        "libsvm" => "$.dataset.n_features",
        _ => "$.dataset",
    }
}

/// The estimate of a point with data of `shape`, its linear algebra on `threads` threads.
pub fn estimate(cfg: &ExperimentConfig, shape: &Shape, threads: usize) -> Estimate {
    let threads = threads.max(1) as u128;
    let d = shape.d;
    let n = shape.n_train as u128;
    let k = shape.class_models.max(1) as u128;
    let at_once = k.min(threads);
    let mut parts = Vec::new();
    let dd_count = at_once * (2 + 2 * threads) + 2 * k;
    parts.push(Part {
        what: format!(
            "d × d matrices (d = {d}; {dd_count} at once: Hessian and factor per class model \
             trained at once, 2 per thread on {threads} thread(s), the kept factors and Gram \
             matrices)"
        ),
        path: dimension_path(&cfg.dataset).into(),
        advice: "use fewer features, or fewer threads (RAYON_NUM_THREADS, --jobs)".into(),
        bytes: dd_count * sq(d) * F64,
    });
    let x_rows = n + shape.n_test as u128 + n * (1 + at_once);
    parts.push(Part {
        what: format!(
            "X and its working copies ({} × {d} training, {} test rows)",
            shape.n_train, shape.n_test
        ),
        path: match cfg.dataset.name.as_str() {
            "synthetic" => "$.dataset.n".into(),
            _ => dimension_path(&cfg.dataset).into(),
        },
        advice: "use fewer rows or features".into(),
        bytes: x_rows * d as u128 * F64,
    });
    if let Some(audit) = &cfg.audit {
        let rows = n + shape.n_test as u128;
        let pool = audit.population_size.map_or(rows, |p| {
            (p as u128).min(rows) + 2 * forget_rows(cfg, shape)
        });
        for (i, attack) in audit.attacks.iter().enumerate() {
            let AuditAttack::Reference(r) = attack else {
                continue;
            };
            let (name, refs) = match r {
                ReferenceAttack::Lira(l) => ("LiRA", l.n_reference as u128),
                ReferenceAttack::Rmia(r) => ("RMIA", r.n_reference as u128),
            };
            let parallel = refs.min(threads);
            let bytes = pool * refs
                + 2 * refs * pool * F64
                + pool * d as u128 * F64
                + parallel * (4 * sq(d) + pool * d as u128) * F64;
            parts.push(Part {
                what: format!(
                    "{name} reference models ({refs} models on a pool of {pool} rows, {parallel} \
                     trained at once)"
                ),
                path: format!("$.audit.attacks[{i}].n_reference"),
                advice: "use fewer reference models, or a smaller audit.population_size".into(),
                bytes,
            });
        }
        let reps = audit.bootstrap.map_or(1000, |b| b.reps) as u128;
        parts.push(Part {
            what: format!("bootstrap replicates ({reps})"),
            path: "$.audit.bootstrap.reps".into(),
            advice: "use fewer bootstrap replicates".into(),
            bytes: reps * (F64 * (BOOTSTRAP_TARGETS + 2) + 40),
        });
        if let Some(game) = &audit.game {
            let trials = game.trials as u128;
            parts.push(Part {
                what: format!(
                    "certified-removal game ({trials} unlearned and {trials} retrained draws, \
                     their weights kept; {threads} draw(s) trained at once)"
                ),
                path: "$.audit.game.trials".into(),
                advice: "play fewer draws (audit.game.trials)".into(),
                bytes: 2 * trials * (d as u128 * F64 + 64)
                    + threads * (2 * sq(d) + n * d as u128) * F64,
            });
        }
    }
    parts.retain(|p| p.bytes > 0);
    Estimate { parts }
}

/// Rows of the forget set (removed rows), at most the training rows.
fn forget_rows(cfg: &ExperimentConfig, shape: &Shape) -> u128 {
    let r = &cfg.removal;
    let rows = (r.requests as u128).saturating_mul(r.batch_size as u128);
    if shape.n_train == 0 {
        rows
    } else {
        rows.min(shape.n_train as u128)
    }
}

/// Refuses a point whose estimate exceeds `limit / concurrent` (its share when `concurrent`
/// points run at once), with a problem at the config path of the largest component that
/// gives the estimate, the limit and what to change.
///
/// # Errors
/// The [`ConfigIssue`] of the refusal.
pub fn check_point(
    cfg: &ExperimentConfig,
    shape: &Shape,
    threads: usize,
    concurrent: usize,
    limit: &MemoryLimit,
) -> Result<Estimate, ConfigIssue> {
    let est = estimate(cfg, shape, threads);
    let concurrent = concurrent.max(1);
    let share = u128::from(limit.bytes) / concurrent as u128;
    let total = est.total();
    if total <= share {
        return Ok(est);
    }
    let Some(largest) = est.largest() else {
        return Ok(est);
    };
    let parts: Vec<String> = est
        .parts
        .iter()
        .map(|p| format!("{} {}", p.what, format_bytes(p.bytes)))
        .collect();
    let share_text = if concurrent > 1 {
        format!(
            ", and {concurrent} points run at once (--jobs), so each may use {}",
            format_bytes(share)
        )
    } else {
        String::new()
    };
    Err(ConfigIssue::new(
        largest.path.clone(),
        format!(
            "this point needs an estimated {}{} but the memory limit is {}{share_text}: {}; or \
             raise the limit with --max-memory or ${} (parts: {})",
            format_bytes(total),
            if shape.n_train == 0 { " at least" } else { "" },
            limit,
            largest.advice,
            super::limit::MAX_MEMORY_ENV,
            parts.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::memory::LimitSource;

    fn config(d: usize) -> ExperimentConfig {
        let text = format!(
            r#"{{"schema": "lethe.experiment/1", "name": "t", "seed": 1,
                "dataset": {{"name": "synthetic", "n": 100, "d": {d}}},
                "model": {{"lambda": 0.1, "sigma": 1.0}}}}"#
        );
        load_str(&text, "t.json".as_ref(), ".".into()).unwrap().base
    }

    #[test]
    fn per_thread_copies_and_concurrent_points_count() {
        let cfg = config(1000);
        let shape = Shape::from_config(&cfg.dataset).unwrap();
        assert_eq!((shape.n_train, shape.d, shape.class_models), (100, 1000, 1));
        let one = estimate(&cfg, &shape, 1).total();
        let four = estimate(&cfg, &shape, 4).total();
        // Two d × d buffers per extra thread.
        assert_eq!(four - one, 3 * 2 * 1000 * 1000 * 8);
        let limit = MemoryLimit {
            bytes: u64::try_from(one).unwrap(),
            source: LimitSource::Flag,
        };
        assert!(check_point(&cfg, &shape, 1, 1, &limit).is_ok());
        // Two points at once each get half the limit.
        let e = check_point(&cfg, &shape, 1, 2, &limit).unwrap_err();
        assert_eq!(e.path, "$.dataset.d");
        assert!(
            e.message.contains("2 points run at once (--jobs)"),
            "{}",
            e.message
        );
    }
}

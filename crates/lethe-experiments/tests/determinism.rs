//! One seed gives one result whatever the thread count: a small sweep (training, certified
//! removals on the exact and the fast path, a comparison and a membership-inference audit)
//! run through the CLI with `--jobs 1` and `--jobs 3`, and with `RAYON_NUM_THREADS` 1 and 4,
//! must give bit-identical result files once the fields that legitimately differ between two
//! runs (wall-clock timings, the time a point finished, the machine's load and the process's
//! thread count) are removed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{TempDir, read, write_config};
use serde_json::{Value, json};

/// Above the kernels' parallel threshold (n·d ≥ 2¹⁷ entries), so the parallel code runs.
fn config() -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": "det",
        "seed": 3,
        "dataset": { "name": "synthetic", "n": 3200, "d": 48, "test_fraction": 0.2 },
        "model": { "loss": "logistic", "lambda": 1e-3, "sigma": 1.0 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "requests": 12, "batch_size": 2 },
        "audit": {
            "attacks": ["loss", { "attack": "lira", "n_reference": 4, "online": false }],
            "bootstrap": { "reps": 40, "level": 0.95, "seed": 0 },
            "roc_points": 0
        },
        "compare": { "strategies": ["newton", "influence"] },
        "grid": { "removal.solver": ["cholesky", "pcg", "stale"], "model.sigma": [0.5, 1.0] }
    })
}

/// Fields that differ between two runs of the same config on the same machine: timings (any
/// key mentioning seconds, the `timings` object, and speed-ups, which are ratios of timings),
/// when a point finished, the host's load, and the provenance (which records the process's
/// thread count).
fn is_run_dependent(key: &str) -> bool {
    key.contains("seconds")
        || key.starts_with("speedup")
        || matches!(
            key,
            "timings" | "finished_unix" | "load_average_1m" | "provenance"
        )
}

/// `v` without the [`is_run_dependent`] fields, at any depth.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_run_dependent(k))
                .map(|(k, x)| (k.clone(), strip(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Paths where two values differ (numbers compared by their exact text, i.e. bit for bit).
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differences(u, v, &p, out),
                    _ => out.push(format!("{p}: present in one file only")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                differences(u, v, &format!("{path}[{i}]"), out);
            }
        }
        _ if serde_json::to_string(a).ok() == serde_json::to_string(b).ok() => {}
        _ => out.push(format!("{path}: {a} vs {b}")),
    }
}

/// Runs the config with `lethe run` into `out` and returns the stripped result.
fn run(config: &Path, out: &Path, jobs: &str, rayon_threads: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lethe"));
    cmd.args(["run", config.to_str().unwrap(), "--out"])
        .arg(out)
        .args(["--quiet", "--jobs", jobs]);
    match rayon_threads {
        Some(t) => cmd.env("RAYON_NUM_THREADS", t),
        None => cmd.env_remove("RAYON_NUM_THREADS"),
    };
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "lethe run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let result = read(&out.join("det.json"));
    assert_eq!(result["points_done"], 6, "every point finished");
    strip(&result)
}

fn assert_identical(what: &str, a: &Value, b: &Value) {
    let mut diffs = Vec::new();
    differences(a, b, "$", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what}: {} differences, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(10)]
    );
}

#[test]
fn results_are_bit_identical_across_jobs_and_rayon_threads() {
    let dir = TempDir::new("determinism");
    let file = write_config(dir.path(), "det.json", &config());
    let one = run(&file, &dir.join("jobs1"), "1", None);
    let three = run(&file, &dir.join("jobs3"), "3", None);
    assert_identical("--jobs 1 vs --jobs 3", &one, &three);
    let r1 = run(&file, &dir.join("rayon1"), "2", Some("1"));
    let r4 = run(&file, &dir.join("rayon4"), "2", Some("4"));
    assert_identical("RAYON_NUM_THREADS=1 vs 4", &r1, &r4);
    assert_identical("--jobs 1 vs --jobs 2", &one, &r4);
}

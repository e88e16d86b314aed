//! Resuming a sweep through the CLI: finished points are found by the key of what determines
//! their result, not by grid index or description; and concurrent shard merges leave a merged
//! file with every point.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{TempDir, read, synthetic_config, write_config};
use serde_json::{Value, json};

/// `lethe run CONFIG --out OUT [extra…]`, returning the grid indices the run started
/// (from its progress lines, `[lethe] point I (…) started`).
fn run_cli(config: &Path, out: &Path, extra: &[&str]) -> Vec<usize> {
    let o = Command::new(env!("CARGO_BIN_EXE_lethe"))
        .args(["run", config.to_str().unwrap(), "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "lethe run failed: {stderr}");
    stderr
        .lines()
        .filter(|l| l.ends_with(") started"))
        .filter_map(|l| {
            l.strip_prefix("[lethe] point ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn sigma_grid(name: &str, sigmas: &[f64]) -> Value {
    let mut cfg = synthetic_config(name);
    cfg["grid"] = json!({ "model.sigma": sigmas });
    cfg
}

/// The runs of a merged result without the fields a reused point legitimately rewrites.
fn numbers(result: &Value) -> Vec<Value> {
    result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["params"], r["train"], r["removals"], r["summary"]]))
        .collect()
}

#[test]
fn editing_the_description_reruns_nothing() {
    let dir = TempDir::new("resume-description");
    let out = dir.join("out");
    let mut cfg = sigma_grid("desc", &[0.5, 1.0, 2.0]);
    cfg["description"] = json!("first wording");
    let file = write_config(dir.path(), "c.json", &cfg);
    assert_eq!(run_cli(&file, &out, &[]), vec![0, 1, 2]);
    let before = read(&out.join("desc.json"));

    cfg["description"] = json!("second wording");
    write_config(dir.path(), "c.json", &cfg);
    let started = run_cli(&file, &out, &[]);
    assert!(started.is_empty(), "recomputed {started:?}");
    let after = read(&out.join("desc.json"));
    assert_eq!(after["points_done"], 3);
    assert_eq!(after["description"], "second wording");
    for run in after["runs"].as_array().unwrap() {
        assert_eq!(run["config"]["description"], "second wording");
    }
    assert_eq!(numbers(&before), numbers(&after));
}

#[test]
fn inserting_a_grid_value_computes_only_the_new_point() {
    let dir = TempDir::new("resume-insert");
    let out = dir.join("out");
    let file = write_config(dir.path(), "c.json", &sigma_grid("ins", &[0.5, 2.0]));
    assert_eq!(run_cli(&file, &out, &[]), vec![0, 1]);
    let before = read(&out.join("ins.json"));

    // 1.0 goes between them: σ = 2.0 moves from index 1 to index 2.
    write_config(dir.path(), "c.json", &sigma_grid("ins", &[0.5, 1.0, 2.0]));
    assert_eq!(run_cli(&file, &out, &[]), vec![1]);
    let after = read(&out.join("ins.json"));
    assert_eq!(after["points_done"], 3);
    let runs = after["runs"].as_array().unwrap();
    let indices: Vec<u64> = runs.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, vec![0, 1, 2], "output in grid order");
    assert_eq!(runs[2]["params"]["model.sigma"], 2.0);
    assert_eq!(runs[2]["config"]["model"]["sigma"], 2.0);
    let (old, new) = (numbers(&before), numbers(&after));
    assert_eq!((&new[0], &new[2]), (&old[0], &old[1]));
}

/// Four shards started together, ten times: every merged file has every point.
#[test]
fn concurrent_shards_leave_a_complete_merged_file() {
    let dir = TempDir::new("resume-shards");
    let mut cfg = synthetic_config("shards");
    cfg["removal"] = json!({ "requests": 30 });
    cfg["dataset"] = json!({ "name": "synthetic", "n": 300, "d": 5 });
    cfg["grid"] = json!({ "seed": (0..16).collect::<Vec<_>>() });
    let file = write_config(dir.path(), "c.json", &cfg);
    for trial in 0..10 {
        let out = dir.join(&format!("out{trial}"));
        let children: Vec<Child> = (0..4)
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_lethe"))
                    .args(["run", file.to_str().unwrap(), "--out"])
                    .arg(&out)
                    .args(["--quiet", "--shard", &format!("{i}/4")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success(), "trial {trial}: a shard failed");
        }
        let merged = read(&out.join("shards.json"));
        assert_eq!(merged["points_done"], 16, "trial {trial}");
        assert_eq!(merged["complete"], true, "trial {trial}");
    }
}

/// A merge waits for the merge lock: while another process holds it, `--merge-only` cannot
/// finish (on a fix-less build it finished at once and could rename a stale merge over a
/// newer one); once the lock is released it merges every point.
#[test]
fn a_merge_waits_for_the_merge_lock() {
    use lethe_experiments::files::FileLock;
    use lethe_experiments::sweep::merge_lock_file;
    let dir = TempDir::new("resume-lock");
    let out = dir.join("out");
    let file = write_config(dir.path(), "c.json", &sigma_grid("locked", &[0.5, 1.0]));
    run_cli(&file, &out, &["--quiet"]);
    std::fs::remove_file(out.join("locked.json")).unwrap();
    let lock = FileLock::exclusive(&merge_lock_file(&out, "locked")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lethe"))
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(&out)
        .args(["--quiet", "--merge-only"])
        .spawn()
        .unwrap();
    // Ample for a two-point merge; the child must still be waiting (this can only err towards
    // passing on a machine too slow to merge in that time, never towards failing).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let early = child.try_wait().unwrap();
    drop(lock);
    let status = child.wait().unwrap();
    assert!(early.is_none(), "the merge did not wait for the lock");
    assert!(status.success());
    assert_eq!(read(&out.join("locked.json"))["points_done"], 2);
}

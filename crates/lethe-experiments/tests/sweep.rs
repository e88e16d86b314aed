//! Sweeps: sharding, resuming, atomic and kill-safe result files.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, json_files, read, synthetic_config, write_config};
use lethe_experiments::json::write_atomic;
use lethe_experiments::sweep::{
    POINT_SCHEMA, RESULT_SCHEMA, RunOptions, Shard, points_dir, run_experiment,
};
use serde_json::json;

fn quiet(out: &std::path::Path) -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::new(out)
    }
}

fn grid_config(name: &str) -> serde_json::Value {
    let mut cfg = synthetic_config(name);
    cfg["grid"] = json!({ "model.sigma": [0.5, 1.0, 2.0], "model.lambda": [0.05, 0.1] });
    cfg
}

#[test]
fn shards_partition_the_points() {
    for count in 1..=7 {
        for n in 0..30 {
            let owners: Vec<usize> = (0..count)
                .filter(|&i| Shard { index: i, count }.contains(n))
                .collect();
            assert_eq!(owners.len(), 1, "point {n} with {count} shards: {owners:?}");
        }
    }
    assert!(Shard::parse("3/4").is_ok());
    for bad in ["4/4", "1", "a/b", "1/0", "-1/3"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn shards_together_cover_every_point_once_and_merge() {
    let dir = TempDir::new("shards");
    let file = write_config(dir.path(), "g.json", &grid_config("sharded"));
    let out = dir.join("out");
    let mut ran = Vec::new();
    for i in 0..4 {
        let s = run_experiment(
            &file,
            &RunOptions {
                shard: Some(Shard { index: i, count: 4 }),
                ..quiet(&out)
            },
        )
        .unwrap();
        assert!(s.ran.iter().all(|p| p % 4 == i));
        ran.extend(s.ran);
    }
    ran.sort_unstable();
    assert_eq!(ran, (0..6).collect::<Vec<_>>());
    let merged = read(&out.join("sharded.json"));
    assert_eq!(merged["schema"], RESULT_SCHEMA);
    assert_eq!(merged["points_total"], 6);
    assert_eq!(merged["points_done"], 6);
    assert_eq!(merged["complete"], true);
    let indices: Vec<u64> = merged["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_rerun_skips_finished_points_and_never_loses_them() {
    let dir = TempDir::new("resume");
    let file = write_config(dir.path(), "g.json", &grid_config("resume"));
    let out = dir.join("out");
    let first = run_experiment(&file, &quiet(&out)).unwrap();
    assert_eq!(first.ran.len(), 6);
    let files = json_files(&points_dir(&out, "resume"));
    assert_eq!(files.len(), 6);
    let before: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();

    let second = run_experiment(&file, &quiet(&out)).unwrap();
    assert!(second.ran.is_empty());
    assert_eq!(second.skipped.len(), 6);
    let after: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after, "finished points must not be rewritten");

    // Remove one point: only it runs again, and the merge has everything.
    std::fs::remove_file(&files[2]).unwrap();
    let third = run_experiment(&file, &quiet(&out)).unwrap();
    assert_eq!(third.ran.len(), 1);
    assert_eq!(read(&out.join("resume.json"))["points_done"], 6);

    // A changed config gets new hashes: nothing is reused, and the old files stay.
    let mut changed = grid_config("resume");
    changed["removal"]["requests"] = json!(3);
    let file2 = write_config(dir.path(), "g2.json", &changed);
    let fourth = run_experiment(&file2, &quiet(&out)).unwrap();
    assert_eq!(fourth.ran.len(), 6);
    assert_eq!(json_files(&points_dir(&out, "resume")).len(), 12);
    let merged = read(&out.join("resume.json"));
    assert_eq!(merged["points_done"], 6);
    assert!(
        merged["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["summary"]["requests"] == 3)
    );
}

#[test]
fn a_damaged_point_file_counts_as_missing() {
    let dir = TempDir::new("damaged");
    let file = write_config(dir.path(), "c.json", &synthetic_config("damaged"));
    let out = dir.join("out");
    run_experiment(&file, &quiet(&out)).unwrap();
    let files = json_files(&points_dir(&out, "damaged"));
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&files[0], &text[..text.len() / 2]).unwrap();
    let again = run_experiment(&file, &quiet(&out)).unwrap();
    assert_eq!(again.ran, vec![0]);
    assert_eq!(read(&files[0])["schema"], POINT_SCHEMA);
}

#[test]
fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
    let dir = TempDir::new("atomic");
    let target = dir.join("sub/out.json");
    write_atomic(&target, b"{\"a\": 1}").unwrap();
    write_atomic(&target, b"{\"b\": 2}").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"b\": 2}");
    let names: Vec<String> = std::fs::read_dir(dir.join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["out.json".to_string()]);
    // Writing into a path whose parent is a file fails cleanly.
    assert!(write_atomic(&target.join("x"), b"1").is_err());
}

#[test]
fn killing_a_run_leaves_only_complete_point_files() {
    let dir = TempDir::new("kill");
    let mut cfg = synthetic_config("killed");
    cfg["dataset"] = json!({ "name": "synthetic", "n": 1500, "d": 40 });
    cfg["removal"] = json!({ "requests": 40 });
    cfg["grid"] = json!({ "seed": (0..40).collect::<Vec<_>>() });
    let file = write_config(dir.path(), "k.json", &cfg);
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lethe"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a few points to finish, then kill it mid-run.
    let start = Instant::now();
    let pdir = points_dir(&out, "killed");
    while json_files(&pdir).len() < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = json_files(&pdir);
    assert!(!finished.is_empty());
    for f in &finished {
        let v = read(f);
        assert_eq!(v["schema"], POINT_SCHEMA, "{}", f.display());
        assert!(v["run"]["summary"].is_object());
    }
    // Resuming completes the sweep without redoing the finished points.
    let s = run_experiment(&file, &quiet(&out)).unwrap();
    assert_eq!(s.skipped.len(), finished.len());
    assert_eq!(s.points_done, 40);
    let merged = read(&out.join("killed.json"));
    let idx: BTreeSet<u64> = merged["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx.len(), 40);
}

#[test]
fn parallel_jobs_give_the_same_results_as_one() {
    let dir = TempDir::new("jobs");
    let file = write_config(dir.path(), "g.json", &grid_config("jobs"));
    let a = dir.join("a");
    let b = dir.join("b");
    run_experiment(&file, &quiet(&a)).unwrap();
    run_experiment(
        &file,
        &RunOptions {
            jobs: 3,
            ..quiet(&b)
        },
    )
    .unwrap();
    let (ra, rb) = (read(&a.join("jobs.json")), read(&b.join("jobs.json")));
    let (ra, rb) = (
        ra["runs"].as_array().unwrap(),
        rb["runs"].as_array().unwrap(),
    );
    assert_eq!(ra.len(), rb.len());
    for (x, y) in ra.iter().zip(rb) {
        assert_eq!(x["hash"], y["hash"]);
        assert_eq!(x["params"], y["params"]);
        let (xs, ys) = (
            x["removals"].as_array().unwrap(),
            y["removals"].as_array().unwrap(),
        );
        assert_eq!(xs.len(), ys.len());
        for (p, q) in xs.iter().zip(ys) {
            assert_eq!(p["indices"], q["indices"]);
            // Parallel reductions may sum in another order: equal up to rounding.
            let (bp, bq) = (p["beta"].as_f64().unwrap(), q["beta"].as_f64().unwrap());
            assert!(
                (bp - bq).abs() <= 1e-9 * bp.abs().max(1e-12),
                "{bp} vs {bq}"
            );
        }
    }
}

/// Regenerating committed results must not mark the provenance as dirty, but any other change
/// must.
#[test]
fn provenance_ignores_changes_in_the_output_directory() {
    let dir = TempDir::new("provenance");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args([
                "-c",
                "user.name=lethe",
                "-c",
                "user.email=lethe@example.org",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "git {args:?}");
    };
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("git not installed; skipping");
        return;
    }
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.join("results")).unwrap();
    std::fs::write(dir.join("results/r.json"), "{}").unwrap();
    std::fs::write(dir.join("code.rs"), "fn main() {}").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    let detect = |outputs: Option<&std::path::Path>| {
        lethe_experiments::runner::Provenance::detect_in(dir.path(), outputs).git_dirty
    };
    assert_eq!(detect(Some(&dir.join("results"))), Some(false));
    std::fs::write(dir.join("results/r.json"), "{\"new\": 1}").unwrap();
    assert_eq!(detect(Some(&dir.join("results"))), Some(false));
    assert_eq!(detect(None), Some(true));
    std::fs::write(dir.join("code.rs"), "fn main() { }").unwrap();
    assert_eq!(detect(Some(&dir.join("results"))), Some(true));
}

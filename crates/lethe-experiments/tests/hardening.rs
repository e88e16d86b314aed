//! Regression tests of issue #15 (hardening): file safety, hangs, escaping, validation.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{TempDir, read, run_config, synthetic_config, write_config};
use lethe_experiments::ExperimentError;
use lethe_experiments::report::{ReportOptions, write_report};
use lethe_experiments::sweep::{RunOptions, points_dir, run_experiment};
use serde_json::{Value, json};

fn lethe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lethe"))
}

/// Runs the binary; a command still running after `limit` is killed and the test fails (a
/// guard against hangs, not a timing assertion: the commands take well under a second).
fn run_with_limit(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished result of a small synthetic run, as a JSON value, and its path.
fn small_result(dir: &TempDir, name: &str) -> (PathBuf, Value) {
    let path = run_config(dir, &synthetic_config(name), &format!("{name}.cfg.json"));
    let v = read(&path);
    (path, v)
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Data loss and file safety

#[test]
fn run_refuses_to_write_its_result_over_its_config() {
    let dir = TempDir::new("h-overwrite-run");
    let cfg = write_config(dir.path(), "b.json", &synthetic_config("b"));
    let before = std::fs::read(&cfg).unwrap();
    let out = lethe()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path())
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&cfg).unwrap(),
        before,
        "the config was overwritten"
    );
    // The same through a different spelling of the directory.
    let out = lethe()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("sub/.."))
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
}

#[test]
fn report_refuses_to_write_over_a_result() {
    let dir = TempDir::new("h-overwrite-report");
    let (result, _) = small_result(&dir, "x");
    let before = std::fs::read(&result).unwrap();
    let out = lethe()
        .arg("report")
        .arg(&result)
        .arg("--out")
        .arg(&result)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&result).unwrap(),
        before,
        "the result was overwritten"
    );
    // A plot that would replace an input is refused too (the result named like a plot).
    let svg = dir.join("plots/x-budget.svg");
    std::fs::create_dir_all(svg.parent().unwrap()).unwrap();
    std::fs::copy(&result, &svg).unwrap();
    let err = write_report(&ReportOptions {
        results: vec![svg.clone()],
        out: dir.join("R.md"),
        plots: dir.join("plots"),
    })
    .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("refusing to write"), "{err}");
    assert_eq!(std::fs::read(&svg).unwrap(), before);
}

#[test]
fn result_names_never_lead_plot_files_out_of_the_plots_directory() {
    let dir = TempDir::new("h-names");
    let (_, v) = small_result(&dir, "safe");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let outside = dir.join("outside");
    let long = "n".repeat(300);
    let names = [
        "../../x".to_string(),
        format!("{}/abs", outside.display()),
        "../escape".to_string(),
        long.clone(),
    ];
    let mut results = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let mut doc = v.clone();
        doc["name"] = json!(n);
        let p = work.join(format!("r{i}.json"));
        write_json(&p, &doc);
        results.push(p);
    }
    let plots = work.join("a/b/plots");
    let written = write_report(&ReportOptions {
        results,
        out: work.join("a/b/R.md"),
        plots: plots.clone(),
    })
    .unwrap();
    assert_eq!(written.plots.len(), names.len());
    for p in &written.plots {
        assert_eq!(p.parent(), Some(plots.as_path()), "{}", p.display());
    }
    // Nothing outside the plots directory except the report itself and the inputs.
    assert!(!outside.exists());
    for f in files_under(dir.path()) {
        let ok = f.starts_with(&plots)
            || f == work.join("a/b/R.md")
            || f.starts_with(dir.join("results"))
            || f.extension().is_some_and(|e| e == "json");
        assert!(ok, "unexpected file {}", f.display());
    }
    let md = std::fs::read_to_string(work.join("a/b/R.md")).unwrap();
    assert!(md.contains("not a valid experiment name"), "{md}");
    assert!(md.contains(&long), "the long name is still shown");
}

#[test]
fn an_unwritable_output_directory_fails_before_computing() {
    let dir = TempDir::new("h-unwritable");
    let cfg = write_config(dir.path(), "c.json", &synthetic_config("unwritable"));
    std::fs::write(dir.join("file"), b"not a directory").unwrap();
    let err = run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(dir.join("file/out"))
        },
    )
    .unwrap_err();
    // One error about the directory, not one per grid point after computing them.
    match &err {
        ExperimentError::Io { path, .. } => {
            assert!(path.starts_with(dir.join("file")), "{err}");
        }
        other => panic!("expected an I/O error about the directory, got {other}"),
    }
    assert!(err.to_string().contains("not writable"), "{err}");
}

/// A CSV config whose points validate but fail when run (rows of norm > 1 with
/// `normalize: none` and a certificate).
fn failing_config(dir: &TempDir) -> PathBuf {
    let mut rows = vec!["y,a,b".to_string()];
    for i in 0..40 {
        rows.push(format!("{},{}.5,{}.25", i % 2, 1 + i % 4, 2 + i % 3));
    }
    std::fs::write(dir.join("big.csv"), rows.join("\n") + "\n").unwrap();
    let cfg = json!({
        "schema": "lethe.experiment/1", "name": "fails", "seed": 1,
        "dataset": { "name": "csv", "path": "big.csv", "normalize": "none",
                     "test_fraction": 0.25 },
        "model": { "loss": "logistic", "lambda": 0.05, "sigma": 1.0 },
        "removal": { "requests": 2 },
        "grid": { "model.lambda": [0.05, 0.1] }
    });
    write_config(dir.path(), "fails.json", &cfg)
}

#[test]
fn failed_points_are_recorded_in_the_result_and_the_report() {
    let dir = TempDir::new("h-failed");
    let cfg = failing_config(&dir);
    let out = dir.join("res");
    let err = run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap_err();
    assert!(matches!(err, ExperimentError::Points(_)), "{err}");
    let result = read(&out.join("fails.json"));
    assert_eq!(result["runs"], json!([]));
    let failed = result["failed"].as_array().expect("a `failed` list");
    assert_eq!(failed.len(), 2);
    for (i, f) in failed.iter().enumerate() {
        assert_eq!(f["index"], json!(i));
        let error = f["error"].as_str().unwrap();
        assert!(error.contains("norm"), "{f}");
        // The fix it names is one a config can make (configs have no `allow_unnormalized`).
        assert!(!error.contains("allow_unnormalized"), "{f}");
        assert!(error.contains("\"normalize\": \"unit_norm\""), "{f}");
        assert_eq!(
            f["params"]["model.lambda"],
            result["config"]["grid"]["model.lambda"][i]
        );
    }
    let md = dir.join("R.md");
    write_report(&ReportOptions {
        results: vec![out.join("fails.json")],
        out: md.clone(),
        plots: dir.join("plots"),
    })
    .unwrap();
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("Failed grid points"), "{md}");
    assert!(md.contains("has norm"), "{md}");
}

#[test]
fn stale_temporary_files_are_cleaned_and_fresh_ones_kept() {
    let dir = TempDir::new("h-tmp");
    let cfg = write_config(dir.path(), "c.json", &synthetic_config("tmpclean"));
    let out = dir.join("res");
    let pdir = points_dir(&out, "tmpclean");
    std::fs::create_dir_all(&pdir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3 * 3600);
    let stale = [
        out.join(".tmpclean.json.4242.0.tmp"),
        pdir.join(".0-0123456789abcdef.json.4242.3.tmp"),
    ];
    for s in &stale {
        let f = std::fs::File::create(s).unwrap();
        f.set_modified(old).unwrap();
    }
    let fresh = out.join(".tmpclean.json.4243.0.tmp");
    std::fs::write(&fresh, b"").unwrap();
    let unrelated = out.join(".notes.tmp");
    std::fs::File::create(&unrelated)
        .unwrap()
        .set_modified(old)
        .unwrap();
    run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap();
    for s in &stale {
        assert!(!s.exists(), "{} was not cleaned", s.display());
    }
    assert!(
        fresh.exists(),
        "a fresh temporary file may belong to a live run"
    );
    assert!(
        unrelated.exists(),
        "only lethe's own temporaries are removed"
    );
}

// ---------------------------------------------------------------------------------------------
// Hangs

#[test]
fn report_terminates_on_huge_plotted_values() {
    let dir = TempDir::new("h-huge");
    let (_, v) = small_result(&dir, "huge");
    let mut budget = v.clone();
    budget["runs"][0]["summary"]["budget"] = json!(1e308);
    let mut requests = v.clone();
    requests["runs"][0]["removals"][0]["request"] = json!(1e308);
    requests["runs"][0]["removals"][1]["request"] = json!(-1e308);
    requests["name"] = json!("huge2");
    let mut beta = v.clone();
    beta["runs"][0]["removals"][0]["beta"] = json!(1.7e308);
    beta["runs"][0]["removals"][1]["beta"] = json!(1.7e308);
    beta["name"] = json!("huge3");
    let mut files = Vec::new();
    for (i, doc) in [budget, requests, beta].iter().enumerate() {
        let p = dir.join(&format!("huge{i}.json"));
        write_json(&p, doc);
        files.push(p);
    }
    let md = dir.join("R.md");
    let out = run_with_limit(
        lethe().arg("report").args(&files).arg("--out").arg(&md),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("not drawn"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Report output is text for people

#[test]
fn report_escapes_text_from_result_files() {
    let dir = TempDir::new("h-escape");
    let (_, mut v) = small_result(&dir, "esc");
    v["name"] = json!("<script>alert(1)</script>");
    v["description"] = json!(
        "<img src=x onerror=alert(1)> <!-- open\n# Injected heading\n[x](javascript:alert(1))"
    );
    v["runs"][0]["params"] = json!({"model.<b>": "<i>x</i>\n## h"});
    v["runs"][0]["train"]["strategy"] = json!("<svg onload=alert(1)>");
    let p = dir.join("esc.json");
    write_json(&p, &v);
    let md = dir.join("R.md");
    write_report(&ReportOptions {
        results: vec![p],
        out: md.clone(),
        plots: dir.join("plots"),
    })
    .unwrap();
    let text = std::fs::read_to_string(md).unwrap();
    for raw in ["<script", "<img", "<svg", "<b>", "<i>", "[x](javascript:"] {
        assert!(!text.contains(raw), "{raw} is in the report raw:\n{text}");
    }
    assert_eq!(
        text.matches("<!--").count(),
        1,
        "only the generated comment: {text}"
    );
    for line in text.lines() {
        assert!(
            !line.starts_with("# Injected") && !line.starts_with("## h"),
            "{line}"
        );
    }
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// `validate` must catch what `run` will reject

fn issues_of(cfg: &Value) -> Vec<(String, String)> {
    let dir = TempDir::new("h-validate");
    let p = write_config(dir.path(), "c.json", cfg);
    match lethe_experiments::sweep::validate(&p, None) {
        Ok(_) => Vec::new(),
        Err(ExperimentError::Config(c)) => {
            c.issues.into_iter().map(|i| (i.path, i.message)).collect()
        }
        Err(e) => panic!("expected config issues, got {e}"),
    }
}

fn has_issue(issues: &[(String, String)], path: &str) -> bool {
    issues.iter().any(|(p, _)| p == path)
}

#[test]
fn strategy_objects_reject_unknown_fields() {
    let mut cfg = synthetic_config("strat");
    cfg["removal"]["strategy"] = json!({"strategy": "sisa", "shards": 5, "shardz": 1});
    cfg["compare"] = json!({"strategies": ["newton", {"strategy": "retrain", "nosie": "same"},
                                           {"strategy": "influence", "x": 1}]});
    let issues = issues_of(&cfg);
    assert!(
        has_issue(&issues, "$.removal.strategy.shardz"),
        "{issues:?}"
    );
    assert!(
        has_issue(&issues, "$.compare.strategies[1].nosie"),
        "{issues:?}"
    );
    assert!(
        has_issue(&issues, "$.compare.strategies[2].x"),
        "{issues:?}"
    );
}

#[test]
fn validate_rejects_values_that_run_rejects() {
    let mut cfg = synthetic_config("values");
    cfg["removal"]["strategy"] = json!({"strategy": "sisa", "shards": 0, "slices": 0});
    cfg["removal"]["order"] = json!({"order": "exponential", "rate": -1.0});
    cfg["removal"]["fast_path"] = json!({"solve_ratio": -0.5, "absolute_tolerance": -1.0,
                                         "stale_refactor_ratio": -2.0});
    let issues = issues_of(&cfg);
    for path in [
        "$.removal.strategy.shards",
        "$.removal.strategy.slices",
        "$.removal.order.rate",
        "$.removal.fast_path.solve_ratio",
        "$.removal.fast_path.absolute_tolerance",
        "$.removal.fast_path.stale_refactor_ratio",
    ] {
        assert!(has_issue(&issues, path), "{path} missing in {issues:?}");
    }
    let mut cfg = synthetic_config("overflow");
    cfg["removal"]["requests"] = json!(u64::MAX / 2);
    cfg["removal"]["batch_size"] = json!(4);
    let issues = issues_of(&cfg);
    assert!(
        issues
            .iter()
            .any(|(p, m)| p == "$.removal.requests" && m.contains("overflows")),
        "{issues:?}"
    );
}

#[test]
fn unreachable_solver_tolerances_are_rejected() {
    let mut cfg = synthetic_config("tol");
    cfg["model"]["solver"] = json!({"tolerance": 1e-300, "max_iterations": u64::MAX});
    let issues = issues_of(&cfg);
    assert!(has_issue(&issues, "$.model.solver.tolerance"), "{issues:?}");
    cfg["model"]["solver"] = json!({"tolerance": 1e-10});
    assert_eq!(issues_of(&cfg), vec![]);
}

#[test]
fn validate_reports_a_typo_and_a_missing_data_file_together_with_exit_code_3() {
    let dir = TempDir::new("h-typo-missing");
    let mut cfg = synthetic_config("typo");
    cfg["dataset"] = json!({"name": "csv", "path": "missing.csv"});
    cfg["modle"] = json!({});
    let bad = write_config(dir.path(), "bad.json", &cfg);
    let out = lethe().arg("validate").arg(&bad).output().unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("$.modle") && err.contains("missing.csv"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(3), "{err}");
    // A missing data file alone is 3 too, in `run` as in `validate`.
    let mut only_missing = synthetic_config("missing");
    only_missing["dataset"] = json!({"name": "csv", "path": "missing.csv"});
    let missing = write_config(dir.path(), "missing.json", &only_missing);
    let out = lethe().arg("validate").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = lethe()
        .arg("run")
        .arg(&missing)
        .arg("--out")
        .arg(dir.join("res"))
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Several files: the most severe code, whatever the order.
    let mut invalid = synthetic_config("invalid");
    invalid["model"]["lambda"] = json!(-1.0);
    let invalid = write_config(dir.path(), "invalid.json", &invalid);
    let good = write_config(dir.path(), "good.json", &synthetic_config("good"));
    let out = lethe()
        .arg("validate")
        .args([&good, &invalid, &missing])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = lethe()
        .arg("validate")
        .args([&invalid, &missing, dir.join("absent.json").as_path()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn an_unreadable_data_file_is_exit_code_4() {
    let e = ExperimentError::Data(lethe_data::DataError::Io {
        path: PathBuf::from("x.csv"),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    });
    assert_eq!(e.exit_code(), 4);
}

#[test]
fn a_config_that_repeats_a_key_is_refused_and_a_byte_order_mark_accepted() {
    let dir = TempDir::new("h-dup-bom");
    let good = serde_json::to_string_pretty(&synthetic_config("dup")).unwrap();
    // The same model with σ given twice: serde_json alone would keep the last one silently.
    let dup = good.replacen("\"sigma\":", "\"sigma\": 0.0, \"sigma\":", 1);
    assert_ne!(dup, good, "the config has a sigma to repeat");
    let path = dir.join("dup.json");
    std::fs::write(&path, &dup).unwrap();
    let out = lethe().arg("validate").arg(&path).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("duplicate key \"sigma\" in the object at $.model"),
        "{err}"
    );
    let bom = dir.join("bom.json");
    std::fs::write(&bom, format!("\u{feff}{good}")).unwrap();
    let out = lethe().arg("validate").arg(&bom).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn report_of_a_figure_1_sweep_with_ten_thousand_distinct_points_stays_small() {
    let dir = TempDir::new("h-fig1-10k");
    let (_, v) = small_result(&dir, "wide");
    let mut doc = v.clone();
    let mut run = v["runs"][0].clone();
    run["removals"] = json!([]);
    let runs: Vec<Value> = (0..10_000)
        .map(|i| {
            let mut r = run.clone();
            r["config"]["model"]["lambda"] = json!(1e-4 * f64::from(i + 1));
            r["config"]["model"]["sigma"] = json!(1e-2 * f64::from(i + 1));
            r["train"]["test_accuracy"] = json!(0.5 + 0.4 * f64::from(i % 7) / 7.0);
            r
        })
        .collect();
    doc["runs"] = json!(runs);
    doc["config"]["reproduces"] = json!("guo2020_fig1_accuracy");
    let mut budget = doc.clone();
    budget["name"] = json!("wide-budget");
    budget["config"]["reproduces"] = json!("guo2020_fig1_budget");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    write_json(&a, &doc);
    write_json(&b, &budget);
    let md = dir.join("R.md");
    let out = run_with_limit(
        lethe().arg("report").arg(&a).arg(&b).arg("--out").arg(&md),
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&md).unwrap();
    // A λ × σ table would have 10⁸ cells (gigabytes); the long form lists at most 1000 runs.
    assert!(text.len() < 8 << 20, "a report of {} bytes", text.len());
    assert!(
        text.contains("too many for a λ × σ table"),
        "{}",
        &text[..2000]
    );
    assert!(text.contains("The plot draws the 12 smallest of the 10000 λ values"));
}

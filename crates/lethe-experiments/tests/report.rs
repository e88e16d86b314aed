//! Reports are generated from result files: tables, paper values and SVG plots.

mod common;

use common::{TempDir, run_config as run, synthetic_config};
use lethe_experiments::report::{ReportOptions, write_report};
use serde_json::json;

#[test]
fn a_report_has_tables_paper_values_and_plots() {
    let dir = TempDir::new("report");
    let mut generic = synthetic_config("small");
    generic["audit"] =
        json!({ "attacks": ["loss"], "bootstrap": { "reps": 50, "level": 0.95, "seed": 0 } });
    let a = run(&dir, &generic, "small.json");

    let mut fig1 = synthetic_config("fig1-like");
    fig1["reproduces"] = json!("guo2020_fig1_accuracy");
    fig1["removal"] = json!({ "requests": 0 });
    fig1["grid"] = json!({ "model.lambda": [1e-3, 1e-2], "model.sigma": [0.1, 1.0] });
    let b = run(&dir, &fig1, "fig1.json");

    let mut fig2 = synthetic_config("fig2-like");
    fig2["reproduces"] = json!("guo2020_fig2_residuals");
    fig2["removal"] = json!({ "budget_policy": "never" });
    fig2["variants"] = json!([
        { "removal.batch_size": 1, "removal.requests": 10 },
        { "removal.batch_size": 5, "removal.requests": 2 }
    ]);
    let c = run(&dir, &fig2, "fig2.json");

    let mut t1 = synthetic_config("table1-like");
    t1["reproduces"] = json!("guo2020_table1_timing");
    let d = run(&dir, &t1, "t1.json");

    let out = dir.join("results/REPORT.md");
    let written = write_report(&ReportOptions {
        results: vec![a, b, c, d],
        out: out.clone(),
        plots: dir.join("results/plots"),
    })
    .unwrap();
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.contains("## small"));
    assert!(md.contains("| # | params |"), "{md}");
    assert!(md.contains("Membership-inference audit"));
    assert!(md.contains("Figure 1 (left)"));
    assert!(md.contains("paper"));
    assert!(md.contains("Figure 2"));
    assert!(
        md.contains("87152"),
        "the paper's worst case must be quoted"
    );
    assert!(md.contains("Table 1"));
    assert!(md.contains("plots/fig1-accuracy.svg"));
    assert!(!written.plots.is_empty());
    for p in &written.plots {
        let svg = std::fs::read_to_string(p).unwrap();
        assert!(svg.contains("<svg"), "{}", p.display());
        assert!(svg.contains("</svg>"));
    }
}

#[test]
fn a_file_that_is_not_a_result_is_an_error() {
    let dir = TempDir::new("notresult");
    let p = dir.join("x.json");
    std::fs::write(&p, "{\"schema\": \"something/1\"}").unwrap();
    let err = write_report(&ReportOptions {
        results: vec![p],
        out: dir.join("R.md"),
        plots: dir.join("plots"),
    })
    .unwrap_err();
    assert!(err.to_string().contains("not a lethe result"), "{err}");
    assert!(!dir.join("R.md").exists());
}

//! `lethe report`: Markdown tables and SVG plots generated from result files.
//!
//! Every number in a report comes from the result JSON; nothing is typed by hand except the
//! paper's reference values in [`paper`], which are always marked as quoted from the paper.
//! Results whose config says `"reproduces": "guo2020_…"` get the paper's figure or table with
//! those values alongside ours; every result gets the generic tables (runs, audit, comparison).

pub mod paper;
pub mod plot;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ExperimentError, Result};
use crate::json::{self, number};
use crate::sweep::RESULT_SCHEMA;

/// Options of [`write_report`].
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Result files.
    pub results: Vec<PathBuf>,
    /// The Markdown file.
    pub out: PathBuf,
    /// Directory of the SVG plots.
    pub plots: PathBuf,
}

/// What [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenReport {
    /// The Markdown file.
    pub markdown: PathBuf,
    /// The SVG files.
    pub plots: Vec<PathBuf>,
}

/// A loaded result file.
#[derive(Clone, Debug)]
pub struct ResultDoc {
    /// Where it came from.
    pub path: PathBuf,
    /// Its content.
    pub doc: Value,
}

impl ResultDoc {
    /// The experiment name.
    pub fn name(&self) -> &str {
        self.doc["name"].as_str().unwrap_or("unnamed")
    }

    /// The runs.
    pub fn runs(&self) -> &[Value] {
        self.doc["runs"].as_array().map_or(&[], Vec::as_slice)
    }

    /// `config.reproduces`.
    pub fn reproduces(&self) -> Option<&str> {
        self.doc
            .get("reproduces")
            .or_else(|| json::get(&self.doc, "config.reproduces"))
            .and_then(Value::as_str)
    }
}

/// Reads a result file and checks its schema.
///
/// # Errors
/// I/O and JSON errors; [`ExperimentError::Result`] for a file that is not `lethe.result/1`.
pub fn load_result(path: &Path) -> Result<ResultDoc> {
    let doc = json::read_json(path)?;
    match doc.get("schema").and_then(Value::as_str) {
        Some(RESULT_SCHEMA) => {}
        other => {
            return Err(ExperimentError::Result {
                path: path.to_path_buf(),
                what: format!(
                    "not a lethe result: schema is {}, expected \"{RESULT_SCHEMA}\"",
                    other.map_or("missing".into(), |s| format!("\"{s}\""))
                ),
            });
        }
    }
    if !doc.get("runs").is_some_and(Value::is_array) {
        return Err(ExperimentError::Result {
            path: path.to_path_buf(),
            what: "has no `runs` list".into(),
        });
    }
    Ok(ResultDoc {
        path: path.to_path_buf(),
        doc,
    })
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// A number at a dotted path of a run.
pub fn num(run: &Value, dotted: &str) -> Option<f64> {
    json::get(run, dotted).and_then(number)
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Formats a value with four significant digits (trailing zeros dropped; scientific notation
/// below 10⁻³ and from 10⁷); `—` for missing or undefined, `∞` for infinity.
pub fn fmt(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.is_nan() => "—".into(),
        Some(x) if x == f64::INFINITY => "∞".into(),
        Some(x) if x == f64::NEG_INFINITY => "−∞".into(),
        Some(0.0) => "0".into(),
        Some(x) => {
            let a = x.abs();
            if (1e-3..1e7).contains(&a) {
                let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
                trim_zeros(&format!("{x:.decimals$}"))
            } else {
                let s = format!("{x:.3e}");
                match s.split_once('e') {
                    Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
                    None => s,
                }
            }
        }
    }
}

/// Formats a fraction as a percentage with one decimal.
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.1} %", 100.0 * x),
        _ => "—".into(),
    }
}

/// Formats seconds (`12.3 s`, `45.6 ms`, `7.8 µs`).
pub fn secs(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if x >= 1.0 {
                format!("{x:.2} s")
            } else if x >= 1e-3 {
                format!("{:.1} ms", x * 1e3)
            } else {
                format!("{:.1} µs", x * 1e6)
            }
        }
        _ => "—".into(),
    }
}

/// Formats an integer-valued number.
pub fn int(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{}", x.round() as i64),
        Some(x) if x == f64::INFINITY => "∞".into(),
        _ => "—".into(),
    }
}

/// A Markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(
        s,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

/// Short description of a run's grid values.
pub fn params_text(run: &Value) -> String {
    match run.get("params").and_then(Value::as_object) {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| {
                let short = k.rsplit('.').next().unwrap_or(k);
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => fmt(n.as_f64()),
                    other => other.to_string(),
                };
                format!("{short}={v}")
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "—".into(),
    }
}

/// The relative link from the report's directory to a plot.
fn link(report: &Path, plot: &Path) -> String {
    let base = report.parent().unwrap_or(Path::new(""));
    let rel = plot.strip_prefix(base).unwrap_or(plot);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Collects plots while rendering.
pub struct Plots<'a> {
    dir: &'a Path,
    report: &'a Path,
    written: Vec<PathBuf>,
}

impl Plots<'_> {
    /// Draws `plot` as `<dir>/<file>.svg` and returns the Markdown image line.
    ///
    /// # Errors
    /// As [`plot::draw`].
    pub fn add(&mut self, file: &str, plot: &plot::Plot) -> Result<String> {
        let path = self.dir.join(format!("{file}.svg"));
        plot::draw(plot, &path)?;
        let md = format!("![{}]({})\n", plot.title, link(self.report, &path));
        self.written.push(path);
        Ok(md)
    }
}

// ---------------------------------------------------------------------------------------------
// Generic sections

fn header(r: &ResultDoc, out: &mut String) {
    let d = &r.doc;
    let _ = writeln!(out, "## {}\n", r.name());
    if let Some(desc) = d.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{desc}\n");
    }
    let commit = d["git_commit"].as_str().unwrap_or("unknown");
    let short: String = commit.chars().take(12).collect();
    let dirty = match d.get("git_dirty").and_then(Value::as_bool) {
        Some(true) => " (with uncommitted changes)",
        _ => "",
    };
    let _ = writeln!(
        out,
        "- result: `{}` — lethe {}, commit `{short}`{dirty}, seed {}, {} of {} points{}",
        r.path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        d["lethe_version"].as_str().unwrap_or("?"),
        d["seed"].as_u64().map_or("?".into(), |s| s.to_string()),
        int(number(&d["points_done"])),
        int(number(&d["points_total"])),
        if d["complete"].as_bool() == Some(false) {
            " (**incomplete**: some grid points are missing)"
        } else {
            ""
        }
    );
    if let Some(run) = r.runs().first() {
        let data = &run["data"];
        let _ = writeln!(
            out,
            "- data: {} — {} training rows, {} test rows, d = {}, labels {}; loss {}, noise {}, \
             δ = {}",
            data["name"].as_str().unwrap_or("?"),
            int(num(data, "n_train")),
            int(num(data, "n_test")),
            int(num(data, "d")),
            data["labels"].as_str().unwrap_or("?"),
            json::get(run, "config.model.loss")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            json::get(run, "config.model.noise")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            fmt(num(run, "config.certificate.delta")),
        );
    }
    out.push('\n');
}

fn runs_table(r: &ResultDoc) -> String {
    let rows: Vec<Vec<String>> = r
        .runs()
        .iter()
        .map(|run| {
            vec![
                int(num(run, "index")),
                params_text(run),
                json::get(run, "train.strategy")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                secs(num(run, "train.seconds")),
                pct(num(run, "train.test_accuracy")),
                int(num(run, "summary.requests")),
                int(num(run, "summary.supported_removals")),
                int(num(run, "summary.retrains")),
                pct(num(run, "summary.test_accuracy_after")),
                secs(num(run, "summary.removal_seconds_median")),
                secs(num(run, "summary.retrain_seconds_median")),
                fmt(num(run, "summary.speedup_median")),
                fmt(num(run, "summary.epsilon_spent_final")),
                format!(
                    "{} / {}",
                    fmt(num(run, "summary.beta_final")),
                    fmt(num(run, "summary.budget"))
                ),
            ]
        })
        .collect();
    table(
        &[
            "#",
            "params",
            "strategy",
            "train",
            "test acc.",
            "requests",
            "supported",
            "retrains",
            "acc. after",
            "removal (median)",
            "retrain (median)",
            "speed-up",
            "ε spent",
            "β / budget",
        ],
        &rows,
    )
}

fn audit_section(r: &ResultDoc, out: &mut String) {
    let mut rows = Vec::new();
    for run in r.runs() {
        let Some(audit) = run.get("audit") else {
            continue;
        };
        if let Some(skip) = audit.get("skipped").and_then(Value::as_str) {
            rows.push(vec![
                int(num(run, "index")),
                format!("skipped: {skip}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for e in audit["results"].as_array().map_or(&[][..], Vec::as_slice) {
            let m = &e["metrics"];
            rows.push(vec![
                int(num(run, "index")),
                e["model"].as_str().unwrap_or("?").to_string(),
                e["members"].as_str().unwrap_or("?").replace('_', " "),
                format!(
                    "{} ({})",
                    json::get(e, "attack.attack")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    json::get(e, "attack.statistic")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                ),
                format!(
                    "{} [{}, {}]",
                    fmt(num(m, "auc")),
                    fmt(num(m, "auc_ci.lower")),
                    fmt(num(m, "auc_ci.upper"))
                ),
                fmt(num(m, "tpr_at_1pct_fpr")),
                fmt(num(m, "advantage")),
                m["leak"].as_str().unwrap_or("?").replace('_', " "),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    let n = r.runs().iter().find_map(|run| num(run, "audit.n_members"));
    let _ = writeln!(
        out,
        "### Membership-inference audit\n\nMembers are the removed rows (forget set; \
         `retained vs test`: rows still in the training set, a control that shows what the \
         attack can detect), non-members an equally large seeded sample of the test set ({} \
         each). The same attack runs on the model before removal, the unlearned model and a \
         model retrained from scratch without the removed rows. An AUC interval that excludes \
         0.5, in either direction, is a leak.\n",
        int(n)
    );
    out.push_str(&table(
        &[
            "#",
            "model",
            "members vs non-members",
            "attack",
            "AUC [95 % CI]",
            "TPR @ 1 % FPR",
            "advantage",
            "leak",
        ],
        &rows,
    ));
    out.push('\n');
}

fn compare_section(r: &ResultDoc, out: &mut String) {
    let mut rows = Vec::new();
    for run in r.runs() {
        let Some(list) = run.get("compare").and_then(Value::as_array) else {
            continue;
        };
        for c in list {
            let dist = |key: &str| -> String {
                match c.get(key).and_then(Value::as_array) {
                    Some(v) => {
                        let norm = v
                            .iter()
                            .filter_map(number)
                            .map(|x| x * x)
                            .sum::<f64>()
                            .sqrt();
                        fmt(Some(norm))
                    }
                    None => "— (ensemble)".into(),
                }
            };
            rows.push(vec![
                int(num(run, "index")),
                c["label"].as_str().unwrap_or("?").to_string(),
                json::get(c, "guarantee.kind")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                int(num(c, "retrains")),
                pct(num(c, "test_accuracy")),
                pct(num(c, "test_accuracy_retrain")),
                pct(num(c, "removed_accuracy")),
                pct(num(c, "removed_accuracy_retrain")),
                dist("weight_distance_same_b"),
                dist("weight_distance_fresh"),
                secs(num(c, "removal_seconds_median")),
                fmt(num(c, "speedup")),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Comparison with retraining\n\nEvery strategy serves the same requests; the \
         references retrain from scratch after every request, with the training b (same b: the \
         distance then measures the removal error alone) and with a fresh b (the distribution \
         certified removal is defined against). Values after the last request.\n"
    );
    out.push_str(&table(
        &[
            "#",
            "strategy",
            "guarantee",
            "retrains",
            "test acc.",
            "retrain test acc.",
            "acc. on removed",
            "retrain acc. on removed",
            "‖w − w_retrain‖ (same b)",
            "‖w − w_retrain‖ (fresh b)",
            "removal (median)",
            "speed-up vs retrain",
        ],
        &rows,
    ));
    out.push('\n');
}

fn budget_plot(r: &ResultDoc, plots: &mut Plots<'_>, out: &mut String) -> Result<()> {
    let runs: Vec<&Value> = r
        .runs()
        .iter()
        .filter(|run| {
            run["removals"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| number(&x["beta"]).is_some()))
        })
        .collect();
    if runs.is_empty() || runs.len() > 6 {
        return Ok(());
    }
    let mut series = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let recs = run["removals"].as_array().map_or(&[][..], Vec::as_slice);
        let label = if runs.len() == 1 {
            String::new()
        } else {
            format!(" ({})", params_text(run))
        };
        series.push(plot::Series {
            label: format!("β, accumulated certificate{label}"),
            points: recs
                .iter()
                .filter_map(|x| Some((number(&x["request"])?, number(&x["beta"])?)))
                .collect(),
            color: i,
            dashed: false,
            markers: false,
        });
        series.push(plot::Series {
            label: format!("exact residual ‖∇L_b‖{label}"),
            points: recs
                .iter()
                .filter_map(|x| Some((number(&x["request"])?, number(&x["residual_norm"])?)))
                .collect(),
            color: i,
            dashed: true,
            markers: false,
        });
        if let Some(b) = num(run, "summary.budget") {
            let last = recs.len().max(1) as f64;
            series.push(plot::Series {
                label: format!("budget σε/c{label}"),
                points: vec![(1.0, b), (last, b)],
                color: 6,
                dashed: true,
                markers: false,
            });
        }
    }
    let md = plots.add(
        &format!("{}-budget", r.name()),
        &plot::Plot {
            title: format!("{}: gradient residual vs requests", r.name()),
            x_label: "request".into(),
            y_label: "gradient residual norm (sum scale)".into(),
            x_log: false,
            y_log: true,
            series,
            legend: plot::Legend::LowerLeft,
        },
    )?;
    out.push_str(&md);
    out.push('\n');
    Ok(())
}

fn generic(r: &ResultDoc, plots: &mut Plots<'_>, collapse: bool, out: &mut String) -> Result<()> {
    if r.runs().is_empty() {
        out.push_str("No finished grid points yet.\n\n");
        return Ok(());
    }
    if collapse {
        let _ = writeln!(
            out,
            "<details><summary>All runs ({})</summary>\n",
            r.runs().len()
        );
    } else {
        out.push_str("### Runs\n\n");
    }
    out.push_str(
        "Times are wall-clock seconds in one process; \"retrain\" is a full retrain from \
         scratch on the remaining rows (Algorithm 1, fresh b) timed in the same run; \
         \"supported\" counts requests served before the first one that needed a retrain (or \
         exceeded the budget); norms are in sum scale.\n\n",
    );
    out.push_str(&runs_table(r));
    out.push('\n');
    if collapse {
        out.push_str("</details>\n\n");
    } else {
        budget_plot(r, plots, out)?;
    }
    audit_section(r, out);
    compare_section(r, out);
    Ok(())
}

/// Renders the report for loaded results, drawing plots into `plots_dir` (links relative to
/// `report_path`). Returns the Markdown and the plots written.
///
/// # Errors
/// Plot errors.
pub fn render(
    docs: &[ResultDoc],
    plots_dir: &Path,
    report_path: &Path,
) -> Result<(String, Vec<PathBuf>)> {
    let mut plots = Plots {
        dir: plots_dir,
        report: report_path,
        written: Vec::new(),
    };
    let mut out = String::new();
    out.push_str(
        "# lethe results\n\n<!-- Generated by `lethe report` from the result JSON files; do not \
         edit by hand. -->\n\nGenerated by `lethe report` from the result files listed below; \
         every number comes from them, except values marked *paper*, which are quoted from Guo, \
         Goldstein, Hannun and van der Maaten, *Certified Data Removal from Machine Learning \
         Models*, ICML 2020.\n\n",
    );
    // Plain experiments first (in the order given), then the paper's figures in paper order.
    let rank = |r: &ResultDoc| match r.reproduces() {
        None => 0,
        Some("guo2020_fig1_accuracy") => 1,
        Some("guo2020_fig1_budget") => 2,
        Some("guo2020_fig2_residuals") => 3,
        Some("guo2020_table1_timing") => 4,
        Some(_) => 5,
    };
    let mut docs: Vec<&ResultDoc> = docs.iter().collect();
    docs.sort_by_key(|r| rank(r));
    for r in &docs {
        let _ = writeln!(
            out,
            "- [{}](#{})",
            r.name(),
            r.name().to_lowercase().replace(['.', ' '], "")
        );
    }
    out.push('\n');
    for r in docs {
        header(r, &mut out);
        let special = match r.reproduces() {
            Some(kind) => paper::section(kind, r, &mut plots, &mut out)?,
            None => false,
        };
        generic(r, &mut plots, special, &mut out)?;
    }
    Ok((out, plots.written))
}

/// Reads the result files, renders the report and writes it (atomically) with its plots.
///
/// # Errors
/// I/O, JSON and schema errors of the result files; plot and write errors.
pub fn write_report(opts: &ReportOptions) -> Result<WrittenReport> {
    let docs = opts
        .results
        .iter()
        .map(|p| load_result(p))
        .collect::<Result<Vec<_>>>()?;
    let (md, plots) = render(&docs, &opts.plots, &opts.out)?;
    json::write_atomic(&opts.out, md.as_bytes())?;
    Ok(WrittenReport {
        markdown: opts.out.clone(),
        plots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_compactly() {
        assert_eq!(fmt(Some(0.01)), "0.01");
        assert_eq!(fmt(Some(1e-4)), "1e-4");
        assert_eq!(fmt(Some(3.37931)), "3.379");
        assert_eq!(fmt(Some(324.38)), "324.4");
        assert_eq!(fmt(Some(87_151.75)), "87152");
        assert_eq!(fmt(Some(100.0)), "100");
        assert_eq!(fmt(Some(9.172e-4)), "9.172e-4");
        assert_eq!(fmt(Some(-2.5)), "-2.5");
        assert_eq!(fmt(Some(f64::INFINITY)), "∞");
        assert_eq!(fmt(None), "—");
        assert_eq!(pct(Some(0.9688)), "96.9 %");
        assert_eq!(secs(Some(0.0421)), "42.1 ms");
    }
}

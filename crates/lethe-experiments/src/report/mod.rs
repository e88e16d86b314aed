//! `lethe report`: Markdown tables and SVG plots generated from result files.
//!
//! Every number in a report comes from the result JSON; nothing is typed by hand except the
//! paper's reference values in [`paper`], which are always marked as quoted from the paper.
//! Results whose config says `"reproduces": "guo2020_…"` get the paper's figure or table with
//! those values alongside ours; every result gets the generic tables (runs, audit, comparison).

pub mod data_check;
pub mod mechanisms;
pub mod paired;
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
    /// The experiment name as stored (any text: escape it with [`esc`] before it goes into
    /// Markdown, and use [`ResultDoc::file_stem`] for file names).
    pub fn name(&self) -> &str {
        self.doc["name"].as_str().unwrap_or("unnamed")
    }

    /// Whether the name follows the config's rule ([`crate::config::valid_name`]).
    pub fn name_is_valid(&self) -> bool {
        crate::config::valid_name(self.name())
    }

    /// The stem of this result's plot files: the name when it is a valid experiment name,
    /// otherwise a safe stand-in (`result-<12 hex digits of its hash>`), so that no name can
    /// lead a file out of the plots directory or be too long for the file system.
    pub fn file_stem(&self) -> String {
        if self.name_is_valid() {
            self.name().to_string()
        } else {
            format!(
                "result-{}",
                &json::hash(&Value::String(self.name().into()))[..12]
            )
        }
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
    parse_result(path, &json::read_text(path)?)
}

/// Parses the text of a result file (`path` names it in errors) and checks its schema, as
/// [`load_result`] does a file.
///
/// # Errors
/// JSON errors; [`ExperimentError::Result`] for a text that is not `lethe.result/1`.
pub fn parse_result(path: &Path, text: &str) -> Result<ResultDoc> {
    let doc = json::parse_json(path, text)?;
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
    if doc.get("name").is_some_and(|n| !n.is_string()) {
        return Err(ExperimentError::Result {
            path: path.to_path_buf(),
            what: "its `name` is not a string".into(),
        });
    }
    Ok(ResultDoc {
        path: path.to_path_buf(),
        doc,
    })
}

/// Escapes text from a result file for Markdown: HTML (`<`, `>`, `&`) becomes entities, line
/// breaks and control characters become spaces, and the characters that start code spans,
/// links, tables or block elements are backslash-escaped. The text then reads as itself,
/// whatever it contains, and cannot open HTML, comments, headings or links.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            '\\' | '`' | '[' | ']' | '|' | '*' | '_' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '+' | '-' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` as a Markdown code span (shown literally, HTML included), or escaped text ([`esc`]) when
/// it contains a backtick; line breaks and control characters become spaces.
pub fn code(s: &str) -> String {
    if s.contains('`') {
        return esc(s);
    }
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("`{clean}`")
}

/// A string field of a result as Markdown text ([`esc`]), `?` when missing.
pub fn text(v: &Value) -> String {
    esc(v.as_str().unwrap_or("?"))
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
                    Value::String(s) => esc(s),
                    Value::Number(n) => fmt(n.as_f64()),
                    Value::Object(o) => object_text(o),
                    other => esc(&other.to_string()),
                };
                format!("{}={v}", esc(short))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "—".into(),
    }
}

/// A spec object (`{"strategy": "sisa", "shards": 5}`) as `sisa (shards=5)`: the value of its
/// tag field (`strategy`, `order` or `attack`) followed by the other fields.
fn object_text(o: &serde_json::Map<String, Value>) -> String {
    let tag = ["strategy", "order", "attack"]
        .into_iter()
        .find(|t| o.get(*t).is_some_and(Value::is_string));
    let rest: Vec<String> = o
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != tag)
        .map(|(k, v)| match v {
            Value::String(s) => format!("{}={}", esc(k), esc(s)),
            Value::Number(n) => format!("{}={}", esc(k), fmt(n.as_f64())),
            other => format!("{}={}", esc(k), esc(&other.to_string())),
        })
        .collect();
    match tag.and_then(|t| o[t].as_str()) {
        Some(head) if rest.is_empty() => esc(head),
        Some(head) => format!("{} ({})", esc(head), rest.join(", ")),
        None => format!("{{{}}}", rest.join(", ")),
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
    inputs: Vec<PathBuf>,
    written: Vec<PathBuf>,
}

impl Plots<'_> {
    /// Draws `plot` as `<dir>/<file>.svg` and returns the Markdown image line (with a note
    /// when points could not be drawn).
    ///
    /// # Errors
    /// [`ExperimentError::Plot`] when `file` is not a plain file name (it must never leave the
    /// plots directory); [`ExperimentError::WouldOverwrite`] when the plot would replace an
    /// input; as [`plot::draw`].
    pub fn add(&mut self, file: &str, plot: &plot::Plot) -> Result<String> {
        let name = format!("{file}.svg");
        if !crate::files::is_plain_file_name(&name) {
            return Err(ExperimentError::Plot {
                path: self.dir.join(&name),
                what: "not a plain file name inside the plots directory".into(),
            });
        }
        let mut path = self.dir.join(&name);
        // Two results with the same name get distinct plots rather than one overwriting the other.
        let mut k = 1;
        while self.written.contains(&path) {
            k += 1;
            path = self.dir.join(format!("{file}-{k}.svg"));
        }
        crate::files::refuse_overwrite(&path, self.inputs.iter().map(PathBuf::as_path))?;
        let dropped = plot::draw(plot, &path)?;
        let mut md = format!("![{}]({})\n", esc(&plot.title), link(self.report, &path));
        if dropped > 0 {
            let _ = writeln!(
                md,
                "\n*{dropped} point{} of this plot {} not drawn: not finite, not positive on a \
                 log axis, or beyond ±{:e}.*",
                if dropped == 1 { "" } else { "s" },
                if dropped == 1 { "is" } else { "are" },
                plot::LIMIT
            );
        }
        self.written.push(path);
        Ok(md)
    }
}

// ---------------------------------------------------------------------------------------------
// Generic sections

fn header(r: &ResultDoc, out: &mut String) {
    let d = &r.doc;
    let _ = writeln!(out, "## {}\n", esc(r.name()));
    if !r.name_is_valid() {
        let _ = writeln!(
            out,
            "*This result's name is not a valid experiment name (1–128 letters, digits, '.', \
             '_' or '-'); its plots are named `{}`.*\n",
            r.file_stem()
        );
    }
    if let Some(desc) = d.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{}\n", esc(desc));
    }
    let commit = d["git_commit"].as_str().unwrap_or("unknown");
    let short: String = esc(&commit.chars().take(12).collect::<String>());
    let dirty = match d.get("git_dirty").and_then(Value::as_bool) {
        Some(true) => " (with uncommitted changes)",
        _ => "",
    };
    let _ = writeln!(
        out,
        "- result: `{}` — lethe {}, commit `{short}`{dirty}, seed {}, {} of {} points{}",
        r.path
            .file_name()
            .map_or_else(String::new, |f| esc(&f.to_string_lossy())),
        text(&d["lethe_version"]),
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
            text(&data["name"]),
            int(num(data, "n_train")),
            int(num(data, "n_test")),
            int(num(data, "d")),
            text(&data["labels"]),
            text(json::get(run, "config.model.loss").unwrap_or(&Value::Null)),
            text(json::get(run, "config.model.noise").unwrap_or(&Value::Null)),
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
                esc(&strategy_text(run)),
                esc(&guarantee_text(run)),
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
            "guarantee",
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

/// The guarantee of a run in words: its kind (`certified`, `exact`, `replay`, `adaptive`,
/// `none`) and, for certified runs, the accounting (`analytic`, `paper`) or `pure ε`.
fn guarantee_text(run: &Value) -> String {
    let Some(g) = json::get(run, "train.guarantee") else {
        return "?".into();
    };
    let kind = g["kind"].as_str().unwrap_or("?");
    if kind != "certified" {
        return esc(kind);
    }
    if num(g, "delta") == Some(0.0) {
        return "certified (pure ε)".into();
    }
    let accounting = json::get(run, "config.certificate.accounting")
        .and_then(Value::as_str)
        .unwrap_or("paper");
    format!("certified ({})", esc(accounting))
}

/// A run's strategy, labelled when its guarantee is a replay (an explicit, public b:
/// `model.noise_vector`), which certifies nothing.
fn strategy_text(run: &Value) -> String {
    let name = json::get(run, "train.strategy")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match json::get(run, "train.guarantee.kind").and_then(Value::as_str) {
        Some("replay") => format!("{name} (replay: explicit b, not certified)"),
        _ => name.to_string(),
    }
}

/// `estimate [lower, upper]` of a metric and its `<key>_ci` interval.
fn with_ci(m: &Value, key: &str) -> String {
    let p = |k: &str| match num(m, k) {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "—".into(),
    };
    format!(
        "{} [{}, {}]",
        p(key),
        p(&format!("{key}_ci.lower")),
        p(&format!("{key}_ci.upper"))
    )
}

/// An audit entry's attack in words: name, variant, K and seed.
fn attack_text(e: &Value) -> String {
    let a = &e["attack"];
    let name = text(&a["attack"]);
    match num(a, "n_reference") {
        Some(k) => format!(
            "{name} ({}; K = {}, seed {})",
            text(&a["variant"]),
            int(Some(k)),
            int(num(a, "seed"))
        ),
        None => format!("{name} ({})", text(&a["statistic"])),
    }
}

/// The model of an audit entry, with the ensemble it was attacked as.
fn model_text(e: &Value) -> String {
    let model = text(&e["model"]);
    match e["attack"].get("ensemble") {
        Some(ens) => format!(
            "{model} ({}-member {} ensemble)",
            int(num(ens, "members")),
            text(&ens["aggregation"])
        ),
        None => model,
    }
}

/// The certified ε of an audit entry in words.
fn certified_text(e: &Value) -> String {
    let Some(c) = e.get("certificate") else {
        return "—".into();
    };
    match c["kind"].as_str() {
        Some("certified") if num(c, "delta") == Some(0.0) => {
            format!("{} (pure ε)", fmt(num(c, "epsilon")))
        }
        Some("certified") => format!("{} (δ = {})", fmt(num(c, "epsilon")), fmt(num(c, "delta"))),
        Some("exact") => "0 (exact)".into(),
        Some("reference") => "0 (retrained)".into(),
        Some("not_a_removal") => "— (not a removal)".into(),
        _ => "none".into(),
    }
}

/// The empirical ε lower bound of an audit entry, marked when it exceeds the certified ε.
fn epsilon_text(e: &Value) -> String {
    let Some(b) = num(e, "empirical_epsilon.bound.epsilon_lower_bound") else {
        return "—".into();
    };
    if e["exceeds_certified"].as_bool() == Some(true) {
        format!("**{} ⚠ > certified ε**", fmt(Some(b)))
    } else {
        fmt(Some(b))
    }
}

fn audit_section(r: &ResultDoc, out: &mut String) {
    let mut rows = Vec::new();
    let mut side_by_side = Vec::new();
    let mut exceeded = Vec::new();
    let mut levels = std::collections::BTreeSet::new();
    let mut not_comparable = false;
    // audit.warnings: message → the runs that have it
    let mut weaker: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for run in r.runs() {
        let Some(audit) = run.get("audit") else {
            continue;
        };
        for w in audit["warnings"].as_array().into_iter().flatten() {
            if let Some(w) = w.as_str() {
                weaker
                    .entry(w.to_string())
                    .or_default()
                    .push(format!("#{}", int(num(run, "index"))));
            }
        }
        if let Some(skip) = audit.get("skipped").and_then(Value::as_str) {
            let mut row = vec![
                int(num(run, "index")),
                params_text(run),
                format!("skipped: {skip}"),
            ];
            row.resize(11, String::new());
            rows.push(row);
            continue;
        }
        if let (Some(c), Some(d)) = (
            num(audit, "epsilon_confidence"),
            num(audit, "epsilon_delta"),
        ) {
            levels.insert((pct(Some(c)), fmt(Some(d))));
        }
        if audit["epsilon_comparable"].as_bool() == Some(false) {
            not_comparable = true;
        }
        let entries = audit["results"].as_array().map_or(&[][..], Vec::as_slice);
        for e in entries {
            let m = &e["metrics"];
            let model = model_text(e);
            if e["exceeds_certified"].as_bool() == Some(true) {
                exceeded.push(format!(
                    "run #{} ({}), {model} model, {}: ε ≥ {} but certified ε = {}",
                    int(num(run, "index")),
                    params_text(run),
                    attack_text(e),
                    fmt(num(e, "empirical_epsilon.bound.epsilon_lower_bound")),
                    certified_text(e)
                ));
            }
            rows.push(vec![
                int(num(run, "index")),
                params_text(run),
                model,
                esc(&e["members"].as_str().unwrap_or("?").replace('_', " ")),
                attack_text(e),
                with_ci(m, "auc"),
                with_ci(m, "tpr_at_1pct_fpr"),
                fmt(num(m, "advantage")),
                epsilon_text(e),
                certified_text(e),
                esc(&m["leak"].as_str().unwrap_or("?").replace('_', " ")),
            ]);
        }
        // side by side: one row per attack, the forget set on every model
        let forget: Vec<&Value> = entries
            .iter()
            .filter(|e| e["members"] == "forget_vs_test")
            .collect();
        let mut attacks: Vec<String> = Vec::new();
        for e in &forget {
            let a = attack_text(e);
            if !attacks.contains(&a) {
                attacks.push(a);
            }
        }
        for a in attacks {
            let cell = |model: &str, f: &dyn Fn(&Value) -> String| -> String {
                forget
                    .iter()
                    .find(|e| e["model"] == model && attack_text(e) == a)
                    .map_or_else(|| "—".into(), |e| f(e))
            };
            let auc_tpr = |e: &Value| {
                format!(
                    "{} · {}",
                    with_ci(&e["metrics"], "auc"),
                    with_ci(&e["metrics"], "tpr_at_1pct_fpr")
                )
            };
            side_by_side.push(vec![
                int(num(run, "index")),
                params_text(run),
                a.clone(),
                cell("original", &auc_tpr),
                cell("unlearned", &auc_tpr),
                cell("retrained", &auc_tpr),
                cell("retrained_ensemble", &auc_tpr),
                cell("unlearned", &epsilon_text),
                cell("unlearned", &certified_text),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    let n = r.runs().iter().find_map(|run| num(run, "audit.n_members"));
    let level_text = if levels.is_empty() {
        "none in this result file: it predates the audit's ε bounds".to_string()
    } else {
        levels
            .iter()
            .map(|(c, d)| format!("confidence {c}, δ = {d}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = writeln!(
        out,
        "### Membership-inference audit\n\nMembers are the removed rows (forget set; \
         `retained vs test`: rows still in the training set, a control that shows what the \
         attack can detect), non-members an equally large seeded sample of the test set ({} \
         each). The same attack runs on the model before removal, the unlearned model and a \
         model retrained from scratch without the removed rows (Algorithm 1, fresh b; for SISA \
         also `retrained_ensemble`, SISA retrained from scratch with fresh randomness). SISA is \
         attacked as the ensemble it predicts with (its original, unlearned and retrained-ensemble \
         models; `retrained` is always the single-model reference retrain). LiRA and RMIA train K reference models like \
         the attacked model on rows that are never evaluated (online: every evaluated row is IN \
         for half of them). An AUC interval that excludes 0.5, in either direction, is a leak. \
         Intervals are stratified bootstrap intervals.\n\n\
         **Empirical vs certified ε.** For each forget-set result, \"ε lower bound\" is the \
         empirical lower bound of lethe-mia (threshold chosen on a seeded half of the rows, \
         Clopper–Pearson counts on the other half; {level_text}); \"certified ε\" is what the \
         removal certifies about that model (newton with σ > 0: the ε of the final accumulated \
         residual; exact removal and retrained models: 0; none for heuristics and for σ = 0). \
         Each row is one trial of the same model, which is a valid test only for a model \
         distributed as a retrain (certified ε = 0) and a uniformly random forget set{}: only \
         those bounds are compared. A certificate with ε > 0 is about the distribution of \
         unlearned models, not about one model's rows; the certified-removal game below \
         (`audit.game`) makes that comparison.\n",
        int(n),
        if not_comparable {
            " — **not the case for some runs here, so their bounds are not compared**"
        } else {
            ""
        }
    );
    if exceeded.is_empty() {
        if !levels.is_empty() {
            out.push_str(
                "No bound of a model with certified ε = 0 (exact removal, retrained models) \
                 exceeds 0.\n\n",
            );
        }
    } else {
        let _ = writeln!(
            out,
            "> **⚠ WARNING: {} empirical ε lower bound(s) exceed the certified ε.** With a valid \
             certificate each bound does so with probability at most 1 − confidence; more \
             than that points to a bug in the removal or in its certificate.\n>",
            exceeded.len()
        );
        for x in &exceeded {
            let _ = writeln!(out, "> - {x}");
        }
        out.push('\n');
    }
    if !weaker.is_empty() {
        out.push_str(
            "> **⚠ Weaker than configured** (`audit.warnings`): reference models smaller than \
             the attacked model or few RMIA population points make the attacks weaker, so their \
             AUCs understate what a stronger attacker could do.\n>\n",
        );
        for (w, runs) in &weaker {
            let _ = writeln!(out, "> - runs {}: {}", runs.join(", "), esc(w));
        }
        out.push('\n');
    }
    if !side_by_side.is_empty() {
        out.push_str(
            "**Forget set vs test set, side by side** (each cell: AUC [95 % CI] · TPR at 1 % \
             FPR [95 % CI]):\n\n",
        );
        out.push_str(&table(
            &[
                "#",
                "params",
                "attack",
                "original",
                "unlearned",
                "retrained",
                "retrained ensemble",
                "ε lower bound (unlearned)",
                "certified ε (unlearned)",
            ],
            &side_by_side,
        ));
        out.push('\n');
    }
    out.push_str("<details><summary>Every audit result</summary>\n\n");
    out.push_str(&table(
        &[
            "#",
            "params",
            "model",
            "members vs non-members",
            "attack",
            "AUC [95 % CI]",
            "TPR @ 1 % FPR [95 % CI]",
            "advantage",
            "ε lower bound",
            "certified ε",
            "leak",
        ],
        &rows,
    ));
    out.push_str("\n</details>\n\n");
}

/// The certified-removal game of every run with `audit.game`: the ε lower bound from T
/// unlearned against T retrained draws next to the mechanism's claim.
fn game_section(r: &ResultDoc, out: &mut String) {
    let mut rows = Vec::new();
    let mut exceeded = Vec::new();
    for run in r.runs() {
        let Some(game) = run.get("audit").and_then(|a| a.get("game")) else {
            continue;
        };
        let claim = match (
            game["certificate"]["kind"].as_str(),
            num(game, "certificate.epsilon"),
        ) {
            (Some(kind), Some(e)) => format!("{} ({})", fmt(Some(e)), esc(kind)),
            (Some(kind), None) => format!("none ({})", esc(kind)),
            _ => "—".into(),
        };
        if let Some(skip) = game.get("skipped").and_then(Value::as_str) {
            let mut row = vec![
                int(num(run, "index")),
                params_text(run),
                format!("skipped: {}", esc(skip)),
            ];
            row.resize(9, String::new());
            rows.push(row);
            continue;
        }
        let o = &game["outcome"];
        let bound = fmt(num(o, "bound.epsilon_lower_bound"));
        let exceeds = game["exceeds_certified"].as_bool();
        if exceeds == Some(true) {
            exceeded.push(format!(
                "run #{} ({}): ε ≥ {bound} but the mechanism claims ε = {claim}",
                int(num(run, "index")),
                params_text(run)
            ));
        }
        let counts = format!(
            "{}/{} vs {}/{}",
            int(num(o, "bound.tp")),
            int(num(o, "bound.tp")
                .zip(num(o, "bound.fn"))
                .map(|(a, b)| a + b)),
            int(num(o, "bound.fp")),
            int(num(o, "bound.fp")
                .zip(num(o, "bound.tn"))
                .map(|(a, b)| a + b)),
        );
        rows.push(vec![
            int(num(run, "index")),
            params_text(run),
            format!(
                "{} · {}",
                int(num(game, "trials")),
                int(num(game, "forget_rows"))
            ),
            esc(o["statistic"].as_str().unwrap_or("?")),
            counts,
            match exceeds {
                Some(true) => format!("**{bound} ⚠ > claim**"),
                _ => bound,
            },
            claim,
            format!(
                "{} · {}",
                int(num(game, "certified_draws")),
                int(num(game, "retrained_draws"))
            ),
            secs(num(game, "seconds")),
        ]);
    }
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "### Certified-removal game\n\nThe comparison the certificate makes (Guo et al. 2020, \
         Definition 1): T unlearned draws (the strategy trained with a fresh b, then served \
         the run's requests) against T models retrained on the remaining rows with a fresh b. \
         The statistic, threshold and orientation are chosen on half of the draws; the \
         Clopper–Pearson ε lower bound is counted on the other half (unlearned draws flagged / \
         all vs retrained draws flagged / all), at the audit's confidence and δ. The claim is \
         the mechanism's (ε, δ) when every unlearned draw ended certified, 0 for exact removal, \
         and none otherwise; a correct mechanism's bound exceeds it with probability at most \
         1 − confidence.\n\n",
    );
    if exceeded.is_empty() {
        out.push_str("No game bound exceeds the mechanism's claim.\n\n");
    } else {
        let _ = writeln!(
            out,
            "> **⚠ WARNING: {} game bound(s) exceed the mechanism's claim.** The removal or \
             its certificate does not hold.\n>",
            exceeded.len()
        );
        for x in &exceeded {
            let _ = writeln!(out, "> - {x}");
        }
        out.push('\n');
    }
    out.push_str(&table(
        &[
            "#",
            "params",
            "draws · forget rows",
            "statistic",
            "flagged (evaluation half)",
            "ε lower bound",
            "claimed ε",
            "certified · retrained draws",
            "seconds",
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
                text(&c["label"]),
                text(json::get(c, "guarantee.kind").unwrap_or(&Value::Null)),
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
                label: format!("budget{label}"),
                points: vec![(1.0, b), (last, b)],
                color: 6,
                dashed: true,
                markers: false,
            });
        }
    }
    let md = plots.add(
        &format!("{}-budget", r.file_stem()),
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

/// The grid points whose last run failed (`failed` of the result file), with their errors.
fn failed_section(r: &ResultDoc, out: &mut String) {
    let Some(failed) = r.doc.get("failed").and_then(Value::as_array) else {
        return;
    };
    if failed.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = failed
        .iter()
        .map(|f| {
            vec![
                int(num(f, "index")),
                params_text(f),
                int(num(f, "exit_code")),
                text(&f["error"]),
            ]
        })
        .collect();
    let _ = writeln!(
        out,
        "### Failed grid points\n\n{} grid point{} failed in {} last run and {} no result:\n",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        if failed.len() == 1 { "its" } else { "their" },
        if failed.len() == 1 { "has" } else { "have" },
    );
    out.push_str(&table(&["#", "params", "exit code", "error"], &rows));
    out.push('\n');
}

fn generic(r: &ResultDoc, plots: &mut Plots<'_>, collapse: bool, out: &mut String) -> Result<()> {
    failed_section(r, out);
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
        mechanisms::mechanisms_plot(r.runs(), r.name(), &r.file_stem(), plots, out)?;
    }
    audit_section(r, out);
    paired::paired_section(r.runs(), out);
    game_section(r, out);
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
        inputs: docs.iter().map(|d| d.path.clone()).collect(),
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
        let _ = writeln!(out, "- [{}](#{})", esc(r.name()), anchor(r.name()));
    }
    out.push('\n');
    out.push_str(&data_check::warning(docs.iter().copied()));
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

/// The anchor GitHub gives the heading of `name`: lowercase letters, digits, `-` and `_`, and
/// spaces as `-` (everything else dropped).
fn anchor(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads the result files, renders the report and writes it (atomically) with its plots.
///
/// # Errors
/// I/O, JSON and schema errors of the result files; [`ExperimentError::WouldOverwrite`] when
/// the report or a plot would replace one of the result files; plot and write errors.
pub fn write_report(opts: &ReportOptions) -> Result<WrittenReport> {
    crate::files::refuse_overwrite(&opts.out, opts.results.iter().map(PathBuf::as_path))?;
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

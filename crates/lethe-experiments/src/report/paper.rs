//! The figures and tables of Guo et al. (2020) with the paper's values alongside ours.
//!
//! The constants below are the only hand-typed numbers of a report; each is quoted from the
//! paper (read off its figures or its table) and always shown labelled *paper*.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lethe_models::accounting::paper_validity_limit;
use lethe_removal::stats::finite_median;
use serde_json::Value;

use super::plot::{Legend, Plot, Series};
use super::{Plots, ResultDoc, code, esc, fmt, int, num, pct, secs, table};
use crate::error::Result;
use crate::json::{self, number};

/// Figure 1 (left): test accuracy plateaus (small σ) for λ = 1e-4, 1e-3, 1e-2, 1e-1, quoted
/// from the paper as fractions.
pub const FIG1_PLATEAU: [(f64, f64); 4] =
    [(1e-4, 0.969), (1e-3, 0.955), (1e-2, 0.912), (1e-1, 0.875)];
/// Figure 2: the data-dependent bound at 1000 single removals (≈, read off the figure).
pub const FIG2_DATA_DEPENDENT_1000: f64 = 7.5;
/// Figure 2: the worst-case bound at 1000 single removals.
pub const FIG2_WORST_CASE_1000: f64 = 87_152.0;
/// Table 1: seconds per removal (MNIST, GPU).
pub const TABLE1_REMOVAL_SECONDS: f64 = 0.04;
/// Table 1: seconds of training (MNIST, GPU).
pub const TABLE1_TRAINING_SECONDS: f64 = 15.6;

/// Writes the section of the figure `kind` (`guo2020_…`); returns whether it knew the kind.
///
/// # Errors
/// Plot errors.
pub fn section(kind: &str, r: &ResultDoc, plots: &mut Plots<'_>, out: &mut String) -> Result<bool> {
    match kind {
        "guo2020_fig1_accuracy" => fig1_accuracy(r, plots, out)?,
        "guo2020_fig1_budget" => fig1_budget(r, plots, out)?,
        "guo2020_fig2_residuals" => fig2(r, plots, out)?,
        "guo2020_table1_timing" => table1(r, out),
        _ => return Ok(false),
    }
    Ok(true)
}

fn cfg(run: &Value, dotted: &str) -> Option<f64> {
    num(run, &format!("config.{dotted}"))
}

fn cfg_str<'a>(run: &'a Value, dotted: &str) -> &'a str {
    json::get(run, &format!("config.{dotted}"))
        .and_then(Value::as_str)
        .unwrap_or("?")
}

/// Sorted distinct values.
fn distinct(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn paper_plateau(lambda: f64) -> Option<f64> {
    FIG1_PLATEAU
        .iter()
        .find(|(l, _)| close(*l, lambda))
        .map(|(_, a)| *a)
}

fn lambda_label(l: f64) -> String {
    format!("λ = {l:e}")
}

/// Says, under a plot, that only the first [`MAX_LAMBDA_SERIES`] of `n` λ values are drawn.
fn lambda_series_note(n: usize, out: &mut String) {
    if n > MAX_LAMBDA_SERIES {
        let _ = writeln!(
            out,
            "The plot draws the {MAX_LAMBDA_SERIES} smallest of the {n} λ values (all are in the \
             table and the result JSON).\n"
        );
    }
}

const SETUP_NOTES: &str = "Setup differences that apply to every comparison below: the paper \
    trained with its own PyTorch code on a GPU; lethe trains in f64 on the CPU to ‖∇L_b‖ below \
    the configured tolerance (sum scale), with the same objective (logistic loss, (λn/2)‖w‖², \
    bᵀw), the same preprocessing (MNIST 3 vs 8 with 3 → +1, pixels x/255 − 0.5, unit-norm rows, \
    the official test split) and one draw of b per grid point from the experiment seed. The \
    paper's curves are read off its figures, so only the values quoted here are compared \
    numerically.";

/// The most cells of Figure 1's λ × σ accuracy table; a larger grid is listed run by run.
const MAX_WIDE_CELLS: usize = 2_000;
/// The most runs listed in a long-form table (every run is in the result JSON).
const MAX_LISTED_RUNS: usize = 1_000;
/// The most λ values drawn as curves of one plot (each is a series with a legend entry).
const MAX_LAMBDA_SERIES: usize = 12;

/// The runs' (σ, value) points grouped by λ (exact values, sorted by λ, each group by σ):
/// one pass over the runs, so a sweep of thousands of (λ, σ) pairs costs no λ × σ work.
fn points_by_lambda(runs: &[Value], value: &str) -> Vec<(f64, Vec<(f64, f64)>)> {
    let mut groups: BTreeMap<u64, (f64, Vec<(f64, f64)>)> = BTreeMap::new();
    for x in runs {
        if let (Some(l), Some(s), Some(v)) =
            (cfg(x, "model.lambda"), cfg(x, "model.sigma"), num(x, value))
            && l.is_finite()
            && s.is_finite()
        {
            // Positive finite floats order like their bit patterns; λ > 0 is validated.
            groups
                .entry(l.to_bits())
                .or_insert((l, Vec::new()))
                .1
                .push((s, v));
        }
    }
    let mut out: Vec<(f64, Vec<(f64, f64)>)> = groups.into_values().collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, pts) in &mut out {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn fig1_accuracy(r: &ResultDoc, plots: &mut Plots<'_>, out: &mut String) -> Result<()> {
    let runs = r.runs();
    let by_lambda = points_by_lambda(runs, "train.test_accuracy");
    let lambdas: Vec<f64> = by_lambda.iter().map(|(l, _)| *l).collect();
    let sigmas = distinct(runs.iter().filter_map(|x| cfg(x, "model.sigma")));
    let get = |i: usize, s: f64| {
        let pts = &by_lambda[i].1;
        pts.binary_search_by(|p| p.0.total_cmp(&s))
            .ok()
            .map(|k| pts[k].1)
    };
    let _ = writeln!(
        out,
        "### Figure 1 (left): test accuracy vs σ\n\nTest accuracy of the model trained on the \
         perturbed objective, for every λ and σ of the grid (no removals).\n\n{SETUP_NOTES}\n"
    );
    if lambdas.len().saturating_mul(sigmas.len()) <= MAX_WIDE_CELLS {
        let mut header: Vec<String> = vec!["λ \\ σ".into()];
        header.extend(sigmas.iter().map(|s| fmt(Some(*s))));
        let rows: Vec<Vec<String>> = lambdas
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let mut row = vec![fmt(Some(l))];
                row.extend(sigmas.iter().map(|&s| pct(get(i, s))));
                row
            })
            .collect();
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&table(&header_refs, &rows));
    } else {
        let all: Vec<(f64, f64, f64)> = by_lambda
            .iter()
            .flat_map(|(l, pts)| pts.iter().map(move |&(s, a)| (*l, s, a)))
            .collect();
        let _ = writeln!(
            out,
            "The grid has {} distinct λ and {} distinct σ, too many for a λ × σ table; {} \
             (λ, σ) runs, every one in the result JSON.\n",
            lambdas.len(),
            sigmas.len(),
            if all.len() > MAX_LISTED_RUNS {
                format!(
                    "the first {MAX_LISTED_RUNS} of {} listed by λ then σ",
                    all.len()
                )
            } else {
                format!("{} listed by λ then σ", all.len())
            }
        );
        let rows: Vec<Vec<String>> = all
            .iter()
            .take(MAX_LISTED_RUNS)
            .map(|&(l, s, a)| vec![fmt(Some(l)), fmt(Some(s)), pct(Some(a))])
            .collect();
        out.push_str(&table(&["λ", "σ", "test acc."], &rows));
    }
    out.push('\n');

    // Plateau comparison.
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (i, &l) in lambdas.iter().enumerate() {
        let Some(&s0) = sigmas.first() else { break };
        let ours = get(i, s0);
        let paper = paper_plateau(l);
        let diff = match (ours, paper) {
            (Some(o), Some(p)) if (100.0 * (o - p)).abs() < 0.05 => "±0.0 pp".into(),
            (Some(o), Some(p)) => format!("{:+.1} pp", 100.0 * (o - p)),
            _ => "—".into(),
        };
        rows.push(vec![
            fmt(Some(l)),
            format!("{} (σ = {})", pct(ours), fmt(Some(s0))),
            paper.map_or("—".into(), |p| format!("≈{} (paper)", pct(Some(p)))),
            diff,
        ]);
        if let (Some(o), Some(p)) = (ours, paper) {
            let d = 100.0 * (o - p);
            notes.push(format!(
                "λ = {l:e}: ours {:.2} % vs the paper's ≈{:.1} %: {:+.2} percentage points \
                 (the paper's value is read off its figure to about ±0.1)",
                100.0 * o,
                100.0 * p,
                d
            ));
        }
        // Where does the accuracy leave its plateau?
        if let Some(o) = ours
            && let Some(&(s_drop, a_drop)) = by_lambda[i].1.iter().find(|p| p.1 < o - 0.01)
        {
            notes.push(format!(
                "λ = {l:e}: accuracy first falls more than 1 point below its plateau at σ = {} ({})",
                fmt(Some(s_drop)),
                pct(Some(a_drop))
            ));
        }
        if rows.len() == MAX_LISTED_RUNS {
            break;
        }
    }
    let _ = writeln!(
        out,
        "Plateau (smallest σ) against the paper's plateau levels:\n"
    );
    out.push_str(&table(
        &["λ", "ours", "paper (Fig. 1 left, quoted)", "difference"],
        &rows,
    ));
    out.push('\n');
    if !notes.is_empty() {
        out.push_str("Differences, generated from the numbers above:\n\n");
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }

    let mut series = Vec::new();
    for (i, (l, pts)) in by_lambda.iter().take(MAX_LAMBDA_SERIES).enumerate() {
        let l = *l;
        series.push(Series {
            label: format!("{} (lethe)", lambda_label(l)),
            points: pts.clone(),
            color: i,
            dashed: false,
            markers: true,
        });
        if let (Some(p), Some(&lo), Some(&hi)) = (paper_plateau(l), sigmas.first(), sigmas.last()) {
            series.push(Series {
                label: format!("{} plateau (paper)", lambda_label(l)),
                points: vec![(lo, p), (hi, p)],
                color: i,
                dashed: true,
                markers: false,
            });
        }
    }
    lambda_series_note(by_lambda.len(), out);
    let md = plots.add(
        "fig1-accuracy",
        &Plot {
            title: "Figure 1 (left): MNIST 3 vs 8 test accuracy vs σ".into(),
            x_label: "σ (standard deviation of b)".into(),
            y_label: "test accuracy".into(),
            x_log: true,
            y_log: false,
            series,
            legend: Legend::LowerLeft,
        },
    )?;
    out.push_str(&md);
    out.push('\n');
    Ok(())
}

/// The paper's ε = β·c/σ of a run with `paper` accounting, where it is a valid statement;
/// otherwise a note (the runner records null beyond the formula's validity).
fn paper_epsilon_text(run: &Value) -> String {
    if cfg_str(run, "certificate.accounting") != "paper" {
        return "— (analytic run)".into();
    }
    match num(run, "summary.epsilon_spent_final") {
        Some(e) => fmt(Some(e)),
        None => format!(
            "not valid (above ε ≈ {:.2})",
            cfg(run, "certificate.delta").map_or(f64::NAN, paper_validity_limit)
        ),
    }
}

fn fig1_budget(r: &ResultDoc, plots: &mut Plots<'_>, out: &mut String) -> Result<()> {
    let runs = r.runs();
    let mut sorted: Vec<&Value> = runs.iter().collect();
    sorted.sort_by(|a, b| {
        let key = |x: &Value| {
            (
                cfg(x, "model.lambda").unwrap_or(f64::NAN),
                cfg(x, "model.sigma").unwrap_or(f64::NAN),
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let requests = sorted
        .first()
        .and_then(|x| num(x, "summary.requests"))
        .unwrap_or(f64::NAN);
    let eps = sorted
        .first()
        .and_then(|x| cfg(x, "certificate.epsilon"))
        .unwrap_or(f64::NAN);
    let _ = writeln!(
        out,
        "### Figure 1 (middle, right): ε at {} removals and supported removals at ε = {}\n\n\
         Every (λ, σ) point trains once and serves {} single random removals without retraining \
         (budget policy `never`), charging the data-dependent bound of Corollary 1 to β. \
         **ε at {} removals** is the smallest ε whose budget covers the final β under the exact \
         privacy profile of the Gaussian mechanism (Balle & Wang 2018, Thm 8), a valid (ε, δ) \
         statement for every ε. The paper's formula ε = β·c(δ)/σ is shown beside it only where \
         it is a valid (ε, δ) statement (below ε ≈ 8.38 at δ = 1e-4); above that the classic \
         Gaussian-mechanism analysis does not hold and the cell says so. **Supported removals** \
         counts the requests served before β first exceeded the budget at ε = {}, under the \
         paper's calibration σε/c (as in the paper) and under the exact profile; when all {} \
         fit, the **expected** number is (budget − r₀) divided by the mean bound per removal \
         (paper budget) — an extrapolation, labelled as such. Accuracy is the test accuracy of \
         the trained model.\n\n{SETUP_NOTES} The paper shows these two panels as \
         plots only; no values are quoted from them here, so the comparison is of shape: larger \
         σ buys a smaller ε (more removals) at the price of accuracy, and larger λ shrinks the \
         Newton steps (smaller bounds) at the price of accuracy.\n",
        int(Some(requests)),
        fmt(Some(eps)),
        int(Some(requests)),
        int(Some(requests)),
        fmt(Some(eps)),
        int(Some(requests)),
    );
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|x| {
            vec![
                fmt(cfg(x, "model.lambda")),
                fmt(cfg(x, "model.sigma")),
                pct(num(x, "train.test_accuracy")),
                fmt(num(x, "summary.epsilon_spent_analytic_final")),
                paper_epsilon_text(x),
                format!(
                    "{} of {}",
                    int(num(x, "summary.supported_removals")),
                    int(num(x, "summary.requests"))
                ),
                format!(
                    "{} of {}",
                    int(num(x, "summary.supported_removals_analytic")),
                    int(num(x, "summary.requests"))
                ),
                fmt(num(x, "summary.expected_supported_removals")),
                fmt(num(x, "summary.certificate_bound_mean")),
                secs(num(x, "summary.removal_seconds_median")),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "λ",
            "σ",
            "test acc.",
            &format!("ε at {} removals (exact profile)", int(Some(requests))),
            "paper's β·c/σ",
            &format!("supported at ε = {} (paper σε/c)", fmt(Some(eps))),
            &format!("supported at ε = {} (exact profile)", fmt(Some(eps))),
            "expected supported (extrapolated)",
            "mean bound per removal",
            "removal (median)",
        ],
        &rows,
    ));
    out.push('\n');
    // `sorted` is ordered by λ: its runs of equal λ are the curves (one pass, no λ × runs).
    let groups: Vec<&[&Value]> = sorted
        .chunk_by(|a, b| {
            cfg(a, "model.lambda").map(f64::to_bits) == cfg(b, "model.lambda").map(f64::to_bits)
        })
        .filter(|g| cfg(g[0], "model.lambda").is_some_and(f64::is_finite))
        .collect();
    let mut eps_series = Vec::new();
    let mut sup_series = Vec::new();
    for (i, of_l) in groups.iter().take(MAX_LAMBDA_SERIES).enumerate() {
        let l = cfg(of_l[0], "model.lambda").unwrap_or(f64::NAN);
        eps_series.push(Series {
            label: lambda_label(l),
            points: of_l
                .iter()
                .filter_map(|x| {
                    Some((
                        num(x, "summary.epsilon_spent_analytic_final")?,
                        num(x, "train.test_accuracy")?,
                    ))
                })
                .collect(),
            color: i,
            dashed: false,
            markers: true,
        });
        sup_series.push(Series {
            label: lambda_label(l),
            points: of_l
                .iter()
                .filter_map(|x| {
                    Some((
                        num(x, "summary.expected_supported_removals")?,
                        num(x, "train.test_accuracy")?,
                    ))
                })
                .collect(),
            color: i,
            dashed: false,
            markers: true,
        });
    }
    lambda_series_note(groups.len(), out);
    out.push_str(&plots.add(
        "fig1-epsilon",
        &Plot {
            title: format!(
                "Figure 1 (middle): accuracy vs ε at {} removals",
                int(Some(requests))
            ),
            x_label: format!("ε needed for {} removals", int(Some(requests))),
            y_label: "test accuracy".into(),
            x_log: true,
            y_log: false,
            series: eps_series,
            legend: Legend::LowerRight,
        },
    )?);
    out.push('\n');
    out.push_str(&plots.add(
        "fig1-supported",
        &Plot {
            title: format!(
                "Figure 1 (right): accuracy vs supported removals at ε = {}",
                fmt(Some(eps))
            ),
            x_label: "expected supported removals".into(),
            y_label: "test accuracy".into(),
            x_log: true,
            y_log: false,
            series: sup_series,
            legend: Legend::LowerLeft,
        },
    )?);
    out.push('\n');
    Ok(())
}

/// Cumulative curves of one Figure 2 run: (removed points, Σ data-dependent, Σ worst case,
/// exact residual).
fn curves(run: &Value) -> Vec<(f64, f64, f64, f64)> {
    let mut removed = 0.0;
    let mut dd = 0.0;
    let mut wc = 0.0;
    run["removals"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|x| {
            removed += x["indices"].as_array().map_or(0, Vec::len) as f64;
            dd += number(&x["bound_data_dependent"]).unwrap_or(f64::NAN);
            wc += number(&x["bound_worst_case"]).unwrap_or(f64::NAN);
            let exact = number(&x["residual_norm"]).unwrap_or(f64::NAN);
            (removed, dd, wc, exact)
        })
        .collect()
}

fn fig2(r: &ResultDoc, plots: &mut Plots<'_>, out: &mut String) -> Result<()> {
    let runs = r.runs();
    let _ = writeln!(
        out,
        "### Figure 2: gradient residual over 1000 removals\n\nOne model (λ and σ below), 1000 \
         random training points removed one at a time, and the same number removed in batches \
         (budget policy `never`, so every step is applied). Curves: the cumulative worst-case \
         bound (Theorem 1 and its batch form; valid for b = 0), the cumulative data-dependent \
         bound (Corollary 1/2, the certificate), and the exact residual ‖∇L_b(w; D′)‖ of the \
         current model (including bᵀw; not cumulative).\n\n{SETUP_NOTES}\n"
    );
    let mut series = Vec::new();
    let mut rows = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let m = cfg(run, "removal.batch_size").unwrap_or(1.0);
        let kind = if m <= 1.0 {
            "single".to_string()
        } else {
            format!("batch (m = {})", int(Some(m)))
        };
        let c = curves(run);
        let Some(&(n, dd, wc, exact)) = c.last() else {
            continue;
        };
        let single = m <= 1.0;
        rows.push(vec![
            format!("worst case, {kind}"),
            fmt(Some(cfg(run, "model.lambda").unwrap_or(f64::NAN))),
            int(Some(n)),
            fmt(Some(wc)),
            if single {
                format!("{} (paper)", fmt(Some(FIG2_WORST_CASE_1000)))
            } else {
                "—".into()
            },
            if single && n == 1000.0 {
                format!("{:+.2} (absolute)", wc - FIG2_WORST_CASE_1000)
            } else {
                "—".into()
            },
        ]);
        rows.push(vec![
            format!("data-dependent, {kind}"),
            fmt(cfg(run, "model.lambda")),
            int(Some(n)),
            fmt(Some(dd)),
            if single {
                format!("≈{} (paper)", fmt(Some(FIG2_DATA_DEPENDENT_1000)))
            } else {
                "—".into()
            },
            if single && n == 1000.0 {
                format!("{:+.0} %", 100.0 * (dd / FIG2_DATA_DEPENDENT_1000 - 1.0))
            } else {
                "—".into()
            },
        ]);
        rows.push(vec![
            format!("exact residual, {kind}"),
            fmt(cfg(run, "model.lambda")),
            int(Some(n)),
            fmt(Some(exact)),
            "—".into(),
            "—".into(),
        ]);
        let color = if single { 0 } else { 1 };
        let _ = i;
        series.push(Series {
            label: format!("worst case, {kind}"),
            points: c.iter().map(|p| (p.0, p.2)).collect(),
            color,
            dashed: true,
            markers: false,
        });
        series.push(Series {
            label: format!("data-dependent, {kind}"),
            points: c.iter().map(|p| (p.0, p.1)).collect(),
            color,
            dashed: false,
            markers: false,
        });
        series.push(Series {
            label: format!("exact residual, {kind}"),
            points: c.iter().map(|p| (p.0, p.3)).collect(),
            color: if single { 2 } else { 3 },
            dashed: false,
            markers: false,
        });
    }
    if let Some(run) = runs.first() {
        let _ = writeln!(
            out,
            "λ = {}, σ = {}, n = {} training rows, loss {}, order {}.\n",
            fmt(cfg(run, "model.lambda")),
            fmt(cfg(run, "model.sigma")),
            int(num(run, "data.n_train")),
            code(cfg_str(run, "model.loss")),
            code(
                &json::get(run, "config.removal.order")
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                    .unwrap_or_else(|| "?".into())
            ),
        );
    }
    out.push_str(&table(
        &[
            "curve",
            "λ",
            "points removed",
            "ours (cumulative)",
            "paper (Fig. 2, quoted)",
            "ours vs paper",
        ],
        &rows,
    ));
    out.push('\n');
    out.push_str(
        "The worst-case curve is Σₖ 4γm²C²/(λ²(n − km)) (γ = 1/4, C = 1): it depends only on λ, \
         n and m, so matching the paper's 87,152 checks that λ, n and the sum-scale convention \
         agree. The data-dependent curve depends on the trained model (and hence on b and the \
         removed points); the paper's value is read off its figure (≈).\n\n",
    );
    out.push_str(&plots.add(
        "fig2-residuals",
        &Plot {
            title: "Figure 2: cumulative gradient residual vs points removed".into(),
            x_label: "points removed".into(),
            y_label: "gradient residual norm (sum scale)".into(),
            x_log: false,
            y_log: true,
            series,
            legend: Legend::LowerRight,
        },
    )?);
    out.push('\n');
    Ok(())
}

fn table1(r: &ResultDoc, out: &mut String) {
    let runs = r.runs();
    let _ = writeln!(
        out,
        "### Table 1: training and removal time\n\nMNIST 3 vs 8. Ours: wall-clock seconds on \
         this machine's CPU (see the host below), one process per run; each setting is run \
         once per seed and the table shows the median over those runs (per run: training time, \
         the median time per removal request, and a full retrain from scratch on the remaining \
         rows in the same process). Paper: its Table 1, on a GPU.\n"
    );
    // Group runs by (training solver, removal solver).
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for run in runs {
        groups
            .entry((
                esc(cfg_str(run, "model.solver.kind")),
                esc(cfg_str(run, "removal.solver")),
            ))
            .or_default()
            .push(run);
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for ((train_solver, removal_solver), group) in &groups {
        let med = |path: &str| {
            finite_median(
                &group
                    .iter()
                    .filter_map(|x| num(x, path))
                    .collect::<Vec<_>>(),
            )
        };
        let (t, rm) = (med("train.seconds"), med("summary.removal_seconds_median"));
        let range = |path: &str| {
            let v: Vec<f64> = group.iter().filter_map(|x| num(x, path)).collect();
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.len() > 1 {
                format!(" ({}–{})", secs(Some(lo)), secs(Some(hi)))
            } else {
                String::new()
            }
        };
        rows.push(vec![
            format!("lethe: training `{train_solver}`, removal `{removal_solver}`"),
            format!("{}{}", secs(t), range("train.seconds")),
            format!("{}{}", secs(rm), range("summary.removal_seconds_median")),
            format!(
                "{}{}",
                secs(med("summary.retrain_seconds_median")),
                range("summary.retrain_seconds_median")
            ),
            fmt(med("summary.speedup_median")),
            format!(
                "{} × {}",
                group.len(),
                int(group.first().and_then(|x| num(x, "summary.requests")))
            ),
        ]);
        if let (Some(t), Some(rm)) = (t, rm) {
            notes.push(format!(
                "training `{train_solver}` / removal `{removal_solver}`: training {} vs the \
                 paper's {} ({}), removal {} vs {} ({})",
                secs(Some(t)),
                secs(Some(TABLE1_TRAINING_SECONDS)),
                ratio(t, TABLE1_TRAINING_SECONDS),
                secs(Some(rm)),
                secs(Some(TABLE1_REMOVAL_SECONDS)),
                ratio(rm, TABLE1_REMOVAL_SECONDS),
            ));
        }
    }
    rows.push(vec![
        "paper (Table 1, GPU, quoted)".into(),
        secs(Some(TABLE1_TRAINING_SECONDS)),
        secs(Some(TABLE1_REMOVAL_SECONDS)),
        "—".into(),
        fmt(Some(TABLE1_TRAINING_SECONDS / TABLE1_REMOVAL_SECONDS)),
        "—".into(),
    ]);
    out.push_str(&table(
        &[
            "setting",
            "training (median, range)",
            "removal (median, range)",
            "retrain (median, range)",
            "speed-up (retrain / removal)",
            "runs × requests",
        ],
        &rows,
    ));
    out.push('\n');
    if let Some(run) = runs.first() {
        let host = &run["provenance"]["host"];
        let loads: Vec<f64> = runs
            .iter()
            .filter_map(|x| num(x, "load_average_1m"))
            .collect();
        let load = if loads.is_empty() {
            String::new()
        } else {
            let lo = loads.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = loads.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!(
                "; 1-minute load average at the end of the runs {}–{} (a load above the \
                 number of threads means other processes competed for the CPU and the times \
                 are inflated)",
                fmt(Some(lo)),
                fmt(Some(hi))
            )
        };
        let _ = writeln!(
            out,
            "Host: {} ({} threads available){load}.\n",
            esc(host["cpu"].as_str().unwrap_or("unknown CPU")),
            int(number(&host["threads"]))
        );
    }
    if !notes.is_empty() {
        out.push_str(
            "Differences, generated from the numbers above (different hardware: the paper's \
             times are on a GPU, ours on this CPU):\n\n",
        );
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
}

fn ratio(ours: f64, paper: f64) -> String {
    let q = ours / paper;
    if q >= 1.0 {
        format!("{q:.1}× slower")
    } else {
        format!("{:.1}× faster", 1.0 / q)
    }
}

//! The report's paired verdicts: each run's AUC(unlearned) − AUC(retrain) on the same rows
//! (`audit.paired`), aggregated over the seeds of a grid (runs that differ only in `seed`),
//! tested with the exact sign-flip test and adjusted with Holm over every test of the report
//! ([`lethe_mia::metrics::paired`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lethe_mia::metrics::{holm, sign_flip_test};
use lethe_removal::stats::mean;
use serde_json::Value;

use super::{esc, fmt, params_text, table};

/// Family-wise error rate of the verdicts.
pub const ALPHA: f64 = 0.05;

/// Fewest seeds whose exact two-sided sign-flip p-value can reach [`ALPHA`] (2/2⁶ < 0.05).
pub const MIN_SEEDS: usize = 6;

/// One group of runs (same params but the seed) and attack.
#[derive(Default)]
struct Group {
    versus: String,
    /// (seed, AUC(unlearned) − AUC(retrain), the interval's lower end) per run.
    unlearned: Vec<(Value, f64, f64)>,
    /// AUC(original) − AUC(retrain) per run: the attack's power on the forget rows.
    original: Vec<f64>,
}

/// The run's params without `seed`, as text.
fn params_without_seed(run: &Value) -> String {
    let mut r = run.clone();
    if let Some(p) = r.get_mut("params").and_then(Value::as_object_mut) {
        p.remove("seed");
    }
    params_text(&r)
}

/// Appends the "Paired verdicts over seeds" section when any run has paired comparisons.
pub fn paired_section(runs: &[Value], out: &mut String) {
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for run in runs {
        let Some(list) = run
            .get("audit")
            .and_then(|a| a.get("paired"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for p in list {
            let (Some(attack), Some(model), Some(d)) = (
                p["attack_label"].as_str(),
                p["model"].as_str(),
                p["auc_difference"]["estimate"].as_f64(),
            ) else {
                continue;
            };
            let g = groups
                .entry((params_without_seed(run), attack.to_string()))
                .or_default();
            match model {
                "unlearned" => {
                    g.versus = p["versus"].as_str().unwrap_or("?").to_string();
                    let lower = p["auc_difference"]["lower"].as_f64().unwrap_or(f64::NAN);
                    g.unlearned.push((run["seed"].clone(), d, lower));
                }
                "original" => g.original.push(d),
                _ => {}
            }
        }
    }
    let tested: Vec<((String, String), Group, lethe_mia::metrics::SignFlipTest)> = groups
        .into_iter()
        .filter_map(|(key, g)| {
            let d: Vec<f64> = g.unlearned.iter().map(|u| u.1).collect();
            let t = sign_flip_test(&d, 0).ok()?;
            Some((key, g, t))
        })
        .collect();
    if tested.is_empty() {
        return;
    }
    let p: Vec<f64> = tested.iter().map(|t| t.2.p_value).collect();
    let Ok(adjusted) = holm(&p) else {
        return;
    };
    let mut rows = Vec::new();
    let mut leaks = Vec::new();
    for (((params, attack), g, t), adj) in tested.iter().zip(&adjusted) {
        let verdict = if t.n < MIN_SEEDS {
            format!("too few seeds (< {MIN_SEEDS})")
        } else if *adj <= ALPHA && t.mean > 0.0 {
            leaks.push(format!(
                "{params}, {attack}: mean ΔAUC {:+.4} over {} seeds (Holm p = {})",
                t.mean,
                t.n,
                fmt(Some(*adj))
            ));
            "**unlearned more exposed**".to_string()
        } else if *adj <= ALPHA {
            "unlearned less exposed (over-corrected)".to_string()
        } else {
            "no difference detected".to_string()
        };
        let power = if g.original.is_empty() {
            "—".to_string()
        } else {
            format!("{:+.4}", mean(&g.original))
        };
        let ci_above = g.unlearned.iter().filter(|u| u.2 > 0.0).count();
        rows.push(vec![
            params.clone(),
            esc(attack),
            esc(&g.versus),
            t.n.to_string(),
            format!("{:+.4}", t.mean),
            format!("{} / {}", t.positive, t.n),
            format!("{ci_above} / {}", t.n),
            power,
            format!(
                "{}{}",
                fmt(Some(t.p_value)),
                if t.exact { "" } else { " (MC)" }
            ),
            fmt(Some(*adj)),
            verdict,
        ]);
    }
    out.push_str(
        "### Paired verdicts over seeds\n\nEach run attacks its unlearned model and the \
         model it is compared with (a retrain on the remaining rows with a fresh b; SISA's \
         retrained ensemble for SISA) on the same forget and test rows; ΔAUC = AUC(unlearned) − \
         AUC(retrain), with a bootstrap interval whose replicates resample the same rows for \
         both. Runs that differ only in `seed` are one group: the exact sign-flip test of the \
         mean ΔAUC (two-sided; under exact removal each seed's sign is a fair coin), then \
         Holm's adjustment over every row of this table, verdicts at family-wise error ",
    );
    let _ = write!(
        out,
        "{ALPHA}. With fewer than {MIN_SEEDS} seeds no p-value can reach {ALPHA}. \"Attack \
         power\" is the mean AUC(original) − AUC(retrain): how well the attack detects the \
         forget rows before removal.\n\n"
    );
    if leaks.is_empty() {
        out.push_str(
            "No group's unlearned model is significantly more exposed than its retrain.\n\n",
        );
    } else {
        let _ = writeln!(
            out,
            "> **⚠ {} group(s) where the unlearned model is more exposed than its retrain:**\n>",
            leaks.len()
        );
        for l in &leaks {
            let _ = writeln!(out, "> - {l}");
        }
        out.push('\n');
    }
    out.push_str(&table(
        &[
            "params (all seeds)",
            "attack",
            "versus",
            "seeds",
            "mean ΔAUC",
            "ΔAUC > 0",
            "seed CI > 0",
            "attack power",
            "p (sign flip)",
            "Holm p",
            "verdict",
        ],
        &rows,
    ));
    out.push('\n');
}

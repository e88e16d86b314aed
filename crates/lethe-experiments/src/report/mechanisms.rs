//! Certified mechanisms side by side (issue #19): test accuracy after the last request against
//! the removals one trained model supports, one line per mechanism and λ, each point
//! one (ε, σ) of the sweep. Drawn for results whose runs hold at least two certified
//! strategies (a run's `train.strategy` with `train.guarantee.kind = certified`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Plots, fmt, num, plot};
use crate::error::Result;
use crate::json;

/// The mechanism of a run: its strategy name (with Descent-to-Delete's step count).
fn mechanism(run: &Value) -> String {
    let name = json::get(run, "train.strategy")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match json::get(run, "config.removal.strategy.steps").and_then(Value::as_u64) {
        Some(t) => format!("{name} (T = {t})"),
        None => name.to_string(),
    }
}

/// Appends the plot when the result compares two or more certified mechanisms.
pub fn mechanisms_plot(
    runs: &[Value],
    name: &str,
    stem: &str,
    plots: &mut Plots<'_>,
    out: &mut String,
) -> Result<()> {
    let certified: Vec<&Value> = runs
        .iter()
        .filter(|r| {
            json::get(r, "train.guarantee.kind").and_then(Value::as_str) == Some("certified")
        })
        .collect();
    let mut lines: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for run in &certified {
        let (Some(supported), Some(accuracy)) = (
            num(run, "summary.supported_removals"),
            num(run, "summary.test_accuracy_after"),
        ) else {
            continue;
        };
        let lambda = fmt(num(run, "config.model.lambda"));
        lines
            .entry((mechanism(run), lambda))
            .or_default()
            .push((supported, accuracy));
    }
    let distinct: std::collections::BTreeSet<String> =
        lines.keys().map(|(m, _)| m.clone()).collect();
    if distinct.len() < 2 {
        return Ok(());
    }
    let mechanisms: Vec<String> = distinct.into_iter().collect();
    let series = lines
        .into_iter()
        .map(|((m, lambda), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let color = mechanisms.iter().position(|x| *x == m).unwrap_or(0);
            let dashed = lambda != fmt(num(certified[0], "config.model.lambda"));
            plot::Series {
                label: format!("{m} (λ = {lambda})"),
                points,
                color,
                dashed,
                markers: true,
            }
        })
        .collect();
    let md = plots.add(
        &format!("{stem}-mechanisms"),
        &plot::Plot {
            title: format!("{name}: accuracy against supported removals"),
            x_label: "removals supported by one trained model".into(),
            y_label: "test accuracy after the last request".into(),
            x_log: false,
            y_log: false,
            series,
            legend: plot::Legend::LowerLeft,
        },
    )?;
    out.push_str(
        "Each point is one (ε, σ) of the sweep: how many removals one trained model supported \
         before its first retrain, and the test accuracy of the release after the run's last \
         request (with `stop_when_budget_exceeded`, the request that retrained).\n\n",
    );
    out.push_str(&md);
    out.push('\n');
    Ok(())
}

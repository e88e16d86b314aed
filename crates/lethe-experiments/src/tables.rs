//! Flat CSV tables of a result file (`lethe run --tables csv`, Python's `lethe.load_results`).
//!
//! From a merged result (`lethe.result/1`) three tables, one file each next to the JSON:
//!
//! | file | one row per | columns |
//! |---|---|---|
//! | `<name>.summary.csv` | run (grid point) | `run`, `hash`, `seed`, `param.<key>`, `summary.*`, `train.*`, `timings.*` |
//! | `<name>.removals.csv` | removal request of a run | `run`, `hash`, `param.<key>`, then the removal record |
//! | `<name>.audit.csv` | audit result of a run | `run`, `hash`, `param.<key>`, then the attack result |
//!
//! Columns of an object come in the result's key order (sorted). Nested objects are flattened
//! into dotted column names (`attack.attack`,
//! `metrics.auc_ci.lower`). An array of numbers or strings becomes one cell holding its JSON
//! text (`[274]`); arrays of objects (an ROC curve) are left out. The files are named after
//! the experiment so that the results of several experiments in one directory do not
//! overwrite each other.
//!
//! # Numbers
//! Numbers are written as numbers (shortest round-trip form), so pandas reads numeric columns
//! as float64. Result files write ±∞ as the strings `"inf"`/`"-inf"`
//! ([`crate::json`]); the tables write them as `inf`/`-inf`, which pandas and most CSV readers
//! parse as floats. NaN and null (undefined) are empty cells. Booleans are `true`/`false`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::Result;
use crate::json;

/// The three tables of a result, as CSV text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// One row per run.
    pub summary: String,
    /// One row per removal request.
    pub removals: String,
    /// One row per audit result.
    pub audit: String,
}

/// Rows with their columns in first-seen order.
#[derive(Default)]
struct Table {
    columns: Vec<String>,
    index: BTreeMap<String, usize>,
    rows: Vec<Vec<(usize, String)>>,
}

impl Table {
    fn push(&mut self, cells: Vec<(String, String)>) {
        let mut row = Vec::with_capacity(cells.len());
        for (name, cell) in cells {
            let next = self.columns.len();
            let i = *self.index.entry(name.clone()).or_insert(next);
            if i == next {
                self.columns.push(name);
            }
            row.push((i, cell));
        }
        self.rows.push(row);
    }

    fn csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| quote(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let mut line = vec![String::new(); self.columns.len()];
            for (i, cell) in row {
                line[*i] = cell.clone();
            }
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }
}

/// RFC 4180 quoting: a field with a comma, quote or line break is quoted, quotes doubled.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One cell of a scalar (see the module docs for numbers); `None` for arrays of objects.
fn cell(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match s.as_str() {
            "inf" => "inf".into(),
            "-inf" => "-inf".into(),
            _ => quote(s),
        },
        Value::Array(a) => {
            if a.iter().any(|x| x.is_object() || x.is_array()) {
                return None;
            }
            quote(&serde_json::to_string(a).unwrap_or_default())
        }
        Value::Object(_) => return None,
    })
}

/// Flattens `v` into `(prefix.key, cell)` pairs.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, x, out);
            }
        }
        other => {
            if let Some(c) = cell(other) {
                out.push((prefix.to_string(), c));
            }
        }
    }
}

/// `run`, `hash` (and `seed`) and the run's grid parameters as `param.<key>`.
fn identity(run: &Value, with_seed: bool) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for key in ["index", "hash"]
        .into_iter()
        .chain(with_seed.then_some("seed"))
    {
        let name = if key == "index" { "run" } else { key };
        cells.push((
            name.to_string(),
            run.get(key).and_then(cell).unwrap_or_default(),
        ));
    }
    if let Some(Value::Object(params)) = run.get("params") {
        for (k, v) in params {
            if let Some(c) = cell(v) {
                cells.push((format!("param.{k}"), c));
            }
        }
    }
    cells
}

fn array<'a>(v: &'a Value, dotted: &str) -> &'a [Value] {
    json::get(v, dotted)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The tables of a merged result (runs without removals or audit give no rows there).
pub fn tables(result: &Value) -> Tables {
    let (mut summary, mut removals, mut audit) =
        (Table::default(), Table::default(), Table::default());
    for run in array(result, "runs") {
        let mut cells = identity(run, true);
        for part in ["summary", "train", "timings"] {
            if let Some(v) = run.get(part) {
                flatten(part, v, &mut cells);
            }
        }
        summary.push(cells);
        for r in array(run, "removals") {
            let mut cells = identity(run, false);
            flatten("", r, &mut cells);
            removals.push(cells);
        }
        for a in array(run, "audit.results") {
            let mut cells = identity(run, false);
            flatten("", a, &mut cells);
            audit.push(cells);
        }
    }
    Tables {
        summary: summary.csv(),
        removals: removals.csv(),
        audit: audit.csv(),
    }
}

/// The table files of the result file `result` (`DIR/<name>.json` →
/// `DIR/<name>.{summary,removals,audit}.csv`).
pub fn table_paths(result: &Path) -> [PathBuf; 3] {
    let stem = result
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = result.parent().unwrap_or(Path::new("."));
    ["summary", "removals", "audit"].map(|t| dir.join(format!("{stem}.{t}.csv")))
}

/// Reads the result file `result` and writes its three tables next to it, each atomically;
/// returns their paths (summary, removals, audit).
///
/// # Errors
/// Reading or parsing the result, writing a table ([`json::write_atomic`]).
pub fn write_tables(result: &Path) -> Result<[PathBuf; 3]> {
    let t = tables(&json::read_json(result)?);
    let paths = table_paths(result);
    for (path, text) in paths.iter().zip([&t.summary, &t.removals, &t.audit]) {
        json::write_atomic(path, text.as_bytes())?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_finite_numbers_and_nulls() {
        let r = json!({"runs": [{"index": 0, "hash": "h", "seed": 1, "params": {"model.sigma": 2.5},
            "summary": {"a": "inf", "b": null, "c": "-inf", "d": 0.1, "e": true},
            "removals": [{"request": 1, "indices": [3, 4], "beta": 1e-300, "name": "x,y"}]}]});
        let t = tables(&r);
        assert_eq!(
            t.summary,
            "run,hash,seed,param.model.sigma,summary.a,summary.b,summary.c,summary.d,summary.e\n\
             0,h,1,2.5,inf,,-inf,0.1,true\n"
        );
        assert_eq!(
            t.removals,
            "run,hash,param.model.sigma,beta,indices,name,request\n0,h,2.5,1e-300,\"[3,4]\",\"x,y\",1\n"
        );
        assert_eq!(t.audit, "\n");
    }

    #[test]
    fn arrays_of_objects_are_left_out_and_columns_unite() {
        let r = json!({"runs": [
            {"index": 0, "hash": "a", "audit": {"results": [
                {"metrics": {"auc": 0.5, "roc": [{"fpr": 0.0}]}, "model": "original"}]}},
            {"index": 1, "hash": "b", "audit": {"results": [{"extra": 1, "model": "unlearned"}]}}]});
        assert_eq!(
            tables(&r).audit,
            "run,hash,metrics.auc,model,extra\n0,a,0.5,original,\n1,b,,unlearned,1\n"
        );
    }

    #[test]
    fn paths_are_named_after_the_result() {
        let [s, r, a] = table_paths(Path::new("out/quickstart.json"));
        assert_eq!(s, PathBuf::from("out/quickstart.summary.csv"));
        assert_eq!(r, PathBuf::from("out/quickstart.removals.csv"));
        assert_eq!(a, PathBuf::from("out/quickstart.audit.csv"));
    }
}

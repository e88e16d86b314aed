//! The per-example scores of an audit, written beside the result so that the analysis can be
//! redone from them (ROC curves, other metrics, joins with the data).
//!
//! A run with an output directory writes `OUT/<name>.scores/<index>-<hash>.csv` (the config
//! hash of the point, as for its ledger) and records that path, relative to `OUT`, in
//! `audit.scores` of its run record. A flat CSV table in long format, one line per evaluated
//! row of every result, in the order of `audit.results`:
//!
//! | column | what |
//! |---|---|
//! | `evaluation` | `forget_vs_test` or `retained_vs_test` (an entry's `members`) |
//! | `model` | `original`, `unlearned`, `retrained` or `retrained_ensemble` (an entry's `model`) |
//! | `attack` | the entry's `attack_label`: `loss`, `confidence`, …, `lira_online`, `lira_offline`, `rmia_online`, … (`_2`, `_3` for repeated attacks) |
//! | `row` | the row's index in its split of the prepared data (the training or test set) |
//! | `split` | `train` (members) or `test` (non-members) |
//! | `member` | 1 for members, 0 for non-members |
//! | `score` | the membership score (higher = more likely a member), shortest round-trip decimal |
//!
//! Each (evaluation, model, attack) holds its k members, then its k non-members; the entry's
//! metrics (AUC, TPR at low FPR, ε bound) are computed from exactly these scores. The file is
//! written under a temporary name and linked or renamed into place, so it is either complete
//! or absent; an existing file is never replaced unless the run is forced (`--force`), and a
//! point re-run with the same config accepts an existing file only if it holds the same bytes.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};

/// The header line of a scores file.
pub const HEADER: &str = "evaluation,model,attack,row,split,member,score";

/// The scores of one audit result.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryScores {
    /// `forget_vs_test` or `retained_vs_test`.
    pub evaluation: &'static str,
    /// The attacked model's name.
    pub model: &'static str,
    /// The result's `attack_label`.
    pub attack: String,
    /// The evaluated rows: `n_members` training-set indices, then test-set indices.
    pub rows: Vec<usize>,
    /// Members (the first `n_members` rows).
    pub n_members: usize,
    /// One score per row.
    pub scores: Vec<f64>,
}

/// The per-example scores of every result of an audit, in the order of its results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditScores {
    /// One per result.
    pub entries: Vec<EntryScores>,
}

impl AuditScores {
    /// Lines of the table without the header.
    pub fn n_rows(&self) -> usize {
        self.entries.iter().map(|e| e.scores.len()).sum()
    }

    /// The CSV text: [`HEADER`] and one line per score.
    pub fn to_csv(&self) -> String {
        let mut s = String::with_capacity(64 * (self.n_rows() + 1));
        s.push_str(HEADER);
        s.push('\n');
        for e in &self.entries {
            for (i, (&row, &score)) in e.rows.iter().zip(&e.scores).enumerate() {
                let member = i < e.n_members;
                // `{:?}` is the shortest decimal that reads back to the same f64.
                let _ = writeln!(
                    s,
                    "{},{},{},{row},{},{},{score:?}",
                    e.evaluation,
                    e.model,
                    e.attack,
                    if member { "train" } else { "test" },
                    u8::from(member),
                );
            }
        }
        s
    }
}

/// `base`, or `base_2`, `base_3`, … when `earlier` already holds it.
pub fn unique_label(base: String, earlier: &[String]) -> String {
    if !earlier.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|l| !earlier.contains(l))
        .unwrap_or(base)
}

/// Where a point writes the per-example scores of its audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoresTarget {
    /// The output directory.
    pub out_dir: PathBuf,
    /// The file's path relative to `out_dir` (recorded in `audit.scores`).
    pub relative: String,
    /// Replace an existing file (`--force`); otherwise only an identical one is accepted.
    pub replace: bool,
}

impl ScoresTarget {
    /// The scores of point `index` with config hash `hash` of experiment `name`:
    /// `OUT/<name>.scores/<index>-<hash>.csv`.
    pub fn new(out_dir: &Path, name: &str, index: usize, hash: &str, replace: bool) -> Self {
        Self {
            out_dir: out_dir.to_path_buf(),
            relative: format!("{}/{index}-{hash}.csv", scores_dir_name(name)),
            replace,
        }
    }

    /// The final path.
    pub fn path(&self) -> PathBuf {
        self.out_dir.join(&self.relative)
    }

    /// Writes `scores` (temporary file, then link or rename into place) and returns the path
    /// relative to the output directory.
    ///
    /// # Errors
    /// [`ExperimentError::Result`] when a different file exists under the name and the target
    /// does not replace; [`ExperimentError::Io`] when writing fails.
    pub fn write(&self, scores: &AuditScores) -> Result<String> {
        let path = self.path();
        let bytes = scores.to_csv().into_bytes();
        if self.replace {
            crate::json::write_atomic(&path, &bytes)?;
            return Ok(self.relative.clone());
        }
        if path.exists() || !crate::json::write_atomic_new(&path, &bytes)? {
            // A file under this name (from an earlier run of this point, or one that appeared
            // meanwhile) is accepted only with the same bytes.
            if fs::read(&path).is_ok_and(|old| old == bytes) {
                return Ok(self.relative.clone());
            }
            return Err(ExperimentError::Result {
                path,
                what: "a scores file of this point with other contents exists although its \
                       point file does not; move it away or re-run with --force (scores files \
                       are never overwritten otherwise)"
                    .into(),
            });
        }
        Ok(self.relative.clone())
    }
}

/// The directory of the scores files of experiment `name`, relative to the output directory.
pub fn scores_dir_name(name: &str) -> String {
    format!("{name}.scores")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> AuditScores {
        AuditScores {
            entries: vec![EntryScores {
                evaluation: "forget_vs_test",
                model: "unlearned",
                attack: "loss".into(),
                rows: vec![7, 2, 3, 9],
                n_members: 2,
                scores: vec![-0.5, 1e-300, 0.1, -3.25],
            }],
        }
    }

    #[test]
    fn csv_lines_and_labels() {
        let csv = table().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "forget_vs_test,unlearned,loss,7,train,1,-0.5");
        assert_eq!(lines[2], "forget_vs_test,unlearned,loss,2,train,1,1e-300");
        assert_eq!(lines[4], "forget_vs_test,unlearned,loss,9,test,0,-3.25");
        assert_eq!(lines.len(), 5);
        let earlier = vec!["loss".to_string(), "lira_online".into(), "loss_2".into()];
        assert_eq!(unique_label("rmia_online".into(), &earlier), "rmia_online");
        assert_eq!(
            unique_label("lira_online".into(), &earlier),
            "lira_online_2"
        );
        assert_eq!(unique_label("loss".into(), &earlier), "loss_3");
    }

    #[test]
    fn written_once_never_overwritten_unless_replacing() {
        let dir = std::env::temp_dir().join(format!("lethe-scores-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let t = ScoresTarget::new(&dir, "x", 3, "abc", false);
        assert_eq!(t.relative, "x.scores/3-abc.csv");
        assert_eq!(t.write(&table()).unwrap(), "x.scores/3-abc.csv");
        assert_eq!(fs::read_to_string(t.path()).unwrap(), table().to_csv());
        // the same scores again (a re-run of a point that failed later): accepted
        t.write(&table()).unwrap();
        let mut other = table();
        other.entries[0].scores[0] = 2.0;
        assert!(matches!(
            t.write(&other),
            Err(ExperimentError::Result { .. })
        ));
        assert_eq!(fs::read_to_string(t.path()).unwrap(), table().to_csv());
        let forced = ScoresTarget {
            replace: true,
            ..t.clone()
        };
        forced.write(&other).unwrap();
        assert_eq!(fs::read_to_string(t.path()).unwrap(), other.to_csv());
        // no temporary file is left behind
        let names: Vec<_> = fs::read_dir(dir.join("x.scores"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}

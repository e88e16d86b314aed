//! Per-example audit scores (`OUT/<name>.scores/<index>-<hash>.csv`): one line per evaluated
//! row of every audit result, from which each result's metrics can be recomputed exactly; the
//! members of `forget_vs_test` are the removed rows; a resumed run keeps the file, a forced one
//! rewrites the same bytes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{TempDir, read, run_config, write_config};
use lethe_experiments::sweep::{RunOptions, run_experiment};
use serde_json::{Value, json};

fn scores_config() -> Value {
    json!({
        "schema": "lethe.experiment/1",
        "name": "scores-small",
        "seed": 3,
        "dataset": { "name": "breast_cancer", "test_fraction": 0.3 },
        "model": { "loss": "logistic", "lambda": 1e-3, "sigma": 0.5 },
        "certificate": { "epsilon": 1.0, "delta": 1e-4 },
        "removal": { "requests": 12, "budget_policy": "never" },
        "audit": {
            "attacks": [
                "loss",
                "loss",
                { "attack": "lira", "n_reference": 4, "online": false }
            ],
            "bootstrap": { "reps": 20 },
            "roc_points": 0
        },
        "grid": { "removal.strategy": ["newton", { "strategy": "sisa", "shards": 3 }] }
    })
}

/// One parsed line of a scores file.
struct Line {
    evaluation: String,
    model: String,
    attack: String,
    row: usize,
    split: String,
    member: bool,
    score: f64,
}

fn parse(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("evaluation,model,attack,row,split,member,score")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 7, "{l}");
            Line {
                evaluation: f[0].into(),
                model: f[1].into(),
                attack: f[2].into(),
                row: f[3].parse().unwrap(),
                split: f[4].into(),
                member: match f[5] {
                    "1" => true,
                    "0" => false,
                    other => panic!("member {other}"),
                },
                score: f[6].parse().unwrap(),
            }
        })
        .collect()
}

/// The AUC with ties counted one half: P(member score > non-member score) + ½ P(=).
fn auc(members: &[f64], nonmembers: &[f64]) -> f64 {
    let mut wins = 0.0;
    for &m in members {
        for &n in nonmembers {
            wins += if m > n {
                1.0
            } else if m == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (members.len() * nonmembers.len()) as f64
}

#[test]
fn scores_files_reproduce_every_result_and_survive_resume_and_force() {
    let dir = TempDir::new("audit-scores");
    let result = run_config(&dir, &scores_config(), "scores.json");
    let out = dir.join("results");
    let doc = read(&result);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let mut files = Vec::new();
    for run in runs {
        let audit = &run["audit"];
        let rel = audit["scores"].as_str().expect("audit.scores is a path");
        assert!(
            rel.starts_with("scores-small.scores/"),
            "relative to the output directory: {rel}"
        );
        let path = out.join(rel);
        let lines = parse(&path);
        let results = audit["results"].as_array().unwrap();
        let k = audit["n_members"].as_u64().unwrap() as usize;
        assert_eq!(lines.len(), results.len() * 2 * k);
        // Repeated attacks get distinct labels, in the order of `audit.attacks`.
        let labels: Vec<&str> = results
            .iter()
            .filter(|e| e["members"] == "forget_vs_test" && e["model"] == "unlearned")
            .map(|e| e["attack_label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["loss", "loss_2", "lira_offline"]);
        let removed: BTreeSet<usize> = run["removals"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["indices"].as_array().unwrap().clone())
            .map(|i| i.as_u64().unwrap() as usize)
            .collect();
        for (entry, block) in results.iter().zip(lines.chunks(2 * k)) {
            let (members, nonmembers) = block.split_at(k);
            for l in block {
                assert_eq!(l.evaluation, entry["members"].as_str().unwrap());
                assert_eq!(l.model, entry["model"].as_str().unwrap());
                assert_eq!(l.attack, entry["attack_label"].as_str().unwrap());
                assert_eq!(l.split, if l.member { "train" } else { "test" });
            }
            assert!(members.iter().all(|l| l.member));
            assert!(nonmembers.iter().all(|l| !l.member));
            if entry["members"] == "forget_vs_test" {
                for l in members {
                    assert!(removed.contains(&l.row), "member row {} not removed", l.row);
                }
            }
            let m: Vec<f64> = members.iter().map(|l| l.score).collect();
            let n: Vec<f64> = nonmembers.iter().map(|l| l.score).collect();
            let recomputed = auc(&m, &n);
            let reported = entry["metrics"]["auc"].as_f64().unwrap();
            assert!(
                (recomputed - reported).abs() <= 1e-12,
                "{}/{}/{}: AUC {recomputed} from the file, {reported} in the result",
                l0(block).evaluation,
                l0(block).model,
                l0(block).attack
            );
        }
        files.push((path.clone(), std::fs::read(&path).unwrap()));
    }

    // A resumed run (nothing to do) keeps the files; a forced run rewrites the same bytes.
    let cfg = write_config(dir.path(), "scores.json", &scores_config());
    run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap();
    for (path, bytes) in &files {
        assert_eq!(&std::fs::read(path).unwrap(), bytes);
    }
    run_experiment(
        &cfg,
        &RunOptions {
            quiet: true,
            force: true,
            ..RunOptions::new(&out)
        },
    )
    .unwrap();
    for (path, bytes) in &files {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    // No temporary files are left behind.
    let dir_entries: Vec<String> = std::fs::read_dir(out.join("scores-small.scores"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dir_entries.len(), 2, "{dir_entries:?}");
    assert!(dir_entries.iter().all(|n| n.ends_with(".csv")));
}

fn l0(block: &[Line]) -> &Line {
    &block[0]
}

//! The report's check that its results were computed from the same data: a data file recorded
//! under the same name (relative to the data directory, `provenance.data_files`) with different
//! SHA-256 digests in two runs means the numbers being compared came from different bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{ResultDoc, code, esc};

/// One digest of a file: its size and the results whose runs read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variant {
    /// Size in bytes as recorded.
    pub bytes: Option<u64>,
    /// Names of the results (in the order given, without repeats) that read these bytes.
    pub results: Vec<String>,
}

/// A file name read with more than one digest: name → (SHA-256 → variant).
pub type Conflicts = BTreeMap<String, BTreeMap<String, Variant>>;

/// Every recorded data file name that appears with two or more different SHA-256 digests
/// across the runs of `docs` (results without `provenance.data_files` are not compared).
pub fn conflicts<'a>(docs: impl IntoIterator<Item = &'a ResultDoc>) -> Conflicts {
    let mut seen: Conflicts = BTreeMap::new();
    for doc in docs {
        for run in doc.runs() {
            let files = run["provenance"]["data_files"].as_array();
            for f in files.into_iter().flatten() {
                let (Some(path), Some(sha)) = (f["path"].as_str(), f["sha256"].as_str()) else {
                    continue;
                };
                let v = seen
                    .entry(path.to_string())
                    .or_default()
                    .entry(sha.to_string())
                    .or_default();
                v.bytes = v.bytes.or(f["bytes"].as_u64());
                if !v.results.iter().any(|r| r == doc.name()) {
                    v.results.push(doc.name().to_string());
                }
            }
        }
    }
    seen.retain(|_, digests| digests.len() > 1);
    seen
}

/// The report's warning for [`conflicts`] (empty when every file agrees).
pub fn warning<'a>(docs: impl IntoIterator<Item = &'a ResultDoc>) -> String {
    let found = conflicts(docs);
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "> **Warning: these results were computed from different data.** The same data file \
         has different contents (SHA-256) in different runs, so their numbers are not \
         comparable:\n",
    );
    for (path, digests) in &found {
        let variants: Vec<String> = digests
            .iter()
            .map(|(sha, v)| {
                let size = v.bytes.map_or(String::new(), |b| format!(" ({b} bytes)"));
                let names: Vec<String> = v.results.iter().map(|r| esc(r)).collect();
                let prefix: String = sha.chars().take(16).collect();
                format!("SHA-256 {}…{size} in {}", code(&prefix), names.join(", "))
            })
            .collect();
        let _ = writeln!(out, "> - {}: {}", code(path), variants.join("; "));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn doc(name: &str, sha: &str) -> ResultDoc {
        ResultDoc {
            path: PathBuf::from(format!("{name}.json")),
            doc: json!({"name": name, "runs": [{"provenance": {"data_files": [
                {"path": "mnist/train-images-idx3-ubyte.gz", "base": "data_dir",
                 "bytes": 10, "sha256": sha},
                {"path": "mnist/t10k-images-idx3-ubyte.gz", "base": "data_dir",
                 "bytes": 5, "sha256": "same"}]}}]}),
        }
    }

    #[test]
    fn differing_digests_of_one_name_are_reported() {
        let docs = [doc("a", "1111"), doc("b", "1111"), doc("c", "2222")];
        let found = conflicts(&docs);
        assert_eq!(found.len(), 1);
        let v = &found["mnist/train-images-idx3-ubyte.gz"];
        assert_eq!(v["1111"].results, vec!["a", "b"]);
        assert_eq!(v["2222"].results, vec!["c"]);
        let w = warning(&docs);
        assert!(w.contains("different data") && w.contains("`2222`"), "{w}");
        assert!(warning(&docs[..2]).is_empty());
    }
}

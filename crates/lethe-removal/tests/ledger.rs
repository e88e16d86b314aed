//! The ledger replays bit for bit and detects every change: edited fields (with or without a
//! rewritten hash chain), edited header parameters, removed, reordered and cut lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lethe_data::Dataset;
use lethe_models::LinearModelParams;
use lethe_removal::ledger::{self, GENESIS_SHA256, line_sha256};
use lethe_removal::{
    CertifiedModel, CertifiedParams, Guarantee, Ledger, NoiseKey, NoiseSecrecy, RemovalError,
    RemovalStrategy, VerifyOptions, verify, verify_with,
};
use nalgebra::DVector;
use serde_json::{Value, json};

fn data() -> Arc<Dataset> {
    let (d, _) = lethe_data::synthetic::logistic_planted(80, 5, 11, &Default::default()).unwrap();
    Arc::new(d)
}

fn params() -> CertifiedParams {
    let mut params = CertifiedParams::new(LinearModelParams::logistic(0.05, 1.0));
    params.epsilon = 0.2; // small budget: some requests retrain
    params
}

struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("lethe-ledger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves 12 requests (some batches, some retrains), appending each, and closes the ledger.
fn write_ledger(path: &Path, mut model: CertifiedModel) -> (CertifiedModel, usize) {
    let mut ledger = Ledger::create(path, &model).unwrap();
    let mut retrains = 0;
    for i in 0..12 {
        let req: Vec<usize> = if i % 3 == 0 {
            vec![2 * i, 2 * i + 1]
        } else {
            vec![2 * i]
        };
        let c = model.remove(&req).unwrap();
        retrains += usize::from(c.retrained);
        ledger.append(&c).unwrap();
    }
    let closed = ledger.close(&model).unwrap();
    assert_eq!(closed.lines, 14);
    assert_eq!(closed.requests, 12);
    (model, retrains)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// Recomputes every `prev_sha256` from line `from` (0-based) on, as a forger would.
fn rechain(lines: &mut [String], from: usize) {
    for k in from.max(1)..lines.len() {
        let mut v: Value = serde_json::from_str(&lines[k]).unwrap();
        v["prev_sha256"] = json!(line_sha256(lines[k - 1].as_bytes()));
        lines[k] = serde_json::to_string(&v).unwrap();
    }
}

/// A copy of the ledger with `field` of line `line` (1-based) set to `value`.
fn edited(src: &Path, name: &str, line: usize, field: &str, value: Value, chain: bool) -> Temp {
    let mut ls = lines(src);
    let mut v: Value = serde_json::from_str(&ls[line - 1]).unwrap();
    let mut target = &mut v;
    let parts: Vec<&str> = field.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        target = &mut target[*p];
    }
    assert!(
        !target[parts[parts.len() - 1]].is_null(),
        "{field} exists on line {line}"
    );
    target[parts[parts.len() - 1]] = value;
    ls[line - 1] = serde_json::to_string(&v).unwrap();
    if chain {
        rechain(&mut ls, line);
    }
    let t = Temp::new(name);
    write_lines(&t.0, &ls);
    t
}

fn mismatch(err: RemovalError) -> (usize, String) {
    match err {
        RemovalError::LedgerMismatch { line, field, .. } => (line, field),
        other => panic!("expected a mismatch, got {other}"),
    }
}

#[test]
fn an_untouched_ledger_verifies() {
    let data = data();
    let path = Temp::new("untouched.jsonl");
    let model = CertifiedModel::train(params(), data.clone(), 42).unwrap();
    let (model, retrains) = write_ledger(&path.0, model);
    assert!(retrains > 0, "the test should exercise retraining");
    let v = verify(&path.0, data.clone()).unwrap();
    assert_eq!(v.requests, 12);
    assert_eq!(v.retrains, retrains);
    assert_eq!(v.lines, 14);
    assert_eq!(v.final_weights_sha256, model.weights_sha256());
    assert_eq!(v.noise_secrecy, NoiseSecrecy::DerivableFromSeed);
    assert_eq!(v.head_sha256, line_sha256(lines(&path.0)[13].as_bytes()));

    // The chain: the header starts from the genesis hash, every line names its predecessor.
    let ls = lines(&path.0);
    let first: Value = serde_json::from_str(&ls[0]).unwrap();
    assert_eq!(first["prev_sha256"], json!(GENESIS_SHA256));
    assert_eq!(first["schema"], json!("lethe.ledger/2"));
    let last: Value = serde_json::from_str(&ls[13]).unwrap();
    assert_eq!(last["kind"], json!("close"));
    assert_eq!(last["requests"], json!(12));
    assert_eq!(last["final_weights_sha256"], json!(model.weights_sha256()));

    let contents = ledger::read(&path.0).unwrap();
    assert_eq!(contents.header.seed, 42);
    assert_eq!(contents.certificates.len(), 12);
    assert_eq!(contents.close.unwrap().requests, 12);

    // A ledger is never overwritten.
    assert!(matches!(
        Ledger::create(
            &path.0,
            &CertifiedModel::train(params(), data.clone(), 42).unwrap()
        ),
        Err(RemovalError::Ledger { .. })
    ));

    // Different data: refused, naming the fingerprint.
    let other = Arc::new(data.without(&[0]).unwrap());
    let (line, field) = mismatch(verify(&path.0, other).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "data_fingerprint"));
}

#[test]
fn every_edited_field_is_named() {
    let data = data();
    let path = Temp::new("fields.jsonl");
    write_ledger(
        &path.0,
        CertifiedModel::train(params(), data.clone(), 42).unwrap(),
    );
    let ls = lines(&path.0);
    let line4: Value = serde_json::from_str(&ls[3]).unwrap();
    let cases = [
        (
            "epsilon_spent",
            json!(line4["epsilon_spent"].as_f64().unwrap() * 0.5),
        ),
        ("certified", json!(!line4["certified"].as_bool().unwrap())),
        ("budget", json!(line4["budget"].as_f64().unwrap() * 2.0)),
        ("epsilon", json!(1.0)),
        ("delta", json!(1e-5)),
        (
            "certificate_bound",
            json!(line4["certificate_bound"].as_f64().unwrap() * 0.5),
        ),
        (
            "beta",
            json!(f64::from_bits(
                line4["beta"].as_f64().unwrap().to_bits() + 1
            )),
        ),
        ("classes.0.v_norm", json!(0.0)),
        ("weights_sha256", json!("0".repeat(64))),
    ];
    for (field, value) in cases {
        for chain in [false, true] {
            let name = format!("fields-{}-{chain}.jsonl", field.replace('.', "-"));
            let t = if let Some(rest) = field.strip_prefix("classes.0.") {
                // Nested: edit the first class report.
                let mut ls = lines(&path.0);
                let mut v: Value = serde_json::from_str(&ls[3]).unwrap();
                v["classes"][0][rest] = value.clone();
                ls[3] = serde_json::to_string(&v).unwrap();
                if chain {
                    rechain(&mut ls, 3);
                }
                let t = Temp::new(&name);
                write_lines(&t.0, &ls);
                t
            } else {
                edited(&path.0, &name, 4, field, value.clone(), chain)
            };
            let (line, got) = mismatch(verify(&t.0, data.clone()).unwrap_err());
            let want = if field.starts_with("classes.0.") {
                field.replace("classes.0.", "classes[0].")
            } else {
                field.to_string()
            };
            assert_eq!(
                (line, got.as_str()),
                (4, want.as_str()),
                "{field}, chain {chain}"
            );
        }
    }
    // The message names the file, the line and the field.
    let t = edited(&path.0, "msg.jsonl", 4, "epsilon_spent", json!(0.0), false);
    let msg = verify(&t.0, data.clone()).unwrap_err().to_string();
    assert!(
        msg.contains("line 4") && msg.contains("epsilon_spent"),
        "{msg}"
    );
}

#[test]
fn edited_header_parameters_are_detected() {
    let data = data();
    let path = Temp::new("header.jsonl");
    write_ledger(
        &path.0,
        CertifiedModel::train(params(), data.clone(), 42).unwrap(),
    );
    // The header recomputed from the edited ε has another budget.
    let t = edited(&path.0, "h1.jsonl", 1, "params.epsilon", json!(5.0), false);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "budget"));
    // A verifier who knows the run's parameters gets the header field itself.
    let known = VerifyOptions {
        params: Some(params()),
        seed: Some(42),
        ..VerifyOptions::default()
    };
    let (line, field) = mismatch(verify_with(&t.0, data.clone(), &known).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "params.epsilon"));
    // With the chain rewritten, the replay of the edited parameters contradicts the header.
    let t = edited(&path.0, "h2.jsonl", 1, "params.epsilon", json!(5.0), true);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "budget"));
    // A parameter no header field depends on: the chain names the next line, and with the
    // chain rewritten the replayed certificate differs.
    let t = edited(
        &path.0,
        "h5.jsonl",
        1,
        "params.exact_residual",
        json!(false),
        false,
    );
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (2, "prev_sha256"));
    let t = edited(
        &path.0,
        "h6.jsonl",
        1,
        "params.exact_residual",
        json!(false),
        true,
    );
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (2, "classes[0].exact_residual"));
    let (line, field) = mismatch(verify_with(&t.0, data.clone(), &known).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "params.exact_residual"));
    for (field, value, expect) in [
        ("seed", json!(43), "noise_commitment"),
        ("params.model.lambda", json!(0.06), "initial_weights_sha256"),
        ("budget", json!(1.0), "budget"),
        ("lethe_version", json!("0.0.9"), "lethe_version"),
        (
            "noise_commitment",
            json!("ab".repeat(32)),
            "noise_commitment",
        ),
        ("certified", json!(false), "certified"),
    ] {
        let t = edited(&path.0, "h3.jsonl", 1, field, value, true);
        let (line, got) = mismatch(verify(&t.0, data.clone()).unwrap_err());
        assert_eq!((line, got.as_str()), (1, expect), "{field}");
    }
    // b itself (derivable from the seed, so re-derived and compared).
    let mut ls = lines(&path.0);
    let mut v: Value = serde_json::from_str(&ls[0]).unwrap();
    v["noise"][0][1] = json!(0.5);
    ls[0] = serde_json::to_string(&v).unwrap();
    rechain(&mut ls, 1);
    let t = Temp::new("h4.jsonl");
    write_lines(&t.0, &ls);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "noise[0][1]"));
}

#[test]
fn cut_removed_and_reordered_lines_are_detected() {
    let data = data();
    let path = Temp::new("lines.jsonl");
    write_ledger(
        &path.0,
        CertifiedModel::train(params(), data.clone(), 42).unwrap(),
    );
    let ls = lines(&path.0);

    // The closing record cut off (or more).
    for keep in [13, 10, 1] {
        let t = Temp::new(&format!("cut{keep}.jsonl"));
        write_lines(&t.0, &ls[..keep]);
        match verify(&t.0, data.clone()).unwrap_err() {
            RemovalError::LedgerNotClosed { lines, .. } => assert_eq!(lines, keep),
            other => panic!("expected a cut ledger, got {other}"),
        }
    }
    // Cut in the middle of the last line.
    let t = Temp::new("cutmid.jsonl");
    let text = std::fs::read_to_string(&path.0).unwrap();
    std::fs::write(&t.0, &text[..text.len() - 20]).unwrap();
    assert!(matches!(
        verify(&t.0, data.clone()).unwrap_err(),
        RemovalError::LedgerNotClosed { lines: 13, .. }
    ));

    // A middle line deleted.
    let mut fewer = ls.clone();
    fewer.remove(5);
    let t = Temp::new("deleted.jsonl");
    write_lines(&t.0, &fewer);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (6, "prev_sha256"));

    // Two lines swapped.
    let mut swapped = ls.clone();
    swapped.swap(6, 7);
    let t = Temp::new("swapped.jsonl");
    write_lines(&t.0, &swapped);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (7, "prev_sha256"));

    // A deleted line with the chain rewritten: the replay serves other rows.
    let mut forged = ls.clone();
    forged.remove(5);
    rechain(&mut forged, 5);
    let t = Temp::new("forged.jsonl");
    write_lines(&t.0, &forged);
    let err = verify(&t.0, data.clone()).unwrap_err();
    assert!(
        matches!(&err, RemovalError::LedgerMismatch { line: 6, .. }),
        "{err}"
    );

    // Anything after the closing record.
    let mut more = ls.clone();
    more.push(ls[3].clone());
    let t = Temp::new("after.jsonl");
    write_lines(&t.0, &more);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (15, "kind"));

    // Timings cannot be replayed: covered by the chain only.
    let t = edited(&path.0, "timing.jsonl", 4, "seconds", json!(123.0), false);
    let (line, field) = mismatch(verify(&t.0, data.clone()).unwrap_err());
    assert_eq!((line, field.as_str()), (5, "prev_sha256"));
    let t = edited(&path.0, "timing2.jsonl", 4, "seconds", json!(123.0), true);
    assert!(verify(&t.0, data.clone()).is_ok());

    // Not a ledger at all.
    let t = Temp::new("garbage.jsonl");
    std::fs::write(&t.0, "hello\n").unwrap();
    assert!(matches!(
        verify(&t.0, data.clone()).unwrap_err(),
        RemovalError::Ledger { .. }
    ));
}

#[test]
fn appending_out_of_order_or_closing_with_another_model_is_refused() {
    let data = data();
    let path = Temp::new("order.jsonl");
    let mut model = CertifiedModel::train(params(), data.clone(), 42).unwrap();
    let mut ledger = Ledger::create(&path.0, &model).unwrap();
    let c1 = model.remove(&[1]).unwrap();
    let c2 = model.remove(&[2]).unwrap();
    assert!(ledger.append(&c2).is_err());
    ledger.append(&c1).unwrap();
    // The model served two requests, the ledger holds one.
    assert!(ledger.close(&model).is_err());
    assert!(matches!(
        verify(&path.0, data).unwrap_err(),
        RemovalError::LedgerNotClosed { lines: 2, .. }
    ));
}

#[test]
fn a_key_file_ledger_commits_to_b_and_needs_the_key() {
    let data = data();
    let key = NoiseKey::generate().unwrap();
    let model = CertifiedModel::train_with_key(params(), data.clone(), 42, key.clone()).unwrap();
    assert_eq!(model.noise_secrecy(), NoiseSecrecy::KeyFile);
    let b: Vec<f64> = model.class_models()[0].noise.iter().copied().collect();
    // b differs from the seed's.
    let seeded = CertifiedModel::train(params(), data.clone(), 42).unwrap();
    assert_ne!(seeded.class_models()[0].noise.as_slice(), b.as_slice());
    assert!(matches!(model.guarantee(), Guarantee::Certified { .. }));

    let path = Temp::new("key.jsonl");
    write_ledger(&path.0, model);
    let text = std::fs::read_to_string(&path.0).unwrap();
    assert!(!text.contains(&key.to_hex()));
    for x in &b {
        assert!(
            !text.contains(&serde_json::to_string(x).unwrap()),
            "b leaked: {x}"
        );
    }
    let header = ledger::read_header(&path.0).unwrap();
    assert_eq!(header.noise_secrecy, NoiseSecrecy::KeyFile);
    assert!(header.noise.is_none());

    // Without the key: a clear error; with another key: the commitment differs; with it: ok.
    assert!(matches!(
        verify(&path.0, data.clone()).unwrap_err(),
        RemovalError::LedgerNeedsKey { .. }
    ));
    let wrong = VerifyOptions {
        noise_key: Some(NoiseKey::generate().unwrap()),
        ..VerifyOptions::default()
    };
    let (line, field) = mismatch(verify_with(&path.0, data.clone(), &wrong).unwrap_err());
    assert_eq!((line, field.as_str()), (1, "noise_commitment"));
    let right = VerifyOptions {
        noise_key: Some(key),
        ..VerifyOptions::default()
    };
    let v = verify_with(&path.0, data, &right).unwrap();
    assert_eq!(v.requests, 12);
    assert_eq!(v.noise_secrecy, NoiseSecrecy::KeyFile);
}

#[test]
fn an_explicit_noise_ledger_is_a_replay_and_verifies() {
    let data = data();
    let b = DVector::from_vec(vec![0.1, -0.2, 0.3, 0.0, 0.5]);
    let model = CertifiedModel::train_with_noise(params(), data.clone(), 42, vec![b]).unwrap();
    assert_eq!(model.guarantee(), Guarantee::Replay);
    assert!(!model.is_certified());
    let path = Temp::new("explicit.jsonl");
    write_ledger(&path.0, model);
    let v = verify(&path.0, data).unwrap();
    assert_eq!(v.noise_secrecy, NoiseSecrecy::ExplicitReplay);
    for c in ledger::read(&path.0).unwrap().certificates {
        assert!(!c.certified);
    }
}

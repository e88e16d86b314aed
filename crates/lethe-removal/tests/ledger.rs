//! The ledger replays bit for bit, and detects tampering.

use std::sync::Arc;

use lethe_models::LinearModelParams;
use lethe_removal::{CertifiedModel, CertifiedParams, Ledger, RemovalError, ledger, verify};

fn data() -> Arc<lethe_data::Dataset> {
    let (d, _) = lethe_data::synthetic::logistic_planted(80, 5, 11, &Default::default()).unwrap();
    Arc::new(d)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lethe-ledger-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    dir
}

#[test]
fn ledger_replays_and_detects_tampering() {
    let data = data();
    let mut params = CertifiedParams::new(LinearModelParams::logistic(0.05, 1.0));
    params.epsilon = 0.2; // small budget: some requests retrain
    let mut model = CertifiedModel::train(params, data.clone(), 42).unwrap();
    let path = temp_path("replay.jsonl");
    let mut ledger = Ledger::create(&path, &model).unwrap();
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
    assert!(retrains > 0, "the test should exercise retraining");
    let v = verify(&path, data.clone()).unwrap();
    assert_eq!(v.requests, 12);
    assert_eq!(v.retrains, retrains);
    assert_eq!(v.final_weights_sha256, model.weights_sha256());

    // A ledger is never overwritten.
    assert!(matches!(
        Ledger::create(
            &path,
            &CertifiedModel::train(params, data.clone(), 42).unwrap()
        ),
        Err(RemovalError::Ledger { .. })
    ));

    // Different data: refused.
    let other = Arc::new(data.without(&[0]).unwrap());
    assert!(matches!(
        verify(&path, other),
        Err(RemovalError::Ledger { .. })
    ));

    // Tampered bound: refused, naming the request.
    let text = std::fs::read_to_string(&path).unwrap();
    let (header, mut certs) = ledger::read(&path).unwrap();
    assert_eq!(header.seed, 42);
    certs[3].certificate_bound *= 0.5;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    v["certificate_bound"] = serde_json::json!(certs[3].certificate_bound);
    lines[4] = v.to_string();
    let tampered = temp_path("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n")).unwrap();
    let err = verify(&tampered, data).unwrap_err().to_string();
    assert!(err.contains("request 4"), "{err}");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&tampered);
}

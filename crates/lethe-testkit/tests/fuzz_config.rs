//! Hardened inputs: the experiment config parser (`lethe_experiments::config::load`, the
//! schema validator, grid expansion and the typed deserialisation) fed arbitrary bytes,
//! arbitrary JSON, mutations of the shipped configs and deeply nested nonsense must return a
//! typed `ExperimentError` or a valid config — never panic, overflow the stack or hang.
//!
//! Case counts (CI): 2,000 arbitrary byte strings, 2,000 arbitrary JSON documents, 3,000
//! mutated shipped configs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lethe_experiments::ExperimentError;
use lethe_experiments::config::{ExperimentConfig, cross_check, expand, load, validate_value};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "lethe-testkit-config-{tag}-{}-{k}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `bytes` as a config file; checks the outcome is typed and, when valid, usable.
fn load_bytes(dir: &TempDir, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.write("config.json", bytes);
    match load(&path) {
        Ok(loaded) => {
            prop_assert!(!loaded.points.is_empty());
            for point in loaded.points.iter().take(64) {
                prop_assert!(loaded.point_config(point).is_ok());
            }
            prop_assert!(loaded.resolved_value().is_ok());
        }
        Err(e) => {
            // Invalid UTF-8 surfaces as an I/O error of kind InvalidData (from
            // `read_to_string`): typed and naming the file, if not a format error.
            let invalid_utf8 = matches!(&e, ExperimentError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::InvalidData);
            prop_assert!(
                invalid_utf8
                    || matches!(e, ExperimentError::Config(_) | ExperimentError::Json { .. }),
                "unexpected error kind: {e:?}"
            );
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

/// The value-level entry points on their own (no file).
fn value_paths(v: &Value) {
    let _ = validate_value(v);
    let points = expand(v);
    for p in points.iter().take(16) {
        let pv = lethe_experiments::config::point_value(v, p);
        let _ = cross_check(&pv);
        let _ = ExperimentConfig::from_value(&pv).map(|c| c.resolve());
    }
}

fn shipped_configs() -> &'static [Value] {
    static CONFIGS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    CONFIGS.get_or_init(read_shipped_configs)
}

fn read_shipped_configs() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut out: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap())
        .collect();
    out.sort_by_key(|v| v.to_string());
    assert!(!out.is_empty(), "no configs in {}", dir.display());
    out
}

/// Arbitrary JSON values, with the config's own vocabulary in the mix.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("schema"),
        Just("name"),
        Just("seed"),
        Just("dataset"),
        Just("model"),
        Just("certificate"),
        Just("removal"),
        Just("audit"),
        Just("compare"),
        Just("grid"),
        Just("variants"),
        Just("lambda"),
        Just("sigma"),
        Just("loss"),
        Just("requests"),
        Just("model.lambda"),
        Just("removal.requests"),
        Just("dataset.name"),
        Just("strategy"),
        Just("lethe.experiment/1"),
        Just("digits"),
        Just("logistic"),
        Just("newton"),
        Just(""),
    ]
    .prop_map(String::from);
    let key = prop_oneof![word.clone(), "[a-z._]{0,12}"];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just(1e308),
            Just(-1e-308),
            Just(0.0),
            Just(-0.0),
            Just(1e-12)
        ]
        .prop_map(Value::from),
        word.prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A grid or variants block of bounded size (≤ 3 keys × ≤ 3 values).
fn small_grid() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("model.lambda"),
        Just("model.sigma"),
        Just("seed"),
        Just("removal.requests"),
        Just("certificate.epsilon"),
        Just("dataset.name"),
        Just("nonsense.key"),
        Just(""),
    ]
    .prop_map(String::from);
    proptest::collection::vec((key, proptest::collection::vec(json_value(), 0..4)), 0..4)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()))
}

/// One edit of a config value: set, delete or add at a (possibly nested) path.
#[derive(Clone, Debug)]
enum Edit {
    Set(Vec<prop::sample::Index>, Value),
    Delete(Vec<prop::sample::Index>),
    AddUnknown(Vec<prop::sample::Index>, String, Value),
    Grid(Value),
    Variants(Vec<Value>),
}

fn edits() -> impl Strategy<Value = Edit> {
    let path = proptest::collection::vec(any::<prop::sample::Index>(), 1..4);
    prop_oneof![
        4 => (path.clone(), json_value()).prop_map(|(p, v)| Edit::Set(p, v)),
        2 => path.clone().prop_map(Edit::Delete),
        1 => (path, "[a-z_]{1,8}", json_value()).prop_map(|(p, k, v)| Edit::AddUnknown(p, k, v)),
        1 => small_grid().prop_map(Edit::Grid),
        1 => proptest::collection::vec(json_value(), 0..3).prop_map(Edit::Variants),
    ]
}

/// Walks `path` through objects and arrays, stopping early at leaves.
fn target<'a>(mut v: &'a mut Value, path: &[prop::sample::Index]) -> &'a mut Value {
    for (depth, ix) in path.iter().enumerate() {
        let is_last = depth + 1 == path.len();
        let len = match &*v {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 || is_last {
            break;
        }
        let k = ix.index(len);
        v = match v {
            Value::Object(m) => m.values_mut().nth(k).unwrap(),
            Value::Array(a) => &mut a[k],
            _ => unreachable!(),
        };
    }
    v
}

fn apply(v: &mut Value, edit: &Edit) {
    match edit {
        Edit::Set(path, new) => {
            let t = target(v, path);
            if let Value::Object(m) = t {
                let k = path.last().map_or(0, |i| i.index(m.len().max(1)));
                if let Some(slot) = m.values_mut().nth(k) {
                    *slot = new.clone();
                }
            } else {
                *t = new.clone();
            }
        }
        Edit::Delete(path) => {
            if let Value::Object(m) = target(v, path) {
                let k = path.last().map_or(0, |i| i.index(m.len().max(1)));
                if let Some(key) = m.keys().nth(k).cloned() {
                    m.remove(&key);
                }
            }
        }
        Edit::AddUnknown(path, key, new) => {
            if let Value::Object(m) = target(v, path) {
                m.insert(key.clone(), new.clone());
            }
        }
        Edit::Grid(g) => {
            if let Value::Object(m) = v {
                m.insert("grid".into(), g.clone());
            }
        }
        Edit::Variants(vs) => {
            if let Value::Object(m) = v {
                m.insert("variants".into(), Value::Array(vs.clone()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 1000, ..ProptestConfig::default() })]

    /// Arbitrary bytes as a config file.
    #[test]
    fn arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = TempDir::new("bytes");
        load_bytes(&dir, &b)?;
    }

    /// Arbitrary JSON documents (objects use the config's vocabulary), through the file
    /// loader and the value-level functions.
    #[test]
    fn arbitrary_json(v in json_value(), grid in small_grid(), with_grid in any::<bool>()) {
        let mut v = v;
        if with_grid && let Value::Object(m) = &mut v {
            m.insert("grid".into(), grid);
        }
        value_paths(&v);
        let dir = TempDir::new("json");
        load_bytes(&dir, v.to_string().as_bytes())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, max_shrink_iters: 1000, ..ProptestConfig::default() })]

    /// The shipped configs with 1–4 random edits (wrong types, deleted and unknown fields,
    /// out-of-range values, small grids and variants).
    #[test]
    fn mutated_shipped_configs(which in any::<prop::sample::Index>(), edits in proptest::collection::vec(edits(), 1..5)) {
        let configs = shipped_configs();
        let mut v = configs[which.index(configs.len())].clone();
        for e in &edits {
            apply(&mut v, e);
        }
        value_paths(&v);
        let dir = TempDir::new("mutated");
        load_bytes(&dir, serde_json::to_string_pretty(&v).unwrap().as_bytes())?;
    }
}

#[test]
fn shipped_configs_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

/// Deeply nested nonsense: serde_json's recursion limit turns it into an error, not a stack
/// overflow — at the top level and inside the grid and variants.
#[test]
fn deeply_nested_nonsense() {
    let dir = TempDir::new("nested");
    let depth = 100_000;
    let arrays = "[".repeat(depth) + &"]".repeat(depth);
    let objects = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
    let in_grid =
        format!("{{\"schema\":\"lethe.experiment/1\",\"grid\":{{\"model.lambda\":{arrays}}}}}");
    for text in [arrays.clone(), objects, in_grid] {
        let e = load(&dir.write("deep.json", text.as_bytes())).unwrap_err();
        assert!(
            matches!(e, ExperimentError::Config(_) | ExperimentError::Json { .. }),
            "{e:?}"
        );
    }
    // Nested just below the limit: parsed, then refused by the schema.
    let ok_depth = 100;
    let shallow = "[".repeat(ok_depth) + &"]".repeat(ok_depth);
    let text = json!({"schema": "lethe.experiment/1", "name": "x", "seed": 0, "dataset": {"name": "digits"}, "model": serde_json::from_str::<Value>(&shallow).unwrap()});
    assert!(load(&dir.write("shallow.json", text.to_string().as_bytes())).is_err());
}

/// Regression test: `config::load` used to expand the grid (the full Cartesian product)
/// before validating it, with no cap: a 14-key grid of 30 values each (≈ 1 KB of JSON) asks
/// for 30¹⁴ ≈ 4.8·10²⁰ points and hung or overflowed. The point count is now checked with
/// `checked_mul` against `MAX_POINTS` first. The test enforces its own 5 s deadline.
#[test]
fn grid_explosion_is_refused_quickly() {
    let mut grid = Map::new();
    for k in 0..14 {
        grid.insert(
            format!("key{k}.x"),
            Value::Array((0..30).map(Value::from).collect()),
        );
    }
    let text = json!({"schema": "lethe.experiment/1", "name": "bomb", "grid": grid}).to_string();
    assert!(text.len() < 2048, "{}", text.len());
    let dir = TempDir::new("grid");
    let path = dir.write("bomb.json", text.as_bytes());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| load(&path).map(|l| l.points.len()));
        let _ = tx.send(
            r.map_err(|_| "panicked")
                .map(|r| r.map_err(|e| e.to_string())),
        );
    });
    match rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(Ok(Err(_))) => {} // refused with a typed error: fixed
        Ok(Ok(Ok(points))) => panic!("accepted a grid of {points} points"),
        Ok(Err(p)) => panic!("config::load {p}"),
        Err(_) => panic!("config::load did not return within 5 s (expanding the grid)"),
    }
}

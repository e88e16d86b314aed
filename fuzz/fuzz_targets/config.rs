//! The experiment config pipeline of `lethe_experiments::config::load`, on the parsed value:
//! schema validation, grid expansion, cross-field checks and typed deserialisation.
//! Build with `--features config`.
#![no_main]

use lethe_experiments::config::{
    ExperimentConfig, cross_check, expand, point_value, validate_value,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = validate_value(&value);
    for point in expand(&value).iter().take(64) {
        let v = point_value(&value, point);
        let _ = cross_check(&v);
        let _ = ExperimentConfig::from_value(&v).map(|c| c.resolve());
    }
});

//! `lethe report`'s reader and renderer on arbitrary bytes: `report::parse_result` (strict
//! JSON, schema and shape checks) and, for a text it accepts, `report::render` with its plots
//! written into a scratch directory. A panic, a hang (libFuzzer's `-timeout`) or an allocation
//! above `-malloc_limit_mb` is a finding. Build with `--features config`.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lethe_experiments::report::{parse_result, render};
use libfuzzer_sys::fuzz_target;

/// A scratch directory for the plots, one per fuzzing process.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lethe-fuzz-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse_result(Path::new("fuzz.json"), text) else {
        return;
    };
    let dir = scratch();
    let _ = render(&[doc], &dir.join("plots"), &dir.join("REPORT.md"));
});

//! Validating a large sweep does not copy the whole config once per point (issue #15): a
//! 25 KB config of 100,000 grid points with a 20 KB description took 4.9 GB to validate when
//! every point held its own copy of the description and of the grid. Peak heap use is
//! measured by a counting allocator (this test binary's only test, so nothing else allocates
//! meanwhile); what is asserted is bytes, not time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn validating_a_large_sweep_does_not_copy_the_config_per_point() {
    // 100 λ × 100 σ × 10 seeds-worth of requests = 100,000 points (the most a config may give).
    let lambdas: Vec<f64> = (1..=100).map(|i| f64::from(i) * 1e-3).collect();
    let sigmas: Vec<f64> = (1..=100).map(f64::from).collect();
    let requests: Vec<u64> = (1..=10).collect();
    let cfg = json!({
        "schema": "lethe.experiment/1",
        "name": "large",
        "description": "d".repeat(20_000),
        "seed": 1,
        "dataset": { "name": "synthetic", "n": 120, "d": 5 },
        "model": { "loss": "logistic", "lambda": 0.05, "sigma": 1.0 },
        "removal": { "requests": 4 },
        "grid": { "model.lambda": lambdas, "model.sigma": sigmas, "removal.requests": requests }
    });
    let text = serde_json::to_string(&cfg).unwrap();
    assert!(text.len() < 30_000, "a config of {} bytes", text.len());
    let dir = std::env::temp_dir().join(format!("lethe-config-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("large.json");
    std::fs::write(&path, &text).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    // What `lethe validate` runs: the config's own checks, then every point's data files.
    let loaded = lethe_experiments::sweep::validate(&path, None).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(loaded.points.len(), 100_000);
    assert_eq!(
        loaded.base.description.as_deref().map(str::len),
        Some(20_000)
    );
    // The points themselves (their overrides and sources) are a few hundred bytes each; one
    // copy of the description per point alone would be 2 GB.
    assert!(
        peak < 400 * 1024 * 1024,
        "validating took {} MiB of heap at its peak",
        peak / (1024 * 1024)
    );
}

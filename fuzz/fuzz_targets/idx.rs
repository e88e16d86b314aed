//! IDX images and labels (gzip or raw): any bytes give an `IdxImages`/labels or a typed error.
#![no_main]

use lethe_data::idx::{idx_dataset, parse_idx_images, parse_idx_labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = parse_idx_images(data, "fuzz.idx3") {
        assert_eq!(
            Some(images.pixels.len()),
            images
                .n
                .checked_mul(images.rows)
                .and_then(|v| v.checked_mul(images.cols))
        );
        let labels = vec![0u8; images.n];
        let _ = idx_dataset(&images, &labels);
    }
    if let Ok(labels) = parse_idx_labels(data, "fuzz.idx1") {
        assert!(labels.len() <= data.len().saturating_mul(1100));
    }
});

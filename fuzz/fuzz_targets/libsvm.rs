//! LibSVM / SVMlight (gzip or plain), with and without a declared dimension.
#![no_main]

use lethe_data::parse_libsvm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, bytes) = data.split_first().unwrap_or((&0, data));
    let declared = (selector % 2 == 1).then_some(usize::from(*selector / 2));
    if let Ok(ds) = parse_libsvm(bytes, "fuzz.svm", declared) {
        assert!(ds.n_samples() > 0);
        if let Some(d) = declared {
            assert_eq!(ds.n_features(), d);
        }
    }
});

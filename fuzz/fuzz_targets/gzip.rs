//! The gzip-or-plain input layer every loader reads through: line reads and capped reads.
#![no_main]

use lethe_data::io::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut input) = Input::from_bytes(data, "fuzz.gz") {
        let mut line = Vec::new();
        while let Ok(k) = input.read_line(&mut line) {
            if k == 0 {
                break;
            }
            line.clear();
        }
    }
    if let Ok(mut input) = Input::from_bytes(data, "fuzz.gz")
        && let Ok(v) = input.read_to_end_capped(1 << 16)
    {
        assert!(v.len() <= 1 << 16);
    }
});

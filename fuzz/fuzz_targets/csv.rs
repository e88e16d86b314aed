//! CSV (gzip or plain), with the three kinds of label-column options.
#![no_main]

use lethe_data::{CsvOptions, LabelColumn, parse_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, bytes) = data.split_first().unwrap_or((&0, data));
    let options = match selector % 3 {
        0 => CsvOptions::default(),
        1 => CsvOptions {
            label_column: LabelColumn::Index(usize::from(*selector) / 3),
            has_header: false,
        },
        _ => CsvOptions {
            label_column: LabelColumn::Name("y".into()),
            has_header: true,
        },
    };
    if let Ok(table) = parse_csv(bytes, "fuzz.csv", &options) {
        assert!(table.dataset.n_samples() > 0);
        assert!(table.dataset.features().iter().all(|v| v.is_finite()));
    }
});

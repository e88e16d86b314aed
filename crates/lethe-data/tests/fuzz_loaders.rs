//! Hardened inputs: every loader (IDX images and labels, CSV, LibSVM, the gzip layer) fed
//! arbitrary and adversarial bytes must return a typed `DataError` or a valid dataset —
//! never panic — and must never allocate more than the input justifies.
//!
//! Allocation is measured with a counting global allocator, per thread (the test harness runs
//! tests in parallel): for each parse, the largest single allocation request and the peak of
//! live bytes while it runs. The limit for a plain input of k bytes is 1 MiB + 64·k; for a
//! gzip input it is 1 MiB + 64·(decompressed size), since gzip legitimately expands ≤ ~1032×.
//! A header that claims 10⁹ rows in a 1 KB file must be an error well within that.
//!
//! Case counts (CI, `cargo test --release`): 4,000 per arbitrary-bytes property, 2,000–3,000
//! per structured property (see each `ProptestConfig`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use lethe_data::idx::{IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parse_idx_images, parse_idx_labels};
use lethe_data::io::Input;
use lethe_data::{CsvOptions, DataError, LabelColumn, parse_csv, parse_libsvm};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// A per-thread counting allocator

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let live = LIVE.with(|l| {
                let v = l.get().saturating_add(size);
                l.set(v);
                v
            });
            PEAK.with(|p| p.set(p.get().max(live)));
            LARGEST.with(|m| m.set(m.get().max(size)));
        }
    });
}

fn on_dealloc(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LIVE.with(|l| l.set(l.get().saturating_sub(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches const-initialised thread-locals (no allocation, no unwinding).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_dealloc(layout.size());
        on_alloc(new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Memory a closure used on this thread.
#[derive(Clone, Copy, Debug)]
struct Usage {
    /// Largest single allocation request, bytes.
    largest: usize,
    /// Peak of bytes allocated and not yet freed (counted from the start of the closure).
    peak: usize,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    LARGEST.with(|m| m.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    let usage = Usage {
        largest: LARGEST.with(Cell::get),
        peak: PEAK.with(Cell::get),
    };
    (out, usage)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The decompressed size of `bytes` if it is a gzip stream (as far as it decodes), else its
/// length: what a loader can legitimately hold.
fn content_len(bytes: &[u8]) -> usize {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes.len();
    }
    let mut d = flate2::read::MultiGzDecoder::new(bytes);
    let mut n = 0usize;
    let mut buf = [0u8; 8192];
    loop {
        match d.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n.max(bytes.len())
}

fn limit(bytes: &[u8]) -> usize {
    (1 << 20) + 64 * content_len(bytes)
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(body);
    v
}

fn csv_options() -> [CsvOptions; 3] {
    [
        CsvOptions::default(),
        CsvOptions {
            label_column: LabelColumn::Index(1),
            has_header: false,
        },
        CsvOptions {
            label_column: LabelColumn::Name("y".into()),
            has_header: true,
        },
    ]
}

/// An error must say something (and formatting it must not panic).
fn check_error(e: &DataError) -> Result<(), TestCaseError> {
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

fn bounded(name: &str, bytes: &[u8], usage: Usage) -> Result<(), TestCaseError> {
    let cap = limit(bytes);
    prop_assert!(
        usage.largest <= cap && usage.peak <= cap,
        "{name}: {} input bytes (content {}) allocated {} bytes at once, peak {} (limit {cap})",
        bytes.len(),
        content_len(bytes),
        usage.largest,
        usage.peak
    );
    Ok(())
}

fn fuzz_idx(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (r, u) = measure(|| parse_idx_images(bytes, "fuzz.idx3"));
    bounded("idx images", bytes, u)?;
    match r {
        Ok(im) => prop_assert_eq!(
            Some(im.pixels.len()),
            im.n.checked_mul(im.rows)
                .and_then(|v| v.checked_mul(im.cols))
        ),
        Err(e) => check_error(&e)?,
    }
    let (r, u) = measure(|| parse_idx_labels(bytes, "fuzz.idx1"));
    bounded("idx labels", bytes, u)?;
    if let Err(e) = r {
        check_error(&e)?;
    }
    Ok(())
}

fn fuzz_csv(bytes: &[u8]) -> Result<(), TestCaseError> {
    for options in csv_options() {
        let (r, u) = measure(|| parse_csv(bytes, "fuzz.csv", &options));
        bounded("csv", bytes, u)?;
        match r {
            Ok(t) => {
                prop_assert!(t.dataset.n_samples() > 0);
                prop_assert!(t.dataset.features().iter().all(|v| v.is_finite()));
            }
            Err(e) => check_error(&e)?,
        }
    }
    Ok(())
}

fn fuzz_libsvm(bytes: &[u8]) -> Result<(), TestCaseError> {
    for d in [None, Some(8)] {
        let (r, u) = measure(|| parse_libsvm(bytes, "fuzz.svm", d));
        bounded("libsvm", bytes, u)?;
        match r {
            Ok(ds) => {
                prop_assert!(ds.n_samples() > 0);
                if let Some(d) = d {
                    prop_assert_eq!(ds.n_features(), d);
                }
            }
            Err(e) => check_error(&e)?,
        }
    }
    Ok(())
}

fn fuzz_gzip_layer(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (r, u) = measure(|| {
        let mut input = Input::from_bytes(bytes, "fuzz.gz")?;
        let mut lines = 0usize;
        let mut buf = Vec::new();
        while input.read_line(&mut buf)? > 0 {
            lines += 1;
            buf.clear();
        }
        Ok::<usize, DataError>(lines)
    });
    bounded("gzip lines", bytes, u)?;
    if let Err(e) = r {
        prop_assert!(matches!(e, DataError::Format { .. }), "{e:?}");
    }
    let (r, u) = measure(|| Input::from_bytes(bytes, "fuzz.gz")?.read_to_end_capped(1 << 16));
    bounded("gzip capped", bytes, u)?;
    if let Ok(v) = r {
        prop_assert!(v.len() <= 1 << 16);
    }
    Ok(())
}

fn fuzz_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    fuzz_idx(bytes)?;
    fuzz_csv(bytes)?;
    fuzz_libsvm(bytes)?;
    fuzz_gzip_layer(bytes)
}

// ---------------------------------------------------------------------------------------------
// Generators

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// IDX files whose header fields are arbitrary (including 10⁹-row and overflowing claims)
/// and whose body is short, exact, or long.
fn idx_files() -> impl Strategy<Value = Vec<u8>> {
    let dim = prop_oneof![
        0u32..6,
        Just(1_000_000_000u32),
        Just(u32::MAX),
        any::<u32>(),
    ];
    (
        any::<bool>(),
        prop_oneof![Just(IDX_IMAGES_MAGIC), Just(IDX_LABELS_MAGIC), any::<u32>()],
        proptest::collection::vec(dim, 0..4),
        bytes(300),
        any::<bool>(),
    )
        .prop_map(|(images, magic, dims, body, zip)| {
            let magic = if images && magic == IDX_LABELS_MAGIC {
                IDX_IMAGES_MAGIC
            } else {
                magic
            };
            let v = idx(magic, &dims, &body);
            if zip { gz(&v) } else { v }
        })
}

fn csv_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "-?[0-9]{1,6}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{1,3})?",
        "(nan|NaN|inf|-inf|infinity|1e999|-1e999|0x1F|\u{feff}|y|label|x1)",
        "[ \t]*",
        "[^,\n]{0,8}",
    ];
    let line = proptest::collection::vec(field, 0..8).prop_map(|f| f.join(","));
    let eol = prop_oneof!["\n", "\r\n", "\r", ""];
    proptest::collection::vec((line, eol), 0..12)
        .prop_map(|ls| ls.into_iter().map(|(l, e)| l + &e).collect())
}

fn libsvm_text() -> impl Strategy<Value = String> {
    let index = prop_oneof![
        (0u64..10).prop_map(|i| i.to_string()),
        (0u64..10_000).prop_map(|i| i.to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("qid".to_string()),
        "[a-z]{0,3}",
    ];
    let value = prop_oneof!["-?[0-9]{1,4}(\\.[0-9]{0,3})?", "(nan|inf|1e999|x|)",];
    let token = prop_oneof![
        (index, value).prop_map(|(i, v)| format!("{i}:{v}")),
        "[0-9:#. ]{0,6}",
    ];
    let label = prop_oneof!["[+-]?1", "-?[0-9]{1,3}(\\.[0-9])?", "(nan|x|#|)"];
    let line = (label, proptest::collection::vec(token, 0..6))
        .prop_map(|(l, t)| format!("{l} {}", t.join(" ")));
    proptest::collection::vec(line, 0..10).prop_map(|ls| ls.join("\n"))
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes (≤ 1 KiB) through every loader.
    #[test]
    fn arbitrary_bytes(b in bytes(1024)) {
        fuzz_all(&b)?;
    }

    /// Bytes that start with the gzip magic (the gzip path with a corrupt stream).
    #[test]
    fn gzip_magic_then_arbitrary_bytes(b in bytes(512)) {
        let mut v = vec![0x1f, 0x8b];
        v.extend(b);
        fuzz_all(&v)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// IDX headers with arbitrary (huge, zero, overflowing) dimensions, plain or gzipped.
    #[test]
    fn idx_headers(v in idx_files()) {
        fuzz_idx(&v)?;
        fuzz_gzip_layer(&v)?;
    }

    /// CSV-shaped text: numbers, non-finite spellings, BOMs, ragged rows, CR/CRLF.
    #[test]
    fn csv_like_text(s in csv_text(), zip in any::<bool>()) {
        let b = if zip { gz(s.as_bytes()) } else { s.into_bytes() };
        fuzz_csv(&b)?;
    }

    /// LibSVM-shaped text: bad, zero, repeated, decreasing and overflowing indices, qid,
    /// comments, non-finite values.
    #[test]
    fn libsvm_like_text(s in libsvm_text(), zip in any::<bool>()) {
        let b = if zip { gz(s.as_bytes()) } else { s.into_bytes() };
        fuzz_libsvm(&b)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Valid gzip of arbitrary content, then truncated and/or with one byte flipped.
    #[test]
    fn damaged_gzip(b in bytes(512), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>(), text in any::<bool>()) {
        let content: Vec<u8> = if text { b.iter().map(|c| b"0123456789,.:- \n"[(*c % 16) as usize]).collect() } else { b };
        let mut z = gz(&content);
        let k = flip.0.index(z.len());
        z[k] ^= flip.1;
        let keep = cut.index(z.len() + 1);
        z.truncate(keep);
        fuzz_all(&z)?;
    }

    /// Concatenated gzip members, with garbage between or after them.
    #[test]
    fn concatenated_gzip_members(a in bytes(200), b in bytes(200), junk in bytes(8)) {
        let mut z = gz(&a);
        z.extend(&junk);
        z.extend(gz(&b));
        fuzz_all(&z)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-made adversarial files

fn assert_format_error<T: std::fmt::Debug>(r: Result<T, DataError>, needle: &str) {
    match r {
        Err(DataError::Format { what, .. }) => {
            assert!(what.contains(needle), "expected '{needle}' in: {what}")
        }
        other => panic!("expected a format error containing '{needle}', got {other:?}"),
    }
}

#[test]
fn idx_header_claiming_a_billion_images_in_1kb() {
    let file = idx(IDX_IMAGES_MAGIC, &[1_000_000_000, 28, 28], &[7u8; 1000]);
    assert!(file.len() < 1100);
    for bytes in [file.clone(), gz(&file)] {
        // 784 GB announced: refused by the memory limit before the body is read.
        let (r, u) = measure(|| parse_idx_images(&bytes[..], "huge.idx3"));
        assert!(matches!(r, Err(DataError::TooLarge { .. })), "{r:?}");
        assert!(u.peak < 1 << 20, "peak {} bytes", u.peak);
    }
    // 4 GiB announced: truncated, or refused by the memory limit on a small machine.
    let labels = idx(IDX_LABELS_MAGIC, &[u32::MAX], &[1u8; 1000]);
    let (r, u) = measure(|| parse_idx_labels(&labels[..], "huge.idx1"));
    match r {
        Err(DataError::TooLarge { .. }) => {}
        other => assert_format_error(other, "truncated"),
    }
    assert!(u.peak < 1 << 20, "peak {} bytes", u.peak);
}

#[test]
fn idx_dimensions_overflowing_64_bits() {
    let file = idx(IDX_IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    let (r, u) = measure(|| parse_idx_images(&file[..], "overflow.idx3"));
    assert_format_error(r, "overflow");
    assert!(u.peak < 1 << 16);
}

#[test]
fn truncated_gzip_of_a_valid_idx() {
    let px: Vec<u8> = (0..=255).cycle().take(4 * 28 * 28).collect();
    let z = gz(&idx(IDX_IMAGES_MAGIC, &[4, 28, 28], &px));
    assert!(parse_idx_images(&z[..], "ok.gz").is_ok());
    for cut in [2, 3, 10, z.len() / 2, z.len() - 8, z.len() - 1] {
        assert_format_error(parse_idx_images(&z[..cut], "cut.gz"), "");
    }
}

/// 1 MiB of zeros in a ~1 KiB gzip: memory follows the decompressed content (bounded by the
/// format's ~1032× ratio), and every loader gives a typed error.
#[test]
fn gzip_bomb_of_one_mebibyte() {
    let z = gz(&vec![0u8; 1 << 20]);
    assert!(z.len() < 8 << 10, "{} bytes", z.len());
    let (r, u) = measure(|| parse_idx_images(&z[..], "bomb.gz"));
    assert_format_error(r, "magic");
    assert!(u.peak < 4 << 20, "peak {}", u.peak);
    let (r, u) = measure(|| parse_csv(&z[..], "bomb.gz", &CsvOptions::default()));
    assert!(r.is_err());
    assert!(u.peak < 8 << 20, "peak {}", u.peak);
    let (r, u) = measure(|| parse_libsvm(&z[..], "bomb.gz", None));
    assert!(r.is_err());
    assert!(u.peak < 8 << 20, "peak {}", u.peak);
}

#[test]
fn degenerate_text_files() {
    let cases: [&[u8]; 12] = [
        b"",
        b"\n\n\n",
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbfy,a\n",
        b",,,,,,,,\n,,,,,,,,\n",
        b"y\n1\n2\n",
        b"1e999,1\n",
        b"\xff\xfe\x00\x00",
        b"# only a comment\n",
        b"1 1:1 qid:1 2:2\n",
        b"1 18446744073709551616:1\n",
        b"1 1:1e308 2:-1e308\n",
    ];
    for c in cases {
        for options in csv_options() {
            if let Err(e) = parse_csv(c, "edge.csv", &options) {
                assert!(!e.to_string().is_empty());
            }
        }
        if let Err(e) = parse_libsvm(c, "edge.svm", None) {
            assert!(!e.to_string().is_empty());
        }
    }
}

/// A line of 100,000 commas: memory in proportion to the line, an error, no quadratic blow-up.
#[test]
fn csv_with_a_hundred_thousand_columns() {
    let mut line = vec![b'1'; 1];
    for _ in 0..100_000 {
        line.extend(b",1");
    }
    line.push(b'\n');
    let mut file = line.clone();
    file.extend(&line[..line.len() / 2]);
    file.push(b'\n');
    let opts = CsvOptions {
        has_header: false,
        ..CsvOptions::default()
    };
    let (r, u) = measure(|| parse_csv(&file[..], "wide.csv", &opts));
    assert_format_error(r, "fields");
    assert!(u.peak < limit(&file), "peak {}", u.peak);
}

/// Regression test: LibSVM densification used to be capped only at `MAX_DENSE_ENTRIES` = 2²⁹
/// entries whatever the input size, so 53 lines of `1 9999999:1` (636 bytes) allocated a
/// 4.2 GB matrix. The cap is now tied to the number of stored values.
#[test]
fn libsvm_tiny_file_with_huge_indices_is_refused_without_allocating() {
    let file = "1 9999999:1\n".repeat(53);
    let (r, u) = measure(|| parse_libsvm(file.as_bytes(), "wide.svm", None));
    assert!(
        u.largest <= limit(file.as_bytes()),
        "{} input bytes allocated {} bytes at once (result: {:?})",
        file.len(),
        u.largest,
        r.map(|d| (d.n_samples(), d.n_features()))
    );
}

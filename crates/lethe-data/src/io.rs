//! Reading input files that may or may not be gzip-compressed.
//!
//! Compression is detected from the content (the gzip magic bytes `1f 8b`), never from the file
//! name, so `data.csv` that is really gzipped and `data.csv.gz` that is really plain both load.
//! Concatenated gzip members (as written by `cat a.gz b.gz`) are decoded as one stream.
//!
//! Errors are classified so that they say where the problem is:
//! - the operating system failed to open or read the file → [`DataError::Io`] with the path;
//! - the gzip stream is corrupt or truncated → [`DataError::Format`] naming the path.
//!
//! Every loader of this crate reads through [`Input`]; the loaders also accept any
//! [`Read`] plus a display name (used in error messages instead of a path), which is how the
//! bundled datasets are parsed from bytes compiled into the crate.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};
use crate::limits::{Limits, human_bytes};

/// The two magic bytes that start every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The UTF-8 encoding of the byte-order mark U+FEFF.
pub const UTF8_BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// Whether `bytes` start with the gzip magic bytes `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// An I/O error raised by the underlying source (file, socket, …), as opposed to one raised by
/// the gzip decoder. It travels through the decoder wrapped in an `io::Error` so that the two
/// can be told apart afterwards.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Wraps every error of the inner reader in a [`SourceError`] (keeping its kind, so that
/// `Interrupted` is still retried by the standard library).
struct Tagged<R>(R);

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

/// The error a [`Capped`] reader raises once the decompressed stream passes its cap.
#[derive(Debug)]
struct CapExceeded(u64);

impl fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "decompressed content exceeds {} bytes", self.0)
    }
}

impl std::error::Error for CapExceeded {}

/// Passes at most `cap` bytes of a decoder through and fails (with [`CapExceeded`]) on the
/// first byte beyond: a gzip bomb stops at the cap instead of filling memory or running for
/// minutes.
struct Capped<R> {
    inner: R,
    cap: u64,
    seen: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.seen = self.seen.saturating_add(k as u64);
        if self.seen > self.cap {
            return Err(io::Error::other(CapExceeded(self.cap)));
        }
        Ok(k)
    }
}

/// A byte stream being parsed, transparently gunzipped when it starts with the gzip magic, with
/// the path (or display name) used in error messages and the [`Limits`] it is read under.
pub struct Input<'a> {
    reader: Box<dyn BufRead + 'a>,
    path: PathBuf,
    gzip: bool,
    limits: Limits,
    /// Size of the underlying file in bytes, when it is a plain file on disk.
    file_len: Option<u64>,
    /// Lines returned so far by [`Input::read_line`] (for error messages).
    lines: usize,
}

impl fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("gzip", &self.gzip)
            .finish_non_exhaustive()
    }
}

impl Input<'static> {
    /// Opens a file, detecting gzip compression from its first two bytes, under the limits of
    /// [`Limits::from_env`].
    ///
    /// # Errors
    /// [`DataError::Io`] (with the path) when the file cannot be opened or read;
    /// [`DataError::InvalidParameter`] for a malformed `LETHE_MAX_MEMORY`.
    pub fn open(path: &Path) -> Result<Self> {
        Input::open_with(path, &Limits::from_env()?)
    }

    /// Opens a file under the given limits.
    ///
    /// # Errors
    /// [`DataError::Io`] (with the path) when the file cannot be opened or read.
    pub fn open_with(path: &Path, limits: &Limits) -> Result<Self> {
        let io_error = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        let mut input = Input::from_reader_with(file, path, limits)?;
        if !input.gzip {
            input.file_len = Some(len);
        }
        Ok(input)
    }
}

impl<'a> Input<'a> {
    /// Wraps any reader; `name` is what error messages call it (a path or a label such as
    /// `bundled:digits.csv.gz`). Gzip is detected from the first two bytes. The limits are
    /// those of [`Limits::from_env`].
    ///
    /// # Errors
    /// [`DataError::Io`] when the first bytes cannot be read;
    /// [`DataError::InvalidParameter`] for a malformed `LETHE_MAX_MEMORY`.
    pub fn from_reader<R: Read + 'a>(reader: R, name: impl AsRef<Path>) -> Result<Self> {
        Self::from_reader_with(reader, name, &Limits::from_env()?)
    }

    /// As [`Input::from_reader`], under the given limits.
    ///
    /// # Errors
    /// [`DataError::Io`] when the first bytes cannot be read.
    pub fn from_reader_with<R: Read + 'a>(
        reader: R,
        name: impl AsRef<Path>,
        limits: &Limits,
    ) -> Result<Self> {
        let path = name.as_ref().to_path_buf();
        let mut raw = Tagged(reader);
        let mut prefix = [0u8; 2];
        let mut got = 0;
        while got < prefix.len() {
            match raw.read(&mut prefix[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e, &path, false)),
            }
        }
        let gzip = is_gzip(&prefix[..got]);
        let chained = Cursor::new(prefix[..got].to_vec()).chain(raw);
        let reader: Box<dyn BufRead + 'a> = if gzip {
            Box::new(BufReader::new(Capped {
                inner: MultiGzDecoder::new(chained),
                cap: limits.decompressed_cap(),
                seen: 0,
            }))
        } else {
            Box::new(BufReader::new(chained))
        };
        Ok(Self {
            reader,
            path,
            gzip,
            limits: limits.clone(),
            file_len: None,
            lines: 0,
        })
    }

    /// Wraps an in-memory byte slice (gzip or plain).
    ///
    /// # Errors
    /// Never in practice; the signature matches [`Input::from_reader`].
    pub fn from_bytes(bytes: &'a [u8], name: impl AsRef<Path>) -> Result<Self> {
        Self::from_reader(bytes, name)
    }

    /// The path or display name used in error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the content is being gunzipped.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The limits this input is read under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The size in bytes of the plain file being read (`None` for gzip or a non-file reader).
    pub fn file_len(&self) -> Option<u64> {
        self.file_len
    }

    /// Refuses an `n × d` dense matrix for this input beyond [`Limits::max_memory`].
    ///
    /// # Errors
    /// [`DataError::TooLarge`].
    pub fn check_dense(&self, n: usize, d: usize) -> Result<()> {
        self.limits.check_dense(&self.path, n, d)
    }

    /// Refuses `bytes` of `what` held in memory beyond [`Limits::max_memory`].
    ///
    /// # Errors
    /// [`DataError::TooLarge`].
    pub fn check_memory(&self, what: &str, bytes: u64) -> Result<()> {
        self.limits.check_memory(&self.path, what, bytes)
    }

    /// A [`DataError::Format`] naming this input.
    pub fn format_error(&self, what: impl Into<String>) -> DataError {
        DataError::Format {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn classify(&self, e: io::Error) -> DataError {
        classify_with(e, &self.path, self.gzip, &self.limits)
    }

    /// Appends the next line, including its `\n` if any, to `buf` (raw bytes, no UTF-8 check).
    /// Returns the number of bytes read; 0 means end of input. A line longer than
    /// [`Limits::max_line_bytes`] is refused once that many bytes have been read, so a single
    /// gigantic line never fills memory.
    ///
    /// # Errors
    /// [`DataError::Io`] on a read failure, [`DataError::Format`] on corrupt gzip data,
    /// [`DataError::TooLarge`] for a line over the limit or a gzip stream over its cap.
    pub fn read_line(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let max = self.limits.max_line_bytes;
        let mut read = 0usize;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_with(e, &self.path, self.gzip, &self.limits)),
            };
            if available.is_empty() {
                break;
            }
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let content = read + take - usize::from(done);
            if content > max {
                let line = self.lines + 1;
                return Err(self.limits.too_large(
                    &self.path,
                    format!("line {line} is longer than {}", human_bytes(max as u64)),
                    None,
                    max as u64,
                ));
            }
            buf.extend_from_slice(&available[..take]);
            self.reader.consume(take);
            read += take;
            if done {
                break;
            }
        }
        if read > 0 {
            self.lines += 1;
        }
        Ok(read)
    }

    /// Replaces `raw` with the next line and returns it as UTF-8 text (`None` at the end of the
    /// input), counting lines (1-based) in `line_no` for error messages. A UTF-8 byte-order
    /// mark at the start of the first line is dropped.
    ///
    /// # Errors
    /// As [`Input::read_line`], and [`DataError::Format`] naming the line and byte for text
    /// that is not UTF-8.
    pub fn read_text_line<'l>(
        &mut self,
        raw: &'l mut Vec<u8>,
        line_no: &mut usize,
    ) -> Result<Option<&'l str>> {
        raw.clear();
        if self.read_line(raw)? == 0 {
            return Ok(None);
        }
        *line_no += 1;
        // A UTF-8 byte-order mark (written by some editors and spreadsheet exports) is not data.
        let skip = if *line_no == 1 && raw.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        match std::str::from_utf8(&raw[skip..]) {
            Ok(text) => Ok(Some(text)),
            Err(e) => Err(self.format_error(format!(
                "line {line_no}: not valid UTF-8 (at byte {} of the line)",
                e.valid_up_to() + skip + 1
            ))),
        }
    }

    /// Reads until `buf` is full or the input ends; returns how many bytes were read.
    ///
    /// # Errors
    /// As [`Input::read_line`].
    pub fn read_fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.classify(e)),
            }
        }
        Ok(got)
    }

    /// Reads the rest of the input, but at most `cap` bytes. The buffer grows with the data
    /// actually read, so a large `cap` taken from an untrusted header never allocates by itself.
    ///
    /// # Errors
    /// As [`Input::read_line`].
    pub fn read_to_end_capped(&mut self, cap: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        match (&mut self.reader).take(cap).read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// Reads and discards the rest of the input, returning how many bytes there were.
    ///
    /// # Errors
    /// As [`Input::read_line`].
    pub fn count_remaining(&mut self) -> Result<u64> {
        io::copy(&mut self.reader, &mut io::sink())
            .map_err(|e| classify_with(e, &self.path, self.gzip, &self.limits))
    }
}

/// As [`classify`], and a stream that passed its decompression cap is [`DataError::TooLarge`].
fn classify_with(e: io::Error, path: &Path, gzip: bool, limits: &Limits) -> DataError {
    if let Some(cap) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CapExceeded>())
    {
        return limits.too_large(
            path,
            format!(
                "the gzip stream inflates to more than {} (a gzip bomb, or a file too large \
                 for this machine)",
                human_bytes(cap.0)
            ),
            None,
            cap.0,
        );
    }
    classify(e, path, gzip)
}

/// Turns an `io::Error` met while reading `path` into a [`DataError`]: errors of the underlying
/// source are [`DataError::Io`]; any other error inside a gzip stream is a corrupt or truncated
/// stream, hence [`DataError::Format`].
fn classify(e: io::Error, path: &Path, gzip: bool) -> DataError {
    let is_source = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<SourceError>().is_some());
    if is_source {
        let kind = e.kind();
        let source = match e.into_inner().map(|inner| inner.downcast::<SourceError>()) {
            Some(Ok(tagged)) => tagged.0,
            // Unreachable given the check above; keep a faithful error anyway.
            _ => io::Error::from(kind),
        };
        return DataError::Io {
            path: path.to_path_buf(),
            source,
        };
    }
    if gzip {
        let what = if e.kind() == io::ErrorKind::UnexpectedEof {
            format!("gzip stream is truncated ({e})")
        } else {
            format!("invalid gzip data: {e}")
        };
        DataError::Format {
            path: path.to_path_buf(),
            what,
        }
    } else {
        DataError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Reads a whole file (gunzipped if it is gzip) into memory.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Format`] on corrupt gzip data.
pub fn read_all(path: &Path) -> Result<Vec<u8>> {
    Input::open(path)?.read_to_end_capped(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_read_the_same() {
        let text = b"hello\nworld\n".repeat(100);
        for bytes in [text.clone(), gz(&text)] {
            let mut input = Input::from_bytes(&bytes, "mem").unwrap();
            assert_eq!(input.is_gzip(), bytes != text);
            assert_eq!(input.read_to_end_capped(u64::MAX).unwrap(), text);
        }
    }

    #[test]
    fn concatenated_members_are_one_stream() {
        let mut both = gz(b"a\n");
        both.extend(gz(b"b\n"));
        let mut input = Input::from_bytes(&both, "mem").unwrap();
        assert_eq!(input.read_to_end_capped(u64::MAX).unwrap(), b"a\nb\n");
    }

    #[test]
    fn tiny_inputs() {
        for bytes in [&b""[..], &b"x"[..], &[0x1f][..]] {
            let mut input = Input::from_bytes(bytes, "mem").unwrap();
            assert!(!input.is_gzip());
            assert_eq!(input.read_to_end_capped(u64::MAX).unwrap(), bytes);
        }
    }

    #[test]
    fn corrupt_and_truncated_gzip_are_format_errors() {
        let good = gz(&b"0123456789".repeat(1000));
        let truncated = &good[..good.len() / 2];
        let mut bad_crc = good.clone();
        let k = bad_crc.len() - 6;
        bad_crc[k] ^= 0xff;
        let magic_only = GZIP_MAGIC.to_vec();
        for bytes in [truncated, &bad_crc[..], &magic_only[..]] {
            let mut input = Input::from_bytes(bytes, "x.gz").unwrap();
            let e = input.read_to_end_capped(u64::MAX).unwrap_err();
            match e {
                DataError::Format { path, what } => {
                    assert_eq!(path, Path::new("x.gz"));
                    assert!(what.contains("gzip"), "{what}");
                }
                other => panic!("expected a format error, got {other:?}"),
            }
        }
    }

    #[test]
    fn source_errors_are_io_errors_even_inside_gzip() {
        struct Failing(Vec<u8>, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() {
                    return Err(io::Error::other("disk on fire"));
                }
                let k = buf.len().min(self.0.len() - self.1).min(7);
                buf[..k].copy_from_slice(&self.0[self.1..self.1 + k]);
                self.1 += k;
                Ok(k)
            }
        }
        let data = gz(&b"abc".repeat(1000));
        let half = data[..data.len() / 2].to_vec();
        let mut input = Input::from_reader(Failing(half, 0), "f.gz").unwrap();
        let e = input.read_to_end_capped(u64::MAX).unwrap_err();
        match e {
            DataError::Io { path, source } => {
                assert_eq!(path, Path::new("f.gz"));
                assert_eq!(source.to_string(), "disk on fire");
            }
            other => panic!("expected an io error, got {other:?}"),
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let bomb = gz(&vec![b'0'; 1 << 20]);
        let limits = Limits {
            max_decompressed_bytes: Some(64 << 10),
            ..Limits::with_max_memory(1 << 30)
        };
        let mut input = Input::from_reader_with(&bomb[..], "bomb.gz", &limits).unwrap();
        match input.read_to_end_capped(u64::MAX).unwrap_err() {
            DataError::TooLarge { path, limit, .. } => {
                assert_eq!(path, Path::new("bomb.gz"));
                assert_eq!(limit, 64 << 10);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused_before_it_is_read_whole() {
        let mut text = b"short\n".to_vec();
        text.extend(vec![b'1'; 100_000]);
        text.push(b'\n');
        let limits = Limits {
            max_line_bytes: 1000,
            ..Limits::with_max_memory(1 << 30)
        };
        for bytes in [text.clone(), gz(&text)] {
            let mut input = Input::from_reader_with(&bytes[..], "long", &limits).unwrap();
            let mut buf = Vec::new();
            assert_eq!(input.read_line(&mut buf).unwrap(), 6);
            buf.clear();
            let e = input.read_line(&mut buf).unwrap_err();
            assert!(buf.len() <= 1000 + 8192, "{} bytes buffered", buf.len());
            assert!(
                matches!(&e, DataError::TooLarge { limit: 1000, what, .. } if what.contains("line 2")),
                "{e:?}"
            );
        }
        // Exactly at the limit is fine; the newline does not count.
        let ok = [vec![b'1'; 1000], b"\n".to_vec()].concat();
        let mut input = Input::from_reader_with(&ok[..], "ok", &limits).unwrap();
        assert_eq!(input.read_line(&mut Vec::new()).unwrap(), 1001);
    }

    #[test]
    fn missing_file_is_io_error_with_path() {
        let p = Path::new("/nonexistent/lethe/file.csv");
        match Input::open(p).unwrap_err() {
            DataError::Io { path, .. } => assert_eq!(path, p),
            other => panic!("{other:?}"),
        }
    }
}

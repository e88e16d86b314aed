//! MNIST / Fashion-MNIST IDX files (gzip or raw).
//!
//! Layout (after gunzip; all integers big-endian u32):
//! - images: magic `0x00000803`, `n`, `rows`, `cols`, then `n·rows·cols` u8 pixels, row-major;
//! - labels: magic `0x00000801`, `n`, then `n` u8 labels.
//!
//! The header is never trusted for an allocation: the body is read with a cap of the size the
//! header announces (plus one byte, to detect trailing garbage), so memory grows only with the
//! bytes actually present, and the byte count must match the header exactly. Before any of the
//! body is read, the announced size is checked against the file's size (raw files), against
//! the decompression cap (gzip) and, with the f64 matrix it becomes, against
//! [`Limits::max_memory`]: a header announcing 10⁷ images fails at once, not after minutes of
//! inflating.

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::Input;
use crate::limits::Limits;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The images of an IDX3 file: `n` images of `rows × cols` u8 pixels, row-major, image after
/// image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
    /// `n · rows · cols` pixels; image `i` is `pixels[i·rows·cols .. (i+1)·rows·cols]`.
    pub pixels: Vec<u8>,
}

/// Which half of MNIST (or Fashion-MNIST) to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MnistSplit {
    /// The 60 000 training images (`train-*` files).
    Train,
    /// The 10 000 test images (`t10k-*` files).
    Test,
}

impl MnistSplit {
    /// The file-name prefix of this split: `train` or `t10k`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }
}

struct Header {
    /// Dimensions after the magic number.
    dims: Vec<usize>,
    /// Header length in bytes.
    len: usize,
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn kind_of(magic: u32) -> &'static str {
    match magic {
        IDX_IMAGES_MAGIC => "an IDX image file (0x00000803)",
        IDX_LABELS_MAGIC => "an IDX label file (0x00000801)",
        _ => "not an IDX u8 file",
    }
}

/// Reads and checks the magic number and the dimensions.
fn read_header(input: &mut Input<'_>, magic: u32, what: &str) -> Result<Header> {
    let n_dims = (magic & 0xff) as usize;
    let len = 4 + 4 * n_dims;
    let mut buf = vec![0u8; len];
    let got = input.read_fill(&mut buf)?;
    let stream = if input.is_gzip() {
        "decompressed content"
    } else {
        "file"
    };
    if got >= 4 {
        let found = be_u32(&buf);
        if found != magic {
            return Err(input.format_error(format!(
                "bad magic number 0x{found:08x}, expected 0x{magic:08x} for an IDX {what} file \
                 (found: {})",
                kind_of(found)
            )));
        }
    }
    if got < len {
        return Err(input.format_error(format!(
            "truncated header: the {stream} has {got} bytes, an IDX {what} header needs {len}"
        )));
    }
    let dims = buf[4..]
        .chunks_exact(4)
        .map(|c| be_u32(c) as usize)
        .collect();
    Ok(Header { dims, len })
}

/// Reads exactly `expected` body bytes, erroring on truncation or trailing bytes.
fn read_body(input: &mut Input<'_>, expected: u64, header: &Header, what: &str) -> Result<Vec<u8>> {
    let cap = expected.saturating_add(1);
    let body = input.read_to_end_capped(cap)?;
    let found = body.len() as u64;
    let stream = if input.is_gzip() {
        "decompressed content"
    } else {
        "file"
    };
    if found < expected {
        return Err(input.format_error(format!(
            "truncated: the header announces {expected} bytes of {what} after the {}-byte \
             header, the {stream} has {found}",
            header.len
        )));
    }
    if found > expected {
        let rest = input.count_remaining()?;
        let total = found.saturating_add(rest);
        return Err(input.format_error(format!(
            "trailing bytes: the header announces {expected} bytes of {what} after the \
             {}-byte header, the {stream} has {total}",
            header.len
        )));
    }
    Ok(body)
}

/// Checks the body size a header announces before reading it: against the file's size for a
/// raw file, against the decompression cap for gzip, and against the memory limit (the body is
/// held in memory).
fn check_body_size(input: &Input<'_>, expected: u64, header: &Header, what: &str) -> Result<()> {
    if let Some(len) = input.file_len() {
        let found = len.saturating_sub(header.len as u64);
        if found != expected {
            let problem = if found < expected {
                "truncated"
            } else {
                "trailing bytes"
            };
            return Err(input.format_error(format!(
                "{problem}: the header announces {expected} bytes of {what} after the {}-byte \
                 header, the file has {found}",
                header.len
            )));
        }
    }
    let total = expected.saturating_add(header.len as u64);
    let cap = input.limits().decompressed_cap();
    if input.is_gzip() && total > cap {
        return Err(input.limits().too_large(
            input.path(),
            format!(
                "the header announces {expected} bytes of {what} (a gzip stream of {})",
                crate::limits::human_bytes(total)
            ),
            Some(total),
            cap,
        ));
    }
    input.check_memory(&format!("the {what} the header announces"), expected)
}

/// The validated image header: `(n, rows, cols, expected pixel bytes)`.
fn image_header(input: &mut Input<'_>) -> Result<(Header, usize, usize, usize, u64)> {
    let header = read_header(input, IDX_IMAGES_MAGIC, "image")?;
    let (n, rows, cols) = (header.dims[0], header.dims[1], header.dims[2]);
    if rows == 0 || cols == 0 {
        return Err(input.format_error(format!(
            "image size {rows}×{cols} in the header: both must be at least 1"
        )));
    }
    // Each factor is < 2^32, so n·rows fits in u64; the second product may not.
    let expected = (n as u64)
        .checked_mul(rows as u64)
        .and_then(|v| v.checked_mul(cols as u64))
        .ok_or_else(|| {
            input.format_error(format!(
                "header dimensions {n}×{rows}×{cols} overflow a 64-bit byte count"
            ))
        })?;
    Ok((header, n, rows, cols, expected))
}

/// Reads an image file; with `dense`, the f64 matrix of all its images is checked against the
/// memory limit before the pixels are read.
fn images_from_input(
    input: &mut Input<'_>,
    expected_n: Option<(usize, &Path)>,
    dense: bool,
) -> Result<IdxImages> {
    let (header, n, rows, cols, expected) = image_header(input)?;
    if let Some((labels_n, labels_path)) = expected_n
        && labels_n != n
    {
        return Err(input.format_error(format!(
            "has {n} images but {} has {labels_n} labels",
            labels_path.display()
        )));
    }
    check_body_size(input, expected, &header, "pixels")?;
    if dense {
        input.check_dense(n, rows.saturating_mul(cols))?;
    }
    let pixels = read_body(input, expected, &header, "pixels")?;
    Ok(IdxImages {
        n,
        rows,
        cols,
        pixels,
    })
}

fn labels_from_input(input: &mut Input<'_>) -> Result<Vec<u8>> {
    let header = read_header(input, IDX_LABELS_MAGIC, "label")?;
    let n = header.dims[0] as u64;
    check_body_size(input, n, &header, "labels")?;
    read_body(input, n, &header, "labels")
}

/// Parses an IDX3 image file (gzip or raw) from any reader; `name` is used in error messages.
///
/// # Errors
/// [`DataError::Format`] for a bad magic number, a zero image size, a truncated file or
/// trailing bytes (with the expected and found byte counts); [`DataError::Io`] on read
/// failures.
pub fn parse_idx_images<R: std::io::Read>(reader: R, name: impl AsRef<Path>) -> Result<IdxImages> {
    let mut input = Input::from_reader(reader, name)?;
    images_from_input(&mut input, None, false)
}

/// Parses an IDX1 label file (gzip or raw) from any reader; `name` is used in error messages.
///
/// # Errors
/// As [`parse_idx_images`].
pub fn parse_idx_labels<R: std::io::Read>(reader: R, name: impl AsRef<Path>) -> Result<Vec<u8>> {
    let mut input = Input::from_reader(reader, name)?;
    labels_from_input(&mut input)
}

/// Loads an IDX3 image file, gzip or raw (detected from the content).
///
/// # Errors
/// As [`parse_idx_images`], plus [`DataError::Io`] when the file cannot be opened.
pub fn load_idx_images(path: &Path) -> Result<IdxImages> {
    load_idx_images_with(path, &Limits::from_env()?)
}

/// As [`load_idx_images`], under explicit [`Limits`].
///
/// # Errors
/// As [`load_idx_images`], plus [`DataError::TooLarge`] when the announced pixels exceed the
/// decompression cap or the memory limit.
pub fn load_idx_images_with(path: &Path, limits: &Limits) -> Result<IdxImages> {
    let mut input = Input::open_with(path, limits)?;
    images_from_input(&mut input, None, false)
}

/// Loads an IDX1 label file, gzip or raw (detected from the content).
///
/// # Errors
/// As [`load_idx_images`].
pub fn load_idx_labels(path: &Path) -> Result<Vec<u8>> {
    load_idx_labels_with(path, &Limits::from_env()?)
}

/// As [`load_idx_labels`], under explicit [`Limits`].
///
/// # Errors
/// As [`load_idx_images_with`].
pub fn load_idx_labels_with(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let mut input = Input::open_with(path, limits)?;
    labels_from_input(&mut input)
}

/// Builds a dataset from images and labels: one row per image (pixels in row-major order, as
/// f64 values 0..255) and the label byte as an f64.
///
/// # Errors
/// [`DataError::LengthMismatch`] when the counts differ, [`DataError::Empty`] for no images.
pub fn idx_dataset(images: &IdxImages, labels: &[u8]) -> Result<Dataset> {
    build_dataset(
        images,
        labels,
        Path::new("IDX images"),
        &Limits::from_env()?,
    )
}

/// [`idx_dataset`] with the dense matrix checked against `limits` (errors name `path`).
fn build_dataset(
    images: &IdxImages,
    labels: &[u8],
    path: &Path,
    limits: &Limits,
) -> Result<Dataset> {
    if images.n != labels.len() {
        return Err(DataError::LengthMismatch {
            features: images.n,
            labels: labels.len(),
        });
    }
    let d = images.rows.checked_mul(images.cols);
    let total = d.and_then(|d| d.checked_mul(images.n));
    let (Some(d), Some(total)) = (d, total) else {
        return Err(DataError::InvalidParameter {
            name: "images",
            value: format!("{}×{}×{}", images.n, images.rows, images.cols),
            reason: "the dimensions overflow usize".into(),
        });
    };
    if total != images.pixels.len() {
        return Err(DataError::InvalidParameter {
            name: "images.pixels",
            value: format!("{} bytes", images.pixels.len()),
            reason: format!(
                "{} images of {}×{} need exactly {total} pixel bytes",
                images.n, images.rows, images.cols
            ),
        });
    }
    if images.n == 0 {
        return Err(DataError::Empty {
            context: "IDX images: the file holds no images".into(),
        });
    }
    limits.check_dense(path, images.n, d)?;
    let px = &images.pixels;
    let features = DMatrix::from_fn(images.n, d, |i, j| f64::from(px[i * d + j]));
    let labels = DVector::from_iterator(labels.len(), labels.iter().map(|&y| f64::from(y)));
    Dataset::new(features, labels)
}

/// Loads a pair of IDX files (images and labels, each gzip or raw) as a dataset (see
/// [`idx_dataset`]). The labels are read first and the image count is checked against them
/// before any pixel is read.
///
/// # Errors
/// [`DataError::Format`] naming the file for any format problem, including an image count that
/// differs from the label count; [`DataError::Empty`] for a file with no images;
/// [`DataError::Io`] on read failures.
pub fn load_idx_dataset(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    load_idx_dataset_with(images_path, labels_path, &Limits::from_env()?)
}

/// As [`load_idx_dataset`], under explicit [`Limits`].
///
/// # Errors
/// As [`load_idx_dataset`], plus [`DataError::TooLarge`] when the header announces more than
/// the limits allow (checked before any pixel is read).
pub fn load_idx_dataset_with(
    images_path: &Path,
    labels_path: &Path,
    limits: &Limits,
) -> Result<Dataset> {
    let labels = load_idx_labels_with(labels_path, limits)?;
    let mut input = Input::open_with(images_path, limits)?;
    let images = images_from_input(&mut input, Some((labels.len(), labels_path)), true)?;
    if images.n == 0 {
        return Err(DataError::Empty {
            context: format!("{} holds no images", images_path.display()),
        });
    }
    build_dataset(&images, &labels, images_path, limits)
}

/// Finds the first existing file among `<prefix>-<kind>-ubyte.gz`, `<prefix>-<kind>-ubyte`
/// and the dotted variants `<prefix>.<kind>-ubyte(.gz)`.
fn find_idx_file(dir: &Path, prefix: &str, kind: &str) -> Result<PathBuf> {
    let candidates = [
        format!("{prefix}-{kind}-ubyte.gz"),
        format!("{prefix}-{kind}-ubyte"),
        format!("{prefix}.{kind}-ubyte.gz"),
        format!("{prefix}.{kind}-ubyte"),
    ];
    for c in &candidates {
        let p = dir.join(c);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::Io {
        path: dir.join(&candidates[0]),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no IDX file found in {}: tried {}",
                dir.display(),
                candidates.join(", ")
            ),
        ),
    })
}

/// The image and label files of an MNIST split in `dir`, accepting the gzipped official names
/// (`train-images-idx3-ubyte.gz`), the raw ones (`train-images-idx3-ubyte`) and the dotted
/// variants (`train-images.idx3-ubyte`).
///
/// # Errors
/// [`DataError::Io`] (not found) naming the first candidate when no file exists.
pub fn mnist_files(dir: &Path, split: MnistSplit) -> Result<(PathBuf, PathBuf)> {
    let prefix = split.file_prefix();
    let images = find_idx_file(dir, &format!("{prefix}-images"), "idx3")?;
    let labels = find_idx_file(dir, &format!("{prefix}-labels"), "idx1")?;
    Ok((images, labels))
}

/// Loads one split of MNIST (or Fashion-MNIST, which uses the same file names) from `dir`:
/// features are the raw pixels as f64 (0..255, one row of `rows·cols` = 784 per image), labels
/// the class (digit) as f64. Apply [`crate::preprocess::scale_pixels`] and
/// [`crate::preprocess::normalize_rows`] for the paper's preprocessing.
///
/// # Errors
/// See [`mnist_files`] and [`load_idx_dataset`].
pub fn load_mnist(dir: &Path, split: MnistSplit) -> Result<Dataset> {
    load_mnist_with(dir, split, &Limits::from_env()?)
}

/// As [`load_mnist`], under explicit [`Limits`].
///
/// # Errors
/// As [`load_idx_dataset_with`].
pub fn load_mnist_with(dir: &Path, split: MnistSplit, limits: &Limits) -> Result<Dataset> {
    let (images, labels) = mnist_files(dir, split)?;
    load_idx_dataset_with(&images, &labels, limits)
}

/// Loads only the images of the given `classes` (file order kept; labels stay the class ids),
/// converting just those to f64: MNIST 3-vs-8 needs 12k of the 60k images, so the peak memory
/// is that of the subset, not of the whole file.
///
/// # Errors
/// As [`load_mnist`], plus [`DataError::UnknownClass`] for a class with no image.
pub fn load_mnist_classes(dir: &Path, split: MnistSplit, classes: &[u8]) -> Result<Dataset> {
    load_mnist_classes_with(dir, split, classes, &Limits::from_env()?)
}

/// One split of the paper's MNIST 3-vs-8 task (Guo et al. 2020, §5) from the official files in
/// `dir`: the images of digits 3 and 8 ([`load_mnist_classes`]), then
/// [`crate::preprocess::three_vs_eight`] with raw pixels in 0..255 (3 → +1, 8 → −1,
/// x/255 − 0.5, unit-norm rows; file order kept). 11 982 training and 1 984 test rows.
///
/// # Errors
/// As [`load_mnist_classes`] and [`crate::preprocess::three_vs_eight`].
pub fn load_mnist_3v8(dir: &Path, split: MnistSplit) -> Result<Dataset> {
    crate::preprocess::three_vs_eight(&load_mnist_classes(dir, split, &[3, 8])?, Some(255.0))
}

/// As [`load_mnist_classes`], under explicit [`Limits`].
///
/// # Errors
/// As [`load_mnist_classes`], plus [`DataError::TooLarge`] as in [`load_idx_dataset_with`]
/// (the dense check applies to the selected images).
pub fn load_mnist_classes_with(
    dir: &Path,
    split: MnistSplit,
    classes: &[u8],
    limits: &Limits,
) -> Result<Dataset> {
    let (images_path, labels_path) = mnist_files(dir, split)?;
    let images = load_idx_images_with(&images_path, limits)?;
    let labels = load_idx_labels_with(&labels_path, limits)?;
    if images.n != labels.len() {
        return Err(DataError::LengthMismatch {
            features: images.n,
            labels: labels.len(),
        });
    }
    if let Some(&c) = classes.iter().find(|c| !labels.contains(c)) {
        return Err(DataError::UnknownClass {
            class: f64::from(c),
        });
    }
    let size = images.rows * images.cols;
    let keep: Vec<usize> = (0..labels.len())
        .filter(|&i| classes.contains(&labels[i]))
        .collect();
    let mut pixels = Vec::with_capacity(keep.len() * size);
    for &i in &keep {
        pixels.extend_from_slice(&images.pixels[i * size..(i + 1) * size]);
    }
    let subset = IdxImages {
        n: keep.len(),
        rows: images.rows,
        cols: images.cols,
        pixels,
    };
    let subset_labels: Vec<u8> = keep.iter().map(|&i| labels[i]).collect();
    build_dataset(&subset, &subset_labels, &images_path, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_bytes(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [IDX_IMAGES_MAGIC, n, rows, cols] {
            v.extend(x.to_be_bytes());
        }
        v.extend(pixels);
        v
    }

    #[test]
    fn parses_a_small_image_file() {
        let px: Vec<u8> = (0..12).collect();
        let im = parse_idx_images(&images_bytes(3, 2, 2, &px)[..], "m").unwrap();
        assert_eq!((im.n, im.rows, im.cols), (3, 2, 2));
        assert_eq!(im.pixels, px);
        let ds = idx_dataset(&im, &[7, 8, 9]).unwrap();
        assert_eq!(ds.features()[(1, 3)], 7.0);
        assert_eq!(ds.labels()[2], 9.0);
    }

    #[test]
    fn huge_header_in_tiny_file_is_an_error() {
        let bytes = images_bytes(1_000, 28, 28, &[0u8; 1000]);
        let e = parse_idx_images(&bytes[..], "tiny").unwrap_err();
        assert!(matches!(&e, DataError::Format { what, .. } if what.contains("truncated")));
        // 784 GB announced: refused by the memory limit before anything is read.
        let bytes = images_bytes(1_000_000_000, 28, 28, &[0u8; 1000]);
        let e = parse_idx_images(&bytes[..], "tiny").unwrap_err();
        assert!(
            matches!(
                &e,
                DataError::TooLarge {
                    needed: Some(784_000_000_000),
                    ..
                }
            ),
            "{e:?}"
        );
        let bytes = images_bytes(u32::MAX, u32::MAX, u32::MAX, &[]);
        let e = parse_idx_images(&bytes[..], "tiny").unwrap_err();
        assert!(matches!(&e, DataError::Format { what, .. } if what.contains("overflow")));
    }

    #[test]
    fn zero_sized_images_are_rejected() {
        let e = parse_idx_images(&images_bytes(3, 0, 5, &[])[..], "z").unwrap_err();
        assert!(matches!(e, DataError::Format { .. }));
    }
}

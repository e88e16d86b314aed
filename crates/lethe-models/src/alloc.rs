//! Fallible allocation of the large dense buffers (d × d Hessians and Gram matrices, n × d
//! scaled copies of X, Cholesky factors).
//!
//! `DMatrix::zeros` and `faer::Mat::zeros` abort the whole process when the allocator says
//! no, so one oversized grid point would kill a sweep. These helpers reserve the exact
//! capacity first (`Vec::try_reserve_exact`, faer's `Mat::try_reserve`) and return
//! [`LinalgError::OutOfMemory`] instead; the matrix is then built from that buffer without a
//! copy, so the cost is the same single zero-fill as before.

use nalgebra::DMatrix;

use crate::linalg::LinalgError;

/// The error for a `rows × cols` buffer of f64 that could not be allocated.
fn out_of_memory(what: &'static str, rows: usize, cols: usize) -> LinalgError {
    LinalgError::OutOfMemory { what, rows, cols }
}

/// A zeroed `Vec<f64>` of `rows · cols` entries, or [`LinalgError::OutOfMemory`] naming
/// `what` when the size overflows or the allocator refuses.
pub fn try_zeroed_vec(
    what: &'static str,
    rows: usize,
    cols: usize,
) -> Result<Vec<f64>, LinalgError> {
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| out_of_memory(what, rows, cols))?;
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| out_of_memory(what, rows, cols))?;
    v.resize(len, 0.0);
    Ok(v)
}

/// A zeroed `rows × cols` nalgebra matrix, or [`LinalgError::OutOfMemory`] (see
/// [`try_zeroed_vec`]).
pub fn try_zeros(
    what: &'static str,
    rows: usize,
    cols: usize,
) -> Result<DMatrix<f64>, LinalgError> {
    let data = try_zeroed_vec(what, rows, cols)?;
    Ok(DMatrix::from_vec(rows, cols, data))
}

/// A zeroed `rows × cols` faer matrix, or [`LinalgError::OutOfMemory`].
pub fn try_faer_zeros(
    what: &'static str,
    rows: usize,
    cols: usize,
) -> Result<faer::Mat<f64>, LinalgError> {
    // faer's own size computation panics on overflow; check it first.
    rows.checked_mul(cols)
        .and_then(|len| len.checked_mul(std::mem::size_of::<f64>()))
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or_else(|| out_of_memory(what, rows, cols))?;
    let mut m = faer::Mat::<f64>::new();
    m.try_reserve(rows, cols)
        .map_err(|_| out_of_memory(what, rows, cols))?;
    // The capacity is there, so this only fills in the zeros.
    m.resize_with(rows, cols, |_, _| 0.0);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_are_zeroed_matrices() {
        assert_eq!(try_zeros("t", 3, 2).unwrap(), DMatrix::zeros(3, 2));
        let f = try_faer_zeros("t", 2, 3).unwrap();
        assert_eq!((f.nrows(), f.ncols()), (2, 3));
        assert!((0..2).all(|i| (0..3).all(|j| f[(i, j)] == 0.0)));
    }

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        // 2^28 × 2^28 f64 is 2^59 bytes: a real allocation request that the allocator refuses.
        for (r, c) in [(1 << 28, 1 << 28), (usize::MAX, 2)] {
            match try_zeros("Hessian", r, c) {
                Err(LinalgError::OutOfMemory { what, rows, cols }) => {
                    assert_eq!((what, rows, cols), ("Hessian", r, c));
                }
                other => panic!("expected OutOfMemory, got {:?}", other.map(|m| m.shape())),
            }
            assert!(matches!(
                try_faer_zeros("factor", r, c),
                Err(LinalgError::OutOfMemory { .. })
            ));
        }
    }
}

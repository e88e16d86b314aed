//! Preconditioned conjugate gradients for symmetric positive-definite systems.

use nalgebra::DVector;

/// How a CG solve ended.
#[derive(Clone, Debug, PartialEq)]
pub struct CgOutcome {
    /// The approximate solution x of A x = b.
    pub solution: DVector<f64>,
    /// Iterations taken (matrix-vector products).
    pub iterations: usize,
    /// ‖b − A x‖₂ as tracked by the recurrence (recompute it when it must be exact).
    pub residual_norm: f64,
    /// Whether ‖b − A x‖ ≤ tolerance was reached.
    pub converged: bool,
}

/// Solves `A x = b` by preconditioned conjugate gradients from `x0`.
///
/// `apply` computes A·v, `precondition` computes M⁻¹·r for an SPD preconditioner M ≈ A.
/// Stops when the recurrence residual is ≤ `tolerance` (absolute) or after `max_iterations`.
pub fn preconditioned_cg(
    mut apply: impl FnMut(&DVector<f64>) -> DVector<f64>,
    precondition: impl FnMut(&DVector<f64>) -> DVector<f64>,
    b: &DVector<f64>,
    x0: Option<DVector<f64>>,
    tolerance: f64,
    max_iterations: usize,
) -> CgOutcome {
    let (x, r) = match x0 {
        Some(x0) => {
            let r = b - apply(&x0);
            (x0, r)
        }
        None => (DVector::zeros(b.len()), b.clone()),
    };
    preconditioned_cg_from(apply, precondition, x, r, tolerance, max_iterations)
}

/// Preconditioned CG continued from an iterate `x` whose residual `r = b − A x` is already
/// known (saves one product when the caller computed it anyway).
pub fn preconditioned_cg_from(
    mut apply: impl FnMut(&DVector<f64>) -> DVector<f64>,
    mut precondition: impl FnMut(&DVector<f64>) -> DVector<f64>,
    mut x: DVector<f64>,
    mut r: DVector<f64>,
    tolerance: f64,
    max_iterations: usize,
) -> CgOutcome {
    let mut rnorm = r.norm();
    let mut iterations = 0;
    if rnorm <= tolerance {
        return CgOutcome {
            solution: x,
            iterations,
            residual_norm: rnorm,
            converged: true,
        };
    }
    let mut z = precondition(&r);
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    while iterations < max_iterations {
        let ap = apply(&p);
        let pap = p.dot(&ap);
        iterations += 1;
        if !(pap > 0.0) {
            break;
        }
        let alpha = rz / pap;
        x.axpy(alpha, &p, 1.0);
        r.axpy(-alpha, &ap, 1.0);
        rnorm = r.norm();
        if rnorm <= tolerance {
            return CgOutcome {
                solution: x,
                iterations,
                residual_norm: rnorm,
                converged: true,
            };
        }
        z = precondition(&r);
        let rz_new = r.dot(&z);
        let beta = rz_new / rz;
        rz = rz_new;
        p *= beta;
        p += &z;
    }
    CgOutcome {
        solution: x,
        iterations,
        residual_norm: rnorm,
        converged: rnorm <= tolerance,
    }
}

//! Independent recomputations the invariants compare a mechanism against: the exact gradient
//! residual ‖∇L_b(w; D′)‖ and retraining from scratch on the remaining rows.
//!
//! Nothing here trusts a number reported by the mechanism under test: residuals are recomputed
//! from the weights, the noise b, the labels and the active mask with
//! [`lethe_models::Objective`] (sum scale, b included), and references are fresh fits.

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, Objective, Stream};
use lethe_removal::{CertifiedModel, label_sets};
use nalgebra::{DMatrix, DVector};

use crate::invariants::InvariantFailure;

/// ‖∇L_b(w; D′)‖ of one binary model on the rows with `active[i]`, computed from scratch:
/// Σ_{i∈D′} ℓ′(wᵀx_i, y_i) x_i + λ|D′| w + b (the bᵀw term included, as DESIGN §1 requires).
///
/// # Errors
/// The objective's validation error (shapes, labels, λ, no active row) as text.
pub fn gradient_residual(
    x: &DMatrix<f64>,
    labels: &DVector<f64>,
    active: &[bool],
    params: &LinearModelParams,
    weights: &DVector<f64>,
    noise: &DVector<f64>,
) -> Result<f64, String> {
    let objective = Objective::from_parts(
        x,
        labels,
        Some(active),
        params.loss,
        params.lambda,
        Some(noise),
    )
    .map_err(|e| e.to_string())?;
    Ok(objective.gradient(weights).norm())
}

/// The class-summed exact residual Σ_k ‖∇L_{b_k}(w_k; D′)‖ of a certified model, recomputed
/// from its weights, noise and remaining rows (the quantity β must dominate).
///
/// # Errors
/// An [`InvariantFailure`] if the objective cannot be built (which a valid model never causes).
pub fn certified_exact_residual(model: &CertifiedModel) -> Result<f64, InvariantFailure> {
    let params = &model.params().model;
    let mut total = 0.0;
    for class in model.class_models() {
        total += gradient_residual(
            model.data().features(),
            &class.labels,
            model.active(),
            params,
            &class.weights,
            &class.noise,
        )
        .map_err(|e| {
            InvariantFailure::new(
                "exact residual",
                "the objective of the remaining rows could not be built",
                "a valid objective",
                e,
            )
        })?;
    }
    Ok(total)
}

/// A scale for rounding tolerances of residual comparisons, summed over class models:
/// 1 + |D′|(1 + ‖w‖ + max|y|) + λ|D′|‖w‖ + ‖b‖. Each term bounds one part of the gradient sum
/// or the rounding of the margins wᵀx_i (‖x_i‖ ≤ 1) it is computed from.
pub fn residual_scale(model: &CertifiedModel) -> f64 {
    let n = model.n_remaining() as f64;
    let lambda = model.params().model.lambda;
    model
        .class_models()
        .iter()
        .map(|c| {
            let w = c.weights.norm();
            let y = c.labels.amax();
            1.0 + n * (1.0 + w + y) + lambda * n * w + c.noise.norm()
        })
        .sum()
}

/// Weights (d × K, one column per class model as [`label_sets`] orders them) of retraining
/// from scratch on the rows with `active[i]`, with the given perturbations (one b per class
/// model). With the mechanism's own b this is the deterministic reference of
/// "squared-loss removal equals retraining".
///
/// # Errors
/// The training error as text (labels, λ, convergence, noise count).
pub fn retrain_weights(
    params: &LinearModelParams,
    data: &Dataset,
    active: &[bool],
    noise: &[DVector<f64>],
) -> Result<DMatrix<f64>, String> {
    let sets = label_sets(data, params.loss).map_err(|e| e.to_string())?;
    if sets.len() != noise.len() {
        return Err(format!(
            "{} noise vectors for {} class models",
            noise.len(),
            sets.len()
        ));
    }
    let mut columns = Vec::with_capacity(sets.len());
    for ((_, labels), b) in sets.iter().zip(noise) {
        let m = params
            .fit_parts(data.features(), labels, Some(active), b.clone(), None)
            .map_err(|e| e.to_string())?;
        columns.push(m.weights);
    }
    Ok(DMatrix::from_columns(&columns))
}

/// Weights of retraining on the rows with `active[i]` with a **fresh** b per class model, drawn
/// from the training streams of `seed` (the distribution certified removal is compared to).
///
/// # Errors
/// As [`retrain_weights`], plus noise-sampling errors.
pub fn retrain_fresh(
    params: &LinearModelParams,
    data: &Dataset,
    active: &[bool],
    seed: u64,
) -> Result<DMatrix<f64>, String> {
    let k = label_sets(data, params.loss)
        .map_err(|e| e.to_string())?
        .len();
    let noise = (0..k)
        .map(|c| {
            params
                .draw_noise(
                    data.n_features(),
                    seed,
                    Stream::TrainingNoise { class: c as u32 },
                )
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    retrain_weights(params, data, active, &noise)
}

/// The perturbations b_k a certified model currently uses, one per class model.
pub fn certified_noise(model: &CertifiedModel) -> Vec<DVector<f64>> {
    model
        .class_models()
        .iter()
        .map(|c| c.noise.clone())
        .collect()
}

/// The largest absolute entry of `a − b` (∞ when the shapes differ).
pub fn max_abs_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

//! Limited-memory BFGS with a weak-Wolfe (bisection) line search.

use std::collections::VecDeque;

use nalgebra::DVector;

use super::newton::within_rounding;
use super::{SolverOptions, Stats};
use crate::error::Result;
use crate::objective::Objective;

/// Number of (s, y) pairs kept.
const MEMORY: usize = 10;
const C1: f64 = 1e-4;
const C2: f64 = 0.9;

pub(super) fn minimize(
    objective: &Objective<'_>,
    mut w: DVector<f64>,
    options: &SolverOptions,
    stats: &mut Stats,
) -> Result<(DVector<f64>, f64)> {
    let mut z = objective.margins(&w);
    let mut f = objective.value_from_margins(&w, &z);
    let mut g = objective.gradient_from_margins(&w, &z);
    let mut gnorm = g.norm();
    let mut history: VecDeque<(DVector<f64>, DVector<f64>, f64)> = VecDeque::new();

    while gnorm > options.tolerance && stats.iterations < options.max_iterations {
        stats.iteration(options.kind, gnorm);
        stats.iterations += 1;
        let mut p = two_loop(&g, &history);
        let mut slope = g.dot(&p);
        if !(slope < 0.0) {
            history.clear();
            p = -&g / gnorm;
            slope = g.dot(&p);
        }
        let initial_t = if history.is_empty() {
            (1.0 / gnorm).min(1.0)
        } else {
            1.0
        };
        let Some((t, w_new, z_new, f_new, g_new)) =
            wolfe_search(objective, &w, f, gnorm, &p, slope, initial_t)
        else {
            if history.is_empty() {
                break;
            }
            history.clear();
            continue;
        };
        let _ = t;
        let s = &w_new - &w;
        let y = &g_new - &g;
        let sy = s.dot(&y);
        if sy > 1e-16 * s.norm() * y.norm() {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        w = w_new;
        z = z_new;
        f = f_new;
        g = g_new;
        gnorm = g.norm();
    }
    let _ = z;
    Ok((w, gnorm))
}

/// The L-BFGS two-loop recursion: returns −H_k g.
fn two_loop(
    g: &DVector<f64>,
    history: &VecDeque<(DVector<f64>, DVector<f64>, f64)>,
) -> DVector<f64> {
    let mut q = g.clone();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let a = rho * s.dot(&q);
        q.axpy(-a, y, 1.0);
        alphas.push(a);
    }
    if let Some((s, y, _)) = history.back() {
        q *= s.dot(y) / y.dot(y);
    }
    for ((s, y, rho), a) in history.iter().zip(alphas.into_iter().rev()) {
        let b = rho * y.dot(&q);
        q.axpy(a - b, s, 1.0);
    }
    -q
}

type Trial = (f64, DVector<f64>, DVector<f64>, f64, DVector<f64>);

fn wolfe_search(
    objective: &Objective<'_>,
    w: &DVector<f64>,
    f: f64,
    gnorm: f64,
    p: &DVector<f64>,
    slope: f64,
    initial_t: f64,
) -> Option<Trial> {
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let mut t = initial_t;
    for _ in 0..60 {
        let w_new = w + p * t;
        let z_new = objective.margins(&w_new);
        let f_new = objective.value_from_margins(&w_new, &z_new);
        if f_new > f + C1 * t * slope {
            if within_rounding(f_new, f) {
                let g_new = objective.gradient_from_margins(&w_new, &z_new);
                if g_new.norm() < gnorm {
                    return Some((t, w_new, z_new, f_new, g_new));
                }
            }
            hi = t;
        } else {
            let g_new = objective.gradient_from_margins(&w_new, &z_new);
            if g_new.dot(p) < C2 * slope {
                lo = t;
            } else {
                return Some((t, w_new, z_new, f_new, g_new));
            }
        }
        t = if hi.is_finite() {
            0.5 * (lo + hi)
        } else {
            2.0 * lo
        };
        if hi.is_finite() && hi - lo < 1e-16 * hi {
            break;
        }
    }
    None
}

//! Property tests of the losses, the perturbed objective and the solvers (DESIGN.md §1).
//!
//! - ℓ′ and ℓ″ of every [`LossKind`] against central finite differences, ℓ″ ≥ 0, |ℓ′| ≤ C and
//!   the γ-Lipschitz continuity of ℓ″ that the removal bounds rely on;
//! - the objective (sum form, with b, with and without an active mask): gradient against finite
//!   differences of the value, dense Hessian against finite differences of the gradient, and the
//!   Hessian-vector product against the dense Hessian;
//! - the masked objective equals the objective on the copied `Dataset::without` data (value,
//!   gradient, Hessian): removal evaluates D ∖ B through the mask;
//! - every solver converges to ‖∇L_b‖ ≤ 1e-9 and all three agree; squared loss equals its
//!   closed form; seeded training is bit-reproducible.

use lethe_data::Dataset;
use lethe_models::{
    LinearModelParams, Loss, LossKind, Objective, SolverKind, SolverOptions, Stream,
};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const LOSSES: [LossKind; 3] = [
    LossKind::Logistic,
    LossKind::LogisticTight,
    LossKind::Squared,
];
const SOLVERS: [SolverKind; 3] = [SolverKind::Newton, SolverKind::NewtonPcg, SolverKind::Lbfgs];

fn loss_kind() -> impl Strategy<Value = LossKind> {
    prop_oneof![
        Just(LossKind::Logistic),
        Just(LossKind::LogisticTight),
        Just(LossKind::Squared)
    ]
}

fn sign() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), Just(-1.0)]
}

/// A label for `loss`: ±1 for the logistic losses, the real `real` for the squared loss.
fn label_for(loss: LossKind, sign: f64, real: f64) -> f64 {
    if loss.needs_binary_labels() {
        sign
    } else {
        real
    }
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

/// Central difference (f(z + h) − f(z − h)) / 2h with a step relative to |z|.
fn central(f: impl Fn(f64) -> f64, z: f64) -> f64 {
    let h = 1e-5 * z.abs().max(1.0);
    (f(z + h) - f(z - h)) / (2.0 * h)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn loss_derivatives_match_finite_differences(
        loss in loss_kind(),
        z in -30.0f64..30.0,
        s in sign(),
        real in -5.0f64..5.0,
    ) {
        let y = label_for(loss, s, real);
        let d1 = loss.derivative(z, y);
        let d2 = loss.second_derivative(z, y);
        let fd1 = central(|t| loss.value(t, y), z);
        let fd2 = central(|t| loss.derivative(t, y), z);
        // Truncation error h²/6·|ℓ‴| ≤ 1e-9 and rounding ≲ 1e-16·|ℓ|/h ≤ 1e-9 on this range.
        prop_assert!((fd1 - d1).abs() <= 1e-7 * (1.0 + d1.abs()), "ℓ′: {d1} vs fd {fd1}");
        prop_assert!((fd2 - d2).abs() <= 1e-7 * (1.0 + d2.abs()), "ℓ″: {d2} vs fd {fd2}");
        prop_assert!(d2 >= 0.0, "ℓ″ = {d2} < 0");
        prop_assert!(loss.value(z, y) >= 0.0);
        if let Some(c) = loss.gradient_bound() {
            prop_assert!(d1.abs() <= c, "|ℓ′| = {} > C = {c}", d1.abs());
        }
    }

    #[test]
    fn squared_loss_derivatives_are_exact(z in -30.0f64..30.0, y in -30.0f64..30.0) {
        let l = LossKind::Squared;
        prop_assert_eq!(l.value(z, y), (z - y) * (z - y));
        prop_assert_eq!(l.derivative(z, y), 2.0 * (z - y));
        prop_assert_eq!(l.second_derivative(z, y), 2.0);
    }

    #[test]
    fn curvature_is_gamma_lipschitz(
        loss in loss_kind(),
        a in -30.0f64..30.0,
        b in -30.0f64..30.0,
        // Nearby pairs probe the steepest slope, where a loose γ would show.
        near in -1e-3f64..1e-3,
        s in sign(),
        real in -5.0f64..5.0,
    ) {
        let y = label_for(loss, s, real);
        let gamma = loss.gamma();
        for (p, q) in [(a, b), (a, a + near)] {
            let diff = (loss.second_derivative(p, y) - loss.second_derivative(q, y)).abs();
            prop_assert!(
                diff <= gamma * (p - q).abs() + 1e-15,
                "|ℓ″({p}) − ℓ″({q})| = {diff} > γ|a − b| = {}", gamma * (p - q).abs()
            );
        }
    }
}

#[test]
fn tight_gamma_is_attained_and_paper_gamma_is_loose() {
    // The slope of s(1 − s) peaks at z = ln(2 + √3); γ_tight must be the sup, not below it.
    let z0 = (2.0 + 3f64.sqrt()).ln();
    let h = 1e-4;
    for loss in [LossKind::Logistic, LossKind::LogisticTight] {
        for y in [1.0, -1.0] {
            // ℓ″(z, −1) = ℓ″(−z, 1): the steepest points are ±z0.
            let (a, b) = (y * (z0 - h), y * (z0 + h));
            let diff = (loss.second_derivative(a, y) - loss.second_derivative(b, y)).abs();
            assert!(diff <= loss.gamma() * 2.0 * h + 1e-15, "{loss:?}: {diff}");
            if loss == LossKind::LogisticTight {
                // Attained up to the O(h²) curvature of the slope: γ_tight is the sup.
                assert!(diff >= loss.gamma() * 2.0 * h * (1.0 - 1e-6), "{diff}");
            }
        }
    }
    assert_eq!(LossKind::Logistic.gamma(), 0.25);
    assert_eq!(LossKind::Squared.gamma(), 0.0);
    assert_eq!(LossKind::Squared.gradient_bound(), None);
    for loss in LOSSES {
        // Every loss survives huge margins without NaN.
        for z in [-1e6, -745.0, 0.0, 745.0, 1e6] {
            for y in [-1.0, 1.0] {
                assert!(loss.value(z, y).is_finite() || loss == LossKind::Squared);
                assert!(loss.derivative(z, y).is_finite());
                assert!(loss.second_derivative(z, y).is_finite());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random problems
// ---------------------------------------------------------------------------------------------

/// A random objective: unit-norm rows, labels fitting the loss, λ, b, a point w, an active mask
/// with at least one active row.
#[derive(Clone, Debug)]
struct Problem {
    data: Dataset,
    loss: LossKind,
    lambda: f64,
    b: DVector<f64>,
    w: DVector<f64>,
    mask: Vec<bool>,
}

impl Problem {
    fn objective(&self, masked: bool) -> Objective<'_> {
        if masked {
            Objective::masked(
                &self.data,
                &self.mask,
                self.loss,
                self.lambda,
                Some(&self.b),
            )
        } else {
            Objective::new(&self.data, self.loss, self.lambda, Some(&self.b))
        }
        .unwrap()
    }

    fn removed(&self) -> Vec<usize> {
        (0..self.mask.len()).filter(|&i| !self.mask[i]).collect()
    }
}

/// Rows drawn uniformly in [−1, 1]^d and scaled to unit norm (a near-zero row becomes e₀).
fn unit_rows(raw: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    raw.into_iter()
        .map(|r| {
            let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm < 1e-3 {
                let mut e = vec![0.0; r.len()];
                e[0] = 1.0;
                e
            } else {
                r.iter().map(|v| v / norm).collect()
            }
        })
        .collect()
}

/// Problems with `n ∈ n_range`, `d ≤ max_d`, λ log-uniform in [10^log_lambda.0, 10^log_lambda.1],
/// b uniform in [−b_scale, b_scale]^d, w uniform in [−3, 3]^d.
fn problem(
    n_range: std::ops::RangeInclusive<usize>,
    max_d: usize,
    log_lambda: (f64, f64),
    b_scale: f64,
) -> impl Strategy<Value = Problem> {
    (1..=max_d, n_range, loss_kind())
        .prop_flat_map(move |(d, n, loss)| {
            (
                prop::collection::vec(prop::collection::vec(-1.0f64..1.0, d), n),
                prop::collection::vec(sign(), n),
                prop::collection::vec(-2.0f64..2.0, n),
                prop::collection::vec(-b_scale..=b_scale, d),
                prop::collection::vec(-3.0f64..3.0, d),
                prop::collection::vec(prop::bool::weighted(0.75), n),
                log_lambda.0..=log_lambda.1,
                Just(loss),
            )
        })
        .prop_map(|(raw, signs, reals, b, w, mut mask, log_lambda, loss)| {
            let labels = signs
                .iter()
                .zip(&reals)
                .map(|(&s, &r)| label_for(loss, s, r))
                .collect();
            if !mask.iter().any(|a| *a) {
                mask[0] = true;
            }
            Problem {
                data: Dataset::from_rows(&unit_rows(raw), labels).unwrap(),
                loss,
                lambda: 10f64.powf(log_lambda),
                b: DVector::from_vec(b),
                w: DVector::from_vec(w),
                mask,
            }
        })
}

fn small_problem() -> impl Strategy<Value = Problem> {
    problem(1..=40, 6, (-3.0, 0.0), 2.0)
}

/// Central-difference gradient of `f` at `w` (step relative to |w_i|).
fn fd_gradient(f: impl Fn(&DVector<f64>) -> f64, w: &DVector<f64>) -> DVector<f64> {
    DVector::from_fn(w.len(), |i, _| {
        let h = 1e-5 * w[i].abs().max(1.0);
        let (mut plus, mut minus) = (w.clone(), w.clone());
        plus[i] += h;
        minus[i] -= h;
        (f(&plus) - f(&minus)) / (2.0 * h)
    })
}

/// Central-difference Jacobian of `g` at `w`: column j is ∂g/∂w_j.
fn fd_jacobian(g: impl Fn(&DVector<f64>) -> DVector<f64>, w: &DVector<f64>) -> DMatrix<f64> {
    let d = w.len();
    let mut out = DMatrix::zeros(d, d);
    for j in 0..d {
        let h = 1e-5 * w[j].abs().max(1.0);
        let (mut plus, mut minus) = (w.clone(), w.clone());
        plus[j] += h;
        minus[j] -= h;
        out.set_column(j, &((g(&plus) - g(&minus)) / (2.0 * h)));
    }
    out
}

fn rel_close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    (a - b).amax() <= tol * (1.0 + a.amax().max(b.amax()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn objective_derivatives_match_finite_differences(
        p in small_problem(),
        masked in any::<bool>(),
        v in prop::collection::vec(-1.0f64..1.0, 6),
    ) {
        let obj = p.objective(masked);
        let w = &p.w;
        let f = obj.value(w);
        let g = obj.gradient(w);
        prop_assert!(f.is_finite() && g.iter().all(|x| x.is_finite()));

        // Value rounding ≈ 1e-16·Σ|terms| ≤ 1e-12·(1 + |f|), divided by 2h = 2e-5.
        let fd_g = fd_gradient(|u| obj.value(u), w);
        for i in 0..g.len() {
            prop_assert!(
                (fd_g[i] - g[i]).abs() <= 1e-7 * (1.0 + f.abs()),
                "∂L/∂w_{i}: {} vs fd {}", g[i], fd_g[i]
            );
        }

        let h = obj.hessian(w).unwrap();
        prop_assert_eq!(h.shape(), (g.len(), g.len()));
        prop_assert_eq!(&h, &h.transpose(), "Hessian not symmetric");
        let fd_h = fd_jacobian(|u| obj.gradient(u), w);
        prop_assert!(
            rel_close(&h, &fd_h, 1e-7),
            "Hessian {h} vs fd {fd_h}"
        );
        // λ n_D I is in the Hessian: its smallest eigenvalue is at least λ n_D.
        let min_eig = h.clone().symmetric_eigenvalues().min();
        let ridge = p.lambda * obj.n_active() as f64;
        prop_assert!(min_eig >= ridge * (1.0 - 1e-10), "λ_min {min_eig} < λn {ridge}");

        // Hessian-vector product equals the dense Hessian times v, relative to ‖H‖_F‖v‖.
        let v = DVector::from_iterator(g.len(), v.into_iter().take(g.len()));
        let curv = obj.curvatures(&obj.margins(w));
        let hv = obj.hessian_vector(&curv, &v);
        let dense = &h * &v;
        prop_assert!(
            (&hv - &dense).norm() <= 1e-10 * h.norm() * v.norm() + 1e-300,
            "Hv {hv} vs H·v {dense}"
        );
        prop_assert_eq!(obj.hessian_from_curvatures(&curv).unwrap(), h);
    }

    #[test]
    fn objective_is_the_formula_of_the_design(p in small_problem(), masked in any::<bool>()) {
        // L_b(w) = Σ_{active} ℓ(x_iᵀw, y_i) + (λ n_D / 2)‖w‖² + bᵀw, evaluated row by row.
        let obj = p.objective(masked);
        let (x, y) = (p.data.features(), p.data.labels());
        let mut sum = 0.0;
        let mut grad = DVector::zeros(p.w.len());
        let mut n_d = 0usize;
        for i in 0..p.data.n_samples() {
            if masked && !p.mask[i] {
                continue;
            }
            n_d += 1;
            let z = (x.row(i) * &p.w)[0];
            sum += p.loss.value(z, y[i]);
            grad += x.row(i).transpose() * p.loss.derivative(z, y[i]);
        }
        prop_assert_eq!(obj.n_active(), n_d);
        let reg = p.lambda * n_d as f64;
        let value = sum + 0.5 * reg * p.w.norm_squared() + p.b.dot(&p.w);
        let gradient = grad + &p.w * reg + &p.b;
        let f = obj.value(&p.w);
        prop_assert!((f - value).abs() <= 1e-12 * (1.0 + value.abs()), "{f} vs {value}");
        let g = obj.gradient(&p.w);
        prop_assert!((&g - &gradient).amax() <= 1e-12 * (1.0 + gradient.amax()));
        // b enters value and gradient but not the Hessian.
        let no_b = if masked {
            Objective::masked(&p.data, &p.mask, p.loss, p.lambda, None)
        } else {
            Objective::new(&p.data, p.loss, p.lambda, None)
        }
        .unwrap();
        prop_assert!((&g - no_b.gradient(&p.w) - &p.b).amax() <= 1e-12 * (1.0 + g.amax()));
        prop_assert_eq!(no_b.hessian(&p.w).unwrap(), obj.hessian(&p.w).unwrap());
    }

    #[test]
    fn masked_objective_equals_objective_on_the_copy(p in small_problem()) {
        // What removal relies on: the objective on D with the rows of B masked out is the
        // objective on D ∖ B, including the regulariser λ(n − m)/2 ‖w‖².
        let masked = p.objective(true);
        let copy = p.data.without(&p.removed()).unwrap();
        prop_assert_eq!(copy.n_samples(), masked.n_active());
        let plain = Objective::new(&copy, p.loss, p.lambda, Some(&p.b)).unwrap();
        let w = &p.w;

        let (fm, fp) = (masked.value(w), plain.value(w));
        prop_assert!((fm - fp).abs() <= 1e-12 * (1.0 + fp.abs()), "value {fm} vs {fp}");
        let (gm, gp) = (masked.gradient(w), plain.gradient(w));
        prop_assert!((&gm - &gp).amax() <= 1e-12 * (1.0 + gp.amax()), "gradient {gm} vs {gp}");
        let (hm, hp) = (masked.hessian(w).unwrap(), plain.hessian(w).unwrap());
        prop_assert!(rel_close(&hm, &hp, 1e-12), "Hessian {hm} vs {hp}");

        // Training on the mask and on the copy gives the same model.
        let mut params = LinearModelParams {
            loss: p.loss,
            ..LinearModelParams::logistic(p.lambda, 0.0)
        };
        params.solver.tolerance = 1e-10;
        let on_mask = params.fit_masked(&p.data, Some(&p.mask), p.b.clone(), None).unwrap();
        let on_copy = params.fit_with_noise(&copy, p.b.clone()).unwrap();
        let bound = 2e-10 / (p.lambda * copy.n_samples() as f64);
        prop_assert!(
            (&on_mask.weights - &on_copy.weights).norm() <= bound * (1.0 + 1e-6),
            "{} vs {}", on_mask.weights, on_copy.weights
        );
        // The masked rows really are ignored: changing their labels changes nothing.
        if copy.n_samples() < p.data.n_samples() {
            let flipped = p
                .data
                .with_labels(DVector::from_fn(p.data.n_samples(), |i, _| {
                    let y = p.data.labels()[i];
                    if p.mask[i] { y } else { -y }
                }))
                .unwrap();
            let other =
                Objective::masked(&flipped, &p.mask, p.loss, p.lambda, Some(&p.b)).unwrap();
            prop_assert_eq!(other.value(w), fm);
            prop_assert_eq!(other.gradient(w), gm);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Solvers
// ---------------------------------------------------------------------------------------------

fn params_for(loss: LossKind, lambda: f64, kind: SolverKind, tolerance: f64) -> LinearModelParams {
    LinearModelParams {
        loss,
        solver: SolverOptions {
            kind,
            tolerance,
            max_iterations: 1000,
        },
        ..LinearModelParams::logistic(lambda, 0.0)
    }
}

/// Well-posed problems: n ≥ 20 and λ ≥ 1e-3, so that λn ≥ 0.02 and two points with
/// ‖∇L_b‖ ≤ 1e-9 are within 2e-9/(λn) ≤ 1e-7 of each other (L_b is λn-strongly convex).
fn well_posed() -> impl Strategy<Value = Problem> {
    problem(20..=40, 6, (-3.0, 0.0), 1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_solver_converges_and_they_agree(p in well_posed()) {
        let tol = 1e-9;
        let mut fits = Vec::new();
        for kind in SOLVERS {
            let model = params_for(p.loss, p.lambda, kind, tol)
                .fit_with_noise(&p.data, p.b.clone())
                .unwrap();
            // r₀ is the exact ‖∇L_b‖ (b included) at the returned weights.
            let obj = p.objective(false);
            let residual = obj.gradient(&model.weights).norm();
            prop_assert!(residual <= tol, "{kind:?}: ‖∇L_b‖ = {residual}");
            prop_assert_eq!(model.report.residual_norm, residual);
            prop_assert_eq!(model.report.solver.as_str(), kind.name());
            prop_assert_eq!(&model.noise, &p.b);
            fits.push((kind, model.weights));
        }
        let bound = 2.0 * tol / (p.lambda * p.data.n_samples() as f64);
        prop_assert!(bound <= 1e-7 * (1.0 + 1e-12));
        for (ka, wa) in &fits {
            for (kb, wb) in &fits {
                prop_assert!(
                    (wa - wb).norm() <= bound * (1.0 + 1e-6) && (wa - wb).amax() <= 1e-7,
                    "{ka:?} {wa} vs {kb:?} {wb}"
                );
            }
        }
    }

    #[test]
    fn squared_loss_equals_its_closed_form(p in well_posed(), kind_index in 0usize..3) {
        // ∇L_b = 2Xᵀ(Xw − y) + λnw + b = 0  ⇔  (2XᵀX + λnI) w = 2Xᵀy − b.
        let data = p.data.with_labels(DVector::from_fn(p.data.n_samples(), |i, _| {
            // Reuse the data's labels when they are real, else make real ones from them.
            p.data.labels()[i] * (1.0 + 0.1 * i as f64)
        })).unwrap();
        let kind = SOLVERS[kind_index];
        let model = params_for(LossKind::Squared, p.lambda, kind, 1e-11)
            .fit_with_noise(&data, p.b.clone())
            .unwrap();
        let (x, y) = (data.features(), data.labels());
        let n = data.n_samples() as f64;
        let d = data.n_features();
        let a = x.transpose() * x * 2.0 + DMatrix::identity(d, d) * (p.lambda * n);
        let rhs = x.transpose() * y * 2.0 - &p.b;
        let exact = a.cholesky().unwrap().solve(&rhs);
        prop_assert!(
            (&model.weights - &exact).amax() <= 1e-9 * (1.0 + exact.amax()),
            "{kind:?}: {} vs {exact}", model.weights
        );
    }

    #[test]
    fn same_seed_same_bits_and_different_seeds_different_noise(
        p in well_posed(),
        seed in any::<u64>(),
        other in any::<u64>(),
        sigma in 0.1f64..10.0,
        kind_index in 0usize..3,
    ) {
        prop_assume!(seed != other);
        let mut params = params_for(p.loss, p.lambda, SOLVERS[kind_index], 1e-9);
        params.sigma = sigma;
        let a = params.fit_seeded(&p.data, seed).unwrap();
        let b = params.fit_seeded(&p.data, seed).unwrap();
        let bits = |v: &DVector<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&a.weights), bits(&b.weights));
        prop_assert_eq!(bits(&a.noise), bits(&b.noise));
        prop_assert_eq!(a.report.iterations, b.report.iterations);
        // The training noise is the documented stream of the seed.
        let d = p.data.n_features();
        let drawn = params.draw_noise(d, seed, Stream::TrainingNoise { class: 0 }).unwrap();
        prop_assert_eq!(bits(&drawn), bits(&a.noise));
        let c = params.fit_seeded(&p.data, other).unwrap();
        prop_assert_ne!(bits(&a.noise), bits(&c.noise));
        // A retraining draws a fresh b, different from the training one.
        let fresh = params
            .draw_noise(d, seed, Stream::RetrainNoise { class: 0, retrain: 1 })
            .unwrap();
        prop_assert_ne!(bits(&a.noise), bits(&fresh));
    }
}

#[test]
fn warm_start_reaches_the_same_optimum() {
    // Starting from the optimum takes zero iterations; starting elsewhere reaches it.
    let p = problem(30..=30, 5, (-2.0, -2.0), 1.0);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let p = p.new_tree(&mut runner).unwrap().current();
    for kind in SOLVERS {
        let params = params_for(LossKind::Logistic, p.lambda, kind, 1e-10);
        let data = p
            .data
            .with_labels(p.data.labels().map(|y| y.signum()))
            .unwrap();
        let cold = params.fit_with_noise(&data, p.b.clone()).unwrap();
        let warm = params
            .fit_masked(&data, None, p.b.clone(), Some(cold.weights.clone()))
            .unwrap();
        assert_eq!(warm.report.iterations, 0, "{kind:?}");
        assert_eq!(warm.weights, cold.weights);
        let elsewhere = params
            .fit_masked(
                &data,
                None,
                p.b.clone(),
                Some(DVector::from_element(data.n_features(), 3.0)),
            )
            .unwrap();
        assert!(
            (&elsewhere.weights - &cold.weights).amax() < 1e-9,
            "{kind:?}"
        );
    }
}

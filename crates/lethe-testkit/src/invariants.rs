//! Reusable invariants of removal mechanisms, as plain functions.
//!
//! Each check returns `Ok(())` or an [`InvariantFailure`] that says which invariant broke, at
//! which request, what was compared, what was expected and what was found. They panic on
//! nothing, so they work inside `proptest!` (`prop_assert!(check(..).is_ok())` or `?` after
//! `.map_err(|f| TestCaseError::fail(f.to_string()))`; see [`crate::prop_check`]), in plain
//! `#[test]`s (`check(..).unwrap()`, whose panic message is the failure's `Display`) and in
//! a user's own harness.
//!
//! | invariant | function | mechanisms |
//! |---|---|---|
//! | requests do what they say (active rows, outcome numbering) | [`run_requests`] | any [`RemovalStrategy`] |
//! | bad requests are errors and leave the model untouched | [`check_bad_requests_untouched`] | any |
//! | same seed ⇒ identical trajectory | [`check_same_seed_same_trajectory`] | any (a builder closure) |
//! | removal equals a reference (e.g. squared loss = retraining with the same b) | [`check_matches_reference`], [`check_squared_loss_equals_retraining`] | any with weights |
//! | exact residual ≤ the claimed certificate β | [`check_residual_within_certificate`], [`check_step_residual`] | [`CertifiedModel`] |
//! | certificate arithmetic (β accounting, ε spent) | [`check_certificate_consistency`] | any [`Certificate`] |
//! | bound order (tight ≤ data-dependent; rows ‖x‖ ≤ 1) | [`check_bound_order`] | any [`Certificate`] |
//! | squared loss: removal equals retraining, up to the certificate | [`check_certified_squared_loss`] | [`CertifiedModel`] |
//! | β never exceeds the budget in a released model | [`check_budget_respected`] | any [`Certificate`]s |
//! | all of the certificate checks along a sequence | [`check_certified_sequence`] | [`CertifiedModel`] |

use std::fmt;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, Loss};
use lethe_removal::{
    BudgetPolicy, Certificate, CertifiedModel, RemovalError, RemovalOutcome, RemovalStrategy,
};
use nalgebra::{DMatrix, DVector};

use crate::reference::{
    certified_exact_residual, certified_noise, max_abs_diff, residual_scale, retrain_weights,
};

/// A broken invariant: which one, at which request, and what was expected versus found.
#[derive(Clone, Debug, PartialEq)]
pub struct InvariantFailure {
    /// The invariant's short name (e.g. `"residual within certificate"`).
    pub invariant: &'static str,
    /// The 1-based request number the failure was found at (`None`: before any request or
    /// not tied to one).
    pub request: Option<usize>,
    /// What was compared.
    pub what: String,
    /// What the invariant requires.
    pub expected: String,
    /// What was found.
    pub got: String,
}

impl InvariantFailure {
    /// A failure not tied to a request (attach one with [`InvariantFailure::at_request`]).
    pub fn new(
        invariant: &'static str,
        what: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Self {
            invariant,
            request: None,
            what: what.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// The same failure, tied to the 1-based request number `request`.
    pub fn at_request(mut self, request: usize) -> Self {
        self.request = Some(request);
        self
    }
}

impl fmt::Display for InvariantFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant `{}` failed", self.invariant)?;
        if let Some(r) = self.request {
            write!(f, " at request {r}")?;
        }
        write!(
            f,
            ": {}: expected {}, got {}",
            self.what, self.expected, self.got
        )
    }
}

impl std::error::Error for InvariantFailure {}

/// What every check returns.
pub type CheckResult<T = ()> = Result<T, InvariantFailure>;

fn fail(
    invariant: &'static str,
    what: impl Into<String>,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> InvariantFailure {
    InvariantFailure::new(invariant, what, expected, got)
}

// ---------------------------------------------------------------------------------------------
// Running requests

/// Applies `requests` in order, checking after each that the request succeeded, that exactly
/// the requested rows left the active set, and that the outcome names the request (1-based,
/// consecutive) and its rows. Returns the outcomes.
///
/// # Errors
/// `"requests do what they say"` at the first request that fails or misbehaves.
pub fn run_requests(
    strategy: &mut dyn RemovalStrategy,
    requests: &[Vec<usize>],
) -> CheckResult<Vec<RemovalOutcome>> {
    const NAME: &str = "requests do what they say";
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut first_number = None;
    for (k, request) in requests.iter().enumerate() {
        let before = strategy.active().to_vec();
        let outcome = strategy.remove(request).map_err(|e| {
            fail(
                NAME,
                format!("request {request:?} failed"),
                "Ok(outcome)",
                format!("Err({e})"),
            )
            .at_request(k + 1)
        })?;
        let after = strategy.active();
        let mut expected = before.clone();
        for &i in request {
            expected[i] = false;
        }
        if after != expected.as_slice() {
            let wrong: Vec<usize> = (0..expected.len())
                .filter(|&i| after.get(i) != Some(&expected[i]))
                .collect();
            return Err(fail(
                NAME,
                "active rows after the request",
                format!("exactly the rows {request:?} removed"),
                format!("rows {wrong:?} in the wrong state"),
            )
            .at_request(k + 1));
        }
        let first = *first_number.get_or_insert(outcome.request.saturating_sub(k));
        if outcome.request != first + k {
            return Err(fail(
                NAME,
                "request number in the outcome",
                format!("{} (consecutive)", first + k),
                outcome.request.to_string(),
            )
            .at_request(k + 1));
        }
        if outcome.indices != *request {
            return Err(fail(
                NAME,
                "rows named in the outcome",
                format!("{request:?}"),
                format!("{:?}", outcome.indices),
            )
            .at_request(k + 1));
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

// ---------------------------------------------------------------------------------------------
// Bad requests

/// The kinds of invalid request every mechanism must refuse without changing anything
/// (the rules of [`lethe_removal::validate_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRequestKind {
    /// No rows.
    Empty,
    /// A row index ≥ n (alone, or next to a valid row: the whole request must be refused).
    UnknownRow,
    /// The same row twice.
    DuplicateRow,
    /// A row an earlier request removed (alone or next to a valid row).
    AlreadyRemoved,
    /// Every remaining row: nothing would be left to train on.
    WouldEmpty,
}

/// One invalid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRequest {
    /// Why it is invalid.
    pub kind: BadRequestKind,
    /// The rows it names.
    pub indices: Vec<usize>,
}

/// Every invalid request that can be formed against the active mask `active`: empty, unknown
/// rows (n and `usize::MAX`, alone and after a valid row), a duplicated row, an already removed
/// row (if any, alone and after a valid row) and all remaining rows.
pub fn bad_requests(active: &[bool]) -> Vec<BadRequest> {
    let n = active.len();
    let live: Vec<usize> = (0..n).filter(|&i| active[i]).collect();
    let dead: Vec<usize> = (0..n).filter(|&i| !active[i]).collect();
    let mut out = vec![
        BadRequest {
            kind: BadRequestKind::Empty,
            indices: vec![],
        },
        BadRequest {
            kind: BadRequestKind::UnknownRow,
            indices: vec![n],
        },
        BadRequest {
            kind: BadRequestKind::UnknownRow,
            indices: vec![usize::MAX],
        },
    ];
    if let Some(&a) = live.first() {
        out.push(BadRequest {
            kind: BadRequestKind::UnknownRow,
            indices: vec![a, n],
        });
        out.push(BadRequest {
            kind: BadRequestKind::DuplicateRow,
            indices: vec![a, a],
        });
        if let Some(&r) = dead.first() {
            out.push(BadRequest {
                kind: BadRequestKind::AlreadyRemoved,
                indices: vec![a, r],
            });
        }
    }
    if let Some(&r) = dead.last() {
        out.push(BadRequest {
            kind: BadRequestKind::AlreadyRemoved,
            indices: vec![r],
        });
    }
    if !live.is_empty() {
        out.push(BadRequest {
            kind: BadRequestKind::WouldEmpty,
            indices: live,
        });
    }
    out
}

/// Everything observable about a strategy through the trait, bit for bit.
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    active: Vec<bool>,
    weights: Option<Vec<u64>>,
    decisions: Result<Vec<u64>, String>,
    classes: Vec<Option<u64>>,
}

fn bits(m: &DMatrix<f64>) -> Vec<u64> {
    m.iter().map(|v| v.to_bits()).collect()
}

fn snapshot(strategy: &dyn RemovalStrategy, probe: &DMatrix<f64>) -> Snapshot {
    Snapshot {
        active: strategy.active().to_vec(),
        weights: strategy.weights().map(|w| bits(&w)),
        decisions: strategy
            .decision_function(probe)
            .map(|z| bits(&z))
            .map_err(|e| e.to_string()),
        classes: strategy
            .classes()
            .iter()
            .map(|c| c.map(f64::to_bits))
            .collect(),
    }
}

/// Sends every request of [`bad_requests`] (against the current active set) and checks that
/// each is an error and leaves the active rows, the weights and the decision values on `probe`
/// bit-for-bit unchanged.
///
/// Run it after a few valid requests too, so that "already removed" requests are exercised.
///
/// # Errors
/// `"bad requests leave the model untouched"` naming the bad request.
pub fn check_bad_requests_untouched(
    strategy: &mut dyn RemovalStrategy,
    probe: &DMatrix<f64>,
) -> CheckResult {
    const NAME: &str = "bad requests leave the model untouched";
    let before = snapshot(strategy, probe);
    for bad in bad_requests(strategy.active()) {
        match strategy.remove(&bad.indices) {
            Ok(outcome) => {
                return Err(fail(
                    NAME,
                    format!("{:?} request {:?}", bad.kind, bad.indices),
                    "an error",
                    format!("Ok (request {} served)", outcome.request),
                ));
            }
            Err(_) => {
                let after = snapshot(strategy, probe);
                if after != before {
                    let mut changed = Vec::new();
                    if after.active != before.active {
                        changed.push("active rows");
                    }
                    if after.weights != before.weights {
                        changed.push("weights");
                    }
                    if after.decisions != before.decisions {
                        changed.push("decision values");
                    }
                    if after.classes != before.classes {
                        changed.push("classes");
                    }
                    return Err(fail(
                        NAME,
                        format!("state after the {:?} request {:?}", bad.kind, bad.indices),
                        "bit-for-bit the state before it",
                        format!("changed: {}", changed.join(", ")),
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Determinism

/// An outcome with its wall-clock fields zeroed, so that two runs can be compared exactly.
pub fn without_timings(mut outcome: RemovalOutcome) -> RemovalOutcome {
    outcome.seconds = 0.0;
    if let Some(c) = outcome.certificate.as_mut() {
        c.seconds = 0.0;
        c.step_seconds = 0.0;
        c.retrain_seconds = 0.0;
    }
    if let Some(r) = outcome.release.as_mut() {
        r.seconds = 0.0;
        r.retrain_seconds = 0.0;
    }
    outcome
}

/// Builds the strategy twice with `build` (which must use the same seed) and applies
/// `requests` to both: after every request the outcomes (timings aside), the active rows,
/// the weights and the decision values on `probe` must be bit-for-bit identical, and a request
/// that fails must fail in both with the same message.
///
/// # Errors
/// `"same seed ⇒ identical trajectory"` at the first difference; a build error.
pub fn check_same_seed_same_trajectory<F>(
    mut build: F,
    requests: &[Vec<usize>],
    probe: &DMatrix<f64>,
) -> CheckResult
where
    F: FnMut() -> Result<Box<dyn RemovalStrategy>, RemovalError>,
{
    const NAME: &str = "same seed ⇒ identical trajectory";
    let built = |r: Result<Box<dyn RemovalStrategy>, RemovalError>| {
        r.map_err(|e| fail(NAME, "building the strategy", "Ok", format!("Err({e})")))
    };
    let mut a = built(build())?;
    let mut b = built(build())?;
    if snapshot(a.as_ref(), probe) != snapshot(b.as_ref(), probe) {
        return Err(fail(
            NAME,
            "the two trained models",
            "identical",
            "different weights or decisions",
        ));
    }
    for (k, request) in requests.iter().enumerate() {
        let ra = a.remove(request).map(without_timings);
        let rb = b.remove(request).map(without_timings);
        match (ra, rb) {
            (Ok(x), Ok(y)) => {
                if x != y {
                    return Err(fail(
                        NAME,
                        format!("outcome of request {request:?}"),
                        format!("{x:?}"),
                        format!("{y:?}"),
                    )
                    .at_request(k + 1));
                }
            }
            (Err(x), Err(y)) => {
                if x.to_string() != y.to_string() {
                    return Err(fail(
                        NAME,
                        "error of a failing request",
                        x.to_string(),
                        y.to_string(),
                    )
                    .at_request(k + 1));
                }
            }
            (x, y) => {
                return Err(fail(
                    NAME,
                    "result of the request",
                    format!("{:?}", x.map(|o| o.request)),
                    format!("{:?}", y.map(|o| o.request)),
                )
                .at_request(k + 1));
            }
        }
        if snapshot(a.as_ref(), probe) != snapshot(b.as_ref(), probe) {
            return Err(fail(
                NAME,
                "state after the request",
                "bit-for-bit identical",
                "different active rows, weights or decisions",
            )
            .at_request(k + 1));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Agreement with a reference

/// Applies `requests` and, after each, compares the strategy's weights with
/// `reference(active)` (e.g. retraining on the remaining rows): the largest entry-wise
/// difference must be ≤ `tol`.
///
/// # Errors
/// `"removal equals the reference"` at the first request that differs, naming the difference;
/// a failing request or reference.
pub fn check_matches_reference<F>(
    strategy: &mut dyn RemovalStrategy,
    requests: &[Vec<usize>],
    mut reference: F,
    tol: f64,
) -> CheckResult
where
    F: FnMut(&[bool]) -> Result<DMatrix<f64>, String>,
{
    const NAME: &str = "removal equals the reference";
    for (k, request) in requests.iter().enumerate() {
        run_requests(strategy, std::slice::from_ref(request)).map_err(|f| f.at_request(k + 1))?;
        let Some(w) = strategy.weights() else {
            return Err(fail(
                NAME,
                "the strategy's weights",
                "a single linear model",
                "None (an ensemble)",
            ));
        };
        let want = reference(strategy.active())
            .map_err(|e| fail(NAME, "the reference", "Ok", e).at_request(k + 1))?;
        let diff = max_abs_diff(&w, &want);
        if !(diff <= tol) {
            return Err(fail(
                NAME,
                format!("max |w − w_ref| after removing {request:?}"),
                format!("≤ {tol:e}"),
                format!(
                    "{diff:e} (w = {:?}, reference = {:?})",
                    w.as_slice(),
                    want.as_slice()
                ),
            )
            .at_request(k + 1));
        }
    }
    Ok(())
}

/// "Squared-loss removal equals retraining": with the squared loss (γ = 0) one Newton step is
/// exact, so after every request the weights must equal retraining from scratch on the
/// remaining rows **with the same b** (`noise`, one per class model) to `tol`.
///
/// # Errors
/// As [`check_matches_reference`].
pub fn check_squared_loss_equals_retraining(
    strategy: &mut dyn RemovalStrategy,
    params: &LinearModelParams,
    data: &Dataset,
    noise: &[DVector<f64>],
    requests: &[Vec<usize>],
    tol: f64,
) -> CheckResult {
    check_matches_reference(
        strategy,
        requests,
        |active| retrain_weights(params, data, active, noise),
        tol,
    )
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// Relative slack for comparing floating-point sums that should agree up to rounding.
const REL: f64 = 1e-9;

/// Checks the arithmetic of one certificate against the previous β (`None` for the first
/// request, in which case `beta_before` is only checked to be finite):
/// - every bound is finite and ≥ 0, and the certificate bound is the chosen bound plus the
///   solve residual;
/// - with γ = 0 (`exact_step`) both the data-dependent and the tight bound are 0;
/// - β accounting: `beta_before` is the previous β; without a retrain β = β_before + the
///   certificate bound;
/// - `certified` ⇒ β ≤ budget, and ε spent = β·c/σ.
///
/// # Errors
/// `"certificate consistency"` naming the field.
pub fn check_certificate_consistency(
    cert: &Certificate,
    previous_beta: Option<f64>,
) -> CheckResult {
    const NAME: &str = "certificate consistency";
    let at = |f: InvariantFailure| f.at_request(cert.request);
    let fields = [
        ("bound_data_dependent", cert.bound_data_dependent),
        ("bound_tight", cert.bound_tight),
        ("bound_gamma_n_v2", cert.bound_gamma_n_v2),
        ("bound_worst_case", cert.bound_worst_case),
        ("solve_residual", cert.solve_residual),
        ("certificate_bound", cert.certificate_bound),
        ("beta_before", cert.beta_before),
        ("beta", cert.beta),
        ("budget", cert.budget),
    ];
    for (name, v) in fields {
        if !(v.is_finite() && v >= 0.0) {
            return Err(at(fail(NAME, name, "finite and ≥ 0", v.to_string())));
        }
    }
    // Per class model: the certified bound is the smaller of the chosen bound and
    // γ(n − m)‖v‖²; the certificate adds the solve residual and the rounding allowance.
    let chosen_of = |tight: f64, dd: f64| match cert.bound_kind.as_str() {
        "tight" => tight,
        _ => dd,
    };
    for (k, s) in cert.classes.iter().enumerate() {
        let want = chosen_of(s.bound_tight, s.bound_data_dependent).min(s.bound_gamma_n_v2);
        if (s.certified_bound - want).abs() > REL * want.max(1e-300) {
            return Err(at(fail(
                NAME,
                format!(
                    "class {k} certified bound (min of the {} bound and γ(n − m)‖v‖²)",
                    cert.bound_kind
                ),
                want.to_string(),
                s.certified_bound.to_string(),
            )));
        }
    }
    let want = if cert.classes.is_empty() {
        chosen_of(cert.bound_tight, cert.bound_data_dependent).min(cert.bound_gamma_n_v2)
            + cert.solve_residual
            + cert.rounding_allowance
    } else {
        cert.classes
            .iter()
            .map(|s| s.certified_bound + s.solve_residual + s.rounding_allowance)
            .sum()
    };
    if (cert.certificate_bound - want).abs() > REL * want.max(1e-300) {
        return Err(at(fail(
            NAME,
            format!(
                "certificate_bound (min({} bound, γ(n − m)‖v‖²) + solve residual + rounding \
                 allowance)",
                cert.bound_kind
            ),
            want.to_string(),
            cert.certificate_bound.to_string(),
        )));
    }
    if cert.exact_step && (cert.bound_data_dependent != 0.0 || cert.bound_tight != 0.0) {
        return Err(at(fail(
            NAME,
            "bounds of an exact (γ = 0) step",
            "0",
            format!("{} / {}", cert.bound_data_dependent, cert.bound_tight),
        )));
    }
    if let Some(prev) = previous_beta
        && cert.beta_before != prev
    {
        return Err(at(fail(
            NAME,
            "beta_before (β of the previously released model)",
            prev.to_string(),
            cert.beta_before.to_string(),
        )));
    }
    if !cert.retrained {
        let sum = cert.beta_before + cert.certificate_bound;
        if (cert.beta - sum).abs() > REL * sum.max(1e-300) {
            return Err(at(fail(
                NAME,
                "β after a Newton step (β_before + certificate bound)",
                sum.to_string(),
                cert.beta.to_string(),
            )));
        }
    }
    if cert.certified && !(cert.beta <= cert.budget) {
        return Err(at(fail(
            NAME,
            "a certified release",
            format!("β ≤ budget {}", cert.budget),
            format!("β = {}", cert.beta),
        )));
    }
    if cert.certified
        && !cert
            .epsilon_spent
            .is_some_and(|e| e <= cert.epsilon * (1.0 + 1e-9))
    {
        return Err(at(fail(
            NAME,
            "a certified release spends at most the target ε",
            format!("ε spent ≤ {}", cert.epsilon),
            format!("{:?}", cert.epsilon_spent),
        )));
    }
    if let Some(spent) = cert.epsilon_spent
        && cert.budget > 0.0
        && cert.epsilon.is_finite()
    {
        let linear = cert.accounting != Some(lethe_models::Accounting::Analytic);
        if linear {
            // budget = σε/c ⇒ σ/c = budget/ε, and ε spent = β·c/σ = β·ε/budget (paper
            // accounting; β/σ = β·ε/budget for pure ε).
            let want = cert.beta * cert.epsilon / cert.budget;
            if (spent - want).abs() > 1e-6 * want.max(1e-12) {
                return Err(at(fail(
                    NAME,
                    "epsilon_spent (β·c/σ)",
                    want.to_string(),
                    spent.to_string(),
                )));
            }
        } else {
            // The exact profile is monotone: within the budget, at most ε; beyond it, at
            // least ε.
            let within = cert.beta <= cert.budget;
            let consistent = if within {
                spent <= cert.epsilon * (1.0 + 1e-9)
            } else {
                cert.beta <= cert.budget * (1.0 + 1e-9) || spent >= cert.epsilon * (1.0 - 1e-9)
            };
            if !consistent {
                return Err(at(fail(
                    NAME,
                    "epsilon_spent monotone in β (analytic accounting)",
                    format!(
                        "ε spent on the same side of ε = {} as β of the budget",
                        cert.epsilon
                    ),
                    format!(
                        "β = {}, budget = {}, ε spent = {spent}",
                        cert.beta, cert.budget
                    ),
                )));
            }
        }
    }
    Ok(())
}

/// The order of the bounds that holds when every row has ‖x_i‖ ≤ 1: the tight bound
/// (γ/2)‖X‖₂‖Xv‖₄² never exceeds the data-dependent γ‖X‖₂‖v‖‖Xv‖ (since
/// ‖Xv‖₄² ≤ max_i|x_iᵀv|·‖Xv‖ ≤ ‖v‖‖Xv‖). With `exact_worst_case` (b = 0 and the
/// worst-case bound's assumptions), also γ(n − m)‖v‖² ≤ the worst case of Theorem 1.
///
/// # Errors
/// `"bound order"`.
pub fn check_bound_order(cert: &Certificate, exact_worst_case: bool) -> CheckResult {
    const NAME: &str = "bound order";
    if cert.bound_tight > cert.bound_data_dependent * (1.0 + REL) {
        return Err(fail(
            NAME,
            "tight bound (γ/2)‖X‖₂‖Xv‖₄² versus the data-dependent γ‖X‖₂‖v‖‖Xv‖",
            format!("≤ {}", cert.bound_data_dependent),
            cert.bound_tight.to_string(),
        )
        .at_request(cert.request));
    }
    if exact_worst_case && cert.bound_gamma_n_v2 > cert.bound_worst_case * (1.0 + REL) {
        return Err(fail(
            NAME,
            "γ(n − m)‖v‖² versus the worst case 4γm²C²/(λ²(n − m)) (b = 0)",
            format!("≤ {}", cert.bound_worst_case),
            cert.bound_gamma_n_v2.to_string(),
        )
        .at_request(cert.request));
    }
    Ok(())
}

/// "β never exceeds the budget in a released model", for a sequence of certificates:
/// - a release marked `certified` has β ≤ budget;
/// - under [`BudgetPolicy::Retrain`] no Newton step is ever applied past the budget (a
///   request whose bound would exceed it retrains), and a release after a retrain is either
///   within budget or marked not certified (its fresh training residual alone exceeds the
///   budget, e.g. with σ = 0).
///
/// # Errors
/// `"β never exceeds the budget"` at the offending request.
pub fn check_budget_respected(certificates: &[Certificate], policy: BudgetPolicy) -> CheckResult {
    const NAME: &str = "β never exceeds the budget";
    for c in certificates {
        let over = !(c.beta <= c.budget);
        if over && c.certified {
            return Err(fail(
                NAME,
                "a release marked certified",
                format!("β ≤ {}", c.budget),
                format!("β = {}", c.beta),
            )
            .at_request(c.request));
        }
        if policy == BudgetPolicy::Retrain && over && !c.retrained {
            return Err(fail(
                NAME,
                "a Newton step under the retrain policy",
                format!(
                    "β_before + bound = {} + {} ≤ budget {} (else a retrain)",
                    c.beta_before, c.certificate_bound, c.budget
                ),
                format!("step applied, β = {}", c.beta),
            )
            .at_request(c.request));
        }
    }
    Ok(())
}

/// "The exact residual ≤ the claimed certificate", for a certified model right after the
/// request that produced `cert`: the residual Σ_k ‖∇L_{b_k}(w_k; D′)‖ recomputed from scratch
/// (b included) must not exceed β (the training residual plus every bound charged since the
/// last training), and the residual the certificate reports must match the recomputation.
///
/// Models trained on rows with ‖x‖ > 1 (`allow_unnormalized`) claim nothing and pass.
///
/// # Errors
/// `"exact residual ≤ certificate"`.
pub fn check_residual_within_certificate(
    model: &CertifiedModel,
    cert: &Certificate,
) -> CheckResult {
    const NAME: &str = "exact residual ≤ certificate";
    if model.data().check_row_norms(1e-12).is_err() {
        return Ok(());
    }
    let exact = certified_exact_residual(model).map_err(|f| f.at_request(cert.request))?;
    let tol = 1e-11 * residual_scale(model);
    if !(exact <= cert.beta + tol) {
        return Err(fail(
            NAME,
            "recomputed ‖∇L_b(w; D′)‖ versus the accumulated certificate β",
            format!("≤ β = {:e} (+ rounding {tol:e})", cert.beta),
            format!("{exact:e}"),
        )
        .at_request(cert.request));
    }
    if cert.beta != model.beta() {
        return Err(fail(
            NAME,
            "β in the certificate versus the model's β",
            model.beta().to_string(),
            cert.beta.to_string(),
        )
        .at_request(cert.request));
    }
    if let Some(reported) = cert.residual_norm
        && (reported - exact).abs() > 1e-7 * exact.max(1e-3) + tol
    {
        return Err(fail(
            NAME,
            "the residual the certificate reports versus the recomputation",
            format!("{exact:e}"),
            format!("{reported:e}"),
        )
        .at_request(cert.request));
    }
    Ok(())
}

/// The per-step form: after a Newton step (not a retrain),
/// ‖∇L_b(w⁻; D′)‖ ≤ ‖∇L_b(w; D)‖ + the certificate bound of the step (`before` and `after` are
/// the recomputed exact residuals around the request; `scale` sets the rounding slack).
///
/// # Errors
/// `"step residual ≤ previous residual + bound"`.
pub fn check_step_residual(before: f64, after: f64, cert: &Certificate, scale: f64) -> CheckResult {
    if cert.retrained {
        return Ok(());
    }
    let limit = before + cert.certificate_bound;
    let tol = 1e-11 * scale;
    if !(after <= limit + tol) {
        return Err(fail(
            "step residual ≤ previous residual + bound",
            "recomputed residual after the step",
            format!(
                "≤ {before:e} + {:e} = {limit:e} (+ rounding {tol:e})",
                cert.certificate_bound
            ),
            format!("{after:e}"),
        )
        .at_request(cert.request));
    }
    Ok(())
}

/// Runs `requests` on a certified model and checks, after every request: the request itself
/// ([`run_requests`]' rules), [`check_certificate_consistency`], [`check_bound_order`]
/// (rows ‖x‖ ≤ 1), the per-step
/// [`check_step_residual`], [`check_residual_within_certificate`] and, at the end,
/// [`check_budget_respected`] under the model's budget policy. Returns the certificates.
///
/// # Errors
/// The first failure.
pub fn check_certified_sequence(
    model: &mut CertifiedModel,
    requests: &[Vec<usize>],
) -> CheckResult<Vec<Certificate>> {
    let normalized = model.data().check_row_norms(1e-12).is_ok();
    let gamma = model.params().model.loss.gamma();
    let mut certs: Vec<Certificate> = Vec::with_capacity(requests.len());
    let mut before = if normalized {
        Some(certified_exact_residual(model)?)
    } else {
        None
    };
    let initial_beta = model.beta();
    if normalized && let Some(r0) = before {
        let tol = 1e-11 * residual_scale(model);
        if !(r0 <= initial_beta + tol) {
            return Err(fail(
                "exact residual ≤ certificate",
                "training residual r₀ versus the initial β",
                format!("≤ {initial_beta:e}"),
                format!("{r0:e}"),
            ));
        }
    }
    for (k, request) in requests.iter().enumerate() {
        let active_before = model.active().to_vec();
        let cert = model.remove(request).map_err(|e| {
            fail(
                "requests do what they say",
                format!("request {request:?} failed"),
                "Ok(certificate)",
                format!("Err({e})"),
            )
            .at_request(k + 1)
        })?;
        let mut expected = active_before;
        for &i in request {
            expected[i] = false;
        }
        if model.active() != expected.as_slice() || cert.indices != *request {
            return Err(fail(
                "requests do what they say",
                "active rows and rows named in the certificate",
                format!("rows {request:?} removed"),
                format!("certificate names {:?}", cert.indices),
            )
            .at_request(k + 1));
        }
        let prev = certs.last().map_or(initial_beta, |c| c.beta);
        check_certificate_consistency(&cert, Some(prev))?;
        if normalized {
            check_bound_order(&cert, false)?;
        }
        if gamma == 0.0 && !cert.exact_step {
            return Err(fail(
                "certificate consistency",
                "exact_step with a γ = 0 loss",
                "true",
                "false",
            )
            .at_request(cert.request));
        }
        if normalized {
            let after = certified_exact_residual(model)?;
            check_step_residual(before.unwrap_or(0.0), after, &cert, residual_scale(model))?;
            check_residual_within_certificate(model, &cert)?;
            before = Some(after);
        }
        certs.push(cert);
    }
    check_budget_respected(&certs, model.params().budget_policy)?;
    Ok(certs)
}

/// "Squared-loss removal equals retraining" for a certified model: after every request its
/// weights must equal retraining on the remaining rows with the model's own current b (a
/// budget retrain draws a fresh b, which the reference then uses too).
///
/// The allowed difference is `tol` (the reference fit's own accuracy) plus what the model's
/// certificate admits: for a quadratic objective the gradient residual after the steps is at
/// most β (the training residual plus the solve residuals of inexact `pcg`/`stale` steps) and
/// H ⪰ λn′I, so ‖w − w*‖ ≤ β/(λn′). With Cholesky steps β is the training residual plus
/// round-off, so this is equality to the solver tolerance.
///
/// # Errors
/// `"removal equals the reference"` at the first request that differs.
pub fn check_certified_squared_loss(
    model: &mut CertifiedModel,
    requests: &[Vec<usize>],
    tol: f64,
) -> CheckResult {
    const NAME: &str = "removal equals the reference";
    let params = model.params().model;
    let data = model.data().clone();
    for (k, request) in requests.iter().enumerate() {
        let outcomes =
            run_requests(model, std::slice::from_ref(request)).map_err(|f| f.at_request(k + 1))?;
        let beta = outcomes
            .first()
            .and_then(|o| o.certificate.as_ref())
            .map_or(0.0, |c| c.beta);
        let want = retrain_weights(&params, &data, model.active(), &certified_noise(model))
            .map_err(|e| fail(NAME, "retraining with the same b", "Ok", e).at_request(k + 1))?;
        let w = model.weight_matrix();
        let diff = max_abs_diff(&w, &want);
        let allowed = tol + beta / (params.lambda * model.n_remaining() as f64);
        if !(diff <= allowed) {
            return Err(fail(
                NAME,
                format!("max |w − w_retrain| after removing {request:?}"),
                format!("≤ {allowed:e} (tol + β/(λn′), β = {beta:e})"),
                format!(
                    "{diff:e} (w = {:?}, retrained = {:?})",
                    w.as_slice(),
                    want.as_slice()
                ),
            )
            .at_request(k + 1));
        }
    }
    Ok(())
}

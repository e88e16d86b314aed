//! proptest strategies for removal problems: datasets, objectives and request sequences.
//!
//! **Valid by construction, and so after shrinking.** Every strategy draws raw numbers and
//! maps them through a function that enforces the constraints (row norms, labels with every
//! class present, requests of distinct live rows that leave at least one row). proptest
//! shrinks the raw numbers and re-applies the map, so every shrunk value is as valid as the
//! original: a failing case shrinks to a small *valid* counterexample, never to an input the
//! mechanism may rightly reject.
//!
//! | strategy | values |
//! |---|---|
//! | [`datasets`] | n × d rows (unit norm, norm ≤ 1 or raw), ±1, K-class or real labels |
//! | [`degenerate_datasets`], [`degenerate_dataset`] | the [`Degeneracy`] cases that break solvers |
//! | [`objectives`], [`extreme_objectives`] | loss, λ and σ ([`ObjectiveSpec`]) |
//! | [`request_sequences`] | single, batch or mixed requests over n rows ([`RequestPattern`]) |
//! | [`adversarial_sequences`], [`adversarial_requests`] | data-driven worst orders ([`AdversarialOrder`]) |
//! | [`problems`] | all three together ([`Problem`]) |

use std::ops::RangeInclusive;

use lethe_data::Dataset;
use lethe_models::{LinearModelParams, LossKind, SolverKind};
use lethe_removal::{BudgetPolicy, CertifiedParams};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::BoxedStrategy;

// ---------------------------------------------------------------------------------------------
// Datasets

/// Which labels a generated dataset has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LabelKind {
    /// ±1 labels; both classes are present whenever n ≥ 2.
    PlusMinusOne,
    /// Class ids 0, 1, …, K − 1 (one-vs-rest); every class is present whenever n ≥ K.
    Classes(usize),
    /// Real targets in [−2, 2] (for the squared loss).
    Real,
}

/// How rows are scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowScale {
    /// ‖x_i‖ = 1 up to rounding (the paper's preprocessing).
    UnitNorm,
    /// ‖x_i‖ ∈ [0.05, 1].
    AtMostOne,
    /// Entries in [−`scale`, `scale`], norms unconstrained (only for `allow_unnormalized`
    /// or for testing that norms > 1 are refused).
    Raw(f64),
}

/// Shape and content of generated datasets.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetParams {
    /// Range of n (rows).
    pub n: RangeInclusive<usize>,
    /// Range of d (features).
    pub d: RangeInclusive<usize>,
    /// Label kind.
    pub labels: LabelKind,
    /// Row scaling.
    pub rows: RowScale,
}

impl Default for DatasetParams {
    /// n ∈ 4..=40, d ∈ 1..=5, ±1 labels, ‖x_i‖ ≤ 1.
    fn default() -> Self {
        Self {
            n: 4..=40,
            d: 1..=5,
            labels: LabelKind::PlusMinusOne,
            rows: RowScale::AtMostOne,
        }
    }
}

impl DatasetParams {
    /// ±1 labels, ‖x_i‖ ≤ 1.
    pub fn binary(n: RangeInclusive<usize>, d: RangeInclusive<usize>) -> Self {
        Self {
            n,
            d,
            ..Self::default()
        }
    }

    /// K classes (ids 0..K), ‖x_i‖ ≤ 1.
    pub fn classes(k: usize, n: RangeInclusive<usize>, d: RangeInclusive<usize>) -> Self {
        Self {
            labels: LabelKind::Classes(k),
            ..Self::binary(n, d)
        }
    }

    /// Real targets, ‖x_i‖ ≤ 1.
    pub fn regression(n: RangeInclusive<usize>, d: RangeInclusive<usize>) -> Self {
        Self {
            labels: LabelKind::Real,
            ..Self::binary(n, d)
        }
    }

    /// The same with another row scaling.
    pub fn with_rows(mut self, rows: RowScale) -> Self {
        self.rows = rows;
        self
    }
}

fn label_values(kind: LabelKind) -> BoxedStrategy<f64> {
    match kind {
        LabelKind::PlusMinusOne => any::<bool>()
            .prop_map(|b| if b { 1.0 } else { -1.0 })
            .boxed(),
        LabelKind::Classes(k) => (0..k.max(1)).prop_map(|c| c as f64).boxed(),
        LabelKind::Real => (-2.0f64..=2.0).boxed(),
    }
}

/// Makes the labels valid: both ±1 classes, or every class id, present where n allows.
fn fix_labels(kind: LabelKind, labels: &mut [f64]) {
    match kind {
        LabelKind::PlusMinusOne if labels.len() >= 2 => {
            labels[0] = 1.0;
            labels[1] = -1.0;
        }
        LabelKind::Classes(k) => {
            for (i, y) in labels.iter_mut().enumerate().take(k) {
                *y = i as f64;
            }
        }
        _ => {}
    }
}

/// Scales a raw row in [−1, 1]^d as `rows` requires; a (near-)zero row becomes ±e_j.
fn scale_row(raw: Vec<f64>, shrink: f64, rows: RowScale, i: usize) -> Vec<f64> {
    let d = raw.len();
    let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
    let unit: Vec<f64> = if norm < 1e-6 {
        (0..d)
            .map(|j| if j == i % d.max(1) { 1.0 } else { 0.0 })
            .collect()
    } else {
        raw.iter().map(|v| v / norm).collect()
    };
    match rows {
        RowScale::UnitNorm => unit,
        RowScale::AtMostOne => unit.into_iter().map(|v| v * shrink).collect(),
        RowScale::Raw(scale) => raw.into_iter().map(|v| v * scale).collect(),
    }
}

/// The raw material of a dataset before degeneracies: rows, row shrink factors, labels.
type Raw = (Vec<Vec<f64>>, Vec<f64>, Vec<f64>);

fn raw_parts(n: usize, d: usize, labels: LabelKind) -> impl Strategy<Value = Raw> {
    (
        proptest::collection::vec(proptest::collection::vec(-1.0f64..=1.0, d), n),
        proptest::collection::vec(0.05f64..=1.0, n),
        proptest::collection::vec(label_values(labels), n),
    )
}

fn build(rows: Vec<Vec<f64>>, labels: Vec<f64>) -> Dataset {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let x = DMatrix::from_fn(n, d, |i, j| rows[i][j]);
    Dataset::new(x, DVector::from_vec(labels))
        .expect("lethe-testkit generated an invalid dataset (a testkit bug)")
}

fn finish(p: &DatasetParams, (rows, shrink, mut labels): Raw) -> (Vec<Vec<f64>>, Vec<f64>) {
    fix_labels(p.labels, &mut labels);
    let rows = rows
        .into_iter()
        .zip(shrink)
        .enumerate()
        .map(|(i, (r, s))| scale_row(r, s, p.rows, i))
        .collect();
    (rows, labels)
}

/// Datasets as `params` describe: n × d rows scaled as [`RowScale`] says, labels of
/// [`LabelKind`] with every class present where n allows. Shrinks toward fewer rows and
/// features and simpler values, staying valid.
pub fn datasets(params: DatasetParams) -> BoxedStrategy<Dataset> {
    let p = params.clone();
    (params.n.clone(), params.d.clone())
        .prop_flat_map(move |(n, d)| {
            let p = p.clone();
            raw_parts(n, d, p.labels).prop_map(move |raw| {
                let (rows, labels) = finish(&p, raw);
                build(rows, labels)
            })
        })
        .boxed()
}

/// The degenerate cases that break solvers and bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Degeneracy {
    /// The second half of the rows repeats the first half (rows and labels).
    DuplicateRows,
    /// Every label is the same (+1, class 0, or 1.0): one class only.
    OneClass,
    /// d > n: more features than rows (XᵀX is singular).
    MoreFeaturesThanRows,
    /// Every feature is a multiple of the first (rank-1 X; needs d ≥ 2 to differ from the
    /// plain case).
    CollinearFeatures,
    /// The last feature is 0 in every row.
    ZeroFeature,
    /// Every row is ±e_j: norm exactly 1, no rounding slack.
    ExactUnitNorm,
    /// Every third row is all zeros.
    ZeroRows,
}

impl Degeneracy {
    /// Every degenerate case.
    pub const ALL: [Degeneracy; 7] = [
        Degeneracy::DuplicateRows,
        Degeneracy::OneClass,
        Degeneracy::MoreFeaturesThanRows,
        Degeneracy::CollinearFeatures,
        Degeneracy::ZeroFeature,
        Degeneracy::ExactUnitNorm,
        Degeneracy::ZeroRows,
    ];

    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Degeneracy::DuplicateRows => "duplicate rows",
            Degeneracy::OneClass => "one class only",
            Degeneracy::MoreFeaturesThanRows => "d > n",
            Degeneracy::CollinearFeatures => "collinear features",
            Degeneracy::ZeroFeature => "all-zero feature",
            Degeneracy::ExactUnitNorm => "rows exactly at norm 1",
            Degeneracy::ZeroRows => "all-zero rows",
        }
    }
}

fn apply_degeneracy(
    kind: Degeneracy,
    p: &DatasetParams,
    raw: Raw,
    picks: &[usize],
    factors: &[f64],
) -> Dataset {
    let n = raw.0.len();
    let (mut rows, mut labels) = finish(p, raw);
    let d = rows.first().map_or(0, Vec::len);
    match kind {
        Degeneracy::DuplicateRows => {
            let half = n.div_ceil(2);
            for i in half..n {
                rows[i] = rows[i - half].clone();
                labels[i] = labels[i - half];
            }
        }
        Degeneracy::OneClass => {
            let c = match p.labels {
                LabelKind::Classes(_) => 0.0,
                _ => 1.0,
            };
            labels.iter_mut().for_each(|y| *y = c);
        }
        Degeneracy::MoreFeaturesThanRows => {}
        Degeneracy::CollinearFeatures => {
            for row in &mut rows {
                let first = row[0];
                for (j, v) in row.iter_mut().enumerate().skip(1) {
                    *v = first * factors[j % factors.len()];
                }
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                if matches!(p.rows, RowScale::UnitNorm | RowScale::AtMostOne) && norm > 1.0 {
                    row.iter_mut().for_each(|v| *v /= norm);
                }
            }
        }
        Degeneracy::ZeroFeature => {
            for row in &mut rows {
                row[d - 1] = 0.0;
            }
        }
        Degeneracy::ExactUnitNorm => {
            for (i, row) in rows.iter_mut().enumerate() {
                let pick = picks[i % picks.len()];
                row.iter_mut().for_each(|v| *v = 0.0);
                row[pick % d] = if (pick / d).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
            }
        }
        Degeneracy::ZeroRows => {
            for row in rows.iter_mut().step_by(3) {
                row.iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }
    build(rows, labels)
}

/// Datasets with one [`Degeneracy`]; `params` gives n, d, labels and row scaling as for
/// [`datasets`] (`MoreFeaturesThanRows` draws d from n + 1 ..= n + 4 instead; n ≥ 2, and
/// n ≥ 4 for `DuplicateRows`, so that every class is still present).
pub fn degenerate_dataset(kind: Degeneracy, params: DatasetParams) -> BoxedStrategy<Dataset> {
    let p = params.clone();
    // Duplicating the first half must keep rows 0 and 1 (both classes) in it.
    let n_lo = (*params.n.start()).max(if kind == Degeneracy::DuplicateRows {
        4
    } else {
        2
    });
    let n_hi = (*params.n.end()).max(n_lo);
    let d_lo = match kind {
        Degeneracy::CollinearFeatures | Degeneracy::ZeroFeature => (*params.d.start()).max(2),
        _ => *params.d.start(),
    }
    .max(1);
    let d_hi = (*params.d.end()).max(d_lo);
    (n_lo..=n_hi, d_lo..=d_hi)
        .prop_flat_map(move |(n, d)| {
            let d = if kind == Degeneracy::MoreFeaturesThanRows {
                n + 1 + d % 4
            } else {
                d
            };
            let p = p.clone();
            (
                raw_parts(n, d, p.labels),
                proptest::collection::vec(0..2 * d, 1..=n),
                proptest::collection::vec(-1.0f64..=1.0, 1..=d.max(1)),
            )
                .prop_map(move |(raw, picks, factors)| {
                    apply_degeneracy(kind, &p, raw, &picks, &factors)
                })
        })
        .boxed()
}

/// Any degenerate case, with its kind.
pub fn degenerate_datasets(params: DatasetParams) -> BoxedStrategy<(Degeneracy, Dataset)> {
    select(Degeneracy::ALL.to_vec())
        .prop_flat_map(move |kind| {
            degenerate_dataset(kind, params.clone()).prop_map(move |ds| (kind, ds))
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Objectives

/// A loss, λ and σ: the part of an experiment's parameters the objective depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectiveSpec {
    /// The loss.
    pub loss: LossKind,
    /// λ (sum scale: the regulariser is λn/2‖w‖²).
    pub lambda: f64,
    /// σ of the Gaussian perturbation b.
    pub sigma: f64,
}

impl ObjectiveSpec {
    /// Model parameters with Gaussian noise and the damped Newton solver (tolerance 1e-10,
    /// tight enough for every certificate check).
    pub fn model_params(&self) -> LinearModelParams {
        let mut p = LinearModelParams::logistic(self.lambda, self.sigma);
        p.loss = self.loss;
        p.solver.kind = SolverKind::Newton;
        p.solver.tolerance = 1e-10;
        p
    }

    /// Certified-removal parameters around [`ObjectiveSpec::model_params`] (paper defaults:
    /// ε = 1, δ = 1e-4, data-dependent bound, Cholesky steps) with the given budget policy.
    pub fn certified_params(&self, policy: BudgetPolicy) -> CertifiedParams {
        let mut p = CertifiedParams::new(self.model_params());
        p.budget_policy = policy;
        p
    }
}

/// Ranges of the objective strategies. λ and σ are drawn log-uniformly.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectiveParams {
    /// The losses to choose from.
    pub losses: Vec<LossKind>,
    /// Range of log₁₀ λ.
    pub log10_lambda: RangeInclusive<f64>,
    /// Range of log₁₀ σ.
    pub log10_sigma: RangeInclusive<f64>,
    /// Whether σ = 0 (no noise, no certificate) is drawn too, one time in four.
    pub sigma_zero: bool,
}

impl Default for ObjectiveParams {
    /// Logistic and squared losses, λ ∈ [1e-3, 1], σ ∈ [1e-2, 10], no σ = 0.
    fn default() -> Self {
        Self {
            losses: vec![LossKind::Logistic, LossKind::Squared],
            log10_lambda: -3.0..=0.0,
            log10_sigma: -2.0..=1.0,
            sigma_zero: false,
        }
    }
}

impl ObjectiveParams {
    /// The default ranges with one loss.
    pub fn only(loss: LossKind) -> Self {
        Self {
            losses: vec![loss],
            ..Self::default()
        }
    }
}

/// Objectives with the loss, λ and σ drawn from `params`.
pub fn objectives(params: ObjectiveParams) -> BoxedStrategy<ObjectiveSpec> {
    let zero_weight = u32::from(params.sigma_zero);
    (
        select(params.losses.clone()),
        params.log10_lambda.clone(),
        prop_oneof![
            3 => params.log10_sigma.clone().prop_map(|s| 10f64.powf(s)),
            zero_weight => Just(0.0),
        ],
    )
        .prop_map(|(loss, l, sigma)| ObjectiveSpec {
            loss,
            lambda: 10f64.powf(l),
            sigma,
        })
        .boxed()
}

/// The numeric edge cases: λ ∈ {1e-12, 1e-8, 1e3, 1e6, 1e12} (tiny to huge), σ ∈ {0, 1e-6,
/// 1, 1e4}, with the given losses. A mechanism must give a correct result or a typed error
/// for each.
pub fn extreme_objectives(losses: Vec<LossKind>) -> BoxedStrategy<ObjectiveSpec> {
    (
        select(losses),
        select(vec![1e-12, 1e-8, 1e3, 1e6, 1e12]),
        select(vec![0.0, 1e-6, 1.0, 1e4]),
    )
        .prop_map(|(loss, lambda, sigma)| ObjectiveSpec {
            loss,
            lambda,
            sigma,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Request sequences

/// The shape of generated request sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPattern {
    /// One row per request.
    Single,
    /// Batches of 2..=`max_size` rows (smaller only when too few rows are left).
    Batch {
        /// Largest batch.
        max_size: usize,
    },
    /// Requests of 1..=`max_size` rows.
    Mixed {
        /// Largest request.
        max_size: usize,
    },
}

/// Cuts a permutation into requests of the given sizes, leaving at least one row.
fn cut(order: &[usize], sizes: &[usize]) -> Vec<Vec<usize>> {
    let n = order.len();
    let mut used = 0;
    let mut out = Vec::new();
    for &s in sizes {
        let room = n.saturating_sub(1 + used);
        let s = s.min(room);
        if s == 0 {
            break;
        }
        out.push(order[used..used + s].to_vec());
        used += s;
    }
    out
}

/// Request sequences over rows 0..n: at most `max_requests` requests of distinct rows, shaped
/// by `pattern`, in a random order, always leaving at least one row. Shrinks toward fewer,
/// smaller requests in index order.
pub fn request_sequences(
    n: usize,
    pattern: RequestPattern,
    max_requests: usize,
) -> BoxedStrategy<Vec<Vec<usize>>> {
    let sizes: BoxedStrategy<usize> = match pattern {
        RequestPattern::Single => Just(1usize).boxed(),
        RequestPattern::Batch { max_size } => (2usize..=max_size.max(2)).boxed(),
        RequestPattern::Mixed { max_size } => (1usize..=max_size.max(1)).boxed(),
    };
    (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        proptest::collection::vec(sizes, 0..=max_requests),
    )
        .prop_map(|(order, sizes)| cut(&order, &sizes))
        .boxed()
}

/// Data-driven request orders that stress the bounds. They look only at the data, never at a
/// released model, so the sequences stay non-adaptive (the setting of the guarantee).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdversarialOrder {
    /// Every row of the first row's class first: the remaining data drift to one class.
    OneClassFirst,
    /// Largest ‖x_i‖ first (largest gradients for bounded |ℓ′|).
    LargestNormFirst,
    /// Largest residual |y_i − x_iᵀw_ridge|·‖x_i‖ of a ridge fit on the labels first: the
    /// points a linear model fits worst move it most.
    WorstFitFirst,
    /// Rows that have an exact duplicate first, both copies one after the other.
    DuplicatesFirst,
    /// Every row but the last, in index order: drives n to 1.
    DrainToOne,
}

impl AdversarialOrder {
    /// Every order.
    pub const ALL: [AdversarialOrder; 5] = [
        AdversarialOrder::OneClassFirst,
        AdversarialOrder::LargestNormFirst,
        AdversarialOrder::WorstFitFirst,
        AdversarialOrder::DuplicatesFirst,
        AdversarialOrder::DrainToOne,
    ];
}

/// Indices sorted by descending score, ties by ascending index.
fn by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// The full removal order of `order` over every row of `data`.
pub fn adversarial_order(data: &Dataset, order: AdversarialOrder) -> Vec<usize> {
    let n = data.n_samples();
    let x = data.features();
    let y = data.labels();
    match order {
        AdversarialOrder::OneClassFirst => {
            let c = if n > 0 { y[0] } else { 0.0 };
            let (mut a, b): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| y[i] == c);
            a.extend(b);
            a
        }
        AdversarialOrder::LargestNormFirst => by_score_desc(&data.row_norms()),
        AdversarialOrder::WorstFitFirst => {
            let d = data.n_features();
            let gram = x.transpose() * x + DMatrix::<f64>::identity(d, d);
            let rhs = x.transpose() * y;
            let w = gram
                .cholesky()
                .map_or_else(|| DVector::zeros(d), |c| c.solve(&rhs));
            let fitted = x * &w;
            let norms = data.row_norms();
            let scores: Vec<f64> = (0..n)
                .map(|i| (y[i] - fitted[i]).abs() * norms[i])
                .collect();
            by_score_desc(&scores)
        }
        AdversarialOrder::DuplicatesFirst => {
            let key = |i: usize| -> Vec<u64> {
                x.row(i)
                    .iter()
                    .map(|v| v.to_bits())
                    .chain(std::iter::once(y[i].to_bits()))
                    .collect()
            };
            let mut first: Vec<usize> = Vec::new();
            let mut seen = vec![false; n];
            for i in 0..n {
                if seen[i] {
                    continue;
                }
                let ki = key(i);
                let twins: Vec<usize> = (i + 1..n).filter(|&j| !seen[j] && key(j) == ki).collect();
                if !twins.is_empty() {
                    seen[i] = true;
                    first.push(i);
                    for j in twins {
                        seen[j] = true;
                        first.push(j);
                    }
                }
            }
            first.extend((0..n).filter(|&i| !seen[i]));
            first
        }
        AdversarialOrder::DrainToOne => (0..n).collect(),
    }
}

/// [`adversarial_order`] cut into requests of `batch_size` rows (at most `max_requests`),
/// leaving at least one row.
pub fn adversarial_requests(
    data: &Dataset,
    order: AdversarialOrder,
    batch_size: usize,
    max_requests: usize,
) -> Vec<Vec<usize>> {
    let full = adversarial_order(data, order);
    cut(&full, &vec![batch_size.max(1); max_requests])
}

/// An adversarial order with a batch size in 1..=`max_batch` and at most `max_requests`
/// requests, over `data`.
pub fn adversarial_sequences(
    data: Dataset,
    max_batch: usize,
    max_requests: usize,
) -> BoxedStrategy<(AdversarialOrder, Vec<Vec<usize>>)> {
    (
        select(AdversarialOrder::ALL.to_vec()),
        1usize..=max_batch.max(1),
        0usize..=max_requests,
    )
        .prop_map(move |(order, batch, count)| {
            (order, adversarial_requests(&data, order, batch, count))
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Whole problems

/// A dataset, an objective, a request sequence and a seed that fit together.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The training data.
    pub data: Dataset,
    /// Loss, λ, σ.
    pub objective: ObjectiveSpec,
    /// The removal requests (valid against `data`, in order).
    pub requests: Vec<Vec<usize>>,
    /// The seed of every random stream.
    pub seed: u64,
}

/// Ranges of [`problems`].
#[derive(Clone, Debug, PartialEq)]
pub struct ProblemParams {
    /// The datasets.
    pub data: DatasetParams,
    /// The objectives (use only the squared loss with [`LabelKind::Real`]).
    pub objective: ObjectiveParams,
    /// The request shape for random orders.
    pub pattern: RequestPattern,
    /// At most this many requests.
    pub max_requests: usize,
    /// Whether adversarial orders are drawn too (half of the cases).
    pub adversarial: bool,
}

impl Default for ProblemParams {
    /// Default datasets and objectives, mixed requests of ≤ 3 rows, ≤ 6 requests, random and
    /// adversarial orders.
    fn default() -> Self {
        Self {
            data: DatasetParams::default(),
            objective: ObjectiveParams::default(),
            pattern: RequestPattern::Mixed { max_size: 3 },
            max_requests: 6,
            adversarial: true,
        }
    }
}

/// Problems: a dataset, an objective, a matching request sequence (random, or adversarial
/// when enabled) and a seed.
pub fn problems(params: ProblemParams) -> BoxedStrategy<Problem> {
    let pattern = params.pattern;
    let max_requests = params.max_requests;
    let adversarial = params.adversarial;
    (
        datasets(params.data.clone()),
        objectives(params.objective.clone()),
        any::<u64>(),
    )
        .prop_flat_map(move |(data, objective, seed)| {
            let n = data.n_samples();
            let random = request_sequences(n, pattern, max_requests);
            let requests = if adversarial {
                prop_oneof![
                    random,
                    adversarial_sequences(data.clone(), 3, max_requests).prop_map(|(_, r)| r),
                ]
                .boxed()
            } else {
                random
            };
            requests.prop_map(move |requests| Problem {
                data: data.clone(),
                objective,
                requests,
                seed,
            })
        })
        .boxed()
}

/// A probe matrix for comparing decision functions: the data's rows, then ±e_j for each
/// feature.
pub fn probe_matrix(data: &Dataset) -> DMatrix<f64> {
    let n = data.n_samples();
    let d = data.n_features();
    DMatrix::from_fn(n + 2 * d, d, |i, j| {
        if i < n {
            data.features()[(i, j)]
        } else {
            let k = i - n;
            if k % d == j {
                if k < d { 1.0 } else { -1.0 }
            } else {
                0.0
            }
        }
    })
}

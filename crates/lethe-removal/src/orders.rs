//! Deletion distributions: in which order rows are asked to be removed.
//!
//! Every experiment that compares removal strategies needs the *same* request sequence for
//! every strategy; [`deletion_sequence`] builds it from an [`OrderSpec`], the training data
//! and one seed. The orders researchers use:
//!
//! | order | rows | needs |
//! |---|---|---|
//! | [`DeletionOrder::Random`] | a uniformly random sample without replacement | — |
//! | [`DeletionOrder::Targeted`] | a random sample of one class's rows | `target_class` |
//! | [`DeletionOrder::Informed`] | largest score first: ‖x_i‖, loss or gradient norm | a model for loss/gradient |
//! | [`DeletionOrder::Ordered`] | largest user-given score first (adversarial orders) | `scores` |
//! | [`DeletionOrder::Exponential`] | weighted sample, weights exponential in a random rank | `rate` (optional) |
//! | [`DeletionOrder::Pareto`] | weighted sample, weights Pareto in a random rank | `rate` = shape (optional) |
//!
//! Informed orders are the worst case for the data-dependent bound of Guo et al. (large
//! ‖x‖, large loss and large gradient mean a large Newton step). With unit-norm rows every
//! ‖x_i‖ is 1 up to rounding, so `informed_by: norm` then orders by rounding noise (and random
//! tie-breaks for exact ties); use `loss` or `gradient`, or `max_norm` row scaling.
//!
//! # Randomness
//! Every random choice comes from one ChaCha20 stream,
//! [`Purpose::DeletionOrder`]`.rng(seed, 0)` (stream `0x101 << 48`; see
//! [`lethe_models::noise::Purpose`]), consumed in
//! the order documented for each variant, so the same `(spec, data, model, count, seed)` always
//! gives the same sequence.
//!
//! # The non-uniform request distributions (SISA)
//! Bourtoule et al. (*Machine Unlearning*, IEEE S&P 2021, §VII) study request distributions in
//! which some rows are much more likely to be deleted than others. lethe models this as:
//! 1. a seeded uniform random permutation gives every row a rank r_i ∈ {0, …, n − 1}
//!    (row `perm[r]` has rank r; Fisher–Yates shuffle of `0..n`, the first draws of the stream);
//! 2. row i gets a weight from its rank:
//!    - exponential: w_i = exp(−rate · r_i / n), rate > 0 (default [`DEFAULT_EXPONENTIAL_RATE`]):
//!      the rank, scaled to [0, 1), follows a truncated Exp(rate) law;
//!    - Pareto: w_i = (r_i + 1)^{−(shape + 1)}, shape > 0 (default [`DEFAULT_PARETO_SHAPE`]):
//!      the Pareto(x_m = 1, shape) density at x = r_i + 1, a heavy (Zipf-like) tail;
//! 3. the sequence is a weighted sample **without replacement** in draw order: successively,
//!    each remaining row is drawn with probability proportional to its weight. It is
//!    implemented with Efraimidis–Spirakis keys: k_i = ln(E_i) − ln(w_i) with E_i ~ Exp(1)
//!    (E_i = −ln(1 − U_i), U_i uniform in [0, 1), drawn for rows 0, 1, …, n − 1 in row order
//!    after the permutation), and the rows with the `count` smallest keys, in ascending key
//!    order, are the sequence. Working with logarithms keeps tiny weights exact.

use std::cmp::Ordering;

use lethe_data::{DataError, Dataset};
use lethe_models::noise::Purpose;
use lethe_models::{Loss, LossKind};
use nalgebra::DMatrix;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{RemovalError, Result};

/// A trained linear model as [`deletion_sequence`] reads it: the d × K weights, the class of
/// each column (`None` for a binary model, `Some(c)` for the one-vs-rest model of class c) and
/// the loss.
pub type ModelView<'a> = (&'a DMatrix<f64>, &'a [Option<f64>], LossKind);

/// Default rate of [`DeletionOrder::Exponential`] (weights exp(−rate · rank / n)).
pub const DEFAULT_EXPONENTIAL_RATE: f64 = 10.0;

/// Default shape of [`DeletionOrder::Pareto`] (weights (rank + 1)^{−(shape + 1)}).
pub const DEFAULT_PARETO_SHAPE: f64 = 1.0;

/// Which rows are requested for deletion, and in which order (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionOrder {
    /// Uniformly random rows (a seeded shuffle; the first `count` rows of it).
    Random,
    /// Random rows of one class (`target_class`): a seeded shuffle of that class's rows.
    Targeted,
    /// Largest score first, the score chosen by `informed_by`; exact ties in random order.
    Informed,
    /// Largest user-given score first (`scores`, one per row); ties by ascending row index.
    Ordered,
    /// SISA's exponential request distribution over a random rank (`rate`).
    Exponential,
    /// SISA's Pareto request distribution over a random rank (`rate` is the shape).
    Pareto,
}

/// The model that scores rows for an [`DeletionOrder::Informed`] order by loss or gradient.
///
/// Certified removal (Guo et al. 2020, Theorem 3) holds for request sequences fixed
/// independently of the noise b. Rows ranked by the *released* model's loss make the sequence
/// a function of b (an adaptive adversary), which the theorem does not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScoringModel {
    /// A model trained on the same data with the same loss and λ but without noise (σ = 0):
    /// independent of b, so the requests are non-adaptive and the run can be certified.
    #[default]
    Noiseless,
    /// A model trained like the released one but with its own noise draw from a separate seed
    /// stream: independent of the released b, non-adaptive.
    Independent,
    /// The released model itself: the requests depend on b, so the run is **adaptive** and
    /// no certificate is issued.
    Released,
}

impl ScoringModel {
    /// Name used in configs and results.
    pub fn name(&self) -> &'static str {
        match self {
            ScoringModel::Noiseless => "noiseless",
            ScoringModel::Independent => "independent",
            ScoringModel::Released => "released",
        }
    }
}

impl OrderSpec {
    /// Whether this order reads a model's scores (informed by loss or gradient).
    pub fn needs_model(&self) -> bool {
        self.order == DeletionOrder::Informed && self.informed_by != InformedBy::Norm
    }

    /// Whether requests drawn from this order depend on the released model (and so on b).
    pub fn is_adaptive(&self) -> bool {
        self.needs_model() && self.informed_model == ScoringModel::Released
    }
}

/// The score of an [`DeletionOrder::Informed`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InformedBy {
    /// ‖x_i‖₂ (no model needed).
    #[default]
    Norm,
    /// The loss Σ_k ℓ(x_iᵀw_k, y_ik) of the given model (summed over one-vs-rest classes).
    Loss,
    /// The gradient norm ‖∇_W ℓ_i‖ = ‖x_i‖ · √(Σ_k ℓ′(x_iᵀw_k, y_ik)²) of the given model.
    Gradient,
}

/// A deletion distribution with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSpec {
    /// The order.
    pub order: DeletionOrder,
    /// The class of [`DeletionOrder::Targeted`] (a label value of the training data, e.g. +1).
    #[serde(default)]
    pub target_class: Option<f64>,
    /// The score of [`DeletionOrder::Informed`].
    #[serde(default)]
    pub informed_by: InformedBy,
    /// Which model scores the rows of an informed order by loss or gradient (see
    /// [`ScoringModel`]; the default does not depend on the released model's b).
    #[serde(default)]
    pub informed_model: ScoringModel,
    /// One score per training row for [`DeletionOrder::Ordered`] (largest first).
    #[serde(default)]
    pub scores: Option<Vec<f64>>,
    /// Exponential rate or Pareto shape (defaults [`DEFAULT_EXPONENTIAL_RATE`] and
    /// [`DEFAULT_PARETO_SHAPE`]).
    #[serde(default)]
    pub rate: Option<f64>,
}

impl OrderSpec {
    /// A spec of `order` with every parameter at its default.
    pub fn new(order: DeletionOrder) -> Self {
        Self {
            order,
            target_class: None,
            informed_by: InformedBy::default(),
            informed_model: ScoringModel::default(),
            scores: None,
            rate: None,
        }
    }

    /// Uniformly random requests.
    pub fn random() -> Self {
        Self::new(DeletionOrder::Random)
    }

    /// All requests from the rows labelled `class`.
    pub fn targeted(class: f64) -> Self {
        Self {
            target_class: Some(class),
            ..Self::new(DeletionOrder::Targeted)
        }
    }

    /// Largest `by` score first.
    pub fn informed(by: InformedBy) -> Self {
        Self {
            informed_by: by,
            ..Self::new(DeletionOrder::Informed)
        }
    }

    /// Largest of the given per-row `scores` first.
    pub fn ordered(scores: Vec<f64>) -> Self {
        Self {
            scores: Some(scores),
            ..Self::new(DeletionOrder::Ordered)
        }
    }

    /// A short label for reports, e.g. `random`, `targeted(+1)`, `informed(norm)`,
    /// `exponential(10)`.
    pub fn label(&self) -> String {
        match self.order {
            DeletionOrder::Random => "random".into(),
            DeletionOrder::Targeted => match self.target_class {
                Some(c) => format!("targeted({c})"),
                None => "targeted".into(),
            },
            DeletionOrder::Informed => {
                let by = match self.informed_by {
                    InformedBy::Norm => "norm",
                    InformedBy::Loss => "loss",
                    InformedBy::Gradient => "gradient",
                };
                if self.needs_model() {
                    format!("informed({by}, {} model)", self.informed_model.name())
                } else {
                    format!("informed({by})")
                }
            }
            DeletionOrder::Ordered => "ordered".into(),
            DeletionOrder::Exponential => format!(
                "exponential({})",
                self.rate.unwrap_or(DEFAULT_EXPONENTIAL_RATE)
            ),
            DeletionOrder::Pareto => {
                format!("pareto({})", self.rate.unwrap_or(DEFAULT_PARETO_SHAPE))
            }
        }
    }
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self::random()
    }
}

fn invalid(name: &'static str, value: impl ToString, reason: impl Into<String>) -> RemovalError {
    RemovalError::Data(DataError::InvalidParameter {
        name,
        value: value.to_string(),
        reason: reason.into(),
    })
}

/// `count` distinct row indices of `data` in request order, drawn from the deletion
/// distribution `spec` under `seed` (see the module docs for every order's exact definition).
///
/// `model` is `(W, classes, loss)`: the d × K weights, the class of each column (`None` for a
/// binary model, `Some(c)` for the one-vs-rest model of class c, whose labels are +1 for c and
/// −1 otherwise) and the loss; only [`InformedBy::Loss`] and [`InformedBy::Gradient`] need it.
///
/// # Errors
/// [`DataError::InvalidParameter`] (wrapped in [`RemovalError::Data`]) when `count` > n − 1
/// (a removal must leave a row), a targeted order has no `target_class` or fewer than `count`
/// rows of it, an informed order needs a model it was not given, `scores` are missing, not
/// one per row, or not finite, or `rate` is not finite and > 0;
/// [`DataError::UnknownClass`] when the target class does not occur;
/// [`DataError::DimensionMismatch`] when the model's shape does not fit the data.
pub fn deletion_sequence(
    spec: &OrderSpec,
    data: &Dataset,
    model: Option<ModelView<'_>>,
    count: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let n = data.n_samples();
    if count > n.saturating_sub(1) {
        return Err(invalid(
            "count",
            count,
            format!(
                "a deletion sequence over {n} rows can hold at most n − 1 = {} rows",
                n.saturating_sub(1)
            ),
        ));
    }
    let mut rng = Purpose::DeletionOrder.rng(seed, 0);
    match spec.order {
        DeletionOrder::Random => {
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(&mut rng);
            perm.truncate(count);
            Ok(perm)
        }
        DeletionOrder::Targeted => {
            let class = spec.target_class.ok_or_else(|| {
                invalid(
                    "target_class",
                    "none",
                    "a targeted order needs target_class",
                )
            })?;
            let mut rows: Vec<usize> = (0..n).filter(|&i| data.labels()[i] == class).collect();
            if rows.is_empty() {
                return Err(RemovalError::Data(DataError::UnknownClass { class }));
            }
            if rows.len() < count {
                return Err(invalid(
                    "count",
                    count,
                    format!("class {class} has only {} rows", rows.len()),
                ));
            }
            rows.shuffle(&mut rng);
            rows.truncate(count);
            Ok(rows)
        }
        DeletionOrder::Informed => {
            let scores = informed_scores(spec.informed_by, data, model)?;
            // Random tie-break ranks: a shuffle of 0..n (the stream's first draws).
            let mut tie: Vec<usize> = (0..n).collect();
            tie.shuffle(&mut rng);
            let mut rank = vec![0usize; n];
            for (r, &i) in tie.iter().enumerate() {
                rank[i] = r;
            }
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| {
                scores[b]
                    .partial_cmp(&scores[a])
                    .unwrap_or(Ordering::Equal)
                    .then(rank[a].cmp(&rank[b]))
            });
            idx.truncate(count);
            Ok(idx)
        }
        DeletionOrder::Ordered => {
            let scores = spec.scores.as_ref().ok_or_else(|| {
                invalid(
                    "scores",
                    "none",
                    "an ordered deletion order needs one score per row",
                )
            })?;
            if scores.len() != n {
                return Err(invalid(
                    "scores",
                    format!("{} values", scores.len()),
                    format!("expected one score per training row ({n})"),
                ));
            }
            if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
                return Err(invalid(
                    "scores",
                    scores[i],
                    format!("score of row {i} is not finite"),
                ));
            }
            let mut idx: Vec<usize> = (0..n).collect();
            // Stable sort: ties keep ascending row order.
            idx.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal));
            idx.truncate(count);
            Ok(idx)
        }
        DeletionOrder::Exponential | DeletionOrder::Pareto => {
            let exponential = spec.order == DeletionOrder::Exponential;
            let rate = spec.rate.unwrap_or(if exponential {
                DEFAULT_EXPONENTIAL_RATE
            } else {
                DEFAULT_PARETO_SHAPE
            });
            if !(rate.is_finite() && rate > 0.0) {
                return Err(invalid(
                    "rate",
                    rate,
                    "the exponential rate / Pareto shape must be finite and > 0",
                ));
            }
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(&mut rng);
            let mut rank = vec![0usize; n];
            for (r, &i) in perm.iter().enumerate() {
                rank[i] = r;
            }
            let keys: Vec<f64> = (0..n)
                .map(|i| {
                    let u: f64 = rng.random();
                    let e = -(1.0 - u).ln(); // Exp(1); u < 1 so e is finite, and e ≥ 0
                    let log_weight = if exponential {
                        -rate * rank[i] as f64 / n as f64
                    } else {
                        -(rate + 1.0) * ((rank[i] + 1) as f64).ln()
                    };
                    e.ln() - log_weight
                })
                .collect();
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| {
                keys[a]
                    .partial_cmp(&keys[b])
                    .unwrap_or(Ordering::Equal)
                    .then(a.cmp(&b))
            });
            idx.truncate(count);
            Ok(idx)
        }
    }
}

/// The per-row scores of an informed order.
fn informed_scores(
    by: InformedBy,
    data: &Dataset,
    model: Option<ModelView<'_>>,
) -> Result<Vec<f64>> {
    let norms = data.row_norms();
    if by == InformedBy::Norm {
        return Ok(norms);
    }
    let (w, classes, loss) = model.ok_or_else(|| {
        invalid(
            "informed_by",
            if by == InformedBy::Loss {
                "loss"
            } else {
                "gradient"
            },
            "an informed order by loss or gradient needs a trained model",
        )
    })?;
    if w.nrows() != data.n_features() {
        return Err(RemovalError::Data(DataError::DimensionMismatch {
            expected: data.n_features(),
            found: w.nrows(),
            context: "rows of the weight matrix given to deletion_sequence".into(),
        }));
    }
    if w.ncols() != classes.len() || w.ncols() == 0 {
        return Err(RemovalError::Data(DataError::DimensionMismatch {
            expected: classes.len(),
            found: w.ncols(),
            context: "weight columns vs classes given to deletion_sequence".into(),
        }));
    }
    let z = data.features() * w;
    let y = data.labels();
    Ok((0..data.n_samples())
        .map(|i| {
            let mut loss_sum = 0.0;
            let mut grad_sq = 0.0;
            for (k, class) in classes.iter().enumerate() {
                let yk = match class {
                    Some(c) => {
                        if y[i] == *c {
                            1.0
                        } else {
                            -1.0
                        }
                    }
                    None => y[i],
                };
                loss_sum += loss.value(z[(i, k)], yk);
                grad_sq += loss.derivative(z[(i, k)], yk).powi(2);
            }
            match by {
                InformedBy::Loss => loss_sum,
                _ => norms[i] * grad_sq.sqrt(),
            }
        })
        .collect())
}

/// Splits a sequence into consecutive requests of `batch_size` rows (the last may be
/// shorter); `batch_size` 0 is treated as 1.
pub fn batches(sequence: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    sequence
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

//! The certified-removal game: an ε lower bound from many draws of the mechanism.
//!
//! Certified removal (Guo et al. 2020, Definition 1) is a statement about two *distributions*
//! of released models on one dataset D and one forget set: the model M(A(D), D, x) that the
//! mechanism releases after removing x, and the model A(D ∖ x) retrained from scratch. For
//! every set S of models,
//!
//! ```text
//! P[M(A(D), D, x) ∈ S] ≤ e^ε · P[A(D ∖ x) ∈ S] + δ      and the same with the two swapped.
//! ```
//!
//! The game samples both: T independent *unlearned* draws (each trained with a fresh b and then
//! unlearned) and T independent *retrained* draws, each reduced to one [`GameObservation`]. A
//! distinguisher "unlearned iff s(model) ≥ t" is a set S, so its rates obey
//! TPR ≤ e^ε·FPR + δ. The draws are split at random (seeded) into a selection half and an
//! evaluation half on each side. On the selection half the game chooses the statistic s among
//! [`GameStatistic`]s (some of which are themselves fitted on the selection half: the direction
//! of [`GameStatistic::Projection`], the centre and scale of [`GameStatistic::Distance`]),
//! the threshold t and the orientation; on the evaluation half it counts, and the Clopper–
//! Pearson bound of [`crate::metrics::empirical_epsilon_lower_bound`] holds because the test
//! was fixed before those draws were looked at and the draws are independent (Jagielski,
//! Ullman and Oprea, NeurIPS 2020; Nasr et al., IEEE S&P 2021).
//!
//! Unlike a membership attack on *one* unlearned model (whose rows are not independent trials
//! of the mechanism), this is the comparison the theorem makes: a correct (ε, δ)-certified
//! mechanism gives a bound above ε with probability at most 1 − `confidence`, whatever the
//! statistics.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{MiaError, Result, invalid};
use crate::metrics::EpsilonBound;
use crate::metrics::epsilon::{bound_at_threshold, select_threshold};
use lethe_models::noise::Purpose;

/// A statistic of a released model that the game may distinguish with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameStatistic {
    /// [`GameObservation::forget_loss`]: the mean loss of the forgotten rows under the model
    /// (an unlearned model that still remembers them fits them better).
    ForgetLoss,
    /// `⟨w, u⟩`, u_j = (m̄ᵁ_j − m̄ᴿ_j) / v_j: the flattened weights projected on the
    /// per-coordinate standardised difference of the mean unlearned and mean retrained weights
    /// of the selection half, v_j their pooled variance (a diagonal linear discriminant; it
    /// finds a shift such as the direction of an update that was not undone).
    Projection,
    /// `Σ_j (w_j − m̄ᴿ_j)² / vᴿ_j`: the squared standardised distance to the mean retrained
    /// weights of the selection half (it finds a changed spread, e.g. too little noise).
    Distance,
}

impl GameStatistic {
    /// Every statistic, in the order ties are broken.
    pub const ALL: [GameStatistic; 3] = [
        GameStatistic::ForgetLoss,
        GameStatistic::Projection,
        GameStatistic::Distance,
    ];

    /// The snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            GameStatistic::ForgetLoss => "forget_loss",
            GameStatistic::Projection => "projection",
            GameStatistic::Distance => "distance",
        }
    }

    fn needs_weights(self) -> bool {
        !matches!(self, GameStatistic::ForgetLoss)
    }
}

/// What the game keeps of one released model.
#[derive(Clone, Debug, PartialEq)]
pub struct GameObservation {
    /// The released weights, flattened (column-major over d × K). Empty for a model without
    /// one weight matrix (an ensemble): then only [`GameStatistic::ForgetLoss`] applies.
    pub weights: Vec<f64>,
    /// The mean loss of the forgotten rows under the model.
    pub forget_loss: f64,
}

/// The settings of [`removal_game`].
#[derive(Clone, Debug, PartialEq)]
pub struct GameOptions {
    /// The δ the bound assumes (the certificate's δ).
    pub delta: f64,
    /// Joint confidence of the two one-sided Clopper–Pearson bounds.
    pub confidence: f64,
    /// The seed of the selection/evaluation split.
    pub seed: u64,
    /// The statistics the selection half chooses from (non-empty).
    pub statistics: Vec<GameStatistic>,
}

/// One statistic's ε lower bound on the selection half (optimistic: chosen and counted on the
/// same draws; it only ranks the statistics).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameCandidate {
    /// The statistic.
    pub statistic: GameStatistic,
    /// Its best ε bound on the selection half.
    pub selection_epsilon: f64,
}

/// The outcome of [`removal_game`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameOutcome {
    /// The statistic chosen on the selection half.
    pub statistic: GameStatistic,
    /// The ε lower bound from the evaluation half (unlearned draws as positives), with its
    /// counts, δ and confidence.
    pub bound: EpsilonBound,
    /// The threshold of the chosen test, on the statistic's scale.
    pub threshold: f64,
    /// `false`: "unlearned iff s ≥ threshold"; `true`: "unlearned iff s ≤ threshold".
    pub reversed: bool,
    /// Every candidate statistic with its selection-half bound.
    pub candidates: Vec<GameCandidate>,
    /// Unlearned and retrained draws in the selection half.
    pub selection_draws: (usize, usize),
    /// Unlearned and retrained draws in the evaluation half.
    pub evaluation_draws: (usize, usize),
    /// The seed of the split.
    pub seed: u64,
}

/// Per-coordinate means and (unbiased) variances of a set of equal-length vectors.
fn moments(rows: &[&GameObservation]) -> (Vec<f64>, Vec<f64>) {
    let d = rows[0].weights.len();
    let n = rows.len() as f64;
    let mut mean = vec![0.0; d];
    for r in rows {
        for (m, w) in mean.iter_mut().zip(&r.weights) {
            *m += w / n;
        }
    }
    let mut var = vec![0.0; d];
    for r in rows {
        for ((v, w), m) in var.iter_mut().zip(&r.weights).zip(&mean) {
            *v += (w - m) * (w - m) / (n - 1.0).max(1.0);
        }
    }
    (mean, var)
}

/// Variances floored so that standardising never divides by zero: at least 1e-24 of the
/// largest variance; all ones when every variance is zero (a deterministic mechanism).
fn floored(var: &[f64]) -> Vec<f64> {
    let top = var.iter().copied().fold(0.0, f64::max);
    if !(top > 0.0) {
        return vec![1.0; var.len()];
    }
    var.iter().map(|&v| v.max(1e-24 * top)).collect()
}

/// The scoring function of `statistic`, fitted on the selection draws.
fn fit_statistic(
    statistic: GameStatistic,
    unlearned: &[&GameObservation],
    retrained: &[&GameObservation],
) -> Box<dyn Fn(&GameObservation) -> f64> {
    match statistic {
        GameStatistic::ForgetLoss => Box::new(|o: &GameObservation| o.forget_loss),
        GameStatistic::Projection => {
            let (mu, vu) = moments(unlearned);
            let (mr, vr) = moments(retrained);
            let pooled: Vec<f64> = vu.iter().zip(&vr).map(|(a, b)| 0.5 * (a + b)).collect();
            let u: Vec<f64> = mu
                .iter()
                .zip(&mr)
                .zip(floored(&pooled))
                .map(|((a, b), v)| (a - b) / v)
                .collect();
            Box::new(move |o: &GameObservation| o.weights.iter().zip(&u).map(|(w, u)| w * u).sum())
        }
        GameStatistic::Distance => {
            let (mr, vr) = moments(retrained);
            let vr = floored(&vr);
            Box::new(move |o: &GameObservation| {
                o.weights
                    .iter()
                    .zip(&mr)
                    .zip(&vr)
                    .map(|((w, m), v)| (w - m) * (w - m) / v)
                    .sum()
            })
        }
    }
}

/// A seeded random split of `draws` into a selection half (⌊T/2⌋) and an evaluation half.
fn halves(
    draws: &[GameObservation],
    seed: u64,
    index: u64,
) -> (Vec<&GameObservation>, Vec<&GameObservation>) {
    let mut order: Vec<usize> = (0..draws.len()).collect();
    order.shuffle(&mut Purpose::GameSplit.rng(seed, index));
    let half = draws.len() / 2;
    let pick = |ix: &[usize]| ix.iter().map(|&i| &draws[i]).collect::<Vec<_>>();
    (pick(&order[..half]), pick(&order[half..]))
}

/// Scores of `draws` under `f`, which must be finite.
fn scored(f: &dyn Fn(&GameObservation) -> f64, draws: &[&GameObservation]) -> Result<Vec<f64>> {
    draws
        .iter()
        .map(|o| {
            let s = f(o);
            if s.is_finite() {
                Ok(s)
            } else {
                Err(MiaError::Numerical {
                    what: "game statistic",
                    reason: format!("non-finite value {s}"),
                })
            }
        })
        .collect()
}

/// The certified-removal game's ε lower bound from `unlearned` and `retrained` draws (see the
/// module docs): each side split at random into a selection half (⌊T/2⌋ draws) and an
/// evaluation half; statistic, threshold and orientation chosen on the selection half (ties
/// to the first statistic in `options.statistics`); the bound counted on the evaluation half.
///
/// # Errors
/// [`MiaError::InvalidParameter`] with fewer than 4 draws on a side, no statistics, weights of
/// different lengths, a weight statistic without weights, a non-finite observation, or bad δ
/// or confidence.
///
/// # Example
/// ```
/// use lethe_mia::game::{GameObservation, GameOptions, GameStatistic, removal_game};
/// // two identical distributions: nothing to find
/// let draw = |i: usize| GameObservation { weights: vec![(i % 7) as f64], forget_loss: 0.5 };
/// let u: Vec<_> = (0..200).map(draw).collect();
/// let r: Vec<_> = (3..203).map(draw).collect();
/// let options = GameOptions {
///     delta: 1e-5,
///     confidence: 0.95,
///     seed: 0,
///     statistics: GameStatistic::ALL.to_vec(),
/// };
/// let out = removal_game(&u, &r, &options)?;
/// assert!(out.bound.epsilon_lower_bound < 0.5);
/// # Ok::<(), lethe_mia::MiaError>(())
/// ```
pub fn removal_game(
    unlearned: &[GameObservation],
    retrained: &[GameObservation],
    options: &GameOptions,
) -> Result<GameOutcome> {
    if unlearned.len() < 4 || retrained.len() < 4 {
        return Err(invalid(
            "draws",
            format!(
                "{} unlearned, {} retrained",
                unlearned.len(),
                retrained.len()
            ),
            "need at least 4 of each (2 to select the test, 2 to count)",
        ));
    }
    if options.statistics.is_empty() {
        return Err(invalid("statistics", "[]", "need at least one statistic"));
    }
    let d = unlearned[0].weights.len();
    if let Some(o) = unlearned
        .iter()
        .chain(retrained)
        .find(|o| o.weights.len() != d)
    {
        return Err(invalid(
            "weights",
            o.weights.len(),
            format!("every draw needs the same number of weights ({d})"),
        ));
    }
    if d == 0
        && let Some(s) = options.statistics.iter().find(|s| s.needs_weights())
    {
        return Err(invalid(
            "statistics",
            s.name(),
            "needs the released weights, which these draws do not have",
        ));
    }
    if let Some(o) = unlearned
        .iter()
        .chain(retrained)
        .find(|o| !o.forget_loss.is_finite() || o.weights.iter().any(|w| !w.is_finite()))
    {
        return Err(invalid(
            "observation",
            o.forget_loss,
            "forget loss and weights must be finite",
        ));
    }
    let (sel_u, eval_u) = halves(unlearned, options.seed, 0);
    let (sel_r, eval_r) = halves(retrained, options.seed, 1);

    let mut candidates = Vec::with_capacity(options.statistics.len());
    // (selection bound, statistic index, threshold, reversed)
    let mut best: Option<(f64, usize, f64, bool)> = None;
    let mut fitted = Vec::with_capacity(options.statistics.len());
    for (i, &statistic) in options.statistics.iter().enumerate() {
        let f = fit_statistic(statistic, &sel_u, &sel_r);
        let (e, t, rev) = select_threshold(
            &scored(f.as_ref(), &sel_u)?,
            &scored(f.as_ref(), &sel_r)?,
            options.delta,
            options.confidence,
        )?;
        candidates.push(GameCandidate {
            statistic,
            selection_epsilon: e,
        });
        if best.is_none_or(|(b, ..)| e > b) {
            best = Some((e, i, t, rev));
        }
        fitted.push(f);
    }
    let (_, i, threshold, reversed) = best.ok_or(MiaError::Empty {
        what: "game statistics",
    })?;
    let f = fitted[i].as_ref();
    let bound = bound_at_threshold(
        &scored(f, &eval_u)?,
        &scored(f, &eval_r)?,
        threshold,
        reversed,
        options.delta,
        options.confidence,
    )?;
    Ok(GameOutcome {
        statistic: options.statistics[i],
        bound,
        threshold,
        reversed,
        candidates,
        selection_draws: (sel_u.len(), sel_r.len()),
        evaluation_draws: (eval_u.len(), eval_r.len()),
        seed: options.seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use rand_distr::{Distribution, StandardNormal};
    use statrs::distribution::{ContinuousCDF, Normal};

    /// The exact ε at δ of the Gaussian mechanism with sensitivity/σ = μ (Balle & Wang 2018):
    /// the root of δ(ε) = Φ(μ/2 − ε/μ) − e^ε Φ(−μ/2 − ε/μ), by bisection.
    fn gaussian_epsilon(mu: f64, delta: f64) -> f64 {
        let phi = Normal::standard();
        let d = |e: f64| phi.cdf(mu / 2.0 - e / mu) - e.exp() * phi.cdf(-mu / 2.0 - e / mu);
        let (mut lo, mut hi) = (0.0, 50.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if d(mid) > delta { lo = mid } else { hi = mid }
        }
        hi
    }

    fn draws(n: usize, shift: f64, seed: u64) -> Vec<GameObservation> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let w: Vec<f64> = (0..3)
                    .map(|j| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        z + if j == 0 { shift } else { 0.0 }
                    })
                    .collect();
                GameObservation {
                    forget_loss: w[1],
                    weights: w,
                }
            })
            .collect()
    }

    fn options(seed: u64) -> GameOptions {
        GameOptions {
            delta: 1e-5,
            confidence: 0.95,
            seed,
            statistics: GameStatistic::ALL.to_vec(),
        }
    }

    #[test]
    fn a_gaussian_shift_is_found_and_never_overstated() {
        // unlearned ~ N(μ e₀, I), retrained ~ N(0, I): exactly the Gaussian mechanism
        let (mu, delta) = (2.0, 1e-5);
        let truth = gaussian_epsilon(mu, delta);
        let mut above = 0;
        for seed in 0..20 {
            let out = removal_game(
                &draws(2000, mu, 2 * seed),
                &draws(2000, 0.0, 2 * seed + 1),
                &options(seed),
            )
            .unwrap();
            assert_eq!(out.statistic, GameStatistic::Projection, "seed {seed}");
            assert!(out.bound.epsilon_lower_bound > 1.0, "seed {seed}: {out:?}");
            if out.bound.epsilon_lower_bound > truth {
                above += 1;
            }
        }
        // at 95 % confidence, P(more than 3 of 20 above) < 2 %
        assert!(
            above <= 3,
            "{above} of 20 bounds above the true ε = {truth}"
        );
    }

    #[test]
    fn equal_distributions_give_no_bound_beyond_the_confidence() {
        let positive = (0..40)
            .filter(|&seed| {
                removal_game(
                    &draws(400, 0.0, 2 * seed),
                    &draws(400, 0.0, 2 * seed + 1),
                    &options(seed),
                )
                .unwrap()
                .bound
                .epsilon_lower_bound
                    > 0.0
            })
            .count();
        // ε = 0 is the truth: a positive bound has probability ≤ 5 %; P(> 6 of 40) < 2 %
        assert!(positive <= 6, "{positive} of 40");
    }

    #[test]
    fn a_changed_spread_is_found_by_the_distance() {
        let mut u = draws(1000, 0.0, 7);
        for o in &mut u {
            for w in &mut o.weights {
                *w *= 0.2;
            }
            o.forget_loss = 0.0;
        }
        let mut r = draws(1000, 0.0, 8);
        for o in &mut r {
            o.forget_loss = 0.0;
        }
        let out = removal_game(&u, &r, &options(1)).unwrap();
        assert_eq!(out.statistic, GameStatistic::Distance);
        assert!(out.bound.epsilon_lower_bound > 1.0, "{out:?}");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let ok = draws(10, 0.0, 1);
        assert!(removal_game(&ok[..3], &ok, &options(0)).is_err());
        let mut o = options(0);
        o.statistics.clear();
        assert!(removal_game(&ok, &ok, &o).is_err());
        let mut bad = ok.clone();
        bad[2].weights.pop();
        assert!(removal_game(&bad, &ok, &options(0)).is_err());
        bad = ok.clone();
        bad[0].forget_loss = f64::NAN;
        assert!(removal_game(&bad, &ok, &options(0)).is_err());
        let empty: Vec<GameObservation> = ok
            .iter()
            .map(|o| GameObservation {
                weights: vec![],
                forget_loss: o.forget_loss,
            })
            .collect();
        assert!(removal_game(&empty, &empty, &options(0)).is_err());
        let mut only_loss = options(0);
        only_loss.statistics = vec![GameStatistic::ForgetLoss];
        assert!(removal_game(&empty, &empty, &only_loss).is_ok());
    }
}

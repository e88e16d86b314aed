//! RMIA, the relative membership-inference attack of Zarifzadeh, Liu, Mahloujifar and Shokri,
//! *Low-Cost High-Power Membership Inference Attacks* (ICML 2024).

use lethe_data::Dataset;
use lethe_models::loss::{sigmoid, softplus};
use rand::seq::SliceRandom;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use super::{AttackDescriptor, AttackOutput};
use crate::error::{MiaError, Result, invalid};
use crate::metrics::auc;
use crate::reference::{ReferenceConfig, ReferenceSet, ReferenceTraining};
use crate::scores::{Statistic, from_margins};
use crate::target::TargetModel;
use lethe_models::noise::Purpose;

/// The offline interpolation parameter `a` of RMIA: fixed, or tuned on the reference models.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OfflineA {
    /// A fixed a ∈ [0, 1] (written as a number).
    Fixed(f64),
    /// Tuned as ml_privacy_meter tunes it (written as `"tune"`): see [`Rmia`].
    Tune(Tune),
}

/// The keyword `"tune"` of [`OfflineA::Tune`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tune {
    /// Tune on the reference models.
    Tune,
}

/// The grid offline RMIA tunes `a` on: 0, 0.1, …, 1 (ml_privacy_meter's `np.arange(0, 1.1, 0.1)`).
pub const OFFLINE_A_GRID: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The reference model that plays the target when offline RMIA tunes `a`.
pub const TUNING_PSEUDO_TARGET: usize = 0;

/// RMIA: compares the target example x with population points z through
///
/// ```text
/// LR(x) = Pr(x | θ) / Pr(x),   Pr(x) ≈ mean over reference models θ_k of Pr(x | θ_k),
/// score(x) = fraction of population points z with LR(x) / LR(z) ≥ γ,
/// ```
///
/// where `Pr(x | θ) = p(y|x)` is the model's probability of the true label (σ of the logit
/// confidence). **Online**: reference models are trained on random halves of
/// `targets ++ population` (or on as many rows as the target,
/// [`ReferenceConfig::training_rows`]) and `Pr(x)` averages all K of them. **Offline**: reference models
/// never see a target; `Pr(x)` is estimated from the OUT models as
/// `½((1 + a) · Pr_OUT(x) + (1 − a))` (the paper's offline approximation), and the same
/// correction is applied to the population points using their OUT models.
///
/// **`a`** ([`Rmia::offline_a`]) is either fixed or, with [`OfflineA::Tune`], tuned as
/// ml_privacy_meter tunes it: reference model [`TUNING_PSEUDO_TARGET`] plays the target and
/// the other K − 1 models the references; the population rows it trained on are the members,
/// a seeded half of the rows it left out (at most `n_population_points`, stream
/// `RmiaTuning`) are the pseudo-target's population points z and the other half the
/// non-members; for every a of [`OFFLINE_A_GRID`] the pseudo-attack's AUC is computed and the
/// a with the largest AUC is used (the first on ties). ml_privacy_meter scores its
/// pseudo-target with one reference model; here all K − 1 others are used, as the attack
/// itself uses all K. The chosen a and the grid's AUCs are in the descriptor.
///
/// The population points z are a seeded random subset (without replacement) of the
/// population, or of given candidate rows of it ([`Rmia::score_with_points`]); they are never
/// targets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rmia {
    /// Number of reference models K (even).
    pub n_reference: usize,
    /// Online or offline.
    pub online: bool,
    /// The likelihood-ratio threshold γ ≥ 1 x must beat z by (default 1).
    pub gamma: f64,
    /// Number of population points z (capped at the number of candidates; default 1000).
    pub n_population_points: usize,
    /// The offline interpolation parameter: a fixed a ∈ [0, 1] (default 0.3) or `"tune"`
    /// (unused online).
    pub offline_a: OfflineA,
    /// Seed of the reference models and of the choice of z.
    pub seed: u64,
    /// How reference models are trained.
    pub training: ReferenceTraining,
}

impl Default for Rmia {
    fn default() -> Self {
        Self {
            n_reference: 64,
            online: true,
            gamma: 1.0,
            n_population_points: 1000,
            offline_a: OfflineA::Fixed(0.3),
            seed: 0,
            training: ReferenceTraining::default(),
        }
    }
}

/// `ln Pr(x)` from the reference statistics of one row: online the mean of σ(φ_k) over all
/// K models, offline `½((1 + a) · Pr_OUT + (1 − a))` over the OUT models other than `skip`
/// (`None` when no such model left the row out).
fn ln_marginal(
    online: bool,
    a: f64,
    k: usize,
    stats: &dyn Fn(usize) -> f64,
    is_in: &dyn Fn(usize) -> bool,
    skip: Option<usize>,
) -> Option<f64> {
    if online {
        return Some(((0..k).map(|m| sigmoid(stats(m))).sum::<f64>() / k as f64).ln());
    }
    let outs: Vec<f64> = (0..k)
        .filter(|&m| Some(m) != skip && !is_in(m))
        .map(|m| sigmoid(stats(m)))
        .collect();
    if outs.is_empty() {
        return None;
    }
    let p_out = outs.iter().sum::<f64>() / outs.len() as f64;
    Some((0.5 * ((1.0 + a) * p_out + (1.0 - a))).ln())
}

/// The fraction of the sorted `ln_lr_z` with `LR(x) / LR(z) ≥ γ`, i.e.
/// `ln LR(z) ≤ ln LR(x) − ln γ`.
fn fraction_beaten(ln_lr_z: &[f64], ln_lr_x: f64, ln_gamma: f64) -> f64 {
    let bound = ln_lr_x - ln_gamma;
    ln_lr_z.partition_point(|&v| v <= bound) as f64 / ln_lr_z.len() as f64
}

/// What tuning `a` found (see [`Rmia`]).
struct Tuned {
    a: f64,
    aucs: Vec<f64>,
    members: usize,
    nonmembers: usize,
    points: usize,
}

impl Rmia {
    /// Checks the options.
    ///
    /// # Errors
    /// [`MiaError::InvalidParameter`] for an odd K, γ < 1 (or not finite), a ∉ [0, 1], or
    /// no population points.
    pub fn check(&self) -> Result<()> {
        let k = self.n_reference;
        if k < 2 || !k.is_multiple_of(2) {
            return Err(invalid("n_reference", k, "must be even and at least 2"));
        }
        if !(self.gamma.is_finite() && self.gamma >= 1.0) {
            return Err(invalid("gamma", self.gamma, "must be finite and ≥ 1"));
        }
        if let OfflineA::Fixed(a) = self.offline_a
            && !(0.0..=1.0).contains(&a)
        {
            return Err(invalid("offline_a", a, "must be in [0, 1] or \"tune\""));
        }
        if self.n_population_points == 0 {
            return Err(invalid("n_population_points", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The reference-set settings this attack needs.
    pub fn reference_config(&self) -> ReferenceConfig {
        ReferenceConfig {
            n_reference: self.n_reference,
            online: self.online,
            seed: self.seed,
            training: self.training,
            training_rows: None,
        }
    }

    /// Trains the reference models and scores every row of `targets`.
    ///
    /// # Errors
    /// As [`Rmia::check`], [`ReferenceSet::train`] and [`Rmia::score_with`].
    pub fn run<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
    ) -> Result<AttackOutput> {
        let target = target.into();
        self.check()?;
        let reference = ReferenceSet::train(target, targets, population, &self.reference_config())?;
        self.score_with(target, targets, population, &reference)
    }

    /// Scores every row of `targets` with reference models already trained on these targets
    /// and this population, the population points z drawn from the whole population.
    ///
    /// # Errors
    /// As [`Rmia::score_with_points`].
    pub fn score_with<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
        reference: &ReferenceSet,
    ) -> Result<AttackOutput> {
        self.score_with_points(target, targets, population, reference, None)
    }

    /// [`Rmia::score_with`] with the population points z drawn from the population rows
    /// `candidates` only (all rows for `None`): for example the rows that are non-members of
    /// the attacked model, when the reference models' population also holds its training rows.
    ///
    /// # Errors
    /// As [`Rmia::check`]; [`MiaError::Empty`] without population or candidates;
    /// [`MiaError::InvalidParameter`] when `reference` does not match, a candidate is out of
    /// range, offline a row has no OUT reference model, or `a` cannot be tuned (no population
    /// row in or out of the pseudo-target).
    pub fn score_with_points<'a>(
        &self,
        target: impl Into<TargetModel<'a>>,
        targets: &Dataset,
        population: &Dataset,
        reference: &ReferenceSet,
        candidates: Option<&[usize]>,
    ) -> Result<AttackOutput> {
        let target = target.into();
        self.check()?;
        let rc = reference.config();
        if rc.n_reference != self.n_reference || rc.online != self.online {
            return Err(invalid(
                "reference set",
                format!("K = {}, online = {}", rc.n_reference, rc.online),
                format!(
                    "the attack needs K = {}, online = {}",
                    self.n_reference, self.online
                ),
            ));
        }
        if reference.n_targets() != targets.n_samples()
            || reference.n_population() != population.n_samples()
        {
            return Err(MiaError::LengthMismatch {
                what: "targets and population of the reference set",
                expected: targets.n_samples() + population.n_samples(),
                found: reference.n_targets() + reference.n_population(),
            });
        }
        if population.is_empty() {
            return Err(MiaError::Empty {
                what: "population (RMIA compares with population points)",
            });
        }
        let all: Vec<usize>;
        let candidates = match candidates {
            Some(c) => c,
            None => {
                all = (0..population.n_samples()).collect();
                &all
            }
        };
        if candidates.is_empty() {
            return Err(MiaError::Empty {
                what: "candidate population points of RMIA",
            });
        }
        if let Some(&bad) = candidates.iter().find(|&&j| j >= population.n_samples()) {
            return Err(invalid(
                "RMIA population point",
                bad,
                format!("the population has {} rows", population.n_samples()),
            ));
        }
        let loss = target.params()?.loss;
        let phi_of = |data: &Dataset| -> Result<Vec<f64>> {
            from_margins(
                Statistic::LogitConfidence,
                loss,
                &target.margins(data.features())?,
                &target.labels(data)?,
            )
        };
        let k = self.n_reference;
        let tuned = match (self.online, self.offline_a) {
            (false, OfflineA::Tune(_)) => Some(self.tune_offline_a(reference)?),
            _ => None,
        };
        let a = match (self.offline_a, &tuned) {
            (_, Some(t)) => t.a,
            (OfflineA::Fixed(a), None) => a,
            // online: a is not used
            (OfflineA::Tune(_), None) => f64::NAN,
        };
        // ln LR(row) = ln σ(φ(row)) − ln Pr(row), from the row's φ under the target, its
        // reference statistics and memberships
        let ln_lr = |what: &str,
                     row: usize,
                     phi: f64,
                     stats: &dyn Fn(usize) -> f64,
                     is_in: &dyn Fn(usize) -> bool|
         -> Result<f64> {
            let m = ln_marginal(self.online, a, k, stats, is_in, None).ok_or_else(|| {
                invalid(
                    "offline RMIA",
                    format!("{what} {row}"),
                    "no reference model left this row out, so Pr_OUT is undefined",
                )
            })?;
            Ok(-softplus(-phi) - m)
        };
        // ln LR of the population points z
        let n_z = self.n_population_points.min(candidates.len());
        let mut rng = Purpose::RmiaPopulation.rng(self.seed, 0);
        let z_idx: Vec<usize> = sample(&mut rng, candidates.len(), n_z)
            .into_iter()
            .map(|i| candidates[i])
            .collect();
        let phi_pop = phi_of(population)?;
        let pstats = reference.population_statistics();
        let mut ln_lr_z = z_idx
            .iter()
            .map(|&j| {
                ln_lr("population row", j, phi_pop[j], &|m| pstats[(j, m)], &|m| {
                    reference.population_in(j, m)
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        ln_lr_z.sort_by(f64::total_cmp);
        // scores of the targets
        let phi_t = phi_of(targets)?;
        let tstats = reference.target_statistics();
        let ln_gamma = self.gamma.ln();
        let scores = (0..targets.n_samples())
            .map(|i| {
                let x = ln_lr("target", i, phi_t[i], &|m| tstats[(i, m)], &|m| {
                    reference.target_in(i, m)
                })?;
                Ok(fraction_beaten(&ln_lr_z, x, ln_gamma))
            })
            .collect::<Result<Vec<f64>>>()?;
        let source = match (self.online, &tuned) {
            (true, _) => "unused (online)",
            (false, Some(_)) => "tuned",
            (false, None) => "fixed",
        };
        let variant = if self.online {
            format!("online, gamma = {}, {n_z} population points", self.gamma)
        } else {
            format!(
                "offline, gamma = {}, a = {a} ({source}), {n_z} population points",
                self.gamma
            )
        };
        let offline_a = match (self.online, self.offline_a) {
            (true, OfflineA::Tune(_)) => serde_json::Value::from("tune"),
            _ => serde_json::Value::from(a),
        };
        let mut descriptor = AttackDescriptor::new(
            "rmia",
            variant,
            Statistic::Confidence.name(),
            "Zarifzadeh, Liu, Mahloujifar, Shokri: Low-Cost High-Power Membership Inference Attacks (ICML 2024)",
            target,
        )
        .param("gamma", self.gamma)
        .param("n_population_points", n_z)
        .param("population_point_candidates", candidates.len())
        .param("population_point_rows", {
            let mut rows = z_idx.clone();
            rows.sort_unstable();
            rows
        })
        .param("offline_a", offline_a)
        .param("offline_a_source", source)
        .param("population_points_seed", self.seed);
        if let Some(t) = tuned {
            descriptor = descriptor.param(
                "offline_a_tuning",
                serde_json::json!({
                    "grid": OFFLINE_A_GRID,
                    "auc": t.aucs,
                    "chosen": t.a,
                    "pseudo_target": TUNING_PSEUDO_TARGET,
                    "members": t.members,
                    "nonmembers": t.nonmembers,
                    "population_points": t.points,
                    "method": "ml_privacy_meter's tune_offline_a: one reference model attacked \
                               with the others on the population rows it did and did not \
                               train on, a with the largest AUC (first on ties)",
                }),
            );
        }
        descriptor.n_reference = Some(k);
        descriptor.online = Some(self.online);
        descriptor.seed = Some(rc.seed);
        descriptor.reference = Some(reference.descriptor().clone());
        AttackOutput::new(scores, descriptor)
    }

    /// Tunes offline `a` on the reference models (see [`Rmia`]).
    fn tune_offline_a(&self, reference: &ReferenceSet) -> Result<Tuned> {
        let k = self.n_reference;
        let p = TUNING_PSEUDO_TARGET;
        let stats = reference.population_statistics();
        // rows some other model left out (others have no Pr_OUT)
        let usable: Vec<usize> = (0..reference.n_population())
            .filter(|&j| (0..k).any(|m| m != p && !reference.population_in(j, m)))
            .collect();
        let members: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&j| reference.population_in(j, p))
            .collect();
        let mut outs: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&j| !reference.population_in(j, p))
            .collect();
        outs.shuffle(&mut Purpose::RmiaTuning.rng(self.seed, 0));
        let n_z = self.n_population_points.min(outs.len() / 2);
        let (z, nonmembers) = outs.split_at(n_z);
        if members.is_empty() || nonmembers.is_empty() || z.is_empty() {
            return Err(invalid(
                "offline_a",
                "tune",
                format!(
                    "tuning needs population rows in and out of the pseudo-target (reference \
                     model {p}): {} in, {} out (at least 1 in and 2 out)",
                    members.len(),
                    outs.len()
                ),
            ));
        }
        let ln_gamma = self.gamma.ln();
        let ln_lr = |j: usize, a: f64| -> f64 {
            let m = ln_marginal(
                false,
                a,
                k,
                &|m| stats[(j, m)],
                &|m| reference.population_in(j, m),
                Some(p),
            )
            .unwrap_or(f64::NAN);
            -softplus(-stats[(j, p)]) - m
        };
        let mut best = (f64::NEG_INFINITY, OFFLINE_A_GRID[0]);
        let mut aucs = Vec::with_capacity(OFFLINE_A_GRID.len());
        for a in OFFLINE_A_GRID {
            let mut ln_lr_z: Vec<f64> = z.iter().map(|&j| ln_lr(j, a)).collect();
            ln_lr_z.sort_by(f64::total_cmp);
            let score = |rows: &[usize]| -> Vec<f64> {
                rows.iter()
                    .map(|&j| fraction_beaten(&ln_lr_z, ln_lr(j, a), ln_gamma))
                    .collect()
            };
            let value = auc(&score(&members), &score(nonmembers))?;
            if value > best.0 {
                best = (value, a);
            }
            aucs.push(value);
        }
        Ok(Tuned {
            a: best.1,
            aucs,
            members: members.len(),
            nonmembers: nonmembers.len(),
            points: n_z,
        })
    }
}

//! The loss-perturbation noise b, the seeded random streams and their purposes
//! ([`Purpose`]: every crate's stream numbers in one enum), and the seed derivers
//! ([`derived_seed`], [`splitmix64`]).
//!
//! Guo et al. (2020), §3.2 and Theorem 3: training on L_b(w) = L(w) + bᵀw hides a gradient
//! residual of norm ≤ ε′.
//! - Gaussian b ~ N(0, σ²I_d) gives (ε, δ)-certified removal while the accumulated residual
//!   stays within a budget: ε′ = σε/c with c = √(2 ln(1.5/δ)) in the paper (valid for small ε
//!   only), or the exact budget of the Gaussian mechanism's privacy profile; see
//!   [`crate::accounting`].
//! - The pure-ε variant has density ∝ exp(−(ε/ε′)‖b‖); lethe parameterises it by its scale
//!   σ = ε′/ε, so b = r·u with u uniform on the sphere and r ~ Gamma(shape d, scale σ), and the
//!   residual budget is ε′ = σε.

use nalgebra::DVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::accounting::{Accounting, analytic_budget_ratio, analytic_epsilon, paper_is_valid};
use crate::error::{ModelError, Result};

/// The distribution of the perturbation b.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// b ~ N(0, σ²I): (ε, δ)-certified removal (budget: see [`crate::accounting`]).
    #[default]
    Gaussian,
    /// density ∝ exp(−‖b‖/σ): ε-certified removal (δ = 0), budget σε.
    GammaNorm,
}

pub use crate::accounting::gaussian_c;

impl NoiseKind {
    /// Short name used in configs and results.
    pub fn name(&self) -> &'static str {
        match self {
            NoiseKind::Gaussian => "gaussian",
            NoiseKind::GammaNorm => "gamma_norm",
        }
    }

    /// The δ of the guarantee this noise gives: `delta` for Gaussian noise, 0 for the
    /// Gamma-norm noise (pure ε).
    pub fn guarantee_delta(&self, delta: f64) -> f64 {
        match self {
            NoiseKind::Gaussian => delta,
            NoiseKind::GammaNorm => 0.0,
        }
    }

    /// The largest accumulated gradient residual that keeps removal (ε, δ)-certified.
    /// - Gaussian, [`Accounting::Analytic`]: σ·r*(ε, δ), r* the exact profile's largest
    ///   sensitivity-to-noise ratio ([`crate::accounting::analytic_budget_ratio`]), rounded down;
    /// - Gaussian, [`Accounting::Paper`]: σε/c(δ) (Guo et al.; valid only where
    ///   [`crate::accounting::paper_is_valid`]);
    /// - Gamma-norm: σε (pure ε; δ and the accounting are unused).
    pub fn residual_budget(
        &self,
        sigma: f64,
        epsilon: f64,
        delta: f64,
        accounting: Accounting,
    ) -> f64 {
        match (self, accounting) {
            (NoiseKind::Gaussian, Accounting::Paper) => sigma * epsilon / gaussian_c(delta),
            (NoiseKind::Gaussian, Accounting::Analytic) => {
                let budget = sigma * analytic_budget_ratio(epsilon, delta);
                if budget > 0.0 {
                    budget.next_down()
                } else {
                    0.0
                }
            }
            (NoiseKind::GammaNorm, _) => sigma * epsilon,
        }
    }

    /// The smallest ε certified for an accumulated residual β at this δ, or `None` when the
    /// accounting makes no valid statement: σ = 0 with β > 0 (no noise), or the paper's
    /// formula β·c(δ)/σ where it is not a valid (ε, δ) statement (above ε ≈ 8.38 at δ = 1e-4).
    /// - Gaussian, analytic: the smallest ε with δ(ε; β/σ) ≤ δ
    ///   ([`crate::accounting::analytic_epsilon`]);
    /// - Gaussian, paper: β·c(δ)/σ;
    /// - Gamma-norm: β/σ (pure ε).
    pub fn epsilon_for_residual(
        &self,
        sigma: f64,
        beta: f64,
        delta: f64,
        accounting: Accounting,
    ) -> Option<f64> {
        if beta == 0.0 {
            return Some(0.0);
        }
        if !(sigma > 0.0) {
            return None;
        }
        match (self, accounting) {
            (NoiseKind::Gaussian, Accounting::Paper) => {
                let epsilon = beta * gaussian_c(delta) / sigma;
                paper_is_valid(epsilon, delta).then_some(epsilon)
            }
            (NoiseKind::Gaussian, Accounting::Analytic) => {
                Some(analytic_epsilon(beta / sigma, delta)).filter(|e| e.is_finite())
            }
            (NoiseKind::GammaNorm, _) => Some(beta / sigma),
        }
    }

    /// Draws b ∈ R^d with scale σ from `rng`. σ = 0 gives b = 0.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        sigma: f64,
        d: usize,
        rng: &mut R,
    ) -> Result<DVector<f64>> {
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(ModelError::InvalidSigma { value: sigma });
        }
        if sigma == 0.0 || d == 0 {
            return Ok(DVector::zeros(d));
        }
        Ok(match self {
            NoiseKind::Gaussian => DVector::from_fn(d, |_, _| {
                let e: f64 = StandardNormal.sample(rng);
                sigma * e
            }),
            NoiseKind::GammaNorm => {
                let mut u: DVector<f64> = DVector::from_fn(d, |_, _| StandardNormal.sample(rng));
                while u.norm() == 0.0 {
                    u = DVector::from_fn(d, |_, _| StandardNormal.sample(rng));
                }
                u.normalize_mut();
                let r = Gamma::new(d as f64, sigma)
                    .map_err(|_| ModelError::InvalidSigma { value: sigma })?
                    .sample(rng);
                u * r
            }
        })
    }
}

/// Named random streams derived from one experiment seed, so that every random choice in a run
/// is reproducible and independent of the others (ChaCha20 with a distinct stream id each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The noise b of the initial training of class model k.
    TrainingNoise {
        /// Class index (0 for binary models).
        class: u32,
    },
    /// The fresh noise b of the r-th retraining (r ≥ 1) of class model k.
    RetrainNoise {
        /// Class index (0 for binary models).
        class: u32,
        /// Retrain counter, starting at 1.
        retrain: u32,
    },
    /// The output-perturbation noise ν of the r-th release (r ≥ 1) of class model k
    /// (`output_perturbation`, `descent_to_delete`: fresh noise per released model).
    ReleaseNoise {
        /// Class index (0 for binary models).
        class: u32,
        /// Release counter, starting at 1 (the release after training).
        release: u32,
    },
    /// Any other purpose, by number (splits, request orders, shadow models, …).
    Other(u64),
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            // The top two bits tag the kind of stream; the rest identify it.
            Stream::TrainingNoise { class } => (0b01 << 62) | u64::from(class),
            Stream::RetrainNoise { class, retrain } => {
                (0b10 << 62) | (u64::from(retrain) << 24) | u64::from(class)
            }
            Stream::ReleaseNoise { class, release } => {
                (0b11 << 62) | (u64::from(release) << 24) | u64::from(class)
            }
            Stream::Other(k) => k & ((1 << 62) - 1),
        }
    }
}

/// What a seeded random stream is used for, across every crate of lethe: the one list of
/// stream purposes (lethe-removal's deletion orders and SISA, lethe-mia's reference models,
/// bootstrap and splits, and lethe-experiments' reference retrains, audit samples and game
/// draws), so two purposes never share a stream.
///
/// Purpose `p` with index `i` (`i < 2⁴⁸`) is the stream
/// [`Stream::Other`]`(p << 48 + i)` ([`Purpose::stream`], [`Purpose::rng`]); the top two bits
/// stay 0, so no purpose meets [`Stream::TrainingNoise`] or [`Stream::RetrainNoise`]. Where a
/// purpose seeds a whole derived run instead of one stream (the audit's SISA retrain, its
/// samples, the game's draws), the seed is [`derived_seed`]`(seed, p << 48 + i)`
/// ([`Purpose::derived_seed`]).
///
/// The discriminants are part of every seeded result: changing one changes the results it
/// feeds (they are pinned by a test). 1–14 are lethe-mia's, 0x101–0x103 lethe-removal's,
/// 0x201–0x206 lethe-experiments'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// lethe-mia: which pool rows each reference model trains on (one stream).
    ReferenceMembership = 1,
    /// lethe-mia: the perturbation b of reference model k, class c (index k · K + c).
    ReferenceNoise = 2,
    /// lethe-mia: bootstrap replicate r.
    Bootstrap = 3,
    /// lethe-mia: the selection/evaluation split of the ε estimate.
    EpsilonSplit = 4,
    /// lethe-mia: the population points z of RMIA.
    RmiaPopulation = 5,
    /// lethe-mia: the disjoint partition of the population among shadow models.
    ShadowPartition = 6,
    /// lethe-mia: the perturbation b of shadow model k, class c.
    ShadowNoise = 7,
    /// lethe-mia: the forget/out assignment of U-LiRA shadow models.
    UliraAssignment = 8,
    /// lethe-mia: the seed handed to the unlearner of U-LiRA shadow model k.
    UliraUnlearn = 9,
    /// lethe-mia: how the rows of reference/shadow model k are split among the members of an
    /// ensemble (index: the model's noise index k).
    EnsemblePartition = 10,
    /// lethe-mia: the selection/evaluation split of the certified-removal game's draws
    /// (index 0: unlearned, 1: retrained).
    GameSplit = 11,
    /// lethe-mia: draw r of the Monte Carlo sign-flip test over seeds (above its exact range).
    SignFlip = 12,
    /// lethe-mia: the permutations of the population ("laps", index: the lap) from which
    /// reference models with a training-set size are dealt their population rows: offline
    /// their whole training set, online the rows that fill them up.
    ReferenceSubset = 13,
    /// lethe-mia: the pseudo-target's population points when offline RMIA tunes `a` (index 0).
    RmiaTuning = 14,
    /// lethe-removal: the random choices of a deletion order (`lethe_removal::orders`; one
    /// stream).
    DeletionOrder = 0x101,
    /// lethe-removal: SISA's partition of the rows into shards (one stream).
    SisaPartition = 0x102,
    /// lethe-removal: the perturbation b of SISA shard s, class model k (index `(s << 16) + k`).
    SisaNoise = 0x103,
    /// lethe-experiments: the b of the run's reference retrain, class model k (index k).
    ReferenceRetrain = 0x201,
    /// lethe-experiments: the audit's seeded row samples (a derived seed; index: the sample).
    AuditSample = 0x202,
    /// lethe-experiments: the SISA ensemble the audit retrains from scratch (a derived seed).
    AuditSisaRetrain = 0x203,
    /// lethe-experiments: the b of the model that scores rows for an informed deletion order
    /// (`informed_model: independent`), class model k (index k).
    OrderScoring = 0x204,
    /// lethe-experiments: the unlearned draws of the certified-removal game (a derived seed;
    /// draw i adds i).
    AuditGameUnlearned = 0x205,
    /// lethe-experiments: the retrained draws of the certified-removal game (a derived seed;
    /// draw i adds i).
    AuditGameRetrained = 0x206,
}

impl Purpose {
    /// Every purpose, in discriminant order.
    pub const ALL: [Purpose; 23] = [
        Purpose::ReferenceMembership,
        Purpose::ReferenceNoise,
        Purpose::Bootstrap,
        Purpose::EpsilonSplit,
        Purpose::RmiaPopulation,
        Purpose::ShadowPartition,
        Purpose::ShadowNoise,
        Purpose::UliraAssignment,
        Purpose::UliraUnlearn,
        Purpose::EnsemblePartition,
        Purpose::GameSplit,
        Purpose::SignFlip,
        Purpose::ReferenceSubset,
        Purpose::RmiaTuning,
        Purpose::DeletionOrder,
        Purpose::SisaPartition,
        Purpose::SisaNoise,
        Purpose::ReferenceRetrain,
        Purpose::AuditSample,
        Purpose::AuditSisaRetrain,
        Purpose::OrderScoring,
        Purpose::AuditGameUnlearned,
        Purpose::AuditGameRetrained,
    ];

    /// The purpose's stream number `p << 48`: index 0 of the purpose.
    pub const fn base(self) -> u64 {
        (self as u64) << 48
    }

    /// Stream `index` of this purpose: [`Stream::Other`]`((p << 48) + index)`.
    pub fn stream(self, index: u64) -> Stream {
        debug_assert!(
            index < 1 << 48,
            "stream index {index} overflows its purpose"
        );
        Stream::Other(self.base().wrapping_add(index))
    }

    /// A ChaCha20 generator for stream `index` of this purpose under `seed`:
    /// [`stream_rng`]`(seed, self.stream(index))`.
    pub fn rng(self, seed: u64, index: u64) -> ChaCha20Rng {
        stream_rng(seed, self.stream(index))
    }

    /// The seed of a run derived for this purpose: [`derived_seed`]`(seed, (p << 48) + index)`.
    pub fn derived_seed(self, seed: u64, index: u64) -> u64 {
        derived_seed(seed, self.base().wrapping_add(index))
    }
}

/// lethe's one seed deriver: the seed of a derived run, `seed · 0x9E3779B97F4A7C15 ⊕ purpose`
/// (wrapping; the multiplier is 2⁶⁴/φ, so nearby experiment seeds give far-apart derived
/// seeds). `purpose` is a [`Purpose::base`] plus an index; see [`Purpose::derived_seed`].
pub fn derived_seed(seed: u64, purpose: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose
}

/// SplitMix64 (Steele, Lea & Flood 2014): one step of the mixer, used to derive independent
/// per-draw seeds from one seed (`lethe_testkit`) and as a tiny deterministic generator in
/// tests (`splitmix64(i)` for the i-th value).
pub const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A ChaCha20 generator for `stream` under `seed`.
pub fn stream_rng(seed: u64, stream: Stream) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(stream.id());
    rng
}

/// A ChaCha20 generator for `stream` keyed by a 256-bit secret instead of a `u64` seed.
///
/// The streams are the same named streams as [`stream_rng`]'s, so a model trained from a key
/// draws its training and retraining noise exactly as one trained from a seed does — but b
/// cannot be derived from anything written in a result (the key stays in its key file).
pub fn keyed_stream_rng(key: &[u8; 32], stream: Stream) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::from_seed(*key);
    rng.set_stream(stream.id());
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_of_delta_matches_design() {
        assert!((gaussian_c(1e-4) - 4.385386067402584).abs() < 1e-15);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = NoiseKind::Gaussian
            .sample(
                1.0,
                5,
                &mut stream_rng(7, Stream::TrainingNoise { class: 0 }),
            )
            .unwrap();
        let b = NoiseKind::Gaussian
            .sample(
                1.0,
                5,
                &mut stream_rng(7, Stream::TrainingNoise { class: 0 }),
            )
            .unwrap();
        let c = NoiseKind::Gaussian
            .sample(
                1.0,
                5,
                &mut stream_rng(
                    7,
                    Stream::RetrainNoise {
                        class: 0,
                        retrain: 1,
                    },
                ),
            )
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let k1 = NoiseKind::Gaussian
            .sample(
                1.0,
                5,
                &mut keyed_stream_rng(&[7; 32], Stream::TrainingNoise { class: 0 }),
            )
            .unwrap();
        let k2 = NoiseKind::Gaussian
            .sample(
                1.0,
                5,
                &mut keyed_stream_rng(&[8; 32], Stream::TrainingNoise { class: 0 }),
            )
            .unwrap();
        assert_ne!(k1, a);
        assert_ne!(k1, k2);
    }

    #[test]
    fn purposes_are_pinned_and_distinct() {
        // The stream values every seeded result depends on: a reordered or renumbered purpose
        // would silently change results.
        let pinned: [(Purpose, u64); 23] = [
            (Purpose::ReferenceMembership, 1 << 48),
            (Purpose::ReferenceNoise, 2 << 48),
            (Purpose::Bootstrap, 3 << 48),
            (Purpose::EpsilonSplit, 4 << 48),
            (Purpose::RmiaPopulation, 5 << 48),
            (Purpose::ShadowPartition, 6 << 48),
            (Purpose::ShadowNoise, 7 << 48),
            (Purpose::UliraAssignment, 8 << 48),
            (Purpose::UliraUnlearn, 9 << 48),
            (Purpose::EnsemblePartition, 10 << 48),
            (Purpose::GameSplit, 11 << 48),
            (Purpose::SignFlip, 12 << 48),
            (Purpose::ReferenceSubset, 13 << 48),
            (Purpose::RmiaTuning, 14 << 48),
            (Purpose::DeletionOrder, 0x101 << 48),
            (Purpose::SisaPartition, 0x102 << 48),
            (Purpose::SisaNoise, 0x103 << 48),
            (Purpose::ReferenceRetrain, 0x201 << 48),
            (Purpose::AuditSample, 0x202 << 48),
            (Purpose::AuditSisaRetrain, 0x203 << 48),
            (Purpose::OrderScoring, 0x204 << 48),
            (Purpose::AuditGameUnlearned, 0x205 << 48),
            (Purpose::AuditGameRetrained, 0x206 << 48),
        ];
        assert_eq!(pinned.map(|(p, _)| p), Purpose::ALL);
        for (p, value) in pinned {
            assert_eq!(p.base(), value, "{p:?}");
            assert_eq!(p.stream(0), Stream::Other(value), "{p:?}");
            assert_eq!(p.stream(5), Stream::Other(value + 5), "{p:?}");
            // Below the tag bits of the training and retraining noise streams.
            assert_eq!(p.stream(0).id() >> 62, 0, "{p:?}");
            assert_eq!(p.derived_seed(9, 2), derived_seed(9, value + 2));
        }
        let mut bases: Vec<u64> = Purpose::ALL.iter().map(|p| p.base()).collect();
        bases.sort_unstable();
        bases.dedup();
        assert_eq!(
            bases.len(),
            Purpose::ALL.len(),
            "two purposes share a stream"
        );
        // The generators are the named streams'.
        use rand::RngCore;
        assert_eq!(
            Purpose::SisaNoise.rng(4, 3).next_u64(),
            stream_rng(4, Stream::Other((0x103 << 48) + 3)).next_u64()
        );
    }

    #[test]
    fn seed_derivers_keep_their_values() {
        assert_eq!(derived_seed(0, 0x203 << 48), 0x203 << 48);
        assert_eq!(
            derived_seed(1, 0),
            0x9E37_79B9_7F4A_7C15,
            "seed · 2⁶⁴/φ for purpose 0"
        );
        // The first outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn gamma_norm_has_the_right_mean_norm() {
        // E‖b‖ = shape · scale = d σ.
        let mut rng = stream_rng(1, Stream::Other(3));
        let (d, sigma, reps) = (4, 0.5, 20_000);
        let mean: f64 = (0..reps)
            .map(|_| {
                NoiseKind::GammaNorm
                    .sample(sigma, d, &mut rng)
                    .unwrap()
                    .norm()
            })
            .sum::<f64>()
            / reps as f64;
        assert!((mean - d as f64 * sigma).abs() < 0.05, "{mean}");
    }

    #[test]
    fn gaussian_has_the_right_variance() {
        let mut rng = stream_rng(2, Stream::Other(4));
        let b = NoiseKind::Gaussian.sample(3.0, 40_000, &mut rng).unwrap();
        let var = b.norm_squared() / b.len() as f64;
        assert!((var - 9.0).abs() < 0.3, "{var}");
        assert!(NoiseKind::Gaussian.sample(-1.0, 3, &mut rng).is_err());
        assert_eq!(
            NoiseKind::Gaussian.sample(0.0, 3, &mut rng).unwrap(),
            DVector::zeros(3)
        );
    }

    #[test]
    fn budget_and_epsilon_are_inverse() {
        for kind in [NoiseKind::Gaussian, NoiseKind::GammaNorm] {
            for accounting in [Accounting::Paper, Accounting::Analytic] {
                let budget = kind.residual_budget(10.0, 1.0, 1e-4, accounting);
                let eps = kind
                    .epsilon_for_residual(10.0, budget, 1e-4, accounting)
                    .unwrap();
                assert!((eps - 1.0).abs() < 1e-6, "{kind:?} {accounting:?}: {eps}");
                assert!(eps <= 1.0 + 1e-14);
            }
        }
        // No noise: no statement; nothing removed: nothing spent.
        let g = NoiseKind::Gaussian;
        assert_eq!(
            g.epsilon_for_residual(0.0, 1.0, 1e-4, Accounting::Analytic),
            None
        );
        assert_eq!(
            g.epsilon_for_residual(0.0, 0.0, 1e-4, Accounting::Paper),
            Some(0.0)
        );
    }

    #[test]
    fn paper_epsilon_beyond_its_validity_is_no_statement() {
        // β/σ = 2: the paper's formula says ε = 2·c(1e-4) ≈ 8.77 > 8.38, where it is invalid.
        let g = NoiseKind::Gaussian;
        assert_eq!(
            g.epsilon_for_residual(1.0, 2.0, 1e-4, Accounting::Paper),
            None
        );
        let exact = g
            .epsilon_for_residual(1.0, 2.0, 1e-4, Accounting::Analytic)
            .unwrap();
        assert!(exact.is_finite());
        assert!(crate::accounting::gaussian_delta(exact, 2.0) <= 1e-4);
    }
}

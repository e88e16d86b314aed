//! The seeded random streams of lethe-mia.
//!
//! Every random choice derives from one user seed through a named purpose and an index,
//! `lethe_models::stream_rng(seed, Stream::Other(purpose << 48 | index))`, so results are
//! reproducible and independent of thread scheduling, and two purposes never share a stream.

use lethe_models::Stream;
use rand_chacha::ChaCha20Rng;

/// What a stream is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Purpose {
    /// Which pool rows each reference model trains on (one stream).
    ReferenceMembership = 1,
    /// The perturbation b of reference model k, class c (index k · K + c).
    ReferenceNoise = 2,
    /// Bootstrap replicate r.
    Bootstrap = 3,
    /// The selection/evaluation split of the ε estimate.
    EpsilonSplit = 4,
    /// The population points z of RMIA.
    RmiaPopulation = 5,
    /// The disjoint partition of the population among shadow models.
    ShadowPartition = 6,
    /// The perturbation b of shadow model k, class c.
    ShadowNoise = 7,
    /// The forget/out assignment of U-LiRA shadow models.
    UliraAssignment = 8,
    /// The seed handed to the unlearner of U-LiRA shadow model k.
    UliraUnlearn = 9,
    /// How the rows of reference/shadow model k are split among the members of an ensemble
    /// (index: the model's noise index k).
    EnsemblePartition = 10,
    /// The selection/evaluation split of the certified-removal game's draws (index 0:
    /// unlearned, 1: retrained).
    GameSplit = 11,
    /// Draw r of the Monte Carlo sign-flip test over seeds (above its exact range).
    SignFlip = 12,
    /// The permutations of the population ("laps", index: the lap) from which reference
    /// models with a training-set size ([`crate::reference::ReferenceConfig::training_rows`])
    /// are dealt their population rows: offline their whole training set, online the rows
    /// that fill them up.
    ReferenceSubset = 13,
    /// The pseudo-target's population points when offline RMIA tunes `a` (index 0).
    RmiaTuning = 14,
}

/// The stream of `purpose` number `index` under `seed`.
pub(crate) fn stream_rng(seed: u64, purpose: Purpose, index: u64) -> ChaCha20Rng {
    debug_assert!(index < 1 << 48);
    lethe_models::stream_rng(seed, Stream::Other(((purpose as u64) << 48) | index))
}

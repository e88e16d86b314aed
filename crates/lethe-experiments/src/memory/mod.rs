//! How much memory a run point needs, checked before anything large is allocated.
//!
//! A point whose d × d matrices, copies of X, reference models or bootstrap buffers do not fit
//! would otherwise abort the whole process on a failed allocation (issue #15). [`estimate`]
//! computes the bytes a point needs from its config and the shape of its data, [`limit`] finds
//! how many bytes may be used (`--max-memory`, `$LETHE_MAX_MEMORY`, else `MemAvailable` of
//! `/proc/meminfo`), and [`check_point`] ([`PointBudget`] in a run) refuses a point whose estimate exceeds its share of
//! the limit with a config problem that gives the estimate, the limit and what to change.
//! `lethe validate` runs the check on the shape the config alone determines; `lethe run` runs
//! it again on the loaded data, inside the point, so a point that is too large fails alone
//! and the others finish.

pub mod budget;
pub mod estimate;
pub mod limit;

pub use budget::PointBudget;
pub use estimate::{Estimate, Part, Shape, check_point, estimate};
pub use limit::{LimitSource, MAX_MEMORY_ENV, MemoryLimit, format_bytes, parse_size};

/// The most reference models one LiRA or RMIA attack may train, whatever the memory: far
/// beyond any published audit (the LiRA paper uses 256), and a bound that holds where the
/// data's shape, and so the estimate, is not known before loading (CSV files).
pub const MAX_REFERENCE_MODELS: u64 = 1 << 16;

/// The most draws per side of `audit.game.trials`: 10⁶ resolves ε lower bounds up to about
/// ln(10⁶/2) ≈ 13, far past any certificate worth auditing.
pub const MAX_GAME_TRIALS: u64 = 1_000_000;

/// The most bootstrap replicates of `audit.bootstrap.reps` (each costs a pass over the scores
/// and about 80 bytes until the intervals are read off); 10⁷ is far past where percentile
/// intervals stop changing.
pub const MAX_BOOTSTRAP_REPS: u64 = 10_000_000;

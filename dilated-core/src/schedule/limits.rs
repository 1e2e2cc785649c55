//! The documented limits of the analysis, in one place (at the bottom of the module: every
//! analysis checks its input against them). Over one: a typed error,
//! [`ScheduleError::is_limit`](super::ScheduleError::is_limit).

/// Most layers a schedule may have (verdict, counts, suggestions).
pub const MAX_LAYERS: usize = 10_000;

/// Largest receptive field (per axis) for the hole verdict: `2^26` offsets (an 8 MiB bit
/// set at most).
pub const MAX_VERDICT_RF: u64 = 1 << 26;

/// Largest receptive field (per axis) for exact coverage counts and hole lists.
pub const MAX_COVERAGE_RF: u64 = 1 << 17;

/// Most tap additions exact counting may do (`Σ` over layers of the row width times the
/// kernel size): bounds the time a many-layer count takes.
pub const MAX_COVERAGE_WORK: u64 = 1 << 28;

/// Largest side of a 2D coverage map.
pub const MAX_MAP_SIDE: u64 = 1024;

/// Longest rising group (cycle) the suggestion search tries.
pub const MAX_SUGGEST_CYCLE: usize = 64;

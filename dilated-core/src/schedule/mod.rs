//! Schedule analysis: does a stack of dilated convolutions see its whole receptive field?
//!
//! No dependencies, `const fn` where Rust allows: the proc macro, the `dilated` command and
//! const contexts all run this code, so their verdicts and their words agree.
//!
//! | question | API |
//! |---|---|
//! | one layer: effective kernel, padding, output size | [`AxisSpec`] ([`PadMode`]); the formulas: [`formula`] |
//! | a stack, 1D or 2D (per-axis kernels, rates, strides) | [`Schedule`], [`Spec2d`] |
//! | receptive field, jump, centre after every layer | [`receptive_field`], [`geometry`] |
//! | holes (gridding): count, first, where they open, widest gap | [`reach`](fn@reach), [`hole_offsets`] |
//! | exact coverage counts, never wrapping; the 2D map | [`coverage_counts`], [`Count`], [`coverage_map`] |
//! | HDC rules 1, 2, 3 with their figures | [`hdc`](fn@hdc) |
//! | everything at once, with leveled diagnostics | [`analyze`](fn@analyze) → [`Report`] |
//! | hole-free schedules, best first; fixes | [`suggest()`], [`suggest_fix`] |
//! | the same verdict in a `const` | [`const_core`] |
//! | graphs: residual, parallel, skip, pools, upsampling, the input's own field | [`graph`] |
//!
//! ```
//! use dilated_core::schedule::{analyze, CheckId, Level, Options, Schedule};
//!
//! // The HDC paper's example: k = 3, rates 1, 2, 5 covers its receptive field.
//! let report = analyze(&Schedule::uniform(3, &[1, 2, 5]), &Options::default()).unwrap();
//! let axis = &report.axes[0];
//! assert_eq!(axis.receptive_field, 17);
//! assert_eq!(axis.reach.hole_count, 0);
//! assert_eq!(axis.hdc.m[1], 2); // M_2 = 2 ≤ K = 3
//! assert!(!report.is_error());
//!
//! // Equal factors grid: k = 3, rates 2, 4, 8 misses every odd offset.
//! let report = analyze(&Schedule::uniform(3, &[2, 4, 8]), &Options::default()).unwrap();
//! assert!(report.is_error());
//! let holes = &report.diagnostics[0];
//! assert_eq!((holes.check, holes.level), (CheckId::Holes, Level::Deny));
//! assert!(holes.message.contains("holes") && holes.message.contains("gridding"));
//! assert!(holes.help.as_deref().unwrap().contains("rates ["));
//! ```
//!
//! Offsets are relative to the output position in SPEC's tap convention: tap `t` of a
//! layer sits at `(t − (k − 1)/2)·d·jump` (even kernels put the extra tap on the positive
//! side). PadMode only shifts the whole row, so holes and counts do not depend on it.
//!
//! Limits (over one: a typed error, [`ScheduleError::is_limit`]): [`MAX_LAYERS`],
//! [`MAX_VERDICT_RF`], [`MAX_COVERAGE_RF`], [`MAX_COVERAGE_WORK`], [`MAX_MAP_SIDE`],
//! [`const_core::CONST_MAX_RF`], and the suggestion search budget
//! ([`MAX_SUGGEST_CYCLE`]).

// Layers, bottom to top; a module imports only from the layers below its own:
// 1. `axis`, `check`, `formula`, `limits` (nothing); 2. `error`; 3. `spec`; 4. `field`,
// `hdc`; 5. `reach`, `const_core`; 6. `coverage`, `suggest`; 7. `report` (what a report
// holds); 8. `diagnose` (the words of each finding); 9. `analyze` (runs it all); 10. `graph`
// (the same questions over graphs of blocks). `tests/module_layers.rs` checks the order.
mod analyze;
mod axis;
mod check;
pub mod const_core;
mod coverage;
mod diagnose;
mod error;
mod field;
pub mod formula;
pub mod graph;
mod hdc;
mod limits;
mod reach;
mod report;
mod spec;
mod suggest;

pub use analyze::{Options, analyze};
pub use axis::Axis;
pub use check::{CheckId, CheckName, Level, Levels, NameKind};
pub use coverage::{
    Count, Coverage, coverage_counts, coverage_map, coverage_row_text, coverage_u128, hole_offsets,
};
pub use error::{ErrorKind, ScheduleError};
pub use field::{LayerGeometry, geometry, output_sizes, receptive_field, tap_steps};
pub use hdc::{Hdc, Outcome, Rule1Failure, gcd, hdc, m_values, rising_groups};
pub use limits::{
    MAX_COVERAGE_RF, MAX_COVERAGE_WORK, MAX_LAYERS, MAX_MAP_SIDE, MAX_SUGGEST_CYCLE, MAX_VERDICT_RF,
};
pub use reach::{Reach, ReachSet, reach, reach_and_set, reachable_set};
pub use report::{AxisReport, CoverageStatus, Diagnostic, Figure, Report};
pub use spec::{AxisSpec, PadMode, Schedule, Spec2d};
pub use suggest::{SuggestRequest, Suggestion, suggest, suggest_fix};

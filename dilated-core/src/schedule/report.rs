//! What [`analyze`](fn@super::analyze) returns: one report that both the proc macro and the
//! `dilated` command render from, so their words agree: per-axis figures plus leveled
//! [`Diagnostic`]s, each saying what is wrong and how to fix it.

use core::fmt;

use super::axis::Axis;
use super::check::{CheckId, Level};
use super::coverage::Coverage;
use super::error::ScheduleError;
use super::field::LayerGeometry;
use super::hdc::Hdc;
use super::reach::Reach;
use super::spec::AxisSpec;
use super::suggest::Suggestion;

/// Exact counts of one axis, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageStatus {
    /// The counts.
    Exact(Coverage<u128>),
    /// Not asked for.
    NotComputed,
    /// Over a documented limit (the error says which).
    OverLimit(ScheduleError),
    /// A count does not fit `u128`: recompute with a big-integer
    /// [`Count`](super::Count) via [`coverage_counts`](super::coverage_counts).
    Overflow,
}

impl CoverageStatus {
    /// The counts, if computed.
    #[must_use]
    pub fn exact(&self) -> Option<&Coverage<u128>> {
        match self {
            Self::Exact(c) => Some(c),
            Self::NotComputed | Self::OverLimit(_) | Self::Overflow => None,
        }
    }
}

/// The analysis of one axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisReport {
    /// Which axis.
    pub axis: Axis,
    /// Its layers.
    pub layers: Vec<AxisSpec>,
    /// Geometry after every layer.
    pub geometry: Vec<LayerGeometry>,
    /// The receptive field of the stack.
    pub receptive_field: u64,
    /// The hole verdict.
    pub reach: Reach,
    /// Exact coverage counts.
    pub coverage: CoverageStatus,
    /// Hole offsets, smallest first; `None` past [`MAX_COVERAGE_RF`](super::MAX_COVERAGE_RF).
    pub holes: Option<Vec<i64>>,
    /// HDC rules.
    pub hdc: Hdc,
}

/// A named figure of a diagnostic (`gcd = 2`, `M_2 = 4`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Figure {
    /// Its name.
    pub name: &'static str,
    /// Its value, as text.
    pub value: String,
}

/// One finding: which check, how severe, where, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The check.
    pub check: CheckId,
    /// Its level (never [`Level::Allow`]: allowed checks are not reported).
    pub level: Level,
    /// The axis, for 2D schedules whose axes differ.
    pub axis: Option<Axis>,
    /// 0-based index of the layer to point at (the rate that opens the first hole, the
    /// group's second layer for rule 1, the first repeat for rule 2, …).
    pub layer: Option<usize>,
    /// What is wrong (the first line; a second line may carry the coverage row).
    pub message: String,
    /// How to fix it; proposes a schedule from [`suggest_fix`](super::suggest_fix) where
    /// one applies.
    pub help: Option<String>,
    /// The figures behind the finding.
    pub figures: Vec<Figure>,
}

impl fmt::Display for Diagnostic {
    /// `error[holes]: …` then `  = help: …`, as rustc prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]: {}",
            self.level.name(),
            self.check.name(),
            self.message
        )?;
        if let Some(h) = &self.help {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

/// Everything [`analyze`](fn@super::analyze) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One entry per axis (`[length]` or `[height, width]`).
    pub axes: Vec<AxisReport>,
    /// Whether a 2D schedule's axes are identical (then diagnostics about rates are given
    /// once, without an axis; so are size diagnostics when both input sizes agree).
    pub axes_identical: bool,
    /// Findings, errors first.
    pub diagnostics: Vec<Diagnostic>,
    /// Fixes for the first axis whose rates fail a check (empty when nothing fails or
    /// [`Options::suggest`](super::Options::suggest) is off).
    pub suggestions: Vec<Suggestion>,
}

impl Report {
    /// Whether any diagnostic is at error level.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Deny)
    }

    /// Whether any axis has holes.
    #[must_use]
    pub fn has_holes(&self) -> bool {
        self.axes.iter().any(|a| a.reach.has_holes())
    }

    /// The most severe level reported, if any.
    #[must_use]
    pub fn max_level(&self) -> Option<Level> {
        self.diagnostics.iter().map(|d| d.level).max()
    }

    /// The receptive field of the first axis.
    #[must_use]
    pub fn receptive_field(&self) -> u64 {
        self.axes.first().map_or(1, |a| a.receptive_field)
    }
}

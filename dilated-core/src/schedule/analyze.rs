//! [`analyze`]: everything at once. Each axis is analysed (geometry, the hole verdict,
//! exact counts, the HDC rules), then its findings are worded (`diagnose`)
//! at the levels of the [`Options`] and sorted, errors first.

use super::check::{CheckId, Levels};
use super::coverage::coverage_u128;
use super::diagnose::{fix_help, rate_checks_fail, rate_diagnostics, size_diagnostics};
use super::error::{ErrorKind, ScheduleError};
use super::field::geometry;
use super::hdc::hdc;
use super::limits::MAX_COVERAGE_RF;
use super::reach::reach_and_set;
use super::report::{AxisReport, CoverageStatus, Report};
use super::spec::Schedule;
use super::suggest::{Suggestion, suggest_fix};

/// What [`analyze`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The level of each check.
    pub levels: Levels,
    /// The input size per axis (`[length]` or `[height, width]`), `None` where it is only
    /// known at run time; empty when unknown. Enables the no-output and long-range checks
    /// and the per-layer sizes.
    pub input: Vec<Option<u64>>,
    /// Compute exact coverage counts (up to [`MAX_COVERAGE_RF`]). They are computed for a
    /// schedule with holes in any case, for its diagnostic.
    pub coverage: bool,
    /// Propose fixes (in [`Report::suggestions`] and the `help` lines) when a rate check
    /// fails.
    pub suggest: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            levels: Levels::DEFAULT,
            input: Vec::new(),
            coverage: true,
            suggest: true,
        }
    }
}

/// Analyses a schedule: geometry, holes, coverage, HDC rules, and diagnostics at the
/// levels of `options`.
///
/// ```
/// use dilated_core::schedule::{analyze, CheckId, Level, Options, Schedule};
/// // k = 3 [2, 3]: HDC rules 1 and 3 pass, yet the stack has holes at ±4.
/// let r = analyze(&Schedule::uniform(3, &[2, 3]), &Options::default()).unwrap();
/// let a = &r.axes[0];
/// assert_eq!(a.holes.as_deref(), Some(&[-4, 4][..]));
/// assert_eq!((a.hdc.rule1.as_bool(), a.hdc.rule3.as_bool()), (Some(true), Some(true)));
/// assert_eq!(r.diagnostics[0].check, CheckId::Holes);
/// assert!(r.is_error());
/// ```
///
/// # Errors
/// Bad layers (zero sizes, overflow), an input list of the wrong length or with a 0, a
/// schedule over [`MAX_LAYERS`](super::MAX_LAYERS) or [`MAX_VERDICT_RF`](super::MAX_VERDICT_RF).
pub fn analyze(schedule: &Schedule, options: &Options) -> Result<Report, ScheduleError> {
    schedule.validate()?;
    let axes = schedule.axes();
    if !options.input.is_empty() && options.input.len() != axes.len() {
        return Err(ScheduleError::new(ErrorKind::LengthMismatch {
            what: "input sizes",
            expected: axes.len(),
            actual: options.input.len(),
        }));
    }
    if options.input.contains(&Some(0)) {
        return Err(ScheduleError::new(ErrorKind::ZeroInput));
    }
    let two_d = axes.len() > 1;
    let identical = two_d && schedule.axes_identical();
    let mut reports = Vec::with_capacity(axes.len());
    for (i, (axis, layers)) in axes.iter().enumerate() {
        let tag = |e: ScheduleError| if two_d { e.on_axis(*axis) } else { e };
        let input = options.input.get(i).copied().flatten();
        // Reuse the first axis's work when the axes are identical.
        if identical && i > 0 {
            let mut r: AxisReport = reports
                .first()
                .cloned()
                .ok_or(ScheduleError::new(ErrorKind::Empty))?;
            r.axis = *axis;
            r.geometry = geometry(layers, input).map_err(tag)?;
            reports.push(r);
            continue;
        }
        let geometry = geometry(layers, input).map_err(tag)?;
        let (reach, set) = reach_and_set(layers).map_err(tag)?;
        let coverage = if options.coverage || reach.has_holes() {
            match coverage_u128(layers) {
                Ok(c) => CoverageStatus::Exact(c),
                Err(ScheduleError {
                    kind: ErrorKind::CountOverflow,
                    ..
                }) => CoverageStatus::Overflow,
                Err(e) => CoverageStatus::OverLimit(tag(e)),
            }
        } else {
            CoverageStatus::NotComputed
        };
        let holes = (reach.receptive_field <= MAX_COVERAGE_RF).then(|| set.holes().collect());
        reports.push(AxisReport {
            axis: *axis,
            layers: layers.clone(),
            receptive_field: reach.receptive_field,
            geometry,
            reach,
            coverage,
            holes,
            hdc: hdc(layers),
        });
    }

    let levels = &options.levels;
    let mut diagnostics = Vec::new();
    let mut suggestions: Vec<Suggestion> = Vec::new();
    for (i, a) in reports.iter().enumerate() {
        let axis = two_d.then_some(a.axis);
        let rate_axis = if identical { None } else { axis };
        if !(identical && i > 0) {
            let fails = rate_checks_fail(a, levels);
            let fixes = if fails && options.suggest {
                suggest_fix(&a.layers)
            } else {
                Vec::new()
            };
            let help = fix_help(a, &fixes);
            rate_diagnostics(a, levels, rate_axis, help.as_deref(), &mut diagnostics);
            if suggestions.is_empty() {
                suggestions = fixes;
            }
        }
        // Identical axes with the same input size: their size findings are said once.
        let same_sizes = identical && options.input.first() == options.input.get(1);
        if !(same_sizes && i > 0) {
            let size_axis = if same_sizes { None } else { axis };
            size_diagnostics(a, levels, size_axis, &mut diagnostics);
        }
    }
    // Errors first; within a level, the order of `CheckId::ALL`.
    diagnostics.sort_by_key(|d| {
        (
            core::cmp::Reverse(d.level),
            CheckId::ALL.iter().position(|&c| c == d.check),
        )
    });
    Ok(Report {
        axes: reports,
        axes_identical: identical,
        diagnostics,
        suggestions,
    })
}

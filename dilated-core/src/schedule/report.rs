//! One report that both the proc macro and the `dilated` command render from, so their
//! words agree: per-axis figures plus leveled [`Diagnostic`]s, each saying what is wrong
//! and how to fix it.

use core::fmt;

use super::limits::MAX_COVERAGE_RF;
use super::coverage::{Coverage, coverage_u128};
use super::error::{ErrorKind, ScheduleError};
use super::field::{LayerGeometry, geometry};
use super::hdc::{Hdc, Outcome, hdc};
use super::reach::{Reach, reach_and_set};
use super::axis::Axis;
use super::spec::{AxisSpec, Schedule};
use super::suggest::{Suggestion, list_text, suggest_fix};

/// How a failed check is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Not reported.
    Allow,
    /// A warning: `cargo build` passes, the CLI exits 0.
    Warn,
    /// An error: `cargo build` fails, the CLI exits 1.
    Deny,
}

impl Level {
    /// `"allow"`, `"warning"` or `"error"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Warn => "warning",
            Self::Deny => "error",
        }
    }
}

/// The checks, each with its own [`Level`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    /// The exact check: an offset inside the receptive field that no path reaches.
    Holes,
    /// HDC rule 1: `M_2 ≤ K` per rising group.
    Hdc1,
    /// HDC rule 2: a sawtooth, no repeated rate.
    Hdc2,
    /// HDC rule 3: no common factor > 1.
    Hdc3,
    /// A layer whose effective kernel exceeds its padded input: no output.
    NoOutput,
    /// An effective kernel wider than its unpadded input, or a receptive field wider than
    /// the input: most taps read padding (the seed's §4.2).
    LongRange,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [Self; 6] = [
        Self::Holes,
        Self::Hdc3,
        Self::Hdc1,
        Self::Hdc2,
        Self::NoOutput,
        Self::LongRange,
    ];

    /// The id used in messages, JSON and the macro's `check: { … }` setting:
    /// `holes`, `hdc-rule-1`, `hdc-rule-2`, `hdc-rule-3`, `no-output`, `long-range`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Holes => "holes",
            Self::Hdc1 => "hdc-rule-1",
            Self::Hdc2 => "hdc-rule-2",
            Self::Hdc3 => "hdc-rule-3",
            Self::NoOutput => "no-output",
            Self::LongRange => "long-range",
        }
    }
}

/// The level of every check. Defaults: holes, HDC rule 3 and no-output deny; HDC rules 1
/// and 2 and long-range warn.
///
/// ```
/// use dilated_core::schedule::{CheckId, Level, Levels};
/// let strict = Levels::default().strict_hdc();
/// assert_eq!(strict.get(CheckId::Hdc1), Level::Deny);
/// assert_eq!(Levels::default().get(CheckId::Hdc2), Level::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Levels {
    /// Holes (gridding).
    pub holes: Level,
    /// HDC rule 1.
    pub hdc1: Level,
    /// HDC rule 2.
    pub hdc2: Level,
    /// HDC rule 3.
    pub hdc3: Level,
    /// No output.
    pub no_output: Level,
    /// Long-range context.
    pub long_range: Level,
}

impl Levels {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        holes: Level::Deny,
        hdc1: Level::Warn,
        hdc2: Level::Warn,
        hdc3: Level::Deny,
        no_output: Level::Deny,
        long_range: Level::Warn,
    };

    /// HDC rules 1, 2 and 3 at error level.
    #[must_use]
    pub const fn strict_hdc(mut self) -> Self {
        self.hdc1 = Level::Deny;
        self.hdc2 = Level::Deny;
        self.hdc3 = Level::Deny;
        self
    }

    /// The level of one check.
    #[must_use]
    pub const fn get(&self, check: CheckId) -> Level {
        match check {
            CheckId::Holes => self.holes,
            CheckId::Hdc1 => self.hdc1,
            CheckId::Hdc2 => self.hdc2,
            CheckId::Hdc3 => self.hdc3,
            CheckId::NoOutput => self.no_output,
            CheckId::LongRange => self.long_range,
        }
    }

    /// Sets the level of one check.
    pub const fn set(&mut self, check: CheckId, level: Level) {
        match check {
            CheckId::Holes => self.holes = level,
            CheckId::Hdc1 => self.hdc1 = level,
            CheckId::Hdc2 => self.hdc2 = level,
            CheckId::Hdc3 => self.hdc3 = level,
            CheckId::NoOutput => self.no_output = level,
            CheckId::LongRange => self.long_range = level,
        }
    }
}

impl Default for Levels {
    fn default() -> Self {
        Self::DEFAULT
    }
}

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
            _ => None,
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
    /// Hole offsets, smallest first; `None` past [`MAX_COVERAGE_RF`].
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
    /// How to fix it; proposes a schedule from [`suggest_fix`] where one applies.
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

/// Everything [`analyze`] found.
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
    /// [`Options::suggest`] is off).
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

fn rate_checks_fail(a: &AxisReport, levels: &Levels) -> bool {
    (a.reach.has_holes() && levels.holes != Level::Allow)
        || (a.hdc.rule1 == Outcome::Fail && levels.hdc1 != Level::Allow)
        || (a.hdc.rule2 == Outcome::Fail && levels.hdc2 != Level::Allow)
        || (a.hdc.rule3 == Outcome::Fail && levels.hdc3 != Level::Allow)
}

fn fig(name: &'static str, value: impl ToString) -> Figure {
    Figure {
        name,
        value: value.to_string(),
    }
}

/// `kernel 3, rates [2, 4, 8]` (or `kernels [...]`, plus `strides [...]` when any is not 1).
fn stack_text(layers: &[AxisSpec]) -> String {
    let rates: Vec<u64> = layers.iter().map(|l| l.rate).collect();
    let kernels: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
    let strides: Vec<u64> = layers.iter().map(|l| l.stride).collect();
    let mut s = if kernels.iter().all(|&k| k == kernels[0]) {
        format!("kernel {}, rates {}", kernels[0], list_text(&rates, 16))
    } else {
        format!(
            "kernels {}, rates {}",
            list_text(&kernels, 16),
            list_text(&rates, 16)
        )
    };
    if strides.iter().any(|&x| x != 1) {
        s.push_str(&format!(", strides {}", list_text(&strides, 16)));
    }
    s
}

/// The counts as text, `1 0 1 0 2 …`, abbreviated past `max` entries (the first and last
/// `max / 2` counts around a `…`).
///
/// ```
/// use dilated_core::schedule::{coverage_counts, coverage_row_text, AxisSpec};
/// let c = coverage_counts::<u64>(&[AxisSpec::new(3, 2)]).unwrap();
/// assert_eq!(coverage_row_text(&c, 40), "1 0 1 0 1");
/// assert_eq!(coverage_row_text(&c, 2), "1 … 1");
/// ```
#[must_use]
pub fn coverage_row_text<C: fmt::Display>(coverage: &Coverage<C>, max: usize) -> String {
    let n = coverage.counts.len();
    let join = |s: &[C]| {
        s.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if n <= max {
        join(&coverage.counts)
    } else {
        let h = (max / 2).max(1);
        format!(
            "{} … {}",
            join(&coverage.counts[..h]),
            join(&coverage.counts[n - h..])
        )
    }
}

/// The `help:` line of the rate checks, from the fixes.
fn fix_help(a: &AxisReport, fixes: &[Suggestion]) -> Option<String> {
    let n = a.layers.len();
    let rf = a.receptive_field;
    let first = fixes.first()?;
    let hdc_note = "no holes, HDC rules hold";
    if first.rates.len() == n && first.receptive_field >= rf {
        return Some(format!(
            "use rates {} ({hdc_note}, receptive field {} ≥ {rf})",
            first.rates_text(),
            first.receptive_field
        ));
    }
    let mut h = String::new();
    if first.rates.len() == n {
        h.push_str(&format!(
            "no hole-free {n}-layer schedule reaches a receptive field of {rf}; rates {} reach {} ({hdc_note})",
            first.rates_text(),
            first.receptive_field
        ));
        if let Some(deeper) = fixes.get(1) {
            h.push_str(&format!(
                "; with {} layers, rates {} reach {}",
                deeper.rates.len(),
                deeper.rates_text(),
                deeper.receptive_field
            ));
        }
    } else {
        h.push_str(&format!(
            "no hole-free {n}-layer schedule reaches a receptive field of {rf}; with {} layers, rates {} reach {} ({hdc_note})",
            first.rates.len(),
            first.rates_text(),
            first.receptive_field
        ));
    }
    Some(h)
}

const GENERIC_HELP: &str = "start the stack with rate 1, let each rate be at most the width the layers before it cover, and let the rates share no common factor";

fn rate_diagnostics(
    a: &AxisReport,
    levels: &Levels,
    axis: Option<Axis>,
    help: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let help = help.unwrap_or(GENERIC_HELP).to_string();
    let rates: Vec<u64> = a.layers.iter().map(|l| l.rate).collect();
    let on = axis.map_or(String::new(), |x| format!(" (on the {} axis)", x.name()));
    let r = &a.reach;
    if r.has_holes() && levels.holes != Level::Allow {
        let layer = r.first_hole_layer.unwrap_or(0);
        let l = &a.layers[layer];
        let mut message = format!(
            "gridding: {} leave holes{on}: {} of the {} offsets in the receptive field are never read (nearest the centre: {}, widest gap: {}); the holes open at layer {} (rate {})",
            stack_text(&a.layers),
            r.hole_count,
            r.receptive_field,
            r.nearest_hole.unwrap_or(0),
            r.widest_gap,
            layer + 1,
            l.rate,
        );
        match &a.coverage {
            CoverageStatus::Exact(c) => message.push_str(&format!(
                "\ncoverage {}..={}: {}",
                c.min_offset,
                c.min_offset + c.counts.len() as i64 - 1,
                coverage_row_text(c, 48)
            )),
            CoverageStatus::Overflow => {
                message.push_str("\ncoverage row omitted: its counts do not fit 128 bits");
            }
            CoverageStatus::OverLimit(_) | CoverageStatus::NotComputed => {
                message.push_str(&format!(
                    "\ncoverage row omitted: receptive field over {MAX_COVERAGE_RF}"
                ));
            }
        }
        out.push(Diagnostic {
            check: CheckId::Holes,
            level: levels.holes,
            axis,
            layer: Some(layer),
            message,
            help: Some(help.clone()),
            figures: vec![
                fig("receptive_field", r.receptive_field),
                fig("hole_count", r.hole_count),
                fig("first_hole_layer", layer),
                fig("nearest_hole", r.nearest_hole.unwrap_or(0)),
                fig("widest_gap", r.widest_gap),
            ],
        });
    }
    let h = &a.hdc;
    if h.rule3 == Outcome::Fail && levels.hdc3 != Level::Allow {
        out.push(Diagnostic {
            check: CheckId::Hdc3,
            level: levels.hdc3,
            axis,
            layer: Some(0),
            message: format!(
                "HDC rule 3: the rates {}{on} share the common factor {}, so only offsets that are multiples of {} are ever read: the other offsets are holes (gridding)",
                list_text(&rates, 16),
                h.gcd,
                h.gcd
            ),
            help: Some(help.clone()),
            figures: vec![fig("gcd", h.gcd)],
        });
    }
    if h.rule1 == Outcome::Fail && levels.hdc1 != Level::Allow {
        let f = &h.rule1_failures[0];
        let k = h.kernel.unwrap_or(0);
        let more = if h.rule1_failures.len() > 1 {
            format!(
                " ({} more rising groups fail too)",
                h.rule1_failures.len() - 1
            )
        } else {
            String::new()
        };
        let hole_note = if r.has_holes() {
            ""
        } else {
            " (the exact check finds no hole: a design warning)"
        };
        out.push(Diagnostic {
            check: CheckId::Hdc1,
            level: levels.hdc1,
            axis,
            layer: Some(f.group.start + 1),
            message: format!(
                "HDC rule 1: in the rising group {} (layers {}–{}){on}, M_2 = {} exceeds the kernel size K = {k}; the design goal is M_2 ≤ K (M = {}){more}{hole_note}",
                list_text(&rates[f.group.clone()], 16),
                f.group.start + 1,
                f.group.end,
                f.m2,
                list_text(&h.m[f.group.clone()], 16),
            ),
            help: Some(help.clone()),
            figures: vec![
                fig("m2", f.m2),
                fig("k", k),
                fig("group", format!("{}..{}", f.group.start, f.group.end)),
            ],
        });
    }
    if h.rule2 == Outcome::Fail && levels.hdc2 != Level::Allow {
        let first = h.repeats[0];
        out.push(Diagnostic {
            check: CheckId::Hdc2,
            level: levels.hdc2,
            axis,
            layer: Some(first),
            message: format!(
                "HDC rule 2: rate {} repeats in consecutive layers {} and {}{on} ({} repeat{} in all); rates should rise in a sawtooth such as [1, 2, 3, 1, 2, 3], not repeat",
                rates[first],
                first,
                first + 1,
                h.repeats.len(),
                if h.repeats.len() == 1 { "" } else { "s" }
            ),
            help: Some(help),
            figures: vec![fig(
                "repeats",
                list_text(
                    &h.repeats.iter().map(|&i| i as u64).collect::<Vec<_>>(),
                    16,
                ),
            )],
        });
    }
}

fn size_diagnostics(
    a: &AxisReport,
    levels: &Levels,
    axis: Option<Axis>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(input) = a.geometry.first().and_then(|g| g.input_size) else {
        return;
    };
    let on = axis.map_or(String::new(), |x| format!(" (on the {} axis)", x.name()));
    for (i, (g, l)) in a.geometry.iter().zip(&a.layers).enumerate() {
        let Some(size) = g.input_size else { break };
        let padded = size.saturating_add(g.padding.0).saturating_add(g.padding.1);
        if g.effective_kernel > padded {
            if levels.no_output != Level::Allow {
                let max_rate = (padded - 1) / (l.kernel - 1).max(1);
                out.push(Diagnostic {
                    check: CheckId::NoOutput,
                    level: levels.no_output,
                    axis,
                    layer: Some(i),
                    message: format!(
                        "layer {}{on}: the effective kernel {} (k = {}, rate {}) is wider than its padded input {} (input {size} + padding {} + {}): the layer has no output",
                        i + 1,
                        g.effective_kernel,
                        l.kernel,
                        l.rate,
                        padded,
                        g.padding.0,
                        g.padding.1
                    ),
                    help: Some(format!(
                        "use a rate of at most {max_rate} for this layer, pad it (`same`), or give the stack a larger input"
                    )),
                    figures: vec![
                        fig("effective_kernel", g.effective_kernel),
                        fig("padded_input", padded),
                    ],
                });
            }
            break;
        }
        if g.effective_kernel > size && levels.long_range != Level::Allow {
            let max_rate = (size - 1) / (l.kernel - 1).max(1);
            out.push(Diagnostic {
                check: CheckId::LongRange,
                level: levels.long_range,
                axis,
                layer: Some(i),
                message: format!(
                    "layer {}{on}: the effective kernel {} (k = {}, rate {}) is wider than its input {size}: most of its taps read padding, so the long-range context it was meant to add is lost",
                    i + 1,
                    g.effective_kernel,
                    l.kernel,
                    l.rate
                ),
                help: Some(format!(
                    "use a rate of at most {max_rate} for this layer, or a larger input"
                )),
                figures: vec![
                    fig("effective_kernel", g.effective_kernel),
                    fig("input", size),
                ],
            });
        }
    }
    if a.receptive_field > input && levels.long_range != Level::Allow {
        let layer = a
            .geometry
            .iter()
            .position(|g| g.receptive_field > input)
            .unwrap_or(0);
        out.push(Diagnostic {
            check: CheckId::LongRange,
            level: levels.long_range,
            axis,
            layer: Some(layer),
            message: format!(
                "the receptive field {}{on} exceeds the input {input} from layer {} on: the outer taps read padding",
                a.receptive_field,
                layer + 1
            ),
            help: Some(
                "use fewer layers or smaller rates to keep the receptive field within the input, or a larger input"
                    .to_string(),
            ),
            figures: vec![fig("receptive_field", a.receptive_field), fig("input", input)],
        });
    }
}

//! The words of every finding: one function per check builds its [`Diagnostic`] (message,
//! `help:` line, figures) from an axis's analysis, or nothing when the check passes or is
//! allowed.

use super::axis::Axis;
use super::check::{CheckId, Level, Levels};
use super::coverage::coverage_row_text;
use super::field::LayerGeometry;
use super::hdc::Outcome;
use super::limits::MAX_COVERAGE_RF;
use super::report::{AxisReport, CoverageStatus, Diagnostic, Figure};
use super::spec::AxisSpec;
use super::suggest::{Suggestion, list_text};

/// Whether a check on the rates fails at a level other than `allow` (then fixes are
/// worth searching for).
pub(crate) fn rate_checks_fail(a: &AxisReport, levels: &Levels) -> bool {
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

/// The `help:` line of the rate checks, from the fixes.
pub(crate) fn fix_help(a: &AxisReport, fixes: &[Suggestion]) -> Option<String> {
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

/// Where the findings of one axis are reported: the axis they name (`None` for a 1D
/// schedule, or a 2D one whose axes agree) and the words that say it.
struct Place {
    axis: Option<Axis>,
    /// ` (on the height axis)`, or nothing.
    on: String,
}

impl Place {
    fn new(axis: Option<Axis>) -> Self {
        let on = axis.map_or(String::new(), |x| format!(" (on the {} axis)", x.name()));
        Self { axis, on }
    }
}

/// The findings about the rates of one axis (holes, HDC rules 3, 1 and 2), in that order.
/// `help` is the line from [`fix_help`]; without one, a generic hint.
pub(crate) fn rate_diagnostics(
    a: &AxisReport,
    levels: &Levels,
    axis: Option<Axis>,
    help: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let help = help.unwrap_or(GENERIC_HELP);
    let at = Place::new(axis);
    let findings = [
        holes(a, levels.holes, &at, help),
        hdc_rule3(a, levels.hdc3, &at, help),
        hdc_rule1(a, levels.hdc1, &at, help),
        hdc_rule2(a, levels.hdc2, &at, help),
    ];
    out.extend(findings.into_iter().flatten());
}

/// `holes`: the offsets no path reads, where they open, and the coverage row.
fn holes(a: &AxisReport, level: Level, at: &Place, help: &str) -> Option<Diagnostic> {
    let on = &at.on;
    let r = &a.reach;
    if !r.has_holes() || level == Level::Allow {
        return None;
    }
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
    Some(Diagnostic {
        check: CheckId::Holes,
        level,
        axis: at.axis,
        layer: Some(layer),
        message,
        help: Some(help.to_string()),
        figures: vec![
            fig("receptive_field", r.receptive_field),
            fig("hole_count", r.hole_count),
            fig("first_hole_layer", layer),
            fig("nearest_hole", r.nearest_hole.unwrap_or(0)),
            fig("widest_gap", r.widest_gap),
        ],
    })
}

/// `hdc3`: the rates share a common factor.
fn hdc_rule3(a: &AxisReport, level: Level, at: &Place, help: &str) -> Option<Diagnostic> {
    let on = &at.on;
    let h = &a.hdc;
    if h.rule3 != Outcome::Fail || level == Level::Allow {
        return None;
    }
    Some(Diagnostic {
        check: CheckId::Hdc3,
        level,
        axis: at.axis,
        layer: Some(0),
        message: format!(
            "HDC rule 3: the rates {}{on} share the common factor {}, so only offsets that are multiples of {} are ever read: the other offsets are holes (gridding)",
            list_text(&rates(&a.layers), 16),
            h.gcd,
            h.gcd
        ),
        help: Some(help.to_string()),
        figures: vec![fig("gcd", h.gcd)],
    })
}

/// `hdc1`: `M_2` exceeds the kernel size in a rising group (the first such group).
fn hdc_rule1(a: &AxisReport, level: Level, at: &Place, help: &str) -> Option<Diagnostic> {
    let on = &at.on;
    let h = &a.hdc;
    if h.rule1 != Outcome::Fail || level == Level::Allow {
        return None;
    }
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
    let hole_note = if a.reach.has_holes() {
        ""
    } else {
        " (the exact check finds no hole: a design warning)"
    };
    Some(Diagnostic {
        check: CheckId::Hdc1,
        level,
        axis: at.axis,
        layer: Some(f.group.start + 1),
        message: format!(
            "HDC rule 1: in the rising group {} (layers {}–{}){on}, M_2 = {} exceeds the kernel size K = {k}; the design goal is M_2 ≤ K (M = {}){more}{hole_note}",
            list_text(&rates(&a.layers)[f.group.clone()], 16),
            f.group.start + 1,
            f.group.end,
            f.m2,
            list_text(&h.m[f.group.clone()], 16),
        ),
        help: Some(help.to_string()),
        figures: vec![
            fig("m2", f.m2),
            fig("k", k),
            fig("group", format!("{}..{}", f.group.start, f.group.end)),
        ],
    })
}

/// `hdc2`: a rate above 1 repeats in consecutive layers (the first repeat, and how many).
fn hdc_rule2(a: &AxisReport, level: Level, at: &Place, help: &str) -> Option<Diagnostic> {
    let on = &at.on;
    let h = &a.hdc;
    if h.rule2 != Outcome::Fail || level == Level::Allow {
        return None;
    }
    let first = h.repeats[0];
    Some(Diagnostic {
        check: CheckId::Hdc2,
        level,
        axis: at.axis,
        layer: Some(first),
        message: format!(
            "HDC rule 2: rate {} repeats in consecutive layers {} and {}{on} ({} repeat{} in all); rates should rise in a sawtooth such as [1, 2, 3, 1, 2, 3], not repeat",
            a.layers[first].rate,
            first,
            first + 1,
            h.repeats.len(),
            if h.repeats.len() == 1 { "" } else { "s" }
        ),
        help: Some(help.to_string()),
        figures: vec![fig(
            "repeats",
            list_text(&h.repeats.iter().map(|&i| i as u64).collect::<Vec<_>>(), 16),
        )],
    })
}

fn rates(layers: &[AxisSpec]) -> Vec<u64> {
    layers.iter().map(|l| l.rate).collect()
}

/// The findings about sizes along one axis, when its input size is known: the first layer
/// without output (`no_output`, which ends the walk), every layer whose effective kernel
/// is wider than its input, and a receptive field wider than the input (`long_range`).
pub(crate) fn size_diagnostics(
    a: &AxisReport,
    levels: &Levels,
    axis: Option<Axis>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(input) = a.geometry.first().and_then(|g| g.input_size) else {
        return;
    };
    let at = Place::new(axis);
    for (i, (g, l)) in a.geometry.iter().zip(&a.layers).enumerate() {
        let Some(size) = g.input_size else { break };
        let padded = size.saturating_add(g.padding.0).saturating_add(g.padding.1);
        if g.effective_kernel > padded {
            out.extend(no_output(i, g, l, size, padded, levels.no_output, &at));
            break;
        }
        out.extend(wide_kernel(i, g, l, size, levels.long_range, &at));
    }
    out.extend(wide_field(a, input, levels.long_range, &at));
}

/// `no_output`: layer `i`'s effective kernel is wider than its padded input.
fn no_output(
    i: usize,
    g: &LayerGeometry,
    l: &AxisSpec,
    size: u64,
    padded: u64,
    level: Level,
    at: &Place,
) -> Option<Diagnostic> {
    let on = &at.on;
    if level == Level::Allow {
        return None;
    }
    let max_rate = (padded - 1) / (l.kernel - 1).max(1);
    Some(Diagnostic {
        check: CheckId::NoOutput,
        level,
        axis: at.axis,
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
    })
}

/// `long_range`: layer `i`'s effective kernel is wider than its unpadded input of `size`.
fn wide_kernel(
    i: usize,
    g: &LayerGeometry,
    l: &AxisSpec,
    size: u64,
    level: Level,
    at: &Place,
) -> Option<Diagnostic> {
    let on = &at.on;
    if g.effective_kernel <= size || level == Level::Allow {
        return None;
    }
    let max_rate = (size - 1) / (l.kernel - 1).max(1);
    Some(Diagnostic {
        check: CheckId::LongRange,
        level,
        axis: at.axis,
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
    })
}

/// `long_range`: the receptive field of the stack is wider than its `input`.
fn wide_field(a: &AxisReport, input: u64, level: Level, at: &Place) -> Option<Diagnostic> {
    let on = &at.on;
    if a.receptive_field <= input || level == Level::Allow {
        return None;
    }
    let layer = a
        .geometry
        .iter()
        .position(|g| g.receptive_field > input)
        .unwrap_or(0);
    Some(Diagnostic {
        check: CheckId::LongRange,
        level,
        axis: at.axis,
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
    })
}

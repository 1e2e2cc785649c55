//! `dilated check`: the schedule analysis's report, as text or one JSON object.

use std::fmt::Write as _;

use dilated_core::schedule::{
    self, AxisReport, CoverageStatus, Diagnostic, Level, Levels, Options, Outcome as Rule, Report,
    Suggestion, analyze,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::args::List;
use crate::count::Row;
use crate::{CheckArgs, Failure, Outcome};

pub(crate) fn run(a: &CheckArgs) -> Result<Outcome, Failure> {
    let schedule = crate::schedule(&a.stack)?;
    let mut levels = if a.strict_hdc {
        Levels::default().strict_hdc()
    } else {
        Levels::default()
    };
    for (checks, level) in [
        (&a.allow, Level::Allow),
        (&a.warn, Level::Warn),
        (&a.deny, Level::Deny),
    ] {
        for &name in checks {
            levels.set_named(name, level);
        }
    }
    let options = Options {
        levels,
        input: match &a.input {
            None => Vec::new(),
            // One size for every axis, or one per axis (`64x128`).
            Some(List(sizes)) if sizes.len() == 1 => {
                vec![Some(sizes[0]); schedule.axes().len()]
            }
            Some(List(sizes)) => sizes.iter().map(|&n| Some(n)).collect(),
        },
        coverage: true,
        suggest: true,
    };
    let report = analyze(&schedule, &options)?;
    let rows: Vec<Result<Row, String>> = report.axes.iter().map(row_of).collect();
    let code = u8::from(report.is_error());
    let stdout = if a.json {
        crate::json_line(&json(&report, &rows, code))?
    } else {
        text(&report, &rows)
    };
    Ok(Outcome { stdout, code })
}

/// The exact counts of one axis, or why they are not given.
fn row_of(axis: &AxisReport) -> Result<Row, String> {
    match &axis.coverage {
        CoverageStatus::Exact(c) => Ok(Row::Small(c.clone())),
        CoverageStatus::Overflow => Row::big(&axis.layers).map_err(|e| e.to_string()),
        CoverageStatus::OverLimit(e) => Err(match e.kind {
            schedule::ErrorKind::ReceptiveFieldTooLarge { limit, .. } => format!(
                "receptive field {} is over the limit of {limit} for exact counts",
                axis.receptive_field
            ),
            _ => e.kind.to_string(),
        }),
        CoverageStatus::NotComputed => Err("not computed".to_owned()),
    }
}

/// `[a, b, c]`, or its first and last entries around `…` past `max`.
pub(crate) fn list<T: ToString>(v: &[T], max: usize) -> String {
    let join = |s: &[T]| {
        s.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if v.len() <= max {
        format!("[{}]", join(v))
    } else {
        let h = (max / 2).max(1);
        format!("[{}, …, {}]", join(&v[..h]), join(&v[v.len() - h..]))
    }
}

/// `kernel 3, rates [2, 4, 8]` (+ strides when any is not 1).
pub(crate) fn stack_text(axis: &AxisReport) -> String {
    let rates: Vec<u64> = axis.layers.iter().map(|l| l.rate).collect();
    let kernels: Vec<u64> = axis.layers.iter().map(|l| l.kernel).collect();
    let strides: Vec<u64> = axis.layers.iter().map(|l| l.stride).collect();
    let mut s = match kernels.first() {
        Some(&k) if kernels.iter().all(|&x| x == k) => format!("kernel {k}"),
        _ => format!("kernels {}", list(&kernels, 16)),
    };
    let _ = write!(s, ", rates {}", list(&rates, 16));
    if strides.iter().any(|&x| x != 1) {
        let _ = write!(s, ", strides {}", list(&strides, 16));
    }
    if axis.layers.len() > 16 {
        let _ = write!(s, " ({} layers)", axis.layers.len());
    }
    s
}

fn rule1_text(axis: &AxisReport) -> String {
    let h = &axis.hdc;
    let m = list(&h.m, 16);
    match h.rule1 {
        Rule::NotApplicable => {
            "n/a   defined for stride-1 stacks of one kernel size; the exact check decides"
                .to_owned()
        }
        Rule::Pass => format!(
            "pass  M_2 ≤ K = {} in every rising group (M = {m}, {} group{})",
            h.kernel.unwrap_or(0),
            h.groups.len(),
            if h.groups.len() == 1 { "" } else { "s" }
        ),
        Rule::Fail => {
            let f = &h.rule1_failures[0];
            let rates: Vec<u64> = axis.layers[f.group.clone()]
                .iter()
                .map(|l| l.rate)
                .collect();
            let more = match h.rule1_failures.len() {
                1 => String::new(),
                n => format!(", {} more failing groups", n - 1),
            };
            format!(
                "fail  M_2 = {} > K = {} in the rising group {} (layers {}–{}; M = {m}{more})",
                f.m2,
                h.kernel.unwrap_or(0),
                list(&rates, 16),
                f.group.start + 1,
                f.group.end
            )
        }
    }
}

fn rule2_text(axis: &AxisReport) -> String {
    let h = &axis.hdc;
    match (h.rule2, h.repeats.first()) {
        (Rule::Fail, Some(&i)) => format!(
            "fail  rate {} repeats in layers {} and {} ({} repeat{}); use a sawtooth such as [1, 2, 3, 1, 2, 3]",
            axis.layers[i].rate,
            i,
            i + 1,
            h.repeats.len(),
            if h.repeats.len() == 1 { "" } else { "s" }
        ),
        (Rule::NotApplicable, _) => "n/a".to_owned(),
        _ => "pass  no rate above 1 repeats in consecutive layers".to_owned(),
    }
}

fn rule3_text(axis: &AxisReport) -> String {
    let g = axis.hdc.gcd;
    match axis.hdc.rule3 {
        Rule::Pass => format!("pass  gcd of the rates = {g}"),
        Rule::Fail => format!("fail  gcd of the rates = {g}: only multiples of {g} are ever read"),
        Rule::NotApplicable => format!("n/a   every kernel is 1 (gcd of the rates = {g})"),
    }
}

fn verdict_text(report: &Report) -> String {
    let count = |level| {
        report
            .diagnostics
            .iter()
            .filter(|d| d.level == level)
            .count()
    };
    let tally = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let two_d = report.axes.len() > 1;
    let on = |a: &AxisReport| {
        if two_d {
            format!(" on the {} axis", a.axis.name())
        } else {
            String::new()
        }
    };
    let head = if report.has_holes() {
        let parts: Vec<String> = report
            .axes
            .iter()
            .filter(|a| a.reach.has_holes())
            .map(|a| {
                format!(
                    "{} holes in a receptive field of {}{}",
                    a.reach.hole_count,
                    a.receptive_field,
                    on(a)
                )
            })
            .collect();
        format!("gridding: {}", parts.join("; "))
    } else {
        let fields: Vec<String> = report
            .axes
            .iter()
            .map(|a| a.receptive_field.to_string())
            .collect();
        format!(
            "no holes: the receptive field of {} is fully covered",
            fields.join("×")
        )
    };
    let status = if report.is_error() { "FAIL" } else { "ok" };
    format!(
        "{status}, {head} ({}, {})",
        tally(count(Level::Deny), "error"),
        tally(count(Level::Warn), "warning")
    )
}

fn text(report: &Report, rows: &[Result<Row, String>]) -> String {
    let mut s = String::new();
    let two_d = report.axes.len() > 1;
    for (i, (axis, row)) in report.axes.iter().zip(rows).enumerate() {
        if two_d {
            if i == 0 {
                let _ = writeln!(s, "{:<16} {}", "verdict", verdict_text(report));
            }
            let _ = writeln!(
                s,
                "\n{:<16} {}",
                format!("{} axis", axis.axis.name()),
                stack_text(axis)
            );
        } else {
            let _ = writeln!(s, "{:<16} {}", "schedule", stack_text(axis));
            let _ = writeln!(s, "{:<16} {}", "verdict", verdict_text(report));
        }
        axis_text(&mut s, axis, row);
    }
    report_text(&mut s, report);
    s
}

fn axis_text(s: &mut String, axis: &AxisReport, row: &Result<Row, String>) {
    let w = |s: &mut String, label: &str, value: &str| {
        let _ = writeln!(s, "{label:<16} {value}");
    };
    let rfs: Vec<u64> = axis.geometry.iter().map(|g| g.receptive_field).collect();
    w(
        s,
        "receptive field",
        &format!(
            "{} (after each layer: {})",
            axis.receptive_field,
            list(&rfs, 16)
        ),
    );
    let r = &axis.reach;
    let coverage = match row {
        Ok(row) => format!(
            "offsets {}..={}: {}",
            row.min_offset(),
            row.min_offset()
                .saturating_add(i64::try_from(row.len()).unwrap_or(i64::MAX))
                - 1,
            row.text(64)
        ),
        Err(why) => format!(
            "offsets {}..={}: not listed ({why})",
            r.min_offset, r.max_offset
        ),
    };
    w(s, "coverage", &coverage);
    let holes = match (&axis.holes, r.has_holes()) {
        (_, false) => "none".to_owned(),
        (Some(h), true) => format!(
            "{} at {} (first opened by layer {}, widest gap {}, nearest the centre {})",
            r.hole_count,
            list(h, 24),
            r.first_hole_layer.map_or(0, |l| l + 1),
            r.widest_gap,
            r.nearest_hole.unwrap_or(0)
        ),
        (None, true) => format!(
            "{} (not listed past a receptive field of {}; first opened by layer {}, widest gap {}, nearest the centre {})",
            r.hole_count,
            schedule::MAX_COVERAGE_RF,
            r.first_hole_layer.map_or(0, |l| l + 1),
            r.widest_gap,
            r.nearest_hole.unwrap_or(0)
        ),
    };
    w(s, "holes", &holes);
    w(s, "HDC rule 1", &rule1_text(axis));
    w(s, "HDC rule 2", &rule2_text(axis));
    w(s, "HDC rule 3", &rule3_text(axis));

    // Per-layer table.
    let _ = writeln!(
        s,
        "\nlayer  kernel  rate  stride  effective kernel  padding  receptive field"
    );
    let n = axis.layers.len();
    for (i, (l, g)) in axis.layers.iter().zip(&axis.geometry).enumerate() {
        if n > 24 && (10..n - 10).contains(&i) {
            if i == 10 {
                let _ = writeln!(s, "{:>5}  … {} more layers", "", n - 20);
            }
            continue;
        }
        let _ = writeln!(
            s,
            "{:>5}  {:>6}  {:>4}  {:>6}  {:>16}  {:>7}  {:>15}",
            i + 1,
            l.kernel,
            l.rate,
            l.stride,
            g.effective_kernel,
            if g.padding.0 == g.padding.1 {
                g.padding.0.to_string()
            } else {
                format!("{}+{}", g.padding.0, g.padding.1)
            },
            g.receptive_field
        );
    }
}

fn report_text(s: &mut String, report: &Report) {
    if !report.diagnostics.is_empty() {
        s.push('\n');
        for d in &report.diagnostics {
            // The analysis's words (the macro prints the same); continuation lines indented.
            for (i, line) in d.to_string().lines().enumerate() {
                let indent = if i == 0 || line.starts_with("  ") {
                    ""
                } else {
                    "  "
                };
                let _ = writeln!(s, "{indent}{line}");
            }
        }
    }
    if !report.suggestions.is_empty() {
        let _ = writeln!(
            s,
            "\nsuggested schedules (no holes, HDC rules hold), best first:"
        );
        for x in &report.suggestions {
            let _ = writeln!(s, "  {}", suggestion_text(x));
        }
    }
}

/// `rates [1, 2, 5] receptive field 17, largest rate 5`.
pub(crate) fn suggestion_text(x: &Suggestion) -> String {
    let mut s = format!(
        "rates {}  receptive field {}, largest rate {}",
        list(&x.rates, 24),
        x.receptive_field,
        x.max_rate
    );
    if x.rates.len() > 24 {
        let _ = write!(s, ", {} layers", x.rates.len());
    }
    if x.cycle < x.rates.len() {
        let _ = write!(s, ", sawtooth of {}", list(&x.rates[..x.cycle], 24));
    }
    s
}

#[derive(Serialize)]
struct CheckJson<'a> {
    /// `"ok"`, `"warning"` (warnings only) or `"error"`.
    verdict: &'static str,
    exit_code: u8,
    /// Whether any axis has holes.
    gridding: bool,
    /// The first axis (the only one of a 1D schedule; the height of a 2D one).
    #[serde(flatten)]
    first: AxisJson<'a>,
    /// Every axis, for 2D schedules only.
    #[serde(skip_serializing_if = "Option::is_none")]
    axes: Option<Vec<AxisJson<'a>>>,
    diagnostics: Vec<DiagnosticJson<'a>>,
    suggestions: Vec<SuggestionJson<'a>>,
    limits: LimitsJson,
}

#[derive(Serialize)]
struct AxisJson<'a> {
    axis: &'static str,
    schedule: ScheduleJson,
    receptive_field: u64,
    min_offset: i64,
    max_offset: i64,
    coverage: Option<Vec<Box<RawValue>>>,
    coverage_note: Option<String>,
    holes: Option<&'a [i64]>,
    hole_count: u64,
    first_hole_layer: Option<usize>,
    nearest_hole: Option<i64>,
    widest_gap: u64,
    hdc: HdcJson<'a>,
    layers: Vec<LayerJson>,
}

#[derive(Serialize)]
struct ScheduleJson {
    kernels: Vec<u64>,
    rates: Vec<u64>,
    strides: Vec<u64>,
    input: Option<u64>,
}

#[derive(Serialize)]
struct HdcJson<'a> {
    m: &'a [u64],
    groups: Vec<[usize; 2]>,
    kernel: Option<u64>,
    rule1: Option<bool>,
    rule2: Option<bool>,
    rule3: Option<bool>,
    gcd: u64,
    repeats: &'a [usize],
}

#[derive(Serialize)]
struct LayerJson {
    kernel: u64,
    rate: u64,
    stride: u64,
    effective_kernel: u64,
    /// Padding per side when symmetric (one `p` each side), `[lo, hi]` when not (even
    /// kernels' `same`, causal, explicit).
    padding: serde_json::Value,
    padding_lo: u64,
    padding_hi: u64,
    receptive_field: u64,
    jump: u64,
    min_offset: i64,
    max_offset: i64,
    input_size: Option<u64>,
    output_size: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct DiagnosticJson<'a> {
    check: &'static str,
    level: &'static str,
    layer: Option<usize>,
    message: &'a str,
    help: Option<&'a str>,
    figures: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
pub(crate) struct SuggestionJson<'a> {
    rates: &'a [u64],
    kernels: &'a [u64],
    strides: &'a [u64],
    receptive_field: u64,
    max_rate: u64,
    cycle: usize,
}

impl<'a> From<&'a Suggestion> for SuggestionJson<'a> {
    fn from(x: &'a Suggestion) -> Self {
        Self {
            rates: &x.rates,
            kernels: &x.kernels,
            strides: &x.strides,
            receptive_field: x.receptive_field,
            max_rate: x.max_rate,
            cycle: x.cycle,
        }
    }
}

#[derive(Serialize)]
struct LimitsJson {
    max_layers: usize,
    max_verdict_receptive_field: u64,
    max_coverage_receptive_field: u64,
    max_coverage_work: u64,
    max_map_side: u64,
}

fn figure_value(text: &str) -> serde_json::Value {
    text.parse::<i64>()
        .map_or_else(|_| serde_json::Value::String(text.to_owned()), Into::into)
}

pub(crate) fn diagnostic_json(d: &Diagnostic) -> DiagnosticJson<'_> {
    DiagnosticJson {
        check: d.check.name(),
        level: d.level.name(),
        layer: d.layer,
        message: &d.message,
        help: d.help.as_deref(),
        figures: d
            .figures
            .iter()
            .map(|f| (f.name.to_owned(), figure_value(&f.value)))
            .collect(),
    }
}

fn json<'a>(report: &'a Report, rows: &[Result<Row, String>], code: u8) -> CheckJson<'a> {
    let verdict = match report.max_level() {
        Some(Level::Deny) => "error",
        Some(Level::Warn) => "warning",
        _ => "ok",
    };
    let axes: Vec<AxisJson<'a>> = report
        .axes
        .iter()
        .zip(rows)
        .map(|(a, r)| axis_json(a, r))
        .collect();
    let first = axis_json(&report.axes[0], &rows[0]);
    CheckJson {
        verdict,
        exit_code: code,
        gridding: report.has_holes(),
        first,
        axes: (axes.len() > 1).then_some(axes),
        diagnostics: report.diagnostics.iter().map(diagnostic_json).collect(),
        suggestions: report
            .suggestions
            .iter()
            .map(SuggestionJson::from)
            .collect(),
        limits: LimitsJson {
            max_layers: schedule::MAX_LAYERS,
            max_verdict_receptive_field: schedule::MAX_VERDICT_RF,
            max_coverage_receptive_field: schedule::MAX_COVERAGE_RF,
            max_coverage_work: schedule::MAX_COVERAGE_WORK,
            max_map_side: schedule::MAX_MAP_SIDE,
        },
    }
}

fn axis_json<'a>(axis: &'a AxisReport, row: &Result<Row, String>) -> AxisJson<'a> {
    let h = &axis.hdc;
    AxisJson {
        axis: axis.axis.name(),
        schedule: ScheduleJson {
            kernels: axis.layers.iter().map(|l| l.kernel).collect(),
            rates: axis.layers.iter().map(|l| l.rate).collect(),
            strides: axis.layers.iter().map(|l| l.stride).collect(),
            input: axis.geometry.first().and_then(|g| g.input_size),
        },
        receptive_field: axis.receptive_field,
        min_offset: axis.reach.min_offset,
        max_offset: axis.reach.max_offset,
        coverage: row.as_ref().ok().map(Row::json),
        coverage_note: row.as_ref().err().cloned(),
        holes: axis.holes.as_deref(),
        hole_count: axis.reach.hole_count,
        first_hole_layer: axis.reach.first_hole_layer,
        nearest_hole: axis.reach.nearest_hole,
        widest_gap: axis.reach.widest_gap,
        hdc: HdcJson {
            m: &h.m,
            groups: h.groups.iter().map(|g| [g.start, g.end]).collect(),
            kernel: h.kernel,
            rule1: h.rule1.as_bool(),
            rule2: h.rule2.as_bool(),
            rule3: h.rule3.as_bool(),
            gcd: h.gcd,
            repeats: &h.repeats,
        },
        layers: axis
            .layers
            .iter()
            .zip(&axis.geometry)
            .map(|(l, g)| LayerJson {
                kernel: l.kernel,
                rate: l.rate,
                stride: l.stride,
                effective_kernel: g.effective_kernel,
                padding: if g.padding.0 == g.padding.1 {
                    serde_json::Value::from(g.padding.0)
                } else {
                    serde_json::Value::from(vec![g.padding.0, g.padding.1])
                },
                padding_lo: g.padding.0,
                padding_hi: g.padding.1,
                receptive_field: g.receptive_field,
                jump: g.jump,
                min_offset: g.min_offset,
                max_offset: g.max_offset,
                input_size: g.input_size,
                output_size: g.output_size,
            })
            .collect(),
    }
}

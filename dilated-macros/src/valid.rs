//! Phase 2: the checks. Structure (channels chain, groups divide) is checked in `ast`;
//! every formula — padding, effective kernel, output size, receptive field, coverage,
//! holes, the HDC rules, the no-output and long-range checks — comes from
//! `dilated_core::schedule::analyze`, the analysis the `dilated` command runs, so the
//! macro and the command give the same verdicts in the same words. This module only
//! decides which token each finding points at, and reports it at its level.

use proc_macro2::Span;

use dilated_core::heatmap;
use dilated_core::schedule::{
    self, Axis, AxisReport, AxisSpec, CheckId, Diagnostic, Options, Report, Schedule,
};

use crate::ast::{Act, Conv, Dims, Form, MAX_VALUE, PadSyntax, Part, Stack};
use crate::ctxt::Ctxt;

/// The macro's plan of one module of the stack: a convolution, resolved (with the
/// activation fused after it).
#[derive(Debug, Clone)]
pub(crate) struct ModulePlan {
    /// Module index in the twin `nn.Sequential`.
    pub(crate) module: usize,
    /// `[[top, bottom], [left, right]]`.
    pub(crate) padding: [[usize; 2]; 2],
    /// `[h, w]`.
    pub(crate) effective: [usize; 2],
    /// Receptive field up to this layer, `[h, w]`.
    pub(crate) rf: [usize; 2],
    /// Output size, `None` when known only at run time.
    pub(crate) out: [Option<usize>; 2],
    /// The activation fused after it.
    pub(crate) act: Option<Act>,
}

/// What the expansion needs: every number settled.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) layers: Vec<ModulePlan>,
    pub(crate) rf: [usize; 2],
    pub(crate) output: [Option<usize>; 2],
    pub(crate) out_channels: usize,
    /// Coverage rows per axis `[h, w]` as text; `None` past the analysis's limit.
    pub(crate) coverage: [Option<String>; 2],
    /// The coverage heat map (SVG), when small enough to embed.
    pub(crate) svg: Option<String>,
    /// One sentence: holes or not.
    pub(crate) verdict: String,
}

/// Largest heat map embedded in the docs, in cells (a bigger one is left to `dilated map`).
const MAX_SVG_CELLS: usize = 1_200;

/// Most counts shown in a doc coverage row.
const MAX_ROW: usize = 96;

/// Layer `i` as users count: 1-based.
fn nth(i: usize) -> usize {
    i + 1
}

fn to_usize(v: u64) -> Option<usize> {
    usize::try_from(v).ok().filter(|&v| v <= MAX_VALUE)
}

/// The stack's index (0 = height, 1 = width) of a schedule axis.
fn axis_index(axis: Axis) -> usize {
    match axis {
        Axis::Height => 0,
        Axis::Width | Axis::Length => 1,
    }
}

/// Runs every check, recording findings in `cx`; `None` when the stack cannot be expanded.
pub(crate) fn check(cx: &Ctxt, stack: &Stack) -> Option<Plan> {
    let convs: Vec<&Conv> = stack.convs().collect();

    let layers = |axis: usize| -> Vec<AxisSpec> {
        convs
            .iter()
            .map(|c| {
                let padding = match c.padding.value {
                    PadSyntax::Same => schedule::PadMode::Same,
                    PadSyntax::Valid => schedule::PadMode::Valid,
                    PadSyntax::Causal => schedule::PadMode::Causal,
                    PadSyntax::Explicit(p) => schedule::PadMode::Explicit {
                        lo: p[axis][0] as u64,
                        hi: p[axis][1] as u64,
                    },
                };
                AxisSpec::new(c.kernel[axis].value as u64, c.rate[axis].value as u64)
                    .with_stride(c.stride[axis].value as u64)
                    .with_padding(padding)
            })
            .collect()
    };
    let (schedule, input) = match stack.dims {
        Dims::One => (
            Schedule::one_d(layers(1)),
            vec![stack.input.sizes[1].map(|s| s.value as u64)],
        ),
        Dims::Two => {
            let (h, w) = (layers(0), layers(1));
            let l2: Vec<schedule::Spec2d> = h
                .into_iter()
                .zip(w)
                .map(|(height, width)| schedule::Spec2d { height, width })
                .collect();
            (
                Schedule::two_d(&l2),
                stack
                    .input
                    .sizes
                    .iter()
                    .map(|s| s.map(|s| s.value as u64))
                    .collect(),
            )
        }
    };
    let options = Options {
        levels: stack.checks,
        input,
        coverage: true,
        suggest: true,
    };
    let report = match schedule::analyze(&schedule, &options) {
        Ok(r) => r,
        Err(e) => {
            let axis = e.axis.map_or(1, axis_index);
            let span = match e.layer {
                Some(i) if i < convs.len() => convs[i].rate[axis].span,
                _ => rates_span(stack, &convs),
            };
            cx.error(
                span,
                format!("{e}\n= help: use smaller rates, kernels or strides"),
            );
            return None;
        }
    };
    // A 2D stack whose axes agree gets the same size finding once per axis: say it once.
    let mut said: Vec<(CheckId, Option<usize>, String)> = Vec::new();
    for d in &report.diagnostics {
        let mut d = d.clone();
        if d.axis.is_some() {
            let plain = |m: &str| {
                m.replace(" (on the height axis)", "")
                    .replace(" (on the width axis)", "")
            };
            let both = report.diagnostics.iter().any(|o| {
                o.axis.is_some()
                    && o.axis != d.axis
                    && o.check == d.check
                    && o.layer == d.layer
                    && plain(&o.message) == plain(&d.message)
            });
            if both {
                d.message = plain(&d.message);
                d.axis = None;
            }
        }
        let key = (d.check, d.layer, d.message.clone());
        if said.contains(&key) {
            continue;
        }
        said.push(key);
        let span = diagnostic_span(stack, &convs, &d);
        cx.report(d.level, span, d.check.name(), render(&d));
    }
    plan(cx, stack, &convs, &report)
}

/// A diagnostic as the compiler shows it: the analysis's message, its `help:` line, and
/// which `check:` key (the check's id) sets its level.
pub(crate) fn render(d: &Diagnostic) -> String {
    let mut s = d.message.clone();
    if let Some(help) = &d.help {
        s.push_str("\n= help: ");
        s.push_str(help);
    }
    let key = d.check.name();
    s.push_str(&format!(
        "\n= note: `check: {{ {key}: deny | warn | allow }}` sets the level of this check"
    ));
    s
}

/// The token a diagnostic points at: the rate of the layer it names (for holes, the rate
/// that opens the first hole); the whole `rates` list for a property of all the rates
/// (HDC rule 3); the declared input size for a receptive field wider than the input.
fn diagnostic_span(stack: &Stack, convs: &[&Conv], d: &Diagnostic) -> Span {
    let axis = d.axis.map_or(1, axis_index);
    match (d.check, d.layer) {
        (CheckId::Hdc3, _) => rates_span(stack, convs),
        (CheckId::LongRange | CheckId::NoOutput, None) => {
            stack.input.sizes[axis].map_or(stack.input.span, |s| s.span)
        }
        (_, Some(i)) if i < convs.len() => convs[i].rate[axis].span,
        _ => rates_span(stack, convs),
    }
}

/// The whole `rates` list in the compact form, the first conv otherwise.
fn rates_span(stack: &Stack, convs: &[&Conv]) -> Span {
    match stack.form {
        Form::Compact { rates } => rates,
        Form::PerLayer => convs.first().map_or(stack.name.span(), |c| c.span),
    }
}

/// Settles every number of the expansion from the analysis's report.
fn plan(cx: &Ctxt, stack: &Stack, convs: &[&Conv], report: &Report) -> Option<Plan> {
    let mut modules = Vec::with_capacity(convs.len());
    let mut acts: Vec<Option<Act>> = Vec::with_capacity(convs.len());
    for (index, item) in stack.items.iter().enumerate() {
        match item.part() {
            Part::Conv(_) => {
                modules.push(index);
                acts.push(None);
            }
            Part::Graph => {}
            Part::Act(a) => {
                if let Some(last) = acts.last_mut() {
                    *last = Some(a.value);
                }
            }
        }
    }
    let mut layers: Vec<ModulePlan> = modules
        .iter()
        .zip(&acts)
        .map(|(&module, &act)| ModulePlan {
            module,
            padding: [[0; 2]; 2],
            effective: [1; 2],
            rf: [1; 2],
            // 1D: the height is 1 throughout.
            out: [Some(1), Some(1)],
            act,
        })
        .collect();
    let mut rf = [1; 2];
    let mut output = [Some(1), Some(1)];
    let mut coverage = [None, None];
    for a in &report.axes {
        let axis = axis_index(a.axis);
        for (i, g) in a.geometry.iter().enumerate() {
            let (Some(e), Some(lo), Some(hi), Some(r)) = (
                to_usize(g.effective_kernel),
                to_usize(g.padding.0),
                to_usize(g.padding.1),
                to_usize(g.receptive_field),
            ) else {
                cx.error(
                    convs[i].rate[axis].span,
                    format!(
                        "layer {}: its effective kernel, padding or receptive field exceeds \
                         {MAX_VALUE} (u32::MAX)\n= help: use smaller rates or kernels",
                        nth(i)
                    ),
                );
                return None;
            };
            let l = &mut layers[i];
            l.effective[axis] = e;
            l.padding[axis] = [lo, hi];
            l.rf[axis] = r;
            l.out[axis] = g.output_size.and_then(to_usize);
        }
        if let Some(last) = layers.last() {
            rf[axis] = last.rf[axis];
            output[axis] = last.out[axis];
        }
        coverage[axis] = a
            .coverage
            .exact()
            .map(|c| schedule::coverage_row_text(c, MAX_ROW));
    }
    let out_channels = convs
        .last()
        .map_or(stack.input.channels.value, |c| c.out_channels.value);
    Some(Plan {
        layers,
        rf,
        output,
        out_channels,
        coverage,
        svg: svg(stack.dims, &report.axes),
        verdict: verdict(&report.axes),
    })
}

fn verdict(axes: &[AxisReport]) -> String {
    let holes: u64 = axes.iter().map(|a| a.reach.hole_count).sum();
    if holes == 0 {
        "No holes: every input offset inside the receptive field is read.".to_owned()
    } else {
        let per: Vec<String> = axes
            .iter()
            .filter(|a| a.reach.hole_count > 0)
            .map(|a| format!("{} on the {} axis", a.reach.hole_count, a.axis.name()))
            .collect();
        format!(
            "**Holes (gridding), allowed by its `check` setting**: {} offsets inside the \
             receptive field are never read.",
            per.join(", ")
        )
    }
}

/// The coverage heat map, drawn by the same renderer as `dilated map --svg`: one row for a
/// 1D stack, the outer product of the two axes for a 2D one.
fn svg(dims: Dims, axes: &[AxisReport]) -> Option<String> {
    let options = |origin: (i64, i64), title: String| heatmap::Options {
        origin,
        title: Some(title),
        ..heatmap::Options::default()
    };
    match (dims, axes) {
        (Dims::One, [a]) => {
            let c = a.coverage.exact()?;
            if c.counts.len() > MAX_SVG_CELLS {
                return None;
            }
            let map = vec![c.counts.clone()];
            Some(heatmap::svg(
                &map,
                &options((0, c.min_offset), "coverage per input offset".to_owned()),
            ))
        }
        (Dims::Two, [h, w]) => {
            let (ch, cw) = (h.coverage.exact()?, w.coverage.exact()?);
            if ch.counts.len().checked_mul(cw.counts.len())? > MAX_SVG_CELLS {
                return None;
            }
            let map = schedule::coverage_map(ch, cw).ok()?;
            Some(heatmap::svg(
                &map,
                &options(
                    (ch.min_offset, cw.min_offset),
                    "coverage per input position".to_owned(),
                ),
            ))
        }
        _ => None,
    }
}

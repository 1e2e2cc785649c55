//! The `check` command: the schedule verdict of an entry's graph, from
//! `dilated::schedule::graph` (the analysis the macro runs when it expands the
//! declaration), worded as the macro words it in the type's docs and its diagnostics.
//!
//! The graph comes from the generated type's runtime graph (`graph()`), every conv with
//! its real padding and module path, so the verdict is the one of the network that runs.

use std::fmt::Write as _;

use dilated::conv::Rank;
use dilated::schedule::graph::{
    Graph, GraphOptions, GraphReport, InputField, NodeId, OutputReport,
};
use dilated::schedule::{AxisSpec, Level, Levels, Outcome, PadMode};
use dilated_core::model::{ModelGraph, Op};

use super::entries::{Entry, Variant};

/// What `check` found.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The verdict over every path (with the declared field).
    pub(crate) report: GraphReport,
    /// The same graph on raw pixels, when a field is declared.
    pub(crate) raw: Option<GraphReport>,
    /// The schedule graph (for labels).
    pub(crate) graph: Graph,
    /// The text `check` prints.
    pub(crate) text: String,
}

impl Checked {
    /// The output's report.
    pub(crate) fn output(&self) -> Result<&OutputReport, String> {
        self.report
            .outputs
            .first()
            .ok_or_else(|| "the analysis reported no output".to_owned())
    }
}

fn to_u64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// The schedule graph of a runtime graph: convs with their kernel, rate, stride and real
/// padding per axis (labelled with their module path), sums, concats, global pools, the
/// broadcast back from a global pool; batch norms, activations, PReLUs, gates and dropouts
/// pass coverage through. Returns the graph and the node of the output.
pub(crate) fn schedule_graph(
    model: &ModelGraph,
    field: Option<(u64, u64)>,
) -> Result<(Graph, NodeId), String> {
    let err = |e: dilated::schedule::graph::GraphError| e.to_string();
    let (mut g, axes): (Graph, &[usize]) = match model.rank() {
        Rank::One => (Graph::one_d(), &[1]),
        Rank::Two => (Graph::two_d(), &[0, 1]),
    };
    let mut ids: Vec<NodeId> = Vec::with_capacity(model.nodes().len());
    for node in model.nodes() {
        let from = |i: usize| -> Result<NodeId, String> {
            node.inputs()
                .get(i)
                .and_then(|v| ids.get(v.index()))
                .copied()
                .ok_or_else(|| "a node reads a value defined after it".to_owned())
        };
        let id = match node.op() {
            Op::Input => {
                let f: Option<Vec<InputField>> = field
                    .map(|(rf, jump)| axes.iter().map(|_| InputField::new(rf, jump)).collect());
                g.input(f.as_deref()).map_err(err)?
            }
            Op::Conv { prefix, desc, .. } => {
                let specs: Vec<AxisSpec> = axes
                    .iter()
                    .map(|&a| {
                        AxisSpec::new(to_u64(desc.kernel[a]), to_u64(desc.dilation[a]))
                            .with_stride(to_u64(desc.stride[a]))
                            .with_padding(PadMode::Explicit {
                                lo: to_u64(desc.padding[a][0]),
                                hi: to_u64(desc.padding[a][1]),
                            })
                    })
                    .collect();
                let id = g.conv(from(0)?, &specs).map_err(err)?;
                g.label(id, prefix.clone()).map_err(err)?
            }
            Op::Add { .. } => {
                let ins: Vec<NodeId> = (0..node.inputs().len())
                    .map(from)
                    .collect::<Result<_, _>>()?;
                g.sum(&ins).map_err(err)?
            }
            Op::Concat => {
                let ins: Vec<NodeId> = (0..node.inputs().len())
                    .map(from)
                    .collect::<Result<_, _>>()?;
                g.concat(&ins).map_err(err)?
            }
            Op::GlobalAvgPool => g.global_pool(from(0)?).map_err(err)?,
            Op::Broadcast => g.pointwise(from(0)?).map_err(err)?,
            Op::BatchNorm { .. }
            | Op::Activation(_)
            | Op::Prelu { .. }
            | Op::Gate
            | Op::Dropout => from(0)?,
            // `Op` is another crate's `#[non_exhaustive]` enum: a catch-all is required.
            other => return Err(format!("the analysis does not know the op {other:?}")),
        };
        ids.push(id);
    }
    let out = ids
        .get(model.output().index())
        .copied()
        .ok_or_else(|| "the graph has no output".to_owned())?;
    Ok((g, out))
}

/// Analyses `model` with `levels`.
fn analyze(
    model: &ModelGraph,
    field: Option<(u64, u64)>,
    levels: Levels,
) -> Result<(Graph, GraphReport), String> {
    let (g, out) = schedule_graph(model, field)?;
    let options = GraphOptions {
        levels,
        outputs: vec![out],
        ..GraphOptions::default()
    };
    let report = g
        .analyze(&options)
        .map_err(|e| format!("the analysis refused the graph: {e}"))?;
    Ok((g, report))
}

fn times(v: &[u64]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" × ")
}

/// Up to 24 values; a longer list as its first 20, `…` and its last 3.
fn list(v: &[u64]) -> String {
    let text = |v: &[u64]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if v.len() <= 24 {
        text(v)
    } else {
        format!("{}, …, {}", text(&v[..20]), text(&v[v.len() - 3..]))
    }
}

/// The node's label (its module path), or its id.
fn name(g: &Graph, id: NodeId) -> String {
    g.node(id)
        .and_then(|n| n.label())
        .map_or_else(|| g.name(id), |l| format!("`{l}`"))
}

/// The verdict sentence of the type's docs.
fn verdict(report: &GraphReport, out: &OutputReport, levels: Levels) -> String {
    let mut s = if out.hole_count == 0 {
        "No holes over every path: every input offset inside the receptive field is read."
            .to_owned()
    } else {
        format!(
            "Holes (gridding){}: {} {} inside the receptive field {} never read by any path.",
            if levels.holes == Level::Allow {
                ", allowed by its `check` setting"
            } else {
                ""
            },
            out.hole_count,
            if report.rank == 1 { "offsets" } else { "cells" },
            if out.hole_count == 1 { "is" } else { "are" },
        )
    };
    if out.global {
        s.push_str(
            " This output also sees the whole input through a global pool (global context, \
             not counted when holes are judged).",
        );
    }
    s
}

/// Holes, receptive field and jump of one output, in `dilated check`'s words.
fn figures(g: &Graph, report: &GraphReport, out: &OutputReport) -> String {
    let mut s = String::new();
    let rf = times(&out.receptive_field());
    let jumps: Vec<String> = out
        .axes
        .iter()
        .map(|a| {
            a.jump.map_or_else(
                || "-".to_owned(),
                |j| {
                    if j.den == 1 {
                        j.num.to_string()
                    } else {
                        format!("{}/{}", j.num, j.den)
                    }
                },
            )
        })
        .collect();
    if out.has_holes() {
        let unit = if report.rank == 2 {
            "cells of the 2D map"
        } else {
            "offsets"
        };
        let first = out.first_hole_node.map_or_else(String::new, |n| {
            format!(", the first opened by {}", name(g, n))
        });
        let gap = out.axes.iter().map(|a| a.widest_gap).max().unwrap_or(0);
        let _ = write!(
            s,
            "gridding: {} holes ({unit}) in a receptive field of {rf}{first}; widest gap {gap}",
            out.hole_count
        );
    } else {
        let _ = write!(s, "no holes in a receptive field of {rf}");
    }
    let _ = write!(s, "; jump {}", jumps.join(" × "));
    s
}

/// Runs the analysis of one variant and words it.
pub(crate) fn check(entry: &Entry, v: &Variant, model: &ModelGraph) -> Result<Checked, String> {
    let (g, report) = analyze(model, v.field, v.levels)?;
    let out = report
        .outputs
        .first()
        .ok_or_else(|| "the analysis reported no output".to_owned())?;
    let mut s = String::new();
    let dims = match v.rank {
        Rank::One => format!("[{}, L]", v.declared[0]),
        Rank::Two => format!("[{}, {}, {}]", v.declared[0], v.declared[1], v.declared[2]),
    };
    let _ = writeln!(s, "{} ({}): {}", entry.name, v.class, entry.about);
    let _ = writeln!(
        s,
        "{} graph, input {dims}, {} ops",
        super::rank_of(v.rank),
        model.nodes().len().saturating_sub(1)
    );
    if let Some((rf, jump)) = v.field {
        let _ = writeln!(
            s,
            "declared input field: the features already see {rf} px, {jump} px apart \
             (holes are judged in input pixels)"
        );
    }
    let _ = writeln!(s, "verdict: {}", verdict(&report, out, v.levels));
    let _ = writeln!(s, "  {}", figures(&g, &report, out));
    if let Some(n) = out.global_pool {
        let _ = writeln!(
            s,
            "  global context through {}: a path sees the whole input; it fills no hole",
            name(&g, n)
        );
    }
    let raw = match v.field {
        Some(_) => {
            let (rg, raw) = analyze(model, None, v.levels)?;
            if let Some(o) = raw.outputs.first() {
                let _ = writeln!(
                    s,
                    "without the declared field (on raw pixels): {}",
                    figures(&rg, &raw, o)
                );
            }
            Some(raw)
        }
        None => None,
    };
    for c in &report.chains {
        let r = |o: Outcome| match o.as_bool() {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "n/a",
        };
        let mut rules: Vec<String> = c
            .hdc
            .iter()
            .map(|h| {
                format!(
                    "HDC rule 1 {}, rule 2 {}, rule 3 {}",
                    r(h.rule1),
                    r(h.rule2),
                    r(h.rule3)
                )
            })
            .collect();
        rules.dedup();
        // Failing rules the declaration's `check:` allows (they are not reported below).
        let fails = |rule: fn(&dilated::schedule::Hdc) -> Outcome| {
            c.hdc.iter().any(|h| rule(h).as_bool() == Some(false))
        };
        let allowed: Vec<&str> = [
            ("hdc1", fails(|h| h.rule1), v.levels.hdc1),
            ("hdc2", fails(|h| h.rule2), v.levels.hdc2),
            ("hdc3", fails(|h| h.rule3), v.levels.hdc3),
        ]
        .iter()
        .filter(|(_, failed, level)| *failed && *level == Level::Allow)
        .map(|(name, _, _)| *name)
        .collect();
        let allowed = if allowed.is_empty() {
            String::new()
        } else {
            format!(" (allowed by its `check`: {})", allowed.join(", "))
        };
        let _ = writeln!(
            s,
            "chain of {} layers, rates {}: {}{allowed}",
            c.nodes.len(),
            list(&c.rates()),
            rules.join("; ")
        );
    }
    for d in &report.diagnostics {
        let _ = write!(s, "{}", d.diagnostic);
        if let Some(n) = d.node {
            let _ = write!(s, "\n  --> {}", name(&g, n));
        }
        s.push('\n');
    }
    Ok(Checked {
        report,
        raw,
        graph: g,
        text: s,
    })
}

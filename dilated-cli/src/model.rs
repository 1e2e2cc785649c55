//! `dilated check model.onnx` and `dilated map model.onnx`: an ONNX model's coverage over
//! every path from its input to each output (or to the tensors picked with `--tensor`),
//! through `dilated_onnx::analysis` and the schedule graph of `dilated_core::schedule`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use dilated_core::schedule::graph::{
    self as sg, GraphCoverage, GraphDiagnostic, GraphOptions, GraphReport, Jump, OutputReport,
};
use dilated_core::schedule::{Level, Levels};
use dilated_onnx::analysis::{Analysis, Unjudged};
use dilated_onnx::{Graph, Model, NodeId, ValueId};
use serde::Serialize;

use crate::check::{DiagnosticJson, diagnostic_json};
use crate::{CheckArgs, Failure, MapArgs, ModelArgs, Outcome};

/// A model read and turned into a schedule graph.
struct Loaded {
    model: Model,
    analysis: Analysis,
}

fn load(path: &Path) -> Result<Loaded, Failure> {
    let model = dilated_onnx::read(path)
        .map_err(|e| Failure::Message(format!("{}: {e}", path.display())))?;
    let analysis = Analysis::new(&model.graph)
        .map_err(|e| Failure::Message(format!("{}: {e}", path.display())))?;
    Ok(Loaded { model, analysis })
}

/// One tensor analysed: its name and where it is.
struct Target {
    name: String,
    node: Result<sg::NodeId, String>,
}

/// The tensors to analyse: `--tensor` names, or the graph's outputs.
fn targets(l: &Loaded, m: &ModelArgs) -> Result<Vec<Target>, Failure> {
    let g = &l.model.graph;
    let ids: Vec<ValueId> = if m.tensor.is_empty() {
        g.outputs().to_vec()
    } else {
        m.tensor
            .iter()
            .map(|t| {
                g.find(t).ok_or_else(|| {
                    Failure::Message(format!(
                        "the model has no tensor {}",
                        dilated_onnx::Name(t.clone())
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    Ok(ids
        .into_iter()
        .map(|v| Target {
            name: g.value(v).name.clone(),
            node: l.analysis.node_of(v).map_err(|u| match u {
                Some(u) => format!("computed through {u}"),
                None => "it is not computed from the model's input".to_owned(),
            }),
        })
        .collect())
}

fn levels(a: &CheckArgs) -> Levels {
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
    levels
}

/// Analyses the judged targets; refuses when none can be judged.
fn analyze(
    l: &Loaded,
    targets: &[Target],
    levels: Levels,
    coverage: bool,
) -> Result<GraphReport, Failure> {
    let mut outputs: Vec<sg::NodeId> = Vec::new();
    for t in targets {
        if let Ok(n) = t.node
            && !outputs.contains(&n)
        {
            outputs.push(n);
        }
    }
    if outputs.is_empty() {
        let why: Vec<String> = targets
            .iter()
            .filter_map(|t| {
                t.node
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", dilated_onnx::Name(t.name.clone())))
            })
            .collect();
        return Err(Failure::Message(format!(
            "nothing could be judged: {}",
            why.join("; ")
        )));
    }
    let options = GraphOptions {
        levels,
        outputs,
        coverage,
        suggest: true,
        dense_cells: None,
    };
    l.analysis
        .graph
        .analyze(&options)
        .map_err(|e| Failure::Message(format!("the analysis refused the graph: {e}")))
}

/// The IR node label a schedule node stands for, `"(input)"` for the input.
fn node_label(l: &Loaded, id: sg::NodeId) -> String {
    match l.analysis.ir_node(id) {
        Some(n) => l.model.graph.node(n).label(),
        None => "(input)".to_owned(),
    }
}

fn node_op(l: &Loaded, id: sg::NodeId) -> String {
    match l.analysis.ir_node(id) {
        Some(n) => l.model.graph.node(n).op_type.clone(),
        None => "input".to_owned(),
    }
}

/// The output with the most holes (the first on a tie), else the first.
fn worst(report: &GraphReport) -> Option<&OutputReport> {
    report
        .outputs
        .iter()
        .reduce(|a, b| if b.hole_count > a.hole_count { b } else { a })
}

/// The diagnostics of one output: its hole findings and the chains' rules.
fn diagnostics_of(report: &GraphReport, out: Option<sg::NodeId>) -> Vec<&GraphDiagnostic> {
    report
        .diagnostics
        .iter()
        .filter(|d| d.output.is_none() || d.output == out)
        .collect()
}

fn jump_text(j: Jump) -> String {
    if j.den == 1 {
        j.num.to_string()
    } else {
        format!("{}/{}", j.num, j.den)
    }
}

fn jump_json(j: Jump) -> serde_json::Value {
    if j.den == 1 {
        j.num.into()
    } else {
        #[allow(clippy::cast_precision_loss)] // a ratio of two u64s: a float by contract
        let f = j.num as f64 / j.den as f64;
        f.into()
    }
}

fn times<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The schedule node each IR window became.
fn window_nodes(l: &Loaded) -> HashMap<NodeId, sg::NodeId> {
    let mut m = HashMap::new();
    for (i, o) in l.analysis.origin.iter().enumerate() {
        if let Some(n) = o {
            m.insert(*n, sg::NodeId::from_index(i));
        }
    }
    m
}

pub(crate) fn check(a: &CheckArgs, path: &Path) -> Result<Outcome, Failure> {
    let l = load(path)?;
    let targets = targets(&l, &a.model)?;
    let report = analyze(&l, &targets, levels(a), false)?;
    let code = u8::from(report.is_error());
    let stdout = if a.json {
        crate::json_line(&json(&l, path, &targets, &report, code))?
    } else {
        text(&l, path, &targets, &report)
    };
    Ok(Outcome { stdout, code })
}

fn output_headline(out: &OutputReport) -> String {
    let rf = times(&out.receptive_field());
    if out.has_holes() {
        format!(
            "gridding: {} holes in a receptive field of {rf}",
            out.hole_count
        )
    } else if out.receptive_field().iter().all(|&r| r == 0) {
        "global context only: every position sees the whole input alike".to_owned()
    } else {
        format!("no holes in a receptive field of {rf}")
    }
}

fn text(l: &Loaded, path: &Path, targets: &[Target], report: &GraphReport) -> String {
    let g = &l.model.graph;
    let mut s = String::new();
    let input = g
        .inputs()
        .first()
        .map(|&v| {
            let val = g.value(v);
            let shape = val.shape.as_ref().map_or_else(
                || "?".to_owned(),
                |sh| {
                    let d: Vec<String> = sh.iter().map(ToString::to_string).collect();
                    format!("[{}]", d.join(", "))
                },
            );
            format!("; input {} {shape}", dilated_onnx::Name(val.name.clone()))
        })
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "model {}: {}D, {} nodes on the data path ({} folded){input}",
        path.display(),
        report.rank,
        g.nodes().len(),
        g.folded()
    );
    for t in targets {
        let _ = write!(s, "\ntensor {}: ", dilated_onnx::Name(t.name.clone()));
        let out = match &t.node {
            Ok(n) => report.output(*n),
            Err(e) => {
                let _ = writeln!(s, "could not be judged: {e}");
                continue;
            }
        };
        let Some(out) = out else { continue };
        let _ = writeln!(s, "{}", output_headline(out));
        let jumps: Vec<String> = out
            .axes
            .iter()
            .map(|a| a.jump.map_or_else(|| "-".to_owned(), jump_text))
            .collect();
        let _ = writeln!(
            s,
            "  receptive field {}, jump {}",
            times(&out.receptive_field()),
            jumps.join(" × ")
        );
        if out.has_holes() {
            let unit = if report.rank == 2 {
                "cells of the 2D map"
            } else {
                "offsets"
            };
            let first = out.first_hole_node.map_or_else(String::new, |n| {
                format!(
                    ", the first opened by node {} ({})",
                    dilated_onnx::Name(node_label(l, n)),
                    node_op(l, n)
                )
            });
            let gap = out.axes.iter().map(|a| a.widest_gap).max().unwrap_or(0);
            let _ = writeln!(
                s,
                "  holes {} ({unit}){first}; widest gap {gap}",
                out.hole_count
            );
        }
        if out.global {
            let through = out.global_pool.map_or_else(String::new, |n| {
                format!(
                    " through node {} ({})",
                    dilated_onnx::Name(node_label(l, n)),
                    node_op(l, n)
                )
            });
            let _ = writeln!(
                s,
                "  global context{through}: a path sees the whole input; it fills no hole"
            );
        }
        if out.varies {
            let _ = writeln!(
                s,
                "  the field varies by position (after an upsampling): the widest is reported"
            );
        }
    }
    for c in &report.chains {
        let names: Vec<String> = c
            .nodes
            .iter()
            .map(|&n| dilated_onnx::Name(node_label(l, n)).to_string())
            .collect();
        let mut rules: Vec<String> = c
            .hdc
            .iter()
            .map(|h| {
                let r = |o: dilated_core::schedule::Outcome| match o.as_bool() {
                    Some(true) => "pass",
                    Some(false) => "fail",
                    None => "n/a",
                };
                format!(
                    "HDC rule 1 {}, rule 2 {}, rule 3 {}",
                    r(h.rule1),
                    r(h.rule2),
                    r(h.rule3)
                )
            })
            .collect();
        // One entry per axis; a square chain's axes agree.
        rules.dedup();
        let _ = writeln!(
            s,
            "\nchain of {} layers, rates {}: {} ({})",
            c.nodes.len(),
            crate::check::list(&c.rates(), 16),
            rules.join("; "),
            names.join(", ")
        );
    }
    let windows = window_nodes(l);
    let count = g
        .nodes()
        .iter()
        .filter(|n| n.kind.window().is_some())
        .count();
    if count > 0 && count <= 40 {
        let _ = writeln!(s, "\nconvolutions and pools:");
        for (i, n) in g.nodes().iter().enumerate() {
            let Some(w) = n.kind.window() else { continue };
            let rf = windows
                .get(&NodeId(i))
                .and_then(|&id| l.analysis.graph.receptive_field(id).ok())
                .map_or_else(|| "not judged".to_owned(), |r| times(&r));
            let pads = w
                .pads
                .as_ref()
                .map_or_else(|| format!("{}", w.auto_pad), |p| format!("{p:?}"));
            let _ = writeln!(
                s,
                "  {} ({}): kernel {:?}, dilations {:?}, strides {:?}, pads {pads}, group {}; receptive field {rf}",
                dilated_onnx::Name(n.label()),
                n.op_type,
                w.kernel,
                w.dilations,
                w.strides,
                w.group
            );
        }
    } else if count > 40 {
        let _ = writeln!(
            s,
            "\n{count} convolutions and pools (`--json` lists each with its receptive field)"
        );
    }
    let hazards: Vec<String> = g
        .nodes()
        .iter()
        .flat_map(|n| {
            n.hazards.iter().map(move |h| {
                format!(
                    "  node {} ({}): {h}",
                    dilated_onnx::Name(n.label()),
                    n.op_type
                )
            })
        })
        .collect();
    if !hazards.is_empty() {
        let _ = writeln!(s, "\nexport hazards:\n{}", hazards.join("\n"));
    }
    let notes = notes(l);
    if !notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    if !report.diagnostics.is_empty() {
        s.push('\n');
        for d in &report.diagnostics {
            for (i, line) in d.diagnostic.to_string().lines().enumerate() {
                let indent = if i == 0 || line.starts_with("  ") {
                    ""
                } else {
                    "  "
                };
                let _ = writeln!(s, "{indent}{line}");
            }
            if let Some(n) = d.node {
                let _ = writeln!(
                    s,
                    "  --> node {} ({})",
                    dilated_onnx::Name(node_label(l, n)),
                    node_op(l, n)
                );
            }
        }
    }
    s
}

/// The analysis's notes, then one per node whose window is unknown.
fn notes(l: &Loaded) -> Vec<String> {
    let mut v = l.analysis.notes.clone();
    v.extend(l.analysis.unjudged.iter().map(|u: &Unjudged| {
        format!("could not be judged: {u}; every tensor computed from it is left out")
    }));
    v
}

#[derive(Serialize)]
struct ModelJson<'a> {
    model: String,
    verdict: &'static str,
    exit_code: u8,
    /// Whether the worst output has holes.
    gridding: bool,
    /// The worst output's receptive field on the first spatial axis (as a schedule's).
    receptive_field: u64,
    hole_count: u64,
    /// The worst output's diagnostics (its hole findings and every chain's rules).
    diagnostics: Vec<GraphDiagnosticJson<'a>>,
    outputs: Vec<OutputJson>,
    nodes: Vec<NodeJson>,
    hazards: Vec<HazardJson>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct GraphDiagnosticJson<'a> {
    #[serde(flatten)]
    diagnostic: DiagnosticJson<'a>,
    node: Option<String>,
}

#[derive(Serialize)]
struct OutputJson {
    name: String,
    judged: bool,
    /// Why not, when not judged.
    reason: Option<String>,
    receptive_field: Vec<u64>,
    jump: Vec<serde_json::Value>,
    gridding: bool,
    hole_count: u64,
    first_hole_node: Option<String>,
    widest_gap: u64,
    global: bool,
    /// Whether the field varies by position (after an upsampling; the widest is given).
    varies: bool,
}

#[derive(Serialize)]
struct NodeJson {
    name: String,
    op: String,
    kernel: Vec<u64>,
    dilations: Vec<u64>,
    strides: Vec<u64>,
    pads: Option<Vec<[u64; 2]>>,
    auto_pad: String,
    group: u64,
    receptive_field: Option<Vec<u64>>,
}

#[derive(Serialize)]
struct HazardJson {
    node: String,
    op: String,
    message: String,
}

fn json<'a>(
    l: &Loaded,
    path: &Path,
    targets: &[Target],
    report: &'a GraphReport,
    code: u8,
) -> ModelJson<'a> {
    let g: &Graph = &l.model.graph;
    let w = worst(report);
    let verdict = match report.max_level() {
        Some(Level::Deny) => "error",
        Some(Level::Warn) => "warning",
        Some(Level::Allow) | None => "ok",
    };
    let outputs = targets
        .iter()
        .map(|t| {
            match (
                &t.node,
                t.node.as_ref().ok().and_then(|&n| report.output(n)),
            ) {
                (Ok(_), Some(o)) => OutputJson {
                    name: t.name.clone(),
                    judged: true,
                    reason: None,
                    receptive_field: o.receptive_field(),
                    jump: o
                        .axes
                        .iter()
                        .map(|a| a.jump.map_or(serde_json::Value::Null, jump_json))
                        .collect(),
                    gridding: o.has_holes(),
                    hole_count: o.hole_count,
                    first_hole_node: o.first_hole_node.map(|n| node_label(l, n)),
                    widest_gap: o.axes.iter().map(|a| a.widest_gap).max().unwrap_or(0),
                    global: o.global,
                    varies: o.varies,
                },
                (node, _) => OutputJson {
                    name: t.name.clone(),
                    judged: false,
                    reason: Some(node.as_ref().err().cloned().unwrap_or_default()),
                    receptive_field: Vec::new(),
                    jump: Vec::new(),
                    gridding: false,
                    hole_count: 0,
                    first_hole_node: None,
                    widest_gap: 0,
                    global: false,
                    varies: false,
                },
            }
        })
        .collect();
    let windows = window_nodes(l);
    let nodes = g
        .nodes()
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let w = n.kind.window()?;
            Some(NodeJson {
                name: n.label(),
                op: n.op_type.clone(),
                kernel: w.kernel.clone(),
                dilations: w.dilations.clone(),
                strides: w.strides.clone(),
                pads: w.pads.clone(),
                auto_pad: w.auto_pad.to_string(),
                group: w.group,
                receptive_field: windows
                    .get(&NodeId(i))
                    .and_then(|&id| l.analysis.graph.receptive_field(id).ok()),
            })
        })
        .collect();
    let hazards = g
        .nodes()
        .iter()
        .flat_map(|n| {
            n.hazards.iter().map(|h| HazardJson {
                node: n.label(),
                op: n.op_type.clone(),
                message: h.to_string(),
            })
        })
        .collect();
    ModelJson {
        model: path.display().to_string(),
        verdict,
        exit_code: code,
        gridding: w.is_some_and(OutputReport::has_holes),
        receptive_field: w
            .and_then(|o| o.axes.first())
            .map_or(0, |a| a.receptive_field),
        hole_count: w.map_or(0, |o| o.hole_count),
        diagnostics: diagnostics_of(report, w.map(|o| o.node))
            .into_iter()
            .map(|d| GraphDiagnosticJson {
                diagnostic: diagnostic_json(&d.diagnostic),
                node: d.node.map(|n| node_label(l, n)),
            })
            .collect(),
        outputs,
        nodes,
        hazards,
        notes: notes(l),
    }
}

pub(crate) fn map(a: &MapArgs, path: &Path) -> Result<Outcome, Failure> {
    let l = load(path)?;
    let targets = targets(&l, &a.model)?;
    let report = analyze(&l, &targets, Levels::default(), true)?;
    // The first tensor picked, or the worst output.
    let out = if a.model.tensor.is_empty() {
        worst(&report)
    } else {
        targets
            .iter()
            .find_map(|t| t.node.as_ref().ok().and_then(|&n| report.output(n)))
    };
    let Some(out) = out else {
        return Err(Failure::Message("nothing could be judged".into()));
    };
    // The tensor's name, as the user gave it or the graph lists it.
    let name = targets
        .iter()
        .find(|t| t.node.as_ref().ok() == Some(&out.node))
        .map_or_else(|| node_label(&l, out.node), |t| t.name.clone());
    if out.receptive_field().iter().all(|&r| r == 0) {
        return Err(Failure::Message(format!(
            "{} has no local coverage to draw: every path to it goes through a global pool \
             or a layer over the whole map; pick a feature map with --tensor NAME",
            dilated_onnx::Name(name)
        )));
    }
    let Some(cov): Option<&GraphCoverage<u128>> = out.coverage.exact() else {
        return Err(Failure::Message(format!(
            "the map of {} is too large for exact counts (receptive field {})",
            dilated_onnx::Name(name),
            times(&out.receptive_field())
        )));
    };
    let Some(pm) = cov
        .maps
        .iter()
        .find(|m| m.phase == out.phase)
        .or_else(|| cov.maps.first())
    else {
        return Err(Failure::Message(format!(
            "{} has no local coverage: every path goes through a global pool",
            dilated_onnx::Name(name)
        )));
    };
    let (rows, cols, origin) = match pm.shape[..] {
        [h, w] => (h, w, (pm.min_offset[0], pm.min_offset[1])),
        [n] => (1, n, (0, pm.min_offset[0])),
        _ => (0, 0, (0, 0)),
    };
    let grid: Vec<Vec<u128>> = (0..rows)
        .map(|r| pm.counts[r * cols..(r + 1) * cols].to_vec())
        .collect();
    let caption = format!(
        "{} of {}",
        dilated_onnx::Name(name),
        path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into()
        )
    );
    crate::map::render(a, &caption, &grid, origin)
}

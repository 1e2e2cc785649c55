//! The IR as a `dilated_core::schedule::graph::Graph`: the coverage over every path from
//! the input to any tensor, with the same engine, verdicts and words as `dilated_stack!`.
//!
//! Each data-path node of the IR becomes one node of the schedule graph (or none):
//!
//! | IR kind | schedule graph |
//! |---|---|
//! | [`NodeKind::Conv`], [`NodeKind::Pool`] | `conv` / `pool` with the window's kernel, dilations, strides and its explicit pads (a `Pad` or a crop before it is folded in) |
//! | [`NodeKind::Global`], a [`NodeKind::Head`] over a map larger than one position | `global_pool` (global context: reported, fills no hole); a normalisation whose statistics span the map is its own value plus a global pool |
//! | [`NodeKind::Merge`] (`Add`, `Sum`, `Mul`, …) with several data inputs | `sum` |
//! | [`NodeKind::Concat`] on the channels | `concat` |
//! | [`NodeKind::Split`] on the channels, [`NodeKind::Pointwise`], a head over one position | `pointwise` |
//! | [`NodeKind::Resize`] by whole factors (nearest, linear) | `resize`; over a map with only global paths (a pooled branch broadcast back), `pointwise` |
//! | [`NodeKind::Pad`], [`NodeKind::Crop`] with step 1 | a shift, folded into the next window's padding; materialised as a 1-tap conv where branches with different shifts merge |
//! | [`NodeKind::Crop`] with a step | a 1-tap strided conv |
//! | anything else ([`NodeKind::Unknown`], a concat or split along a spatial axis, a cubic or fractional resize, pads that are not constant) | *could not be judged*: every tensor computed from it is reported as such, naming the node and why |
//!
//! Positions are on an infinite grid, as in the schedule graph: borders are not modelled,
//! so a `Pad` in `reflect` or `edge` mode is a shift like a zero pad. A `SAME_*` window
//! whose padding the model leaves to the input size is placed as PyTorch's `same`.

use std::collections::HashMap;
use std::fmt;

use dilated_core::schedule::graph::{self as sg, GraphError};
use dilated_core::schedule::{AxisSpec, PadMode};

use crate::error::{Error, Name};
use crate::graph::{AutoPad, Global, Graph, NodeId, NodeKind, ResizeMode, ValueId, Window};

/// A tensor that could not be judged, and why: the node that starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unjudged {
    /// The IR node whose window is unknown.
    pub node: NodeId,
    /// Its label ([`crate::Node::label`]).
    pub label: String,
    /// Its operator.
    pub op: String,
    /// Why its window is unknown.
    pub reason: String,
}

impl fmt::Display for Unjudged {
    /// `node "x" (Op): reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} ({}): {}",
            Name(self.label.clone()),
            self.op,
            self.reason
        )
    }
}

/// Where an IR tensor is in the schedule graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// At a node of the schedule graph; position `x` of the tensor is position
    /// `x − shift` of the node, per spatial axis (a `Pad` not yet folded into a window).
    At {
        /// The node.
        node: sg::NodeId,
        /// The pending shift per spatial axis.
        shift: Vec<i64>,
    },
    /// Computed through a node whose window is unknown (index into
    /// [`Analysis::unjudged`]).
    Unjudged(usize),
    /// Not computed from the run-time input (nothing on its path reads it).
    Detached,
}

/// The schedule graph of a model, with the way back from its nodes to the IR's.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The schedule graph.
    pub graph: sg::Graph,
    /// The IR node each schedule node was made for (`None` for the input).
    pub origin: Vec<Option<NodeId>>,
    /// The nodes whose window is unknown, in topological order.
    pub unjudged: Vec<Unjudged>,
    /// Notes on approximations made (a `SAME_*` padding placed as PyTorch's `same`, a
    /// second run-time input left out).
    pub notes: Vec<String>,
    places: HashMap<ValueId, Place>,
}

/// One window's per-axis geometry before the pending shift is folded in.
struct Taps {
    kernel: Vec<u64>,
    rates: Vec<u64>,
    strides: Vec<u64>,
    lo: Vec<i64>,
    hi: Vec<u64>,
}

impl Analysis {
    /// The schedule graph of `graph`: its first run-time input of rank 3 or 4 is the
    /// input (NCL or NCHW), every data-path node is added in topological order.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the model has no 1D or 2D feature-map input.
    pub fn new(graph: &Graph) -> Result<Self, Error> {
        let rank = match graph.spatial_rank() {
            Some(r @ (1 | 2)) => r,
            Some(r) => {
                return Err(Error::Unsupported {
                    what: format!("a model with {r} spatial axes (1 or 2 are analysed)"),
                });
            }
            None => {
                return Err(Error::Unsupported {
                    what: "a model without a feature-map input (NCL or NCHW)".into(),
                });
            }
        };
        let mut sgraph = sg::Graph::with_rank(rank).map_err(|e| Error::Unsupported {
            what: e.to_string(),
        })?;
        // One schedule node per IR node at most, plus the input: allocated once.
        let nodes = graph.nodes().len().saturating_add(1);
        sgraph.reserve(nodes);
        let input = sgraph.input(None).map_err(|e| Error::Unsupported {
            what: e.to_string(),
        })?;
        let mut origin = Vec::with_capacity(nodes.min(sg::MAX_GRAPH_NODES));
        origin.push(None);
        let mut a = Self {
            graph: sgraph,
            origin,
            unjudged: Vec::new(),
            notes: Vec::new(),
            places: HashMap::with_capacity(nodes.min(sg::MAX_GRAPH_NODES)),
        };
        let mut first = true;
        for &v in graph.inputs() {
            let r = graph.value(v).shape.as_ref().map(Vec::len);
            if first && r == Some(rank + 2) {
                a.places.insert(
                    v,
                    Place::At {
                        node: input,
                        shift: vec![0; rank],
                    },
                );
                first = false;
            } else {
                a.notes.push(format!(
                    "run-time input {} is not analysed: the analysis follows one input, {}",
                    Name(graph.value(v).name.clone()),
                    Name(
                        graph
                            .inputs()
                            .iter()
                            .find(|&&i| a.places.contains_key(&i))
                            .map_or_else(String::new, |&i| graph.value(i).name.clone())
                    )
                ));
            }
        }
        for i in 0..graph.nodes().len() {
            a.add(graph, NodeId(i), rank);
        }
        Ok(a)
    }

    /// Where tensor `v` is.
    #[must_use]
    pub fn place(&self, v: ValueId) -> Place {
        self.places.get(&v).cloned().unwrap_or(Place::Detached)
    }

    /// The schedule node of tensor `v`, or why it has none.
    ///
    /// # Errors
    /// The [`Unjudged`] node it is computed through; `None` when no path reads the input.
    pub fn node_of(&self, v: ValueId) -> Result<sg::NodeId, Option<&Unjudged>> {
        match self.place(v) {
            Place::At { node, .. } => Ok(node),
            Place::Unjudged(i) => Err(self.unjudged.get(i)),
            Place::Detached => Err(None),
        }
    }

    /// The IR node a schedule node was made for.
    #[must_use]
    pub fn ir_node(&self, id: sg::NodeId) -> Option<NodeId> {
        self.origin.get(id.index()).copied().flatten()
    }

    fn unjudge(&mut self, graph: &Graph, id: NodeId, reason: impl Into<String>) -> Place {
        let n = graph.node(id);
        self.unjudged.push(Unjudged {
            node: id,
            label: n.label(),
            op: n.op_type.clone(),
            reason: reason.into(),
        });
        Place::Unjudged(self.unjudged.len() - 1)
    }

    /// Records a schedule node made for IR node `id`.
    fn made(
        &mut self,
        graph: &Graph,
        id: NodeId,
        r: Result<sg::NodeId, GraphError>,
    ) -> Result<sg::NodeId, String> {
        let n = r.map_err(|e| e.to_string())?;
        self.origin.push(Some(id));
        let _ = self.graph.label(n, graph.node(id).label());
        Ok(n)
    }

    /// Materialises a non-negative shift as a 1-tap conv (stride 1, `lo` zeros before).
    fn shifted(
        &mut self,
        graph: &Graph,
        id: NodeId,
        node: sg::NodeId,
        shift: &[i64],
    ) -> Result<sg::NodeId, String> {
        if shift.iter().all(|&s| s == 0) || self.graph.jump(node).ok().flatten().is_none() {
            return Ok(node);
        }
        let mut specs = Vec::with_capacity(shift.len());
        for &s in shift {
            let lo = u64::try_from(s)
                .map_err(|_| format!("a crop of {} positions cannot be placed here", -s))?;
            specs.push(AxisSpec::new(1, 1).with_padding(PadMode::Explicit { lo, hi: 0 }));
        }
        let r = self.graph.conv(node, &specs);
        self.made(graph, id, r)
    }

    /// Adds IR node `id` and places its outputs.
    fn add(&mut self, graph: &Graph, id: NodeId, rank: usize) {
        let node = graph.node(id);
        let data: Vec<ValueId> = node.data_inputs(graph).collect();
        let mut ins = Vec::new();
        let mut bad = None;
        for &v in &data {
            match self.place(v) {
                Place::At { node, shift } => ins.push((node, shift)),
                Place::Unjudged(i) => bad = bad.or(Some(i)),
                Place::Detached => {}
            }
        }
        let place = if let Some(i) = bad {
            Place::Unjudged(i)
        } else if ins.is_empty() {
            Place::Detached
        } else {
            match self.convert(graph, id, rank, &ins) {
                Ok((node, shift)) => Place::At { node, shift },
                Err(reason) => self.unjudge(graph, id, reason),
            }
        };
        for o in node.outputs.iter().flatten() {
            self.places.insert(*o, place.clone());
        }
    }

    fn convert(
        &mut self,
        graph: &Graph,
        id: NodeId,
        rank: usize,
        ins: &[(sg::NodeId, Vec<i64>)],
    ) -> Result<(sg::NodeId, Vec<i64>), String> {
        let node = graph.node(id);
        let zero = vec![0i64; rank];
        let (x, shift) = (ins[0].0, ins[0].1.clone());
        match &node.kind {
            NodeKind::Conv(w) | NodeKind::Pool(_, w) => {
                let taps = self.taps(w, rank, &node.op_type)?;
                let is_conv = matches!(node.kind, NodeKind::Conv(_));
                self.window(graph, id, x, &shift, &taps, is_conv)
            }
            NodeKind::Pointwise(_) => {
                let r = self.graph.pointwise(x);
                Ok((self.made(graph, id, r)?, shift))
            }
            NodeKind::Split { axis: 1, .. } => {
                let r = self.graph.pointwise(x);
                Ok((self.made(graph, id, r)?, shift))
            }
            NodeKind::Split { axis, .. } => Err(format!(
                "a split along axis {axis}, not the channels, is not analysed"
            )),
            NodeKind::Merge(_) => {
                if ins.len() == 1 {
                    let r = self.graph.pointwise(x);
                    return Ok((self.made(graph, id, r)?, shift));
                }
                let (nodes, common) = self.aligned(graph, id, ins)?;
                let r = self.graph.sum(&nodes);
                Ok((self.made(graph, id, r)?, common))
            }
            NodeKind::Concat { axis: 1 } => {
                if ins.len() == 1 {
                    let r = self.graph.pointwise(x);
                    return Ok((self.made(graph, id, r)?, shift));
                }
                let (nodes, common) = self.aligned(graph, id, ins)?;
                let r = self.graph.concat(&nodes);
                Ok((self.made(graph, id, r)?, common))
            }
            NodeKind::Concat { axis } => Err(format!(
                "a concatenation along axis {axis}, not the channels, is not analysed"
            )),
            NodeKind::Global(Global::Normalization) => {
                let local = self.graph.pointwise(x);
                let local = self.made(graph, id, local)?;
                let pooled = self.graph.global_pool(x);
                let pooled = self.made(graph, id, pooled)?;
                let r = self.graph.sum(&[local, pooled]);
                Ok((self.made(graph, id, r)?, shift))
            }
            NodeKind::Global(Global::Pool | Global::Reduce) => {
                let r = self.graph.global_pool(x);
                Ok((self.made(graph, id, r)?, zero))
            }
            NodeKind::Head(_) => {
                let one_position = data_shape(graph, node)
                    .is_some_and(|s| s.len() == rank + 2 && s[2..].iter().all(|&d| d == 1));
                let global_only = self.graph.jump(x).ok().flatten().is_none();
                let r = if one_position || global_only {
                    self.graph.pointwise(x)
                } else {
                    self.graph.global_pool(x)
                };
                Ok((self.made(graph, id, r)?, zero))
            }
            NodeKind::Resize(r) => {
                if self.graph.jump(x).ok().flatten().is_none() {
                    // A pooled branch broadcast back to the map: still only global.
                    let p = self.graph.pointwise(x);
                    return Ok((self.made(graph, id, p)?, zero));
                }
                let Some(scales) = &r.scales else {
                    return Err("its scales are not known".into());
                };
                let mut factors = Vec::with_capacity(rank);
                for &s in scales {
                    if !(s >= 1.0 && s.fract() == 0.0 && s <= 1e6) {
                        return Err(format!(
                            "a resize by {s} (only whole upsampling factors are analysed)"
                        ));
                    }
                    factors.push(s as u64);
                }
                if factors.len() != rank {
                    return Err(format!("{} scales for {rank} spatial axes", factors.len()));
                }
                let mode = match r.mode {
                    ResizeMode::Nearest => sg::ResizeMode::Nearest,
                    ResizeMode::Linear => sg::ResizeMode::Linear,
                    ResizeMode::Cubic => {
                        return Err("a cubic resize is not analysed".into());
                    }
                };
                let x = self.shifted(graph, id, x, &shift)?;
                if factors.iter().all(|&f| f == 1) {
                    let p = self.graph.pointwise(x);
                    return Ok((self.made(graph, id, p)?, zero));
                }
                let p = self.graph.resize(x, &factors, mode);
                Ok((self.made(graph, id, p)?, zero))
            }
            NodeKind::Pad(p) => {
                let Some(pads) = &p.pads else {
                    return Err("its pads are not constant".into());
                };
                if pads.len() != rank {
                    return Err(format!("{} pads for {rank} spatial axes", pads.len()));
                }
                let next: Vec<i64> = shift
                    .iter()
                    .zip(pads)
                    .map(|(&s, p)| s.saturating_add(p[0]))
                    .collect();
                let r = self.graph.pointwise(x);
                Ok((self.made(graph, id, r)?, next))
            }
            NodeKind::Crop(c) => {
                let Some(starts) = &c.starts else {
                    return Err("its starts are not known".into());
                };
                if c.steps.iter().all(|&s| s == 1) {
                    let next: Vec<i64> = shift
                        .iter()
                        .zip(starts)
                        .map(|(&s, &st)| s.saturating_sub(i64::try_from(st).unwrap_or(i64::MAX)))
                        .collect();
                    let r = self.graph.pointwise(x);
                    return Ok((self.made(graph, id, r)?, next));
                }
                // out[q] = in[q·step + start]: a 1-tap window of stride `step`.
                let taps = Taps {
                    kernel: vec![1; rank],
                    rates: vec![1; rank],
                    strides: c.steps.clone(),
                    lo: starts
                        .iter()
                        .map(|&s| -i64::try_from(s).unwrap_or(i64::MAX))
                        .collect(),
                    hi: vec![0; rank],
                };
                self.window(graph, id, x, &shift, &taps, true)
            }
            NodeKind::Unknown { reason } => Err(reason.clone()),
        }
    }

    /// The window's geometry, pads resolved (`SAME_*` left to the input size: PyTorch's
    /// `same` placement, with a note).
    fn taps(&mut self, w: &Window, rank: usize, op: &str) -> Result<Taps, String> {
        if w.kernel.len() != rank || w.dilations.len() != rank || w.strides.len() != rank {
            return Err(format!(
                "a {}D window in a model with {rank} spatial axes",
                w.kernel.len()
            ));
        }
        let (lo, hi) = match &w.pads {
            Some(p) => (
                p.iter()
                    .map(|s| i64::try_from(s[0]).map_err(|_| "pads too large".to_owned()))
                    .collect::<Result<Vec<_>, _>>()?,
                p.iter().map(|s| s[1]).collect(),
            ),
            None => {
                let mut lo = Vec::with_capacity(rank);
                let mut hi = Vec::with_capacity(rank);
                for a in 0..rank {
                    let total = w.effective_kernel(a).ok_or("the kernel overflows")? - 1;
                    let l = match w.auto_pad {
                        AutoPad::SameLower => total - total / 2,
                        AutoPad::SameUpper | AutoPad::NotSet | AutoPad::Valid => total / 2,
                    };
                    lo.push(i64::try_from(l).map_err(|_| "pads too large".to_owned())?);
                    hi.push(total - l);
                }
                self.notes.push(format!(
                    "a {op} with auto_pad {} and a stride above 1: its padding depends on the input size; placed as PyTorch's `same`",
                    w.auto_pad
                ));
                (lo, hi)
            }
        };
        Ok(Taps {
            kernel: w.kernel.clone(),
            rates: w.dilations.clone(),
            strides: w.strides.clone(),
            lo,
            hi,
        })
    }

    /// A window over `x` whose pending `shift` is folded into its padding.
    fn window(
        &mut self,
        graph: &Graph,
        id: NodeId,
        x: sg::NodeId,
        shift: &[i64],
        t: &Taps,
        conv: bool,
    ) -> Result<(sg::NodeId, Vec<i64>), String> {
        let rank = shift.len();
        let mut specs = Vec::with_capacity(rank);
        let mut out_shift = vec![0i64; rank];
        for a in 0..rank {
            // Output q reads input q·s − lo + t·d of the tensor, = node position
            // q·s − (lo + shift) + t·d.
            let lo = t.lo[a].saturating_add(shift[a]);
            let stride = t.strides[a].max(1);
            let lo = if lo >= 0 {
                lo.unsigned_abs()
            } else {
                let ahead = lo.unsigned_abs();
                if !ahead.is_multiple_of(stride) {
                    return Err(format!(
                        "its window starts {ahead} positions after the output position, not a multiple of its stride {stride}"
                    ));
                }
                // out[q] = y[q + ahead / stride] with y unpadded.
                out_shift[a] = -i64::try_from(ahead / stride).unwrap_or(i64::MAX);
                0
            };
            specs.push(AxisSpec {
                kernel: t.kernel[a],
                rate: t.rates[a],
                stride: t.strides[a],
                padding: PadMode::Explicit { lo, hi: t.hi[a] },
            });
        }
        let r = if conv {
            self.graph.conv(x, &specs)
        } else {
            self.graph.pool(x, &specs)
        };
        Ok((self.made(graph, id, r)?, out_shift))
    }

    /// The branches of a merge at one common shift: each shifted by its excess over the
    /// smallest.
    fn aligned(
        &mut self,
        graph: &Graph,
        id: NodeId,
        ins: &[(sg::NodeId, Vec<i64>)],
    ) -> Result<(Vec<sg::NodeId>, Vec<i64>), String> {
        let rank = ins[0].1.len();
        let locals: Vec<&(sg::NodeId, Vec<i64>)> = ins
            .iter()
            .filter(|(n, _)| self.graph.jump(*n).ok().flatten().is_some())
            .collect();
        let common: Vec<i64> = (0..rank)
            .map(|a| locals.iter().map(|(_, s)| s[a]).min().unwrap_or(0))
            .collect();
        let mut nodes = Vec::with_capacity(ins.len());
        for (n, s) in ins {
            let excess: Vec<i64> = s.iter().zip(&common).map(|(a, b)| a - b).collect();
            nodes.push(self.shifted(graph, id, *n, &excess)?);
        }
        Ok((nodes, common))
    }
}

/// The static shape of a node's first data input.
fn data_shape(graph: &Graph, node: &crate::graph::Node) -> Option<Vec<u64>> {
    let v = node.data_inputs(graph).next()?;
    graph.value(v).static_shape()
}

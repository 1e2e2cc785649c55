//! The graph and its builder: nodes added one by one (so ids are a topological order),
//! each op's geometry and bounds derived and checked as it is added.

use super::error::GraphError;
use super::geo::{
    At, AxisGeo, Plan, apply_bounds, conv_plan, extent, identity_plan, lcm, reperiod_plan,
    resize_plan,
};
use super::types::{Jump, MAX_GRAPH_NODES, NodeId, ResizeMode};
use crate::schedule::axis::Axis;
use crate::schedule::spec::overflow;
use crate::schedule::spec::{AxisSpec, Schedule, Spec2d};

/// What the input's features already see along one axis, in input pixels: a feature
/// position covers a contiguous window of `receptive_field` pixels, and neighbouring
/// positions are `jump` pixels apart (torchvision's ResNet-101 at output stride 16: 971
/// and 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputField {
    /// Pixels one feature position sees, at least 1.
    pub receptive_field: u64,
    /// Pixels between two neighbouring feature positions, at least 1.
    pub jump: u64,
}

impl InputField {
    /// Raw pixels: each position sees itself.
    pub const PIXEL: Self = Self {
        receptive_field: 1,
        jump: 1,
    };

    /// A field of `receptive_field` pixels at `jump` pixels apart.
    #[must_use]
    pub const fn new(receptive_field: u64, jump: u64) -> Self {
        Self {
            receptive_field,
            jump,
        }
    }
}

/// One op of a graph, with the nodes it reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// The graph's only input, with the field its features already see per axis.
    Input {
        /// One field per axis.
        field: Vec<InputField>,
    },
    /// A convolution: kernel, rate, stride and real padding per axis.
    Conv {
        /// The node read.
        from: NodeId,
        /// One spec per axis.
        axes: Vec<AxisSpec>,
    },
    /// A local max or average pool: window (`kernel`), dilation (`rate`), stride and
    /// padding per axis; every tap of the window is read.
    Pool {
        /// The node read.
        from: NodeId,
        /// One spec per axis.
        axes: Vec<AxisSpec>,
    },
    /// A global average pool: no local information (global context).
    GlobalPool {
        /// The node read.
        from: NodeId,
    },
    /// An activation, batch norm, dropout, gate half or channel slice: coverage unchanged.
    Pointwise {
        /// The node read.
        from: NodeId,
    },
    /// An element-wise sum (residual add, skip sum, hierarchical add, a product of two
    /// tensors).
    Sum {
        /// The branches.
        from: Vec<NodeId>,
    },
    /// A channel concat: the next layer reads every branch.
    Concat {
        /// The branches.
        from: Vec<NodeId>,
    },
    /// An upsampling by an integer factor per axis.
    Resize {
        /// The node read.
        from: NodeId,
        /// One factor per axis, at least 1.
        factors: Vec<u64>,
        /// Nearest or linear.
        mode: ResizeMode,
    },
}

impl Op {
    /// The nodes this op reads, in order.
    #[must_use]
    pub fn inputs(&self) -> &[NodeId] {
        match self {
            Self::Input { .. } => &[],
            Self::Conv { from, .. }
            | Self::Pool { from, .. }
            | Self::GlobalPool { from }
            | Self::Pointwise { from }
            | Self::Resize { from, .. } => core::slice::from_ref(from),
            Self::Sum { from } | Self::Concat { from } => from,
        }
    }

    /// `"input"`, `"conv"`, `"pool"`, `"global pool"`, `"pointwise"`, `"sum"`, `"concat"`
    /// or `"resize"`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Input { .. } => "input",
            Self::Conv { .. } => "conv",
            Self::Pool { .. } => "pool",
            Self::GlobalPool { .. } => "global pool",
            Self::Pointwise { .. } => "pointwise",
            Self::Sum { .. } => "sum",
            Self::Concat { .. } => "concat",
            Self::Resize { .. } => "resize",
        }
    }
}

/// How a node's maps are computed from its inputs' (derived when the node is added).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Plans {
    /// The input box.
    Input,
    /// No local coverage (a global pool, or only global paths).
    Empty,
    /// The input's maps unchanged.
    Pass,
    /// One plan per axis over the one input.
    Unary(Box<[Plan; 2]>),
    /// Per branch, the plans that bring it to the common period (`None`: the branch has no
    /// local coverage).
    Merge(Vec<Option<[Plan; 2]>>),
}

/// What the builder derived for a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Derived {
    /// Per axis (the second axis of a 1D graph is a trivial one), `None` without local
    /// coverage.
    pub(super) geo: Option<[AxisGeo; 2]>,
    /// Per axis, per phase, the smallest and largest offset read.
    pub(super) bounds: Option<[Vec<(i64, i64)>; 2]>,
    /// Whether some path reaches a global pool.
    pub(super) global: bool,
    pub(super) plans: Plans,
}

/// A node: its op, an optional label for reports (a module path such as
/// `"blocks.3.conv1"`) and an optional tag the caller maps back (a span, an ONNX node).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    op: Op,
    label: Option<String>,
    tag: Option<u32>,
    pub(super) derived: Derived,
}

impl Node {
    /// The op.
    #[must_use]
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The label, if one was set.
    #[must_use]
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The tag, if one was set.
    #[must_use]
    pub const fn tag(&self) -> Option<u32> {
        self.tag
    }

    /// Whether some path from this node reaches a global pool.
    #[must_use]
    pub const fn is_global(&self) -> bool {
        self.derived.global
    }
}

/// A graph of rank 1 or 2, built node by node. See the [module](crate::schedule::graph) docs for what
/// counts.
///
/// ```
/// use dilated_core::schedule::graph::{Graph, GraphOptions};
/// use dilated_core::schedule::{AxisSpec, PadMode};
///
/// // A residual block whose body is k = 3 at rates 2 then 4: the identity beside the body
/// // reads offset 0, which the body reads already; every odd offset stays a hole.
/// let mut g = Graph::one_d();
/// let x = g.input(None)?;
/// let a = g.conv(x, &[AxisSpec::new(3, 2)])?;
/// let b = g.conv(a, &[AxisSpec::new(3, 4)])?;
/// let y = g.sum(&[x, b])?;
/// g.label(b, "block.conv2")?;
/// let r = g.analyze(&GraphOptions::default())?;
/// assert_eq!(r.outputs[0].node, y);
/// assert_eq!((r.outputs[0].axes[0].receptive_field, r.outputs[0].hole_count), (13, 6));
/// assert_eq!(r.outputs[0].first_hole_node, Some(a));
/// # Ok::<(), dilated_core::schedule::graph::GraphError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Graph {
    rank: usize,
    nodes: Vec<Node>,
    input: Option<NodeId>,
}

impl Graph {
    /// An empty 1D graph (axis [`Axis::Length`]).
    #[must_use]
    pub const fn one_d() -> Self {
        Self {
            rank: 1,
            nodes: Vec::new(),
            input: None,
        }
    }

    /// An empty 2D graph (axes [`Axis::Height`], [`Axis::Width`]).
    #[must_use]
    pub const fn two_d() -> Self {
        Self {
            rank: 2,
            nodes: Vec::new(),
            input: None,
        }
    }

    /// An empty graph of rank 1 or 2.
    ///
    /// # Errors
    /// [`GraphError::BadRank`] for another rank.
    pub const fn with_rank(rank: usize) -> Result<Self, GraphError> {
        match rank {
            1 => Ok(Self::one_d()),
            2 => Ok(Self::two_d()),
            _ => Err(GraphError::BadRank { rank }),
        }
    }

    /// Reserves room for `additional` more nodes (at most up to [`MAX_GRAPH_NODES`]), so
    /// that a graph built from a model of known size allocates its node list once instead
    /// of growing it by doubling: the ONNX check of a 60,000-node model peaks about
    /// 10 MB lower.
    pub fn reserve(&mut self, additional: usize) {
        let room = MAX_GRAPH_NODES.saturating_sub(self.nodes.len());
        self.nodes.reserve_exact(additional.min(room));
    }

    /// A chain as a graph: the input (raw pixels), then one conv per layer, labelled
    /// `layer 1`, `layer 2`, … and tagged with the 0-based layer index. Analysed, it gives
    /// the chain analysis's verdict, hole count and receptive field (2D: the cells of the
    /// map instead of per-axis offsets). The output is [`last`](Self::last).
    ///
    /// ```
    /// use dilated_core::schedule::graph::{Graph, GraphOptions};
    /// use dilated_core::schedule::Schedule;
    /// let g = Graph::from_chain(&Schedule::uniform(3, &[2, 4, 8]))?;
    /// let r = g.analyze(&GraphOptions::default())?;
    /// assert_eq!((r.outputs[0].axes[0].receptive_field, r.outputs[0].hole_count), (29, 14));
    /// assert_eq!(r.outputs[0].first_hole_node.map(|n| n.index()), Some(1)); // layer 1
    /// # Ok::<(), dilated_core::schedule::graph::GraphError>(())
    /// ```
    ///
    /// # Errors
    /// What [`Schedule::validate`] reports, and the graph's own limits.
    pub fn from_chain(schedule: &Schedule) -> Result<Self, GraphError> {
        schedule.validate()?;
        let axes = schedule.axes();
        let mut g = Self::with_rank(axes.len())?;
        let mut x = g.input(None)?;
        for i in 0..schedule.len() {
            let specs: Vec<AxisSpec> = axes.iter().map(|(_, layers)| layers[i]).collect();
            x = g.conv(x, &specs)?;
            g.label(x, format!("layer {}", i + 1))?;
            g.tag(x, u32::try_from(i).unwrap_or(u32::MAX))?;
        }
        Ok(g)
    }

    /// 1 or 2.
    #[must_use]
    pub const fn rank(&self) -> usize {
        self.rank
    }

    /// The axes: `[Length]` or `[Height, Width]`.
    #[must_use]
    pub const fn axes(&self) -> &'static [Axis] {
        if self.rank == 1 {
            &[Axis::Length]
        } else {
            &[Axis::Height, Axis::Width]
        }
    }

    /// Number of nodes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no node.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with this id.
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0)
    }

    /// Every node, in insertion (topological) order; `nodes()[i]` has id
    /// `NodeId::from_index(i)`.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The input node.
    #[must_use]
    pub const fn input_node(&self) -> Option<NodeId> {
        self.input
    }

    /// The last node added.
    #[must_use]
    pub fn last(&self) -> Option<NodeId> {
        self.nodes.len().checked_sub(1).map(NodeId)
    }

    /// The nodes that read `id` (each once, in order).
    #[must_use]
    pub fn consumers(&self, id: NodeId) -> Vec<NodeId> {
        (id.0 + 1..self.nodes.len())
            .filter(|&i| self.nodes[i].op.inputs().contains(&id))
            .map(NodeId)
            .collect()
    }

    /// The nodes no other node reads: the outputs [`analyze`](Self::analyze) reports by
    /// default.
    #[must_use]
    pub fn sinks(&self) -> Vec<NodeId> {
        let mut read = vec![false; self.nodes.len()];
        for n in &self.nodes {
            for i in n.op.inputs() {
                read[i.0] = true;
            }
        }
        (0..self.nodes.len())
            .filter(|&i| !read[i])
            .map(NodeId)
            .collect()
    }

    /// The node's label, or `node 3 (conv)`.
    #[must_use]
    pub fn name(&self, id: NodeId) -> String {
        match self.node(id) {
            Some(n) => match &n.label {
                Some(l) => l.clone(),
                None => format!("{id} ({})", n.op.kind()),
            },
            None => id.to_string(),
        }
    }

    /// The receptive field of a node per axis, in input pixels: the widest over its
    /// phases; 0 when the node has no local coverage (only global paths).
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn receptive_field(&self, id: NodeId) -> Result<Vec<u64>, GraphError> {
        let n = self.get(id)?;
        Ok(match &n.derived.bounds {
            Some(b) => b[..self.rank]
                .iter()
                .map(|phases| phases.iter().map(|&p| extent(p)).max().unwrap_or(0))
                .collect(),
            None => vec![0; self.rank],
        })
    }

    /// The jump of a node per axis (input pixels between neighbouring positions); `None`
    /// when the node has no local coverage.
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn jump(&self, id: NodeId) -> Result<Option<Vec<Jump>>, GraphError> {
        let n = self.get(id)?;
        Ok(n.derived
            .geo
            .map(|g| g[..self.rank].iter().map(|a| a.jump()).collect()))
    }

    /// Sets a node's label (reports name it so); returns the id, for chaining.
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn label(&mut self, id: NodeId, label: impl Into<String>) -> Result<NodeId, GraphError> {
        self.check(id)?;
        self.nodes[id.0].label = Some(label.into());
        Ok(id)
    }

    /// Sets a node's tag; returns the id.
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn tag(&mut self, id: NodeId, tag: u32) -> Result<NodeId, GraphError> {
        self.check(id)?;
        self.nodes[id.0].tag = Some(tag);
        Ok(id)
    }

    /// The input: one per graph, added first. `field`: one [`InputField`] per axis, or
    /// `None` for raw pixels.
    ///
    /// # Errors
    /// [`GraphError::SecondInput`], [`GraphError::AxesMismatch`],
    /// [`GraphError::ZeroField`], overflow.
    pub fn input(&mut self, field: Option<&[InputField]>) -> Result<NodeId, GraphError> {
        let id = self.next()?;
        if let Some(first) = self.input {
            return Err(GraphError::SecondInput { first });
        }
        let field = match field {
            Some(f) => {
                self.rank_ok(id, "input field", f.len())?;
                f.to_vec()
            }
            None => vec![InputField::PIXEL; self.rank],
        };
        let mut geo = [AxisGeo::input(1); 2];
        let mut bounds = [vec![(0, 0)], vec![(0, 0)]];
        for (a, (f, &axis)) in field.iter().zip(self.axes()).enumerate() {
            if f.receptive_field == 0 {
                return Err(GraphError::ZeroField {
                    axis,
                    what: "receptive field",
                });
            }
            if f.jump == 0 {
                return Err(GraphError::ZeroField { axis, what: "jump" });
            }
            let rf = i64::try_from(f.receptive_field).map_err(|_| {
                GraphError::schedule(Some(id), overflow("receptive field").on_axis(axis))
            })?;
            let lo = -((rf - 1) / 2);
            geo[a] = AxisGeo::input(f.jump);
            bounds[a] = vec![(lo, lo + rf - 1)];
        }
        self.input = Some(id);
        self.push(
            Op::Input { field },
            Derived {
                geo: Some(geo),
                bounds: Some(bounds),
                global: false,
                plans: Plans::Input,
            },
        )
    }

    /// A convolution reading `from`: one [`AxisSpec`] per axis (kernel, rate, stride,
    /// padding mode; the mode's real padding places the taps).
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`], [`GraphError::AxesMismatch`], a bad spec (wrapped
    /// [`ScheduleError`](crate::schedule::ScheduleError)), the tap and phase limits.
    pub fn conv(&mut self, from: NodeId, axes: &[AxisSpec]) -> Result<NodeId, GraphError> {
        let d = self.windowed(from, axes)?;
        self.push(
            Op::Conv {
                from,
                axes: axes.to_vec(),
            },
            d,
        )
    }

    /// A local max or average pool reading `from`: per axis, the window as the spec's
    /// `kernel`, its dilation as `rate`, the stride and the padding. It counts as a kernel:
    /// every tap of the window is read.
    ///
    /// # Errors
    /// As [`conv`](Self::conv).
    pub fn pool(&mut self, from: NodeId, axes: &[AxisSpec]) -> Result<NodeId, GraphError> {
        let d = self.windowed(from, axes)?;
        self.push(
            Op::Pool {
                from,
                axes: axes.to_vec(),
            },
            d,
        )
    }

    /// A global average pool: its output carries no local information, so paths through
    /// it are reported as global context and never fill holes (nor does anything after
    /// it until a merge: a 1×1 conv, a broadcast back to the map's size).
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn global_pool(&mut self, from: NodeId) -> Result<NodeId, GraphError> {
        self.get(from)?;
        self.push(
            Op::GlobalPool { from },
            Derived {
                geo: None,
                bounds: None,
                global: true,
                plans: Plans::Empty,
            },
        )
    }

    /// An op that leaves the coverage unchanged: activation, batch norm, dropout, a gate's
    /// halves, a channel slice.
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`].
    pub fn pointwise(&mut self, from: NodeId) -> Result<NodeId, GraphError> {
        let src = &self.get(from)?.derived;
        let d = Derived {
            geo: src.geo,
            bounds: src.bounds.clone(),
            global: src.global,
            plans: if src.geo.is_some() {
                Plans::Pass
            } else {
                Plans::Empty
            },
        };
        self.push(Op::Pointwise { from }, d)
    }

    /// An element-wise sum of branches (a residual add, a skip sum, ESPNet's hierarchical
    /// add, a product of two tensors): counts add.
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`], [`GraphError::EmptyMerge`],
    /// [`GraphError::JumpMismatch`] (naming both branches), the phase limit.
    pub fn sum(&mut self, from: &[NodeId]) -> Result<NodeId, GraphError> {
        let d = self.merged(from)?;
        self.push(
            Op::Sum {
                from: from.to_vec(),
            },
            d,
        )
    }

    /// A channel concat of branches: the next layer reads every branch, so counts add.
    ///
    /// # Errors
    /// As [`sum`](Self::sum).
    pub fn concat(&mut self, from: &[NodeId]) -> Result<NodeId, GraphError> {
        let d = self.merged(from)?;
        self.push(
            Op::Concat {
                from: from.to_vec(),
            },
            d,
        )
    }

    /// An upsampling by an integer factor per axis. The jump becomes a fraction and the
    /// field depends on the output position's phase.
    ///
    /// ```
    /// use dilated_core::schedule::graph::{Graph, GraphOptions, InputField, Jump, ResizeMode};
    /// use dilated_core::schedule::AxisSpec;
    /// let mut g = Graph::one_d();
    /// let x = g.input(Some(&[InputField::new(5, 4)]))?;
    /// let up = g.resize(x, &[2], ResizeMode::Linear)?;
    /// let r = g.analyze(&GraphOptions::default())?;
    /// let axis = &r.outputs[0].axes[0];
    /// assert_eq!((axis.jump, axis.phases), (Some(Jump { num: 2, den: 1 }), 2));
    /// assert_eq!(axis.receptive_field, 9); // two features 4 px apart, 5 px each
    /// assert_eq!(r.outputs[0].hole_count, 0);
    /// # Ok::<(), dilated_core::schedule::graph::GraphError>(())
    /// ```
    ///
    /// # Errors
    /// [`GraphError::UnknownNode`], [`GraphError::AxesMismatch`],
    /// [`GraphError::ZeroFactor`], the phase limit.
    pub fn resize(
        &mut self,
        from: NodeId,
        factors: &[u64],
        mode: ResizeMode,
    ) -> Result<NodeId, GraphError> {
        let id = self.next()?;
        self.rank_ok(id, "factors", factors.len())?;
        for (&f, &axis) in factors.iter().zip(self.axes()) {
            if f == 0 {
                return Err(GraphError::ZeroFactor { node: id, axis });
            }
        }
        let d = self.unary(from, |a, geo, at| match factors.get(a) {
            Some(&f) => resize_plan(geo, f, mode, at),
            None => Ok(identity_plan()),
        })?;
        self.push(
            Op::Resize {
                from,
                factors: factors.to_vec(),
                mode,
            },
            d,
        )
    }

    // --- internals ---

    pub(super) fn get(&self, id: NodeId) -> Result<&Node, GraphError> {
        self.nodes.get(id.0).ok_or(GraphError::UnknownNode {
            node: id,
            nodes: self.nodes.len(),
        })
    }

    fn check(&self, id: NodeId) -> Result<(), GraphError> {
        self.get(id).map(|_| ())
    }

    /// The id the next node gets, against the node limit.
    fn next(&self) -> Result<NodeId, GraphError> {
        if self.nodes.len() >= MAX_GRAPH_NODES {
            return Err(GraphError::TooManyNodes {
                limit: MAX_GRAPH_NODES,
            });
        }
        Ok(NodeId(self.nodes.len()))
    }

    fn rank_ok(&self, node: NodeId, what: &'static str, n: usize) -> Result<(), GraphError> {
        if n == self.rank {
            Ok(())
        } else {
            Err(GraphError::AxesMismatch {
                node,
                what,
                expected: self.rank,
                actual: n,
            })
        }
    }

    fn push(&mut self, op: Op, derived: Derived) -> Result<NodeId, GraphError> {
        let id = self.next()?;
        if !matches!(op, Op::Input { .. }) && self.input.is_none() {
            return Err(GraphError::NoInput);
        }
        self.nodes.push(Node {
            op,
            label: None,
            tag: None,
            derived,
        });
        Ok(id)
    }

    /// The derived data of a one-input op with one plan per axis.
    fn unary(
        &self,
        from: NodeId,
        plan: impl Fn(usize, AxisGeo, At) -> Result<Plan, GraphError>,
    ) -> Result<Derived, GraphError> {
        let id = self.next()?;
        let src = &self.get(from)?.derived;
        let (Some(geo), Some(bounds)) = (src.geo, &src.bounds) else {
            return Ok(Derived {
                geo: None,
                bounds: None,
                global: src.global,
                plans: Plans::Empty,
            });
        };
        let axes = [self.axes()[0], *self.axes().last().unwrap_or(&Axis::Length)];
        let mut plans = [identity_plan(), identity_plan()];
        let mut out_bounds = [vec![(0, 0)], vec![(0, 0)]];
        for a in 0..self.rank {
            let at = At {
                node: id,
                axis: axes[a],
            };
            plans[a] = plan(a, geo[a], at)?;
            out_bounds[a] = apply_bounds(&plans[a], &bounds[a], at)?;
        }
        Ok(Derived {
            geo: Some([plans[0].out, plans[1].out]),
            bounds: Some(out_bounds),
            global: src.global,
            plans: Plans::Unary(Box::new(plans)),
        })
    }

    fn windowed(&self, from: NodeId, axes: &[AxisSpec]) -> Result<Derived, GraphError> {
        let id = self.next()?;
        self.rank_ok(id, "axes", axes.len())?;
        for (spec, &axis) in axes.iter().zip(self.axes()) {
            spec.validate()
                .map_err(|e| GraphError::schedule(Some(id), e.on_axis(axis)))?;
        }
        self.unary(from, |a, geo, at| conv_plan(geo, &axes[a], at))
    }

    fn merged(&self, from: &[NodeId]) -> Result<Derived, GraphError> {
        let id = self.next()?;
        if from.is_empty() {
            return Err(GraphError::EmptyMerge { node: id });
        }
        let mut global = false;
        let mut first: Option<(NodeId, [AxisGeo; 2])> = None;
        let mut periods = [1u64; 2];
        let axes = [self.axes()[0], *self.axes().last().unwrap_or(&Axis::Length)];
        for &b in from {
            let d = &self.get(b)?.derived;
            global |= d.global;
            let Some(geo) = d.geo else { continue };
            match first {
                None => first = Some((b, geo)),
                Some((f, fgeo)) => {
                    for a in 0..self.rank {
                        if !fgeo[a].same_jump(geo[a]) {
                            return Err(GraphError::JumpMismatch {
                                first: f,
                                second: b,
                                axis: axes[a],
                                first_jump: fgeo[a].jump(),
                                second_jump: geo[a].jump(),
                            });
                        }
                    }
                }
            }
            for a in 0..2 {
                let at = At {
                    node: id,
                    axis: axes[a],
                };
                periods[a] = lcm(periods[a], geo[a].period, at)?;
            }
        }
        if first.is_none() {
            return Ok(Derived {
                geo: None,
                bounds: None,
                global,
                plans: Plans::Empty,
            });
        }
        let mut plans = Vec::with_capacity(from.len());
        let mut bounds: [Vec<(i64, i64)>; 2] = [Vec::new(), Vec::new()];
        let mut out_geo = None;
        for &b in from {
            let d = &self.get(b)?.derived;
            let (Some(geo), Some(src)) = (d.geo, &d.bounds) else {
                plans.push(None);
                continue;
            };
            let mut p = [identity_plan(), identity_plan()];
            for a in 0..2 {
                let at = At {
                    node: id,
                    axis: axes[a],
                };
                p[a] = reperiod_plan(geo[a], periods[a], at)?;
                let bb = apply_bounds(&p[a], &src[a], at)?;
                if bounds[a].is_empty() {
                    bounds[a] = bb;
                } else {
                    for (acc, new) in bounds[a].iter_mut().zip(bb) {
                        *acc = (acc.0.min(new.0), acc.1.max(new.1));
                    }
                }
            }
            out_geo = Some([p[0].out, p[1].out]);
            plans.push(Some(p));
        }
        Ok(Derived {
            geo: out_geo,
            bounds: Some(bounds),
            global,
            plans: Plans::Merge(plans),
        })
    }
}

/// The 2D specs of a layer from its per-axis specs (rank 2 only).
pub(super) fn spec2d(axes: &[AxisSpec]) -> Option<Spec2d> {
    match axes {
        [height, width] => Some(Spec2d {
            height: *height,
            width: *width,
        }),
        _ => None,
    }
}

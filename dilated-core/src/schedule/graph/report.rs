//! What [`Graph::analyze`](super::Graph::analyze) returns: per output, the receptive field,
//! jump, holes and the node that opens them; per node, its field; per chain, the HDC
//! figures; and leveled [`Diagnostic`]s in the words of the chain analysis.

use core::fmt;

use super::error::GraphError;
use super::types::{Jump, Method, NodeId};
use crate::schedule::axis::Axis;
use crate::schedule::check::{Level, Levels};
use crate::schedule::coverage::{Count, Coverage};
use crate::schedule::hdc::Hdc;
use crate::schedule::report::Diagnostic;
use crate::schedule::spec::Schedule;
use crate::schedule::suggest::Suggestion;

/// What [`Graph::analyze`](super::Graph::analyze) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOptions {
    /// The level of each check (holes and HDC rules 1–3 are reported; the size checks
    /// need input sizes, which a graph does not have).
    pub levels: Levels,
    /// The outputs to analyse; empty: every sink ([`Graph::sinks`](super::Graph::sinks)).
    pub outputs: Vec<NodeId>,
    /// Keep the exact counts of each output in its report (when the graph is analysed
    /// densely).
    pub coverage: bool,
    /// Propose fixes in the `help` lines.
    pub suggest: bool,
    /// The largest map (cells of one phase of one node) analysed densely; `None`: the
    /// rank's limit ([`MAX_COVERAGE_RF`](crate::schedule::MAX_COVERAGE_RF) in 1D,
    /// [`MAX_GRAPH_MAP_CELLS`](super::MAX_GRAPH_MAP_CELLS) in 2D). Larger values are
    /// clamped to that limit; 0 always uses the exact gap test.
    pub dense_cells: Option<u64>,
}

impl Default for GraphOptions {
    fn default() -> Self {
        Self {
            levels: Levels::DEFAULT,
            outputs: Vec::new(),
            coverage: true,
            suggest: true,
            dense_cells: None,
        }
    }
}

/// The holes of an output's reported phase, smallest first (row-major in 2D).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HoleList {
    /// 1D: offsets.
    Offsets(Vec<i64>),
    /// 2D: `[height, width]` offsets of cells.
    Cells(Vec<[i64; 2]>),
}

impl HoleList {
    /// Number of holes listed.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Offsets(v) => v.len(),
            Self::Cells(v) => v.len(),
        }
    }

    /// Whether there is no hole.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One axis of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputAxis {
    /// Which axis.
    pub axis: Axis,
    /// The receptive field in input pixels: the widest over the phases; 0 without local
    /// coverage.
    pub receptive_field: u64,
    /// Input pixels between neighbouring output positions; `None` without local coverage.
    pub jump: Option<Jump>,
    /// Phases of the output's positions (1 unless upsampled).
    pub phases: u64,
    /// The smallest offset read in the reported phase (real padding included).
    pub min_offset: i64,
    /// The longest run of holes along this axis in the reported phase.
    pub widest_gap: u64,
}

/// Exact counts of an output, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphCoverageStatus {
    /// The counts.
    Exact(GraphCoverage<u128>),
    /// Not asked for.
    NotComputed,
    /// The graph is too large for dense maps (the error says which limit); the verdict
    /// came from the exact gap test. [`Graph::coverage`](super::Graph::coverage) says the
    /// same.
    OverLimit(GraphError),
    /// A count does not fit `u128`: recompute with a big-integer [`Count`] via
    /// [`Graph::coverage`](super::Graph::coverage).
    Overflow,
}

impl GraphCoverageStatus {
    /// The counts, if computed.
    #[must_use]
    pub fn exact(&self) -> Option<&GraphCoverage<u128>> {
        match self {
            Self::Exact(c) => Some(c),
            Self::NotComputed | Self::OverLimit(_) | Self::Overflow => None,
        }
    }
}

/// One phase's map of counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhaseMap<C> {
    /// The phase per axis.
    pub phase: Vec<u64>,
    /// The smallest offset per axis.
    pub min_offset: Vec<i64>,
    /// Offsets per axis (the receptive field of this phase).
    pub shape: Vec<usize>,
    /// Counts, row-major (`counts[y·shape[1] + x]` in 2D).
    pub counts: Vec<C>,
}

impl<C: Count> PhaseMap<C> {
    /// The count at `offset` (one per axis; 0 outside the map).
    #[must_use]
    pub fn get(&self, offset: &[i64]) -> C {
        let mut i = 0usize;
        for (a, &o) in offset.iter().enumerate() {
            let Some(&side) = self.shape.get(a) else {
                return C::zero();
            };
            let Some(d) = o
                .checked_sub(self.min_offset[a])
                .and_then(|d| usize::try_from(d).ok())
                .filter(|&d| d < side)
            else {
                return C::zero();
            };
            i = i * side + d;
        }
        self.counts.get(i).cloned().unwrap_or_else(C::zero)
    }

    /// The map of a 1D graph as a chain's [`Coverage`] row (for
    /// [`coverage_row_text`](crate::schedule::coverage_row_text)).
    #[must_use]
    pub fn row(&self) -> Option<Coverage<C>> {
        match (&self.min_offset[..], &self.shape[..]) {
            ([min], [_]) => Some(Coverage {
                min_offset: *min,
                counts: self.counts.clone(),
            }),
            _ => None,
        }
    }
}

/// Exact counts of one node: for each offset, the number of paths from one output
/// position of the phase to it; one map per phase (row-major over the per-axis phases).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphCoverage<C> {
    /// Phases per axis.
    pub periods: Vec<u64>,
    /// One map per phase; empty when the node has no local coverage.
    pub maps: Vec<PhaseMap<C>>,
}

/// The analysis of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputReport {
    /// The output node.
    pub node: NodeId,
    /// Per axis: receptive field, jump, phases, widest gap.
    pub axes: Vec<OutputAxis>,
    /// How the verdict was computed.
    pub method: Method,
    /// The phase the hole figures describe, per axis: the first phase with the most holes
    /// (the widest when none has holes).
    pub phase: Vec<u64>,
    /// Whether the phases differ in receptive field or hole count (after an upsampling).
    pub varies: bool,
    /// Holes of the reported phase: offsets in 1D, cells of the 2D map in 2D.
    pub hole_count: u64,
    /// The holes of the reported phase; `None` past
    /// [`MAX_GRAPH_HOLE_LIST`](super::MAX_GRAPH_HOLE_LIST).
    pub holes: Option<HoleList>,
    /// The node that opens the holes: among the output's ancestors (itself included), the
    /// first in id order that has holes and from which every path to the output runs only
    /// through nodes with holes (for a chain, the layer from which every prefix has holes,
    /// as [`Reach::first_hole_layer`](crate::schedule::Reach::first_hole_layer)). A merge
    /// can be it (a 1×3 beside a 3×1 branch). `None` without holes.
    pub first_hole_node: Option<NodeId>,
    /// Whether some path reaches a global pool: this output also sees the whole input
    /// through it, which fills no hole.
    pub global: bool,
    /// The first global pool among the output's ancestors.
    pub global_pool: Option<NodeId>,
    /// Exact counts, when asked and computed densely.
    pub coverage: GraphCoverageStatus,
}

impl OutputReport {
    /// Whether the output has holes in some phase.
    #[must_use]
    pub const fn has_holes(&self) -> bool {
        self.hole_count > 0
    }

    /// The receptive field per axis.
    #[must_use]
    pub fn receptive_field(&self) -> Vec<u64> {
        self.axes.iter().map(|a| a.receptive_field).collect()
    }
}

/// The field of one node the outputs need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeReport {
    /// The node.
    pub node: NodeId,
    /// Receptive field per axis (widest over phases; 0 without local coverage).
    pub receptive_field: Vec<u64>,
    /// Jump per axis; `None` without local coverage.
    pub jump: Option<Vec<Jump>>,
    /// Whether its own coverage has holes (in some phase).
    pub holes: bool,
    /// Whether some path from it reaches a global pool.
    pub global: bool,
}

/// A chain of the graph with its HDC figures.
///
/// **Definition.** Convs with a kernel above 1 on some axis are the *layers* of chains;
/// each layer extends the chain of the node it reads. A 1×1 conv of stride 1, and a
/// pointwise op, pass their input's chain on; the input, a local or global pool, an
/// upsampling and a strided 1×1 conv start afresh (no chain). A sum or concat passes on
/// the chain of its deepest branch when every other branch's chain is a prefix of it (a
/// residual: the identity or a projection beside the body) and none otherwise (parallel
/// convs: ASPP, ESPNet; they are chains of their own). Branches with only global paths
/// are ignored. The chains reported are the maximal ones with two layers or more, each
/// from its first layer to a layer no other layer extends; chains that branch share their
/// prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The layers, first to last.
    pub nodes: Vec<NodeId>,
    /// The layers as a schedule (1D, or 2D with per-axis specs).
    pub schedule: Schedule,
    /// HDC rules per axis of the schedule.
    pub hdc: Vec<Hdc>,
    /// Hole-free schedules of the chain's length and field (from
    /// [`suggest_fix`](crate::schedule::suggest_fix)), when the chain alone has holes or
    /// breaks a rule and suggestions were asked.
    pub suggestions: Vec<Suggestion>,
}

impl ChainReport {
    /// The rates of the first axis.
    #[must_use]
    pub fn rates(&self) -> Vec<u64> {
        self.schedule
            .axes()
            .first()
            .map(|(_, l)| l.iter().map(|s| s.rate).collect())
            .unwrap_or_default()
    }
}

/// A finding about the graph: the [`Diagnostic`] (the same check ids, levels and words as
/// [`analyze`](fn@crate::schedule::analyze)), and where it points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphDiagnostic {
    /// The finding. Its `layer` is the node's index in its chain, when it has one.
    pub diagnostic: Diagnostic,
    /// The node to point at: the node that opens the holes, the layer a rule names.
    pub node: Option<NodeId>,
    /// The output a hole finding is about.
    pub output: Option<NodeId>,
    /// The chain (index into [`GraphReport::chains`]).
    pub chain: Option<usize>,
}

impl fmt::Display for GraphDiagnostic {
    /// As [`Diagnostic`], then `  --> node 3` when it points at a node.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)?;
        if let Some(n) = self.node {
            write!(f, "\n  --> {n}")?;
        }
        Ok(())
    }
}

/// Everything [`Graph::analyze`](super::Graph::analyze) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphReport {
    /// 1 or 2.
    pub rank: usize,
    /// One report per output analysed.
    pub outputs: Vec<OutputReport>,
    /// The nodes the outputs need, in id order.
    pub nodes: Vec<NodeReport>,
    /// The chains, with their HDC figures.
    pub chains: Vec<ChainReport>,
    /// Findings, errors first.
    pub diagnostics: Vec<GraphDiagnostic>,
}

impl GraphReport {
    /// Whether any diagnostic is at error level.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.diagnostic.level == Level::Deny)
    }

    /// Whether any output has holes.
    #[must_use]
    pub fn has_holes(&self) -> bool {
        self.outputs.iter().any(OutputReport::has_holes)
    }

    /// The most severe level reported, if any.
    #[must_use]
    pub fn max_level(&self) -> Option<Level> {
        self.diagnostics.iter().map(|d| d.diagnostic.level).max()
    }

    /// The report of one output.
    #[must_use]
    pub fn output(&self, node: NodeId) -> Option<&OutputReport> {
        self.outputs.iter().find(|o| o.node == node)
    }

    /// The report of one node.
    #[must_use]
    pub fn node(&self, node: NodeId) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.node == node)
    }
}

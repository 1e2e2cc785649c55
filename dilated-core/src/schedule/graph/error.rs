//! Typed errors of the graph analysis: a malformed graph (an unknown node, a second input,
//! branches whose jumps differ), a bad layer (wrapped [`ScheduleError`]), or a documented
//! limit.

use core::fmt;

use super::types::{Jump, NodeId};
use crate::schedule::axis::Axis;
use crate::schedule::error::ScheduleError;

/// What went wrong while building or analysing a [`Graph`](super::Graph).
///
/// Errors raised while a node is being added name the id it would have had
/// ([`Graph::len`](super::Graph::len) at that moment).
///
/// ```
/// use dilated_core::schedule::graph::{Graph, GraphError};
/// use dilated_core::schedule::AxisSpec;
/// let mut g = Graph::one_d();
/// let x = g.input(None).unwrap();
/// let body = g.conv(x, &[AxisSpec::new(3, 1).with_stride(2)]).unwrap();
/// let err = g.sum(&[x, body]).unwrap_err();
/// assert!(matches!(err, GraphError::JumpMismatch { first, second, .. } if first == x && second == body));
/// assert!(err.to_string().contains("jump"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GraphError {
    /// A bad layer or a limit of the chain analysis (zero kernel, rate or stride, overflow,
    /// a receptive field over a limit, a count that does not fit `u128`, …).
    Schedule {
        /// The node at fault, when known.
        node: Option<NodeId>,
        /// The error, with its axis when known.
        error: ScheduleError,
    },
    /// A node id that the graph does not have.
    UnknownNode {
        /// The id given.
        node: NodeId,
        /// Nodes in the graph.
        nodes: usize,
    },
    /// The graph has no input node (or an op was added before it).
    NoInput,
    /// A second input: a graph has exactly one.
    SecondInput {
        /// The input already declared.
        first: NodeId,
    },
    /// A per-axis list of the wrong length (the graph's rank is 1 or 2).
    AxesMismatch {
        /// The node being added.
        node: NodeId,
        /// Which list ("axes", "input field", "factors").
        what: &'static str,
        /// The graph's rank.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A rank other than 1 or 2.
    BadRank {
        /// The rank asked for.
        rank: usize,
    },
    /// A declared input field with a receptive field or jump of 0.
    ZeroField {
        /// The axis.
        axis: Axis,
        /// `"receptive field"` or `"jump"`.
        what: &'static str,
    },
    /// An upsampling factor of 0.
    ZeroFactor {
        /// The node being added.
        node: NodeId,
        /// The axis.
        axis: Axis,
    },
    /// A sum or concat without any branch.
    EmptyMerge {
        /// The node being added.
        node: NodeId,
    },
    /// Two branches of a sum or concat whose positions are not the same distance apart (a
    /// stride in one branch only): their elements do not line up.
    JumpMismatch {
        /// The first branch with local coverage.
        first: NodeId,
        /// The branch whose jump differs from it.
        second: NodeId,
        /// The axis.
        axis: Axis,
        /// The first branch's jump.
        first_jump: Jump,
        /// The second branch's jump.
        second_jump: Jump,
    },
    /// More nodes than [`MAX_GRAPH_NODES`](super::MAX_GRAPH_NODES).
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
    /// More output phases than [`MAX_GRAPH_PHASES`](super::MAX_GRAPH_PHASES) on one axis
    /// (upsampling multiplies them).
    TooManyPhases {
        /// The node.
        node: NodeId,
        /// The axis.
        axis: Axis,
        /// Phases needed (saturated).
        phases: u64,
        /// The limit.
        limit: u64,
    },
    /// More taps than [`MAX_GRAPH_TAPS`](super::MAX_GRAPH_TAPS) in one op along one axis
    /// (kernel size times phases).
    TooManyTaps {
        /// The node.
        node: NodeId,
        /// The axis.
        axis: Axis,
        /// Taps needed (saturated).
        taps: u64,
        /// The limit.
        limit: u64,
    },
    /// A receptive field over [`MAX_GRAPH_RF`](super::MAX_GRAPH_RF) on one axis.
    ReceptiveFieldTooLarge {
        /// The node.
        node: NodeId,
        /// The axis.
        axis: Axis,
        /// Its receptive field (saturated).
        receptive_field: u64,
        /// The limit.
        limit: u64,
    },
    /// A dense coverage map over the cell limit ([`MAX_GRAPH_MAP_CELLS`](super::MAX_GRAPH_MAP_CELLS)
    /// in 2D, [`MAX_COVERAGE_RF`](crate::schedule::MAX_COVERAGE_RF) in 1D).
    MapTooLarge {
        /// The node.
        node: NodeId,
        /// Cells of its widest phase (saturated).
        cells: u64,
        /// The limit.
        limit: u64,
    },
    /// More product terms than [`MAX_GRAPH_TERMS`](super::MAX_GRAPH_TERMS) in the exact
    /// gap test of a 2D node.
    TooManyTerms {
        /// The node.
        node: NodeId,
        /// Terms after merging (saturated).
        terms: usize,
        /// The limit.
        limit: usize,
    },
    /// More work than [`MAX_GRAPH_WORK`](super::MAX_GRAPH_WORK) (cell additions or word
    /// operations).
    TooCostly {
        /// The node being analysed when the budget ran out.
        node: NodeId,
        /// The limit.
        limit: u64,
    },
}

impl GraphError {
    /// Whether the error is a documented limit rather than a malformed graph.
    #[must_use]
    pub const fn is_limit(&self) -> bool {
        match self {
            Self::Schedule { error, .. } => error.is_limit(),
            Self::TooManyNodes { .. }
            | Self::TooManyPhases { .. }
            | Self::TooManyTaps { .. }
            | Self::ReceptiveFieldTooLarge { .. }
            | Self::MapTooLarge { .. }
            | Self::TooManyTerms { .. }
            | Self::TooCostly { .. } => true,
            Self::UnknownNode { .. }
            | Self::NoInput
            | Self::SecondInput { .. }
            | Self::AxesMismatch { .. }
            | Self::BadRank { .. }
            | Self::ZeroField { .. }
            | Self::ZeroFactor { .. }
            | Self::EmptyMerge { .. }
            | Self::JumpMismatch { .. } => false,
        }
    }

    /// The node the error is about, when there is one (the second branch for a jump
    /// mismatch).
    #[must_use]
    pub const fn node(&self) -> Option<NodeId> {
        match *self {
            Self::Schedule { node, .. } => node,
            Self::UnknownNode { node, .. }
            | Self::AxesMismatch { node, .. }
            | Self::ZeroFactor { node, .. }
            | Self::EmptyMerge { node }
            | Self::TooManyPhases { node, .. }
            | Self::TooManyTaps { node, .. }
            | Self::ReceptiveFieldTooLarge { node, .. }
            | Self::MapTooLarge { node, .. }
            | Self::TooManyTerms { node, .. }
            | Self::TooCostly { node, .. } => Some(node),
            Self::JumpMismatch { second, .. } => Some(second),
            Self::SecondInput { .. }
            | Self::NoInput
            | Self::BadRank { .. }
            | Self::ZeroField { .. }
            | Self::TooManyNodes { .. } => None,
        }
    }

    /// Wraps a [`ScheduleError`] about `node`.
    #[must_use]
    pub const fn schedule(node: Option<NodeId>, error: ScheduleError) -> Self {
        Self::Schedule { node, error }
    }
}

impl From<ScheduleError> for GraphError {
    fn from(error: ScheduleError) -> Self {
        Self::Schedule { node: None, error }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Schedule { node, error } => match node {
                Some(n) => write!(f, "{n}: {error}"),
                None => error.fmt(f),
            },
            Self::UnknownNode { node, nodes } => {
                write!(f, "{node} does not exist (the graph has {nodes} nodes)")
            }
            Self::NoInput => f.write_str("the graph has no input: add one with `input` first"),
            Self::SecondInput { first } => write!(
                f,
                "a graph has exactly one input, and {first} is already it: branch from it instead"
            ),
            Self::AxesMismatch {
                node,
                what,
                expected,
                actual,
            } => write!(
                f,
                "{node}: {what} has {actual} entries, expected {expected} (one per axis)"
            ),
            Self::BadRank { rank } => {
                write!(f, "a graph has rank 1 or 2, not {rank}")
            }
            Self::ZeroField { axis, what } => write!(
                f,
                "the input field's {what} must be at least 1 on the {} axis, got 0",
                axis.name()
            ),
            Self::ZeroFactor { node, axis } => write!(
                f,
                "{node}: the upsampling factor must be at least 1 on the {} axis, got 0",
                axis.name()
            ),
            Self::EmptyMerge { node } => {
                write!(f, "{node}: a sum or concat needs at least one branch")
            }
            Self::JumpMismatch {
                first,
                second,
                axis,
                first_jump,
                second_jump,
            } => write!(
                f,
                "{first} and {second} are merged but their jumps differ on the {} axis ({first_jump} and {second_jump} input pixels between positions: a stride in one branch only): give both branches the same strides",
                axis.name()
            ),
            Self::TooManyNodes { limit } => {
                write!(f, "the graph is over the limit of {limit} nodes")
            }
            Self::TooManyPhases {
                node,
                axis,
                phases,
                limit,
            } => write!(
                f,
                "{node}: {phases} output phases on the {} axis is over the limit of {limit} (upsampling multiplies them)",
                axis.name()
            ),
            Self::TooManyTaps {
                node,
                axis,
                taps,
                limit,
            } => write!(
                f,
                "{node}: {taps} taps on the {} axis is over the limit of {limit}",
                axis.name()
            ),
            Self::ReceptiveFieldTooLarge {
                node,
                axis,
                receptive_field,
                limit,
            } => write!(
                f,
                "{node}: receptive field {receptive_field} on the {} axis is over the limit of {limit}",
                axis.name()
            ),
            Self::MapTooLarge { node, cells, limit } => write!(
                f,
                "{node}: a dense coverage map of {cells} cells is over the limit of {limit}"
            ),
            Self::TooManyTerms { node, terms, limit } => write!(
                f,
                "{node}: the exact gap test needs {terms} product terms, over the limit of {limit}"
            ),
            Self::TooCostly { node, limit } => write!(
                f,
                "{node}: the analysis needs more than {limit} operations, the limit"
            ),
        }
    }
}

impl std::error::Error for GraphError {}

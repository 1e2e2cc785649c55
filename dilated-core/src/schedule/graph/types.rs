//! The small types and the limits every part of the graph analysis names: node ids, jumps,
//! resize modes, verdict methods. A leaf below the builder, the geometry, the engines and
//! the report, re-exported by [`graph`](super).

use core::fmt;

use crate::schedule::hdc::gcd;

/// Most nodes a graph may have.
pub const MAX_GRAPH_NODES: usize = 1 << 16;

/// Largest receptive field (per axis, per phase) the verdict handles: `2^22` offsets
/// (a 512 KiB bit set).
pub const MAX_GRAPH_RF: u64 = 1 << 22;

/// Most phases per axis (upsampling by `f` multiplies them by `f`; a stride divides them).
pub const MAX_GRAPH_PHASES: u64 = 1 << 8;

/// Most taps one op may have along one axis, over all its output phases (kernel size times
/// phases).
pub const MAX_GRAPH_TAPS: u64 = 1 << 20;

/// Largest 2D map (cells of one phase) computed densely, with exact counts: a 256×256
/// field. Wider 2D graphs get the exact gap test.
pub const MAX_GRAPH_MAP_CELLS: u64 = 1 << 16;

/// Most product terms a 2D node's support may need in the exact gap test, after merging.
pub const MAX_GRAPH_TERMS: usize = 1 << 10;

/// Most operations one analysis may do (cell additions of the dense maps; word operations
/// and row visits of the gap test).
pub const MAX_GRAPH_WORK: u64 = 1 << 28;

/// Most holes a report lists; past it, [`OutputReport::holes`](super::OutputReport::holes) is `None` (the count stays
/// exact).
pub const MAX_GRAPH_HOLE_LIST: u64 = 1 << 16;

/// A node of a [`Graph`](super::Graph): its index in insertion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(super) usize);

impl NodeId {
    /// The id of the node added `index`-th (0-based). Whether the graph has it is checked
    /// where the id is used.
    #[must_use]
    pub const fn from_index(index: usize) -> Self {
        Self(index)
    }

    /// The 0-based insertion index.
    #[must_use]
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    /// `node 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

/// How an upsampling interpolates (PyTorch's `interpolate`, `align_corners = False`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResizeMode {
    /// Each output position copies one input position.
    Nearest,
    /// Each output position reads the two input positions around it (one where it falls
    /// exactly on an input position).
    Linear,
}

/// The distance between two neighbouring positions of a node, in input pixels: a fraction
/// `num / den` in lowest terms (`den` is 1 unless the node is upsampled).
///
/// ```
/// use dilated_core::schedule::graph::Jump;
/// assert_eq!(Jump::new(16, 2).unwrap(), Jump { num: 8, den: 1 });
/// assert_eq!(Jump::new(3, 2).unwrap().to_string(), "3/2");
/// assert_eq!(Jump::new(1, 4).unwrap().as_f64(), 0.25);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Jump {
    /// Numerator.
    pub num: u64,
    /// Denominator, at least 1.
    pub den: u64,
}

impl Jump {
    /// `num / den` in lowest terms; `None` when either is 0.
    #[must_use]
    pub const fn new(num: u64, den: u64) -> Option<Self> {
        if num == 0 || den == 0 {
            return None;
        }
        let g = gcd(num, den);
        Some(Self {
            num: num / g,
            den: den / g,
        })
    }

    /// Whether the jump is a whole number of pixels.
    #[must_use]
    pub const fn is_integer(&self) -> bool {
        self.den == 1
    }

    /// The jump as a float (approximate past 2^53).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl fmt::Display for Jump {
    /// `16`, or `3/2` when fractional.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// How an output's verdict was computed (all three are exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Dense maps of exact counts.
    Dense,
    /// One product of per-axis sets (a chain, or branches that contain each other).
    OuterProduct,
    /// A union of products, swept row by row.
    GapTest,
}

//! The graph IR: what a model computes, in topological order, with every node reduced to
//! what a receptive-field analysis needs. This is the contract with the analysis that
//! builds `dilated_core::schedule::graph` from it.
//!
//! # Reading the IR
//!
//! - [`Graph::nodes`] lists the nodes left on the data path, in a topological order (a node
//!   comes after every node whose output it reads; among ready nodes, file order). Nodes
//!   whose outputs were all constant were folded away: their outputs are
//!   [`Value`]s with [`Value::constant`] set, and [`Graph::folded`] counts them.
//! - Every tensor name is one [`Value`] ([`ValueId`] indexes [`Graph::values`]): a run-time
//!   input, a weight (an initializer, an input backed by an initializer, a `Constant`), a
//!   folded constant, or a node's output. [`Value::shape`] is the inferred static shape
//!   (NCHW or NCL for feature maps; [`Dim::Symbol`] where the model leaves a dimension
//!   free).
//! - [`Node::kind`] says how a node moves positions on the spatial axes (the trailing
//!   [`Graph::spatial_rank`] axes of a feature map): a sliding [`Window`] (Conv, pools), a
//!   [`Resize`], a [`Pad`], a [`Crop`] (Slice), a pointwise op, a merge of several paths,
//!   a concatenation or a split, something that sees the whole map ([`NodeKind::Global`],
//!   [`NodeKind::Head`]), or [`NodeKind::Unknown`] with the reason.
//! - [`Node::data_inputs`] are the inputs that are not constants (the paths that merge);
//!   weights are reached through [`Node::inputs`] and [`Value::constant`].
//!
//! # What each kind means for positions
//!
//! Per spatial axis, with output position `o` of a node and input position `i` of its
//! data input:
//!
//! | kind | input positions read by output `o` |
//! |---|---|
//! | [`NodeKind::Conv`], [`NodeKind::Pool`] ([`Window`]) | `i = o·stride − pad_begin + k·dilation`, `k` in `0..kernel` (positions outside the input are padding) |
//! | [`NodeKind::Pad`] | `i = o − begin` (outside the input: the fill); a negative `begin` crops |
//! | [`NodeKind::Crop`] | `i = start + o·step` |
//! | [`NodeKind::Resize`] | `o / scale` mapped by `coordinate_transformation_mode`, one (nearest), two (linear) or four (cubic) neighbours per axis |
//! | [`NodeKind::Pointwise`], [`NodeKind::Merge`] | `i = o` in every data input (a data input of fewer axes or of size 1 on an axis is broadcast) |
//! | [`NodeKind::Concat`], [`NodeKind::Split`] | `i = o` when `axis` is not spatial (1, the channels, in every exporter's graphs); along a spatial axis the parts are offset by the sizes before them |
//! | [`NodeKind::Global`], [`NodeKind::Head`] | every position |
//! | [`NodeKind::Unknown`] | not judged: the reason says why |
//!
//! A node's per-axis lists ([`Window::kernel`], [`Pad::pads`], [`Crop::starts`],
//! [`Resize::scales`]) have one entry per spatial axis, in the tensor's order (`[h, w]`
//! for NCHW, `[l]` for NCL). Tensor axes ([`NodeKind::Concat`], [`NodeKind::Split`]) count
//! from 0 = batch. Every data input of a node is a run-time input or an output of a node
//! before it in [`Graph::nodes`].

use std::collections::HashMap;
use std::fmt;

use crate::tensor::{DataType, Tensor};

/// Index of a tensor in [`Graph::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub usize);

/// Index of a node in [`Graph::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// One dimension of a shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size the model fixes.
    Known(u64),
    /// A size the model leaves free, by name (`dim_param`, e.g. `"batch"`).
    Symbol(String),
    /// A size nothing determines.
    Unknown,
}

impl Dim {
    /// The size, when fixed.
    #[must_use]
    pub fn known(&self) -> Option<u64> {
        match self {
            Self::Known(v) => Some(*v),
            Self::Symbol(_) | Self::Unknown => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(v) => write!(f, "{v}"),
            Self::Symbol(s) => write!(f, "{s:?}"),
            Self::Unknown => f.write_str("?"),
        }
    }
}

/// A shape: one [`Dim`] per axis.
pub type Shape = Vec<Dim>;

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A run-time input of the graph.
    Input,
    /// An initializer (or a graph input backed by one, as old IR versions write weights).
    Initializer,
    /// A constant computed at load time: a `Constant` node or a folded chain.
    Folded,
    /// The output of a node on the data path.
    Node(NodeId),
}

/// One tensor name of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The name, as the file spells it.
    pub name: String,
    /// Element type, when known.
    pub dtype: Option<DataType>,
    /// Static shape, when inferred (or declared by the file).
    pub shape: Option<Shape>,
    /// Where it comes from.
    pub source: Source,
    /// The value, for weights and folded constants.
    pub constant: Option<Tensor>,
}

impl Value {
    /// The shape's fixed sizes, when every dimension is fixed.
    #[must_use]
    pub fn static_shape(&self) -> Option<Vec<u64>> {
        self.shape.as_ref()?.iter().map(Dim::known).collect()
    }
}

/// `auto_pad` of a Conv or a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    /// Explicit `pads` (the default).
    NotSet,
    /// No padding.
    Valid,
    /// Output size `ceil(input / stride)`, the extra padding at the end.
    SameUpper,
    /// Output size `ceil(input / stride)`, the extra padding at the beginning.
    SameLower,
}

impl fmt::Display for AutoPad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotSet => "NOTSET",
            Self::Valid => "VALID",
            Self::SameUpper => "SAME_UPPER",
            Self::SameLower => "SAME_LOWER",
        })
    }
}

/// A sliding window over the spatial axes (Conv, MaxPool, AveragePool, LpPool). Every
/// per-axis list has one entry per spatial axis, in the tensor's order (`[h, w]` in 2D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Kernel size per axis.
    pub kernel: Vec<u64>,
    /// Dilation (rate) per axis.
    pub dilations: Vec<u64>,
    /// Stride per axis.
    pub strides: Vec<u64>,
    /// Zero padding `[begin, end]` per axis, `auto_pad` resolved; `None` when it depends
    /// on an input size the model leaves free (`SAME_*` with a stride above 1).
    pub pads: Option<Vec<[u64; 2]>>,
    /// The `auto_pad` attribute as written.
    pub auto_pad: AutoPad,
    /// Groups (1 for pools).
    pub group: u64,
    /// Pools: output size rounded up (`ceil_mode = 1`).
    pub ceil_mode: bool,
    /// Conv: input channels, when known.
    pub in_channels: Option<u64>,
    /// Conv: output channels (the weight's first dimension), when known.
    pub out_channels: Option<u64>,
}

impl Window {
    /// Effective kernel `d·(k − 1) + 1` on `axis`, `None` on overflow.
    #[must_use]
    pub fn effective_kernel(&self, axis: usize) -> Option<u64> {
        self.dilations
            .get(axis)?
            .checked_mul(self.kernel.get(axis)?.checked_sub(1)?)?
            .checked_add(1)
    }
}

/// The pooling operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// `MaxPool`.
    Max,
    /// `AveragePool`.
    Average,
    /// `LpPool`.
    Lp,
}

/// How `Resize` / `Upsample` interpolate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Nearest neighbour: one source position per output.
    Nearest,
    /// (Bi)linear: two source positions per axis.
    Linear,
    /// Cubic: four source positions per axis.
    Cubic,
}

/// A resampling of the spatial axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resize {
    /// Interpolation.
    pub mode: ResizeMode,
    /// Output size over input size, per spatial axis, when known.
    pub scales: Option<Vec<f64>>,
    /// The `coordinate_transformation_mode` attribute (`half_pixel` by default).
    pub coordinate_transformation_mode: String,
}

/// How `Pad` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// A constant (zero by default).
    Constant,
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Edge,
    /// Wrap around.
    Wrap,
}

/// A `Pad` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pad {
    /// Fill mode.
    pub mode: PadMode,
    /// `[begin, end]` per spatial axis (negative crops), when the pads are constant.
    pub pads: Option<Vec<[i64; 2]>>,
}

/// A `Slice` along spatial axes: output position `i` reads input position
/// `start + i·step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crop {
    /// First input position read, per spatial axis (0 for axes not sliced), when known.
    pub starts: Option<Vec<u64>>,
    /// Step per spatial axis (1 for axes not sliced).
    pub steps: Vec<u64>,
}

/// Element-wise operators on one data input (every output position reads the same
/// position of its input).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Pointwise {
    /// `Identity`, `Dropout` (inference), `Cast`: the values pass.
    Identity,
    /// `Relu`.
    Relu,
    /// `LeakyRelu` with its slope.
    LeakyRelu(f32),
    /// `PRelu`.
    PRelu,
    /// `Gelu` (`tanh` approximation when `true`).
    Gelu(bool),
    /// `Tanh`.
    Tanh,
    /// `Sigmoid`.
    Sigmoid,
    /// `Clip`.
    Clip,
    /// `BatchNormalization` (inference).
    BatchNorm,
    /// `Add`, `Sub`, `Mul`, `Div`, … with constants.
    Affine,
    /// Mixes channels at one position: `LRN`, `Softmax` over channels, a `Reshape` or
    /// `Transpose` that keeps the spatial axes (ShuffleNet's channel shuffle).
    ChannelMix,
    /// Any other element-wise function (`Exp`, `Erf`, `Softsign`, …).
    Other,
}

/// Element-wise operators over several data inputs: paths that merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// `Add`, `Sum`.
    Sum,
    /// `Mul` (gates).
    Product,
    /// `Sub`, `Div`, `Max`, `Min`, `Mean`, `Where`, ….
    Other,
}

/// Operators whose output at any position depends on the whole spatial map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `GlobalAveragePool`, `GlobalMaxPool`, `GlobalLpPool`.
    Pool,
    /// A reduction over every spatial axis (`ReduceMean`, …).
    Reduce,
    /// A normalisation whose statistics span the map (`InstanceNormalization`, …).
    Normalization,
}

/// Classifier heads: the spatial axes are flattened away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// `Flatten`, or a `Reshape` that folds the spatial axes into one.
    Flatten,
    /// `Gemm`.
    Gemm,
    /// `MatMul`.
    MatMul,
}

/// What a node does to positions on the spatial axes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeKind {
    /// `Conv`: a window with weights (boxed: most nodes are not windows, and every node
    /// pays for the largest variant).
    Conv(Box<Window>),
    /// A pooling window.
    Pool(PoolKind, Box<Window>),
    /// `Resize` / `Upsample`.
    Resize(Resize),
    /// `Pad`.
    Pad(Pad),
    /// `Slice` along spatial axes.
    Crop(Crop),
    /// One data input, read at the same position.
    Pointwise(Pointwise),
    /// Several data inputs, read at the same position.
    Merge(Merge),
    /// `Concat` along `axis` (1: channels, the usual merge of branches).
    Concat {
        /// The tensor axis (non-negative).
        axis: usize,
    },
    /// `Split` along `axis` into parts of `sizes` (when known).
    Split {
        /// The tensor axis (non-negative).
        axis: usize,
        /// The size of each output along `axis`.
        sizes: Option<Vec<u64>>,
    },
    /// Sees the whole map.
    Global(Global),
    /// Flattens the map (a classifier head).
    Head(Head),
    /// A node whose window this reader does not know.
    Unknown {
        /// Why.
        reason: String,
    },
}

impl NodeKind {
    /// A short name of the kind: `conv`, `pool`, `resize`, `pad`, `crop`, `pointwise`,
    /// `merge`, `concat`, `split`, `global`, `head`, `unknown`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Conv(_) => "conv",
            Self::Pool(..) => "pool",
            Self::Resize(_) => "resize",
            Self::Pad(_) => "pad",
            Self::Crop(_) => "crop",
            Self::Pointwise(_) => "pointwise",
            Self::Merge(_) => "merge",
            Self::Concat { .. } => "concat",
            Self::Split { .. } => "split",
            Self::Global(_) => "global",
            Self::Head(_) => "head",
            Self::Unknown { .. } => "unknown",
        }
    }

    /// The window of a Conv or a pool.
    #[must_use]
    pub fn window(&self) -> Option<&Window> {
        match self {
            Self::Conv(w) | Self::Pool(_, w) => Some(w),
            Self::Resize(_)
            | Self::Pad(_)
            | Self::Crop(_)
            | Self::Pointwise(_)
            | Self::Merge(_)
            | Self::Concat { .. }
            | Self::Split { .. }
            | Self::Global(_)
            | Self::Head(_)
            | Self::Unknown { .. } => None,
        }
    }
}

/// A construct that exporters write and runtimes treat differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hazard {
    /// `auto_pad` `SAME_UPPER` / `SAME_LOWER` with a dilation above 1: ONNX Runtime
    /// rejects it.
    SameWithDilation {
        /// The `auto_pad` value.
        auto_pad: AutoPad,
        /// The dilations.
        dilations: Vec<u64>,
    },
    /// Explicit pads that differ between the two sides of a spatial axis.
    AsymmetricPads {
        /// Spatial axis (0 = the first spatial axis).
        axis: usize,
        /// Padding at the beginning.
        begin: u64,
        /// Padding at the end.
        end: u64,
    },
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SameWithDilation {
                auto_pad,
                dilations,
            } => write!(
                f,
                "auto_pad {auto_pad} with dilations {dilations:?}: ONNX Runtime rejects SAME padding with a dilation above 1"
            ),
            Self::AsymmetricPads { axis, begin, end } => write!(
                f,
                "pads differ between the two sides of spatial axis {axis}: {begin} before, {end} after"
            ),
        }
    }
}

/// One node on the data path.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name in the file (may be empty).
    pub name: String,
    /// The operator (`op_type`).
    pub op_type: String,
    /// The operator's domain (`""` for the standard one).
    pub domain: String,
    /// Position in the file's node list.
    pub file_index: usize,
    /// Inputs, in order; `None` for an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    /// Outputs, in order; `None` for an omitted optional output.
    pub outputs: Vec<Option<ValueId>>,
    /// What the node does to spatial positions.
    pub kind: NodeKind,
    /// Export hazards found on it.
    pub hazards: Vec<Hazard>,
    /// `BatchNormalization` (and the other normalisations): the `epsilon` attribute as
    /// written; `None` when the node has none (ONNX's default is `1e-5`) or is no
    /// normalisation.
    pub epsilon: Option<f32>,
}

impl Node {
    /// The name, or `<op_type>#<file index>` when the file gives none.
    #[must_use]
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("{}#{}", self.op_type, self.file_index)
        } else {
            self.name.clone()
        }
    }

    /// The inputs that are not constants: the data paths this node reads.
    pub fn data_inputs<'g>(&'g self, graph: &'g Graph) -> impl Iterator<Item = ValueId> + 'g {
        self.inputs
            .iter()
            .flatten()
            .copied()
            .filter(|&v| graph.values[v.0].constant.is_none())
    }
}

/// A model's graph, checked, folded and shaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The graph's name.
    pub name: String,
    pub(crate) values: Vec<Value>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) inputs: Vec<ValueId>,
    pub(crate) outputs: Vec<ValueId>,
    pub(crate) folded: usize,
    pub(crate) by_name: HashMap<String, ValueId>,
}

impl Graph {
    /// Every tensor, indexed by [`ValueId`].
    #[must_use]
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// One tensor.
    #[must_use]
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0]
    }

    /// The nodes on the data path, in topological order.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// One node.
    #[must_use]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// The run-time inputs (graph inputs not backed by an initializer).
    #[must_use]
    pub fn inputs(&self) -> &[ValueId] {
        &self.inputs
    }

    /// The graph's outputs.
    #[must_use]
    pub fn outputs(&self) -> &[ValueId] {
        &self.outputs
    }

    /// How many of the file's nodes were folded into constants.
    #[must_use]
    pub fn folded(&self) -> usize {
        self.folded
    }

    /// The tensor called `name`.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<ValueId> {
        self.by_name.get(name).copied()
    }

    /// The node that writes `value`, if a data-path node does.
    #[must_use]
    pub fn producer(&self, value: ValueId) -> Option<NodeId> {
        match self.values[value.0].source {
            Source::Node(n) => Some(n),
            Source::Input | Source::Initializer | Source::Folded => None,
        }
    }

    /// Number of spatial axes of the feature maps: the rank of the first run-time input
    /// of rank 3 or more, minus 2 (1 for NCL, 2 for NCHW).
    #[must_use]
    pub fn spatial_rank(&self) -> Option<usize> {
        self.inputs.iter().find_map(|&v| {
            let r = self.values[v.0].shape.as_ref()?.len();
            (r >= 3).then(|| r - 2)
        })
    }
}

//! The values and ops of a graph, the nodes that hold them and the tensors they name: the
//! leaf every other part of the model reads.

use crate::conv::{Activation, ConvDesc};

/// A value of the graph: the model's input, or the output of one op. Handed out by the
/// [`ModelBuilder`](super::ModelBuilder) methods; valid only with the builder (and the graph) that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub(crate) usize);

impl ValueId {
    /// The model's input.
    pub const INPUT: Self = Self(0);

    /// The index of the value, which is the index of the op that defines it in
    /// [`ModelGraph::nodes`](super::ModelGraph::nodes) (0 is the input).
    #[must_use]
    pub const fn index(self) -> usize {
        self.0
    }
}

/// How a convolution's weight is stored: plainly, or weight-normalised along dim 0
/// (`w = g · v / ‖v‖`, the norm over every dim but the output channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WeightNorm {
    /// `prefix.weight`.
    #[default]
    None,
    /// `torch.nn.utils.parametrizations.weight_norm` (the twin's form):
    /// `prefix.parametrizations.weight.original0` (g, `[C_out, 1, 1(, 1)]`) and
    /// `prefix.parametrizations.weight.original1` (v, the weight's shape). The legacy form
    /// also loads.
    Parametrization,
    /// The older `torch.nn.utils.weight_norm`: `prefix.weight_g` (g) and `prefix.weight_v`
    /// (v). The parametrization form also loads.
    Legacy,
}

/// One op of the graph, with the module path prefix its tensors are stored under.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// The model's input (node 0, and only it).
    Input,
    /// A convolution (`prefix.weight`, `prefix.bias`, or the weight-norm forms).
    Conv {
        /// Module path prefix, e.g. `blocks.3.dilated`.
        prefix: String,
        /// The convolution; its activation runs after it.
        desc: ConvDesc,
        /// How the weight is stored.
        norm: WeightNorm,
    },
    /// PyTorch's `BatchNorm1d/2d` in `eval()` mode (`prefix.weight`, `prefix.bias`,
    /// `prefix.running_mean`, `prefix.running_var`; `prefix.num_batches_tracked` accepted
    /// and ignored).
    BatchNorm {
        /// Module path prefix.
        prefix: String,
        /// Added to the running variance.
        eps: f32,
    },
    /// A fixed activation.
    Activation(Activation),
    /// PyTorch's `PReLU(channels)`: `x` for `x > 0`, `a_c · x` otherwise (`prefix.weight`,
    /// `[channels]`).
    Prelu {
        /// Module path prefix.
        prefix: String,
        /// Slopes: 1 (shared) or the input's channel count.
        channels: usize,
    },
    /// WaveNet's gated activation `tanh(a) · sigmoid(b)`, `a` the first channel half.
    Gate,
    /// The elementwise sum of the inputs, in order (`((x₀ + x₁) + x₂) …`), then the
    /// activation.
    Add {
        /// After the sum.
        activation: Activation,
    },
    /// Channel concatenation of the inputs, in order.
    Concat,
    /// Mean over the spatial axes: `[C, H, W]` → `[C, 1, 1]`.
    GlobalAvgPool,
    /// Input 0 (a 1×1 map) repeated over the spatial size of input 1, whose data is not
    /// read: DeepLab's image pooling (`F.interpolate` from 1×1, which is a plain broadcast).
    Broadcast,
    /// A no-op at inference (it keeps module names aligned with the twin).
    Dropout,
}

impl Op {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv { .. } => "conv",
            Op::BatchNorm { .. } => "batch norm",
            Op::Activation(_) => "activation",
            Op::Prelu { .. } => "prelu",
            Op::Gate => "gate",
            Op::Add { .. } => "add",
            Op::Concat => "concat",
            Op::GlobalAvgPool => "global average pool",
            Op::Broadcast => "broadcast",
            Op::Dropout => "dropout",
        }
    }

    pub(super) fn prefix(&self) -> Option<&str> {
        match self {
            Op::Conv { prefix, .. } | Op::BatchNorm { prefix, .. } | Op::Prelu { prefix, .. } => {
                Some(prefix)
            }
            Op::Input
            | Op::Activation(_)
            | Op::Gate
            | Op::Add { .. }
            | Op::Concat
            | Op::GlobalAvgPool
            | Op::Broadcast
            | Op::Dropout => None,
        }
    }
}

/// One node of the graph: an op, the values it reads, and what it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub(crate) op: Op,
    pub(crate) inputs: Vec<ValueId>,
    pub(crate) channels: usize,
    pub(crate) size: [usize; 2],
}

impl Node {
    /// The op.
    #[must_use]
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The values it reads, in order (a broadcast reads only the size of its second).
    #[must_use]
    pub fn inputs(&self) -> &[ValueId] {
        &self.inputs
    }

    /// Channels of its output.
    #[must_use]
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Spatial size of its output as far as it is known when the model is built
    /// (`[height, width]`, [`DYN`](crate::tensor::DYN) on an axis that depends on a dynamic input size).
    #[must_use]
    pub fn size(&self) -> [usize; 2] {
        self.size
    }
}

/// One tensor of the model, as the twin's `state_dict` names and shapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Full `state_dict` name, e.g. `blocks.3.dilated.weight`.
    pub name: String,
    /// PyTorch shape.
    pub shape: Vec<usize>,
}

/// `prefix.leaf`, or `leaf` for the empty prefix (a bare module's `state_dict`).
pub(crate) fn tensor_name(prefix: &str, leaf: &str) -> String {
    if prefix.is_empty() {
        leaf.to_owned()
    } else {
        format!("{prefix}.{leaf}")
    }
}

/// How an op is named in errors: its kind and prefix, or its kind and value index.
pub(crate) fn label(nodes: &[Node], i: usize) -> String {
    let op = &nodes[i].op;
    match op.prefix() {
        Some(p) => format!("{} `{p}`", op.kind()),
        None => format!("{} (value {i})", op.kind()),
    }
}

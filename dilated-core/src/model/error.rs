//! The model's error type: what a graph, its weights or a run got wrong, naming the op.

use crate::Error;
use crate::stream::StreamError;

/// Everything that can go wrong while building, loading, running or streaming a
/// [`Model`](super::Model). Every variant that concerns one op names it (`conv
/// `blocks.3.dilated``, `add (value 7)`, …); every variant that concerns one tensor names it
/// by its full `state_dict` path. Never a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A [`ValueId`](super::ValueId) that this builder did not hand out.
    #[error("value {value} does not belong to this model (it has {values} values)")]
    UnknownValue {
        /// The value's index.
        value: usize,
        /// How many values the builder holds.
        values: usize,
    },
    /// An add or a concat with no input.
    #[error("{op}: takes at least one input, got none")]
    NoInputs {
        /// The op.
        op: String,
    },
    /// An input whose channel count is not the one the op takes.
    #[error("{op}: input {input} has {actual} channels, expected {expected}")]
    Channels {
        /// The op.
        op: String,
        /// Position of the input in the op's input list (0 for single-input ops).
        input: usize,
        /// The channels the op takes.
        expected: usize,
        /// The channels of the input.
        actual: usize,
    },
    /// Branches whose spatial sizes differ where an op joins them (a stride or a padding in
    /// one branch only). Found when the model is built if the input size is fixed, when it
    /// runs otherwise.
    #[error(
        "{op}: input {input} is {actual:?} (height, width), input 0 is {expected:?}: the branches' strides or paddings differ"
    )]
    Spatial {
        /// The op.
        op: String,
        /// Position of the mismatching input.
        input: usize,
        /// The size of the op's first input.
        expected: [usize; 2],
        /// The size of the mismatching input.
        actual: [usize; 2],
    },
    /// A gate (`tanh(a) · sigmoid(b)` over the two channel halves) on an odd channel count.
    #[error("{op}: a gate splits its input into two channel halves; {channels} channels is odd")]
    OddGate {
        /// The op.
        op: String,
        /// The input's channels.
        channels: usize,
    },
    /// A PReLU whose slope count is neither 1 nor the input's channel count.
    #[error("{op}: PReLU takes 1 slope or one per channel ({channels}), got {actual}")]
    PreluChannels {
        /// The op.
        op: String,
        /// The input's channels.
        channels: usize,
        /// The slope count asked for.
        actual: usize,
    },
    /// A broadcast whose input is not a 1×1 map (global-pool it first).
    #[error("{op}: a broadcast expands a 1×1 map, its input is {actual:?} (height, width)")]
    NotPooled {
        /// The op.
        op: String,
        /// The input's spatial size.
        actual: [usize; 2],
    },
    /// A batch norm whose `eps` is negative, NaN or infinite.
    #[error("{op}: eps must be finite and non-negative, got {eps}")]
    Eps {
        /// The op.
        op: String,
        /// The value given.
        eps: f32,
    },
    /// An op's descriptor or shape arithmetic failed (a bad conv descriptor, a kernel wider
    /// than its padded input, a 2D conv in a 1D model, an overflow).
    #[error("{op}: {source}")]
    Op {
        /// The op.
        op: String,
        /// What failed.
        source: Error,
    },
    /// Two modules store a tensor under the same name.
    #[error("tensor `{name}` is claimed by two modules")]
    DuplicateTensor {
        /// The name.
        name: String,
    },
    /// A tensor that must not sit beside another in the weights (the two forms of a weight
    /// norm, or a plain `weight` beside one).
    #[error("tensor `{name}` cannot be loaded beside `{other}`: {reason}")]
    ConflictingTensor {
        /// The tensor refused.
        name: String,
        /// The tensor it conflicts with.
        other: String,
        /// Why.
        reason: &'static str,
    },
    /// [`ModelBuilder::build`](super::ModelBuilder::build) before
    /// [`output`](super::ModelBuilder::output).
    #[error("the model has no output: call `output(value)` before `build`")]
    NoOutput,
    /// A second call of [`output`](super::ModelBuilder::output).
    #[error("the output is already value {current}")]
    OutputSet {
        /// The output already set.
        current: usize,
    },
    /// An input size that is not the one the model declares (`0` on an axis of the
    /// declaration is a dynamic size).
    #[error("the input is {actual:?} (height, width); the model declares {expected:?}")]
    InputSize {
        /// The declared size, `0` (`DYN`) where dynamic.
        expected: [usize; 2],
        /// The size given.
        actual: [usize; 2],
    },
    /// An op that cannot run frame by frame: a 2D model, or a global pool (it reads the
    /// whole signal).
    #[error("{op} cannot stream: {reason}")]
    NotStreamable {
        /// The op.
        op: String,
        /// Why.
        reason: &'static str,
    },
    /// A conv that cannot stream (not causal, strided, 2D).
    #[error("{op} cannot stream: {source}")]
    NotCausal {
        /// The conv.
        op: String,
        /// What the stream found.
        source: StreamError,
    },
    /// A bad frame or chunk given to a [`ModelStream`](super::ModelStream).
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// An error from the engine, the weights or a size computation.
    #[error(transparent)]
    Engine(#[from] Error),
}

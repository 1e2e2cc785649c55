//! The runtime's error type.

/// Everything that can go wrong at run time: bad shapes, bad weights, overflowing sizes.
/// Never a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A size that must be positive was zero.
    #[error("{what} must be at least 1, got 0")]
    Zero {
        /// Which size.
        what: &'static str,
    },
    /// Channels not divisible by the group count.
    #[error("{channels} {what} channels are not divisible by groups = {groups}")]
    Groups {
        /// "input" or "output".
        what: &'static str,
        /// The channel count.
        channels: usize,
        /// The group count.
        groups: usize,
    },
    /// The effective kernel is wider than the padded input: the layer has no output.
    #[error(
        "effective kernel {effective} is wider than the padded input {padded} on axis {axis}: the layer has no output"
    )]
    KernelTooLarge {
        /// 0 = height, 1 = width.
        axis: usize,
        /// `d·(k − 1) + 1`.
        effective: usize,
        /// Input plus padding on both sides.
        padded: usize,
    },
    /// A buffer has the wrong length.
    #[error("{what} has {actual} elements, expected {expected}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// The length the shapes call for.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// Two consecutive layers do not chain.
    #[error("layer {layer} expects {expected} input channels, the previous layer gives {actual}")]
    Chain {
        /// Index of the layer whose input does not match.
        layer: usize,
        /// Its input channels.
        expected: usize,
        /// The previous layer's output channels.
        actual: usize,
    },
    /// A size computation overflowed `usize`.
    #[error("size overflow while computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A tensor's shape does not match what its type or its use calls for.
    #[error("{what} is {actual}, expected {expected}")]
    Shape {
        /// Which dimension or parameter (e.g. "input channels", "height").
        what: &'static str,
        /// The size the type or the layer calls for.
        expected: usize,
        /// The size given.
        actual: usize,
    },
    /// A spatial size is dynamic (`_`) and cannot be inferred from the data alone.
    #[error(
        "{what}: the spatial size is dynamic and cannot be inferred from the data; pass it explicitly"
    )]
    UnknownSize {
        /// What could not be inferred.
        what: &'static str,
    },
    /// A tensor the model needs is not in the weights file.
    #[error("missing tensor `{name}` in the weights")]
    MissingTensor {
        /// The tensor's name (e.g. `2.weight`).
        name: String,
    },
    /// A tensor in the weights file has the wrong shape.
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    WeightShape {
        /// The tensor's name.
        name: String,
        /// The shape the layer calls for.
        expected: Vec<usize>,
        /// The shape in the file.
        actual: Vec<usize>,
    },
    /// A tensor in the weights file has a dtype that cannot be read exactly as `f32`.
    #[error(
        "tensor `{name}` has dtype {dtype}; expected F32 (F16 and BF16 are widened exactly; convert other dtypes with `.float()` before saving)"
    )]
    WeightDtype {
        /// The tensor's name.
        name: String,
        /// The dtype in the file, as safetensors spells it (e.g. `F64`).
        dtype: String,
    },
    /// The weights file holds tensors the model does not use (strict loading, as PyTorch's
    /// `load_state_dict` does by default).
    #[error("unexpected tensors in the weights: {}", printable(&names.join(", ")))]
    UnexpectedTensors {
        /// The unused names, sorted.
        names: Vec<String>,
    },
    /// Reading or writing a weights file failed.
    #[error("cannot {action} `{path}`: {message}")]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: String,
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
    /// The weights are not a well-formed safetensors file.
    #[error("malformed safetensors data: {}", printable(message))]
    Format {
        /// What the parser reported.
        message: String,
    },
    /// The CPU lacks the instruction set of the requested kernel family.
    #[error("the {kernel} kernels need CPU features this machine lacks")]
    KernelUnavailable {
        /// The family asked for.
        kernel: crate::kernel::Kernel,
    },
    /// The thread pool could not be built.
    #[error("cannot build a thread pool: {message}")]
    ThreadPool {
        /// What rayon reported.
        message: String,
    },
}

/// `text` with its control characters (a newline in a tensor name a file declares, say)
/// written as escapes, so that an error message built from a file's contents stays one
/// line. Borrowed when there is nothing to escape.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

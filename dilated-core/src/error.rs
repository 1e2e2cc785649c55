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
}

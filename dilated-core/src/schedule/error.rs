//! Typed errors of the schedule analysis. Every bad input is one of these values, never a
//! panic: zero sizes, overflowing arithmetic, a kernel wider than its padded input, a
//! schedule over a documented limit, a suggestion request that nothing satisfies.

use core::fmt;

use super::axis::Axis;

/// What went wrong (see [`ScheduleError`] for where).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The schedule has no layer.
    Empty,
    /// A kernel size of 0.
    ZeroKernel,
    /// A dilation rate of 0.
    ZeroRate,
    /// A stride of 0.
    ZeroStride,
    /// An input size of 0.
    ZeroInput,
    /// Checked arithmetic overflowed `u64`/`i64` while computing `what`.
    Overflow {
        /// The quantity being computed ("effective kernel", "receptive field", …).
        what: &'static str,
    },
    /// The effective kernel is wider than the padded input: the layer has no output.
    KernelTooWide {
        /// `d·(k − 1) + 1`.
        effective: u64,
        /// `I + p_lo + p_hi`.
        padded: u64,
    },
    /// Two lists that must have the same length do not.
    LengthMismatch {
        /// Which list ("rates", "strides", "kernels", …).
        what: &'static str,
        /// The length the other lists call for.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// More layers than [`MAX_LAYERS`](super::MAX_LAYERS).
    TooManyLayers {
        /// Layers given.
        layers: usize,
        /// The limit.
        limit: usize,
    },
    /// A receptive field over the limit of the requested analysis
    /// ([`MAX_VERDICT_RF`](super::MAX_VERDICT_RF) for the verdict,
    /// [`MAX_COVERAGE_RF`](super::MAX_COVERAGE_RF) for exact counts and hole lists,
    /// [`const_core::CONST_MAX_RF`](super::const_core::CONST_MAX_RF) in const contexts).
    ReceptiveFieldTooLarge {
        /// The receptive field (saturated at `u64::MAX`).
        receptive_field: u64,
        /// The limit.
        limit: u64,
    },
    /// Exact counting would do more than [`MAX_COVERAGE_WORK`](super::MAX_COVERAGE_WORK)
    /// tap additions.
    CoverageTooCostly {
        /// Tap additions needed (saturated).
        work: u64,
        /// The limit.
        limit: u64,
    },
    /// A 2D map side over [`MAX_MAP_SIDE`](super::MAX_MAP_SIDE).
    MapTooLarge {
        /// The side (receptive field of one axis).
        side: u64,
        /// The limit.
        limit: u64,
    },
    /// A coverage count does not fit the count type (`u128` overflows past about `3^80`
    /// paths): use a big-integer [`Count`](super::Count).
    CountOverflow,
    /// No schedule satisfies a suggestion request.
    NoSuggestion {
        /// Layers requested.
        layers: usize,
        /// Minimum receptive field requested.
        min_receptive_field: u64,
        /// The widest hole-free receptive field the search reached with that many layers
        /// (0 when it found none at all).
        best_receptive_field: u64,
    },
}

/// An error of the schedule analysis: what ([`ErrorKind`]), at which layer (0-based
/// index; `Display` prints it 1-based) and on which axis, when known.
///
/// ```
/// use dilated_core::schedule::{AxisSpec, ErrorKind};
/// let err = AxisSpec::new(3, 0).effective_kernel().unwrap_err();
/// assert_eq!(err.kind, ErrorKind::ZeroRate);
/// assert_eq!(err.to_string(), "rate must be at least 1, got 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// 0-based index of the layer at fault, if any.
    pub layer: Option<usize>,
    /// The axis at fault, for 2D schedules.
    pub axis: Option<Axis>,
}

impl ScheduleError {
    /// An error with no layer or axis attached.
    #[must_use]
    pub const fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            layer: None,
            axis: None,
        }
    }

    /// Attaches a layer index (0-based).
    #[must_use]
    pub const fn at_layer(mut self, layer: usize) -> Self {
        self.layer = Some(layer);
        self
    }

    /// Attaches an axis.
    #[must_use]
    pub const fn on_axis(mut self, axis: Axis) -> Self {
        self.axis = Some(axis);
        self
    }

    /// Whether the error is a documented limit rather than a malformed input.
    #[must_use]
    pub const fn is_limit(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::TooManyLayers { .. }
                | ErrorKind::ReceptiveFieldTooLarge { .. }
                | ErrorKind::CoverageTooCostly { .. }
                | ErrorKind::MapTooLarge { .. }
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("the schedule has no layer"),
            Self::ZeroKernel => f.write_str("kernel size must be at least 1, got 0"),
            Self::ZeroRate => f.write_str("rate must be at least 1, got 0"),
            Self::ZeroStride => f.write_str("stride must be at least 1, got 0"),
            Self::ZeroInput => f.write_str("input size must be at least 1, got 0"),
            Self::Overflow { what } => write!(f, "{what} overflows 64-bit arithmetic"),
            Self::KernelTooWide { effective, padded } => write!(
                f,
                "effective kernel {effective} is wider than the padded input {padded}: the layer has no output"
            ),
            Self::LengthMismatch {
                what,
                expected,
                actual,
            } => write!(
                f,
                "{what} has {actual} entries, expected {expected} (one per layer)"
            ),
            Self::TooManyLayers { layers, limit } => {
                write!(f, "{layers} layers is over the limit of {limit} layers")
            }
            Self::ReceptiveFieldTooLarge {
                receptive_field,
                limit,
            } => {
                if receptive_field == u64::MAX {
                    write!(
                        f,
                        "the receptive field is over the limit of {limit} (it does not even fit 64 bits)"
                    )
                } else {
                    write!(
                        f,
                        "receptive field {receptive_field} is over the limit of {limit}"
                    )
                }
            }
            Self::CoverageTooCostly { work, limit } => write!(
                f,
                "exact coverage counts need {work} tap additions, over the limit of {limit}"
            ),
            Self::MapTooLarge { side, limit } => {
                write!(f, "a {side}-wide map is over the limit of {limit} per side")
            }
            Self::CountOverflow => {
                f.write_str("a coverage count does not fit 128 bits: use a big-integer count type")
            }
            Self::NoSuggestion {
                layers,
                min_receptive_field,
                best_receptive_field,
            } => {
                write!(
                    f,
                    "no hole-free schedule of {layers} layers satisfying the HDC rules reaches a receptive field of {min_receptive_field}"
                )?;
                if best_receptive_field > 0 {
                    write!(f, " (the widest found: {best_receptive_field})")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.layer, self.axis) {
            (Some(l), Some(a)) => write!(f, "layer {} ({}): ", l + 1, a.name())?,
            (Some(l), None) => write!(f, "layer {}: ", l + 1)?,
            (None, Some(a)) => write!(f, "{}: ", a.name())?,
            (None, None) => {}
        }
        self.kind.fmt(f)
    }
}

impl std::error::Error for ScheduleError {}

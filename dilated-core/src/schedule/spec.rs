//! Layer and schedule descriptions: one [`AxisSpec`] per layer and axis; a 2D layer is two
//! axes ([`Spec2d`]), which is what rectangular kernels and per-axis rates and strides need.

use super::axis::Axis;
use super::error::{ErrorKind, ScheduleError};
use super::formula;
use super::limits::MAX_LAYERS;

/// How a layer pads its input (zeros), per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PadMode {
    /// Total `d·(k − 1)` split as PyTorch does: `p_lo = total / 2`, `p_hi = total − p_lo`.
    /// With stride 1 the output size equals the input size (the point of `same`); with stride
    /// `s` it is `ceil(I / s)`.
    #[default]
    Same,
    /// No padding.
    Valid,
    /// All padding before the input, `p_lo = d·(k − 1)`, `p_hi = 0` (WaveNet/TCN stacks).
    Causal,
    /// Explicit amounts before and after the input.
    Explicit {
        /// Zeros before the first input element.
        lo: u64,
        /// Zeros after the last input element.
        hi: u64,
    },
}

/// One layer along one axis: kernel size `k`, dilation rate `d`, stride `s`, padding.
///
/// All size arithmetic is checked and `const`:
///
/// ```
/// use dilated_core::schedule::{AxisSpec, PadMode};
/// let l = AxisSpec::new(3, 2);
/// assert_eq!(l.effective_kernel(), Ok(5));
/// assert_eq!(l.padding_amounts(), Ok((2, 2)));   // I = 32, k = 3, d = 2 → p = 2
/// assert_eq!(l.output_size(32), Ok(32));
/// let causal = AxisSpec::new(2, 4).with_padding(PadMode::Causal);
/// assert_eq!(causal.padding_amounts(), Ok((4, 0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AxisSpec {
    /// Kernel size `k` (taps), at least 1.
    pub kernel: u64,
    /// Dilation rate `d`, at least 1.
    pub rate: u64,
    /// Stride `s`, at least 1.
    pub stride: u64,
    /// Padding mode.
    pub padding: PadMode,
}

impl AxisSpec {
    /// A stride-1 layer with `same` padding.
    #[must_use]
    pub const fn new(kernel: u64, rate: u64) -> Self {
        Self {
            kernel,
            rate,
            stride: 1,
            padding: PadMode::Same,
        }
    }

    /// The same layer with another stride.
    #[must_use]
    pub const fn with_stride(mut self, stride: u64) -> Self {
        self.stride = stride;
        self
    }

    /// The same layer with another padding mode.
    #[must_use]
    pub const fn with_padding(mut self, padding: PadMode) -> Self {
        self.padding = padding;
        self
    }

    /// Checks that kernel, rate and stride are at least 1 and that the effective kernel
    /// fits 64 bits.
    ///
    /// # Errors
    /// [`ErrorKind::ZeroKernel`], [`ErrorKind::ZeroRate`], [`ErrorKind::ZeroStride`],
    /// [`ErrorKind::Overflow`].
    pub const fn validate(&self) -> Result<(), ScheduleError> {
        match self.effective_kernel() {
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        if self.stride == 0 {
            return Err(ScheduleError::new(ErrorKind::ZeroStride));
        }
        Ok(())
    }

    /// The effective kernel `k' = d·(k − 1) + 1` (k = 3, d = 2 → 5).
    ///
    /// # Errors
    /// Zero kernel or rate; overflow.
    pub const fn effective_kernel(&self) -> Result<u64, ScheduleError> {
        if self.kernel == 0 {
            return Err(ScheduleError::new(ErrorKind::ZeroKernel));
        }
        if self.rate == 0 {
            return Err(ScheduleError::new(ErrorKind::ZeroRate));
        }
        match formula::effective_kernel(self.kernel, self.rate) {
            Some(e) => Ok(e),
            None => Err(overflow("effective kernel")),
        }
    }

    /// The span `d·(k − 1)` between the first and the last tap.
    ///
    /// # Errors
    /// As [`effective_kernel`](Self::effective_kernel).
    pub const fn span(&self) -> Result<u64, ScheduleError> {
        match self.effective_kernel() {
            Ok(e) => Ok(e - 1),
            Err(e) => Err(e),
        }
    }

    /// PadMode `(p_lo, p_hi)` the mode resolves to. `same`: total `d·(k − 1)`,
    /// `p_lo = total / 2` (PyTorch's split when the total is odd).
    ///
    /// # Errors
    /// As [`effective_kernel`](Self::effective_kernel).
    pub const fn padding_amounts(&self) -> Result<(u64, u64), ScheduleError> {
        let total = match self.span() {
            Ok(t) => t,
            Err(e) => return Err(e),
        };
        Ok(match self.padding {
            PadMode::Same => formula::same_padding(total),
            PadMode::Valid => (0, 0),
            PadMode::Causal => formula::causal_padding(total),
            PadMode::Explicit { lo, hi } => (lo, hi),
        })
    }

    /// The padded input `I + p_lo + p_hi`.
    ///
    /// # Errors
    /// Zero input, zero sizes, overflow.
    pub const fn padded_input(&self, input: u64) -> Result<u64, ScheduleError> {
        if input == 0 {
            return Err(ScheduleError::new(ErrorKind::ZeroInput));
        }
        let (lo, hi) = match self.padding_amounts() {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        match formula::padded_input(input, lo, hi) {
            Some(p) => Ok(p),
            None => Err(overflow("padded input")),
        }
    }

    /// Output size by PyTorch's rule, `O = floor((I + p_lo + p_hi − d·(k − 1) − 1) / s) + 1`.
    ///
    /// ```
    /// use dilated_core::schedule::{AxisSpec, ErrorKind, PadMode};
    /// let valid = AxisSpec::new(3, 4).with_padding(PadMode::Valid);
    /// assert_eq!(valid.output_size(10), Ok(2));
    /// let err = valid.output_size(8).unwrap_err();
    /// assert_eq!(err.kind, ErrorKind::KernelTooWide { effective: 9, padded: 8 });
    /// ```
    ///
    /// # Errors
    /// Zero sizes, overflow, and [`ErrorKind::KernelTooWide`] when the effective kernel
    /// exceeds the padded input (the layer has no output).
    pub const fn output_size(&self, input: u64) -> Result<u64, ScheduleError> {
        if let Err(e) = self.validate() {
            return Err(e);
        }
        let padded = match self.padded_input(input) {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        let effective = match self.effective_kernel() {
            Ok(e) => e,
            Err(e) => return Err(e),
        };
        match formula::output_size(padded, effective, self.stride) {
            Some(o) => Ok(o),
            // The stride was validated: the kernel is wider than the padded input.
            None => Err(ScheduleError::new(ErrorKind::KernelTooWide {
                effective,
                padded,
            })),
        }
    }
}

/// One layer of a 2D schedule: its height and width axes (rectangular kernels, per-axis
/// rates, strides and padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spec2d {
    /// The height axis.
    pub height: AxisSpec,
    /// The width axis.
    pub width: AxisSpec,
}

impl Spec2d {
    /// A square kernel with the same rate on both axes, stride 1, `same` padding.
    #[must_use]
    pub const fn square(kernel: u64, rate: u64) -> Self {
        Self {
            height: AxisSpec::new(kernel, rate),
            width: AxisSpec::new(kernel, rate),
        }
    }
}

/// A stack of layers, 1D or 2D, analysed axis by axis.
///
/// ```
/// use dilated_core::schedule::{Axis, Schedule};
/// let s = Schedule::uniform(3, &[1, 2, 5]);
/// assert_eq!(s.axes().len(), 1);
/// assert_eq!(s.axes()[0].0, Axis::Length);
/// let s2 = Schedule::from_lists(&[3, 5, 3], &[1, 2, 1], Some(&[2, 1, 1])).unwrap();
/// assert_eq!(s2.axes()[0].1[0].stride, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule {
    axes: Vec<(Axis, Vec<AxisSpec>)>,
}

impl Schedule {
    /// A 1D schedule.
    #[must_use]
    pub fn one_d(layers: Vec<AxisSpec>) -> Self {
        Self {
            axes: vec![(Axis::Length, layers)],
        }
    }

    /// A 2D schedule, analysed as its height and width axes.
    #[must_use]
    pub fn two_d(layers: &[Spec2d]) -> Self {
        Self {
            axes: vec![
                (Axis::Height, layers.iter().map(|l| l.height).collect()),
                (Axis::Width, layers.iter().map(|l| l.width).collect()),
            ],
        }
    }

    /// A 1D schedule of one kernel size, stride 1, `same` padding: the classic setting.
    #[must_use]
    pub fn uniform(kernel: u64, rates: &[u64]) -> Self {
        Self::one_d(rates.iter().map(|&r| AxisSpec::new(kernel, r)).collect())
    }

    /// A 1D schedule from per-layer lists, as the CLI takes them: `kernels` has one entry
    /// (all layers) or one per rate; `strides` likewise (default 1). PadMode is `same`.
    ///
    /// # Errors
    /// [`ErrorKind::Empty`] without rates, [`ErrorKind::LengthMismatch`] for lists of other
    /// lengths. Zero values are reported by [`validate`](Self::validate).
    pub fn from_lists(
        kernels: &[u64],
        rates: &[u64],
        strides: Option<&[u64]>,
    ) -> Result<Self, ScheduleError> {
        let n = rates.len();
        if n == 0 {
            return Err(ScheduleError::new(ErrorKind::Empty));
        }
        let mut layers = Vec::with_capacity(n);
        for (i, &rate) in rates.iter().enumerate() {
            let kernel = per_layer(kernels, i, n, "kernels")?;
            let stride = match strides {
                Some(s) => per_layer(s, i, n, "strides")?,
                None => 1,
            };
            layers.push(AxisSpec::new(kernel, rate).with_stride(stride));
        }
        Ok(Self::one_d(layers))
    }

    /// The axes with their layers: one for 1D, height then width for 2D.
    #[must_use]
    pub fn axes(&self) -> &[(Axis, Vec<AxisSpec>)] {
        &self.axes
    }

    /// Number of layers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.axes.first().map_or(0, |a| a.1.len())
    }

    /// Whether the schedule has no layer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a 2D schedule has identical height and width axes (kernel, rate, stride and
    /// padding), so one axis's analysis speaks for both.
    #[must_use]
    pub fn axes_identical(&self) -> bool {
        self.axes.windows(2).all(|w| w[0].1 == w[1].1)
    }

    /// Checks every layer (zero sizes, overflow) and the layer-count limit.
    ///
    /// # Errors
    /// The first bad layer's error, with its index and axis; [`ErrorKind::Empty`];
    /// [`ErrorKind::TooManyLayers`].
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.is_empty() {
            return Err(ScheduleError::new(ErrorKind::Empty));
        }
        if self.len() > MAX_LAYERS {
            return Err(ScheduleError::new(ErrorKind::TooManyLayers {
                layers: self.len(),
                limit: MAX_LAYERS,
            }));
        }
        let two_d = self.axes.len() > 1;
        for (axis, layers) in &self.axes {
            for (i, l) in layers.iter().enumerate() {
                if let Err(mut e) = l.validate() {
                    e = e.at_layer(i);
                    if two_d {
                        e = e.on_axis(*axis);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Entry `i` of a per-layer list for a stack of `n` layers: the list holds one entry for
/// every layer, or one per layer.
///
/// # Errors
/// [`ErrorKind::LengthMismatch`] (naming the list `what`) for any other length.
pub(crate) const fn per_layer(
    list: &[u64],
    i: usize,
    n: usize,
    what: &'static str,
) -> Result<u64, ScheduleError> {
    match list.len() {
        1 => Ok(list[0]),
        len if len == n => Ok(list[i]),
        len => Err(ScheduleError::new(ErrorKind::LengthMismatch {
            what,
            expected: n,
            actual: len,
        })),
    }
}

/// As [`per_layer`], and `default` for an empty list.
///
/// # Errors
/// As [`per_layer`].
pub(crate) const fn per_layer_or(
    list: &[u64],
    i: usize,
    n: usize,
    default: u64,
    what: &'static str,
) -> Result<u64, ScheduleError> {
    if list.is_empty() {
        Ok(default)
    } else {
        per_layer(list, i, n, what)
    }
}

/// An overflow of the quantity `what`.
pub(crate) const fn overflow(what: &'static str) -> ScheduleError {
    ScheduleError::new(ErrorKind::Overflow { what })
}

//! Convolution descriptors and the naive reference convolution (the oracle every fast path
//! is tested against; never optimised).
//!
//! Layout: activations are NCHW `f32`, weights are PyTorch's `[C_out, C_in / groups, KH, KW]`.
//! A 1D convolution is a 2D one with `H = 1` and `KH = 1`.

use std::sync::Arc;

use crate::Error;
use crate::schedule::formula::{self, to_u64, to_usize};

/// The non-linearity applied after a convolution (fused into the kernel's epilogue by the
/// engine). Semantics follow PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Activation {
    /// No activation.
    #[default]
    Identity,
    /// `max(x, 0)` (NaN propagates).
    Relu,
    /// `x` for `x ≥ 0`, `slope·x` otherwise (PyTorch's default slope is 0.01).
    LeakyRelu(f32),
    /// The exact GELU, `x·Φ(x) = 0.5·x·(1 + erf(x/√2))`.
    Gelu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^(−x))`.
    Sigmoid,
    /// `x·sigmoid(x)` (SiLU / swish).
    Silu,
}

impl Activation {
    /// Applies the activation to one value.
    #[inline]
    #[must_use]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Identity => x,
            // PyTorch's relu propagates NaN; `f32::max` would swallow it.
            Self::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Self::LeakyRelu(slope) => {
                if x < 0.0 {
                    x * slope
                } else {
                    x
                }
            }
            Self::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
            Self::Tanh => x.tanh(),
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Silu => x / (1.0 + (-x).exp()),
        }
    }
}

/// One convolution layer, described at run time. `[h, w]` order on every per-axis array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvDesc {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Groups (`in_channels` = `out_channels` = `groups` is depthwise).
    pub groups: usize,
    /// Kernel size `[kh, kw]` (`kh = 1` for 1D).
    pub kernel: [usize; 2],
    /// Dilation (rate) `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Padding `[[top, bottom], [left, right]]`, zeros.
    pub padding: [[usize; 2]; 2],
    /// Whether the layer has a bias.
    pub bias: bool,
    /// Activation after the convolution.
    pub activation: Activation,
}

impl ConvDesc {
    /// A 2D layer with square kernel `k`, rate `d`, stride 1, `same` padding (PyTorch's
    /// split: `lo = total / 2`), one group, a bias, no activation.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// let d = ConvDesc::same_2d(64, 64, 3, 2);
    /// assert_eq!(d.padding, [[2, 2], [2, 2]]);
    /// assert_eq!(d.output_size([32, 32]).unwrap(), [32, 32]);
    /// ```
    ///
    /// A kernel and rate whose span `d·(k − 1)` overflows get `usize::MAX` padding on each
    /// side: [`validate`](Self::validate) rejects the descriptor (its effective kernel
    /// overflows).
    #[must_use]
    pub const fn same_2d(in_channels: usize, out_channels: usize, k: usize, d: usize) -> Self {
        let (lo, hi) = match span(k, d) {
            Some(total) => {
                let (lo, hi) = formula::same_padding(to_u64(total));
                // Both halves are at most `total`, a usize.
                (saturate(lo), saturate(hi))
            }
            None => (usize::MAX, usize::MAX),
        };
        Self {
            in_channels,
            out_channels,
            groups: 1,
            kernel: [k, k],
            dilation: [d, d],
            stride: [1, 1],
            padding: [[lo, hi], [lo, hi]],
            bias: true,
            activation: Activation::Identity,
        }
    }

    /// A 1D layer (`H = 1`) with kernel `k`, rate `d`, stride 1, causal padding
    /// (`d·(k − 1)` on the left, none on the right), a bias, no activation.
    ///
    /// A span `d·(k − 1)` that overflows gets `usize::MAX` padding, which
    /// [`validate`](Self::validate) rejects (the effective kernel overflows).
    #[must_use]
    pub const fn causal_1d(in_channels: usize, out_channels: usize, k: usize, d: usize) -> Self {
        let (left, right) = match span(k, d) {
            Some(total) => {
                let (lo, hi) = formula::causal_padding(to_u64(total));
                (saturate(lo), saturate(hi))
            }
            None => (usize::MAX, 0),
        };
        Self {
            in_channels,
            out_channels,
            groups: 1,
            kernel: [1, k],
            dilation: [1, d],
            stride: [1, 1],
            padding: [[0, 0], [left, right]],
            bias: true,
            activation: Activation::Identity,
        }
    }

    /// Checks the descriptor on its own (no input size): positive sizes, groups dividing
    /// both channel counts, and no overflow in the weight size.
    pub fn validate(&self) -> Result<(), Error> {
        let nonzero = [
            (self.in_channels, "in_channels"),
            (self.out_channels, "out_channels"),
            (self.groups, "groups"),
            (self.kernel[0], "kernel height"),
            (self.kernel[1], "kernel width"),
            (self.dilation[0], "dilation (height)"),
            (self.dilation[1], "dilation (width)"),
            (self.stride[0], "stride (height)"),
            (self.stride[1], "stride (width)"),
        ];
        for (v, what) in nonzero {
            if v == 0 {
                return Err(Error::Zero { what });
            }
        }
        if !self.in_channels.is_multiple_of(self.groups) {
            return Err(Error::Groups {
                what: "input",
                channels: self.in_channels,
                groups: self.groups,
            });
        }
        if !self.out_channels.is_multiple_of(self.groups) {
            return Err(Error::Groups {
                what: "output",
                channels: self.out_channels,
                groups: self.groups,
            });
        }
        self.weight_len()?;
        for axis in 0..2 {
            self.effective_kernel(axis)?;
        }
        Ok(())
    }

    /// Input channels per group.
    #[must_use]
    pub const fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Number of weights: `C_out · C_in/groups · KH · KW`.
    pub fn weight_len(&self) -> Result<usize, Error> {
        let ovf = Error::Overflow {
            what: "weight size",
        };
        if self.groups == 0 {
            return Err(Error::Zero { what: "groups" });
        }
        self.out_channels
            .checked_mul(self.in_per_group())
            .and_then(|v| v.checked_mul(self.kernel[0]))
            .and_then(|v| v.checked_mul(self.kernel[1]))
            .ok_or(ovf)
    }

    /// Effective kernel `d·(k − 1) + 1` on `axis` (0 = height, 1 = width).
    pub fn effective_kernel(&self, axis: usize) -> Result<usize, Error> {
        formula::effective_kernel(to_u64(self.kernel[axis]), to_u64(self.dilation[axis]))
            .and_then(to_usize)
            .ok_or(Error::Overflow {
                what: "effective kernel",
            })
    }

    /// Output size by PyTorch's rule, `floor((I + p_lo + p_hi − d·(k − 1) − 1) / s) + 1`.
    /// A layer whose effective kernel exceeds its padded input is an error.
    pub fn output_size(&self, input: [usize; 2]) -> Result<[usize; 2], Error> {
        self.validate()?;
        let mut out = [0; 2];
        for axis in 0..2 {
            if input[axis] == 0 {
                return Err(Error::Zero {
                    what: if axis == 0 {
                        "input height"
                    } else {
                        "input width"
                    },
                });
            }
            let [lo, hi] = self.padding[axis];
            let padded = formula::padded_input(to_u64(input[axis]), to_u64(lo), to_u64(hi))
                .and_then(to_usize)
                .ok_or(Error::Overflow {
                    what: "padded input",
                })?;
            let effective = self.effective_kernel(axis)?;
            // The stride was validated: `None` means the kernel is wider than the input.
            out[axis] =
                formula::output_size(to_u64(padded), to_u64(effective), to_u64(self.stride[axis]))
                    .and_then(to_usize)
                    .ok_or(Error::KernelTooLarge {
                        axis,
                        effective,
                        padded,
                    })?;
        }
        Ok(out)
    }

    /// Length of an NCHW buffer `batch × channels × h × w`, checked.
    pub fn nchw_len(batch: usize, channels: usize, hw: [usize; 2]) -> Result<usize, Error> {
        batch
            .checked_mul(channels)
            .and_then(|v| v.checked_mul(hw[0]))
            .and_then(|v| v.checked_mul(hw[1]))
            .ok_or(Error::Overflow {
                what: "tensor size",
            })
    }
}

/// `d·(k − 1)` in `usize`, `None` on overflow (the shared [`formula::span`]).
const fn span(k: usize, d: usize) -> Option<usize> {
    match formula::span(to_u64(k), to_u64(d)) {
        Some(total) => to_usize(total),
        None => None,
    }
}

/// A `u64` known to fit `usize` (a part of a `usize` total), saturating otherwise.
const fn saturate(v: u64) -> usize {
    match to_usize(v) {
        Some(v) => v,
        None => usize::MAX,
    }
}

fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::Length {
            what,
            expected,
            actual,
        })
    }
}

/// The naive reference convolution: direct loops, f32 accumulation in PyTorch's tap order
/// (channel, then kernel row, then kernel column), then bias, then the activation.
/// Returns the output spatial size. The oracle every fast path is tested against.
///
/// `bias` must be `Some` exactly when `desc.bias` is set.
///
/// ```
/// use dilated_core::{ConvDesc, conv::conv_reference};
/// // 1 channel, 1×5 input, kernel 3, rate 2, same padding: taps at −2, 0, +2.
/// let mut d = ConvDesc::same_2d(1, 1, 3, 2);
/// d.kernel = [1, 3];
/// d.dilation = [1, 2];
/// d.padding = [[0, 0], [2, 2]];
/// d.bias = false;
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0];
/// let w = [1.0, 1.0, 1.0];
/// let mut y = [0.0; 5];
/// let out = conv_reference(&d, 1, [1, 5], &x, &w, None, &mut y).unwrap();
/// assert_eq!(out, [1, 5]);
/// assert_eq!(y, [4.0, 6.0, 9.0, 6.0, 8.0]);
/// ```
pub fn conv_reference(
    desc: &ConvDesc,
    batch: usize,
    input_hw: [usize; 2],
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<[usize; 2], Error> {
    let out_hw = desc.output_size(input_hw)?;
    if batch == 0 {
        return Err(Error::Zero { what: "batch" });
    }
    check_len(
        "input",
        ConvDesc::nchw_len(batch, desc.in_channels, input_hw)?,
        input.len(),
    )?;
    check_len(
        "output",
        ConvDesc::nchw_len(batch, desc.out_channels, out_hw)?,
        output.len(),
    )?;
    check_len("weight", desc.weight_len()?, weight.len())?;
    match (desc.bias, bias) {
        (true, Some(b)) => check_len("bias", desc.out_channels, b.len())?,
        (false, None) => {}
        (true, None) => check_len("bias", desc.out_channels, 0)?,
        (false, Some(b)) => check_len("bias", 0, b.len())?,
    }
    let [ih, iw] = input_hw;
    let [oh, ow] = out_hw;
    let [kh, kw] = desc.kernel;
    let [dh, dw] = desc.dilation;
    let [sh, sw] = desc.stride;
    let (pt, pl) = (desc.padding[0][0], desc.padding[1][0]);
    let cpg_in = desc.in_per_group();
    let cpg_out = desc.out_channels / desc.groups;
    for n in 0..batch {
        for co in 0..desc.out_channels {
            let g = co / cpg_out;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0f32;
                    for ci in 0..cpg_in {
                        let c = g * cpg_in + ci;
                        for ky in 0..kh {
                            // Row in the unpadded input; outside it reads zero padding.
                            let y = (oy * sh + ky * dh).wrapping_sub(pt);
                            if y >= ih {
                                continue;
                            }
                            for kx in 0..kw {
                                let x = (ox * sw + kx * dw).wrapping_sub(pl);
                                if x >= iw {
                                    continue;
                                }
                                let xv = input[((n * desc.in_channels + c) * ih + y) * iw + x];
                                let wv = weight[((co * cpg_in + ci) * kh + ky) * kw + kx];
                                acc += xv * wv;
                            }
                        }
                    }
                    if let Some(b) = bias {
                        acc += b[co];
                    }
                    output[((n * desc.out_channels + co) * oh + oy) * ow + ox] =
                        desc.activation.apply(acc);
                }
            }
        }
    }
    Ok(out_hw)
}

/// One convolution with its weights (PyTorch layout `[C_out, C_in/groups, KH, KW]`).
///
/// The weights and bias are shared, not copied, between clones: a typed layer, the stack
/// that runs it and their clones all point at one allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub(crate) desc: ConvDesc,
    // `Arc<Vec<_>>` rather than `Arc<[_]>`: wrapping the caller's vector moves it, where
    // `Arc<[_]>` would copy it (briefly twice the weights while a large model loads).
    pub(crate) weight: Arc<Vec<f32>>,
    pub(crate) bias: Option<Arc<Vec<f32>>>,
}

impl Conv {
    /// Checks the descriptor and the weight and bias lengths against it.
    pub fn new(desc: ConvDesc, weight: Vec<f32>, bias: Option<Vec<f32>>) -> Result<Self, Error> {
        desc.validate()?;
        let expected = desc.weight_len()?;
        if weight.len() != expected {
            return Err(Error::Length {
                what: "weight",
                expected,
                actual: weight.len(),
            });
        }
        let expected_bias = if desc.bias { desc.out_channels } else { 0 };
        let actual_bias = bias.as_ref().map_or(0, Vec::len);
        if expected_bias != actual_bias || desc.bias != bias.is_some() {
            return Err(Error::Length {
                what: "bias",
                expected: expected_bias,
                actual: actual_bias,
            });
        }
        Ok(Self {
            desc,
            weight: Arc::new(weight),
            bias: bias.map(Arc::new),
        })
    }

    /// The layer's descriptor.
    #[must_use]
    pub fn desc(&self) -> &ConvDesc {
        &self.desc
    }

    /// The weights, `[C_out, C_in/groups, KH, KW]`.
    #[must_use]
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// The bias, if the layer has one.
    #[must_use]
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref().map(Vec::as_slice)
    }
}

/// Whether a layer (or stack) is 1D or 2D. It decides the weight layout in a safetensors
/// file (`[C_out, C_in/g, K]` or `[C_out, C_in/g, KH, KW]`) and the typed tensors it takes;
/// a 1D layer is run as a 2D one with `H = 1`, `KH = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rank {
    /// `Conv1d`: input `[n, C, L]`.
    One,
    /// `Conv2d`: input `[n, C, H, W]`.
    Two,
}

impl Rank {
    /// 1 or 2.
    #[must_use]
    pub const fn get(self) -> usize {
        match self {
            Self::One => 1,
            Self::Two => 2,
        }
    }
}

/// Checks that a descriptor is a valid 1D one (kernel height 1, no vertical padding or
/// stride).
pub(crate) fn check_rank(desc: &ConvDesc, rank: Rank) -> Result<(), Error> {
    if rank == Rank::One {
        let pairs = [
            ("kernel height of a 1D layer", desc.kernel[0]),
            ("stride (height) of a 1D layer", desc.stride[0]),
            ("dilation (height) of a 1D layer", desc.dilation[0]),
        ];
        for (what, v) in pairs {
            if v != 1 {
                return Err(Error::Shape {
                    what,
                    expected: 1,
                    actual: v,
                });
            }
        }
        for (what, v) in [
            ("padding (top) of a 1D layer", desc.padding[0][0]),
            ("padding (bottom) of a 1D layer", desc.padding[0][1]),
        ] {
            if v != 0 {
                return Err(Error::Shape {
                    what,
                    expected: 0,
                    actual: v,
                });
            }
        }
    }
    Ok(())
}

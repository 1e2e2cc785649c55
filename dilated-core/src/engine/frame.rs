//! One frame at a time: the kernels of [`CausalStream`](crate::stream::CausalStream).
//!
//! A [`FrameConv`] is one causal 1D convolution (kernel `[1, k]`, rate `d`, stride 1, left
//! padding `d·(k − 1)`) that computes one output frame (`C_out` values) per input frame
//! (`C_in` values) from a ring buffer of the last `d·(k − 1)` input frames. [`run_frame`]
//! runs one frame through a stack of them, compiled once per instruction set on the
//! engine's vector type and picked by [`Kernel::selected`], as the engine's kernels are.
//! The stream checks that its layers are 1D, stride 1 and causal before it builds them.

use super::simd::{LANES, V16, lane_bits};
use super::vmath::bias_act;
use crate::Error;
use crate::conv::{Activation, Conv};
use crate::kernel::Kernel;

/// One causal 1D convolution run frame by frame: weights laid out per tap, its ring buffer
/// and its output frame.
#[derive(Debug, Clone)]
pub(crate) struct FrameConv {
    in_channels: usize,
    in_per_group: usize,
    out_per_group: usize,
    kernel: usize,
    dilation: usize,
    activation: Activation,
    /// `[k][C_in][C_out / groups]`: for tap `t` and input channel `ci`, the weights to the
    /// output channels of `ci`'s group are contiguous, so each step is an `axpy` over
    /// independent outputs (which vectorises without reordering any sum).
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// `frames` slots of `in_channels` values, time-major; slot `head` holds the oldest.
    ring: Vec<f32>,
    frames: usize,
    head: usize,
    /// The layer's latest output frame, `C_out` values.
    out: Vec<f32>,
}

impl FrameConv {
    /// Lays out `layer`, a 1D stride-1 causal convolution (kernel `[1, k]`, rate `d`; the
    /// caller has checked the shape), for frame-by-frame runs: `d·(k − 1)` frames of
    /// history, zero at the start (the causal zero padding). Fails only on sizes that
    /// overflow.
    pub(crate) fn new(layer: &Conv) -> Result<Self, Error> {
        let desc = layer.desc();
        let (kernel, dilation) = (desc.kernel[1], desc.dilation[1]);
        let frames = dilation
            .checked_mul(kernel.saturating_sub(1))
            .ok_or(Error::Overflow {
                what: "ring buffer frames",
            })?;
        let ring_len = frames
            .checked_mul(desc.in_channels)
            .ok_or(Error::Overflow {
                what: "ring buffer size",
            })?;
        let in_per_group = desc.in_per_group();
        let out_channels = desc.out_channels;
        let out_per_group = out_channels / desc.groups;
        // PyTorch's [C_out][C_in/g][1][k] → [k][C_in][C_out/g]: output channel
        // co = g·(C_out/g) + j reads input channel g·(C_in/g) + ci.
        let src = layer.weight();
        let mut weight = vec![0.0; src.len()];
        for co in 0..out_channels {
            let (g, j) = (co / out_per_group, co % out_per_group);
            for ci in 0..in_per_group {
                let c = g * in_per_group + ci;
                for t in 0..kernel {
                    weight[(t * desc.in_channels + c) * out_per_group + j] =
                        src[(co * in_per_group + ci) * kernel + t];
                }
            }
        }
        Ok(Self {
            in_channels: desc.in_channels,
            in_per_group,
            out_per_group,
            kernel,
            dilation,
            activation: desc.activation,
            weight,
            bias: layer.bias().map(<[f32]>::to_vec),
            ring: vec![0.0; ring_len],
            frames,
            head: 0,
            out: vec![0.0; out_channels],
        })
    }

    /// Input channels: the length of a frame it reads.
    pub(crate) fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Kernel size `k`.
    pub(crate) fn kernel(&self) -> usize {
        self.kernel
    }

    /// Dilation (rate) `d`.
    pub(crate) fn dilation(&self) -> usize {
        self.dilation
    }

    /// Frames of history it keeps, `d·(k − 1)`.
    pub(crate) fn frames(&self) -> usize {
        self.frames
    }

    /// Floats of history, `frames · in_channels`.
    pub(crate) fn history_len(&self) -> usize {
        self.ring.len()
    }

    /// The latest output frame, `C_out` values (zeros before the first frame).
    pub(crate) fn out(&self) -> &[f32] {
        &self.out
    }

    /// Floats it holds: ring buffer, output frame, weights and biases (`None` on overflow).
    pub(crate) fn floats(&self) -> Option<usize> {
        self.ring
            .len()
            .checked_add(self.out.len())?
            .checked_add(self.weight.len())?
            .checked_add(self.bias.as_ref().map_or(0, Vec::len))
    }

    /// Output channels.
    pub(crate) fn out_channels(&self) -> usize {
        self.out.len()
    }

    /// Writes the history, oldest frame first, into the first [`frames`](Self::frames)
    /// columns of `x`, a channels-major `[C_in, cols]` buffer (`cols ≥ frames`).
    pub(crate) fn history_into(&self, x: &mut [f32], cols: usize) {
        let (cin, frames) = (self.in_channels, self.frames);
        for j in 0..frames {
            // Column `j` has lag `frames − j`: slot `head + j`, wrapped.
            let slot = (self.head + j) % frames;
            let src = &self.ring[slot * cin..(slot + 1) * cin];
            for (c, &v) in src.iter().enumerate() {
                x[c * cols + j] = v;
            }
        }
    }

    /// After a chunk: keeps the last [`frames`](Self::frames) columns of `x` (the layer's
    /// history followed by the chunk, channels-major `[C_in, cols]`) as the history, and
    /// column `cols_y − 1` of `y` (`[C_out, cols_y]`, the chunk's outputs) as the latest
    /// output frame — the state the same frames pushed one by one leave.
    pub(crate) fn keep_history(&mut self, x: &[f32], cols: usize, y: &[f32], cols_y: usize) {
        let (cin, frames) = (self.in_channels, self.frames);
        for j in 0..frames {
            let dst = &mut self.ring[j * cin..(j + 1) * cin];
            for (c, v) in dst.iter_mut().enumerate() {
                *v = x[c * cols + cols - frames + j];
            }
        }
        self.head = 0;
        if cols_y > 0 {
            for (c, v) in self.out.iter_mut().enumerate() {
                *v = y[c * cols_y + cols_y - 1];
            }
        }
    }

    /// Forgets the signal: zeroes the ring buffer and the output frame.
    pub(crate) fn reset(&mut self) {
        self.ring.fill(0.0);
        self.head = 0;
        self.out.fill(0.0);
    }

    /// Computes the output frame for input frame `x` (`in_channels` values), then records
    /// `x` in the ring buffer. Allocates nothing. Written over the engine's 16-lane vector
    /// type `V`, and inlined into [`run_frame`]'s instruction-set versions.
    ///
    /// # Safety
    /// The CPU supports `V`'s instruction set; `x` holds `in_channels` values.
    #[inline(always)]
    unsafe fn step<V: V16>(&mut self, x: &[f32], kernel: Kernel) {
        let cin = self.in_channels;
        let (cpi, cpo) = (self.in_per_group, self.out_per_group);
        // Tap t reads the input `(k − 1 − t)·d` frames back (lag 0: the current frame);
        // `head` is the oldest slot (lag = frames), lag 1 the newest.
        let frames = self.frames;
        let (ring, head, taps, dilation) = (&self.ring, self.head, self.kernel, self.dilation);
        let tap_src = |t: usize| -> &[f32] {
            let lag = (taps - 1 - t) * dilation;
            if lag == 0 {
                x
            } else {
                // `head < frames` and `0 < lag ≤ frames`: one conditional subtraction.
                let mut slot = head + frames - lag;
                if slot >= frames {
                    slot -= frames;
                }
                &ring[slot * cin..(slot + 1) * cin]
            }
        };
        // Per group, 16 outputs at a time (the last block of a group masked). A frame's
        // layers run one after the other, each waiting for the last, so latency rules:
        // the input channels go round four accumulators, whose chains of FMAs are a
        // quarter as long as one's.
        for g in 0..self.out.len() / cpo {
            let mut ob = 0;
            while ob < cpo {
                let n = (cpo - ob).min(LANES);
                let m = lane_bits(0, n);
                // SAFETY: register arithmetic, and masked loads of the `n` weights of
                // output channels `ob..ob + n` of the group for each (tap, input channel) —
                // inside `weight`, laid out `[k][C_in][C_out/g]` — and a store of the `n`
                // outputs of the block, inside `out`.
                unsafe {
                    let (mut a0, mut a1, mut a2, mut a3) =
                        (V::zero(), V::zero(), V::zero(), V::zero());
                    for t in 0..taps {
                        let src = &tap_src(t)[g * cpi..(g + 1) * cpi];
                        let w = self.weight.as_ptr().add((t * cin + g * cpi) * cpo + ob);
                        let row = |ci: usize| V::load_mask(w.add(ci * cpo), m);
                        let quads = src.chunks_exact(4);
                        let rest = quads.remainder();
                        for (q, xs) in quads.enumerate() {
                            let ci = 4 * q;
                            a0 = row(ci).fma(V::splat(xs[0]), a0);
                            a1 = row(ci + 1).fma(V::splat(xs[1]), a1);
                            a2 = row(ci + 2).fma(V::splat(xs[2]), a2);
                            a3 = row(ci + 3).fma(V::splat(xs[3]), a3);
                        }
                        for (j, &xv) in rest.iter().enumerate() {
                            a0 = row(cpi - rest.len() + j).fma(V::splat(xv), a0);
                        }
                    }
                    let sum = a0.add(a1).add(a2.add(a3));
                    sum.store_first(self.out.as_mut_ptr().add(g * cpo + ob), n);
                }
                ob += n;
            }
        }
        let (act, bias) = (self.activation, self.bias.as_deref());
        if kernel == Kernel::Reference {
            // The oracle keeps the scalar definitions.
            match bias {
                Some(b) => self
                    .out
                    .iter_mut()
                    .zip(b)
                    .for_each(|(x, b)| *x = act.apply(*x + b)),
                None => self.out.iter_mut().for_each(|x| *x = act.apply(*x)),
            }
        } else {
            // SAFETY: the caller's CPU support for `V`.
            unsafe { bias_act::<V>(act, bias, &mut self.out) };
        }
        if self.frames > 0 {
            self.ring[self.head * cin..(self.head + 1) * cin].copy_from_slice(x);
            self.head += 1;
            if self.head == self.frames {
                self.head = 0;
            }
        }
    }
}

/// Runs one frame through every layer of `layers`, which chain (each layer's input
/// channels are the previous one's output channels); the result is the last layer's
/// [`out`](FrameConv::out). `frame` holds the first layer's input channels. Compiled once
/// per instruction set and picked by [`Kernel::selected`] (so `DILATED_KERNEL` applies
/// here too): AVX-512, AVX2 + FMA, or the portable vector.
pub(crate) fn run_frame(layers: &mut [FrameConv], frame: &[f32]) {
    /// # Safety
    /// The CPU supports `V`'s instruction set.
    #[inline(always)]
    unsafe fn frame_with<V: V16>(layers: &mut [FrameConv], frame: &[f32], kernel: Kernel) {
        let Some((first, rest)) = layers.split_first_mut() else {
            return;
        };
        // SAFETY: the caller's CPU support; each layer's input is the previous one's
        // output frame, `in_channels` values (the layers chain, checked at construction).
        unsafe {
            first.step::<V>(frame, kernel);
            let mut prev = first;
            for layer in rest {
                layer.step::<V>(&prev.out, kernel);
                prev = layer;
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn avx512(layers: &mut [FrameConv], frame: &[f32]) {
        // SAFETY: the features are enabled on this function.
        unsafe { frame_with::<core::arch::x86_64::__m512>(layers, frame, Kernel::Avx512) };
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn avx2(layers: &mut [FrameConv], frame: &[f32]) {
        // SAFETY: the features are enabled on this function.
        unsafe { frame_with::<[core::arch::x86_64::__m256; 2]>(layers, frame, Kernel::Avx2) };
    }
    match Kernel::selected() {
        // SAFETY: `selected` only returns a family the CPU has.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { avx512(layers, frame) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { avx2(layers, frame) },
        // SAFETY: the portable vector needs no CPU feature.
        kernel @ (Kernel::Reference | Kernel::Portable) => unsafe {
            frame_with::<[f32; 16]>(layers, frame, kernel)
        },
        // Never selected off x86-64 (`is_available` is false there); the portable vector
        // is the fallback all the same.
        // SAFETY: the portable vector needs no CPU feature.
        #[cfg(not(target_arch = "x86_64"))]
        kernel @ (Kernel::Avx2 | Kernel::Avx512) => unsafe {
            frame_with::<[f32; 16]>(layers, frame, kernel)
        },
    }
}

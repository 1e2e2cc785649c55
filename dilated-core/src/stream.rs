//! Streaming inference for causal 1D stacks (WaveNet, TCN) with per-layer ring buffers.
//!
//! A stack of causal dilated 1D convolutions — stride 1, padding `d·(k − 1)` on the left and
//! none on the right — produces output frame `t` from input frames `t − rf + 1 ..= t` only,
//! where `rf = 1 + Σ d_l·(k_l − 1)` is the receptive field. So it can run on a live signal,
//! one frame at a time, with no look-ahead: [`CausalStream`] keeps, for every layer `l`, a
//! ring buffer of the last `d_l·(k_l − 1)` frames that layer has read (its `C_in` channels
//! each), and computes each new output frame from them. Streaming a signal frame by frame,
//! or in chunks of any size, gives the same output as running the whole signal through
//! [`Network::forward`], from the first frame on: the buffers start at zero, which is exactly
//! the causal zero padding.
//!
//! - Latency: 0 frames — the output for frame `t` is ready as soon as frame `t` is pushed.
//! - Memory: `Σ d_l·(k_l − 1)·C_in,l` floats of history ([`CausalStream::history_len`]),
//!   plus one activation frame per layer and a copy of the weights
//!   ([`CausalStream::memory_bytes`]), and the chunk path's engine networks.
//! - Cost per frame: `Σ C_out,l·(C_in,l / groups_l)·k_l` multiply-adds. Every buffer of
//!   the frame path is allocated by the constructor; [`CausalStream::push`] and short
//!   chunks allocate nothing.
//! - Chunks of [`ENGINE_MIN_FRAMES`] frames and more run through the whole-signal engine:
//!   each layer's history followed by the chunk, one read of the weights per tile of
//!   frames rather than per frame. Their buffers grow to the longest chunk
//!   ([`CausalStream::reserve_chunk`] grows them up front).
//!
//! ```
//! use dilated_core::{Activation, ConvDesc};
//! use dilated_core::conv::Conv;
//! use dilated_core::engine::Network;
//! use dilated_core::stream::CausalStream;
//!
//! // A small WaveNet-style stack: kernel 2, rates 1, 2, 4, one channel in, one out.
//! let mut layers = Vec::new();
//! for (i, rate) in [1, 2, 4].into_iter().enumerate() {
//!     let (cin, cout) = (if i == 0 { 1 } else { 2 }, if i == 2 { 1 } else { 2 });
//!     let mut desc = ConvDesc::causal_1d(cin, cout, 2, rate);
//!     desc.activation = if i == 2 { Activation::Identity } else { Activation::Tanh };
//!     let weight: Vec<f32> = (0..cout * cin * 2).map(|j| 0.25 * j as f32 - 0.5).collect();
//!     layers.push(Conv::new(desc, weight, Some(vec![0.1; cout]))?);
//! }
//! let net = Network::new(layers)?;
//! let mut stream = CausalStream::new(&net)?;
//! assert_eq!(stream.receptive_field(), 1 + 1 + 2 + 4);
//! assert_eq!(stream.latency(), 0);
//! // Ring buffers: 1, 2 and 4 frames of 1, 2 and 2 channels.
//! assert_eq!(stream.history_len(), 1 + 2 * 2 + 4 * 2);
//!
//! let signal: Vec<f32> = (0..32).map(|t| (t as f32 * 0.3).sin()).collect();
//! let (whole, _) = net.forward(1, [1, signal.len()], &signal)?;
//! for (t, &x) in signal.iter().enumerate() {
//!     let y = stream.push(&[x])?;
//!     assert!((y[0] - whole[t]).abs() <= 1e-5);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::Error;
use crate::conv::{Conv, ConvDesc};
use crate::engine::frame::{FrameConv, run_frame};
use crate::engine::{Network, Workspace};

/// Chunks of at least this many frames run through the whole-signal engine
/// ([`Network::forward_into`], every layer on its history followed by the chunk) rather
/// than frame by frame: a frame reads every weight of the stack once, a chunk reads them
/// once per tile of the engine's kernels, so long chunks run at the engine's speed
/// (`docs/perf.md`, "Streaming"). Both paths compute the same sums, in different orders:
/// outputs agree up to rounding.
pub const ENGINE_MIN_FRAMES: usize = 16;

/// Why a stack cannot be streamed, or why a push was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The layer is a 2D convolution (kernel height above 1, or padding on the height axis).
    #[error(
        "layer {layer} is 2D (kernel {kernel:?}, height padding {height_padding:?}): streaming runs 1D stacks, kernel [1, k] with no height padding"
    )]
    NotOneD {
        /// Index of the layer in the stack.
        layer: usize,
        /// Its kernel `[kh, kw]`.
        kernel: [usize; 2],
        /// Its padding on the height axis `[top, bottom]`.
        height_padding: [usize; 2],
    },
    /// The layer has a stride other than 1: it emits fewer frames than it reads, so one
    /// input frame does not give one output frame.
    #[error(
        "layer {layer} has stride {stride:?}: streaming needs stride 1, where every input frame gives one output frame"
    )]
    Stride {
        /// Index of the layer in the stack.
        layer: usize,
        /// Its stride `[sh, sw]`.
        stride: [usize; 2],
    },
    /// The layer's padding is not causal: it pads on the right (it reads future frames) or
    /// pads the left by something other than `d·(k − 1)` (its output is shifted in time).
    #[error(
        "layer {layer} is not causal: padding (left, right) = ({left}, {right}), streaming needs ({expected_left}, 0), i.e. d·(k − 1) on the left and nothing on the right"
    )]
    NotCausal {
        /// Index of the layer in the stack.
        layer: usize,
        /// Its left padding.
        left: usize,
        /// Its right padding.
        right: usize,
        /// The causal left padding `d·(k − 1)`.
        expected_left: usize,
    },
    /// A frame whose length is not the stack's input channel count.
    #[error("a frame has {actual} values, the stream expects {expected} (one per input channel)")]
    FrameLength {
        /// The stack's input channels.
        expected: usize,
        /// The frame's length.
        actual: usize,
    },
    /// A chunk whose length is not a whole number of frames.
    #[error(
        "a chunk has {actual} values, which is not a whole number of {channels}-channel frames"
    )]
    ChunkLength {
        /// The stack's input channels.
        channels: usize,
        /// The chunk's length.
        actual: usize,
    },
    /// An output buffer whose length does not match the chunk.
    #[error(
        "the output buffer has {actual} values, the chunk gives {expected} ({frames} frames of {channels} channels)"
    )]
    OutputLength {
        /// Frames in the chunk.
        frames: usize,
        /// The stack's output channels.
        channels: usize,
        /// `frames · channels`.
        expected: usize,
        /// The output buffer's length.
        actual: usize,
    },
    /// An error from the engine: an empty stack, layers that do not chain, a size overflow.
    #[error(transparent)]
    Engine(#[from] Error),
}

/// The ring buffer of one layer, as reported by [`CausalStream::buffers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferInfo {
    /// Index of the layer in the stack.
    pub layer: usize,
    /// Kernel size `k`.
    pub kernel: usize,
    /// Dilation (rate) `d`.
    pub dilation: usize,
    /// Channels per frame: the layer's input channels.
    pub channels: usize,
    /// Frames kept: `d·(k − 1)`.
    pub frames: usize,
}

impl BufferInfo {
    /// Floats in the buffer, `frames · channels`.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.frames * self.channels
    }

    /// Whether the buffer is empty (a `k = 1` layer keeps no history).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks that layer `index` can be streamed (1D, stride 1, causal) and lays it out for the
/// engine's frame kernels.
fn frame_conv(index: usize, layer: &Conv) -> Result<FrameConv, StreamError> {
    let desc: &ConvDesc = layer.desc();
    if desc.kernel[0] != 1 || desc.padding[0] != [0, 0] {
        return Err(StreamError::NotOneD {
            layer: index,
            kernel: desc.kernel,
            height_padding: desc.padding[0],
        });
    }
    if desc.stride != [1, 1] {
        return Err(StreamError::Stride {
            layer: index,
            stride: desc.stride,
        });
    }
    let (kernel, dilation) = (desc.kernel[1], desc.dilation[1]);
    let frames = dilation
        .checked_mul(kernel.saturating_sub(1))
        .ok_or(Error::Overflow {
            what: "ring buffer frames",
        })?;
    let [left, right] = desc.padding[1];
    if left != frames || right != 0 {
        return Err(StreamError::NotCausal {
            layer: index,
            left,
            right,
            expected_left: frames,
        });
    }
    Ok(FrameConv::new(layer)?)
}

/// Streaming inference for a stack of causal 1D dilated convolutions: one frame in, one
/// frame out, zero latency, no allocation after construction (chunk buffers aside: see
/// [`CausalStream::reserve_chunk`]). See the [module
/// docs](self) for the model and an example.
///
/// Built from a [`Network`] (or a slice of [`Conv`]s) whose layers are all 1D (kernel
/// `[1, k]`, no height padding), stride 1 and causal (padding `d·(k − 1)` on the left, 0 on
/// the right) — [`ConvDesc::causal_1d`] builds such layers. Any other layer is refused with
/// a [`StreamError`] that says why. Groups, biases and every
/// [`Activation`](crate::Activation) are supported.
///
/// Signals are the engine's 1D layout: the network's input is `[1, C_in, 1, T]`, i.e.
/// channels-major `[C_in, T]`.
#[derive(Debug, Clone)]
pub struct CausalStream {
    layers: Vec<FrameConv>,
    /// One input frame gathered from a channels-major chunk.
    frame: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
    receptive_field: usize,
    frames_seen: u64,
    /// The path of chunks of `engine_min` frames and more.
    chunked: Chunked,
    /// Frames from which a chunk takes the engine path ([`ENGINE_MIN_FRAMES`] unless set).
    engine_min: usize,
}

/// The whole-signal engine for chunks: per layer, a one-layer network of the same conv
/// with its causal padding removed, run on the layer's history followed by the chunk
/// (`d·(k − 1) + T` frames in, `T` out). The buffers grow to the longest chunk seen
/// ([`CausalStream::reserve_chunk`] grows them up front) and never shrink.
#[derive(Debug, Clone)]
struct Chunked {
    nets: Vec<Network>,
    /// One layer's history and chunk, channels-major `[C_in, frames + T]`.
    padded: Vec<f32>,
    /// The outputs of the layers before the last, alternately.
    mid: [Vec<f32>; 2],
    /// A time-major chunk and its outputs, channels-major.
    tm: [Vec<f32>; 2],
    ws: Workspace,
}

/// Grows `v` to at least `len` values (never shrinks it: a shorter chunk reuses it); an
/// error, not an abort, when the memory cannot be had.
fn grow(v: &mut Vec<f32>, len: usize) -> Result<(), Error> {
    if v.len() < len {
        v.try_reserve_exact(len - v.len())
            .map_err(|_| Error::Overflow {
                what: "chunk buffers",
            })?;
        v.resize(len, 0.0);
    }
    Ok(())
}

impl Chunked {
    /// The networks for `layers`, run as `template` runs (kernel family, threads, policy),
    /// or on this CPU's family and the current thread pool without one.
    fn new(layers: &[Conv], template: Option<&Network>) -> Result<Self, Error> {
        let nets = layers
            .iter()
            .map(|l| {
                let mut desc = *l.desc();
                desc.padding[1] = [0, 0];
                let valid = Conv::new(desc, l.weight().to_vec(), l.bias().map(<[f32]>::to_vec))?;
                match template {
                    Some(t) => t.sibling(vec![valid]),
                    None => Network::new(vec![valid]),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nets,
            padded: Vec::new(),
            mid: [Vec::new(), Vec::new()],
            tm: [Vec::new(), Vec::new()],
            ws: Workspace::new(),
        })
    }

    /// Grows the buffers for chunks of `t` frames.
    fn reserve(&mut self, layers: &[FrameConv], t: usize) -> Result<(), Error> {
        let overflow = Error::Overflow {
            what: "chunk buffers",
        };
        for (l, layer) in layers.iter().enumerate() {
            let cols = layer.frames().checked_add(t).ok_or(overflow.clone())?;
            let padded = layer
                .in_channels()
                .checked_mul(cols)
                .ok_or(overflow.clone())?;
            grow(&mut self.padded, padded)?;
            let out = layer
                .out_channels()
                .checked_mul(t)
                .ok_or(overflow.clone())?;
            // The last layer writes the caller's output (or `tm[1]`, below).
            if l + 1 < layers.len() {
                grow(&mut self.mid[l % 2], out)?;
            }
        }
        // A time-major chunk and its outputs, transposed.
        let (first, last) = (&layers[0], &layers[layers.len() - 1]);
        let tm_in = first.in_channels().checked_mul(t).ok_or(overflow.clone())?;
        let tm_out = last.out_channels().checked_mul(t).ok_or(overflow)?;
        grow(&mut self.tm[0], tm_in)?;
        grow(&mut self.tm[1], tm_out)
    }

    /// Sizes the engine's scratch for chunks of `t` frames (grown by [`Chunked::reserve`]):
    /// one run of each layer on whatever `padded` holds, into the buffer that layer writes
    /// in [`Chunked::run`] (`tm[1]` for the last); the streams' state is not touched.
    fn warm(&mut self, layers: &[FrameConv], t: usize) -> Result<(), Error> {
        let Self {
            nets,
            padded,
            mid,
            tm,
            ws,
        } = self;
        let last = layers.len() - 1;
        for (l, (layer, net)) in layers.iter().zip(nets.iter()).enumerate() {
            let cols = layer.frames() + t;
            let x = &padded[..layer.in_channels() * cols];
            let sink = if l == last {
                &mut tm[1]
            } else {
                &mut mid[l % 2]
            };
            net.forward_into(1, [1, cols], x, &mut sink[..layer.out_channels() * t], ws)?;
        }
        Ok(())
    }

    /// Runs `t` frames (`input`, `[C_in, t]`) through `layers` into `output` (`[C_out,
    /// t]`), leaving every layer's history and latest output frame as pushing the frames
    /// one by one would. The buffers must have been grown for `t` ([`Chunked::reserve`]).
    fn run(
        &mut self,
        layers: &mut [FrameConv],
        input: &[f32],
        t: usize,
        output: &mut [f32],
    ) -> Result<(), Error> {
        let Self {
            nets,
            padded,
            mid,
            ws,
            ..
        } = self;
        let last = layers.len() - 1;
        let [even, odd] = mid;
        for (l, (layer, net)) in layers.iter_mut().zip(nets.iter()).enumerate() {
            let (cin, cout, p) = (layer.in_channels(), layer.out_channels(), layer.frames());
            // Layer `l` reads what layer `l − 1` wrote: `mid[(l − 1) % 2]`.
            let (written, writing) = if l % 2 == 0 {
                (&*odd, &mut *even)
            } else {
                (&*even, &mut *odd)
            };
            let src = if l == 0 { input } else { &written[..cin * t] };
            let dst = if l == last {
                &mut *output
            } else {
                &mut writing[..cout * t]
            };
            let cols = p + t;
            let x = &mut padded[..cin * cols];
            layer.history_into(x, cols);
            for (c, row) in src.chunks_exact(t).enumerate() {
                x[c * cols + p..(c + 1) * cols].copy_from_slice(row);
            }
            net.forward_into(1, [1, cols], x, dst, ws)?;
            layer.keep_history(x, cols, dst, t);
        }
        Ok(())
    }
}

impl CausalStream {
    /// Builds the stream for `network`, copying its weights. Fails with a [`StreamError`]
    /// naming the first layer that is not 1D, not stride 1 or not causal.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use dilated_core::stream::{CausalStream, StreamError};
    ///
    /// let causal = Conv::new(ConvDesc::causal_1d(1, 1, 3, 2), vec![1.0; 3], Some(vec![0.0]))?;
    /// let mut same = ConvDesc::causal_1d(1, 1, 3, 2);
    /// same.padding = [[0, 0], [2, 2]]; // `same` padding reads two frames ahead
    /// let same = Conv::new(same, vec![1.0; 3], Some(vec![0.0]))?;
    ///
    /// assert!(CausalStream::new(&Network::new(vec![causal.clone()])?).is_ok());
    /// let err = CausalStream::new(&Network::new(vec![causal, same])?).unwrap_err();
    /// assert!(matches!(err, StreamError::NotCausal { layer: 1, left: 2, right: 2, .. }));
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn new(network: &Network) -> Result<Self, StreamError> {
        Self::build(network.layers(), Some(network))
    }

    /// Builds the stream for a stack given as layers, checking that they chain (each
    /// layer's input channels are the previous one's output channels) and that the stack is
    /// not empty, as [`Network::new`] does.
    pub fn from_layers(layers: &[Conv]) -> Result<Self, StreamError> {
        Self::build(layers, None)
    }

    /// [`from_layers`](Self::from_layers), the chunks run as `template` runs when given.
    fn build(layers: &[Conv], template: Option<&Network>) -> Result<Self, StreamError> {
        if layers.is_empty() {
            return Err(Error::Zero {
                what: "layer count",
            }
            .into());
        }
        for (i, pair) in layers.windows(2).enumerate() {
            let (prev, next) = (pair[0].desc(), pair[1].desc());
            if next.in_channels != prev.out_channels {
                return Err(Error::Chain {
                    layer: i + 1,
                    expected: next.in_channels,
                    actual: prev.out_channels,
                }
                .into());
            }
        }
        let frame_layers = layers
            .iter()
            .enumerate()
            .map(|(i, l)| frame_conv(i, l))
            .collect::<Result<Vec<_>, _>>()?;
        let chunked = Chunked::new(layers, template)?;
        let layers = frame_layers;
        let receptive_field = layers
            .iter()
            .try_fold(1usize, |rf, l| rf.checked_add(l.frames()))
            .ok_or(Error::Overflow {
                what: "receptive field",
            })?;
        // Total memory must be addressable too: checked once here, so the accessors can add
        // freely.
        let in_channels = layers[0].in_channels();
        let out_channels = layers[layers.len() - 1].out().len();
        let stream = Self {
            layers,
            frame: vec![0.0; in_channels],
            in_channels,
            out_channels,
            receptive_field,
            frames_seen: 0,
            chunked,
            engine_min: ENGINE_MIN_FRAMES,
        };
        stream.checked_memory_floats().ok_or(Error::Overflow {
            what: "stream memory",
        })?;
        Ok(stream)
    }

    /// Input channels: the length of a frame given to [`push`](Self::push).
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Output channels: the length of a frame returned by [`push`](Self::push).
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Receptive field of the stack, `1 + Σ d_l·(k_l − 1)`: output frame `t` depends on
    /// input frames `t − rf + 1 ..= t`.
    #[must_use]
    pub fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    /// Frames between pushing an input frame and getting its output: always 0 for a causal
    /// stack (the output for frame `t` is returned by the push of frame `t`).
    #[must_use]
    pub fn latency(&self) -> usize {
        0
    }

    /// Frames pushed since construction or the last [`reset`](Self::reset).
    #[must_use]
    pub fn frames_seen(&self) -> u64 {
        self.frames_seen
    }

    /// The ring buffer of every layer, in order.
    pub fn buffers(&self) -> impl ExactSizeIterator<Item = BufferInfo> + '_ {
        self.layers.iter().enumerate().map(|(layer, l)| BufferInfo {
            layer,
            kernel: l.kernel(),
            dilation: l.dilation(),
            channels: l.in_channels(),
            frames: l.frames(),
        })
    }

    /// Floats of history kept by the ring buffers, `Σ d_l·(k_l − 1)·C_in,l`: the state a
    /// causal stack needs to continue a signal.
    #[must_use]
    pub fn history_len(&self) -> usize {
        self.layers.iter().map(FrameConv::history_len).sum()
    }

    /// Bytes of the frame path's buffers: ring buffers, per-layer output frames, the input
    /// scratch frame, and its copy of the weights and biases. The chunk path
    /// ([`ENGINE_MIN_FRAMES`]) holds, besides, one engine network per layer (another copy
    /// of the weights, packed for the engine's kernels) and buffers of a few times the
    /// longest chunk's activations, not counted here.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        // Checked at construction.
        self.checked_memory_floats().unwrap_or(usize::MAX) * size_of::<f32>()
    }

    fn checked_memory_floats(&self) -> Option<usize> {
        self.layers
            .iter()
            .try_fold(self.frame.len(), |acc, l| acc.checked_add(l.floats()?))
            .filter(|floats| floats.checked_mul(size_of::<f32>()).is_some())
    }

    /// Runs chunks of `frames` frames and more through the whole-signal engine, shorter
    /// ones frame by frame ([`ENGINE_MIN_FRAMES`] by default; `usize::MAX`: every chunk
    /// frame by frame). Where the engine starts to pay depends on the stack: a wide one
    /// (WaveNet) gains tenfold at 16 frames, a narrow one with long histories (a small TCN)
    /// only from about 32 (docs/perf.md, "Streaming in chunks"). Results differ between
    /// the paths by rounding only.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::Network, stream::CausalStream};
    /// let layer = Conv::new(ConvDesc::causal_1d(1, 1, 2, 1), vec![1.0, 1.0], Some(vec![0.0]))?;
    /// let stream = CausalStream::new(&Network::new(vec![layer])?)?.with_engine_min_frames(32);
    /// assert_eq!(stream.engine_min_frames(), 32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_engine_min_frames(mut self, frames: usize) -> Self {
        self.engine_min = frames.max(1);
        self
    }

    /// Frames from which a chunk runs through the engine
    /// ([`with_engine_min_frames`](Self::with_engine_min_frames)).
    #[must_use]
    pub fn engine_min_frames(&self) -> usize {
        self.engine_min
    }

    /// Grows the buffers of the chunk path ([`ENGINE_MIN_FRAMES`]) for chunks of up to
    /// `frames` frames, so that [`push_chunk`](Self::push_chunk) allocates nothing for
    /// them on one thread (on several, rayon's job queue allocates a block now and then)
    /// — the engine's scratch included, which this sizes by running the networks once (the
    /// stream's state is left as it was). Without it, a chunk longer than any
    /// before grows the buffers on its first push.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::Network, stream::CausalStream};
    /// let layer = Conv::new(ConvDesc::causal_1d(2, 2, 2, 4), vec![0.5; 8], Some(vec![0.0; 2]))?;
    /// let mut stream = CausalStream::new(&Network::new(vec![layer])?)?;
    /// stream.reserve_chunk(256)?;
    /// let (x, mut y) = (vec![1.0; 2 * 256], vec![0.0; 2 * 256]);
    /// stream.push_chunk(&x, &mut y)?; // no allocation
    /// assert_eq!(y[255], 2.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve_chunk(&mut self, frames: usize) -> Result<(), StreamError> {
        if frames < self.engine_min {
            return Ok(());
        }
        self.chunked.reserve(&self.layers, frames)?;
        self.chunked.warm(&self.layers, frames)?;
        Ok(())
    }

    /// Forgets the signal: zeroes every ring buffer, as at construction.
    pub fn reset(&mut self) {
        for layer in &mut self.layers {
            layer.reset();
        }
        self.frames_seen = 0;
    }

    /// Pushes one time step, `C_in` values, and returns the output for it, `C_out` values.
    /// Allocates nothing.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use dilated_core::stream::{CausalStream, StreamError};
    ///
    /// // y[t] = x[t] + 10·x[t − 2]: kernel 2, rate 2.
    /// let layer = Conv::new(ConvDesc::causal_1d(1, 1, 2, 2), vec![10.0, 1.0], Some(vec![0.0]))?;
    /// let mut stream = CausalStream::new(&Network::new(vec![layer])?)?;
    /// let ys: Vec<f32> = [1.0, 2.0, 3.0, 4.0]
    ///     .iter()
    ///     .map(|&x| stream.push(&[x]).map(|y| y[0]))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(ys, [1.0, 2.0, 13.0, 24.0]);
    /// assert!(matches!(
    ///     stream.push(&[1.0, 2.0]),
    ///     Err(StreamError::FrameLength { expected: 1, actual: 2 })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, frame: &[f32]) -> Result<&[f32], StreamError> {
        if frame.len() != self.in_channels {
            return Err(StreamError::FrameLength {
                expected: self.in_channels,
                actual: frame.len(),
            });
        }
        run_frame(&mut self.layers, frame);
        self.frames_seen = self.frames_seen.wrapping_add(1);
        Ok(self.output())
    }

    /// The output frame of the last push (zeros before the first).
    #[must_use]
    pub fn output(&self) -> &[f32] {
        self.layers.last().map_or(&[], FrameConv::out)
    }

    /// Pushes a block of `T` frames given channels-major, `[C_in, T]` — the layout of the
    /// engine's 1D signals (`input[c·T + t]`) — and writes the outputs channels-major,
    /// `[C_out, T]`, into `output`. Returns `T`.
    ///
    /// Chunks of any sizes, mixed with single pushes, continue the same signal. Chunks of
    /// [`ENGINE_MIN_FRAMES`] frames or more run through the whole-signal engine (many times
    /// faster per frame on wide stacks); shorter ones frame by frame. Allocates nothing,
    /// except that a chunk longer than any before grows the chunk buffers once
    /// ([`reserve_chunk`](Self::reserve_chunk) grows them up front).
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use dilated_core::stream::CausalStream;
    ///
    /// // Two channels in, one out: y[t] = x0[t] + x1[t − 1].
    /// let layer = Conv::new(ConvDesc::causal_1d(2, 1, 2, 1), vec![0.0, 1.0, 1.0, 0.0], Some(vec![0.0]))?;
    /// let net = Network::new(vec![layer])?;
    /// let mut stream = CausalStream::new(&net)?;
    /// let mut y = [0.0; 3];
    /// // x0 = [1, 2, 3], x1 = [10, 20, 30]
    /// let frames = stream.push_chunk(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0], &mut y)?;
    /// assert_eq!(frames, 3);
    /// assert_eq!(y, [1.0, 12.0, 23.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_chunk(&mut self, input: &[f32], output: &mut [f32]) -> Result<usize, StreamError> {
        let frames = self.check_chunk(input, output)?;
        if frames >= self.engine_min {
            self.chunked.reserve(&self.layers, frames)?;
            self.chunked.run(&mut self.layers, input, frames, output)?;
            self.frames_seen = self.frames_seen.wrapping_add(frames as u64);
            return Ok(frames);
        }
        let Self { layers, frame, .. } = self;
        for t in 0..frames {
            for (c, v) in frame.iter_mut().enumerate() {
                *v = input[c * frames + t];
            }
            run_frame(layers, frame);
            let y = layers.last().map_or(&[][..], FrameConv::out);
            for (c, &v) in y.iter().enumerate() {
                output[c * frames + t] = v;
            }
        }
        self.frames_seen = self.frames_seen.wrapping_add(frames as u64);
        Ok(frames)
    }

    /// Pushes a block of `T` frames given time-major, `[T, C_in]` (frame after frame,
    /// `input[t·C_in + c]`), and writes the outputs time-major, `[T, C_out]`, into `output`.
    /// Returns `T`. Runs as [`push_chunk`](Self::push_chunk) does (through the engine from
    /// [`ENGINE_MIN_FRAMES`] frames, transposed in and out), and allocates as it does.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use dilated_core::stream::CausalStream;
    ///
    /// // Two channels in, one out: y[t] = x0[t] + x1[t − 1].
    /// let layer = Conv::new(ConvDesc::causal_1d(2, 1, 2, 1), vec![0.0, 1.0, 1.0, 0.0], Some(vec![0.0]))?;
    /// let mut stream = CausalStream::new(&Network::new(vec![layer])?)?;
    /// let mut y = [0.0; 3];
    /// stream.push_chunk_time_major(&[1.0, 10.0, 2.0, 20.0, 3.0, 30.0], &mut y)?;
    /// assert_eq!(y, [1.0, 12.0, 23.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_chunk_time_major(
        &mut self,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<usize, StreamError> {
        let frames = self.check_chunk(input, output)?;
        if frames >= self.engine_min {
            let (cin, cout) = (self.in_channels, self.out_channels);
            let Self {
                layers, chunked, ..
            } = self;
            // Channels-major copies of the chunk and its outputs (`Chunked::reserve` sized
            // them for `frames`).
            chunked.reserve(layers, frames)?;
            let mut x = core::mem::take(&mut chunked.tm[0]);
            let mut y = core::mem::take(&mut chunked.tm[1]);
            for (t, frame) in input.chunks_exact(cin).enumerate() {
                for (c, &v) in frame.iter().enumerate() {
                    x[c * frames + t] = v;
                }
            }
            let r = chunked.run(layers, &x[..cin * frames], frames, &mut y[..cout * frames]);
            if r.is_ok() {
                for (t, frame) in output.chunks_exact_mut(cout).enumerate() {
                    for (c, v) in frame.iter_mut().enumerate() {
                        *v = y[c * frames + t];
                    }
                }
            }
            chunked.tm = [x, y];
            r?;
        } else if frames > 0 {
            for (x, y) in input
                .chunks_exact(self.in_channels)
                .zip(output.chunks_exact_mut(self.out_channels))
            {
                run_frame(&mut self.layers, x);
                y.copy_from_slice(self.layers.last().map_or(&[][..], FrameConv::out));
            }
        }
        self.frames_seen = self.frames_seen.wrapping_add(frames as u64);
        Ok(frames)
    }

    /// Checks a chunk and its output buffer; returns the number of frames.
    fn check_chunk(&self, input: &[f32], output: &[f32]) -> Result<usize, StreamError> {
        if !input.len().is_multiple_of(self.in_channels) {
            return Err(StreamError::ChunkLength {
                channels: self.in_channels,
                actual: input.len(),
            });
        }
        let frames = input.len() / self.in_channels;
        let expected = frames
            .checked_mul(self.out_channels)
            .ok_or(Error::Overflow {
                what: "chunk output size",
            })?;
        if output.len() != expected {
            return Err(StreamError::OutputLength {
                frames,
                channels: self.out_channels,
                expected,
                actual: output.len(),
            });
        }
        Ok(frames)
    }
}

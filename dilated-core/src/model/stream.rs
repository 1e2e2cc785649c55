//! Frame-by-frame inference for causal 1D models (WaveNet, TCN): residual and skip paths
//! included.

use std::sync::Arc;

use super::error::ModelError;
use super::exec::{self, Aux, Layout, Mem};
use super::graph::ModelGraph;
use super::node::{Op, label};
use super::plan::{Chain, Space};
use super::run::{Model, ModelWorkspace};
use crate::Error;
use crate::conv::Rank;
use crate::engine::elementwise::Post;
use crate::kernel::Kernel;
use crate::stream::{CausalStream, ENGINE_MIN_FRAMES, StreamError};

/// Streams a causal 1D [`Model`] one frame at a time, or in chunks: one frame in, one
/// frame out, zero latency, no allocation after construction (chunk buffers aside: see
/// [`ModelStream::reserve_chunk`]).
///
/// Every conv must be causal (stride 1, padding `d·(k − 1)` on the left and none on the
/// right; a kernel-1 conv has none) and the model must hold no global pool (it reads the
/// whole signal). Each chain of convs runs as a [`CausalStream`] with ring buffers of
/// `d·(k − 1)` frames per conv; every other op (adds, gates, concats, batch norms, PReLUs)
/// acts on one frame. The buffers start at zero, which is the causal zero padding, so the
/// stream gives what [`Model::forward_nchw`] gives on the whole signal, from the first frame
/// on (up to the rounding of a different summation order).
///
/// Frames are `C_in` values; chunks are channels-major `[C_in, T]`, the engine's 1D layout.
/// A chunk of [`ENGINE_MIN_FRAMES`] frames or more runs through the whole-signal engine:
/// every op on the whole chunk, every chain on its history followed by the chunk — one read
/// of the weights per tile of frames rather than per frame (WaveNet: `docs/perf.md`,
/// "Streaming").
#[derive(Debug, Clone)]
pub struct ModelStream {
    graph: ModelGraph,
    aux: Arc<Vec<Aux>>,
    streams: Vec<CausalStream>,
    arena: Vec<f32>,
    out: Vec<f32>,
    frame: Vec<f32>,
    hw: Vec<[usize; 2]>,
    base: Vec<usize>,
    receptive_field: usize,
    frames_seen: u64,
    /// Sizes and memory of a chunk's run through the whole graph.
    chunk: ModelWorkspace,
    /// Frames from which a chunk takes the engine path.
    engine_min: usize,
    /// The model's thread pool, if it owns one (chunks run in it).
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Whether a chunk's standalone elementwise steps spread over the pool (a model of
    /// more than one thread); a frame's never do.
    parallel: bool,
    kernel: Kernel,
}

/// Names the conv a [`StreamError`] points at.
fn not_causal(graph: &ModelGraph, chain: &Chain, e: StreamError) -> ModelError {
    let layer = match &e {
        StreamError::NotOneD { layer, .. }
        | StreamError::Stride { layer, .. }
        | StreamError::NotCausal { layer, .. } => Some(*layer),
        StreamError::FrameLength { .. }
        | StreamError::ChunkLength { .. }
        | StreamError::OutputLength { .. }
        | StreamError::Engine(_) => None,
    };
    match layer.and_then(|l| chain.links.get(l)) {
        Some(link) => ModelError::NotCausal {
            op: label(graph.nodes(), link.conv),
            source: e,
        },
        None => ModelError::Stream(e),
    }
}

/// The receptive field of a causal 1D graph: 1 at the input, `+ d·(k − 1)` per conv, the
/// widest input at a join.
fn receptive_field(graph: &ModelGraph) -> Result<usize, ModelError> {
    let nodes = graph.nodes();
    let mut rf = vec![1usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let widest = node.inputs.iter().map(|v| rf[v.0]).max().unwrap_or(1);
        rf[i] = match &node.op {
            Op::Conv { desc, .. } => desc.dilation[1]
                .checked_mul(desc.kernel[1] - 1)
                .and_then(|h| h.checked_add(widest))
                .ok_or(Error::Overflow {
                    what: "receptive field",
                })?,
            Op::Broadcast => rf[node.inputs[0].0],
            Op::Input => 1,
            Op::BatchNorm { .. }
            | Op::Activation(_)
            | Op::Prelu { .. }
            | Op::Gate
            | Op::Add { .. }
            | Op::Concat
            | Op::GlobalAvgPool
            | Op::Dropout => widest,
        };
    }
    Ok(rf[graph.output().0])
}

/// The layout of one batch-1 run of `graph` at sizes `hw`, roots at `base`.
fn layout<'a>(
    graph: &'a ModelGraph,
    hw: &'a [[usize; 2]],
    base: &'a [usize],
    kernel: Kernel,
    parallel: bool,
) -> Layout<'a> {
    Layout {
        plan: &graph.inner.plan,
        hw,
        base,
        batch: 1,
        in_channels: graph.in_channels(),
        kernel,
        parallel,
    }
}

/// Runs the graph's steps once, every chain through its stream: one frame (`push`), or a
/// chunk (`push_chunk`) when `chunk`.
fn run_graph(
    lay: &Layout<'_>,
    aux: &[Aux],
    streams: &mut [CausalStream],
    mut mem: Mem<'_>,
    chunk: bool,
) -> Result<(), ModelError> {
    let mut conv = |chain: usize,
                    _batch: usize,
                    _hw: [usize; 2],
                    src: &[f32],
                    dst: &mut [f32],
                    post: Option<&Post<'_>>|
     -> Result<(), ModelError> {
        let s = &mut streams[chain];
        if chunk {
            s.push_chunk(src, dst)?;
        } else {
            dst.copy_from_slice(s.push(src)?);
        }
        // The stream's frames are `[C, frames]`: the post-op after the chain, as a pass.
        if let Some(p) = post {
            let c = s.out_channels();
            p.apply_nchw(lay.kernel, c, dst.len() / c.max(1), dst);
        }
        Ok(())
    };
    exec::run(lay, aux, &mut mem, &mut conv)
}

impl ModelStream {
    /// Builds the stream for `model`, copying its (folded) weights. Fails with
    /// [`ModelError::NotStreamable`] for a 2D model or a global pool, and
    /// [`ModelError::NotCausal`] naming the first conv that is not causal.
    pub fn new(model: &Model) -> Result<Self, ModelError> {
        let graph = model.graph.clone();
        let g = &graph.inner;
        if g.rank != Rank::One {
            return Err(ModelError::NotStreamable {
                op: "the model".to_owned(),
                reason: "it is 2D; streaming runs 1D models",
            });
        }
        for (i, node) in g.nodes.iter().enumerate() {
            if g.plan.live[i] && matches!(node.op, Op::GlobalAvgPool | Op::Broadcast) {
                return Err(ModelError::NotStreamable {
                    op: label(&g.nodes, i),
                    reason: "a global pool reads the whole signal",
                });
            }
        }
        let streams = g
            .plan
            .chains
            .iter()
            .zip(&model.nets)
            .map(|(chain, net)| CausalStream::new(net).map_err(|e| not_causal(&graph, chain, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut slot_len = vec![0usize; g.plan.slots];
        for r in &g.plan.roots {
            if let Space::Slot(k) = r.space {
                slot_len[k] = slot_len[k].max(r.channels);
            }
        }
        let mut offsets = Vec::with_capacity(slot_len.len());
        let mut total = 0usize;
        for len in slot_len {
            offsets.push(total);
            total = total.checked_add(len).ok_or(Error::Overflow {
                what: "stream memory",
            })?;
        }
        let base = g
            .plan
            .roots
            .iter()
            .map(|r| match r.space {
                Space::Output => 0,
                Space::Slot(k) => offsets[k],
            })
            .collect();
        let receptive_field = receptive_field(&graph)?;
        Ok(Self {
            aux: Arc::clone(&model.aux),
            streams,
            arena: vec![0.0; total],
            out: vec![0.0; graph.out_channels()],
            frame: vec![0.0; graph.in_channels()],
            hw: vec![[1, 1]; g.nodes.len()],
            base,
            receptive_field,
            frames_seen: 0,
            chunk: ModelWorkspace::new(),
            engine_min: ENGINE_MIN_FRAMES,
            pool: model.pool.clone(),
            parallel: model.threads != 1,
            kernel: model.kernel(),
            graph,
        })
    }

    /// Input channels: the length of a frame.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.graph.in_channels()
    }

    /// Output channels: the length of an output frame.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.graph.out_channels()
    }

    /// The receptive field: output frame `t` depends on input frames `t − rf + 1 ..= t`
    /// (the longest path: `1 + Σ d·(k − 1)` over its convs).
    #[must_use]
    pub fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    /// Floats of history the ring buffers keep, `Σ d·(k − 1)·C_in` over the convs.
    #[must_use]
    pub fn history_len(&self) -> usize {
        self.streams.iter().map(CausalStream::history_len).sum()
    }

    /// Frames pushed since construction or the last [`reset`](Self::reset).
    #[must_use]
    pub fn frames_seen(&self) -> u64 {
        self.frames_seen
    }

    /// Forgets the signal: zeroes every ring buffer.
    pub fn reset(&mut self) {
        for s in &mut self.streams {
            s.reset();
        }
        self.frames_seen = 0;
    }

    /// Runs chunks of `frames` frames and more through the whole-signal engine, shorter
    /// ones frame by frame ([`ENGINE_MIN_FRAMES`] by default, `usize::MAX`: never), as
    /// [`CausalStream::with_engine_min_frames`] does for every chain.
    #[must_use]
    pub fn with_engine_min_frames(mut self, frames: usize) -> Self {
        self.streams = self
            .streams
            .into_iter()
            .map(|s| s.with_engine_min_frames(frames))
            .collect();
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
    /// them on one thread (on several, rayon's job queue allocates a block now and then);
    /// the stream's state is left as it was. Without it, a chunk longer than any
    /// before grows them on its first push.
    pub fn reserve_chunk(&mut self, frames: usize) -> Result<(), ModelError> {
        if frames < self.engine_min_frames() {
            return Ok(());
        }
        self.chunk.prepare(&self.graph, 1, [1, frames])?;
        for s in &mut self.streams {
            s.reserve_chunk(frames)?;
        }
        Ok(())
    }

    /// Runs a chunk of `frames ≥ ENGINE_MIN_FRAMES` frames (`[C_in, frames]`) through the
    /// graph, every chain through its stream's engine path, into `output`.
    fn run_chunk(
        &mut self,
        input: &[f32],
        frames: usize,
        output: &mut [f32],
    ) -> Result<(), ModelError> {
        let Self {
            graph,
            aux,
            streams,
            chunk,
            kernel,
            parallel,
            ..
        } = self;
        chunk.prepare(graph, 1, [1, frames])?;
        let (arena, hw, base) = chunk.parts();
        let lay = layout(graph, hw, base, *kernel, *parallel);
        run_graph(
            &lay,
            aux,
            streams,
            Mem {
                input,
                output,
                arena,
            },
            true,
        )
    }

    /// Runs one frame: `external`, or the gathered `frame` buffer.
    fn run_one(&mut self, external: Option<&[f32]>) -> Result<(), ModelError> {
        let Self {
            graph,
            aux,
            streams,
            arena,
            out,
            frame,
            hw,
            base,
            ..
        } = self;
        let input: &[f32] = external.unwrap_or(frame);
        // The frame kernels run on the selected family (`engine::frame`).
        let lay = layout(graph, hw, base, Kernel::selected(), false);
        let mem = Mem {
            input,
            output: out,
            arena,
        };
        run_graph(&lay, aux, streams, mem, false)?;
        self.frames_seen = self.frames_seen.wrapping_add(1);
        Ok(())
    }

    /// Pushes one frame (`C_in` values) and returns the output frame for it (`C_out`
    /// values). Allocates nothing.
    pub fn push(&mut self, frame: &[f32]) -> Result<&[f32], ModelError> {
        if frame.len() != self.in_channels() {
            return Err(StreamError::FrameLength {
                expected: self.in_channels(),
                actual: frame.len(),
            }
            .into());
        }
        self.run_one(Some(frame))?;
        Ok(&self.out)
    }

    /// Pushes `T` frames given channels-major, `[C_in, T]`, and writes the outputs
    /// channels-major, `[C_out, T]`, into `output`. Returns `T`. Chunks of any sizes, mixed
    /// with single pushes, continue the same signal; from [`ENGINE_MIN_FRAMES`] frames they
    /// run through the engine. Allocates nothing, except that a chunk longer than any before
    /// grows the chunk buffers once ([`reserve_chunk`](Self::reserve_chunk) grows them up
    /// front).
    pub fn push_chunk(&mut self, input: &[f32], output: &mut [f32]) -> Result<usize, ModelError> {
        let (cin, cout) = (self.in_channels(), self.out_channels());
        if !input.len().is_multiple_of(cin) {
            return Err(StreamError::ChunkLength {
                channels: cin,
                actual: input.len(),
            }
            .into());
        }
        let frames = input.len() / cin;
        let expected = frames.checked_mul(cout).ok_or(Error::Overflow {
            what: "chunk output size",
        })?;
        if output.len() != expected {
            return Err(StreamError::OutputLength {
                frames,
                channels: cout,
                expected,
                actual: output.len(),
            }
            .into());
        }
        if frames >= self.engine_min_frames() {
            match self.pool.clone() {
                Some(pool) => pool.install(|| self.run_chunk(input, frames, output)),
                None => self.run_chunk(input, frames, output),
            }?;
            for (c, v) in self.out.iter_mut().enumerate() {
                *v = output[c * frames + frames - 1];
            }
            self.frames_seen = self.frames_seen.wrapping_add(frames as u64);
            return Ok(frames);
        }
        for t in 0..frames {
            for (c, v) in self.frame.iter_mut().enumerate() {
                *v = input[c * frames + t];
            }
            self.run_one(None)?;
            for (c, &v) in self.out.iter().enumerate() {
                output[c * frames + t] = v;
            }
        }
        Ok(frames)
    }
}

impl Model {
    /// A frame-by-frame stream of this causal 1D model (see [`ModelStream`]).
    pub fn stream(&self) -> Result<ModelStream, ModelError> {
        ModelStream::new(self)
    }
}

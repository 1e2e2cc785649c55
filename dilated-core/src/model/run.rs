//! [`Model`], a graph with its weights, and the [`ModelWorkspace`] a run reuses.

use std::path::Path;
use std::sync::Arc;

use super::error::ModelError;
use super::exec::{self, Aux, Layout, Mem};
use super::frozen::GraphInner;
use super::graph::ModelGraph;
use super::node::{Op, Parameter, label, tensor_name};
use super::params::{self, NodeParams};
use super::plan::Space;
use crate::Error;
use crate::conv::{Activation, Conv, ConvDesc};
use crate::engine::elementwise::Post;
use crate::engine::{self, Kernel, Network, Workspace};
use crate::weights::Weights;

/// Reusable memory for [`Model::forward_into`]: the scratch slots of the plan, the
/// engine's workspace and the per-run sizes. After the first call with a given shape,
/// later calls allocate nothing.
#[derive(Debug, Default, Clone)]
pub struct ModelWorkspace {
    arena: Vec<f32>,
    engine: Workspace,
    hw: Vec<[usize; 2]>,
    base: Vec<usize>,
    slot_len: Vec<usize>,
}

impl ModelWorkspace {
    /// An empty workspace; it grows on first use.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sizes of a run of `batch` items of `hw` (checking every join), places the
    /// slots, grows the arena if it must; returns the output's spatial size.
    pub(super) fn prepare(
        &mut self,
        graph: &ModelGraph,
        batch: usize,
        hw: [usize; 2],
    ) -> Result<[usize; 2], ModelError> {
        let g = &graph.inner;
        self.hw.clear();
        self.hw.resize(g.nodes.len(), [0, 0]);
        graph.sizes_into(hw, &mut self.hw)?;
        self.slot_len.clear();
        self.slot_len.resize(g.plan.slots, 0);
        for r in &g.plan.roots {
            let len = ConvDesc::nchw_len(batch, r.channels, self.hw[r.sized_by])?;
            if let Space::Slot(k) = r.space {
                self.slot_len[k] = self.slot_len[k].max(len);
            }
        }
        // Lengths → offsets.
        let mut total = 0usize;
        for len in &mut self.slot_len {
            let l = *len;
            *len = total;
            total = total.checked_add(l).ok_or(Error::Overflow {
                what: "model workspace",
            })?;
        }
        self.base.clear();
        self.base.extend(g.plan.roots.iter().map(|r| match r.space {
            Space::Output => 0,
            Space::Slot(k) => self.slot_len[k],
        }));
        if self.arena.len() < total {
            // An error, not an abort, when the memory cannot be had (a stream's
            // `reserve_chunk` asks for sizes no input backs).
            self.arena
                .try_reserve_exact(total - self.arena.len())
                .map_err(|_| Error::Overflow {
                    what: "model workspace",
                })?;
            self.arena.resize(total, 0.0);
        }
        Ok(self.hw[graph.output().0])
    }

    /// After [`prepare`](Self::prepare): the arena, every node's size and every root's
    /// offset in the arena.
    pub(super) fn parts(&mut self) -> (&mut [f32], &[[usize; 2]], &[usize]) {
        (&mut self.arena, &self.hw, &self.base)
    }
}

/// A graph with its weights, ready to run: one engine [`Network`] per chain of convs, the
/// elementwise steps between them. Cheap to clone (weights and plans are shared).
#[derive(Debug, Clone)]
pub struct Model {
    pub(super) graph: ModelGraph,
    pub(super) params: Arc<Vec<NodeParams>>,
    pub(super) aux: Arc<Vec<Aux>>,
    pub(super) nets: Vec<Network>,
    pub(super) pool: Option<Arc<rayon::ThreadPool>>,
    pub(super) threads: usize,
    kernel: Kernel,
}

/// Node `c`'s conv and weight-norm gain, or the error naming its missing weight.
fn conv_params<'a>(
    g: &GraphInner,
    params: &'a [NodeParams],
    c: usize,
) -> Result<(&'a Conv, Option<&'a [f32]>), ModelError> {
    params::conv_of(params, c).ok_or_else(|| {
        let prefix = if let Op::Conv { prefix, .. } = &g.nodes[c].op {
            prefix.as_str()
        } else {
            ""
        };
        Error::MissingTensor {
            name: tensor_name(prefix, "weight"),
        }
        .into()
    })
}

impl Model {
    /// Folds and packs the engine's weights for every chain.
    fn assemble(graph: &ModelGraph, params: Vec<NodeParams>) -> Result<Self, ModelError> {
        let g = &graph.inner;
        let kernel = Kernel::selected();
        let mut nets = Vec::with_capacity(g.plan.chains.len());
        for chain in &g.plan.chains {
            let mut convs: Vec<Conv> = Vec::with_capacity(chain.links.len());
            for link in &chain.links {
                let bn = link.bn.and_then(|b| {
                    let eps = if let Op::BatchNorm { eps, .. } = g.nodes[b].op {
                        eps
                    } else {
                        0.0
                    };
                    params::batch_norm_of(&params, b).map(|p| (p, eps))
                });
                let at = |source| ModelError::Op {
                    op: label(&g.nodes, link.conv),
                    source,
                };
                let folded = if link.merged.is_empty() {
                    let (conv, gain) = conv_params(g, &params, link.conv)?;
                    params::engine_conv(conv, gain, bn, link.act).map_err(at)?
                } else {
                    // A sum of convs: each folded alone, then one conv over the
                    // concatenation of their inputs, then what follows the sum.
                    let mut parts = Vec::with_capacity(link.merged.len() + 1);
                    for &c in std::iter::once(&link.conv).chain(&link.merged) {
                        let (conv, gain) = conv_params(g, &params, c)?;
                        parts.push(
                            params::engine_conv(conv, gain, None, Activation::Identity).map_err(
                                |source| ModelError::Op {
                                    op: label(&g.nodes, c),
                                    source,
                                },
                            )?,
                        );
                    }
                    let sum = params::sum_conv(&parts).map_err(at)?;
                    params::engine_conv(&sum, None, bn, link.act).map_err(at)?
                };
                convs.push(folded);
            }
            nets.push(Network::new_with_kernel(convs, kernel)?);
        }
        let aux = g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| match &node.op {
                Op::BatchNorm { eps, .. } => {
                    params::batch_norm_of(&params, i).map_or(Aux::None, |bn| {
                        let (scale, shift) = bn.affine(*eps);
                        Aux::Affine { scale, shift }
                    })
                }
                Op::Prelu { .. } => {
                    params::prelu_of(&params, i).map_or(Aux::None, |s| Aux::Slopes(s.to_vec()))
                }
                Op::Input
                | Op::Conv { .. }
                | Op::Activation(_)
                | Op::Gate
                | Op::Add { .. }
                | Op::Concat
                | Op::GlobalAvgPool
                | Op::Broadcast
                | Op::Dropout => Aux::None,
            })
            .collect();
        Ok(Self {
            graph: graph.clone(),
            params: Arc::new(params),
            aux: Arc::new(aux),
            nets,
            pool: None,
            threads: 0,
            kernel,
        })
    }

    /// PyTorch's default initialisation, drawn op by op from one generator seeded with
    /// `seed` (see [`init`](crate::init)): convs Kaiming-uniform (weight, then bias); a
    /// weight-normalised conv draws `v` so and sets `g = ‖v‖`, so its weight equals `v`;
    /// batch norms at identity statistics (weight 1, bias 0, mean 0, variance 1); PReLU
    /// slopes 0.25.
    pub fn init(graph: &ModelGraph, seed: u64) -> Result<Self, ModelError> {
        Self::assemble(graph, params::init(&graph.inner, seed)?)
    }

    /// Takes every op's tensors out of `weights`, strictly (see the [module docs](super)).
    pub fn from_weights(graph: &ModelGraph, weights: Weights) -> Result<Self, ModelError> {
        Self::assemble(graph, params::load(&graph.inner, weights)?)
    }

    /// Loads a safetensors file written from the twin's `state_dict`.
    pub fn from_safetensors(
        graph: &ModelGraph,
        path: impl AsRef<Path>,
    ) -> Result<Self, ModelError> {
        Self::from_weights(graph, Weights::from_safetensors(path)?)
    }

    /// Loads the bytes of a safetensors file.
    pub fn from_safetensors_bytes(graph: &ModelGraph, bytes: &[u8]) -> Result<Self, ModelError> {
        Self::from_weights(graph, Weights::from_safetensors_bytes(bytes)?)
    }

    /// Every tensor under the twin's names, as loaded or drawn (see the [module
    /// docs](super)); `num_batches_tracked` is not written (PyTorch's batch norm fills in a
    /// missing one when it loads a plain `state_dict`).
    pub fn to_weights(&self) -> Result<Weights, ModelError> {
        params::save(&self.graph.inner, &self.params)
    }

    /// The weights as safetensors bytes (`F32`, the twin's names).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, ModelError> {
        Ok(self.to_weights()?.to_safetensors_bytes()?)
    }

    /// Writes the weights to a safetensors file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        Ok(self.to_weights()?.save(path)?)
    }

    /// The graph.
    #[must_use]
    pub fn graph(&self) -> &ModelGraph {
        &self.graph
    }

    /// Every tensor's name and shape, as the twin's `state_dict` has them.
    #[must_use]
    pub fn parameters(&self) -> &[Parameter] {
        self.graph.parameters()
    }

    /// The engine networks, one per chain of convs, in the order they run (their weights
    /// folded; convs summed as one conv have their weights concatenated along the input
    /// channels, see the [module docs](super)).
    #[must_use]
    pub fn networks(&self) -> &[Network] {
        &self.nets
    }

    /// Runs on `threads` threads: 0 = the current rayon pool (the default), 1 = the calling
    /// thread only, more = one pool owned by the model (shared by clones) that every
    /// network runs in.
    pub fn with_threads(mut self, threads: usize) -> Result<Self, ModelError> {
        let (per_net, pool) = match threads {
            0 | 1 => (threads, None),
            n => (
                0,
                Some(Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .build()
                        .map_err(|e| Error::ThreadPool {
                            message: e.to_string(),
                        })?,
                )),
            ),
        };
        self.nets = self
            .nets
            .into_iter()
            .map(|n| n.with_threads(per_net))
            .collect::<Result<_, _>>()?;
        self.pool = pool;
        self.threads = threads;
        Ok(self)
    }

    /// Runs every conv with kernel family `kernel` (weights repacked for it); an error if
    /// this CPU lacks it.
    pub fn with_kernel(mut self, kernel: Kernel) -> Result<Self, ModelError> {
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel }.into());
        }
        self.nets = self
            .nets
            .into_iter()
            .map(|n| n.with_kernel(kernel))
            .collect::<Result<_, _>>()?;
        self.kernel = kernel;
        Ok(self)
    }

    /// Tunes every chain's engine network on the input it sees when the model runs on
    /// `batch` items of size `hw` ([`Network::tuned`], chain by chain, on the model's
    /// threads): the kernel choices timed per chain, the fastest kept. Returns the tuned
    /// model and each chain's [`Tuning`](engine::Tuning), in the order of
    /// [`networks`](Self::networks). Results differ from the untuned model's by rounding at
    /// most; fails as [`forward_into`](Self::forward_into) does on a bad size.
    ///
    /// ```
    /// use dilated_core::conv::{Activation, ConvDesc, Rank};
    /// use dilated_core::model::{ModelBuilder, WeightNorm};
    /// let mut b = ModelBuilder::new(Rank::Two, 8);
    /// let x = b.input();
    /// let y = b.conv(x, "body", ConvDesc::same_2d(8, 8, 3, 2), WeightNorm::None)?;
    /// let y = b.add(&[y, x], Activation::Relu)?;
    /// b.output(y)?;
    /// let model = b.build()?.init(0)?.with_threads(1)?;
    /// let (tuned, tunings) = model.tuned(1, [16, 16])?;
    /// assert_eq!(tunings.len(), tuned.networks().len());
    /// assert_eq!(tuned.networks()[0].choice(), tunings[0].choice);
    /// # Ok::<(), dilated_core::model::ModelError>(())
    /// ```
    pub fn tuned(
        mut self,
        batch: usize,
        hw: [usize; 2],
    ) -> Result<(Self, Vec<engine::Tuning>), ModelError> {
        let mut sizes = vec![[0, 0]; self.graph.nodes().len()];
        self.graph.sizes_into(hw, &mut sizes)?;
        let graph = self.graph.clone();
        let g = &graph.inner;
        let nets = std::mem::take(&mut self.nets);
        let mut tunings = Vec::with_capacity(nets.len());
        for (net, chain) in nets.into_iter().zip(&g.plan.chains) {
            let first = chain.links[0].conv;
            let in_hw = sizes[g.nodes[first].inputs[0].0];
            let run = move || net.tuned(batch, in_hw);
            let (net, tuning) = match &self.pool {
                Some(pool) => pool.install(run),
                None => run(),
            }?;
            self.nets.push(net);
            tunings.push(tuning);
        }
        Ok((self, tunings))
    }

    /// The kernel family the convs run.
    #[must_use]
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The number of threads a forward pass uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        match (&self.pool, self.threads) {
            (Some(p), _) => p.current_num_threads(),
            (None, 1) => 1,
            (None, _) => rayon::current_num_threads(),
        }
    }

    /// Output channels and spatial size for an input of `hw`, checking every op.
    pub fn output_shape(&self, hw: [usize; 2]) -> Result<(usize, [usize; 2]), ModelError> {
        let mut sizes = vec![[0, 0]; self.graph.nodes().len()];
        self.graph.sizes_into(hw, &mut sizes)?;
        Ok((self.graph.out_channels(), sizes[self.graph.output().0]))
    }

    /// The spatial size of `len` values of flat input holding `batch` items: the declared
    /// input size, one dynamic axis inferred from the length (a 1D model's length always
    /// is). Two dynamic axes cannot be inferred ([`Error::UnknownSize`]).
    pub fn input_hw(&self, batch: usize, len: usize) -> Result<[usize; 2], ModelError> {
        Ok(engine::flat_input_hw(
            self.graph.input_size(),
            self.graph.in_channels(),
            batch,
            len,
            "forward_nchw on a model whose height and width are both dynamic",
        )?)
    }

    /// Runs the model on flat NCHW data (`[n, C, L]` for 1D) of `batch` items, their size
    /// from [`input_hw`](Self::input_hw). Returns the flat output.
    pub fn forward_nchw(&self, batch: usize, input: &[f32]) -> Result<Vec<f32>, ModelError> {
        let hw = self.input_hw(batch, input.len())?;
        Ok(self.forward_nchw_sized(batch, hw, input)?.0)
    }

    /// Runs the model on flat NCHW data of `batch` items of size `hw`. Returns the flat
    /// output and its spatial size.
    pub fn forward_nchw_sized(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), ModelError> {
        let (c, out_hw) = self.output_shape(hw)?;
        engine::run_allocating(batch, c, out_hw, |out| {
            self.forward_into(batch, hw, input, out, &mut ModelWorkspace::new())
        })
    }

    /// Runs the model into `output` (`batch × C_out × OH × OW`), reusing `ws`; returns the
    /// output's spatial size. Allocates nothing once `ws` has grown for the shape.
    pub fn forward_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut ModelWorkspace,
    ) -> Result<[usize; 2], ModelError> {
        match &self.pool {
            Some(pool) => pool.install(|| self.run(batch, hw, input, output, ws)),
            None => self.run(batch, hw, input, output, ws),
        }
    }

    fn run(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut ModelWorkspace,
    ) -> Result<[usize; 2], ModelError> {
        if batch == 0 {
            return Err(Error::Zero { what: "batch" }.into());
        }
        let out_hw = ws.prepare(&self.graph, batch, hw)?;
        for (what, channels, size, len) in [
            ("input", self.graph.in_channels(), hw, input.len()),
            ("output", self.graph.out_channels(), out_hw, output.len()),
        ] {
            let expected = ConvDesc::nchw_len(batch, channels, size)?;
            if len != expected {
                return Err(Error::Length {
                    what,
                    expected,
                    actual: len,
                }
                .into());
            }
        }
        let ModelWorkspace {
            arena,
            engine,
            hw: sizes,
            base,
            ..
        } = ws;
        let lay = Layout {
            plan: &self.graph.inner.plan,
            hw: sizes,
            base,
            batch,
            in_channels: self.graph.in_channels(),
            kernel: self.kernel,
            parallel: self.threads != 1,
        };
        let mut mem = Mem {
            input,
            output,
            arena: &mut arena[..],
        };
        let nets = &self.nets;
        let mut conv = |chain: usize,
                        b: usize,
                        in_hw: [usize; 2],
                        src: &[f32],
                        dst: &mut [f32],
                        post: Option<&Post<'_>>|
         -> Result<(), ModelError> {
            nets[chain].forward_post(b, in_hw, src, dst, engine, post)?;
            Ok(())
        };
        exec::run(&lay, &self.aux, &mut mem, &mut conv)?;
        Ok(out_hw)
    }
}

impl ModelGraph {
    /// PyTorch's default initialisation, seeded (see [`Model::init`]).
    pub fn init(&self, seed: u64) -> Result<Model, ModelError> {
        Model::init(self, seed)
    }

    /// Loads weights (strict; see [`Model::from_weights`]).
    pub fn from_weights(&self, weights: Weights) -> Result<Model, ModelError> {
        Model::from_weights(self, weights)
    }

    /// Loads a safetensors file (strict).
    pub fn from_safetensors(&self, path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Model::from_safetensors(self, path)
    }

    /// Loads the bytes of a safetensors file (strict).
    pub fn from_safetensors_bytes(&self, bytes: &[u8]) -> Result<Model, ModelError> {
        Model::from_safetensors_bytes(self, bytes)
    }
}

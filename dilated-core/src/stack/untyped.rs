//! The untyped [`Stack`]: a run-time list of convolutions, each with the module index its
//! weights are stored under, compiled into one engine network; and [`ModuleSpec`], one
//! layer of it without weights.

use std::path::Path;

use super::run::run;
use crate::Error;
use crate::conv::{Conv, ConvDesc, Rank, check_rank};
use crate::engine::{Kernel, Network, Tuning, Workspace};
use crate::init::Init;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// One layer of a stack, without weights: where its weights are stored (`module`, the
/// index in the `nn.Sequential` twin), whether it is 1D or 2D, and its descriptor.
/// `const`-constructible, so a macro can write a `const` array of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModuleSpec {
    /// Module index: the weights are `{module}.weight` and `{module}.bias`.
    pub module: usize,
    /// 1D or 2D.
    pub rank: Rank,
    /// The convolution.
    pub desc: ConvDesc,
}

impl ModuleSpec {
    /// A layer spec.
    #[must_use]
    pub const fn new(module: usize, rank: Rank, desc: ConvDesc) -> Self {
        Self { module, rank, desc }
    }
}

/// A stack of convolutions with weights, each with its module index, compiled into one
/// [`engine::Network`](crate::engine::Network). Untyped: see [`TypedStack`](crate::stack::TypedStack) for the typed
/// shell. Built from [`ModuleSpec`]s with [`init`](Self::init),
/// [`from_safetensors`](Self::from_safetensors), [`from_safetensors_bytes`](Self::from_safetensors_bytes)
/// or [`from_weights`](Self::from_weights), or from engine layers with [`new`](Self::new).
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    rank: Rank,
    modules: Vec<usize>,
    net: Network,
}

impl Stack {
    /// Builds a stack from `(module index, layer)` pairs. Fails on an empty list, on module
    /// indices that do not strictly increase (two layers would share a name), on a layer
    /// that is not a valid `rank` layer, and on layers that do not chain.
    pub fn new(rank: Rank, layers: Vec<(usize, Conv)>) -> Result<Self, Error> {
        for pair in layers.windows(2) {
            if pair[1].0 <= pair[0].0 {
                return Err(Error::Shape {
                    what: "module index (must exceed the previous layer's)",
                    expected: pair[0].0.saturating_add(1),
                    actual: pair[1].0,
                });
            }
        }
        for (_, l) in &layers {
            check_rank(l.desc(), rank)?;
        }
        let modules = layers.iter().map(|(m, _)| *m).collect();
        let net = Network::new(layers.into_iter().map(|(_, l)| l).collect())?;
        Ok(Self { rank, modules, net })
    }

    fn rank_of(specs: &[ModuleSpec]) -> Result<Rank, Error> {
        let first = specs.first().ok_or(Error::Zero {
            what: "layer count",
        })?;
        for s in specs {
            if s.rank != first.rank {
                return Err(Error::Shape {
                    what: "layer rank (a stack is all 1D or all 2D)",
                    expected: first.rank.get(),
                    actual: s.rank.get(),
                });
            }
        }
        Ok(first.rank)
    }

    /// PyTorch's default initialisation (see [`init`](crate::init)), drawn layer by layer
    /// from one generator seeded with `seed`.
    pub fn init(specs: &[ModuleSpec], seed: u64) -> Result<Self, Error> {
        let rank = Self::rank_of(specs)?;
        let mut init = Init::new(seed);
        let layers = specs
            .iter()
            .map(|s| Ok((s.module, init.conv(s.desc)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Self::new(rank, layers)
    }

    /// Takes each layer's tensors out of `weights`; strict: any tensor left over is an
    /// [`Error::UnexpectedTensors`].
    pub fn from_weights(specs: &[ModuleSpec], weights: Weights) -> Result<Self, Error> {
        let (stack, names) = Self::from_weights_lenient(specs, weights)?;
        if names.is_empty() {
            Ok(stack)
        } else {
            Err(Error::UnexpectedTensors { names })
        }
    }

    /// Like [`from_weights`](Self::from_weights) but lenient about extra tensors, as
    /// PyTorch's `load_state_dict(strict=False)`: returns the stack and the names of the
    /// tensors it did not use. Missing tensors and wrong shapes are still errors.
    pub fn from_weights_lenient(
        specs: &[ModuleSpec],
        mut weights: Weights,
    ) -> Result<(Self, Vec<String>), Error> {
        let rank = Self::rank_of(specs)?;
        let layers = specs
            .iter()
            .map(|s| Ok((s.module, weights.take_conv(s.module, s.desc, s.rank)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok((Self::new(rank, layers)?, weights.into_remaining()))
    }

    /// Loads a safetensors file written by PyTorch (see [`weights`](crate::weights)).
    pub fn from_safetensors(specs: &[ModuleSpec], path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_weights(specs, Weights::from_safetensors(path)?)
    }

    /// Loads the bytes of a safetensors file.
    pub fn from_safetensors_bytes(specs: &[ModuleSpec], bytes: &[u8]) -> Result<Self, Error> {
        Self::from_weights(specs, Weights::from_safetensors_bytes(bytes)?)
    }

    /// The weights under their PyTorch names.
    pub fn to_weights(&self) -> Result<Weights, Error> {
        let mut w = Weights::new();
        for (m, l) in self.modules.iter().zip(self.net.layers()) {
            w.insert_conv(*m, l, self.rank)?;
        }
        Ok(w)
    }

    /// The weights as safetensors bytes (`F32`, PyTorch names).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, Error> {
        self.to_weights()?.to_safetensors_bytes()
    }

    /// Writes the weights to a safetensors file (`F32`, PyTorch names).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.to_weights()?.save(path)
    }

    /// Runs on `threads` threads (see
    /// [`Network::with_threads`](crate::engine::Network::with_threads): 0 = the current
    /// rayon pool, the default; 1 = the calling thread only; more = a pool of its own).
    pub fn with_threads(self, threads: usize) -> Result<Self, Error> {
        Ok(Self {
            net: self.net.with_threads(threads)?,
            ..self
        })
    }

    /// Times the engine's kernel choices on `batch` inputs of size `hw` and runs with the
    /// fastest ([`Network::tuned`]).
    ///
    /// ```
    /// use dilated_core::{ModuleSpec, Stack, conv::{ConvDesc, Rank}};
    /// let stack = Stack::init(&[ModuleSpec::new(0, Rank::Two, ConvDesc::same_2d(4, 8, 3, 2))], 0)?;
    /// let (tuned, tuning) = stack.with_threads(1)?.tuned(1, [20, 20])?;
    /// assert_eq!(tuned.network().choice(), tuning.choice);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn tuned(self, batch: usize, hw: [usize; 2]) -> Result<(Self, Tuning), Error> {
        let (net, tuning) = self.net.tuned(batch, hw)?;
        Ok((Self { net, ..self }, tuning))
    }

    /// Runs with kernel family `kernel` (an error if this CPU lacks it).
    pub fn with_kernel(self, kernel: Kernel) -> Result<Self, Error> {
        Ok(Self {
            net: self.net.with_kernel(kernel)?,
            ..self
        })
    }

    /// 1D or 2D.
    #[must_use]
    pub fn rank(&self) -> Rank {
        self.rank
    }

    /// The layer specs (module index, rank, descriptor), in order.
    #[must_use]
    pub fn specs(&self) -> Vec<ModuleSpec> {
        self.modules
            .iter()
            .zip(self.net.layers())
            .map(|(m, l)| ModuleSpec::new(*m, self.rank, *l.desc()))
            .collect()
    }

    /// The engine network.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The layers, in order.
    #[must_use]
    pub fn layers(&self) -> &[Conv] {
        self.net.layers()
    }

    /// The module indices, in order.
    #[must_use]
    pub fn modules(&self) -> &[usize] {
        &self.modules
    }

    /// Input channels.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.net.in_channels()
    }

    /// Output channels.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.net.out_channels()
    }

    /// Output spatial size for an input of `hw` (`[1, L]` for 1D).
    pub fn output_size(&self, hw: [usize; 2]) -> Result<[usize; 2], Error> {
        self.net.output_size(hw)
    }

    /// Runs the stack on flat NCHW data of `batch` items of size `hw`. Returns the output
    /// and its spatial size.
    pub fn forward_nchw(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Error> {
        self.net.forward(batch, hw, input)
    }

    /// Runs the stack into `output`, reusing `ws`; returns the output spatial size.
    pub fn forward_nchw_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<[usize; 2], Error> {
        self.net.forward_into(batch, hw, input, output, ws)
    }

    /// Runs the stack on an untyped tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, Error> {
        run(&self.net, x)
    }
}

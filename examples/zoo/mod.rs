//! The zoo's parts, shared by the example (`examples/zoo.rs`, a three-line `main`) and by
//! `tests/zoo.rs` (which includes this directory as a module and calls the command line
//! in-process, besides running the built binary):
//!
//! - [`nets`]: the `dilated_stack!` declarations, realistic and reduced;
//! - [`entries`]: the table of entries (name, source, both variants);
//! - [`tensors`]: the `run` command's input and output files;
//! - [`analysis`]: the `check` command, through `dilated::schedule::graph`;
//! - [`cli`]: the command line.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by the example and the test, each of which uses some of it"
)]

pub(crate) mod analysis;
pub(crate) mod cli;
pub(crate) mod entries;
pub(crate) mod nets;
pub(crate) mod tensors;

use std::time::Instant;

use dilated::conv::Rank;
use dilated::engine::{Tuning, Workspace};
use dilated::stack::ModuleSpec;
use dilated_core::model::{
    Model, ModelBuilder, ModelGraph, ModelStream, ModelWorkspace, WeightNorm,
};

/// A network of the zoo, whatever its generated type: a block stack runs on a
/// [`Model`], the context module (a chain) on a [`dilated::Stack`].
pub(crate) trait Net: Send + Sync {
    /// Runs `batch` items of spatial size `hw` (flat NCHW; `[1, L]` in 1D): the flat
    /// output and its spatial size.
    fn forward(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), String>;

    /// Output channels and spatial size for an input of `hw`.
    fn output_shape(&self, hw: [usize; 2]) -> Result<(usize, [usize; 2]), String>;

    /// The same network on `threads` threads (0: every core).
    fn with_threads(self: Box<Self>, threads: usize) -> Result<Box<dyn Net>, String>;

    /// Times `runs` calls of `forward_into` (no allocation once warm) after `warmup`
    /// untimed ones: milliseconds per call.
    fn time_forward_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, String>;

    /// The same network with its engine's kernel choices timed on `batch` inputs of `hw`
    /// and the fastest kept (`Network::tuned`, per chain of convs), and each chain's
    /// tuning.
    fn tuned(
        self: Box<Self>,
        batch: usize,
        hw: [usize; 2],
    ) -> Result<(Box<dyn Net>, Vec<Tuning>), String>;

    /// The weights under the twin's names.
    fn to_safetensors_bytes(&self) -> Result<Vec<u8>, String>;

    /// The runtime model, for a block stack.
    fn model(&self) -> Option<&Model>;

    /// A frame-by-frame stream (causal 1D block stacks).
    fn stream(&self) -> Result<ModelStream, String> {
        let model = self
            .model()
            .ok_or_else(|| "a chain stack streams through `dilated::stream`".to_owned())?;
        ModelStream::new(model).map_err(|e| e.to_string())
    }
}

/// Output length of `batch` items of `channels × hw`, checked.
fn nchw_len(batch: usize, channels: usize, hw: [usize; 2]) -> Result<usize, String> {
    batch
        .checked_mul(channels)
        .and_then(|n| n.checked_mul(hw[0]))
        .and_then(|n| n.checked_mul(hw[1]))
        .ok_or_else(|| "the output size overflows".to_owned())
}

/// Times `f` `runs` times after `warmup` untimed calls.
fn timed(
    warmup: usize,
    runs: usize,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    for _ in 0..warmup {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        f()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

impl Net for Model {
    fn forward(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), String> {
        self.forward_nchw_sized(batch, hw, input)
            .map_err(|e| e.to_string())
    }

    fn output_shape(&self, hw: [usize; 2]) -> Result<(usize, [usize; 2]), String> {
        Model::output_shape(self, hw).map_err(|e| e.to_string())
    }

    fn with_threads(self: Box<Self>, threads: usize) -> Result<Box<dyn Net>, String> {
        Ok(Box::new(
            Model::with_threads(*self, threads).map_err(|e| e.to_string())?,
        ))
    }

    fn time_forward_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, String> {
        let (c, out_hw) = Net::output_shape(self, hw)?;
        let mut output = vec![0.0; nchw_len(batch, c, out_hw)?];
        let mut ws = ModelWorkspace::new();
        timed(warmup, runs, || {
            self.forward_into(batch, hw, input, &mut output, &mut ws)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn tuned(
        self: Box<Self>,
        batch: usize,
        hw: [usize; 2],
    ) -> Result<(Box<dyn Net>, Vec<Tuning>), String> {
        let (model, tunings) = Model::tuned(*self, batch, hw).map_err(|e| e.to_string())?;
        Ok((Box::new(model), tunings))
    }

    fn to_safetensors_bytes(&self) -> Result<Vec<u8>, String> {
        Model::to_safetensors_bytes(self).map_err(|e| e.to_string())
    }

    fn model(&self) -> Option<&Model> {
        Some(self)
    }
}

impl Net for dilated::Stack {
    fn forward(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), String> {
        let (c, out_hw) = Net::output_shape(self, hw)?;
        let mut output = vec![0.0; nchw_len(batch, c, out_hw)?];
        let mut ws = Workspace::new();
        self.network()
            .forward_into(batch, hw, input, &mut output, &mut ws)
            .map_err(|e| e.to_string())?;
        Ok((output, out_hw))
    }

    fn output_shape(&self, hw: [usize; 2]) -> Result<(usize, [usize; 2]), String> {
        let net = self.network();
        let out_hw = net.output_size(hw).map_err(|e| e.to_string())?;
        Ok((net.out_channels(), out_hw))
    }

    fn with_threads(self: Box<Self>, threads: usize) -> Result<Box<dyn Net>, String> {
        Ok(Box::new(
            dilated::Stack::with_threads(*self, threads).map_err(|e| e.to_string())?,
        ))
    }

    fn time_forward_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, String> {
        let (c, out_hw) = Net::output_shape(self, hw)?;
        let mut output = vec![0.0; nchw_len(batch, c, out_hw)?];
        let mut ws = Workspace::new();
        let net = self.network();
        timed(warmup, runs, || {
            net.forward_into(batch, hw, input, &mut output, &mut ws)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn tuned(
        self: Box<Self>,
        batch: usize,
        hw: [usize; 2],
    ) -> Result<(Box<dyn Net>, Vec<Tuning>), String> {
        let (stack, tuning) = dilated::Stack::tuned(*self, batch, hw).map_err(|e| e.to_string())?;
        Ok((Box::new(stack), vec![tuning]))
    }

    fn to_safetensors_bytes(&self) -> Result<Vec<u8>, String> {
        dilated::Stack::to_safetensors_bytes(self).map_err(|e| e.to_string())
    }

    fn model(&self) -> Option<&Model> {
        None
    }
}

/// A chain stack's layers as a graph of convs (module paths `"0"`, `"2"`, …), for the
/// analysis.
pub(crate) fn chain_graph(layers: &[ModuleSpec]) -> Result<ModelGraph, String> {
    let err = |e: dilated_core::model::ModelError| e.to_string();
    let first = layers
        .first()
        .ok_or_else(|| "a chain without layers".to_owned())?;
    let mut b = ModelBuilder::new(first.rank, first.desc.in_channels);
    let mut v = b.input();
    for l in layers {
        v = b
            .conv(v, &l.module.to_string(), l.desc, WeightNorm::None)
            .map_err(err)?;
    }
    b.output(v).map_err(err)?;
    b.build().map_err(err)
}

/// "1D" or "2D".
pub(crate) fn rank_of(rank: Rank) -> &'static str {
    match rank {
        Rank::One => "1D",
        Rank::Two => "2D",
    }
}

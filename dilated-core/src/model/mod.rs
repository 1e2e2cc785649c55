//! Graph networks: residual, parallel, gated and skip blocks, built op by op, loaded from a
//! PyTorch `state_dict` and run on the engine.
//!
//! Real dilated networks are graphs, not chains: WaveNet's gated residual blocks and their
//! summed skip outputs, TCN's residual blocks, DeepLab v3's ASPP (parallel branches and an
//! image-pooling branch, concatenated), ESPNet's hierarchical fusion. A [`ModelBuilder`]
//! declares such a graph explicitly, every module named by its full `state_dict` path
//! prefix (`"blocks.3.dilated"`), and checks each op as it is added (channels, spatial sizes
//! where the input size is fixed, descriptors, tensor names): typed [`ModelError`]s, never a
//! panic. [`ModelBuilder::build`] freezes it into a [`ModelGraph`] and plans its run;
//! [`ModelGraph::init`], [`ModelGraph::from_weights`] and
//! [`ModelGraph::from_safetensors`] give it weights, making a [`Model`].
//!
//! # Ops and their tensors
//!
//! | op | tensors (under `prefix.`) |
//! |---|---|
//! | [`conv`](ModelBuilder::conv) | `weight`, `bias`; weight-normalised ([`WeightNorm`]): `parametrizations.weight.original0/1` or `weight_g`/`weight_v` |
//! | [`batch_norm`](ModelBuilder::batch_norm) | `weight`, `bias`, `running_mean`, `running_var` (`num_batches_tracked` accepted, ignored) |
//! | [`prelu`](ModelBuilder::prelu) | `weight` (`[C]` or `[1]`) |
//! | [`activation`](ModelBuilder::activation), [`gate`](ModelBuilder::gate), [`add`](ModelBuilder::add), [`concat`](ModelBuilder::concat), [`global_avg_pool`](ModelBuilder::global_avg_pool), [`broadcast`](ModelBuilder::broadcast), [`dropout`](ModelBuilder::dropout) | none |
//!
//! Loading is strict: a missing tensor, a tensor of the wrong shape and a tensor no op
//! takes are errors naming it by its full path. A weight-normalised conv loads from either
//! form; both forms, or a plain `weight` beside one, is an error naming the tensor.
//! [`Model::to_weights`] writes every tensor as it was loaded or drawn (a weight-normalised
//! conv its `g` and `v`, in its declared form; a batch norm its four statistics, even when
//! the engine runs it folded into the conv before it): reloading the bytes, here or into the
//! twin, gives the same function bit for bit. Only the engine's copy of the weights is
//! folded (`w = g · v / ‖v‖`, then `w · γ/√(var + eps)`, in f64, rounded once), so a conv
//! with a weight norm or a folded batch norm holds its weights twice; a plain one shares a
//! single copy with the engine.
//!
//! # What runs
//!
//! - **Fused into the convs.** A batch norm that is its conv's only consumer is folded into
//!   the conv's weights; an activation that is then the only consumer runs in the engine's
//!   epilogue; a PReLU that is the only consumer runs in the engine's pass after the conv. A conv whose output (after what it absorbed) has a single consumer, another
//!   conv, joins it in one engine [`Network`](crate::engine::Network), which keeps its
//!   fused stack paths. Dropouts vanish.
//! - **Residual adds inside the conv.** A two-input add of a conv's output (read by that
//!   add only) and a value already computed when the conv runs — WaveNet's `h + r`, the
//!   TCN's and ResNet's `relu(block(x) + shortcut)`, ESPNet's hierarchical adds — runs
//!   inside the conv's engine call: a pass over the conv's output right after its last
//!   layer, on the network's threads, in runs that stay in L1. Bit for bit the unfused sum
//!   (float addition commutes exactly). The streaming runtime runs the same pass after
//!   the chain.
//! - **Sums of convs as one conv.** An add whose inputs include convs of one geometry
//!   (kernel, rate, stride, padding, output channels, input size), one group, no
//!   activation of their own, each read only by that add, computes their sum as one conv:
//!   `Σ (W_i * z_i + b_i) = [W_1 … W_k] * concat(z_1, …, z_k) + Σ b_i`, the inputs `z_i`
//!   written straight into channel slices of one buffer (their other readers read the
//!   slice), the engine's weights concatenated along the input channels, the biases summed
//!   in f64 and rounded once. When those convs are the whole sum, the add's activation
//!   runs in the conv's epilogue and what follows chains on; otherwise the add sums the
//!   merged conv's output with the rest. WaveNet's 50 skip convs are one 1600 → 512 conv,
//!   and the skips are never stored. Only the summation order changes (results within
//!   rounding of the unmerged graph; the saved tensors are the original ones).
//! - **Elementwise steps** (the other adds and skip sums, gates, standalone activations,
//!   PReLUs and batch norms — ESPNet normalises after a concat and an add —, pools,
//!   broadcasts) are loops over slices, in place where their input dies. Those that map
//!   floats to floats (all but pools and broadcasts) run in runs of 4096 floats, which on
//!   a model of more than one thread the threads share, as they share the convs' work:
//!   WaveNet's gates no longer leave a thread idle. The split changes no result.
//! - **Concats** copy nothing where the data allows: each branch writes straight into its
//!   channel slice of the concat's buffer (a branch read elsewhere too, or the model's
//!   input, is copied, in runs as above).
//! - **Memory**: buffers are planned by liveness when the graph is built ([`ModelGraph::
//!   scratch_buffers`]); [`ModelWorkspace`] grows on the first run and
//!   [`Model::forward_into`] then allocates nothing.
//!
//! Spatial sizes that differ between joined branches (a stride in one branch only) are an
//! error when the graph is built if the input size is fixed
//! ([`ModelBuilder::with_input_size`]), at run time otherwise. Ops that do not lead to the
//! output load and save their tensors but do not run.
//!
//! Causal 1D models stream frame by frame ([`ModelStream`]).
//!
//! # Example: a TCN residual block, by hand
//!
//! Bai et al.'s `TemporalBlock`: two weight-normalised causal convs (kernel 3, rate 2), each
//! followed by ReLU and dropout, a 1×1 downsample on the residual path (4 → 8 channels), and
//! ReLU after the add.
//!
//! ```
//! use dilated_core::{Activation, ConvDesc};
//! use dilated_core::conv::Rank;
//! use dilated_core::model::{ModelBuilder, WeightNorm};
//!
//! let mut b = ModelBuilder::new(Rank::One, 4);
//! let x = b.input();
//! let h = b.conv(x, "conv1", ConvDesc::causal_1d(4, 8, 3, 2), WeightNorm::Parametrization)?;
//! let h = b.activation(h, Activation::Relu)?;
//! let h = b.dropout(h)?;
//! let h = b.conv(h, "conv2", ConvDesc::causal_1d(8, 8, 3, 2), WeightNorm::Parametrization)?;
//! let h = b.activation(h, Activation::Relu)?;
//! let h = b.dropout(h)?;
//! let shortcut = b.conv(x, "downsample", ConvDesc::causal_1d(4, 8, 1, 1), WeightNorm::None)?;
//! let y = b.add(&[h, shortcut], Activation::Relu)?;
//! b.output(y)?;
//! let graph = b.build()?;
//!
//! // The twin's `state_dict` names.
//! let names: Vec<&str> = graph.parameters().iter().map(|p| p.name.as_str()).collect();
//! assert_eq!(names[..3], [
//!     "conv1.parametrizations.weight.original0",
//!     "conv1.parametrizations.weight.original1",
//!     "conv1.bias",
//! ]);
//! // conv1 → ReLU → conv2 → ReLU runs as one engine network, the downsample as another.
//! assert_eq!(graph.fused_ops().0, 2);
//!
//! let model = graph.init(7)?;
//! let signal: Vec<f32> = (0..4 * 32).map(|i| (i as f32 * 0.37).sin()).collect();
//! let y = model.forward_nchw(1, &signal)?; // [1, 8, 32]
//! assert_eq!(y.len(), 8 * 32);
//!
//! // Through safetensors and back: the same function.
//! let back = graph.from_safetensors_bytes(&model.to_safetensors_bytes()?)?;
//! assert_eq!(back.forward_nchw(1, &signal)?, y);
//!
//! // Frame by frame, it gives the whole-signal output.
//! let mut stream = model.stream()?;
//! assert_eq!(stream.receptive_field(), 1 + 2 * 2 + 2 * 2);
//! for t in 0..32 {
//!     let frame: Vec<f32> = (0..4).map(|c| signal[c * 32 + t]).collect();
//!     let out = stream.push(&frame)?;
//!     for c in 0..8 {
//!         assert!((out[c] - y[c * 32 + t]).abs() <= 1e-5);
//!     }
//! }
//! # Ok::<(), dilated_core::model::ModelError>(())
//! ```

// Layers, bottom to top; a module imports only from the layers below its own (the root
// only re-exports): 1. `error`; 2. `node` (values, ops, parameters); 3. `plan`; 4. `frozen`;
// 5. `params`; 6. `graph` (the builder); 7. `exec`; 8. `run` (`Model`); 9. `stream`.
mod error;
mod exec;
mod frozen;
mod graph;
mod node;
mod params;
mod plan;
mod run;
mod stream;

pub use error::ModelError;
pub use graph::{ModelBuilder, ModelGraph};
pub use node::{Node, Op, Parameter, ValueId, WeightNorm};
pub use run::{Model, ModelWorkspace};
pub use stream::ModelStream;

//! `dilated`: dilated (atrous) convolution stacks, checked for gridding when `cargo build`
//! runs and executed on a SIMD CPU core.
//!
//! Declare a stack with [`dilated_stack!`]: the build rejects a schedule of rates that leaves
//! holes in what the network sees (the *gridding effect*), explains why and proposes a
//! schedule without holes; what compiles is a typed network whose padding, output sizes and
//! receptive field were settled at compile time.
//!
//! ```
//! dilated::dilated_stack! {
//!     /// Wang et al.'s HDC schedule: no holes.
//!     pub struct Hdc {
//!         input: [4, 32, 32],
//!         kernel: 3,
//!         rates: [1, 2, 5],
//!         activation: relu,
//!     }
//! }
//!
//! assert_eq!(Hdc::RECEPTIVE_FIELD, 17);
//! assert_eq!(Hdc::PADDING[2], [[5, 5], [5, 5]]);
//! let net = Hdc::new_seeded(0)?;
//! let x = dilated::tensor::Tensor2d::<4, 32, 32>::zeros(2, [32, 32])?;
//! let y: dilated::tensor::Tensor2d<4, 32, 32> = net.forward(&x)?;
//! assert_eq!(y.batch(), 2);
//! # Ok::<(), dilated::Error>(())
//! ```
//!
//! The same stack with `rates: [2, 4, 8]` does not compile:
//!
//! ```compile_fail
//! dilated::dilated_stack! {
//!     pub struct Grids { input: [4, 32, 32], kernel: 3, rates: [2, 4, 8] }
//! }
//! ```
//!
//! # What a stack type offers
//!
//! For `dilated_stack! { pub struct S { … } }`:
//!
//! - consts `S::RECEPTIVE_FIELD`, `S::RECEPTIVE_FIELD_HW`, `S::RATES`, `S::PADDING` (per
//!   layer `[[top, bottom], [left, right]]`), `S::INPUT_SHAPE`, `S::OUTPUT_SHAPE`,
//!   `S::LAYER_OUTPUT_SHAPES` (`[C, H, W]`, 0 where a size is known only at run time),
//!   `S::MODULE_INDICES` and `S::LAYERS` (each conv's [`stack::ModuleSpec`]);
//! - one field per convolution of a const-generic type ([`stack::Conv2d`],
//!   [`stack::Conv1d`]) whose padding the macro computed, and a [`stack::TypedStack`];
//!   `s.layers()` returns the typed layers (their weights), `s.stack()` the runtime stack;
//! - `S::new_seeded(seed)` (PyTorch's default initialisation, seeded),
//!   `S::from_safetensors(path)`, `S::from_safetensors_bytes(bytes)`,
//!   `s.to_safetensors_bytes()` and `s.save_safetensors(path)`, with the names of the
//!   stack's twin `torch.nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, …);
//! - `s.forward(&x)` on typed tensors ([`tensor::Tensor2d`], [`tensor::Tensor1d`]) whose
//!   types carry the channels and the declared sizes, `s.forward_into(&x, &mut y, &mut ws)`,
//!   `s.forward_nchw(batch, &data)` on flat NCHW data, and
//!   `s.forward_nchw_sized(batch, hw, &data)`;
//! - `Debug` and `Clone`, and rustdoc with a table of the layers, the coverage row and the
//!   coverage heat map.
//!
//! # What is where
//!
//! At the top: the macros, the stack types ([`Stack`], [`StackBuilder`], [`TypedStack`],
//! [`Conv2d`], [`Conv1d`], [`ModuleSpec`], the padding types), the convolution
//! ([`Conv`], [`ConvDesc`], [`Activation`], [`Rank`]), the tensors ([`Tensor`],
//! [`Tensor2d`], [`Tensor1d`], [`DYN`]), [`Weights`] and [`Error`]. Everything else is in
//! its module: the schedule analysis in [`schedule`], the heat maps in [`heatmap`], the
//! SIMD engine in [`engine`], and [`conv`], [`stack`], [`tensor`], [`weights`], [`init`],
//! [`stream`] and (feature `ndarray`) `ndarray_interop`.
#![forbid(unsafe_code)]

mod assert_schedule;

pub use dilated_macros::dilated_stack;

pub use dilated_core::{heatmap, schedule};

#[cfg(feature = "runtime")]
pub use dilated_core::{conv, engine, init, stack, stream, tensor, weights};

#[cfg(feature = "ndarray")]
pub use dilated_core::ndarray_interop;

#[cfg(feature = "runtime")]
pub use dilated_core::{
    Activation, Conv, Conv1d, Conv2d, ConvDesc, DYN, Error, ModuleSpec, Pad1d, Pad2d, Rank, Stack,
    StackBuilder, Tensor, Tensor1d, Tensor2d, TypedStack, TypedStack1d, TypedStack2d, Weights,
};

/// Paths the generated code uses. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use const_format;
    pub use dilated_core;

    #[cfg(feature = "runtime")]
    pub use dilated_core::ConvDesc;
    #[cfg(feature = "runtime")]
    pub use dilated_core::conv::Rank;
    #[cfg(feature = "runtime")]
    pub use dilated_core::engine::Workspace;
    #[cfg(feature = "runtime")]
    pub use dilated_core::model::{
        Model, ModelBuilder, ModelError, ModelGraph, ModelWorkspace, WeightNorm,
    };
    #[cfg(feature = "runtime")]
    pub use dilated_core::stack::{Conv1d, Conv2d, ModuleSpec, Pad1d, Pad2d, Stack, TypedStack};
    #[cfg(feature = "runtime")]
    pub use dilated_core::tensor::{DYN, Tensor1d, Tensor2d};
    #[cfg(feature = "runtime")]
    pub use dilated_core::{Activation, Error};
}

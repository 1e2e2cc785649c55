//! The engine of `dilated`: the schedule analysis that decides whether a stack of dilated
//! convolutions sees its whole receptive field, and the CPU runtime that runs such stacks.
//! Most users reach it through the facade crate `dilated` and its `dilated_stack!` macro.
//!
//! - [`schedule`] — dependency-free, `const fn` where Rust allows: effective kernel, output
//!   size, padding, receptive field, coverage counts, holes (gridding), HDC rules,
//!   suggestions. The proc macro and the `dilated` command both call it.
//! - [`heatmap`] — the coverage map as an SVG heat map, dependency-free.
//! - With the default `runtime` feature: `conv` (descriptors and the naive reference
//!   convolution), `engine` (the SIMD core), `tensor`, `stack` (const-generic typed
//!   layers and stacks), `weights` (safetensors with PyTorch names), `init`, `stream`
//!   (frame-by-frame causal 1D inference); with `ndarray`: `ndarray_interop`; with `png`:
//!   `raster` (an RGB canvas with a bitmap font, written as PNG).
//!
//! Beside the modules, the crate root holds (with `runtime`) the types a user of the runtime
//! names most: the stacks and typed layers (`Stack`, `StackBuilder`, `TypedStack`,
//! `Conv2d`, `Conv1d`, …), `Conv`, `ConvDesc`, `Activation`, `Rank`, the tensors,
//! `Weights` and `Error`. Everything else stays in its module.
//!
//! # Checking a schedule
//!
//! ```
//! use dilated_core::schedule::{analyze, Options, Schedule};
//!
//! // k = 3, rates [2, 4, 8]: every odd offset is a hole (the gridding effect).
//! let report = analyze(&Schedule::uniform(3, &[2, 4, 8]), &Options::default())?;
//! assert!(report.is_error());
//! assert_eq!(report.axes[0].receptive_field, 29);
//! assert_eq!(report.axes[0].reach.hole_count, 14);
//! # Ok::<(), dilated_core::schedule::ScheduleError>(())
//! ```
//!
//! # Running a stack
//!
#![cfg_attr(
    feature = "runtime",
    doc = r#"
```
use dilated_core::ConvDesc;
use dilated_core::conv::Conv;
use dilated_core::engine::Network;

// One 3×3 layer, rate 2, `same` padding, 1 → 1 channel: the identity kernel plus a bias.
let mut w = vec![0.0; 9];
w[4] = 1.0;
let net = Network::new(vec![Conv::new(ConvDesc::same_2d(1, 1, 3, 2), w, Some(vec![0.5]))?])?;
let (y, hw) = net.forward(1, [4, 4], &[1.0; 16])?;
assert_eq!(hw, [4, 4]);
assert!(y.iter().all(|&v| v == 1.5));
# Ok::<(), dilated_core::Error>(())
```
"#
)]
// A match over the crate's own enums (activations, kernel families, checks) names every
// variant, so a new variant fails to compile wherever it is not handled.
#![deny(clippy::wildcard_enum_match_arm)]

pub mod heatmap;
pub mod schedule;

#[cfg(feature = "runtime")]
pub mod conv;
#[cfg(feature = "runtime")]
pub mod engine;
#[cfg(feature = "runtime")]
mod error;
#[cfg(feature = "runtime")]
pub mod init;
#[cfg(feature = "runtime")]
mod kernel;
#[cfg(feature = "runtime")]
pub mod model;
#[cfg(feature = "ndarray")]
pub mod ndarray_interop;
#[cfg(feature = "runtime")]
pub mod stack;
#[cfg(feature = "runtime")]
pub mod stream;
#[cfg(feature = "runtime")]
pub mod tensor;
#[cfg(feature = "runtime")]
pub mod weights;

#[cfg(feature = "png")]
pub mod raster;

#[cfg(feature = "runtime")]
pub use conv::{Activation, Conv, ConvDesc, Rank};
#[cfg(feature = "runtime")]
pub use error::Error;
#[cfg(feature = "runtime")]
pub use stack::{
    Conv1d, Conv2d, ModuleSpec, Pad1d, Pad2d, Stack, StackBuilder, TypedStack, TypedStack1d,
    TypedStack2d,
};
#[cfg(feature = "runtime")]
pub use tensor::{DYN, Tensor, Tensor1d, Tensor2d};
#[cfg(feature = "runtime")]
pub use weights::Weights;

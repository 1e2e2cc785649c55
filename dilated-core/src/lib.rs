//! The engine of `dilated`: the schedule analysis that decides whether a stack of dilated
//! convolutions sees its whole receptive field, and the CPU runtime that runs such stacks.
//!
//! - [`schedule`] — dependency-free, `const fn` where Rust allows: effective kernel, output
//!   size, padding, receptive field, coverage counts, holes (gridding), HDC rules,
//!   suggestions. The proc macro and the `dilated` command both call it.
//! - With the default `runtime` feature: [`conv`] (descriptors and the naive reference),
//!   [`engine`] (the fast SIMD core).

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
pub mod layer;
#[cfg(feature = "ndarray")]
pub mod ndarray_interop;
#[cfg(feature = "runtime")]
pub mod stream;
#[cfg(feature = "runtime")]
pub mod tensor;
#[cfg(feature = "runtime")]
pub mod weights;

#[cfg(feature = "runtime")]
pub use conv::{Activation, ConvDesc};
#[cfg(feature = "runtime")]
pub use error::Error;

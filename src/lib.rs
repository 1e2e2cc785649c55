//! `dilated`: dilated (atrous) convolution stacks, checked for gridding when `cargo build`
//! runs and executed on a SIMD CPU core.
#![forbid(unsafe_code)]

mod assert_schedule;

pub use dilated_core::*;
pub use dilated_macros::*;

/// Paths the generated code uses. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use const_format;
    pub use dilated_core;
}

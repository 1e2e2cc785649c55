//! What the memory tests of this package share (each declares `mod support;`).

pub(crate) mod counting;
pub(crate) mod weights_targets;

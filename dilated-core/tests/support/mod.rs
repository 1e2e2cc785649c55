//! What the memory tests of this package share (each declares `mod support;`).

pub(crate) mod counting;

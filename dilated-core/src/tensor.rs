//! Owned NCHW tensors and typed wrappers.

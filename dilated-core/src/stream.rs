//! Streaming inference for causal 1D stacks with per-layer ring buffers.

//! Conversions between `ndarray` arrays and the runtime tensors.

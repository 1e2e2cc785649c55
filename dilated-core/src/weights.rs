//! Loading weights from safetensors with PyTorch naming.

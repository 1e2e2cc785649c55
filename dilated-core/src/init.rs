//! Seeded random initialisation (Kaiming, as PyTorch does).

//! Const-generic typed layers over the engine.

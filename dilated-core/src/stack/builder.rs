//! [`StackBuilder`]: numbers the modules of a stack as its `nn.Sequential` twin does.

use std::path::Path;

use super::untyped::{ModuleSpec, Stack};
use crate::Error;
use crate::conv::{Activation, ConvDesc, Rank};
use crate::weights::Weights;

/// Collects the [`ModuleSpec`]s of a stack, numbering the modules as an `nn.Sequential`
/// does when every convolution is followed by its activation module: a convolution takes
/// one index, and its activation, unless [`Activation::Identity`], the next one.
///
/// ```
/// use dilated_core::{Activation, ConvDesc};
/// use dilated_core::conv::Rank;
/// use dilated_core::stack::StackBuilder;
/// let relu = |d: ConvDesc| ConvDesc { activation: Activation::Relu, ..d };
/// let stack = StackBuilder::new(Rank::Two)
///     .conv(relu(ConvDesc::same_2d(3, 8, 3, 1)))   // `0`, ReLU at 1
///     .conv(relu(ConvDesc::same_2d(8, 8, 3, 2)))   // `2`, ReLU at 3
///     .conv(ConvDesc::same_2d(8, 4, 3, 5))         // `4`, no activation
///     .init(42)?;
/// let names: Vec<usize> = stack.specs().iter().map(|s| s.module).collect();
/// assert_eq!(names, [0, 2, 4]);
/// let (y, hw) = stack.forward_nchw(1, [16, 16], &vec![1.0; 3 * 16 * 16])?;
/// assert_eq!((y.len(), hw), (4 * 16 * 16, [16, 16]));
/// # Ok::<(), dilated_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StackBuilder {
    rank: Rank,
    specs: Vec<ModuleSpec>,
    next_module: usize,
}

impl StackBuilder {
    /// An empty stack of `rank`.
    #[must_use]
    pub fn new(rank: Rank) -> Self {
        Self {
            rank,
            specs: Vec::new(),
            next_module: 0,
        }
    }

    /// Appends a convolution at the next module index.
    #[must_use]
    pub fn conv(self, desc: ConvDesc) -> Self {
        let module = self.next_module;
        self.conv_at(module, desc)
    }

    /// Appends a convolution at module index `module`; later convolutions continue from
    /// there.
    #[must_use]
    pub fn conv_at(mut self, module: usize, desc: ConvDesc) -> Self {
        let span = if desc.activation == Activation::Identity {
            1
        } else {
            2
        };
        self.specs.push(ModuleSpec::new(module, self.rank, desc));
        self.next_module = module.saturating_add(span);
        self
    }

    /// The specs so far.
    #[must_use]
    pub fn specs(&self) -> &[ModuleSpec] {
        &self.specs
    }

    /// Builds the stack with PyTorch's default initialisation, seeded.
    pub fn init(&self, seed: u64) -> Result<Stack, Error> {
        Stack::init(&self.specs, seed)
    }

    /// Builds the stack from `weights` (strict).
    pub fn from_weights(&self, weights: Weights) -> Result<Stack, Error> {
        Stack::from_weights(&self.specs, weights)
    }

    /// Builds the stack from a safetensors file (strict).
    pub fn from_safetensors(&self, path: impl AsRef<Path>) -> Result<Stack, Error> {
        Stack::from_safetensors(&self.specs, path)
    }

    /// Builds the stack from safetensors bytes (strict).
    pub fn from_safetensors_bytes(&self, bytes: &[u8]) -> Result<Stack, Error> {
        Stack::from_safetensors_bytes(&self.specs, bytes)
    }
}

//! [`TypedStack`]: a [`Stack`] with typed input and output tensors, the shell
//! `dilated_stack!` expands to.

use std::marker::PhantomData;
use std::path::Path;

use super::run::{run_typed, run_typed_into};
use super::typed_conv::TypedConv;
use super::untyped::{ModuleSpec, Stack};
use crate::Error;
use crate::engine::{self, Kernel, Workspace};
use crate::tensor::{DYN, Tensor1d, Tensor2d, TypedTensor};
use crate::weights::Weights;

// `engine::flat_input_hw` marks a size known only at run time with 0.
const _: () = assert!(DYN == 0);

/// Checks a spatial size against a typed tensor's (where not [`DYN`]).
fn check_spatial(
    names: [&'static str; 2],
    expected: [usize; 2],
    actual: [usize; 2],
) -> Result<(), Error> {
    for ((what, e), a) in names.into_iter().zip(expected).zip(actual) {
        if e != DYN && e != a {
            return Err(Error::Shape {
                what,
                expected: e,
                actual: a,
            });
        }
    }
    Ok(())
}

/// A [`Stack`] with typed input `I` and output `O` ([`Tensor2d`] or [`Tensor1d`]): the
/// shell `dilated_stack!` expands to. See the [module docs](crate::stack) for the pattern.
pub struct TypedStack<I, O> {
    stack: Stack,
    _io: PhantomData<fn(I) -> O>,
}

impl<I: TypedTensor, O: TypedTensor> TypedStack<I, O> {
    /// Wraps `stack`, checking it against `I` and `O`: rank, channels, and, when `I`'s
    /// spatial size is fully known, that the stack has an output of `O`'s size.
    pub fn new(stack: Stack) -> Result<Self, Error> {
        for (what, expected) in [("input rank", I::RANK), ("output rank", O::RANK)] {
            if stack.rank().get() != expected {
                return Err(Error::Shape {
                    what,
                    expected,
                    actual: stack.rank().get(),
                });
            }
        }
        if stack.in_channels() != I::CHANNELS {
            return Err(Error::Shape {
                what: "stack input channels",
                expected: I::CHANNELS,
                actual: stack.in_channels(),
            });
        }
        if stack.out_channels() != O::CHANNELS {
            return Err(Error::Shape {
                what: "stack output channels",
                expected: O::CHANNELS,
                actual: stack.out_channels(),
            });
        }
        if !I::SPATIAL.contains(&DYN) {
            let out = stack.output_size(I::SPATIAL)?;
            check_spatial(
                ["stack output height", "stack output width"],
                O::SPATIAL,
                out,
            )?;
        }
        Ok(Self {
            stack,
            _io: PhantomData,
        })
    }

    /// [`Stack::init`], typed.
    pub fn init(specs: &[ModuleSpec], seed: u64) -> Result<Self, Error> {
        Self::new(Stack::init(specs, seed)?)
    }

    /// [`Stack::from_safetensors`], typed.
    pub fn from_safetensors(specs: &[ModuleSpec], path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::new(Stack::from_safetensors(specs, path)?)
    }

    /// [`Stack::from_safetensors_bytes`], typed.
    pub fn from_safetensors_bytes(specs: &[ModuleSpec], bytes: &[u8]) -> Result<Self, Error> {
        Self::new(Stack::from_safetensors_bytes(specs, bytes)?)
    }

    /// [`Stack::from_weights`], typed.
    pub fn from_weights(specs: &[ModuleSpec], weights: Weights) -> Result<Self, Error> {
        Self::new(Stack::from_weights(specs, weights)?)
    }

    /// The untyped stack.
    #[must_use]
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Unwraps the untyped stack.
    #[must_use]
    pub fn into_stack(self) -> Stack {
        self.stack
    }

    /// [`Stack::with_threads`], typed.
    pub fn with_threads(self, threads: usize) -> Result<Self, Error> {
        Ok(Self {
            stack: self.stack.with_threads(threads)?,
            _io: PhantomData,
        })
    }

    /// [`Stack::with_kernel`], typed.
    pub fn with_kernel(self, kernel: Kernel) -> Result<Self, Error> {
        Ok(Self {
            stack: self.stack.with_kernel(kernel)?,
            _io: PhantomData,
        })
    }

    /// A typed view of layer `i` (0-based, in stack order), checked against `L`. It shares
    /// the stack's weights (no copy) and packs nothing until it runs on its own (see
    /// [`Conv2d::network`](crate::stack::Conv2d::network)).
    pub fn layer<L: TypedConv>(&self, i: usize) -> Result<L, Error> {
        let layers = self.stack.layers();
        let layer = layers.get(i).ok_or(Error::Shape {
            what: "layer index (must be below the layer count)",
            expected: layers.len(),
            actual: i,
        })?;
        L::from_conv(layer.clone())
    }

    /// The weights as safetensors bytes (`F32`, PyTorch names).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, Error> {
        self.stack.to_safetensors_bytes()
    }

    /// Writes the weights to a safetensors file (`F32`, PyTorch names).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.stack.save_safetensors(path)
    }

    /// Typed forward pass, allocating the output.
    pub fn forward(&self, x: &I) -> Result<O, Error> {
        run_typed(self.stack.network(), x)
    }

    /// Typed forward pass into `out` (whose shape must be the output's), reusing `ws`.
    pub fn forward_into(&self, x: &I, out: &mut O, ws: &mut Workspace) -> Result<(), Error> {
        run_typed_into(self.stack.network(), x, out, ws)
    }

    /// The spatial size of `len` elements of flat input holding `batch` items: `I`'s
    /// declared size, with one [`DYN`] axis inferred from the length. Two dynamic axes
    /// cannot be inferred ([`Error::UnknownSize`]; use
    /// [`forward_nchw_sized`](Self::forward_nchw_sized)).
    pub fn input_hw(&self, batch: usize, len: usize) -> Result<[usize; 2], Error> {
        engine::flat_input_hw(
            I::SPATIAL,
            I::CHANNELS,
            batch,
            len,
            "forward_nchw on a stack whose height and width are both dynamic",
        )
    }

    /// Forward pass on flat NCHW data (`[n, C, L]` for 1D) of `batch` items, their size
    /// taken from `I` (see [`input_hw`](Self::input_hw)). Returns the flat output.
    pub fn forward_nchw(&self, batch: usize, input: &[f32]) -> Result<Vec<f32>, Error> {
        let hw = self.input_hw(batch, input.len())?;
        Ok(self.forward_nchw_sized(batch, hw, input)?.0)
    }

    /// Forward pass on flat NCHW data of `batch` items of size `hw` (checked against `I`).
    /// Returns the flat output and its spatial size.
    pub fn forward_nchw_sized(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Error> {
        check_spatial(["input height", "input width"], I::SPATIAL, hw)?;
        let (y, out_hw) = self.stack.network().forward(batch, hw, input)?;
        check_spatial(["output height", "output width"], O::SPATIAL, out_hw)?;
        Ok((y, out_hw))
    }
}

impl<I, O> Clone for TypedStack<I, O> {
    fn clone(&self) -> Self {
        Self {
            stack: self.stack.clone(),
            _io: PhantomData,
        }
    }
}

impl<I, O> std::fmt::Debug for TypedStack<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedStack")
            .field("input", &std::any::type_name::<I>())
            .field("output", &std::any::type_name::<O>())
            .field("stack", &self.stack)
            .finish()
    }
}

/// A typed 2D stack: `TypedStack<Tensor2d<CI, H, W>, Tensor2d<CO, OH, OW>>`.
pub type TypedStack2d<
    const CI: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
> = TypedStack<Tensor2d<CI, H, W>, Tensor2d<CO, OH, OW>>;

/// A typed 1D stack: `TypedStack<Tensor1d<CI, L>, Tensor1d<CO, OL>>`.
pub type TypedStack1d<const CI: usize, const L: usize, const CO: usize, const OL: usize> =
    TypedStack<Tensor1d<CI, L>, Tensor1d<CO, OL>>;

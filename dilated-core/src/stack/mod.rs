//! Typed layers and stacks: thin const-generic shells over [`ConvDesc`](crate::ConvDesc)
//! and the [`engine`](crate::engine), which does every computation.
//!
//! # Layers
//!
//! [`Conv2d`] and [`Conv1d`] carry their channels, kernel, rate (dilation), stride and
//! groups as const parameters, and their padding as a type implementing [`ConstPadding`]
//! (an associated const, written as literals: [`Pad2d<T, B, L, R>`] for top, bottom,
//! left, right; [`Pad1d<L, R>`] for left, right). Bias and activation are run-time
//! values. All the work happens in non-generic code over the run-time descriptor, so many
//! distinct layer types cost little compile time.
//!
//! ```
//! use dilated_core::Activation;
//! use dilated_core::stack::{Conv2d, Pad2d};
//! use dilated_core::tensor::{DYN, Tensor2d};
//! // 2 → 4 channels, 3×3 kernel, rate 2 on both axes, stride 1, 1 group, `same` padding.
//! type Layer = Conv2d<2, 4, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
//! let conv = Layer::init(7, true, Activation::Relu)?;
//! let x = Tensor2d::<2, 16, 16>::zeros(1, [16, 16])?;
//! let y: Tensor2d<4, 16, 16> = conv.forward(&x)?;   // the output size is checked
//! let z: Tensor2d<4, DYN, DYN> = conv.forward(&x)?; // or left dynamic
//! assert_eq!(y.as_slice(), z.as_slice());
//! # Ok::<(), dilated_core::Error>(())
//! ```
//!
//! A tensor with the wrong channel count is a type error, not a run-time one:
//!
//! ```compile_fail,E0308
//! use dilated_core::Activation;
//! use dilated_core::stack::{Conv2d, Pad2d};
//! use dilated_core::tensor::Tensor2d;
//! type Layer = Conv2d<2, 4, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
//! let conv = Layer::init(7, true, Activation::Relu)?;
//! let x = Tensor2d::<3, 16, 16>::zeros(1, [16, 16])?; // 3 channels, the layer takes 2
//! let y: Tensor2d<4, 16, 16> = conv.forward(&x)?;
//! # Ok::<(), dilated_core::Error>(())
//! ```
//!
//! # Stacks
//!
//! A [`Stack`] is a run-time list of layers, each with the `nn.Sequential` module index
//! its weights are stored under, compiled into one [`engine::Network`](crate::engine::Network) (which runs the
//! whole stack in its own layout, converting once at the entry and once at the exit).
//! [`ModuleSpec`] describes one layer without weights; a slice of them is what
//! [`Stack::init`], [`Stack::from_safetensors`] and [`Stack::from_safetensors_bytes`]
//! build from. [`StackBuilder`] numbers the modules for you. [`TypedStack<I, O>`] wraps a
//! stack with its typed input and output tensors: this is what `dilated_stack!` expands to.
//!
//! ## Memory: the weights once, packed once
//!
//! An engine [`Conv`](crate::Conv) shares its weights between clones, so a stack and the
//! typed layers taken from it ([`TypedStack::layer`]) hold one copy of the raw weights.
//! Only the stack's network packs them for the kernels (about the same size again, output
//! channels rounded up to 16); a typed layer packs its own copy only if it runs on its own
//! (its `forward*`, [`network`](Conv2d::network), `with_threads` or `with_kernel`). A
//! `dilated_stack!` struct of `P` parameters thus holds about `4·P` bytes of weights plus
//! `4·P` packed.
//!
//! ## A hand-written typed stack (the pattern `dilated_stack!` expands to)
//!
//! ```
//! use std::path::Path;
//! use dilated_core::{Activation, Error};
//! use dilated_core::conv::Rank;
//! use dilated_core::engine::Workspace;
//! use dilated_core::stack::{Conv2d, ModuleSpec, Pad2d, Stack, TypedStack};
//! use dilated_core::tensor::Tensor2d;
//!
//! /// Twin of `nn.Sequential(Conv2d(3, 8, 3, padding=1), ReLU(),
//! ///                        Conv2d(8, 8, 3, padding=2, dilation=2), ReLU())`.
//! #[derive(Debug, Clone)]
//! pub struct Tiny {
//!     conv0: Conv2d<3, 8, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>,
//!     conv1: Conv2d<8, 8, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>,
//!     stack: TypedStack<Tensor2d<3, 32, 32>, Tensor2d<8, 32, 32>>,
//! }
//!
//! impl Tiny {
//!     /// Each conv, its module index in the `nn.Sequential`, its descriptor.
//!     pub const LAYERS: [ModuleSpec; 2] = [
//!         ModuleSpec::new(0, Rank::Two,
//!             <Conv2d<3, 8, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>>::descriptor(true, Activation::Relu)),
//!         ModuleSpec::new(2, Rank::Two,
//!             <Conv2d<8, 8, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>>::descriptor(true, Activation::Relu)),
//!     ];
//!
//!     fn from_stack(stack: Stack) -> Result<Self, Error> {
//!         let stack = TypedStack::new(stack)?;
//!         Ok(Self { conv0: stack.layer(0)?, conv1: stack.layer(1)?, stack })
//!     }
//!     /// Loads PyTorch weights (`0.weight`, `0.bias`, `2.weight`, `2.bias`).
//!     pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self, Error> {
//!         Self::from_stack(Stack::from_safetensors(&Self::LAYERS, path)?)
//!     }
//!     /// Same, from the bytes of a safetensors file.
//!     pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self, Error> {
//!         Self::from_stack(Stack::from_safetensors_bytes(&Self::LAYERS, bytes)?)
//!     }
//!     /// PyTorch's default initialisation, seeded.
//!     pub fn init(seed: u64) -> Result<Self, Error> {
//!         Self::from_stack(Stack::init(&Self::LAYERS, seed)?)
//!     }
//!     /// Typed forward pass.
//!     pub fn forward(&self, x: &Tensor2d<3, 32, 32>) -> Result<Tensor2d<8, 32, 32>, Error> {
//!         self.stack.forward(x)
//!     }
//!     /// Forward pass into `out`, reusing `ws`.
//!     pub fn forward_into(&self, x: &Tensor2d<3, 32, 32>, out: &mut Tensor2d<8, 32, 32>,
//!                         ws: &mut Workspace) -> Result<(), Error> {
//!         self.stack.forward_into(x, out, ws)
//!     }
//!     /// Forward pass on flat NCHW data.
//!     pub fn forward_nchw(&self, batch: usize, input: &[f32]) -> Result<Vec<f32>, Error> {
//!         self.stack.forward_nchw(batch, input)
//!     }
//! }
//!
//! let net = Tiny::init(1)?;
//! let bytes = net.stack.to_safetensors_bytes()?;
//! let back = Tiny::from_safetensors_bytes(&bytes)?;
//! let x = Tensor2d::<3, 32, 32>::from_vec(2, [32, 32], vec![0.5; 2 * 3 * 32 * 32])?;
//! assert_eq!(net.forward(&x)?, back.forward(&x)?);
//! assert_eq!(net.forward_nchw(2, x.as_slice())?, back.forward(&x)?.into_vec());
//! assert_eq!(back.conv1.weight(), net.conv1.weight());
//! # Ok::<(), Error>(())
//! ```
//!
//! A `Tiny` takes 32×32 images only: passing a 16×16 tensor does not compile.
//!
//! ```compile_fail,E0308
//! # use dilated_core::stack::{Stack, TypedStack};
//! # use dilated_core::tensor::Tensor2d;
//! # fn f(stack: TypedStack<Tensor2d<3, 32, 32>, Tensor2d<8, 32, 32>>) -> Result<(), dilated_core::Error> {
//! let x = Tensor2d::<3, 16, 16>::zeros(1, [16, 16])?;
//! let y = stack.forward(&x)?;
//! # Ok(())
//! # }
//! ```

// The parts, lowest first; each imports only from the ones before it: `padding` (the
// padding types), `run` (a network run on tensors), `shell` (a typed layer's engine layer
// and its network, built on first use), `typed_conv` (`Conv2d`, `Conv1d`), `untyped`
// (`Stack`, `ModuleSpec`), `builder` (`StackBuilder`), `typed` (`TypedStack`).
mod builder;
mod compose;
mod padding;
mod run;
mod shell;
mod typed;
mod typed_conv;
mod untyped;

pub use builder::StackBuilder;
pub use compose::DeclaredStack;
pub use padding::{ConstPadding, Pad1d, Pad2d};
pub use typed::{TypedStack, TypedStack1d, TypedStack2d};
pub use typed_conv::{Conv1d, Conv2d, TypedConv};
pub use untyped::{ModuleSpec, Stack};

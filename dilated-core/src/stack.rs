//! Typed layers and stacks: thin const-generic shells over [`ConvDesc`] and the
//! [`engine`](crate::engine), which does every computation.
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
//! An engine [`Conv`] shares its weights between clones, so a stack and the typed layers
//! taken from it ([`TypedStack::layer`]) hold one copy of the raw weights. Only the stack's
//! network packs them for the kernels (about the same size again, output channels rounded
//! up to 16); a typed layer packs its own copy only if it runs on its own (its `forward*`,
//! [`network`](Conv2d::network), `with_threads` or `with_kernel`). A `dilated_stack!`
//! struct of `P` parameters thus holds about `4·P` bytes of weights plus `4·P` packed.
//!
//! ## A hand-written typed stack (the pattern `dilated_stack!` expands to)
//!
//! ```
//! use std::path::Path;
//! use dilated_core::{Activation, Error};
//! use dilated_core::engine::Workspace;
//! use dilated_core::conv::Rank;
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

use std::marker::PhantomData;
use std::path::Path;
use std::sync::OnceLock;

use crate::Error;
use crate::conv::{Activation, Conv, ConvDesc, Rank, check_rank};
use crate::engine::{Kernel, Network, Workspace};
use crate::init::Init;
use crate::tensor::{DYN, Tensor, Tensor1d, Tensor2d, TypedTensor};
use crate::weights::Weights;

/// A layer's zero padding, as an associated const `[[top, bottom], [left, right]]`.
/// Implemented by [`Pad2d`] and [`Pad1d`]; a macro may also implement it on its own marker
/// types.
pub trait ConstPadding {
    /// `[[top, bottom], [left, right]]`.
    const PADDING: [[usize; 2]; 2];
}

/// 2D padding: `T` rows on top, `B` at the bottom, `L` columns on the left, `R` on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pad2d<const T: usize, const B: usize, const L: usize, const R: usize>;

impl<const T: usize, const B: usize, const L: usize, const R: usize> ConstPadding
    for Pad2d<T, B, L, R>
{
    const PADDING: [[usize; 2]; 2] = [[T, B], [L, R]];
}

/// 1D padding: `L` on the left (the past, for a causal layer), `R` on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pad1d<const L: usize, const R: usize>;

impl<const L: usize, const R: usize> ConstPadding for Pad1d<L, R> {
    const PADDING: [[usize; 2]; 2] = [[0, 0], [L, R]];
}

/// What [`Conv2d`] and [`Conv1d`] have in common; [`TypedStack::layer`] returns any of them.
pub trait TypedConv: Sized {
    /// 1D or 2D.
    const RANK: Rank;
    /// Input channels.
    const IN: usize;
    /// Output channels.
    const OUT: usize;

    /// The run-time descriptor of this layer type with the given bias and activation.
    fn descriptor(bias: bool, activation: Activation) -> ConvDesc;

    /// Wraps an engine layer, checking that its descriptor matches the type (channels,
    /// kernel, rate, stride, groups, padding; bias and activation are free).
    fn from_conv(conv: Conv) -> Result<Self, Error>;

    /// The engine layer (descriptor, weights, bias).
    fn layer(&self) -> &Conv;
}

/// Compares a descriptor with the one a layer type calls for, ignoring bias and activation.
fn check_desc(expected: &ConvDesc, actual: &ConvDesc) -> Result<(), Error> {
    let pairs: [(&'static str, usize, usize); 13] = [
        (
            "layer input channels",
            expected.in_channels,
            actual.in_channels,
        ),
        (
            "layer output channels",
            expected.out_channels,
            actual.out_channels,
        ),
        ("layer groups", expected.groups, actual.groups),
        ("layer kernel height", expected.kernel[0], actual.kernel[0]),
        ("layer kernel width", expected.kernel[1], actual.kernel[1]),
        (
            "layer dilation (height)",
            expected.dilation[0],
            actual.dilation[0],
        ),
        (
            "layer dilation (width)",
            expected.dilation[1],
            actual.dilation[1],
        ),
        (
            "layer stride (height)",
            expected.stride[0],
            actual.stride[0],
        ),
        ("layer stride (width)", expected.stride[1], actual.stride[1]),
        (
            "layer padding (top)",
            expected.padding[0][0],
            actual.padding[0][0],
        ),
        (
            "layer padding (bottom)",
            expected.padding[0][1],
            actual.padding[0][1],
        ),
        (
            "layer padding (left)",
            expected.padding[1][0],
            actual.padding[1][0],
        ),
        (
            "layer padding (right)",
            expected.padding[1][1],
            actual.padding[1][1],
        ),
    ];
    for (what, e, a) in pairs {
        if e != a {
            return Err(Error::Shape {
                what,
                expected: e,
                actual: a,
            });
        }
    }
    Ok(())
}

/// What a typed layer holds: its engine layer (whose weights are shared with every clone
/// and with any stack built from it, never copied) and, once the layer has been run on its
/// own or configured to, the one-layer network that runs it (the packed weights).
///
/// A typed layer that only describes a stack's layer (as in a `dilated_stack!` struct)
/// therefore holds no packed weights: only the stack's network does.
#[derive(Debug, Clone)]
struct Shell {
    layer: Conv,
    net: OnceLock<Network>,
}

impl Shell {
    /// Checks the layer against its type's descriptor; packs nothing.
    fn new(expected: &ConvDesc, rank: Rank, layer: Conv) -> Result<Self, Error> {
        check_desc(expected, layer.desc())?;
        check_rank(layer.desc(), rank)?;
        Ok(Self {
            layer,
            net: OnceLock::new(),
        })
    }

    /// The network, built (weights packed) on first use.
    fn network(&self) -> Result<&Network, Error> {
        if let Some(net) = self.net.get() {
            return Ok(net);
        }
        let net = Network::new(vec![self.layer.clone()])?;
        // Another thread may have built it meanwhile: then ours is dropped, theirs is used.
        Ok(self.net.get_or_init(|| net))
    }

    /// Replaces the network by `f` applied to it (built first, for the family `kernel` or
    /// the selected one, if need be: so a new family packs the weights once).
    fn configure(
        self,
        kernel: Option<Kernel>,
        f: impl FnOnce(Network) -> Result<Network, Error>,
    ) -> Result<Self, Error> {
        let net = match self.net.into_inner() {
            Some(net) => net,
            None => Network::new_with_kernel(
                vec![self.layer.clone()],
                kernel.unwrap_or_else(Kernel::selected),
            )?,
        };
        Ok(Self {
            layer: self.layer,
            net: OnceLock::from(f(net)?),
        })
    }
}

/// Runs `net` on `x`, allocating the output.
fn run(net: &Network, x: &Tensor) -> Result<Tensor, Error> {
    let [n, c, h, w] = x.shape();
    if c != net.in_channels() {
        return Err(Error::Shape {
            what: "input channels",
            expected: net.in_channels(),
            actual: c,
        });
    }
    let (y, hw) = net.forward(n, [h, w], x.as_slice())?;
    Tensor::from_vec([n, net.out_channels(), hw[0], hw[1]], y)
}

/// Runs `net` on `x` into `out` (whose shape must be the output's), reusing `ws`.
fn run_into(
    net: &Network,
    x: &Tensor,
    out_shape: [usize; 4],
    out: &mut [f32],
    ws: &mut Workspace,
) -> Result<(), Error> {
    let [n, c, h, w] = x.shape();
    if c != net.in_channels() {
        return Err(Error::Shape {
            what: "input channels",
            expected: net.in_channels(),
            actual: c,
        });
    }
    let hw = net.output_size([h, w])?;
    let expected = [n, net.out_channels(), hw[0], hw[1]];
    const NAMES: [&str; 4] = [
        "output batch",
        "output channels",
        "output height",
        "output width",
    ];
    for i in 0..4 {
        if expected[i] != out_shape[i] {
            return Err(Error::Shape {
                what: NAMES[i],
                expected: expected[i],
                actual: out_shape[i],
            });
        }
    }
    net.forward_into(n, [h, w], x.as_slice(), out, ws)?;
    Ok(())
}

macro_rules! layer_common {
    () => {
        /// Wraps `weight` (PyTorch layout `[C_out, C_in/groups, KH, KW]`, or
        /// `[C_out, C_in/groups, K]` flattened) and an optional bias (`[C_out]`).
        pub fn new(
            weight: Vec<f32>,
            bias: Option<Vec<f32>>,
            activation: Activation,
        ) -> Result<Self, Error> {
            let desc = Self::descriptor(bias.is_some(), activation);
            Self::from_conv(Conv::new(desc, weight, bias)?)
        }

        /// PyTorch's default initialisation (see [`init`](crate::init)), seeded.
        pub fn init(seed: u64, bias: bool, activation: Activation) -> Result<Self, Error> {
            Self::init_with(&mut Init::new(seed), bias, activation)
        }

        /// PyTorch's default initialisation drawn from `init`.
        pub fn init_with(
            init: &mut Init,
            bias: bool,
            activation: Activation,
        ) -> Result<Self, Error> {
            Self::from_conv(init.conv(Self::descriptor(bias, activation))?)
        }

        /// Takes `{module}.weight` (and `{module}.bias` when `bias`) out of `weights`.
        pub fn load(
            weights: &mut Weights,
            module: usize,
            bias: bool,
            activation: Activation,
        ) -> Result<Self, Error> {
            let desc = Self::descriptor(bias, activation);
            Self::from_conv(weights.take_conv(module, desc, <Self as TypedConv>::RANK)?)
        }

        /// The engine layer (descriptor, weights, bias).
        #[must_use]
        pub fn layer(&self) -> &Conv {
            &self.shell.layer
        }

        /// The run-time descriptor.
        #[must_use]
        pub fn desc(&self) -> &ConvDesc {
            self.layer().desc()
        }

        /// The weights, PyTorch layout.
        #[must_use]
        pub fn weight(&self) -> &[f32] {
            self.layer().weight()
        }

        /// The bias, if any.
        #[must_use]
        pub fn bias(&self) -> Option<&[f32]> {
            self.layer().bias()
        }

        /// The activation after the convolution.
        #[must_use]
        pub fn activation(&self) -> Activation {
            self.desc().activation
        }

        /// The one-layer engine network that runs this layer on its own.
        ///
        /// A typed layer holds its weights once (shared with its clones and with the stack
        /// it came from) and packs them for the kernels only when it runs on its own: the
        /// network is built on the first call of this method or of a `forward*` method (or
        /// at [`with_threads`](Self::with_threads) / [`with_kernel`](Self::with_kernel)),
        /// then kept. The typed layers of a `dilated_stack!` struct that are never run on
        /// their own therefore cost no packed copy. The only error is a size overflow while
        /// packing.
        pub fn network(&self) -> Result<&Network, Error> {
            self.shell.network()
        }

        /// Runs on `threads` threads (see
        /// [`Network::with_threads`](crate::engine::Network::with_threads): 0 = the current
        /// rayon pool, 1 = the calling thread). Builds the layer's network now (see
        /// [`network`](Self::network)), so a thread pool that cannot be built is reported
        /// here.
        pub fn with_threads(self, threads: usize) -> Result<Self, Error> {
            Ok(Self {
                shell: self.shell.configure(None, |n| n.with_threads(threads))?,
                _padding: PhantomData,
            })
        }

        /// Runs with kernel family `kernel` (an error if this CPU lacks it). Builds the
        /// layer's network now, packed for `kernel` (see [`network`](Self::network)).
        pub fn with_kernel(self, kernel: Kernel) -> Result<Self, Error> {
            Ok(Self {
                shell: self
                    .shell
                    .configure(Some(kernel), |n| n.with_kernel(kernel))?,
                _padding: PhantomData,
            })
        }

        /// Runs the layer on an untyped tensor, allocating the output.
        pub fn forward_tensor(&self, x: &Tensor) -> Result<Tensor, Error> {
            run(self.network()?, x)
        }
    };
}

/// A 2D convolution: `CI → CO` channels, kernel `KH × KW`, rate `DH, DW`, stride `SH, SW`,
/// `G` groups, padding `P` ([`Pad2d`]). See the [module docs](self).
pub struct Conv2d<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const DH: usize,
    const DW: usize,
    const SH: usize,
    const SW: usize,
    const G: usize,
    P: ConstPadding = Pad2d<0, 0, 0, 0>,
> {
    shell: Shell,
    _padding: PhantomData<fn() -> P>,
}

impl<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const DH: usize,
    const DW: usize,
    const SH: usize,
    const SW: usize,
    const G: usize,
    P: ConstPadding,
> Conv2d<CI, CO, KH, KW, DH, DW, SH, SW, G, P>
{
    /// The run-time descriptor of this layer type (usable in `const` items).
    #[must_use]
    pub const fn descriptor(bias: bool, activation: Activation) -> ConvDesc {
        ConvDesc {
            in_channels: CI,
            out_channels: CO,
            groups: G,
            kernel: [KH, KW],
            dilation: [DH, DW],
            stride: [SH, SW],
            padding: P::PADDING,
            bias,
            activation,
        }
    }

    /// Wraps an engine layer; see [`TypedConv::from_conv`].
    pub fn from_conv(conv: Conv) -> Result<Self, Error> {
        Ok(Self {
            shell: Shell::new(
                &Self::descriptor(false, Activation::Identity),
                Rank::Two,
                conv,
            )?,
            _padding: PhantomData,
        })
    }

    layer_common!();

    /// Output size `[oh, ow]` for an input of `hw` (an error when the layer has no output).
    pub fn output_size(&self, hw: [usize; 2]) -> Result<[usize; 2], Error> {
        self.desc().output_size(hw)
    }

    /// Runs the layer, allocating the output. `OH`/`OW` are what the caller expects (or
    /// [`DYN`]); a mismatch is an [`Error::Shape`].
    pub fn forward<const H: usize, const W: usize, const OH: usize, const OW: usize>(
        &self,
        x: &Tensor2d<CI, H, W>,
    ) -> Result<Tensor2d<CO, OH, OW>, Error> {
        Tensor2d::new(run(self.network()?, x.tensor())?)
    }

    /// Runs the layer, allocating an output whose spatial size stays dynamic (no type
    /// annotation needed at the call site).
    pub fn forward_dyn<const H: usize, const W: usize>(
        &self,
        x: &Tensor2d<CI, H, W>,
    ) -> Result<Tensor2d<CO, DYN, DYN>, Error> {
        self.forward(x)
    }

    /// Runs the layer into `out`, reusing `ws` (no allocation once `ws` has grown).
    pub fn forward_into<const H: usize, const W: usize, const OH: usize, const OW: usize>(
        &self,
        x: &Tensor2d<CI, H, W>,
        out: &mut Tensor2d<CO, OH, OW>,
        ws: &mut Workspace,
    ) -> Result<(), Error> {
        let shape = out.tensor().shape();
        run_into(self.network()?, x.tensor(), shape, out.as_mut_slice(), ws)
    }
}

/// A 1D convolution: `CI → CO` channels, kernel `K`, rate `D`, stride `S`, `G` groups,
/// padding `P` ([`Pad1d`]). Runs on [`Tensor1d`]. See the [module docs](self).
///
/// ```
/// use dilated_core::Activation;
/// use dilated_core::stack::{Conv1d, Pad1d};
/// use dilated_core::tensor::{DYN, Tensor1d};
/// // Causal: kernel 2, rate 4 → 4 zeros on the left, none on the right.
/// let conv = Conv1d::<1, 1, 2, 4, 1, 1, Pad1d<4, 0>>::new(vec![1.0, 1.0], None, Activation::Identity)?;
/// let x = Tensor1d::<1, DYN>::from_vec(1, 6, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let y: Tensor1d<1, DYN> = conv.forward(&x)?;
/// assert_eq!(y.as_slice(), &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0]);
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub struct Conv1d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const D: usize,
    const S: usize,
    const G: usize,
    P: ConstPadding = Pad1d<0, 0>,
> {
    shell: Shell,
    _padding: PhantomData<fn() -> P>,
}

impl<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const D: usize,
    const S: usize,
    const G: usize,
    P: ConstPadding,
> Conv1d<CI, CO, K, D, S, G, P>
{
    /// The run-time descriptor of this layer type (usable in `const` items).
    #[must_use]
    pub const fn descriptor(bias: bool, activation: Activation) -> ConvDesc {
        ConvDesc {
            in_channels: CI,
            out_channels: CO,
            groups: G,
            kernel: [1, K],
            dilation: [1, D],
            stride: [1, S],
            padding: P::PADDING,
            bias,
            activation,
        }
    }

    /// Wraps an engine layer; see [`TypedConv::from_conv`].
    pub fn from_conv(conv: Conv) -> Result<Self, Error> {
        Ok(Self {
            shell: Shell::new(
                &Self::descriptor(false, Activation::Identity),
                Rank::One,
                conv,
            )?,
            _padding: PhantomData,
        })
    }

    layer_common!();

    /// Output length for an input of length `len` (an error when the layer has no output).
    pub fn output_len(&self, len: usize) -> Result<usize, Error> {
        Ok(self.desc().output_size([1, len])?[1])
    }

    /// Runs the layer, allocating the output. `OL` is what the caller expects (or
    /// [`DYN`]); a mismatch is an [`Error::Shape`].
    pub fn forward<const L: usize, const OL: usize>(
        &self,
        x: &Tensor1d<CI, L>,
    ) -> Result<Tensor1d<CO, OL>, Error> {
        Tensor1d::new(run(self.network()?, x.tensor())?)
    }

    /// Runs the layer, allocating an output whose length stays dynamic (no type
    /// annotation needed at the call site).
    pub fn forward_dyn<const L: usize>(
        &self,
        x: &Tensor1d<CI, L>,
    ) -> Result<Tensor1d<CO, DYN>, Error> {
        self.forward(x)
    }

    /// Runs the layer into `out`, reusing `ws` (no allocation once `ws` has grown).
    pub fn forward_into<const L: usize, const OL: usize>(
        &self,
        x: &Tensor1d<CI, L>,
        out: &mut Tensor1d<CO, OL>,
        ws: &mut Workspace,
    ) -> Result<(), Error> {
        let shape = out.tensor().shape();
        run_into(self.network()?, x.tensor(), shape, out.as_mut_slice(), ws)
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const DH: usize,
    const DW: usize,
    const SH: usize,
    const SW: usize,
    const G: usize,
    P: ConstPadding,
> TypedConv for Conv2d<CI, CO, KH, KW, DH, DW, SH, SW, G, P>
{
    const RANK: Rank = Rank::Two;
    const IN: usize = CI;
    const OUT: usize = CO;
    fn descriptor(bias: bool, activation: Activation) -> ConvDesc {
        Self::descriptor(bias, activation)
    }
    fn from_conv(conv: Conv) -> Result<Self, Error> {
        Self::from_conv(conv)
    }
    fn layer(&self) -> &Conv {
        self.layer()
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const D: usize,
    const S: usize,
    const G: usize,
    P: ConstPadding,
> TypedConv for Conv1d<CI, CO, K, D, S, G, P>
{
    const RANK: Rank = Rank::One;
    const IN: usize = CI;
    const OUT: usize = CO;
    fn descriptor(bias: bool, activation: Activation) -> ConvDesc {
        Self::descriptor(bias, activation)
    }
    fn from_conv(conv: Conv) -> Result<Self, Error> {
        Self::from_conv(conv)
    }
    fn layer(&self) -> &Conv {
        self.layer()
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const DH: usize,
    const DW: usize,
    const SH: usize,
    const SW: usize,
    const G: usize,
    P: ConstPadding,
> Clone for Conv2d<CI, CO, KH, KW, DH, DW, SH, SW, G, P>
{
    fn clone(&self) -> Self {
        Self {
            shell: self.shell.clone(),
            _padding: PhantomData,
        }
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const D: usize,
    const S: usize,
    const G: usize,
    P: ConstPadding,
> Clone for Conv1d<CI, CO, K, D, S, G, P>
{
    fn clone(&self) -> Self {
        Self {
            shell: self.shell.clone(),
            _padding: PhantomData,
        }
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const DH: usize,
    const DW: usize,
    const SH: usize,
    const SW: usize,
    const G: usize,
    P: ConstPadding,
> std::fmt::Debug for Conv2d<CI, CO, KH, KW, DH, DW, SH, SW, G, P>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conv2d")
            .field("desc", self.desc())
            .finish_non_exhaustive()
    }
}

impl<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const D: usize,
    const S: usize,
    const G: usize,
    P: ConstPadding,
> std::fmt::Debug for Conv1d<CI, CO, K, D, S, G, P>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conv1d")
            .field("desc", self.desc())
            .finish_non_exhaustive()
    }
}

/// One layer of a stack, without weights: where its weights are stored (`module`, the
/// index in the `nn.Sequential` twin), whether it is 1D or 2D, and its descriptor.
/// `const`-constructible, so a macro can write a `const` array of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModuleSpec {
    /// Module index: the weights are `{module}.weight` and `{module}.bias`.
    pub module: usize,
    /// 1D or 2D.
    pub rank: Rank,
    /// The convolution.
    pub desc: ConvDesc,
}

impl ModuleSpec {
    /// A layer spec.
    #[must_use]
    pub const fn new(module: usize, rank: Rank, desc: ConvDesc) -> Self {
        Self { module, rank, desc }
    }
}

/// Collects the [`ModuleSpec`]s of a stack, numbering the modules as an `nn.Sequential`
/// does when every convolution is followed by its activation module: a convolution takes
/// one index, and its activation, unless [`Activation::Identity`], the next one.
///
/// ```
/// use dilated_core::{Activation, ConvDesc};
/// use dilated_core::conv::Rank;
/// use dilated_core::stack::{StackBuilder};
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

/// A stack of convolutions with weights, each with its module index, compiled into one
/// [`engine::Network`](crate::engine::Network). Untyped: see [`TypedStack`] for the typed
/// shell. Built from [`ModuleSpec`]s with [`init`](Self::init),
/// [`from_safetensors`](Self::from_safetensors), [`from_safetensors_bytes`](Self::from_safetensors_bytes)
/// or [`from_weights`](Self::from_weights), or from engine layers with [`new`](Self::new).
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    rank: Rank,
    modules: Vec<usize>,
    net: Network,
}

impl Stack {
    /// Builds a stack from `(module index, layer)` pairs. Fails on an empty list, on module
    /// indices that do not strictly increase (two layers would share a name), on a layer
    /// that is not a valid `rank` layer, and on layers that do not chain.
    pub fn new(rank: Rank, layers: Vec<(usize, Conv)>) -> Result<Self, Error> {
        for pair in layers.windows(2) {
            if pair[1].0 <= pair[0].0 {
                return Err(Error::Shape {
                    what: "module index (must exceed the previous layer's)",
                    expected: pair[0].0.saturating_add(1),
                    actual: pair[1].0,
                });
            }
        }
        for (_, l) in &layers {
            check_rank(l.desc(), rank)?;
        }
        let modules = layers.iter().map(|(m, _)| *m).collect();
        let net = Network::new(layers.into_iter().map(|(_, l)| l).collect())?;
        Ok(Self { rank, modules, net })
    }

    fn rank_of(specs: &[ModuleSpec]) -> Result<Rank, Error> {
        let first = specs.first().ok_or(Error::Zero {
            what: "layer count",
        })?;
        for s in specs {
            if s.rank != first.rank {
                return Err(Error::Shape {
                    what: "layer rank (a stack is all 1D or all 2D)",
                    expected: first.rank.get(),
                    actual: s.rank.get(),
                });
            }
        }
        Ok(first.rank)
    }

    /// PyTorch's default initialisation (see [`init`](crate::init)), drawn layer by layer
    /// from one generator seeded with `seed`.
    pub fn init(specs: &[ModuleSpec], seed: u64) -> Result<Self, Error> {
        let rank = Self::rank_of(specs)?;
        let mut init = Init::new(seed);
        let layers = specs
            .iter()
            .map(|s| Ok((s.module, init.conv(s.desc)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Self::new(rank, layers)
    }

    /// Takes each layer's tensors out of `weights`; strict: any tensor left over is an
    /// [`Error::UnexpectedTensors`].
    pub fn from_weights(specs: &[ModuleSpec], weights: Weights) -> Result<Self, Error> {
        let (stack, names) = Self::from_weights_lenient(specs, weights)?;
        if names.is_empty() {
            Ok(stack)
        } else {
            Err(Error::UnexpectedTensors { names })
        }
    }

    /// Like [`from_weights`](Self::from_weights) but lenient about extra tensors, as
    /// PyTorch's `load_state_dict(strict=False)`: returns the stack and the names of the
    /// tensors it did not use. Missing tensors and wrong shapes are still errors.
    pub fn from_weights_lenient(
        specs: &[ModuleSpec],
        mut weights: Weights,
    ) -> Result<(Self, Vec<String>), Error> {
        let rank = Self::rank_of(specs)?;
        let layers = specs
            .iter()
            .map(|s| Ok((s.module, weights.take_conv(s.module, s.desc, s.rank)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok((Self::new(rank, layers)?, weights.into_remaining()))
    }

    /// Loads a safetensors file written by PyTorch (see [`weights`](crate::weights)).
    pub fn from_safetensors(specs: &[ModuleSpec], path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_weights(specs, Weights::from_safetensors(path)?)
    }

    /// Loads the bytes of a safetensors file.
    pub fn from_safetensors_bytes(specs: &[ModuleSpec], bytes: &[u8]) -> Result<Self, Error> {
        Self::from_weights(specs, Weights::from_safetensors_bytes(bytes)?)
    }

    /// The weights under their PyTorch names.
    pub fn to_weights(&self) -> Result<Weights, Error> {
        let mut w = Weights::new();
        for (m, l) in self.modules.iter().zip(self.net.layers()) {
            w.insert_conv(*m, l, self.rank)?;
        }
        Ok(w)
    }

    /// The weights as safetensors bytes (`F32`, PyTorch names).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, Error> {
        self.to_weights()?.to_safetensors_bytes()
    }

    /// Writes the weights to a safetensors file (`F32`, PyTorch names).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.to_weights()?.save(path)
    }

    /// Runs on `threads` threads (see
    /// [`Network::with_threads`](crate::engine::Network::with_threads): 0 = the current
    /// rayon pool, the default; 1 = the calling thread only; more = a pool of its own).
    pub fn with_threads(self, threads: usize) -> Result<Self, Error> {
        Ok(Self {
            net: self.net.with_threads(threads)?,
            ..self
        })
    }

    /// Runs with kernel family `kernel` (an error if this CPU lacks it).
    pub fn with_kernel(self, kernel: Kernel) -> Result<Self, Error> {
        Ok(Self {
            net: self.net.with_kernel(kernel)?,
            ..self
        })
    }

    /// 1D or 2D.
    #[must_use]
    pub fn rank(&self) -> Rank {
        self.rank
    }

    /// The layer specs (module index, rank, descriptor), in order.
    #[must_use]
    pub fn specs(&self) -> Vec<ModuleSpec> {
        self.modules
            .iter()
            .zip(self.net.layers())
            .map(|(m, l)| ModuleSpec::new(*m, self.rank, *l.desc()))
            .collect()
    }

    /// The engine network.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The layers, in order.
    #[must_use]
    pub fn layers(&self) -> &[Conv] {
        self.net.layers()
    }

    /// The module indices, in order.
    #[must_use]
    pub fn modules(&self) -> &[usize] {
        &self.modules
    }

    /// Input channels.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.net.in_channels()
    }

    /// Output channels.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.net.out_channels()
    }

    /// Output spatial size for an input of `hw` (`[1, L]` for 1D).
    pub fn output_size(&self, hw: [usize; 2]) -> Result<[usize; 2], Error> {
        self.net.output_size(hw)
    }

    /// Runs the stack on flat NCHW data of `batch` items of size `hw`. Returns the output
    /// and its spatial size.
    pub fn forward_nchw(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Error> {
        self.net.forward(batch, hw, input)
    }

    /// Runs the stack into `output`, reusing `ws`; returns the output spatial size.
    pub fn forward_nchw_into(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<[usize; 2], Error> {
        self.net.forward_into(batch, hw, input, output, ws)
    }

    /// Runs the stack on an untyped tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, Error> {
        run(&self.net, x)
    }
}

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
/// shell `dilated_stack!` expands to. See the [module docs](self) for the pattern.
pub struct TypedStack<I, O> {
    stack: Stack,
    _io: PhantomData<fn(I) -> O>,
}

impl<I: TypedTensor, O: TypedTensor> TypedStack<I, O> {
    /// Wraps `stack`, checking it against `I` and `O`: rank, channels, and, when `I`'s
    /// spatial size is fully known, that the stack has an output of `O`'s size.
    pub fn new(stack: Stack) -> Result<Self, Error> {
        for (what, expected) in [("input rank", I::RANK), ("output rank", O::RANK)] {
            if stack.rank.get() != expected {
                return Err(Error::Shape {
                    what,
                    expected,
                    actual: stack.rank.get(),
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
    /// [`Conv2d::network`]).
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
        O::from_tensor(run(&self.stack.net, x.tensor())?)
    }

    /// Typed forward pass into `out` (whose shape must be the output's), reusing `ws`.
    pub fn forward_into(&self, x: &I, out: &mut O, ws: &mut Workspace) -> Result<(), Error> {
        let shape = out.tensor().shape();
        run_into(&self.stack.net, x.tensor(), shape, out.data_mut(), ws)
    }

    /// The spatial size of `len` elements of flat input holding `batch` items: `I`'s
    /// declared size, with one [`DYN`] axis inferred from the length. Two dynamic axes
    /// cannot be inferred ([`Error::UnknownSize`]; use
    /// [`forward_nchw_sized`](Self::forward_nchw_sized)).
    pub fn input_hw(&self, batch: usize, len: usize) -> Result<[usize; 2], Error> {
        if batch == 0 {
            return Err(Error::Zero { what: "batch" });
        }
        let mut hw = I::SPATIAL;
        let dynamic: Vec<usize> = (0..2).filter(|&a| hw[a] == DYN).collect();
        match dynamic.as_slice() {
            [] => {}
            &[axis] => {
                let known = hw[1 - axis];
                let per = batch
                    .checked_mul(I::CHANNELS)
                    .and_then(|v| v.checked_mul(known))
                    .ok_or(Error::Overflow {
                        what: "tensor size",
                    })?;
                if per == 0 {
                    return Err(Error::Zero {
                        what: "input channels",
                    });
                }
                if len == 0 || !len.is_multiple_of(per) {
                    return Err(Error::Length {
                        what: "input (not a whole number of items)",
                        expected: per.saturating_mul((len / per).max(1)),
                        actual: len,
                    });
                }
                hw[axis] = len / per;
            }
            _ => {
                return Err(Error::UnknownSize {
                    what: "forward_nchw on a stack whose height and width are both dynamic",
                });
            }
        }
        Ok(hw)
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
        let (y, out_hw) = self.stack.net.forward(batch, hw, input)?;
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

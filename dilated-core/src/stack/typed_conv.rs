//! The typed convolutions [`Conv2d`] and [`Conv1d`]: const-generic shells over an engine
//! [`Conv`], defined by one macro so that what they share is written once; only the
//! methods that name their tensors differ.

use std::marker::PhantomData;

use super::padding::{ConstPadding, Pad1d, Pad2d};
use super::run::{run, run_typed, run_typed_into};
use super::shell::Shell;
use crate::Error;
use crate::conv::{Activation, Conv, ConvDesc, Rank};
use crate::engine::{Kernel, Network, Workspace};
use crate::init::Init;
use crate::tensor::{DYN, Tensor, Tensor1d, Tensor2d};
use crate::weights::Weights;

/// What [`Conv2d`] and [`Conv1d`] have in common; [`TypedStack::layer`] returns any of them.
///
/// [`TypedStack::layer`]: super::TypedStack::layer
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

/// Defines one typed convolution `$name` over the const parameters `$param` and a padding
/// type `$pad`: the struct; its descriptor (the one place its parameters become a
/// [`ConvDesc`]); construction, loading, accessors and its own network; [`TypedConv`],
/// `Clone` and `Debug`. The methods that name the rank's tensors come in `$methods`.
macro_rules! typed_conv {
    (
        $(#[$attr:meta])*
        $name:ident<$($param:ident),+>, padding: $pad:ident = $pad_default:ty,
        rank: $rank:expr,
        desc: [
            $ci:ident -> $co:ident,
            groups: $g:ident,
            kernel: $kernel:expr,
            dilation: $dilation:expr,
            stride: $stride:expr $(,)?
        ],
        methods: { $($methods:tt)* }
    ) => {
        $(#[$attr])*
        pub struct $name<$(const $param: usize,)+ $pad: ConstPadding = $pad_default> {
            shell: Shell,
            _padding: PhantomData<fn() -> $pad>,
        }

        impl<$(const $param: usize,)+ $pad: ConstPadding> $name<$($param,)+ $pad> {
            /// The run-time descriptor of this layer type (usable in `const` items).
            #[must_use]
            pub const fn descriptor(bias: bool, activation: Activation) -> ConvDesc {
                ConvDesc {
                    in_channels: $ci,
                    out_channels: $co,
                    groups: $g,
                    kernel: $kernel,
                    dilation: $dilation,
                    stride: $stride,
                    padding: $pad::PADDING,
                    bias,
                    activation,
                }
            }

            /// Wraps an engine layer; see [`TypedConv::from_conv`].
            pub fn from_conv(conv: Conv) -> Result<Self, Error> {
                Ok(Self {
                    shell: Shell::new(
                        &Self::descriptor(false, Activation::Identity),
                        $rank,
                        conv,
                    )?,
                    _padding: PhantomData,
                })
            }

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
                Self::from_conv(weights.take_conv(module, desc, $rank)?)
            }

            /// The engine layer (descriptor, weights, bias).
            #[must_use]
            pub fn layer(&self) -> &Conv {
                self.shell.layer()
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
            /// A typed layer holds its weights once (shared with its clones and with the
            /// stack it came from) and packs them for the kernels only when it runs on its
            /// own: the network is built on the first call of this method or of a
            /// `forward*` method (or at [`with_threads`](Self::with_threads) /
            /// [`with_kernel`](Self::with_kernel)), then kept. The typed layers of a
            /// `dilated_stack!` struct that are never run on their own therefore cost no
            /// packed copy. The only error is a size overflow while packing.
            pub fn network(&self) -> Result<&Network, Error> {
                self.shell.network()
            }

            /// Runs on `threads` threads (see
            /// [`Network::with_threads`](crate::engine::Network::with_threads): 0 = the
            /// current rayon pool, 1 = the calling thread). Builds the layer's network now
            /// (see [`network`](Self::network)), so a thread pool that cannot be built is
            /// reported here.
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

            $($methods)*
        }

        impl<$(const $param: usize,)+ $pad: ConstPadding> TypedConv for $name<$($param,)+ $pad> {
            const RANK: Rank = $rank;
            const IN: usize = $ci;
            const OUT: usize = $co;
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

        impl<$(const $param: usize,)+ $pad: ConstPadding> Clone for $name<$($param,)+ $pad> {
            fn clone(&self) -> Self {
                Self {
                    shell: self.shell.clone(),
                    _padding: PhantomData,
                }
            }
        }

        impl<$(const $param: usize,)+ $pad: ConstPadding> std::fmt::Debug
            for $name<$($param,)+ $pad>
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("desc", self.desc())
                    .finish_non_exhaustive()
            }
        }
    };
}

typed_conv! {
    /// A 2D convolution: `CI → CO` channels, kernel `KH × KW`, rate `DH, DW`, stride
    /// `SH, SW`, `G` groups, padding `P` ([`Pad2d`]). See the [module docs](crate::stack).
    Conv2d<CI, CO, KH, KW, DH, DW, SH, SW, G>, padding: P = Pad2d<0, 0, 0, 0>,
    rank: Rank::Two,
    desc: [
        CI -> CO,
        groups: G,
        kernel: [KH, KW],
        dilation: [DH, DW],
        stride: [SH, SW],
    ],
    methods: {
        /// Output size `[oh, ow]` for an input of `hw` (an error when the layer has no
        /// output).
        pub fn output_size(&self, hw: [usize; 2]) -> Result<[usize; 2], Error> {
            self.desc().output_size(hw)
        }

        /// Runs the layer, allocating the output. `OH`/`OW` are what the caller expects
        /// (or [`DYN`]); a mismatch is an [`Error::Shape`].
        pub fn forward<const H: usize, const W: usize, const OH: usize, const OW: usize>(
            &self,
            x: &Tensor2d<CI, H, W>,
        ) -> Result<Tensor2d<CO, OH, OW>, Error> {
            run_typed(self.network()?, x)
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
            run_typed_into(self.network()?, x, out, ws)
        }
    }
}

typed_conv! {
    /// A 1D convolution: `CI → CO` channels, kernel `K`, rate `D`, stride `S`, `G` groups,
    /// padding `P` ([`Pad1d`]). Runs on [`Tensor1d`]. See the [module docs](crate::stack).
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
    Conv1d<CI, CO, K, D, S, G>, padding: P = Pad1d<0, 0>,
    rank: Rank::One,
    desc: [
        CI -> CO,
        groups: G,
        kernel: [1, K],
        dilation: [1, D],
        stride: [1, S],
    ],
    methods: {
        /// Output length for an input of length `len` (an error when the layer has no
        /// output).
        pub fn output_len(&self, len: usize) -> Result<usize, Error> {
            Ok(self.desc().output_size([1, len])?[1])
        }

        /// Runs the layer, allocating the output. `OL` is what the caller expects (or
        /// [`DYN`]); a mismatch is an [`Error::Shape`].
        pub fn forward<const L: usize, const OL: usize>(
            &self,
            x: &Tensor1d<CI, L>,
        ) -> Result<Tensor1d<CO, OL>, Error> {
            run_typed(self.network()?, x)
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
            run_typed_into(self.network()?, x, out, ws)
        }
    }
}

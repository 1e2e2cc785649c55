//! Tensors: an owned NCHW `f32` [`Tensor`], borrowed views, and typed wrappers whose
//! channel count (and spatial size, when known at compile time) is part of the type.
//!
//! # The typed wrappers
//!
//! - [`Tensor2d<C, H, W>`] — a batch of `C × H × W` images, shape `[n, C, H, W]`.
//! - [`Tensor1d<C, L>`] — a batch of `C × L` sequences, shape `[n, C, L]`, stored as
//!   `[n, C, 1, L]` (a 1D convolution is a 2D one with `H = 1`).
//!
//! `C` is always a compile-time constant. A spatial size is either a constant or
//! [`DYN`] (`= 0`), which means "any size, checked at run time": since a real size is
//! never 0, the sentinel cannot collide with one. `Tensor2d<64, 128, 128>` only holds
//! 128×128 images; `Tensor2d<64, DYN, DYN>` holds 64-channel images of any size;
//! `Tensor1d<32, DYN>` holds 32-channel sequences of any length. The batch size is always
//! a run-time value.
//!
//! A `dilated_stack!` whose input is declared `[64, 128, 128]` takes a
//! `Tensor2d<64, 128, 128>` and one declared `[64, _, _]` takes a `Tensor2d<64, DYN, DYN>`;
//! passing anything else is a type error. [`TypedTensor`] is the trait the stack and layer
//! shells are generic over.
//!
//! ```
//! use dilated_core::tensor::{DYN, Tensor, Tensor2d};
//! let t = Tensor::from_vec([2, 3, 4, 5], vec![0.0; 2 * 3 * 4 * 5])?;
//! let fixed: Tensor2d<3, 4, 5> = Tensor2d::new(t.clone())?;
//! let any: Tensor2d<3, DYN, DYN> = Tensor2d::new(t.clone())?;
//! assert_eq!(fixed.hw(), any.hw());
//! // Wrong channel count: a typed error, not a panic.
//! assert!(Tensor2d::<4, DYN, DYN>::new(t).is_err());
//! # Ok::<(), dilated_core::Error>(())
//! ```

use crate::Error;

/// The spatial size of a typed tensor that is only known at run time (`_` in
/// `dilated_stack!`). Real sizes are at least 1, so `0` is free to mean "dynamic".
pub const DYN: usize = 0;

fn checked_len(shape: [usize; 4]) -> Result<usize, Error> {
    const NAMES: [&str; 4] = ["batch", "channels", "height", "width"];
    for (v, what) in shape.iter().zip(NAMES) {
        if *v == 0 {
            return Err(Error::Zero { what });
        }
    }
    shape
        .iter()
        .try_fold(1usize, |acc, &v| acc.checked_mul(v))
        .ok_or(Error::Overflow {
            what: "tensor size",
        })
}

fn check_data_len(shape: [usize; 4], actual: usize) -> Result<(), Error> {
    let expected = checked_len(shape)?;
    if expected == actual {
        Ok(())
    } else {
        Err(Error::Length {
            what: "tensor data",
            expected,
            actual,
        })
    }
}

/// Flat index of `[n, c, h, w]` in a tensor of `shape`, or `None` when out of bounds.
fn flat_index(shape: [usize; 4], index: [usize; 4]) -> Option<usize> {
    if index.iter().zip(shape).any(|(&i, s)| i >= s) {
        return None;
    }
    // In bounds of a tensor whose length did not overflow: this cannot overflow either.
    Some(((index[0] * shape[1] + index[1]) * shape[2] + index[2]) * shape[3] + index[3])
}

/// An owned, contiguous NCHW `f32` tensor: shape `[n, c, h, w]`, every size at least 1.
///
/// ```
/// use dilated_core::tensor::Tensor;
/// let t = Tensor::from_fn([1, 2, 2, 3], |[_, c, h, w]| (c * 100 + h * 10 + w) as f32)?;
/// assert_eq!(t.shape(), [1, 2, 2, 3]);
/// assert_eq!(t.get([0, 1, 1, 2]), Some(112.0));
/// assert_eq!(t.get([0, 2, 0, 0]), None);
/// assert_eq!(t.into_vec().len(), 12);
/// # Ok::<(), dilated_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: [usize; 4],
    data: Vec<f32>,
}

impl Tensor {
    /// Wraps `data` (NCHW order) as a tensor of `shape`. Fails on a zero size, on a
    /// shape whose element count overflows `usize`, or when `data` has the wrong length.
    pub fn from_vec(shape: [usize; 4], data: Vec<f32>) -> Result<Self, Error> {
        check_data_len(shape, data.len())?;
        Ok(Self { shape, data })
    }

    /// Copies `data` (NCHW order) into a tensor of `shape`; same checks as
    /// [`from_vec`](Self::from_vec).
    pub fn from_slice(shape: [usize; 4], data: &[f32]) -> Result<Self, Error> {
        check_data_len(shape, data.len())?;
        Ok(Self {
            shape,
            data: data.to_vec(),
        })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: [usize; 4]) -> Result<Self, Error> {
        Self::full(shape, 0.0)
    }

    /// A tensor filled with `value`.
    pub fn full(shape: [usize; 4], value: f32) -> Result<Self, Error> {
        let len = checked_len(shape)?;
        Ok(Self {
            shape,
            data: vec![value; len],
        })
    }

    /// A tensor whose element at `[n, c, h, w]` is `f([n, c, h, w])`, filled in NCHW order.
    pub fn from_fn(shape: [usize; 4], mut f: impl FnMut([usize; 4]) -> f32) -> Result<Self, Error> {
        let len = checked_len(shape)?;
        let mut data = Vec::with_capacity(len);
        for n in 0..shape[0] {
            for c in 0..shape[1] {
                for h in 0..shape[2] {
                    for w in 0..shape[3] {
                        data.push(f([n, c, h, w]));
                    }
                }
            }
        }
        Ok(Self { shape, data })
    }

    /// A 1D tensor `[n, c, l]`, stored as `[n, c, 1, l]`.
    pub fn from_vec_1d(shape: [usize; 3], data: Vec<f32>) -> Result<Self, Error> {
        Self::from_vec([shape[0], shape[1], 1, shape[2]], data)
    }

    /// The shape `[n, c, h, w]`.
    #[must_use]
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// Batch size `n`.
    #[must_use]
    pub fn batch(&self) -> usize {
        self.shape[0]
    }

    /// Channels `c`.
    #[must_use]
    pub fn channels(&self) -> usize {
        self.shape[1]
    }

    /// Height `h` (1 for a 1D tensor).
    #[must_use]
    pub fn height(&self) -> usize {
        self.shape[2]
    }

    /// Width `w` (the length of a 1D tensor).
    #[must_use]
    pub fn width(&self) -> usize {
        self.shape[3]
    }

    /// Spatial size `[h, w]`.
    #[must_use]
    pub fn hw(&self) -> [usize; 2] {
        [self.shape[2], self.shape[3]]
    }

    /// Number of elements (never 0).
    #[must_use]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Always `false`: a tensor has at least one element. Present for API symmetry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The element at `[n, c, h, w]`, or `None` when out of bounds.
    #[must_use]
    pub fn get(&self, index: [usize; 4]) -> Option<f32> {
        flat_index(self.shape, index).map(|i| self.data[i])
    }

    /// A mutable reference to the element at `[n, c, h, w]`, or `None` when out of bounds.
    pub fn get_mut(&mut self, index: [usize; 4]) -> Option<&mut f32> {
        flat_index(self.shape, index).map(|i| &mut self.data[i])
    }

    /// The data, NCHW order.
    #[must_use]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The data, NCHW order, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Gives the data back, NCHW order.
    #[must_use]
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// A borrowed view of the whole tensor.
    #[must_use]
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            shape: self.shape,
            data: &self.data,
        }
    }

    /// A mutable view of the whole tensor.
    pub fn view_mut(&mut self) -> TensorViewMut<'_> {
        TensorViewMut {
            shape: self.shape,
            data: &mut self.data,
        }
    }

    /// A view of batch item `n`, shape `[1, c, h, w]`.
    pub fn item(&self, n: usize) -> Result<TensorView<'_>, Error> {
        self.view().item(n)
    }

    /// The same data under a new shape with the same element count.
    pub fn reshape(self, shape: [usize; 4]) -> Result<Self, Error> {
        Self::from_vec(shape, self.data)
    }
}

/// A borrowed NCHW tensor: shape plus a slice of exactly that many elements.
///
/// ```
/// use dilated_core::tensor::TensorView;
/// let data = [1.0, 2.0, 3.0, 4.0];
/// let v = TensorView::new([2, 1, 1, 2], &data)?;
/// assert_eq!(v.item(1)?.as_slice(), &[3.0, 4.0]);
/// assert!(TensorView::new([2, 1, 1, 3], &data).is_err());
/// # Ok::<(), dilated_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorView<'a> {
    shape: [usize; 4],
    data: &'a [f32],
}

impl<'a> TensorView<'a> {
    /// Views `data` (NCHW order) as a tensor of `shape`; same checks as
    /// [`Tensor::from_vec`].
    pub fn new(shape: [usize; 4], data: &'a [f32]) -> Result<Self, Error> {
        check_data_len(shape, data.len())?;
        Ok(Self { shape, data })
    }

    /// The shape `[n, c, h, w]`.
    #[must_use]
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The data, NCHW order.
    #[must_use]
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// The element at `[n, c, h, w]`, or `None` when out of bounds.
    #[must_use]
    pub fn get(&self, index: [usize; 4]) -> Option<f32> {
        flat_index(self.shape, index).map(|i| self.data[i])
    }

    /// A view of batch item `n`, shape `[1, c, h, w]`.
    pub fn item(&self, n: usize) -> Result<TensorView<'a>, Error> {
        if n >= self.shape[0] {
            return Err(Error::Shape {
                what: "batch index (must be below the batch size)",
                expected: self.shape[0],
                actual: n,
            });
        }
        let per = self.data.len() / self.shape[0];
        Ok(TensorView {
            shape: [1, self.shape[1], self.shape[2], self.shape[3]],
            data: &self.data[n * per..(n + 1) * per],
        })
    }

    /// Copies the view into an owned tensor.
    #[must_use]
    pub fn to_tensor(&self) -> Tensor {
        Tensor {
            shape: self.shape,
            data: self.data.to_vec(),
        }
    }
}

/// A mutably borrowed NCHW tensor.
#[derive(Debug, PartialEq)]
pub struct TensorViewMut<'a> {
    shape: [usize; 4],
    data: &'a mut [f32],
}

impl<'a> TensorViewMut<'a> {
    /// Views `data` (NCHW order) as a tensor of `shape`; same checks as
    /// [`Tensor::from_vec`].
    pub fn new(shape: [usize; 4], data: &'a mut [f32]) -> Result<Self, Error> {
        check_data_len(shape, data.len())?;
        Ok(Self { shape, data })
    }

    /// The shape `[n, c, h, w]`.
    #[must_use]
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The data, NCHW order.
    #[must_use]
    pub fn as_slice(&self) -> &[f32] {
        self.data
    }

    /// The data, NCHW order, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }

    /// A read-only view.
    #[must_use]
    pub fn as_view(&self) -> TensorView<'_> {
        TensorView {
            shape: self.shape,
            data: self.data,
        }
    }
}

/// A tensor whose channel count and rank are part of its type, and whose spatial sizes
/// are either part of the type or [`DYN`]. Implemented by [`Tensor2d`] and [`Tensor1d`];
/// the typed layers and stacks are generic over it.
pub trait TypedTensor: Sized {
    /// 1 for [`Tensor1d`], 2 for [`Tensor2d`].
    const RANK: usize;
    /// The channel count.
    const CHANNELS: usize;
    /// The spatial size `[h, w]` the type requires, [`DYN`] where any size goes
    /// (`[1, L]` for a 1D tensor).
    const SPATIAL: [usize; 2];

    /// Checks `tensor` against the type and wraps it.
    fn from_tensor(tensor: Tensor) -> Result<Self, Error>;

    /// The untyped tensor.
    fn tensor(&self) -> &Tensor;

    /// The untyped tensor, mutable: data only, the shape cannot change.
    fn data_mut(&mut self) -> &mut [f32];

    /// Unwraps the untyped tensor.
    fn into_tensor(self) -> Tensor;
}

/// Checks a shape against a typed tensor's constants.
fn check_typed(
    rank: usize,
    channels: usize,
    spatial: [usize; 2],
    shape: [usize; 4],
) -> Result<(), Error> {
    if shape[1] != channels {
        return Err(Error::Shape {
            what: "channels",
            expected: channels,
            actual: shape[1],
        });
    }
    if rank == 1 && shape[2] != 1 {
        return Err(Error::Shape {
            what: "height of a 1D tensor",
            expected: 1,
            actual: shape[2],
        });
    }
    let names = if rank == 1 {
        ["height", "length"]
    } else {
        ["height", "width"]
    };
    for axis in 0..2 {
        if spatial[axis] != DYN && shape[2 + axis] != spatial[axis] {
            return Err(Error::Shape {
                what: names[axis],
                expected: spatial[axis],
                actual: shape[2 + axis],
            });
        }
    }
    Ok(())
}

/// Defines one typed tensor `$name` (channels `$c`, then its spatial parameters): the
/// struct; the constructors from a batch size and a spatial size `$size` (which `$hw`
/// turns into `[h, w]`); the accessors every typed tensor has; [`TypedTensor`], `Clone`,
/// `PartialEq`, `Debug` (showing `$debug_shape`) and the conversions from and to
/// [`Tensor`]. The methods of one rank only come in `$methods`.
macro_rules! typed_tensor {
    (
        $(#[$attr:meta])*
        $name:ident<$c:ident $(, $param:ident)*>,
        rank: $rank:literal,
        spatial: $spatial:expr,
        size: $size:ident: $size_ty:ty => $hw:expr,
        docs: [checks: $checks:literal, order: $order:literal, items: $items:literal $(,)?],
        debug_shape: |$t:ident| $debug_shape:expr,
        methods: { $($methods:tt)* }
    ) => {
        $(#[$attr])*
        pub struct $name<const $c: usize $(, const $param: usize)*> {
            tensor: Tensor,
        }

        impl<const $c: usize $(, const $param: usize)*> $name<$c $(, $param)*> {
            #[doc = concat!("Checks `tensor` (", $checks, ") and wraps it.")]
            pub fn new(tensor: Tensor) -> Result<Self, Error> {
                check_typed($rank, $c, $spatial, tensor.shape)?;
                Ok(Self { tensor })
            }

            /// The shape `[n, c, h, w]` of `batch` items of the given spatial size.
            fn nchw(batch: usize, $size: $size_ty) -> [usize; 4] {
                let [h, w] = $hw;
                [batch, $c, h, w]
            }

            #[doc = concat!(
                "Wraps ", $order, " `data` of `batch` ", $items, ", checked against the type."
            )]
            pub fn from_vec(batch: usize, $size: $size_ty, data: Vec<f32>) -> Result<Self, Error> {
                Self::new(Tensor::from_vec(Self::nchw(batch, $size), data)?)
            }

            #[doc = concat!(
                "Copies ", $order, " `data` of `batch` ", $items, ", checked against the type."
            )]
            pub fn from_slice(batch: usize, $size: $size_ty, data: &[f32]) -> Result<Self, Error> {
                Self::new(Tensor::from_slice(Self::nchw(batch, $size), data)?)
            }

            #[doc = concat!("`batch` ", $items, ", all zeros.")]
            pub fn zeros(batch: usize, $size: $size_ty) -> Result<Self, Error> {
                Self::new(Tensor::zeros(Self::nchw(batch, $size))?)
            }

            /// Batch size.
            #[must_use]
            pub fn batch(&self) -> usize {
                self.tensor.batch()
            }

            /// The untyped tensor.
            #[must_use]
            pub fn tensor(&self) -> &Tensor {
                &self.tensor
            }

            #[doc = concat!("The data, ", $order, " order.")]
            #[must_use]
            pub fn as_slice(&self) -> &[f32] {
                self.tensor.as_slice()
            }

            #[doc = concat!("The data, ", $order, " order, mutable (the shape cannot change).")]
            pub fn as_mut_slice(&mut self) -> &mut [f32] {
                self.tensor.as_mut_slice()
            }

            /// Unwraps the untyped tensor.
            #[must_use]
            pub fn into_tensor(self) -> Tensor {
                self.tensor
            }

            #[doc = concat!("Gives the data back, ", $order, " order.")]
            #[must_use]
            pub fn into_vec(self) -> Vec<f32> {
                self.tensor.data
            }

            $($methods)*
        }

        impl<const $c: usize $(, const $param: usize)*> TypedTensor for $name<$c $(, $param)*> {
            const RANK: usize = $rank;
            const CHANNELS: usize = $c;
            const SPATIAL: [usize; 2] = $spatial;

            fn from_tensor(tensor: Tensor) -> Result<Self, Error> {
                Self::new(tensor)
            }
            fn tensor(&self) -> &Tensor {
                &self.tensor
            }
            fn data_mut(&mut self) -> &mut [f32] {
                self.tensor.as_mut_slice()
            }
            fn into_tensor(self) -> Tensor {
                self.tensor
            }
        }

        impl<const $c: usize $(, const $param: usize)*> Clone for $name<$c $(, $param)*> {
            fn clone(&self) -> Self {
                Self {
                    tensor: self.tensor.clone(),
                }
            }
        }

        impl<const $c: usize $(, const $param: usize)*> PartialEq for $name<$c $(, $param)*> {
            fn eq(&self, other: &Self) -> bool {
                self.tensor == other.tensor
            }
        }

        impl<const $c: usize $(, const $param: usize)*> std::fmt::Debug for $name<$c $(, $param)*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $t = &self.tensor;
                f.debug_struct(stringify!($name))
                    .field("shape", &$debug_shape)
                    .finish_non_exhaustive()
            }
        }

        impl<const $c: usize $(, const $param: usize)*> TryFrom<Tensor> for $name<$c $(, $param)*> {
            type Error = Error;
            fn try_from(tensor: Tensor) -> Result<Self, Error> {
                Self::new(tensor)
            }
        }

        impl<const $c: usize $(, const $param: usize)*> From<$name<$c $(, $param)*>> for Tensor {
            fn from(t: $name<$c $(, $param)*>) -> Self {
                t.tensor
            }
        }
    };
}

typed_tensor! {
    /// A batch of `C × H × W` images, `[n, C, H, W]`; `H` or `W` may be [`DYN`].
    /// See the [module docs](self).
    ///
    /// ```
    /// use dilated_core::tensor::{DYN, Tensor2d};
    /// let x = Tensor2d::<2, 3, DYN>::zeros(4, [3, 7])?;
    /// assert_eq!(x.batch(), 4);
    /// assert_eq!(x.hw(), [3, 7]);
    /// assert!(Tensor2d::<2, 3, DYN>::zeros(4, [5, 7]).is_err()); // height must be 3
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    Tensor2d<C, H, W>,
    rank: 2,
    spatial: [H, W],
    size: hw: [usize; 2] => hw,
    docs: [
        checks: "channels `C`, height `H` and width `W` unless [`DYN`]",
        order: "NCHW",
        items: "images of size `hw`",
    ],
    debug_shape: |t| t.shape,
    methods: {
        /// Spatial size `[h, w]` (equal to `[H, W]` where those are not [`DYN`]).
        #[must_use]
        pub fn hw(&self) -> [usize; 2] {
            self.tensor.hw()
        }
    }
}

typed_tensor! {
    /// A batch of `C`-channel sequences of length `L`, `[n, C, L]` stored as `[n, C, 1, L]`;
    /// `L` may be [`DYN`]. See the [module docs](self).
    ///
    /// ```
    /// use dilated_core::tensor::{DYN, Tensor1d};
    /// let x = Tensor1d::<2, DYN>::from_vec(1, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// assert_eq!(x.len(), 3);
    /// assert_eq!(x.tensor().shape(), [1, 2, 1, 3]);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    Tensor1d<C, L>,
    rank: 1,
    spatial: [1, L],
    size: len: usize => [1, len],
    docs: [
        checks: "channels `C`, height 1, length `L` unless [`DYN`]",
        order: "`[n, C, len]`",
        items: "sequences of length `len`",
    ],
    debug_shape: |t| [t.shape[0], C, t.shape[3]],
    methods: {
        /// Sequence length (equal to `L` unless that is [`DYN`]).
        #[must_use]
        #[allow(clippy::len_without_is_empty)] // A tensor is never empty.
        pub fn len(&self) -> usize {
            self.tensor.width()
        }
    }
}

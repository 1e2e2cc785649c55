//! Conversions between [`ndarray`] arrays and the runtime's tensors and flat NCHW buffers
//! (feature `ndarray`).
//!
//! Layouts: a 2D batch is an [`Array4`] `[N, C, H, W]` (NCHW), a 1D batch an [`Array3`]
//! `[N, C, L]` (NCL, stored by the runtime as `[N, C, 1, L]`), a single signal for
//! [`CausalStream`] an [`Array2`] `[C, T]`.
//!
//! Nothing is copied where the layout allows it:
//!
//! | direction | standard (C-contiguous) layout | any other layout (sliced, transposed…) |
//! |---|---|---|
//! | owned array → [`Tensor`] ([`tensor_from_array4`], `TryFrom`) | the array's `Vec` is moved in | copied in logical order |
//! | array view → flat NCHW ([`nchw_from_view4`], [`AsNchw`]) | borrowed | copied |
//! | [`Tensor`] → owned array (`TryFrom`, [`array4_from_tensor`]) | the tensor's `Vec` is moved | — |
//! | [`Tensor`] / [`TensorView`] → array view | borrowed | — |
//! | network output → array ([`Network::forward_array4`]) | the output `Vec` is moved | — |
//!
//! Every shape mismatch, zero size or overflow is an [`Error`], never a panic.
//!
//! ```
//! use dilated_core::ConvDesc;
//! use dilated_core::conv::Conv;
//! use dilated_core::engine::Network;
//! use ndarray::{Array4, s};
//!
//! // A 3×3 rate-2 layer that passes the centre pixel through and adds 0.5.
//! let mut w = vec![0.0; 9];
//! w[4] = 1.0;
//! let net = Network::new(vec![Conv::new(ConvDesc::same_2d(1, 1, 3, 2), w, Some(vec![0.5]))?])?;
//!
//! let x = Array4::from_shape_fn((2, 1, 4, 6), |(n, _, h, w)| (n * 100 + h * 10 + w) as f32);
//! let y: Array4<f32> = net.forward_array4(x.view())?; // borrowed in, moved out
//! assert_eq!(y.shape(), &[2, 1, 4, 6]);
//! assert_eq!(y[[1, 0, 2, 3]], 123.5);
//!
//! // A non-contiguous view (every other column) is copied, and works the same.
//! let cols = x.slice(s![.., .., .., ..;2]);
//! let y = net.forward_array4(cols)?;
//! assert_eq!(y[[1, 0, 2, 1]], 122.5);
//! # Ok::<(), dilated_core::Error>(())
//! ```

use std::borrow::Cow;

/// The `ndarray` crate these conversions are written for (0.17), re-exported so that a
/// user's arrays are of the same version without a separate dependency.
pub use ndarray;

use ndarray::{
    Array2, Array3, Array4, ArrayBase, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut4, Data,
    Ix3, Ix4, ShapeBuilder,
};

use crate::Error;
use crate::engine::Network;
use crate::stream::{CausalStream, StreamError};
use crate::tensor::{Tensor, Tensor1d, Tensor2d, TensorView, TensorViewMut};

/// Maps an ndarray shape error. Our shapes are checked before ndarray sees them, so this
/// only reports what ndarray itself refuses (sizes beyond `isize::MAX`).
#[allow(
    clippy::wildcard_enum_match_arm,
    reason = "ndarray's ErrorKind is another crate's #[non_exhaustive] enum: a wildcard arm is required"
)]
fn shape_error(err: &ndarray::ShapeError, expected: usize, actual: usize) -> Error {
    match err.kind() {
        ndarray::ErrorKind::IncompatibleShape => Error::Length {
            what: "array data",
            expected,
            actual,
        },
        _ => Error::Overflow { what: "array size" },
    }
}

fn check_nonzero(shape: &[usize], names: &[&'static str]) -> Result<(), Error> {
    for (&v, &what) in shape.iter().zip(names) {
        if v == 0 {
            return Err(Error::Zero { what });
        }
    }
    Ok(())
}

const NCHW: [&str; 4] = ["batch", "channels", "height", "width"];
const NCL: [&str; 3] = ["batch", "channels", "length"];

/// The elements of an owned array in logical (row-major) order, reusing its allocation
/// when it is in standard layout: at most a move within the buffer, no new allocation.
fn into_logical_vec<D: ndarray::Dimension>(a: Array<D>) -> Vec<f32> {
    if a.is_standard_layout() {
        let len = a.len();
        let (mut v, offset) = a.into_raw_vec_and_offset();
        let offset = offset.unwrap_or(0);
        if offset > 0 {
            v.drain(..offset);
        }
        v.truncate(len);
        v
    } else {
        a.iter().copied().collect()
    }
}

type Array<D> = ArrayBase<ndarray::OwnedRepr<f32>, D>;

/// Moves an NCHW array into a [`Tensor`]: no element is copied when the array is in
/// standard layout; any other layout is copied in logical order.
///
/// ```
/// use dilated_core::ndarray_interop::tensor_from_array4;
/// use ndarray::Array4;
/// let a = Array4::from_shape_fn((1, 2, 2, 3), |(_, c, h, w)| (c * 100 + h * 10 + w) as f32);
/// let ptr = a.as_ptr();
/// let t = tensor_from_array4(a)?;
/// assert_eq!(t.shape(), [1, 2, 2, 3]);
/// assert_eq!(t.get([0, 1, 1, 2]), Some(112.0));
/// assert_eq!(t.as_slice().as_ptr(), ptr); // the same buffer
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub fn tensor_from_array4(a: Array4<f32>) -> Result<Tensor, Error> {
    let d = a.dim();
    let shape = [d.0, d.1, d.2, d.3];
    check_nonzero(&shape, &NCHW)?;
    Tensor::from_vec(shape, into_logical_vec(a))
}

/// Moves an NCL array `[N, C, L]` into a 1D [`Tensor`] `[N, C, 1, L]`, like
/// [`tensor_from_array4`].
pub fn tensor_from_array3(a: Array3<f32>) -> Result<Tensor, Error> {
    let (n, c, l) = a.dim();
    check_nonzero(&[n, c, l], &NCL)?;
    Tensor::from_vec([n, c, 1, l], into_logical_vec(a))
}

/// Moves a [`Tensor`] into an NCHW [`Array4`] without copying.
///
/// ```
/// use dilated_core::ndarray_interop::array4_from_tensor;
/// use dilated_core::tensor::Tensor;
/// let t = Tensor::from_fn([1, 1, 2, 2], |[_, _, h, w]| (h * 2 + w) as f32)?;
/// let a = array4_from_tensor(t)?;
/// assert_eq!(a, ndarray::array![[[[0.0, 1.0], [2.0, 3.0]]]]);
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub fn array4_from_tensor(t: Tensor) -> Result<Array4<f32>, Error> {
    let [n, c, h, w] = t.shape();
    let data = t.into_vec();
    let len = data.len();
    Array4::from_shape_vec((n, c, h, w), data).map_err(|e| shape_error(&e, len, len))
}

/// Moves a 1D [`Tensor`] `[N, C, 1, L]` into an NCL [`Array3`] without copying. A tensor
/// whose height is not 1 is an [`Error::Shape`].
pub fn array3_from_tensor(t: Tensor) -> Result<Array3<f32>, Error> {
    let [n, c, h, l] = t.shape();
    if h != 1 {
        return Err(Error::Shape {
            what: "height of a 1D tensor",
            expected: 1,
            actual: h,
        });
    }
    let data = t.into_vec();
    let len = data.len();
    Array3::from_shape_vec((n, c, l), data).map_err(|e| shape_error(&e, len, len))
}

/// Wraps flat NCHW data (e.g. the output of [`Network::forward`]) as an [`Array4`] without
/// copying; the length must be the product of `shape`.
///
/// ```
/// use dilated_core::ndarray_interop::array4_from_nchw;
/// use dilated_core::Error;
/// let a = array4_from_nchw([1, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// assert_eq!(a[[0, 1, 0, 0]], 3.0);
/// assert!(matches!(array4_from_nchw([1, 2, 1, 3], vec![0.0; 4]), Err(Error::Length { .. })));
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub fn array4_from_nchw(shape: [usize; 4], data: Vec<f32>) -> Result<Array4<f32>, Error> {
    array4_from_tensor(Tensor::from_vec(shape, data)?)
}

/// Flat NCHW data taken from an array: borrowed when the array's layout is standard
/// (C-contiguous), an owned copy otherwise. Made by [`nchw_from_view4`],
/// [`nchw_from_view3`] or [`AsNchw::as_nchw`]; feeds [`Network::forward`] and the typed
/// stacks' `forward_nchw`.
#[derive(Debug, Clone, PartialEq)]
pub struct Nchw<'a> {
    shape: [usize; 4],
    data: Cow<'a, [f32]>,
}

impl<'a> Nchw<'a> {
    /// The shape `[n, c, h, w]` (`h = 1` for data taken from an NCL array).
    #[must_use]
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The batch size `n`.
    #[must_use]
    pub fn batch(&self) -> usize {
        self.shape[0]
    }

    /// The spatial size `[h, w]`.
    #[must_use]
    pub fn hw(&self) -> [usize; 2] {
        [self.shape[2], self.shape[3]]
    }

    /// The data in NCHW order.
    #[must_use]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Whether the data is borrowed from the array (no copy was made).
    #[must_use]
    pub fn is_borrowed(&self) -> bool {
        matches!(self.data, Cow::Borrowed(_))
    }

    /// A [`TensorView`] of the data.
    pub fn view(&self) -> Result<TensorView<'_>, Error> {
        TensorView::new(self.shape, &self.data)
    }

    /// An owned [`Tensor`]: moves the copy if one was made, copies borrowed data.
    pub fn into_tensor(self) -> Result<Tensor, Error> {
        Tensor::from_vec(self.shape, self.data.into_owned())
    }
}

/// Flat NCHW data from an NCHW view: borrowed when the view is in standard layout, copied
/// (in logical order) otherwise.
///
/// ```
/// use dilated_core::ndarray_interop::nchw_from_view4;
/// use ndarray::{Array4, Axis};
/// let a = Array4::from_shape_fn((1, 2, 3, 4), |(_, c, h, w)| (c * 100 + h * 10 + w) as f32);
/// let x = nchw_from_view4(a.view())?;
/// assert!(x.is_borrowed());
/// assert_eq!(x.as_slice().as_ptr(), a.as_ptr());
/// // Swapping H and W is not NCHW-contiguous: copied, in the view's logical order.
/// let mut t = a.view();
/// t.swap_axes(2, 3);
/// let x = nchw_from_view4(t)?;
/// assert!(!x.is_borrowed());
/// assert_eq!(x.shape(), [1, 2, 4, 3]);
/// assert_eq!(&x.as_slice()[..3], &[0.0, 10.0, 20.0]);
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub fn nchw_from_view4<'a>(a: ArrayView4<'a, f32>) -> Result<Nchw<'a>, Error> {
    let d = a.dim();
    let shape = [d.0, d.1, d.2, d.3];
    check_nonzero(&shape, &NCHW)?;
    let data = match a.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    };
    Ok(Nchw { shape, data })
}

/// Flat NCHW data `[N, C, 1, L]` from an NCL view `[N, C, L]`, like [`nchw_from_view4`].
pub fn nchw_from_view3<'a>(a: ArrayView3<'a, f32>) -> Result<Nchw<'a>, Error> {
    let (n, c, l) = a.dim();
    check_nonzero(&[n, c, l], &NCL)?;
    let data = match a.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    };
    Ok(Nchw {
        shape: [n, c, 1, l],
        data,
    })
}

/// Borrows any 3D (NCL) or 4D (NCHW) `f32` array — owned, view or shared — as flat NCHW
/// data, copying only when its layout is not standard.
///
/// ```
/// use dilated_core::ndarray_interop::AsNchw;
/// use ndarray::Array3;
/// let signal = Array3::<f32>::zeros((2, 3, 100)); // [N, C, L]
/// let x = signal.as_nchw()?;
/// assert_eq!((x.shape(), x.is_borrowed()), ([2, 3, 1, 100], true));
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub trait AsNchw {
    /// The array as flat NCHW data (see [`Nchw`]).
    fn as_nchw(&self) -> Result<Nchw<'_>, Error>;
}

impl<S: Data<Elem = f32>> AsNchw for ArrayBase<S, Ix4> {
    fn as_nchw(&self) -> Result<Nchw<'_>, Error> {
        nchw_from_view4(self.view())
    }
}

impl<S: Data<Elem = f32>> AsNchw for ArrayBase<S, Ix3> {
    fn as_nchw(&self) -> Result<Nchw<'_>, Error> {
        nchw_from_view3(self.view())
    }
}

/// An [`ArrayView4`] of a tensor view, borrowing its data.
pub fn view4_from_tensor_view(t: TensorView<'_>) -> Result<ArrayView4<'_, f32>, Error> {
    let [n, c, h, w] = t.shape();
    let data = t.as_slice();
    ArrayView4::from_shape((n, c, h, w), data).map_err(|e| shape_error(&e, data.len(), data.len()))
}

/// An [`ArrayViewMut4`] of a mutable tensor view, borrowing its data: writes through the
/// array land in the tensor.
///
/// ```
/// use dilated_core::ndarray_interop::view_mut4_from_tensor_view;
/// use dilated_core::tensor::Tensor;
/// let mut t = Tensor::zeros([1, 2, 2, 2])?;
/// view_mut4_from_tensor_view(&mut t.view_mut())?.fill(1.5);
/// assert!(t.as_slice().iter().all(|&v| v == 1.5));
/// # Ok::<(), dilated_core::Error>(())
/// ```
pub fn view_mut4_from_tensor_view<'b>(
    t: &'b mut TensorViewMut<'_>,
) -> Result<ArrayViewMut4<'b, f32>, Error> {
    let [n, c, h, w] = t.shape();
    let data = t.as_mut_slice();
    let len = data.len();
    ArrayViewMut4::from_shape((n, c, h, w), data).map_err(|e| shape_error(&e, len, len))
}

impl TryFrom<Array4<f32>> for Tensor {
    type Error = Error;

    /// See [`tensor_from_array4`].
    fn try_from(a: Array4<f32>) -> Result<Self, Error> {
        tensor_from_array4(a)
    }
}

impl TryFrom<Array3<f32>> for Tensor {
    type Error = Error;

    /// See [`tensor_from_array3`].
    fn try_from(a: Array3<f32>) -> Result<Self, Error> {
        tensor_from_array3(a)
    }
}

impl TryFrom<Tensor> for Array4<f32> {
    type Error = Error;

    /// See [`array4_from_tensor`].
    fn try_from(t: Tensor) -> Result<Self, Error> {
        array4_from_tensor(t)
    }
}

impl TryFrom<Tensor> for Array3<f32> {
    type Error = Error;

    /// See [`array3_from_tensor`].
    fn try_from(t: Tensor) -> Result<Self, Error> {
        array3_from_tensor(t)
    }
}

impl<'a> TryFrom<&'a Tensor> for ArrayView4<'a, f32> {
    type Error = Error;

    /// Borrows the tensor's data as an NCHW view.
    fn try_from(t: &'a Tensor) -> Result<Self, Error> {
        view4_from_tensor_view(t.view())
    }
}

impl<'a> TryFrom<&'a mut Tensor> for ArrayViewMut4<'a, f32> {
    type Error = Error;

    /// Borrows the tensor's data mutably as an NCHW view.
    fn try_from(t: &'a mut Tensor) -> Result<Self, Error> {
        let [n, c, h, w] = t.shape();
        let data = t.as_mut_slice();
        let len = data.len();
        ArrayViewMut4::from_shape((n, c, h, w), data).map_err(|e| shape_error(&e, len, len))
    }
}

impl<'a> TryFrom<&'a Tensor> for ArrayView3<'a, f32> {
    type Error = Error;

    /// Borrows a 1D tensor's data (`[N, C, 1, L]`) as an NCL view; a height other than 1
    /// is an [`Error::Shape`].
    fn try_from(t: &'a Tensor) -> Result<Self, Error> {
        let [n, c, h, l] = t.shape();
        if h != 1 {
            return Err(Error::Shape {
                what: "height of a 1D tensor",
                expected: 1,
                actual: h,
            });
        }
        let data = t.as_slice();
        ArrayView3::from_shape((n, c, l), data).map_err(|e| shape_error(&e, data.len(), data.len()))
    }
}

impl<const C: usize, const H: usize, const W: usize> TryFrom<Array4<f32>> for Tensor2d<C, H, W> {
    type Error = Error;

    /// Moves the array in (see [`tensor_from_array4`]) and checks it against the type:
    /// `C` channels, height `H` and width `W` unless [`DYN`](crate::tensor::DYN).
    fn try_from(a: Array4<f32>) -> Result<Self, Error> {
        Self::new(tensor_from_array4(a)?)
    }
}

impl<const C: usize, const L: usize> TryFrom<Array3<f32>> for Tensor1d<C, L> {
    type Error = Error;

    /// Moves the array in (see [`tensor_from_array3`]) and checks it against the type:
    /// `C` channels, length `L` unless [`DYN`](crate::tensor::DYN).
    ///
    /// ```
    /// use dilated_core::tensor::{DYN, Tensor1d};
    /// use ndarray::Array3;
    /// let x = Tensor1d::<4, DYN>::try_from(Array3::<f32>::zeros((1, 4, 50)))?;
    /// assert_eq!(x.len(), 50);
    /// assert!(Tensor1d::<3, DYN>::try_from(Array3::<f32>::zeros((1, 4, 50))).is_err());
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    fn try_from(a: Array3<f32>) -> Result<Self, Error> {
        Self::new(tensor_from_array3(a)?)
    }
}

impl<const C: usize, const H: usize, const W: usize> TryFrom<Tensor2d<C, H, W>> for Array4<f32> {
    type Error = Error;

    /// Moves the tensor's data into an NCHW array without copying.
    fn try_from(t: Tensor2d<C, H, W>) -> Result<Self, Error> {
        array4_from_tensor(t.into_tensor())
    }
}

impl<const C: usize, const L: usize> TryFrom<Tensor1d<C, L>> for Array3<f32> {
    type Error = Error;

    /// Moves the tensor's data into an NCL array without copying.
    fn try_from(t: Tensor1d<C, L>) -> Result<Self, Error> {
        array3_from_tensor(t.into_tensor())
    }
}

impl Network {
    /// Runs the network on an NCHW array (feature `ndarray`). The input is borrowed when in
    /// standard layout (copied otherwise); the output buffer becomes the returned array
    /// without a copy.
    ///
    /// See the [module docs](crate::ndarray_interop) for an example.
    pub fn forward_array4(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>, Error> {
        let x = nchw_from_view4(input)?;
        self.check_channels(x.shape[1])?;
        let (y, [h, w]) = self.forward(x.batch(), x.hw(), x.as_slice())?;
        array4_from_nchw([x.batch(), self.out_channels(), h, w], y)
    }

    /// Runs a 1D network on an NCL array `[N, C, L]` (feature `ndarray`), like
    /// [`forward_array4`](Self::forward_array4); returns `[N, C_out, L_out]`.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use ndarray::array;
    /// // y[t] = x[t] − x[t − 3]: kernel 2, rate 3, causal.
    /// let layer = Conv::new(ConvDesc::causal_1d(1, 1, 2, 3), vec![-1.0, 1.0], Some(vec![0.0]))?;
    /// let net = Network::new(vec![layer])?;
    /// let y = net.forward_array3(array![[[1.0, 2.0, 4.0, 8.0, 16.0]]].view())?;
    /// assert_eq!(y, array![[[1.0, 2.0, 4.0, 7.0, 14.0]]]);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn forward_array3(&self, input: ArrayView3<'_, f32>) -> Result<Array3<f32>, Error> {
        let x = nchw_from_view3(input)?;
        self.check_channels(x.shape[1])?;
        let (y, [h, l]) = self.forward(x.batch(), x.hw(), x.as_slice())?;
        array3_from_tensor(Tensor::from_vec([x.batch(), self.out_channels(), h, l], y)?)
    }

    fn check_channels(&self, channels: usize) -> Result<(), Error> {
        if channels == self.in_channels() {
            Ok(())
        } else {
            Err(Error::Shape {
                what: "input channels",
                expected: self.in_channels(),
                actual: channels,
            })
        }
    }
}

impl CausalStream {
    /// Streams a block of frames given as an [`Array2`]-like view `[C_in, T]` (feature
    /// `ndarray`) and returns the outputs `[C_out, T]`. No input copy when the view is
    /// contiguous either way: a standard-layout view (channels-major memory) goes through
    /// [`push_chunk`](Self::push_chunk), a column-major one — e.g. the transpose of a
    /// `[T, C]` array of frames — through
    /// [`push_chunk_time_major`](Self::push_chunk_time_major), and the output has the same
    /// memory order as the input. Other views are copied. Allocates the output.
    ///
    /// ```
    /// use dilated_core::ConvDesc;
    /// use dilated_core::conv::Conv;
    /// use dilated_core::engine::Network;
    /// use dilated_core::stream::CausalStream;
    /// use ndarray::array;
    /// // y[t] = x0[t] + x1[t − 1]
    /// let layer = Conv::new(ConvDesc::causal_1d(2, 1, 2, 1), vec![0.0, 1.0, 1.0, 0.0], Some(vec![0.0]))?;
    /// let mut stream = CausalStream::new(&Network::new(vec![layer])?)?;
    /// let y = stream.push_array(array![[1.0, 2.0], [10.0, 20.0]].view())?;
    /// assert_eq!(y, array![[1.0, 12.0]]);
    /// // Frames as rows ([T, C]), transposed: streamed time-major without a copy.
    /// let frames = array![[3.0, 30.0], [4.0, 40.0]];
    /// let y = stream.push_array(frames.t())?;
    /// assert_eq!(y, array![[23.0, 34.0]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_array(&mut self, chunk: ArrayView2<'_, f32>) -> Result<Array2<f32>, StreamError> {
        let (channels, frames) = chunk.dim();
        if channels != self.in_channels() {
            return Err(StreamError::FrameLength {
                expected: self.in_channels(),
                actual: channels,
            });
        }
        let out_len = frames
            .checked_mul(self.out_channels())
            .ok_or(Error::Overflow {
                what: "chunk output size",
            })?;
        let mut out = vec![0.0; out_len];
        let shape = (self.out_channels(), frames);
        if let Some(channels_major) = chunk.to_slice() {
            self.push_chunk(channels_major, &mut out)?;
            Array2::from_shape_vec(shape, out)
        } else if let Some(time_major) = chunk.t().to_slice() {
            self.push_chunk_time_major(time_major, &mut out)?;
            Array2::from_shape_vec(shape.f(), out)
        } else {
            let copy: Vec<f32> = chunk.iter().copied().collect();
            self.push_chunk(&copy, &mut out)?;
            Array2::from_shape_vec(shape, out)
        }
        .map_err(|e| shape_error(&e, out_len, out_len).into())
    }
}

//! `ndarray` interop (feature `ndarray`): round trips, no copies where the layout allows,
//! non-contiguous arrays copied in logical order, shape errors typed.
#![cfg(feature = "ndarray")]

use dilated_core::conv::Conv;

use dilated_core::engine::Network;
use dilated_core::ndarray_interop::{
    AsNchw, array3_from_tensor, array4_from_nchw, array4_from_tensor, nchw_from_view3,
    nchw_from_view4, tensor_from_array3, tensor_from_array4, view_mut4_from_tensor_view,
    view4_from_tensor_view,
};
use dilated_core::stream::{CausalStream, StreamError};
use dilated_core::tensor::{DYN, Tensor, Tensor1d, Tensor2d};
use dilated_core::{Activation, ConvDesc, Error};
use ndarray::{Array2, Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut4, Axis, s};
use proptest::prelude::*;

/// A value that encodes its NCHW index, so a misplaced element cannot go unnoticed.
fn code(n: usize, c: usize, h: usize, w: usize) -> f32 {
    (n * 1000 + c * 100 + h * 10 + w) as f32
}

/// Checks that `t` holds exactly the logical contents of `a`.
fn assert_same(t: &Tensor, a: &ArrayView4<'_, f32>) {
    let d = a.dim();
    assert_eq!(t.shape(), [d.0, d.1, d.2, d.3]);
    for ((n, c, h, w), v) in a.indexed_iter() {
        assert_eq!(t.get([n, c, h, w]), Some(*v), "at {:?}", (n, c, h, w));
    }
}

/// The layouts an NCHW array can come in.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Standard,
    /// Standard layout but not at the start of its buffer (sliced in place along N).
    Offset,
    /// Every other column.
    Stepped,
    /// Rows reversed (negative stride).
    Reversed,
    /// Built as NHWC memory and viewed as NCHW (channels-last).
    ChannelsLast,
    /// Fortran (column-major) order.
    Fortran,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Standard),
        Just(Layout::Offset),
        Just(Layout::Stepped),
        Just(Layout::Reversed),
        Just(Layout::ChannelsLast),
        Just(Layout::Fortran),
    ]
}

/// An owned NCHW array of logical shape `shape` whose element at `[n, c, h, w]` is
/// `code(n, c, h + off_h, w·step)` for the layout's offsets, in the given memory layout.
fn make(shape: [usize; 4], layout: Layout) -> Array4<f32> {
    let [n, c, h, w] = shape;
    match layout {
        Layout::Standard => Array4::from_shape_fn((n, c, h, w), |(a, b, y, x)| code(a, b, y, x)),
        Layout::Offset => {
            let mut a = Array4::from_shape_fn((n + 1, c, h, w), |(a, b, y, x)| code(a, b, y, x));
            a.slice_collapse(s![1.., .., .., ..]);
            a
        }
        Layout::Stepped => {
            let mut a = Array4::from_shape_fn((n, c, h, 2 * w), |(a, b, y, x)| code(a, b, y, x));
            a.slice_collapse(s![.., .., .., ..;2]);
            a
        }
        Layout::Reversed => {
            let mut a = Array4::from_shape_fn((n, c, h, w), |(a, b, y, x)| code(a, b, y, x));
            a.invert_axis(Axis(2));
            a
        }
        Layout::ChannelsLast => {
            Array4::from_shape_fn((n, h, w, c), |(a, y, x, b)| code(a, b, y, x))
                .permuted_axes([0, 3, 1, 2])
        }
        Layout::Fortran => {
            use ndarray::ShapeBuilder;
            Array4::from_shape_fn((n, c, h, w).f(), |(a, b, y, x)| code(a, b, y, x))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn array4_tensor_round_trip(
        shape in prop::array::uniform4(1usize..=5),
        layout in layout(),
    ) {
        let a = make(shape, layout);
        let expected = a.clone();
        let standard = a.is_standard_layout();
        let ptr = a.as_ptr();
        let t = tensor_from_array4(a).unwrap();
        assert_same(&t, &expected.view());
        if standard && !matches!(layout, Layout::Offset) {
            // Moved, not copied: the tensor owns the array's buffer.
            prop_assert_eq!(t.as_slice().as_ptr(), ptr);
        }
        let back = array4_from_tensor(t).unwrap();
        prop_assert!(back.is_standard_layout());
        prop_assert_eq!(&back, &expected);

        // Views: borrowed exactly when standard, same contents either way.
        let x = nchw_from_view4(expected.view()).unwrap();
        prop_assert_eq!(x.is_borrowed(), expected.is_standard_layout());
        prop_assert_eq!(x.shape(), shape);
        assert_same(&x.into_tensor().unwrap(), &expected.view());
        let y = expected.as_nchw().unwrap();
        prop_assert_eq!(y.view().unwrap().shape(), shape);
        let logical: Vec<f32> = expected.iter().copied().collect();
        prop_assert_eq!(y.as_slice(), &logical[..]);
    }

    #[test]
    fn array3_tensor_round_trip(
        (n, c, l) in (1usize..=4, 1usize..=5, 1usize..=40),
        transposed in any::<bool>(),
    ) {
        let a = if transposed {
            Array3::from_shape_fn((n, l, c), |(a, t, b)| code(a, b, 0, t)).permuted_axes([0, 2, 1])
        } else {
            Array3::from_shape_fn((n, c, l), |(a, b, t)| code(a, b, 0, t))
        };
        let expected = a.clone();
        let t = tensor_from_array3(a).unwrap();
        prop_assert_eq!(t.shape(), [n, c, 1, l]);
        for ((i, b, j), v) in expected.indexed_iter() {
            prop_assert_eq!(t.get([i, b, 0, j]), Some(*v));
        }
        let view = ArrayView3::try_from(&t).unwrap();
        prop_assert_eq!(&view, &expected);
        prop_assert_eq!(view.as_ptr(), t.as_slice().as_ptr());
        let back: Array3<f32> = t.try_into().unwrap();
        prop_assert_eq!(&back, &expected);

        let x = nchw_from_view3(expected.view()).unwrap();
        prop_assert_eq!(x.is_borrowed(), !transposed || c == 1 || l == 1);
        prop_assert_eq!(x.hw(), [1, l]);
    }
}

#[test]
fn tensor_views_borrow() {
    let mut t = Tensor::from_fn([2, 3, 4, 5], |[n, c, h, w]| code(n, c, h, w)).unwrap();
    let v = ArrayView4::try_from(&t).unwrap();
    assert_eq!(v.as_ptr(), t.as_slice().as_ptr());
    assert_eq!(v[[1, 2, 3, 4]], code(1, 2, 3, 4));
    let v = view4_from_tensor_view(t.item(1).unwrap()).unwrap();
    assert_eq!(v.shape(), &[1, 3, 4, 5]);
    assert_eq!(v[[0, 2, 3, 4]], code(1, 2, 3, 4));

    ArrayViewMut4::try_from(&mut t).unwrap()[[0, 1, 2, 3]] = -1.0;
    assert_eq!(t.get([0, 1, 2, 3]), Some(-1.0));
    let mut tv = t.view_mut();
    view_mut4_from_tensor_view(&mut tv)
        .unwrap()
        .slice_mut(s![1, .., .., ..])
        .fill(7.0);
    assert!(t.item(1).unwrap().as_slice().iter().all(|&v| v == 7.0));
    assert_eq!(t.get([0, 1, 2, 3]), Some(-1.0));
}

#[test]
fn typed_tensors_round_trip_and_check_their_type() {
    let a = Array4::from_shape_fn((2, 3, 4, 5), |(n, c, h, w)| code(n, c, h, w));
    let typed = Tensor2d::<3, 4, DYN>::try_from(a.clone()).unwrap();
    assert_eq!(typed.hw(), [4, 5]);
    assert_eq!(Array4::try_from(typed).unwrap(), a);
    assert_eq!(
        Tensor2d::<2, DYN, DYN>::try_from(a.clone()).err(),
        Some(Error::Shape {
            what: "channels",
            expected: 2,
            actual: 3
        })
    );
    assert!(matches!(
        Tensor2d::<3, 5, DYN>::try_from(a).err(),
        Some(Error::Shape {
            expected: 5,
            actual: 4,
            ..
        })
    ));

    let s = Array3::from_shape_fn((1, 2, 9), |(_, c, t)| code(0, c, 0, t));
    let typed = Tensor1d::<2, 9>::try_from(s.clone()).unwrap();
    assert_eq!(Array3::try_from(typed).unwrap(), s);
    assert!(matches!(
        Tensor1d::<2, 8>::try_from(s).err(),
        Some(Error::Shape {
            expected: 8,
            actual: 9,
            ..
        })
    ));
}

#[test]
fn shape_errors_are_typed() {
    assert_eq!(
        tensor_from_array4(Array4::zeros((1, 0, 2, 2))).unwrap_err(),
        Error::Zero { what: "channels" }
    );
    assert_eq!(
        tensor_from_array3(Array3::zeros((2, 3, 0))).unwrap_err(),
        Error::Zero { what: "length" }
    );
    assert_eq!(
        nchw_from_view4(Array4::<f32>::zeros((0, 1, 1, 1)).view()).unwrap_err(),
        Error::Zero { what: "batch" }
    );
    assert_eq!(
        nchw_from_view3(Array3::<f32>::zeros((1, 0, 1)).view()).unwrap_err(),
        Error::Zero { what: "channels" }
    );
    let two_d = Tensor::zeros([1, 2, 3, 4]).unwrap();
    assert_eq!(
        ArrayView3::try_from(&two_d).unwrap_err(),
        Error::Shape {
            what: "height of a 1D tensor",
            expected: 1,
            actual: 3
        }
    );
    assert_eq!(
        array3_from_tensor(two_d).unwrap_err(),
        Error::Shape {
            what: "height of a 1D tensor",
            expected: 1,
            actual: 3
        }
    );
    assert_eq!(
        array4_from_nchw([1, 2, 3, 4], vec![0.0; 23]).unwrap_err(),
        Error::Length {
            what: "tensor data",
            expected: 24,
            actual: 23
        }
    );
    assert!(matches!(
        array4_from_nchw([usize::MAX, 2, 1, 1], vec![]),
        Err(Error::Overflow { .. })
    ));
}

fn net2d() -> Network {
    let mut d1 = ConvDesc::same_2d(3, 4, 3, 2);
    d1.activation = Activation::Relu;
    let d2 = ConvDesc::same_2d(4, 2, 3, 1);
    let w = |n: usize| {
        (0..n)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) / 16.0)
            .collect()
    };
    Network::new(vec![
        Conv::new(d1, w(4 * 3 * 9), Some(vec![0.1; 4])).unwrap(),
        Conv::new(d2, w(2 * 4 * 9), Some(vec![-0.2; 2])).unwrap(),
    ])
    .unwrap()
}

#[test]
fn network_forward_on_arrays() {
    let net = net2d();
    let x = Array4::from_shape_fn((2, 3, 7, 9), |(n, c, h, w)| {
        ((n * 7 + c * 5 + h * 3 + w) % 11) as f32 / 5.0 - 1.0
    });
    let flat: Vec<f32> = x.iter().copied().collect();
    let (expected, hw) = net.forward(2, [7, 9], &flat).unwrap();
    let y = net.forward_array4(x.view()).unwrap();
    assert_eq!(y.shape(), &[2, 2, hw[0], hw[1]]);
    assert!(y.is_standard_layout());
    assert_eq!(y.as_slice().unwrap(), &expected[..]);

    // A channels-last array (not NCHW-contiguous) gives the same result.
    let nhwc = Array4::from_shape_fn((2, 7, 9, 3), |(n, h, w, c)| x[[n, c, h, w]]);
    let as_nchw = nhwc.view().permuted_axes([0, 3, 1, 2]);
    assert!(!as_nchw.is_standard_layout());
    assert_eq!(net.forward_array4(as_nchw).unwrap(), y);

    // The output Vec is moved into the array: a Tensor made from it keeps the buffer.
    let ptr = y.as_ptr();
    assert_eq!(tensor_from_array4(y).unwrap().as_slice().as_ptr(), ptr);

    assert_eq!(
        net.forward_array4(Array4::zeros((1, 2, 7, 9)).view())
            .unwrap_err(),
        Error::Shape {
            what: "input channels",
            expected: 3,
            actual: 2
        }
    );
    // Too small for the effective kernel: the engine's error comes through.
    let one = Network::new(vec![
        Conv::new(
            ConvDesc {
                padding: [[0, 0], [0, 0]],
                ..ConvDesc::same_2d(3, 1, 3, 4)
            },
            vec![0.0; 27],
            Some(vec![0.0]),
        )
        .unwrap(),
    ])
    .unwrap();
    assert!(matches!(
        one.forward_array4(Array4::zeros((1, 3, 5, 5)).view()),
        Err(Error::KernelTooLarge { .. })
    ));
}

fn causal_net() -> Network {
    let mut layers = Vec::new();
    let mut cin = 2;
    for (i, rate) in [1, 2, 4].into_iter().enumerate() {
        let cout = if i == 2 { 3 } else { 5 };
        let mut d = ConvDesc::causal_1d(cin, cout, 3, rate);
        d.activation = if i == 2 {
            Activation::Identity
        } else {
            Activation::Tanh
        };
        let w = (0..cout * cin * 3)
            .map(|j| ((j * 13 % 7) as f32 - 3.0) / 4.0)
            .collect();
        layers.push(Conv::new(d, w, Some(vec![0.05; cout])).unwrap());
        cin = cout;
    }
    Network::new(layers).unwrap()
}

#[test]
fn network_forward_on_ncl_arrays() {
    let net = causal_net();
    let x = Array3::from_shape_fn((2, 2, 50), |(n, c, t)| {
        ((t * (n + c + 1)) as f32 * 0.1).sin()
    });
    let flat: Vec<f32> = x.iter().copied().collect();
    let (expected, hw) = net.forward(2, [1, 50], &flat).unwrap();
    assert_eq!(hw, [1, 50]);
    let y = net.forward_array3(x.view()).unwrap();
    assert_eq!(y.shape(), &[2, 3, 50]);
    assert_eq!(y.as_slice().unwrap(), &expected[..]);
    assert_eq!(
        net.forward_array3(Array3::zeros((1, 3, 10)).view())
            .unwrap_err(),
        Error::Shape {
            what: "input channels",
            expected: 2,
            actual: 3
        }
    );
}

#[test]
fn stream_push_array_in_every_layout() {
    let net = causal_net();
    let signal = Array2::from_shape_fn((2, 60), |(c, t)| ((t * (c + 2)) as f32 * 0.07).cos());
    let (expected, _) = net.forward(1, [1, 60], signal.as_slice().unwrap()).unwrap();
    let expected = Array2::from_shape_vec((3, 60), expected).unwrap();

    // Standard [C, T], then frames as rows transposed (column-major), then a strided view:
    // one continuous signal across the three layouts.
    let frames_as_rows = signal.slice(s![.., 20..40]).t().to_owned(); // [T, C], standard
    let mut wide = Array2::zeros((2, 40));
    wide.slice_mut(s![.., ..;2])
        .assign(&signal.slice(s![.., 40..60]));
    let mut stream = CausalStream::new(&net).unwrap();
    let a = stream.push_array(signal.slice(s![.., ..20])).unwrap();
    let b = stream.push_array(frames_as_rows.t()).unwrap();
    assert!(b.t().is_standard_layout(), "time-major in, time-major out");
    let c = stream.push_array(wide.slice(s![.., ..;2])).unwrap();
    for (part, range) in [(a, 0..20), (b, 20..40), (c, 40..60)] {
        let want = expected.slice(s![.., range]);
        for (got, want) in part.iter().zip(want.iter()) {
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
        }
    }
    assert_eq!(stream.frames_seen(), 60);
    assert_eq!(
        stream.push_array(Array2::zeros((3, 4)).view()).unwrap_err(),
        StreamError::FrameLength {
            expected: 2,
            actual: 3
        }
    );
    assert_eq!(
        stream
            .push_array(Array2::zeros((2, 0)).view())
            .unwrap()
            .shape(),
        &[3, 0]
    );
}

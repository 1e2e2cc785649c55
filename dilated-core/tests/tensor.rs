//! Tensors: checked constructors (zero sizes, overflow, wrong lengths are typed errors),
//! NCHW indexing, views, and the typed wrappers' checks.

use dilated_core::Error;
use dilated_core::tensor::{
    DYN, Tensor, Tensor1d, Tensor2d, TensorView, TensorViewMut, TypedTensor,
};
use proptest::prelude::*;

#[test]
fn constructors_reject_bad_shapes() {
    assert_eq!(
        Tensor::from_vec([1, 0, 2, 2], vec![]).unwrap_err(),
        Error::Zero { what: "channels" }
    );
    assert_eq!(
        Tensor::zeros([0, 1, 1, 1]).unwrap_err(),
        Error::Zero { what: "batch" }
    );
    assert_eq!(
        Tensor::from_slice([1, 1, 1, 0], &[]).unwrap_err(),
        Error::Zero { what: "width" }
    );
    assert!(matches!(
        Tensor::from_vec([1 << 40, 1 << 40, 1, 1], vec![0.0]),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        Tensor::full([usize::MAX, 2, 1, 1], 1.0),
        Err(Error::Overflow { .. })
    ));
    assert_eq!(
        Tensor::from_vec([1, 2, 2, 2], vec![0.0; 7]).unwrap_err(),
        Error::Length {
            what: "tensor data",
            expected: 8,
            actual: 7
        }
    );
    assert!(TensorView::new([1, 1, 2, 2], &[0.0; 5]).is_err());
    assert!(TensorViewMut::new([1, 1, 2, 2], &mut [0.0; 3]).is_err());
}

#[test]
fn accessors_and_views() {
    let mut t = Tensor::from_fn([2, 3, 2, 2], |[n, c, h, w]| {
        (n * 1000 + c * 100 + h * 10 + w) as f32
    })
    .unwrap();
    assert_eq!(t.shape(), [2, 3, 2, 2]);
    assert_eq!(
        (t.batch(), t.channels(), t.height(), t.width()),
        (2, 3, 2, 2)
    );
    assert_eq!(t.hw(), [2, 2]);
    assert_eq!(t.len(), 24);
    assert!(!t.is_empty());
    assert_eq!(t.get([1, 2, 1, 0]), Some(1210.0));
    assert_eq!(t.get([2, 0, 0, 0]), None);
    *t.get_mut([0, 0, 0, 1]).unwrap() = -1.0;
    assert_eq!(t.as_slice()[1], -1.0);
    let item = t.item(1).unwrap();
    assert_eq!(item.shape(), [1, 3, 2, 2]);
    assert_eq!(item.get([0, 0, 0, 0]), Some(1000.0));
    assert_eq!(item.to_tensor().as_slice(), &t.as_slice()[12..]);
    assert!(matches!(t.item(2), Err(Error::Shape { .. })));
    {
        let mut v = t.view_mut();
        v.as_mut_slice()[0] = 7.0;
        assert_eq!(v.as_view().get([0, 0, 0, 0]), Some(7.0));
    }
    let r = t.clone().reshape([1, 6, 4, 1]).unwrap();
    assert_eq!(r.as_slice(), t.as_slice());
    assert!(t.clone().reshape([1, 6, 4, 2]).is_err());
    let one = Tensor::from_vec_1d([1, 2, 3], vec![1.0; 6]).unwrap();
    assert_eq!(one.shape(), [1, 2, 1, 3]);
    assert_eq!(t.into_vec().len(), 24);
}

#[test]
fn typed_wrappers_check_their_constants() {
    let t = Tensor::zeros([2, 3, 4, 5]).unwrap();
    Tensor2d::<3, 4, 5>::new(t.clone()).unwrap();
    Tensor2d::<3, DYN, 5>::new(t.clone()).unwrap();
    Tensor2d::<3, 4, DYN>::new(t.clone()).unwrap();
    assert_eq!(
        Tensor2d::<4, DYN, DYN>::new(t.clone()).unwrap_err(),
        Error::Shape {
            what: "channels",
            expected: 4,
            actual: 3
        }
    );
    assert_eq!(
        Tensor2d::<3, 5, DYN>::new(t.clone()).unwrap_err(),
        Error::Shape {
            what: "height",
            expected: 5,
            actual: 4
        }
    );
    assert_eq!(
        Tensor2d::<3, DYN, 4>::new(t.clone()).unwrap_err(),
        Error::Shape {
            what: "width",
            expected: 4,
            actual: 5
        }
    );
    // A 2D tensor with H > 1 is not a 1D one.
    assert!(matches!(
        Tensor1d::<3, DYN>::new(t.clone()),
        Err(Error::Shape {
            what: "height of a 1D tensor",
            ..
        })
    ));
    let s = Tensor::zeros([2, 3, 1, 5]).unwrap();
    let one: Tensor1d<3, 5> = s.clone().try_into().unwrap();
    assert_eq!((one.batch(), one.len()), (2, 5));
    assert_eq!(
        Tensor1d::<3, 6>::new(s).unwrap_err(),
        Error::Shape {
            what: "length",
            expected: 6,
            actual: 5
        }
    );
    // Consts of the trait.
    assert_eq!(<Tensor2d<3, 4, DYN> as TypedTensor>::SPATIAL, [4, DYN]);
    assert_eq!(<Tensor1d<3, 7> as TypedTensor>::SPATIAL, [1, 7]);
    assert_eq!(<Tensor1d<3, 7> as TypedTensor>::RANK, 1);
    // Back to untyped.
    let typed = Tensor2d::<3, 4, 5>::new(t.clone()).unwrap();
    assert!(format!("{typed:?}").contains("[2, 3, 4, 5]"));
    let back: Tensor = typed.clone().into();
    assert_eq!(back, t);
    assert_eq!(typed.into_vec().len(), 120);
}

#[test]
fn typed_constructors_check_lengths() {
    assert!(matches!(
        Tensor2d::<2, DYN, DYN>::from_vec(1, [2, 2], vec![0.0; 7]),
        Err(Error::Length {
            expected: 8,
            actual: 7,
            ..
        })
    ));
    assert!(matches!(
        Tensor1d::<2, DYN>::from_slice(2, 3, &[0.0; 11]),
        Err(Error::Length { expected: 12, .. })
    ));
    assert!(matches!(
        Tensor1d::<2, DYN>::zeros(0, 3),
        Err(Error::Zero { what: "batch" })
    ));
    let mut t = Tensor2d::<1, 1, 2>::from_slice(1, [1, 2], &[1.0, 2.0]).unwrap();
    t.as_mut_slice()[1] = 5.0;
    assert_eq!(t.as_slice(), &[1.0, 5.0]);
}

proptest! {
    /// `from_vec` succeeds exactly when every size is positive, the product does not
    /// overflow, and the data has that many elements; indexing is NCHW row-major.
    #[test]
    fn from_vec_is_checked(shape in proptest::array::uniform4(0usize..5), extra in -1i64..2) {
        let product: usize = shape.iter().product();
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let len = (product as i64 + extra).max(0) as usize;
        let data: Vec<f32> = (0..len).map(|i| i as f32).collect();
        let r = Tensor::from_vec(shape, data);
        if shape.contains(&0) {
            prop_assert!(matches!(r, Err(Error::Zero { .. })), "{r:?}");
        } else if len != product {
            prop_assert!(matches!(r, Err(Error::Length { .. })), "{r:?}");
        } else {
            let t = r.unwrap();
            let [n, c, h, w] = shape;
            for i in 0..n { for j in 0..c { for y in 0..h { for x in 0..w {
                let flat = ((i * c + j) * h + y) * w + x;
                prop_assert_eq!(t.get([i, j, y, x]), Some(flat as f32));
            }}}}
            // Items partition the data.
            let mut joined = Vec::new();
            for i in 0..n {
                joined.extend_from_slice(t.item(i).unwrap().as_slice());
            }
            prop_assert_eq!(joined.as_slice(), t.as_slice());
        }
    }

    /// Huge shapes never panic: either an overflow or a length error.
    #[test]
    fn huge_shapes_are_errors(shape in proptest::array::uniform4(1usize..usize::MAX)) {
        let r = Tensor::from_slice(shape, &[0.0; 4]);
        prop_assert!(matches!(r, Err(Error::Overflow { .. } | Error::Length { .. })), "{:?}", r);
    }

    /// The typed wrapper accepts a tensor iff its channels and declared sizes match.
    #[test]
    fn typed_wrapper_accepts_iff_matching(c in 1usize..5, h in 1usize..5, w in 1usize..5) {
        let t = Tensor::zeros([1, c, h, w]).unwrap();
        let ok = Tensor2d::<2, 3, DYN>::new(t.clone()).is_ok();
        prop_assert_eq!(ok, c == 2 && h == 3);
        let ok = Tensor1d::<2, 4>::new(t).is_ok();
        prop_assert_eq!(ok, c == 2 && h == 1 && w == 4);
    }
}

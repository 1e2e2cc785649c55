//! Typed layers and stacks: their output equals the naive reference
//! (`conv::conv_reference`), bad input is a typed error (never a panic), the seeded
//! initialisation follows PyTorch's bounds.
//!
//! Tolerance against the reference: relative 1e-5 of the accumulated magnitude
//! (`Σ |x·w| + |b|` per output), the engine being free to sum in another order.

use dilated_core::conv::Conv;
use dilated_core::conv::Rank;
use dilated_core::conv::conv_reference;
use dilated_core::engine::{Kernel, Workspace};
use dilated_core::init::{Init, kaiming_bound};
use dilated_core::stack::{
    Conv1d, Conv2d, ModuleSpec, Pad1d, Pad2d, Stack, StackBuilder, TypedConv, TypedStack,
};
use dilated_core::tensor::{DYN, Tensor, Tensor1d, Tensor2d};
use dilated_core::{Activation, ConvDesc, Error};
use proptest::prelude::*;

/// Deterministic pseudo-random data in [-1, 1).
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            #[allow(clippy::cast_precision_loss)]
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            2.0 * u - 1.0
        })
        .collect()
}

/// The reference output of a whole stack, layer by layer.
fn reference_stack(
    layers: &[Conv],
    batch: usize,
    hw: [usize; 2],
    x: &[f32],
) -> (Vec<f32>, Vec<f32>, [usize; 2]) {
    let mut cur = x.to_vec();
    // `mag` is the last layer's accumulated magnitude: the same layer on |input| with
    // |w|, |b| and no activation. Rounding in earlier layers reaches the output through
    // the last layer's weights; the floor of 1 in `assert_close` covers it for the small
    // stacks tested here.
    let mut mag = Vec::new();
    let mut hw = hw;
    for l in layers {
        let d = *l.desc();
        let out_hw = d.output_size(hw).unwrap();
        let len = ConvDesc::nchw_len(batch, d.out_channels, out_hw).unwrap();
        let mut y = vec![0.0; len];
        conv_reference(&d, batch, hw, &cur, l.weight(), l.bias(), &mut y).unwrap();
        let abs_d = ConvDesc {
            activation: Activation::Identity,
            ..d
        };
        let ax: Vec<f32> = cur.iter().map(|v| v.abs()).collect();
        let aw: Vec<f32> = l.weight().iter().map(|v| v.abs()).collect();
        let ab: Option<Vec<f32>> = l.bias().map(|b| b.iter().map(|v| v.abs()).collect());
        mag = vec![0.0; len];
        conv_reference(&abs_d, batch, hw, &ax, &aw, ab.as_deref(), &mut mag).unwrap();
        cur = y;
        hw = out_hw;
    }
    (cur, mag, hw)
}

fn assert_close(got: &[f32], want: &[f32], mag: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, ((g, w), m)) in got.iter().zip(want).zip(mag).enumerate() {
        if !g.is_finite() || !w.is_finite() {
            // NaN where the reference has NaN, the same infinity where it has one.
            assert!(
                (g.is_nan() && w.is_nan()) || g == w,
                "element {i}: got {g}, want {w}"
            );
            continue;
        }
        let tol = 1e-5 * m.max(1.0);
        assert!(
            (g - w).abs() <= tol,
            "element {i}: got {g}, want {w} (tolerance {tol})"
        );
    }
}

// ---- typed shells against the reference ----

#[test]
fn typed_conv2d_equals_reference() {
    type L = Conv2d<3, 5, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
    let conv = L::init(4, true, Activation::Relu).unwrap();
    let x = Tensor2d::<3, 9, 7>::from_vec(2, [9, 7], data(2 * 3 * 9 * 7, 1)).unwrap();
    let y: Tensor2d<5, 9, 7> = conv.forward(&x).unwrap();
    let (want, mag, hw) = reference_stack(&[conv.layer().clone()], 2, [9, 7], x.as_slice());
    assert_eq!(hw, [9, 7]);
    assert_close(y.as_slice(), &want, &mag);

    // forward_into, twice with the same workspace, gives the same output.
    let mut out = Tensor2d::<5, 9, 7>::zeros(2, [9, 7]).unwrap();
    let mut ws = Workspace::new();
    conv.forward_into(&x, &mut out, &mut ws).unwrap();
    assert_eq!(out, y);
    conv.forward_into(&x, &mut out, &mut ws).unwrap();
    assert_eq!(out, y);
}

#[test]
fn typed_conv2d_strided_grouped_asymmetric_equals_reference() {
    // 4 → 6 channels, 2 groups, kernel 3×2, rates 2×3, strides 2×1, padding [[1, 2], [0, 3]].
    type L = Conv2d<4, 6, 3, 2, 2, 3, 2, 1, 2, Pad2d<1, 2, 0, 3>>;
    let conv = L::init(9, true, Activation::Gelu).unwrap();
    let x = Tensor2d::<4, DYN, DYN>::from_vec(1, [7, 5], data(4 * 7 * 5, 2)).unwrap();
    let y: Tensor2d<6, DYN, DYN> = conv.forward(&x).unwrap();
    assert_eq!(conv.output_size([7, 5]).unwrap(), y.hw());
    let (want, mag, hw) = reference_stack(&[conv.layer().clone()], 1, [7, 5], x.as_slice());
    assert_eq!(hw, y.hw());
    assert_close(y.as_slice(), &want, &mag);
}

#[test]
fn typed_depthwise_conv1d_equals_reference() {
    type L = Conv1d<4, 4, 3, 5, 1, 4, Pad1d<10, 0>>;
    let conv = L::init(2, false, Activation::LeakyRelu(0.1)).unwrap();
    assert!(conv.bias().is_none());
    let x = Tensor1d::<4, 30>::from_vec(3, 30, data(3 * 4 * 30, 3)).unwrap();
    let y: Tensor1d<4, 30> = conv.forward(&x).unwrap();
    let (want, mag, _) = reference_stack(&[conv.layer().clone()], 3, [1, 30], x.as_slice());
    assert_close(y.as_slice(), &want, &mag);
    assert_eq!(conv.output_len(30).unwrap(), 30);
}

#[test]
fn typed_layer_new_takes_pytorch_layout() {
    // A 1×1 conv that swaps two channels and adds a bias.
    let conv = Conv2d::<2, 2, 1, 1, 1, 1, 1, 1, 1>::new(
        vec![0.0, 1.0, 1.0, 0.0],
        Some(vec![10.0, 20.0]),
        Activation::Identity,
    )
    .unwrap();
    let x = Tensor2d::<2, 1, 2>::from_vec(1, [1, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let y: Tensor2d<2, 1, 2> = conv.forward(&x).unwrap();
    assert_eq!(y.as_slice(), &[13.0, 14.0, 21.0, 22.0]);
    assert_eq!(<Conv2d<2, 2, 1, 1, 1, 1, 1, 1, 1> as TypedConv>::IN, 2);
    // forward_dyn needs no annotation.
    let z = conv.forward_dyn(&x).unwrap();
    assert_eq!(z.as_slice(), y.as_slice());
    let c1 = Conv1d::<1, 1, 1, 1, 1, 1>::new(vec![2.0], None, Activation::Identity).unwrap();
    let s = Tensor1d::<1, 3>::from_vec(1, 3, vec![1.0, 2.0, 3.0]).unwrap();
    assert_eq!(c1.forward_dyn(&s).unwrap().as_slice(), &[2.0, 4.0, 6.0]);
}

// ---- typed stacks ----

type S0 = Conv2d<2, 4, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>;
type S1 = Conv2d<4, 4, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
type S2 = Conv2d<4, 3, 3, 3, 5, 5, 2, 2, 1, Pad2d<5, 5, 5, 5>>;
const SPECS: [ModuleSpec; 3] = [
    ModuleSpec::new(0, Rank::Two, S0::descriptor(true, Activation::Relu)),
    ModuleSpec::new(2, Rank::Two, S1::descriptor(true, Activation::Relu)),
    ModuleSpec::new(4, Rank::Two, S2::descriptor(true, Activation::Identity)),
];

#[test]
fn typed_stack_equals_reference_and_its_layers() {
    let stack: TypedStack<Tensor2d<2, 12, 10>, Tensor2d<3, 6, 5>> =
        TypedStack::init(&SPECS, 8).unwrap();
    let x = Tensor2d::<2, 12, 10>::from_vec(2, [12, 10], data(2 * 2 * 12 * 10, 4)).unwrap();
    let y = stack.forward(&x).unwrap();
    let (want, mag, hw) = reference_stack(stack.stack().layers(), 2, [12, 10], x.as_slice());
    assert_eq!(hw, [6, 5]);
    assert_close(y.as_slice(), &want, &mag);

    // Layer by layer through the typed shells gives the same result.
    let l0: S0 = stack.layer(0).unwrap();
    let l1: S1 = stack.layer(1).unwrap();
    let l2: S2 = stack.layer(2).unwrap();
    let h0: Tensor2d<4, 12, 10> = l0.forward(&x).unwrap();
    let h1: Tensor2d<4, 12, 10> = l1.forward(&h0).unwrap();
    let h2: Tensor2d<3, 6, 5> = l2.forward(&h1).unwrap();
    assert_close(h2.as_slice(), y.as_slice(), &mag);

    // forward_into and forward_nchw agree with forward.
    let mut out = Tensor2d::<3, 6, 5>::zeros(2, [6, 5]).unwrap();
    let mut ws = Workspace::new();
    stack.forward_into(&x, &mut out, &mut ws).unwrap();
    assert_eq!(out, y);
    assert_eq!(stack.forward_nchw(2, x.as_slice()).unwrap(), y.as_slice());

    // Clone and Debug.
    let copy = stack.clone();
    assert_eq!(copy.forward(&x).unwrap(), y);
    assert!(format!("{stack:?}").contains("TypedStack"));
}

#[test]
fn typed_stack_rejects_mismatched_types() {
    let stack = Stack::init(&SPECS, 0).unwrap();
    // Wrong input channels.
    let r = TypedStack::<Tensor2d<3, 12, 10>, Tensor2d<3, 6, 5>>::new(stack.clone());
    assert!(matches!(
        r,
        Err(Error::Shape {
            what: "stack input channels",
            ..
        })
    ));
    // Wrong output channels.
    let r = TypedStack::<Tensor2d<2, 12, 10>, Tensor2d<4, 6, 5>>::new(stack.clone());
    assert!(matches!(
        r,
        Err(Error::Shape {
            what: "stack output channels",
            ..
        })
    ));
    // Wrong output size for the declared input size.
    let r = TypedStack::<Tensor2d<2, 12, 10>, Tensor2d<3, 12, 10>>::new(stack.clone());
    assert!(matches!(
        r,
        Err(Error::Shape {
            expected: 12,
            actual: 6,
            ..
        })
    ));
    // Declared input smaller than an unpadded layer's effective kernel (9).
    let valid = ConvDesc {
        padding: [[0, 0], [0, 0]],
        ..ConvDesc::same_2d(2, 2, 3, 4)
    };
    let small = Stack::init(&[ModuleSpec::new(0, Rank::Two, valid)], 0).unwrap();
    let r = TypedStack::<Tensor2d<2, 8, 9>, Tensor2d<2, DYN, DYN>>::new(small);
    assert_eq!(
        r.unwrap_err(),
        Error::KernelTooLarge {
            axis: 0,
            effective: 9,
            padded: 8
        }
    );
    // Wrong rank.
    let r = TypedStack::<Tensor1d<2, DYN>, Tensor1d<3, DYN>>::new(stack.clone());
    assert!(matches!(
        r,
        Err(Error::Shape {
            what: "input rank",
            ..
        })
    ));
    // Dynamic sizes accept the stack.
    TypedStack::<Tensor2d<2, DYN, DYN>, Tensor2d<3, DYN, DYN>>::new(stack).unwrap();
}

#[test]
fn dynamic_forward_nchw_infers_one_axis_only() {
    let stack = Stack::init(&SPECS, 0).unwrap();
    let one = TypedStack::<Tensor2d<2, 12, DYN>, Tensor2d<3, 6, DYN>>::new(stack.clone()).unwrap();
    let x = data(2 * 2 * 12 * 10, 6);
    let y = one.forward_nchw(2, &x).unwrap();
    let (want, _) = stack.forward_nchw(2, [12, 10], &x).unwrap();
    assert_eq!(y, want);
    // A length that is not a whole number of rows.
    assert!(matches!(
        one.forward_nchw(2, &x[1..]),
        Err(Error::Length { .. })
    ));
    assert!(matches!(
        one.forward_nchw(0, &x),
        Err(Error::Zero { what: "batch" })
    ));

    let both = TypedStack::<Tensor2d<2, DYN, DYN>, Tensor2d<3, DYN, DYN>>::new(stack).unwrap();
    assert!(matches!(
        both.forward_nchw(2, &x),
        Err(Error::UnknownSize { .. })
    ));
    let (y2, hw) = both.forward_nchw_sized(2, [12, 10], &x).unwrap();
    assert_eq!((y2, hw), (want, [6, 5]));
    // The sized form checks declared sizes too.
    assert!(matches!(
        one.forward_nchw_sized(2, [10, 12], &x),
        Err(Error::Shape {
            what: "input height",
            ..
        })
    ));
}

#[test]
fn stack_builder_pattern_runs_end_to_end() {
    let relu = |d: ConvDesc| ConvDesc {
        activation: Activation::Relu,
        ..d
    };
    let b = StackBuilder::new(Rank::One)
        .conv(relu(ConvDesc::causal_1d(2, 4, 2, 1)))
        .conv(relu(ConvDesc::causal_1d(4, 4, 2, 2)))
        .conv_at(10, ConvDesc::causal_1d(4, 1, 2, 4))
        .conv(ConvDesc::causal_1d(1, 1, 2, 8));
    let modules: Vec<usize> = b.specs().iter().map(|s| s.module).collect();
    assert_eq!(modules, [0, 2, 10, 11]);
    let stack = b.init(3).unwrap();
    assert_eq!(stack.modules(), [0, 2, 10, 11]);
    assert_eq!(stack.specs(), b.specs());
    let x = Tensor::from_vec_1d([1, 2, 40], data(80, 7)).unwrap();
    let y = stack.forward(&x).unwrap();
    assert_eq!(y.shape(), [1, 1, 1, 40]);
    let (want, mag, _) = reference_stack(stack.layers(), 1, [1, 40], x.as_slice());
    assert_close(y.as_slice(), &want, &mag);
}

// ---- bad input: a typed error for each, never a panic ----

#[test]
fn wrong_lengths_are_errors() {
    let stack = Stack::init(&SPECS, 0).unwrap();
    let x = vec![0.0; 2 * 12 * 10 - 1];
    assert!(matches!(
        stack.forward_nchw(1, [12, 10], &x),
        Err(Error::Length { what: "input", .. })
    ));
    let mut out = vec![0.0; 3];
    assert!(matches!(
        stack.forward_nchw_into(
            1,
            [12, 10],
            &vec![0.0; 240],
            &mut out,
            &mut Workspace::new()
        ),
        Err(Error::Length { what: "output", .. })
    ));
    // Weights of the wrong length.
    assert!(matches!(
        S0::new(vec![0.0; 10], None, Activation::Relu),
        Err(Error::Length { what: "weight", .. })
    ));
    assert!(matches!(
        S0::new(vec![0.0; 72], Some(vec![0.0; 3]), Activation::Relu),
        Err(Error::Length { what: "bias", .. })
    ));
    // An output tensor of the wrong shape for forward_into.
    let l0 = S0::init(0, true, Activation::Relu).unwrap();
    let x = Tensor2d::<2, DYN, DYN>::zeros(1, [5, 5]).unwrap();
    let mut out = Tensor2d::<4, DYN, DYN>::zeros(1, [5, 4]).unwrap();
    assert!(matches!(
        l0.forward_into(&x, &mut out, &mut Workspace::new()),
        Err(Error::Shape {
            what: "output width",
            expected: 5,
            actual: 4
        })
    ));
    let mut out = Tensor2d::<4, DYN, DYN>::zeros(2, [5, 5]).unwrap();
    assert!(matches!(
        l0.forward_into(&x, &mut out, &mut Workspace::new()),
        Err(Error::Shape {
            what: "output batch",
            ..
        })
    ));
    // The caller's claimed output size is checked.
    let r: Result<Tensor2d<4, 6, DYN>, Error> = l0.forward(&x);
    assert!(matches!(
        r,
        Err(Error::Shape {
            what: "height",
            expected: 6,
            actual: 5
        })
    ));
}

#[test]
fn zero_sizes_are_errors() {
    let stack = Stack::init(&SPECS, 0).unwrap();
    assert!(matches!(
        stack.forward_nchw(0, [12, 10], &[]),
        Err(Error::Zero { what: "batch" })
    ));
    assert!(matches!(
        stack.forward_nchw(1, [0, 10], &[]),
        Err(Error::Zero { .. })
    ));
    // Zero sizes in the type: rate 0, kernel 0, stride 0, groups 0, channels 0.
    assert!(matches!(
        Conv2d::<2, 2, 3, 3, 0, 1, 1, 1, 1>::init(0, true, Activation::Relu),
        Err(Error::Zero { .. })
    ));
    assert!(matches!(
        Conv2d::<2, 2, 0, 3, 1, 1, 1, 1, 1>::init(0, true, Activation::Relu),
        Err(Error::Zero { .. })
    ));
    assert!(matches!(
        Conv1d::<2, 2, 3, 1, 0, 1>::init(0, true, Activation::Relu),
        Err(Error::Zero { .. })
    ));
    assert!(matches!(
        Conv1d::<2, 2, 3, 1, 1, 0>::init(0, true, Activation::Relu),
        Err(Error::Zero { .. })
    ));
    assert!(matches!(
        Conv1d::<0, 2, 3, 1, 1, 1>::init(0, true, Activation::Relu),
        Err(Error::Zero { .. })
    ));
    // A zero-size tensor cannot even be made.
    assert!(matches!(
        Tensor2d::<2, DYN, DYN>::zeros(1, [0, 3]),
        Err(Error::Zero { .. })
    ));
}

#[test]
fn overflowing_sizes_are_errors() {
    let stack = Stack::init(&SPECS, 0).unwrap();
    assert!(matches!(
        stack.forward_nchw(usize::MAX, [12, 10], &[0.0; 4]),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        stack.forward_nchw(1, [usize::MAX / 2, usize::MAX / 2], &[0.0; 4]),
        Err(Error::Overflow { .. })
    ));
    // PadMode that overflows the padded size.
    type P = Conv1d<1, 1, 3, 1, 1, 1, Pad1d<{ usize::MAX }, 1>>;
    let p = P::init(0, false, Activation::Identity).unwrap();
    assert!(matches!(p.output_len(4), Err(Error::Overflow { .. })));
    // A rate whose effective kernel overflows.
    assert!(matches!(
        Conv1d::<1, 1, 3, { usize::MAX }, 1, 1>::init(0, false, Activation::Identity),
        Err(Error::Overflow { .. })
    ));
    // A weight count that overflows.
    assert!(matches!(
        Conv2d::<{ usize::MAX }, { usize::MAX }, 3, 3, 1, 1, 1, 1, 1>::init(
            0,
            true,
            Activation::Relu
        ),
        Err(Error::Overflow { .. })
    ));
    let huge = dilated_core::tensor::Tensor::zeros([usize::MAX, 2, 1, 1]);
    assert!(matches!(huge, Err(Error::Overflow { .. })));
}

#[test]
fn kernel_wider_than_padded_input_is_an_error() {
    // Effective kernel 9 (k3, rate 4), no padding, on a 6-wide input.
    type L = Conv2d<1, 1, 3, 3, 4, 4, 1, 1, 1>;
    let l = L::init(0, true, Activation::Identity).unwrap();
    let x = Tensor2d::<1, DYN, DYN>::zeros(1, [9, 6]).unwrap();
    let r: Result<Tensor2d<1, DYN, DYN>, Error> = l.forward(&x);
    assert_eq!(
        r.unwrap_err(),
        Error::KernelTooLarge {
            axis: 1,
            effective: 9,
            padded: 6
        }
    );
    // PadMode 1 each side: 8 < 9 still.
    type Lp = Conv1d<1, 1, 3, 4, 1, 1, Pad1d<1, 1>>;
    let l = Lp::init(0, true, Activation::Identity).unwrap();
    let x = Tensor1d::<1, DYN>::zeros(1, 6).unwrap();
    let r: Result<Tensor1d<1, DYN>, Error> = l.forward(&x);
    assert!(matches!(
        r,
        Err(Error::KernelTooLarge {
            effective: 9,
            padded: 8,
            ..
        })
    ));
    // Exactly fitting works: one output.
    let x = Tensor1d::<1, DYN>::zeros(1, 7).unwrap();
    let y: Tensor1d<1, 1> = l.forward(&x).unwrap();
    assert_eq!(y.len(), 1);
}

#[test]
fn channels_not_divisible_by_groups_are_errors() {
    assert!(matches!(
        Conv2d::<3, 4, 3, 3, 1, 1, 1, 1, 2>::init(0, true, Activation::Relu),
        Err(Error::Groups {
            what: "input",
            channels: 3,
            groups: 2
        })
    ));
    assert!(matches!(
        Conv1d::<4, 3, 3, 1, 1, 2>::init(0, true, Activation::Relu),
        Err(Error::Groups {
            what: "output",
            channels: 3,
            groups: 2
        })
    ));
    let mut d = ConvDesc::same_2d(6, 6, 3, 1);
    d.groups = 4;
    assert!(matches!(
        Stack::init(&[ModuleSpec::new(0, Rank::Two, d)], 0),
        Err(Error::Groups { .. })
    ));
}

#[test]
fn layers_that_do_not_chain_are_errors() {
    let specs = [
        ModuleSpec::new(0, Rank::Two, ConvDesc::same_2d(2, 4, 3, 1)),
        ModuleSpec::new(1, Rank::Two, ConvDesc::same_2d(5, 4, 3, 2)),
    ];
    assert!(matches!(
        Stack::init(&specs, 0),
        Err(Error::Chain {
            layer: 1,
            expected: 5,
            actual: 4
        })
    ));
}

#[test]
fn from_layer_checks_every_const_parameter() {
    let base = S1::descriptor(true, Activation::Relu);
    let edits: [fn(&mut ConvDesc); 8] = [
        |d| d.in_channels = 2,
        |d| d.out_channels = 2,
        |d| d.groups = 2,
        |d| d.kernel = [3, 1],
        |d| d.dilation = [2, 1],
        |d| d.stride = [1, 2],
        |d| d.padding = [[2, 2], [2, 1]],
        |d| d.padding = [[1, 2], [2, 2]],
    ];
    for edit in edits {
        let mut d = base;
        edit(&mut d);
        let layer = Init::new(0).conv(d).unwrap();
        assert!(
            matches!(S1::from_conv(layer), Err(Error::Shape { .. })),
            "{d:?}"
        );
    }
    // Bias and activation are free.
    let layer = Init::new(0)
        .conv(S1::descriptor(false, Activation::Tanh))
        .unwrap();
    let l = S1::from_conv(layer).unwrap();
    assert_eq!(l.activation(), Activation::Tanh);
    assert!(format!("{l:?}").contains("Conv2d"));
}

#[test]
fn nan_and_inf_propagate_as_in_the_reference() {
    type L = Conv2d<2, 3, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
    for act in [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Gelu,
    ] {
        let l = L::init(5, true, act).unwrap();
        let mut x = data(2 * 6 * 6, 9);
        x[7] = f32::NAN;
        x[40] = f32::INFINITY;
        x[50] = f32::NEG_INFINITY;
        let xt = Tensor2d::<2, 6, 6>::from_vec(1, [6, 6], x.clone()).unwrap();
        let y: Tensor2d<3, 6, 6> = l.forward(&xt).unwrap();
        let (want, mag, _) = reference_stack(&[l.layer().clone()], 1, [6, 6], &x);
        assert!(want.iter().any(|v| v.is_nan()));
        assert_close(y.as_slice(), &want, &mag);
    }
}

#[test]
fn threads_and_kernels_do_not_change_the_result() {
    let stack: TypedStack<Tensor2d<2, 12, 10>, Tensor2d<3, 6, 5>> =
        TypedStack::init(&SPECS, 8).unwrap();
    let x = Tensor2d::<2, 12, 10>::from_vec(1, [12, 10], data(2 * 12 * 10, 4)).unwrap();
    let (want, mag, _) = reference_stack(stack.stack().layers(), 1, [12, 10], x.as_slice());
    for kernel in Kernel::ALL {
        let r = stack.clone().with_kernel(kernel);
        if !kernel.is_available() {
            assert!(
                matches!(r, Err(Error::KernelUnavailable { .. })),
                "{kernel:?}"
            );
            continue;
        }
        for threads in [0, 1, 2] {
            let s = r.clone().unwrap().with_threads(threads).unwrap();
            assert_eq!(s.stack().network().kernel(), kernel);
            assert_close(s.forward(&x).unwrap().as_slice(), &want, &mag);
        }
        let l: S0 = stack.layer(0).unwrap();
        let l = l.with_kernel(kernel).unwrap().with_threads(1).unwrap();
        assert_eq!(l.network().unwrap().kernel(), kernel);
    }
}

// ---- initialisation ----

#[test]
fn init_is_seeded_and_within_pytorch_bounds() {
    let desc = ConvDesc::same_2d(16, 32, 3, 2);
    let bound = kaiming_bound(&desc);
    assert!((bound - 1.0 / 12.0).abs() < 1e-7); // fan_in = 16·9 = 144
    let a = Init::new(1).conv(desc).unwrap();
    let b = Init::new(1).conv(desc).unwrap();
    let c = Init::new(2).conv(desc).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.weight(), c.weight());
    let w = a.weight();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(a.bias().unwrap().iter().all(|v| v.abs() <= bound));
    // Uniform: the mean is near 0, the variance near bound²/3, and each quarter of the
    // range holds about a quarter of the weights (4608 draws).
    #[allow(clippy::cast_precision_loss)]
    let n = w.len() as f32;
    let mean = w.iter().sum::<f32>() / n;
    let var = w.iter().map(|v| v * v).sum::<f32>() / n;
    assert!(mean.abs() < 0.05 * bound, "mean {mean}");
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.06,
        "var {var}"
    );
    for q in 0..4 {
        #[allow(clippy::cast_precision_loss)]
        let lo = -bound + q as f32 * bound / 2.0;
        let hi = lo + bound / 2.0;
        #[allow(clippy::cast_precision_loss)]
        let share = w.iter().filter(|v| **v >= lo && **v < hi).count() as f32 / n;
        assert!((share - 0.25).abs() < 0.03, "quarter {q}: {share}");
    }
}

#[test]
fn grouped_init_uses_fan_in_per_group() {
    let mut d = ConvDesc::same_2d(8, 8, 3, 1);
    d.groups = 8; // depthwise: fan_in = 9
    assert!((kaiming_bound(&d) - 1.0 / 3.0).abs() < 1e-7);
    let l = Init::new(0).conv(d).unwrap();
    assert_eq!(l.weight().len(), 8 * 9);
    assert!(l.weight().iter().any(|v| v.abs() > 0.25));
}

#[test]
fn stack_init_draws_layer_by_layer_from_one_seed() {
    let stack = Stack::init(&SPECS, 77).unwrap();
    let mut init = Init::new(77);
    for (s, l) in SPECS.iter().zip(stack.layers()) {
        assert_eq!(&init.conv(s.desc).unwrap(), l);
    }
}

// ---- property tests over random shapes ----

#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    hw: [usize; 2],
    layers: Vec<ConvDesc>,
    rank: Rank,
    seed: u64,
}

fn act(i: u8) -> Activation {
    match i % 7 {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::LeakyRelu(0.01),
        3 => Activation::Gelu,
        4 => Activation::Tanh,
        5 => Activation::Sigmoid,
        _ => Activation::Silu,
    }
}

prop_compose! {
    fn layer_desc(one_d: bool)(
        cin_g in 1usize..4, cout_g in 1usize..4, groups in 1usize..3,
        k in proptest::array::uniform2(1usize..5), d in proptest::array::uniform2(1usize..4),
        s in proptest::array::uniform2(1usize..3),
        p in proptest::array::uniform4(0usize..6),
        bias in any::<bool>(), a in any::<u8>(),
    ) -> ConvDesc {
        let mut desc = ConvDesc {
            in_channels: cin_g * groups,
            out_channels: cout_g * groups,
            groups,
            kernel: k,
            dilation: d,
            stride: s,
            padding: [[p[0], p[1]], [p[2], p[3]]],
            bias,
            activation: act(a),
        };
        if one_d {
            desc.kernel[0] = 1;
            desc.dilation[0] = 1;
            desc.stride[0] = 1;
            desc.padding[0] = [0, 0];
        }
        desc
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        1usize..4,
        1usize..3,
        1usize..12,
        1usize..12,
        any::<u64>(),
    )
        .prop_flat_map(|(one_d, n_layers, batch, h, w, seed)| {
            (
                proptest::collection::vec(layer_desc(one_d), n_layers),
                Just((one_d, batch, h, w, seed)),
            )
        })
        .prop_map(|(mut layers, (one_d, batch, h, w, seed))| {
            // Chain the channels.
            for i in 1..layers.len() {
                let prev = layers[i - 1].out_channels;
                let g = layers[i].groups;
                layers[i].groups = if prev % g == 0 { g } else { 1 };
                layers[i].in_channels = prev;
                if layers[i].out_channels % layers[i].groups != 0 {
                    layers[i].out_channels = layers[i].groups;
                }
            }
            Case {
                batch,
                hw: if one_d { [1, w] } else { [h, w] },
                layers,
                rank: if one_d { Rank::One } else { Rank::Two },
                seed,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A stack built from random specs equals the reference, or fails exactly when the
    /// reference does (kernel wider than the padded input somewhere), with the same error.
    #[test]
    fn stack_equals_reference(c in case(), kernel in 0usize..4, threads in 0usize..2) {
        let specs: Vec<ModuleSpec> = c.layers.iter().enumerate()
            .map(|(i, d)| ModuleSpec::new(2 * i, c.rank, *d)).collect();
        let kernel = Kernel::ALL[kernel];
        let mut stack = Stack::init(&specs, c.seed).unwrap().with_threads(threads).unwrap();
        if kernel.is_available() {
            stack = stack.with_kernel(kernel).unwrap();
        }
        let len = ConvDesc::nchw_len(c.batch, c.layers[0].in_channels, c.hw).unwrap();
        let x = data(len, c.seed);
        let expected_hw = c.layers.iter().try_fold(c.hw, |hw, d| d.output_size(hw));
        match expected_hw {
            Ok(out_hw) => {
                let (y, hw) = stack.forward_nchw(c.batch, c.hw, &x).unwrap();
                prop_assert_eq!(hw, out_hw);
                let (want, mag, _) = reference_stack(stack.layers(), c.batch, c.hw, &x);
                assert_close(&y, &want, &mag);
                // Through the round trip of the weights too.
                let back = Stack::from_safetensors_bytes(&specs, &stack.to_safetensors_bytes().unwrap()).unwrap();
                prop_assert_eq!(back, stack);
            }
            Err(e) => {
                prop_assert_eq!(stack.forward_nchw(c.batch, c.hw, &x).unwrap_err(), e);
            }
        }
    }

    /// Typed shells over random data and dynamic sizes equal the reference.
    #[test]
    fn typed_shell_equals_reference(h in 1usize..14, w in 1usize..14, batch in 1usize..3, seed in any::<u64>()) {
        type L = Conv2d<3, 2, 3, 2, 2, 3, 1, 2, 1, Pad2d<2, 1, 3, 0>>;
        let l = L::init(seed, true, Activation::Silu).unwrap();
        let x = Tensor2d::<3, DYN, DYN>::from_vec(batch, [h, w], data(batch * 3 * h * w, seed)).unwrap();
        let r: Result<Tensor2d<2, DYN, DYN>, Error> = l.forward(&x);
        match l.desc().output_size([h, w]) {
            Ok(hw) => {
                let y = r.unwrap();
                prop_assert_eq!(y.hw(), hw);
                let (want, mag, _) = reference_stack(&[l.layer().clone()], batch, [h, w], x.as_slice());
                assert_close(y.as_slice(), &want, &mag);
            }
            Err(e) => prop_assert_eq!(r.unwrap_err(), e),
        }
    }
}

/// Models are shared across threads (one model, many request handlers).
#[test]
fn stacks_and_layers_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Stack>();
    check::<TypedStack<Tensor2d<2, DYN, DYN>, Tensor2d<3, DYN, DYN>>>();
    check::<TypedStack<Tensor1d<2, DYN>, Tensor1d<3, DYN>>>();
    check::<S0>();
    check::<Conv1d<2, 2, 2, 4, 1, 1, Pad1d<4, 0>>>();
    check::<Tensor2d<2, 3, 4>>();
    check::<Tensor>();
    let stack = Stack::init(&SPECS, 0).unwrap();
    let x = data(2 * 12 * 10, 1);
    let (want, _) = stack.forward_nchw(1, [12, 10], &x).unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let (y, _) = stack.forward_nchw(1, [12, 10], &x).unwrap();
                assert_eq!(y, want);
            });
        }
    });
}

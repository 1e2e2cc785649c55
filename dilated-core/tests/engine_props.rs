//! Property tests: every kernel family this CPU runs against the naive reference
//! (`conv_reference`), over random shapes — 1D and 2D, 1×1 outputs, kernels wider than the
//! input (with padding), strides with dilation, groups and depthwise, channel counts that
//! are not multiples of 16, batches, causal and asymmetric padding, stacks with every
//! activation — plus NaN and infinity propagation.
//!
//! Tolerance: a single layer's output must be within `1e-5 · Σ|x·w| + |b|` (the accumulated
//! magnitude) of the reference; a stack of `n` layers within `1e-5 · 4ⁿ⁻¹` of the same
//! magnitude propagated through the stack with absolute weights.

use dilated_core::conv::Conv;
use dilated_core::conv::{Activation, ConvDesc, conv_reference};
use dilated_core::engine::{Kernel, Network, Workspace};
use proptest::prelude::*;

/// The fast families; each test skips (with a message) the ones this CPU lacks.
fn families() -> Vec<Kernel> {
    let mut v = Vec::new();
    for k in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
        if k.is_available() {
            v.push(k);
        } else {
            eprintln!("skipping the {k} kernels: this CPU lacks their features");
        }
    }
    v
}

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const ACTS: [Activation; 7] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Gelu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Silu,
];

/// One layer's raw parameters as drawn; `build` turns them into a valid descriptor.
#[derive(Debug, Clone)]
struct RawLayer {
    cout: usize,
    group_pick: usize,
    k: [usize; 2],
    d: [usize; 2],
    s: [usize; 2],
    pad: [[usize; 2]; 2],
    bias: bool,
    act: usize,
}

fn raw_layer(dims: usize) -> impl Strategy<Value = RawLayer> {
    let kh = if dims == 1 { 1..2usize } else { 1..5usize };
    (
        1..40usize,
        0..8usize,
        (kh, 1..5usize),
        (1..5usize, 1..5usize),
        (1..4usize, 1..4usize),
        ((0..7usize, 0..7usize), (0..7usize, 0..7usize)),
        any::<bool>(),
        0..ACTS.len(),
    )
        .prop_map(
            move |(cout, group_pick, k, d, s, pad, bias, act)| RawLayer {
                cout,
                group_pick,
                k: [k.0, k.1],
                d: [if dims == 1 { 1 } else { d.0 }, d.1],
                s: [if dims == 1 { 1 } else { s.0 }, s.1],
                pad: [
                    if dims == 1 {
                        [0, 0]
                    } else {
                        [pad.0.0, pad.0.1]
                    },
                    [pad.1.0, pad.1.1],
                ],
                bias,
                act,
            },
        )
}

/// A valid descriptor for input `cin × hw`: groups picked among the common divisors (the
/// last pick is depthwise when `cout = cin`), padding raised where the kernel would not fit.
fn build(r: &RawLayer, cin: usize, hw: [usize; 2], depthwise: bool) -> ConvDesc {
    let cout = if depthwise { cin } else { r.cout };
    let divisors: Vec<usize> = (1..=cin.min(cout))
        .filter(|&g| cin.is_multiple_of(g) && cout.is_multiple_of(g))
        .collect();
    let groups = if depthwise {
        cin
    } else {
        divisors[r.group_pick % divisors.len()]
    };
    let mut padding = r.pad;
    for axis in 0..2 {
        let eff = r.d[axis] * (r.k[axis] - 1) + 1;
        let padded = hw[axis] + padding[axis][0] + padding[axis][1];
        if padded < eff {
            padding[axis][1] += eff - padded;
        }
    }
    ConvDesc {
        in_channels: cin,
        out_channels: cout,
        groups,
        kernel: r.k,
        dilation: r.d,
        stride: r.s,
        padding,
        bias: r.bias,
        activation: ACTS[r.act],
    }
}

fn layer(desc: ConvDesc, rng: &mut Rng) -> Conv {
    let w = rng.vec(desc.weight_len().unwrap());
    let b = desc.bias.then(|| rng.vec(desc.out_channels));
    Conv::new(desc, w, b).unwrap()
}

/// The accumulated magnitude of every output: the stack run with |x|, |w|, |b| and, in
/// place of the activation, `1.2·|a| + 1` (a bound for every activation we have).
fn magnitude(layers: &[Conv], batch: usize, hw: [usize; 2], x: &[f32]) -> Vec<f32> {
    let mut cur: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    let mut hw = hw;
    for (i, l) in layers.iter().enumerate() {
        let mut d = *l.desc();
        d.activation = Activation::Identity;
        let out_hw = d.output_size(hw).unwrap();
        let mut y = vec![0.0; ConvDesc::nchw_len(batch, d.out_channels, out_hw).unwrap()];
        let w: Vec<f32> = l.weight().iter().map(|v| v.abs()).collect();
        let b: Option<Vec<f32>> = l.bias().map(|b| b.iter().map(|v| v.abs()).collect());
        conv_reference(&d, batch, hw, &cur, &w, b.as_deref(), &mut y).unwrap();
        if i + 1 < layers.len() {
            for v in &mut y {
                *v = 1.2 * *v + 1.0;
            }
        }
        cur = y;
        hw = out_hw;
    }
    cur
}

/// Checks `got` against the reference element by element: NaN where the reference has
/// NaN, the same infinity, otherwise within `rel` of the magnitude.
fn assert_close(kernel: Kernel, got: &[f32], want: &[f32], mag: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len());
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{kernel}: element {i}: got {g}, reference NaN");
        } else if w.is_infinite() {
            assert_eq!(g, w, "{kernel}: element {i}");
        } else {
            let tol = rel * m + f32::MIN_POSITIVE;
            assert!(
                (g - w).abs() <= tol,
                "{kernel}: element {i}: got {g}, reference {w}, magnitude {m}, tolerance {tol}"
            );
        }
    }
}

/// Runs `layers` with every fast family (1 and 2 threads) and compares with the reference.
fn check_stack(layers: Vec<Conv>, batch: usize, hw: [usize; 2], x: &[f32]) {
    let reference = Network::new(layers.clone())
        .unwrap()
        .with_kernel(Kernel::Reference)
        .unwrap();
    let (want, out_hw) = reference.forward(batch, hw, x).unwrap();
    let mag = magnitude(&layers, batch, hw, x);
    let rel = 1e-5 * 4f32.powi(layers.len() as i32 - 1);
    for kernel in families() {
        for threads in [1, 2] {
            let net = Network::new(layers.clone())
                .unwrap()
                .with_kernel(kernel)
                .unwrap()
                .with_threads(threads)
                .unwrap();
            let (got, got_hw) = net.forward(batch, hw, x).unwrap();
            assert_eq!(got_hw, out_hw);
            assert_close(kernel, &got, &want, &mag, rel);
        }
    }
}

/// A random stack of 1..=3 layers on a `batch × cin × hw` input.
fn stack_case(
    dims: usize,
) -> impl Strategy<Value = (usize, usize, [usize; 2], Vec<RawLayer>, Vec<bool>, u64)> {
    let h = if dims == 1 { 1..2usize } else { 1..14usize };
    (
        1..4usize,
        1..40usize,
        (h, 1..40usize),
        prop::collection::vec(raw_layer(dims), 1..4),
        prop::collection::vec(prop::bool::weighted(0.25), 3),
        any::<u64>(),
    )
        .prop_map(|(b, c, (h, w), ls, dw, seed)| (b, c, [h, w], ls, dw, seed))
}

fn make_stack(
    cin: usize,
    hw: [usize; 2],
    raws: &[RawLayer],
    depthwise: &[bool],
    rng: &mut Rng,
) -> Vec<Conv> {
    let mut layers = Vec::new();
    let (mut c, mut hw) = (cin, hw);
    for (r, &dw) in raws.iter().zip(depthwise) {
        let d = build(r, c, hw, dw);
        hw = d.output_size(hw).unwrap();
        c = d.out_channels;
        layers.push(layer(d, rng));
    }
    layers
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_stacks_match_the_reference(case in stack_case(2)) {
        let (batch, cin, hw, raws, dw, seed) = case;
        let mut rng = Rng(seed);
        let layers = make_stack(cin, hw, &raws, &dw, &mut rng);
        let x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        check_stack(layers, batch, hw, &x);
    }

    #[test]
    fn conv1d_stacks_match_the_reference(case in stack_case(1)) {
        let (batch, cin, hw, raws, dw, seed) = case;
        let mut rng = Rng(seed);
        let layers = make_stack(cin, hw, &raws, &dw, &mut rng);
        let x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        check_stack(layers, batch, hw, &x);
    }

    /// Single layers at the exact tolerance, on wider rows so the widest tiles and the
    /// interior (every tap valid) paths run.
    #[test]
    fn single_layers_match_the_reference(
        raw in raw_layer(2),
        depthwise in prop::bool::weighted(0.3),
        batch in 1..3usize,
        cin in 1..40usize,
        hw in (1..10usize, 1..70usize),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let hw = [hw.0, hw.1];
        let d = build(&raw, cin, hw, depthwise);
        let layers = vec![layer(d, &mut rng)];
        let x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        check_stack(layers, batch, hw, &x);
    }

    /// NaN and infinities in the input or the weights propagate as in the reference
    /// (padding taps and other groups' channels never touch them).
    #[test]
    fn nan_and_inf_propagate_as_in_the_reference(case in stack_case(2), specials in 1..4usize) {
        let (batch, cin, hw, raws, dw, seed) = case;
        let mut rng = Rng(seed);
        let mut layers = make_stack(cin, hw, &raws, &dw, &mut rng);
        let mut x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for _ in 0..specials {
            let i = rng.below(x.len());
            x[i] = values[rng.below(3)];
        }
        // One special weight in the first layer too.
        let l0 = layers[0].clone();
        let mut w = l0.weight().to_vec();
        let i = rng.below(w.len());
        w[i] = values[rng.below(3)];
        layers[0] = Conv::new(*l0.desc(), w, l0.bias().map(<[f32]>::to_vec)).unwrap();
        check_stack(layers, batch, hw, &x);
    }
}

/// The classic shapes at full size in each family: 64 → 64 channels, rate 2, `same` padding,
/// and a causal 1D layer, so the widest tiles and the multi-block passes run.
#[test]
fn full_size_layers_match_the_reference() {
    let mut rng = Rng(7);
    let mut relu = ConvDesc::same_2d(64, 48, 3, 2);
    relu.activation = Activation::Relu;
    let cases = [
        (relu, [33, 45]),
        (ConvDesc::causal_1d(32, 40, 3, 8), [1, 300]),
        (
            ConvDesc {
                groups: 32,
                ..ConvDesc::same_2d(32, 32, 3, 3)
            },
            [20, 70],
        ),
        (
            ConvDesc {
                groups: 17,
                ..ConvDesc::same_2d(17, 17, 3, 3)
            },
            [4, 300],
        ),
        // Long rows: S4 of the benchmark (shortened); on the NCHW kernels (few input
        // channels per group), rows longer than one column chunk, S6 (shortened), and a
        // grouped layer with blocks of 3 channels.
        (ConvDesc::causal_1d(64, 64, 3, 8), [1, 1500]),
        (ConvDesc::causal_1d(16, 24, 2, 64), [1, 1500]),
        // Wider than the kernels' precomputed column masks (8 columns).
        (ConvDesc::same_2d(3, 5, 11, 2), [9, 70]),
        (ConvDesc::same_2d(16, 16, 3, 5), [12, 300]),
        // Stride 2 on wide input (converted to the blocked layout on AVX2; the tiles'
        // pixel step a compile-time constant) and kernel 5.
        (
            ConvDesc {
                stride: [2, 2],
                ..ConvDesc::same_2d(48, 40, 3, 1)
            },
            [21, 75],
        ),
        (ConvDesc::same_2d(40, 20, 5, 2), [13, 61]),
        (
            ConvDesc {
                groups: 5,
                ..ConvDesc::same_2d(20, 15, 3, 2)
            },
            [7, 260],
        ),
    ];
    for (d, hw) in cases {
        let layers = vec![layer(d, &mut rng)];
        let x = rng.vec(ConvDesc::nchw_len(2, d.in_channels, hw).unwrap());
        check_stack(layers, 2, hw, &x);
    }
}

/// A reused workspace gives the same answers as a fresh one, whatever ran in it before
/// (stale values in the blocked buffers' padding lanes are never read).
#[test]
fn workspace_reuse_is_clean() {
    let mut rng = Rng(11);
    let mut d1 = ConvDesc::same_2d(5, 21, 3, 2);
    d1.activation = Activation::Sigmoid;
    let d2 = ConvDesc {
        groups: 21,
        ..ConvDesc::same_2d(21, 21, 3, 1)
    };
    let d3 = ConvDesc::same_2d(21, 3, 3, 5);
    let layers = vec![
        layer(d1, &mut rng),
        layer(d2, &mut rng),
        layer(d3, &mut rng),
    ];
    for kernel in families() {
        let net = Network::new(layers.clone())
            .unwrap()
            .with_kernel(kernel)
            .unwrap();
        let mut ws = Workspace::new();
        for (batch, hw) in [(2, [17, 23]), (1, [5, 4]), (3, [9, 31])] {
            let mut x = rng.vec(ConvDesc::nchw_len(batch, 5, hw).unwrap());
            x[0] = f32::INFINITY;
            let (fresh, out_hw) = net.forward(batch, hw, &x).unwrap();
            let mut out = vec![0.0; fresh.len()];
            assert_eq!(
                net.forward_into(batch, hw, &x, &mut out, &mut ws).unwrap(),
                out_hw
            );
            assert_eq!(
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                fresh.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{kernel}"
            );
        }
    }
}

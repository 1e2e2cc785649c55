//! Property tests of the register-tile shapes (`engine::Tiles`): every shape, forced on
//! every kernel family this CPU runs (AVX-512 compiles all of them; the other families
//! have one shape each and must ignore the choice), against the naive reference over
//! random single layers that run on the NCHW dense and Winograd kernels — 1D and 2D,
//! widths from one vector to several three-vector tiles with masked row ends, channel
//! counts that are not multiples of the tile's, groups, rates, kernels 1 to 5 — with NaN
//! and infinities in the input propagated as the reference propagates them. And: with
//! finite inputs and outputs, every shape gives the same bits (each output sums its
//! products in the same order whatever the tile). Not with a non-finite input: a Winograd
//! tile that meets one recomputes all of its outputs directly, and which outputs share a
//! tile depends on its shape, so a finite output beside an infinity (a `tanh` of it is
//! finite) may be rounded the direct way under one shape and the Winograd way under
//! another, each within the tolerance.
//!
//! Tolerance as `engine_props.rs`: within `1e-5 · Σ|x·w| + |b|` of the reference.

use dilated_core::conv::Conv;
use dilated_core::conv::{Activation, ConvDesc, conv_reference};
use dilated_core::engine::{Kernel, Network, Tiles};
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

/// Every forced shape, and `None` (each layer's own).
fn choices() -> Vec<Option<Tiles>> {
    std::iter::once(None)
        .chain(Tiles::ALL.into_iter().map(Some))
        .collect()
}

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// One random layer and its input: `(desc, batch, hw)`. Stride 1 across (the NCHW
/// kernels'), at most 128 input channels per group, so a single layer runs on them.
fn case(dims: usize) -> impl Strategy<Value = (ConvDesc, usize, [usize; 2], u64)> {
    let kh = if dims == 1 { 1..2usize } else { 1..6usize };
    let h = if dims == 1 { 1..2usize } else { 1..14usize };
    (
        (1..40usize, 1..40usize, 0..4usize),
        (kh, 1..6usize),
        (1..6usize, 1..18usize),
        (1..3usize, h, 1..140usize),
        (0..3usize, any::<bool>(), 0..3usize, any::<u64>()),
    )
        .prop_map(
            move |(
                (cin, cout, gpick),
                (kh, kw),
                (dh, dw),
                (batch, h, w),
                (pad, bias, act, seed),
            )| {
                // Groups: 1, or a common divisor of both channel counts.
                let groups = [1, 2, 4, 8][gpick];
                let groups = if cin % groups == 0 && cout % groups == 0 {
                    groups
                } else {
                    1
                };
                let dh = if dims == 1 { 1 } else { dh };
                // Padding: none, `same`-like, or causal along the width.
                let ph = (dh * (kh - 1)) / 2;
                let pw = dw * (kw - 1);
                let padding = match pad {
                    0 => [[0, 0], [0, 0]],
                    1 => [[ph, dh * (kh - 1) - ph], [pw / 2, pw - pw / 2]],
                    _ => [[ph, ph], [pw, 0]],
                };
                let desc = ConvDesc {
                    in_channels: cin,
                    out_channels: cout,
                    groups,
                    kernel: [kh, kw],
                    dilation: [dh, dw],
                    stride: [
                        if dims == 1 {
                            1
                        } else {
                            1 + (seed % 2) as usize
                        },
                        1,
                    ],
                    padding,
                    bias,
                    activation: [Activation::Identity, Activation::Relu, Activation::Tanh][act],
                };
                (desc, batch, [h, w], seed)
            },
        )
        .prop_filter("the output is not empty", |(d, _, hw, _)| {
            d.output_size(*hw).is_ok_and(|o| o[0] > 0 && o[1] > 0)
        })
}

/// The accumulated magnitude of every output: the layer run with |x|, |w|, |b|.
fn magnitude(l: &Conv, batch: usize, hw: [usize; 2], x: &[f32]) -> Vec<f32> {
    let mut d = *l.desc();
    d.activation = Activation::Identity;
    let out_hw = d.output_size(hw).unwrap();
    let mut y = vec![0.0; ConvDesc::nchw_len(batch, d.out_channels, out_hw).unwrap()];
    let ax: Vec<f32> = x
        .iter()
        .map(|v| if v.is_finite() { v.abs() } else { 0.0 })
        .collect();
    let w: Vec<f32> = l.weight().iter().map(|v| v.abs()).collect();
    let b: Option<Vec<f32>> = l.bias().map(|b| b.iter().map(|v| v.abs()).collect());
    conv_reference(&d, batch, hw, &ax, &w, b.as_deref(), &mut y).unwrap();
    y
}

/// Runs `layer` with every family, every shape, Winograd on and off, and compares with
/// the reference (NaN where it has NaN, the same infinities, finite values within 1e-5
/// of the magnitude); with all-finite inputs and outputs, every shape must give the same
/// bits as the first one of the same family and Winograd setting.
fn check(layer: Conv, batch: usize, hw: [usize; 2], x: &[f32]) {
    let reference = Network::new_with_kernel(vec![layer.clone()], Kernel::Reference).unwrap();
    let (want, out_hw) = reference.forward(batch, hw, x).unwrap();
    let mag = magnitude(&layer, batch, hw, x);
    for kernel in families() {
        for wino in [true, false] {
            let mut first: Option<Vec<f32>> = None;
            for tiles in choices() {
                // Winograd on: on every shape its tiles take, whatever this CPU's bounds.
                let net = Network::new_with_kernel(vec![layer.clone()], kernel).unwrap();
                let net = if wino {
                    net.with_winograd_everywhere()
                } else {
                    net.with_winograd(false)
                };
                let net = net
                    .unwrap()
                    .with_tiles(tiles)
                    .with_threads(1 + (batch % 2))
                    .unwrap();
                assert_eq!(net.tiles(), tiles);
                let (got, got_hw) = net.forward(batch, hw, x).unwrap();
                assert_eq!(got_hw, out_hw);
                let what = format!("{kernel}, tiles {tiles:?}, winograd {wino}");
                for (i, ((&g, &w), &m)) in got.iter().zip(&want).zip(&mag).enumerate() {
                    if w.is_nan() {
                        assert!(g.is_nan(), "{what}: element {i}: got {g}, reference NaN");
                    } else if w.is_infinite() {
                        assert_eq!(g, w, "{what}: element {i}");
                    } else {
                        let tol = 1e-5 * m + f32::MIN_POSITIVE;
                        assert!(
                            (g - w).abs() <= tol,
                            "{what}: element {i}: got {g}, reference {w}, tolerance {tol}"
                        );
                    }
                }
                if x.iter().all(|v| v.is_finite()) && want.iter().all(|v| v.is_finite()) {
                    match &first {
                        None => first = Some(got),
                        Some(f) => {
                            let same = f.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
                            assert!(same, "{what}: not the bits of the first shape");
                        }
                    }
                }
            }
        }
    }
}

fn layer(desc: ConvDesc, rng: &mut Rng) -> Conv {
    let w = rng.vec(desc.weight_len().unwrap());
    let b = desc.bias.then(|| rng.vec(desc.out_channels));
    Conv::new(desc, w, b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_tile_matches_the_reference_in_2d(c in case(2)) {
        let (desc, batch, hw, seed) = c;
        let mut rng = Rng(seed);
        let l = layer(desc, &mut rng);
        let x = rng.vec(ConvDesc::nchw_len(batch, desc.in_channels, hw).unwrap());
        check(l, batch, hw, &x);
    }

    #[test]
    fn every_tile_matches_the_reference_in_1d(c in case(1)) {
        let (desc, batch, hw, seed) = c;
        let mut rng = Rng(seed);
        let l = layer(desc, &mut rng);
        let x = rng.vec(ConvDesc::nchw_len(batch, desc.in_channels, hw).unwrap());
        check(l, batch, hw, &x);
    }

    /// NaN and infinities in the input come out where the reference puts them, whatever
    /// the tile (Winograd tiles recompute a non-finite output directly).
    #[test]
    fn every_tile_keeps_nan_and_infinities(c in case(2), specials in 1..5usize) {
        let (desc, batch, hw, seed) = c;
        let mut rng = Rng(seed);
        let l = layer(desc, &mut rng);
        let mut x = rng.vec(ConvDesc::nchw_len(batch, desc.in_channels, hw).unwrap());
        let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for _ in 0..specials {
            let i = rng.below(x.len());
            x[i] = values[rng.below(3)];
        }
        check(l, batch, hw, &x);
    }
}

/// Full-size layers where the three-vector tiles run long interior runs: S1's shape at a
/// smaller height (Winograd along the rows and direct), a 1D kernel-2 layer (the direct
/// 1D layers `Tiles::for_layer` gives 8 × 3 on two-port CPUs) and a 1 × 3 layer at a rate
/// dividing 16 (Winograd along the columns).
#[test]
fn full_width_layers_match_the_reference_with_every_tile() {
    let mut rng = Rng(7);
    for (desc, hw) in [
        (ConvDesc::same_2d(64, 40, 3, 2), [12, 131]),
        (ConvDesc::causal_1d(64, 64, 2, 16), [1, 1000]),
        (ConvDesc::causal_1d(32, 24, 3, 4), [1, 777]),
    ] {
        let l = layer(desc, &mut rng);
        let x = rng.vec(ConvDesc::nchw_len(1, desc.in_channels, hw).unwrap());
        check(l, 1, hw, &x);
    }
}

/// Wide layers (128 input channels per group or more): their NCHW input is converted to
/// the channel-blocked layout before the direct kernels run (16 × 16 register transposes
/// and an element-by-element rest), and from 256 on they leave Winograd to the blocked
/// kernels. 1 × 1 (300 input channels: summed in chunks, runs of columns through every
/// pass), 3 × 3 at rates that reach into the padding, groups, stride 2, 1D; NaN and
/// infinities in the input kept.
#[test]
fn wide_layers_match_the_reference() {
    let mut rng = Rng(11);
    let mut grouped = ConvDesc::same_2d(512, 48, 3, 1);
    grouped.groups = 2;
    let mut strided = ConvDesc::same_2d(130, 20, 3, 2);
    strided.stride = [2, 2];
    for (desc, hw, specials) in [
        (ConvDesc::same_2d(128, 33, 1, 1), [5, 37], 0),
        (ConvDesc::same_2d(300, 40, 1, 1), [3, 151], 2),
        (ConvDesc::same_2d(300, 17, 3, 12), [9, 13], 0),
        (ConvDesc::same_2d(256, 32, 3, 2), [6, 29], 3),
        (grouped, [4, 18], 0),
        (strided, [7, 21], 2),
        (ConvDesc::causal_1d(200, 24, 2, 4), [1, 90], 2),
    ] {
        let l = layer(desc, &mut rng);
        let mut x = rng.vec(ConvDesc::nchw_len(2, desc.in_channels, hw).unwrap());
        let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for k in 0..specials {
            let i = rng.below(x.len());
            x[i] = values[k % 3];
        }
        check(l, 2, hw, &x);
    }
}

/// Strided stems (3 → 32, 3 × 3, stride 2, the NCHW tile of one vector per stride-2 row):
/// rows whose last tile's last tap is the row's last column (the tile stays plain: its
/// second load ends there), one column short of it or past it, odd widths, rates and
/// padding that push the taps into the right border; NaN and infinities kept.
#[test]
fn strided_stems_match_the_reference_at_the_row_ends() {
    let mut rng = Rng(13);
    for (w, dil, pad, specials) in [
        (64, 1, [1, 1], 2),
        (65, 1, [1, 1], 0),
        (63, 1, [1, 1], 1),
        (66, 1, [0, 1], 0),
        (97, 2, [2, 2], 3),
        (70, 3, [0, 3], 0),
        (35, 1, [1, 0], 2),
    ] {
        let mut desc = ConvDesc::same_2d(3, 32, 3, dil);
        desc.stride = [2, 2];
        desc.padding = [[1, 1], pad];
        let hw = [7, w];
        let l = layer(desc, &mut rng);
        let mut x = rng.vec(ConvDesc::nchw_len(2, 3, hw).unwrap());
        let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for k in 0..specials {
            let i = rng.below(x.len());
            x[i] = values[k % 3];
        }
        check(l, 2, hw, &x);
    }
}

/// A stack whose first layer is wide (its input converted to the blocked layout in the
/// scratch buffer the second layer's output must not overwrite) gives the reference's
/// results on every family.
#[test]
fn a_stack_after_a_wide_first_layer_matches_the_reference() {
    let mut rng = Rng(12);
    let layers: Vec<Conv> = [
        ConvDesc::same_2d(256, 64, 3, 2),
        ConvDesc::same_2d(64, 64, 3, 1),
        ConvDesc::same_2d(64, 8, 1, 1),
    ]
    .into_iter()
    .map(|d| layer(d, &mut rng))
    .collect();
    let hw = [11, 23];
    let x = rng.vec(ConvDesc::nchw_len(2, 256, hw).unwrap());
    let reference = Network::new_with_kernel(layers.clone(), Kernel::Reference).unwrap();
    let (want, _) = reference.forward(2, hw, &x).unwrap();
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for kernel in families() {
        let net = Network::new_with_kernel(layers.clone(), kernel).unwrap();
        let (got, _) = net.forward(2, hw, &x).unwrap();
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
        assert!(
            err <= 1e-4 * scale,
            "{kernel}: max error {err} (scale {scale})"
        );
    }
}

/// The names and the defaults: the shapes parse and print back; `for_layer` gives a shape
/// the AVX-512 family compiles.
#[test]
fn tile_names_and_layer_choice() {
    for t in Tiles::ALL {
        assert_eq!(t.to_string().parse::<Tiles>(), Ok(t));
        assert_eq!(Tiles::new(t.channels(), t.vectors()), Some(t));
    }
    assert!("9x9".parse::<Tiles>().is_err());
    let cpu = dilated_core::engine::Cpu::this();
    for (d, wino) in [
        (ConvDesc::same_2d(64, 64, 3, 2), true),
        (ConvDesc::causal_1d(64, 64, 2, 4), false),
    ] {
        assert!(Tiles::ALL.contains(&Tiles::for_layer(cpu, &d, wino)));
    }
}

/// Every width of the channel-blocked dense tiles (on AVX-512 every width from 1 to 14
/// pixels, with one and with two output blocks) gives the reference's results: a wide layer
/// (blocked kernels) on rows of every width from 1 to 30, whose interiors the driver covers
/// with the widest tiles and one tile of exactly the rest.
#[test]
fn every_blocked_tile_width_matches_the_reference() {
    let mut rng = Rng(13);
    for out in [8, 24] {
        for ow in 1..=30 {
            let l = layer(ConvDesc::same_2d(130, out, 3, 1), &mut rng);
            let hw = [2, ow];
            let x = rng.vec(ConvDesc::nchw_len(1, 130, hw).unwrap());
            let reference = Network::new_with_kernel(vec![l.clone()], Kernel::Reference).unwrap();
            let (want, _) = reference.forward(1, hw, &x).unwrap();
            let mag = magnitude(&l, 1, hw, &x);
            for kernel in families() {
                let net = Network::new_with_kernel(vec![l.clone()], kernel)
                    .unwrap()
                    .with_winograd(false)
                    .unwrap();
                let (got, _) = net.forward(1, hw, &x).unwrap();
                for (i, ((&g, &w), &m)) in got.iter().zip(&want).zip(&mag).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * m,
                        "{kernel}, {out} channels, width {ow}, output {i}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

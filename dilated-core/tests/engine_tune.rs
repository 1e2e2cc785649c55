//! The kernel choices (`engine::Choice`) and the planner that times them
//! (`Network::tuned`): every choice, forced on every kernel family this CPU runs, against
//! the naive reference over random stacks of one to three layers — dense and depthwise,
//! 1D and 2D, stride 1 and 2, narrow and wide (up to 72 channels, past the families'
//! conversion bounds), NaN and infinities in the input propagated as the reference
//! propagates them; and the planner's contract: it runs the choice it reports, times the
//! network's own choice first, remembers its answer for the same shapes, and refuses a bad
//! size as `forward` does.
//!
//! Tolerance: finite outputs within `1e-4 · (1 + max |reference|)` (the layers' weights
//! are scaled by `1/√fan-in`, so activations stay of order one through a stack).

use dilated_core::Error;
use dilated_core::conv::{Activation, Conv, ConvDesc};
use dilated_core::engine::{Choice, Kernel, NchwDense, Network, Tiles};
use proptest::prelude::*;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// The fast families this CPU runs.
fn families() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

/// Every choice the tests force: Winograd on and off, the three NCHW rules, conversion
/// always, from 32 channels and never, and the tile shapes (each layer's own, one port,
/// two ports).
fn choices() -> Vec<Choice> {
    let mut v = Vec::new();
    for winograd in [true, false] {
        for nchw in NchwDense::ALL {
            for convert_from in [0, 32, usize::MAX] {
                for tiles in [None, Some(Tiles::ONE_PORT), Some(Tiles::TWO_PORTS)] {
                    v.push(Choice {
                        winograd,
                        nchw,
                        convert_from,
                        tiles,
                    });
                }
            }
        }
    }
    v
}

/// One layer of a random stack: `(channels out, kernel, rate, stride, depthwise)`.
type Spec = (usize, usize, usize, usize, bool);

/// A random stack on a random input: `(channels in, layers, dims, batch, hw, seed)`.
fn case() -> impl Strategy<Value = (usize, Vec<Spec>, usize, usize, [usize; 2], u64)> {
    (
        prop_oneof![1..20usize, 28..72usize],
        prop::collection::vec(
            (
                prop_oneof![1..20usize, 30..72usize],
                1..6usize,
                1..4usize,
                1..3usize,
                prop::bool::weighted(0.2),
            ),
            1..4,
        ),
        1..3usize,
        1..3usize,
        (1..20usize, 1..70usize),
        any::<u64>(),
    )
        .prop_map(|(cin, specs, dims, batch, (h, w), seed)| {
            let hw = if dims == 1 { [1, w] } else { [h, w] };
            (cin, specs, dims, batch, hw, seed)
        })
}

/// Builds the stack of `specs` from `cin` channels, weights scaled by `1/√fan-in`; `None`
/// if the input is too small for it.
fn stack(
    cin: usize,
    specs: &[Spec],
    dims: usize,
    hw: [usize; 2],
    rng: &mut Rng,
) -> Option<Vec<Conv>> {
    let mut layers = Vec::new();
    let mut c = cin;
    let mut cur = hw;
    for (i, &(cout, k, rate, stride, depthwise)) in specs.iter().enumerate() {
        let (cout, groups) = if depthwise { (c, c) } else { (cout, 1) };
        let total = rate * (k - 1);
        let (lo, hi) = (total / 2, total - total / 2);
        let desc = ConvDesc {
            in_channels: c,
            out_channels: cout,
            groups,
            kernel: if dims == 1 { [1, k] } else { [k, k] },
            dilation: if dims == 1 { [1, rate] } else { [rate, rate] },
            stride: if dims == 1 {
                [1, stride]
            } else {
                [stride, stride]
            },
            padding: if dims == 1 {
                [[0, 0], [lo, hi]]
            } else {
                [[lo, hi], [lo, hi]]
            },
            bias: true,
            activation: if i + 1 < specs.len() {
                Activation::Relu
            } else {
                Activation::Identity
            },
        };
        let out = desc.output_size(cur).ok()?;
        if out[0] == 0 || out[1] == 0 {
            return None;
        }
        let scale = 1.0 / ((c / groups * desc.kernel[0] * desc.kernel[1]) as f32).sqrt();
        let w: Vec<f32> = rng
            .vec(desc.weight_len().unwrap())
            .into_iter()
            .map(|v| v * scale)
            .collect();
        layers.push(Conv::new(desc, w, Some(rng.vec(cout))).unwrap());
        c = cout;
        cur = out;
    }
    Some(layers)
}

/// Compares `got` with the reference's `want`: NaN where it has NaN, the same infinities,
/// finite values within the tolerance.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()));
    let tol = 1e-4 * (1.0 + scale);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}: element {i}: got {g}, reference NaN");
        } else if w.is_infinite() {
            assert_eq!(g, w, "{what}: element {i}");
        } else {
            assert!(
                (g - w).abs() <= tol,
                "{what}: element {i}: got {g}, reference {w}, tolerance {tol}"
            );
        }
    }
}

/// Every family with every forced choice against the reference.
fn check_choices(layers: &[Conv], batch: usize, hw: [usize; 2], x: &[f32]) {
    let reference = Network::new_with_kernel(layers.to_vec(), Kernel::Reference).unwrap();
    let (want, out_hw) = reference.forward(batch, hw, x).unwrap();
    for kernel in families() {
        let base = Network::new_with_kernel(layers.to_vec(), kernel)
            .unwrap()
            .with_threads(1 + batch % 2)
            .unwrap();
        for c in choices() {
            let net = base.clone().with_choice(c).unwrap();
            let back = net.choice();
            assert_eq!(
                (back.winograd, back.convert_from, back.tiles),
                (c.winograd, c.convert_from, c.tiles)
            );
            let (got, got_hw) = net.forward(batch, hw, x).unwrap();
            assert_eq!(got_hw, out_hw);
            assert_close(&got, &want, &format!("{kernel}, {c}"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_choice_matches_the_reference(c in case()) {
        let (cin, specs, dims, batch, hw, seed) = c;
        let mut rng = Rng(seed);
        let Some(layers) = stack(cin, &specs, dims, hw, &mut rng) else {
            return Ok(());
        };
        let x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        check_choices(&layers, batch, hw, &x);
    }

    /// NaN and infinities in the input come out where the reference puts them, whatever
    /// the choice.
    #[test]
    fn every_choice_keeps_nan_and_infinities(c in case(), specials in 1..4usize) {
        let (cin, specs, dims, batch, hw, seed) = c;
        let mut rng = Rng(seed);
        let Some(layers) = stack(cin, &specs, dims, hw, &mut rng) else {
            return Ok(());
        };
        let mut x = rng.vec(ConvDesc::nchw_len(batch, cin, hw).unwrap());
        let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for _ in 0..specials {
            let i = rng.below(x.len());
            x[i] = values[rng.below(3)];
        }
        check_choices(&layers, batch, hw, &x);
    }
}

/// The planner on a wide layer, a strided one and a 1D stack: it runs what it reports, its
/// timings start with the network's own choice and hold each candidate once, its output
/// matches the reference, and the same shapes tune again from memory.
#[test]
fn the_planner_runs_what_it_reports_and_remembers_it() {
    let mut rng = Rng(11);
    let cases: [(usize, Vec<Spec>, usize, [usize; 2]); 3] = [
        (64, vec![(64, 3, 2, 1, false)], 2, [20, 36]),
        (
            3,
            vec![(32, 3, 1, 2, false), (32, 3, 1, 1, true)],
            2,
            [30, 41],
        ),
        (
            32,
            vec![(32, 2, 4, 1, false), (48, 3, 8, 1, false)],
            1,
            [1, 300],
        ),
    ];
    for kernel in families() {
        for (cin, specs, dims, hw) in &cases {
            let layers = stack(*cin, specs, *dims, *hw, &mut rng).unwrap();
            let x = rng.vec(ConvDesc::nchw_len(1, *cin, *hw).unwrap());
            let reference = Network::new_with_kernel(layers.clone(), Kernel::Reference).unwrap();
            let (want, _) = reference.forward(1, *hw, &x).unwrap();
            let net = Network::new_with_kernel(layers, kernel)
                .unwrap()
                .with_threads(1)
                .unwrap();
            let own = net.choice();
            let (tuned, tuning) = net.clone().tuned(1, *hw).unwrap();
            assert_eq!(tuned.choice(), tuning.choice, "{kernel}");
            assert_eq!(tuning.timings[0].0, own, "{kernel}: own choice first");
            assert!(tuning.timings.iter().any(|(c, _)| *c == tuning.choice));
            for (i, (c, secs)) in tuning.timings.iter().enumerate() {
                assert!(secs.is_finite() && *secs > 0.0, "{kernel}: {c}: {secs}");
                assert!(
                    !tuning.timings[..i].iter().any(|(d, _)| d == c),
                    "{kernel}: {c} timed twice"
                );
            }
            let (got, _) = tuned.forward(1, *hw, &x).unwrap();
            assert_close(
                &got,
                &want,
                &format!("{kernel}, tuned to {}", tuning.choice),
            );
            // Remembered: no timing, the same choice, on a fresh network of the same layers.
            let (again, recalled) = net.tuned(1, *hw).unwrap();
            assert!(recalled.timings.is_empty(), "{kernel}");
            assert_eq!(recalled.choice, tuning.choice);
            assert_eq!(again.choice(), tuning.choice);
        }
    }
}

/// A choice that differs only in the tile shape or the conversion bound of a layer that
/// never converts repacks nothing, and a forced choice sticks through cloning.
#[test]
fn a_forced_choice_sticks() {
    let mut rng = Rng(5);
    let layers = stack(8, &[(8, 3, 2, 1, false)], 2, [16, 16], &mut rng).unwrap();
    for kernel in families() {
        let net = Network::new_with_kernel(layers.clone(), kernel).unwrap();
        let c = Choice {
            winograd: false,
            nchw: NchwDense::Never,
            convert_from: usize::MAX,
            tiles: Some(Tiles::TWO_PORTS),
        };
        let forced = net.with_choice(c).unwrap();
        assert_eq!(forced.clone().choice(), forced.choice());
        assert!(!forced.choice().winograd);
        assert!(!forced.runs_winograd(0));
        assert_eq!(forced.tiles(), Some(Tiles::TWO_PORTS));
    }
}

/// Bad sizes fail as `forward` fails, before anything is timed.
#[test]
fn the_planner_refuses_bad_sizes() {
    let mut rng = Rng(3);
    let layers = stack(4, &[(4, 5, 3, 1, false)], 2, [16, 16], &mut rng).unwrap();
    let net = Network::new(layers).unwrap();
    assert!(matches!(
        net.clone().tuned(0, [16, 16]),
        Err(Error::Zero { what: "batch" })
    ));
    // A 5 × 5 kernel at rate 3 with `same` padding takes any size; a valid (unpadded) one
    // needs 13 rows.
    let valid = ConvDesc {
        padding: [[0, 0], [0, 0]],
        bias: false,
        ..ConvDesc::same_2d(4, 4, 5, 3)
    };
    let l = Conv::new(valid, rng.vec(valid.weight_len().unwrap()), None).unwrap();
    let net = Network::new(vec![l]).unwrap();
    assert!(net.clone().tuned(1, [12, 20]).is_err());
    assert!(net.tuned(1, [usize::MAX, 2]).is_err());
}

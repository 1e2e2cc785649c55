//! The post-op of a network ([`Network::forward_post`]: a PReLU, a residual, an activation
//! after the last layer, on the network's threads) against the stack followed by the same
//! post-op run by the caller, bit for bit, whatever path writes the network's output: the
//! channel-blocked dense tiles, the NCHW dense tiles, Winograd on rows, on column windows
//! and on column runs, F(2 × 2, 3 × 3), both depthwise drivers, pointwise layers as one
//! row; every family, one and two threads (runs split across threads and planes).

use proptest::prelude::*;

use super::elementwise::{Post, TEST_ACTS};
use super::{Kernel, Network, Workspace, test_stack as stack, test_values as values};
use crate::ConvDesc;
use crate::conv::{Activation, Conv};
use crate::error::Error;

/// The networks of `layers` on every family this CPU runs (and the reference), one and two
/// threads, the NCHW kernels on and off, Winograd by default, off and everywhere.
fn variants(layers: &[Conv]) -> Vec<(String, Network)> {
    let mut nets = Vec::new();
    let base = Network::new(layers.to_vec()).unwrap();
    nets.push((
        "reference".to_string(),
        base.clone().with_kernel(Kernel::Reference).unwrap(),
    ));
    for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
        if !kernel.is_available() {
            continue;
        }
        let k = base.clone().with_kernel(kernel).unwrap();
        for nchw in [true, false] {
            let n = k.clone().with_nchw(nchw).unwrap();
            for (wino, net) in [
                ("default", n.clone()),
                ("off", n.clone().with_winograd(false).unwrap()),
                ("everywhere", n.with_winograd_everywhere().unwrap()),
            ] {
                for threads in [1, 2] {
                    let net = net.clone().with_threads(threads).unwrap();
                    nets.push((
                        format!("{kernel} nchw={nchw} wino={wino} threads={threads}"),
                        net,
                    ));
                }
            }
        }
    }
    nets
}

/// Values in [−2, 2) with NaN, both infinities and zeros of both signs sprinkled in.
fn residual(n: usize, seed: u64) -> Vec<f32> {
    let mut r: Vec<f32> = values(n, seed).into_iter().map(|v| 2.0 * v).collect();
    for (i, v) in r.iter_mut().enumerate() {
        match (i as u64 ^ seed) % 41 {
            0 => *v = f32::NAN,
            1 => *v = f32::INFINITY,
            2 => *v = f32::NEG_INFINITY,
            3 => *v = -0.0,
            4 => *v = 0.0,
            _ => {}
        }
    }
    r
}

/// Every variant of `layers`, fused, against its own unfused run, bit for bit.
fn check(descs: &[ConvDesc], batch: usize, hw: [usize; 2], post: (u8, bool, usize), seed: u64) {
    let layers = stack(descs, seed);
    let c = descs.last().unwrap().out_channels;
    let mut size = hw;
    for d in descs {
        size = d.output_size(size).unwrap();
    }
    let plane = size[0] * size[1];
    let len = batch * c * plane;
    let x = values(
        ConvDesc::nchw_len(batch, descs[0].in_channels, hw).unwrap(),
        seed ^ 9,
    );
    let slopes = match post.0 % 3 {
        0 => None,
        1 => Some(vec![-0.25]),
        _ => Some(values(c, seed ^ 3)),
    };
    let res = post.1.then(|| residual(len, seed ^ 5));
    let p = Post {
        prelu: slopes.as_deref(),
        residual: res.as_deref(),
        act: TEST_ACTS[post.2 % TEST_ACTS.len()],
    };
    for (name, net) in variants(&layers) {
        let (mut want, _) = net.forward(batch, hw, &x).unwrap();
        p.apply_nchw(net.kernel(), c, plane, &mut want);
        let mut got = vec![f32::NAN; len];
        net.forward_post(batch, hw, &x, &mut got, &mut Workspace::new(), Some(&p))
            .unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{name} {descs:?} [{i}]: fused {g}, unfused {w}"
            );
        }
    }
}

fn desc(
    cin: usize,
    cout: usize,
    groups: usize,
    kernel: [usize; 2],
    dilation: [usize; 2],
) -> ConvDesc {
    let pad = |a: usize| dilation[a] * (kernel[a] - 1) / 2;
    ConvDesc {
        in_channels: cin,
        out_channels: cout,
        groups,
        kernel,
        dilation,
        stride: [1, 1],
        padding: [[pad(0), pad(0)], [pad(1), pad(1)]],
        bias: true,
        activation: Activation::Relu,
    }
}

/// The layer shapes whose last layer runs each driver: (descs, input size).
fn layer_of(
    kind: u8,
    c: (usize, usize),
    k: usize,
    d: usize,
    len: usize,
) -> (Vec<ConvDesc>, [usize; 2]) {
    let (cin, cout) = c;
    let hw2 = [len % 23 + 1, len % 37 + 1];
    match kind % 7 {
        // 2D dense, kernel 1 to 5 (1 × 1: pointwise as one row).
        0 => (vec![desc(cin, cout, 1, [k, k], [d, d])], hw2),
        // 2D dense 3 × 3 after another (Winograd rows, F(2 × 2, 3 × 3), blocked input).
        1 => (
            vec![
                desc(cin, cin.max(2), 1, [3, 3], [1, 1]),
                desc(cin.max(2), cout, 1, [3, 3], [d, d]),
            ],
            hw2,
        ),
        // Depthwise 2D.
        2 => (vec![desc(cin, cin, cin, [k, k], [d, d])], hw2),
        // 1D kernel 3 / 2 at rates dividing 16 (windows) and multiples of 16 (runs).
        3 | 4 => {
            let rate = [1, 2, 4, 8, 16, 32][d % 6];
            let kw = if kind % 7 == 3 { 3 } else { 2 };
            let mut dd = desc(cin, cout, 1, [1, kw], [1, rate]);
            dd.padding = [[0, 0], [rate * (kw - 1), 0]];
            (vec![dd], [1, len * 3 + 1])
        }
        // Strided 2D (the stem's tile).
        5 => {
            let mut dd = desc(cin, cout, 1, [3, 3], [d, d]);
            dd.stride = [2, 2];
            (vec![dd], [hw2[0] + 8, hw2[1] + 8])
        }
        // Grouped, then depthwise 1D.
        _ => {
            let g = if cin % 2 == 0 && cout % 2 == 0 { 2 } else { 1 };
            (
                vec![
                    desc(cin, cout, g, [1, 3], [1, d]),
                    desc(cout, cout, cout, [1, 3], [1, d]),
                ],
                [1, len * 2 + 3],
            )
        }
    }
}

/// Pads `desc` so the kernel fits the input.
fn fit(descs: Vec<ConvDesc>, hw: [usize; 2]) -> Vec<ConvDesc> {
    let mut size = hw;
    descs
        .into_iter()
        .map(|mut desc| {
            for (axis, len) in size.into_iter().enumerate() {
                let eff = desc.dilation[axis] * (desc.kernel[axis] - 1) + 1;
                let padded = len + desc.padding[axis][0] + desc.padding[axis][1];
                if padded < eff {
                    desc.padding[axis][1] += eff - padded;
                }
            }
            size = desc.output_size(size).unwrap();
            desc
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// The fused post-op is the unfused one, bit for bit, on every driver and family.
    #[test]
    fn fused_post_ops_equal_the_separate_pass(
        kind in 0..7u8,
        c in (1..40usize, 1..40usize),
        k in 1..6usize,
        d in 1..5usize,
        len in 1..120usize,
        batch in 1..3usize,
        post in (0..3u8, any::<bool>(), 0..7usize),
        seed in any::<u64>(),
    ) {
        let (descs, hw) = layer_of(kind, c, k, d, len);
        check(&fit(descs, hw), batch, hw, post, seed);
    }
}

/// Wide layers: F(2 × 2, 3 × 3) from the one-port bound, the blocked tiles' wide passes.
#[test]
fn fused_post_ops_equal_the_separate_pass_on_wide_layers() {
    for (descs, hw) in [
        (vec![desc(128, 40, 1, [3, 3], [2, 2])], [13, 21]),
        (vec![desc(130, 33, 1, [1, 1], [1, 1])], [9, 17]),
        (
            vec![
                desc(64, 64, 1, [3, 3], [1, 1]),
                desc(64, 48, 1, [3, 3], [3, 3]),
            ],
            [17, 12],
        ),
    ] {
        check(&fit(descs, hw), 2, hw, (2, true, 3), 7);
    }
}

#[test]
fn post_ops_of_the_wrong_length_are_refused() {
    let net = Network::new(stack(&[desc(2, 3, 1, [3, 3], [1, 1])], 1)).unwrap();
    let x = values(2 * 16, 1);
    let mut out = vec![0.0; 3 * 16];
    let short = vec![0.0; 3 * 16 - 1];
    let two = [0.5, 0.5];
    for (p, what) in [
        (
            Post {
                prelu: None,
                residual: Some(&short),
                act: Activation::Identity,
            },
            "residual",
        ),
        (
            Post {
                prelu: Some(&two),
                residual: None,
                act: Activation::Identity,
            },
            "PReLU slopes",
        ),
    ] {
        let e = net.forward_post(1, [4, 4], &x, &mut out, &mut Workspace::new(), Some(&p));
        assert!(
            matches!(e, Err(Error::Length { what: w, .. }) if w == what),
            "{e:?}"
        );
    }
}

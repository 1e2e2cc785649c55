//! The engine's API contract: typed errors on bad input (never a panic), kernel and
//! thread selection, determinism across thread counts, and the documented memory bound.

use dilated_core::Error;
use dilated_core::conv::Conv;
use dilated_core::conv::{Activation, ConvDesc};
use dilated_core::engine::{Kernel, Network, Workspace};

fn ramp(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
        .collect()
}

fn layer(desc: ConvDesc) -> Conv {
    let w = ramp(desc.weight_len().unwrap());
    let b = desc.bias.then(|| ramp(desc.out_channels));
    Conv::new(desc, w, b).unwrap()
}

fn fast_kernels() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                eprintln!("skipping the {k} kernels: this CPU lacks their features");
            }
            ok
        })
        .collect()
}

#[test]
fn bad_layers_and_stacks_are_typed_errors() {
    let d = ConvDesc::same_2d(4, 8, 3, 2);
    assert!(matches!(
        Conv::new(d, vec![0.0; 5], Some(vec![0.0; 8])),
        Err(Error::Length { what: "weight", .. })
    ));
    assert!(matches!(
        Conv::new(d, vec![0.0; d.weight_len().unwrap()], None),
        Err(Error::Length { what: "bias", .. })
    ));
    let bad_groups = ConvDesc { groups: 3, ..d };
    assert!(matches!(
        Conv::new(bad_groups, vec![], Some(vec![0.0; 8])),
        Err(Error::Groups { .. })
    ));
    assert!(matches!(Network::new(vec![]), Err(Error::Zero { .. })));
    let a = layer(d);
    let b = layer(ConvDesc::same_2d(5, 8, 3, 1));
    assert!(matches!(
        Network::new(vec![a, b]),
        Err(Error::Chain { layer: 1, .. })
    ));
}

#[test]
fn bad_calls_are_typed_errors_on_every_kernel() {
    let net = Network::new(vec![layer(ConvDesc::same_2d(3, 5, 3, 4))]).unwrap();
    for kernel in [Kernel::Reference].into_iter().chain(fast_kernels()) {
        let net = net.clone().with_kernel(kernel).unwrap();
        let mut ws = Workspace::new();
        let x = ramp(3 * 6 * 7);
        let mut y = vec![0.0; 5 * 6 * 7];
        assert_eq!(
            net.forward_into(1, [6, 7], &x, &mut y, &mut ws).unwrap(),
            [6, 7]
        );
        // Wrong input length, wrong output length, zero batch, zero size.
        assert!(matches!(
            net.forward_into(1, [6, 7], &x[1..], &mut y, &mut ws),
            Err(Error::Length { what: "input", .. })
        ));
        assert!(matches!(
            net.forward_into(1, [6, 7], &x, &mut y[1..], &mut ws),
            Err(Error::Length { what: "output", .. })
        ));
        assert!(matches!(
            net.forward_into(0, [6, 7], &[], &mut [], &mut ws),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            net.forward(1, [0, 7], &[]),
            Err(Error::Zero { .. })
        ));
        // A kernel (span 9) wider than the padded input (1 + 8 = 9 fits; 0 padding does not).
        let tight = ConvDesc {
            padding: [[0, 0], [0, 0]],
            ..ConvDesc::same_2d(3, 5, 3, 4)
        };
        let tight = Network::new(vec![layer(tight)])
            .unwrap()
            .with_kernel(kernel)
            .unwrap();
        assert!(matches!(
            tight.forward(1, [8, 9], &ramp(3 * 8 * 9)),
            Err(Error::KernelTooLarge { axis: 0, .. })
        ));
        // Sizes whose product overflows.
        assert!(matches!(
            net.forward(usize::MAX, [usize::MAX, 2], &[]),
            Err(Error::Overflow { .. })
        ));
    }
}

#[test]
fn kernel_and_threads_are_selectable() {
    let net = Network::new(vec![layer(ConvDesc::same_2d(2, 2, 3, 1))]).unwrap();
    assert!(net.kernel().is_available());
    assert_eq!(net.kernel(), Kernel::selected());
    for k in Kernel::ALL {
        match net.clone().with_kernel(k) {
            Ok(n) => assert_eq!(n.kernel(), k),
            Err(e) => {
                assert!(!k.is_available());
                assert_eq!(e, Error::KernelUnavailable { kernel: k });
            }
        }
    }
    assert_eq!(net.clone().with_threads(1).unwrap().threads(), 1);
    assert_eq!(net.clone().with_threads(3).unwrap().threads(), 3);
    assert!(net.clone().with_threads(0).unwrap().threads() >= 1);
    // Configuration does not change what the network is.
    assert_eq!(net.clone().with_threads(2).unwrap(), net);
}

/// Every output element is computed by the same sequence of operations whatever the thread
/// count, so results are bit-identical.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut d1 = ConvDesc::same_2d(19, 40, 3, 2);
    d1.activation = Activation::Gelu;
    let d2 = ConvDesc {
        groups: 40,
        ..ConvDesc::same_2d(40, 40, 3, 3)
    };
    let d3 = ConvDesc::causal_1d(40, 7, 3, 5);
    let two_d = vec![layer(d1), layer(d2)];
    let one_d = vec![layer(ConvDesc::causal_1d(19, 40, 3, 1)), layer(d3)];
    for kernel in fast_kernels() {
        for (layers, hw) in [(&two_d, [23, 37]), (&one_d, [1, 999])] {
            let x = ramp(2 * 19 * hw[0] * hw[1]);
            let outs: Vec<Vec<u32>> = [1, 2, 3]
                .into_iter()
                .map(|t| {
                    let net = Network::new(layers.clone())
                        .unwrap()
                        .with_kernel(kernel)
                        .unwrap()
                        .with_threads(t)
                        .unwrap();
                    let (y, _) = net.forward(2, hw, &x).unwrap();
                    y.iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            assert_eq!(outs[0], outs[1], "{kernel}");
            assert_eq!(outs[0], outs[2], "{kernel}");
        }
    }
}

/// A ReLU stack's outputs are never negative and the HDC stack runs end to end on a
/// realistic size with every kernel family, agreeing with the reference.
#[test]
fn hdc_stack_runs_on_every_kernel() {
    let layers: Vec<Conv> = [1, 2, 5]
        .into_iter()
        .map(|d| {
            let mut desc = ConvDesc::same_2d(8, 8, 3, d);
            desc.activation = Activation::Relu;
            layer(desc)
        })
        .collect();
    let x = ramp(8 * 32 * 32);
    let reference = Network::new(layers.clone())
        .unwrap()
        .with_kernel(Kernel::Reference)
        .unwrap();
    let (want, _) = reference.forward(1, [32, 32], &x).unwrap();
    for kernel in fast_kernels() {
        let net = Network::new(layers.clone())
            .unwrap()
            .with_kernel(kernel)
            .unwrap();
        let (got, hw) = net.forward(1, [32, 32], &x).unwrap();
        assert_eq!(hw, [32, 32]);
        assert!(got.iter().all(|&v| v >= 0.0));
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4 * scale, "{kernel}: {g} vs {w}");
        }
    }
}

/// A layer takes the caller's weight and bias vectors as they are (no copy: a large model
/// never holds its weights twice while it loads), and its clones share them.
#[test]
fn layers_keep_the_callers_weights_without_copying() {
    let d = ConvDesc::same_2d(3, 4, 3, 2);
    let w = vec![0.5; d.weight_len().unwrap()];
    let b = vec![0.25; 4];
    let (wp, bp) = (w.as_ptr(), b.as_ptr());
    let l = Conv::new(d, w, Some(b)).unwrap();
    assert_eq!(l.weight().as_ptr(), wp);
    assert_eq!(l.bias().unwrap().as_ptr(), bp);
    let copy = l.clone();
    assert_eq!(copy.weight().as_ptr(), wp);
}

//! Residual adds inside the conv: a two-input add that takes over a conv's output runs
//! inside that conv's engine call (the residual added and the add's activation applied in
//! a pass after the chain's last layer, on the network's threads). Which adds fuse (WaveNet's and the TCN's
//! residual adds, ResNet's, ESPNet's hierarchical adds inside a concat; not an add whose
//! other input is computed after the conv, nor a sum of three), and that the fused plan
//! computes what the unfused one computes, bit for bit: every family, one and two threads,
//! batch 1 and 3, NaN and infinities in the input.

use dilated_core::conv::Rank;
use dilated_core::engine::Kernel;
use dilated_core::model::{Model, ModelBuilder, ModelGraph, ValueId, WeightNorm};
use dilated_core::{Activation, ConvDesc};

fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            match i % 97 {
                13 => f32::NAN,
                41 => f32::INFINITY,
                77 => f32::NEG_INFINITY,
                _ => ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0,
            }
        })
        .collect()
}

/// How many adds the plan runs inside a conv.
fn fused_adds(graph: &ModelGraph) -> usize {
    graph.fused_ops().1 - graph.without_fused_adds().fused_ops().1
}

/// The fused model against the unfused one with the same weights, bit for bit.
fn check(graph: &ModelGraph, hw: [usize; 2], what: &str) {
    let weights = graph.init(11).unwrap().to_weights().unwrap();
    let unfused_graph = graph.without_fused_adds();
    for kernel in Kernel::ALL.into_iter().filter(|k| k.is_available()) {
        for threads in [1, 2] {
            let model = |g: &ModelGraph| -> Model {
                g.from_weights(weights.clone())
                    .unwrap()
                    .with_kernel(kernel)
                    .unwrap()
                    .with_threads(threads)
                    .unwrap()
            };
            let (fused, unfused) = (model(graph), model(&unfused_graph));
            for batch in [1, 3] {
                let x = signal(batch * graph.in_channels() * hw[0] * hw[1], batch as u64);
                let got = fused.forward_nchw_sized(batch, hw, &x).unwrap().0;
                let want = unfused.forward_nchw_sized(batch, hw, &x).unwrap().0;
                assert_eq!(got.len(), want.len());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "{what}, {kernel}, {threads} threads, batch {batch} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }
}

fn conv(b: &mut ModelBuilder, x: ValueId, name: &str, desc: ConvDesc) -> ValueId {
    b.conv(x, name, desc, WeightNorm::None).unwrap()
}

/// WaveNet's gated residual blocks: `h + conv1x1(gate(conv(h)))`, the skips summed.
#[test]
fn wavenet_residual_adds_run_in_their_residual_convs() {
    let mut b = ModelBuilder::new(Rank::One, 3);
    let x = b.input();
    let mut h = conv(&mut b, x, "in", ConvDesc::causal_1d(3, 8, 2, 1));
    let mut skips = Vec::new();
    for (i, rate) in [1, 2, 4, 8, 16].into_iter().enumerate() {
        let z = conv(
            &mut b,
            h,
            &format!("{i}.d"),
            ConvDesc::causal_1d(8, 16, 2, rate),
        );
        let g = b.gate(z).unwrap();
        let r = conv(
            &mut b,
            g,
            &format!("{i}.r"),
            ConvDesc::causal_1d(8, 8, 1, 1),
        );
        skips.push(conv(
            &mut b,
            g,
            &format!("{i}.s"),
            ConvDesc::causal_1d(8, 8, 1, 1),
        ));
        h = b.add(&[h, r], Activation::Identity).unwrap();
    }
    let s = b.add(&skips, Activation::Relu).unwrap();
    let y = b.add(&[s, h], Activation::Tanh).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    // Five residual adds, and the last add inside the skip sum (the skip convs merged into
    // one conv, which runs after `h` is complete).
    assert_eq!(fused_adds(&graph), 6);
    check(&graph, [1, 300], "wavenet");
}

/// The TCN's temporal blocks: `relu(x + relu(conv(relu(conv(x)))))`, the second block's
/// shortcut a 1 × 1 conv.
#[test]
fn tcn_blocks_add_their_shortcut_in_the_second_conv() {
    let mut b = ModelBuilder::new(Rank::One, 4);
    let mut x = b.input();
    for (i, (cin, cout, rate)) in [(4, 4, 1), (4, 12, 2), (12, 12, 4)].into_iter().enumerate() {
        let mut d1 = ConvDesc::causal_1d(cin, cout, 3, rate);
        d1.activation = Activation::Relu;
        let mut d2 = ConvDesc::causal_1d(cout, cout, 3, rate);
        d2.activation = Activation::Relu;
        let h = conv(&mut b, x, &format!("{i}.c1"), d1);
        let h = conv(&mut b, h, &format!("{i}.c2"), d2);
        let short = if cin == cout {
            x
        } else {
            conv(
                &mut b,
                x,
                &format!("{i}.down"),
                ConvDesc::causal_1d(cin, cout, 1, 1),
            )
        };
        x = b.add(&[h, short], Activation::Relu).unwrap();
    }
    b.output(x).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(fused_adds(&graph), 3);
    check(&graph, [1, 500], "tcn");
}

/// ResNet's basic block on 2D maps: conv–BN–ReLU–conv–BN, plus the input, ReLU; then a
/// block whose shortcut is a 1 × 1 conv and BN.
#[test]
fn resnet_blocks_add_in_the_second_conv() {
    let mut b = ModelBuilder::new(Rank::Two, 6);
    let x = b.input();
    let h = conv(&mut b, x, "a1", ConvDesc::same_2d(6, 6, 3, 2));
    let h = b.batch_norm(h, "b1", 1e-5).unwrap();
    let h = b.activation(h, Activation::Relu).unwrap();
    let h = conv(&mut b, h, "a2", ConvDesc::same_2d(6, 6, 3, 2));
    let h = b.batch_norm(h, "b2", 1e-5).unwrap();
    let x = b.add(&[h, x], Activation::Relu).unwrap();
    let h = conv(&mut b, x, "c1", ConvDesc::same_2d(6, 20, 3, 1));
    let h = conv(&mut b, h, "c2", ConvDesc::same_2d(20, 20, 3, 4));
    let s = conv(&mut b, x, "down", ConvDesc::same_2d(6, 20, 1, 1));
    let s = b.batch_norm(s, "bs", 1e-5).unwrap();
    let y = b.add(&[h, s], Activation::Silu).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(fused_adds(&graph), 2);
    check(&graph, [19, 23], "resnet");
}

/// ESPNet's hierarchical adds write into slices of the concat (one engine call per batch
/// item there), then the residual add, BN and PReLU.
#[test]
fn hierarchical_adds_fuse_inside_concat_slices() {
    let mut b = ModelBuilder::new(Rank::Two, 8);
    let x = b.input();
    let d: Vec<ValueId> = [1, 2, 4, 8]
        .iter()
        .map(|&r| conv(&mut b, x, &format!("d{r}"), ConvDesc::same_2d(8, 2, 3, r)))
        .collect();
    let a2 = b.add(&[d[1], d[2]], Activation::Identity).unwrap();
    let a3 = b.add(&[a2, d[3]], Activation::Identity).unwrap();
    let cat = b.concat(&[d[0], d[1], a2, a3]).unwrap();
    let y = b.add(&[x, cat], Activation::Identity).unwrap();
    let y = b.batch_norm(y, "bn", 1e-5).unwrap();
    let y = b.prelu(y, "act", 8).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(fused_adds(&graph), 2);
    check(&graph, [17, 20], "esp");
}

/// An add whose other input is computed after the conv, and a sum of three, stay steps.
#[test]
fn adds_that_cannot_wait_for_their_conv_stay_steps() {
    let mut b = ModelBuilder::new(Rank::Two, 5);
    let x = b.input();
    let c = conv(&mut b, x, "c", ConvDesc::same_2d(5, 5, 3, 2));
    let r = b.activation(x, Activation::Gelu).unwrap();
    let y = b.add(&[c, r], Activation::Relu).unwrap();
    let e = conv(&mut b, y, "e", ConvDesc::same_2d(5, 5, 3, 1));
    let z = b.add(&[e, y, x], Activation::Identity).unwrap();
    b.output(z).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(fused_adds(&graph), 0);
    check(&graph, [12, 9], "unfusable");
}

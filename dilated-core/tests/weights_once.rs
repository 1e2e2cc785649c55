//! A typed stack (the struct `dilated_stack!` expands to: typed layers plus the stack that
//! runs them) holds its raw weights once and its packed weights once, in the stack's
//! network. A counting global allocator measures the bytes a construction leaves allocated.
//!
//! The counter is per thread (construction runs on the calling thread), so the tests of
//! this file may run in parallel.

use dilated_core::conv::Conv;

use dilated_core::conv::Rank;
use dilated_core::engine::{Kernel, Network};
use dilated_core::stack::{Conv2d, ModuleSpec, Pad2d, Stack, TypedStack};
use dilated_core::tensor::Tensor2d;
use dilated_core::{Activation, ConvDesc, Error};

mod support;
use support::counting::{peak_during, retained};

/// Fixed overhead allowed on top of the weights: descriptors, the layer and plan lists,
/// module indices, `Arc` headers, pass tables.
const SLACK: usize = 8 * 1024;

/// Parameters (weights and biases) of `specs`.
fn params(specs: &[ModuleSpec]) -> usize {
    specs
        .iter()
        .map(|s| s.desc.weight_len().unwrap() + if s.desc.bias { s.desc.out_channels } else { 0 })
        .sum()
}

/// Bytes of the packed weights of one layer as the engine documents them: the weights
/// with output channels rounded up to 16, plus biases padded to 16 (dense layers with one
/// group and depthwise layers only; grouped layers add zeros where blocks straddle groups).
fn packed_bytes(d: &ConvDesc) -> usize {
    let cout16 = d.out_channels.div_ceil(16) * 16;
    assert!(
        d.groups == 1 || (d.groups == d.in_channels && d.groups == d.out_channels),
        "the estimate covers dense and depthwise layers"
    );
    4 * (cout16 * d.in_per_group() * d.kernel[0] * d.kernel[1] + cout16)
}

/// Bytes of a layer's Winograd filters when it runs Winograd: four transformed filters
/// per (output channel rounded up to 16, input channel, tap across), as `engine::wino`
/// packs them.
fn wino_bytes(d: &ConvDesc) -> usize {
    let across = if d.kernel[0] == 3 { d.kernel[1] } else { 1 };
    4 * 4 * d.out_channels.div_ceil(16) * 16 * d.in_per_group() * across
}

/// Bytes of a layer's Winograd F(2 × 2, 3 × 3) filters when it holds them: 16
/// transformed filters per (output channel rounded up to 16, input channel).
fn wino_2d_bytes(d: &ConvDesc) -> usize {
    4 * 16 * d.out_channels.div_ceil(16) * 16 * d.in_per_group()
}

/// `4·P` raw + packed + slack: the weights once, packed once (twice for the layers of
/// `net` that hold Winograd filters: direct and transformed).
fn bound(specs: &[ModuleSpec], net: &Network) -> usize {
    let packed: usize = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            packed_bytes(&s.desc)
                + if net.runs_winograd(i) {
                    wino_bytes(&s.desc)
                } else {
                    0
                }
                + if net.holds_winograd_2d(i) {
                    wino_2d_bytes(&s.desc)
                } else {
                    0
                }
        })
        .sum();
    4 * params(specs) + packed + SLACK
}

type L0 = Conv2d<16, 64, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>;
type L1 = Conv2d<64, 64, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
type L2 = Conv2d<64, 64, 3, 3, 5, 5, 1, 1, 1, Pad2d<5, 5, 5, 5>>;
type L3 = Conv2d<64, 64, 3, 3, 1, 1, 1, 1, 64, Pad2d<1, 1, 1, 1>>;
type L4 = Conv2d<64, 8, 1, 1, 1, 1, 1, 1, 1, Pad2d<0, 0, 0, 0>>;

const LAYERS: [ModuleSpec; 5] = [
    ModuleSpec::new(0, Rank::Two, L0::descriptor(true, Activation::Relu)),
    ModuleSpec::new(2, Rank::Two, L1::descriptor(true, Activation::Relu)),
    ModuleSpec::new(4, Rank::Two, L2::descriptor(false, Activation::Relu)),
    ModuleSpec::new(6, Rank::Two, L3::descriptor(true, Activation::Gelu)),
    ModuleSpec::new(8, Rank::Two, L4::descriptor(true, Activation::Identity)),
];

type In = Tensor2d<16, 20, 18>;
type Out = Tensor2d<8, 20, 18>;

/// What `dilated_stack!` expands to: the typed layers and the typed stack that runs them.
#[derive(Debug, Clone)]
struct Generated {
    conv0: L0,
    conv1: L1,
    conv2: L2,
    conv3: L3,
    conv4: L4,
    stack: TypedStack<In, Out>,
}

impl Generated {
    fn from_stack(stack: Stack) -> Result<Self, Error> {
        let stack = TypedStack::new(stack)?;
        Ok(Self {
            conv0: stack.layer(0)?,
            conv1: stack.layer(1)?,
            conv2: stack.layer(2)?,
            conv3: stack.layer(3)?,
            conv4: stack.layer(4)?,
            stack,
        })
    }
}

fn input() -> In {
    let len = 2 * 16 * 20 * 18;
    let data = (0..len)
        .map(|i| ((i * 29 % 97) as f32 / 48.0) - 1.0)
        .collect();
    In::from_vec(2, [20, 18], data).unwrap()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "element {i}: {a} vs {b}"
        );
    }
}

#[test]
fn a_seeded_stack_holds_its_weights_once_and_packed_once() {
    let p = params(&LAYERS);
    let (net, bytes) = retained(|| Generated::from_stack(Stack::init(&LAYERS, 3).unwrap()));
    let net = net.unwrap();
    let limit = bound(&LAYERS, net.stack.stack().network());
    eprintln!(
        "seeded: P = {p} parameters ({} bytes); the stack holds {bytes} bytes, bound {limit}",
        4 * p
    );
    assert!(
        bytes <= limit,
        "{bytes} bytes held for {p} parameters: more than the weights once ({}) and packed \
         once ({}) plus {SLACK}",
        4 * p,
        limit - 4 * p - SLACK
    );
    // The counter sees the weights: at least the raw copy and the packed one.
    assert!(bytes >= 8 * p, "{bytes} bytes for {p} parameters");
    // The typed layers show the stack's weights, not copies.
    assert!(std::ptr::eq(
        net.conv1.weight(),
        net.stack.stack().layers()[1].weight()
    ));
    assert!(std::ptr::eq(
        net.conv3.weight(),
        net.stack.stack().layers()[3].weight()
    ));
    // A clone (e.g. one per worker) shares the weights and the packed weights.
    let (copy, cloned) = retained(|| net.clone());
    eprintln!("clone: {cloned} bytes");
    assert!(cloned <= SLACK, "cloning the stack kept {cloned} bytes");
    assert!(std::ptr::eq(
        copy.stack.stack().layers()[1].weight(),
        net.stack.stack().layers()[1].weight()
    ));
}

#[test]
fn a_loaded_stack_holds_its_weights_once_and_packed_once_and_saves_the_same_tensors() {
    let bytes_in = Stack::init(&LAYERS, 5)
        .unwrap()
        .to_safetensors_bytes()
        .unwrap();
    let (net, bytes) = retained(|| {
        Generated::from_stack(Stack::from_safetensors_bytes(&LAYERS, &bytes_in).unwrap())
    });
    let net = net.unwrap();
    let limit = bound(&LAYERS, net.stack.stack().network());
    eprintln!("loaded: the stack holds {bytes} bytes, bound {limit}");
    assert!(bytes <= limit, "{bytes} bytes held, bound {limit}");
    assert_eq!(net.stack.to_safetensors_bytes().unwrap(), bytes_in);
}

#[test]
fn a_stack_built_from_typed_layers_shares_their_weights() {
    let (l0, l1, l2, l3, l4) = (
        L0::init(1, true, Activation::Relu).unwrap(),
        L1::init(2, true, Activation::Relu).unwrap(),
        L2::init(3, false, Activation::Relu).unwrap(),
        L3::init(4, true, Activation::Gelu).unwrap(),
        L4::init(5, true, Activation::Identity).unwrap(),
    );
    // The typed layers hold the raw weights and nothing packed.
    let p = params(&LAYERS);
    assert!(
        retained(|| (l0.clone(), l1.clone(), l2.clone(), l3.clone(), l4.clone())).1 < SLACK,
        "cloning typed layers copied their weights"
    );
    let layers: Vec<(usize, Conv)> = [l0.layer(), l1.layer(), l2.layer(), l3.layer(), l4.layer()]
        .into_iter()
        .zip(LAYERS.iter().map(|s| s.module))
        .map(|(l, m)| (m, l.clone()))
        .collect();
    let (stack, bytes) = retained(|| Stack::new(Rank::Two, layers).unwrap());
    // Only the packed copy is new: the raw weights are the typed layers'.
    let limit = bound(&LAYERS, stack.network()) - 4 * p;
    eprintln!("from typed layers: the stack adds {bytes} bytes, bound {limit}");
    assert!(bytes <= limit, "{bytes} bytes added, bound {limit}");
    assert!(std::ptr::eq(stack.layers()[2].weight(), l2.weight()));
}

#[test]
fn a_typed_layer_runs_on_its_own_packing_on_first_use_and_agrees_with_the_stack() {
    let net = Generated::from_stack(Stack::init(&LAYERS, 9).unwrap()).unwrap();
    let x = input();
    let want = net.stack.forward(&x).unwrap();

    // The first run of a typed layer packs its weights (once), the second packs nothing.
    let (packed, bytes) = retained(|| net.conv1.network().map(|_| ()));
    packed.unwrap();
    let conv1 = net.conv1.network().unwrap();
    let one = packed_bytes(&LAYERS[1].desc)
        + if conv1.runs_winograd(0) {
            wino_bytes(&LAYERS[1].desc)
        } else {
            0
        }
        + if conv1.holds_winograd_2d(0) {
            wino_2d_bytes(&LAYERS[1].desc)
        } else {
            0
        };
    assert!(
        bytes >= one && bytes <= one + SLACK,
        "building conv1's network kept {bytes} bytes, packed weights {one}"
    );
    assert_eq!(retained(|| net.conv1.network().map(|_| ())).1, 0);

    // Layer by layer through the typed layers: the stack's numbers.
    let y0 = net.conv0.forward_dyn(&x).unwrap();
    let y1 = net.conv1.forward_dyn(&y0).unwrap();
    let y2 = net.conv2.forward_dyn(&y1).unwrap();
    let y3 = net.conv3.forward_dyn(&y2).unwrap();
    let y4: Out = net.conv4.forward(&y3).unwrap();
    assert_close(y4.as_slice(), want.as_slice());

    // A clone shares the raw weights and keeps working, configured or not.
    let c = net.conv2.clone().with_threads(1).unwrap();
    assert!(std::ptr::eq(c.weight(), net.conv2.weight()));
    assert_close(c.forward_dyn(&y1).unwrap().as_slice(), y2.as_slice());
    assert_eq!(c.network().unwrap().threads(), 1);
}

#[test]
fn a_typed_layer_configured_for_a_family_packs_its_weights_once() {
    let layer = L1::init(6, true, Activation::Relu).unwrap();
    // The portable family runs this layer on the channel-blocked kernels: one packing.
    let (configured, peak) = peak_during(|| layer.clone().with_kernel(Kernel::Portable));
    let configured = configured.unwrap();
    let one = packed_bytes(&LAYERS[1].desc);
    assert!(
        peak <= one + SLACK,
        "configuring a typed layer for a family held {peak} bytes at once, one packing {one}"
    );
    assert_eq!(configured.network().unwrap().kernel(), Kernel::Portable);
}

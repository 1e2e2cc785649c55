//! A generated stack runs what it declares: the same numbers as the reference convolution
//! applied layer by layer with the stack's own padding and weights; seeded initialisation
//! is reproducible and within PyTorch's Kaiming bound; the typed layers expose the weights,
//! share them with the stack (one copy, packed once: a counting allocator checks) and run
//! on their own.

use dilated::conv::conv_reference;
use dilated::engine::Network;
use dilated::stack::ModuleSpec;
use dilated::tensor::{DYN, Tensor1d, Tensor2d};

#[path = "../dilated-core/tests/support/counting.rs"]
mod counting;
use counting::retained;

dilated::dilated_stack! {
    /// Mixed 1D stack: per-layer padding kinds, groups, bias off, activations.
    struct Probe {
        input: [4, _],
        layers: [
            conv(4 -> 6, kernel: 3, rate: 2, groups: 2), gelu,
            conv(6 -> 6, kernel: 2, rate: 3, padding: causal, groups: depthwise), leaky_relu(0.3),
            conv(6 -> 3, kernel: 4, rate: 1, padding: (2, 1), bias: false), tanh,
            conv(3 -> 2, kernel: 3, rate: 1, stride: 2, padding: valid),
        ],
        check: { holes: allow, hdc: allow },
    }
}

#[test]
fn forward_matches_the_reference_layer_by_layer() -> Result<(), dilated::Error> {
    let net = Probe::new_seeded(11)?;
    let (batch, len) = (2, 23);
    let input: Vec<f32> = (0..batch * 4 * len)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let mut x = input.clone();
    let mut hw = [1, len];
    for layer in net.stack().layers() {
        let desc = layer.desc();
        let out_hw = desc.output_size(hw)?;
        let mut y = vec![0.0; batch * desc.out_channels * out_hw[1]];
        conv_reference(desc, batch, hw, &x, layer.weight(), layer.bias(), &mut y)?;
        x = y;
        hw = out_hw;
    }
    let got = net.forward_nchw(batch, &input)?;
    assert_eq!(got.len(), x.len());
    for (a, b) in got.iter().zip(&x) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
    // The typed path gives the same numbers, and the declared shapes hold.
    let typed = net.forward(&Tensor1d::<4, DYN>::from_vec(batch, len, input)?)?;
    assert_eq!(typed.as_slice(), got.as_slice());
    assert_eq!(typed.len(), hw[1]);
    assert_eq!(Probe::PADDING[0], [[0, 0], [2, 2]]);
    assert_eq!(Probe::PADDING[1], [[0, 0], [3, 0]]);
    assert_eq!(Probe::PADDING[2], [[0, 0], [2, 1]]);
    assert_eq!(Probe::MODULE_INDICES, [0, 2, 4, 6]);
    Ok(())
}

#[test]
fn seeded_init_is_reproducible_and_kaiming_bounded() -> Result<(), dilated::Error> {
    let a = Probe::new_seeded(7)?;
    let b = Probe::new_seeded(7)?;
    let c = Probe::new_seeded(8)?;
    assert_eq!(a.to_safetensors_bytes()?, b.to_safetensors_bytes()?);
    assert_ne!(a.to_safetensors_bytes()?, c.to_safetensors_bytes()?);
    let (l0, l1, l2, l3) = a.layers();
    // fan_in = C_in / groups · K: 2·3, 1·2, 6·4, 3·3.
    for (w, fan_in) in [
        (l0.weight(), 6.0f32),
        (l1.weight(), 2.0),
        (l2.weight(), 24.0),
        (l3.weight(), 9.0),
    ] {
        let bound = 1.0 / fan_in.sqrt();
        assert!(w.iter().all(|v| v.abs() <= bound), "bound {bound}");
        assert!(w.iter().any(|v| v.abs() > bound / 4.0), "not all near zero");
    }
    assert!(l2.bias().is_none());
    assert_eq!(l0.weight().len(), 6 * 2 * 3);
    // Debug and Clone.
    let d = a.clone();
    assert_eq!(d.to_safetensors_bytes()?, a.to_safetensors_bytes()?);
    assert!(format!("{a:?}").contains("Probe"));
    Ok(())
}

#[test]
fn bad_flat_input_is_a_typed_error() -> Result<(), dilated::Error> {
    let net = Probe::new_seeded(0)?;
    assert!(net.forward_nchw(2, &[0.0; 9]).is_err());
    assert!(net.forward_nchw(0, &[]).is_err());
    // Length 1 reaches the last layer (valid, kernel 3) with 1 sample: no output, an error.
    let err = net.forward_nchw(1, &[0.0; 4]).unwrap_err();
    assert!(err.to_string().contains("no output"), "{err}");
    // Length 3 is the shortest that works.
    assert_eq!(net.forward_nchw(1, &[0.0; 12])?.len(), 2);
    Ok(())
}

dilated::dilated_stack! {
    /// `examples/segment.rs`'s HDC network: six 3×3 convolutions with ReLU, a 1×1 head.
    struct SegHdc {
        input: [1, 40, 36],
        layers: [
            conv(1 -> 16, kernel: 3, rate: 1), relu,
            conv(16 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 5), relu,
            conv(16 -> 16, kernel: 3, rate: 1), relu,
            conv(16 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 5), relu,
            conv(16 -> 1, kernel: 1),
        ],
    }
}

/// Overhead allowed on top of the weights: descriptors, lists, `Arc` headers, pass tables.
const SLACK: usize = 8 * 1024;

/// Parameter count and packed bytes (output channels rounded up to 16, biases padded to
/// 16; dense layers with one group, as here) of `specs`; the layers of `net` that run
/// Winograd hold their four transformed filters per tap across too, and those that hold
/// F(2 × 2, 3 × 3) filters their sixteen.
fn sizes(specs: &[ModuleSpec], net: &Network) -> (usize, usize) {
    let mut params = 0;
    let mut packed = 0;
    for (i, s) in specs.iter().enumerate() {
        let d = &s.desc;
        assert_eq!(d.groups, 1, "the estimate covers one-group layers");
        params += d.weight_len().unwrap() + if d.bias { d.out_channels } else { 0 };
        let cout16 = d.out_channels.div_ceil(16) * 16;
        packed += 4 * (cout16 * d.in_channels * d.kernel[0] * d.kernel[1] + cout16);
        if net.runs_winograd(i) {
            let across = if d.kernel[0] == 3 { d.kernel[1] } else { 1 };
            packed += 4 * 4 * cout16 * d.in_channels * across;
        }
        if net.holds_winograd_2d(i) {
            packed += 4 * 16 * cout16 * d.in_channels;
        }
    }
    (params, packed)
}

#[test]
fn a_generated_stack_holds_its_weights_once_and_packed_once() -> Result<(), dilated::Error> {
    let (net, seeded) = retained(|| SegHdc::new_seeded(4));
    let net = net?;
    let (p, packed) = sizes(&SegHdc::LAYERS, net.stack().network());
    let limit = 4 * p + packed + SLACK;
    let bytes = net.to_safetensors_bytes()?;
    let (back, loaded) = retained(|| SegHdc::from_safetensors_bytes(&bytes));
    let back = back?;
    eprintln!(
        "SegHdc: {p} parameters ({} bytes), packed {packed}; held: seeded {seeded}, loaded \
         {loaded}, bound {limit}",
        4 * p
    );
    for held in [seeded, loaded] {
        assert!(
            held <= limit,
            "{held} bytes held: more than the weights once ({}) and packed once ({packed}) \
             plus {SLACK}",
            4 * p
        );
        assert!(
            held >= 4 * p + packed,
            "the counter missed the weights: {held}"
        );
    }
    // Saving writes the same tensors; the typed layers show the stack's weights.
    assert_eq!(back.to_safetensors_bytes()?, bytes);
    let (l0, .., l6) = back.layers();
    assert!(std::ptr::eq(l0.weight(), back.stack().layers()[0].weight()));
    assert!(std::ptr::eq(l6.weight(), back.stack().layers()[6].weight()));
    Ok(())
}

#[test]
fn the_typed_layers_of_a_generated_stack_run_on_their_own() -> Result<(), dilated::Error> {
    let net = SegHdc::new_seeded(21)?;
    let data: Vec<f32> = (0..2 * 40 * 36)
        .map(|i| ((i * 13 % 61) as f32 / 30.0) - 1.0)
        .collect();
    let x = Tensor2d::<1, 40, 36>::from_vec(2, [40, 36], data)?;
    let want = net.forward(&x)?;
    let (l0, l1, l2, l3, l4, l5, l6) = net.layers();
    let y = l0.forward_dyn(&x)?;
    let y = l1.forward_dyn(&y)?;
    let y = l2.forward_dyn(&y)?;
    let y = l3.forward_dyn(&y)?;
    let y = l4.forward_dyn(&y)?;
    let y = l5.forward_dyn(&y)?;
    let y: Tensor2d<1, 40, 36> = l6.forward(&y)?;
    assert_eq!(y.as_slice().len(), want.as_slice().len());
    for (a, b) in y.as_slice().iter().zip(want.as_slice()) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // Each layer packed its weights once, on its first run; running again adds nothing.
    assert_eq!(retained(|| l3.network().map(|_| ())).1, 0);
    Ok(())
}

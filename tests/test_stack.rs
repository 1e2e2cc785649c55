//! A generated stack runs what it declares: the same numbers as the reference convolution
//! applied layer by layer with the stack's own padding and weights; seeded initialisation
//! is reproducible and within PyTorch's Kaiming bound; the typed layers expose the weights.

use dilated::conv::conv_reference;
use dilated::tensor::{DYN, Tensor1d};

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

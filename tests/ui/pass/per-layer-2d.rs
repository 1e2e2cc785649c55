//! The per-layer form: per-axis kernels and rates, strides, groups, depthwise, explicit and
//! valid padding, bias off, every activation; module indices follow `nn.Sequential`.
use dilated::tensor::{DYN, Tensor2d};

dilated::dilated_stack! {
    /// Doc comments pass through.
    #[allow(dead_code)]
    struct Mixed {
        input: [4, 20, _],
        layers: [
            conv(4 -> 8, kernel: [3, 1], rate: [2, 1], padding: [2, 0], groups: 2),
            leaky_relu(0.2),
            conv(8 -> 8, kernel: 3, rate: 1, groups: depthwise, bias: false),
            silu,
            conv(8 -> 8, kernel: 3, rate: 3, padding: [(3, 3), 3]),
            tanh,
            conv(8 -> 8, kernel: 3, rate: 1, stride: 2, padding: 1),
            gelu,
            conv(8 -> 6, kernel: [1, 3], rate: [1, 2]),
            conv(6 -> 6, kernel: 3, padding: valid),
            sigmoid,
            conv(6 -> 2, kernel: 1),
            relu,
        ],
        check: { hdc: allow, holes: allow },
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Mixed::MODULE_INDICES, [0, 2, 4, 6, 8, 9, 11]);
    assert_eq!(Mixed::PADDING[0], [[2, 2], [0, 0]]);
    assert_eq!(Mixed::PADDING[4], [[0, 0], [2, 2]]);
    assert_eq!(Mixed::PADDING[5], [[0, 0], [0, 0]]);
    // Height 20 → 20 → 20 → 20 → 10 (stride 2) → 10 → 8 (valid) → 8.
    assert_eq!(Mixed::OUTPUT_SHAPE, [2, 8, 0]);
    let net = Mixed::new_seeded(9)?;
    let x = Tensor2d::<4, 20, DYN>::from_vec(1, [20, 11], vec![0.1; 4 * 20 * 11])?;
    let y: Tensor2d<2, 8, DYN> = net.forward(&x)?;
    // Width 11 → 11 → 11 → 11 → 6 → 6 → 4 → 4.
    assert_eq!(y.hw(), [8, 4]);
    assert!(y.as_slice().iter().all(|&v| v >= 0.0));
    // The weights file has PyTorch's names, biasless conv included.
    let bytes = net.to_safetensors_bytes()?;
    let back = Mixed::from_safetensors_bytes(&bytes)?;
    assert_eq!(back.forward(&x)?.as_slice(), y.as_slice());
    Ok(())
}

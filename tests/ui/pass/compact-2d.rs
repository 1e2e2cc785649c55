//! The compact form of SPEC.md, 2D, with docs, attributes and visibility passing through.
use dilated::tensor::Tensor2d;

mod inner {
    dilated::dilated_stack! {
        /// Wang et al.'s HDC schedule: k = 3, rates 1, 2, 5 cover the receptive field.
        #[allow(clippy::all)]
        pub struct Hdc {
            input: [4, 24, 24],
            kernel: 3,
            rates: [1, 2, 5],
            channels: 6,
            activation: relu,
        }
    }
}
use inner::Hdc;

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Hdc::RECEPTIVE_FIELD, 17);
    assert_eq!(Hdc::RATES, &[1, 2, 5]);
    assert_eq!(
        Hdc::PADDING,
        [[[1, 1], [1, 1]], [[2, 2], [2, 2]], [[5, 5], [5, 5]]]
    );
    assert_eq!(Hdc::MODULE_INDICES, [0, 2, 4]);
    assert_eq!(Hdc::OUTPUT_SHAPE, [6, 24, 24]);
    let net = Hdc::new_seeded(42)?;
    let x = Tensor2d::<4, 24, 24>::from_vec(2, [24, 24], vec![0.25; 2 * 4 * 24 * 24])?;
    let y: Tensor2d<6, 24, 24> = net.forward(&x)?;
    // ReLU after the last conv too.
    assert!(y.as_slice().iter().all(|&v| v >= 0.0));
    assert_eq!(net.forward_nchw(2, x.as_slice())?, y.as_slice());
    // Weights round-trip with PyTorch names.
    let back = Hdc::from_safetensors_bytes(&net.to_safetensors_bytes()?)?;
    assert_eq!(back.forward(&x)?.as_slice(), y.as_slice());
    let _ = format!("{:?}", net.clone());
    Ok(())
}

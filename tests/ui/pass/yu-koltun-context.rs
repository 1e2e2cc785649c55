//! Yu & Koltun's context module (ICLR 2016): k = 3, rates 1, 1, 2, 4, 8, 16, 1. No holes;
//! the repeated 1 is not an HDC rule 2 repeat (rates above 1 only).
dilated::dilated_stack! {
    pub struct Context {
        input: [21, 96, 96],
        kernel: 3,
        rates: [1, 1, 2, 4, 8, 16, 1],
        activation: relu,
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Context::RECEPTIVE_FIELD, 67);
    assert_eq!(Context::RECEPTIVE_FIELD_HW, [67, 67]);
    assert_eq!(Context::OUTPUT_SHAPE, [21, 96, 96]);
    assert_eq!(Context::PADDING[5], [[16, 16], [16, 16]]);
    let net = Context::new_seeded(0)?;
    let y = net.forward_nchw(1, &vec![1.0; 21 * 96 * 96])?;
    assert_eq!(y.len(), 21 * 96 * 96);
    Ok(())
}

//! The compact form in 1D with a length known only at run time (`_`).
use dilated::tensor::{DYN, Tensor1d};

dilated::dilated_stack! {
    pub(crate) struct Seq {
        input: [3, _],
        kernel: 3,
        rates: [1, 2, 5],
        channels: 5,
        activation: gelu,
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Seq::RECEPTIVE_FIELD, 17);
    assert_eq!(Seq::INPUT_SHAPE, [3, 1, 0]);
    assert_eq!(Seq::OUTPUT_SHAPE, [5, 1, 0]);
    assert_eq!(Seq::PADDING[2], [[0, 0], [5, 5]]);
    let net = Seq::new_seeded(1)?;
    for len in [1, 7, 40] {
        let x = Tensor1d::<3, DYN>::from_vec(2, len, vec![0.5; 2 * 3 * len])?;
        let y: Tensor1d<5, DYN> = net.forward(&x)?;
        assert_eq!(y.len(), len);
        assert_eq!(net.forward_nchw(2, x.as_slice())?, y.as_slice());
    }
    // A flat input that is not a whole number of items is a typed error.
    assert!(net.forward_nchw(2, &[0.0; 7]).is_err());
    Ok(())
}

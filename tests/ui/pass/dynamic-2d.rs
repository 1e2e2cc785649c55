//! Height and width both known only at run time: the typed `forward` takes any size;
//! `forward_nchw` cannot tell height from width and says so; `forward_nchw_sized` can.
use dilated::tensor::{DYN, Tensor2d};

dilated::dilated_stack! {
    pub struct AnySize {
        input: [2, _, _],
        kernel: [3, 5],
        rates: [1, 2, 3],
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(AnySize::RECEPTIVE_FIELD_HW, [13, 25]);
    assert_eq!(AnySize::RECEPTIVE_FIELD, 25);
    let net = AnySize::new_seeded(2)?;
    let x = Tensor2d::<2, DYN, DYN>::from_vec(1, [5, 9], vec![1.0; 2 * 5 * 9])?;
    let y: Tensor2d<2, DYN, DYN> = net.forward(&x)?;
    assert_eq!(y.hw(), [5, 9]);
    assert!(matches!(
        net.forward_nchw(1, x.as_slice()),
        Err(dilated::Error::UnknownSize { .. })
    ));
    let (flat, hw) = net.forward_nchw_sized(1, [5, 9], x.as_slice())?;
    assert_eq!((flat.as_slice(), hw), (y.as_slice(), [5, 9]));
    Ok(())
}

// The typed `forward` carries channels and declared sizes: a wrong tensor is a type error.
use dilated::tensor::Tensor2d;

dilated::dilated_stack! {
    struct Hdc {
        input: [4, 32, 32],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() -> Result<(), dilated::Error> {
    let net = Hdc::new_seeded(0)?;
    let x = Tensor2d::<3, 32, 32>::zeros(1, [32, 32])?;
    let _ = net.forward(&x)?;
    Ok(())
}

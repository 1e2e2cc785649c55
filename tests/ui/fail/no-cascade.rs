// A stack with an error still declares its type (a stub), so code that uses it reports
// nothing more than the macro's own error.
dilated::dilated_stack! {
    pub struct Broken {
        input: [4, 32],
        kernel: 3,
        rates: [2, 4, 8],
    }
}

fn main() -> Result<(), dilated::Error> {
    let net = Broken::new_seeded(0)?;
    let y = net.forward_nchw(1, &[0.0; 128])?;
    let _ = (y.len(), Broken::RECEPTIVE_FIELD, Broken::from_safetensors("w.safetensors"));
    Ok(())
}

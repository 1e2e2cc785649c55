//! HDC's sawtooth [1, 2, 5, 1, 2, 5]: rule 1 holds per rising group, no holes.
dilated::dilated_stack! {
    struct Sawtooth {
        input: [2, 48, 48],
        kernel: 3,
        rates: [1, 2, 5, 1, 2, 5],
        check: { hdc: strict },
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Sawtooth::RECEPTIVE_FIELD, 33);
    let net = Sawtooth::new_seeded(5)?;
    assert_eq!(
        net.forward_nchw(3, &vec![0.5; 3 * 2 * 48 * 48])?.len(),
        3 * 2 * 48 * 48
    );
    Ok(())
}

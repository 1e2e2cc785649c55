//! Gridding on purpose: `check: { gridding: allow, hdc3: allow }` accepts [2, 4, 8].
dilated::dilated_stack! {
    struct Sparse {
        input: [1, 64],
        kernel: 3,
        rates: [2, 4, 8],
        check: { gridding: allow, hdc3: allow },
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(Sparse::RECEPTIVE_FIELD, 29);
    assert_eq!(
        Sparse::new_seeded(0)?.forward_nchw(1, &[1.0; 64])?.len(),
        64
    );
    Ok(())
}

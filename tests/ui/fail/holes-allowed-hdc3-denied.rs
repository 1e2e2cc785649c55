// Allowing holes does not allow HDC rule 3: each check has its own level.
dilated::dilated_stack! {
    struct Half {
        input: [8, 64],
        kernel: 3,
        rates: [2, 4, 8],
        check: { gridding: allow },
    }
}

fn main() {}

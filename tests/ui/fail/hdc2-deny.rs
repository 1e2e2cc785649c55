// k = 3, rates [1, 2, 2]: no holes, but rate 2 repeats (HDC rule 2), set to deny.
dilated::dilated_stack! {
    struct Repeat {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 2],
        check: { hdc2: deny },
    }
}

fn main() {}

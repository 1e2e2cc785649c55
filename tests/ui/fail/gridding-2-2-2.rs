// k = 3, rates [2, 2, 2]: equal rates, holes, common factor 2 (and HDC rule 2 warned).
dilated::dilated_stack! {
    struct Same {
        input: [8, 32, 32],
        kernel: 3,
        rates: [2, 2, 2],
    }
}

fn main() {}

// k = 3, rates [1, 2, 9]: the third layer jumps past what the first two cover.
dilated::dilated_stack! {
    struct Holes {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 9],
    }
}

fn main() {}

// The channel count must be a number.
dilated::dilated_stack! {
    struct Dyn {
        input: [_, 32, 32],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

// Several errors in one stack, all reported at once, each on its token.
dilated::dilated_stack! {
    struct Many {
        input: [8, 64],
        kernel: 0,
        rates: [1, 0, 4294967296],
        activation: rleu,
        channel: 8,
    }
}

fn main() {}

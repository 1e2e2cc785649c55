// Layer 2 takes 16 channels but layer 1 gives 32.
dilated::dilated_stack! {
    struct Chain {
        input: [16, _],
        layers: [
            conv(16 -> 32, kernel: 3, rate: 1),
            relu,
            conv(16 -> 16, kernel: 3, rate: 2),
        ],
    }
}

fn main() {}

// The concat gives 4 + 8 = 12 channels; the conv after it takes 8.
dilated::dilated_stack! {
    struct S {
        input: [4, 32, 32],
        layers: [
            parallel {
                branches: [[conv(4 -> 4, kernel: 1)], [conv(4 -> 8, kernel: 3, rate: 2)]],
                join: concat,
            },
            conv(8 -> 4, kernel: 1),
        ],
    }
}

fn main() {}

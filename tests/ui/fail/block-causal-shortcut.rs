// A causal body beside a shortcut that reads ahead.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [
            residual {
                body: [conv(4 -> 4, kernel: 2, rate: 2, padding: causal)],
                shortcut: [conv(4 -> 4, kernel: 3)],
            },
        ],
    }
}

fn main() {}

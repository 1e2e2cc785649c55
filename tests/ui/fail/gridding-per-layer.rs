// Per-layer form: the error points at the rate of the layer that opens the first hole.
dilated::dilated_stack! {
    struct Tcn {
        input: [4, _],
        layers: [
            conv(4 -> 4, kernel: 3, rate: 1),
            relu,
            conv(4 -> 4, kernel: 3, rate: 2),
            relu,
            conv(4 -> 4, kernel: 3, rate: 9),
        ],
    }
}

fn main() {}

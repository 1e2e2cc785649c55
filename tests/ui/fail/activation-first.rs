// A stack that starts with an activation, and two activations in a row.
dilated::dilated_stack! {
    struct Order {
        input: [8, 64],
        layers: [relu, conv(8 -> 8, kernel: 3), relu, gelu],
    }
}

fn main() {}

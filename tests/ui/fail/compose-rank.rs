// A 1D stack (`input: Wave[_, _]`) declared on a 2D one.
dilated::dilated_stack! {
    struct Backbone {
        input: [3, 32, 32],
        layers: [conv(3 -> 8, kernel: 3), relu],
    }
}

dilated::dilated_stack! {
    struct Head {
        input: Backbone[_, _],
        layers: [conv(8 -> 8, kernel: 2, padding: causal)],
    }
}

fn main() {}

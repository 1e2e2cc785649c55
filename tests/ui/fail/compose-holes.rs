// On the backbone's features (11 px seen, 4 px apart) the head's lattice at rate 6 still
// leaves holes: its taps are 24 px apart.
dilated::dilated_stack! {
    struct Backbone {
        input: [3, 32, 32],
        layers: [
            conv(3 -> 8, kernel: 3, stride: 2, padding: 1),
            conv(8 -> 8, kernel: 3, stride: 2, padding: 1),
            conv(8 -> 8, kernel: 2, padding: valid),
        ],
    }
}

dilated::dilated_stack! {
    struct Head {
        input: Backbone,
        layers: [
            parallel {
                branches: [[conv(8 -> 4, kernel: 1)], [conv(8 -> 4, kernel: 3, rate: 6)]],
                join: concat,
            },
        ],
    }
}

fn main() {}

// The head's first conv takes 16 channels; the backbone gives 8.
dilated::dilated_stack! {
    struct Backbone {
        input: [3, 32, 32],
        layers: [conv(3 -> 8, kernel: 3, stride: 2, padding: 1), relu],
    }
}

dilated::dilated_stack! {
    struct Head {
        input: Backbone,
        layers: [conv(16 -> 4, kernel: 1)],
    }
}

fn main() {}

// Causal padding is for 1D stacks.
dilated::dilated_stack! {
    struct Causal {
        input: [8, 32, 32],
        layers: [conv(8 -> 8, kernel: 3, padding: causal)],
    }
}

fn main() {}

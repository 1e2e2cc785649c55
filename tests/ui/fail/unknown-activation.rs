// A misspelt activation.
dilated::dilated_stack! {
    struct Act {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 5],
        activation: rleu,
    }
}

fn main() {}

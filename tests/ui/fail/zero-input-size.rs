// An input size of 0.
dilated::dilated_stack! {
    struct Zero {
        input: [8, 0, 32],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

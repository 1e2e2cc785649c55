// A rate of 0.
dilated::dilated_stack! {
    struct Zero {
        input: [8, 64],
        kernel: 3,
        rates: [1, 0, 2],
    }
}

fn main() {}

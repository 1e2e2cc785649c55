// No rates at all.
dilated::dilated_stack! {
    struct Empty {
        input: [8, 64],
        kernel: 3,
        rates: [],
    }
}

fn main() {}

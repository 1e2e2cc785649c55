// No `input`.
dilated::dilated_stack! {
    struct NoInput {
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

// `input` with a batch dimension.
dilated::dilated_stack! {
    struct Batch {
        input: [1, 3, 32, 32],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

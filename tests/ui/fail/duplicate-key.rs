// `rates` given twice.
dilated::dilated_stack! {
    struct Twice {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 5],
        rates: [1, 2, 3],
    }
}

fn main() {}

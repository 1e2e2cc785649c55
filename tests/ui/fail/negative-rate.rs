// A negative rate.
dilated::dilated_stack! {
    struct Negative {
        input: [8, 64],
        kernel: 3,
        rates: [1, -2, 5],
    }
}

fn main() {}

// A kernel that is not an integer.
dilated::dilated_stack! {
    struct Float {
        input: [8, 64],
        kernel: 3.0,
        rates: [1, 2, 5],
    }
}

fn main() {}

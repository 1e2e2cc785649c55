// A per-axis kernel in a 1D stack.
dilated::dilated_stack! {
    struct OneD {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: [3, 3])],
    }
}

fn main() {}

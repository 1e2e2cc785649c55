// `leaky_relu` takes one number.
dilated::dilated_stack! {
    struct Leaky {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: 3), leaky_relu(slope, 2)],
    }
}

fn main() {}

// `relu` takes no argument.
dilated::dilated_stack! {
    struct Relu {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: 3), relu(0.1)],
    }
}

fn main() {}

// The first conv's input channels differ from the stack's input.
dilated::dilated_stack! {
    struct First {
        input: [3, 32, 32],
        layers: [conv(4 -> 8, kernel: 3)],
    }
}

fn main() {}

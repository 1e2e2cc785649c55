// The body must be a struct.
dilated::dilated_stack! {
    enum Stack {
        input: [8, 64],
    }
}

fn main() {}

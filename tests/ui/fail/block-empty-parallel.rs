// A parallel block with no branch.
dilated::dilated_stack! {
    struct S {
        input: [4, 16, 16],
        layers: [conv(4 -> 4, kernel: 3), parallel { branches: [], join: concat }],
    }
}

fn main() {}

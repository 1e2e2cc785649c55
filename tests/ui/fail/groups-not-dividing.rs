// groups = 3 divides neither 8 nor 16.
dilated::dilated_stack! {
    struct Groups {
        input: [8, 32, 32],
        layers: [conv(8 -> 16, kernel: 3, rate: 1, groups: 3)],
    }
}

fn main() {}

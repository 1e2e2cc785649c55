// A declared input field of 0 pixels.
dilated::dilated_stack! {
    struct S {
        input: [4, 32, 32],
        field: { receptive_field: 0, jump: 16 },
        layers: [conv(4 -> 4, kernel: 3, rate: 6)],
    }
}

fn main() {}

// A padding mode that does not exist.
dilated::dilated_stack! {
    struct Pad {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: 3, padding: reflect)],
    }
}

fn main() {}

// `rates` belongs to the compact form, not next to `layers`.
dilated::dilated_stack! {
    struct Both {
        input: [8, 64],
        rates: [1, 2, 5],
        layers: [conv(8 -> 8, kernel: 3)],
    }
}

fn main() {}

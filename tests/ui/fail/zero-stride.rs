// A stride of 0 in the per-layer form.
dilated::dilated_stack! {
    struct Zero {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: 3, stride: 0)],
    }
}

fn main() {}

// The receptive field (29) is wider than the input (16), and layer 3's effective kernel (17)
// wider than its input: warnings by default (long-range context), errors when denied.
dilated::dilated_stack! {
    struct Wide {
        input: [4, 16, 16],
        kernel: 3,
        rates: [1, 3, 8],
        check: { long_range: deny },
    }
}

fn main() {}

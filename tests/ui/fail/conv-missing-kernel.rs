// A per-layer conv without `kernel`.
dilated::dilated_stack! {
    struct NoKernel {
        input: [8, 64],
        layers: [conv(8 -> 8, rate: 2)],
    }
}

fn main() {}

// A per-layer conv without `C_in -> C_out`.
dilated::dilated_stack! {
    struct NoChannels {
        input: [8, 64],
        layers: [conv(kernel: 3, rate: 2)],
    }
}

fn main() {}

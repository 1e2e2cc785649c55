// Several errors in a per-layer stack, all at once: a channel mismatch, groups that do not
// divide, a zero kernel, an unknown activation, and an unknown key.
dilated::dilated_stack! {
    struct Broken {
        input: [6, _],
        layers: [
            conv(6 -> 8, kernel: 3, rate: 1, groups: 4),
            swish,
            conv(6 -> 8, kernel: 0, rate: 2),
            conv(8 -> 8, kernel: 3, rate: 3, dilation: 2),
        ],
    }
}

fn main() {}

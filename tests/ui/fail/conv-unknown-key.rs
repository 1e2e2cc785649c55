// A per-layer conv with an unknown key and a duplicate one.
dilated::dilated_stack! {
    struct Keys {
        input: [8, 64],
        layers: [conv(8 -> 8, kernel: 3, dilation: 2, kernel: 5)],
    }
}

fn main() {}

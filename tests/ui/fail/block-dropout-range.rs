// A dropout probability is in [0, 1).
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [conv(4 -> 4, kernel: 2, padding: causal), dropout(1.5)],
    }
}

fn main() {}

// The body gives 8 channels, the identity shortcut 4.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [residual { body: [conv(4 -> 8, kernel: 2, padding: causal)], activation: relu }],
    }
}

fn main() {}

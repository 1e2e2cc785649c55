// A skip taps a residual body: outside one it is an error.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [conv(4 -> 4, kernel: 2, padding: causal), skip [conv(4 -> 4, kernel: 1)]],
    }
}

fn main() {}

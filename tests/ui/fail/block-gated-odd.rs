// A gate splits its input into two halves: 7 channels is odd.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [conv(4 -> 7, kernel: 2, padding: causal), gated],
    }
}

fn main() {}

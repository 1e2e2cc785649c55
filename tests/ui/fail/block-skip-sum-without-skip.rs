// `skip_sum` with no skip before it.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [conv(4 -> 4, kernel: 2, padding: causal), skip_sum],
    }
}

fn main() {}

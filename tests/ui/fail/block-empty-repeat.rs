// A repetition over an empty list of rates.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [repeat(rate in []) [conv(4 -> 4, kernel: 2, rate: rate, padding: causal)]],
    }
}

fn main() {}

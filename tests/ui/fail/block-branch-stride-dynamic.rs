// A size known only at run time: a `valid` 3×3 conv beside a 1×1 gives sizes that differ
// for every input (n − 2 against n), strides or not.
dilated::dilated_stack! {
    struct S {
        input: [4, _, _],
        layers: [
            parallel {
                branches: [[conv(4 -> 4, kernel: 1)], [conv(4 -> 4, kernel: 3, padding: valid)]],
                join: sum,
            },
        ],
    }
}

fn main() {}

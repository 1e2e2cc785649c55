// A 1×3 branch beside a 3×1 branch at rate 2: the corners of their cross are holes
// whatever field the input's features have, so the error comes when the stack expands.
dilated::dilated_stack! {
    struct Head {
        input: Backbone,
        layers: [
            parallel {
                branches: [
                    [conv(8 -> 4, kernel: [1, 3], rate: [1, 2])],
                    [conv(8 -> 4, kernel: [3, 1], rate: [2, 1])],
                ],
                join: sum,
            },
        ],
    }
}

fn main() {}

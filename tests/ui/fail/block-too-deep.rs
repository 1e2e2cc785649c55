// Blocks nested deeper than the documented limit.
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [residual { body: [residual { body: [residual { body: [residual { body: [
            residual { body: [residual { body: [residual { body: [residual { body: [
                residual { body: [conv(4 -> 4, kernel: 1)] },
            ] }] }] }] },
        ] }] }] }] }],
    }
}

fn main() {}

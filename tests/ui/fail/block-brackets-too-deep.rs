// Brackets nested deeper than the parser's limit (it protects the compiler's stack).
dilated::dilated_stack! {
    struct S {
        input: [4, _],
        layers: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    }
}

fn main() {}

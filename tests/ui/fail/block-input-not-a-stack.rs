// `input:` takes a shape; a name is not accepted (stack composition is not supported).
dilated::dilated_stack! {
    struct S {
        input: Backbone,
        layers: [conv(4 -> 4, kernel: 3)],
    }
}

fn main() {}

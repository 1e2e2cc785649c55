// `input:` names a type that is not a stack declared with `dilated_stack!`.
struct Backbone;

dilated::dilated_stack! {
    struct S {
        input: Backbone,
        layers: [conv(4 -> 4, kernel: 3)],
    }
}

fn main() {}

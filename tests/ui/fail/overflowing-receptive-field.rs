// Every number fits, but the receptive field they make does not: the engine's checked
// arithmetic reports it on the layer where it overflows.
dilated::dilated_stack! {
    struct Vast {
        input: [1, _],
        kernel: 4294967295,
        rates: [4294967295, 4294967295],
    }
}

fn main() {}

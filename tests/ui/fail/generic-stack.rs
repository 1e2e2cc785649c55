// A stack takes no generic parameters.
dilated::dilated_stack! {
    struct Generic<T> {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

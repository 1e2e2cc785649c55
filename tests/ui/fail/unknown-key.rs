// A misspelt key: the error suggests the right one.
dilated::dilated_stack! {
    struct Typo {
        input: [8, 64],
        kernal: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

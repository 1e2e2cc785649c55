// Warnings are uses of `#[deprecated]` items spanned on the offending token, so
// `#![deny(deprecated)]` turns every one of them into an error that shows here:
// HDC rule 1 (no holes), HDC rule 2 (a repeated rate), and the long-range checks.
#![deny(deprecated)]

dilated::dilated_stack! {
    struct Rule1 {
        input: [8, 64],
        kernel: 3,
        rates: [1, 4, 1],
    }
}

dilated::dilated_stack! {
    struct Rule2 {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 2],
    }
}

dilated::dilated_stack! {
    struct Wide {
        input: [4, 16, 16],
        kernel: 3,
        rates: [1, 3, 8],
    }
}

fn main() {}

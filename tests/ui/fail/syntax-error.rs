// A missing colon: syn's error, spanned on the token.
dilated::dilated_stack! {
    struct Syntax {
        input [8, 64],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

fn main() {}

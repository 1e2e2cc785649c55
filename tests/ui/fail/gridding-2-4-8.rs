// The classic gridding example: k = 3, rates [2, 4, 8] reach only even offsets (and share the factor 2).
dilated::dilated_stack! {
    pub struct Grids {
        input: [16, 64, 64],
        kernel: 3,
        rates: [2, 4, 8],
    }
}

fn main() {}

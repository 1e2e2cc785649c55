// k = 3, rates [1, 4, 1]: the last layer fills the holes rate 4 opens (no gridding), but the
// rising group [1, 4] breaks HDC rule 1 (M_2 = 4 > K = 3): a warning by default, an error
// under `hdc: strict`.
dilated::dilated_stack! {
    struct Strict {
        input: [8, 64],
        kernel: 3,
        rates: [1, 4, 1],
        check: { hdc: strict },
    }
}

fn main() {}

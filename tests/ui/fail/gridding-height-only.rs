// 2D per-axis rates: the height axis grids, the width axis does not.
dilated::dilated_stack! {
    struct Tall {
        input: [2, 64, 64],
        layers: [
            conv(2 -> 2, kernel: 3, rate: [2, 1]),
            conv(2 -> 2, kernel: 3, rate: [4, 2]),
        ],
    }
}

fn main() {}

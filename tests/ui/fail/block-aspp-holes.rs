// DeepLab v3's ASPP on raw pixels: the 3×3 lattices at rates 6, 12, 18 leave holes, and
// the image-pooling branch fills none of them.
dilated::dilated_stack! {
    struct Aspp {
        input: [8, 64, 64],
        layers: [
            parallel {
                branches: [
                    [conv(8 -> 4, kernel: 1)],
                    [conv(8 -> 4, kernel: 3, rate: 6)],
                    [conv(8 -> 4, kernel: 3, rate: 12)],
                    [conv(8 -> 4, kernel: 3, rate: 18)],
                    pool [conv(8 -> 4, kernel: 1)],
                ],
                join: concat,
            },
            conv(20 -> 4, kernel: 1),
        ],
    }
}

fn main() {}

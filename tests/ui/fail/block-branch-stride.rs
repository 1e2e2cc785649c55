// A stride in one branch only: the branches' sizes differ at the concat.
dilated::dilated_stack! {
    struct S {
        input: [4, 32, 32],
        layers: [
            parallel {
                branches: [[conv(4 -> 4, kernel: 1)], [conv(4 -> 4, kernel: 3, stride: 2)]],
                join: concat,
            },
        ],
    }
}

fn main() {}

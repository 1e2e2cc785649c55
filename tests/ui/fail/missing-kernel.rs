// The compact form without `kernel`.
dilated::dilated_stack! {
    struct NoKernel {
        input: [8, 64],
        rates: [1, 2, 5],
    }
}

fn main() {}

// The compact form without `rates`.
dilated::dilated_stack! {
    struct NoRates {
        input: [8, 64],
        kernel: 3,
    }
}

fn main() {}

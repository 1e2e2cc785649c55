// A rate past u32::MAX, and one past u64::MAX.
dilated::dilated_stack! {
    struct Huge {
        input: [8, 64],
        kernel: 3,
        rates: [1, 4294967296, 99999999999999999999999],
    }
}

fn main() {}

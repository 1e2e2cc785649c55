// k = 3, rates [2, 3]: passes HDC rules 1 and 3 and still has holes (rule 1 assumes r_1 = 1).
dilated::dilated_stack! {
    struct NoOne {
        input: [8, 64],
        kernel: 3,
        rates: [2, 3],
    }
}

fn main() {}

// k = 3, rates 1, 2, 9: rate 9 jumps past the 7 offsets that [1, 2] cover: holes at ±4, ±5.
dilated::assert_schedule!(kernel: 3, rates: [1, 2, 9]);

fn main() {}

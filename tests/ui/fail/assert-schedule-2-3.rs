// k = 3, rates 2, 3: HDC rules 1 and 3 pass, yet offsets ±4 are never read.
dilated::assert_schedule!(kernel: 3, rates: [2, 3]);

fn main() {}

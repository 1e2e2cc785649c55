// Two kernels for three rates.
dilated::assert_schedule!(kernels: [3, 5], rates: [1, 2, 5]);

fn main() {}

// A stride of 2 doubles the step of every later layer: rates [1, 2] now skip offsets ±2.
fn main() {
    dilated::assert_schedule!(kernels: [3, 3], rates: [1, 2], strides: [2, 1]);
}

// Receptive field 19,683: over the const check's limit, which says where to go instead.
dilated::assert_schedule!(kernel: 3, rates: [1, 3, 9, 27, 81, 243, 729, 2187, 6561]);

fn main() {}

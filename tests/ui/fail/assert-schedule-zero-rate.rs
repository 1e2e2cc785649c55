// A rate of 0 is not a schedule.
dilated::assert_schedule!(kernel: 3, rates: [1, 0, 2]);

fn main() {}

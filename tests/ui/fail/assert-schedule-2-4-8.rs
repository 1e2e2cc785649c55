// k = 3, rates 2, 4, 8: every odd offset is a hole (the classic gridding figure).
dilated::assert_schedule!(kernel: 3, rates: [2, 4, 8]);

fn main() {}

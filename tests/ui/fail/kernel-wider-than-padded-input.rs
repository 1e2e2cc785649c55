// Valid padding on a short input: the effective kernel 9 (k = 5, rate 2) exceeds the
// padded input 6, so the layer has no output. (Rate 2 on its own would grid: allowed here.)
dilated::dilated_stack! {
    struct Short {
        input: [2, 6],
        layers: [conv(2 -> 2, kernel: 5, rate: 2, padding: valid)],
        check: { holes: allow, hdc: allow, long_range: allow },
    }
}

fn main() {}

// A receptive field past the exact check's documented limit (2^26) cannot be verified:
// an error that says so, on the rates.
dilated::dilated_stack! {
    struct Huge {
        input: [1, _],
        kernel: 2,
        rates: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
                65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216,
                33554432, 67108864],
    }
}

fn main() {}

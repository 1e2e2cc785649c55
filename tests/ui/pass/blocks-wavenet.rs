// WaveNet: gated residual blocks with skip taps, rates 1…8 twice, the skip sum's head.
dilated::dilated_stack! {
    pub struct Wave {
        input: [4, _],
        layers: [
            conv(4 -> 8, kernel: 1),
            repeat(rate in [1, 2, 4, 8] * 2) [
                residual {
                    body: [
                        conv(8 -> 16, kernel: 2, rate: rate, padding: causal),
                        gated,
                        skip [conv(8 -> 8, kernel: 1)],
                        conv(8 -> 8, kernel: 1),
                    ],
                },
            ],
            skip_sum,
            relu,
            conv(8 -> 4, kernel: 1),
        ],
    }
}

fn main() {
    assert_eq!(Wave::RECEPTIVE_FIELD, 31);
    assert!(Wave::PYTORCH.contains("class Wave(torch.nn.Sequential)"));
    let net = Wave::new_seeded(1).unwrap();
    let y = net.forward_nchw(1, &vec![0.5; 4 * 40]).unwrap();
    assert_eq!(y.len(), 4 * 40);
    let bytes = net.to_safetensors_bytes().unwrap();
    let back = Wave::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(back.forward_nchw(1, &vec![0.5; 4 * 40]).unwrap(), y);
}

//! A causal WaveNet-style 1D stack: k = 2, rates 1, 2, 4, …, 512, receptive field 1024.
use dilated::tensor::{DYN, Tensor1d};

dilated::dilated_stack! {
    pub struct WaveNet {
        input: [8, _],
        layers: [
            conv(8 -> 16, kernel: 2, rate: 1, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 2, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 4, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 8, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 16, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 32, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 64, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 128, padding: causal), relu,
            conv(16 -> 16, kernel: 2, rate: 256, padding: causal), relu,
            conv(16 -> 8, kernel: 2, rate: 512, padding: causal),
        ],
    }
}

fn main() -> Result<(), dilated::Error> {
    assert_eq!(WaveNet::RECEPTIVE_FIELD, 1024);
    assert_eq!(WaveNet::RATES, &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    // Causal: everything on the left.
    assert_eq!(WaveNet::PADDING[9], [[0, 0], [512, 0]]);
    assert_eq!(WaveNet::MODULE_INDICES, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    let net = WaveNet::new_seeded(3)?;
    let len = 64;
    let mut data = vec![0.0; 8 * len];
    let x = Tensor1d::<8, DYN>::from_vec(1, len, data.clone())?;
    let y = net.forward(&x)?;
    assert_eq!(y.len(), len);
    // Causality: changing the last sample changes no earlier output.
    data[len - 1] = 5.0;
    let y2 = net.forward(&Tensor1d::<8, DYN>::from_vec(1, len, data)?)?;
    for c in 0..8 {
        let a = &y.as_slice()[c * len..c * len + len - 1];
        let b = &y2.as_slice()[c * len..c * len + len - 1];
        assert_eq!(a, b);
    }
    Ok(())
}

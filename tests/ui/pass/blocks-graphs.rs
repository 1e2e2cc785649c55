// Block stacks: TCN (weight-normed causal convs, dropout, a 1×1 downsample), DeepLab v3's
// ASPP on a backbone's declared field (image pooling, batch norm, concat), ESPNet's ESP
// module (hierarchical fusion, residual add, batch norm, PReLU), a summed parallel block.
dilated::dilated_stack! {
    /// Two TCN levels.
    pub struct Tcn {
        input: [3, _],
        layers: [
            residual {
                body: [
                    conv(3 -> 8, kernel: 3, rate: 1, padding: causal, norm: weight), relu, dropout(0.2),
                    conv(8 -> 8, kernel: 3, rate: 1, padding: causal, norm: weight), relu, dropout(0.2),
                ],
                shortcut: [conv(3 -> 8, kernel: 1)],
                activation: relu,
            },
            residual {
                body: [
                    conv(8 -> 8, kernel: 3, rate: 2, padding: causal, norm: weight), relu, dropout(0.2),
                    conv(8 -> 8, kernel: 3, rate: 2, padding: causal, norm: weight), relu, dropout(0.2),
                ],
                activation: relu,
            },
        ],
    }
}

dilated::dilated_stack! {
    struct Aspp {
        input: [8, 33, 33],
        field: { receptive_field: 971, jump: 16 },
        layers: [
            parallel {
                branches: [
                    [conv(8 -> 4, kernel: 1, bias: false), batch_norm, relu],
                    [conv(8 -> 4, kernel: 3, rate: 6, bias: false), batch_norm, relu],
                    [conv(8 -> 4, kernel: 3, rate: 12, bias: false), batch_norm, relu],
                    [conv(8 -> 4, kernel: 3, rate: 18, bias: false), batch_norm, relu],
                    pool [conv(8 -> 4, kernel: 1, bias: false), batch_norm, relu],
                ],
                join: concat,
            },
            conv(20 -> 4, kernel: 1, bias: false),
            batch_norm(eps: 1e-3),
            relu,
        ],
    }
}

dilated::dilated_stack! {
    struct Esp {
        input: [10, 24, 24],
        layers: [
            residual {
                body: [
                    conv(10 -> 2, kernel: 1, bias: false),
                    parallel {
                        branches: [
                            [conv(2 -> 2, kernel: 3, rate: 1, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 2, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 4, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 8, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 16, bias: false)],
                        ],
                        join: hierarchical,
                    },
                ],
            },
            batch_norm,
            prelu,
        ],
        // Parallel 3×3 lattices at 1…16 leave holes between them on raw pixels.
        check: { holes: allow },
    }
}

dilated::dilated_stack! {
    struct Summed {
        input: [4, _, _],
        layers: [
            conv(4 -> 6, kernel: 3),
            parallel { branches: [[conv(6 -> 6, kernel: 3, rate: 2)], []], join: sum },
        ],
    }
}

fn main() {
    let tcn = Tcn::new_seeded(3).unwrap();
    let y = tcn.forward_nchw(2, &vec![0.25; 2 * 3 * 20]).unwrap();
    assert_eq!(y.len(), 2 * 8 * 20);
    assert_eq!(Tcn::RECEPTIVE_FIELD, 1 + 2 * 2 + 2 * 4);
    assert!(Tcn::PYTORCH.contains("parametrizations.weight_norm"));

    assert_eq!(Aspp::RECEPTIVE_FIELD, 971 + 2 * 18 * 16);
    assert_eq!(Aspp::OUTPUT_SHAPE, [4, 33, 33]);
    let aspp = Aspp::new_seeded(1).unwrap();
    assert_eq!(aspp.forward_nchw(1, &vec![0.1; 8 * 33 * 33]).unwrap().len(), 4 * 33 * 33);
    assert!(Aspp::PYTORCH.contains("AdaptiveAvgPool2d(1)"));

    let esp = Esp::new_seeded(2).unwrap();
    assert_eq!(esp.forward_nchw(1, &vec![0.1; 10 * 24 * 24]).unwrap().len(), 10 * 24 * 24);
    let bytes = esp.to_safetensors_bytes().unwrap();
    assert!(Esp::from_safetensors_bytes(&bytes).is_ok());

    let s = Summed::new_seeded(0).unwrap();
    let (y, hw) = s.forward_nchw_sized(1, [9, 7], &vec![1.0; 4 * 9 * 7]).unwrap();
    assert_eq!((y.len(), hw), (6 * 9 * 7, [9, 7]));
}

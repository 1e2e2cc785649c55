// An ASPP-like head on a backbone-like stack: on raw pixels its lattices at rates 6 and 12
// leave holes, on the backbone's features (71 px seen, 4 px apart) they do not.
dilated::dilated_stack! {
    /// Two strided convs, then an HDC chain: receptive field 71, jump 4.
    pub struct Backbone {
        input: [3, 32, 32],
        layers: [
            conv(3 -> 8, kernel: 3, stride: 2, padding: 1),
            relu,
            conv(8 -> 8, kernel: 3, stride: 2, padding: 1),
            relu,
            conv(8 -> 8, kernel: 3, rate: 1),
            relu,
            conv(8 -> 8, kernel: 3, rate: 2),
            relu,
            conv(8 -> 8, kernel: 3, rate: 5),
            relu,
        ],
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    /// DeepLab v3's head, small.
    pub struct Head {
        input: Backbone,
        layers: [
            parallel {
                branches: [
                    [conv(8 -> 4, kernel: 1), batch_norm, relu],
                    [conv(8 -> 4, kernel: 3, rate: 6), batch_norm, relu],
                    [conv(8 -> 4, kernel: 3, rate: 12), batch_norm, relu],
                    pool [conv(8 -> 4, kernel: 1), relu],
                ],
                join: concat,
            },
            conv(16 -> 4, kernel: 1),
        ],
    }
}

// A 1D pair, the second stack's input written with its rank.
dilated::dilated_stack! {
    struct Wave {
        input: [2, _],
        layers: [
            conv(2 -> 4, kernel: 2, rate: 1, padding: causal),
            conv(4 -> 4, kernel: 2, rate: 2, padding: causal),
            conv(4 -> 4, kernel: 2, rate: 4, padding: causal),
        ],
    }
}

dilated::dilated_stack! {
    struct Top {
        input: Wave[4, _],
        layers: [residual { body: [conv(4 -> 4, kernel: 2, rate: 8, padding: causal)] }],
    }
}

use dilated::stack::DeclaredStack;

fn main() {
    assert_eq!(Backbone::RECEPTIVE_FIELD_HW, [71, 71]);
    assert_eq!(Backbone::JUMP_HW, [4, 4]);
    assert_eq!(<Backbone as DeclaredStack>::OUTPUT_SHAPE, [8, 8, 8]);
    assert_eq!(Head::INPUT_SHAPE, [8, 8, 8]);
    assert_eq!(Head::OUTPUT_SHAPE, [4, 8, 8]);
    // 25 positions of the backbone's output, 4 px apart, each seeing 71 px.
    assert_eq!(Head::RECEPTIVE_FIELD_HW, [24 * 4 + 71, 24 * 4 + 71]);
    assert_eq!(Head::RECEPTIVE_FIELD, 167);
    assert_eq!(Head::JUMP_HW, [4, 4]);
    assert_eq!(Top::RECEPTIVE_FIELD, 8 + 8);
    assert_eq!(Top::OUTPUT_SHAPE, [4, 1, 0]);

    let backbone = Backbone::new_seeded(1).unwrap();
    let head = Head::new_seeded(2).unwrap();
    let x: Vec<f32> = (0..2 * 3 * 32 * 32).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    let (pair, hw) = head.forward_nchw_after(&backbone, 2, [32, 32], &x).unwrap();
    assert_eq!(hw, [8, 8]);
    let mid = backbone.forward_nchw(2, &x).unwrap();
    let by_hand = head.forward_nchw(2, &mid).unwrap();
    assert_eq!(pair, by_hand);
    assert_eq!(pair.len(), 2 * 4 * 8 * 8);
    assert!(pair.iter().all(|v| v.is_finite()));

    let wave = Wave::new_seeded(3).unwrap();
    let top = Top::new_seeded(4).unwrap();
    let s: Vec<f32> = (0..2 * 40).map(|i| (i as f32 * 0.37).sin()).collect();
    let (y, hw) = top.forward_nchw_after(&wave, 1, [1, 40], &s).unwrap();
    assert_eq!((y.len(), hw), (4 * 40, [1, 40]));
}

//! The zoo's declarations: each network at a realistic size (for `bench` and `check`) and at
//! reduced widths with the same structure (blocks, rates, kernels, paddings, norms) for the
//! committed fixtures (`--small`). Every `check:` setting here is mirrored in
//! [`super::entries`] (the run-time `check` uses the same levels), and each one says why the
//! real network sets it.

// ---------------------------------------------------------------------------------------
// WaveNet
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// WaveNet (van den Oord et al., "WaveNet: A Generative Model for Raw Audio", 2016) as
    /// `ibab/tensorflow-wavenet` configures it (`wavenet_params.json`): μ-law one-hot input
    /// of 256 channels, an initial causal conv (kernel 2, no bias), 50 gated residual blocks
    /// at rates 1, 2, 4, …, 512 repeated five times (kernel 2, causal; the filter and gate
    /// convs of 32 channels each are one conv of 64 here, `gated` splits it), each with a
    /// 1×1 residual conv (32) and a 1×1 skip conv (512); the skips summed, then ReLU,
    /// 1×1 (512), ReLU, 1×1 (256 logits). Receptive field 1 + 1 + 5·1023 = 5117 samples.
    pub struct WaveNet {
        input: [256, _],
        layers: [
            conv(256 -> 32, kernel: 2, padding: causal, bias: false),
            repeat(rate in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 5) [
                residual {
                    body: [
                        conv(32 -> 64, kernel: 2, rate: rate, padding: causal),
                        gated,
                        skip [conv(32 -> 512, kernel: 1)],
                        conv(32 -> 32, kernel: 1),
                    ],
                },
            ],
            skip_sum,
            relu,
            conv(512 -> 512, kernel: 1),
            relu,
            conv(512 -> 256, kernel: 1),
        ],
    }
}

dilated::dilated_stack! {
    /// [`WaveNet`]'s structure at reduced widths (4 input and output channels, 4 residual,
    /// 8 skip) and rates 1…512 twice: receptive field 2048. The committed fixture's twin.
    pub struct WaveNetSmall {
        input: [4, _],
        layers: [
            conv(4 -> 4, kernel: 2, padding: causal, bias: false),
            repeat(rate in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2) [
                residual {
                    body: [
                        conv(4 -> 8, kernel: 2, rate: rate, padding: causal),
                        gated,
                        skip [conv(4 -> 8, kernel: 1)],
                        conv(4 -> 4, kernel: 1),
                    ],
                },
            ],
            skip_sum,
            relu,
            conv(8 -> 8, kernel: 1),
            relu,
            conv(8 -> 4, kernel: 1),
        ],
    }
}

// ---------------------------------------------------------------------------------------
// TCN
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// Bai, Kolter & Koltun's TCN ("An Empirical Evaluation of Generic Convolutional and
    /// Recurrent Networks for Sequence Modeling", 2018; `locuslab/TCN`), its sequential-MNIST
    /// configuration (`mnist_pixel`: 1 input channel, 25 hidden, 8 levels, kernel 7,
    /// dropout 0.05): per level a `TemporalBlock` of two weight-normalised causal convs at
    /// rate 2^i, each followed by ReLU and dropout, a 1×1 downsample on the residual path
    /// where the channels change (level 0: 1 → 25), ReLU after the add. The classifier (a
    /// `Linear` on the last step) is the 1×1 conv at the end: its last step is the logits.
    /// Receptive field 1 + 2·6·(1 + 2 + … + 128) = 3061 samples.
    ///
    /// Each level repeats its rate in two consecutive convs (HDC rule 2 flags it) and the
    /// doubling rates outgrow the kernel (rule 1: M_2 = 8 > K = 7 in [4, 8]); that is the
    /// TCN's design and it has no holes, so both design rules are allowed.
    pub struct Tcn {
        input: [1, _],
        layers: [
            residual {
                body: [
                    conv(1 -> 25, kernel: 7, rate: 1, padding: causal, norm: weight), relu, dropout(0.05),
                    conv(25 -> 25, kernel: 7, rate: 1, padding: causal, norm: weight), relu, dropout(0.05),
                ],
                shortcut: [conv(1 -> 25, kernel: 1)],
                activation: relu,
            },
            repeat(rate in [2, 4, 8, 16, 32, 64, 128]) [
                residual {
                    body: [
                        conv(25 -> 25, kernel: 7, rate: rate, padding: causal, norm: weight), relu, dropout(0.05),
                        conv(25 -> 25, kernel: 7, rate: rate, padding: causal, norm: weight), relu, dropout(0.05),
                    ],
                    activation: relu,
                },
            ],
            conv(25 -> 10, kernel: 1),
        ],
        check: { hdc1: allow, hdc2: allow },
    }
}

dilated::dilated_stack! {
    /// [`Tcn`]'s structure at 4 hidden channels and 3 classes. The committed fixture's twin.
    pub struct TcnSmall {
        input: [1, _],
        layers: [
            residual {
                body: [
                    conv(1 -> 4, kernel: 7, rate: 1, padding: causal, norm: weight), relu, dropout(0.05),
                    conv(4 -> 4, kernel: 7, rate: 1, padding: causal, norm: weight), relu, dropout(0.05),
                ],
                shortcut: [conv(1 -> 4, kernel: 1)],
                activation: relu,
            },
            repeat(rate in [2, 4, 8, 16, 32, 64, 128]) [
                residual {
                    body: [
                        conv(4 -> 4, kernel: 7, rate: rate, padding: causal, norm: weight), relu, dropout(0.05),
                        conv(4 -> 4, kernel: 7, rate: rate, padding: causal, norm: weight), relu, dropout(0.05),
                    ],
                    activation: relu,
                },
            ],
            conv(4 -> 3, kernel: 1),
        ],
        check: { hdc1: allow, hdc2: allow },
    }
}

// ---------------------------------------------------------------------------------------
// ASPP
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// DeepLab v3's head (Chen et al., "Rethinking Atrous Convolution for Semantic Image
    /// Segmentation", 2017) as torchvision's `DeepLabHead` builds it: ASPP on ResNet-101's
    /// 2048-channel features at output stride 16 (33×33 for a 513×513 crop) — a 1×1 branch,
    /// 3×3 branches at rates 6, 12 and 18, an image-pooling branch, each conv + batch norm
    /// + ReLU, concatenated; a 1×1 projection + batch norm + ReLU + dropout(0.5) — then a
    /// 3×3 conv + batch norm + ReLU and the 1×1 classifier (21 VOC classes).
    ///
    /// `field` declares what the backbone's features already see: torchvision's
    /// ResNet-101 at output stride 16 has a receptive field of 971 px and a jump of 16, so
    /// the branches' taps (96, 192, 288 px apart) leave no holes. On raw pixels the same
    /// head would not compile: the 3×3 lattices at 6, 12, 18 leave holes, and the image
    /// pooling fills none (`zoo check aspp` shows both verdicts). The 3×3 lattices at 12
    /// and 18 are wider than the 33×33 map (the real head reads mostly padding there):
    /// `long_range` is allowed.
    pub struct Aspp {
        input: [2048, 33, 33],
        field: { receptive_field: 971, jump: 16 },
        layers: [
            parallel {
                branches: [
                    [conv(2048 -> 256, kernel: 1, bias: false), batch_norm, relu],
                    [conv(2048 -> 256, kernel: 3, rate: 6, bias: false), batch_norm, relu],
                    [conv(2048 -> 256, kernel: 3, rate: 12, bias: false), batch_norm, relu],
                    [conv(2048 -> 256, kernel: 3, rate: 18, bias: false), batch_norm, relu],
                    pool [conv(2048 -> 256, kernel: 1, bias: false), batch_norm, relu],
                ],
                join: concat,
            },
            conv(1280 -> 256, kernel: 1, bias: false),
            batch_norm,
            relu,
            dropout(0.5),
            conv(256 -> 256, kernel: 3, bias: false),
            batch_norm,
            relu,
            conv(256 -> 21, kernel: 1),
        ],
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    /// [`Aspp`]'s structure on 8 input channels, 4 per branch, 3 classes. The committed
    /// fixture's twin.
    pub struct AsppSmall {
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
            batch_norm,
            relu,
            dropout(0.5),
            conv(4 -> 4, kernel: 3, bias: false),
            batch_norm,
            relu,
            conv(4 -> 3, kernel: 1),
        ],
        check: { long_range: allow },
    }
}

// ---------------------------------------------------------------------------------------
// DUC-HDC
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// The res4 stage of TuSimple-DUC's ResNet-101-HDC (Wang et al., "Understanding
    /// Convolution for Semantic Segmentation", WACV 2018; `TuSimple/TuSimple-DUC`,
    /// `tusimple_duc/networks/resnet.py`): 23 bottleneck blocks (1×1 reduce to 256, 3×3 at
    /// the block's rate, 1×1 increase to 1024, each conv without bias and followed by batch
    /// norm with eps 1e-6, ReLU after the first two and after the add), the first with a
    /// 1×1 projection + batch norm on its shortcut (512 → 1024, stride 1: the stage is
    /// dilated instead of strided), at the rates 2, 2, 5, 9, then 1, 2, 5, 9 four times,
    /// then 1, 2, 5. Input: res3's 512 channels at output stride 8 (64×64 for a 512×512
    /// crop). The trunk's receptive field is 189.
    ///
    /// TuSimple's schedule has no holes but does not follow HDC's design rules to the
    /// letter: the first two blocks share rate 2 (rule 2), and the rising groups that start
    /// at 2, `[2, 5, 9]`, have M_2 = 5 > K = 3 (rule 1); both are allowed, as is
    /// `long_range` (the trunk's receptive field is wider than a 64×64 map, as in the real
    /// network).
    pub struct DucHdc {
        input: [512, 64, 64],
        layers: [
            residual {
                body: [
                    conv(512 -> 256, kernel: 1, bias: false), batch_norm(eps: 1e-6), relu,
                    conv(256 -> 256, kernel: 3, rate: 2, bias: false), batch_norm(eps: 1e-6), relu,
                    conv(256 -> 1024, kernel: 1, bias: false), batch_norm(eps: 1e-6),
                ],
                shortcut: [conv(512 -> 1024, kernel: 1, bias: false), batch_norm(eps: 1e-6)],
                activation: relu,
            },
            repeat(rate in [2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5]) [
                residual {
                    body: [
                        conv(1024 -> 256, kernel: 1, bias: false), batch_norm(eps: 1e-6), relu,
                        conv(256 -> 256, kernel: 3, rate: rate, bias: false), batch_norm(eps: 1e-6), relu,
                        conv(256 -> 1024, kernel: 1, bias: false), batch_norm(eps: 1e-6),
                    ],
                    activation: relu,
                },
            ],
        ],
        check: { hdc1: allow, hdc2: allow, long_range: allow },
    }
}

dilated::dilated_stack! {
    /// [`DucHdc`]'s structure at 8 input channels, bottlenecks of 4, 16 output channels,
    /// on a 32×32 map. The committed fixture's twin.
    pub struct DucHdcSmall {
        input: [8, 32, 32],
        layers: [
            residual {
                body: [
                    conv(8 -> 4, kernel: 1, bias: false), batch_norm(eps: 1e-6), relu,
                    conv(4 -> 4, kernel: 3, rate: 2, bias: false), batch_norm(eps: 1e-6), relu,
                    conv(4 -> 16, kernel: 1, bias: false), batch_norm(eps: 1e-6),
                ],
                shortcut: [conv(8 -> 16, kernel: 1, bias: false), batch_norm(eps: 1e-6)],
                activation: relu,
            },
            repeat(rate in [2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5]) [
                residual {
                    body: [
                        conv(16 -> 4, kernel: 1, bias: false), batch_norm(eps: 1e-6), relu,
                        conv(4 -> 4, kernel: 3, rate: rate, bias: false), batch_norm(eps: 1e-6), relu,
                        conv(4 -> 16, kernel: 1, bias: false), batch_norm(eps: 1e-6),
                    ],
                    activation: relu,
                },
            ],
        ],
        check: { hdc1: allow, hdc2: allow, long_range: allow },
    }
}

// ---------------------------------------------------------------------------------------
// ESP
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// ESPNet's ESP module (Mehta et al., "ESPNet: Efficient Spatial Pyramid of Dilated
    /// Convolutions for Semantic Segmentation", ECCV 2018; `sacmehta/ESPNet`,
    /// `DilatedParllelResidualBlockB`) at level 3 of ESPNet-C (128 channels at 1/8 of a
    /// 512×1024 image): a 1×1 reduction (no bias) to n = 128/5 = 25 channels, five 3×3
    /// branches at rates 1, 2, 4, 8, 16 (no bias; the rate-1 branch has the remaining
    /// 128 − 4·25 = 28 channels), fused hierarchically (`cat([d1, d2, d2 + d4, …])`),
    /// the residual add, then batch norm (eps 1e-3) and PReLU.
    ///
    /// On raw pixels the parallel 3×3 lattices at 1…16 leave holes between them (ESPNet
    /// sits on features that already see wide context; the module itself grids), so
    /// `holes` is allowed and `zoo check esp` counts them.
    pub struct Esp {
        input: [128, 64, 128],
        layers: [
            residual {
                body: [
                    conv(128 -> 25, kernel: 1, bias: false),
                    parallel {
                        branches: [
                            [conv(25 -> 28, kernel: 3, rate: 1, bias: false)],
                            [conv(25 -> 25, kernel: 3, rate: 2, bias: false)],
                            [conv(25 -> 25, kernel: 3, rate: 4, bias: false)],
                            [conv(25 -> 25, kernel: 3, rate: 8, bias: false)],
                            [conv(25 -> 25, kernel: 3, rate: 16, bias: false)],
                        ],
                        join: hierarchical,
                    },
                ],
            },
            batch_norm(eps: 1e-3),
            prelu,
        ],
        check: { holes: allow },
    }
}

dilated::dilated_stack! {
    /// [`Esp`]'s structure at 12 channels (n = 2, the rate-1 branch 4) on a 34×34 map. The
    /// committed fixture's twin.
    pub struct EspSmall {
        input: [12, 34, 34],
        layers: [
            residual {
                body: [
                    conv(12 -> 2, kernel: 1, bias: false),
                    parallel {
                        branches: [
                            [conv(2 -> 4, kernel: 3, rate: 1, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 2, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 4, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 8, bias: false)],
                            [conv(2 -> 2, kernel: 3, rate: 16, bias: false)],
                        ],
                        join: hierarchical,
                    },
                ],
            },
            batch_norm(eps: 1e-3),
            prelu,
        ],
        check: { holes: allow },
    }
}

// ---------------------------------------------------------------------------------------
// Context module
// ---------------------------------------------------------------------------------------

dilated::dilated_stack! {
    /// Yu & Koltun's *large* context module ("Multi-Scale Context Aggregation by Dilated
    /// Convolutions", ICLR 2016, table 1) on a 21-class (Pascal VOC) score map of 64×64:
    /// seven 3×3 convs at rates 1, 1, 2, 4, 8, 16, 1 with 2C, 2C, 4C, 8C, 16C, 32C, 32C
    /// channels, each followed by ReLU, then a 1×1 conv back to C. A chain: receptive field
    /// 67, wider than the 64×64 map (`long_range` allowed; the paper pads the map).
    pub struct Context {
        input: [21, 64, 64],
        layers: [
            conv(21 -> 42, kernel: 3, rate: 1), relu,
            conv(42 -> 42, kernel: 3, rate: 1), relu,
            conv(42 -> 84, kernel: 3, rate: 2), relu,
            conv(84 -> 168, kernel: 3, rate: 4), relu,
            conv(168 -> 336, kernel: 3, rate: 8), relu,
            conv(336 -> 672, kernel: 3, rate: 16), relu,
            conv(672 -> 672, kernel: 3, rate: 1), relu,
            conv(672 -> 21, kernel: 1),
        ],
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    /// [`Context`]'s structure for C = 2 on a 32×32 map. The committed fixture's twin.
    pub struct ContextSmall {
        input: [2, 32, 32],
        layers: [
            conv(2 -> 4, kernel: 3, rate: 1), relu,
            conv(4 -> 4, kernel: 3, rate: 1), relu,
            conv(4 -> 8, kernel: 3, rate: 2), relu,
            conv(8 -> 16, kernel: 3, rate: 4), relu,
            conv(16 -> 32, kernel: 3, rate: 8), relu,
            conv(32 -> 64, kernel: 3, rate: 16), relu,
            conv(64 -> 64, kernel: 3, rate: 1), relu,
            conv(64 -> 2, kernel: 1),
        ],
        check: { long_range: allow },
    }
}

//! Causal graph models stream frame by frame: a WaveNet-like model (gated residual blocks,
//! summed skip outputs, a head), a TCN-like one (weight-normalised temporal blocks with
//! downsampled shortcuts) and an ESPNet-like causal one (parallel rates, hierarchical adds,
//! concat, batch norm, PReLU) give, pushed one frame or one chunk at a time, what the
//! whole-signal forward gives. Models that cannot stream are refused, naming the op.

use dilated_core::conv::Rank;
use dilated_core::model::{Model, ModelBuilder, ModelError, ModelGraph, WeightNorm};
use dilated_core::stream::{ENGINE_MIN_FRAMES, StreamError};
use dilated_core::weights::Weights;
use dilated_core::{Activation, ConvDesc};
use proptest::prelude::*;

fn signal(channels: usize, len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..channels * len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Every tensor perturbed around its default, batch-norm variances in [0.5, 2].
fn perturbed(graph: &ModelGraph, seed: u64) -> Model {
    let base = graph.init(seed).unwrap().to_weights().unwrap();
    let noise = signal(1, 1 << 16, seed ^ 0x77);
    let mut k = 0;
    let mut next = || {
        k = (k + 1) % noise.len();
        noise[k]
    };
    let mut w = Weights::new();
    for p in graph.parameters() {
        let v = base
            .get(&p.name)
            .unwrap()
            .unwrap()
            .iter()
            .map(|&x| {
                if p.name.ends_with("running_var") {
                    1.25 + 0.75 * next()
                } else {
                    x * (1.0 + 0.5 * next()) + 0.1 * next()
                }
            })
            .collect();
        w.insert(p.name.clone(), p.shape.clone(), v).unwrap();
    }
    graph.from_weights(w).unwrap()
}

/// WaveNet: a causal input conv, gated residual blocks at `rates` (kernel 2) whose 1×1
/// residual and skip convs read the gate, the skips summed, ReLU, 1×1, ReLU, 1×1.
fn wavenet(cin: usize, res: usize, skip: usize, rates: &[usize]) -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, cin);
    let x = b.input();
    let mut h = b
        .conv(
            x,
            "start",
            ConvDesc::causal_1d(cin, res, 2, 1),
            WeightNorm::None,
        )
        .unwrap();
    let mut skips = Vec::new();
    for (i, &rate) in rates.iter().enumerate() {
        let z = b
            .conv(
                h,
                &format!("blocks.{i}.dilated"),
                ConvDesc::causal_1d(res, 2 * res, 2, rate),
                WeightNorm::None,
            )
            .unwrap();
        let g = b.gate(z).unwrap();
        let r = b
            .conv(
                g,
                &format!("blocks.{i}.res"),
                ConvDesc::causal_1d(res, res, 1, 1),
                WeightNorm::None,
            )
            .unwrap();
        let s = b
            .conv(
                g,
                &format!("blocks.{i}.skip"),
                ConvDesc::causal_1d(res, skip, 1, 1),
                WeightNorm::None,
            )
            .unwrap();
        h = b.add(&[h, r], Activation::Identity).unwrap();
        skips.push(s);
    }
    let s = b.add(&skips, Activation::Relu).unwrap();
    let mut d = ConvDesc::causal_1d(skip, skip, 1, 1);
    d.activation = Activation::Relu;
    let s = b.conv(s, "head.0", d, WeightNorm::None).unwrap();
    let y = b
        .conv(
            s,
            "head.2",
            ConvDesc::causal_1d(skip, cin, 1, 1),
            WeightNorm::None,
        )
        .unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

/// Bai et al.'s TCN: a TemporalBlock per level (two weight-normalised causal convs, ReLU,
/// dropout; a 1×1 downsample where the channels change; ReLU after the add).
fn tcn(cin: usize, widths: &[usize], kernel: usize) -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, cin);
    let mut x = b.input();
    let mut c = cin;
    for (i, &w) in widths.iter().enumerate() {
        let rate = 1 << i;
        let p = format!("network.{i}");
        let h = b
            .conv(
                x,
                &format!("{p}.conv1"),
                ConvDesc::causal_1d(c, w, kernel, rate),
                WeightNorm::Parametrization,
            )
            .unwrap();
        let h = b.activation(h, Activation::Relu).unwrap();
        let h = b.dropout(h).unwrap();
        let h = b
            .conv(
                h,
                &format!("{p}.conv2"),
                ConvDesc::causal_1d(w, w, kernel, rate),
                WeightNorm::Legacy,
            )
            .unwrap();
        let h = b.activation(h, Activation::Relu).unwrap();
        let h = b.dropout(h).unwrap();
        let shortcut = if c == w {
            x
        } else {
            b.conv(
                x,
                &format!("{p}.downsample"),
                ConvDesc::causal_1d(c, w, 1, 1),
                WeightNorm::None,
            )
            .unwrap()
        };
        x = b.add(&[h, shortcut], Activation::Relu).unwrap();
        c = w;
    }
    b.output(x).unwrap();
    b.build().unwrap()
}

/// A causal ESP module: 1×1 reduction, parallel rates 1, 2, 4, 8, hierarchical adds,
/// concat, residual add, batch norm, PReLU.
fn esp_causal(c: usize) -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, c);
    let x = b.input();
    let n = c / 4;
    let r = b
        .conv(x, "c1", ConvDesc::causal_1d(c, n, 1, 1), WeightNorm::None)
        .unwrap();
    let d: Vec<_> = [1, 2, 4, 8]
        .iter()
        .map(|&rate| {
            let mut desc = ConvDesc::causal_1d(n, n, 3, rate);
            desc.bias = false;
            b.conv(r, &format!("d{rate}"), desc, WeightNorm::None)
                .unwrap()
        })
        .collect();
    let a2 = b.add(&[d[1], d[2]], Activation::Identity).unwrap();
    let a3 = b.add(&[a2, d[3]], Activation::Identity).unwrap();
    let cat = b.concat(&[d[0], d[1], a2, a3]).unwrap();
    let y = b.add(&[x, cat], Activation::Identity).unwrap();
    let y = b.batch_norm(y, "bn", 1e-3).unwrap();
    let y = b.prelu(y, "act", c).unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

/// Streams `model` frame by frame and in chunks of `chunk` frames and compares both with
/// the whole-signal forward.
fn check_stream(model: &Model, len: usize, chunk: usize, seed: u64) {
    let (cin, cout) = (model.graph().in_channels(), model.graph().out_channels());
    let x = signal(cin, len, seed);
    let whole = model.forward_nchw(1, &x).unwrap();
    let tol = |w: f32| 1e-4 * (1.0 + w.abs());
    let mut stream = model.stream().unwrap();
    for t in 0..len {
        let frame: Vec<f32> = (0..cin).map(|c| x[c * len + t]).collect();
        let y = stream.push(&frame).unwrap();
        for c in 0..cout {
            let w = whole[c * len + t];
            assert!(
                (y[c] - w).abs() <= tol(w),
                "frame {t} channel {c}: {} vs {w}",
                y[c]
            );
        }
    }
    assert_eq!(stream.frames_seen(), len as u64);
    stream.reset();
    let mut t0 = 0;
    while t0 < len {
        let n = chunk.min(len - t0);
        let part: Vec<f32> = (0..cin)
            .flat_map(|c| x[c * len + t0..c * len + t0 + n].to_vec())
            .collect();
        let mut out = vec![0.0; cout * n];
        assert_eq!(stream.push_chunk(&part, &mut out).unwrap(), n);
        for c in 0..cout {
            for t in 0..n {
                let w = whole[c * len + t0 + t];
                let g = out[c * n + t];
                assert!((g - w).abs() <= tol(w), "chunk at {t0}, {t}: {g} vs {w}");
            }
        }
        t0 += n;
    }
}

#[test]
fn wavenet_streams_as_the_whole_signal() {
    let rates = [1, 2, 4, 8, 16, 1, 2, 4, 8, 16];
    let graph = wavenet(2, 8, 12, &rates);
    let model = perturbed(&graph, 1);
    let stream = model.stream().unwrap();
    // The start conv (kernel 2) and the dilated convs: 1 + 1 + 2·(1 + 2 + 4 + 8 + 16).
    assert_eq!(stream.receptive_field(), 1 + 1 + 2 * 31);
    // History: 1 frame of 2 channels, then rate frames of 8 per block.
    assert_eq!(stream.history_len(), 2 + 8 * 2 * 31);
    check_stream(&model, 200, 37, 5);
}

/// Single frames, chunks run frame by frame (under `ENGINE_MIN_FRAMES`) and chunks run
/// through the engine, mixed in one signal — chunks shorter and longer than the deepest
/// layer's history (32 frames at rate 16): each path leaves the state the next one
/// continues from.
#[test]
fn frames_and_both_chunk_paths_continue_one_signal() {
    let rates = [1, 2, 4, 8, 16, 1, 2, 4, 8, 16];
    let model = perturbed(&wavenet(2, 8, 12, &rates), 11);
    let (cin, cout, len) = (2, model.graph().out_channels(), 400);
    let x = signal(cin, len, 12);
    let whole = model.forward_nchw(1, &x).unwrap();
    let mut stream = model.stream().unwrap();
    let pieces = [
        1,
        ENGINE_MIN_FRAMES,
        3,
        50,
        1,
        1,
        20,
        ENGINE_MIN_FRAMES - 1,
        100,
        7,
    ];
    let (mut t0, mut i) = (0, 0);
    while t0 < len {
        let n = pieces[i % pieces.len()].min(len - t0);
        i += 1;
        let part: Vec<f32> = (0..cin)
            .flat_map(|c| x[c * len + t0..c * len + t0 + n].to_vec())
            .collect();
        let mut out = vec![f32::NAN; cout * n];
        if n == 1 {
            out.copy_from_slice(stream.push(&part).unwrap());
        } else {
            assert_eq!(stream.push_chunk(&part, &mut out).unwrap(), n);
        }
        for c in 0..cout {
            for t in 0..n {
                let (g, w) = (out[c * n + t], whole[c * len + t0 + t]);
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "piece {i} ({n} frames) at {t0}, channel {c}, frame {t}: {g} vs {w}"
                );
            }
        }
        t0 += n;
    }
    assert_eq!(stream.frames_seen(), len as u64);
    // A chunk no memory holds is an error (refused before the allocator is asked); the
    // stream goes on.
    assert!(stream.reserve_chunk(1 << 59).is_err());
    assert!(stream.reserve_chunk(usize::MAX / 4).is_err());
    stream.reserve_chunk(64).unwrap();
}

/// A model stream's threshold reaches every chain: `usize::MAX` gives the frame path's
/// bits for a chunk, 1 runs a 5-frame chunk through the engine (whole-signal values).
#[test]
fn the_model_stream_threshold_picks_the_path() {
    let model = perturbed(&wavenet(2, 8, 12, &[1, 2, 4, 8]), 13);
    let (cin, cout, len) = (2, model.graph().out_channels(), 5);
    let x = signal(cin, len, 14);
    let whole = model.forward_nchw(1, &x).unwrap();
    let mut by_frame = model.stream().unwrap();
    let mut framed = vec![0.0; cout * len];
    for t in 0..len {
        let frame: Vec<f32> = (0..cin).map(|c| x[c * len + t]).collect();
        for (c, &v) in by_frame.push(&frame).unwrap().iter().enumerate() {
            framed[c * len + t] = v;
        }
    }
    let mut never = model.stream().unwrap().with_engine_min_frames(usize::MAX);
    assert_eq!(never.engine_min_frames(), usize::MAX);
    let mut y = vec![0.0; cout * len];
    never.push_chunk(&x, &mut y).unwrap();
    assert_eq!(y, framed);
    let mut always = model.stream().unwrap().with_engine_min_frames(1);
    always.push_chunk(&x, &mut y).unwrap();
    for (i, (a, w)) in y.iter().zip(&whole).enumerate() {
        assert!((a - w).abs() <= 1e-4 * (1.0 + w.abs()), "{i}: {a} vs {w}");
    }
}

#[test]
fn tcn_streams_as_the_whole_signal() {
    let graph = tcn(3, &[6, 6, 4], 3);
    let model = perturbed(&graph, 2);
    // Two convs of kernel 3 per level at rates 1, 2, 4: 1 + 2·2·(1 + 2 + 4).
    assert_eq!(model.stream().unwrap().receptive_field(), 1 + 4 * 7);
    check_stream(&model, 120, 16, 6);
}

#[test]
fn esp_module_streams_as_the_whole_signal() {
    let model = perturbed(&esp_causal(8), 3);
    check_stream(&model, 90, 7, 7);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random WaveNet and TCN shapes stream as the whole signal does.
    #[test]
    fn random_causal_models_stream_as_the_whole_signal(
        rates in prop::collection::vec(1..9usize, 1..5),
        widths in prop::collection::vec(1..7usize, 1..4),
        cin in 1..4usize,
        res in 1..6usize,
        kernel in 1..4usize,
        len in 1..60usize,
        chunk in 1..40usize,
        seed in any::<u64>(),
    ) {
        check_stream(&perturbed(&wavenet(cin, res, res + 1, &rates), seed), len, chunk, seed);
        check_stream(&perturbed(&tcn(cin, &widths, kernel), seed), len, chunk, seed ^ 1);
    }
}

#[test]
fn models_that_cannot_stream_are_refused_naming_the_op() {
    // A `same`-padded conv reads the future.
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let h = b
        .conv(x, "ok", ConvDesc::causal_1d(2, 2, 2, 1), WeightNorm::None)
        .unwrap();
    let mut same = ConvDesc::causal_1d(2, 2, 3, 2);
    same.padding = [[0, 0], [2, 2]];
    let h = b.conv(h, "blocks.1.conv", same, WeightNorm::None).unwrap();
    b.output(h).unwrap();
    match b.build().unwrap().init(0).unwrap().stream() {
        Err(ModelError::NotCausal {
            op,
            source: StreamError::NotCausal { .. },
        }) => {
            assert_eq!(op, "conv `blocks.1.conv`");
        }
        other => panic!("{other:?}"),
    }
    // A global pool.
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let p = b.global_avg_pool(x).unwrap();
    let y = b.broadcast(p, x).unwrap();
    b.output(y).unwrap();
    assert!(matches!(
        b.build().unwrap().init(0).unwrap().stream(),
        Err(ModelError::NotStreamable { .. })
    ));
    // 2D.
    let mut b = ModelBuilder::new(Rank::Two, 2);
    let x = b.input();
    let h = b
        .conv(x, "c", ConvDesc::same_2d(2, 2, 1, 1), WeightNorm::None)
        .unwrap();
    b.output(h).unwrap();
    assert!(matches!(
        b.build().unwrap().init(0).unwrap().stream(),
        Err(ModelError::NotStreamable { .. })
    ));
    // Bad frames and chunks.
    let mut s = perturbed(&tcn(2, &[3], 2), 0).stream().unwrap();
    assert!(matches!(
        s.push(&[1.0]),
        Err(ModelError::Stream(StreamError::FrameLength {
            expected: 2,
            actual: 1
        }))
    ));
    assert!(matches!(
        s.push_chunk(&[1.0; 3], &mut [0.0; 3]),
        Err(ModelError::Stream(StreamError::ChunkLength { .. }))
    ));
    assert!(matches!(
        s.push_chunk(&[1.0; 4], &mut [0.0; 5]),
        Err(ModelError::Stream(StreamError::OutputLength {
            expected: 6,
            ..
        }))
    ));
}

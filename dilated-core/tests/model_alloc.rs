//! `Model::forward_into` with a grown workspace, and `ModelStream` after construction,
//! allocate nothing: a counting global allocator watches a DeepLab-like 2D graph (parallel
//! branches written into concat slices, batch norms folded and standalone, image pooling)
//! and a WaveNet-like 1D graph (gates, residual adds, skip sums), on every kernel family,
//! on one thread (so no thread pool is involved).
//!
//! The counter is process-wide, so this file holds a single test.

use dilated_core::conv::Rank;
use dilated_core::engine::Kernel;
use dilated_core::model::{ModelBuilder, ModelGraph, ModelWorkspace, WeightNorm};
use dilated_core::{Activation, ConvDesc};

#[path = "support/counting.rs"]
mod counting;
use counting::allocations_during;

fn aspp() -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::Two, 8);
    let x = b.input();
    let mut branches = Vec::new();
    for (i, (k, rate)) in [(1, 1), (3, 2), (3, 4), (3, 6)].into_iter().enumerate() {
        let h = b
            .conv(
                x,
                &format!("convs.{i}.0"),
                ConvDesc::same_2d(8, 16, k, rate),
                WeightNorm::None,
            )
            .unwrap();
        let h = b.batch_norm(h, &format!("convs.{i}.1"), 1e-5).unwrap();
        branches.push(b.activation(h, Activation::Relu).unwrap());
    }
    let p = b.global_avg_pool(x).unwrap();
    let p = b
        .conv(
            p,
            "pool.1",
            ConvDesc::same_2d(8, 16, 1, 1),
            WeightNorm::None,
        )
        .unwrap();
    branches.push(b.broadcast(p, x).unwrap());
    let cat = b.concat(&branches).unwrap();
    let cat = b.batch_norm(cat, "cat_bn", 1e-5).unwrap();
    let y = b.prelu(cat, "act", 80).unwrap();
    let y = b
        .conv(
            y,
            "project",
            ConvDesc::same_2d(80, 8, 1, 1),
            WeightNorm::Parametrization,
        )
        .unwrap();
    let y = b.add(&[y, x], Activation::Relu).unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

fn wavenet() -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let mut h = b
        .conv(
            x,
            "start",
            ConvDesc::causal_1d(2, 8, 1, 1),
            WeightNorm::None,
        )
        .unwrap();
    let mut skips = Vec::new();
    for (i, rate) in [1, 2, 4, 8, 1, 2, 4, 8].into_iter().enumerate() {
        let z = b
            .conv(
                h,
                &format!("b.{i}.d"),
                ConvDesc::causal_1d(8, 16, 2, rate),
                WeightNorm::None,
            )
            .unwrap();
        let g = b.gate(z).unwrap();
        let r = b
            .conv(
                g,
                &format!("b.{i}.r"),
                ConvDesc::causal_1d(8, 8, 1, 1),
                WeightNorm::None,
            )
            .unwrap();
        skips.push(
            b.conv(
                g,
                &format!("b.{i}.s"),
                ConvDesc::causal_1d(8, 8, 1, 1),
                WeightNorm::None,
            )
            .unwrap(),
        );
        h = b.add(&[h, r], Activation::Identity).unwrap();
    }
    let s = b.add(&skips, Activation::Relu).unwrap();
    let y = b
        .conv(s, "head", ConvDesc::causal_1d(8, 2, 1, 1), WeightNorm::None)
        .unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

#[test]
fn forward_into_and_streaming_allocate_nothing_once_grown() {
    // Start rayon's global pool and wait until every worker has run: building a network
    // may start it, and its workers start (and allocate) asynchronously, inside a count.
    rayon::broadcast(|_| ());
    let families: Vec<Kernel> = Kernel::ALL
        .into_iter()
        .filter(|k| k.is_available())
        .collect();
    for kernel in families {
        for (graph, batch, hw) in [(aspp(), 2, [13, 11]), (wavenet(), 3, [1, 64])] {
            let model = graph
                .init(3)
                .and_then(|m| m.with_threads(1))
                .and_then(|m| m.with_kernel(kernel))
                .unwrap();
            let (c, out_hw) = model.output_shape(hw).unwrap();
            let x: Vec<f32> = (0..batch * graph.in_channels() * hw[0] * hw[1])
                .map(|i| (i as f32 * 0.173).sin())
                .collect();
            let mut y = vec![0.0; batch * c * out_hw[0] * out_hw[1]];
            let mut ws = ModelWorkspace::new();
            // Grow on the largest batch, then run smaller and larger ones.
            model.forward_into(batch, hw, &x, &mut y, &mut ws).unwrap();
            let first = y.clone();
            let n = allocations_during(|| {
                model.forward_into(batch, hw, &x, &mut y, &mut ws).unwrap();
            });
            assert_eq!(n, 0, "{kernel}: forward_into allocated {n} times");
            assert_eq!(y, first);
            let item = x.len() / batch;
            let mut y1 = vec![0.0; y.len() / batch];
            let n = allocations_during(|| {
                model
                    .forward_into(1, hw, &x[..item], &mut y1, &mut ws)
                    .unwrap();
            });
            assert_eq!(n, 0, "{kernel}: a smaller batch allocated {n} times");
            assert_eq!(y1, first[..y1.len()]);
        }
        // Streaming: nothing after construction and `reserve_chunk` (chunks of 32 frames
        // run through the engine, chunks of 8 frame by frame).
        // One thread: rayon's job queue, which the engine's chunks go through on more,
        // allocates a block now and then.
        let model = wavenet().init(5).unwrap().with_kernel(kernel).unwrap();
        let model = model.with_threads(1).unwrap();
        let mut stream = model.stream().unwrap();
        stream.reserve_chunk(32).unwrap();
        let chunk: Vec<f32> = (0..2 * 32).map(|i| (i as f32 * 0.1).cos()).collect();
        let mut out = vec![0.0; 2 * 32];
        let mut short_out = vec![0.0; 2 * 8];
        let mut checksum = 0.0;
        let n = allocations_during(|| {
            for t in 0..500 {
                checksum += stream.push(&[t as f32 * 0.01, 0.5]).unwrap()[0];
            }
            for _ in 0..5 {
                stream.push_chunk(&chunk, &mut out).unwrap();
                checksum += out[3];
                stream.push_chunk(&chunk[..2 * 8], &mut short_out).unwrap();
                checksum += short_out[3];
            }
            stream.reset();
        });
        assert!(f32::is_finite(checksum));
        assert_eq!(n, 0, "{kernel}: the stream allocated {n} times");
    }
    // The counter does see allocations (so the zeros above mean something).
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))) > 0);
}

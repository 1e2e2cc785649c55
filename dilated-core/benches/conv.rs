//! Criterion benches of the engine for regression tracking (CI builds them with
//! `cargo bench --no-run`; the side-by-side figures come from `examples/bench.rs`).
//! Shapes are the peers' S1, S3, S4 and S6 at reduced sizes so a run stays short.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dilated_core::conv::Conv;
use dilated_core::conv::{Activation, ConvDesc};
use dilated_core::engine::{Kernel, Network, Workspace};
use std::hint::black_box;

fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn layer(desc: ConvDesc) -> Conv {
    let w = data(desc.weight_len().unwrap(), 1);
    Conv::new(desc, w, Some(data(desc.out_channels, 2))).unwrap()
}

fn bench_shape(c: &mut Criterion, name: &str, layers: Vec<Conv>, hw: [usize; 2]) {
    let cin = layers[0].desc().in_channels;
    let mut flops = 0u64;
    let mut cur = hw;
    for l in &layers {
        let d = l.desc();
        let out = d.output_size(cur).unwrap();
        flops += 2
            * (d.out_channels * out[0] * out[1] * d.in_per_group() * d.kernel[0] * d.kernel[1])
                as u64;
        cur = out;
    }
    let x = data(ConvDesc::nchw_len(1, cin, hw).unwrap(), 3);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(flops));
    for kernel in [Kernel::Avx512, Kernel::Avx2, Kernel::Portable] {
        if !kernel.is_available() {
            continue;
        }
        let net = Network::new(layers.clone())
            .unwrap()
            .with_kernel(kernel)
            .unwrap()
            .with_threads(1)
            .unwrap();
        let out_hw = net.output_size(hw).unwrap();
        let mut y = vec![0.0; ConvDesc::nchw_len(1, net.out_channels(), out_hw).unwrap()];
        let mut ws = Workspace::new();
        group.bench_function(kernel.name(), |b| {
            b.iter(|| {
                net.forward_into(1, hw, black_box(&x), &mut y, &mut ws)
                    .unwrap();
                black_box(&y);
            });
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_shape(
        c,
        "dense_64x64_d2",
        vec![layer(ConvDesc::same_2d(64, 64, 3, 2))],
        [64, 64],
    );
    bench_shape(
        c,
        "depthwise_128_d2",
        vec![layer(ConvDesc {
            groups: 128,
            ..ConvDesc::same_2d(128, 128, 3, 2)
        })],
        [64, 64],
    );
    bench_shape(
        c,
        "conv1d_64_d8",
        vec![layer(ConvDesc::causal_1d(64, 64, 3, 8))],
        [1, 4096],
    );
    let mut stack = Vec::new();
    for (i, d) in [1, 2, 5].into_iter().enumerate() {
        let mut desc = ConvDesc::same_2d(16, 16, 3, d);
        if i < 2 {
            desc.activation = Activation::Relu;
        }
        stack.push(layer(desc));
    }
    bench_shape(c, "stack_16ch_1_2_5", stack, [128, 128]);
}

criterion_group! {
    name = conv;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(conv);

//! Criterion benches of the schedule engine: the hole verdict, the full report, exact
//! counts and suggestions, on the shapes of `examples/schedule_bench.rs`.
//!
//! `cargo bench -p dilated-core --bench schedule`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dilated_core::schedule::{
    AxisSpec, Options, Schedule, SuggestRequest, analyze, coverage_u128, reach, suggest,
};

/// Deterministic rates in `1..=max`.
fn rates(n: usize, max: u64, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1 + (x >> 33) % max
        })
        .collect()
}

fn layers(rates: &[u64]) -> Vec<AxisSpec> {
    rates.iter().map(|&r| AxisSpec::new(3, r)).collect()
}

fn verdict(c: &mut Criterion) {
    let mut g = c.benchmark_group("verdict");
    let deep = layers(&rates(1000, 10_000, 42));
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 layers, rates up to 10000", |b| {
        b.iter(|| reach(black_box(&deep)).unwrap())
    });
    let mut odd_end: Vec<AxisSpec> = rates(1000, 5_000, 7)
        .iter()
        .map(|&r| AxisSpec::new(3, 2 * r))
        .collect();
    odd_end.push(AxisSpec::new(3, 1));
    g.bench_function("1000 even rates then rate 1", |b| {
        b.iter(|| reach(black_box(&odd_end)).unwrap())
    });
    let hdc = layers(&[1, 2, 5, 1, 2, 5]);
    g.bench_function("[1, 2, 5, 1, 2, 5]", |b| {
        b.iter(|| reach(black_box(&hdc)).unwrap())
    });
    g.finish();
}

fn report(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyze");
    let deep = Schedule::uniform(3, &rates(1000, 10_000, 42));
    let opts = Options {
        coverage: false,
        ..Options::default()
    };
    g.bench_function("1000 layers with fixes", |b| {
        b.iter(|| analyze(black_box(&deep), &opts).unwrap())
    });
    let grid = Schedule::uniform(3, &[2, 4, 8]);
    g.bench_function("[2, 4, 8] with counts and fixes", |b| {
        b.iter(|| analyze(black_box(&grid), &Options::default()).unwrap())
    });
    g.finish();
}

fn counts(c: &mut Criterion) {
    let mut g = c.benchmark_group("coverage");
    g.sample_size(20);
    let mut r = rates(64, 1_560, 3);
    r[0] = 1;
    let l = layers(&r);
    g.bench_function("64 layers, RF ~100000, u128", |b| {
        b.iter(|| coverage_u128(black_box(&l)).unwrap())
    });
    g.finish();
}

fn suggestions(c: &mut Criterion) {
    let mut g = c.benchmark_group("suggest");
    g.bench_function("k 3, 6 layers, RF 64", |b| {
        b.iter(|| suggest(black_box(&SuggestRequest::new(3, 6, 64))).unwrap())
    });
    g.bench_function("k 3, 1000 layers, RF 2^24", |b| {
        b.iter(|| suggest(black_box(&SuggestRequest::new(3, 1000, 1 << 24))).unwrap())
    });
    g.finish();
}

criterion_group!(benches, verdict, report, counts, suggestions);
criterion_main!(benches);

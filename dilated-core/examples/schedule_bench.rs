//! Timings of the schedule engine (medians over several runs):
//!
//! - the verdict (receptive field, holes, HDC figures) of a 1,000-layer schedule with rates
//!   up to 10,000 — target under 1 s;
//! - the same through `analyze` (report, diagnostics, bounded fix search);
//! - 1,000 even rates (every offset of one parity is a hole), and the same followed by
//!   one rate 1 (the common factor breaks at the last layer);
//! - exact coverage counts (`u128`) of a 64-layer schedule with a receptive field near
//!   100,000 — target under 1 s;
//! - `suggest` for 1,000 layers.
//!
//! `cargo run --release -p dilated-core --example schedule_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use dilated_core::schedule::{
    AxisSpec, Options, Schedule, SuggestRequest, analyze, coverage_u128, hdc, reach,
    receptive_field, suggest,
};

/// A small deterministic generator (no dependency needed for a benchmark input).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        1 + (self.0 >> 33) % max
    }
}

fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let mut rng = Lcg(42);
    let rates: Vec<u64> = (0..1000).map(|_| rng.next(10_000)).collect();
    let layers: Vec<AxisSpec> = rates.iter().map(|&r| AxisSpec::new(3, r)).collect();
    let r = reach(&layers).expect("verdict");
    println!(
        "1000 layers, rates 1..=10000 (max {}): receptive field {}, {} holes",
        rates.iter().max().unwrap(),
        r.receptive_field,
        r.hole_count
    );
    let t = median(7, || {
        let r = reach(&layers).unwrap();
        let h = hdc(&layers);
        (r, h)
    });
    println!(
        "verdict (reach + hdc)                      median_ms={:.3}",
        ms(t)
    );
    let schedule = Schedule::uniform(3, &rates);
    let opts = Options {
        coverage: false,
        ..Options::default()
    };
    let t = median(7, || analyze(&schedule, &opts).unwrap());
    let rep = analyze(&schedule, &opts).unwrap();
    println!(
        "analyze (report, {} diagnostics, {} fixes)   median_ms={:.3}",
        rep.diagnostics.len(),
        rep.suggestions.len(),
        ms(t)
    );

    // The layer limit: 10,000 layers, rates up to 1,000, through `analyze`.
    let rates10k: Vec<u64> = (0..10_000).map(|_| rng.next(1_000)).collect();
    let schedule10k = Schedule::uniform(3, &rates10k);
    let t = median(5, || analyze(&schedule10k, &opts).unwrap());
    let rep = analyze(&schedule10k, &opts).unwrap();
    println!(
        "analyze 10000 layers (RF {}, {} holes, {} fixes) median_ms={:.3}",
        rep.receptive_field(),
        rep.axes[0].reach.hole_count,
        rep.suggestions.len(),
        ms(t)
    );

    // Even rates: the reachable set never fills, every layer shifts the whole bit set.
    let even: Vec<AxisSpec> = (0..1000)
        .map(|_| AxisSpec::new(3, 2 * rng.next(5_000)))
        .collect();
    let r = reach(&even).unwrap();
    let t = median(5, || reach(&even).unwrap());
    println!(
        "worst case, 1000 even rates (RF {}, {} holes) median_ms={:.3}",
        r.receptive_field,
        r.hole_count,
        ms(t)
    );

    // The same, then one odd rate: the gcd drops at the last layer and the bits spread.
    let mut odd_end = even.clone();
    odd_end.push(AxisSpec::new(3, 1));
    let r = reach(&odd_end).unwrap();
    let t = median(5, || reach(&odd_end).unwrap());
    println!(
        "1000 even rates then rate 1 (RF {}, {} holes) median_ms={:.3}",
        r.receptive_field,
        r.hole_count,
        ms(t)
    );

    // 64 layers, receptive field near 100,000.
    let mut rates64: Vec<u64> = (0..64).map(|_| rng.next(1_560)).collect();
    rates64[0] = 1;
    let layers64: Vec<AxisSpec> = rates64.iter().map(|&r| AxisSpec::new(3, r)).collect();
    let rf = receptive_field(&layers64).unwrap();
    let c = coverage_u128(&layers64).expect("counts");
    let t = median(7, || coverage_u128(&layers64).unwrap());
    println!(
        "exact counts, 64 layers, RF {rf} (max count {:.3e}) median_ms={:.3}",
        *c.counts.iter().max().unwrap() as f64,
        ms(t)
    );

    let t = median(7, || {
        suggest(&SuggestRequest::new(3, 1000, 1 << 24)).unwrap()
    });
    let s = suggest(&SuggestRequest::new(3, 1000, 1 << 24)).unwrap();
    println!(
        "suggest 1000 layers, RF >= 2^24 (best max rate {}) median_ms={:.3}",
        s[0].max_rate,
        ms(t)
    );
}

//! A causal WaveNet/TCN-style 1D stack — kernel 2, rates 1, 2, 4, …, 512, receptive field
//! 1,024 samples — run on a whole signal and streamed sample by sample with per-layer ring
//! buffers whose sizes come from the receptive field.
//!
//! ```text
//! cargo run --release --example wavenet
//! cargo run --release --example wavenet -- --samples 48000 --chunk 480
//! cargo run --release --example wavenet -- --weights wave.safetensors   # trained in PyTorch
//! ```
//!
//! The stack is declared with `dilated_stack!` (causal padding `d·(k − 1)` on the left, so
//! output `t` reads inputs `t − 1023 ..= t` only; the macro checks the schedule has no
//! holes) with seeded weights (or weights saved from its PyTorch twin, `--weights`), and the input is a synthesised chirp (a 16 kHz signal sweeping
//! 50 Hz → 4 kHz, plus a little deterministic noise). The example
//!
//! 1. runs the whole signal through the typed network (`Tensor1d<1, _>` → `Tensor1d<1, _>`);
//! 2. streams it through `dilated::stream::CausalStream`, one sample per `push`, and in
//!    chunks (`push_chunk`), and checks both give the whole-signal output (within 1e-5 of
//!    its largest value; an error and exit code 1 otherwise);
//! 3. prints each layer's ring buffer (`d·(k − 1)` frames of its input channels: together
//!    `receptive field − 1` frames), the stream's memory next to the whole-signal
//!    activations', and the time per sample (latency 0: output `t` is ready when sample
//!    `t` is pushed).
//!
//! Bad input — a missing, truncated or misshapen weights file, a path that cannot be
//! written — ends with one `error: …` line and exit code 1.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dilated::stream::CausalStream;
use dilated::{DYN, Tensor1d};

mod common;
use common::{WeightsArgs, max_abs_diff, median};

dilated::dilated_stack! {
    /// A causal stack of ten kernel-2 layers with doubling rates and a 1×1 head.
    pub struct Wave {
        input: [1, _],
        layers: [
            conv(1 -> 16, kernel: 2, rate: 1, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 2, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 4, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 8, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 16, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 32, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 64, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 128, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 256, padding: causal), tanh,
            conv(16 -> 16, kernel: 2, rate: 512, padding: causal), tanh,
            conv(16 -> 1, kernel: 1, padding: causal),
        ],
    }
}

// 1 + Σ d·(k − 1) = 1 + (1 + 2 + … + 512), checked when the example compiles.
const _: () = assert!(Wave::RECEPTIVE_FIELD == 1024);

const RATE_HZ: f64 = 16_000.0;

/// Runs a causal dilated 1D stack on a chirp, whole and streamed.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Length of the signal in samples (16 kHz).
    #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    samples: u32,
    /// Samples per chunk for the chunked run.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    chunk: u32,
    /// Seed of the weights.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[command(flatten)]
    weights: WeightsArgs,
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// A linear chirp from 50 Hz to 4 kHz with a little deterministic noise.
fn chirp(n: usize) -> Vec<f32> {
    let duration = n as f64 / RATE_HZ;
    let (f0, f1) = (50.0, 4_000.0);
    let mut state: u32 = 0x9E37_79B9;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE_HZ;
            let phase =
                2.0 * std::f64::consts::PI * (f0 * t + (f1 - f0) * t * t / (2.0 * duration));
            // xorshift32 noise in [-0.05, 0.05].
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (f64::from(state) / f64::from(u32::MAX) - 0.5) * 0.1;
            (0.8 * phase.sin() + noise) as f32
        })
        .collect()
}

fn run(args: &Args) -> Result<(), String> {
    let n = args.samples as usize;
    let chunk = args.chunk as usize;
    let net = args.weights.load_or_seed(
        |p| Wave::from_safetensors(p),
        || Wave::new_seeded(args.seed),
    )?;
    args.weights.save(|path| net.save_safetensors(path))?;
    let signal = chirp(n);
    println!(
        "causal stack: {} convolutions, kernel 2, rates {:?}, receptive field {} samples ({:.1} ms at 16 kHz)",
        Wave::LAYERS.len(),
        &Wave::RATES[..Wave::RATES.len() - 1],
        Wave::RECEPTIVE_FIELD,
        Wave::RECEPTIVE_FIELD as f64 / RATE_HZ * 1e3
    );

    // 1. The whole signal through the typed network.
    let x = Tensor1d::<1, DYN>::from_slice(1, n, &signal).map_err(|e| format!("input: {e}"))?;
    let mut whole = Vec::new();
    let mut times = Vec::new();
    // One warm-up run, then the median of five.
    for _ in 0..6 {
        let t0 = Instant::now();
        whole = net
            .forward(&x)
            .map_err(|e| format!("running the whole signal: {e}"))?
            .into_vec();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.remove(0);
    let whole_ms = median(times);

    // 2. Streamed, one sample per push.
    let mut stream = CausalStream::new(net.stack().network())
        .map_err(|e| format!("building the stream: {e}"))?;
    let mut streamed = Vec::with_capacity(n);
    let mut per_push_ns = Vec::with_capacity(n);
    let t0 = Instant::now();
    for &s in &signal {
        let t = Instant::now();
        let y = stream.push(&[s]).map_err(|e| format!("streaming: {e}"))?;
        per_push_ns.push(t.elapsed().as_nanos());
        streamed.push(y[0]);
    }
    let stream_ms = t0.elapsed().as_secs_f64() * 1e3;
    per_push_ns.sort_unstable();

    //    … and in chunks, from a fresh state.
    stream.reset();
    let mut chunked = vec![0.0; n];
    for (inp, out) in signal.chunks(chunk).zip(chunked.chunks_mut(chunk)) {
        stream
            .push_chunk(inp, out)
            .map_err(|e| format!("streaming chunks: {e}"))?;
    }

    let scale = whole.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let tolerance = 1e-5 * scale.max(1.0);
    for (what, got) in [("sample by sample", &streamed), ("in chunks", &chunked)] {
        let (d, _) = max_abs_diff(&whole, got);
        if d.is_nan() || d > tolerance {
            return Err(format!(
                "streaming {what} differs from the whole-signal output by {d:e} (tolerance {tolerance:e})"
            ));
        }
        println!("streamed {what:<17} max |stream − whole| = {d:.2e} (largest output {scale:.3})");
    }

    // 3. The ring buffers.
    println!("\nring buffers (frames = d·(k − 1); the stream keeps nothing else of the past):");
    println!("  layer  rate  frames  channels  floats");
    let mut frames = 0;
    for b in stream.buffers() {
        frames += b.frames;
        println!(
            "  {:>5}  {:>4}  {:>6}  {:>8}  {:>6}",
            b.layer + 1,
            b.dilation,
            b.frames,
            b.channels,
            b.len()
        );
    }
    if frames + 1 != Wave::RECEPTIVE_FIELD || stream.receptive_field() != Wave::RECEPTIVE_FIELD {
        return Err(format!(
            "the ring buffers hold {frames} frames, the receptive field is {}",
            Wave::RECEPTIVE_FIELD
        ));
    }
    let whole_bytes = n * 16 * 2 * size_of::<f32>();
    println!(
        "  total  {frames} frames = receptive field − 1; history {} floats; stream memory {:.1} KiB \
         with weights, vs {:.1} KiB for two whole-signal activations of {n} samples",
        stream.history_len(),
        stream.memory_bytes() as f64 / 1024.0,
        whole_bytes as f64 / 1024.0
    );

    let pct = |p: usize| per_push_ns[(per_push_ns.len() - 1) * p / 100];
    println!(
        "\nlatency: {} samples; time per sample: median {} ns, p99 {} ns ({:.0}× real time at \
         16 kHz)",
        stream.latency(),
        pct(50),
        pct(99),
        (1e9 / RATE_HZ) / pct(50).max(1) as f64
    );
    println!(
        "whole signal of {n} samples: {whole_ms:.2} ms ({:.0} ns per sample, median of 5); \
         streamed: {stream_ms:.2} ms",
        whole_ms * 1e6 / n as f64
    );
    Ok(())
}

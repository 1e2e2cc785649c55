//! Whole-graph forward against the same convolutions run as separate stacks.
//!
//! Builds a WaveNet-style graph with [`ModelBuilder`] (gated residual blocks, kernel 2,
//! causal, rates 1…512, a 1×1 residual and a 1×1 skip conv per block, the skip sum, a
//! ReLU and a 1×1 head), times `Model::forward_into`, then times every one of its
//! convolutions as its own one-layer engine `Network` (`forward_into`, its own buffers)
//! and prints both. The graph's adds, gates and skip sum are extra work the separate
//! stacks do not do, so "the model is not slower" means its time is at most the sum of
//! the convs'.
//!
//! ```sh
//! cargo run --release -p dilated-core --example model_overhead -- [--threads T] [--length L] \
//!     [--channels C] [--blocks B] [--levels R]
//! ```
//! The last line is `model_ms=<f> separate_convs_ms=<f> ratio=<f>`.

use std::time::Instant;

use dilated_core::conv::Rank;
use dilated_core::engine::{Network, Workspace};
use dilated_core::model::{ModelBuilder, ModelWorkspace, WeightNorm};
use dilated_core::{Activation, Conv, ConvDesc};

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .ok_or_else(|| format!("{name} needs a value"))?
            .parse()
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// The median of `runs` timings of `f` in ms, after two warm-up calls.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads = arg("--threads", 1)?;
    let length = arg("--length", 16_384)?;
    let c = arg("--channels", 32)?;
    let blocks = arg("--blocks", 10)?;
    // Rates 1, 2, 4, … up to 2^(levels − 1), then again from 1.
    let levels = arg("--levels", 10)?.clamp(1, 20);
    let skip = 2 * c;

    // The graph, and beside it the list of its convs (for the separate stacks).
    let mut descs: Vec<ConvDesc> = Vec::new();
    let mut b = ModelBuilder::new(Rank::One, 1);
    let mut conv = |b: &mut ModelBuilder, from, name: &str, d: ConvDesc| {
        descs.push(d);
        b.conv(from, name, d, WeightNorm::None)
    };
    let x = b.input();
    let mut h = conv(&mut b, x, "input", ConvDesc::causal_1d(1, c, 2, 1))?;
    let mut skips = Vec::with_capacity(blocks);
    for i in 0..blocks {
        let rate = 1 << (i % levels);
        let z = conv(
            &mut b,
            h,
            &format!("blocks.{i}.dilated"),
            ConvDesc::causal_1d(c, 2 * c, 2, rate),
        )?;
        let g = b.gate(z)?;
        let r = conv(
            &mut b,
            g,
            &format!("blocks.{i}.res"),
            ConvDesc::causal_1d(c, c, 1, 1),
        )?;
        let s = conv(
            &mut b,
            g,
            &format!("blocks.{i}.skip"),
            ConvDesc::causal_1d(c, skip, 1, 1),
        )?;
        skips.push(s);
        h = b.add(&[h, r], Activation::Identity)?;
    }
    let s = b.add(&skips, Activation::Relu)?;
    let y = conv(&mut b, s, "head", ConvDesc::causal_1d(skip, 1, 1, 1))?;
    b.output(y)?;
    let model = b.build()?.init(7)?.with_threads(threads)?;

    let hw = [1, length];
    let input: Vec<f32> = (0..length)
        .map(|i| ((i % 97) as f32 - 48.0) / 48.0)
        .collect();
    let mut out = vec![0.0f32; length];
    let mut ws = ModelWorkspace::new();
    let runs = 11;
    let mut failed = None;
    let model_ms = median_ms(runs, || {
        if let Err(e) = model.forward_into(1, hw, &input, &mut out, &mut ws) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }

    // Every conv alone, as a one-layer stack with its own input and output buffers.
    let mut separate_ms = 0.0;
    for d in &descs {
        let w = vec![0.01f32; d.out_channels * d.in_channels * d.kernel[0] * d.kernel[1]];
        let net = Network::new(vec![Conv::new(*d, w, Some(vec![0.0; d.out_channels]))?])?
            .with_threads(threads)?;
        let x = vec![0.5f32; d.in_channels * length];
        let mut y = vec![0.0f32; d.out_channels * length];
        let mut ws = Workspace::new();
        let mut failed = None;
        separate_ms += median_ms(runs, || {
            if let Err(e) = net.forward_into(1, hw, &x, &mut y, &mut ws) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    println!(
        "WaveNet-style graph: {blocks} gated residual blocks, {c} channels, skip {skip}, \
         length {length}, {} convs, threads {threads}; medians of {runs} runs",
        descs.len()
    );
    println!(
        "model_ms={model_ms:.3} separate_convs_ms={separate_ms:.3} ratio={:.3}",
        model_ms / separate_ms
    );
    Ok(())
}

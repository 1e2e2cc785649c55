//! Residual adds inside the conv against the same graphs with the adds as their own steps.
//!
//! Builds three graphs of residual blocks with [`ModelBuilder`] — ResNet basic blocks of
//! 64 channels at 128² and of 32 channels at 256² (two 3 × 3 convs, the input added, ReLU;
//! four blocks at rates 1, 2, 3, 1), and TCN blocks of 64 channels at 32768 samples (two
//! causal kernel-3 convs, rates 1 to 128, the input added, ReLU) — and times
//! `Model::forward_into` on the plan as built (each add run inside its conv's engine call)
//! and on `ModelGraph::without_fused_adds` (each add its own step), same weights,
//! interleaved, the order swapped every round so that neither always runs second.
//!
//! ```sh
//! cargo run --release -p dilated-core --example fused_adds -- [--threads T] [--rounds N]
//! ```
//! One line per graph: `<name> fused_ms=<f> unfused_ms=<f> ratio=<f>` (medians; ratio =
//! unfused / fused, above 1 when the fused plan is faster).

use std::time::Instant;

use dilated_core::conv::Rank;
use dilated_core::model::{Model, ModelBuilder, ModelGraph, ModelWorkspace, WeightNorm};
use dilated_core::{Activation, ConvDesc};

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{name} takes a positive integer")),
    }
}

/// Residual blocks: `act(conv(act(conv(x))) + x)`, `blocks` of them.
fn blocks(rank: Rank, c: usize, rates: &[usize]) -> Result<ModelGraph, Box<dyn std::error::Error>> {
    let mut b = ModelBuilder::new(rank, c);
    let mut x = b.input();
    for (i, &rate) in rates.iter().enumerate() {
        let desc = match rank {
            Rank::One => ConvDesc::causal_1d(c, c, 3, rate),
            Rank::Two => ConvDesc::same_2d(c, c, 3, rate),
        };
        let first = ConvDesc {
            activation: Activation::Relu,
            ..desc
        };
        let h = b.conv(x, &format!("{i}.a"), first, WeightNorm::None)?;
        let h = b.conv(h, &format!("{i}.b"), desc, WeightNorm::None)?;
        x = b.add(&[h, x], Activation::Relu)?;
    }
    b.output(x)?;
    Ok(b.build()?)
}

fn time(
    model: &Model,
    hw: [usize; 2],
    x: &[f32],
    out: &mut [f32],
    ws: &mut ModelWorkspace,
) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    model.forward_into(1, hw, x, out, ws)?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads = arg("--threads", 1)?;
    let rounds = arg("--rounds", 21)?;
    let cases = [
        (
            "resnet_64ch_128x128",
            blocks(Rank::Two, 64, &[1, 2, 3, 1])?,
            [128, 128],
        ),
        (
            "resnet_32ch_256x256",
            blocks(Rank::Two, 32, &[1, 2, 3, 1])?,
            [256, 256],
        ),
        (
            "tcn_64ch_32768",
            blocks(Rank::One, 64, &[1, 2, 4, 8, 16, 32, 64, 128])?,
            [1, 32768],
        ),
    ];
    println!("threads {threads}; medians of {rounds} interleaved rounds");
    for (name, graph, hw) in cases {
        let weights = graph.init(3)?.to_weights()?;
        let fused = graph.from_weights(weights.clone())?.with_threads(threads)?;
        let unfused = graph
            .without_fused_adds()
            .from_weights(weights)?
            .with_threads(threads)?;
        let x: Vec<f32> = (0..graph.in_channels() * hw[0] * hw[1])
            .map(|i| ((i % 17) as f32 - 8.0) / 8.0)
            .collect();
        let mut out = vec![0.0; fused.output_shape(hw)?.0 * hw[0] * hw[1]];
        let (mut wf, mut wu) = (ModelWorkspace::new(), ModelWorkspace::new());
        // Warm-up: workspaces grown, pages touched.
        time(&fused, hw, &x, &mut out, &mut wf)?;
        time(&unfused, hw, &x, &mut out, &mut wu)?;
        let (mut tf, mut tu) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            if r % 2 == 0 {
                tf.push(time(&fused, hw, &x, &mut out, &mut wf)?);
                tu.push(time(&unfused, hw, &x, &mut out, &mut wu)?);
            } else {
                tu.push(time(&unfused, hw, &x, &mut out, &mut wu)?);
                tf.push(time(&fused, hw, &x, &mut out, &mut wf)?);
            }
        }
        let (f, u) = (median(tf), median(tu));
        println!(
            "{name} fused_ms={f:.3} unfused_ms={u:.3} ratio={:.3}",
            u / f
        );
    }
    Ok(())
}

//! Yu & Koltun's context module ("Multi-Scale Context Aggregation by Dilated
//! Convolutions", ICLR 2016, table 1), the *basic* variant: C channels throughout, seven
//! 3×3 layers with rates 1, 1, 2, 4, 8, 16, 1, each followed by ReLU, then a 1×1 layer.
//! Receptive field 67 × 67, at full resolution.
//!
//! ```text
//! cargo run --release --example context_module
//! cargo run --release --example context_module -- --size 128 --runs 20
//! cargo run --release --example context_module -- --weights context.safetensors
//! ```
//!
//! It declares the module with `dilated_stack!` (the macro checks the schedule: no holes),
//! then runs it on a synthetic C = 21-channel score map (the 21 classes of Pascal VOC, as
//! in the paper) two ways:
//!
//! - with the paper's **identity initialisation** (`k(a, b, t) = 1[a = 0]·1[b = t]`), built
//!   as a safetensors file in PyTorch's names and loaded with `from_safetensors_bytes`: the
//!   module passes its (non-negative) input through unchanged, which the example asserts;
//! - with seeded PyTorch-default (Kaiming uniform) weights, `new_seeded(0)` (or the
//!   weights of a `--weights` file), timed against the naive reference convolution running
//!   the same layers (and checked against it).
//!
//! What you should see: the layer table with receptive fields 3, 5, 9, 17, 33, 65, 67, 67,
//! "identity initialisation: output = input", the largest difference from the reference,
//! and the time per 21 × 64 × 64 map of both.
//!
//! Bad input — a missing, truncated or misshapen weights file (`--weights`), a path that
//! cannot be written (`--save-weights`) — ends with one `error: …` line and exit code 1.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dilated::Weights;

mod common;
use common::{WeightsArgs, max_abs_diff, median, reference_forward};

/// Classes of the score map (Pascal VOC's 21).
const C: usize = 21;

dilated::dilated_stack! {
    /// Yu & Koltun's basic context module for a 21-class score map of any size.
    pub struct ContextModule {
        input: [21, _, _],
        layers: [
            conv(21 -> 21, kernel: 3, rate: 1), relu,
            conv(21 -> 21, kernel: 3, rate: 1), relu,
            conv(21 -> 21, kernel: 3, rate: 2), relu,
            conv(21 -> 21, kernel: 3, rate: 4), relu,
            conv(21 -> 21, kernel: 3, rate: 8), relu,
            conv(21 -> 21, kernel: 3, rate: 16), relu,
            conv(21 -> 21, kernel: 3, rate: 1), relu,
            conv(21 -> 21, kernel: 1),
        ],
    }
}

// The paper's receptive field, checked when the example compiles.
const _: () = assert!(ContextModule::RECEPTIVE_FIELD == 67);

/// Runs Yu & Koltun's context module on a synthetic score map.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Height and width of the score map.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=2048))]
    size: u32,
    /// Timed runs of the runtime (the reference runs once).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    #[command(flatten)]
    weights: WeightsArgs,
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// A smooth synthetic score map: each class peaks around its own centre.
fn score_map(side: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; C * side * side];
    for c in 0..C {
        let (cy, cx) = ((c * 37 % side.max(1)) as f32, (c * 61 % side.max(1)) as f32);
        let r = (side as f32 / 6.0).max(1.0);
        for y in 0..side {
            for xx in 0..side {
                let d2 = ((y as f32 - cy).powi(2) + (xx as f32 - cx).powi(2)) / (r * r);
                x[(c * side + y) * side + xx] = (-d2).exp();
            }
        }
    }
    x
}

/// The paper's identity initialisation as a safetensors file in PyTorch's names: every
/// 3×3 kernel is 1 at its centre from channel `t` to channel `t`, every bias 0.
fn identity_weights() -> Result<Vec<u8>, dilated::Error> {
    let mut w = Weights::new();
    for spec in &ContextModule::LAYERS {
        let d = &spec.desc;
        let [kh, kw] = d.kernel;
        let mut weight = vec![0.0; d.weight_len()?];
        for t in 0..d.out_channels {
            weight[((t * d.in_per_group() + t) * kh + kh / 2) * kw + kw / 2] = 1.0;
        }
        w.insert(
            format!("{}.weight", spec.module),
            vec![d.out_channels, d.in_per_group(), kh, kw],
            weight,
        )?;
        w.insert(
            format!("{}.bias", spec.module),
            vec![d.out_channels],
            vec![0.0; d.out_channels],
        )?;
    }
    w.to_safetensors_bytes()
}

fn run(args: &Args) -> Result<(), String> {
    let side = args.size as usize;
    println!(
        "context module: {} convolutions, rates {:?}, receptive field {}",
        ContextModule::LAYERS.len(),
        ContextModule::RATES,
        ContextModule::RECEPTIVE_FIELD
    );
    println!("  layer  kernel  rate  padding  receptive field");
    let mut rf = 1;
    for (i, spec) in ContextModule::LAYERS.iter().enumerate() {
        let d = &spec.desc;
        rf += d.effective_kernel(1).map_err(|e| e.to_string())? - 1;
        println!(
            "  {:>5}  {:>6}  {:>4}  {:>7}  {:>15}",
            i + 1,
            format!("{}×{}", d.kernel[0], d.kernel[1]),
            d.dilation[1],
            ContextModule::PADDING[i][1][0],
            rf
        );
    }

    let x = score_map(side);
    let hw = [side, side];

    // Identity initialisation: the module starts as the identity.
    let bytes = identity_weights().map_err(|e| format!("building the identity weights: {e}"))?;
    let identity = ContextModule::from_safetensors_bytes(&bytes)
        .map_err(|e| format!("loading the identity weights: {e}"))?;
    let (y, out_hw) = identity
        .forward_nchw_sized(1, hw, &x)
        .map_err(|e| format!("running the module: {e}"))?;
    // Equal up to rounding: the Winograd layers (AVX-512) compute each tap as a sum of
    // transformed terms, exact for the direct kernels.
    let largest = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (moved, _) = max_abs_diff(&y, &x);
    if out_hw != hw || moved.is_nan() || moved > 1e-6 * largest {
        return Err(format!(
            "the identity-initialised module changed its input by up to {moved:e} \
             (largest input {largest:e})"
        ));
    }
    println!(
        "\nidentity initialisation: output = input on the {C} × {side} × {side} score map \
         (largest difference {moved:.1e}, rounding)"
    );

    // Seeded default initialisation (or the given weights), against the naive reference.
    let net = args.weights.load_or_seed(
        |p| ContextModule::from_safetensors(p),
        || ContextModule::new_seeded(0),
    )?;
    args.weights.save(|path| net.save_safetensors(path))?;
    let (y, _) = net
        .forward_nchw_sized(1, hw, &x)
        .map_err(|e| format!("running the module: {e}"))?;
    let t0 = Instant::now();
    let reference = reference_forward(net.stack().layers(), 1, hw, &x)
        .map_err(|e| format!("running the reference: {e}"))?;
    let reference_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (diff, _) = max_abs_diff(&y, &reference);
    let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if diff.is_nan() || diff > 1e-4 * scale.max(1.0) {
        return Err(format!(
            "the runtime differs from the reference by {diff:e} (largest value {scale:e})"
        ));
    }
    let mut ms = Vec::new();
    for _ in 0..args.runs {
        let t0 = Instant::now();
        let out = net
            .forward_nchw_sized(1, hw, &x)
            .map_err(|e| format!("running the module: {e}"))?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(out);
    }
    let runtime_ms = median(ms);
    let macs: usize = net
        .stack()
        .layers()
        .iter()
        .map(|l| {
            let d = l.desc();
            d.out_channels * d.in_per_group() * d.kernel[0] * d.kernel[1] * side * side
        })
        .sum();
    println!(
        "{} weights: max |runtime − reference| = {diff:.2e} (largest value {scale:.2})",
        if args.weights.loads() {
            "loaded"
        } else {
            "seeded"
        }
    );
    println!(
        "time per {C} × {side} × {side} map: runtime {runtime_ms:.3} ms ({:.1} GFLOP/s, median \
         of {}), naive reference {reference_ms:.1} ms ({:.0}× slower)",
        2.0 * macs as f64 / runtime_ms / 1e6,
        args.runs,
        reference_ms / runtime_ms
    );
    Ok(())
}

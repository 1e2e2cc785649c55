//! The README's main job: two trained coin-segmentation networks, declared with
//! `dilated_stack!`, loaded from PyTorch's weights, checked against PyTorch's output, timed
//! against the naive reference, and drawn.
//!
//! ```text
//! cargo run --release --example segment
//! cargo run --release --example segment -- --out seg.png --runs 30
//! RAYON_NUM_THREADS=1 cargo run --release --example segment   # time one thread
//! ```
//!
//! Both networks are the same `nn.Sequential` (six 3×3 convolutions with ReLU, then a 1×1
//! head), trained by `scripts/train_seg.py` on scikit-image's `coins()`; they differ only
//! in their rates: `[1, 2, 5, 1, 2, 5]` (HDC, no holes) and `[2, 4, 8, 2, 4, 8]` (gridding,
//! which the macro rejects unless told `check: { gridding: allow, … }`). See
//! `examples/data/README.md` and `docs/training.md`.
//!
//! What you should see, in this order:
//!
//! 1. each network's layer table (rate, effective kernel, padding, receptive field) and the
//!    coverage verdict of its schedule, in the words of `dilated check`;
//! 2. the largest difference between our output and PyTorch's stored logits on the
//!    held-out 128×128 test crop (embedded in the binary): at most 1e-4, or the program
//!    stops with an error and exit code 1;
//! 3. the accuracy and IoU of each mask (`logit > 0`) against the stored label, and the
//!    logits' checkerboard energy (as `docs/training.md` defines it);
//! 4. the time per image of the runtime and of the naive reference convolution
//!    (`dilated::conv::conv_reference`) running the same layers, medians of several runs;
//! 5. the path of a captioned PNG: input, label, HDC mask, gridding mask (wrong pixels in
//!    red: false coin, blue: missed coin; accuracy and IoU above each), then the coverage
//!    heat maps of both schedules (white = holes).
//!
//! Bad input — a missing, truncated or misshapen weights file, weights of the other
//! network, an output path that cannot be written — ends with one `error: …` line on
//! stderr and exit code 1.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dilated::heatmap;
use dilated::schedule::{self, AxisSpec, Report, Schedule};
use dilated::{ModuleSpec, Stack, Tensor2d, Weights};
use dilated_core::raster::{Canvas, png::Compression};

mod common;
use common::{max_abs_diff, median, reference_forward};

dilated::dilated_stack! {
    /// Coin segmentation, HDC schedule: no holes.
    pub struct SegHdc {
        input: [1, 128, 128],
        layers: [
            conv(1 -> 16, kernel: 3, rate: 1), relu,
            conv(16 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 5), relu,
            conv(16 -> 16, kernel: 3, rate: 1), relu,
            conv(16 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 5), relu,
            conv(16 -> 1, kernel: 1),
        ],
    }
}

dilated::dilated_stack! {
    /// The same network with a gridding schedule, declared knowingly.
    pub struct SegGridding {
        input: [1, 128, 128],
        layers: [
            conv(1 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 4), relu,
            conv(16 -> 16, kernel: 3, rate: 8), relu,
            conv(16 -> 16, kernel: 3, rate: 2), relu,
            conv(16 -> 16, kernel: 3, rate: 4), relu,
            conv(16 -> 16, kernel: 3, rate: 8), relu,
            conv(16 -> 1, kernel: 1),
        ],
        check: { gridding: allow, hdc: allow },
    }
}

/// The held-out test crop, its label and PyTorch's logits of both networks.
static TEST_CROP: &[u8] = include_bytes!("data/seg_test.safetensors");

/// Largest difference from PyTorch's logits that counts as the same output.
const TOLERANCE: f32 = 1e-4;

const SIDE: usize = 128;

/// Runs the two trained segmentation networks on the embedded test crop.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Weights of the HDC network (rates 1, 2, 5, 1, 2, 5).
    #[arg(long, value_name = "PATH", default_value_os_t = data_path("seg_hdc.safetensors"))]
    weights: PathBuf,
    /// Weights of the gridding network (rates 2, 4, 8, 2, 4, 8).
    #[arg(long, value_name = "PATH", default_value_os_t = data_path("seg_gridding.safetensors"))]
    gridding_weights: PathBuf,
    /// Where to write the picture (default: target/segment.png in the repository).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Timed runs of the runtime per network (the reference runs a third as many, at least 1).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
}

fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("data")
        .join(name)
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// The embedded test crop.
struct TestCrop {
    input: Vec<f32>,
    label: Vec<u8>,
    logits_hdc: Vec<f32>,
    logits_gridding: Vec<f32>,
}

/// One network's results.
struct Outcome {
    name: &'static str,
    logits: Vec<f32>,
    runtime_ms: f64,
    reference_ms: f64,
    report: Report,
}

fn run(args: &Args) -> Result<(), String> {
    let crop = load_crop()?;
    let out = match &args.out {
        Some(p) => p.clone(),
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            dir.join("segment.png")
        }
    };
    // Opened first, so that an unwritable path fails before any work.
    let mut out_file =
        std::fs::File::create(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;

    let hdc = SegHdc::from_safetensors(&args.weights).map_err(|e| {
        format!(
            "cannot load the HDC network's weights from {}: {e}",
            args.weights.display()
        )
    })?;
    let gridding = SegGridding::from_safetensors(&args.gridding_weights).map_err(|e| {
        format!(
            "cannot load the gridding network's weights from {}: {e}",
            args.gridding_weights.display()
        )
    })?;

    let x = Tensor2d::<1, 128, 128>::from_slice(1, [SIDE, SIDE], &crop.input)
        .map_err(|e| format!("the embedded test crop: {e}"))?;
    let runs = args.runs;

    let hdc_run = |x: &Tensor2d<1, 128, 128>| hdc.forward(x).map(Tensor2d::into_vec);
    let grid_run = |x: &Tensor2d<1, 128, 128>| gridding.forward(x).map(Tensor2d::into_vec);
    let outcomes = [
        evaluate(
            "hdc",
            None,
            &SegHdc::LAYERS,
            SegHdc::PADDING.as_slice(),
            hdc.stack(),
            &hdc_run,
            &x,
            &crop.logits_hdc,
            runs,
        )?,
        evaluate(
            "gridding",
            Some("check: { gridding: allow, hdc: allow }"),
            &SegGridding::LAYERS,
            SegGridding::PADDING.as_slice(),
            gridding.stack(),
            &grid_run,
            &x,
            &crop.logits_gridding,
            runs,
        )?,
    ];

    println!("\nOn the held-out 128×128 crop (mask = logit > 0, against the stored label):");
    println!(
        "{:<9} {:>9} {:>7} {:>13} {:>14} {:>15} {:>8}",
        "net", "accuracy", "IoU", "checkerboard", "runtime ms", "reference ms", "speedup"
    );
    for o in &outcomes {
        let (acc, iou) = accuracy_iou(&o.logits, &crop.label);
        println!(
            "{:<9} {:>9.4} {:>7.4} {:>13.3e} {:>14.3} {:>15.1} {:>7.0}×",
            o.name,
            acc,
            iou,
            checkerboard_energy(&o.logits, SIDE, SIDE),
            o.runtime_ms,
            o.reference_ms,
            o.reference_ms / o.runtime_ms
        );
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    println!(
        "(times: median of {} and {}, batch 1, kernels {}, {})",
        plural(runs as usize, "runtime run"),
        plural(reference_runs(runs) as usize, "reference run"),
        hdc.stack().network().kernel(),
        plural(hdc.stack().network().threads(), "thread"),
    );

    let png = picture(&crop, &outcomes)?;
    out_file
        .write_all(&png)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "\nwrote {} (input, label, HDC mask, gridding mask — red: false coin, blue: missed \
         coin —, coverage of the HDC and the gridding schedule)",
        out.display()
    );
    Ok(())
}

/// Loads the embedded crop with the runtime's safetensors reader; the two `U8` tensors
/// (which the weights reader does not decode) are read from the same header.
fn load_crop() -> Result<TestCrop, String> {
    let bad = |e: &dyn std::fmt::Display| format!("the embedded test crop: {e}");
    let w = Weights::from_safetensors_bytes(TEST_CROP).map_err(|e| bad(&e))?;
    let f32_tensor = |name: &str| -> Result<Vec<f32>, String> {
        match w.get(name) {
            Some(Ok(v)) if v.len() == SIDE * SIDE => Ok(v.to_vec()),
            Some(Ok(v)) => Err(bad(&format!("`{name}` has {} values", v.len()))),
            Some(Err(e)) => Err(bad(&e)),
            None => Err(bad(&format!("no tensor `{name}`"))),
        }
    };
    let label = u8_tensor(TEST_CROP, "label").map_err(|e| bad(&e))?;
    if label.len() != SIDE * SIDE {
        return Err(bad(&format!("`label` has {} values", label.len())));
    }
    Ok(TestCrop {
        input: f32_tensor("input")?,
        label,
        logits_hdc: f32_tensor("logits_hdc")?,
        logits_gridding: f32_tensor("logits_gridding")?,
    })
}

/// The bytes of the `U8` tensor `name` of a safetensors file: an 8-byte little-endian
/// header length, a JSON header mapping names to `dtype`, `shape`, `data_offsets`, then the
/// data.
fn u8_tensor(file: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let len_bytes: [u8; 8] = file
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("shorter than a safetensors header")?;
    let header_len = usize::try_from(u64::from_le_bytes(len_bytes))
        .map_err(|_| "header length overflows".to_owned())?;
    let data_start = header_len.checked_add(8).ok_or("header length overflows")?;
    let header = file
        .get(8..data_start)
        .ok_or("the header runs past the end of the file")?;
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("header: {e}"))?;
    let entry = header
        .get(name)
        .ok_or_else(|| format!("no tensor `{name}`"))?;
    if entry.get("dtype").and_then(|d| d.as_str()) != Some("U8") {
        return Err(format!("`{name}` is not U8"));
    }
    let offsets = entry
        .get("data_offsets")
        .and_then(|o| o.as_array())
        .filter(|o| o.len() == 2)
        .and_then(|o| Some((o[0].as_u64()?, o[1].as_u64()?)))
        .ok_or_else(|| format!("`{name}` has no valid data_offsets"))?;
    let range = usize::try_from(offsets.0)
        .ok()
        .and_then(|a| Some((a, usize::try_from(offsets.1).ok()?)))
        .and_then(|(a, b)| Some(data_start.checked_add(a)?..data_start.checked_add(b)?))
        .ok_or_else(|| format!("`{name}`'s data_offsets overflow"))?;
    file.get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("`{name}`'s data runs past the end of the file"))
}

/// The schedule the macro checked, rebuilt from the generated layer specs (width axis; the
/// kernels are square with one rate on both axes).
fn schedule_of(layers: &[ModuleSpec]) -> Schedule {
    Schedule::one_d(
        layers
            .iter()
            .map(|l| {
                AxisSpec::new(l.desc.kernel[1] as u64, l.desc.dilation[1] as u64)
                    .with_stride(l.desc.stride[1] as u64)
            })
            .collect(),
    )
}

/// `no holes: …` or `gridding: N holes …`, as `dilated check` words its verdict.
fn verdict(report: &Report) -> String {
    let Some(axis) = report.axes.first() else {
        return "no layers".to_owned();
    };
    common::verdict(axis.reach.hole_count, axis.receptive_field)
}

fn reference_runs(runs: u32) -> u32 {
    (runs / 3).max(1)
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    name: &'static str,
    allowed: Option<&str>,
    layers: &[ModuleSpec],
    padding: &[[[usize; 2]; 2]],
    stack: &Stack,
    forward: &dyn Fn(&Tensor2d<1, 128, 128>) -> Result<Vec<f32>, dilated::Error>,
    x: &Tensor2d<1, 128, 128>,
    expected: &[f32],
    runs: u32,
) -> Result<Outcome, String> {
    let sched = schedule_of(layers);
    let options = schedule::Options {
        input: vec![Some(SIDE as u64)],
        suggest: false,
        ..schedule::Options::default()
    };
    let report = schedule::analyze(&sched, &options)
        .map_err(|e| format!("analysing the {name} schedule: {e}"))?;

    // The layer table.
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n{name} network: {}",
        stack_line(layers, report.receptive_field())
    );
    let _ = writeln!(
        t,
        "  layer  module  channels  kernel  rate  effective kernel  padding  receptive field"
    );
    if let Some(axis) = report.axes.first() {
        for (i, ((spec, pad), g)) in layers.iter().zip(padding).zip(&axis.geometry).enumerate() {
            let d = &spec.desc;
            let _ = writeln!(
                t,
                "  {:>5}  {:>6}  {:>8}  {:>6}  {:>4}  {:>16}  {:>7}  {:>15}",
                i + 1,
                spec.module,
                format!("{}→{}", d.in_channels, d.out_channels),
                format!("{}×{}", d.kernel[0], d.kernel[1]),
                d.dilation[1],
                g.effective_kernel,
                pad[1][0],
                g.receptive_field
            );
        }
    }
    let _ = writeln!(t, "  verdict: {}", verdict(&report));
    for d in &report.diagnostics {
        let first = d.message.lines().next().unwrap_or_default();
        let _ = writeln!(t, "    {}[{}]: {first}", d.level.name(), d.check.name());
    }
    if let Some(allowed) = allowed.filter(|_| !report.diagnostics.is_empty()) {
        let _ = writeln!(t, "    (the declaration allows it: `{allowed}`)");
    }
    print!("{t}");

    // Our output against PyTorch's, and against the naive reference.
    let logits = forward(x).map_err(|e| format!("running the {name} network: {e}"))?;
    let (diff, at) = max_abs_diff(&logits, expected);
    if diff.is_nan() || diff > TOLERANCE {
        return Err(format!(
            "the {name} network's output differs from PyTorch's stored logits by {diff:e} at \
             row {}, column {} (tolerance {TOLERANCE:e}): are these the weights of the {name} \
             network?",
            at / SIDE,
            at % SIDE
        ));
    }
    let reference = reference_forward(stack.layers(), 1, [SIDE, SIDE], x.as_slice())
        .map_err(|e| format!("running the {name} network through the reference: {e}"))?;
    let (ref_diff, _) = max_abs_diff(&reference, expected);
    println!(
        "  max |ours − PyTorch| = {diff:.2e} (tolerance {TOLERANCE:.0e}); naive reference vs \
         PyTorch: {ref_diff:.2e}"
    );

    // Timing: the runtime's median of `runs`, the reference's median of a third as many.
    let time = |n: u32, f: &dyn Fn() -> Result<Vec<f32>, dilated::Error>| {
        let mut ms = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let t0 = Instant::now();
            let y = f().map_err(|e| format!("timing the {name} network: {e}"))?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(y);
        }
        Ok::<f64, String>(median(ms))
    };
    let runtime_ms = time(runs, &|| forward(x))?;
    let reference_ms = time(reference_runs(runs), &|| {
        reference_forward(stack.layers(), 1, [SIDE, SIDE], x.as_slice())
    })?;
    Ok(Outcome {
        name,
        logits,
        runtime_ms,
        reference_ms,
        report,
    })
}

/// `7 convolutions, rates [1, 2, 5, 1, 2, 5, 1], receptive field 33`.
fn stack_line(layers: &[ModuleSpec], rf: u64) -> String {
    let rates: Vec<String> = layers
        .iter()
        .map(|l| l.desc.dilation[1].to_string())
        .collect();
    format!(
        "{} convolutions, rates [{}], receptive field {rf}",
        layers.len(),
        rates.join(", ")
    )
}

/// Pixel accuracy and IoU of the coin class (`logit > 0`) against `label` (1 = coin).
fn accuracy_iou(logits: &[f32], label: &[u8]) -> (f64, f64) {
    let (mut right, mut inter, mut union) = (0usize, 0usize, 0usize);
    for (&l, &y) in logits.iter().zip(label) {
        let (p, t) = (l > 0.0, y != 0);
        right += usize::from(p == t);
        inter += usize::from(p && t);
        union += usize::from(p || t);
    }
    let n = logits.len().max(1) as f64;
    let iou = if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    };
    (right as f64 / n, iou)
}

/// Mean square of `[[1, −1], [−1, 1]] / 4` over every 2×2 window, over the variance (as
/// `scripts/train_seg.py` measures it).
fn checkerboard_energy(v: &[f32], h: usize, w: usize) -> f64 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    let at = |y: usize, x: usize| f64::from(v[y * w + x]);
    let (mut sum, mut count) = (0.0, 0usize);
    for y in 0..h.saturating_sub(1) {
        for x in 0..w.saturating_sub(1) {
            let c = (at(y, x) - at(y, x + 1) - at(y + 1, x) + at(y + 1, x + 1)) / 4.0;
            sum += c * c;
            count += 1;
        }
    }
    if count == 0 || var == 0.0 {
        0.0
    } else {
        sum / count as f64 / var
    }
}

/// The coverage heat map of a report's first axis (the 2D map is the outer product of the
/// row), as pixels in the heat map's palette.
fn coverage_pixels(report: &Report) -> Result<(usize, Vec<[u8; 3]>), String> {
    let row = report
        .axes
        .first()
        .and_then(|a| a.coverage.exact())
        .ok_or("no coverage counts")?;
    let map = schedule::coverage_map(row, row).map_err(|e| e.to_string())?;
    let max_log2 = heatmap::max_value(&map).map_or(f64::NEG_INFINITY, heatmap::HeatValue::log2);
    let side = map.len();
    let px = map
        .iter()
        .flatten()
        .map(|v| heatmap::colour(heatmap::shade(heatmap::HeatValue::log2(v), max_log2)))
        .collect();
    Ok((side, px))
}

/// Caption scale: each font pixel is a 2×2 block.
const FONT: u32 = 2;

/// `1,2,5,1,2,5` (the dilated layers' rates, the 1×1 head left out).
fn rates_caption(report: &Report) -> String {
    let rates: Vec<String> = report
        .axes
        .first()
        .map(|a| {
            a.layers
                .iter()
                .filter(|l| l.kernel > 1)
                .map(|l| l.rate.to_string())
                .collect()
        })
        .unwrap_or_default();
    format!("RATES {}", rates.join(","))
}

/// Input, label, both masks, both coverage maps, side by side.
fn picture(crop: &TestCrop, outcomes: &[Outcome]) -> Result<Vec<u8>, String> {
    const PANEL: u32 = 256;
    const GAP: u32 = 12;
    let gray = |v: u8| [v; 3];
    let input: Vec<[u8; 3]> = crop
        .input
        .iter()
        .map(|&x| gray((x * 64.0 + 128.0).round().clamp(0.0, 255.0) as u8))
        .collect();
    let label: Vec<[u8; 3]> = crop
        .label
        .iter()
        .map(|&y| gray(if y != 0 { 255 } else { 0 }))
        .collect();
    let mask = |logits: &[f32]| -> Vec<[u8; 3]> {
        logits
            .iter()
            .zip(&crop.label)
            .map(|(&l, &y)| match (l > 0.0, y != 0) {
                (true, true) => [255; 3],
                (false, false) => [0; 3],
                (true, false) => [230, 40, 40],
                (false, true) => [40, 110, 255],
            })
            .collect()
    };
    // Each panel: its pixels and two caption lines.
    let mut panels: Vec<(usize, Vec<[u8; 3]>, [String; 2])> = vec![
        (SIDE, input, ["INPUT".to_owned(), "128 X 128".to_owned()]),
        (SIDE, label, ["LABEL".to_owned(), "WHITE = COIN".to_owned()]),
    ];
    for o in outcomes {
        let (acc, iou) = accuracy_iou(&o.logits, &crop.label);
        panels.push((
            SIDE,
            mask(&o.logits),
            [
                format!("{} MASK", o.name),
                format!("ACC {acc:.4} IOU {iou:.4}"),
            ],
        ));
    }
    for o in outcomes {
        let (side, px) = coverage_pixels(&o.report)?;
        panels.push((
            side,
            px,
            [format!("{} COVERAGE", o.name), rates_caption(&o.report)],
        ));
    }
    let caption = 2 * 9 * FONT + GAP / 2;
    let n = u32::try_from(panels.len()).map_err(|_| "too many panels")?;
    let (width, height) = (n * PANEL + (n + 1) * GAP, caption + PANEL + 2 * GAP);
    let mut canvas = Canvas::new(width, height).ok_or("the picture is too large")?;
    let lefts = (0..).map(|i| GAP + i * (PANEL + GAP));
    for ((side, px, lines), left) in panels.iter().zip(lefts) {
        // The font has capitals only: the captions are drawn upper-case.
        for (line, top) in lines.iter().zip([GAP, GAP + 9 * FONT]) {
            canvas.text(left, top, FONT, &line.to_ascii_uppercase(), [0; 3]);
        }
        let side = u32::try_from(*side).map_err(|_| "a panel too large to draw")?;
        let scale = (PANEL / side.max(1)).max(1);
        let drawn = side * scale;
        let x0 = left + PANEL.saturating_sub(drawn) / 2;
        let y0 = GAP + caption + PANEL.saturating_sub(drawn) / 2;
        // A light grey frame just outside the panel.
        let grey = [190; 3];
        canvas.outline(
            x0.saturating_sub(1),
            y0.saturating_sub(1),
            drawn + 1,
            drawn + 1,
            grey,
        );
        canvas.blit(x0, y0, side, scale, px);
    }
    canvas
        .to_png(Compression::Balanced)
        .map_err(|e| format!("encoding the PNG: {e}"))
}

//! A depthwise-separable ASPP block (atrous spatial pyramid pooling, DeepLab v3+ style):
//! four parallel branches over the same feature map — each a depthwise 3×3 convolution at
//! rate 1, 6, 12 or 18 followed by a pointwise 1×1 convolution and ReLU — concatenated at
//! run time and fused by a 1×1 projection.
//!
//! ```text
//! cargo run --release --example aspp
//! cargo run --release --example aspp -- --size 129 --batch 2
//! ```
//!
//! Each branch is its own `dilated_stack!` (the grammar's `groups: depthwise`); the block is
//! the four stacks plus the projection, glued by a channel concatenation. The branches at
//! rates 6, 12 and 18 are single sparse 3×3 taps: on their own they read 9 of the 13²,
//! 25², 37² positions in their field, so the macro rejects them as gridding unless told
//! `check: { gridding: allow }` — which is what ASPP means: each branch samples context at
//! one scale, and the branches together cover more. The example prints the verdict of each
//! branch and of the whole block (the coverage of the projection's output: the sum of the
//! branches' maps), in the words of `dilated check`.
//!
//! What you should see: the four branch verdicts (rate 1: no holes; 6, 12, 18: gridding),
//! the block's verdict (still gridding: the union of four 3×3 lattices leaves most of its
//! 37 × 37 field unread — ASPP relies on the backbone's own receptive field to fill it), the
//! largest difference of every branch from the naive reference convolution, and the time
//! per feature map of the block.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dilated::heatmap;
use dilated::schedule::{self, AxisSpec, Coverage, Schedule};
use dilated::{Conv, Error};

mod common;
use common::{max_abs_diff, median, reference_forward, verdict};

/// Input channels of the block.
const C: usize = 32;
/// Output channels of each branch.
const B: usize = 16;

dilated::dilated_stack! {
    /// Branch 1: depthwise 3×3 at rate 1, pointwise 1×1.
    pub struct Branch1 {
        input: [32, _, _],
        layers: [
            conv(32 -> 32, kernel: 3, rate: 1, groups: depthwise, bias: false),
            conv(32 -> 16, kernel: 1), relu,
        ],
    }
}

dilated::dilated_stack! {
    /// Branch 2: depthwise 3×3 at rate 6 (a sparse lattice on purpose), pointwise 1×1.
    pub struct Branch6 {
        input: [32, _, _],
        layers: [
            conv(32 -> 32, kernel: 3, rate: 6, groups: depthwise, bias: false),
            conv(32 -> 16, kernel: 1), relu,
        ],
        check: { gridding: allow },
    }
}

dilated::dilated_stack! {
    /// Branch 3: depthwise 3×3 at rate 12, pointwise 1×1.
    pub struct Branch12 {
        input: [32, _, _],
        layers: [
            conv(32 -> 32, kernel: 3, rate: 12, groups: depthwise, bias: false),
            conv(32 -> 16, kernel: 1), relu,
        ],
        check: { gridding: allow },
    }
}

dilated::dilated_stack! {
    /// Branch 4: depthwise 3×3 at rate 18, pointwise 1×1.
    pub struct Branch18 {
        input: [32, _, _],
        layers: [
            conv(32 -> 32, kernel: 3, rate: 18, groups: depthwise, bias: false),
            conv(32 -> 16, kernel: 1), relu,
        ],
        check: { gridding: allow },
    }
}

dilated::dilated_stack! {
    /// The projection of the concatenated branches (4 × 16 channels) to 32.
    pub struct Project {
        input: [64, _, _],
        layers: [conv(64 -> 32, kernel: 1), relu],
    }
}

/// Runs a depthwise-separable ASPP block on a synthetic feature map.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Height and width of the feature map (DeepLab: 65 for a 513 input at output stride 8).
    #[arg(long, default_value_t = 65, value_parser = clap::value_parser!(u32).range(1..=1024))]
    size: u32,
    /// Feature maps per batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    batch: u32,
    /// Also write the block's coverage heat map to this SVG file.
    #[arg(long, value_name = "PATH")]
    svg: Option<std::path::PathBuf>,
    /// Timed runs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// The four branches and the projection, with seeded weights.
struct Aspp {
    b1: Branch1,
    b6: Branch6,
    b12: Branch12,
    b18: Branch18,
    project: Project,
}

type Forward<'a> = &'a dyn Fn(usize, [usize; 2], &[f32]) -> Result<(Vec<f32>, [usize; 2]), Error>;

impl Aspp {
    fn new_seeded(seed: u64) -> Result<Self, Error> {
        Ok(Self {
            b1: Branch1::new_seeded(seed)?,
            b6: Branch6::new_seeded(seed + 1)?,
            b12: Branch12::new_seeded(seed + 2)?,
            b18: Branch18::new_seeded(seed + 3)?,
            project: Project::new_seeded(seed + 4)?,
        })
    }

    /// Each branch's output (NCHW, `B` channels), in order of rate.
    fn branches(&self, batch: usize, hw: [usize; 2], x: &[f32]) -> Result<Vec<Vec<f32>>, Error> {
        let runs: [Forward<'_>; 4] = [
            &|n, hw, x| self.b1.forward_nchw_sized(n, hw, x),
            &|n, hw, x| self.b6.forward_nchw_sized(n, hw, x),
            &|n, hw, x| self.b12.forward_nchw_sized(n, hw, x),
            &|n, hw, x| self.b18.forward_nchw_sized(n, hw, x),
        ];
        runs.iter()
            .map(|f| f(batch, hw, x).map(|(y, _)| y))
            .collect()
    }

    fn forward(&self, batch: usize, hw: [usize; 2], x: &[f32]) -> Result<Vec<f32>, Error> {
        let branches = self.branches(batch, hw, x)?;
        let cat = concat_channels(&branches, batch)?;
        Ok(self.project.forward_nchw_sized(batch, hw, &cat)?.0)
    }

    fn branch_layers(&self) -> [(&'static str, &[Conv]); 4] {
        [
            ("rate 1", self.b1.stack().layers()),
            ("rate 6", self.b6.stack().layers()),
            ("rate 12", self.b12.stack().layers()),
            ("rate 18", self.b18.stack().layers()),
        ]
    }
}

/// Concatenates NCHW tensors of `batch` items along the channels.
fn concat_channels(parts: &[Vec<f32>], batch: usize) -> Result<Vec<f32>, Error> {
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for n in 0..batch {
        for p in parts {
            if p.len() % batch != 0 {
                return Err(Error::Length {
                    what: "branch output",
                    expected: p.len() / batch * batch,
                    actual: p.len(),
                });
            }
            let item = p.len() / batch;
            out.extend_from_slice(&p[n * item..(n + 1) * item]);
        }
    }
    Ok(out)
}

/// `no holes: …` or `gridding: N holes …`, as `dilated check` words a 1D verdict.
fn verdict_words(row: &Coverage<u128>) -> String {
    let holes = row.counts.iter().filter(|&&c| c == 0).count();
    verdict(holes as u64, row.counts.len() as u64)
}

/// Positions read and positions in a 2D map.
fn read_cells(map: &[Vec<u128>]) -> (usize, usize) {
    let read = map.iter().flatten().filter(|&&c| c > 0).count();
    (read, map.iter().map(Vec::len).sum())
}

fn run(args: &Args) -> Result<(), String> {
    let side = args.size as usize;
    let batch = args.batch as usize;
    let hw = [side, side];
    let aspp = Aspp::new_seeded(11).map_err(|e| format!("initialising: {e}"))?;

    // Coverage of each branch and of the block (the projection sums the branches' paths).
    println!("depthwise-separable ASPP, {C} → 4 × {B} → {C} channels, rates 1, 6, 12, 18");
    let mut rows = Vec::new();
    for (name, layers) in aspp.branch_layers() {
        let sched = Schedule::one_d(
            layers
                .iter()
                .map(|l| AxisSpec::new(l.desc().kernel[1] as u64, l.desc().dilation[1] as u64))
                .collect(),
        );
        let report = schedule::analyze(&sched, &schedule::Options::default())
            .map_err(|e| format!("analysing the {name} branch: {e}"))?;
        let row = report
            .axes
            .first()
            .and_then(|a| a.coverage.exact())
            .ok_or("no coverage counts")?
            .clone();
        let map = schedule::coverage_map(&row, &row).map_err(|e| e.to_string())?;
        let (read, cells) = read_cells(&map);
        println!(
            "  branch {name:<8} {} (2D: {read} of {cells} positions read)",
            verdict_words(&row)
        );
        rows.push((row, map));
    }
    // The projection adds the branches' paths: the block's map is the sum of their maps,
    // each centred on the output pixel.
    let lo = rows.iter().map(|(r, _)| r.min_offset).min().unwrap_or(0);
    let field = rows
        .iter()
        .map(|(r, _)| (r.min_offset - lo) as usize * 2 + r.counts.len())
        .max()
        .unwrap_or(1);
    let mut block = vec![vec![0u128; field]; field];
    for (row, map) in &rows {
        let at = (row.min_offset - lo) as usize;
        for (y, r) in map.iter().enumerate() {
            for (x, &c) in r.iter().enumerate() {
                block[at + y][at + x] += c;
            }
        }
    }
    let (read, cells) = read_cells(&block);
    println!(
        "  whole block     gridding: {} holes in a receptive field of {field} × {field} \
         ({read} of {cells} positions read)",
        cells - read
    );
    if let Some(path) = &args.svg {
        let options = heatmap::Options {
            origin: (lo, lo),
            labels: false,
            title: Some("ASPP block, depthwise 3×3 at rates 1, 6, 12, 18: coverage".to_owned()),
            ..heatmap::Options::default()
        };
        std::fs::write(path, heatmap::svg(&block, &options))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("  wrote {}", path.display());
    }

    // Run it, check every branch against the reference, time the block.
    let x: Vec<f32> = (0..batch * C * side * side)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.5)
        .collect();
    let branches = aspp
        .branches(batch, hw, &x)
        .map_err(|e| format!("running the branches: {e}"))?;
    for ((name, layers), got) in aspp.branch_layers().iter().zip(&branches) {
        let want = reference_forward(layers, batch, hw, &x)
            .map_err(|e| format!("reference, {name}: {e}"))?;
        let (d, _) = max_abs_diff(got, &want);
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        if d.is_nan() || d > 1e-4 * scale {
            return Err(format!("branch {name} differs from the reference by {d:e}"));
        }
        println!("  branch {name:<8} max |runtime − reference| = {d:.2e}");
    }
    let mut ms = Vec::new();
    let mut y = Vec::new();
    for _ in 0..args.runs {
        let t0 = Instant::now();
        y = aspp
            .forward(batch, hw, &x)
            .map_err(|e| format!("running the block: {e}"))?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "block output {batch} × {C} × {side} × {side} ({} values); time per batch: median {:.3} ms of {}",
        y.len(),
        median(ms),
        args.runs
    );
    Ok(())
}

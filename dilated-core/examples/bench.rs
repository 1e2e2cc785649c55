//! Side-by-side benchmark of the engine, with the same shapes (`bench/shapes.json`) and FLOP
//! count as the peers' harness in `bench/peers/`; `bench/compare.py` runs it beside them
//! (`bench/README.md`):
//!
//! ```text
//! cargo run --release -p dilated-core --example bench -- conv2d --batch 1 --in 64 --out 64 \
//!     --size 128x128 --kernel 3 --dilation 2 [--stride S] [--groups G] [--padding same|N] \
//!     [--threads T]
//! cargo run --release -p dilated-core --example bench -- conv1d --in 64 --out 64 --size 16384 \
//!     --kernel 3 --dilation 8
//! cargo run --release -p dilated-core --example bench -- stack --in 64 --out 64 \
//!     --size 128x128 --kernel 3 --rates 1,2,5,1,2,5 [--separable]
//! ```
//!
//! GFLOP/s = 2·N·Cout·OH·OW·(Cin/G)·KH·KW / time, summed over the layers of a stack (taps
//! in the padding counted, as the peers count them). The header names the CPU (its
//! `cpuid` brand string, vendor, family and model) and the tile shape (`auto`: each
//! layer's own, `engine::Tiles::for_layer`); the last line printed is
//! `gflops=<f> median_ms=<f>`. `DILATED_KERNEL=avx512|avx2|portable|reference` forces a
//! kernel family, `DILATED_TILE=16x1|8x1|8x2|8x3` a tile shape; `--tune` times the
//! network's kernel choices on the shape first and runs the fastest (`Network::tuned`),
//! `--choice "<choice>"` runs the one given (as `--tune` prints it).

use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use dilated_core::conv::Conv;
use dilated_core::conv::{Activation, ConvDesc};
use dilated_core::engine::{Choice, Cpu, Network, UnknownChoice, Workspace};

#[derive(Parser)]
#[command(about = "Benchmark the dilated convolution engine")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// One 2D convolution.
    Conv2d(Shape),
    /// One 1D convolution (`--size L`).
    Conv1d(Shape),
    /// A stack: one layer per rate, in → out then out → out, ReLU between layers.
    Stack(Shape),
}

#[derive(Args)]
struct Shape {
    #[arg(long, default_value_t = 1)]
    batch: usize,
    #[arg(long = "in", default_value_t = 64)]
    cin: usize,
    #[arg(long = "out", default_value_t = 64)]
    cout: usize,
    /// `HxW` (2D) or `L` (1D).
    #[arg(long, default_value = "128x128")]
    size: String,
    /// Kernel size (square in 2D).
    #[arg(long, default_value_t = 3)]
    kernel: usize,
    #[arg(long, default_value_t = 1)]
    dilation: usize,
    /// Stack mode: comma-separated rates, one layer each.
    #[arg(long)]
    rates: Option<String>,
    #[arg(long, default_value_t = 1)]
    stride: usize,
    #[arg(long, default_value_t = 1)]
    groups: usize,
    /// `same` (total `d·(k−1)`, PyTorch's split) or a number of zeros on every side.
    #[arg(long, default_value = "same")]
    padding: String,
    /// Threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Timed trials (the median is reported).
    #[arg(long, default_value_t = 7)]
    trials: usize,
    /// Minimum seconds per trial.
    #[arg(long, default_value_t = 0.15)]
    min_time: f64,
    /// Time with the calling thread's CPU time (Linux `schedstat`) instead of the wall
    /// clock: a development aid on a loaded machine, meaningful with `--threads 1` only.
    #[arg(long)]
    cpu_time: bool,
    /// Run every layer on the direct kernels (no Winograd), to compare the two.
    #[arg(long)]
    direct: bool,
    /// Time the network's kernel choices on this shape first and run the fastest
    /// (`Network::tuned`); prints each candidate's fastest run.
    #[arg(long)]
    tune: bool,
    /// Run with this kernel choice (`Network::with_choice`), in the form `--tune` and the
    /// header print: `"winograd=on nchw=family convert-from=128 tiles=auto"`.
    #[arg(long)]
    choice: Option<String>,
    /// Stack mode: each rate is a depthwise-separable pair (MobileNet's, DeepLab v3+'s):
    /// a depthwise `kernel × kernel` layer at the rate, then a 1 × 1 layer to `--out`
    /// (`--groups` is ignored).
    #[arg(long)]
    separable: bool,
    /// Activation of every layer (default: ReLU between the layers of a stack, none after
    /// the last).
    #[arg(long, value_enum)]
    activation: Option<Act>,
}

/// `--activation`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Act {
    Identity,
    Relu,
    Gelu,
    Tanh,
    Sigmoid,
    Silu,
}

impl From<Act> for Activation {
    fn from(a: Act) -> Self {
        match a {
            Act::Identity => Activation::Identity,
            Act::Relu => Activation::Relu,
            Act::Gelu => Activation::Gelu,
            Act::Tanh => Activation::Tanh,
            Act::Sigmoid => Activation::Sigmoid,
            Act::Silu => Activation::Silu,
        }
    }
}

/// Floats of slack that let a buffer start on a 64-byte boundary.
const ALIGN_FLOATS: usize = 16;

/// The `len` floats of `buf` that start on a 64-byte boundary (`buf` holds
/// `len + ALIGN_FLOATS`).
fn aligned(buf: &mut [f32], len: usize) -> &mut [f32] {
    let skip = buf.as_ptr().align_offset(64).min(ALIGN_FLOATS - 1);
    &mut buf[skip..skip + len]
}

/// Nanoseconds the calling thread has run on a CPU, if the kernel reports it.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// A clock: wall time, or the calling thread's CPU time.
struct Clock {
    cpu: bool,
    wall: Instant,
    ns: u64,
}

impl Clock {
    fn start(cpu: bool) -> Self {
        Self {
            cpu,
            wall: Instant::now(),
            ns: if cpu { thread_cpu_ns().unwrap_or(0) } else { 0 },
        }
    }
    fn secs(&self) -> f64 {
        if self.cpu {
            thread_cpu_ns().unwrap_or(0).saturating_sub(self.ns) as f64 * 1e-9
        } else {
            self.wall.elapsed().as_secs_f64()
        }
    }
}

fn parse_size(s: &str, one_d: bool) -> Result<[usize; 2], String> {
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let nums: Result<Vec<usize>, _> = parts.iter().map(|p| p.trim().parse::<usize>()).collect();
    let nums = nums.map_err(|e| format!("bad --size {s:?}: {e}"))?;
    match (one_d, nums.as_slice()) {
        (true, [l]) => Ok([1, *l]),
        (false, [h, w]) => Ok([*h, *w]),
        (false, [n]) => Ok([*n, *n]),
        _ => Err(format!("bad --size {s:?}")),
    }
}

/// Deterministic data in [−1, 1).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn run(mode: Mode) -> Result<(), String> {
    let (shape, one_d, stack) = match mode {
        Mode::Conv2d(s) => (s, false, false),
        Mode::Conv1d(s) => (s, true, false),
        // A stack is 1D when its size is one number (`--size L`), as its help says.
        Mode::Stack(s) => {
            let one_d = !s.size.contains(['x', 'X']);
            (s, one_d, true)
        }
    };
    let hw = parse_size(&shape.size, one_d)?;
    let rates: Vec<usize> = match (&shape.rates, stack) {
        (Some(r), _) => r
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|e| format!("bad --rates: {e}"))
            })
            .collect::<Result<_, _>>()?,
        (None, true) => return Err("stack needs --rates".into()),
        (None, false) => vec![shape.dilation],
    };
    let k = shape.kernel;
    let mut layers = Vec::new();
    let mut flops = 0f64;
    let (mut cin, mut cur) = (shape.cin, hw);
    // (rate, kernel, groups, out channels) of every layer.
    let mut specs = Vec::new();
    for &d in &rates {
        if shape.separable {
            let c = specs.last().map_or(shape.cin, |&(_, _, _, c)| c);
            specs.push((d, k, c, c));
            specs.push((1, 1, 1, shape.cout));
        } else {
            specs.push((d, k, shape.groups, shape.cout));
        }
    }
    for (i, &(d, k, groups, cout)) in specs.iter().enumerate() {
        let total = d * (k - 1);
        let (lo, hi) = match shape.padding.as_str() {
            "same" => (total / 2, total - total / 2),
            n => {
                let p = n
                    .parse::<usize>()
                    .map_err(|e| format!("bad --padding {n:?}: {e}"))?;
                (p, p)
            }
        };
        let desc = ConvDesc {
            in_channels: cin,
            out_channels: cout,
            groups,
            kernel: if one_d { [1, k] } else { [k, k] },
            dilation: if one_d { [1, d] } else { [d, d] },
            stride: if one_d {
                [1, shape.stride]
            } else {
                [shape.stride, shape.stride]
            },
            padding: if one_d {
                [[0, 0], [lo, hi]]
            } else {
                [[lo, hi], [lo, hi]]
            },
            bias: true,
            activation: match shape.activation {
                Some(a) => a.into(),
                None if i + 1 < specs.len() => Activation::Relu,
                None => Activation::Identity,
            },
        };
        let out = desc.output_size(cur).map_err(|e| e.to_string())?;
        let fan_in = (cin / groups * desc.kernel[0] * desc.kernel[1]) as f32;
        let w: Vec<f32> = data(desc.weight_len().map_err(|e| e.to_string())?, i as u64 + 1)
            .into_iter()
            .map(|v| v / fan_in.sqrt())
            .collect();
        let b = data(cout, 100 + i as u64);
        layers.push(Conv::new(desc, w, Some(b)).map_err(|e| e.to_string())?);
        flops += 2.0
            * (shape.batch * cout * out[0] * out[1]) as f64
            * (cin / groups * desc.kernel[0] * desc.kernel[1]) as f64;
        cin = cout;
        cur = out;
    }
    let net = Network::new(layers)
        .map_err(|e| e.to_string())?
        .with_threads(shape.threads)
        .and_then(|n| n.with_winograd(!shape.direct))
        .map_err(|e| e.to_string())?;
    let net = match &shape.choice {
        Some(c) => {
            let c: Choice = c.parse().map_err(|e: UnknownChoice| e.to_string())?;
            net.with_choice(c).map_err(|e| e.to_string())?
        }
        None => net,
    };
    let net = if shape.tune {
        let (net, tuning) = net.tuned(shape.batch, hw).map_err(|e| e.to_string())?;
        for (c, secs) in &tuning.timings {
            let mark = if *c == tuning.choice { " (picked)" } else { "" };
            println!(
                "# tune: {c}: {:.2} GFLOP/s ({:.3} ms){mark}",
                flops / secs / 1e9,
                secs * 1e3
            );
        }
        net
    } else {
        net
    };
    // Input and output 64-byte aligned, as the peers' tensors are (a `Vec` of this size
    // from the system allocator sits 16 bytes past a page boundary, and every vector
    // access of an unaligned plane then spans two cache lines).
    let x_len = ConvDesc::nchw_len(shape.batch, shape.cin, hw).map_err(|e| e.to_string())?;
    let mut x_buf = vec![0.0; x_len + ALIGN_FLOATS];
    let x = aligned(&mut x_buf, x_len);
    x.copy_from_slice(&data(x_len, 0));
    let x = &*x;
    let out_hw = net.output_size(hw).map_err(|e| e.to_string())?;
    let y_len = ConvDesc::nchw_len(shape.batch, shape.cout, out_hw).map_err(|e| e.to_string())?;
    let mut y_buf = vec![0.0; y_len + ALIGN_FLOATS];
    let y = aligned(&mut y_buf, y_len);
    let mut ws = Workspace::new();
    let mut call = || {
        net.forward_into(shape.batch, hw, x, y, &mut ws)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for _ in 0..3 {
        call()?;
    }
    // Calibrate the repetitions so one trial lasts at least `min_time`.
    let mut reps = 1usize;
    let per_call = loop {
        let t = Clock::start(shape.cpu_time);
        for _ in 0..reps {
            call()?;
        }
        let dt = t.secs();
        if dt >= shape.min_time / 4.0 {
            break dt / reps as f64;
        }
        reps *= 2;
    };
    let reps = ((shape.min_time / per_call).ceil() as usize).max(1);
    let mut times = Vec::with_capacity(shape.trials);
    for _ in 0..shape.trials.max(1) {
        let t = Clock::start(shape.cpu_time);
        for _ in 0..reps {
            call()?;
        }
        times.push(t.secs() / reps as f64);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let cpu = Cpu::this();
    println!(
        "# cpu=\"{cpu}\" vendor={} family={} model={} tiles={}",
        cpu.vendor,
        cpu.family,
        cpu.model,
        net.tiles()
            .map_or_else(|| "auto".to_owned(), |t| t.to_string())
    );
    println!("# choice: {}", net.choice());
    println!(
        "# kernel={} threads={} layers={} out={}x{}x{}x{} reps={} min_ms={:.3} max_ms={:.3}",
        net.kernel(),
        net.threads(),
        specs.len(),
        shape.batch,
        shape.cout,
        out_hw[0],
        out_hw[1],
        reps,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3
    );
    println!(
        "gflops={:.2} median_ms={:.4}",
        flops / median / 1e9,
        median * 1e3
    );
    Ok(())
}

fn main() {
    if let Err(e) = run(Cli::parse().mode) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

//! The command line: `list`, `twin`, `run`, `check`, `bench`. [`main`] takes the arguments
//! and the two output streams, so `tests/zoo.rs` drives it in-process as well as through
//! the built binary. Every failure, clap's included, is one `error: …` line on stderr and
//! exit code 1.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use dilated::conv::Rank;
use dilated_core::model::{ModelStream, Op};

use super::entries::{ENTRIES, Entry, Variant, find};
use super::tensors::{output_bytes, output_shape, read_file, read_input, write_file};
use super::{Net, analysis};

/// Real dilated networks declared with `dilated_stack!`, their PyTorch twins, run, checked
/// and timed.
#[derive(Debug, Parser)]
#[command(name = "zoo", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints the entries' names, one a line.
    List,
    /// Prints the twin: a Python module (it imports only `torch`) with the twin class,
    /// `model()` (a fresh twin in `eval()` mode) and `INPUT_SHAPE`.
    Twin {
        /// The entry.
        name: String,
        /// The reduced-width declaration (the committed fixtures' twin).
        #[arg(long)]
        small: bool,
    },
    /// Runs the network on the f32 tensor `input` of a safetensors file, with the weights
    /// of the twin's `state_dict`, and writes the f32 tensor `output`.
    Run {
        /// The entry.
        name: String,
        /// The twin's `state_dict`, saved with `safetensors.torch.save_file`.
        #[arg(long)]
        weights: PathBuf,
        /// A safetensors file holding the f32 tensor `input`, `[N, *INPUT_SHAPE]`.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the safetensors file holding the f32 tensor `output`.
        #[arg(long)]
        output: PathBuf,
        /// Threads (default: every core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// The reduced-width declaration.
        #[arg(long)]
        small: bool,
    },
    /// Prints the schedule verdict: holes, receptive field, HDC rules, in the macro's words.
    Check {
        /// The entry.
        name: String,
        /// The reduced-width declaration.
        #[arg(long)]
        small: bool,
    },
    /// Times `forward_into` on a batch of `INPUT_SHAPE` with seeded weights (after
    /// warm-up); the last line is `median_ms=<f>`.
    Bench {
        /// The entry.
        name: String,
        /// Threads (default: every core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Items per batch.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
        batch: u32,
        /// Timed runs (at least 10).
        #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u32).range(10..=10_000))]
        runs: u32,
        /// The reduced-width declaration.
        #[arg(long)]
        small: bool,
        /// Times the engine's kernel choices for each chain of convs on this input first
        /// and runs the fastest (`Model::tuned`); prints each chain's choice.
        #[arg(long, conflicts_with = "stream")]
        tune: bool,
        /// Times the stream instead (the causal 1D entries: `ModelStream`, one sample
        /// pushed at a time — or `--chunk` samples — 2048 samples a run after 256 untimed
        /// ones): microseconds per sample and the model's FLOPs per sample; the last line is
        /// `us_per_sample=<f>`. Threads: 1 unless `--threads` says otherwise.
        #[arg(long, conflicts_with_all = ["batch"])]
        stream: bool,
        /// Samples per push of `--stream` (a divisor of 2048; from 16 on, chunks run
        /// through the whole-signal engine).
        #[arg(long, default_value_t = 1, requires = "stream", value_parser = clap::value_parser!(u32).range(1..=2048))]
        chunk: u32,
        /// The FMA peak, in GFLOP/s per core, to print the stream's FLOP bound per sample
        /// beside it (`bench/peak` measures it).
        #[arg(long, requires = "stream")]
        peak: Option<f64>,
    },
}

/// Runs the command line on `args` (the program name first), writing to `out` and `err`;
/// returns the exit code.
pub(crate) fn main<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                // clap's message up to its first blank line (the usage follows), as one
                // line.
                let message: Vec<&str> = text
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                let message = message.join(" ");
                let message = message.strip_prefix("error: ").unwrap_or(&message);
                let _ = writeln!(err, "error: {message} (see `zoo --help`)");
                return 1;
            }
            let _ = write!(out, "{text}");
            return 0;
        }
    };
    match run(&cli.command, out) {
        Ok(()) => 0,
        Err(e) => {
            // One line, whatever the message holds.
            let line: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let _ = writeln!(err, "error: {}", line.join("; "));
            1
        }
    }
}

fn run(command: &Command, out: &mut dyn Write) -> Result<(), String> {
    let write_err = |e: std::io::Error| format!("cannot write to stdout: {e}");
    match command {
        Command::List => {
            for e in &ENTRIES {
                writeln!(out, "{}", e.name).map_err(write_err)?;
            }
            Ok(())
        }
        Command::Twin { name, small } => {
            let v = find(name)?.variant(*small);
            write!(out, "{}", twin(v)).map_err(write_err)
        }
        Command::Run {
            name,
            weights,
            input,
            output,
            threads,
            small,
        } => {
            let v = find(name)?.variant(*small);
            let net = load(v, &read_file("weights", weights)?)
                .map_err(|e| format!("cannot load the weights `{}`: {e}", weights.display()))?;
            let batch = read_input(input, &read_file("input", input)?, v.rank, v.declared)?;
            let net = net.with_threads(threads.map_or(0, usize::from))?;
            let (y, hw) = net
                .forward(batch.batch, batch.hw, &batch.data)
                .map_err(|e| format!("running `{name}`: {e}"))?;
            let (c, _) = net.output_shape(batch.hw)?;
            let shape = output_shape(v.rank, batch.batch, c, hw);
            write_file("output", output, &output_bytes(&shape, &y)?)?;
            writeln!(
                out,
                "{name}: wrote `output` {shape:?} to {}",
                output.display()
            )
            .map_err(write_err)
        }
        Command::Check { name, small } => {
            let entry = find(name)?;
            let v = entry.variant(*small);
            let graph = (v.graph)()?;
            let checked = analysis::check(entry, v, &graph)?;
            write!(out, "{}", checked.text).map_err(write_err)
        }
        Command::Bench {
            name,
            threads,
            batch: _,
            runs,
            small,
            tune: _,
            stream: true,
            chunk,
            peak,
        } => stream_bench(
            find(name)?,
            *small,
            StreamRun {
                runs: *runs as usize,
                threads: threads.map_or(1, usize::from),
                chunk: *chunk as usize,
            },
            *peak,
            out,
        ),
        Command::Bench {
            name,
            threads,
            batch,
            runs,
            small,
            tune,
            stream: false,
            chunk: _,
            peak: _,
        } => bench(
            find(name)?,
            *small,
            BenchRun {
                threads: threads.map_or(0, usize::from),
                batch: *batch as usize,
                runs: *runs as usize,
                tune: *tune,
            },
            out,
        ),
    }
}

/// Loads a variant's weights.
pub(crate) fn load(v: &Variant, bytes: &[u8]) -> Result<Box<dyn Net>, String> {
    (v.load)(bytes)
}

/// The twin module: the generated source, then `INPUT_SHAPE` and `model()`.
pub(crate) fn twin(v: &Variant) -> String {
    let [c, h, w] = v.example;
    let shape = match v.rank {
        Rank::One => format!("({c}, {w})"),
        Rank::Two => format!("({c}, {h}, {w})"),
    };
    format!(
        "{}\n\n\n# The input of one item, without the batch.\nINPUT_SHAPE = {shape}\n\n\n\
         def model() -> torch.nn.Module:\n    \"\"\"A fresh `{class}` twin, in `eval()` mode.\"\"\"\n    \
         return {class}().eval()\n",
        v.pytorch.trim_end(),
        class = v.class,
    )
}

/// Deterministic inputs in [-1, 1) (xorshift32).
pub(crate) fn signal(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            #[allow(clippy::cast_precision_loss, reason = "24 bits: exact")]
            let v = (state >> 8) as f32 / (1u32 << 24) as f32;
            2.0 * v - 1.0
        })
        .collect()
}

/// How `bench --stream` pushes: timed runs, threads, samples per push.
#[derive(Debug, Clone, Copy)]
struct StreamRun {
    runs: usize,
    threads: usize,
    chunk: usize,
}

/// Samples pushed untimed before a stream's timed runs, and the most pushed per run.
const STREAM_WARMUP: usize = 256;
const STREAM_RUN: usize = 2048;

/// `bench --stream`: microseconds per sample of the frame-by-frame stream, median of
/// `runs` runs, beside the model's FLOPs per sample (2 × the multiply-adds of its convs
/// for one output sample) and, given the peak, the time those FLOPs take at it.
fn stream_bench(
    entry: &Entry,
    small: bool,
    run: StreamRun,
    peak: Option<f64>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let StreamRun {
        runs,
        threads,
        chunk,
    } = run;
    if peak.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
        return Err("--peak must be a positive number of GFLOP/s".to_owned());
    }
    if !STREAM_RUN.is_multiple_of(chunk) {
        return Err(format!("--chunk {chunk} does not divide {STREAM_RUN}"));
    }
    let v = entry.variant(small);
    let net = (v.seeded)(0)?;
    let model = net
        .model()
        .ok_or_else(|| format!("{} does not stream", entry.name))?;
    let mut stream = model
        .clone()
        .with_threads(threads)
        .and_then(|m| m.stream())
        .map_err(|e| e.to_string())?;
    stream.reserve_chunk(chunk).map_err(|e| e.to_string())?;
    let mut flops = 0usize;
    for node in model.graph().nodes() {
        if let Op::Conv { desc, .. } = node.op() {
            flops = 2usize
                .checked_mul(desc.out_channels)
                .and_then(|f| f.checked_mul(desc.in_per_group()))
                .and_then(|f| f.checked_mul(desc.kernel[0]))
                .and_then(|f| f.checked_mul(desc.kernel[1]))
                .and_then(|f| f.checked_add(flops))
                .ok_or_else(|| "the model's FLOP count overflows".to_owned())?;
        }
    }
    let (c, co) = (stream.in_channels(), stream.out_channels());
    let frames = signal(c * (STREAM_WARMUP + STREAM_RUN), 0x9E37_79B9);
    // Chunks are channels-major: gathered before the timing.
    let chunks: Vec<Vec<f32>> = (0..(STREAM_WARMUP + STREAM_RUN) / chunk)
        .map(|k| {
            (0..c)
                .flat_map(|ch| (k * chunk..(k + 1) * chunk).map(move |t| (t, ch)))
                .map(|(t, ch)| frames[t * c + ch])
                .collect()
        })
        .collect();
    let mut y = vec![0.0; co * chunk];
    let mut push = |stream: &mut ModelStream, range: std::ops::Range<usize>| {
        if chunk == 1 {
            for t in range {
                stream
                    .push(&frames[t * c..(t + 1) * c])
                    .map_err(|e| e.to_string())?;
            }
        } else {
            for part in &chunks[range.start / chunk..range.end / chunk] {
                stream.push_chunk(part, &mut y).map_err(|e| e.to_string())?;
            }
        }
        Ok::<(), String>(())
    };
    push(&mut stream, 0..STREAM_WARMUP)?;
    let mut per_sample = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        push(&mut stream, STREAM_WARMUP..STREAM_WARMUP + STREAM_RUN)?;
        #[allow(clippy::cast_precision_loss, reason = "2048 samples: exact")]
        per_sample.push(start.elapsed().as_secs_f64() * 1e6 / STREAM_RUN as f64);
    }
    per_sample.sort_by(f64::total_cmp);
    let median = per_sample[per_sample.len() / 2];
    let write_err = |e: std::io::Error| format!("cannot write to stdout: {e}");
    writeln!(
        out,
        "{} ({}): ModelStream, {}, {threads} thread(s), {runs} timed runs of {STREAM_RUN} samples after {STREAM_WARMUP} untimed",
        entry.name,
        v.class,
        if chunk == 1 {
            "one sample at a time".to_owned()
        } else {
            format!("chunks of {chunk} samples")
        }
    )
    .map_err(write_err)?;
    write!(out, "flop_per_sample={flops}").map_err(write_err)?;
    if let Some(peak) = peak {
        // FLOP at GFLOP/s: nanoseconds, so microseconds / 1000.
        #[allow(clippy::cast_precision_loss, reason = "a FLOP count far below 2^52")]
        let bound = flops as f64 / peak / 1e3;
        write!(out, " bound_us_per_sample={bound:.4}").map_err(write_err)?;
    }
    writeln!(out).map_err(write_err)?;
    writeln!(out, "us_per_sample={median:.3}").map_err(write_err)
}

/// How `bench` (not `--stream`) runs: threads, batch, timed runs, tuning first.
struct BenchRun {
    threads: usize,
    batch: usize,
    runs: usize,
    tune: bool,
}

fn bench(entry: &Entry, small: bool, run: BenchRun, out: &mut dyn Write) -> Result<(), String> {
    let BenchRun {
        threads,
        batch,
        runs,
        tune,
    } = run;
    let write_err = |e: std::io::Error| format!("cannot write to stdout: {e}");
    let v = entry.variant(small);
    let [c, h, w] = v.example;
    let len = batch
        .checked_mul(c)
        .and_then(|n| n.checked_mul(h))
        .and_then(|n| n.checked_mul(w))
        .ok_or_else(|| "the batch is too large".to_owned())?;
    let mut net = (v.seeded)(0)?.with_threads(threads)?;
    if tune {
        let (tuned, tunings) = net.tuned(batch, [h, w])?;
        net = tuned;
        for (i, t) in tunings.iter().enumerate() {
            let own = t.timings.first().map(|(_, s)| *s);
            let picked = t
                .timings
                .iter()
                .find(|(c, _)| *c == t.choice)
                .map(|(_, s)| *s);
            let gain = match (own, picked) {
                (Some(o), Some(p)) => format!(
                    ", {} candidates, {:.3} ms against {:.3} ms for its own choice",
                    t.timings.len(),
                    p * 1e3,
                    o * 1e3
                ),
                _ => String::new(),
            };
            writeln!(out, "# tune: chain {i}: {}{gain}", t.choice).map_err(write_err)?;
        }
    }
    let input = signal(len, 0x9E37_79B9);
    let times = net.time_forward_into(batch, [h, w], &input, 2, runs)?;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let shape = match v.rank {
        Rank::One => format!("[{batch}, {c}, {w}]"),
        Rank::Two => format!("[{batch}, {c}, {h}, {w}]"),
    };
    let threads = if threads == 0 {
        "every core".to_owned()
    } else {
        threads.to_string()
    };
    writeln!(
        out,
        "{} ({}): forward_into on {shape}, seeded weights, threads: {threads}, {} timed runs after 2 warm-up runs",
        entry.name, v.class, times.len()
    )
    .map_err(write_err)?;
    writeln!(
        out,
        "min_ms={:.3} max_ms={:.3}",
        sorted[0],
        sorted[sorted.len() - 1]
    )
    .map_err(write_err)?;
    writeln!(out, "median_ms={median:.3}").map_err(write_err)
}

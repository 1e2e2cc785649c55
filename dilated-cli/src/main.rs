//! `dilated`: check a schedule of dilated convolutions for holes (the gridding effect) and
//! the HDC design rules, draw its coverage map, and suggest schedules that see their whole
//! receptive field.
//!
//! ```text
//! dilated check   --kernel 3 --rates 2,4,8 [--strides 2,1,1] [--input 64] [--strict-hdc] [--json]
//! dilated map     --kernel 3 --rates 1,2,5 [--png map.png] [--svg map.svg] [--json]
//! dilated suggest --kernel 3 --layers 6 --min-rf 64 [--count 5] [--json]
//! dilated check   model.onnx [--tensor NAME] [--json]     (or --model FILE)
//! dilated map     model.onnx [--tensor NAME] [--png F] [--svg F] [--json]
//! dilated import  model.onnx --name Net --out DIR
//! ```
//!
//! With a model, `check` and `map` analyse every path of the ONNX graph from its input to
//! each output (or to each `--tensor`) through `dilated_onnx::analysis` (`model.rs`);
//! `import` writes a `dilated_stack!` declaration and its weights for a chain
//! (`import.rs`).
//!
//! `check` prints the verdict, the receptive field, the coverage row (paths from one
//! output position to each input offset), the holes, HDC rules 1–3 with their figures,
//! the per-layer geometry, the analysis's diagnostics (`error[holes]: gridding: …` with a
//! `help:` fix) and suggested schedules. `--json` prints one object: `verdict`,
//! `exit_code`, `gridding`, `receptive_field`, `min_offset`, `max_offset`, `coverage`
//! (exact integers, or `null` with `coverage_note`), `holes`, `hole_count`,
//! `first_hole_layer` (0-based), `nearest_hole`, `widest_gap`, `hdc` {`m`, `groups`,
//! `kernel`, `rule1`, `rule2`, `rule3` (`true`/`false`/`null`), `gcd`, `repeats`},
//! `layers` (per layer `kernel`, `rate`, `stride`, `effective_kernel`, `padding` (one
//! integer per side when symmetric, `[lo, hi]` when not), `padding_lo`, `padding_hi`,
//! `receptive_field`, `jump`, offsets, sizes), `diagnostics`, `suggestions`,
//! `limits`.
//!
//! A 2D schedule gives the width axis its own layers with `--kernel-w`, `--rates-w`,
//! `--strides-w` (each defaulting to the height's) and takes `--input HxW`; `check --json`
//! then adds `axes`, one object per axis with the fields above (the top-level ones are the
//! height's), and `map` draws the height × width outer product.
//!
//! Every number comes from the schedule analysis, `dilated_core::schedule` (the proc macro
//! calls the same code, so the command and compile errors agree); this crate only parses,
//! calls it and renders. Checks are named by their ids (`holes`, `hdc1`, `hdc2`, `hdc3`,
//! `no_output`, `long_range`) in `--deny`/`--warn`/`--allow`, the `error[…]` prefixes and
//! the JSON `check` field, as in the macro's `check: { … }`; `gridding`, `hdc` and the
//! hyphenated spellings (`hdc-rule-1`, `no-output`, …) are accepted too.
//!
//! # Exit codes
//! - `0`: nothing at error level (warnings allowed);
//! - `1`: the schedule has holes (gridding) or breaks a rule set to error;
//! - `2`: bad input (zero, negative, non-numeric values, empty or malformed lists, lists
//!   of different lengths, overflowing sizes), a schedule over a documented limit, a map
//!   over its size limit, a `suggest` that nothing satisfies, or a file that cannot be
//!   written. One line on stderr says what is wrong.
//!
//! # Limits
//! - at most 10,000 layers (`MAX_LAYERS`);
//! - the verdict (receptive field, hole count, HDC rules) for receptive fields up to
//!   2^26 = 67,108,864 per axis (`MAX_VERDICT_RF`);
//! - exact coverage counts and hole lists up to a receptive field of 2^17 = 131,072 and
//!   2^28 tap additions (`MAX_COVERAGE_RF`, `MAX_COVERAGE_WORK`); past them `check --json`
//!   writes `"coverage": null` and `"holes": null` and still gives `hole_count`;
//! - counts are exact at any size (`u128`, then big integers, up to an estimated 2^28 64-bit
//!   limb additions, about a second): JSON carries them as exact integers;
//! - the 2D map: at most 1,024 cells per side (`MAX_MAP_SIDE`); its pictures at most 16,384
//!   pixels per side (`--cell` is 1 to 64 pixels).

mod args;
mod check;
mod count;
mod import;
mod map;
mod model;
mod png_out;
mod suggest;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dilated_core::schedule::{CheckName, ErrorKind, Schedule, ScheduleError, Spec2d};

use args::List;

/// Exit codes and limits, from the analysis's constants (shown after every `--help`).
fn limits_help() -> String {
    use dilated_core::schedule::{
        MAX_COVERAGE_RF, MAX_COVERAGE_WORK, MAX_LAYERS, MAX_MAP_SIDE, MAX_VERDICT_RF,
    };
    format!(
        "Exit codes: 0 nothing at error level (warnings allowed); 1 holes (gridding) or a rule \
         set to error; 2 bad input, a schedule over a limit, a suggest that nothing satisfies.\n\n\
         Limits: {} layers; the verdict for receptive fields up to {} per axis; exact coverage \
         counts and hole lists up to a receptive field of {} (past it, JSON has \"coverage\": \
         null and \"holes\": null, and always \"hole_count\"; counts also stop past {} tap \
         additions, or {} 64-bit limb additions for counts past 128 bits); maps up to {} \
         cells per side, pictures up to {} pixels per side. Counts never wrap: JSON writes \
         them as exact integers.",
        thousands(MAX_LAYERS as u64),
        thousands(MAX_VERDICT_RF),
        thousands(MAX_COVERAGE_RF),
        thousands(MAX_COVERAGE_WORK),
        thousands(count::MAX_BIG_COUNT_WORK),
        thousands(MAX_MAP_SIDE),
        thousands(u64::from(map::MAX_PICTURE_SIDE)),
    )
}

/// `131072` → `131,072`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Check dilated convolution schedules for gridding, draw their coverage, suggest fixes.
#[derive(Debug, Parser)]
#[command(name = "dilated", version, about, after_help = limits_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verdict, receptive field, coverage row, holes, HDC rules 1–3 and a fix.
    ///
    /// Exit 0 when nothing is at error level, 1 when the schedule has holes or breaks a
    /// rule set to error, 2 on bad input or a schedule over a limit.
    #[command(after_help = limits_help())]
    Check(CheckArgs),
    /// The 2D coverage map: how many paths lead from one output pixel
    /// to each input pixel, as a text grid, JSON, or a PNG/SVG heat map.
    ///
    /// By default the schedule is applied to both axes (square kernels, the same rate on
    /// both axes), so the map is the outer product of the coverage row with itself;
    /// `--kernel-w`, `--rates-w`, `--strides-w` give the width axis its own layers. The map
    /// is trimmed to the receptive field: at most 1,024 cells per side.
    #[command(after_help = limits_help())]
    Map(MapArgs),
    /// Hole-free schedules that satisfy the HDC rules, best first (the smallest largest
    /// rate, then sawtooth shapes). Exit 2 when nothing satisfies the request.
    #[command(after_help = limits_help())]
    Suggest(SuggestArgs),
    /// Write a `dilated_stack!` declaration and its weights from an ONNX chain of
    /// convolutions and activations (1D or 2D): exactly `OUT/<name>.rs` and
    /// `OUT/<name>.safetensors` (the name in snake case). Exit 2, naming the first node it
    /// cannot express, for a graph outside the grammar.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The ONNX model.
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    /// The declared type's name (UpperCamelCase; the files take it in snake case).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The folder to write the two files into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `--kernel`, as every command takes it.
#[derive(Debug, Args)]
struct KernelArg {
    /// Kernel size: one for every layer, or a comma-separated list with one per layer.
    #[arg(
        long = "kernel",
        short = 'k',
        visible_alias = "kernels",
        value_name = "K[,K…]",
        default_value = "3",
        value_parser = args::list,
        allow_hyphen_values = true
    )]
    kernels: List,
}

/// `--strides`, as every command takes it.
#[derive(Debug, Args)]
struct StrideArg {
    /// Strides: one for every layer, or one per layer (default 1).
    #[arg(
        long = "strides",
        short = 's',
        visible_alias = "stride",
        value_name = "S[,S…]",
        value_parser = args::list,
        allow_hyphen_values = true
    )]
    strides: Option<List>,
}

/// The layers of a schedule: 1D, or 2D with a width axis of its own (`--rates-w` …).
#[derive(Debug, Args)]
struct StackArgs {
    #[command(flatten)]
    kernel: KernelArg,
    /// Dilation rates, one per layer: `2,4,8` or `[1, 2, 5]`.
    #[arg(
        long,
        short = 'r',
        value_name = "LIST",
        value_parser = args::list,
        allow_hyphen_values = true,
        required_unless_present_any = ["model_file", "model"]
    )]
    rates: Option<List>,
    #[command(flatten)]
    stride: StrideArg,
    /// Width-axis kernel sizes: with `--rates-w` or `--strides-w`, makes the schedule 2D
    /// (height: `--kernel`, `--rates`, `--strides`; width: these, defaulting to the
    /// height's).
    #[arg(long = "kernel-w", visible_alias = "kernels-w", value_name = "K[,K…]", value_parser = args::list, allow_hyphen_values = true)]
    kernels_w: Option<List>,
    /// Width-axis dilation rates, one per layer (a 2D schedule).
    #[arg(long = "rates-w", value_name = "LIST", value_parser = args::list, allow_hyphen_values = true)]
    rates_w: Option<List>,
    /// Width-axis strides (a 2D schedule).
    #[arg(long = "strides-w", visible_alias = "stride-w", value_name = "S[,S…]", value_parser = args::list, allow_hyphen_values = true)]
    strides_w: Option<List>,
}

impl StackArgs {
    /// Whether a width axis of its own was given (a 2D schedule).
    fn two_d(&self) -> bool {
        self.kernels_w.is_some() || self.rates_w.is_some() || self.strides_w.is_some()
    }
}

/// A model to analyse instead of a schedule: `dilated check model.onnx`.
#[derive(Debug, Args)]
struct ModelArgs {
    /// An ONNX model to analyse (a path ending in `.onnx`); replaces the schedule flags.
    #[arg(value_name = "MODEL.onnx", conflicts_with_all = ["rates", "model"])]
    model_file: Option<PathBuf>,
    /// An ONNX model to analyse, whatever its file name.
    #[arg(long, value_name = "FILE", conflicts_with = "rates")]
    model: Option<PathBuf>,
    /// With a model: analyse this tensor (e.g. the last feature map before a classifier)
    /// instead of the graph's outputs (repeatable).
    #[arg(long, value_name = "NAME", requires = "model_any")]
    tensor: Vec<String>,
}

impl ModelArgs {
    /// The model file, if one was given (a positional path must end in `.onnx`).
    fn path(&self) -> Result<Option<&std::path::Path>, Failure> {
        match (&self.model_file, &self.model) {
            (Some(p), _) => {
                if p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
                {
                    Ok(Some(p))
                } else {
                    Err(Failure::Message(format!(
                        "{} is not a model: give a path ending in .onnx, or --model FILE",
                        p.display()
                    )))
                }
            }
            (None, Some(p)) => Ok(Some(p)),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("model_any").args(["model_file", "model"]).multiple(false))]
struct CheckArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// The input size, `N` or `HxW` for a 2D schedule: enables the long-range checks (a
    /// layer without output is an error; an effective kernel or a receptive field wider
    /// than the input warns).
    #[arg(long, value_name = "N|HxW", value_parser = args::sizes, allow_hyphen_values = true)]
    input: Option<List>,
    /// Treat HDC rules 1, 2 and 3 as errors (by default rules 1 and 2 warn; holes and
    /// rule 3 are errors).
    #[arg(long)]
    strict_hdc: bool,
    /// Make a check an error: holes, hdc1, hdc2, hdc3, no_output, long_range; or
    /// gridding (holes), hdc (rules 1–3), hdc-rule-1 … (repeatable).
    #[arg(long, value_name = "CHECK", value_parser = check_name)]
    deny: Vec<CheckName>,
    /// Make a check a warning (repeatable).
    #[arg(long, value_name = "CHECK", value_parser = check_name)]
    warn: Vec<CheckName>,
    /// Do not report a check (repeatable).
    #[arg(long, value_name = "CHECK", value_parser = check_name)]
    allow: Vec<CheckName>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("model_any").args(["model_file", "model"]).multiple(false))]
struct MapArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Write the heat map as a PNG file.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Write the heat map as an SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Side of one cell in the pictures, in pixels (default: from the map's size).
    #[arg(long, value_name = "PX", value_parser = cell_px)]
    cell: Option<u32>,
    /// Leave the counts out of the pictures' cells.
    #[arg(long)]
    no_labels: bool,
    /// Print `{"map": [[...], ...], ...}` instead of the text grid.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SuggestArgs {
    #[command(flatten)]
    kernel: KernelArg,
    #[command(flatten)]
    stride: StrideArg,
    /// Number of layers.
    #[arg(long, short = 'n', value_name = "N", value_parser = args::count, allow_hyphen_values = true)]
    layers: usize,
    /// The receptive field to reach, at least.
    #[arg(long, value_name = "RF", value_parser = args::number, allow_hyphen_values = true)]
    min_rf: u64,
    /// How many schedules to list, at most.
    #[arg(long, value_name = "N", default_value = "5", value_parser = args::count, allow_hyphen_values = true)]
    count: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// A check name of `--deny`/`--warn`/`--allow`, from the schedule's one table (the names
/// the macro's `check: { … }` takes).
fn check_name(text: &str) -> Result<CheckName, String> {
    CheckName::find(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = CheckName::offered().collect();
        format!(
            "unknown check '{text}': expected one of {}",
            names.join(", ")
        )
    })
}

fn cell_px(text: &str) -> Result<u32, String> {
    let n = args::number(text)?;
    match u32::try_from(n) {
        Ok(px @ 1..=64) => Ok(px),
        _ => Err(format!("a cell of {n} px: give 1 to 64")),
    }
}

/// The schedule the stack arguments describe, validated (zero sizes, overflow, list
/// lengths, the layer limit), each error naming its layer.
fn schedule(stack: &StackArgs) -> Result<Schedule, ScheduleError> {
    let strides = stack.stride.strides.as_ref().map(|l| l.0.as_slice());
    // clap asks for `--rates` unless a model is given; an empty list is refused below.
    let height_rates = stack.rates.as_ref().map_or(&[][..], |l| l.0.as_slice());
    let height = Schedule::from_lists(&stack.kernel.kernels.0, height_rates, strides)?;
    let s = if stack.two_d() {
        let pick =
            |w: &Option<List>, h: &[u64]| w.as_ref().map_or_else(|| h.to_vec(), |l| l.0.clone());
        let kernels = pick(&stack.kernels_w, &stack.kernel.kernels.0);
        let rates = pick(&stack.rates_w, height_rates);
        let strides_w = match (&stack.strides_w, &stack.stride.strides) {
            (Some(w), _) => Some(w.0.clone()),
            (None, Some(h)) => Some(h.0.clone()),
            (None, None) => None,
        };
        if rates.len() != height.len() {
            return Err(ScheduleError::new(ErrorKind::LengthMismatch {
                what: "width rates (--rates-w)",
                expected: height.len(),
                actual: rates.len(),
            }));
        }
        let width = Schedule::from_lists(&kernels, &rates, strides_w.as_deref())?;
        let layers: Vec<Spec2d> = height.axes()[0]
            .1
            .iter()
            .zip(&width.axes()[0].1)
            .map(|(&height, &width)| Spec2d { height, width })
            .collect();
        Schedule::two_d(&layers)
    } else {
        height
    };
    s.validate()?;
    Ok(s)
}

/// `value` as one line of JSON, as every `--json` prints it.
fn json_line(value: &impl serde::Serialize) -> Result<String, Failure> {
    let mut s = serde_json::to_string(value)
        .map_err(|e| Failure::Message(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// Why a command could not answer (exit 2).
#[derive(Debug)]
enum Failure {
    /// The schedule analysis refused the schedule (bad values, a limit, no suggestion).
    Schedule(ScheduleError),
    /// Anything else: a file that cannot be written, counts too costly to compute.
    Message(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Schedule(e) => e.fmt(f),
            Self::Message(msg) => f.write_str(msg),
        }
    }
}

impl From<ScheduleError> for Failure {
    fn from(e: ScheduleError) -> Self {
        Self::Schedule(e)
    }
}

/// What a command prints, and its exit code.
struct Outcome {
    stdout: String,
    code: u8,
}

/// clap's error as one line: the message without the usage block and tips.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let head = text.split("\n\n").next().unwrap_or(&text);
    let mut line = head
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !line.starts_with("error:") {
        line = format!("error: {line}");
    }
    format!("{line} (see `dilated --help`)")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind as K;
            return match err.kind() {
                K::DisplayHelp | K::DisplayVersion => {
                    let _ = err.print();
                    ExitCode::SUCCESS
                }
                K::DisplayHelpOnMissingArgumentOrSubcommand | K::MissingSubcommand => {
                    eprintln!(
                        "error: no command given: use `dilated check`, `dilated map` or `dilated suggest` (see `dilated --help`)"
                    );
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!("{}", one_line(&err));
                    ExitCode::from(2)
                }
            };
        }
    };
    let result = match &cli.command {
        Command::Check(a) => match a.model.path() {
            Ok(Some(path)) => model::check(a, path),
            Ok(None) => check::run(a),
            Err(e) => Err(e),
        },
        Command::Map(a) => match a.model.path() {
            Ok(Some(path)) => model::map(a, path),
            Ok(None) => map::run(a),
            Err(e) => Err(e),
        },
        Command::Import(a) => import::run(a),
        Command::Suggest(a) => suggest::run(a),
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`dilated map … | head`) is not an error of ours.
            let _ = stdout
                .write_all(out.stdout.as_bytes())
                .and_then(|()| stdout.flush());
            ExitCode::from(out.code)
        }
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_limits_match_the_analysis() {
        // The crate docs above quote these numbers.
        use dilated_core::schedule::{
            MAX_COVERAGE_RF, MAX_COVERAGE_WORK, MAX_LAYERS, MAX_MAP_SIDE, MAX_VERDICT_RF,
        };
        assert_eq!(MAX_LAYERS, 10_000);
        assert_eq!(MAX_VERDICT_RF, 1 << 26);
        assert_eq!(MAX_COVERAGE_RF, 1 << 17);
        assert_eq!(MAX_COVERAGE_WORK, 1 << 28);
        assert_eq!(MAX_MAP_SIDE, 1024);
        assert_eq!(count::MAX_BIG_COUNT_WORK, 1 << 28);
        let help = limits_help();
        assert!(
            help.contains("10,000 layers") && help.contains("67,108,864"),
            "{help}"
        );
        assert_eq!(thousands(131_072), "131,072");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

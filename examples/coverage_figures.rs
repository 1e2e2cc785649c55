//! The three classic coverage-count figures of the HDC rules, reproduced by the schedule
//! engine: kernel 3, rates `[2, 4, 8]`, `[1, 2, 5]` and `[1, 2, 9]`.
//!
//! ```text
//! cargo run --release --example coverage_figures                     # writes docs/figures/
//! cargo run --release --example coverage_figures -- --out-dir figures
//! cargo run --release --example coverage_figures -- --rates 1,2,3 --rates 2,2,2 --kernel 3
//! ```
//!
//! For each schedule it prints the verdict in the words of `dilated check`, the HDC rules
//! with their figures, the 1D coverage row and the 2D count grid (how many paths lead from
//! one output pixel to each input pixel; `.` is a hole, a count of 0), and writes the heat
//! map as `coverage-k<kernel>-<rates>.svg` in the classic style. What you should see: `[2, 4, 8]`
//! reads only every other row and column (a lattice of holes, gridding), `[1, 2, 5]` covers
//! its 17 × 17 field with no hole, `[1, 2, 9]` leaves holes between the centre block and the
//! outer taps.
//!
//! Bad input (a zero rate or kernel, a field too wide to draw, a directory that cannot be
//! written) ends with one `error: …` line and exit code 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use dilated::heatmap;
use dilated::schedule::{self, AxisReport, Outcome, Report, Schedule};

mod common;

/// Prints and draws the coverage of dilated convolution schedules.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Kernel size of every layer.
    #[arg(long, default_value_t = 3)]
    kernel: u64,
    /// A schedule of rates, e.g. `1,2,5`; repeat for several (default: the classic three).
    #[arg(long, value_delimiter = ',', num_args = 1.., action = clap::ArgAction::Append)]
    rates: Vec<u64>,
    /// Where to write the SVG files (created if missing; default: docs/figures).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    // Each `--rates` occurrence is one schedule (the `Vec` field holds them all, flattened).
    let groups: Vec<Vec<u64>> = matches
        .get_occurrences::<u64>("rates")
        .map(|occ| occ.map(|o| o.copied().collect()).collect())
        .unwrap_or_default();
    common::exit(run(&args, groups))
}

fn run(args: &Args, groups: Vec<Vec<u64>>) -> Result<(), String> {
    let schedules = if args.rates.is_empty() {
        vec![vec![2, 4, 8], vec![1, 2, 5], vec![1, 2, 9]]
    } else {
        groups
    };
    let dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/figures"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for rates in &schedules {
        figure(args.kernel, rates, &dir)?;
    }
    Ok(())
}

fn list(v: &[u64]) -> String {
    let s: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("[{}]", s.join(", "))
}

fn verdict(report: &Report, axis: &AxisReport) -> String {
    format!(
        "{}, {}",
        if report.is_error() { "FAIL" } else { "ok" },
        common::verdict(axis.reach.hole_count, axis.receptive_field)
    )
}

fn rule(o: Outcome) -> &'static str {
    match o.as_bool() {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "n/a",
    }
}

fn figure(kernel: u64, rates: &[u64], dir: &Path) -> Result<(), String> {
    let name = format!("kernel {kernel}, rates {}", list(rates));
    let report = schedule::analyze(
        &Schedule::uniform(kernel, rates),
        &schedule::Options::default(),
    )
    .map_err(|e| format!("{name}: {e}"))?;
    let axis = report.axes.first().ok_or("an empty report")?;
    let row = axis
        .coverage
        .exact()
        .ok_or_else(|| format!("{name}: the coverage counts are over the engine's limits"))?;
    let map = schedule::coverage_map(row, row).map_err(|e| format!("{name}: {e}"))?;

    let mut s = String::new();
    let _ = writeln!(s, "\n== {name}");
    let _ = writeln!(s, "verdict          {}", verdict(&report, axis));
    let h = &axis.hdc;
    let _ = writeln!(
        s,
        "HDC rules        1: {} (M = {}), 2: {}, 3: {} (gcd {})",
        rule(h.rule1),
        list(&h.m),
        rule(h.rule2),
        rule(h.rule3),
        h.gcd
    );
    let _ = writeln!(
        s,
        "coverage row     offsets {}..={}: {}",
        row.min_offset,
        axis.reach.max_offset,
        schedule::coverage_row_text(row, 64)
    );
    if let Some(holes) = axis.holes.as_ref().filter(|h| !h.is_empty()) {
        let _ = writeln!(s, "holes            {holes:?}");
    }
    let width = heatmap::max_value(&map).map_or(1, |m| m.to_string().len());
    let _ = writeln!(
        s,
        "paths from the output pixel to each input pixel ({0} × {0}, `.` = hole):",
        map.len()
    );
    for r in &map {
        let cells: Vec<String> = r
            .iter()
            .map(|&c| {
                if c == 0 {
                    format!("{:>width$}", ".")
                } else {
                    format!("{c:>width$}")
                }
            })
            .collect();
        let _ = writeln!(s, "  {}", cells.join(" "));
    }
    let options = heatmap::Options {
        origin: (row.min_offset, row.min_offset),
        title: Some(format!(
            "coverage of one output pixel: kernel {kernel}×{kernel}, rates {}",
            list(rates)
        )),
        ..heatmap::Options::default()
    };
    let stem: Vec<String> = rates.iter().map(u64::to_string).collect();
    let path = dir.join(format!("coverage-k{kernel}-{}.svg", stem.join("-")));
    std::fs::write(&path, heatmap::svg(&map, &options))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let _ = writeln!(s, "wrote {}", path.display());
    print!("{s}");
    Ok(())
}

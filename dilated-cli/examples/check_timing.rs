//! End-to-end timing of `dilated check --json` on 1,000-layer schedules with rates up to
//! 10,000: process start, parsing, the verdict, the bounded suggestion search and the JSON
//! output, as a user runs it.
//!
//! ```text
//! cargo build --release -p dilated-cli
//! cargo run --release -p dilated-cli --example check_timing [-- path/to/dilated]
//! ```
//!
//! Prints one line per schedule: exit code, receptive field, hole count, and the minimum,
//! median and maximum wall time of 11 runs. The target is under 1.5 s.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// A fixed xorshift sequence, so every run times the same schedules.
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn binary() -> Result<PathBuf, String> {
    if let Some(arg) = std::env::args_os().nth(1) {
        return Ok(PathBuf::from(arg));
    }
    // target/release/examples/check_timing → target/release/dilated
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or("no target directory")?;
    let bin = dir.join(format!("dilated{}", std::env::consts::EXE_SUFFIX));
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p dilated-cli` first, or pass the binary's path",
            bin.display()
        ))
    }
}

fn main() -> Result<(), String> {
    let bin = binary()?;
    let mut rng = xorshift(0x2545_f491_4f6c_dd1d);
    let uniform: Vec<u64> = (0..1000).map(|_| rng() % 10_000 + 1).collect();
    let near_top: Vec<u64> = (0..1000)
        .map(|_| [9_949, 9_967, 9_973, 9_998, 10_000][usize::try_from(rng() % 5).unwrap_or(0)])
        .collect();
    let sawtooth: Vec<u64> = [1, 2, 5, 10, 100, 1_000, 10_000]
        .iter()
        .copied()
        .cycle()
        .take(1000)
        .collect();
    let equal = vec![10_000u64; 1000];
    for (name, rates) in [
        ("uniform 1..=10000", uniform),
        ("five rates near 10000", near_top),
        ("sawtooth up to 10000", sawtooth),
        ("all 10000", equal),
    ] {
        let list = rates
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut times = Vec::new();
        let mut summary = String::new();
        for _ in 0..11 {
            let start = Instant::now();
            let out = Command::new(&bin)
                .args(["check", "--json", "--kernel", "3", "--rates", &list])
                .output()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            times.push(start.elapsed().as_secs_f64());
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("{name}: not JSON: {e}"))?;
            summary = format!(
                "exit {} rf {} holes {} suggestions {}",
                out.status.code().unwrap_or(-1),
                v["receptive_field"],
                v["hole_count"],
                v["suggestions"].as_array().map_or(0, Vec::len)
            );
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<24} {summary}  min {:.3} s  median {:.3} s  max {:.3} s",
            times[0], times[5], times[10]
        );
    }
    Ok(())
}

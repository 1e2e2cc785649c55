//! The CLI's argument parsing, fuzzed on stable: random argument vectors drawn from the
//! command's own vocabulary (subcommands, flags, numbers at and past every edge, lists,
//! sizes, check ids) mixed with junk, run through the `dilated` binary. Whatever the
//! arguments, the exit code is 0, 1 or 2, nothing on stderr speaks of a panic, an error
//! (exit 2) is one line on stderr, and every run ends within a few seconds.
//!
//! The generator is a seeded xorshift, so a failure names the seed and the case that
//! reproduce it. `FUZZ_ARGS_CASES` sets the number of runs (600 by default, a few seconds
//! on an idle machine), `FUZZ_ARGS_SEED` the seed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run that takes longer is a finding (the slowest valid commands take about a second).
const TIMEOUT: Duration = Duration::from_secs(20);

/// xorshift64*: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const COMMANDS: &[&str] = &["check", "map", "suggest", "help", "chek", ""];

const FLAGS: &[&str] = &[
    "--kernel",
    "-k",
    "--kernels",
    "--rates",
    "-r",
    "--strides",
    "--stride",
    "-s",
    "--kernel-w",
    "--kernels-w",
    "--rates-w",
    "--strides-w",
    "--stride-w",
    "--input",
    "--strict-hdc",
    "--deny",
    "--warn",
    "--allow",
    "--json",
    "--png",
    "--svg",
    "--cell",
    "--no-labels",
    "--layers",
    "-n",
    "--min-rf",
    "--count",
    "--help",
    "-h",
    "--version",
    "-V",
    "--",
    "--rates=1,2,5",
    "--kernel=",
    "--unknown",
    "-x",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "7",
    "64",
    "1024",
    "65536",
    "10000",
    "-1",
    "-0",
    "+3",
    "1,2,5",
    "2,4,8",
    "1,2,3,1,2,3",
    "1,2,9",
    "1,,2",
    ",",
    "1,2,",
    "3,3,3",
    "1 2",
    "0,1",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e9",
    "0x10",
    "1.5",
    "NaN",
    "64x64",
    "3x",
    "x3",
    "0x5",
    "1024x1024",
    "65536x65536",
    "2x3x4",
    "holes",
    "gridding",
    "hdc",
    "hdc1",
    "hdc-rule-2",
    "hdc3",
    "no_output",
    "no-output",
    "long_range",
    "long-range",
    "everything",
    "map.png",
    "map.svg",
    "missing-dir/map.png",
    "",
    " ",
    "é",
    "\u{202e}",
    "--json",
];

/// Values of every size the schedule parser takes: long lists and big rates reach the
/// analysis' limits.
fn generated_value(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => (0..1 + rng.below(40))
            .map(|_| (1 + rng.below(64)).to_string())
            .collect::<Vec<_>>()
            .join(","),
        1 => (rng.next() >> rng.below(64)).to_string(),
        2 => format!("{}x{}", rng.below(5000), rng.below(5000)),
        _ => {
            let len = rng.below(12);
            (0..len)
                .map(|_| char::from(b' ' + (rng.below(95) as u8)))
                .collect()
        }
    }
}

/// A small positive list, as schedules are written: `1,2,5`.
fn small_list(rng: &mut Rng, max: usize) -> String {
    (0..1 + rng.below(6))
        .map(|_| (1 + rng.below(max)).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A command that parses, or nearly: its required flags with plausible values, then a
/// few optional ones (and now and then a junk token). These reach the analysis, the
/// pictures and the suggestion search, where the junk of [`args`] stops at the parser.
fn structured(rng: &mut Rng) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let command = rng.pick(&["check", "map", "suggest"]);
    v.push(command.to_owned());
    if command == "suggest" {
        v.extend(["--layers".to_owned(), (1 + rng.below(8)).to_string()]);
        v.extend(["--min-rf".to_owned(), (1 + rng.below(200)).to_string()]);
    } else {
        v.extend(["--rates".to_owned(), small_list(rng, 12)]);
    }
    for _ in 0..rng.below(5) {
        let (flag, value): (&str, String) = match rng.below(12) {
            0 => ("--kernel", small_list(rng, 7)),
            1 => ("--strides", small_list(rng, 3)),
            2 => ("--rates-w", small_list(rng, 12)),
            3 => ("--kernel-w", small_list(rng, 7)),
            4 => (
                "--input",
                format!("{}x{}", 1 + rng.below(300), 1 + rng.below(300)),
            ),
            5 => ("--input", (1 + rng.below(500)).to_string()),
            6 => (
                rng.pick(&["--deny", "--warn", "--allow"]),
                rng.pick(&[
                    "holes",
                    "hdc",
                    "hdc1",
                    "hdc2",
                    "hdc3",
                    "no_output",
                    "long_range",
                ])
                .to_owned(),
            ),
            7 => ("--json", String::new()),
            8 => ("--strict-hdc", String::new()),
            9 => ("--count", (1 + rng.below(8)).to_string()),
            10 => (
                rng.pick(&["--png", "--svg"]),
                rng.pick(&["m.png", "m.svg"]).to_owned(),
            ),
            _ => (rng.pick(FLAGS), rng.pick(VALUES).to_owned()),
        };
        v.push(flag.to_owned());
        if !value.is_empty() {
            v.push(value);
        }
    }
    v
}

fn args(rng: &mut Rng) -> Vec<String> {
    if rng.below(2) == 0 {
        return structured(rng);
    }
    let mut v = Vec::new();
    if rng.below(10) != 0 {
        v.push(rng.pick(COMMANDS).to_owned());
    }
    for _ in 0..rng.below(9) {
        match rng.below(10) {
            0..=4 => v.push(rng.pick(FLAGS).to_owned()),
            5..=7 => v.push(rng.pick(VALUES).to_owned()),
            _ => v.push(generated_value(rng)),
        }
    }
    v
}

/// A scratch folder the runs may write their pictures into (relative paths).
fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dilated-fuzz-args-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// Runs `dilated args` in `dir`; returns (exit code, stderr), or a description of what went
/// wrong.
fn run(dir: &Path, args: &[String]) -> Result<(i32, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dilated"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read as _;
                s.read_to_string(&mut err).map_err(|e| e.to_string())?;
            }
            let code = status
                .code()
                .ok_or_else(|| format!("killed by a signal: {status:?}; stderr: {err}"))?;
            return Ok((code, err));
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn random_argument_vectors_exit_0_1_or_2_with_one_line_errors() {
    let cases: usize = std::env::var("FUZZ_ARGS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let seed: u64 = std::env::var("FUZZ_ARGS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_d11a_7ed0);
    let dir = scratch();
    let mut rng = Rng(seed | 1);
    let mut seen = [0usize; 3];
    for case in 0..cases {
        let a = args(&mut rng);
        let what = format!("seed {seed}, case {case}: dilated {a:?}");
        let (code, err) = run(&dir, &a).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            (0..=2).contains(&code),
            "{what}: exit {code}, stderr: {err}"
        );
        seen[code as usize] += 1;
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{what}: a panic: {err}"
        );
        if code == 2 {
            let line = err.strip_suffix('\n').unwrap_or(&err);
            assert!(
                !line.is_empty() && !line.contains('\n'),
                "{what}: the error is not one line: {err:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{cases} runs, exit codes 0/1/2: {seen:?}");
    // The generator reaches all three outcomes (else it tests only the parser's refusals).
    if cases >= 200 {
        assert!(seen.iter().all(|&n| n > 0), "outcomes 0/1/2: {seen:?}");
    }
}

//! The zoo (`examples/zoo.rs`) against its PyTorch twins, on the committed fixtures of
//! `fixtures/zoo/` (written by `scripts/make_zoo_fixtures.py`: the reduced-width twin of
//! each entry with every parameter perturbed and random batch-norm statistics, a random
//! input, PyTorch's output). No Python runs here.
//!
//! The example's modules are included as a module, so the command line runs in-process
//! (`zoo::cli::main`); the built example binary (`cargo build --example zoo`, then run
//! directly) is driven too, for the exit codes and the one-line errors of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

#[path = "../examples/zoo/mod.rs"]
mod zoo;

mod support;
use support::root;

use dilated::schedule::Level;
use safetensors::{Dtype, SafeTensors};
use zoo::entries::{ENTRIES, Entry, find};

/// Agreement: max |ours − PyTorch| ≤ 1e-4 · max(1, max |PyTorch|).
const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str, kind: &str) -> PathBuf {
    let file = if kind.is_empty() {
        format!("{name}.safetensors")
    } else {
        format!("{name}.{kind}.safetensors")
    };
    root().join("fixtures").join("zoo").join(file)
}

/// The f32 tensor `name` of a safetensors file: shape and values.
fn tensor(path: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).expect("safetensors");
    let view = st.tensor(name).expect("tensor");
    assert_eq!(view.dtype(), Dtype::F32);
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (view.shape().to_vec(), data)
}

/// (max |a − b|, max |b|); a NaN anywhere is an infinite difference.
fn diff(ours: &[f32], torch: &[f32]) -> (f32, f32) {
    assert_eq!(ours.len(), torch.len());
    let mut d = 0.0f32;
    let mut scale = 0.0f32;
    for (a, b) in ours.iter().zip(torch) {
        let e = (a - b).abs();
        d = if e.is_nan() { f32::INFINITY } else { d.max(e) };
        scale = scale.max(b.abs());
    }
    (d, scale)
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dilated-zoo-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The command line in-process: (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["zoo"];
    argv.extend_from_slice(args);
    let code = zoo::cli::main(argv, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

/// Runs the committed input of `entry` through `run --small` in-process and compares the
/// written output with PyTorch's: (max diff, scale).
fn agreement(entry: &Entry) -> (f32, f32) {
    let name = entry.name;
    let dir = scratch(&format!("agree-{name}"));
    let y = dir.join("y.safetensors");
    let (w, x) = (fixture(name, ""), fixture(name, "input"));
    let (code, _, err) = cli(&[
        "run",
        name,
        "--small",
        "--weights",
        w.to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--output",
        y.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{name}: {err}");
    let (shape, ours) = tensor(&y, "output");
    let (torch_shape, torch) = tensor(&fixture(name, "output"), "output");
    assert_eq!(shape, torch_shape, "{name}: output shape");
    let _ = std::fs::remove_dir_all(dir);
    diff(&ours, &torch)
}

fn agrees(name: &str) {
    let entry = find(name).expect("entry");
    let (d, scale) = agreement(entry);
    println!("{name}: max |ours − torch| = {d:.3e}, max |torch| = {scale:.4}");
    assert!(
        d <= TOLERANCE * scale.max(1.0),
        "{name}: max |ours − torch| = {d:e} over max |torch| = {scale}"
    );
    // The loaded weights, saved again, load to the same function (names round-trip).
    let v = &entry.small;
    let bytes = std::fs::read(fixture(name, "")).expect("weights");
    let net = (v.load)(&bytes).expect("load");
    let again = (v.load)(&net.to_safetensors_bytes().expect("save")).expect("reload");
    let (shape, x) = tensor(&fixture(name, "input"), "input");
    let hw = if shape.len() == 3 {
        [1, shape[2]]
    } else {
        [shape[2], shape[3]]
    };
    assert_eq!(
        net.forward(shape[0], hw, &x).expect("run"),
        again.forward(shape[0], hw, &x).expect("run"),
        "{name}: reloading the saved weights changes the function"
    );
}

#[test]
fn wavenet_agrees_with_pytorch() {
    agrees("wavenet");
}

#[test]
fn tcn_agrees_with_pytorch() {
    agrees("tcn");
}

#[test]
fn aspp_agrees_with_pytorch() {
    agrees("aspp");
}

#[test]
fn duc_hdc_agrees_with_pytorch() {
    agrees("duc_hdc");
}

#[test]
fn esp_agrees_with_pytorch() {
    agrees("esp");
}

#[test]
fn context_agrees_with_pytorch() {
    agrees("context");
}

/// The fixtures are small (they are committed) and there is one set per entry.
#[test]
fn fixtures_cover_every_entry_and_stay_small() {
    let mut total = 0;
    for e in &ENTRIES {
        for kind in ["", "input", "output"] {
            total += std::fs::metadata(fixture(e.name, kind))
                .unwrap_or_else(|err| panic!("{} {kind}: {err}", e.name))
                .len();
        }
    }
    assert!(total < 2 << 20, "fixtures/zoo holds {total} bytes");
}

/// Streaming, frame by frame and in chunks, gives the whole-signal output for the causal
/// entries (residual and skip paths included).
#[test]
fn wavenet_and_tcn_stream_as_they_run_whole() {
    for name in ["wavenet", "tcn"] {
        let entry = find(name).expect("entry");
        let net = (entry.small.load)(&std::fs::read(fixture(name, "")).unwrap()).unwrap();
        let (shape, x) = tensor(&fixture(name, "input"), "input");
        let (c, len) = (shape[1], shape[2]);
        // The first item of the batch.
        let x = &x[..c * len];
        let (whole, _) = net.forward(1, [1, len], x).expect("whole");
        let out_c = whole.len() / len;
        let mut stream = net.stream().expect("stream");
        assert_eq!(
            stream.receptive_field(),
            entry.small.receptive_field_hw[1],
            "{name}"
        );
        let (_, scale) = diff(&whole, &whole);
        let tol = 1e-5 * scale.max(1.0);
        for t in 0..len {
            let frame: Vec<f32> = (0..c).map(|ch| x[ch * len + t]).collect();
            let y = stream.push(&frame).expect("push");
            for ch in 0..out_c {
                let d = (y[ch] - whole[ch * len + t]).abs();
                assert!(d <= tol, "{name}: frame {t}, channel {ch}: off by {d}");
            }
        }
        stream.reset();
        let chunk = 97;
        let mut streamed = vec![0.0; out_c * len];
        let mut t0 = 0;
        while t0 < len {
            let t1 = (t0 + chunk).min(len);
            let n = t1 - t0;
            let mut inp = vec![0.0; c * n];
            for ch in 0..c {
                inp[ch * n..(ch + 1) * n].copy_from_slice(&x[ch * len + t0..ch * len + t1]);
            }
            let mut out = vec![0.0; out_c * n];
            stream.push_chunk(&inp, &mut out).expect("chunk");
            for ch in 0..out_c {
                streamed[ch * len + t0..ch * len + t1].copy_from_slice(&out[ch * n..(ch + 1) * n]);
            }
            t0 = t1;
        }
        let (d, _) = diff(&streamed, &whole);
        assert!(d <= tol, "{name}: chunks off by {d}");
    }
}

/// `check`: the run-time analysis of each declaration agrees with the macro (receptive
/// field, and no error where the declaration compiled), and ASPP's verdict depends on
/// the declared field as it should.
#[test]
fn check_agrees_with_the_macro() {
    for e in &ENTRIES {
        for small in [false, true] {
            let v = e.variant(small);
            let graph = (v.graph)().expect("graph");
            let checked = zoo::analysis::check(e, v, &graph).expect("check");
            let out = checked.output().expect("output");
            let rf = out.receptive_field();
            let rf_hw: Vec<u64> = match v.rank {
                dilated::conv::Rank::One => vec![v.receptive_field_hw[1] as u64],
                dilated::conv::Rank::Two => v.receptive_field_hw.map(|r| r as u64).to_vec(),
            };
            assert_eq!(rf, rf_hw, "{} (small: {small})", e.name);
            assert!(!checked.report.is_error(), "{}: {}", e.name, checked.text);
            if v.levels.holes == Level::Allow {
                assert!(out.hole_count > 0, "{}: holes allowed but none", e.name);
            } else {
                assert_eq!(out.hole_count, 0, "{}", e.name);
            }
        }
    }
    let (code, text, _) = cli(&["check", "aspp"]);
    assert_eq!(code, 0);
    assert!(text.contains("verdict: No holes over every path"), "{text}");
    assert!(text.contains("global context"), "{text}");
    assert!(
        text.contains("no holes in a receptive field of 1579 × 1579; jump 16 × 16"),
        "971 + 2·18·16 + 2·16 (the head's 3×3): {text}"
    );
    assert!(
        text.contains("without the declared field (on raw pixels): gridding: 1296 holes"),
        "{text}"
    );
    let (_, esp, _) = cli(&["check", "esp"]);
    assert!(
        esp.contains("Holes (gridding), allowed by its `check` setting"),
        "{esp}"
    );
    let (_, duc, _) = cli(&["check", "duc_hdc"]);
    assert!(
        duc.contains("chain of 23 layers, rates 2, 2, 5, 9, 1, 2, 5, 9"),
        "{duc}"
    );
}

#[test]
fn list_and_twin() {
    let (code, out, err) = cli(&["list"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["wavenet", "tcn", "aspp", "duc_hdc", "esp", "context"]
    );
    for e in &ENTRIES {
        for small in [false, true] {
            let mut args = vec!["twin", e.name];
            if small {
                args.push("--small");
            }
            let (code, py, _) = cli(&args);
            assert_eq!(code, 0);
            let v = e.variant(small);
            let imports: Vec<&str> = py
                .lines()
                .filter(|l| l.starts_with("import ") || l.starts_with("from "))
                .collect();
            assert_eq!(imports, ["import torch"], "{}", e.name);
            assert!(py.contains(&format!("class {}(", v.class)), "{}", e.name);
            assert!(py.contains("def model() -> torch.nn.Module:"));
            assert!(py.contains(&format!("return {}().eval()", v.class)));
            let shape = py
                .lines()
                .find_map(|l| l.strip_prefix("INPUT_SHAPE = "))
                .expect("INPUT_SHAPE");
            let dims: Vec<usize> = shape
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(", ")
                .map(|d| d.parse().expect("an int"))
                .collect();
            // Concrete (no 0 where the declaration has `_`), the declared channels first.
            let want = match v.rank {
                dilated::conv::Rank::One => 2,
                dilated::conv::Rank::Two => 3,
            };
            assert_eq!(dims.len(), want, "{shape}");
            assert!(dims.iter().all(|&d| d > 0), "{shape}");
            assert_eq!(dims[0], v.declared[0], "{shape}");
        }
    }
}

#[test]
fn bench_prints_the_median_last() {
    let (code, out, err) = cli(&["bench", "esp", "--small", "--runs", "10", "--threads", "1"]);
    assert_eq!(code, 0, "{err}");
    let last = out.lines().last().expect("output");
    let ms: f64 = last
        .strip_prefix("median_ms=")
        .expect("median_ms=")
        .parse()
        .expect("a number");
    assert!(ms.is_finite() && ms >= 0.0);
    let (code, _, err) = cli(&["bench", "esp", "--runs", "3"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `bench --stream`: microseconds per sample last, the FLOPs per sample counted from the
/// graph (the small TCN: 2·4·1·7 + 2·4·4·7 + 2·4·1 in level 0, 7 levels of 2 · 2·4·4·7,
/// 2·3·4 at the end: 3448) and their time at `--peak`; a 2D entry cannot stream (one
/// error line, exit 1).
#[test]
fn bench_stream_prints_microseconds_per_sample_and_the_bound() {
    let (code, out, err) = cli(&[
        "bench", "tcn", "--small", "--stream", "--runs", "10", "--peak", "100",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let us: f64 = lines[lines.len() - 1]
        .strip_prefix("us_per_sample=")
        .expect("us_per_sample=")
        .parse()
        .expect("a number");
    assert!(us.is_finite() && us > 0.0);
    let counts = lines[lines.len() - 2];
    let field = |name: &str| -> f64 {
        counts
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {counts}"))
            .parse()
            .expect("a number")
    };
    assert_eq!(field("flop_per_sample="), 3448.0);
    // 3448 FLOP at 100 GFLOP/s: 0.03448 µs.
    assert!((field("bound_us_per_sample=") - 0.0345).abs() < 1e-9);
    let (code, _, err) = cli(&["bench", "aspp", "--small", "--stream", "--runs", "10"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("stream"), "{err}");
    // Chunks through the engine: said in the header, timed the same way; a chunk that
    // does not divide the run is refused.
    let (code, out, err) = cli(&[
        "bench", "tcn", "--small", "--stream", "--chunk", "64", "--runs", "10",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("chunks of 64 samples, 1 thread(s)"), "{out}");
    let last = out.lines().last().expect("a last line");
    let us: f64 = last
        .strip_prefix("us_per_sample=")
        .expect("us_per_sample=")
        .parse()
        .expect("a number");
    assert!(us.is_finite() && us > 0.0);
    let (code, _, err) = cli(&[
        "bench", "tcn", "--small", "--stream", "--chunk", "3", "--runs", "10",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--chunk 3"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Bad input, in-process and through the built binary
// ---------------------------------------------------------------------------------------

/// Exit code 1 and one `error:` line containing every one of `words`.
fn fails_in_process(args: &[&str], words: &[&str]) {
    let (code, out, err) = cli(args);
    assert_eq!(code, 1, "{args:?}: stdout {out}, stderr {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for w in words {
        assert!(lines[0].contains(w), "{w:?} not in {:?}", lines[0]);
    }
}

/// The bad files: (args, words in the error), for `run wavenet --small`.
fn bad_runs(dir: &Path) -> Vec<(Vec<String>, Vec<String>)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let w = fixture("wavenet", "");
    let x = fixture("wavenet", "input");
    let y = dir.join("y.safetensors");
    let full = std::fs::read(&w).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let tiny = dir.join("tiny.safetensors");
    std::fs::write(&tiny, &full[..5]).unwrap();
    // A float64 input of the right shape.
    let x64 = dir.join("x64.safetensors");
    let n = 2 * 4 * 2100;
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| f64::from(i as u32).to_le_bytes())
        .collect();
    let view = safetensors::tensor::TensorView::new(Dtype::F64, vec![2, 4, 2100], &bytes).unwrap();
    std::fs::write(
        &x64,
        safetensors::serialize([("input", view)], None).unwrap(),
    )
    .unwrap();
    // A misshapen input: 3 channels instead of 4.
    let x3 = dir.join("x3.safetensors");
    let bytes: Vec<u8> = vec![0; 3 * 100 * 4];
    let view = safetensors::tensor::TensorView::new(Dtype::F32, vec![1, 3, 100], &bytes).unwrap();
    std::fs::write(
        &x3,
        safetensors::serialize([("input", view)], None).unwrap(),
    )
    .unwrap();
    let run = |name: &str, w: &Path, x: &Path, y: &Path| -> Vec<String> {
        [
            "run",
            name,
            "--small",
            "--weights",
            &s(w),
            "--input",
            &s(x),
            "--output",
            &s(y),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let missing = dir.join("missing.safetensors");
    vec![
        (
            run("wavenet", &missing, &x, &y),
            words(&["cannot read the weights", "missing.safetensors"]),
        ),
        (
            run("wavenet", &w, &missing, &y),
            words(&["cannot read the input", "missing.safetensors"]),
        ),
        (
            run("wavenet", &cut, &x, &y),
            words(&["cannot load the weights", "cut.safetensors"]),
        ),
        (
            run("wavenet", &tiny, &x, &y),
            words(&["cannot load the weights", "tiny.safetensors"]),
        ),
        (
            run("wavenet", &w, &cut, &y),
            words(&["not a valid safetensors file", "cut.safetensors"]),
        ),
        (
            run("wavenet", &w, &x64, &y),
            words(&["F64", "expected F32"]),
        ),
        (
            run("wavenet", &w, &x3, &y),
            words(&["[1, 3, 100]", "expected [N, 4, _]"]),
        ),
        (
            // The input file as weights: no tensor the graph wants.
            run("wavenet", &x, &x, &y),
            words(&["cannot load the weights", "0.weight"]),
        ),
        (
            // Another entry's weights.
            run("tcn", &w, &fixture("tcn", "input"), &y),
            words(&["cannot load the weights"]),
        ),
        (
            run(
                "wavenet",
                &w,
                &x,
                &dir.join("no-such-dir").join("y.safetensors"),
            ),
            words(&["cannot write the output"]),
        ),
        (
            run("lenet", &w, &x, &y),
            words(&["unknown network `lenet`", "wavenet, tcn, aspp"]),
        ),
        (
            ["twin", "resnet"].map(str::to_owned).to_vec(),
            words(&["unknown network `resnet`"]),
        ),
        (
            ["check", "lenet", "--small"].map(str::to_owned).to_vec(),
            words(&["unknown network `lenet`"]),
        ),
        (
            ["run", "wavenet"].map(str::to_owned).to_vec(),
            words(&["--weights"]),
        ),
        (
            ["frobnicate"].map(str::to_owned).to_vec(),
            words(&["frobnicate"]),
        ),
    ]
}

#[test]
fn bad_input_fails_with_one_line_in_process() {
    let dir = scratch("bad-in-process");
    for (args, words) in bad_runs(&dir) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        fails_in_process(&args, &words);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The example binary, built once (in the tests' profile) and run directly.
fn zoo_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--example",
                "zoo",
                "--message-format=json",
            ])
            .args((!cfg!(debug_assertions)).then_some("--release"))
            .current_dir(root())
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "zoo")
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("the zoo example's executable")
    })
}

fn binary(args: &[String]) -> Output {
    Command::new(zoo_binary())
        .args(args)
        .output()
        .expect("the example runs")
}

#[test]
fn the_binary_runs_and_fails_with_one_line() {
    let dir = scratch("binary");
    // One good run, end to end.
    let y = dir.join("y.safetensors");
    let args: Vec<String> = [
        "run",
        "tcn",
        "--small",
        "--threads",
        "2",
        "--weights",
        fixture("tcn", "").to_str().unwrap(),
        "--input",
        fixture("tcn", "input").to_str().unwrap(),
        "--output",
        y.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec();
    let out = binary(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, ours) = tensor(&y, "output");
    let (_, torch) = tensor(&fixture("tcn", "output"), "output");
    let (d, scale) = diff(&ours, &torch);
    assert!(d <= TOLERANCE * scale.max(1.0));
    let list = binary(&["list".to_owned()]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 6);

    for (args, words) in bad_runs(&dir) {
        let out = binary(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        for w in &words {
            assert!(lines[0].contains(w.as_str()), "{w:?} not in {:?}", lines[0]);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

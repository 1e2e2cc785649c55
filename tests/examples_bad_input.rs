//! The fast examples (`coverage_figures`, `context_module`) run as a user
//! runs them: they work on good input, and bad input — a missing, truncated or misshapen
//! weights file, a path that cannot be written, a schedule the engine refuses — ends with
//! one `error:` line and exit code 1, never a panic.
//!
//! Each test runs `cargo run --quiet --example NAME -- …` (in the tests' profile).

use std::path::{Path, PathBuf};

mod support;
use support::examples::{self, example, fails_with, succeeds, unwritable};
use support::root;

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    examples::scratch("bad-input", test)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Missing, truncated and misshapen weights files for an example taking `--weights`.
fn bad_weights(name: &str, extra: &[&str], wrong_shape: &str, expected_shape: &str) {
    let dir = scratch(&format!("{name}-weights"));
    let run = |path: &str| {
        let mut args = vec!["--weights", path];
        args.extend_from_slice(extra);
        example(name, &args)
    };
    fails_with(
        &run("/nonexistent/w.safetensors"),
        &["cannot load the weights", "/nonexistent/w.safetensors"],
    );
    let full = std::fs::read(root().join("examples/data/seg_hdc.safetensors")).expect("weights");
    for cut in [3, full.len() / 3] {
        let path = dir.join(format!("cut{cut}.safetensors"));
        std::fs::write(&path, &full[..cut]).expect("write");
        fails_with(&run(&s(&path)), &["malformed safetensors"]);
    }
    fails_with(
        &run(&s(&root().join(wrong_shape))),
        &["`0.weight`", expected_shape],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn coverage_figures_draws_the_classic_schedules() {
    let dir = scratch("figures");
    let out = succeeds(&example("coverage_figures", &["--out-dir", &s(&dir)]));
    assert!(out.contains("FAIL, gridding: 14 holes in a receptive field of 29"));
    assert!(out.contains("ok, no holes: the receptive field of 17 is fully covered"));
    assert!(out.contains("FAIL, gridding: 4 holes in a receptive field of 25"));
    assert!(out.contains("holes            [-5, -4, 4, 5]"));
    for f in ["2-4-8", "1-2-5", "1-2-9"] {
        let svg = std::fs::read_to_string(dir.join(format!("coverage-k3-{f}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"));
    }
    // One schedule of the user's: two `--rates` give two figures.
    let out = succeeds(&example(
        "coverage_figures",
        &["--out-dir", &s(&dir), "--rates", "1,2,3", "--rates", "2,2"],
    ));
    assert!(out.contains("== kernel 3, rates [1, 2, 3]"));
    assert!(out.contains("== kernel 3, rates [2, 2]"));
    assert!(dir.join("coverage-k3-2-2.svg").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn coverage_figures_bad_input() {
    let dir = scratch("figures-bad");
    fails_with(
        &example("coverage_figures", &["--out-dir", &s(&unwritable(&dir))]),
        &["cannot create"],
    );
    fails_with(
        &example(
            "coverage_figures",
            &["--out-dir", &s(&dir), "--rates", "0,2"],
        ),
        &["rates [0, 2]"],
    );
    // A 2,049-wide field: over the map's side limit.
    fails_with(
        &example(
            "coverage_figures",
            &["--out-dir", &s(&dir), "--rates", "512,512"],
        ),
        &["rates [512, 512]", "1024"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn context_module_round_trips_its_weights() {
    let dir = scratch("context");
    let w = dir.join("context.safetensors");
    let out = succeeds(&example(
        "context_module",
        &["--size", "24", "--runs", "1", "--save-weights", &s(&w)],
    ));
    assert!(out.contains("receptive field 67"));
    assert!(out.contains("identity initialisation: output = input"));
    let loaded = succeeds(&example(
        "context_module",
        &["--size", "24", "--runs", "1", "--weights", &s(&w)],
    ));
    assert!(loaded.contains("loaded weights: max |runtime − reference|"));
    fails_with(
        &example(
            "context_module",
            &["--size", "24", "--save-weights", &s(&unwritable(&dir))],
        ),
        &["cannot save the weights", "cannot write"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn context_module_bad_weights() {
    bad_weights(
        "context_module",
        &["--size", "24", "--runs", "1"],
        "examples/data/seg_hdc.safetensors",
        "[21, 21, 3, 3]",
    );
}

//! The main job, `examples/segment.rs`, run as a user runs it: the committed weights give
//! PyTorch's output and a picture; every kind of bad input ends with one `error:` line and
//! exit code 1, never a panic.
//!
//! Each test runs `cargo run --quiet --example segment -- …` (in the tests' profile; the
//! first one builds the example).

use std::path::PathBuf;
use std::process::Output;

mod support;
use support::examples::{self, fails_with};
use support::root;

fn segment(args: &[&str]) -> Output {
    examples::example("segment", args)
}

fn data(name: &str) -> String {
    root()
        .join("examples/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    examples::scratch("segment", test)
}

#[test]
fn committed_weights_match_pytorch_and_write_the_picture() {
    let dir = scratch("ok");
    let png = dir.join("segment.png");
    let out = segment(&["--runs", "1", "--out", &png.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verdict: no holes: the receptive field of 33 is fully covered"));
    assert!(stdout.contains("verdict: gridding: 28 holes in a receptive field of 57"));
    assert_eq!(stdout.matches("max |ours − PyTorch| =").count(), 2);
    // The masks' accuracy against the label, as docs/training.md reports it.
    assert!(stdout.contains("hdc          0.9921  0.9835"), "{stdout}");
    assert!(stdout.contains("gridding     0.9894  0.9778"), "{stdout}");
    let bytes = std::fs::read(&png).expect("the picture was written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(stdout.contains(&*png.to_string_lossy()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_weights_file() {
    let line = fails_with(
        &segment(&["--weights", "/nonexistent/seg_hdc.safetensors"]),
        &["HDC", "/nonexistent/seg_hdc.safetensors", "cannot read"],
    );
    assert!(!line.contains("gridding"));
    fails_with(
        &segment(&["--gridding-weights", "/nonexistent/grid.safetensors"]),
        &["gridding", "/nonexistent/grid.safetensors", "cannot read"],
    );
}

#[test]
fn truncated_weights_file() {
    let dir = scratch("truncated");
    let full = std::fs::read(data("seg_hdc.safetensors")).expect("committed weights");
    for cut in [0, 5, 100, full.len() / 2, full.len() - 1] {
        let path = dir.join(format!("cut{cut}.safetensors"));
        std::fs::write(&path, &full[..cut]).expect("write");
        fails_with(
            &segment(&["--weights", &path.to_string_lossy()]),
            &["HDC", "malformed safetensors"],
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn weights_of_other_shapes() {
    // Three 8-channel layers of another stack: the first tensor's shape is named.
    let other = root()
        .join("fixtures/stack/hdc_125_relu.safetensors")
        .to_string_lossy()
        .into_owned();
    fails_with(
        &segment(&["--weights", &other]),
        &["HDC", "`0.weight`", "[16, 1, 3, 3]", "[8, 3, 3, 3]"],
    );
    fails_with(
        &segment(&["--gridding-weights", &other]),
        &["gridding", "`0.weight`", "[16, 1, 3, 3]"],
    );
}

#[test]
fn weights_of_the_other_network() {
    // Same shapes, other rates: it loads, and the comparison with PyTorch catches it.
    fails_with(
        &segment(&["--weights", &data("seg_gridding.safetensors")]),
        &["hdc network's output differs from PyTorch's", "tolerance"],
    );
}

#[test]
fn unwritable_output_path() {
    fails_with(
        &segment(&["--out", "/nonexistent-dir/segment.png"]),
        &["cannot write", "/nonexistent-dir/segment.png"],
    );
    // A directory is not a file.
    let dir = scratch("out-dir");
    fails_with(
        &segment(&["--out", &dir.to_string_lossy()]),
        &["cannot write"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

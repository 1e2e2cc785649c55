//! Running the examples as a user runs them, for `examples_bad_input` and
//! `examples_segment`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::root;

/// `cargo run --quiet --example NAME -- ARGS`, in the profile the tests were built with.
pub(crate) fn example(name: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", name])
        // The profile the tests were built with: `cargo test --release` runs release builds.
        .args((!cfg!(debug_assertions)).then_some("--release"))
        .arg("--")
        .args(args)
        .current_dir(root())
        .output()
        .expect("cargo runs")
}

/// A fresh scratch directory for one test of the file `file`.
pub(crate) fn scratch(file: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dilated-examples-{file}-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A path that cannot be written even by root: it runs through a regular file.
pub(crate) fn unwritable(dir: &Path) -> PathBuf {
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    file.join("sub").join("out")
}

/// Exit code 0; returns stdout.
pub(crate) fn succeeds(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Exit code 1, no panic, and exactly one `error:` line on stderr, which contains every
/// one of `words`. Returns that line.
pub(crate) fn fails_with(out: &Output, words: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "stderr: {stderr}");
    for w in words {
        assert!(errors[0].contains(w), "{w:?} not in {:?}", errors[0]);
    }
    errors[0].to_owned()
}

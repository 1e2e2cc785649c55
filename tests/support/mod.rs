//! Helpers for the tests that build small crates in a temporary directory (the way a user's
//! crate uses `dilated`), that run the `dilated` command, and ([`examples`]) that run the
//! examples. Each test file declares `mod support;`.
//!
//! The crates live under `<target>/tests/dilated-crates/<name>/` and share one target
//! directory there, so only the first run compiles `dilated` and its dependencies.

#![allow(dead_code)] // Each test file uses some of these.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub(crate) mod examples;

/// The repository root (the facade's manifest directory).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory this test binary was built in (`…/target/debug/deps/test-…`).
pub(crate) fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .map_or_else(|| root().join("target"), Path::to_path_buf)
}

/// The work directory of the helper crates and their shared target directory.
pub(crate) fn work_dir() -> PathBuf {
    target_dir().join("tests").join("dilated-crates")
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.env("CARGO_TARGET_DIR", work_dir().join("target"))
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never");
    cmd
}

/// One diagnostic of `cargo … --message-format=json`.
#[derive(Debug, Clone)]
pub(crate) struct Diag {
    /// "error" or "warning".
    pub(crate) level: String,
    /// The main message.
    pub(crate) message: String,
    /// The primary span's line and column (1-based), if any.
    pub(crate) line: Option<u64>,
    /// The primary span's first column.
    pub(crate) column: Option<u64>,
    /// The source text under the primary span.
    pub(crate) text: Option<String>,
}

/// The outcome of a cargo command on a helper crate.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) success: bool,
    pub(crate) diags: Vec<Diag>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Writes a binary crate `name` with `main_rs` in the given edition, depending on the
/// `dilated` of this repository.
pub(crate) fn write_crate(name: &str, edition: &str, main_rs: &str) -> PathBuf {
    let dir = work_dir().join(name);
    std::fs::create_dir_all(dir.join("src")).expect("create crate dir");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\n\
         publish = false\n\n[dependencies]\ndilated = {{ path = {:?} }}\n\n\
         # Not a member of the dilated workspace.\n[workspace]\n",
        root().display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write manifest");
    std::fs::write(dir.join("src/main.rs"), main_rs).expect("write main.rs");
    dir
}

/// Runs `cargo <subcommand> --message-format=json` in `dir` and collects the diagnostics
/// of the crate itself.
pub(crate) fn cargo_json(dir: &Path, subcommand: &str, extra: &[&str]) -> Outcome {
    let out = cargo()
        .arg(subcommand)
        .arg("--message-format=json")
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut diags = Vec::new();
    let mut program_out = String::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            program_out.push_str(line);
            program_out.push('\n');
            continue;
        };
        if v["reason"] != "compiler-message" {
            continue;
        }
        let m = &v["message"];
        let level = m["level"].as_str().unwrap_or_default().to_owned();
        if level != "error" && level != "warning" {
            continue;
        }
        let primary = m["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["is_primary"] == true));
        diags.push(Diag {
            level,
            message: m["message"].as_str().unwrap_or_default().to_owned(),
            line: primary.and_then(|s| s["line_start"].as_u64()),
            column: primary.and_then(|s| s["column_start"].as_u64()),
            text: primary.and_then(|s| {
                let t = &s["text"][0];
                let text = t["text"].as_str()?;
                let start = usize::try_from(t["highlight_start"].as_u64()?).ok()? - 1;
                let end = usize::try_from(t["highlight_end"].as_u64()?).ok()? - 1;
                text.get(start..end).map(str::to_owned)
            }),
        });
    }
    Outcome {
        success: out.status.success(),
        diags,
        stdout: program_out,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Builds the `dilated` command (package `dilated-cli`) and returns its path.
pub(crate) fn dilated_cli() -> PathBuf {
    let out = cargo()
        .args(["build", "--quiet", "-p", "dilated-cli", "--bin", "dilated"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building the dilated command failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = work_dir()
        .join("target/debug")
        .join(format!("dilated{}", std::env::consts::EXE_SUFFIX));
    assert!(exe.exists(), "{} is missing", exe.display());
    exe
}

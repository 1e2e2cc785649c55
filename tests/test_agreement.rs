//! The macro and the `dilated` command agree: one table of schedules, each declared with
//! `dilated_stack!` in a small crate (`cargo check`) and checked with `dilated check
//! --json`; both must report the same findings (check and level) and the same verdict
//! (does the build fail ⇔ does the command exit 1).
//!
//! Slow on the first run (it builds the command and `dilated` in a separate target
//! directory); later runs reuse them.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// One schedule: kernel, rates, optional strides, optional input length, strict HDC.
struct Case {
    kernel: u64,
    rates: &'static [u64],
    strides: Option<&'static [u64]>,
    input: Option<u64>,
    strict: bool,
}

const fn case(kernel: u64, rates: &'static [u64]) -> Case {
    Case {
        kernel,
        rates,
        strides: None,
        input: None,
        strict: false,
    }
}

const TABLE: &[Case] = &[
    case(3, &[2, 4, 8]),
    case(3, &[1, 2, 9]),
    case(3, &[2, 2, 2]),
    case(3, &[2, 3]),
    case(3, &[1, 2, 5]),
    case(3, &[1, 2, 5, 1, 2, 5]),
    case(3, &[1, 1, 2, 4, 8, 16, 1]),
    case(3, &[1, 4, 1]),
    case(3, &[1, 2, 2]),
    case(3, &[1, 3, 9]),
    case(3, &[3]),
    case(3, &[1]),
    case(2, &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
    case(2, &[1, 3]),
    case(5, &[1, 6, 1]),
    case(5, &[1, 2, 4, 8]),
    case(1, &[2, 2]),
    Case {
        strict: true,
        ..case(3, &[1, 4, 1])
    },
    Case {
        strict: true,
        ..case(3, &[1, 2, 2])
    },
    Case {
        strict: true,
        ..case(3, &[1, 2, 5])
    },
    Case {
        input: Some(8),
        ..case(3, &[1, 2, 5])
    },
    Case {
        input: Some(64),
        ..case(3, &[1, 2, 5])
    },
    Case {
        input: Some(12),
        ..case(3, &[1, 2, 9])
    },
    Case {
        strides: Some(&[2, 1, 1]),
        ..case(3, &[1, 2, 3])
    },
    Case {
        strides: Some(&[1, 2, 1]),
        input: Some(32),
        ..case(3, &[1, 1, 2])
    },
];

fn list(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// The stack's declaration (the per-layer form when strides are given).
fn declaration(i: usize, c: &Case) -> String {
    let input = c.input.map_or_else(|| "_".to_owned(), |n| n.to_string());
    let check = if c.strict {
        "check: { hdc: strict },"
    } else {
        ""
    };
    let body = match c.strides {
        None => format!("kernel: {}, rates: [{}],", c.kernel, list(c.rates)),
        Some(strides) => {
            let convs: Vec<String> = c
                .rates
                .iter()
                .zip(strides)
                .map(|(r, s)| format!("conv(1 -> 1, kernel: {}, rate: {r}, stride: {s})", c.kernel))
                .collect();
            format!("layers: [{}],", convs.join(", "))
        }
    };
    // One line per stack: diagnostics map to their schedule by line.
    format!(
        "mod s{i} {{ dilated::dilated_stack! {{ pub struct S {{ input: [1, {input}], {body} {check} }} }} }}\n"
    )
}

/// The findings of the macro for each line: (check key, "error" | "warning").
fn macro_findings() -> Vec<BTreeSet<(String, String)>> {
    let mut src = String::from("#![allow(dead_code)]\n");
    for (i, c) in TABLE.iter().enumerate() {
        src.push_str(&declaration(i, c));
    }
    src.push_str("fn main() {}\n");
    let dir = support::write_crate("agreement", "2024", &src);
    let out = support::cargo_json(&dir, "check", &[]);
    let mut found = vec![BTreeSet::new(); TABLE.len()];
    for d in &out.diags {
        let line = d.line.expect("a spanned diagnostic");
        let index = usize::try_from(line).expect("line") - 2;
        // Errors end with "`check: { key: deny | warn | allow }` …"; warnings are uses of
        // the deprecated const `dilated_<key>`.
        let k = if let Some(rest) = d.message.split("`check: { ").nth(1) {
            rest.split(':').next().expect("a key").to_owned()
        } else if let Some(rest) = d.message.split("`_::dilated_").nth(1) {
            rest.split('`').next().expect("a key").to_owned()
        } else {
            panic!("unexpected diagnostic on line {line}: {}", d.message);
        };
        found[index].insert((k, d.level.clone()));
    }
    found
}

#[test]
fn macro_and_cli_agree() {
    let cli = support::dilated_cli();
    let from_macro = macro_findings();
    for (i, c) in TABLE.iter().enumerate() {
        let mut cmd = Command::new(&cli);
        cmd.args(["check", "--json", "--kernel", &c.kernel.to_string()]);
        cmd.args(["--rates", &list(c.rates).replace(' ', "")]);
        if let Some(s) = c.strides {
            cmd.args(["--strides", &list(s).replace(' ', "")]);
        }
        if let Some(n) = c.input {
            cmd.args(["--input", &n.to_string()]);
        }
        if c.strict {
            cmd.arg("--strict-hdc");
        }
        let out = cmd.output().expect("the command runs");
        let json: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        let from_cli: BTreeSet<(String, String)> = json["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .map(|d| {
                // One id per check: the JSON `check` is the macro's `check: { … }` key.
                (
                    d["check"].as_str().expect("check").to_owned(),
                    d["level"].as_str().expect("level").to_owned(),
                )
            })
            .collect();
        let decl = declaration(i, c);
        assert_eq!(from_macro[i], from_cli, "findings differ for {decl}");
        let cli_fails = out.status.code() == Some(1);
        let macro_fails = from_macro[i].iter().any(|(_, level)| level == "error");
        assert_eq!(macro_fails, cli_fails, "verdicts differ for {decl}");
        assert_eq!(out.status.code().map(|c| c <= 1), Some(true), "{decl}");
        // The holes verdict itself, with the words users see.
        let holes = json["hole_count"].as_u64().expect("hole_count") > 0;
        assert_eq!(
            holes,
            from_macro[i].contains(&("holes".to_owned(), "error".to_owned())),
            "holes differ for {decl}"
        );
    }
}

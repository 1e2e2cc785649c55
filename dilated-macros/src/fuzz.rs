//! The macro never panics, whatever tokens it gets.
//!
//! The entry point, `expand::stack`, takes a `proc_macro2::TokenStream`, which also works
//! outside a compiler (proc-macro2's fallback), so these tests drive it directly:
//!
//! - every file of the committed regression corpus (`fuzz/corpus/*.txt` at the repository
//!   root: grammar examples, every diagnostic's input, and inputs that once found a bug);
//! - random token sequences over the grammar's own vocabulary (keys, activations, levels,
//!   brackets, huge and zero numbers), which reach deep into the checks;
//! - random mutations (token deletions, insertions, swaps) of valid stacks;
//! - arbitrary strings that happen to lex.
//!
//! A panic is a failure; so is an invalid input that expands without a `compile_error!`.
//! Run longer with `PROPTEST_CASES=100000 cargo test -p dilated-macros --lib fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::str::FromStr;

use proc_macro2::TokenStream;
use proptest::prelude::*;

use crate::expand;

/// Runs the macro on `src` if it lexes; `Err` with the panic message if it panics.
fn run(src: &str) -> Result<Option<String>, String> {
    let Ok(tokens) = TokenStream::from_str(src) else {
        return Ok(None);
    };
    catch_unwind(AssertUnwindSafe(|| expand::stack(tokens).to_string()))
        .map(Some)
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

#[test]
fn regression_corpus_never_panics() {
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("fuzz/corpus exists")
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 40,
        "the corpus has {} files",
        entries.len()
    );
    for path in entries {
        let src = std::fs::read_to_string(&path).expect("utf-8 corpus file");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let out = run(&src).unwrap_or_else(|msg| panic!("{name}: the macro panicked: {msg}"));
        let out = out.unwrap_or_else(|| panic!("{name}: does not lex"));
        // Files named `ok-*` are valid stacks; every other one must be rejected.
        if name.starts_with("ok-") {
            assert!(!out.contains("compile_error"), "{name}: rejected:\n{out}");
            assert!(out.contains("RECEPTIVE_FIELD"), "{name}: no expansion");
        } else {
            assert!(out.contains("compile_error"), "{name}: accepted:\n{out}");
        }
    }
}

const VOCAB: &[&str] = &[
    "struct",
    "pub",
    "pub(crate)",
    "S",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    ",",
    "->",
    "_",
    "-",
    "#[doc = \"x\"]",
    "///",
    "0",
    "1",
    "2",
    "3",
    "5",
    "7",
    "64",
    "1024",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "0.5",
    "1e9",
    "-3",
    "input",
    "kernel",
    "rates",
    "rate",
    "channels",
    "activation",
    "layers",
    "check",
    "conv",
    "stride",
    "groups",
    "padding",
    "bias",
    "depthwise",
    "same",
    "valid",
    "causal",
    "relu",
    "leaky_relu",
    "gelu",
    "tanh",
    "sigmoid",
    "silu",
    "true",
    "false",
    "hdc",
    "hdc1",
    "hdc2",
    "hdc3",
    "gridding",
    "wide_kernel",
    "receptive_field",
    "deny",
    "warn",
    "allow",
    "strict",
    "\"str\"",
    "'a'",
    ";",
    "::",
    "<",
    ">",
    "=",
    "#",
    "!",
    "*",
    "in",
    "residual",
    "body",
    "shortcut",
    "parallel",
    "branches",
    "join",
    "concat",
    "sum",
    "hierarchical",
    "pool",
    "skip",
    "skip_sum",
    "repeat",
    "gated",
    "batch_norm",
    "eps",
    "prelu",
    "dropout",
    "norm",
    "weight",
    "field",
    "jump",
    "Backbone",
    "Wave",
];

/// Valid stacks to mutate.
const SEEDS: &[&str] = &[
    "pub struct A { input: [8, 32, 32], kernel: 3, rates: [1, 2, 5], activation: relu }",
    "struct B { input: [4, _], layers: [conv(4 -> 8, kernel: 2, rate: 1, padding: causal), \
     relu, conv(8 -> 8, kernel: 2, rate: 2, padding: causal)] }",
    "struct C { input: [2, 16, _], layers: [conv(2 -> 4, kernel: [3, 1], rate: [2, 1], \
     stride: 2, groups: 2, padding: [(1, 1), 0], bias: false), leaky_relu(0.2)], \
     check: { hdc: strict, gridding: allow } }",
    "struct D { input: [1, 64], kernel: 3, rates: [2, 4, 8], check: { gridding: warn } }",
    "struct W { input: [4, _], layers: [conv(4 -> 8, kernel: 1), repeat(rate in [1, 2, 4] * 2) \
     [residual { body: [conv(8 -> 16, kernel: 2, rate: rate, padding: causal), gated, \
     skip [conv(8 -> 8, kernel: 1)], conv(8 -> 8, kernel: 1)] }], skip_sum, relu] }",
    "struct A { input: [8, 33, 33], field: { receptive_field: 971, jump: 16 }, layers: [ \
     parallel { branches: [[conv(8 -> 4, kernel: 1), batch_norm, relu], [conv(8 -> 4, \
     kernel: 3, rate: 6)], pool [conv(8 -> 4, kernel: 1), batch_norm(eps: 1e-3)]], join: \
     concat }, conv(12 -> 4, kernel: 1), prelu, dropout(0.1)] }",
    "struct T { input: [3, _], layers: [residual { body: [conv(3 -> 8, kernel: 3, padding: \
     causal, norm: weight), relu], shortcut: [conv(3 -> 8, kernel: 1)], activation: relu }, \
     parallel { branches: [[conv(8 -> 8, kernel: 1)], []], join: hierarchical }] }",
    "struct H { input: Backbone, layers: [ parallel { branches: [[conv(8 -> 4, kernel: 1)], \
     [conv(8 -> 4, kernel: 3, rate: 6)], pool [conv(8 -> 4, kernel: 1)]], join: concat }, \
     conv(12 -> 4, kernel: 1)] }",
    "struct T { input: Wave[4, _], layers: [residual { body: [conv(4 -> 4, kernel: 2, rate: 8, \
     padding: causal)] }] }",
    "struct C { input: Backbone[8, 16, _], kernel: 3, rates: [1, 2, 5], check: { holes: warn } }",
];

/// A random sequence of vocabulary tokens inside `struct S { … }` or bare.
fn token_soup() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(prop::sample::select(VOCAB), 0..48),
    )
        .prop_map(|(wrap, toks)| {
            let body = toks.join(" ");
            if wrap {
                format!("struct S {{ {body} }}")
            } else {
                body
            }
        })
}

/// A valid stack with some of its tokens deleted, replaced or duplicated.
fn mutation() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((0usize..64, 0u8..3, prop::sample::select(VOCAB)), 1..5),
    )
        .prop_map(|(seed, edits)| {
            let mut toks: Vec<String> = seed.split(' ').map(str::to_owned).collect();
            for (at, op, tok) in edits {
                let i = at % (toks.len() + 1);
                match op {
                    0 if i < toks.len() => {
                        toks.remove(i);
                    }
                    1 if i < toks.len() => toks[i] = tok.to_owned(),
                    _ => toks.insert(i, tok.to_owned()),
                }
            }
            toks.join(" ")
        })
}

/// Well-formed stacks with random numbers: reaches the schedule checks and expansion.
fn random_stack() -> impl Strategy<Value = String> {
    let num = prop_oneof![0u64..6, 0u64..300, Just(u64::from(u32::MAX)), any::<u64>()];
    (
        prop::collection::vec(num.clone(), 1..8),
        num.clone(),
        num.clone(),
        prop::option::of(num),
        any::<bool>(),
    )
        .prop_map(|(rates, kernel, c, size, one_d)| {
            let rates: Vec<String> = rates.iter().map(u64::to_string).collect();
            let size = size.map_or_else(|| "_".to_owned(), |s| s.to_string());
            let input = if one_d {
                format!("[{c}, {size}]")
            } else {
                format!("[{c}, {size}, {size}]")
            };
            format!(
                "struct R {{ input: {input}, kernel: {kernel}, rates: [{}] }}",
                rates.join(", ")
            )
        })
}

proptest! {
    // 512 cases per generator by default; `PROPTEST_CASES` raises it for a longer run.
    #![proptest_config(ProptestConfig {
        cases: ProptestConfig::default().cases.max(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        prop_assert!(run(&src).is_ok(), "panicked on: {src}");
    }

    #[test]
    fn mutations_never_panic(src in mutation()) {
        prop_assert!(run(&src).is_ok(), "panicked on: {src}");
    }

    #[test]
    fn random_stacks_never_panic(src in random_stack()) {
        prop_assert!(run(&src).is_ok(), "panicked on: {src}");
    }

    #[test]
    fn arbitrary_strings_never_panic(src in "\\PC{0,80}") {
        prop_assert!(run(&src).is_ok(), "panicked on: {src:?}");
    }
}

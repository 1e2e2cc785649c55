//! Generated code in real user crates: it builds and runs in edition 2021 and 2024 crates,
//! and the macro's warnings reach `cargo build` on stable Rust, on the offending token.
//!
//! Slow on the first run (it builds `dilated` in a separate target directory); later runs
//! reuse it.

mod support;

/// A user's program: compact and per-layer stacks, visibility, dynamic sizes, weights
/// round-trip; it prints a line the test checks. Line 8 holds the HDC rule 2 warning's
/// token (the repeated rate) and line 17 the long-range warnings' (the rate from which the
/// receptive field outgrows the input of 8).
const PROGRAM: &str = r#"//! A user crate.
use dilated::tensor::{DYN, Tensor1d, Tensor2d};

dilated::dilated_stack! {
    /// Rule 2 warns: rate 2 repeats.
    pub struct Repeat {
        input: [2, 32, 32],
        kernel: 3, rates: [1, 2, 2],
        activation: relu,
    }
}

dilated::dilated_stack! {
    pub(crate) struct Wide {
        input: [1, 8],
        kernel: 3,
        rates: [1, 2, 5],
    }
}

mod inner {
    dilated::dilated_stack! {
        pub struct Causal {
            input: [3, _],
            layers: [
                conv(3 -> 4, kernel: 2, rate: 1, padding: causal), leaky_relu(0.1),
                conv(4 -> 4, kernel: 2, rate: 2, padding: causal, groups: depthwise), silu,
                conv(4 -> 2, kernel: 2, rate: 4, padding: causal, bias: false),
            ],
        }
    }
}

fn main() -> Result<(), dilated::Error> {
    let a = Repeat::new_seeded(1)?;
    let y: Tensor2d<2, 32, 32> = a.forward(&Tensor2d::zeros(1, [32, 32])?)?;
    let b = Wide::new_seeded(2)?;
    let z = b.forward_nchw(1, &[1.0; 8])?;
    let c = inner::Causal::new_seeded(3)?;
    let x = Tensor1d::<3, DYN>::from_vec(2, 10, vec![0.5; 60])?;
    let w: Tensor1d<2, DYN> = c.forward(&x)?;
    let back = inner::Causal::from_safetensors_bytes(&c.to_safetensors_bytes()?)?;
    assert_eq!(back.forward(&x)?.as_slice(), w.as_slice());
    println!("ok {} {} {} {}", y.as_slice().len(), z.len(), w.len(), inner::Causal::RECEPTIVE_FIELD);
    Ok(())
}
"#;

fn run_in(edition: &str) {
    let dir = support::write_crate(&format!("user-{edition}"), edition, PROGRAM);
    let out = support::cargo_json(&dir, "run", &["--quiet"]);
    assert!(
        out.success,
        "edition {edition}: the crate does not build or run:\n{}\n{:#?}",
        out.stderr, out.diags
    );
    assert!(
        out.stdout.contains("ok 2048 8 10 8"),
        "edition {edition}: unexpected output {:?}",
        out.stdout
    );
    // Exactly the macro's warnings, as uses of deprecated items, on their tokens.
    let warnings: Vec<_> = out.diags.iter().filter(|d| d.level == "warning").collect();
    let rule2 = warnings
        .iter()
        .find(|d| d.message.contains("dilated_hdc2"))
        .unwrap_or_else(|| panic!("edition {edition}: no HDC rule 2 warning in {warnings:#?}"));
    assert!(rule2.message.contains("HDC rule 2"), "{}", rule2.message);
    assert!(
        rule2.message.contains("= help: use rates ["),
        "{}",
        rule2.message
    );
    assert_eq!((rule2.line, rule2.column), (Some(8), Some(34)), "{rule2:?}");
    assert_eq!(rule2.text.as_deref(), Some("2"));
    let wide: Vec<_> = warnings
        .iter()
        .filter(|d| d.message.contains("dilated_long_range"))
        .collect();
    assert!(!wide.is_empty(), "edition {edition}: no long-range warning");
    assert!(
        wide.iter().any(|d| d.message.contains("receptive field 17")
            && d.line == Some(17)
            && d.text.as_deref() == Some("5")),
        "{wide:#?}"
    );
    assert!(
        warnings.iter().all(|d| d
            .message
            .starts_with("use of deprecated constant `_::dilated_")),
        "edition {edition}: other warnings in the generated code: {warnings:#?}"
    );
}

#[test]
fn edition_2021_crate_builds_runs_and_warns() {
    run_in("2021");
}

#[test]
fn edition_2024_crate_builds_runs_and_warns() {
    run_in("2024");
}

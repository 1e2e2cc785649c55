//! Safetensors files from strangers: each hostile file below is a typed error with a
//! one-line message through every public entry point (`Weights::from_safetensors_bytes`, a
//! stack's and a `Model`'s `from_safetensors_bytes`), never a panic, and never an allocation
//! past the memory bound: a counting global allocator watches the peak bytes each load holds
//! (per thread, so the tests of this file may run in parallel).

use dilated_core::conv::{Conv, Rank};
use dilated_core::model::{ModelBuilder, ModelError, ModelGraph, WeightNorm};
use dilated_core::stack::StackBuilder;
use dilated_core::weights::Weights;
use dilated_core::{ConvDesc, Error};

mod support;
use support::counting::peak_during;

/// Fixed allowance on top of four times the file, as issue 14 sets it.
const FIXED: usize = 64 << 20;

/// The memory bound of a load of `len` bytes: 4 × the file + 64 MiB.
fn bound(len: usize) -> usize {
    4 * len + FIXED
}

/// A file: 8-byte little-endian header length, the header, the data.
fn file(header_len: u64, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut f = header_len.to_le_bytes().to_vec();
    f.extend_from_slice(header);
    f.extend_from_slice(data);
    f
}

/// A file whose length field is the header's true length.
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    file(header.len() as u64, header.as_bytes(), data)
}

/// The ten hostile files of issue 14 (and a few neighbours), named.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let deep = 100_001;
    let mut nested = "[".repeat(deep);
    nested.push_str(&"]".repeat(deep));
    let mut bad_utf8 = br#"{"0.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#.to_vec();
    bad_utf8.extend_from_slice(b"\"\xff\xfe\xc0\x80\":{}}");
    // A header that says it lists billions of tensors: its length field claims 3·10^9
    // bytes of entries, of which the file holds the first few.
    let mut billions = String::from("{");
    for i in 0..64 {
        billions.push_str(&format!(
            r#""t{i}":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}},"#
        ));
    }
    vec![
        ("header length 2^60", file(1 << 60, b"{}", &[0; 16])),
        (
            // Found by libFuzzer: the parser's message quotes the name, newline included.
            "a newline in a tensor name, offsets out of range",
            with_header(
                r#"{"0.\nweight":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}}"#,
                &[0; 4],
            ),
        ),
        (
            "dims 2^40",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
        ),
        (
            "dims 2^40 (product fits, data short)",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#,
                &[0; 4],
            ),
        ),
        (
            "offsets out of range",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,1000000]}}"#,
                &[0; 16],
            ),
        ),
        (
            "offsets past u64",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,3]}}"#,
                &[0; 4],
            ),
        ),
        (
            "overlapping offsets",
            with_header(
                r#"{"0.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"0.weight":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                &[0; 12],
            ),
        ),
        (
            "bad UTF-8 in the header",
            file(bad_utf8.len() as u64, &bad_utf8, &[0; 4]),
        ),
        ("100,001-deep JSON nesting", with_header(&nested, &[])),
        (
            "100,001-deep JSON nesting inside an entry",
            with_header(&format!(r#"{{"0.weight":{nested}}}"#), &[]),
        ),
        (
            "100,001-deep JSON nesting inside the metadata",
            with_header(&format!(r#"{{"__metadata__":{{"a":{nested}}}}}"#), &[]),
        ),
        (
            "unknown dtype",
            with_header(
                r#"{"0.weight":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
        ),
        (
            "negative shape",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
        ),
        ("empty file", Vec::new()),
        ("shorter than the length field", vec![8, 0, 0]),
        (
            "a header claiming billions of tensors",
            file(3_000_000_000, billions.as_bytes(), &[]),
        ),
        (
            "a tensor claiming billions of elements",
            with_header(
                r#"{"0.weight":{"dtype":"F32","shape":[4000000000],"data_offsets":[0,16000000000]}}"#,
                &[0; 64],
            ),
        ),
    ]
}

/// conv(2→3, 3×3, rate 2) at module 0.
fn desc() -> ConvDesc {
    ConvDesc::same_2d(2, 3, 3, 2)
}

/// A graph whose only tensors are `0.weight` and `0.bias` (the stack's names), so a
/// well-formed file serves both.
fn graph() -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::Two, 2);
    let x = b.input();
    let y = b.conv(x, "0", desc(), WeightNorm::None).unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

/// Asserts `message` is one line that says something.
fn one_line(case: &str, entry: &str, message: &str) {
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{case} via {entry}: not one line: {message:?}"
    );
}

/// Loads `bytes` through the three entry points; each must be a typed format error in one
/// line, within the memory bound.
fn refuse(case: &str, bytes: &[u8]) {
    let limit = bound(bytes.len());

    let (r, peak) = peak_during(|| Weights::from_safetensors_bytes(bytes));
    let e = r.expect_err(case);
    assert!(matches!(e, Error::Format { .. }), "{case}: {e:?}");
    one_line(case, "Weights", &e.to_string());
    assert!(
        peak <= limit,
        "{case} via Weights: peak {peak} B > {limit} B"
    );
    eprintln!("{case}: file {} B, peak {peak} B: {e}", bytes.len());

    let stack = StackBuilder::new(Rank::Two).conv(desc());
    let (r, peak) = peak_during(|| stack.from_safetensors_bytes(bytes));
    let e = r.expect_err(case);
    assert!(matches!(e, Error::Format { .. }), "{case}: {e:?}");
    one_line(case, "Stack", &e.to_string());
    assert!(peak <= limit, "{case} via Stack: peak {peak} B > {limit} B");

    let g = graph();
    let (r, peak) = peak_during(|| g.from_safetensors_bytes(bytes));
    let e = r.expect_err(case);
    assert!(
        matches!(e, ModelError::Engine(Error::Format { .. })),
        "{case}: {e:?}"
    );
    one_line(case, "Model", &e.to_string());
    assert!(peak <= limit, "{case} via Model: peak {peak} B > {limit} B");
}

#[test]
fn every_hostile_file_is_a_one_line_format_error_within_the_memory_bound() {
    for (case, bytes) in hostile() {
        refuse(case, &bytes);
    }
}

#[test]
fn a_valid_file_loads_through_every_entry_point() {
    // The control: the same three entry points accept the well-formed file, so the refusals
    // above are the files' doing.
    let conv = Conv::new(desc(), vec![0.25; 3 * 2 * 9], Some(vec![0.5; 3])).unwrap();
    let mut w = Weights::new();
    w.insert_conv(0, &conv, Rank::Two).unwrap();
    let bytes = w.to_safetensors_bytes().unwrap();
    assert_eq!(Weights::from_safetensors_bytes(&bytes).unwrap(), w);
    StackBuilder::new(Rank::Two)
        .conv(desc())
        .from_safetensors_bytes(&bytes)
        .unwrap();
    graph().from_safetensors_bytes(&bytes).unwrap();
}

#[test]
fn many_small_tensors_stay_within_the_bound() {
    // A real header listing 100,000 tensors (the most a stranger's file can list is what
    // its header holds): read in memory proportional to the file, then refused as left over.
    let n = 100_000;
    let mut header = String::from("{");
    for i in 0..n {
        let sep = if i + 1 == n { "" } else { "," };
        header.push_str(&format!(
            r#""t{i:06}":{{"dtype":"F32","shape":[1],"data_offsets":[{},{}]}}{sep}"#,
            4 * i,
            4 * i + 4
        ));
    }
    header.push('}');
    let bytes = with_header(&header, &vec![0; 4 * n]);
    let limit = bound(bytes.len());
    let (w, peak) = peak_during(|| Weights::from_safetensors_bytes(&bytes).unwrap());
    assert_eq!(w.len(), n);
    assert!(peak <= limit, "peak {peak} B > {limit} B");
    let (r, peak) = peak_during(|| {
        StackBuilder::new(Rank::Two)
            .conv(desc())
            .from_safetensors_bytes(&bytes)
    });
    let e = r.unwrap_err();
    assert!(matches!(e, Error::MissingTensor { .. }), "{e:?}");
    one_line("many tensors", "Stack", &e.to_string());
    assert!(peak <= limit, "peak {peak} B > {limit} B");
}

#[test]
fn names_with_control_characters_stay_on_one_line() {
    // A well-formed file whose extra tensor is named with a newline and a tab: strict loading
    // names it, escaped.
    let conv = Conv::new(desc(), vec![0.25; 3 * 2 * 9], Some(vec![0.5; 3])).unwrap();
    let mut w = Weights::new();
    w.insert_conv(0, &conv, Rank::Two).unwrap();
    w.insert("extra\n\tname", vec![1], vec![1.0]).unwrap();
    let bytes = w.to_safetensors_bytes().unwrap();
    let e = StackBuilder::new(Rank::Two)
        .conv(desc())
        .from_safetensors_bytes(&bytes)
        .unwrap_err();
    let m = e.to_string();
    one_line("extra tensor", "Stack", &m);
    assert!(m.contains("extra\\n\\tname"), "{m}");
}

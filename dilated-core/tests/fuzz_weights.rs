//! The safetensors reader's fuzz harness on stable (proptest): whatever bytes a stranger's
//! file holds, loading them as a weight set, into a stack and into a model is a value or a
//! one-line typed error, never a panic, and never holds more than 4 × the file + 64 MiB.
//!
//! Inputs: the committed corpus (`fuzz/corpus/weights/`: the seeds, valid files made by
//! `support/weights_targets.rs`, and every file that ever failed), byte mutations of the
//! seeds (bits flipped, bytes inserted, ranges deleted or duplicated, files truncated, the
//! length field rewritten), edits of the header's fields (dtypes, shapes, offsets, names,
//! metadata) re-serialised as a well-framed file, and arbitrary bytes behind a valid length
//! field. `PROPTEST_CASES` sets the cases per generator (256 by default); the `cargo fuzz`
//! target `fuzz/fuzz_targets/weights.rs` runs the same check for longer (see
//! `fuzz/README.md`).

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Map, Value};

mod support;
use support::counting::peak_during;
use support::weights_targets::{load, seeds};

/// The memory bound of loading `len` bytes: 4 × the file + 64 MiB.
fn bound(len: usize) -> usize {
    4 * len + (64 << 20)
}

/// Loads `bytes` through every entry point within the memory bound.
fn check(bytes: &[u8]) {
    let ((), peak) = peak_during(|| load(bytes));
    let limit = bound(bytes.len());
    assert!(peak <= limit, "peak {peak} B > {limit} B");
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/weights")
}

#[test]
fn the_seeds_are_committed_and_load() {
    // The corpus holds the seeds as this file makes them; `DILATED_WRITE_SEEDS=1` rewrites
    // them (after a change to the stack, the model or the writer).
    let dir = corpus_dir();
    for (name, bytes) in seeds() {
        let path = dir.join(format!("{name}.safetensors"));
        if std::env::var_os("DILATED_WRITE_SEEDS").is_some() {
            std::fs::write(&path, &bytes).expect("write a seed");
        }
        let committed = std::fs::read(&path).expect("a committed seed");
        assert!(committed == bytes, "{name}: the committed seed differs");
        check(&bytes);
    }
    let stack = support::weights_targets::stack();
    let graph = support::weights_targets::graph();
    for name in ["seed-stack-f32", "seed-stack-f16", "seed-stack-bf16"] {
        let bytes = std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
        stack.from_safetensors_bytes(&bytes).expect(name);
    }
    for name in ["seed-model-f32", "seed-model-bf16"] {
        let bytes = std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
        graph.from_safetensors_bytes(&bytes).expect(name);
    }
}

#[test]
fn the_regression_corpus_never_panics() {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("fuzz/corpus/weights exists")
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(entries.len() >= 6, "the corpus has {} files", entries.len());
    for path in entries {
        let bytes = std::fs::read(&path).expect("readable corpus file");
        let name = path.display().to_string();
        let r = std::panic::catch_unwind(|| check(&bytes));
        assert!(r.is_ok(), "{name} panicked");
    }
}

/// One byte-level edit; positions and lengths are reduced modulo the file's length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
    /// Rewrites the 8-byte header length field.
    Length(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let length = prop_oneof![
        any::<u64>(),
        0u64..4096,
        Just(u64::MAX),
        Just(1 << 60),
        Just(100_000_001)
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        length.prop_map(Mutation::Length),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match m {
        Mutation::Flip(p, bit) if len > 0 => bytes[p % len] ^= 1 << bit,
        Mutation::Insert(p, b) => {
            let at = p % (len + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Delete(p, n) if len > 0 => {
            let at = p % len;
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Duplicate(p, n) if len > 0 => {
            let at = p % len;
            let part: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
            bytes.splice(at..at, part);
        }
        Mutation::Truncate(p) => bytes.truncate(p % (len + 1)),
        Mutation::Length(v) if len >= 8 => bytes[..8].copy_from_slice(&v.to_le_bytes()),
        Mutation::Flip(..)
        | Mutation::Delete(..)
        | Mutation::Duplicate(..)
        | Mutation::Length(..) => {}
    }
}

/// The header of a well-framed seed, as JSON, and the data after it.
fn split(bytes: &[u8]) -> (Map<String, Value>, Vec<u8>) {
    let n = usize::try_from(u64::from_le_bytes(bytes[..8].try_into().unwrap())).unwrap();
    let header = serde_json::from_slice(&bytes[8..8 + n]).expect("a seed's header");
    (header, bytes[8 + n..].to_vec())
}

/// A file of `header` and `data` with a true length field.
fn frame(header: &Value, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap();
    let mut f = (text.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&text);
    f.extend_from_slice(data);
    f
}

/// A number a hostile header might hold.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..64).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(1u64 << 40)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(-1)),
        Just(Value::from(1.5)),
        Just(Value::from("7")),
        Just(Value::Null),
    ]
}

/// A shape or an offset pair, hostile or not.
fn values() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(number(), 0..6)
}

/// One edit of a header's fields.
#[derive(Debug, Clone)]
enum Edit {
    Dtype(usize, String),
    Shape(usize, Vec<Value>),
    Offsets(usize, Vec<Value>),
    /// Renames tensor `.0` to the name of tensor `.1` with a suffix (or none).
    Rename(usize, usize, String),
    Remove(usize),
    RemoveField(usize, &'static str),
    Metadata(Value),
    /// Replaces a tensor's entry with a non-object.
    Scalar(usize, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    let dtype = prop_oneof![
        Just("F32"),
        Just("F16"),
        Just("BF16"),
        Just("F64"),
        Just("I64"),
        Just("U8"),
        Just("BOOL"),
        Just("F8_E4M3"),
        Just("F4"),
        Just("f32"),
        Just("F99"),
        Just(""),
    ]
    .prop_map(str::to_owned);
    let field = prop_oneof![Just("dtype"), Just("shape"), Just("data_offsets")];
    let suffix =
        prop_oneof![Just(""), Just("x"), Just(".weight"), Just("\u{0}")].prop_map(str::to_owned);
    let metadata = prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!({"format": "pt"})),
        Just(serde_json::json!({"a": 1})),
        Just(serde_json::json!([1, 2])),
    ];
    prop_oneof![
        (any::<usize>(), dtype).prop_map(|(i, d)| Edit::Dtype(i, d)),
        (any::<usize>(), values()).prop_map(|(i, v)| Edit::Shape(i, v)),
        (any::<usize>(), values()).prop_map(|(i, v)| Edit::Offsets(i, v)),
        (any::<usize>(), any::<usize>(), suffix).prop_map(|(i, j, s)| Edit::Rename(i, j, s)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), field).prop_map(|(i, f)| Edit::RemoveField(i, f)),
        metadata.prop_map(Edit::Metadata),
        (any::<usize>(), number()).prop_map(|(i, v)| Edit::Scalar(i, v)),
    ]
}

fn apply_edit(header: &mut Map<String, Value>, e: &Edit) {
    let names: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    if names.is_empty() {
        if let Edit::Metadata(v) = e {
            header.insert("__metadata__".to_owned(), v.clone());
        }
        return;
    }
    let pick = |i: &usize| names[i % names.len()].clone();
    match e {
        Edit::Dtype(i, d) => {
            if let Some(Value::Object(t)) = header.get_mut(&pick(i)) {
                t.insert("dtype".to_owned(), Value::from(d.as_str()));
            }
        }
        Edit::Shape(i, v) => {
            if let Some(Value::Object(t)) = header.get_mut(&pick(i)) {
                t.insert("shape".to_owned(), Value::Array(v.clone()));
            }
        }
        Edit::Offsets(i, v) => {
            if let Some(Value::Object(t)) = header.get_mut(&pick(i)) {
                t.insert("data_offsets".to_owned(), Value::Array(v.clone()));
            }
        }
        Edit::Rename(i, j, s) => {
            if let Some(t) = header.remove(&pick(i)) {
                header.insert(format!("{}{s}", pick(j)), t);
            }
        }
        Edit::Remove(i) => {
            header.remove(&pick(i));
        }
        Edit::RemoveField(i, f) => {
            if let Some(Value::Object(t)) = header.get_mut(&pick(i)) {
                t.remove(*f);
            }
        }
        Edit::Metadata(v) => {
            header.insert("__metadata__".to_owned(), v.clone());
        }
        Edit::Scalar(i, v) => {
            header.insert(pick(i), v.clone());
        }
    }
}

proptest! {
    #[test]
    fn byte_mutations_of_the_seeds_never_panic(
        seed in any::<prop::sample::Index>(),
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = seeds();
        let mut bytes = all[seed.index(all.len())].1.clone();
        for m in &ms {
            apply(&mut bytes, m);
        }
        check(&bytes);
    }

    #[test]
    fn header_edits_of_the_seeds_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..5),
        extra in 0usize..3,
    ) {
        let all = seeds();
        let (mut header, mut data) = split(&all[seed.index(all.len())].1);
        for e in &edits {
            apply_edit(&mut header, e);
        }
        // Sometimes fewer or more data bytes than the offsets say.
        match extra {
            1 => { data.pop(); }
            2 => data.extend_from_slice(&[0; 4]),
            _ => {}
        }
        check(&frame(&Value::Object(header), &data));
    }

    #[test]
    fn arbitrary_bytes_behind_a_length_field_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..256),
        claimed in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    ) {
        let n = claimed.unwrap_or(body.len() as u64);
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.extend_from_slice(&body);
        check(&bytes);
    }
}

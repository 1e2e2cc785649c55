//! The reader never panics and always answers quickly, whatever bytes it gets: a property
//! test over mutated fixtures (bytes flipped, inserted, deleted, ranges duplicated, files
//! truncated), run on the stable toolchain. The regression corpus
//! (`dilated-onnx/fuzz/corpus/read/`, shared with the `cargo fuzz` target) is replayed
//! first. Run longer with `PROPTEST_CASES=20000 cargo test -p dilated-onnx --test fuzz`.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;

/// Reads `bytes` as a model and as a tensor: `Err` with the panic message on a panic; a
/// refusal must be one line, and every answer must come within two seconds.
fn check(bytes: &[u8]) -> Result<(), String> {
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let m = dilated_onnx::parse(bytes.to_vec());
        if let Ok(m) = &m {
            // Walk what a caller would: shapes, kinds, constants.
            for n in m.graph.nodes() {
                let _ = n.kind.window().map(|w| w.effective_kernel(0));
                let _ = n.label();
            }
            #[cfg(feature = "runtime")]
            for (i, n) in m.graph.nodes().iter().enumerate() {
                if matches!(n.kind, dilated_onnx::NodeKind::Conv(_)) {
                    let _ = dilated_onnx::runtime::conv_from_node(
                        &m.graph,
                        dilated_onnx::NodeId(i),
                        dilated_core::Activation::Identity,
                    );
                }
            }
        }
        let t = dilated_onnx::parse_tensor(bytes.to_vec());
        if let Ok(t) = &t {
            let _ = t.to_f32("t");
        }
        (m.err(), t.err())
    }))
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })?;
    for e in [r.0, r.1].into_iter().flatten() {
        let msg = e.to_string();
        if msg.contains('\n') || msg.is_empty() {
            return Err(format!("not one line: {msg:?}"));
        }
    }
    if t.elapsed() > Duration::from_secs(2) {
        return Err(format!("took {:?}", t.elapsed()));
    }
    Ok(())
}

/// Keeps a failing input under the target folder (`fuzz-failures/`) and returns the
/// message naming it: copy it into the corpus with the fix.
fn keep(bytes: &[u8], e: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{:016x}.onnx", h.finish()));
    let _ = std::fs::write(&path, bytes);
    format!("{e} (input kept as {})", path.display())
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/read")
}

/// Seeds for the mutations: small fixtures of every kind, and hand-made models.
fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = [
            "models/chain_2_4_8.torchscript.onnx",
            "models/chain_1_2_5.dynamo.onnx",
            "models/wavenet_block.torchscript.onnx",
            "models/tcn.dynamo.onnx",
            "models/aspp.torchscript.onnx",
            "models/tcn.input.pb",
            "light/light_squeezenet.onnx",
            "conformance/test_Conv2d_dilated/model.onnx",
            "conformance/test_Conv1d_groups/model.onnx",
        ]
        .iter()
        .map(|f| std::fs::read(fixtures().join(f)).unwrap())
        .collect();
        v.push(relu_chain(5));
        v.push(one_conv(&[
            attr_ints("dilations", &[2, 2]),
            attr_ints("pads", &[2, 2, 2, 2]),
        ]));
        v
    })
}

#[test]
fn regression_corpus_and_seeds() {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        if let Err(e) = check(&bytes) {
            panic!("{}: {e}", f.display());
        }
    }
    for s in seeds() {
        check(s).unwrap();
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<usize>(), 1usize..256, any::<usize>())
            .prop_map(|(i, n, at)| Edit::Duplicate(i, n, at)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        match e {
            Edit::Flip(i, v) => b[i % n] = *v,
            Edit::Insert(i, v) => {
                let at = i % (n + 1);
                b.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, k) => {
                let at = i % n;
                b.drain(at..(at + k).min(n));
            }
            Edit::Duplicate(i, k, to) => {
                let at = i % n;
                let part: Vec<u8> = b[at..(at + k).min(n)].to_vec();
                let to = to % (n + 1);
                b.splice(to..to, part);
            }
            Edit::Truncate(i) => b.truncate(i % n),
        }
    }
    b
}

const OPS: &[&str] = &[
    "Conv",
    "MaxPool",
    "AveragePool",
    "LpPool",
    "Pad",
    "Slice",
    "Split",
    "Concat",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Resize",
    "Upsample",
    "Gather",
    "Shape",
    "Size",
    "ConstantOfShape",
    "Range",
    "Expand",
    "Flatten",
    "Gemm",
    "MatMul",
    "ReduceMean",
    "ReduceSum",
    "Softmax",
    "Add",
    "Mul",
    "Sub",
    "Div",
    "Mod",
    "Pow",
    "Where",
    "Equal",
    "Cast",
    "Identity",
    "Dropout",
    "Constant",
    "Tile",
    "GlobalAveragePool",
    "BatchNormalization",
    "Sum",
    "Neg",
    "Abs",
    "Relu",
    "LeakyRelu",
    "LayerNormalization",
    "Floor",
    "Sqrt",
];

const ATTRS: &[&str] = &[
    "axis",
    "axes",
    "perm",
    "pads",
    "strides",
    "dilations",
    "kernel_shape",
    "group",
    "auto_pad",
    "ceil_mode",
    "starts",
    "ends",
    "split",
    "to",
    "value",
    "keepdims",
    "allowzero",
    "mode",
    "scales",
    "num_outputs",
    "start",
    "end",
    "fmod",
    "value_ints",
    "value_int",
    "value_float",
    "noop_with_empty_axes",
    "transA",
    "transB",
];

fn interesting() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -3i64..8,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => Just(-9_223_372_036_854_775_807),
        1 => Just(1 << 40),
        1 => Just(1 << 62),
        1 => Just(u32::MAX as i64),
    ]
}

fn attribute() -> impl Strategy<Value = Pb> {
    (
        prop::sample::select(ATTRS),
        0u8..5,
        interesting(),
        prop::collection::vec(interesting(), 0..9),
        prop::sample::select(
            &[
                "SAME_UPPER",
                "SAME_LOWER",
                "VALID",
                "NOTSET",
                "linear",
                "nearest",
                "cubic",
                "reflect",
                "edge",
                "x",
            ][..],
        ),
    )
        .prop_map(|(name, kind, i, ints, s)| match kind {
            0 => attr_int(name, i),
            1 => attr_ints(name, &ints),
            2 => attr_str(name, s),
            3 => attr_tensor(name, &tensor_i64("", &[ints.len() as i64], &ints)),
            _ => Pb::new()
                .string(1, name)
                .varint(20, 6)
                .packed_f32(7, &ints.iter().map(|&v| v as f32 / 2.0).collect::<Vec<_>>()),
        })
}

/// A random graph over the operators the reader folds and infers, with random wiring,
/// attributes and constants: it reaches the folder and the shape inference, where the
/// mutations of valid files rarely go.
fn random_model() -> impl Strategy<Value = Vec<u8>> {
    let input = prop::collection::vec(prop_oneof![4 => 1i64..9, 1 => Just(-1i64)], 1..6);
    let consts = prop::collection::vec(
        (
            prop::collection::vec(0i64..4, 0..3),
            prop::collection::vec(interesting(), 0..16),
        ),
        0..4,
    );
    // The attributes an operator needs, with small values, so that most graphs get past
    // the first node.
    let required = (
        prop::collection::vec(1i64..4, 1..3),
        -1i64..3,
        prop::sample::select(&[1i64, 7, 9, 11][..]),
    );
    let nodes = (
        prop::sample::select(OPS),
        prop::collection::vec(0usize..64, 0..5),
        1usize..3,
        prop::collection::vec(attribute(), 0..5),
        required,
    )
        .prop_map(|(op, ins, nout, mut attrs, (kernel, axis, to))| {
            match op {
                "Conv" | "MaxPool" | "AveragePool" | "LpPool" => {
                    attrs.insert(0, attr_ints("kernel_shape", &kernel));
                }
                "Concat" | "Split" | "Flatten" | "Gather" | "Softmax" => {
                    attrs.insert(0, attr_int("axis", axis));
                }
                "Cast" => attrs.insert(0, attr_int("to", to)),
                "Constant" => {
                    attrs.insert(
                        0,
                        attr_tensor("value", &tensor_i64("", &[kernel.len() as i64], &kernel)),
                    );
                }
                _ => {}
            }
            (op, ins, nout, attrs)
        });
    (input, consts, prop::collection::vec(nodes, 1..12)).prop_map(|(input, consts, nodes)| {
        let mut names = vec!["x".to_string(), String::new()];
        let mut inits = Vec::new();
        for (i, (dims, vals)) in consts.iter().enumerate() {
            let n: i64 = dims.iter().product();
            let mut v = vals.clone();
            v.resize(n as usize, 1);
            let name = format!("c{i}");
            inits.push(tensor_i64(&name, dims, &v));
            names.push(name);
        }
        let mut out = Vec::new();
        for (k, (op, ins, nout, attrs)) in nodes.iter().enumerate() {
            let ins: Vec<String> = ins
                .iter()
                .map(|&i| names[i % names.len()].clone())
                .collect();
            let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
            let outs: Vec<String> = (0..*nout).map(|j| format!("n{k}_{j}")).collect();
            let outs_ref: Vec<&str> = outs.iter().map(String::as_str).collect();
            out.push(node(op, &format!("k{k}"), &ins, &outs_ref, attrs));
            names.extend(outs);
        }
        let last = names.last().cloned().unwrap_or_default();
        model(&graph(
            &out,
            &inits,
            &[value_info("x", &input)],
            &[Pb::new().string(1, &last)],
        ))
    })
}

proptest! {
    // Failures are kept as files (see `keep`), not in proptest's regression files.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_graphs_never_panic(bytes in random_model()) {
        if let Err(e) = check(&bytes) {
            prop_assert!(false, "{}", keep(&bytes, &e));
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let s = seeds();
        let bytes = apply(s[seed.index(s.len())].clone(), &edits);
        if let Err(e) = check(&bytes) {
            prop_assert!(false, "{}", keep(&bytes, &e));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = check(&bytes) {
            prop_assert!(false, "{}", keep(&bytes, &e));
        }
    }
}

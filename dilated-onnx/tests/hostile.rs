//! Issue 14's hostile files: each class is one typed error with a one-line message, never
//! a panic; and a valid graph 10,000 nodes deep is read and sorted.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use dilated_onnx::{Error, parse, read};

/// Parses `bytes`, expecting an error; checks it is one line and fast.
fn refuse(bytes: &[u8]) -> Error {
    let t = Instant::now();
    let e = parse(bytes.to_vec()).expect_err("a hostile file must be refused");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}: {e}",
        t.elapsed()
    );
    let msg = e.to_string();
    assert!(
        !msg.contains('\n') && !msg.is_empty(),
        "not one line: {msg:?}"
    );
    e
}

#[test]
fn empty_file() {
    assert!(matches!(refuse(&[]), Error::Malformed { offset: 0, .. }));
}

#[test]
fn truncated_anywhere() {
    let full = std::fs::read(fixtures().join("models/chain_2_4_8.torchscript.onnx")).unwrap();
    for cut in (1..full.len()).step_by(7) {
        let e = refuse(&full[..cut]);
        assert!(
            matches!(
                e,
                Error::Truncated { .. }
                    | Error::LengthPastEnd { .. }
                    | Error::Malformed { .. }
                    | Error::NoOpset
            ),
            "cut at {cut}: {e}"
        );
    }
    // Cut inside the first length prefix's payload: the length runs past the end.
    let e = refuse(&full[..full.len() - 1]);
    assert!(matches!(e, Error::LengthPastEnd { .. }), "{e}");
}

#[test]
fn length_past_the_end() {
    // ModelProto.graph claims 1 GB, the file holds 3 bytes of it.
    let bytes = Pb::new().int(1, 8).lying_len(7, 1 << 30, &[1, 2, 3]).0;
    let e = refuse(&bytes);
    assert!(
        matches!(
            e,
            Error::LengthPastEnd {
                length: 1_073_741_824,
                within: "file",
                ..
            }
        ),
        "{e}"
    );
    // A nested length past the end of its message, inside the file.
    let inner = Pb::new().lying_len(1, 50, &[0; 4]);
    let bytes = Pb::new()
        .msg(7, &inner)
        .string(2, "padding after the graph......")
        .0;
    let e = refuse(&bytes);
    assert!(
        matches!(
            e,
            Error::LengthPastEnd {
                within: "GraphProto",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn varint_overflow_and_bad_wire_types() {
    let e = refuse(&[
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ]);
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    // Wire type 3 (a group).
    let e = refuse(&Pb::new().key(7, 3).0);
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("groups"), "{e}");
    // Wire type 7.
    let e = refuse(&Pb::new().key(7, 7).0);
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    // Field number 0.
    let e = refuse(&[0x02, 0x00]);
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    // ModelProto.graph as a varint.
    let e = refuse(&Pb::new().varint(7, 1).0);
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("expected a message"), "{e}");
}

#[test]
fn repeated_field_claiming_billions_of_elements() {
    // An initializer whose dims claim 4 billion floats, holding 4 bytes.
    let t = Pb::new()
        .packed_i64(1, &[4_000_000_000])
        .varint(2, 1)
        .string(8, "w")
        .bytes(9, &[0; 4]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Tensor { .. }), "{e}");
    assert!(e.to_string().contains("raw_data holds 4 bytes"), "{e}");
    // The same with float_data.
    let t = Pb::new()
        .packed_i64(1, &[4_000_000_000])
        .varint(2, 1)
        .string(8, "w")
        .packed_f32(4, &[1.0]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Tensor { .. }), "{e}");
    // A packed float list whose length prefix claims billions of bytes.
    let t = Pb::new().varint(2, 1).lying_len(4, 16_000_000_000, &[0; 8]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::LengthPastEnd { .. }), "{e}");
    // Two million empty nodes: four bytes each in the file, hundreds once decoded.
    let mut g = Vec::with_capacity(4_000_000);
    for _ in 0..2_000_000 {
        g.extend_from_slice(&[0x0a, 0x00]);
    }
    let e = refuse(&Pb::new().bytes(7, &g).0);
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    // A million dims of one byte each (eight once decoded, twice that while growing).
    let t = Pb::new().packed_i64(1, &vec![1; 10_000_000]).varint(2, 1);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Limit { .. }), "{e}");
}

#[test]
fn dims_whose_product_overflows() {
    let t = tensor_f32("w", &[1 << 32, 1 << 32, 16], &[]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Tensor { .. }), "{e}");
    assert!(e.to_string().contains("more than"), "{e}");
    // Negative dims.
    let t = tensor_f32("w", &[-1], &[]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Tensor { .. }), "{e}");
    // Declared shapes of an input.
    let e = refuse(&model(&graph(
        &[],
        &[],
        &[value_info("x", &[1 << 30, 1 << 30, 1 << 30])],
        &[],
    )));
    assert!(matches!(e, Error::Tensor { .. }), "{e}");
    // Too many dims.
    let t = tensor_f32("w", &[1; 40], &[1.0]);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    // A ConstantOfShape asking for 2^80 elements.
    let shape = tensor_i64("s", &[2], &[1 << 40, 1 << 40]);
    let e = refuse(&model(&graph(
        &[node("ConstantOfShape", "big", &["s"], &["w"], &[])],
        &[shape],
        &[],
        &[Pb::new().string(1, "w")],
    )));
    assert!(matches!(e, Error::Node { .. }), "{e}");
}

#[test]
fn a_cycle_names_a_node_on_it() {
    // x → a → b → c → a (c feeds a).
    let bytes = model(&graph(
        &[
            node("Add", "a", &["x", "tc"], &["ta"], &[]),
            node("Relu", "b", &["ta"], &["tb"], &[]),
            node("Relu", "c", &["tb"], &["tc"], &[]),
            node("Relu", "d", &["tc"], &["y"], &[]),
        ],
        &[],
        &[value_info("x", &[1, 1, 4, 4])],
        &[Pb::new().string(1, "y")],
    ));
    let e = refuse(&bytes);
    match &e {
        Error::Cycle { node, length } => {
            assert!(["a", "b", "c"].contains(&node.as_str()), "{e}");
            assert_eq!(*length, 3);
        }
        other => panic!("expected a cycle, got {other}"),
    }
}

#[test]
fn a_node_feeding_itself() {
    let bytes = model(&graph(
        &[node("Add", "loop", &["x", "t"], &["t"], &[])],
        &[],
        &[value_info("x", &[1, 1, 4, 4])],
        &[Pb::new().string(1, "t")],
    ));
    let e = refuse(&bytes);
    assert!(
        matches!(&e, Error::SelfLoop { node, tensor } if node.as_str() == "loop" && tensor.as_str() == "t"),
        "{e}"
    );
}

#[test]
fn nested_subgraphs_are_refused() {
    let body = graph(&[node("Relu", "inner", &["x"], &["z"], &[])], &[], &[], &[]);
    for (op, attr) in [("If", "then_branch"), ("Loop", "body"), ("Scan", "body")] {
        let bytes = model(&graph(
            &[node(
                op,
                "outer",
                &["x"],
                &["y"],
                &[attr_graph(attr, &body)],
            )],
            &[],
            &[value_info("x", &[1, 1, 4, 4])],
            &[Pb::new().string(1, "y")],
        ));
        let e = refuse(&bytes);
        assert!(
            matches!(&e, Error::Subgraph { node, attribute, .. } if node.as_str() == "outer" && attribute.as_str() == attr),
            "{e}"
        );
    }
    // A graph attribute without its type field, and an empty one, are seen too.
    let a = Pb::new().string(1, "else_branch").bytes(6, &[]);
    let bytes = model(&graph(
        &[node("If", "bare", &["x"], &["y"], &[a])],
        &[],
        &[value_info("x", &[1])],
        &[Pb::new().string(1, "y")],
    ));
    assert!(matches!(refuse(&bytes), Error::Subgraph { .. }));
    // Deeply nested graphs are never decoded: the scan skips them as bytes.
    let mut g = body;
    for _ in 0..10_000 {
        g = graph(
            &[node(
                "If",
                "n",
                &["c"],
                &["o"],
                &[attr_graph("then_branch", &g)],
            )],
            &[],
            &[],
            &[],
        );
    }
    let bytes = model(&g);
    assert!(matches!(refuse(&bytes), Error::Subgraph { .. }));
}

#[test]
fn duplicate_names() {
    // Two nodes writing one tensor.
    let bytes = model(&graph(
        &[
            node("Relu", "first", &["x"], &["t"], &[]),
            node("Relu", "second", &["x"], &["t"], &[]),
        ],
        &[],
        &[value_info("x", &[1, 1, 4, 4])],
        &[Pb::new().string(1, "t")],
    ));
    let e = refuse(&bytes);
    assert!(
        matches!(&e, Error::Duplicate { tensor, .. } if tensor.as_str() == "t"),
        "{e}"
    );
    assert!(
        e.to_string().contains("\"first\"") && e.to_string().contains("\"second\""),
        "{e}"
    );
    // Two initializers.
    let w = tensor_f32("w", &[1], &[1.0]);
    let e = refuse(&model(&graph(&[], &[w.clone(), w], &[], &[])));
    assert!(
        matches!(&e, Error::Duplicate { tensor, .. } if tensor.as_str() == "w"),
        "{e}"
    );
    // Two inputs.
    let e = refuse(&model(&graph(
        &[],
        &[],
        &[value_info("x", &[1]), value_info("x", &[1])],
        &[],
    )));
    assert!(matches!(e, Error::Duplicate { .. }), "{e}");
    // A node writing a graph input.
    let e = refuse(&model(&graph(
        &[
            node("Relu", "r", &["x"], &["x2"], &[]),
            node("Relu", "s", &["x2"], &["x"], &[]),
        ],
        &[],
        &[value_info("x", &[1])],
        &[],
    )));
    assert!(matches!(e, Error::Duplicate { .. }), "{e}");
}

#[test]
fn missing_input_and_output() {
    let e = refuse(&model(&graph(
        &[node("Add", "add", &["x", "nowhere"], &["y"], &[])],
        &[],
        &[value_info("x", &[1])],
        &[Pb::new().string(1, "y")],
    )));
    assert!(
        matches!(&e, Error::MissingInput { node, tensor } if node.as_str() == "add" && tensor.as_str() == "nowhere"),
        "{e}"
    );
    let e = refuse(&model(&graph(
        &[],
        &[],
        &[value_info("x", &[1])],
        &[Pb::new().string(1, "ghost")],
    )));
    assert!(
        matches!(&e, Error::MissingOutput { tensor } if tensor.as_str() == "ghost"),
        "{e}"
    );
}

#[test]
fn names_with_line_breaks_stay_on_one_line() {
    let e = refuse(&model(&graph(
        &[
            node("Relu", "evil\nname", &["x"], &["evil\r\ny"], &[]),
            node("Relu", "b", &["q\n"], &["z"], &[]),
        ],
        &[],
        &[value_info("x", &[1])],
        &[],
    )));
    assert!(matches!(e, Error::MissingInput { .. }), "{e}");
    assert!(e.to_string().contains("\\n"), "{e}");
    // A very long name is cut.
    let long = "n".repeat(100_000);
    let e = refuse(&model(&graph(
        &[node("Relu", &long, &["missing"], &["z"], &[])],
        &[],
        &[],
        &[],
    )));
    assert!(e.to_string().len() < 400, "{}", e.to_string().len());
}

#[test]
fn bad_utf8_in_a_name() {
    let n = Pb::new().bytes(3, &[0xff, 0xfe]).string(4, "Relu");
    let e = refuse(&model(&graph(&[n], &[], &[], &[])));
    assert!(matches!(e, Error::Decode { .. }), "{e}");
}

#[test]
fn external_data_outside_the_folder_is_refused_from_memory() {
    // From memory, any external reference is refused (there is no folder).
    let t = Pb::new()
        .packed_i64(1, &[4])
        .varint(2, 1)
        .string(8, "w")
        .msg(13, &Pb::new().string(1, "location").string(2, "w.bin"))
        .varint(14, 1);
    let e = refuse(&model(&graph(&[], &[t], &[], &[])));
    assert!(matches!(e, Error::ExternalData { .. }), "{e}");
}

#[test]
fn invalid_conv_attributes() {
    for (attrs, what) in [
        (vec![attr_ints("strides", &[0, 1])], "strides"),
        (vec![attr_ints("dilations", &[1])], "dilations"),
        (vec![attr_ints("pads", &[-1, 0, 0, 0])], "pads"),
        (vec![attr_ints("kernel_shape", &[5, 5])], "kernel_shape"),
        (vec![attr_int("group", 0)], "group"),
        (vec![attr_str("auto_pad", "SOMETIMES")], "auto_pad"),
        (vec![attr_ints("dilations", &[1 << 62, 1])], "overflow"),
        (vec![attr_ints("dilations", &[9, 1])], "wider"),
    ] {
        let e = refuse(&one_conv(&attrs));
        assert!(matches!(e, Error::Node { .. }), "{what}: {e}");
    }
}

#[test]
fn a_valid_chain_ten_thousand_nodes_deep() {
    let bytes = relu_chain(10_000);
    let t = Instant::now();
    let m = parse(bytes).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let g = &m.graph;
    assert_eq!(g.nodes().len(), 10_000);
    for (i, n) in g.nodes().iter().enumerate() {
        assert_eq!(n.name, format!("r{i}"));
    }
    let y = g.outputs()[0];
    assert_eq!(g.value(y).static_shape(), Some(vec![1, 1, 4, 4]));
    // The same chain written in reverse order is sorted.
    let mut nodes = Vec::new();
    for i in (0..10_000).rev() {
        let a = if i == 0 {
            "x".to_string()
        } else {
            format!("t{}", i - 1)
        };
        let b = if i == 9_999 {
            "y".to_string()
        } else {
            format!("t{i}")
        };
        nodes.push(node("Relu", &format!("r{i}"), &[&a], &[&b], &[]));
    }
    let bytes = model(&graph(
        &nodes,
        &[],
        &[value_info("x", &[1, 1, 4, 4])],
        &[Pb::new().string(1, "y")],
    ));
    let m = parse(bytes).unwrap();
    for (i, n) in m.graph.nodes().iter().enumerate() {
        assert_eq!(n.name, format!("r{i}"));
        assert_eq!(n.file_index, 9_999 - i);
    }
}

/// A fresh folder under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("dilated-onnx-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A model whose initializer `w` ([4] floats) lives in external data.
fn external_model(location: &str, offset: Option<&str>, length: Option<&str>) -> Vec<u8> {
    let mut t = Pb::new()
        .packed_i64(1, &[4])
        .varint(2, 1)
        .string(8, "w")
        .msg(13, &Pb::new().string(1, "location").string(2, location));
    if let Some(o) = offset {
        t = t.msg(13, &Pb::new().string(1, "offset").string(2, o));
    }
    if let Some(l) = length {
        t = t.msg(13, &Pb::new().string(1, "length").string(2, l));
    }
    t = t.varint(14, 1);
    model(&graph(
        &[node("Relu", "r", &["w"], &["y"], &[])],
        &[t],
        &[],
        &[Pb::new().string(1, "y")],
    ))
}

fn write_model(dir: &Path, bytes: &[u8]) -> PathBuf {
    let p = dir.join("model.onnx");
    std::fs::write(&p, bytes).unwrap();
    p
}

fn refuse_file(path: &Path) -> Error {
    let e = read(path).expect_err("must be refused");
    assert!(!e.to_string().contains('\n'), "{e}");
    e
}

#[test]
fn external_data_inside_the_folder_is_read() {
    let tmp = TempDir::new("ext-ok");
    let data: Vec<u8> = [0.0f32, 1.0, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::create_dir_all(tmp.0.join("weights")).unwrap();
    std::fs::write(tmp.0.join("weights/w.bin"), &data).unwrap();
    let p = write_model(
        &tmp.0,
        &external_model("weights/w.bin", Some("4"), Some("16")),
    );
    let m = read(&p).unwrap();
    let g = &m.graph;
    let w = g.value(g.find("w").unwrap()).constant.as_ref().unwrap();
    assert!(w.external().is_some());
    assert_eq!(w.to_f32("w").unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn external_data_outside_the_folder_is_refused() {
    let tmp = TempDir::new("ext-bad");
    let inside = tmp.0.join("model");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(tmp.0.join("secret.bin"), [0u8; 16]).unwrap();
    std::fs::write(inside.join("short.bin"), [0u8; 8]).unwrap();
    let outside_abs = tmp.0.join("secret.bin");
    for (location, offset, length, what) in [
        ("../secret.bin", None, None, "leaves the model's folder"),
        (
            "sub/../../secret.bin",
            None,
            None,
            "leaves the model's folder",
        ),
        (
            outside_abs.to_str().unwrap(),
            None,
            None,
            "leaves the model's folder",
        ),
        ("", None, None, "no location"),
        ("missing.bin", None, None, "missing.bin"),
        ("short.bin", None, None, "run past the end"),
        ("short.bin", Some("4"), Some("16"), "run past the end"),
        (
            "short.bin",
            Some("18446744073709551615"),
            Some("16"),
            "overflows",
        ),
        ("short.bin", Some("-1"), None, "not a byte count"),
        ("short.bin", None, Some("12"), "does not match"),
        (".", None, None, "not a regular file"),
    ] {
        let p = write_model(&inside, &external_model(location, offset, length));
        let e = refuse_file(&p);
        assert!(matches!(e, Error::ExternalData { .. }), "{location}: {e}");
        assert!(e.to_string().contains(what), "{location}: {e}");
    }
    #[cfg(unix)]
    {
        // A symbolic link inside the folder that leads out of it.
        std::os::unix::fs::symlink(&outside_abs, inside.join("link.bin")).unwrap();
        let p = write_model(&inside, &external_model("link.bin", None, None));
        let e = refuse_file(&p);
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A link to a folder outside, then a file in it.
        std::os::unix::fs::symlink(&tmp.0, inside.join("up")).unwrap();
        let p = write_model(&inside, &external_model("up/secret.bin", None, None));
        let e = refuse_file(&p);
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}

#[test]
fn files_that_cannot_be_read() {
    let tmp = TempDir::new("io");
    let e = refuse_file(&tmp.0.join("absent.onnx"));
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let e = refuse_file(&tmp.0);
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

/// Parses `bytes` (valid or not) and checks it answers within two seconds.
fn quick(bytes: Vec<u8>, what: &str) {
    let t = Instant::now();
    let r = parse(bytes);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "{what}: {:?} ({:?})",
        t.elapsed(),
        r.err()
    );
}

#[test]
fn work_that_would_grow_faster_than_the_file() {
    // One node with 40,000 inputs and 40,000 outputs (a quadratic self-feeding check
    // would compare 1.6 billion pairs).
    let ins: Vec<String> = (0..40_000).map(|i| format!("i{i}")).collect();
    let outs: Vec<String> = (0..40_000).map(|i| format!("o{i}")).collect();
    let ins_ref: Vec<&str> = ins.iter().map(String::as_str).collect();
    let outs_ref: Vec<&str> = outs.iter().map(String::as_str).collect();
    let inputs: Vec<Pb> = ins.iter().map(|n| value_info(n, &[1])).collect();
    quick(
        model(&graph(
            &[node("Sum", "wide", &ins_ref, &outs_ref, &[])],
            &[],
            &inputs,
            &[],
        )),
        "a node with 40,000 inputs and outputs",
    );
    // 20,000 nodes each reading a 65,536-entry constant as a shape, as indices, as pads.
    let big = tensor_i64("c", &[65_536], &vec![1; 65_536]);
    for op in ["Reshape", "Gather", "Pad", "Expand", "Unsqueeze", "Slice"] {
        let nodes: Vec<Pb> = (0..20_000)
            .map(|i| {
                node(
                    op,
                    &format!("k{i}"),
                    &["x", "c", "c", "c"],
                    &[&format!("o{i}")],
                    &[],
                )
            })
            .collect();
        quick(
            model(&graph(
                &nodes,
                std::slice::from_ref(&big),
                &[value_info("x", &[4, 4])],
                &[],
            )),
            &format!("20,000 {op} nodes reading a large constant"),
        );
    }
    // 20,000 folds of a 65,536-entry constant.
    let nodes: Vec<Pb> = (0..20_000)
        .map(|i| node("Neg", &format!("k{i}"), &["c"], &[&format!("o{i}")], &[]))
        .collect();
    quick(
        model(&graph(&nodes, &[big], &[], &[])),
        "20,000 folds of a large constant",
    );
}

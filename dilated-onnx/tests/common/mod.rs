//! A small protobuf writer for hand-made ONNX models (valid and hostile) and the paths
//! of the committed fixtures. Shared by the integration tests; each uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's `fixtures/onnx` folder.
pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx")
}

/// One protobuf message being written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pb(pub(crate) Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn key(mut self, field: u64, wire: u64) -> Self {
        put_varint(&mut self.0, (field << 3) | wire);
        self
    }

    pub(crate) fn varint(self, field: u64, v: u64) -> Self {
        let mut s = self.key(field, 0);
        put_varint(&mut s.0, v);
        s
    }

    pub(crate) fn int(self, field: u64, v: i64) -> Self {
        self.varint(field, v as u64)
    }

    pub(crate) fn fixed32(self, field: u64, v: u32) -> Self {
        let mut s = self.key(field, 5);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }

    pub(crate) fn bytes(self, field: u64, b: &[u8]) -> Self {
        let mut s = self.key(field, 2);
        put_varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }

    /// A length prefix that claims `len` bytes, followed by what is actually there.
    pub(crate) fn lying_len(self, field: u64, len: u64, actual: &[u8]) -> Self {
        let mut s = self.key(field, 2);
        put_varint(&mut s.0, len);
        s.0.extend_from_slice(actual);
        s
    }

    pub(crate) fn string(self, field: u64, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    pub(crate) fn msg(self, field: u64, m: &Pb) -> Self {
        self.bytes(field, &m.0)
    }

    pub(crate) fn packed_i64(self, field: u64, v: &[i64]) -> Self {
        let mut p = Vec::new();
        for &x in v {
            put_varint(&mut p, x as u64);
        }
        self.bytes(field, &p)
    }

    pub(crate) fn packed_f32(self, field: u64, v: &[f32]) -> Self {
        let p: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.bytes(field, &p)
    }
}

/// `AttributeProto` with an int.
pub(crate) fn attr_int(name: &str, v: i64) -> Pb {
    Pb::new().string(1, name).varint(20, 2).int(3, v)
}

/// `AttributeProto` with ints.
pub(crate) fn attr_ints(name: &str, v: &[i64]) -> Pb {
    Pb::new().string(1, name).varint(20, 7).packed_i64(8, v)
}

/// `AttributeProto` with a string.
pub(crate) fn attr_str(name: &str, v: &str) -> Pb {
    Pb::new().string(1, name).varint(20, 3).string(4, v)
}

/// `AttributeProto` with a tensor.
pub(crate) fn attr_tensor(name: &str, t: &Pb) -> Pb {
    Pb::new().string(1, name).varint(20, 4).msg(5, t)
}

/// `AttributeProto` with a graph.
pub(crate) fn attr_graph(name: &str, g: &Pb) -> Pb {
    Pb::new().string(1, name).varint(20, 5).msg(6, g)
}

/// `NodeProto`.
pub(crate) fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: &[Pb]) -> Pb {
    let mut n = Pb::new();
    for i in inputs {
        n = n.string(1, i);
    }
    for o in outputs {
        n = n.string(2, o);
    }
    n = n.string(3, name).string(4, op);
    for a in attrs {
        n = n.msg(5, a);
    }
    n
}

/// `ValueInfoProto` of a float tensor (`dims`: fixed sizes; negative: a free dimension).
pub(crate) fn value_info(name: &str, dims: &[i64]) -> Pb {
    let mut shape = Pb::new();
    for &d in dims {
        let dim = if d >= 0 {
            Pb::new().int(1, d)
        } else {
            Pb::new().string(2, "n")
        };
        shape = shape.msg(1, &dim);
    }
    let tt = Pb::new().varint(1, 1).msg(2, &shape);
    let ty = Pb::new().msg(1, &tt);
    Pb::new().string(1, name).msg(2, &ty)
}

/// `TensorProto` of floats in `raw_data`.
pub(crate) fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> Pb {
    let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    Pb::new()
        .packed_i64(1, dims)
        .varint(2, 1)
        .string(8, name)
        .bytes(9, &raw)
}

/// `TensorProto` of int64 in `int64_data`.
pub(crate) fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> Pb {
    Pb::new()
        .packed_i64(1, dims)
        .varint(2, 7)
        .packed_i64(7, data)
        .string(8, name)
}

/// `GraphProto`.
pub(crate) fn graph(nodes: &[Pb], inits: &[Pb], inputs: &[Pb], outputs: &[Pb]) -> Pb {
    let mut g = Pb::new();
    for n in nodes {
        g = g.msg(1, n);
    }
    g = g.string(2, "g");
    for t in inits {
        g = g.msg(5, t);
    }
    for i in inputs {
        g = g.msg(11, i);
    }
    for o in outputs {
        g = g.msg(12, o);
    }
    g
}

/// `ModelProto` (IR 8, opset 18) around `graph`.
pub(crate) fn model(graph: &Pb) -> Vec<u8> {
    let opset = Pb::new().string(1, "").int(2, 18);
    Pb::new()
        .int(1, 8)
        .msg(8, &opset)
        .string(2, "test")
        .msg(7, graph)
        .0
}

/// A valid chain of `n` Relu nodes from `x` to `y` ([1, 1, 4, 4]), with short names.
pub(crate) fn relu_chain(n: usize) -> Vec<u8> {
    chain_with_names(n, "t", "r")
}

/// The same chain with names as the TorchScript exporter writes them
/// (`/blocks.12/act/Relu_output_0`).
pub(crate) fn relu_chain_exporter_names(n: usize) -> Vec<u8> {
    chain_with_names(n, "/blocks/act/Relu_output_", "/blocks/act/Relu_")
}

fn chain_with_names(n: usize, tensor: &str, node_name: &str) -> Vec<u8> {
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let a = if i == 0 {
            "x".to_string()
        } else {
            format!("{tensor}{}", i - 1)
        };
        let b = if i + 1 == n {
            "y".to_string()
        } else {
            format!("{tensor}{i}")
        };
        nodes.push(node("Relu", &format!("{node_name}{i}"), &[&a], &[&b], &[]));
    }
    model(&graph(
        &nodes,
        &[],
        &[value_info("x", &[1, 1, 4, 4])],
        &[value_info("y", &[1, 1, 4, 4])],
    ))
}

/// A one-conv model: `x` [1, 1, 8, 8] → Conv(3×3, `attrs`) → `y`.
pub(crate) fn one_conv(attrs: &[Pb]) -> Vec<u8> {
    let w = tensor_f32("w", &[1, 1, 3, 3], &[1.0; 9]);
    model(&graph(
        &[node("Conv", "conv", &["x", "w"], &["y"], attrs)],
        &[w],
        &[value_info("x", &[1, 1, 8, 8])],
        &[Pb::new().string(1, "y")],
    ))
}

//! A schema-aware pass over the protobuf wire format that runs before `prost` decodes
//! anything: it validates every key, length and varint (so the typed errors name a byte
//! offset), refuses protobuf groups, counts the graph's nodes against [`crate::MAX_NODES`],
//! and adds up what decoding would allocate, so a file that is small on disk but large in
//! memory (a million empty nodes cost two bytes each in the file and a few hundred bytes
//! each once decoded) is refused before any of it is allocated.
//!
//! It is one loop over the bytes with an explicit stack whose depth the schema bounds
//! (at most six messages deep); it never recurses.

use std::mem::size_of;

use bytes::Bytes;

use crate::Error;
use crate::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto,
};

/// The message types the schema knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Model,
    Opset,
    Graph,
    Node,
    Attribute,
    Tensor,
    Entry,
    ValueInfo,
    Type,
    TypeTensor,
    Shape,
    Dim,
}

impl Msg {
    const fn name(self) -> &'static str {
        match self {
            Self::Model => "ModelProto",
            Self::Opset => "OperatorSetIdProto",
            Self::Graph => "GraphProto",
            Self::Node => "NodeProto",
            Self::Attribute => "AttributeProto",
            Self::Tensor => "TensorProto",
            Self::Entry => "StringStringEntryProto",
            Self::ValueInfo => "ValueInfoProto",
            Self::Type => "TypeProto",
            Self::TypeTensor => "TypeProto.Tensor",
            Self::Shape => "TensorShapeProto",
            Self::Dim => "TensorShapeProto.Dimension",
        }
    }

    /// Bytes of the decoded struct.
    const fn size(self) -> u64 {
        (match self {
            Self::Model => size_of::<ModelProto>(),
            Self::Opset => size_of::<OperatorSetIdProto>(),
            Self::Graph => size_of::<GraphProto>(),
            Self::Node => size_of::<NodeProto>(),
            Self::Attribute => size_of::<AttributeProto>(),
            Self::Tensor => size_of::<TensorProto>(),
            Self::Entry => size_of::<StringStringEntryProto>(),
            Self::ValueInfo => size_of::<ValueInfoProto>(),
            Self::Type => size_of::<TypeProto>(),
            Self::TypeTensor => size_of::<TypeProtoTensor>(),
            Self::Shape => size_of::<TensorShapeProto>(),
            Self::Dim => size_of::<Dimension>(),
        }) as u64
    }
}

/// How a field is stored once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A nested message.
    Message(Msg),
    /// A `String` (copied out of the file).
    Str,
    /// A `bytes::Bytes` (a slice of the file's buffer: no copy).
    Bytes,
    /// A varint scalar decoded to `elem` bytes.
    Varint { elem: u64 },
    /// A 4-byte scalar.
    Fixed32,
    /// An 8-byte scalar.
    Fixed64,
}

/// A declared field: its kind and whether it repeats.
#[derive(Debug, Clone, Copy)]
struct Field {
    kind: Kind,
    repeated: bool,
}

const fn one(kind: Kind) -> Option<Field> {
    Some(Field {
        kind,
        repeated: false,
    })
}

const fn many(kind: Kind) -> Option<Field> {
    Some(Field {
        kind,
        repeated: true,
    })
}

/// The fields `proto.rs` declares, by message and number; `None` is skipped unread.
fn field(msg: Msg, number: u64) -> Option<Field> {
    use Kind::{Bytes, Fixed32, Fixed64, Message, Str, Varint};
    let i64v = Varint { elem: 8 };
    let i32v = Varint { elem: 4 };
    match (msg, number) {
        (Msg::Model, 1) => one(i64v),
        (Msg::Model, 8) => many(Message(Msg::Opset)),
        (Msg::Model, 2 | 3) => one(Str),
        (Msg::Model, 7) => one(Message(Msg::Graph)),
        (Msg::Model, 25) => many(Bytes),
        (Msg::Opset, 1) => one(Str),
        (Msg::Opset, 2) => one(i64v),
        (Msg::Graph, 1) => many(Message(Msg::Node)),
        (Msg::Graph, 2) => one(Str),
        (Msg::Graph, 5) => many(Message(Msg::Tensor)),
        (Msg::Graph, 15) => many(Bytes),
        (Msg::Graph, 11..=13) => many(Message(Msg::ValueInfo)),
        (Msg::Node, 1 | 2) => many(Str),
        (Msg::Node, 3 | 4 | 7) => one(Str),
        (Msg::Node, 5) => many(Message(Msg::Attribute)),
        (Msg::Attribute, 1 | 21) => one(Str),
        (Msg::Attribute, 20) => one(i32v),
        (Msg::Attribute, 2) => one(Fixed32),
        (Msg::Attribute, 3) => one(i64v),
        (Msg::Attribute, 4 | 6) => one(Bytes),
        (Msg::Attribute, 5) => one(Message(Msg::Tensor)),
        (Msg::Attribute, 7) => many(Fixed32),
        (Msg::Attribute, 8) => many(i64v),
        (Msg::Attribute, 9 | 11) => many(Bytes),
        (Msg::Attribute, 10) => many(Message(Msg::Tensor)),
        (Msg::Tensor, 1 | 7) => many(i64v),
        (Msg::Tensor, 2 | 14) => one(i32v),
        (Msg::Tensor, 4) => many(Fixed32),
        (Msg::Tensor, 5) => many(i32v),
        (Msg::Tensor, 6) => many(Bytes),
        (Msg::Tensor, 8) => one(Str),
        (Msg::Tensor, 9) => one(Bytes),
        (Msg::Tensor, 13) => many(Message(Msg::Entry)),
        (Msg::Tensor, 10) => many(Fixed64),
        (Msg::Tensor, 11) => many(i64v),
        (Msg::Entry, 1 | 2) => one(Str),
        (Msg::ValueInfo, 1) => one(Str),
        (Msg::ValueInfo, 2) => one(Message(Msg::Type)),
        (Msg::Type, 1) => one(Message(Msg::TypeTensor)),
        (Msg::TypeTensor, 1) => one(i32v),
        (Msg::TypeTensor, 2) => one(Message(Msg::Shape)),
        (Msg::Shape, 1) => many(Message(Msg::Dim)),
        (Msg::Dim, 1) => one(i64v),
        (Msg::Dim, 2) => one(Str),
        _ => None,
    }
}

/// What the scan found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Census {
    /// Bytes reading will allocate, estimated from above: the decoded messages (every
    /// repeated field counted at twice its length, the most a growing `Vec`
    /// over-allocates) plus the graph IR built from them (the `*_IR_BYTES` costs).
    pub(crate) decoded_bytes: u64,
    /// Nodes of the main graph (`ModelProto.graph.node`).
    pub(crate) nodes: u64,
}

/// IR bytes per node: the [`crate::Node`], its place in the topological sort, the
/// per-node tables of the builder — plus [`NODE_ANALYSIS_BYTES`], so that the bound
/// covers what `dilated check` does with the graph after reading it.
const NODE_IR_BYTES: u64 = 320 + NODE_ANALYSIS_BYTES;
/// Bytes per node of the coverage analysis run on the read graph (`crate::analysis`: the
/// schedule graph's node, its per-axis bounds and label, the maps back to the IR, the
/// analysis's per-node tables). Measured: the check of a 60,000-node chain adds about
/// 440 bytes of resident memory per node to the reading's peak.
const NODE_ANALYSIS_BYTES: u64 = 512;
/// IR bytes per node output: a [`crate::Value`] with a shape of rank 4, its entry in the
/// name table, its slots in the builder's tables.
const OUTPUT_IR_BYTES: u64 = 400;
/// IR bytes per node input: its slot in the node and in the builder's tables, its edge.
const INPUT_IR_BYTES: u64 = 32;
/// IR bytes per initializer, graph input or output, value info: a value and its name.
const ENTRY_IR_BYTES: u64 = 320;

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_START_GROUP: u64 = 3;
const WIRE_END_GROUP: u64 = 4;
const WIRE_FIXED32: u64 = 5;

/// Reads a varint at `*pos`, which must end before `end` (the enclosing message's end)
/// and before the end of `buf`.
fn varint(buf: &[u8], pos: &mut usize, end: usize, what: &'static str) -> Result<u64, Error> {
    let start = *pos;
    let mut value = 0u64;
    for i in 0..10 {
        let p = start + i;
        if p >= buf.len() {
            return Err(Error::Truncated {
                what,
                offset: start as u64,
                len: buf.len() as u64,
            });
        }
        if p >= end {
            return Err(Error::Malformed {
                offset: start as u64,
                reason: format!("{what} crosses the end of its message"),
            });
        }
        let b = buf[p];
        if i == 9 && b > 1 {
            return Err(Error::Malformed {
                offset: start as u64,
                reason: format!("{what} overflows 64 bits"),
            });
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos = p + 1;
            return Ok(value);
        }
    }
    Err(Error::Malformed {
        offset: start as u64,
        reason: format!("{what} is longer than 10 bytes"),
    })
}

/// Skips `n` bytes of a fixed-size value.
fn fixed(buf: &[u8], pos: &mut usize, end: usize, n: usize) -> Result<(), Error> {
    let start = *pos;
    let stop = start.saturating_add(n);
    if stop > buf.len() {
        return Err(Error::Truncated {
            what: "a fixed-size value",
            offset: start as u64,
            len: buf.len() as u64,
        });
    }
    if stop > end {
        return Err(Error::Malformed {
            offset: start as u64,
            reason: "a fixed-size value crosses the end of its message".into(),
        });
    }
    *pos = stop;
    Ok(())
}

fn wire_name(wire: u64) -> &'static str {
    match wire {
        WIRE_VARINT => "varint",
        WIRE_FIXED64 => "64-bit",
        WIRE_LEN => "length-delimited",
        WIRE_FIXED32 => "32-bit",
        _ => "invalid",
    }
}

/// Scans `buf` as a `ModelProto`. `budget` bounds [`Census::decoded_bytes`]; `max_nodes`
/// bounds [`Census::nodes`]. Stops at the first error.
pub(crate) fn scan(buf: &Bytes, budget: u64, max_nodes: u64) -> Result<Census, Error> {
    scan_as(buf, Msg::Model, budget, max_nodes)
}

/// Scans `buf` as one `TensorProto`.
pub(crate) fn scan_tensor(buf: &Bytes, budget: u64) -> Result<Census, Error> {
    scan_as(buf, Msg::Tensor, budget, 0)
}

fn scan_as(buf: &Bytes, root: Msg, budget: u64, max_nodes: u64) -> Result<Census, Error> {
    let buf: &[u8] = buf;
    let mut census = Census {
        decoded_bytes: root.size(),
        ..Census::default()
    };
    // (message, end offset, whether it is the main graph or one of its nodes)
    let mut stack: Vec<(Msg, usize, bool)> = Vec::with_capacity(8);
    stack.push((root, buf.len(), false));
    let mut pos = 0usize;
    while let Some(&(msg, end, main_graph)) = stack.last() {
        if pos == end {
            stack.pop();
            continue;
        }
        let key_at = pos;
        let key = varint(buf, &mut pos, end, "a field key")?;
        let wire = key & 7;
        let number = key >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(Error::Malformed {
                offset: key_at as u64,
                reason: format!("field number {number} is out of range"),
            });
        }
        // Read the payload's extent first (this validates it whether or not the field is
        // declared).
        let mut len_payload: Option<(usize, usize)> = None;
        match wire {
            WIRE_VARINT => {
                varint(buf, &mut pos, end, "a varint")?;
            }
            WIRE_FIXED64 => fixed(buf, &mut pos, end, 8)?,
            WIRE_FIXED32 => fixed(buf, &mut pos, end, 4)?,
            WIRE_LEN => {
                let len_at = pos;
                let len = varint(buf, &mut pos, end, "a length")?;
                let room = (end - pos) as u64;
                if len > room {
                    let at_file_end = end == buf.len();
                    return Err(Error::LengthPastEnd {
                        offset: len_at as u64,
                        length: len,
                        end: end as u64,
                        within: if at_file_end && stack.len() == 1 {
                            "file"
                        } else {
                            msg.name()
                        },
                    });
                }
                // `len ≤ end − pos`, so it fits in usize.
                let len = len as usize;
                len_payload = Some((pos, pos + len));
                pos += len;
            }
            WIRE_START_GROUP | WIRE_END_GROUP => {
                return Err(Error::Malformed {
                    offset: key_at as u64,
                    reason: "protobuf groups (wire types 3 and 4) are not part of ONNX".into(),
                });
            }
            _ => {
                return Err(Error::Malformed {
                    offset: key_at as u64,
                    reason: format!("wire type {wire} does not exist"),
                });
            }
        }
        let Some(f) = field(msg, number) else {
            continue;
        };
        let mismatch = |expected: &str| Error::Malformed {
            offset: key_at as u64,
            reason: format!(
                "field {number} of {} is {}, expected {expected}",
                msg.name(),
                wire_name(wire)
            ),
        };
        let slack = if f.repeated { 2 } else { 1 };
        let cost: u64 = match f.kind {
            Kind::Message(inner) => {
                let Some((start, stop)) = len_payload else {
                    return Err(mismatch("a message"));
                };
                if msg == Msg::Graph && number == 1 && main_graph {
                    census.nodes += 1;
                    if census.nodes > max_nodes {
                        return Err(Error::Limit {
                            what: "the number of nodes",
                            actual: census.nodes,
                            limit: max_nodes,
                        });
                    }
                }
                let ir = match (msg, inner) {
                    (Msg::Graph, Msg::Node) if main_graph => NODE_IR_BYTES,
                    (Msg::Graph, Msg::Tensor | Msg::ValueInfo) if main_graph => ENTRY_IR_BYTES,
                    _ => 0,
                };
                let main = inner == Msg::Graph && msg == Msg::Model;
                // Nodes of the main graph, to tell their inputs and outputs.
                let main_node = inner == Msg::Node && main_graph;
                pos = start;
                stack.push((inner, stop, main || main_node));
                // The builder shrinks the node list to its length before the IR exists,
                // and the IR of a node outweighs the list's growth slack: one size.
                let slack = if main_node { 1 } else { slack };
                slack * inner.size() + ir
            }
            Kind::Str => {
                let Some((start, stop)) = len_payload else {
                    return Err(mismatch("a string"));
                };
                let own = if f.repeated {
                    2 * size_of::<String>() as u64
                } else {
                    0
                };
                let len = (stop - start) as u64;
                let ir = match (msg, number) {
                    // A node's output: a value, and a copy of its name in the name table.
                    (Msg::Node, 2) if main_graph => OUTPUT_IR_BYTES + len,
                    (Msg::Node, 1) if main_graph => INPUT_IR_BYTES,
                    _ => 0,
                };
                own + len + ir
            }
            Kind::Bytes => {
                if len_payload.is_none() {
                    return Err(mismatch("bytes"));
                }
                if f.repeated {
                    2 * size_of::<Bytes>() as u64
                } else {
                    0
                }
            }
            Kind::Varint { elem } => match (wire, len_payload) {
                (WIRE_VARINT, _) => slack * elem,
                (WIRE_LEN, Some((start, stop))) if f.repeated => {
                    let payload = &buf[start..stop];
                    if payload.last().is_some_and(|&b| b >= 0x80) {
                        return Err(Error::Malformed {
                            offset: start as u64,
                            reason: "a packed varint list ends inside a varint".into(),
                        });
                    }
                    let count = payload.iter().filter(|&&b| b < 0x80).count() as u64;
                    2 * count * elem
                }
                _ => return Err(mismatch("a varint")),
            },
            Kind::Fixed32 | Kind::Fixed64 => {
                let (w, size) = if f.kind == Kind::Fixed32 {
                    (WIRE_FIXED32, 4)
                } else {
                    (WIRE_FIXED64, 8)
                };
                match len_payload {
                    None if wire == w => slack * size,
                    Some((start, stop)) if f.repeated => {
                        let n = (stop - start) as u64;
                        if !n.is_multiple_of(size) {
                            return Err(Error::Malformed {
                                offset: start as u64,
                                reason: format!(
                                    "a packed list of {size}-byte values is {n} bytes long"
                                ),
                            });
                        }
                        2 * n
                    }
                    _ => {
                        return Err(mismatch(if size == 4 { "32-bit" } else { "64-bit" }));
                    }
                }
            }
        };
        census.decoded_bytes = census.decoded_bytes.saturating_add(cost);
        if census.decoded_bytes > budget {
            return Err(Error::Limit {
                what: "the memory reading would take (bytes, estimated before decoding)",
                actual: census.decoded_bytes,
                limit: budget,
            });
        }
    }
    Ok(census)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with_nodes(n: usize) -> Bytes {
        // ModelProto.graph = GraphProto { node: n × NodeProto { op_type: "Relu" } }.
        let node = [0x0a, 0x06, 0x22, 0x04, b'R', b'e', b'l', b'u'];
        let mut graph = Vec::new();
        for _ in 0..n {
            graph.extend_from_slice(&node);
        }
        let mut out = vec![0x3a];
        let mut len = graph.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(&graph);
        Bytes::from(out)
    }

    #[test]
    fn counts_nodes_against_the_limit() {
        let buf = model_with_nodes(11);
        assert_eq!(scan(&buf, u64::MAX, 11).unwrap().nodes, 11);
        let e = scan(&buf, u64::MAX, 10).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Limit {
                    actual: 11,
                    limit: 10,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn estimates_before_decoding() {
        let buf = model_with_nodes(1000);
        let c = scan(&buf, u64::MAX, u64::MAX).unwrap();
        // Each node: the struct, its op_type, and its IR.
        let per_node = Msg::Node.size() + 4 + NODE_IR_BYTES;
        assert!(c.decoded_bytes >= 1000 * per_node, "{}", c.decoded_bytes);
        let e = scan(&buf, 1000 * per_node / 2, u64::MAX).unwrap_err();
        assert!(matches!(e, Error::Limit { .. }), "{e}");
    }

    #[test]
    fn a_packed_list_must_end_on_a_value() {
        // TensorProto.dims packed: one byte with the continuation bit set.
        let buf = Bytes::from_static(&[0x0a, 0x01, 0x80]);
        let e = scan_tensor(&buf, u64::MAX).unwrap_err();
        assert!(matches!(e, Error::Malformed { .. }), "{e}");
        // TensorProto.float_data packed: 5 bytes.
        let buf = Bytes::from_static(&[0x22, 0x05, 0, 0, 0, 0, 0]);
        let e = scan_tensor(&buf, u64::MAX).unwrap_err();
        assert!(matches!(e, Error::Malformed { .. }), "{e}");
    }
}

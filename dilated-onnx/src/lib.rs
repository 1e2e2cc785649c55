//! A bounded ONNX reader for `dilated`: it turns a `.onnx` file into a checked graph IR
//! ([`Graph`]) in which every node says how it moves positions on the spatial axes (a
//! convolution's kernel, dilations, strides and pads; a resize's scale; a merge, a
//! concatenation, a global pool, a classifier head, …), so that the receptive field and
//! the holes of any path from the input to an output can be computed. With the default
//! `runtime` feature, [`runtime`] turns a model's convolutions into `dilated-core` layers.
//!
//! ```no_run
//! let model = dilated_onnx::read("model.onnx")?;
//! let g = &model.graph;
//! for node in g.nodes() {
//!     if let Some(w) = node.kind.window() {
//!         println!("{} {}: kernel {:?}, dilations {:?}", node.label(), node.op_type, w.kernel, w.dilations);
//!     }
//!     for h in &node.hazards {
//!         println!("{}: {h}", node.label());
//!     }
//! }
//! # Ok::<(), dilated_onnx::Error>(())
//! ```
//!
//! # Files from strangers
//!
//! Whatever a file holds, reading it ends in a [`Model`] or in one [`Error`] (one line),
//! never a panic, within bounded memory and time:
//!
//! - **Memory.** Reading takes at most [`MEMORY_PER_FILE_BYTE`] × the file's size +
//!   [`MEMORY_FIXED_BYTES`] (4 × + 64 MiB). Before anything is decoded, a scan of the
//!   protobuf wire format checks every key, length and varint and adds up, from above,
//!   what decoding and the IR will allocate (a two-byte empty node costs hundreds of
//!   bytes once read): over the bound less the file's own buffer and 16 MiB kept for
//!   folding, the file is refused before any of it is allocated. Byte fields (`raw_data`)
//!   are slices of the file's buffer, not copies; `ConstantOfShape` weights stay splats
//!   (one value and a shape) and are expanded only on request, up to
//!   [`MAX_SPLAT_ELEMENTS`]; folded constants hold at most [`MAX_FOLD_ELEMENTS`] elements
//!   each and [`MAX_FOLD_TOTAL`] together. The test suite measures the peak with a
//!   counting allocator on the largest hostile files, on graphs as large as the bound
//!   admits and on real models.
//! - **Time.** Every pass is linear in the file (the scan, `prost`'s decoder, name
//!   resolution through hash maps, Kahn's topological sort, one inference pass); constant
//!   inputs read as shapes, axes or pads are read only up to 64 entries, and everything
//!   the folder reads or makes is charged to [`MAX_FOLD_TOTAL`]. A hostile file is refused
//!   in milliseconds; a valid graph of 50,000 nodes takes a few hundred.
//! - **No recursion a file can drive.** The scan keeps an explicit stack whose depth the
//!   schema bounds (six messages); `prost` recurses only along the declared schema, which
//!   has no recursive message; nested graphs (`If`, `Loop`, `Scan`) are read as opaque
//!   bytes and refused ([`Error::Subgraph`]); the topological sort and the cycle search
//!   are loops. A chain of 10,000 nodes is read like any other graph; so is one of
//!   [`MAX_NODES`] when the memory bound admits it.
//! - **Sizes.** [`MAX_FILE_BYTES`], [`MAX_NODES`], [`MAX_RANK`] dimensions per tensor,
//!   [`MAX_ELEMENTS`] elements per tensor (the product of the dimensions is checked; an
//!   overflow is an error), and initializer data must be held by the file: a tensor whose
//!   dimensions call for more bytes than it carries is an error.
//! - **Paths.** External data (`data_location = EXTERNAL`) is resolved only inside the
//!   model's folder: absolute paths and `..` are refused, the path is canonicalised and a
//!   symbolic link leading outside is refused; the file is read only when a caller asks
//!   for the tensor's values. A model read from memory ([`parse`]) has no folder, so its
//!   external references are refused. The reader never writes a file and never touches the
//!   network.
//!
//! # Decoding: why `prost`
//!
//! Three ways to decode ONNX from Rust were weighed:
//!
//! - **`onnx-protobuf`** (rust-protobuf 3 generated code for all of `onnx.proto`): no
//!   build step, but MPL-2.0 (this workspace is MIT OR Apache-2.0), a 4,000-line generated
//!   module, and no way to bound what decoding allocates before it does.
//! - **`onnx-ir`** (Burn's ONNX importer): a full IR of its own, but it brings
//!   `burn-tensor`, `protobuf-codegen` run by a build script, `regex`, `memmap2`, …: a
//!   heavy build for a reader, and again no hook before allocation.
//! - **`prost`** with the message structs written by hand (`proto.rs`, `#[derive(prost::Message)]`,
//!   field numbers from the official `onnx.proto`): two small crates (`prost`, `bytes`,
//!   and the derive macro), no `protoc` and no build script, only the fields the analysis
//!   reads are declared (every other field is skipped unstored), `bytes::Bytes` fields are
//!   zero-copy slices of the file, nested graphs are declared as opaque bytes so the
//!   decoder never descends into them, and its recursion limit stays on. The wire scan in
//!   front of it gives the memory bound.
//!
//! `prost` was chosen. This crate is a dependency of the command-line tool, never of the
//! proc macro: `dilated-macros` does not see it.
//!
//! # The IR
//!
//! See [`graph`] for the contract: [`Graph::nodes`] in topological order, [`Value`]s with
//! inferred shapes and constants, [`NodeKind`] per node, [`Hazard`]s.

#[cfg(feature = "analysis")]
pub mod analysis;
pub mod error;
pub mod graph;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod tensor;

mod attrs;
mod build;
mod fold;
mod infer;
mod proto;
mod scan;

use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use prost::Message;

pub use error::{Error, Name};
pub use graph::{
    AutoPad, Crop, Dim, Global, Graph, Hazard, Head, Merge, Node, NodeId, NodeKind, Pad, PadMode,
    Pointwise, PoolKind, Resize, ResizeMode, Shape, Source, Value, ValueId, Window,
};
pub use tensor::{DataType, External, Scalar, Tensor};

/// Largest file read: 2 GiB, protobuf's own limit for one message.
pub const MAX_FILE_BYTES: u64 = 1 << 31;

/// Most nodes in a graph: 100,000. Convolutional networks hold a few thousand nodes at
/// most (DenseNet-121: 1,746 in the ONNX test data), exported transformer language models
/// tens of thousands; a graph of 100,000 nodes is read in well under a second.
///
/// The memory bound usually binds first: a node takes 700 to 900 bytes once read
/// (decoded message, IR node, value, name tables) and about 500 more in the coverage
/// analysis `dilated check` runs on it (the bound covers both), so a file that holds the
/// graph without its weights (external data) is refused, before anything is decoded, past
/// about 35,000 nodes. Files that carry their weights have room for [`MAX_NODES`].
pub const MAX_NODES: u64 = 100_000;

/// Most dimensions of one tensor: 32 (NumPy's historical limit; networks use up to 6).
pub const MAX_RANK: usize = 32;

/// Most elements of one tensor: 2^40 (4 TiB of `f32`, more than any machine holds; sizes
/// below it multiply without overflowing `u64` in every formula here).
pub const MAX_ELEMENTS: u64 = 1 << 40;

/// Most elements of one folded constant (shape chains hold a handful; weights are not
/// folded, `ConstantOfShape` splats are kept as one value).
pub const MAX_FOLD_ELEMENTS: u64 = 1 << 16;

/// Most elements all folded constants of a graph hold together (and all constants read
/// to fold them or to read shapes, scales and pads): 2^19, about 12 MiB.
pub const MAX_FOLD_TOTAL: u64 = 1 << 19;

/// Most elements a splat (`ConstantOfShape` weight) is expanded to on request
/// ([`Tensor::to_f32`]): 2^24, 64 MiB of `f32` (VGG-19's largest convolution holds
/// 2.4 million weights).
pub const MAX_SPLAT_ELEMENTS: u64 = 1 << 24;

/// Memory bound of reading a model, per byte of the file.
pub const MEMORY_PER_FILE_BYTE: u64 = 4;

/// Memory bound of reading a model, fixed part: 64 MiB.
pub const MEMORY_FIXED_BYTES: u64 = 64 << 20;

/// What the decoded messages and the IR may take (estimated by the scan before anything is
/// decoded): the bound less the file's own buffer and 16 MiB kept for the folded
/// constants ([`MAX_FOLD_TOTAL`] elements).
const fn decode_budget(file_len: u64) -> u64 {
    (MEMORY_PER_FILE_BYTE - 1) * file_len + MEMORY_FIXED_BYTES - (16 << 20)
}

/// An operator set the model imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opset {
    /// Its domain (`""` for the standard operators).
    pub domain: String,
    /// Its version.
    pub version: i64,
}

/// A model: its header and its graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The IR version of the file format.
    pub ir_version: i64,
    /// Imported operator sets.
    pub opsets: Vec<Opset>,
    /// `producer_name producer_version`.
    pub producer: String,
    /// Number of local functions the model defines (nodes calling them are
    /// [`NodeKind::Unknown`]).
    pub local_functions: usize,
    /// The graph.
    pub graph: Graph,
}

/// Reads a model file. External data is resolved inside the file's folder.
pub fn read(path: impl AsRef<Path>) -> Result<Model, Error> {
    let path = path.as_ref();
    let io = |e: std::io::Error| Error::Io {
        path: Name(path.display().to_string()),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(Error::Limit {
            what: "the file's size (bytes)",
            actual: len,
            limit: MAX_FILE_BYTES,
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    // `take`: a file that grows while it is read stops at the limit.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Limit {
            what: "the file's size (bytes)",
            actual: buf.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    let dir = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    decode(Bytes::from(buf), dir)
}

/// Parses a model held in memory. External data is refused (there is no folder to read
/// it from).
pub fn parse(bytes: impl Into<Bytes>) -> Result<Model, Error> {
    let bytes = bytes.into();
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Limit {
            what: "the model's size (bytes)",
            actual: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    decode(bytes, None)
}

fn decode(bytes: Bytes, dir: Option<&Path>) -> Result<Model, Error> {
    if bytes.is_empty() {
        return Err(Error::Malformed {
            offset: 0,
            reason: "the file is empty".into(),
        });
    }
    scan::scan(&bytes, decode_budget(bytes.len() as u64), MAX_NODES)?;
    let proto = proto::ModelProto::decode(bytes).map_err(|e| Error::Decode {
        reason: e.to_string(),
    })?;
    build::build(proto, dir)
}

/// Reads one serialized `TensorProto` (the `input_0.pb` / `output_0.pb` files of the ONNX
/// backend tests), under the same scan and limits as a model. External data is refused.
pub fn parse_tensor(bytes: impl Into<Bytes>) -> Result<Tensor, Error> {
    let bytes = bytes.into();
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Limit {
            what: "the tensor's size (bytes)",
            actual: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    scan::scan_tensor(&bytes, decode_budget(bytes.len() as u64))?;
    let t = proto::TensorProto::decode(bytes).map_err(|e| Error::Decode {
        reason: e.to_string(),
    })?;
    Tensor::from_proto(t, None)
}

//! The reader's error type: one variant per class of bad file, each a single line.

use std::fmt;

/// A name read from a model file (a node, a tensor, an attribute), kept as it is and
/// displayed quoted, escaped (a name holding a line break stays on one line) and cut at
/// [`Name::DISPLAY_CHARS`] characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(pub String);

impl Name {
    /// Characters of a name shown in an error message; longer names end in `…`.
    pub const DISPLAY_CHARS: usize = 120;

    /// The name as the file spells it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for (i, c) in self.0.chars().enumerate() {
            if i == Self::DISPLAY_CHARS {
                return f.write_str("…\"");
            }
            for e in c.escape_debug() {
                f.write_fmt(format_args!("{e}"))?;
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything that can go wrong reading, checking or converting a model. Every message is
/// one line; nothing in this crate panics on a bad file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file (or an external-data file) could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path, as given.
        path: Name,
        /// The operating system's message.
        message: String,
    },
    /// A size over one of the crate's limits (see the crate root).
    #[error("{what} is {actual}, over the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// Its value.
        actual: u64,
        /// The limit.
        limit: u64,
    },
    /// The file ends inside a field.
    #[error("truncated file: {what} at byte {offset} runs past the end of the file ({len} bytes)")]
    Truncated {
        /// What was being read (a field key, a varint, a fixed-size value).
        what: &'static str,
        /// Byte offset where it starts.
        offset: u64,
        /// Length of the file.
        len: u64,
    },
    /// A length prefix points past the end of the message (or file) that holds it.
    #[error(
        "malformed file: a length of {length} bytes at byte {offset} runs past the end of its {within} (byte {end})"
    )]
    LengthPastEnd {
        /// Byte offset of the length prefix.
        offset: u64,
        /// The length it claims.
        length: u64,
        /// Where the enclosing message (or the file) ends.
        end: u64,
        /// "file" or the enclosing message's type.
        within: &'static str,
    },
    /// Bytes that are not the protobuf encoding of an ONNX model.
    #[error("malformed file at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the offending field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The protobuf decoder refused the bytes (after the scan accepted their structure:
    /// e.g. a name that is not UTF-8).
    #[error("malformed file: {reason}")]
    Decode {
        /// The decoder's message.
        reason: String,
    },
    /// The model holds no graph.
    #[error("the model has no graph")]
    NoGraph,
    /// The model imports no operator set (required since IR version 3; a file cut at a
    /// field boundary before its `opset_import` reads this way).
    #[error("the model imports no operator set (opset_import is empty)")]
    NoOpset,
    /// A node carries a nested graph (If, Loop, Scan, or any GRAPH attribute).
    #[error(
        "node {node} ({op}): attribute {attribute} holds a nested graph; subgraphs (If, Loop, Scan) are not supported"
    )]
    Subgraph {
        /// The node.
        node: Name,
        /// Its operator.
        op: Name,
        /// The attribute holding the graph.
        attribute: Name,
    },
    /// The graph has a cycle.
    #[error("the graph has a cycle of {length} nodes through node {node}")]
    Cycle {
        /// A node on the cycle.
        node: Name,
        /// Number of nodes on the cycle.
        length: usize,
    },
    /// A node reads a tensor it writes itself.
    #[error("node {node} feeds itself: it reads tensor {tensor}, which it writes")]
    SelfLoop {
        /// The node.
        node: Name,
        /// The tensor.
        tensor: Name,
    },
    /// Two definitions of one tensor name.
    #[error("tensor {tensor} is defined twice: {first}, then {second}")]
    Duplicate {
        /// The tensor name.
        tensor: Name,
        /// The first definition (e.g. "an initializer", "node \"conv1\"").
        first: String,
        /// The second.
        second: String,
    },
    /// A node reads a tensor nothing defines.
    #[error("node {node} reads tensor {tensor}, which no node, input or initializer defines")]
    MissingInput {
        /// The node.
        node: Name,
        /// The tensor.
        tensor: Name,
    },
    /// A graph output nothing defines.
    #[error("graph output {tensor} is not defined by any node, input or initializer")]
    MissingOutput {
        /// The tensor.
        tensor: Name,
    },
    /// A tensor whose description or data is inconsistent.
    #[error("tensor {tensor}: {reason}")]
    Tensor {
        /// The tensor.
        tensor: Name,
        /// What is wrong.
        reason: String,
    },
    /// An external-data reference that is refused or cannot be resolved.
    #[error("external data of tensor {tensor}: {reason}")]
    ExternalData {
        /// The tensor.
        tensor: Name,
        /// Why it is refused.
        reason: String,
    },
    /// A node whose attributes or inputs are invalid for its operator.
    #[error("node {node} ({op}): {reason}")]
    Node {
        /// The node.
        node: Name,
        /// Its operator.
        op: Name,
        /// What is wrong.
        reason: String,
    },
    /// A feature of the format this reader does not handle.
    #[error("{what} is not supported")]
    Unsupported {
        /// What.
        what: String,
    },
    /// The runtime refused a converted layer (see [`crate::runtime`]).
    #[cfg(feature = "runtime")]
    #[error("runtime: {0}")]
    Runtime(#[from] dilated_core::Error),
}

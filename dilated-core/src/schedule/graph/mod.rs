//! Coverage over a graph of blocks: residual adds, parallel branches joined by sum or
//! concat, skip sums, local and global pools, upsampling, and the field the input's
//! features already see. The chain analysis of [`analyze`](fn@super::analyze), generalised:
//! the count of an input offset is the number of paths from one output position to it.
//!
//! | question | API |
//! |---|---|
//! | build a graph node by node (ids are a topological order) | [`Graph`]: [`input`](Graph::input), [`conv`](Graph::conv), [`pool`](Graph::pool), [`global_pool`](Graph::global_pool), [`pointwise`](Graph::pointwise), [`sum`](Graph::sum), [`concat`](Graph::concat), [`resize`](Graph::resize) |
//! | a chain as a graph | [`Graph::from_chain`] |
//! | holes, receptive field, jump, the node that opens the holes, HDC per chain | [`Graph::analyze`] → [`GraphReport`] |
//! | exact counts per output phase, in any [`Count`](super::Count) | [`Graph::coverage`] → [`GraphCoverage`] |
//!
//! ```
//! use dilated_core::schedule::graph::{Graph, GraphOptions, InputField, Method};
//! use dilated_core::schedule::{AxisSpec, Spec2d};
//!
//! // DeepLab v3's ASPP head: a 1×1 branch, 3×3 branches at rates 6, 12, 18, image pooling.
//! let aspp = |field: Option<&[InputField]>| {
//!     let mut g = Graph::two_d();
//!     let x = g.input(field).unwrap();
//!     let mut branches = vec![g.conv(x, &[AxisSpec::new(1, 1); 2]).unwrap()];
//!     for rate in [6, 12, 18] {
//!         let s = Spec2d::square(3, rate);
//!         branches.push(g.conv(x, &[s.height, s.width]).unwrap());
//!     }
//!     let pooled = g.global_pool(x).unwrap();
//!     branches.push(g.conv(pooled, &[AxisSpec::new(1, 1); 2]).unwrap());
//!     let cat = g.concat(&branches).unwrap();
//!     g.conv(cat, &[AxisSpec::new(1, 1); 2]).unwrap();
//!     g.analyze(&GraphOptions::default()).unwrap()
//! };
//!
//! // On raw pixels the lattices leave holes; the image pooling fills none of them.
//! let raw = aspp(None);
//! let out = &raw.outputs[0];
//! assert!(out.hole_count > 0 && out.global && raw.is_error());
//! assert_eq!(out.axes[0].receptive_field, 37);
//!
//! // On ResNet-101 features at output stride 16 (971 px seen, 16 px apart): no holes.
//! let f = InputField::new(971, 16);
//! let features = aspp(Some(&[f, f]));
//! let out = &features.outputs[0];
//! assert_eq!((out.hole_count, out.axes[0].receptive_field), (0, 971 + 2 * 18 * 16));
//! assert_eq!(out.method, Method::OuterProduct); // too big for a dense map: exact sets
//! assert!(!features.is_error());
//! ```
//!
//! # Positions and offsets
//!
//! Every node has positions along each axis. Without upsampling, position `q` of a node
//! sees the input pixels `q·jump + o` for the offsets `o` of its coverage map; a conv's tap
//! `t` reads its input's position `q·s − p_lo + t·d` with the **real** padding `p_lo` of
//! its [`PadMode`](super::PadMode), so branches padded differently line up as they do at
//! run time (offsets are *not* centred as in the chain analysis; holes, counts and the
//! receptive field do not depend on the shift). A sum or concat adds its branches at the
//! same position. An upsampling by `f` makes the jump a fraction ([`Jump`]) and the map
//! depend on the position's *phase*: position `q = m·P + r` (`P` phases) sees pixels
//! `m·(P·jump) + o` for the offsets of phase `r`'s map. Every phase is analysed; a report
//! gives the widest receptive field and the phase with the most holes. Borders are not
//! modelled (positions are on an infinite grid).
//!
//! # What counts
//!
//! - The input: one pixel, or with an [`InputField`] a box of `receptive_field` pixels
//!   (starting `(rf − 1)/2` before the position's anchor) at the features' `jump`.
//! - conv and local pool: every tap of the window reads (a pool counts as a kernel).
//! - [`pointwise`](Graph::pointwise): activations, batch norm, dropout, a gate's halves,
//!   a channel slice pass the coverage unchanged (a gated conv counts as its conv).
//! - sum and concat: the next layer reads every branch, so counts add. Branches must have
//!   the same jump ([`GraphError::JumpMismatch`] otherwise).
//! - a global pool gives every position the same value: no local information. A path
//!   through it is *global context*: reported ([`OutputReport::global`]) and never counted
//!   when holes are judged. A node whose only paths are global has an empty map and no
//!   jump (it broadcasts to any).
//!
//! A hole is an offset (1D) or a cell of the 2D map (2D) inside the receptive field (the
//! bounding box of what is read) that no path reaches, in some phase.
//!
//! # How the verdict is computed
//!
//! Every op acts on each axis separately, so a node's 2D support is a union of products
//! of per-axis sets. When the widest map of every node needed fits the dense limit
//! ([`GraphOptions::dense_cells`]: [`MAX_GRAPH_MAP_CELLS`] cells in 2D,
//! [`MAX_COVERAGE_RF`](super::MAX_COVERAGE_RF) offsets in 1D) and the work fits
//! [`MAX_GRAPH_WORK`], the maps are computed densely with exact counts ([`Method::Dense`]).
//! Otherwise the verdict comes from the exact gap test on the union of products (each
//! per-axis set a bit set; terms that another contains are dropped, terms equal on one
//! axis are merged): one product is an outer product ([`Method::OuterProduct`], the fast
//! path of chains and of every hole-free residual block whose body contains the identity's
//! tap); several are swept row by row, rows grouped by the terms that contain them
//! ([`Method::GapTest`]). Neither path samples: both are exact. Without a dense map the
//! report has no counts ([`GraphCoverageStatus::OverLimit`]); a picture can then only draw
//! the support.
//!
//! # Chains and HDC
//!
//! A *chain* is the sequence of dilated convs a path runs through, as HDC's rules mean it
//! (see [`ChainReport`]): convs with a kernel above 1 on some axis are its layers; 1×1
//! convs (stride 1) and pointwise ops are transparent; a local or global pool, an
//! upsampling and a strided 1×1 conv end it; a sum or concat continues the chain of its
//! deepest branch when every other branch's chain is a prefix of it (a residual block: the
//! identity or a projection beside the body, so the chain of DUC-HDC's bottlenecks is the
//! *trunk* through every body: rates 2, 2, 5, 9), and ends it when branches add convs of
//! their own side by side (ASPP, ESPNet). Each maximal chain of two layers or more is
//! checked with HDC rules 1–3 ([`hdc`](fn@super::hdc)), with the same [`CheckId`](super::CheckId)s,
//! levels and words as [`analyze`](fn@super::analyze). A lone dilated conv (an ASPP branch) is
//! judged by the hole check alone. The rules' words speak of the chain by itself (rule 3's
//! "only multiples of the common factor are read" holds for the chain alone); whether the
//! graph has holes is the hole check's verdict.
//!
//! # Limits
//!
//! [`MAX_GRAPH_NODES`], [`MAX_GRAPH_RF`], [`MAX_GRAPH_PHASES`], [`MAX_GRAPH_TAPS`],
//! [`MAX_GRAPH_MAP_CELLS`], [`MAX_GRAPH_TERMS`], [`MAX_GRAPH_WORK`],
//! [`MAX_GRAPH_HOLE_LIST`]; over one, a typed error ([`GraphError::is_limit`]), never a
//! sampled answer.

// Layers, bottom to top; a module imports only from the layers below its own (the root
// only re-exports): 1. `types` (ids, jumps, modes, methods, limits); 2. `error`; 3. `geo`;
// 4. `bits`, `build`; 5. `chain`, `report`; 6. `engine`; 7. `dense`, `terms`; 8. `analyze`.
mod analyze;
mod bits;
mod build;
mod chain;
mod dense;
mod engine;
mod error;
mod geo;
mod report;
mod terms;
mod types;

pub use build::{Graph, InputField, Node, Op};
pub use error::GraphError;
pub use report::{
    ChainReport, GraphCoverage, GraphCoverageStatus, GraphDiagnostic, GraphOptions, GraphReport,
    HoleList, NodeReport, OutputAxis, OutputReport, PhaseMap,
};
pub use types::{
    Jump, MAX_GRAPH_HOLE_LIST, MAX_GRAPH_MAP_CELLS, MAX_GRAPH_NODES, MAX_GRAPH_PHASES,
    MAX_GRAPH_RF, MAX_GRAPH_TAPS, MAX_GRAPH_TERMS, MAX_GRAPH_WORK, Method, NodeId, ResizeMode,
};

//! The frozen graph the builder hands over: rank, nodes, output, parameters and the plan.

use super::node::{Node, Parameter, ValueId};
use super::plan::Plan;
use crate::conv::Rank;

/// What a [`ModelGraph`](super::ModelGraph) shares among its clones.
#[derive(Debug)]
pub(crate) struct GraphInner {
    pub(crate) rank: Rank,
    pub(crate) nodes: Vec<Node>,
    pub(crate) output: ValueId,
    pub(crate) params: Vec<Parameter>,
    pub(crate) plan: Plan,
}

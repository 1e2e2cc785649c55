//! The walk over the graph: each needed node's coverage from its inputs', in id order,
//! each map dropped after its last reader. Generic over the representation: dense maps of
//! counts ([`Dense`](super::dense::Dense)) or unions of per-axis products
//! ([`Terms`](super::terms::Terms)).

use super::build::{Graph, Plans};
use super::error::GraphError;
use super::geo::Plan;
use super::types::{MAX_GRAPH_TERMS, MAX_GRAPH_WORK, Method, NodeId};
use crate::schedule::error::{ErrorKind, ScheduleError};
use crate::schedule::spec::overflow;

/// Why a representation gave up (the engine names the node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    /// A count does not fit the count type.
    CountOverflow,
    /// Too many product terms.
    TooManyTerms(usize),
    /// The work budget ran out.
    TooCostly,
    /// An offset does not fit `i64`.
    Overflow,
}

impl Fail {
    pub(super) fn at(self, node: NodeId) -> GraphError {
        match self {
            Self::CountOverflow => {
                GraphError::schedule(Some(node), ScheduleError::new(ErrorKind::CountOverflow))
            }
            Self::TooManyTerms(terms) => GraphError::TooManyTerms {
                node,
                terms,
                limit: MAX_GRAPH_TERMS,
            },
            Self::TooCostly => GraphError::TooCostly {
                node,
                limit: MAX_GRAPH_WORK,
            },
            Self::Overflow => GraphError::schedule(Some(node), overflow("offset")),
        }
    }
}

/// Operations left before the analysis gives up.
#[derive(Debug)]
pub(super) struct Budget {
    left: u64,
}

impl Budget {
    pub(super) const fn new(limit: u64) -> Self {
        Self { left: limit }
    }

    pub(super) fn spend(&mut self, n: u64) -> Result<(), Fail> {
        match self.left.checked_sub(n) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => Err(Fail::TooCostly),
        }
    }
}

/// The verdict of one output phase (a pair of per-axis phases; the second is 0 in 1D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PhaseVerdict {
    /// The per-axis phases.
    pub(super) phase: [usize; 2],
    /// Per axis, the smallest and largest offset read; `None` without local coverage.
    pub(super) bounds: Option<[(i64, i64); 2]>,
    /// Cells (1D: offsets) inside the bounds that nothing reads.
    pub(super) hole_count: u64,
    /// Per axis, the longest run of holes along that axis.
    pub(super) widest: [u64; 2],
    /// The holes, row-major, when asked and at most the list limit.
    pub(super) holes: Option<Vec<[i64; 2]>>,
}

impl PhaseVerdict {
    pub(super) const fn empty(phase: [usize; 2]) -> Self {
        Self {
            phase,
            bounds: None,
            hole_count: 0,
            widest: [0, 0],
            holes: Some(Vec::new()),
        }
    }
}

/// A representation of a node's coverage over all its phases.
pub(super) trait Cover: Sized + Clone {
    /// The input: a box of offsets `lo..=hi` per axis, one phase.
    fn input(lo: [i64; 2], hi: [i64; 2]) -> Self;
    /// No local coverage.
    fn empty() -> Self;
    /// A separable op (a conv, a pool, an upsampling, a change of period).
    fn apply(&self, plans: &[Plan; 2], budget: &mut Budget) -> Result<Self, Fail>;
    /// The sum of branches brought to one period (empty ones included).
    fn merge(parts: Vec<Self>, budget: &mut Budget) -> Result<Self, Fail>;
    /// The verdict of every phase; `list`: collect the holes (up to the list limit).
    fn verdicts(&self, list: bool, budget: &mut Budget) -> Result<Vec<PhaseVerdict>, Fail>;
    /// Whether some phase has a hole.
    fn has_holes(&self, budget: &mut Budget) -> Result<bool, Fail>;
    /// How the verdict is computed.
    fn method(&self) -> Method;
}

/// What a walk produced.
#[derive(Debug)]
pub(super) struct Run<R> {
    /// Per node: whether it has holes (`None`: not needed).
    pub(super) holes: Vec<Option<bool>>,
    /// The outputs' coverage, in the order asked.
    pub(super) outputs: Vec<R>,
}

/// Walks the needed nodes in id order.
pub(super) fn propagate<R: Cover>(
    g: &Graph,
    needed: &[bool],
    outputs: &[NodeId],
    budget: &mut Budget,
) -> Result<Run<R>, GraphError> {
    let n = g.len();
    let mut uses = vec![0usize; n];
    for (i, node) in g.nodes().iter().enumerate() {
        if needed[i] {
            for f in node.op().inputs() {
                uses[f.index()] += 1;
            }
        }
    }
    for o in outputs {
        uses[o.index()] += 1;
    }
    let mut state: Vec<Option<R>> = vec![None; n];
    let mut holes = vec![None; n];
    let mut out: Vec<Option<R>> = vec![None; outputs.len()];
    for (i, node) in g.nodes().iter().enumerate() {
        if !needed[i] {
            continue;
        }
        let id = NodeId::from_index(i);
        let inputs = node.op().inputs();
        let read = |k: usize| -> Result<&R, GraphError> {
            state[inputs[k].index()]
                .as_ref()
                .ok_or(GraphError::UnknownNode {
                    node: inputs[k],
                    nodes: n,
                })
        };
        let cover = match &node.derived.plans {
            Plans::Input => {
                let b = node.derived.bounds.as_ref().ok_or(GraphError::NoInput)?;
                R::input([b[0][0].0, b[1][0].0], [b[0][0].1, b[1][0].1])
            }
            Plans::Empty => R::empty(),
            Plans::Pass => read(0)?.clone(),
            Plans::Unary(plans) => read(0)?.apply(plans, budget).map_err(|f| f.at(id))?,
            Plans::Merge(plans) => {
                let mut parts = Vec::with_capacity(plans.len());
                for (k, p) in plans.iter().enumerate() {
                    if let Some(p) = p {
                        parts.push(read(k)?.apply(p, budget).map_err(|f| f.at(id))?);
                    }
                }
                R::merge(parts, budget).map_err(|f| f.at(id))?
            }
        };
        for f in inputs {
            let u = &mut uses[f.index()];
            *u -= 1;
            if *u == 0 {
                state[f.index()] = None;
            }
        }
        holes[i] = Some(cover.has_holes(budget).map_err(|f| f.at(id))?);
        for (k, o) in outputs.iter().enumerate() {
            if *o == id {
                out[k] = Some(cover.clone());
                uses[i] -= 1;
            }
        }
        if uses[i] > 0 {
            state[i] = Some(cover);
        }
    }
    let outputs = out
        .into_iter()
        .zip(outputs)
        .map(|(c, &o)| c.ok_or(GraphError::UnknownNode { node: o, nodes: n }))
        .collect::<Result<Vec<R>, GraphError>>()?;
    Ok(Run { holes, outputs })
}

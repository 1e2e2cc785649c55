//! Chains for the HDC rules: which dilated convs a path runs through, in order. See
//! [`ChainReport`](super::ChainReport) for the definition.

use super::build::{Graph, Op};
use super::types::NodeId;
use crate::schedule::spec::AxisSpec;

/// Whether a conv is a layer of a chain (a kernel above 1 on some axis), transparent (1×1,
/// stride 1), or ends the chain (a strided 1×1).
fn conv_role(axes: &[AxisSpec]) -> Role {
    if axes.iter().any(|a| a.kernel > 1) {
        Role::Layer
    } else if axes.iter().any(|a| a.stride > 1) {
        Role::Break
    } else {
        Role::Transparent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Layer,
    Transparent,
    Break,
}

/// The chain forest: each chain layer's parent is the last layer of the chain it extends.
struct Forest {
    /// Per node: its chain parent (chain layers only).
    parent: Vec<Option<usize>>,
    /// Per node: depth in the forest (1 for a root), 0 for nodes that are not layers.
    depth: Vec<usize>,
    /// `up[k][n]`: the `2^k`-th ancestor of layer `n` (binary lifting).
    up: Vec<Vec<Option<usize>>>,
}

impl Forest {
    fn new(n: usize) -> Self {
        Self {
            parent: vec![None; n],
            depth: vec![0; n],
            up: Vec::new(),
        }
    }

    fn add(&mut self, node: usize, parent: Option<usize>) {
        self.parent[node] = parent;
        self.depth[node] = parent.map_or(1, |p| self.depth[p] + 1);
        let mut k = 0;
        let mut anc = parent;
        loop {
            if self.up.len() <= k {
                self.up.push(vec![None; self.parent.len()]);
            }
            self.up[k][node] = anc;
            match anc {
                Some(a) if k < self.up.len() && self.up[k][a].is_some() => {
                    anc = self.up[k][a];
                    k += 1;
                }
                _ => break,
            }
        }
    }

    /// The ancestor of `node` at `depth` (its own depth or less).
    fn ancestor_at(&self, mut node: usize, depth: usize) -> Option<usize> {
        let mut climb = self.depth[node].checked_sub(depth)?;
        let mut k = 0;
        while climb > 0 {
            if climb & 1 == 1 {
                node = self.up.get(k)?.get(node).copied().flatten()?;
            }
            climb >>= 1;
            k += 1;
        }
        Some(node)
    }
}

/// The maximal chains of the needed nodes, each as its layers from first to last, ordered
/// by their last layer.
pub(super) fn chains(g: &Graph, needed: &[bool]) -> Vec<Vec<NodeId>> {
    let n = g.len();
    let mut forest = Forest::new(n);
    let mut trunk: Vec<Option<usize>> = vec![None; n];
    let mut has_child = vec![false; n];
    for (i, node) in g.nodes().iter().enumerate() {
        let local = |id: &NodeId| g.node(*id).is_some_and(|x| x.derived.geo.is_some());
        trunk[i] = match node.op() {
            Op::Input { .. } | Op::Pool { .. } | Op::GlobalPool { .. } | Op::Resize { .. } => None,
            Op::Pointwise { from } => trunk[from.index()],
            Op::Conv { from, axes } => {
                if !local(from) {
                    None
                } else {
                    match conv_role(axes) {
                        Role::Layer => {
                            let parent = trunk[from.index()];
                            forest.add(i, parent);
                            if let Some(p) = parent
                                && needed[i]
                            {
                                has_child[p] = true;
                            }
                            Some(i)
                        }
                        Role::Transparent => trunk[from.index()],
                        Role::Break => None,
                    }
                }
            }
            Op::Sum { from } | Op::Concat { from } => {
                let ends: Vec<usize> = from
                    .iter()
                    .filter(|b| local(b))
                    .filter_map(|b| trunk[b.index()])
                    .collect();
                let deepest = ends
                    .iter()
                    .copied()
                    .max_by_key(|&e| (forest.depth[e], usize::MAX - e));
                deepest.filter(|&d| {
                    ends.iter()
                        .all(|&e| forest.ancestor_at(d, forest.depth[e]) == Some(e))
                })
            }
        };
    }
    let mut out: Vec<Vec<NodeId>> = Vec::new();
    for leaf in 0..n {
        if !needed[leaf] || forest.depth[leaf] == 0 || has_child[leaf] {
            continue;
        }
        let mut chain = vec![NodeId::from_index(leaf)];
        let mut at = forest.parent[leaf];
        while let Some(p) = at {
            chain.push(NodeId::from_index(p));
            at = forest.parent[p];
        }
        chain.reverse();
        out.push(chain);
    }
    out
}

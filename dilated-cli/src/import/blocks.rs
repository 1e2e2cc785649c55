//! The block structure of `dilated_stack!`'s grammar, recognised in a folded ONNX graph.
//!
//! The graph is read from its input forward. A value read by one node continues the list
//! (a conv, with a `Pad` before it or a chomping `Slice` after it folded into its padding;
//! an activation, `PRelu`, `BatchNormalization`; `Identity`/`Dropout` pass). A value read
//! by several nodes opens a fork, closed by the nearest node every path from it passes
//! through (its immediate post-dominator): an `Add`/`Sum` tree joins a residual block (the
//! identity or a short projection as the shortcut) or a `parallel { join: sum }`, a
//! channel `Concat` a `parallel { join: concat }` (a branch opened by a global pool and
//! closed by a broadcast from 1×1 is an image-pooling `pool [ … ]` branch; a concat of
//! partial sums is ESPNet's `hierarchical` join), and a channel split into two halves
//! through `Tanh` and `Sigmoid` multiplied is `gated`; a fork into scalar element-wise
//! ops that computes the exact GELU at sample points (the exporters write GELU out as
//! `Div`/`Erf`/`Add`/`Mul`) is `gelu`, and `x · sigmoid(x)` is `silu`. WaveNet's skip
//! path is found first: an `Add` tree whose leaves are chains tapped at distinct values
//! becomes `skip [ … ]` at each tap and `skip_sum` where the main path ends.
//!
//! Anything else is refused with the first node it cannot express and why.

use std::collections::{HashMap, HashSet};

use dilated_core::{Activation, Conv, ConvDesc};
use dilated_onnx::runtime::conv_from_node;
use dilated_onnx::{Dim, Error, Global, Graph, Merge, Name, NodeId, NodeKind, Pointwise, ValueId};

/// One item of a `layers: [ … ]` list.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A convolution (activation `Identity`); `causal` when 1D and padded `d·(k − 1)` on
    /// the left only.
    Conv(Box<Conv>),
    /// An activation, as the grammar spells it.
    Act(String),
    /// `batch_norm(eps: …)` with `weight`, `bias`, `running_mean`, `running_var`.
    BatchNorm {
        eps: f32,
        params: Box<[Vec<f32>; 4]>,
    },
    /// `prelu` with one slope per channel.
    Prelu(Vec<f32>),
    /// `gated`.
    Gated,
    /// `residual { body, shortcut, activation }`.
    Residual {
        body: Vec<Item>,
        shortcut: Option<Vec<Item>>,
        activation: Option<String>,
    },
    /// `parallel { branches, join }`.
    Parallel { branches: Vec<Branch>, join: Join },
    /// `skip [ … ]`.
    Skip(Vec<Item>),
    /// `skip_sum`.
    SkipSum,
}

/// One branch of a parallel block.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// An image-pooling branch (`pool [ … ]`).
    pub(crate) pool: bool,
    pub(crate) items: Vec<Item>,
}

/// How a parallel block joins its branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    Concat,
    Sum,
    Hierarchical,
}

impl Join {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Concat => "concat",
            Self::Sum => "sum",
            Self::Hierarchical => "hierarchical",
        }
    }
}

/// The items as a chain of convolutions with fused activations, when they are one (each
/// conv followed by at most one activation, none first).
pub(crate) fn as_chain(items: &[Item]) -> Option<Vec<Conv>> {
    let mut layers: Vec<Conv> = Vec::new();
    let mut fused = false;
    for item in items {
        match item {
            Item::Conv(c) => {
                layers.push((**c).clone());
                fused = false;
            }
            Item::Act(word) => {
                let last = layers.last_mut().filter(|_| !fused)?;
                let act = match word.as_str() {
                    "relu" => Activation::Relu,
                    "gelu" => Activation::Gelu,
                    "tanh" => Activation::Tanh,
                    "sigmoid" => Activation::Sigmoid,
                    "silu" => Activation::Silu,
                    "leaky_relu" => Activation::LeakyRelu(0.01),
                    w => Activation::LeakyRelu(
                        w.strip_prefix("leaky_relu(")?
                            .strip_suffix(')')?
                            .parse()
                            .ok()?,
                    ),
                };
                let mut desc = *last.desc();
                desc.activation = act;
                *last = Conv::new(
                    desc,
                    last.weight().to_vec(),
                    last.bias().map(<[f32]>::to_vec),
                )
                .ok()?;
                fused = true;
            }
            Item::BatchNorm { .. }
            | Item::Prelu(_)
            | Item::Gated
            | Item::Residual { .. }
            | Item::Parallel { .. }
            | Item::Skip(_)
            | Item::SkipSum => return None,
        }
    }
    (!layers.is_empty()).then_some(layers)
}

/// The activation as the grammar spells it, `None` for a pointwise op it has no word for.
fn act_word(p: Pointwise) -> Option<String> {
    match p {
        Pointwise::Relu => Some("relu".into()),
        Pointwise::LeakyRelu(s) => Some(if s == 0.01 {
            "leaky_relu".into()
        } else {
            format!("leaky_relu({s:?})")
        }),
        Pointwise::Gelu(false) => Some("gelu".into()),
        Pointwise::Tanh => Some("tanh".into()),
        Pointwise::Sigmoid => Some("sigmoid".into()),
        _ => None,
    }
}

fn refuse(g: &Graph, id: NodeId, reason: impl Into<String>) -> Error {
    let n = g.node(id);
    Error::Node {
        node: Name(n.label()),
        op: Name(n.op_type.clone()),
        reason: reason.into(),
    }
}

/// The recogniser's state.
struct Cx<'g> {
    g: &'g Graph,
    /// Data consumers of each value, skip chains included.
    consumers: HashMap<ValueId, Vec<NodeId>>,
    /// Nodes of the skip path (its chains and its `Add` tree).
    removed: HashSet<NodeId>,
    /// Skip chains by the value they tap, each with the leaf value it ends at.
    taps: HashMap<ValueId, Vec<(NodeId, ValueId)>>,
    /// The skip tree's output and its number of taps.
    skip_root: Option<(ValueId, usize)>,
    taps_done: usize,
    /// Immediate post-dominator of each node; index `nodes.len()` is the exit.
    ipdom: Vec<usize>,
    depth: Vec<usize>,
    /// Blocks open around the one being read.
    nesting: usize,
    /// The first node of each skip chain written at the top level, in order.
    top_taps: Vec<NodeId>,
}

/// The grammar's deepest nesting of blocks.
const MAX_NESTING: usize = 8;

/// The items of `graph`, from its one run-time input to its one output.
pub(crate) fn recognise(g: &Graph) -> Result<Vec<Item>, Error> {
    let names = |vs: &[ValueId]| {
        vs.iter()
            .map(|&v| Name(g.value(v).name.clone()).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let [input] = g.inputs() else {
        return Err(Error::Unsupported {
            what: format!(
                "a graph with {} run-time inputs ({}; the declaration takes one)",
                g.inputs().len(),
                names(g.inputs())
            ),
        });
    };
    let [output] = g.outputs() else {
        return Err(Error::Unsupported {
            what: format!(
                "a graph with {} outputs ({}; the declaration returns one: export the model \
                 with only the output to import)",
                g.outputs().len(),
                names(g.outputs())
            ),
        });
    };
    let mut consumers: HashMap<ValueId, Vec<NodeId>> = HashMap::new();
    for (i, n) in g.nodes().iter().enumerate() {
        for v in n.data_inputs(g) {
            let list = consumers.entry(v).or_default();
            if !list.contains(&NodeId(i)) {
                list.push(NodeId(i));
            }
        }
    }
    let mut cx = Cx {
        g,
        consumers,
        removed: HashSet::new(),
        taps: HashMap::new(),
        skip_root: None,
        taps_done: 0,
        ipdom: Vec::new(),
        depth: Vec::new(),
        nesting: 0,
        top_taps: Vec::new(),
    };
    cx.find_skips();
    cx.post_dominators();
    let mut items = Vec::new();
    let end = cx.seq(*input, None, None, &mut items)?;
    if end != *output {
        return Err(Error::Unsupported {
            what: "a graph whose main path does not end at its output".into(),
        });
    }
    if cx.skip_root.is_some() {
        return Err(Error::Unsupported {
            what: "a skip sum whose taps the main path does not reach".into(),
        });
    }
    wrap_trailing_skips(g, *input, &mut items, cx.top_taps.last().copied())?;
    Ok(items)
}

/// The channel count of a value, when its shape says it.
fn channels(g: &Graph, v: ValueId) -> Option<u64> {
    g.value(v).shape.as_ref()?.get(1)?.known()
}

/// Channels after `items` on an input of `c` channels (`skips`: the channels of each skip
/// so far).
fn channels_after(items: &[Item], mut c: usize, skips: &mut Vec<usize>) -> usize {
    for item in items {
        c = match item {
            Item::Conv(conv) => conv.desc().out_channels,
            Item::Act(_) | Item::BatchNorm { .. } | Item::Prelu(_) => c,
            Item::Gated => c / 2,
            Item::Residual { body, .. } => channels_after(body, c, skips),
            Item::Parallel { branches, join } => {
                let outs: Vec<usize> = branches
                    .iter()
                    .map(|b| channels_after(&b.items, c, skips))
                    .collect();
                match join {
                    Join::Concat => outs.iter().sum(),
                    Join::Sum => outs.first().copied().unwrap_or(c),
                    Join::Hierarchical => {
                        outs.first().copied().unwrap_or(0)
                            + outs.get(1).copied().unwrap_or(0) * outs.len().saturating_sub(1)
                    }
                }
            }
            Item::Skip(inner) => {
                let s = channels_after(inner, c, skips);
                skips.push(s);
                c
            }
            Item::SkipSum => skips.first().copied().unwrap_or(c),
        };
    }
    c
}

/// The grammar taps skips only inside a residual body. WaveNet's last block has no
/// residual conv (its main output is never read): the items after the last block up to
/// its skip become a residual body with the identity as shortcut, whose sum nothing reads
/// — when the channels allow it.
fn wrap_trailing_skips(
    g: &Graph,
    input: ValueId,
    items: &mut Vec<Item>,
    last_tap: Option<NodeId>,
) -> Result<(), Error> {
    let Some(k) = items.iter().rposition(|i| matches!(i, Item::Skip(_))) else {
        return Ok(());
    };
    // The refusals name the last tap's skip chain by its first node.
    let refusal = |what: String| match last_tap {
        Some(n) => refuse(g, n, format!("it starts {what}")),
        None => Error::Unsupported { what },
    };
    if !matches!(items.get(k + 1), Some(Item::SkipSum)) {
        return Err(refusal(
            "a skip tap outside a residual block whose main path goes on".into(),
        ));
    }
    let start = items[..k]
        .iter()
        .rposition(|i| {
            matches!(
                i,
                Item::Residual { .. } | Item::Parallel { .. } | Item::SkipSum | Item::Skip(_)
            )
        })
        .map_or(0, |p| p + 1);
    let c_in = channels(g, input).unwrap_or(0) as usize;
    let mut skips = Vec::new();
    let before = channels_after(&items[..start], c_in, &mut skips);
    let after = channels_after(&items[start..k], before, &mut skips);
    if before != after {
        return Err(refusal(format!(
            "a skip tap outside a residual block (the grammar taps skips in residual \
             bodies; the layers before it change {before} channels into {after}, so \
             no identity shortcut fits)"
        )));
    }
    let body: Vec<Item> = items.drain(start..=k).collect();
    items.insert(
        start,
        Item::Residual {
            body,
            shortcut: None,
            activation: None,
        },
    );
    Ok(())
}

/// `Slice` parameters `(axis, start, end, step)` read from its constant inputs.
fn slice_params(g: &Graph, id: NodeId) -> Option<Vec<(i64, i64, i64, i64)>> {
    let n = g.node(id);
    let rank = g
        .value(n.inputs.first().copied().flatten()?)
        .shape
        .as_ref()?
        .len() as i64;
    let read = |i: usize| -> Option<Option<Vec<i64>>> {
        match n.inputs.get(i).copied().flatten() {
            None => Some(None),
            Some(v) => {
                let t = g.value(v).constant.as_ref()?;
                let f = t.to_f32("slice").ok()?;
                Some(Some(
                    f.iter()
                        .map(|&x| {
                            if x >= 9.0e18 {
                                i64::MAX
                            } else if x <= -9.0e18 {
                                i64::MIN
                            } else {
                                x as i64
                            }
                        })
                        .collect(),
                ))
            }
        }
    };
    let starts = read(1)??;
    let ends = read(2)??;
    let axes = read(3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = read(4)?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return None;
    }
    Some(
        (0..starts.len())
            .map(|i| {
                let a = if axes[i] < 0 { axes[i] + rank } else { axes[i] };
                (a, starts[i], ends[i], steps[i])
            })
            .collect(),
    )
}

/// A channel slice `[lo, hi)` of a `c`-channel value, when node `id` is one.
fn channel_range(g: &Graph, id: NodeId, c: u64) -> Option<(u64, u64)> {
    let p = slice_params(g, id)?;
    let [(1, start, end, 1)] = p.as_slice() else {
        return None;
    };
    let clamp = |v: i64| -> u64 {
        let v = if v < 0 { v.saturating_add(c as i64) } else { v };
        v.clamp(0, c as i64) as u64
    };
    Some((clamp(*start), clamp(*end)))
}

impl Cx<'_> {
    fn node_out(&self, id: NodeId) -> Option<ValueId> {
        self.g.node(id).outputs.first().copied().flatten()
    }

    /// Data consumers of `v`, the skip path's nodes left out unless `skip`.
    fn cons(&self, v: ValueId, skip: bool) -> Vec<NodeId> {
        self.consumers
            .get(&v)
            .map(|l| {
                l.iter()
                    .copied()
                    .filter(|n| skip || !self.removed.contains(n))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn is_sum(&self, id: NodeId) -> bool {
        matches!(self.g.node(id).kind, NodeKind::Merge(Merge::Sum))
    }

    /// The leaves of the `Add`/`Sum` tree rooted at `root`, in order: inputs that are not
    /// sums read only by the tree. Also returns the tree's nodes, `root` first. A loop, not
    /// a recursion: a file may hold a tree of any depth.
    fn sum_leaves(&self, root: NodeId) -> (Vec<ValueId>, Vec<NodeId>) {
        enum Work {
            Node(NodeId),
            Leaf(ValueId),
        }
        let mut leaves = Vec::new();
        let mut inner = Vec::new();
        let mut stack = vec![Work::Node(root)];
        while let Some(w) = stack.pop() {
            match w {
                Work::Leaf(v) => leaves.push(v),
                Work::Node(n) => {
                    inner.push(n);
                    let ins: Vec<ValueId> = self.g.node(n).data_inputs(self.g).collect();
                    for v in ins.into_iter().rev() {
                        stack.push(match self.g.producer(v) {
                            Some(p) if self.is_sum(p) && self.cons(v, true).len() == 1 => {
                                Work::Node(p)
                            }
                            Some(_) | None => Work::Leaf(v),
                        });
                    }
                }
            }
        }
        (leaves, inner)
    }

    /// WaveNet's skip path: an `Add` tree whose leaves end chains of one-input nodes
    /// tapped at distinct values.
    fn find_skips(&mut self) {
        let g = self.g;
        for i in 0..g.nodes().len() {
            let id = NodeId(i);
            if !self.is_sum(id) {
                continue;
            }
            let Some(out) = self.node_out(id) else {
                continue;
            };
            // A root: not read by exactly one sum.
            let c = self.cons(out, true);
            if c.len() == 1 && self.is_sum(c[0]) {
                continue;
            }
            let (leaves, inner) = self.sum_leaves(id);
            if leaves.len() < 2 {
                continue;
            }
            let mut taps: Vec<(ValueId, NodeId, ValueId)> = Vec::new();
            let mut chain_nodes: Vec<NodeId> = Vec::new();
            let mut ok = true;
            for &leaf in &leaves {
                let mut v = leaf;
                let mut first = None;
                while let Some(p) = g.producer(v) {
                    let node = g.node(p);
                    let data: Vec<ValueId> = node.data_inputs(g).collect();
                    if data.len() != 1 || node.outputs.len() != 1 || self.cons(v, true).len() != 1 {
                        break;
                    }
                    chain_nodes.push(p);
                    first = Some(p);
                    v = data[0];
                }
                match first {
                    Some(f) if !taps.iter().any(|t| t.0 == v) => taps.push((v, f, leaf)),
                    Some(_) | None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            for (tap, first, leaf) in &taps {
                self.taps.entry(*tap).or_default().push((*first, *leaf));
            }
            self.removed.extend(chain_nodes);
            self.removed.extend(inner);
            self.skip_root = Some((out, taps.len()));
            return;
        }
    }

    fn post_dominators(&mut self) {
        let g = self.g;
        let n = g.nodes().len();
        let exit = n;
        self.ipdom = vec![exit; n + 1];
        self.depth = vec![0; n + 1];
        for i in (0..n).rev() {
            if self.removed.contains(&NodeId(i)) {
                self.depth[i] = 1;
                continue;
            }
            let mut succ: Vec<usize> = Vec::new();
            for o in g.node(NodeId(i)).outputs.iter().flatten() {
                if g.outputs().contains(o) {
                    succ.push(exit);
                }
                succ.extend(self.cons(*o, false).iter().map(|c| c.0));
            }
            let mut acc: Option<usize> = None;
            for s in succ {
                acc = Some(match acc {
                    None => s,
                    Some(a) => self.meet(a, s),
                });
            }
            let p = acc.unwrap_or(exit);
            self.ipdom[i] = p;
            self.depth[i] = self.depth[p] + 1;
        }
    }

    fn meet(&self, mut a: usize, mut b: usize) -> usize {
        while a != b {
            if self.depth[a] > self.depth[b] {
                a = self.ipdom[a];
            } else if self.depth[b] > self.depth[a] {
                b = self.ipdom[b];
            } else {
                a = self.ipdom[a];
                b = self.ipdom[b];
            }
        }
        a
    }

    /// Whether node `to` can be reached from node `from` (skip path left out).
    fn reaches(&self, from: NodeId, to: NodeId) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if n.0 > to.0 || !seen.insert(n) {
                continue;
            }
            for o in self.g.node(n).outputs.iter().flatten() {
                stack.extend(self.cons(*o, false));
            }
        }
        false
    }

    /// Reads items from `cur` until `end` (or the graph's output when `None`); `first`
    /// forces the first node read (a branch of a fork). Returns the value reached.
    fn seq(
        &mut self,
        mut cur: ValueId,
        end: Option<ValueId>,
        mut first: Option<NodeId>,
        out: &mut Vec<Item>,
    ) -> Result<ValueId, Error> {
        let g = self.g;
        let skip_chain = first.is_some_and(|f| self.removed.contains(&f));
        let mut pad: Option<(NodeId, Vec<[i64; 2]>)> = None;
        loop {
            if first.is_none() && Some(cur) == end {
                if let Some((p, _)) = pad {
                    return Err(refuse(g, p, "a Pad that no convolution follows"));
                }
                return Ok(cur);
            }
            if first.is_none()
                && !skip_chain
                && let Some(chains) = self.taps.remove(&cur)
            {
                for (head, leaf) in chains {
                    let mut inner = Vec::new();
                    self.seq(cur, Some(leaf), Some(head), &mut inner)?;
                    out.push(Item::Skip(inner));
                    if self.nesting == 0 {
                        self.top_taps.push(head);
                    }
                    self.taps_done += 1;
                }
            }
            let cons = match first.take() {
                Some(f) => vec![f],
                None => self.cons(cur, skip_chain),
            };
            if cons.is_empty() {
                if end.is_none() && g.outputs().contains(&cur) {
                    if let Some((p, _)) = pad {
                        return Err(refuse(g, p, "a Pad that no convolution follows"));
                    }
                    return Ok(cur);
                }
                if let Some((root, n)) = self.skip_root
                    && self.taps_done == n
                    && end.is_none()
                {
                    out.push(Item::SkipSum);
                    self.skip_root = None;
                    cur = root;
                    continue;
                }
                return Err(match g.producer(cur) {
                    Some(p) => refuse(g, p, "its output leads nowhere the grammar can follow"),
                    None => Error::Unsupported {
                        what: "a graph whose input is not read".into(),
                    },
                });
            }
            if end.is_none() && g.outputs().contains(&cur) {
                return Err(refuse(
                    g,
                    cons[0],
                    "it reads the graph's output, which the declaration cannot also return",
                ));
            }
            if let Some(e) = self.shape_read(&cons) {
                return Err(e);
            }
            if let Some((p, _)) = &pad
                && (cons.len() != 1 || !matches!(g.node(cons[0]).kind, NodeKind::Conv(_)))
            {
                return Err(refuse(g, *p, "a Pad that no convolution follows"));
            }
            if cons.len() == 1 {
                let id = cons[0];
                let node = g.node(id);
                let data: Vec<ValueId> = node.data_inputs(g).collect();
                if data.len() == 1 && node.outputs.len() == 1 {
                    cur = self.single(id, &mut pad, out)?;
                    continue;
                }
                if data.len() > 1 {
                    return Err(refuse(
                        g,
                        id,
                        "it merges paths that do not fork from one value inside the block being read",
                    ));
                }
            }
            if let Some(v) = self.gate(cur, &cons)? {
                out.push(Item::Gated);
                cur = v;
                continue;
            }
            if let Some(v) = self.gelu(cur, &cons)? {
                out.push(Item::Act("gelu".into()));
                cur = v;
                continue;
            }
            if let Some(v) = self.silu(cur, &cons) {
                out.push(Item::Act("silu".into()));
                cur = v;
                continue;
            }
            cur = self.fork(cur, &cons, end, out)?;
        }
    }

    /// One node with one data input and one output; returns its output (or the output of
    /// the chomping `Slice` folded into a conv).
    fn single(
        &mut self,
        id: NodeId,
        pad: &mut Option<(NodeId, Vec<[i64; 2]>)>,
        out: &mut Vec<Item>,
    ) -> Result<ValueId, Error> {
        let g = self.g;
        let node = g.node(id);
        let Some(mut v) = self.node_out(id) else {
            return Err(refuse(g, id, "it has no output"));
        };
        let cin = node.data_inputs(g).next().and_then(|x| channels(g, x));
        match &node.kind {
            NodeKind::Conv(_) => {
                let conv = conv_from_node(g, id, Activation::Identity)?;
                let mut desc: ConvDesc = *conv.desc();
                let spatial: Vec<usize> = if g.spatial_rank() == Some(1) {
                    vec![1]
                } else {
                    vec![0, 1]
                };
                if let Some((p, pads)) = pad.take() {
                    let first = 2 - pads.len().min(2);
                    for (i, [b, e]) in pads.iter().enumerate() {
                        let (Ok(b), Ok(e)) = (usize::try_from(*b), usize::try_from(*e)) else {
                            return Err(refuse(g, p, "a Pad that crops"));
                        };
                        let a = first + i;
                        desc.padding[a][0] = desc.padding[a][0].saturating_add(b);
                        desc.padding[a][1] = desc.padding[a][1].saturating_add(e);
                    }
                }
                // A Slice after it that trims padded positions: TCN's chomp.
                let next = self.cons(v, false);
                if let [s] = next.as_slice()
                    && matches!(g.node(*s).kind, NodeKind::Crop(_))
                    && let Some(so) = self.node_out(*s)
                {
                    let Some(params) = slice_params(g, *s) else {
                        return Err(refuse(g, *s, "its bounds are not constants"));
                    };
                    let shape = g.value(v).shape.clone().unwrap_or_default();
                    let rank = shape.len() as i64;
                    for (axis, start, end, step) in params {
                        let a = axis - (rank - spatial.len() as i64);
                        let Some(&ax) = usize::try_from(a).ok().and_then(|a| spatial.get(a)) else {
                            return Err(refuse(g, *s, "it slices a non-spatial axis"));
                        };
                        if step != 1 || start < 0 {
                            return Err(refuse(g, *s, "a spatial slice other than a crop"));
                        }
                        let len = shape.get(axis as usize).and_then(Dim::known);
                        let cut_end = if end < 0 {
                            end.unsigned_abs()
                        } else {
                            match len {
                                Some(l) if (end as u64) < l => l - end as u64,
                                Some(_) => 0,
                                None if end == i64::MAX => 0,
                                None => {
                                    return Err(refuse(
                                        g,
                                        *s,
                                        "it crops an axis whose size the model leaves free",
                                    ));
                                }
                            }
                        };
                        let cut_start = start as u64;
                        let pd = &mut desc.padding[ax];
                        if cut_start > pd[0] as u64 || cut_end > pd[1] as u64 {
                            return Err(refuse(
                                g,
                                *s,
                                "it crops more than the convolution before it padded",
                            ));
                        }
                        pd[0] -= cut_start as usize;
                        pd[1] -= cut_end as usize;
                    }
                    v = so;
                }
                let conv = Conv::new(
                    desc,
                    conv.weight().to_vec(),
                    conv.bias().map(<[f32]>::to_vec),
                )
                .map_err(|e| refuse(g, id, e.to_string()))?;
                out.push(Item::Conv(Box::new(conv)));
            }
            NodeKind::Pad(p) => {
                let Some(pads) = &p.pads else {
                    return Err(refuse(g, id, "its pads are computed at run time"));
                };
                let lead = |x: Option<ValueId>| {
                    x.and_then(|x| g.value(x).shape.clone())
                        .map(|s| s.into_iter().take(2).collect::<Vec<Dim>>())
                };
                if lead(node.data_inputs(g).next()) != lead(Some(v)) {
                    return Err(refuse(g, id, "it pads the batch or the channels"));
                }
                if p.mode != dilated_onnx::PadMode::Constant {
                    return Err(refuse(g, id, "only zero padding is expressible"));
                }
                if let Some(cv) = node.inputs.get(2).copied().flatten() {
                    let zero = g
                        .value(cv)
                        .constant
                        .as_ref()
                        .and_then(|t| t.to_f32("value").ok())
                        .is_some_and(|v| v.iter().all(|&x| x == 0.0));
                    if !zero {
                        return Err(refuse(g, id, "it pads with a value other than zero"));
                    }
                }
                *pad = Some((id, pads.clone()));
            }
            NodeKind::Pointwise(Pointwise::Identity) => {
                let same = g.value(v).shape.is_some()
                    && g.value(v).shape
                        == node
                            .data_inputs(g)
                            .next()
                            .and_then(|x| g.value(x).shape.clone());
                let pass = matches!(
                    node.op_type.as_str(),
                    "Identity" | "Dropout" | "Cast" | "CastLike"
                );
                if !pass && !same {
                    return Err(refuse(
                        g,
                        id,
                        format!("the grammar has no {} that changes the shape", node.op_type),
                    ));
                }
            }
            NodeKind::Pointwise(Pointwise::PRelu) => {
                let slope = node
                    .inputs
                    .get(1)
                    .copied()
                    .flatten()
                    .and_then(|s| g.value(s).constant.as_ref())
                    .ok_or_else(|| refuse(g, id, "its slope is not a constant"))?;
                let s = slope.to_f32("slope")?;
                let c = cin.ok_or_else(|| refuse(g, id, "its channel count is not known"))?;
                let per_channel = slope.dims().iter().filter(|&&d| d != 1).count() <= 1
                    && (s.len() as u64 == c || s.len() == 1);
                if !per_channel {
                    return Err(refuse(g, id, "a slope other than one per channel"));
                }
                let s = if s.len() == 1 {
                    vec![s[0]; c as usize]
                } else {
                    s
                };
                out.push(Item::Prelu(s));
            }
            NodeKind::Pointwise(Pointwise::BatchNorm) => {
                let c = cin.ok_or_else(|| refuse(g, id, "its channel count is not known"))?;
                let mut params: [Vec<f32>; 4] = Default::default();
                for (k, p) in params.iter_mut().enumerate() {
                    let t = node
                        .inputs
                        .get(k + 1)
                        .copied()
                        .flatten()
                        .and_then(|s| g.value(s).constant.as_ref())
                        .ok_or_else(|| refuse(g, id, "its statistics are not constants"))?;
                    *p = t.to_f32("batch norm")?;
                    if p.len() as u64 != c {
                        return Err(refuse(g, id, "its statistics do not match the channels"));
                    }
                }
                out.push(Item::BatchNorm {
                    eps: node.epsilon.unwrap_or(1e-5),
                    params: Box::new(params),
                });
            }
            NodeKind::Pointwise(p) => match act_word(*p) {
                Some(w) => out.push(Item::Act(w)),
                None => {
                    return Err(refuse(
                        g,
                        id,
                        format!(
                            "the grammar has no {} (activations: relu, leaky_relu, gelu, tanh, sigmoid, silu, prelu)",
                            node.op_type
                        ),
                    ));
                }
            },
            NodeKind::Crop(_) => {
                return Err(refuse(
                    g,
                    id,
                    "a spatial Slice that does not trim the padding of the convolution before it",
                ));
            }
            NodeKind::Pool(..) => {
                return Err(refuse(g, id, "the grammar has no local pooling"));
            }
            NodeKind::Resize(_) => {
                return Err(refuse(
                    g,
                    id,
                    "a resize other than an image-pooling branch's broadcast back from 1×1",
                ));
            }
            NodeKind::Global(_) => {
                return Err(refuse(
                    g,
                    id,
                    "a global pool outside an image-pooling branch (one broadcast back and joined to its siblings)",
                ));
            }
            NodeKind::Head(_) => {
                return Err(refuse(g, id, "the grammar has no classifier head"));
            }
            NodeKind::Unknown { reason } => {
                return Err(refuse(g, id, format!("not understood: {reason}")));
            }
            NodeKind::Merge(_) | NodeKind::Concat { .. } | NodeKind::Split { .. } => {
                return Err(refuse(g, id, "a merge or split of one path with itself"));
            }
            _ => return Err(refuse(g, id, "the grammar has no such node")),
        }
        Ok(v)
    }

    /// WaveNet's gate on `cur`: its channel halves through `Tanh` and `Sigmoid`,
    /// multiplied. Returns the product.
    fn gate(&self, cur: ValueId, cons: &[NodeId]) -> Result<Option<ValueId>, Error> {
        let g = self.g;
        let Some(c) = channels(g, cur) else {
            return Ok(None);
        };
        // The two halves, first then second.
        let halves: Option<[ValueId; 2]> = match cons {
            [s] => match &g.node(*s).kind {
                NodeKind::Split {
                    axis: 1,
                    sizes: Some(sz),
                } if sz.len() == 2 && sz[0] == sz[1] && sz[0] * 2 == c => {
                    let o = &g.node(*s).outputs;
                    match (o.first().copied().flatten(), o.get(1).copied().flatten()) {
                        (Some(a), Some(b)) => Some([a, b]),
                        _ => None,
                    }
                }
                _ => None,
            },
            [a, b] if g.node(*a).op_type == "Slice" && g.node(*b).op_type == "Slice" => {
                let ra = channel_range(g, *a, c);
                let rb = channel_range(g, *b, c);
                let (oa, ob) = (self.node_out(*a), self.node_out(*b));
                match (ra, rb, oa, ob) {
                    (Some(ra), Some(rb), Some(oa), Some(ob))
                        if ra == (0, c / 2) && rb == (c / 2, c) =>
                    {
                        Some([oa, ob])
                    }
                    (Some(ra), Some(rb), Some(oa), Some(ob))
                        if rb == (0, c / 2) && ra == (c / 2, c) =>
                    {
                        Some([ob, oa])
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some([a, b]) = halves else {
            return Ok(None);
        };
        if c % 2 != 0 {
            return Ok(None);
        }
        let one = |v: ValueId, p: Pointwise| -> Option<ValueId> {
            let [n] = self.cons(v, false)[..] else {
                return None;
            };
            (g.node(n).kind == NodeKind::Pointwise(p))
                .then(|| self.node_out(n))
                .flatten()
        };
        let (Some(t), Some(s)) = (one(a, Pointwise::Tanh), one(b, Pointwise::Sigmoid)) else {
            return Ok(None);
        };
        let (ct, cs) = (self.cons(t, false), self.cons(s, false));
        match (ct.as_slice(), cs.as_slice()) {
            ([m1], [m2]) if m1 == m2 && g.node(*m1).kind == NodeKind::Merge(Merge::Product) => {
                Ok(self.node_out(*m1))
            }
            _ => Ok(None),
        }
    }

    /// GELU written out by the exporters (the dynamo exporter, and TorchScript at opset 18
    /// and above): `x · ½ · (1 + erf(x / √2))` as `Div`/`Erf`/`Add`/`Mul`, in either
    /// order of the two products. The smallest region that every consumer of `cur` opens
    /// and that one value leaves is evaluated at sample points, constants as the file
    /// stores them: a match of the exact GELU is the engine's `gelu`; a match of the
    /// `tanh` approximation (`Pow`/`Mul`/`Add`/`Tanh`) is refused by name, since the
    /// engine's `gelu` is erf-exact. Returns the region's output.
    fn gelu(&self, cur: ValueId, cons: &[NodeId]) -> Result<Option<ValueId>, Error> {
        let (region, closed) = self.scalar_regions(cur, cons);
        for len in closed {
            let last = region[len - 1];
            let Some(out) = self.node_out(last) else {
                continue;
            };
            let Some(f) = eval_region(self.g, cur, &region[..len], out) else {
                continue;
            };
            if matches_fn(&f, gelu_erf) {
                return Ok(Some(out));
            }
            if matches_fn(&f, gelu_tanh) {
                return Err(refuse(
                    self.g,
                    last,
                    "GELU's tanh approximation (`approximate='tanh'`), written out; the grammar's \
                     gelu is the exact erf form: export with `approximate='none'`",
                ));
            }
        }
        Ok(None)
    }

    /// Scalar element-wise nodes (in topological order) from `cur`: each reads only
    /// `cur`, outputs of the nodes before it and one-element constants. Also returns the
    /// lengths of its closed prefixes: those that hold every node of `cons` and whose
    /// outputs are read outside the prefix only at its last node (one value in, one out).
    fn scalar_regions(&self, cur: ValueId, cons: &[NodeId]) -> (Vec<NodeId>, Vec<usize>) {
        const MAX_NODES: usize = 16;
        let g = self.g;
        let mut region: Vec<NodeId> = Vec::new();
        let mut closed = Vec::new();
        let Some(start) = cons.iter().map(|n| n.0).min() else {
            return (region, closed);
        };
        let mut inside: HashSet<ValueId> = HashSet::from([cur]);
        for i in start..g.nodes().len() {
            let id = NodeId(i);
            let node = g.node(id);
            let data: Vec<ValueId> = node.data_inputs(g).collect();
            if !data.iter().any(|v| inside.contains(v)) {
                continue;
            }
            let Some(out) = self.node_out(id) else { break };
            if !SCALAR_OPS.contains(&node.op_type.as_str())
                || (!node.domain.is_empty() && node.domain != "ai.onnx")
                || node.outputs.len() != 1
                || !data.iter().all(|v| inside.contains(v))
                || self.removed.contains(&id)
                || region.len() == MAX_NODES
            {
                break;
            }
            region.push(id);
            inside.insert(out);
            let is_closed = region.len() > 1
                && cons.iter().all(|c| region.contains(c))
                && region[..region.len() - 1].iter().all(|&r| {
                    self.node_out(r).is_some_and(|o| {
                        !g.outputs().contains(&o)
                            && self.cons(o, true).iter().all(|c| region.contains(c))
                    })
                });
            if is_closed {
                closed.push(region.len());
            }
        }
        (region, closed)
    }

    /// A `Shape` (or `Size`) among `cons` that was not folded (the model leaves a size
    /// free): refused at the first node that uses the computed shape on the data path,
    /// e.g. a `Resize` whose sizes follow the input's.
    fn shape_read(&self, cons: &[NodeId]) -> Option<Error> {
        let g = self.g;
        let &shape = cons
            .iter()
            .find(|&&c| matches!(g.node(c).op_type.as_str(), "Shape" | "Size"))?;
        // Values computed from the shape, in topological order.
        let mut derived: HashSet<ValueId> =
            g.node(shape).outputs.iter().flatten().copied().collect();
        let mut user = None;
        for i in shape.0 + 1..g.nodes().len() {
            let node = g.node(NodeId(i));
            let data: Vec<ValueId> = node.data_inputs(g).collect();
            let reads = node.inputs.iter().flatten().any(|v| derived.contains(v));
            if !reads {
                continue;
            }
            if data.iter().any(|v| !derived.contains(v)) {
                user = Some(NodeId(i));
                break;
            }
            derived.extend(node.outputs.iter().flatten().copied());
        }
        let from = Name(g.node(shape).label());
        let what = match user.map(|u| g.node(u).op_type.as_str()) {
            Some("Resize" | "Upsample") => "its sizes depend",
            Some("Reshape" | "Expand" | "ConstantOfShape") => "its shape depends",
            Some(_) | None => "it depends",
        };
        Some(refuse(
            g,
            user.unwrap_or(shape),
            format!(
                "{what} on the run-time input's shape (read by {from}), which the grammar \
                 cannot express: export with a fixed input size"
            ),
        ))
    }

    /// `x · sigmoid(x)`: SiLU. Returns the product.
    fn silu(&self, cur: ValueId, cons: &[NodeId]) -> Option<ValueId> {
        let g = self.g;
        let [a, b] = cons else { return None };
        let (sig, mul) = if g.node(*a).kind == NodeKind::Pointwise(Pointwise::Sigmoid) {
            (*a, *b)
        } else {
            (*b, *a)
        };
        if g.node(sig).kind != NodeKind::Pointwise(Pointwise::Sigmoid)
            || g.node(mul).kind != NodeKind::Merge(Merge::Product)
        {
            return None;
        }
        let so = self.node_out(sig)?;
        let ins: Vec<ValueId> = g.node(mul).data_inputs(g).collect();
        let ok = ins.len() == 2
            && ins.contains(&cur)
            && ins.contains(&so)
            && self.cons(so, false) == [mul];
        ok.then(|| self.node_out(mul)).flatten()
    }

    /// The consumer of `cur` (in `cons`) on the way to `leaf`; `None` for the identity.
    fn branch_head(
        &self,
        cur: ValueId,
        cons: &[NodeId],
        leaf: ValueId,
        join: NodeId,
    ) -> Result<Option<NodeId>, Error> {
        if leaf == cur {
            return Ok(None);
        }
        let Some(p) = self.g.producer(leaf) else {
            return Err(refuse(
                self.g,
                join,
                "a branch that does not start at the fork",
            ));
        };
        let heads: Vec<NodeId> = cons
            .iter()
            .copied()
            .filter(|&c| self.reaches(c, p))
            .collect();
        match heads.as_slice() {
            [h] => Ok(Some(*h)),
            _ => Err(refuse(
                self.g,
                join,
                "its branches share nodes (the grammar's branches are separate lists)",
            )),
        }
    }

    /// The head of each leaf of a sum at `join` (`inner`: the sum's nodes), each consumer
    /// of `cur` heading exactly one branch.
    fn sum_heads(
        &self,
        cur: ValueId,
        cons: &[NodeId],
        leaves: &[ValueId],
        inner: &[NodeId],
        join: NodeId,
    ) -> Result<Vec<Option<NodeId>>, Error> {
        let heads: Vec<Option<NodeId>> = leaves
            .iter()
            .map(|&l| self.branch_head(cur, cons, l, join))
            .collect::<Result<_, _>>()?;
        let expected: HashSet<NodeId> = heads.iter().flatten().copied().collect();
        let all = cons
            .iter()
            .all(|c| expected.contains(c) || inner.contains(c));
        if !all || expected.len() != heads.iter().flatten().count() {
            return Err(refuse(self.g, join, "its branches share nodes"));
        }
        Ok(heads)
    }

    fn branch(
        &mut self,
        cur: ValueId,
        head: Option<NodeId>,
        leaf: ValueId,
    ) -> Result<Branch, Error> {
        let mut items = Vec::new();
        let Some(h) = head else {
            return Ok(Branch { pool: false, items });
        };
        let g = self.g;
        let node = g.node(h);
        let global = match node.kind {
            NodeKind::Global(Global::Pool) => node.op_type == "GlobalAveragePool",
            NodeKind::Global(Global::Reduce) => {
                node.op_type == "ReduceMean"
                    && self.node_out(h).is_some_and(|o| {
                        let s = g.value(o).shape.clone().unwrap_or_default();
                        let r = g.value(cur).shape.as_ref().map_or(0, Vec::len);
                        s.len() == r && s.len() > 2 && s[2..].iter().all(|d| d.known() == Some(1))
                    })
            }
            _ => false,
        };
        if !global {
            self.seq(cur, Some(leaf), Some(h), &mut items)?;
            return Ok(Branch { pool: false, items });
        }
        // Image pooling: global pool, items, broadcast back from 1×1.
        let Some(b) = g.producer(leaf) else {
            return Err(refuse(
                g,
                h,
                "a global pool whose branch is not broadcast back",
            ));
        };
        let bnode = g.node(b);
        let Some(bin) = bnode.data_inputs(g).next() else {
            return Err(refuse(g, b, "it has no input"));
        };
        let from_one = g
            .value(bin)
            .shape
            .as_ref()
            .is_some_and(|s| s.len() > 2 && s[2..].iter().all(|d| d.known() == Some(1)));
        let back = g
            .value(leaf)
            .shape
            .as_ref()
            .map(|s| s.get(2..).map(<[Dim]>::to_vec))
            == g.value(cur)
                .shape
                .as_ref()
                .map(|s| s.get(2..).map(<[Dim]>::to_vec));
        let broadcast = matches!(bnode.kind, NodeKind::Resize(_))
            || (bnode.op_type == "Expand"
                && bnode.kind == NodeKind::Pointwise(Pointwise::Identity));
        if !(broadcast && from_one && back) {
            return Err(refuse(
                g,
                b,
                "an image-pooling branch ends with a broadcast from 1×1 back to the input's size",
            ));
        }
        let Some(pooled) = self.node_out(h) else {
            return Err(refuse(g, h, "it has no output"));
        };
        self.seq(pooled, Some(bin), None, &mut items)?;
        Ok(Branch { pool: true, items })
    }

    /// A fork at `cur`: the block that joins its paths. Returns the block's output.
    fn fork(
        &mut self,
        cur: ValueId,
        cons: &[NodeId],
        end: Option<ValueId>,
        out: &mut Vec<Item>,
    ) -> Result<ValueId, Error> {
        let g = self.g;
        let exit = g.nodes().len();
        let j = cons[1..].iter().fold(cons[0].0, |a, c| self.meet(a, c.0));
        if j == exit {
            return Err(refuse(
                g,
                cons[0],
                "its paths do not merge back before the output",
            ));
        }
        let join = NodeId(j);
        if let Some(e) = end
            && let Some(pe) = g.producer(e)
            && pe.0 < j
        {
            return Err(refuse(
                g,
                join,
                "a block that ends outside the one being read",
            ));
        }
        let jout = self
            .node_out(join)
            .ok_or_else(|| refuse(g, join, "it has no output"))?;
        if self.nesting >= MAX_NESTING {
            return Err(refuse(
                g,
                join,
                format!("it closes a block nested deeper than {MAX_NESTING}, the grammar's limit"),
            ));
        }
        self.nesting += 1;
        let r = self.join(cur, cons, end, join, jout, out);
        self.nesting -= 1;
        r
    }

    /// The block closed by `join` (output `jout`) on the fork at `cur`.
    fn join(
        &mut self,
        cur: ValueId,
        cons: &[NodeId],
        end: Option<ValueId>,
        join: NodeId,
        jout: ValueId,
        out: &mut Vec<Item>,
    ) -> Result<ValueId, Error> {
        let g = self.g;
        match &g.node(join).kind {
            NodeKind::Merge(Merge::Sum) => {
                // The whole tree of adds as one sum of branches; where its leaves do not
                // all fork from `cur` (nested residual blocks), the join's own two inputs.
                let (tree, tree_nodes) = self.sum_leaves(join);
                let (leaves, heads) = match self.sum_heads(cur, cons, &tree, &tree_nodes, join) {
                    Ok(h) => (tree, h),
                    Err(e) => {
                        let direct: Vec<ValueId> = g.node(join).data_inputs(g).collect();
                        if direct == tree {
                            return Err(e);
                        }
                        let h = self.sum_heads(cur, cons, &direct, &[join], join)?;
                        (direct, h)
                    }
                };
                let mut branches = Vec::new();
                for (&l, &h) in leaves.iter().zip(&heads) {
                    branches.push(self.branch(cur, h, l)?);
                }
                if branches.iter().any(|b| b.pool) {
                    return Err(refuse(
                        g,
                        join,
                        "an image-pooling branch is concatenated, not added",
                    ));
                }
                if branches.len() == 2 {
                    let short = |b: &Branch| match b.items.as_slice() {
                        [] => 2,
                        [Item::Conv(c)] | [Item::Conv(c), Item::BatchNorm { .. }]
                            if c.desc().kernel == [1, 1] =>
                        {
                            1
                        }
                        _ => 0,
                    };
                    let (s0, s1) = (short(&branches[0]), short(&branches[1]));
                    if s0 > 0 || s1 > 0 {
                        let (body, shortcut) = if s1 >= s0 {
                            (branches.swap_remove(0), branches.pop())
                        } else {
                            let b1 = branches.pop();
                            (
                                b1.unwrap_or(Branch {
                                    pool: false,
                                    items: Vec::new(),
                                }),
                                branches.pop(),
                            )
                        };
                        let shortcut = shortcut.filter(|s| !s.items.is_empty()).map(|s| s.items);
                        // An activation right after the add.
                        let mut v = jout;
                        let mut activation = None;
                        if Some(jout) != end
                            && !self.taps.contains_key(&jout)
                            && let [a] = self.cons(jout, false)[..]
                            && let NodeKind::Pointwise(p) = g.node(a).kind
                            && let Some(w) = act_word(p)
                            && let Some(ao) = self.node_out(a)
                        {
                            activation = Some(w);
                            v = ao;
                        }
                        out.push(Item::Residual {
                            body: body.items,
                            shortcut,
                            activation,
                        });
                        return Ok(v);
                    }
                }
                out.push(Item::Parallel {
                    branches,
                    join: Join::Sum,
                });
                Ok(jout)
            }
            NodeKind::Concat { axis: 1 } => {
                let ins: Vec<ValueId> = g.node(join).data_inputs(g).collect();
                if ins.len() != g.node(join).inputs.len() {
                    return Err(refuse(g, join, "it concatenates a constant"));
                }
                // Hierarchical: inputs e0, e1, e1 + b2, (e1 + b2) + b3, …
                let mut leaves = ins.clone();
                let mut join_kind = Join::Concat;
                if ins.len() >= 3 {
                    let mut hier = vec![ins[0], ins[1]];
                    let mut ok = true;
                    for k in 2..ins.len() {
                        let Some(p) = g.producer(ins[k]).filter(|&p| self.is_sum(p)) else {
                            ok = false;
                            break;
                        };
                        let pin: Vec<ValueId> = g.node(p).data_inputs(g).collect();
                        match pin.as_slice() {
                            [a, b] if *a == ins[k - 1] => hier.push(*b),
                            [a, b] if *b == ins[k - 1] => hier.push(*a),
                            _ => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok {
                        leaves = hier;
                        join_kind = Join::Hierarchical;
                    }
                }
                let heads: Vec<Option<NodeId>> = leaves
                    .iter()
                    .map(|&l| self.branch_head(cur, cons, l, join))
                    .collect::<Result<_, _>>()?;
                let n_heads = heads.iter().flatten().count();
                let expected: HashSet<NodeId> = heads.iter().flatten().copied().collect();
                if expected.len() != n_heads
                    || cons.iter().any(|c| !expected.contains(c) && *c != join)
                {
                    return Err(refuse(g, join, "its branches share nodes"));
                }
                let mut branches = Vec::new();
                for (&l, &h) in leaves.iter().zip(&heads) {
                    branches.push(self.branch(cur, h, l)?);
                }
                if join_kind == Join::Hierarchical && branches.iter().any(|b| b.pool) {
                    return Err(refuse(
                        g,
                        join,
                        "an image-pooling branch in a hierarchical fusion",
                    ));
                }
                out.push(Item::Parallel {
                    branches,
                    join: join_kind,
                });
                Ok(jout)
            }
            NodeKind::Concat { .. } => Err(refuse(
                g,
                join,
                "a concat along an axis other than the channels",
            )),
            NodeKind::Merge(Merge::Product) => Err(refuse(
                g,
                join,
                "a product of branches other than WaveNet's gate (tanh and sigmoid of one conv's channel halves) or SiLU",
            )),
            _ => Err(refuse(
                g,
                join,
                format!(
                    "it joins branches with {}, which the grammar has no block for (it adds or concatenates)",
                    g.node(join).op_type
                ),
            )),
        }
    }
}

/// The element-wise ops [`Cx::scalar_regions`] collects.
const SCALAR_OPS: &[&str] = &[
    "Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid", "Neg", "Sqrt",
];

/// Sample points of a scalar function's argument: where GELU's two forms differ by far
/// more than `f32` rounding.
const SAMPLES: [f64; 13] = [
    -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0,
];

/// The values of `out` at [`SAMPLES`] of `cur`, evaluating `region` (nodes in topological
/// order); `None` when a node reads something other than the region's values and
/// one-element constants.
fn eval_region(g: &Graph, cur: ValueId, region: &[NodeId], out: ValueId) -> Option<Vec<f64>> {
    let mut result = Vec::with_capacity(SAMPLES.len());
    for x in SAMPLES {
        let mut vals: HashMap<ValueId, f64> = HashMap::from([(cur, x)]);
        for &id in region {
            let node = g.node(id);
            let mut args = Vec::with_capacity(node.inputs.len());
            for v in &node.inputs {
                let v = (*v)?;
                let a = match vals.get(&v) {
                    Some(a) => *a,
                    None => {
                        let t = g.value(v).constant.as_ref()?;
                        let f = t.to_f32("a scalar").ok()?;
                        let [f] = f[..] else { return None };
                        f64::from(f)
                    }
                };
                args.push(a);
            }
            let y = match (node.op_type.as_str(), &args[..]) {
                ("Add", &[a, b]) => a + b,
                ("Sub", &[a, b]) => a - b,
                ("Mul", &[a, b]) => a * b,
                ("Div", &[a, b]) => a / b,
                ("Pow", &[a, b]) => a.powf(b),
                ("Erf", &[a]) => erf(a),
                ("Tanh", &[a]) => a.tanh(),
                ("Sigmoid", &[a]) => 1.0 / (1.0 + (-a).exp()),
                ("Neg", &[a]) => -a,
                ("Sqrt", &[a]) => a.sqrt(),
                _ => return None,
            };
            vals.insert(node.outputs.first().copied().flatten()?, y);
        }
        result.push(*vals.get(&out)?);
    }
    Some(result)
}

/// Whether `values` (at [`SAMPLES`]) are `f`'s within `f32` rounding of the constants.
fn matches_fn(values: &[f64], f: fn(f64) -> f64) -> bool {
    values.len() == SAMPLES.len()
        && values
            .iter()
            .zip(SAMPLES)
            .all(|(&y, x)| (y - f(x)).abs() <= 1e-6 * (1.0 + x.abs()))
}

/// `erf` by its Taylor series: exact to about 1e-13 on the samples' range (`|x| ≤ 3`,
/// where the largest term is about 10³), `NaN` outside it.
fn erf(x: f64) -> f64 {
    if !x.is_finite() || x.abs() > 3.0 {
        return f64::NAN;
    }
    let mut term = x;
    let mut sum = x;
    for n in 1..100u32 {
        term *= -x * x / f64::from(n);
        sum += term / f64::from(2 * n + 1);
    }
    sum * std::f64::consts::FRAC_2_SQRT_PI
}

/// The exact GELU `x · ½ · (1 + erf(x / √2))`.
fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// GELU's `tanh` approximation `x · ½ · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
fn gelu_tanh(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_series_is_exact_on_the_samples_range() {
        // Reference values of erf (Abramowitz & Stegun, table 7.1).
        for (x, e) in [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
        ] {
            assert!((erf(x) - e).abs() < 1e-12, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + e).abs() < 1e-12);
        }
        assert!(erf(3.5).is_nan());
    }

    #[test]
    fn the_two_gelu_forms_are_told_apart() {
        let exact: Vec<f64> = SAMPLES.iter().map(|&x| gelu_erf(x)).collect();
        let approx: Vec<f64> = SAMPLES.iter().map(|&x| gelu_tanh(x)).collect();
        assert!(matches_fn(&exact, gelu_erf));
        assert!(matches_fn(&approx, gelu_tanh));
        assert!(!matches_fn(&approx, gelu_erf));
        assert!(!matches_fn(&exact, gelu_tanh));
        // √2 rounded to f32, as the exporters store it, still matches.
        let stored = std::f64::consts::SQRT_2 as f32;
        let f32_const: Vec<f64> = SAMPLES
            .iter()
            .map(|&x| 0.5 * x * (1.0 + erf(x / f64::from(stored))))
            .collect();
        assert!(matches_fn(&f32_const, gelu_erf));
        // Twice GELU (the product before the ½) does not.
        let twice: Vec<f64> = exact.iter().map(|y| 2.0 * y).collect();
        assert!(!matches_fn(&twice, gelu_erf));
    }
}

//! The execution plan, decided once when the graph is built: which ops fuse into chains of
//! convolutions, the steps that run, and where every value lives.
//!
//! **Fusion.** A conv absorbs the batch norm that is its only consumer (folded into its
//! weights), then the activation that is the only consumer of that (fused into the engine's
//! epilogue), then a PReLU that is the only consumer (run on the conv's output, in place).
//! A conv whose (absorbed) output has one consumer, another conv, continues the chain: the
//! whole chain is one engine `Network`, which keeps its fused stack paths. Dropouts vanish
//! (a value read through a dropout is read directly). A two-input add that takes over a
//! conv's output runs inside that conv's step once storage is decided ([`Plan::fuse_adds`]).
//!
//! **Sums of convs.** The convs among an add's inputs that share kernel, rate, stride,
//! padding, output channels and input size, with one group, no activation and no reader
//! but the add, run as one conv (a link with `merged` convs) over the channel
//! concatenation of their inputs: a concat step into a new value, whose slices the inputs
//! are written into directly as for any concat, then the conv. When they are the whole sum
//! the link takes the add (`sum`) with its activation, and the chain goes on from the add
//! as from a conv; otherwise the merged conv writes a new value the add sums in place of
//! the first of them.
//!
//! **Storage.** Values live in groups that share one region: an elementwise op (activation,
//! PReLU, batch norm, add) whose input dies there writes in place; an add may take over its
//! first or second input (so PyTorch's left-to-right sum order is kept: addition of two
//! operands commutes exactly). A concat's inputs are written straight into their channel
//! slices of its region when nothing else has claimed them (then the concat copies
//! nothing); a region with slices inside it is not written in place while a slice is still
//! read. The model's output group lives in the caller's output buffer; every other group
//! gets one of the scratch slots, shared by groups whose lives (first write to last read,
//! slices included) do not overlap. Slot sizes are set per run from the input size, so a
//! workspace grows once and then allocates nothing.
//!
//! Ops that do not lead to the output are not run (their tensors still load and save).

use super::node::{Node, Op, ValueId};
use crate::conv::{Activation, ConvDesc};
use crate::tensor::DYN;

/// One conv of a chain, with what it absorbed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    /// The conv node (the first of a merged sum).
    pub(crate) conv: usize,
    /// Convs summed with `conv` by one add and run as one conv with it: their (folded)
    /// weights concatenated after `conv`'s along the input channels, the biases summed;
    /// the link's input is the channel concatenation of their inputs. Empty for a plain
    /// conv.
    pub(crate) merged: Vec<usize>,
    /// The add node the merged conv computes whole (its activation is `act`), if it
    /// computes a whole add (a partial merge writes a value the add still sums).
    pub(crate) sum: Option<usize>,
    /// A batch norm folded into it.
    pub(crate) bn: Option<usize>,
    /// The activation in its epilogue (its own, or the absorbed node's).
    pub(crate) act: Activation,
    /// The activation node absorbed, if any.
    pub(crate) act_node: Option<usize>,
}

impl Link {
    /// A conv on its own, `act` in its epilogue.
    fn plain(conv: usize, act: Activation) -> Self {
        Self {
            conv,
            merged: Vec::new(),
            sum: None,
            bn: None,
            act,
            act_node: None,
        }
    }
}

/// Convs run as one engine network, and a PReLU after the last one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chain {
    pub(crate) links: Vec<Link>,
    pub(crate) prelu: Option<usize>,
}

/// Where a group of values lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    /// The caller's output buffer.
    Output,
    /// Scratch slot `k` of the workspace.
    Slot(usize),
}

/// A region at the top of the storage tree: a space, a channel count and the node whose
/// spatial size it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Root {
    pub(crate) space: Space,
    pub(crate) channels: usize,
    pub(crate) sized_by: usize,
}

/// A stored value: `channels` channels from channel `offset` of root `root` (per batch
/// item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) root: usize,
    pub(crate) offset: usize,
    pub(crate) channels: usize,
}

/// Where a step reads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// The model's input (read-only).
    Input,
    /// A stored value.
    At(Loc),
}

/// One step of the run. An elementwise step whose input is at its output's location runs
/// in place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Chain `chain` on the engine, then its PReLU, then `add` if any: all in the engine's
    /// pass over the chain's output (see [`Plan::fuse_adds`]).
    Conv {
        chain: usize,
        input: Src,
        output: Loc,
        add: Option<FusedAdd>,
    },
    /// A standalone activation.
    Act {
        input: Src,
        output: Loc,
        act: Activation,
    },
    /// A standalone PReLU (slopes of node `node`).
    Prelu {
        input: Src,
        output: Loc,
        node: usize,
    },
    /// A standalone batch norm (the affine map of node `node`).
    Affine {
        input: Src,
        output: Loc,
        node: usize,
    },
    /// `tanh(a) · sigmoid(b)`.
    Gate { input: Src, output: Loc },
    /// The sum of the inputs in order, then the activation.
    Add {
        inputs: Vec<Src>,
        output: Loc,
        act: Activation,
    },
    /// Copies the parts not already in place (each with its channel offset).
    Concat {
        parts: Vec<(Src, usize)>,
        output: Loc,
    },
    /// Global average pool.
    Pool { input: Src, output: Loc },
    /// 1×1 → the output's size.
    Broadcast { input: Src, output: Loc },
    /// A plain copy (a model whose output is its input).
    Copy { input: Src, output: Loc },
}

/// A two-input add run inside the conv step whose output it takes over:
/// `act(conv + residual)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FusedAdd {
    pub(crate) residual: Src,
    /// Whether the residual was the add's first input (so the unfused add is rebuilt as it
    /// was: [`Plan::unfuse_adds`]).
    pub(crate) residual_first: bool,
    pub(crate) act: Activation,
}

/// The plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) chains: Vec<Chain>,
    pub(crate) steps: Vec<Step>,
    pub(crate) roots: Vec<Root>,
    /// Scratch slots.
    pub(crate) slots: usize,
    /// Where the output is (in the output space).
    pub(crate) output: Loc,
    /// Whether node `i` runs (leads to the output and is not a dropout).
    pub(crate) live: Vec<bool>,
}

/// A step before storage is decided: values by index (`nodes.len()` is the pseudo-value a
/// copy of the input writes when the output is the input).
#[derive(Debug, Clone)]
enum Pre {
    Conv {
        chain: usize,
        input: usize,
        output: usize,
    },
    Act {
        input: usize,
        output: usize,
        act: Activation,
    },
    Prelu {
        input: usize,
        output: usize,
    },
    Affine {
        input: usize,
        output: usize,
    },
    Gate {
        input: usize,
        output: usize,
    },
    Add {
        inputs: Vec<usize>,
        output: usize,
        act: Activation,
    },
    Concat {
        inputs: Vec<usize>,
        output: usize,
    },
    Pool {
        input: usize,
        output: usize,
    },
    Broadcast {
        input: usize,
        output: usize,
    },
    Copy {
        input: usize,
        output: usize,
    },
}

impl Pre {
    fn output(&self) -> usize {
        match self {
            Pre::Conv { output, .. }
            | Pre::Act { output, .. }
            | Pre::Prelu { output, .. }
            | Pre::Affine { output, .. }
            | Pre::Gate { output, .. }
            | Pre::Add { output, .. }
            | Pre::Concat { output, .. }
            | Pre::Pool { output, .. }
            | Pre::Broadcast { output, .. }
            | Pre::Copy { output, .. } => *output,
        }
    }

    fn reads(&self) -> &[usize] {
        match self {
            Pre::Conv { input, .. }
            | Pre::Act { input, .. }
            | Pre::Prelu { input, .. }
            | Pre::Affine { input, .. }
            | Pre::Gate { input, .. }
            | Pre::Pool { input, .. }
            | Pre::Broadcast { input, .. }
            | Pre::Copy { input, .. } => std::slice::from_ref(input),
            Pre::Add { inputs, .. } | Pre::Concat { inputs, .. } => inputs,
        }
    }
}

/// A group of values sharing one region.
#[derive(Debug, Clone)]
struct Group {
    members: Vec<usize>,
    /// The concat group it sits in, and its channel offset there.
    parent: Option<(usize, usize)>,
    children: Vec<usize>,
    channels: usize,
}

fn conv_desc(node: &Node) -> Option<&ConvDesc> {
    match &node.op {
        Op::Conv { desc, .. } => Some(desc),
        Op::Input
        | Op::BatchNorm { .. }
        | Op::Activation(_)
        | Op::Prelu { .. }
        | Op::Gate
        | Op::Add { .. }
        | Op::Concat
        | Op::GlobalAvgPool
        | Op::Broadcast
        | Op::Dropout => None,
    }
}

/// The activation after an add (none for any other op).
fn sum_activation(op: &Op) -> Activation {
    match op {
        Op::Add { activation } => *activation,
        Op::Input
        | Op::Conv { .. }
        | Op::BatchNorm { .. }
        | Op::Activation(_)
        | Op::Prelu { .. }
        | Op::Gate
        | Op::Concat
        | Op::GlobalAvgPool
        | Op::Broadcast
        | Op::Dropout => Activation::Identity,
    }
}

/// What must agree for convs to be summed as one: kernel, rate, stride, padding, output
/// channels, and the spatial size of the input as far as the graph knows it.
type SumKey = (
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [[usize; 2]; 2],
    usize,
    [usize; 2],
);

/// The convs among an add's inputs `ins` that can run as one conv over the channel
/// concatenation of their inputs, in partitions of two or more (input order kept): each a
/// conv with one group and no activation of its own, read only by the add (`only_here`) and
/// once, of one geometry. Their inputs must have one spatial size: on an axis whose size is
/// only known at run time the stride must be 1 (then equal output sizes, which the add
/// checks, mean equal input sizes).
fn sum_partitions(
    nodes: &[Node],
    ins: &[usize],
    only_here: impl Fn(usize) -> bool,
    resolve: impl Fn(usize) -> usize,
) -> Vec<Vec<usize>> {
    let mut parts: Vec<(SumKey, Vec<usize>)> = Vec::new();
    for (p, &v) in ins.iter().enumerate() {
        let Some(d) = conv_desc(&nodes[v]) else {
            continue;
        };
        let z = resolve(nodes[v].inputs[0].0);
        let size = nodes[z].size;
        let fits = d.groups == 1
            && d.activation == Activation::Identity
            && only_here(v)
            && !ins[..p].contains(&v)
            && (0..2).all(|axis| size[axis] != DYN || d.stride[axis] == 1);
        if !fits {
            continue;
        }
        let key = (
            d.kernel,
            d.dilation,
            d.stride,
            d.padding,
            d.out_channels,
            size,
        );
        match parts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, part)) => part.push(v),
            None => parts.push((key, vec![v])),
        }
    }
    parts
        .into_iter()
        .filter(|(_, part)| part.len() >= 2)
        .map(|(_, part)| part)
        .collect()
}

/// The storage decisions, made step by step.
struct Storage<'a> {
    groups: Vec<Group>,
    group_of: Vec<usize>,
    def: &'a [usize],
    last: &'a [usize],
}

impl Storage<'_> {
    fn new_group(&mut self, v: usize, channels: usize) -> usize {
        self.groups.push(Group {
            members: vec![v],
            parent: None,
            children: Vec::new(),
            channels,
        });
        self.group_of[v] = self.groups.len() - 1;
        self.groups.len() - 1
    }

    /// Whether every value in the slices inside group `g` is last read before step `s`.
    fn slices_dead_before(&self, g: usize, s: usize) -> bool {
        self.groups[g].children.iter().all(|&c| {
            self.groups[c].members.iter().all(|&m| self.last[m] < s)
                && self.slices_dead_before(c, s)
        })
    }

    /// Whether step `s` may write its output over value `i`.
    fn in_place(&self, i: usize, s: usize) -> bool {
        if i == 0 || self.last[i] != s {
            return false;
        }
        let g = self.group_of[i];
        self.groups[g].parent.is_none() && self.slices_dead_before(g, s)
    }

    /// The top group above `g` and `g`'s channel offset in it.
    fn top(&self, mut g: usize) -> (usize, usize) {
        let mut offset = 0;
        while let Some((p, o)) = self.groups[g].parent {
            offset += o;
            g = p;
        }
        (g, offset)
    }

    /// First write and last read of every value in group `g` and the slices inside it.
    fn span(&self, g: usize) -> (usize, usize) {
        let grp = &self.groups[g];
        let mut lo = grp.members.iter().map(|&m| self.def[m]).min().unwrap_or(0);
        let mut hi = grp.members.iter().map(|&m| self.last[m]).max().unwrap_or(0);
        for &c in &grp.children {
            let (a, b) = self.span(c);
            lo = lo.min(a);
            hi = hi.max(b);
        }
        (lo, hi)
    }
}

impl Plan {
    /// Plans a checked graph (every input index below its node, node 0 the input).
    pub(crate) fn new(nodes: &[Node], output: ValueId, merge: bool) -> Self {
        let n = nodes.len();
        let resolve = |mut v: usize| {
            while matches!(nodes[v].op, Op::Dropout) {
                v = nodes[v].inputs[0].0;
            }
            v
        };
        // Data inputs (a broadcast reads only the size of its second input).
        let data_inputs = |i: usize| -> Vec<usize> {
            let node = &nodes[i];
            let k = if matches!(node.op, Op::Broadcast) {
                1
            } else {
                node.inputs.len()
            };
            node.inputs[..k].iter().map(|v| resolve(v.0)).collect()
        };
        let out = resolve(output.0);
        let mut live = vec![false; n];
        live[out] = true;
        for i in (0..n).rev() {
            if live[i] {
                for j in data_inputs(i) {
                    live[j] = true;
                }
            }
        }
        let mut uses: Vec<Vec<usize>> = vec![Vec::new(); n];
        for i in (0..n).filter(|&i| live[i]) {
            for j in data_inputs(i) {
                uses[j].push(i);
            }
        }
        let sole = |v: usize| (v != out && uses[v].len() == 1).then(|| uses[v][0]);

        // Sums of convs computed as one conv (each partition of an add's inputs).
        let mut absorbed = vec![false; n];
        let mut merge_at: Vec<Vec<Vec<usize>>> = vec![Vec::new(); n];
        if merge {
            for a in (0..n).filter(|&a| live[a] && matches!(nodes[a].op, Op::Add { .. })) {
                let parts = sum_partitions(nodes, &data_inputs(a), |v| sole(v) == Some(a), resolve);
                for &v in parts.iter().flatten() {
                    absorbed[v] = true;
                }
                merge_at[a] = parts;
            }
        }
        // Values beyond the nodes: `n` (a copy of the input), then the channel
        // concatenations and the partial sums of the merges. Their channels and the node
        // whose spatial size they have.
        let mut extra: Vec<(usize, usize)> = vec![(nodes[0].channels, 0)];
        let mut fresh = |channels: usize, sized_by: usize| {
            extra.push((channels, sized_by));
            n + extra.len() - 1
        };

        // Chains.
        let mut chains = Vec::new();
        let mut chain_at = vec![None; n];
        let mut chain_out = Vec::new();
        // Per add with merges: (chain, its input's concatenation, its output) per partition.
        let mut merged_steps: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); n];
        for c in 0..n {
            if !live[c] || absorbed[c] {
                continue;
            }
            let starts: Vec<(Link, usize)> = if let Some(d) = conv_desc(&nodes[c]) {
                vec![(Link::plain(c, d.activation), c)]
            } else if !merge_at[c].is_empty() {
                let whole = merge_at[c].len() == 1 && merge_at[c][0].len() == data_inputs(c).len();
                let act = if whole {
                    sum_activation(&nodes[c].op)
                } else {
                    Activation::Identity
                };
                merge_at[c]
                    .iter()
                    .map(|part| {
                        let link = Link {
                            conv: part[0],
                            merged: part[1..].to_vec(),
                            sum: whole.then_some(c),
                            bn: None,
                            act,
                            act_node: None,
                        };
                        (link, c)
                    })
                    .collect()
            } else {
                continue;
            };
            for (first, start) in starts {
                let is_sum = !first.merged.is_empty();
                let whole = first.sum.is_some();
                let part: Vec<usize> = std::iter::once(first.conv)
                    .chain(first.merged.iter().copied())
                    .collect();
                let mut links = Vec::new();
                let mut prelu = None;
                let mut link = first;
                let mut cur = start;
                let end = if is_sum && !whole {
                    // A partial sum: the add still sums its result with the rest.
                    links.push(link);
                    fresh(nodes[part[0]].channels, part[0])
                } else {
                    loop {
                        if link.act == Activation::Identity {
                            if let Some(b) =
                                sole(cur).filter(|&b| matches!(nodes[b].op, Op::BatchNorm { .. }))
                            {
                                link.bn = Some(b);
                                absorbed[b] = true;
                                cur = b;
                            }
                            if let Some(a) = sole(cur)
                                && let Op::Activation(f) = nodes[a].op
                            {
                                link.act = f;
                                link.act_node = Some(a);
                                absorbed[a] = true;
                                cur = a;
                            }
                        }
                        links.push(link);
                        match sole(cur) {
                            Some(p) if matches!(nodes[p].op, Op::Prelu { .. }) => {
                                prelu = Some(p);
                                absorbed[p] = true;
                                break p;
                            }
                            Some(next) if !absorbed[next] && conv_desc(&nodes[next]).is_some() => {
                                absorbed[next] = true;
                                let act = conv_desc(&nodes[next])
                                    .map_or(Activation::Identity, |d| d.activation);
                                link = Link::plain(next, act);
                                cur = next;
                            }
                            Some(_) | None => break cur,
                        }
                    }
                };
                if is_sum {
                    let zs: Vec<usize> = part
                        .iter()
                        .map(|&v| resolve(nodes[v].inputs[0].0))
                        .collect();
                    let width = zs.iter().map(|&z| nodes[z].channels).sum();
                    let cat = fresh(width, zs[0]);
                    merged_steps[c].push((chains.len(), cat, end));
                } else {
                    chain_at[c] = Some(chains.len());
                }
                chains.push(Chain { links, prelu });
                chain_out.push(end);
            }
        }

        // Steps in node order.
        let mut pre = Vec::new();
        for i in 1..n {
            if !live[i] {
                continue;
            }
            if !merged_steps[i].is_empty() {
                let mut sums = Vec::new();
                for &(chain, cat, end) in &merged_steps[i] {
                    let part = &merge_at[i][sums.len()];
                    pre.push(Pre::Concat {
                        inputs: part
                            .iter()
                            .map(|&v| resolve(nodes[v].inputs[0].0))
                            .collect(),
                        output: cat,
                    });
                    pre.push(Pre::Conv {
                        chain,
                        input: cat,
                        output: end,
                    });
                    sums.push(end);
                }
                if chains[merged_steps[i][0].0].links[0].sum.is_none() {
                    // The partial sums, each where its first conv was, and the rest in order.
                    let mut inputs = Vec::new();
                    for v in data_inputs(i) {
                        match merge_at[i].iter().position(|p| p.contains(&v)) {
                            Some(k) if merge_at[i][k][0] == v => inputs.push(sums[k]),
                            Some(_) => {}
                            None => inputs.push(v),
                        }
                    }
                    let act = sum_activation(&nodes[i].op);
                    pre.push(Pre::Add {
                        inputs,
                        output: i,
                        act,
                    });
                }
                continue;
            }
            if absorbed[i] {
                continue;
            }
            let input = nodes[i].inputs.first().map_or(0, |v| resolve(v.0));
            let step = match &nodes[i].op {
                Op::Conv { .. } => match chain_at[i] {
                    Some(chain) => Pre::Conv {
                        chain,
                        input,
                        output: chain_out[chain],
                    },
                    None => continue,
                },
                Op::BatchNorm { .. } => Pre::Affine { input, output: i },
                Op::Activation(act) => Pre::Act {
                    input,
                    output: i,
                    act: *act,
                },
                Op::Prelu { .. } => Pre::Prelu { input, output: i },
                Op::Gate => Pre::Gate { input, output: i },
                Op::Add { activation } => Pre::Add {
                    inputs: data_inputs(i),
                    output: i,
                    act: *activation,
                },
                Op::Concat => Pre::Concat {
                    inputs: data_inputs(i),
                    output: i,
                },
                Op::GlobalAvgPool => Pre::Pool { input, output: i },
                Op::Broadcast => Pre::Broadcast { input, output: i },
                Op::Input | Op::Dropout => continue,
            };
            pre.push(step);
        }
        let final_out = if out == 0 {
            pre.push(Pre::Copy {
                input: 0,
                output: n,
            });
            n
        } else {
            out
        };
        let total = n + extra.len();
        let channels = |v: usize| {
            if v < n {
                nodes[v].channels
            } else {
                extra[v - n].0
            }
        };
        let sized_by = |v: usize| if v < n { v } else { extra[v - n].1 };

        // Lives, in 1-based step indices (the input is written at 0, the output read after
        // the last step).
        let mut def = vec![0; total];
        let mut last = vec![0; total];
        for (s, step) in pre.iter().enumerate() {
            for &v in step.reads() {
                last[v] = s + 1;
            }
            def[step.output()] = s + 1;
        }
        last[final_out] = pre.len() + 1;

        let mut st = Storage {
            groups: Vec::new(),
            group_of: vec![usize::MAX; total],
            def: &def,
            last: &last,
        };
        for (s, step) in pre.iter().enumerate() {
            let s = s + 1;
            let o = step.output();
            let over = match step {
                Pre::Act { input, .. } | Pre::Prelu { input, .. } | Pre::Affine { input, .. } => {
                    st.in_place(*input, s).then_some(*input)
                }
                // Over an input read once only (a repeated one must keep its value); of two
                // inputs, a conv's output computed after the other first, so the add can
                // run inside the conv's step (`Plan::fuse_adds`).
                Pre::Add { inputs, .. } => {
                    let free = |i: usize| {
                        inputs.iter().filter(|&&j| j == i).count() == 1 && st.in_place(i, s)
                    };
                    let conv_last = |i: usize| {
                        inputs.len() == 2
                            && def[i] > 0
                            && matches!(pre[def[i] - 1], Pre::Conv { output, .. } if output == i)
                            && inputs.iter().all(|&j| j == i || def[j] < def[i])
                    };
                    let two = &inputs[..inputs.len().min(2)];
                    two.iter()
                        .copied()
                        .find(|&i| conv_last(i) && free(i))
                        .or_else(|| two.iter().copied().find(|&i| free(i)))
                }
                Pre::Conv { .. }
                | Pre::Gate { .. }
                | Pre::Concat { .. }
                | Pre::Pool { .. }
                | Pre::Broadcast { .. }
                | Pre::Copy { .. } => None,
            };
            match over {
                Some(i) => {
                    let g = st.group_of[i];
                    st.groups[g].members.push(o);
                    st.group_of[o] = g;
                }
                None => {
                    let g = st.new_group(o, channels(o));
                    if let Pre::Concat { inputs, .. } = step {
                        let mut offset = 0;
                        for (p, &i) in inputs.iter().enumerate() {
                            let first = !inputs[..p].contains(&i);
                            if first && i != 0 && st.groups[st.group_of[i]].parent.is_none() {
                                let gi = st.group_of[i];
                                st.groups[gi].parent = Some((g, offset));
                                st.groups[g].children.push(gi);
                            }
                            offset += channels(i);
                        }
                    }
                }
            }
        }

        // Roots: the output's group in the output buffer, the others in slots by lifetime.
        let out_group = st.top(st.group_of[final_out]).0;
        let mut tops: Vec<usize> = (0..st.groups.len())
            .filter(|&g| st.groups[g].parent.is_none())
            .collect();
        tops.sort_by_key(|&g| (st.span(g).0, g));
        let mut slot_end: Vec<usize> = Vec::new();
        let mut root_of = vec![usize::MAX; st.groups.len()];
        let mut roots = Vec::new();
        for &g in &tops {
            let space = if g == out_group {
                Space::Output
            } else {
                let (start, end) = st.span(g);
                let k = match slot_end.iter().position(|&e| e < start) {
                    Some(k) => {
                        slot_end[k] = end;
                        k
                    }
                    None => {
                        slot_end.push(end);
                        slot_end.len() - 1
                    }
                };
                Space::Slot(k)
            };
            root_of[g] = roots.len();
            roots.push(Root {
                space,
                channels: st.groups[g].channels,
                sized_by: sized_by(st.groups[g].members[0]),
            });
        }
        let loc = |v: usize| {
            let (top, offset) = st.top(st.group_of[v]);
            Loc {
                root: root_of[top],
                offset,
                channels: channels(v),
            }
        };
        let src = |v: usize| if v == 0 { Src::Input } else { Src::At(loc(v)) };

        let steps = pre
            .iter()
            .map(|step| match step {
                Pre::Conv {
                    chain,
                    input,
                    output,
                } => Step::Conv {
                    chain: *chain,
                    input: src(*input),
                    output: loc(*output),
                    add: None,
                },
                Pre::Act { input, output, act } => Step::Act {
                    input: src(*input),
                    output: loc(*output),
                    act: *act,
                },
                Pre::Prelu { input, output } => Step::Prelu {
                    input: src(*input),
                    output: loc(*output),
                    node: *output,
                },
                Pre::Affine { input, output } => Step::Affine {
                    input: src(*input),
                    output: loc(*output),
                    node: *output,
                },
                Pre::Gate { input, output } => Step::Gate {
                    input: src(*input),
                    output: loc(*output),
                },
                Pre::Add {
                    inputs,
                    output,
                    act,
                } => Step::Add {
                    inputs: inputs.iter().map(|&i| src(i)).collect(),
                    output: loc(*output),
                    act: *act,
                },
                Pre::Concat { inputs, output } => {
                    let out = loc(*output);
                    let mut parts = Vec::new();
                    let mut offset = 0;
                    for &i in inputs {
                        let s = src(i);
                        let slice = Src::At(Loc {
                            offset: out.offset + offset,
                            channels: channels(i),
                            root: out.root,
                        });
                        if s != slice {
                            parts.push((s, offset));
                        }
                        offset += channels(i);
                    }
                    Step::Concat { parts, output: out }
                }
                Pre::Pool { input, output } => Step::Pool {
                    input: src(*input),
                    output: loc(*output),
                },
                Pre::Broadcast { input, output } => Step::Broadcast {
                    input: src(*input),
                    output: loc(*output),
                },
                Pre::Copy { input, output } => Step::Copy {
                    input: src(*input),
                    output: loc(*output),
                },
            })
            .collect();
        let output = loc(final_out);
        let mut plan = Self {
            chains,
            steps,
            roots,
            slots: slot_end.len(),
            output,
            live,
        };
        plan.fuse_adds();
        plan
    }

    /// **Adds inside the conv.** A two-input add that takes over the output of a conv step
    /// (the conv's value is read by the add only, and the add writes in its place) runs
    /// inside that conv step: the engine adds the other input (the residual) and applies
    /// the add's activation right after the chain's last layer, on the network's threads
    /// (the add step ran on the caller's alone). The step stays where the conv was, so the
    /// residual must already hold its value there and keep it until the add: no step in
    /// between writes where the residual or the conv's output lives, or reads the conv's
    /// output. Float addition commutes exactly, so the sum is the add's, bit for bit.
    fn fuse_adds(&mut self) {
        let mut kept: Vec<Step> = Vec::with_capacity(self.steps.len());
        for step in std::mem::take(&mut self.steps) {
            match fusable(&kept, &step) {
                Some((c, add)) => {
                    if let Step::Conv { add: slot, .. } = &mut kept[c] {
                        *slot = Some(add);
                    }
                }
                None => kept.push(step),
            }
        }
        self.steps = kept;
    }

    /// The same plan with every fused add run as its own step again, right after its conv
    /// (where the conv's value was complete): the reference the fused plan is tested
    /// against.
    pub(crate) fn unfuse_adds(&self) -> Plan {
        let mut steps = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let mut s = s.clone();
            let unfused = match &mut s {
                Step::Conv { output, add, .. } => add.take().map(|f| {
                    let me = Src::At(*output);
                    Step::Add {
                        inputs: if f.residual_first {
                            vec![f.residual, me]
                        } else {
                            vec![me, f.residual]
                        },
                        output: *output,
                        act: f.act,
                    }
                }),
                Step::Act { .. }
                | Step::Prelu { .. }
                | Step::Affine { .. }
                | Step::Gate { .. }
                | Step::Add { .. }
                | Step::Concat { .. }
                | Step::Pool { .. }
                | Step::Broadcast { .. }
                | Step::Copy { .. } => None,
            };
            steps.push(s);
            steps.extend(unfused);
        }
        Plan {
            steps,
            ..self.clone()
        }
    }
}

/// The conv step of `done` (the steps before it, fused adds already gone) that `step`, an
/// add, can run in, and the add as it would run there ([`Plan::fuse_adds`]).
fn fusable(done: &[Step], step: &Step) -> Option<(usize, FusedAdd)> {
    let Step::Add {
        inputs,
        output,
        act,
    } = step
    else {
        return None;
    };
    let here = Src::At(*output);
    let [x0, x1] = inputs.as_slice() else {
        return None;
    };
    let (residual, residual_first) = match (*x0 == here, *x1 == here) {
        (true, false) => (*x1, false),
        (false, true) => (*x0, true),
        _ => return None,
    };
    if overlaps(residual, *output) {
        return None;
    }
    // The last step before the add to write where the add's output lives: the conv.
    let c = (0..done.len())
        .rev()
        .find(|&s| overlaps(Src::At(done[s].output()), *output))?;
    let Step::Conv {
        output: conv_out,
        add: None,
        ..
    } = &done[c]
    else {
        return None;
    };
    if conv_out != output {
        return None;
    }
    let quiet = done[c + 1..].iter().all(|s| {
        !overlaps(residual, s.output()) && !overlaps(here, s.output()) && !s.reads_from(*output)
    });
    quiet.then_some((
        c,
        FusedAdd {
            residual,
            residual_first,
            act: *act,
        },
    ))
}

/// Whether a read of `src` touches any channel of `loc` (the input never does).
fn overlaps(src: Src, loc: Loc) -> bool {
    match src {
        Src::Input => false,
        Src::At(l) => {
            l.root == loc.root
                && l.offset < loc.offset + loc.channels
                && loc.offset < l.offset + l.channels
        }
    }
}

impl Step {
    /// Where the step writes (a concat: the whole of its output, its parts included).
    fn output(&self) -> Loc {
        match self {
            Step::Conv { output, .. }
            | Step::Act { output, .. }
            | Step::Prelu { output, .. }
            | Step::Affine { output, .. }
            | Step::Gate { output, .. }
            | Step::Add { output, .. }
            | Step::Concat { output, .. }
            | Step::Pool { output, .. }
            | Step::Broadcast { output, .. }
            | Step::Copy { output, .. } => *output,
        }
    }

    /// Whether the step reads any channel of `loc`.
    fn reads_from(&self, loc: Loc) -> bool {
        match self {
            Step::Conv { input, add, .. } => {
                overlaps(*input, loc) || add.is_some_and(|f| overlaps(f.residual, loc))
            }
            Step::Act { input, .. }
            | Step::Prelu { input, .. }
            | Step::Affine { input, .. }
            | Step::Gate { input, .. }
            | Step::Pool { input, .. }
            | Step::Broadcast { input, .. }
            | Step::Copy { input, .. } => overlaps(*input, loc),
            Step::Add { inputs, .. } => inputs.iter().any(|&i| overlaps(i, loc)),
            Step::Concat { parts, .. } => parts.iter().any(|&(s, _)| overlaps(s, loc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::Rank;
    use crate::model::{ModelBuilder, ModelGraph, WeightNorm};

    fn concats(graph: &ModelGraph) -> Vec<usize> {
        graph
            .inner
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Concat { parts, .. } => Some(parts.len()),
                Step::Conv { .. }
                | Step::Act { .. }
                | Step::Prelu { .. }
                | Step::Affine { .. }
                | Step::Gate { .. }
                | Step::Add { .. }
                | Step::Pool { .. }
                | Step::Broadcast { .. }
                | Step::Copy { .. } => None,
            })
            .collect()
    }

    /// ESPNet's fusion: branches, hierarchical adds, concat, residual add, BN, PReLU.
    #[test]
    fn branches_write_into_their_concat_slices_and_adds_run_in_place() {
        let mut b = ModelBuilder::new(Rank::Two, 8);
        let x = b.input();
        let d: Vec<ValueId> = [1, 2, 4, 8]
            .iter()
            .map(|&r| {
                b.conv(
                    x,
                    &format!("d{r}"),
                    ConvDesc::same_2d(8, 2, 3, r),
                    WeightNorm::None,
                )
                .unwrap()
            })
            .collect();
        let a2 = b.add(&[d[1], d[2]], Activation::Identity).unwrap();
        let a3 = b.add(&[a2, d[3]], Activation::Identity).unwrap();
        let cat = b.concat(&[d[0], d[1], a2, a3]).unwrap();
        let y = b.add(&[x, cat], Activation::Identity).unwrap();
        let y = b.batch_norm(y, "bn", 1e-5).unwrap();
        let y = b.prelu(y, "act", 8).unwrap();
        b.output(y).unwrap();
        let graph = b.build().unwrap();
        let plan = &graph.inner.plan;
        // Every branch (and every add) sits in its slice: the concat copies nothing.
        assert_eq!(concats(&graph), [0]);
        // The adds take over their second input (the first is still read by the concat),
        // the two that sum a branch's conv inside that conv's step.
        let adds: Vec<(bool, bool)> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Add { inputs, output, .. } => Some((false, inputs[1] == Src::At(*output))),
                Step::Conv { add: Some(f), .. } => Some((true, f.residual_first)),
                Step::Conv { .. }
                | Step::Act { .. }
                | Step::Prelu { .. }
                | Step::Affine { .. }
                | Step::Gate { .. }
                | Step::Concat { .. }
                | Step::Pool { .. }
                | Step::Broadcast { .. }
                | Step::Copy { .. } => None,
            })
            .collect();
        assert_eq!(adds, [(true, true), (true, true), (false, true)]);
        // The concat, the residual add, the BN and the PReLU all live in the output: no
        // scratch at all.
        assert_eq!(plan.slots, 0);
        assert_eq!(plan.roots.len(), 1);
    }

    /// WaveNet's skips: the gate outputs die at their 1×1 convs, the skip sum runs in
    /// place, and the scratch slots are shared across blocks.
    #[test]
    fn wavenet_buffers_are_reused_across_blocks() {
        let mut b = ModelBuilder::new(Rank::One, 4);
        let mut h = b.input();
        let mut skips = Vec::new();
        for i in 0..6 {
            let z = b
                .conv(
                    h,
                    &format!("{i}.d"),
                    ConvDesc::causal_1d(4, 8, 2, 1 << i),
                    WeightNorm::None,
                )
                .unwrap();
            let g = b.gate(z).unwrap();
            let r = b
                .conv(
                    g,
                    &format!("{i}.r"),
                    ConvDesc::causal_1d(4, 4, 1, 1),
                    WeightNorm::None,
                )
                .unwrap();
            skips.push(
                b.conv(
                    g,
                    &format!("{i}.s"),
                    ConvDesc::causal_1d(4, 4, 1, 1),
                    WeightNorm::None,
                )
                .unwrap(),
            );
            h = b.add(&[h, r], Activation::Identity).unwrap();
        }
        let s = b.add(&skips, Activation::Relu).unwrap();
        b.output(s).unwrap();
        let graph = b.build().unwrap();
        // Unmerged, live at once at most: the residual stream, the dilated conv's output,
        // the gate, a residual branch or the skips kept for the final sum (6 of them, the
        // last in the output). 18 convs, each its own chain, but the last residual conv
        // leads nowhere: not run.
        let unmerged = graph.without_sum_merge();
        assert!(
            unmerged.scratch_buffers() <= 10,
            "{}",
            unmerged.scratch_buffers()
        );
        assert_eq!(unmerged.inner.plan.chains.len(), 17);
        // Merged, the six skip convs are one conv over the concatenation of the gate
        // outputs, each written straight into its slice (the concat copies nothing): the
        // skips are never stored, and the sum with its ReLU is that conv's output.
        assert_eq!(graph.inner.plan.chains.len(), 12);
        assert_eq!(concats(&graph), [0]);
        assert!(
            !graph
                .inner
                .plan
                .steps
                .iter()
                .any(|s| matches!(s, Step::Add { inputs, .. } if inputs.len() == 6))
        );
        assert!(graph.scratch_buffers() <= 5, "{}", graph.scratch_buffers());
        // The five residual adds that run (the sixth leads nowhere) each inside its block's
        // residual conv.
        assert_eq!(graph.fused_ops(), (12, 11));
        assert_eq!(graph.without_fused_adds().fused_ops(), (12, 6));
    }

    #[test]
    fn a_region_with_live_slices_is_not_written_in_place() {
        // y = relu(concat(a, b)) while `a` is still read afterwards: the ReLU must not run
        // over the concat (that would change `a`).
        let mut bld = ModelBuilder::new(Rank::Two, 2);
        let x = bld.input();
        let a = bld
            .conv(x, "a", ConvDesc::same_2d(2, 2, 1, 1), WeightNorm::None)
            .unwrap();
        let b = bld
            .conv(x, "b", ConvDesc::same_2d(2, 2, 1, 1), WeightNorm::None)
            .unwrap();
        let cat = bld.concat(&[a, b]).unwrap();
        let r = bld.activation(cat, Activation::Relu).unwrap();
        let p = bld
            .conv(a, "p", ConvDesc::same_2d(2, 4, 1, 1), WeightNorm::None)
            .unwrap();
        let y = bld.add(&[r, p], Activation::Identity).unwrap();
        bld.output(y).unwrap();
        let graph = bld.build().unwrap();
        let relu_in_place =
            graph.inner.plan.steps.iter().any(
                |s| matches!(s, Step::Act { input, output, .. } if *input == Src::At(*output)),
            );
        assert!(!relu_in_place);
        assert_eq!(concats(&graph), [0]);
    }
}

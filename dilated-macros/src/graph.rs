//! Phase 2 for block stacks: the items → a flat graph of ops (each with its `state_dict`
//! module path, channels, spatial size and jump), the structural checks that need them
//! (channels at adds, concats and convs, gates on odd counts, spatial sizes that differ
//! between branches, a causal body beside a non-causal shortcut, a skip sum with no skip),
//! and the schedule verdict of [`dilated_core::schedule::graph`]: holes over every path
//! (global context excluded, the input's declared field included), HDC per chain, with the
//! same check ids, levels and words as a chain, each spanned on the rate (or the block)
//! that opens the first hole.

use std::fmt::Write as _;

use proc_macro2::Span;

use dilated_core::heatmap;
use dilated_core::schedule::formula::{self, to_u64};
use dilated_core::schedule::graph::{
    Graph, GraphOptions, GraphReport, InputField, NodeId, OutputReport,
};
use dilated_core::schedule::{self, AxisSpec, CheckId, Level, Levels, PadMode};

use crate::ast::{Act, Conv, Dims, Item, MAX_VALUE, PadSyntax, Stack};
use crate::block::{Join, Parallel, Residual};
use crate::ctxt::Ctxt;

/// One op of the lowered graph.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Input,
    /// A conv with its resolved padding `[[top, bottom], [left, right]]`.
    Conv {
        conv: Box<Conv>,
        padding: [[usize; 2]; 2],
    },
    BatchNorm(f32),
    Act(Act),
    Prelu,
    Gate,
    /// Sum of the inputs in order, then the activation.
    Add(Option<Act>),
    Concat,
    GlobalPool,
    /// Input 0 (1×1) broadcast over input 1's size.
    Broadcast,
    Dropout,
}

/// One value of the lowered graph.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) inputs: Vec<usize>,
    /// The module path of its tensors (`3.body.0`); empty for parameterless ops.
    pub(crate) prefix: String,
    pub(crate) channels: usize,
    /// `[h, w]`, `None` where known only at run time.
    pub(crate) size: [Option<usize>; 2],
    /// Input positions between neighbouring positions, per axis (the product of strides).
    pub(crate) jump: [u64; 2],
    /// The size per axis as a function of the input's, for every input size; `None` past
    /// a global pool (a fixed 1×1).
    pub(crate) sym: Option<[Sym; 2]>,
    /// Some conv on a path reads ahead (a non-causal padding with a kernel above 1).
    pub(crate) ahead: bool,
    /// Some conv on a path is causally padded.
    pub(crate) causal: bool,
    /// The token findings about this op point at.
    pub(crate) span: Span,
}

/// A size as a function of the input's size `n` along one axis: `⌊(n + add) / div⌋`.
/// A conv maps `m` to `⌊(m + p − e) / s⌋ + 1 = ⌊(m + a) / s⌋` with `a = p − e + s`, and
/// `⌊(⌊(n + A) / S⌋ + a) / s⌋ = ⌊(n + A + a·S) / (S·s)⌋`: every chain of convs has this
/// form, and two of them agree for every `n` exactly when `add` and `div` agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sym {
    pub(crate) add: i128,
    pub(crate) div: u64,
}

impl Sym {
    /// The input itself.
    const INPUT: Self = Self { add: 0, div: 1 };

    /// `⌊(n + 1)/2⌋`, `n − 2`, `n` as written in a message.
    fn text(self) -> String {
        let sum = match self.add {
            0 => "n".to_owned(),
            a if a > 0 => format!("n + {a}"),
            a => format!("n − {}", a.unsigned_abs()),
        };
        if self.div == 1 {
            sum
        } else {
            format!("⌊({sum})/{}⌋", self.div)
        }
    }
}

/// What a stack that takes another stack's output as its input (`input: Backbone`) needs
/// checked once `Backbone`'s consts are known.
pub(crate) struct Composed {
    /// The raw receptive field per axis `[h, w]`, in input positions (`h` = 1 in 1D).
    pub(crate) ext: [u64; 2],
    /// When holes are denied: for each window height `w_h` in `1..=ext[0]` (input
    /// positions one position of `Backbone` sees, `⌊rf / jump⌋`), the narrowest window
    /// width that leaves no holes (0: none does).
    pub(crate) stair: Option<Vec<u64>>,
    /// The smallest window `w` (the same on both axes) that leaves no holes.
    pub(crate) square: u64,
    /// The smallest input size per axis every conv has an output for.
    pub(crate) n_min: [u64; 2],
}

/// Everything the expansion of a block stack needs.
pub(crate) struct GraphPlan {
    pub(crate) nodes: Vec<Node>,
    pub(crate) output: usize,
    /// Receptive field per axis `[h, w]`, in input pixels (the declared field included).
    pub(crate) rf: [usize; 2],
    pub(crate) verdict: String,
    /// The coverage row (1D) as text, when counted densely.
    pub(crate) coverage: Option<String>,
    pub(crate) svg: Option<String>,
    /// Why there is no picture, when there is none.
    pub(crate) no_picture: Option<String>,
    /// Input positions between neighbouring output positions, per axis (the declared
    /// field's jump included).
    pub(crate) jump: [u64; 2],
    /// `input: Backbone`: what the generated consts check.
    pub(crate) composed: Option<Composed>,
}

struct Walk<'a> {
    cx: &'a Ctxt,
    dims: Dims,
    nodes: Vec<Node>,
    skips: Vec<usize>,
    ok: bool,
    /// The smallest input size per axis every conv so far has an output for.
    n_min: [u64; 2],
}

/// `lo`/`hi` padding of one axis of `c`, as the schedule analysis computes it.
pub(crate) fn pad_axis(c: &Conv, axis: usize) -> Option<[usize; 2]> {
    let span = formula::span(to_u64(c.kernel[axis].value), to_u64(c.rate[axis].value))?;
    let (lo, hi) = match c.padding.value {
        PadSyntax::Same => formula::same_padding(span),
        PadSyntax::Causal => formula::causal_padding(span),
        PadSyntax::Valid => (0, 0),
        PadSyntax::Explicit(p) => (to_u64(p[axis][0]), to_u64(p[axis][1])),
    };
    let lo = usize::try_from(lo).ok().filter(|&v| v <= MAX_VALUE)?;
    let hi = usize::try_from(hi).ok().filter(|&v| v <= MAX_VALUE)?;
    Some([lo, hi])
}

impl Walk<'_> {
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// A node reading `from` with the same geometry.
    fn same(&mut self, from: usize, op: Op, prefix: String, span: Span) -> usize {
        let f = &self.nodes[from];
        let node = Node {
            op,
            inputs: vec![from],
            prefix,
            channels: f.channels,
            size: f.size,
            jump: f.jump,
            sym: f.sym,
            ahead: f.ahead,
            causal: f.causal,
            span,
        };
        self.push(node)
    }

    fn fail(&mut self, span: Span, message: impl std::fmt::Display) {
        self.cx.error(span, message);
        self.ok = false;
    }

    fn list(&mut self, items: &[Item], mut x: usize, base: &str, start: usize) -> usize {
        for (j, item) in items.iter().enumerate() {
            let prefix = format!("{base}{}", j + start);
            x = self.item(item, x, prefix);
        }
        x
    }

    fn item(&mut self, item: &Item, x: usize, prefix: String) -> usize {
        match item {
            Item::Conv(c) => self.conv(c, x, prefix),
            Item::Act(a) => self.same(x, Op::Act(a.value), String::new(), a.span),
            Item::BatchNorm(eps) => self.same(x, Op::BatchNorm(eps.value), prefix, eps.span),
            Item::Prelu(span) => self.same(x, Op::Prelu, prefix, *span),
            Item::Dropout(p) => self.same(x, Op::Dropout, String::new(), p.span),
            Item::Gated(span) => {
                let c = self.nodes[x].channels;
                if !c.is_multiple_of(2) {
                    self.fail(
                        *span,
                        format!(
                            "`gated` splits its input into two channel halves, `tanh(a) · \
                             sigmoid(b)`, but it gets {c} channels, an odd count\n= help: \
                             give the conv before it an even output count (twice the channels \
                             you want after the gate)"
                        ),
                    );
                }
                let g = self.same(x, Op::Gate, String::new(), *span);
                self.nodes[g].channels = c / 2;
                g
            }
            Item::Residual(r) => self.residual(r, x, &prefix),
            Item::Parallel(p) => self.parallel(p, x, &prefix),
            Item::Skip(items) => {
                let s = self.list(items, x, &format!("{prefix}."), 0);
                self.skips.push(s);
                x
            }
            Item::SkipSum(span) => {
                if self.skips.is_empty() {
                    self.fail(
                        *span,
                        "`skip_sum` has no skip before it\n= help: tap a residual body with \
                         `skip [conv(…)]` in the blocks before it",
                    );
                    return x;
                }
                let skips = self.skips.clone();
                self.merge(&skips, *span, "skip sum", true, Op::Add(None))
            }
        }
    }

    fn conv(&mut self, c: &Conv, x: usize, prefix: String) -> usize {
        let from = self.nodes[x].clone();
        if from.channels != c.in_channels.value {
            let p = from.channels;
            self.fail(
                c.in_channels.span,
                format!(
                    "channel mismatch: this conv takes {} input channels, but its input has \
                     {p}\n= help: write `conv({p} -> {}, …)`",
                    c.in_channels.value, c.out_channels.value
                ),
            );
        }
        let g = c.groups.value;
        if !c.in_channels.value.is_multiple_of(g) || !c.out_channels.value.is_multiple_of(g) {
            self.fail(
                c.groups.span,
                format!(
                    "groups = {g} does not divide the channels {} → {}\n= help: use a group \
                     count that divides both",
                    c.in_channels.value, c.out_channels.value
                ),
            );
        }
        let mut padding = [[0; 2]; 2];
        let mut size = from.size;
        let mut jump = from.jump;
        let mut sym = from.sym;
        let axes: &[usize] = match self.dims {
            Dims::One => &[1],
            Dims::Two => &[0, 1],
        };
        for &a in axes {
            let Some(p) = pad_axis(c, a) else {
                self.fail(
                    c.rate[a].span,
                    format!("this conv's padding exceeds {MAX_VALUE} (u32::MAX)"),
                );
                return x;
            };
            padding[a] = p;
            let eff = formula::effective_kernel(to_u64(c.kernel[a].value), to_u64(c.rate[a].value));
            size[a] = match (size[a], eff) {
                (None, _) => None,
                (Some(n), Some(eff)) => {
                    let padded = formula::padded_input(to_u64(n), to_u64(p[0]), to_u64(p[1]));
                    match padded
                        .and_then(|i| formula::output_size(i, eff, to_u64(c.stride[a].value)))
                    {
                        Some(o) if o > 0 => usize::try_from(o).ok(),
                        Some(_) | None => {
                            self.fail(
                                c.rate[a].span,
                                format!(
                                    "this conv has no output: its effective kernel {eff} is \
                                     wider than its padded input {}\n= help: use a smaller \
                                     rate or kernel, or pad more",
                                    padded.unwrap_or(u64::MAX)
                                ),
                            );
                            None
                        }
                    }
                }
                (Some(_), None) => {
                    self.fail(c.rate[a].span, "this conv's effective kernel overflows");
                    None
                }
            };
            jump[a] = jump[a].saturating_mul(to_u64(c.stride[a].value));
            if let (Some(syms), Some(eff)) = (sym.as_mut(), eff) {
                let (s, pads) = (to_u64(c.stride[a].value), to_u64(p[0]) + to_u64(p[1]));
                let before = syms[a];
                // This conv has an output when its input `⌊(n + A)/S⌋` is at least `need`.
                let need = eff.saturating_sub(pads).max(1);
                let min = i128::from(need) * i128::from(before.div) - before.add;
                let next = i128::from(s)
                    .checked_add(i128::from(pads))
                    .and_then(|v| v.checked_sub(i128::from(eff)))
                    .and_then(|a| a.checked_mul(i128::from(before.div)))
                    .and_then(|a| a.checked_add(before.add))
                    .zip(before.div.checked_mul(s));
                let Some((add, div)) = next.filter(|_| min <= i128::from(u64::MAX)) else {
                    self.fail(c.stride[a].span, "the strides of this stack overflow");
                    return x;
                };
                syms[a] = Sym { add, div };
                self.n_min[a] = self.n_min[a].max(u64::try_from(min).unwrap_or(1));
            }
        }
        let wide = c.kernel[1].value > 1;
        let causal = c.padding.value == PadSyntax::Causal;
        let node = Node {
            op: Op::Conv {
                conv: Box::new(c.clone()),
                padding,
            },
            inputs: vec![x],
            prefix,
            channels: c.out_channels.value,
            size,
            jump,
            sym,
            ahead: from.ahead || (wide && !causal),
            causal: from.causal || (wide && causal),
            span: c.rate[1].span,
        };
        self.push(node)
    }

    /// A sum or concat of `inputs`, checking channels (`same_channels`) and sizes.
    fn merge(
        &mut self,
        inputs: &[usize],
        span: Span,
        what: &str,
        same_channels: bool,
        op: Op,
    ) -> usize {
        let first = self.nodes[inputs[0]].clone();
        let mut channels = first.channels;
        let mut node = first.clone();
        for (i, &v) in inputs.iter().enumerate().skip(1) {
            let n = self.nodes[v].clone();
            if same_channels && n.channels != first.channels {
                self.fail(
                    span,
                    format!(
                        "channel mismatch at the {what}: input {} has {} channels, input 1 has \
                         {}\n= help: an add takes equal channel counts: project one side with \
                         a 1×1 conv (`conv({} -> {}, kernel: 1)`)",
                        i + 1,
                        n.channels,
                        first.channels,
                        n.channels,
                        first.channels
                    ),
                );
            }
            if !same_channels {
                channels = channels.saturating_add(n.channels);
            }
            for a in 0..2 {
                let sizes_differ =
                    matches!((first.size[a], n.size[a]), (Some(p), Some(q)) if p != q);
                let axis = match (self.dims, a) {
                    (Dims::One, _) => "length",
                    (Dims::Two, 0) => "height",
                    (Dims::Two, _) => "width",
                };
                // A size known only at run time: the sizes must agree for every input.
                let dynamic = first.size[a].is_none() || n.size[a].is_none();
                let syms = first.sym.zip(n.sym).map(|(p, q)| (p[a], q[a]));
                if let Some((p, q)) =
                    syms.filter(|(p, q)| dynamic && first.jump[a] == n.jump[a] && p != q)
                {
                    self.fail(
                        span,
                        format!(
                            "spatial mismatch at the {what}: along the {axis}, for an input of \
                             size n, input {} is {} and input 1 is {}: they differ for some \
                             input sizes\n= help: give every branch paddings that keep the \
                             same size (`padding: same` on each conv), or the same kernels, \
                             rates, strides and paddings",
                            i + 1,
                            q.text(),
                            p.text(),
                        ),
                    );
                    break;
                }
                if sizes_differ || first.jump[a] != n.jump[a] {
                    let show = |s: Option<usize>, j: u64| {
                        s.map_or_else(|| format!("stride {j}"), |s| format!("{s} (stride {j})"))
                    };
                    self.fail(
                        span,
                        format!(
                            "spatial mismatch at the {what}: along the {axis}, input {} is {}, \
                             input 1 is {}\n= help: give every branch the same strides (and \
                             paddings that keep the size): a stride in one branch only needs \
                             a strided 1×1 conv on the other",
                            i + 1,
                            show(n.size[a], n.jump[a]),
                            show(first.size[a], first.jump[a]),
                        ),
                    );
                    break;
                }
            }
            node.ahead |= n.ahead;
            node.causal |= n.causal;
        }
        node.op = op;
        node.inputs = inputs.to_vec();
        node.prefix = String::new();
        node.channels = channels;
        node.span = span;
        self.push(node)
    }

    fn residual(&mut self, r: &Residual, x: usize, prefix: &str) -> usize {
        let body = self.list(&r.body, x, &format!("{prefix}.body."), 0);
        let shortcut = match &r.shortcut {
            Some(items) => self.list(items, x, &format!("{prefix}.shortcut."), 0),
            None => x,
        };
        let (b, s) = (&self.nodes[body], &self.nodes[shortcut]);
        let x_ahead = self.nodes[x].ahead;
        if self.dims == Dims::One && b.causal && !b.ahead && s.ahead && !x_ahead {
            self.fail(
                r.span,
                "this residual's body is causal but its shortcut reads ahead (a conv without \
                 `padding: causal`): the sum would see the future\n= help: pad the shortcut's \
                 convs `causal`, or use a 1×1 conv (`kernel: 1`)",
            );
        }
        let act = r.act.map(|a| a.value);
        self.merge(
            &[body, shortcut],
            r.span,
            "residual add",
            true,
            Op::Add(act),
        )
    }

    fn parallel(&mut self, p: &Parallel, x: usize, prefix: &str) -> usize {
        let mut outs = Vec::with_capacity(p.branches.len());
        for (b, branch) in p.branches.iter().enumerate() {
            let base = format!("{prefix}.branches.{b}.");
            let v = if branch.pool {
                let pooled = self.same(x, Op::GlobalPool, String::new(), branch.span);
                self.nodes[pooled].size = [Some(1), Some(1)];
                self.nodes[pooled].sym = None;
                let v = self.list(&branch.items, pooled, &base, 1);
                let mut node = self.nodes[x].clone();
                node.op = Op::Broadcast;
                node.inputs = vec![v, x];
                node.prefix = String::new();
                node.channels = self.nodes[v].channels;
                node.span = branch.span;
                self.push(node)
            } else {
                self.list(&branch.items, x, &base, 0)
            };
            outs.push(v);
        }
        let span = p.span;
        match p.join.value {
            Join::Concat => self.merge(&outs, span, "concat", false, Op::Concat),
            Join::Sum => self.merge(&outs, span, "sum", true, Op::Add(None)),
            Join::Hierarchical => {
                let mut fused = vec![outs[0]];
                if let Some(&second) = outs.get(1) {
                    let mut acc = second;
                    fused.push(acc);
                    for &o in &outs[2..] {
                        acc = self.merge(&[acc, o], span, "hierarchical add", true, Op::Add(None));
                        fused.push(acc);
                    }
                }
                self.merge(&fused, span, "concat", false, Op::Concat)
            }
        }
    }
}

/// Lowers a block stack and checks it; `None` after an error.
pub(crate) fn check(cx: &Ctxt, stack: &Stack) -> Option<GraphPlan> {
    let mut walk = Walk {
        cx,
        dims: stack.dims,
        nodes: Vec::new(),
        skips: Vec::new(),
        ok: true,
        n_min: [1, 1],
    };
    walk.push(Node {
        op: Op::Input,
        inputs: Vec::new(),
        prefix: String::new(),
        channels: stack.input.channels.value,
        size: stack.input.sizes.map(|s| s.map(|s| s.value)),
        jump: [1, 1],
        sym: Some([Sym::INPUT; 2]),
        ahead: false,
        causal: false,
        span: stack.input.span,
    });

    let output = walk.list(&stack.items, 0, "", 0);
    if !walk.ok {
        return None;
    }
    let nodes = walk.nodes;
    let n_min = walk.n_min;
    let (graph, ids, spans) = match schedule_graph(stack, &nodes, declared_field(stack)) {
        Ok(g) => g,
        Err(e) => {
            cx.error(stack.name.span(), format!("{e}"));
            return None;
        }
    };
    let options = GraphOptions {
        levels: stack.checks,
        outputs: vec![ids[output]],
        ..GraphOptions::default()
    };
    let report = match graph.analyze(&options) {
        Ok(r) => r,
        Err(e) => {
            cx.error(
                stack.name.span(),
                format!("{e}\n= help: use smaller rates, kernels or strides"),
            );
            return None;
        }
    };
    let composed = stack.source.is_some();
    let mut raw_holes = Vec::new();
    for d in &report.diagnostics {
        let span = d
            .node
            .and_then(|n| graph.node(n))
            .and_then(|n| n.tag())
            .and_then(|t| spans.get(t as usize).copied())
            .unwrap_or_else(|| stack.name.span());
        if composed && d.diagnostic.check == CheckId::Holes {
            // Judged with the other stack's field, by the generated consts (below), unless
            // no field fills these holes.
            raw_holes.push((span, &d.diagnostic));
            continue;
        }
        cx.report(
            d.diagnostic.level,
            span,
            d.diagnostic.check.name(),
            crate::valid::render(&d.diagnostic),
        );
    }
    let out = report.outputs.first()?;
    let mut rf = [1; 2];
    let offset = match stack.dims {
        Dims::One => 1,
        Dims::Two => 0,
    };
    for (i, a) in out.axes.iter().enumerate() {
        rf[i + offset] = usize::try_from(a.receptive_field).unwrap_or(usize::MAX);
    }
    let (coverage, svg, no_picture) = picture(stack.dims, out);
    let field_jump = stack
        .field
        .map_or([1, 1], |f| f.map(|a| to_u64(a.jump.value)));
    let jump = [0, 1].map(|a| nodes[output].jump[a].saturating_mul(field_jump[a]));
    let composed = match &stack.source {
        None => None,
        Some(src) => Some(compose(
            cx, stack, &nodes, output, src, rf, n_min, &raw_holes,
        )?),
    };
    Some(GraphPlan {
        verdict: verdict(&report, out),
        nodes,
        output,
        rf,
        coverage,
        svg,
        no_picture,
        jump,
        composed,
    })
}

/// The field that `field: { … }` declares, per axis `[h, w]`.
fn declared_field(stack: &Stack) -> Option<[InputField; 2]> {
    stack
        .field
        .map(|f| f.map(|a| InputField::new(to_u64(a.receptive_field.value), to_u64(a.jump.value))))
}

/// Most analyses one composition may run to find its thresholds.
const MAX_COMPOSE_RUNS: u64 = 400;

/// What `input: Backbone` leaves to the generated consts: the raw receptive field, and,
/// when holes are denied, the windows of `Backbone`'s positions that leave none.
///
/// One position of `Backbone` sees `rf` pixels, `jump` apart, so a window of
/// `w = ⌊rf / jump⌋` neighbouring input positions (and every start of such a window
/// occurs): the holes of the composition depend on `w` per axis alone, and fewer holes as
/// `w` grows. The analysis of this stack with the field `(w, 1)` is the verdict for every
/// field with that `w`.
#[allow(clippy::too_many_arguments)]
fn compose(
    cx: &Ctxt,
    stack: &Stack,
    nodes: &[Node],
    output: usize,
    src: &crate::ast::Source,
    rf: [usize; 2],
    n_min: [u64; 2],
    raw_holes: &[(Span, &schedule::Diagnostic)],
) -> Option<Composed> {
    let ext = rf.map(to_u64);
    let hole_level = stack.checks.holes;
    let oracle = |w: [u64; 2]| -> Result<bool, String> {
        let field = w.map(|w| InputField::new(w, 1));
        let (g, ids, _) = schedule_graph(stack, nodes, Some(field)).map_err(|e| e.to_string())?;
        let options = GraphOptions {
            levels: Levels::DEFAULT,
            outputs: vec![ids[output]],
            coverage: false,
            suggest: false,
            ..GraphOptions::default()
        };
        let r = g.analyze(&options).map_err(|e| e.to_string())?;
        Ok(r.outputs.first().is_some_and(|o| o.hole_count == 0))
    };
    let fail = |e: String| {
        cx.error(
            src.key,
            format!(
                "the holes of this stack on `{}` cannot be judged: {e}\n= help: use smaller \
                 rates, kernels or strides",
                src.name
            ),
        );
    };
    let (stair, square) = if hole_level == Level::Deny {
        match stair(stack.dims, ext, &oracle) {
            Ok(Some(v)) => {
                let square = square(&v, ext);
                (Some(v), square)
            }
            Ok(None) => {
                // No field fills these holes: say so now, with the raw verdict's words.
                for (span, d) in raw_holes {
                    cx.report(
                        d.level,
                        *span,
                        d.check.name(),
                        format!(
                            "{}\n= note: no field of `{}` fills these holes, however wide: \
                             some offset at the edge of what this stack reads is read by no \
                             path, whatever each input position sees\n= help: give the stack a \
                             branch or conv whose taps reach those offsets (a square kernel \
                             beside 1×k and k×1 ones), or `check: {{ holes: allow }}`\n= note: \
                             `check: {{ holes: deny | warn | allow }}` sets the level of this \
                             check",
                            d.message, src.name
                        ),
                    );
                }
                return None;
            }
            Err(e) => {
                fail(e);
                return None;
            }
        }
    } else {
        (None, 0)
    };
    Some(Composed {
        ext,
        stair,
        square,
        n_min,
    })
}

/// For each window height `w_h` in `1..=ext[0]`, the narrowest window width with no holes
/// (0: none); `None` when even the widest windows leave holes. Windows wider than the
/// receptive field see what windows as wide as it see (each is cut to the field).
fn stair(
    dims: Dims,
    ext: [u64; 2],
    oracle: &dyn Fn([u64; 2]) -> Result<bool, String>,
) -> Result<Option<Vec<u64>>, String> {
    let [eh, ew] = ext.map(|e| e.max(1));
    if !oracle([eh, ew])? {
        return Ok(None);
    }
    if dims == Dims::Two && eh.saturating_add(ew).saturating_mul(2) > MAX_COMPOSE_RUNS {
        return Err(format!(
            "its receptive field ({eh}×{ew} positions) is too wide to find, at compile time, \
             the fields that fill its holes"
        ));
    }
    // The narrowest width for height `h`, searched from `hi` (which has no holes) down.
    let narrowest = |h: u64, mut hi: u64| -> Result<u64, String> {
        let mut lo = 0; // `lo` has holes (a window of 0 reads nothing).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if oracle([h, mid])? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    };
    let mut out = Vec::new();
    let mut width = ew;
    for h in 1..=eh {
        if dims == Dims::One {
            out.push(narrowest(1, ew)?);
            break;
        }
        if !oracle([h, ew])? {
            out.push(0);
            continue;
        }
        // Non-increasing in `h`: walk down from the last height's width.
        while width > 1 && oracle([h, width - 1])? {
            width -= 1;
        }
        out.push(width);
    }
    Ok(Some(out))
}

/// The smallest window `w` on both axes with no holes.
fn square(stair: &[u64], ext: [u64; 2]) -> u64 {
    let top = ext[0].max(ext[1]).max(1);
    (1..=top)
        .find(|&w| {
            let h = usize::try_from(w.min(ext[0].max(1))).unwrap_or(usize::MAX);
            let need = stair.get(h.saturating_sub(1)).copied().unwrap_or(0);
            need != 0 && w.min(ext[1].max(1)) >= need
        })
        .unwrap_or(top)
}

/// The schedule graph of the lowered nodes: its ids per node, and the spans its tags
/// index (each conv tagged with its rate, each merge with its block's token).
pub(crate) fn schedule_graph(
    stack: &Stack,
    nodes: &[Node],
    field: Option<[InputField; 2]>,
) -> Result<(Graph, Vec<NodeId>, Vec<Span>), schedule::graph::GraphError> {
    let mut g = match stack.dims {
        Dims::One => Graph::one_d(),
        Dims::Two => Graph::two_d(),
    };
    let mut ids: Vec<NodeId> = Vec::with_capacity(nodes.len());
    let mut spans = Vec::new();
    let axes: &[usize] = match stack.dims {
        Dims::One => &[1],
        Dims::Two => &[0, 1],
    };
    for n in nodes {
        let from = |i: usize| ids[n.inputs[i]];
        let id = match &n.op {
            Op::Input => {
                let field: Option<Vec<InputField>> =
                    field.map(|f| axes.iter().map(|&a| f[a]).collect());
                g.input(field.as_deref())?
            }
            Op::Conv { conv, padding } => {
                let specs: Vec<AxisSpec> = axes
                    .iter()
                    .map(|&a| {
                        AxisSpec::new(to_u64(conv.kernel[a].value), to_u64(conv.rate[a].value))
                            .with_stride(to_u64(conv.stride[a].value))
                            .with_padding(PadMode::Explicit {
                                lo: to_u64(padding[a][0]),
                                hi: to_u64(padding[a][1]),
                            })
                    })
                    .collect();
                let id = g.conv(from(0), &specs)?;
                g.label(id, n.prefix.clone())?;
                g.tag(id, u32::try_from(spans.len()).unwrap_or(u32::MAX))?;
                spans.push(n.span);
                id
            }
            Op::GlobalPool => g.global_pool(from(0))?,
            Op::Add(_) | Op::Concat => {
                let inputs: Vec<NodeId> = n.inputs.iter().map(|&i| ids[i]).collect();
                let id = match n.op {
                    Op::Concat => g.concat(&inputs)?,
                    _ => g.sum(&inputs)?,
                };
                g.tag(id, u32::try_from(spans.len()).unwrap_or(u32::MAX))?;
                spans.push(n.span);
                id
            }
            Op::Broadcast => g.pointwise(from(0))?,
            Op::BatchNorm(_) | Op::Act(_) | Op::Prelu | Op::Gate | Op::Dropout => from(0),
        };
        ids.push(id);
    }
    Ok((g, ids, spans))
}

fn verdict(report: &GraphReport, out: &OutputReport) -> String {
    let mut s = if out.hole_count == 0 {
        "No holes over every path: every input offset inside the receptive field is read."
            .to_owned()
    } else {
        format!(
            "**Holes (gridding), allowed by its `check` setting**: {} {} inside the receptive \
             field {} never read by any path.",
            out.hole_count,
            if report.rank == 1 { "offsets" } else { "cells" },
            if out.hole_count == 1 { "is" } else { "are" },
        )
    };
    if out.global {
        s.push_str(
            " This output also sees the whole input through a global pool (global context, \
             not counted when holes are judged).",
        );
    }
    s
}

/// Largest heat map embedded in the docs, in cells.
const MAX_SVG_CELLS: usize = 1_200;

/// The coverage row and heat map of the output's reported phase, when the graph was
/// counted densely; otherwise why there is no picture.
fn picture(dims: Dims, out: &OutputReport) -> (Option<String>, Option<String>, Option<String>) {
    let Some(cov) = out.coverage.exact() else {
        return (
            None,
            None,
            Some(
                "The graph is too large for a map of counts: its verdict came from the exact \
                 gap test over every path, which gives holes but no counts, so no picture is \
                 drawn."
                    .to_owned(),
            ),
        );
    };
    let Some(map) = cov.maps.first() else {
        return (
            None,
            None,
            Some("The output has no local coverage (only global paths).".to_owned()),
        );
    };
    let title = "paths to each input position (every branch, global context excluded)";
    let options = heatmap::Options {
        origin: match dims {
            Dims::One => (0, map.min_offset[0]),
            Dims::Two => (map.min_offset[0], map.min_offset[1]),
        },
        title: Some(title.to_owned()),
        ..heatmap::Options::default()
    };
    match dims {
        Dims::One => {
            let row = map.row();
            let text = row.as_ref().map(|r| schedule::coverage_row_text(r, 96));
            let svg = (map.counts.len() <= MAX_SVG_CELLS)
                .then(|| heatmap::svg(std::slice::from_ref(&map.counts), &options));
            (text, svg, None)
        }
        Dims::Two => {
            let (h, w) = (map.shape[0], map.shape[1]);
            if h.saturating_mul(w) > MAX_SVG_CELLS || w == 0 {
                return (
                    None,
                    None,
                    Some("The coverage heat map is too large to embed.".to_owned()),
                );
            }
            let rows: Vec<Vec<u128>> = map.counts.chunks(w).map(<[u128]>::to_vec).collect();
            (None, Some(heatmap::svg(&rows, &options)), None)
        }
    }
}

/// One line per op for the docs' table.
pub(crate) fn table(dims: Dims, plan: &GraphPlan) -> String {
    let mut d = String::new();
    d.push_str("| module | op | channels | kernel / rate / stride | padding | output |\n");
    d.push_str("|---|---|---|---|---|---|\n");
    let shape = |n: &Node| {
        let s = |v: Option<usize>| v.map_or_else(|| "_".to_owned(), |v| v.to_string());
        match dims {
            Dims::One => format!("{}×{}", n.channels, s(n.size[1])),
            Dims::Two => format!("{}×{}×{}", n.channels, s(n.size[0]), s(n.size[1])),
        }
    };
    for n in plan.nodes.iter().skip(1) {
        let (op, geo, pad) = match &n.op {
            Op::Input => continue,
            Op::Conv { conv, padding } => {
                let ax = |v: [usize; 2]| match dims {
                    Dims::One => v[1].to_string(),
                    Dims::Two => format!("{}×{}", v[0], v[1]),
                };
                (
                    format!(
                        "conv{}{}",
                        if conv.weight_norm {
                            " (weight norm)"
                        } else {
                            ""
                        },
                        if conv.groups.value > 1 {
                            format!(", {} groups", conv.groups.value)
                        } else {
                            String::new()
                        }
                    ),
                    format!(
                        "{} / {} / {}",
                        ax(conv.kernel.map(|v| v.value)),
                        ax(conv.rate.map(|v| v.value)),
                        ax(conv.stride.map(|v| v.value))
                    ),
                    match dims {
                        Dims::One => format!("{}, {}", padding[1][0], padding[1][1]),
                        Dims::Two => format!(
                            "{}, {} / {}, {}",
                            padding[0][0], padding[0][1], padding[1][0], padding[1][1]
                        ),
                    },
                )
            }
            Op::BatchNorm(eps) => (
                format!("batch norm (eps {eps})"),
                String::new(),
                String::new(),
            ),
            Op::Act(a) => (a.torch_name(), String::new(), String::new()),
            Op::Prelu => ("PReLU".to_owned(), String::new(), String::new()),
            Op::Gate => ("gate tanh·sigmoid".to_owned(), String::new(), String::new()),
            Op::Add(a) => (
                format!(
                    "add of {}{}",
                    n.inputs.len(),
                    a.map_or_else(String::new, |a| format!(", then {}", a.torch_name()))
                ),
                String::new(),
                String::new(),
            ),
            Op::Concat => (
                format!("concat of {}", n.inputs.len()),
                String::new(),
                String::new(),
            ),
            Op::GlobalPool => (
                "global average pool".to_owned(),
                String::new(),
                String::new(),
            ),
            Op::Broadcast => ("broadcast".to_owned(), String::new(), String::new()),
            Op::Dropout => ("dropout".to_owned(), String::new(), String::new()),
        };
        let module = if n.prefix.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", n.prefix)
        };
        let _ = writeln!(
            d,
            "| {module} | {op} | {} | {geo} | {pad} | `{}` |",
            n.channels,
            shape(n)
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use dilated_core::schedule::graph::{Graph, GraphOptions, InputField};
    use dilated_core::schedule::{AxisSpec, PadMode, Spec2d};
    use proc_macro2::TokenStream;

    use crate::ctxt::Ctxt;

    /// The macro's verdict on `src`: (holes, receptive field per axis), and its errors.
    fn verdict(src: &str) -> (Option<(u64, Vec<u64>)>, Vec<String>) {
        let raw = crate::parse::parse(TokenStream::from_str(src).expect("lexes")).expect("parses");
        let cx = Ctxt::new();
        let stack = crate::ast::from_raw(&cx, &raw).expect("a stack");
        assert!(!stack.is_chain());
        let plan = super::check(&cx, &stack);
        let mut out = None;
        if let Some(plan) = &plan {
            let (g, ids, _) =
                super::schedule_graph(&stack, &plan.nodes, super::declared_field(&stack))
                    .expect("a graph");
            let options = GraphOptions {
                levels: stack.checks,
                outputs: vec![ids[plan.output]],
                ..GraphOptions::default()
            };
            let r = g.analyze(&options).expect("analyzed");
            out = Some((r.outputs[0].hole_count, r.outputs[0].receptive_field()));
        }
        let (error, _) = cx.finish();
        let errors = error
            .into_iter()
            .flat_map(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .collect();
        (out, errors)
    }

    fn aspp(field: Option<&[InputField]>) -> (u64, Vec<u64>) {
        let mut g = Graph::two_d();
        let x = g.input(field).unwrap();
        let one = AxisSpec::new(1, 1).with_padding(PadMode::Explicit { lo: 0, hi: 0 });
        let mut branches = vec![g.conv(x, &[one; 2]).unwrap()];
        for rate in [6, 12, 18] {
            let s = Spec2d::square(3, rate)
                .height
                .with_padding(PadMode::Explicit { lo: rate, hi: rate });
            branches.push(g.conv(x, &[s, s]).unwrap());
        }
        let pooled = g.global_pool(x).unwrap();
        branches.push(g.conv(pooled, &[one; 2]).unwrap());
        let cat = g.concat(&branches).unwrap();
        let y = g.conv(cat, &[one; 2]).unwrap();
        let options = GraphOptions {
            outputs: vec![y],
            ..GraphOptions::default()
        };
        let r = g.analyze(&options).unwrap();
        (r.outputs[0].hole_count, r.outputs[0].receptive_field())
    }

    const ASPP: &str = "struct A { input: [8, 64, 64], FIELD layers: [ parallel { branches: [ \
        [conv(8 -> 4, kernel: 1)], [conv(8 -> 4, kernel: 3, rate: 6)], \
        [conv(8 -> 4, kernel: 3, rate: 12)], [conv(8 -> 4, kernel: 3, rate: 18)], \
        pool [conv(8 -> 4, kernel: 1)] ], join: concat }, conv(20 -> 4, kernel: 1) ] }";

    #[test]
    fn aspp_verdicts_agree_with_the_graph_analysis() {
        let (got, errors) = verdict(&ASPP.replace("FIELD", ""));
        let direct = aspp(None);
        assert!(direct.0 > 0);
        assert_eq!(got, Some(direct));
        assert!(
            errors.iter().any(|e| e.contains("holes")),
            "raw pixels: holes are an error: {errors:?}"
        );

        let src = ASPP.replace("FIELD", "field: { receptive_field: 971, jump: 16 },");
        let (got, errors) = verdict(&src);
        let f = InputField::new(971, 16);
        let direct = aspp(Some(&[f, f]));
        assert_eq!(direct.0, 0);
        assert_eq!(got, Some(direct));
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_residual_chain_agrees_with_the_graph_analysis() {
        let (got, errors) = verdict(
            "struct R { input: [4, _], layers: [ residual { body: [ \
             conv(4 -> 4, kernel: 3, rate: 2), \
             conv(4 -> 4, kernel: 3, rate: 4) ] } ], \
             check: { holes: warn, hdc: allow } }",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut g = Graph::one_d();
        let x = g.input(None).unwrap();
        let valid = |d| AxisSpec::new(3, d).with_padding(PadMode::Explicit { lo: d, hi: d });
        let a = g.conv(x, &[valid(2)]).unwrap();
        let b = g.conv(a, &[valid(4)]).unwrap();
        g.sum(&[b, x]).unwrap();
        let r = g.analyze(&GraphOptions::default()).unwrap();
        assert_eq!(
            got,
            Some((r.outputs[0].hole_count, r.outputs[0].receptive_field()))
        );
    }

    /// The verdict of the generated consts for a field `(rf, jump)` per axis.
    fn stair_verdict(c: &super::Composed, rf: [u64; 2], jump: [u64; 2]) -> bool {
        let w = |a: usize| {
            if c.ext[a] <= 1 {
                1
            } else {
                (rf[a] / jump[a]).min(c.ext[a])
            }
        };
        let stair = c.stair.as_ref().expect("holes denied");
        let (wh, ww) = (w(0), w(1));
        wh >= 1 && ww >= 1 && {
            let need = stair[usize::try_from(wh - 1).unwrap()];
            need != 0 && ww >= need
        }
    }

    #[test]
    fn composed_verdicts_agree_with_the_graph_analysis_for_every_field() {
        let heads = [
            "struct H { input: B, layers: [ parallel { branches: [ [conv(8 -> 4, kernel: 1)], \
             [conv(8 -> 4, kernel: 3, rate: 6)], [conv(8 -> 4, kernel: 3, rate: 12)], \
             pool [conv(8 -> 4, kernel: 1)] ], join: concat } ] }",
            "struct H { input: B, layers: [ conv(8 -> 8, kernel: [1, 3], rate: [1, 4]), \
             conv(8 -> 8, kernel: [3, 1], rate: [2, 1]), conv(8 -> 8, kernel: 3, rate: 3, \
             stride: 2) ] }",
            "struct H { input: B[8, _], layers: [ residual { body: [conv(8 -> 8, kernel: 3, \
             rate: 4), conv(8 -> 8, kernel: 3, rate: 8)] } ], check: { hdc: allow } }",
            "struct H { input: B[8, _], layers: [ conv(8 -> 8, kernel: 2, rate: 3, padding: \
             causal), conv(8 -> 8, kernel: 3, rate: 5, stride: 2) ], check: { hdc: allow } }",
        ];
        for src in heads {
            let raw =
                crate::parse::parse(TokenStream::from_str(src).expect("lexes")).expect("parses");
            let cx = Ctxt::new();
            let stack = crate::ast::from_raw(&cx, &raw).expect("a stack");
            let plan = super::check(&cx, &stack).expect("checked");
            let (error, _) = cx.finish();
            assert!(error.is_none(), "{src}: {error:?}");
            let c = plan.composed.as_ref().expect("composed");
            let mut seen = [false; 2];
            for rf in [1, 2, 3, 5, 7, 11, 16, 23, 40, 71, 100] {
                for (jh, jw) in [(1, 1), (2, 3), (4, 4), (5, 2)] {
                    for rfw in [rf, rf + 9] {
                        let field = [InputField::new(rf, jh), InputField::new(rfw, jw)];
                        let (g, ids, _) = super::schedule_graph(&stack, &plan.nodes, Some(field))
                            .expect("a graph");
                        let options = GraphOptions {
                            outputs: vec![ids[plan.output]],
                            ..GraphOptions::default()
                        };
                        let r = g.analyze(&options).expect("analyzed");
                        let direct = r.outputs[0].hole_count == 0;
                        let consts = stair_verdict(c, [rf, rfw], [jh, jw]);
                        assert_eq!(consts, direct, "{src}: field {rf}/{jh} × {rfw}/{jw}");
                        seen[usize::from(direct)] = true;
                    }
                }
            }
            assert_eq!(seen, [true, true], "{src}: both verdicts occur");
        }
    }

    #[test]
    fn structural_errors_are_found() {
        let (_, errors) =
            verdict("struct S { input: [4, _], layers: [ conv(4 -> 7, kernel: 1), gated ] }");
        assert!(errors[0].contains("odd count"), "{errors:?}");
        let (_, errors) = verdict(
            "struct S { input: [4, _], layers: [ residual { body: [conv(4 -> 8, kernel: 1)] } ] }",
        );
        assert!(
            errors[0].contains("channel mismatch at the residual add"),
            "{errors:?}"
        );
    }
}

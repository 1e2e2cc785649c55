//! The PyTorch twin: the Python source of a `torch.nn.Module` whose `state_dict` names are
//! the stack's weight names and whose `forward` (in `eval()` mode) computes what the stack
//! computes. Self-contained: it imports only `torch`.
//!
//! Every conv is a small subclass of `torch.nn.Conv1d/2d` that zero-pads its input first
//! (`torch.nn.functional.pad`), so asymmetric padding (`causal`, PyTorch's `same` split)
//! is exact and the tensors keep their plain names (`weight`, `bias`). A chain stack's twin
//! is an `nn.Sequential` subclass; a block stack's is an `nn.Sequential` subclass too, whose
//! `forward` walks its modules with `_run` (which hands the skip list to residual bodies).

use std::fmt::Write as _;

use crate::ast::{Act, Conv, Dims, Item, Stack};
use crate::block::{Join, Parallel, Residual};
use crate::graph::pad_axis;

/// Helpers every twin carries: the padded convs.
const CONVS: &str = r#"import torch


class _Conv1d(torch.nn.Conv1d):
    """A 1D conv that zero-pads its input by `pad` = (left, right) first."""

    def __init__(self, cin, cout, kernel, dilation, stride, groups, bias, pad):
        super().__init__(cin, cout, kernel, stride=stride, dilation=dilation,
                         groups=groups, bias=bias)
        self.pad = pad

    def forward(self, x):
        return super().forward(torch.nn.functional.pad(x, self.pad))


class _Conv2d(torch.nn.Conv2d):
    """A 2D conv that zero-pads its input by `pad` = (left, right, top, bottom) first."""

    def __init__(self, cin, cout, kernel, dilation, stride, groups, bias, pad):
        super().__init__(cin, cout, kernel, stride=stride, dilation=dilation,
                         groups=groups, bias=bias)
        self.pad = pad

    def forward(self, x):
        return super().forward(torch.nn.functional.pad(x, self.pad))
"#;

/// The block modules of a graph twin.
const BLOCKS: &str = r#"

def _sum(xs):
    y = xs[0]
    for t in xs[1:]:
        y = y + t
    return y


def _run(seq, x, skips):
    """Runs the modules of `seq` in order; skips tap into `skips`."""
    for m in seq:
        if isinstance(m, Skip):
            skips.append(_run(m, x, skips))
        elif isinstance(m, SkipSum):
            x = _sum(skips)
        elif isinstance(m, (Residual, Parallel)):
            x = m(x, skips)
        else:
            x = m(x)
    return x


class Gate(torch.nn.Module):
    """WaveNet's gated activation: tanh(a) * sigmoid(b), a the first channel half."""

    def forward(self, x):
        a, b = x.chunk(2, 1)
        return torch.tanh(a) * torch.sigmoid(b)


class Skip(torch.nn.Sequential):
    """Taps the residual body's current value into the stack's skip sum."""


class SkipSum(torch.nn.Module):
    """The main path becomes the sum of every skip so far (done by `_run`)."""


class Residual(torch.nn.Module):
    """body(x) + shortcut(x), then the activation (an empty shortcut is the identity)."""

    def __init__(self, body, shortcut, activation):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.activation = activation if activation is not None else torch.nn.Identity()

    def forward(self, x, skips=None):
        skips = [] if skips is None else skips
        return self.activation(_run(self.body, x, skips) + _run(self.shortcut, x, skips))


class Parallel(torch.nn.Module):
    """Branches on one input, joined by concat, sum or ESPNet's hierarchical fusion; a
    pooled branch (image pooling) is broadcast back to the input's size."""

    def __init__(self, branches, pooled, join):
        super().__init__()
        self.branches = torch.nn.ModuleList(branches)
        self.pooled = pooled
        self.join = join

    def forward(self, x, skips=None):
        skips = [] if skips is None else skips
        ys = []
        for branch, pooled in zip(self.branches, self.pooled):
            y = _run(branch, x, skips)
            if pooled:
                mode = "linear" if x.dim() == 3 else "bilinear"
                y = torch.nn.functional.interpolate(
                    y, size=x.shape[2:], mode=mode, align_corners=False)
            ys.append(y)
        if self.join == "sum":
            return _sum(ys)
        if self.join == "hierarchical":
            fused = ys[:1]
            if len(ys) > 1:
                acc = ys[1]
                fused.append(acc)
                for y in ys[2:]:
                    acc = acc + y
                    fused.append(acc)
            ys = fused
        return torch.cat(ys, 1)
"#;

/// A Python float literal.
fn float(v: f32) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn act(a: Act) -> String {
    match a {
        Act::Relu => "torch.nn.ReLU()".to_owned(),
        Act::LeakyRelu(s) => format!("torch.nn.LeakyReLU({})", float(s)),
        Act::Gelu => "torch.nn.GELU()".to_owned(),
        Act::Tanh => "torch.nn.Tanh()".to_owned(),
        Act::Sigmoid => "torch.nn.Sigmoid()".to_owned(),
        Act::Silu => "torch.nn.SiLU()".to_owned(),
    }
}

fn conv(dims: Dims, c: &Conv) -> String {
    let pad = |a: usize| pad_axis(c, a).unwrap_or([0, 0]);
    let text = match dims {
        Dims::One => {
            let [l, r] = pad(1);
            format!(
                "_Conv1d({}, {}, {}, {}, {}, {}, {}, ({l}, {r}))",
                c.in_channels.value,
                c.out_channels.value,
                c.kernel[1].value,
                c.rate[1].value,
                c.stride[1].value,
                c.groups.value,
                py_bool(c.bias)
            )
        }
        Dims::Two => {
            let ([t, b], [l, r]) = (pad(0), pad(1));
            let pair =
                |v: [crate::ast::Spanned<usize>; 2]| format!("({}, {})", v[0].value, v[1].value);
            format!(
                "_Conv2d({}, {}, {}, {}, {}, {}, {}, ({l}, {r}, {t}, {b}))",
                c.in_channels.value,
                c.out_channels.value,
                pair(c.kernel),
                pair(c.rate),
                pair(c.stride),
                c.groups.value,
                py_bool(c.bias)
            )
        }
    };
    if c.weight_norm {
        format!("torch.nn.utils.parametrizations.weight_norm({text}, dim=0)")
    } else {
        text
    }
}

/// Walks items, tracking the channels (batch norm and PReLU need them).
struct Twin {
    dims: Dims,
    /// Channels of the skips so far.
    skip_channels: Option<usize>,
}

impl Twin {
    /// The modules of one list as Python expressions; returns the channels after it.
    fn list(&mut self, items: &[Item], mut c: usize, out: &mut Vec<String>) -> usize {
        for item in items {
            let (text, after) = self.item(item, c);
            out.push(text);
            c = after;
        }
        c
    }

    fn sequential(
        &mut self,
        items: &[Item],
        c: usize,
        class: &str,
        indent: usize,
    ) -> (String, usize) {
        let mut mods = Vec::new();
        let after = self.list(items, c, &mut mods);
        (wrap(class, &mods, indent), after)
    }

    fn item(&mut self, item: &Item, c: usize) -> (String, usize) {
        match item {
            Item::Conv(conv_) => (conv(self.dims, conv_), conv_.out_channels.value),
            Item::Act(a) => (act(a.value), c),
            Item::BatchNorm(eps) => (
                format!(
                    "torch.nn.BatchNorm{}({c}, eps={})",
                    if self.dims == Dims::One { "1d" } else { "2d" },
                    float(eps.value)
                ),
                c,
            ),
            Item::Prelu(_) => (format!("torch.nn.PReLU({c})"), c),
            Item::Dropout(p) => (format!("torch.nn.Dropout({})", float(p.value)), c),
            Item::Gated(_) => ("Gate()".to_owned(), c / 2),
            Item::Skip(items) => {
                let (text, after) = self.sequential(items, c, "Skip", 2);
                self.skip_channels = Some(after);
                (text, c)
            }
            Item::SkipSum(_) => ("SkipSum()".to_owned(), self.skip_channels.unwrap_or(c)),
            Item::Residual(r) => self.residual(r, c),
            Item::Parallel(p) => self.parallel(p, c),
        }
    }

    fn residual(&mut self, r: &Residual, c: usize) -> (String, usize) {
        let (body, after) = self.sequential(&r.body, c, "torch.nn.Sequential", 2);
        let shortcut = match &r.shortcut {
            Some(items) => self.sequential(items, c, "torch.nn.Sequential", 2).0,
            None => "torch.nn.Sequential()".to_owned(),
        };
        let a = r.act.map_or_else(|| "None".to_owned(), |a| act(a.value));
        (format!("Residual(\n{body},\n{shortcut},\n{a})"), after)
    }

    fn parallel(&mut self, p: &Parallel, c: usize) -> (String, usize) {
        let mut branches = Vec::new();
        let mut pooled = Vec::new();
        let mut outs = Vec::new();
        for b in &p.branches {
            let mut mods = Vec::new();
            if b.pool {
                mods.push(format!(
                    "torch.nn.AdaptiveAvgPool{}(1)",
                    if self.dims == Dims::One { "1d" } else { "2d" }
                ));
            }
            outs.push(self.list(&b.items, c, &mut mods));
            branches.push(wrap("torch.nn.Sequential", &mods, 2));
            pooled.push(py_bool(b.pool));
        }
        let after = match p.join.value {
            Join::Concat | Join::Hierarchical => outs.iter().sum(),
            Join::Sum => outs.first().copied().unwrap_or(c),
        };
        (
            format!(
                "Parallel([\n{}],\n[{}],\n\"{}\")",
                branches.join(",\n"),
                pooled.join(", "),
                p.join.value.word()
            ),
            after,
        )
    }
}

/// `class(\n  a,\n  b,\n)` with each module's lines indented.
fn wrap(class: &str, mods: &[String], indent: usize) -> String {
    if mods.is_empty() {
        return format!("{class}()");
    }
    let pad = " ".repeat(indent);
    let mut s = format!("{class}(\n");
    for m in mods {
        for line in m.lines() {
            let _ = writeln!(s, "{pad}{line}");
        }
        s.pop();
        s.push_str(",\n");
    }
    s.push(')');
    s
}

/// The class statement: an `nn.Sequential` subclass constructible with no arguments.
fn class(stack: &Stack, graph: bool) -> String {
    let mut t = Twin {
        dims: stack.dims,
        skip_channels: None,
    };
    let mut mods = Vec::new();
    t.list(&stack.items, stack.input.channels.value, &mut mods);
    let mut s = String::new();
    let _ = writeln!(s, "\n\nclass {}(torch.nn.Sequential):", stack.name);
    let _ = writeln!(
        s,
        "    \"\"\"The twin of the `dilated_stack!` type `{}`: its `state_dict` names are \
         the Rust type's weight names.\"\"\"\n",
        stack.name
    );
    s.push_str("    def __init__(self):\n        super().__init__(\n");
    for m in &mods {
        for line in m.lines() {
            let _ = writeln!(s, "            {line}");
        }
        s.pop();
        s.push_str(",\n");
    }
    s.push_str("        )\n");
    if graph {
        s.push_str("\n    def forward(self, x):\n        return _run(self, x, [])\n");
    }
    s
}

/// The twin of a chain stack (an `nn.Sequential` subclass).
pub(crate) fn chain_twin(stack: &Stack) -> String {
    format!("{CONVS}{}", class(stack, false))
}

/// The twin of a block stack.
pub(crate) fn graph_twin(stack: &Stack) -> String {
    format!("{CONVS}{BLOCKS}{}", class(stack, true))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use crate::ctxt::Ctxt;

    fn twin(src: &str) -> String {
        let raw = crate::parse::parse(TokenStream::from_str(src).expect("lexes")).expect("parses");
        let cx = Ctxt::new();
        let stack = crate::ast::from_raw(&cx, &raw).expect("a stack");
        let (error, _) = cx.finish();
        assert!(error.is_none());
        if stack.is_chain() {
            super::chain_twin(&stack)
        } else {
            super::graph_twin(&stack)
        }
    }

    /// Imports only `torch`; brackets balance; no tab.
    fn well_formed(py: &str) {
        let imports: Vec<&str> = py
            .lines()
            .filter(|l| l.trim_start().starts_with("import ") || l.contains(" import "))
            .collect();
        assert_eq!(imports, ["import torch"], "{py}");
        for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
            assert_eq!(
                py.matches(open).count(),
                py.matches(close).count(),
                "{open}{close} in\n{py}"
            );
        }
        assert!(!py.contains('\t'));
    }

    #[test]
    fn a_chain_twin_is_a_sequential_of_padded_convs() {
        let py = twin(
            "struct Wave { input: [4, _], layers: [conv(4 -> 8, kernel: 2, rate: 2, padding: \
             causal), leaky_relu(0.2), conv(8 -> 4, kernel: 3, bias: false)] }",
        );
        well_formed(&py);
        assert!(py.contains("class Wave(torch.nn.Sequential):"), "{py}");
        assert!(
            py.contains("_Conv1d(4, 8, 2, 2, 1, 1, True, (2, 0)),"),
            "{py}"
        );
        assert!(py.contains("torch.nn.LeakyReLU(0.2),"), "{py}");
        assert!(
            py.contains("_Conv1d(8, 4, 3, 1, 1, 1, False, (1, 1)),"),
            "{py}"
        );
        assert!(
            !py.contains("def forward(self, x):\n        return _run"),
            "{py}"
        );
    }

    #[test]
    fn a_graph_twin_names_its_modules_as_the_weights() {
        let py = twin(
            "struct G { input: [4, 8, 8], layers: [ conv(4 -> 8, kernel: 3, norm: weight), \
             batch_norm(eps: 1e-3), residual { body: [conv(8 -> 8, kernel: 3, rate: 2), \
             prelu], activation: relu }, parallel { branches: [[conv(8 -> 4, kernel: 1)], \
             pool [conv(8 -> 4, kernel: 1)]], join: concat }, dropout(0.1) ] }",
        );
        well_formed(&py);
        assert!(py.contains("class G(torch.nn.Sequential):"), "{py}");
        assert!(py.contains("def forward(self, x):\n        return _run(self, x, [])"));
        assert!(py.contains(
            "torch.nn.utils.parametrizations.weight_norm(_Conv2d(4, 8, (3, 3), (1, 1), (1, 1), \
             1, True, (1, 1, 1, 1)), dim=0)"
        ));
        assert!(py.contains("torch.nn.BatchNorm2d(8, eps=0.001)"), "{py}");
        assert!(py.contains("Residual("), "{py}");
        assert!(py.contains("torch.nn.PReLU(8)"), "{py}");
        assert!(py.contains("torch.nn.AdaptiveAvgPool2d(1),"), "{py}");
        assert!(py.contains("[False, True],"), "{py}");
        assert!(py.contains("\"concat\")"), "{py}");
        assert!(py.contains("torch.nn.Dropout(0.1)"), "{py}");
    }
}

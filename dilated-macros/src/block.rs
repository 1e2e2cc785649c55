//! Phase 1b for blocks: the items of a `layers: [ … ]` list that make a stack a graph —
//! `batch_norm`, `prelu`, `dropout(p)`, `gated`, `residual { … }`, `parallel { … }`,
//! `skip [ … ]`, `skip_sum`, `repeat(rate in [ … ]) [ … ]` — and the stack's `field`.
//!
//! Everything structural that can be decided item by item is reported here (a skip outside
//! a residual body, an empty parallel, an empty repetition, a dropout p outside [0, 1), a
//! field of 0, nesting past [`MAX_BLOCK_DEPTH`]); what needs channels and sizes (adds,
//! concats, gates, strides in one branch only) is checked over the graph in `graph`.

use proc_macro2::Span;
use syn::Ident;

use crate::ast::{self, Act, Channels, Dims, Item, Keys, Spanned};
use crate::ctxt::Ctxt;
use crate::parse::Field as ArgField;
use crate::parse::{Arg, Number, Value};

/// Blocks nest at most this deep (a residual in a parallel branch in a residual … counts
/// one level each; a repetition counts one too).
pub(crate) const MAX_BLOCK_DEPTH: usize = 8;

/// The most modules a stack may expand to (repetitions included).
pub(crate) const MAX_MODULES: usize = 4096;

/// `residual { body: [ … ], shortcut: [ … ], activation: … }`.
#[derive(Debug, Clone)]
pub(crate) struct Residual {
    /// The word `residual`.
    pub(crate) span: Span,
    pub(crate) body: Vec<Item>,
    /// `None`: the identity.
    pub(crate) shortcut: Option<Vec<Item>>,
    /// After the add.
    pub(crate) act: Option<Spanned<Act>>,
}

/// How a parallel block joins its branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Channel concat (ASPP).
    Concat,
    /// Elementwise sum.
    Sum,
    /// ESPNet: the first branch as is; from the second on, each branch's output is added
    /// to the sum of the ones before it (from the second); then the concat.
    Hierarchical,
}

impl Join {
    /// The word in the grammar.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Join::Concat => "concat",
            Join::Sum => "sum",
            Join::Hierarchical => "hierarchical",
        }
    }
}

/// One branch of a parallel block.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// The branch's list (or the word `pool`).
    pub(crate) span: Span,
    /// `pool [ … ]`: DeepLab v3's image pooling (global average pool, the items, a
    /// broadcast back to the input's size).
    pub(crate) pool: bool,
    pub(crate) items: Vec<Item>,
}

/// `parallel { branches: [ … ], join: … }`.
#[derive(Debug, Clone)]
pub(crate) struct Parallel {
    /// The word `parallel`.
    pub(crate) span: Span,
    pub(crate) branches: Vec<Branch>,
    pub(crate) join: Spanned<Join>,
}

/// One axis of `field: { receptive_field, jump }`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) receptive_field: Spanned<usize>,
    pub(crate) jump: Spanned<usize>,
}

/// Where a list of items sits: what may appear in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// `layers: [ … ]`: `skip_sum` may appear.
    Top,
    /// A residual body: `skip [ … ]` may appear.
    Body,
    /// A shortcut, a branch, a skip's own list.
    Inner,
}

/// The items of one list, and what the chain checks need.
pub(crate) struct Entries {
    pub(crate) items: Vec<Item>,
    /// The convs of this list (not of nested blocks), for the chain checks.
    pub(crate) channels: Vec<Channels>,
    /// No error in the list.
    pub(crate) ok: bool,
    /// Whether any item makes the stack a graph.
    pub(crate) blocks: bool,
}

/// The items of `entries`.
pub(crate) fn items(
    cx: &Ctxt,
    entries: &[Value],
    dims: Dims,
    place: Place,
    depth: usize,
) -> Entries {
    let mut out = Entries {
        items: Vec::with_capacity(entries.len()),
        channels: Vec::new(),
        ok: true,
        blocks: false,
    };
    for entry in entries {
        entry_into(cx, entry, dims, place, depth, &mut out);
        if out.items.len() > MAX_MODULES {
            cx.error(
                entry.span(),
                format!(
                    "this list expands to more than {MAX_MODULES} modules\n= help: use fewer \
                     repetitions"
                ),
            );
            out.ok = false;
            break;
        }
    }
    out
}

fn entry_into(cx: &Ctxt, entry: &Value, dims: Dims, place: Place, depth: usize, out: &mut Entries) {
    let push = |item: Option<Item>, blocks: bool, out: &mut Entries| {
        out.blocks |= blocks;
        match item {
            Some(i) => out.items.push(i),
            None => out.ok = false,
        }
    };
    match entry {
        Value::Call(word, group, args) if word == "conv" => {
            let (conv, info) = ast::conv(cx, word.span(), *group, args, dims);
            out.channels.push(info);
            let norm = conv.as_ref().is_some_and(|c| c.weight_norm);
            push(conv.map(|c| Item::Conv(Box::new(c))), norm, out);
        }
        Value::Word(word) if word == "conv" => {
            cx.error(
                word.span(),
                "a conv needs its channels and kernel: `conv(C_in -> C_out, kernel: 3)`",
            );
            out.ok = false;
        }
        Value::Word(w) if w == "batch_norm" => {
            push(
                Some(Item::BatchNorm(Spanned::new(1e-5, w.span()))),
                true,
                out,
            );
        }
        Value::Call(w, span, args) if w == "batch_norm" => {
            push(batch_norm(cx, w, *span, args), true, out);
        }
        Value::Word(w) if w == "prelu" => push(Some(Item::Prelu(w.span())), true, out),
        Value::Word(w) if w == "gated" => push(Some(Item::Gated(w.span())), true, out),
        Value::Word(w) if w == "dropout" => {
            push(Some(Item::Dropout(Spanned::new(0.5, w.span()))), true, out);
        }
        Value::Call(w, span, args) if w == "dropout" => {
            push(dropout(cx, w, *span, args), true, out);
        }
        Value::Call(w, span, _) if matches!(w.to_string().as_str(), "prelu" | "gated") => {
            cx.error(*span, format!("`{w}` takes no arguments"));
            push(None, true, out);
        }
        Value::Word(w) if w == "skip_sum" => {
            if place != Place::Top {
                cx.error(
                    w.span(),
                    "`skip_sum` belongs in the stack's `layers` list (after the residual \
                     blocks whose skips it sums)",
                );
                push(None, true, out);
            } else {
                push(Some(Item::SkipSum(w.span())), true, out);
            }
        }
        Value::Call(w, span, args) if w == "residual" => {
            let item = nested(cx, w.span(), depth).and_then(|()| {
                residual(cx, w, *span, args, dims, depth + 1).map(|r| Item::Residual(Box::new(r)))
            });
            push(item, true, out);
        }
        Value::Call(w, span, args) if w == "parallel" => {
            let item = nested(cx, w.span(), depth).and_then(|()| {
                parallel(cx, w, *span, args, dims, depth + 1).map(|p| Item::Parallel(Box::new(p)))
            });
            push(item, true, out);
        }
        Value::Tagged(head, list_span, list) => {
            tagged(cx, head, *list_span, list, dims, place, depth, out);
        }
        Value::Word(w) if matches!(w.to_string().as_str(), "residual" | "parallel") => {
            cx.error(
                w.span(),
                format!(
                    "`{w}` needs its parts: {}",
                    if w == "residual" {
                        "`residual { body: [ … ], shortcut: [ … ], activation: relu }`"
                    } else {
                        "`parallel { branches: [ [ … ], [ … ] ], join: concat }`"
                    }
                ),
            );
            push(None, true, out);
        }
        Value::Word(w) if matches!(w.to_string().as_str(), "skip" | "pool" | "repeat") => {
            cx.error(
                w.span(),
                format!("`{w}` takes a list of items: `{w} [ … ]`"),
            );
            push(None, true, out);
        }
        other @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::Word(_)
        | Value::Call(..)
        | Value::List(..)
        | Value::Tuple(..)
        | Value::Map(..)) => {
            push(ast::activation(cx, other).map(Item::Act), false, out);
        }
    }
}

/// `None` (after an error) when one more level would pass [`MAX_BLOCK_DEPTH`].
fn nested(cx: &Ctxt, span: Span, depth: usize) -> Option<()> {
    if depth >= MAX_BLOCK_DEPTH {
        cx.error(
            span,
            format!(
                "blocks nest at most {MAX_BLOCK_DEPTH} deep\n= help: declare the inner part as \
                 a stack of its own, or flatten it"
            ),
        );
        return None;
    }
    Some(())
}

fn batch_norm(cx: &Ctxt, w: &Ident, span: Span, args: &[Arg]) -> Option<Item> {
    let mut eps = None;
    for arg in args {
        match arg {
            Arg::Field(f) if f.key.name == "eps" && eps.is_none() => {
                let Value::Number(n) = &f.value else {
                    cx.error(f.value.span(), "expected a number: `batch_norm(eps: 1e-3)`");
                    return None;
                };
                let v = ast::float(cx, n, "eps")?;
                if v <= 0.0 {
                    cx.error(n.span, "eps must be positive (PyTorch's default is 1e-5)");
                    return None;
                }
                eps = Some(Spanned::new(v, n.span));
            }
            Arg::Field(_) | Arg::Arrow(..) | Arg::Value(_) | Arg::In(..) => {
                cx.error(
                    span,
                    "`batch_norm` takes one key, `eps`: `batch_norm(eps: 1e-3)` (default \
                     1e-5); its channels are those of the value it follows",
                );
                return None;
            }
        }
    }
    Some(Item::BatchNorm(
        eps.unwrap_or_else(|| Spanned::new(1e-5, w.span())),
    ))
}

fn dropout(cx: &Ctxt, w: &Ident, span: Span, args: &[Arg]) -> Option<Item> {
    let [Arg::Value(Value::Number(n))] = args else {
        cx.error(
            span,
            "`dropout` takes one number, its probability: `dropout(0.1)`",
        );
        return None;
    };
    let p = ast::float(cx, n, "probability")?;
    if !(0.0..1.0).contains(&p) {
        cx.error(
            n.span,
            format!(
                "a dropout probability is in [0, 1), found {p}\n= help: write e.g. \
                 `{w}(0.1)` (it is a no-op at inference)"
            ),
        );
        return None;
    }
    Some(Item::Dropout(Spanned::new(p, n.span)))
}

/// The fields of `name { … }` (written as a call of fields).
fn fields<'a>(cx: &Ctxt, w: &Ident, args: &'a [Arg], keys: &[&str]) -> Option<Keys<'a>> {
    let mut ok = true;
    let fields = ast::fields_of(args, |arg| {
        let (Arg::Field(ArgField { value: v, .. })
        | Arg::Arrow(v, _)
        | Arg::Value(v)
        | Arg::In(_, v, _)) = arg;
        cx.error(
            v.span(),
            format!(
                "`{w} {{ … }}` takes `key: value` pairs ({})",
                keys.join(", ")
            ),
        );
        ok = false;
    });
    ok.then(|| Keys::collect(cx, fields, keys, &format!("`{w}`")))
}

/// The list under a block's required `key`: "missing key `key` in `block`: add `key: …`"
/// when absent, "expected … `[ … ]`" when not a list.
fn required_list<'a>(
    cx: &Ctxt,
    keys: &Keys<'a>,
    span: Span,
    block: &str,
    key: &str,
    example: &str,
    what: &str,
) -> Option<(Span, &'a [Value])> {
    let Some(v) = keys.get(key) else {
        cx.error(
            span,
            format!("missing key `{key}` in `{block}`: add `{key}: {example}`"),
        );
        return None;
    };
    ast::list(cx, v, what)
}

fn residual(
    cx: &Ctxt,
    w: &Ident,
    span: Span,
    args: &[Arg],
    dims: Dims,
    depth: usize,
) -> Option<Residual> {
    let keys = fields(cx, w, args, &["body", "shortcut", "activation"])?;
    let body = required_list(
        cx,
        &keys,
        span,
        "residual",
        "body",
        "[conv(…), …]",
        "the body as a list `[ … ]`",
    )
    .and_then(|(s, entries)| {
        if entries.is_empty() {
            cx.error(
                s,
                "the body is empty: a residual body has at least one item",
            );
            return None;
        }
        let e = items(cx, entries, dims, Place::Body, depth);
        e.ok.then_some(e.items)
    });
    let shortcut = match keys.get("shortcut") {
        None => Some(None),
        Some(v) => ast::list(cx, v, "the shortcut as a list `[ … ]`").and_then(|(_, entries)| {
            let e = items(cx, entries, dims, Place::Inner, depth);
            e.ok.then_some(Some(e.items))
        }),
    };
    let act = match keys.get("activation") {
        None => Some(None),
        Some(v) => ast::activation(cx, v).map(Some),
    };
    Some(Residual {
        span: w.span(),
        body: body?,
        shortcut: shortcut?,
        act: act?,
    })
}

fn parallel(
    cx: &Ctxt,
    w: &Ident,
    span: Span,
    args: &[Arg],
    dims: Dims,
    depth: usize,
) -> Option<Parallel> {
    let keys = fields(cx, w, args, &["branches", "join"])?;
    let join = match keys.get("join") {
        None => Some(Spanned::new(Join::Concat, w.span())),
        Some(Value::Word(j)) if j == "concat" => Some(Spanned::new(Join::Concat, j.span())),
        Some(Value::Word(j)) if j == "sum" => Some(Spanned::new(Join::Sum, j.span())),
        Some(Value::Word(j)) if j == "hierarchical" => {
            Some(Spanned::new(Join::Hierarchical, j.span()))
        }
        Some(v) => {
            ast::expected(cx, v, "`join: concat`, `join: sum` or `join: hierarchical`");
            None
        }
    };
    let branches = required_list(
        cx,
        &keys,
        span,
        "parallel",
        "branches",
        "[ [ … ], [ … ] ]",
        "a list of branches `[ … ]`",
    )
    .and_then(|(s, entries)| {
        if entries.is_empty() {
            cx.error(
                s,
                "a parallel block has no branch\n= help: list at least one branch: \
                     `branches: [ [conv(…)], [conv(…)] ]`",
            );
            return None;
        }
        let mut ok = true;
        let mut branches = Vec::with_capacity(entries.len());
        for entry in entries {
            let (pool, span, list) = match entry {
                Value::List(s, l) => (false, *s, l),
                Value::Tagged(head, s, l) if matches!(&**head, Value::Word(p) if p == "pool") => {
                    (true, head.span().join(*s).unwrap_or(*s), l)
                }
                other @ (Value::Number(_)
                | Value::Bool(..)
                | Value::Underscore(_)
                | Value::Word(_)
                | Value::Call(..)
                | Value::Tuple(..)
                | Value::Map(..)
                | Value::Tagged(..)) => {
                    let what = "a branch `[ … ]` or an image-pooling branch `pool [ … ]`";
                    ast::expected(cx, other, what);
                    ok = false;
                    continue;
                }
            };
            let e = items(cx, list, dims, Place::Inner, depth);
            ok &= e.ok;
            branches.push(Branch {
                span,
                pool,
                items: e.items,
            });
        }
        ok.then_some(branches)
    });
    Some(Parallel {
        span: w.span(),
        branches: branches?,
        join: join?,
    })
}

/// `skip [ … ]`, `repeat(var in [ … ] * n) [ … ]`, or a misplaced `pool [ … ]`.
#[allow(clippy::too_many_arguments)]
fn tagged(
    cx: &Ctxt,
    head: &Value,
    list_span: Span,
    list: &[Value],
    dims: Dims,
    place: Place,
    depth: usize,
    out: &mut Entries,
) {
    out.blocks = true;
    match head {
        Value::Word(w) if w == "skip" => {
            if place != Place::Body {
                cx.error(
                    w.span(),
                    "a `skip [ … ]` taps a residual body into the stack's skip sum: put it \
                     inside `residual { body: [ … ] }`",
                );
                out.ok = false;
                return;
            }
            if nested(cx, w.span(), depth).is_none() {
                out.ok = false;
                return;
            }
            let e = items(cx, list, dims, Place::Inner, depth + 1);
            out.ok &= e.ok;
            out.items.push(Item::Skip(e.items));
        }
        Value::Call(w, span, args) if w == "repeat" => {
            if nested(cx, w.span(), depth).is_none() {
                out.ok = false;
                return;
            }
            let Some((var, values)) = repetition(cx, *span, args) else {
                out.ok = false;
                return;
            };
            if list.is_empty() {
                cx.error(
                    list_span,
                    "the repetition has no item: list what it repeats",
                );
                out.ok = false;
                return;
            }
            for v in values {
                let substituted: Vec<Value> = list.iter().map(|e| substitute(e, var, &v)).collect();
                for e in &substituted {
                    entry_into(cx, e, dims, place, depth + 1, out);
                }
                if out.items.len() > MAX_MODULES {
                    cx.error(
                        w.span(),
                        format!(
                            "this repetition expands to more than {MAX_MODULES} modules\n= \
                             help: repeat fewer times"
                        ),
                    );
                    out.ok = false;
                    return;
                }
            }
        }
        Value::Word(w) if w == "pool" => {
            cx.error(
                w.span(),
                "an image-pooling branch `pool [ … ]` is one of a parallel block's branches: \
                 `parallel { branches: [ [ … ], pool [ … ] ] }`",
            );
            out.ok = false;
        }
        other @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::Word(_)
        | Value::Call(..)
        | Value::List(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..)) => {
            cx.error(
                other.span(),
                format!(
                    "unexpected {} before a list: the items that take a list are `skip [ … ]`, \
                     `repeat(rate in [ … ]) [ … ]` and, among a parallel block's branches, \
                     `pool [ … ]`",
                    other.describe()
                ),
            );
            out.ok = false;
        }
    }
}

/// `repeat(var in [a, b, …] * n)`: the variable and every value, in order, `n` times.
fn repetition<'a>(cx: &Ctxt, span: Span, args: &'a [Arg]) -> Option<(&'a Ident, Vec<Number>)> {
    let [Arg::In(var, values, times)] = args else {
        cx.error(
            span,
            "write the repetition as `repeat(rate in [1, 2, 4, 8]) [ … ]` (optionally `* n` \
             after the list to repeat it n times)",
        );
        return None;
    };
    let (list_span, entries) = ast::list(cx, values, "the values as a list `[ … ]`")?;
    if entries.is_empty() {
        cx.error(
            list_span,
            "the repetition's list is empty: list at least one value, e.g. `[1, 2, 4, 8]`",
        );
        return None;
    }
    let mut numbers = Vec::with_capacity(entries.len());
    for e in entries {
        let Value::Number(n) = e else {
            ast::expected(cx, e, "a number");
            return None;
        };
        ast::positive(cx, e, "repeated value")?;
        numbers.push(n.clone());
    }
    let n = match times {
        None => 1,
        Some(t) => ast::positive(cx, &Value::Number(t.clone()), "repetition count")?.value,
    };
    if n.saturating_mul(numbers.len()) > MAX_MODULES {
        cx.error(
            span,
            format!("the repetition runs more than {MAX_MODULES} times"),
        );
        return None;
    }
    let mut all = Vec::with_capacity(n * numbers.len());
    for _ in 0..n {
        all.extend(numbers.iter().cloned());
    }
    Some((var, all))
}

/// `value` with every word `var` replaced by `by` (keeping `by`'s span, so a finding about
/// a repeated rate points at the rate in the list). An inner repetition over the same
/// variable shadows it.
fn substitute(value: &Value, var: &Ident, by: &Number) -> Value {
    let arg = |a: &Arg| match a {
        Arg::Field(f) => {
            let mut f = f.clone();
            f.value = substitute(&f.value, var, by);
            Arg::Field(f)
        }
        Arg::Arrow(a, b) => Arg::Arrow(substitute(a, var, by), substitute(b, var, by)),
        Arg::Value(v) => Arg::Value(substitute(v, var, by)),
        Arg::In(v, l, t) => Arg::In(v.clone(), substitute(l, var, by), t.clone()),
    };
    match value {
        Value::Word(w) if w == var => Value::Number(by.clone()),
        Value::Number(_) | Value::Bool(..) | Value::Underscore(_) | Value::Word(_) => value.clone(),
        Value::Call(w, s, args) => Value::Call(w.clone(), *s, args.iter().map(arg).collect()),
        Value::List(s, l) => Value::List(*s, l.iter().map(|v| substitute(v, var, by)).collect()),
        Value::Tuple(s, l) => Value::Tuple(*s, l.iter().map(|v| substitute(v, var, by)).collect()),
        Value::Map(s, fields) => Value::Map(
            *s,
            fields
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.value = substitute(&f.value, var, by);
                    f
                })
                .collect(),
        ),
        Value::Tagged(head, s, l) => {
            let shadows = matches!(&**head, Value::Call(w, _, args)
                if w == "repeat" && args.iter().any(|a| matches!(a, Arg::In(v, ..) if v == var)));
            let head = Box::new(substitute(head, var, by));
            let list = if shadows {
                l.clone()
            } else {
                l.iter().map(|v| substitute(v, var, by)).collect()
            };
            Value::Tagged(head, *s, list)
        }
    }
}

/// `field: { receptive_field: 971, jump: 16 }` (each a number, or `[h, w]` in 2D): per axis
/// `[h, w]`, the height 1 (a pixel) in 1D.
pub(crate) fn field(cx: &Ctxt, value: &Value, dims: Dims) -> Option<[Field; 2]> {
    let Value::Map(span, fields) = value else {
        ast::expected(cx, value, "`field: { receptive_field: 971, jump: 16 }`");
        return None;
    };
    let keys = Keys::collect(cx, fields, &["receptive_field", "jump"], "`field`");
    let axes = |key: &str| -> Option<[Spanned<usize>; 2]> {
        let Some(v) = keys.get(key) else {
            cx.error(
                *span,
                format!("missing key `{key}` in `field`: add `{key}: …` (input pixels)"),
            );
            return None;
        };
        ast::per_axis_with(cx, v, &format!("field's {key}"), dims, |v| {
            let n = ast::integer(cx, v, key)?;
            if n.value == 0 {
                cx.error(
                    n.span,
                    format!(
                        "a field's {key} is at least 1 (input pixels), found 0\n= help: raw \
                         pixels are `receptive_field: 1, jump: 1`, or leave `field` out"
                    ),
                );
                return None;
            }
            Some(n)
        })
    };
    let rf = axes("receptive_field");
    let jump = axes("jump");
    let (rf, jump) = (rf?, jump?);
    Some([0, 1].map(|a| Field {
        receptive_field: rf[a],
        jump: jump[a],
    }))
}

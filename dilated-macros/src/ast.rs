//! Phase 1b: the value tree → the stack model, with every structural error collected.
//!
//! Both forms normalise to the same [`Stack`]: a list of [`Item`]s in the order of the
//! stack's twin `torch.nn.Sequential` (conv, activation, conv, …), so module indices, and
//! with them the safetensors names, are counted exactly as PyTorch counts them. Every number
//! keeps the span of its literal so the checks can point at it.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::Ident;

use dilated_core::schedule::formula::{to_u64, to_usize};
use dilated_core::schedule::{self, CheckName, Level, Levels, NameKind};

use crate::ctxt::Ctxt;
use crate::parse::{Arg, Field, Key, Number, RawStack, Value};

/// A number with the span of the token it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// 1D (`[C, L]`) or 2D (`[C, H, W]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dims {
    One,
    Two,
}

/// Which form the stack was written in (the checks point at different tokens).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Form {
    /// `kernel` + `rates`: the span of the `rates` list.
    Compact { rates: Span },
    /// `layers: [ conv(…), relu, … ]`.
    PerLayer,
}

/// `input: [C, …]`.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub(crate) channels: Spanned<usize>,
    /// `[h, w]` (h = 1 for 1D, with the span of the channel count); `None` for `_`.
    pub(crate) sizes: [Option<Spanned<usize>>; 2],
    pub(crate) span: Span,
}

/// `input: Backbone` (or `Backbone[C, H, W]`, `Backbone[C, L]`, each entry a number or
/// `_`): the stack takes another stack's output as its input. Its shape and its field come
/// from `Backbone`'s consts, checked when the generated `const` items are evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The other stack's type, as written.
    pub(crate) name: Ident,
    /// The `input` key (the composed checks point at it).
    pub(crate) key: Span,
    /// Whether the channel count was written (else it is the first conv's input count).
    pub(crate) channels_written: bool,
}

/// How a conv pads its input, as written (`padding: …`); the check turns it into the
/// schedule's `PadMode`, the expansion into literal amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PadSyntax {
    /// Output size = input size (stride 1); PyTorch's split when `d·(k − 1)` is odd.
    Same,
    /// No padding.
    Valid,
    /// 1D: everything on the left, `d·(k − 1)`.
    Causal,
    /// `[[top, bottom], [left, right]]`.
    Explicit([[usize; 2]; 2]),
}

/// The non-linearity after a conv (PyTorch's semantics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Act {
    Relu,
    LeakyRelu(f32),
    Gelu,
    Tanh,
    Sigmoid,
    Silu,
}

impl Act {
    /// The `torch.nn` module it stands for (docs).
    pub(crate) fn torch_name(self) -> String {
        match self {
            Act::Relu => "ReLU".to_owned(),
            Act::LeakyRelu(s) => format!("LeakyReLU({s})"),
            Act::Gelu => "GELU".to_owned(),
            Act::Tanh => "Tanh".to_owned(),
            Act::Sigmoid => "Sigmoid".to_owned(),
            Act::Silu => "SiLU".to_owned(),
        }
    }
}

/// One convolution. Per-axis arrays are `[h, w]`; a 1D conv has `h` entries equal to 1.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    /// The token that declares the layer (`conv` or, in the compact form, its rate).
    pub(crate) span: Span,
    pub(crate) in_channels: Spanned<usize>,
    pub(crate) out_channels: Spanned<usize>,
    pub(crate) kernel: [Spanned<usize>; 2],
    pub(crate) rate: [Spanned<usize>; 2],
    pub(crate) stride: [Spanned<usize>; 2],
    pub(crate) groups: Spanned<usize>,
    pub(crate) padding: Spanned<PadSyntax>,
    pub(crate) bias: bool,
    /// `norm: weight`: weight-normalised along dim 0 (the twin's
    /// `torch.nn.utils.parametrizations.weight_norm`).
    pub(crate) weight_norm: bool,
}

/// One module of the twin `nn.Sequential`.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Conv(Box<Conv>),
    Act(Spanned<Act>),
    /// `batch_norm` / `batch_norm(eps: 1e-3)`: its eps.
    BatchNorm(Spanned<f32>),
    /// `prelu`: one slope per channel.
    Prelu(Span),
    /// `dropout(p)`: its p.
    Dropout(Spanned<f32>),
    /// `gated`: `tanh(a) · sigmoid(b)` of the two channel halves.
    Gated(Span),
    /// `residual { body: [ … ], shortcut: [ … ], activation: … }`.
    Residual(Box<crate::block::Residual>),
    /// `parallel { branches: [ … ], join: … }`.
    Parallel(Box<crate::block::Parallel>),
    /// `skip [ … ]` inside a residual body: a tap into the stack's skip sum.
    Skip(Vec<Item>),
    /// `skip_sum`: the main path becomes the sum of every skip so far.
    SkipSum(Span),
}

/// What a chain sees of an item: a conv, an activation, or a module of graphs only.
pub(crate) enum Part<'a> {
    Conv(&'a Conv),
    Act(Spanned<Act>),
    Graph,
}

impl Item {
    /// The item as a chain sees it (the one match over every item the chain code needs).
    pub(crate) fn part(&self) -> Part<'_> {
        match self {
            Item::Conv(c) => Part::Conv(c),
            Item::Act(a) => Part::Act(*a),
            Item::BatchNorm(_)
            | Item::Prelu(_)
            | Item::Dropout(_)
            | Item::Gated(_)
            | Item::Residual(_)
            | Item::Parallel(_)
            | Item::Skip(_)
            | Item::SkipSum(_) => Part::Graph,
        }
    }

    /// Whether the item is a module of a plain chain (a conv the typed stack runs, or an
    /// activation).
    pub(crate) fn is_chain(&self) -> bool {
        match self.part() {
            Part::Conv(c) => !c.weight_norm,
            Part::Act(_) => true,
            Part::Graph => false,
        }
    }
}

/// A parsed stack: everything the checks and the expansion need.
pub(crate) struct Stack {
    /// The user's attributes and doc comments, as tokens.
    pub(crate) attrs: TokenStream,
    pub(crate) vis: TokenStream,
    pub(crate) name: Ident,
    pub(crate) dims: Dims,
    pub(crate) form: Form,
    pub(crate) input: Input,
    pub(crate) items: Vec<Item>,
    /// The level of each check (`check: { … }`), the schedule analysis's own type.
    pub(crate) checks: Levels,
    /// `field: { receptive_field, jump }`: what the input's features already see, per
    /// axis `[h, w]` (`h` = 1 in 1D).
    pub(crate) field: Option<[crate::block::Field; 2]>,
    /// `input: Backbone`: the stack reads another stack's output.
    pub(crate) source: Option<Source>,
}

impl Stack {
    /// The convolutions of the top-level list, in order (all of them in a chain stack).
    pub(crate) fn convs(&self) -> impl Iterator<Item = &Conv> {
        self.items.iter().filter_map(|i| match i.part() {
            Part::Conv(c) => Some(c),
            Part::Act(_) | Part::Graph => None,
        })
    }

    /// Whether the stack is a plain chain (expanded over the typed stack, as before blocks
    /// existed) and has no declared input field.
    pub(crate) fn is_chain(&self) -> bool {
        self.field.is_none() && self.source.is_none() && self.items.iter().all(Item::is_chain)
    }
}

/// The greatest value any size may take: sizes become `usize` const parameters on every
/// target, including 32-bit ones, so the macro keeps them within `u32`.
pub(crate) const MAX_VALUE: usize = u32::MAX as usize;

// ---------------------------------------------------------------------------------------
// Readers of values and arguments (the stack's, and the blocks' in `block`): each returns
// `None` after recording an error.

/// Records "expected {what}, found {the value}" on the value.
pub(crate) fn expected(cx: &Ctxt, value: &Value, what: impl std::fmt::Display) {
    cx.error(
        value.span(),
        format!("expected {what}, found {}", value.describe()),
    );
}

/// A list value `[ … ]`: its span and entries.
pub(crate) fn list<'a>(cx: &Ctxt, value: &'a Value, what: &str) -> Option<(Span, &'a [Value])> {
    if let Value::List(span, entries) = value {
        return Some((*span, entries));
    }
    expected(cx, value, what);
    None
}

/// A finite number, sign included (a slope, an eps, a probability).
pub(crate) fn float(cx: &Ctxt, n: &Number, what: &str) -> Option<f32> {
    let text = format!("{}{}", if n.negative { "-" } else { "" }, n.digits);
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            cx.error(n.span, format!("`{text}` is not a finite {what}"));
            None
        }
    }
}

/// The `key: value` arguments of `name( … )` or `name { … }`; every other argument is
/// handed to `other` (which reports it, or takes it: a conv's `C_in -> C_out`).
pub(crate) fn fields_of<'a>(args: &'a [Arg], mut other: impl FnMut(&'a Arg)) -> Vec<&'a Field> {
    let mut fields = Vec::new();
    for arg in args {
        match arg {
            Arg::Field(f) => fields.push(f),
            Arg::Arrow(..) | Arg::Value(_) | Arg::In(..) => other(arg),
        }
    }
    fields
}

/// A positive integer (`what` names it in messages: "rate", "kernel", …).
pub(crate) fn positive(cx: &Ctxt, value: &Value, what: &str) -> Option<Spanned<usize>> {
    let n = integer(cx, value, what)?;
    if n.value == 0 {
        cx.error(
            n.span,
            format!("{what} must be at least 1, found 0\n= help: write a positive {what}"),
        );
        return None;
    }
    Some(n)
}

/// A non-negative integer.
pub(crate) fn integer(cx: &Ctxt, value: &Value, what: &str) -> Option<Spanned<usize>> {
    let Value::Number(n) = value else {
        expected(cx, value, format!("an integer {what}"));
        return None;
    };
    number(cx, n, what)
}

fn number(cx: &Ctxt, n: &Number, what: &str) -> Option<Spanned<usize>> {
    if n.float {
        cx.error(
            n.span,
            format!("{what} must be an integer, found `{}`", n.digits),
        );
        return None;
    }
    if n.negative {
        cx.error(
            n.span,
            format!("{what} must be a positive integer, found `-{}`", n.digits),
        );
        return None;
    }
    match n.digits.parse::<usize>() {
        Ok(v) if v <= MAX_VALUE => Some(Spanned::new(v, n.span)),
        _ => {
            cx.error(
                n.span,
                format!(
                    "{what} `{}` overflows: the largest size a stack may use is {MAX_VALUE} \
                     (u32::MAX)",
                    n.digits
                ),
            );
            None
        }
    }
}

/// A scalar or a per-axis list `[h, w]` (2D only) of positive integers. Returns `[h, w]`,
/// `h = 1` in 1D.
fn per_axis(cx: &Ctxt, value: &Value, what: &str, dims: Dims) -> Option<[Spanned<usize>; 2]> {
    per_axis_with(cx, value, what, dims, |v| positive(cx, v, what))
}

/// [`per_axis`] with the reader of one entry.
pub(crate) fn per_axis_with(
    cx: &Ctxt,
    value: &Value,
    what: &str,
    dims: Dims,
    one: impl Fn(&Value) -> Option<Spanned<usize>>,
) -> Option<[Spanned<usize>; 2]> {
    match value {
        Value::List(span, items) => match (dims, items.as_slice()) {
            (Dims::Two, [h, w]) => {
                let h = one(h);
                let w = one(w);
                Some([h?, w?])
            }
            (Dims::One, [w]) => Some([Spanned::new(1, *span), one(w)?]),
            (Dims::Two, _) => {
                cx.error(
                    *span,
                    format!(
                        "a per-axis {what} of a 2D stack has two entries `[height, width]`, \
                         found {}",
                        items.len()
                    ),
                );
                None
            }
            (Dims::One, _) => {
                cx.error(
                    *span,
                    format!(
                        "a 1D stack has one axis: write the {what} as one number, found a list \
                         of {}",
                        items.len()
                    ),
                );
                None
            }
        },
        Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::Word(_)
        | Value::Call(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..) => {
            let v = one(value)?;
            Some(match dims {
                Dims::One => [Spanned::new(1, v.span), v],
                Dims::Two => [v, v],
            })
        }
    }
}

/// Keys of a `{ … }`/`( … )` body, checked for duplicates and unknowns.
pub(crate) struct Keys<'a> {
    map: BTreeMap<String, &'a Field>,
}

impl<'a> Keys<'a> {
    /// The fields whose keys are `known`; an unknown key is an error that lists the known
    /// ones and suggests the nearest.
    pub(crate) fn collect(
        cx: &Ctxt,
        fields: impl IntoIterator<Item = &'a Field>,
        known: &[&str],
        context: &str,
    ) -> Self {
        Self::collect_offering(cx, fields, known, known, context)
    }

    /// As [`collect`](Self::collect), where `accepted` may hold more than the `offered`
    /// keys an error lists and suggests (the hyphenated `check` names).
    pub(crate) fn collect_offering(
        cx: &Ctxt,
        fields: impl IntoIterator<Item = &'a Field>,
        accepted: &[&str],
        offered: &[&str],
        context: &str,
    ) -> Self {
        let mut map: BTreeMap<String, &'a Field> = BTreeMap::new();
        for field in fields {
            let key = field.key.name.clone();
            if !accepted.contains(&key.as_str()) {
                let hint = closest(&key, offered)
                    .map(|k| format!("\n= help: did you mean `{k}`?"))
                    .unwrap_or_default();
                key_error(
                    cx,
                    &field.key,
                    format!(
                        "unknown key `{key}` in {context}; expected one of: {}{hint}",
                        offered
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            }
            if map.contains_key(&key) {
                key_error(
                    cx,
                    &field.key,
                    format!(
                        "duplicate key `{key}` in {context}\n= help: remove one of the two \
                         `{key}:` entries"
                    ),
                );
                continue;
            }
            map.insert(key, field);
        }
        Keys { map }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).map(|f| &f.value)
    }

    fn key(&self, key: &str) -> Option<&'a Key> {
        self.map.get(key).map(|f| &f.key)
    }

    pub(crate) fn key_span(&self, key: &str) -> Option<Span> {
        self.key(key).map(|k| k.span)
    }
}

/// An error on a key: its word, or all of a hyphenated key.
fn key_error(cx: &Ctxt, key: &Key, message: String) {
    match key.end {
        None => cx.error(key.span, message),
        Some(end) => cx.error_range(key.span, end, message),
    }
}

/// The known word nearest to `word` by edit distance, if it is close.
fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

const STACK_KEYS: &[&str] = &[
    "input",
    "kernel",
    "rates",
    "channels",
    "activation",
    "layers",
    "check",
];
const CONV_KEYS: &[&str] = &["kernel", "rate", "stride", "groups", "padding", "bias"];
const CONV_KEYS_ACCEPTED: &[&str] = &[
    "kernel", "rate", "stride", "groups", "padding", "bias", "norm",
];
/// Stack keys accepted beside [`STACK_KEYS`] (not offered in the unknown-key message, which
/// chain stacks keep as it was).
const STACK_KEYS_ACCEPTED: &[&str] = &[
    "input",
    "kernel",
    "rates",
    "channels",
    "activation",
    "layers",
    "check",
    "field",
];
pub(crate) const ACTIVATIONS: &[&str] = &["relu", "leaky_relu", "gelu", "tanh", "sigmoid", "silu"];

/// Builds the stack model, recording every structural error in `cx`. Returns `None` when the
/// stack cannot be modelled at all (the checks then have nothing to look at).
pub(crate) fn from_raw(cx: &Ctxt, raw: &RawStack) -> Option<Stack> {
    let keys = Keys::collect_offering(
        cx,
        &raw.fields,
        STACK_KEYS_ACCEPTED,
        STACK_KEYS,
        "the stack",
    );
    // A misspelt key already says "did you mean `kernel`?": no second error for it.
    let misspelt: Vec<&str> = raw
        .fields
        .iter()
        .filter(|f| !STACK_KEYS_ACCEPTED.contains(&f.key.name.as_str()))
        .filter_map(|f| closest(&f.key.name, STACK_KEYS))
        .collect();
    let missing = |key: &str, why: &str| {
        if !misspelt.contains(&key) {
            cx.error(
                raw.name.span(),
                format!("missing key `{key}` in `{}`: {why}", raw.name),
            );
        }
    };

    // input
    let input = match keys.get("input") {
        Some(v) => input(cx, v, keys.key_span("input").unwrap_or_else(|| v.span())),
        None => {
            missing(
                "input",
                "add `input: [C, H, W]` (2D) or `input: [C, L]` (1D); `_` for a size known \
                 only at run time",
            );
            None
        }
    };

    let checks = keys.get("check").map_or(Levels::DEFAULT, |v| checks(cx, v));

    let compact_keys = ["kernel", "rates", "channels", "activation"];
    let items = if let Some(layers) = keys.get("layers") {
        for k in compact_keys {
            if let Some(span) = keys.key_span(k) {
                cx.error(
                    span,
                    format!(
                        "`{k}` belongs to the compact form; with `layers: [ … ]` write it on \
                         each `conv(…)`"
                    ),
                );
            }
        }
        let (dims, input_channels) = match &input {
            Some((_, d, Some(src))) if !src.channels_written => (*d, None),
            Some((i, d, _)) => (*d, Some(i.channels)),
            None => (Dims::Two, None),
        };
        per_layer(cx, layers, dims, input_channels).map(|items| (items, Form::PerLayer))
    } else {
        if keys.get("kernel").is_none() {
            missing(
                "kernel",
                "add `kernel: 3` (the kernel size of every layer), or describe each layer with \
                 `layers: [conv(C -> C, kernel: 3, rate: 1), …]`",
            );
        }
        if keys.get("rates").is_none() {
            missing(
                "rates",
                "add `rates: [1, 2, 5]` (one dilation rate per layer), or describe each layer \
                 with `layers: [ … ]`",
            );
        }
        match &input {
            Some((i, _, Some(src))) if !src.channels_written => {
                cx.error(
                    i.span,
                    format!(
                        "the compact form needs the channel count it takes from `{0}`\n= \
                         help: write `input: {0}[C, _, _]` (`{0}[C, _]` in 1D)",
                        src.name
                    ),
                );
                None
            }
            Some((i, d, _)) => compact(cx, &keys, Some(&(i.clone(), *d))),
            None => compact(cx, &keys, None),
        }
    };

    let field = keys.get("field").map(|v| {
        let dims = input.as_ref().map_or(Dims::Two, |(_, d, _)| *d);
        crate::block::field(cx, v, dims)
    });
    let (mut input, dims, source) = input?;
    let (items, form) = items?;
    let field = match field {
        None => None,
        Some(f) => Some(f?),
    };
    if let Some(src) = &source {
        if let Some(span) = keys.key_span("field") {
            cx.error(
                span,
                format!(
                    "`field` comes from `{0}` (its receptive field and jump) when the input is \
                     `{0}`\n= help: remove `field`",
                    src.name
                ),
            );
            return None;
        }
        if !src.channels_written {
            match first_in_channels(&items) {
                Some(c) => input.channels = Spanned::new(c, input.span),
                None => {
                    cx.error(
                        input.span,
                        format!(
                            "cannot tell how many channels this stack takes from `{0}`: no \
                             conv reads the input before the channels change\n= help: write \
                             them, `input: {0}[C, _, _]` (`{0}[C, _]` in 1D)",
                            src.name
                        ),
                    );
                    return None;
                }
            }
        }
    }
    let mut attrs = TokenStream::new();
    for a in &raw.attrs {
        a.to_tokens(&mut attrs);
    }
    Some(Stack {
        attrs,
        vis: raw.vis.to_token_stream(),
        name: raw.name.clone(),
        dims,
        form,
        input,
        items,
        checks,
        field,
        source,
    })
}

/// The input channel count of the first conv that reads the stack's input unchanged in
/// channels (through activations, batch norms, dropout, into residual bodies and branches).
fn first_in_channels(items: &[Item]) -> Option<usize> {
    for item in items {
        match item {
            Item::Conv(c) => return Some(c.in_channels.value),
            Item::Act(_) | Item::BatchNorm(_) | Item::Prelu(_) | Item::Dropout(_) => {}
            Item::Residual(r) => {
                return first_in_channels(&r.body)
                    .or_else(|| r.shortcut.as_deref().and_then(first_in_channels));
            }
            Item::Parallel(p) => {
                return p.branches.iter().find_map(|b| first_in_channels(&b.items));
            }
            Item::Skip(inner) => {
                if let Some(c) = first_in_channels(inner) {
                    return Some(c);
                }
            }
            Item::Gated(_) | Item::SkipSum(_) => return None,
        }
    }
    None
}

/// `input: [C, H, W]`, `input: [C, L]`, or another stack: `input: Backbone` (2D),
/// `Backbone[C, H, W]`, `Backbone[C, L]` (entries numbers or `_`).
fn input(cx: &Ctxt, value: &Value, key: Span) -> Option<(Input, Dims, Option<Source>)> {
    let (span, items, source) = match value {
        Value::List(span, items) => (*span, items.as_slice(), None),
        Value::Word(name) => {
            let source = Source {
                name: name.clone(),
                key,
                channels_written: false,
            };
            let input = Input {
                channels: Spanned::new(0, name.span()),
                sizes: [None, None],
                span: name.span(),
            };
            return Some((input, Dims::Two, Some(source)));
        }
        Value::Tagged(head, list_span, items) if matches!(&**head, Value::Word(_)) => {
            let Value::Word(name) = &**head else {
                return None;
            };
            let source = Source {
                name: name.clone(),
                key,
                channels_written: !matches!(items.first(), Some(Value::Underscore(_))),
            };
            (*list_span, items.as_slice(), Some(source))
        }
        other @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::Call(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..)) => {
            let what = "`input: [C, H, W]`, `input: [C, L]` or a stack declared before, \
                        `input: Backbone`";
            expected(cx, other, what);
            return None;
        }
    };
    let span = &span;
    let dims = match items.len() {
        2 => Dims::One,
        3 => Dims::Two,
        n => {
            cx.error(
                *span,
                format!(
                    "`input` lists {n} dimension{}: write `[C, L]` for a 1D stack or \
                     `[C, H, W]` for a 2D one (no batch dimension)",
                    if n == 1 { "" } else { "s" }
                ),
            );
            return None;
        }
    };
    let channels = match &items[0] {
        Value::Underscore(s) if source.is_some() => Some(Spanned::new(0, *s)),
        Value::Underscore(s) => {
            cx.error(
                *s,
                "the channel count must be known at compile time: write a number here",
            );
            None
        }
        v @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Word(_)
        | Value::Call(..)
        | Value::List(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..)) => positive(cx, v, "input channel count"),
    };
    let size = |v: &Value| -> Result<Option<Spanned<usize>>, ()> {
        match v {
            Value::Underscore(_) => Ok(None),
            v @ (Value::Number(_)
            | Value::Bool(..)
            | Value::Word(_)
            | Value::Call(..)
            | Value::List(..)
            | Value::Tuple(..)
            | Value::Map(..)
            | Value::Tagged(..)) => positive(cx, v, "input size").map(Some).ok_or(()),
        }
    };
    let sizes = match dims {
        Dims::One => {
            let w = size(&items[1]);
            [Ok(Some(Spanned::new(1, items[0].span()))), w]
        }
        Dims::Two => [size(&items[1]), size(&items[2])],
    };
    let channels = channels?;
    let [Ok(h), Ok(w)] = sizes else {
        return None;
    };
    let span = source.as_ref().map_or(*span, |s| s.name.span());
    Some((
        Input {
            channels,
            sizes: [h, w],
            span,
        },
        dims,
        source,
    ))
}

pub(crate) fn activation(cx: &Ctxt, value: &Value) -> Option<Spanned<Act>> {
    let (word, args, args_span) = match value {
        Value::Word(w) => (w, None, None),
        Value::Call(w, span, args) => (w, Some(args), Some(*span)),
        other @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::List(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..)) => {
            expected(
                cx,
                other,
                format!("an activation ({})", ACTIVATIONS.join(", ")),
            );
            return None;
        }
    };
    let name = word.to_string();
    let act = match name.as_str() {
        "relu" => Act::Relu,
        "gelu" => Act::Gelu,
        "tanh" => Act::Tanh,
        "sigmoid" => Act::Sigmoid,
        "silu" => Act::Silu,
        "leaky_relu" => {
            let slope = match args.map(Vec::as_slice) {
                None => 0.01,
                Some([Arg::Value(Value::Number(n))]) => float(cx, n, "slope")?,
                Some(_) => {
                    cx.error(
                        args_span.unwrap_or_else(|| word.span()),
                        "`leaky_relu` takes one number, its negative slope: `leaky_relu(0.2)` \
                         (default 0.01 as in PyTorch)",
                    );
                    return None;
                }
            };
            Act::LeakyRelu(slope)
        }
        _ => {
            let hint = closest(&name, ACTIVATIONS)
                .map(|k| format!("\n= help: did you mean `{k}`?"))
                .unwrap_or_default();
            cx.error(
                word.span(),
                format!(
                    "unknown activation `{name}`; expected one of: {}{hint}",
                    ACTIVATIONS.join(", ")
                ),
            );
            return None;
        }
    };
    if args.is_some() && name != "leaky_relu" {
        cx.error(
            args_span.unwrap_or_else(|| word.span()),
            format!("`{name}` takes no arguments"),
        );
        return None;
    }
    Some(Spanned::new(act, word.span()))
}

fn level(cx: &Ctxt, value: &Value) -> Option<Level> {
    if let Value::Word(w) = value {
        match w.to_string().as_str() {
            "deny" | "strict" => return Some(Level::Deny),
            "warn" => return Some(Level::Warn),
            "allow" => return Some(Level::Allow),
            _ => {}
        }
    }
    expected(
        cx,
        value,
        "a check level `deny`, `warn` or `allow` (`strict` = `deny`)",
    );
    None
}

fn checks(cx: &Ctxt, value: &Value) -> Levels {
    let mut levels = Levels::DEFAULT;
    let Value::Map(_, fields) = value else {
        expected(cx, value, "`check: { holes: deny, hdc: strict, … }`");
        return levels;
    };
    // The schedule's one table of check names: ids, `gridding`, the group `hdc`, and the
    // hyphenated spellings (accepted, not offered).
    let accepted: Vec<&str> = CheckName::ALL.iter().map(|n| n.name).collect();
    let offered: Vec<&str> = CheckName::offered().collect();
    let keys = Keys::collect_offering(cx, fields, &accepted, &offered, "`check`");
    // Two names of one check: say which to keep.
    for alias in CheckName::ALL.iter().filter(|n| n.kind != NameKind::Id) {
        let id = CheckName::ALL
            .iter()
            .find(|n| n.kind == NameKind::Id && n.checks == alias.checks);
        if let (Some(id), Some(key)) = (id, keys.key(alias.name))
            && keys.get(id.name).is_some()
        {
            key_error(
                cx,
                key,
                format!(
                    "`{}` and `{}` name the same check: keep one",
                    alias.name, id.name
                ),
            );
        }
    }
    // `hdc` first, so the names of single checks override it.
    let groups = CheckName::ALL.iter().filter(|n| n.kind == NameKind::Group);
    let singles = CheckName::ALL.iter().filter(|n| n.kind != NameKind::Group);
    for name in groups.chain(singles) {
        if let Some(l) = keys.get(name.name).and_then(|v| level(cx, v)) {
            levels.set_named(*name, l);
        }
    }
    levels
}

/// The compact form: `kernel`, `rates`, optional `channels` and `activation`; padding
/// `same`, stride 1, one group, a bias, the activation after every conv.
fn compact(cx: &Ctxt, keys: &Keys<'_>, input: Option<&(Input, Dims)>) -> Option<(Vec<Item>, Form)> {
    let dims = input.map_or(Dims::Two, |(_, d)| *d);
    let kernel = keys
        .get("kernel")
        .and_then(|v| per_axis(cx, v, "kernel", dims));
    let rates_value = keys.get("rates");
    let rates: Option<Vec<Spanned<usize>>> = match rates_value {
        None => None,
        Some(Value::List(span, items)) if items.is_empty() => {
            cx.error(
                *span,
                "`rates` is empty: a stack has at least one layer, e.g. `rates: [1, 2, 5]`",
            );
            None
        }
        Some(Value::List(_, items)) => {
            let parsed: Vec<Option<Spanned<usize>>> =
                items.iter().map(|v| positive(cx, v, "rate")).collect();
            parsed.into_iter().collect()
        }
        Some(other) => {
            expected(cx, other, "a list of rates such as `rates: [1, 2, 5]`");
            None
        }
    };
    let channels = keys
        .get("channels")
        .and_then(|v| positive(cx, v, "channel count"));
    let act = keys.get("activation").and_then(|v| activation(cx, v));
    let kernel = kernel?;
    let rates = rates?;
    let (input, _) = input?;
    let out = channels.unwrap_or(input.channels);
    let mut items = Vec::with_capacity(rates.len() * 2);
    let mut prev = input.channels;
    for rate in rates {
        let rate_axes = match dims {
            Dims::One => [Spanned::new(1, rate.span), rate],
            Dims::Two => [rate, rate],
        };
        items.push(Item::Conv(Box::new(Conv {
            span: rate.span,
            in_channels: prev,
            out_channels: out,
            kernel,
            rate: rate_axes,
            stride: [Spanned::new(1, rate.span); 2],
            groups: Spanned::new(1, rate.span),
            padding: Spanned::new(PadSyntax::Same, rate.span),
            bias: true,
            weight_norm: false,
        })));
        if let Some(a) = act {
            items.push(Item::Act(a));
        }
        prev = out;
    }
    Some((
        items,
        Form::Compact {
            rates: rates_value?.span(),
        },
    ))
}

fn per_layer(
    cx: &Ctxt,
    value: &Value,
    dims: Dims,
    input_channels: Option<Spanned<usize>>,
) -> Option<Vec<Item>> {
    let (span, entries) = list(
        cx,
        value,
        "`layers: [conv(C -> C, kernel: 3, rate: 1), relu, …]`",
    )?;
    let span = &span;
    if entries.is_empty() {
        cx.error(
            *span,
            "`layers` is empty: a stack has at least one `conv(…)`",
        );
        return None;
    }
    let crate::block::Entries {
        items,
        channels,
        mut ok,
        blocks,
    } = crate::block::items(cx, entries, dims, crate::block::Place::Top, 0);
    if blocks {
        // A block stack: channels, sizes and order are checked over the graph (`graph`).
        return ok.then_some(items);
    }
    if !chain(cx, input_channels, &channels) {
        ok = false;
    }
    // Order: the engine fuses one activation into the conv before it.
    let mut prev_is_conv = false;
    let mut any_conv = false;
    for item in &items {
        match item.part() {
            Part::Conv(_) => {
                prev_is_conv = true;
                any_conv = true;
            }
            Part::Graph => {}
            Part::Act(a) => {
                if !any_conv {
                    cx.error(
                        a.span,
                        "an activation must follow a conv: the stack starts with `conv(…)`",
                    );
                    ok = false;
                } else if !prev_is_conv {
                    cx.error(
                        a.span,
                        "two activations in a row: put at most one activation after each conv",
                    );
                    ok = false;
                }
                prev_is_conv = false;
            }
        }
    }
    if channels.is_empty() {
        cx.error(*span, "`layers` has no `conv(…)`");
        ok = false;
    }
    ok.then_some(items)
}

/// What the channel checks need of one conv, whatever else failed in it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Channels {
    cin: Option<Spanned<usize>>,
    cout: Option<Spanned<usize>>,
    groups: Option<Spanned<usize>>,
}

/// A conv and its channels (reported even when the rest of the conv has errors, so that a
/// channel mismatch shows up with them).
pub(crate) fn conv(
    cx: &Ctxt,
    span: Span,
    group: Span,
    args: &[Arg],
    dims: Dims,
) -> (Option<Conv>, Channels) {
    let mut info = Channels::default();
    let conv = conv_inner(cx, span, group, args, dims, &mut info);
    (conv, info)
}

fn conv_inner(
    cx: &Ctxt,
    span: Span,
    group: Span,
    args: &[Arg],
    dims: Dims,
    info: &mut Channels,
) -> Option<Conv> {
    let mut channels = None;
    let fields = fields_of(args, |arg| match arg {
        Arg::Arrow(a, b) if channels.is_none() => {
            let a = positive(cx, a, "input channel count");
            let b = positive(cx, b, "output channel count");
            channels = Some((a, b));
        }
        Arg::Arrow(a, _) => {
            cx.error(a.span(), "a conv has one `C_in -> C_out`");
        }
        // `fields_of` keeps the fields: never handed here.
        Arg::Field(_) => {}
        Arg::Value(v) | Arg::In(_, v, _) => {
            cx.error(
                v.span(),
                format!(
                    "unexpected {} in `conv(…)`: write `C_in -> C_out` then `key: value` \
                     pairs ({})",
                    v.describe(),
                    CONV_KEYS.join(", ")
                ),
            );
        }
    });
    // `norm` is accepted; the offered list stays the chain's (its messages are unchanged).
    let keys = Keys::collect_offering(cx, fields, CONV_KEYS_ACCEPTED, CONV_KEYS, "`conv(…)`");
    let groups = match keys.get("groups") {
        None => Some(Spanned::new(1, span)),
        Some(Value::Word(w)) if w == "depthwise" => channels
            .and_then(|(cin, _)| cin)
            .map(|c| Spanned::new(c.value, w.span())),
        Some(v) => positive(cx, v, "group count"),
    };
    if let Some((cin, cout)) = channels {
        *info = Channels { cin, cout, groups };
    }
    let Some((cin, cout)) = channels else {
        cx.error_range(
            span,
            group,
            "missing channels: write `conv(C_in -> C_out, kernel: 3, …)`",
        );
        return None;
    };
    let kernel = match keys.get("kernel") {
        Some(v) => per_axis(cx, v, "kernel", dims),
        None => {
            cx.error_range(
                span,
                group,
                "missing key `kernel` in `conv(…)`: add `kernel: 3` (or `[kh, kw]` in 2D)",
            );
            None
        }
    };
    let one = Spanned::new(1, span);
    let axes_one = [one, one];
    let rate = keys
        .get("rate")
        .map_or(Some(axes_one), |v| per_axis(cx, v, "rate", dims));
    let stride = keys
        .get("stride")
        .map_or(Some(axes_one), |v| per_axis(cx, v, "stride", dims));
    let padding = match keys.get("padding") {
        None => Some(Spanned::new(PadSyntax::Same, span)),
        Some(v) => padding(cx, v, dims),
    };
    let bias = match keys.get("bias") {
        None => Some(true),
        Some(Value::Bool(b, _)) => Some(*b),
        Some(v) => {
            expected(cx, v, "`bias: true` or `bias: false`");
            None
        }
    };
    let weight_norm = match keys.get("norm") {
        None => Some(false),
        Some(Value::Word(w)) if w == "weight" => Some(true),
        Some(v) => {
            expected(cx, v, "`norm: weight` (weight normalisation along dim 0)");
            None
        }
    };
    Some(Conv {
        span,
        in_channels: cin?,
        out_channels: cout?,
        kernel: kernel?,
        rate: rate?,
        stride: stride?,
        groups: groups?,
        padding: padding?,
        bias: bias?,
        weight_norm: weight_norm?,
    })
}

fn padding(cx: &Ctxt, value: &Value, dims: Dims) -> Option<Spanned<PadSyntax>> {
    let span = value.span();
    let axis = |v: &Value| -> Option<[usize; 2]> {
        match v {
            Value::Tuple(_, pair) if pair.len() == 2 => {
                let lo = integer(cx, &pair[0], "padding");
                let hi = integer(cx, &pair[1], "padding");
                Some([lo?.value, hi?.value])
            }
            Value::Tuple(s, _) => {
                cx.error(*s, "an axis's padding is `p` or `(before, after)`");
                None
            }
            v @ (Value::Number(_)
            | Value::Bool(..)
            | Value::Underscore(_)
            | Value::Word(_)
            | Value::Call(..)
            | Value::List(..)
            | Value::Map(..)
            | Value::Tagged(..)) => integer(cx, v, "padding").map(|p| [p.value, p.value]),
        }
    };
    let pad = match value {
        Value::Word(w) => match w.to_string().as_str() {
            "same" => PadSyntax::Same,
            "valid" => PadSyntax::Valid,
            "causal" => {
                if dims == Dims::Two {
                    cx.error(
                        w.span(),
                        "`causal` padding is for 1D stacks (`input: [C, L]`); a 2D stack \
                         pads `same`, `valid` or explicitly",
                    );
                    return None;
                }
                PadSyntax::Causal
            }
            other => {
                cx.error(
                    w.span(),
                    format!(
                        "unknown padding `{other}`; expected `same`, `valid`, `causal`, a \
                         number, `(before, after)` or a per-axis list"
                    ),
                );
                return None;
            }
        },
        Value::List(s, items) => match (dims, items.as_slice()) {
            (Dims::Two, [h, w]) => {
                let h = axis(h);
                let w = axis(w);
                PadSyntax::Explicit([h?, w?])
            }
            (Dims::One, [w]) => PadSyntax::Explicit([[0, 0], axis(w)?]),
            _ => {
                cx.error(
                    *s,
                    format!(
                        "a per-axis padding lists one entry per axis ({} here), each `p` or \
                         `(before, after)`",
                        if dims == Dims::One { 1 } else { 2 }
                    ),
                );
                return None;
            }
        },
        v @ (Value::Number(_)
        | Value::Bool(..)
        | Value::Underscore(_)
        | Value::Call(..)
        | Value::Tuple(..)
        | Value::Map(..)
        | Value::Tagged(..)) => {
            let a = axis(v)?;
            match dims {
                Dims::One => PadSyntax::Explicit([[0, 0], a]),
                Dims::Two => PadSyntax::Explicit([a, a]),
            }
        }
    };
    Some(Spanned::new(pad, span))
}

/// Channels chain (layer i's input is layer i−1's output, the stack's input first) and
/// groups divide both channel counts. Returns `false` after recording an error.
fn chain(cx: &Ctxt, input: Option<Spanned<usize>>, convs: &[Channels]) -> bool {
    let mut ok = true;
    let mut prev = input.map(|c| c.value);
    for (i, c) in convs.iter().enumerate() {
        let (Some(cin), Some(cout)) = (c.cin, c.cout) else {
            prev = None;
            continue;
        };
        if let Some(p) = prev.filter(|&p| p != cin.value) {
            let from = if i == 0 {
                format!("the input has {p}")
            } else {
                format!("layer {i} gives {p}")
            };
            cx.error(
                cin.span,
                format!(
                    "channel mismatch: layer {} takes {} input channels, but {from}\n\
                     = help: write `conv({p} -> {}, …)`",
                    i + 1,
                    cin.value,
                    cout.value,
                ),
            );
            ok = false;
        }
        prev = Some(cout.value);
        let Some(g) = c.groups else { continue };
        let bad: Vec<String> = [("input", cin), ("output", cout)]
            .iter()
            .filter(|(_, ch)| !ch.value.is_multiple_of(g.value))
            .map(|(what, ch)| format!("{} {what}", ch.value))
            .collect();
        if !bad.is_empty() {
            let common = gcd(cin.value, cout.value);
            let divisors: Vec<String> = (1..=common.min(64))
                .filter(|d| common.is_multiple_of(*d))
                .map(|d| d.to_string())
                .collect();
            cx.error(
                g.span,
                format!(
                    "groups = {} does not divide the {} channels of layer {}\n\
                     = help: use a group count that divides both {} and {} (a divisor of \
                     {common}): {}{}",
                    g.value,
                    bad.join(" and "),
                    i + 1,
                    cin.value,
                    cout.value,
                    divisors.join(", "),
                    if common > 64 { ", …" } else { "" },
                ),
            );
            ok = false;
        }
    }
    ok
}

/// The schedule's `gcd`, on `usize`.
fn gcd(a: usize, b: usize) -> usize {
    // gcd(a, b) <= max(a, b): it converts back.
    to_usize(schedule::gcd(to_u64(a), to_u64(b))).unwrap_or(a.max(b))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use dilated_core::schedule::{CheckName, Level, Levels};
    use proc_macro2::TokenStream;

    use crate::ctxt::Ctxt;

    /// The levels a `check: { … }` block sets, and the errors it records.
    fn checks(block: &str) -> (Option<Levels>, Vec<String>) {
        let src = format!(
            "struct S {{ input: [1, 64], kernel: 3, rates: [1, 2, 5], check: {{ {block} }} }}"
        );
        let raw = crate::parse::parse(TokenStream::from_str(&src).expect("lexes")).expect("parses");
        let cx = Ctxt::new();
        let levels = super::from_raw(&cx, &raw).map(|s| s.checks);
        let (error, _) = cx.finish();
        let errors = error
            .into_iter()
            .flat_map(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .collect();
        (levels, errors)
    }

    #[test]
    fn every_check_name_sets_its_checks_at_every_level() {
        let levels = [
            ("deny", Level::Deny),
            ("strict", Level::Deny),
            ("warn", Level::Warn),
            ("allow", Level::Allow),
        ];
        for name in CheckName::ALL {
            for (word, level) in levels {
                let (got, errors) = checks(&format!("{}: {word}", name.name));
                assert!(errors.is_empty(), "{}: {word}: {errors:?}", name.name);
                let mut expected = Levels::DEFAULT;
                for &c in name.checks {
                    expected.set(c, level);
                }
                assert_eq!(got, Some(expected), "{}: {word}", name.name);
            }
        }
    }

    #[test]
    fn a_rule_name_overrides_the_group_and_two_names_of_one_check_are_an_error() {
        let (got, errors) = checks("hdc-rule-2: allow, hdc: deny");
        assert!(errors.is_empty(), "{errors:?}");
        let mut expected = Levels::DEFAULT.strict_hdc();
        expected.hdc2 = Level::Allow;
        assert_eq!(got, Some(expected));
        let (_, errors) = checks("hdc1: deny, hdc-rule-1: warn");
        assert_eq!(
            errors,
            ["`hdc-rule-1` and `hdc1` name the same check: keep one"]
        );
        let (_, errors) = checks("gridding: allow, holes: deny");
        assert_eq!(
            errors,
            ["`gridding` and `holes` name the same check: keep one"]
        );
        let (_, errors) = checks("hdc-rule-4: deny");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("unknown key `hdc-rule-4` in `check`; expected one of: `holes`, `gridding`, `hdc`, `hdc1`"),
            "{errors:?}"
        );
    }
}

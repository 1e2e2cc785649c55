//! Phase 1a: tokens → a generic value tree.
//!
//! The macro body is a small key-value language; syn parses it into [`Value`]s that keep the
//! span of every token. Syntax errors stop here (syn's fail-fast errors, spanned); everything
//! that is syntactically fine but wrong (unknown keys, zero rates, bad channels…) is found by
//! the later phases, which report all of it at once.
//!
//! ```text
//! input  := attribute* visibility `struct` IDENT `{` field (`,` field)* `,`? `}`
//! field  := key `:` value
//! key    := IDENT                        at the top level and in `name( … )`
//!         | IDENT (`-` (IDENT | INT))*   in `{ … }`, e.g. `no-output`, `hdc-rule-1`
//! value  := `-`? INT | `-`? FLOAT | `true` | `false` | `_`
//!         | IDENT                        e.g. `relu`, `same`
//!         | IDENT `(` arg,* `)`          e.g. `conv(16 -> 32, kernel: 3)`, `leaky_relu(0.2)`
//!         | IDENT `{` field,* `}`          e.g. `residual { body: [ … ] }` (a call of fields)
//!         | (IDENT | IDENT `(` arg,* `)`) `[` value,* `]`
//!                                        e.g. `pool [ … ]`, `repeat(rate in [1, 2]) [ … ]`
//!         | `[` value,* `]` | `(` value,* `)` | `{` field,* `}`
//! arg    := IDENT `:` value | IDENT `in` value (`*` INT)? | value `->` value | value
//! ```

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Visibility, braced, bracketed, parenthesized};

/// The whole invocation.
pub(crate) struct RawStack {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) fields: Vec<Field>,
}

/// `key: value`.
#[derive(Clone)]
pub(crate) struct Field {
    pub(crate) key: Key,
    pub(crate) value: Value,
}

/// A key as written: one identifier, or hyphenated words inside `{ … }` (the `check`
/// names `no-output`, `hdc-rule-1`, …).
#[derive(Clone)]
pub(crate) struct Key {
    /// The words joined by `-`.
    pub(crate) name: String,
    /// The first token.
    pub(crate) span: Span,
    /// The last token of a hyphenated key (`None` for one word).
    pub(crate) end: Option<Span>,
}

/// A number as written, with its sign and span; converted (with overflow checks) later.
#[derive(Clone, Debug)]
pub(crate) struct Number {
    pub(crate) negative: bool,
    pub(crate) digits: String,
    pub(crate) float: bool,
    pub(crate) span: Span,
}

/// One value of the key-value language.
#[derive(Clone)]
pub(crate) enum Value {
    Number(Number),
    Bool(bool, Span),
    Underscore(Span),
    Word(Ident),
    /// `name( … )`, and `name { … }` (its fields as [`Arg::Field`]s).
    Call(Ident, Span, Vec<Arg>),
    List(Span, Vec<Value>),
    Tuple(Span, Vec<Value>),
    Map(Span, Vec<Field>),
    /// A head (a word or a call) followed by a list: `pool [ … ]`, `skip [ … ]`,
    /// `repeat(rate in [1, 2]) [ … ]`; the span is the list's.
    Tagged(Box<Value>, Span, Vec<Value>),
}

/// An argument inside `name( … )`.
#[derive(Clone)]
pub(crate) enum Arg {
    Field(Field),
    Arrow(Value, Value),
    Value(Value),
    /// `rate in [1, 2, 4] * 2`: a variable, its values, and how many times they repeat.
    In(Ident, Value, Option<Number>),
}

impl Value {
    /// The span to put an error about this value on: the literal, the word, or the whole
    /// delimited group.
    pub(crate) fn span(&self) -> Span {
        match self {
            Value::Number(n) => n.span,
            Value::Bool(_, s) | Value::Underscore(s) => *s,
            Value::Word(i) => i.span(),
            Value::Call(i, _, _) => i.span(),
            Value::List(s, _) | Value::Tuple(s, _) | Value::Map(s, _) => *s,
            Value::Tagged(head, _, _) => head.span(),
        }
    }

    /// A short description for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Number(n) => {
                format!("`{}{}`", if n.negative { "-" } else { "" }, n.digits)
            }
            Value::Bool(b, _) => format!("`{b}`"),
            Value::Underscore(_) => "`_`".to_owned(),
            Value::Word(i) => format!("`{i}`"),
            Value::Call(i, _, _) => format!("`{i}(…)`"),
            Value::List(..) => "a list `[…]`".to_owned(),
            Value::Tuple(..) => "a tuple `(…)`".to_owned(),
            Value::Map(..) => "a block `{…}`".to_owned(),
            Value::Tagged(head, _, _) => format!("{} `[…]`", head.describe()),
        }
    }
}

impl Parse for RawStack {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let _: Token![struct] = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct Name { … }`: `dilated_stack!` declares one stack as a struct",
            )
        })?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input
                .error("a stack takes no generic parameters: its sizes are written in the body"));
        }
        let content;
        braced!(content in input);
        let fields = parse_fields(&content, false)?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the stack: write one `dilated_stack!` per struct",
            ));
        }
        Ok(RawStack {
            attrs,
            vis,
            name,
            fields,
        })
    }
}

/// Fields separated by commas; `hyphenated` keys inside `{ … }` blocks.
fn parse_fields(input: ParseStream<'_>, hyphenated: bool) -> syn::Result<Vec<Field>> {
    let mut fields = Vec::new();
    while !input.is_empty() {
        fields.push(parse_field(input, hyphenated)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(fields)
}

fn parse_field(input: ParseStream<'_>, hyphenated: bool) -> syn::Result<Field> {
    let key = parse_key(input, hyphenated)?;
    input.parse::<Token![:]>()?;
    let value = parse_value(input)?;
    Ok(Field { key, value })
}

fn parse_key(input: ParseStream<'_>, hyphenated: bool) -> syn::Result<Key> {
    let first = Ident::parse_any(input)
        .map_err(|e| syn::Error::new(e.span(), "expected a key such as `kernel: 3`"))?;
    let mut key = Key {
        name: first.to_string(),
        span: first.span(),
        end: None,
    };
    while hyphenated && input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        let (word, span) = if input.peek(syn::LitInt) {
            let lit: syn::LitInt = input.parse()?;
            (lit.to_string(), lit.span())
        } else {
            let word = Ident::parse_any(input).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a word after `-` in a key such as `no-output`",
                )
            })?;
            (word.to_string(), word.span())
        };
        key.name.push('-');
        key.name.push_str(&word);
        key.end = Some(span);
    }
    Ok(key)
}

fn parse_list(input: ParseStream<'_>) -> syn::Result<Vec<Value>> {
    let mut values = Vec::new();
    while !input.is_empty() {
        values.push(parse_value(input)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(values)
}

fn parse_args(input: ParseStream<'_>) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        let arg = if (input.peek(Ident::peek_any) && input.peek2(Token![:]))
            && !input.peek2(Token![::])
        {
            Arg::Field(parse_field(input, false)?)
        } else if input.peek(Ident::peek_any) && input.peek2(Token![in]) {
            let var = Ident::parse_any(input)?;
            input.parse::<Token![in]>()?;
            let values = parse_value(input)?;
            let times = if input.peek(Token![*]) {
                input.parse::<Token![*]>()?;
                let lit: syn::LitInt = input.parse()?;
                Some(Number {
                    negative: false,
                    digits: lit.base10_digits().to_owned(),
                    float: false,
                    span: lit.span(),
                })
            } else {
                None
            };
            Arg::In(var, values, times)
        } else {
            let first = parse_value(input)?;
            if input.peek(Token![->]) {
                input.parse::<Token![->]>()?;
                let second = parse_value(input)?;
                Arg::Arrow(first, second)
            } else {
                Arg::Value(first)
            }
        };
        args.push(arg);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// Brackets nest at most this deep (the parser recurses once per level: this protects the
/// compiler's stack from a hostile or runaway input).
pub(crate) const MAX_NESTING: usize = 64;

std::thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn parse_value(input: ParseStream<'_>) -> syn::Result<Value> {
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let value = if depth > MAX_NESTING {
        Err(input.error(format!(
            "brackets nest deeper than {MAX_NESTING} levels: flatten the stack"
        )))
    } else {
        parse_value_inner(input)
    };
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    value
}

fn parse_value_inner(input: ParseStream<'_>) -> syn::Result<Value> {
    let lookahead = input.lookahead1();
    if lookahead.peek(Token![-]) || lookahead.peek(syn::LitInt) || lookahead.peek(syn::LitFloat) {
        let negative = if input.peek(Token![-]) {
            input.parse::<Token![-]>()?;
            true
        } else {
            false
        };
        if input.peek(syn::LitInt) {
            let lit: syn::LitInt = input.parse()?;
            Ok(Value::Number(Number {
                negative,
                digits: lit.base10_digits().to_owned(),
                float: false,
                span: lit.span(),
            }))
        } else if input.peek(syn::LitFloat) {
            let lit: syn::LitFloat = input.parse()?;
            Ok(Value::Number(Number {
                negative,
                digits: lit.base10_digits().to_owned(),
                float: true,
                span: lit.span(),
            }))
        } else {
            Err(input.error("expected a number after `-`"))
        }
    } else if lookahead.peek(Token![_]) {
        let u: Token![_] = input.parse()?;
        Ok(Value::Underscore(u.span))
    } else if lookahead.peek(syn::token::Bracket) {
        let content;
        let b = bracketed!(content in input);
        Ok(Value::List(b.span.join(), parse_list(&content)?))
    } else if lookahead.peek(syn::token::Paren) {
        let content;
        let p = parenthesized!(content in input);
        Ok(Value::Tuple(p.span.join(), parse_list(&content)?))
    } else if lookahead.peek(syn::token::Brace) {
        let content;
        let b = braced!(content in input);
        Ok(Value::Map(b.span.join(), parse_fields(&content, true)?))
    } else if lookahead.peek(Ident::peek_any) {
        let word = Ident::parse_any(input)?;
        if word == "true" || word == "false" {
            return Ok(Value::Bool(word == "true", word.span()));
        }
        let head = if input.peek(syn::token::Paren) {
            let content;
            let p = parenthesized!(content in input);
            Value::Call(word, p.span.join(), parse_args(&content)?)
        } else if input.peek(syn::token::Brace) {
            let content;
            let b = braced!(content in input);
            let fields = parse_fields(&content, false)?;
            return Ok(Value::Call(
                word,
                b.span.join(),
                fields.into_iter().map(Arg::Field).collect(),
            ));
        } else {
            Value::Word(word)
        };
        if input.peek(syn::token::Bracket) {
            let content;
            let b = bracketed!(content in input);
            Ok(Value::Tagged(
                Box::new(head),
                b.span.join(),
                parse_list(&content)?,
            ))
        } else {
            Ok(head)
        }
    } else {
        Err(lookahead.error())
    }
}

/// Parses the macro input (usable outside a proc-macro context, for the fuzz tests).
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<RawStack> {
    syn::parse2(tokens)
}

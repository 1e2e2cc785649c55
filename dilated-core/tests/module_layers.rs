//! The crate's modules form layers: no two modules import each other (directly or around a
//! longer circle), and no module imports from an ancestor module's own file.
//!
//! The scan reads every file module of `dilated-core/src` (the files `lib.rs` mounts with
//! `mod name;`, recursively; a module mounted under `#[cfg(test)]` is skipped) with a small
//! lexer, not a parser: comments, doc comments, strings and character literals are dropped,
//! and so is every item under `#[cfg(test)]` (the `mod tests { … }` blocks, test helpers).
//! What is left yields the module's imports: every `use` tree (groups, `self`, renames and
//! globs included), and every path in code that starts with `crate::`, `super::`, `self::`
//! or the name of a child module.
//!
//! Each path is resolved to a file module: the longest prefix that names a module, then the
//! item named after it, followed through the `use` declarations of that module (a re-export
//! such as `lib.rs`'s `pub use error::Error`) to the module that defines it. An import is
//! **upward** when
//! - its path reaches an item through an ancestor module other than the crate root (e.g.
//!   `super::NodeId` from a child of `graph`, or `crate::schedule::Axis` from inside
//!   `schedule`, which leans on the schedule root's re-export instead of naming
//!   `schedule::axis`), or
//! - the item, followed through re-exports, is defined in an ancestor module's own file, the
//!   crate root included (`crate::Error` is fine when it leads to `error.rs`).
//!
//! A **circle** is a strongly connected set of modules in the graph of imports (each
//! import an edge to the module that defines the item).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

// ------------------------------------------------------------------------------------------
// Lexer
// ------------------------------------------------------------------------------------------

/// A token of code: an identifier or keyword (`$crate` included), `::`, or one character of
/// punctuation. Literals are dropped, except that a number stands as `0` so that it still
/// separates what it sits between.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

impl Tok {
    fn is_ident(&self, s: &str) -> bool {
        matches!(self, Tok::Ident(i) if i == s)
    }

    fn is_punct(&self, c: char) -> bool {
        *self == Tok::Punct(c)
    }

    fn ident(&self) -> Option<&str> {
        match self {
            Tok::Ident(i) => Some(i),
            Tok::PathSep | Tok::Punct(_) => None,
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Skips a quoted string body starting after its opening quote; returns the index after the
/// closing quote. `raw` strings have no escapes; `hashes` closing `#`s follow the quote.
fn skip_string(s: &[char], mut i: usize, raw: bool, hashes: usize) -> usize {
    while i < s.len() {
        if !raw && s[i] == '\\' {
            i += 2;
            continue;
        }
        if s[i] == '"'
            && s[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// The code tokens of `src`: comments (nested block comments, doc comments), strings (raw
/// and byte strings too), character literals and lifetimes are left out.
fn lex(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied().unwrap_or('\0');
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0usize;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&s, i + 1, false, 0);
        } else if (c == 'r' || (c == 'b' && next == 'r')) && {
            // r"…", r#"…"#, br"…", br#"…"#
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while s.get(j) == Some(&'#') {
                j += 1;
            }
            s.get(j) == Some(&'"')
        } {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while s[j] == '#' {
                hashes += 1;
                j += 1;
            }
            i = skip_string(&s, j + 1, true, hashes);
        } else if c == 'b' && next == '"' {
            i = skip_string(&s, i + 2, false, 0);
        } else if c == 'b' && next == '\'' {
            i += 2;
            while i < s.len() && s[i] != '\'' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a, 'static).
            if next == '\\' {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < s.len() && is_ident_char(s[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() {
            while i < s.len() && (is_ident_char(s[i]) || s[i] == '.') {
                // `1..n`: stop before a range.
                if s[i] == '.' && s.get(i + 1) == Some(&'.') {
                    break;
                }
                i += 1;
            }
            out.push(Tok::Punct('0'));
        } else if is_ident_start(c) || (c == '$' && next.is_alphabetic()) {
            let start = i;
            i += 1;
            while i < s.len() && is_ident_char(s[i]) {
                i += 1;
            }
            let mut word: String = s[start..i].iter().collect();
            if let Some(raw) = word.strip_prefix("r#") {
                word = raw.to_string();
            }
            out.push(Tok::Ident(word));
        } else if c == ':' && next == ':' {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// The index after the item that starts at `i`: up to a `;` at depth 0, or through the
/// first brace block opened at depth 0.
fn item_end(t: &[Tok], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < t.len() {
        match &t[i] {
            Tok::Punct('(' | '[') => depth += 1,
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct('{') => {
                let mut braces = 1usize;
                i += 1;
                while i < t.len() && braces > 0 {
                    if t[i].is_punct('{') {
                        braces += 1;
                    } else if t[i].is_punct('}') {
                        braces -= 1;
                    }
                    i += 1;
                }
                if depth == 0 {
                    return i;
                }
                continue;
            }
            Tok::Punct(';') if depth == 0 => return i + 1,
            Tok::Ident(_) | Tok::PathSep | Tok::Punct(_) => {}
        }
        i += 1;
    }
    i
}

/// The index after the attribute `#[…]` (or `#![…]`) starting at `i`, and whether it is
/// `cfg(test)` or `cfg(all(test, …))`.
fn attribute(t: &[Tok], i: usize) -> Option<(usize, bool)> {
    let open = if t.get(i + 1).is_some_and(|t| t.is_punct('!')) {
        i + 2
    } else {
        i + 1
    };
    if !t.get(open).is_some_and(|t| t.is_punct('[')) {
        return None;
    }
    let mut depth = 0usize;
    let mut j = open;
    while j < t.len() {
        if t[j].is_punct('[') {
            depth += 1;
        } else if t[j].is_punct(']') {
            depth -= 1;
            if depth == 0 {
                break;
            }
        }
        j += 1;
    }
    let body = &t[open + 1..j];
    let word = |k: usize, s: &str| body.get(k).is_some_and(|t| t.is_ident(s));
    let punct = |k: usize, c: char| body.get(k).is_some_and(|t| t.is_punct(c));
    let test = word(0, "cfg")
        && punct(1, '(')
        && ((word(2, "test") && punct(3, ')') && body.len() == 4)
            || (word(2, "all") && punct(3, '(') && word(4, "test")));
    Some((j + 1, test))
}

/// The tokens with every `#[cfg(test)]` item removed.
fn strip_test_items(t: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i].is_punct('#')
            && let Some((end, test)) = attribute(t, i)
        {
            if test {
                // Further attributes of the same item, then the item.
                let mut j = end;
                while j < t.len() && t[j].is_punct('#') {
                    match attribute(t, j) {
                        Some((e, _)) => j = e,
                        None => break,
                    }
                }
                i = item_end(t, j);
            } else {
                out.extend_from_slice(&t[i..end]);
                i = end;
            }
            continue;
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

// ------------------------------------------------------------------------------------------
// Modules, their imports, their items
// ------------------------------------------------------------------------------------------

/// One import: the absolute path segments (`crate::` resolved away), whether it is a glob,
/// the name it binds in the importing module (for `use`), and the text to show.
#[derive(Debug, Clone)]
struct Import {
    path: Vec<String>,
    glob: bool,
    binds: Option<String>,
    text: String,
}

/// One file module of the crate.
#[derive(Debug, Default)]
struct Module {
    file: String,
    /// Names the module defines at its top level.
    defines: BTreeSet<String>,
    imports: Vec<Import>,
}

/// Module path (`""` for the crate root, `"schedule::graph"`) → module.
type Crate = BTreeMap<String, Module>;

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}::{name}")
    }
}

/// `a` is a strict ancestor of `b` (the crate root is everyone's ancestor).
fn is_ancestor(a: &str, b: &str) -> bool {
    a != b && (a.is_empty() || b.starts_with(&format!("{a}::")))
}

/// The `mod name;` declarations and top-level definitions of a module's (test-free) tokens.
fn children_and_defines(t: &[Tok]) -> (Vec<String>, BTreeSet<String>) {
    let mut children = Vec::new();
    let mut defines = BTreeSet::new();
    let mut depth = 0usize;
    for (i, tok) in t.iter().enumerate() {
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth = depth.saturating_sub(1),
            Tok::Ident(kw) if depth == 0 => {
                let name = t.get(i + 1).and_then(Tok::ident);
                let is_kw = matches!(
                    kw.as_str(),
                    "struct" | "enum" | "fn" | "trait" | "type" | "const" | "static" | "union"
                );
                if kw == "mod" {
                    if let Some(n) = name {
                        if t.get(i + 2).is_some_and(|t| t.is_punct(';')) {
                            children.push(n.to_string());
                        }
                        defines.insert(n.to_string());
                    }
                } else if is_kw {
                    if let Some(n) = name {
                        defines.insert(n.to_string());
                    }
                } else if kw == "macro_rules"
                    && let Some(n) = t.get(i + 2).and_then(Tok::ident)
                {
                    defines.insert(n.to_string());
                }
            }
            Tok::Ident(_) | Tok::PathSep | Tok::Punct(_) => {}
        }
    }
    (children, defines)
}

/// Where a path written in module `cur` starts: the absolute segments it stands for, or
/// `None` for a path outside the crate (`std::…`, a dependency, a local type's `Type::item`).
fn absolute(cur: &str, children: &[String], segs: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = if cur.is_empty() {
        Vec::new()
    } else {
        cur.split("::").map(str::to_string).collect()
    };
    let first = segs.first()?;
    let rest = match first.as_str() {
        "crate" | "$crate" => {
            base.clear();
            &segs[1..]
        }
        "self" => &segs[1..],
        "super" => {
            let mut k = 0;
            while segs.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            &segs[k..]
        }
        name if children.iter().any(|c| c == name) => segs,
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Parses the use tree at `t[*i..]` (after `use`, or inside a group), pushing one import
/// per leaf; `prefix` holds the segments written before the group.
fn use_tree(t: &[Tok], i: &mut usize, prefix: &mut Vec<String>, leaves: &mut Vec<Import>) {
    let start_len = prefix.len();
    if t.get(*i).is_some_and(|t| *t == Tok::PathSep) {
        *i += 1; // `use ::std::…`
    }
    loop {
        match t.get(*i) {
            Some(Tok::Ident(name)) => {
                prefix.push(name.clone());
                *i += 1;
                if t.get(*i).is_some_and(|t| *t == Tok::PathSep) {
                    *i += 1;
                    continue;
                }
                // A leaf: `name` or `name as alias`.
                let mut path = prefix.clone();
                let mut binds = name.clone();
                if name == "self" {
                    path.pop();
                    binds = path.last().cloned().unwrap_or_default();
                }
                if t.get(*i).is_some_and(|t| t.is_ident("as")) {
                    if let Some(alias) = t.get(*i + 1).and_then(Tok::ident) {
                        binds = alias.to_string();
                    }
                    *i += 2;
                }
                leaves.push(Import {
                    text: path.join("::"),
                    path,
                    glob: false,
                    binds: Some(binds),
                });
                break;
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                leaves.push(Import {
                    path: prefix.clone(),
                    glob: true,
                    binds: None,
                    text: format!("{}::*", prefix.join("::")),
                });
                break;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                while t.get(*i).is_some_and(|t| !t.is_punct('}')) {
                    use_tree(t, i, prefix, leaves);
                    if t.get(*i).is_some_and(|t| t.is_punct(',')) {
                        *i += 1;
                    }
                }
                *i += 1;
                break;
            }
            Some(Tok::PathSep | Tok::Punct(_)) | None => break,
        }
    }
    prefix.truncate(start_len);
}

/// Every import of module `cur`: its `use` trees and the crate-relative paths in its code,
/// made absolute. Paths that leave the crate are dropped.
fn imports(cur: &str, t: &[Tok], children: &[String]) -> Vec<Import> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i].is_ident("use") {
            i += 1;
            let mut leaves = Vec::new();
            use_tree(t, &mut i, &mut Vec::new(), &mut leaves);
            for mut leaf in leaves {
                if let Some(abs) = absolute(cur, children, &leaf.path) {
                    leaf.path = abs;
                    out.push(leaf);
                }
            }
            continue;
        }
        // A path in code: `first::second::…`, not itself the tail of a longer path.
        let starts_path = t[i].ident().is_some()
            && t.get(i + 1).is_some_and(|t| *t == Tok::PathSep)
            && !(i > 0 && t[i - 1] == Tok::PathSep);
        if starts_path {
            let mut segs = Vec::new();
            let mut j = i;
            while let Some(name) = t.get(j).and_then(Tok::ident) {
                segs.push(name.to_string());
                if t.get(j + 1).is_some_and(|t| *t == Tok::PathSep) {
                    j += 2;
                } else {
                    j += 1;
                    break;
                }
            }
            if let Some(abs) = absolute(cur, children, &segs) {
                out.push(Import {
                    path: abs,
                    glob: false,
                    binds: None,
                    text: segs.join("::"),
                });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// Builds the crate from `(file path relative to src, source)` pairs: the modules that
/// `lib.rs` mounts, recursively (`a.rs` or `a/mod.rs` for `mod a;` in the root; `b/c.rs`
/// or `b/c/mod.rs` for `mod c;` in `b`).
fn build(files: &BTreeMap<String, String>) -> Crate {
    let mut krate = Crate::new();
    let mut todo = vec![(String::new(), "lib.rs".to_string())];
    while let Some((name, file)) = todo.pop() {
        let Some(src) = files.get(&file) else {
            continue;
        };
        let tokens = strip_test_items(&lex(src));
        let (children, defines) = children_and_defines(&tokens);
        let dir = if file == "lib.rs" || file.ends_with("/mod.rs") {
            file.rsplit_once('/')
                .map_or(String::new(), |(d, _)| format!("{d}/"))
        } else {
            format!("{}/", file.trim_end_matches(".rs"))
        };
        for c in &children {
            let flat = format!("{dir}{c}.rs");
            let nested = format!("{dir}{c}/mod.rs");
            let f = if files.contains_key(&flat) {
                flat
            } else {
                nested
            };
            todo.push((join(&name, c), f));
        }
        let imports = imports(&name, &tokens, &children);
        krate.insert(
            name,
            Module {
                file,
                defines,
                imports,
            },
        );
    }
    krate
}

/// The longest prefix of `path` that names a module, and the rest.
fn split_module<'p>(krate: &Crate, path: &'p [String]) -> (String, &'p [String]) {
    let mut best = (String::new(), path);
    for k in 1..=path.len() {
        let m = path[..k].join("::");
        if krate.contains_key(&m) {
            best = (m, &path[k..]);
        }
    }
    best
}

/// The module that defines the item `path` names, following `use` declarations (up to a
/// few hops; a name that is not found is taken as defined where it was looked for).
fn defining_module(krate: &Crate, path: &[String], hops: usize) -> String {
    let (m, rest) = split_module(krate, path);
    let Some(name) = rest.first() else {
        return m;
    };
    let module = &krate[&m];
    if module.defines.contains(name) || hops == 0 {
        return m;
    }
    if let Some(via) = module
        .imports
        .iter()
        .find(|imp| imp.binds.as_deref() == Some(name.as_str()))
    {
        let mut p = via.path.clone();
        p.extend(rest[1..].iter().cloned());
        return defining_module(krate, &p, hops - 1);
    }
    for glob in module.imports.iter().filter(|imp| imp.glob) {
        let mut p = glob.path.clone();
        p.extend(rest.iter().cloned());
        let d = defining_module(krate, &p, hops - 1);
        if krate[&d].defines.contains(name) {
            return d;
        }
    }
    m
}

/// One edge of the import graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    text: String,
    upward: bool,
}

fn edges(krate: &Crate) -> Vec<Edge> {
    let mut out = BTreeSet::new();
    for (cur, module) in krate {
        for imp in &module.imports {
            let (through, _) = split_module(krate, &imp.path);
            let to = defining_module(krate, &imp.path, 8);
            if to == *cur {
                continue;
            }
            let upward = (is_ancestor(&through, cur) && !through.is_empty())
                || is_ancestor(&to, cur)
                || (imp.glob && is_ancestor(&through, cur));
            out.insert(Edge {
                from: cur.clone(),
                to,
                text: imp.text.clone(),
                upward,
            });
        }
    }
    out.into_iter().collect()
}

/// The strongly connected sets of more than one module (Tarjan), each sorted.
fn circles(krate: &Crate, edges: &[Edge]) -> Vec<Vec<String>> {
    struct State<'a> {
        adj: BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        let next: Vec<&str> = s.adj.get(v).into_iter().flatten().copied().collect();
        for w in next {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                set.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.out.push(set);
            }
        }
    }
    let mut s = State {
        adj: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for e in edges {
        s.adj.entry(&e.from).or_default().insert(&e.to);
    }
    for m in krate.keys() {
        if !s.index.contains_key(m.as_str()) {
            visit(&mut s, m);
        }
    }
    s.out.sort();
    s.out
}

fn show(m: &str) -> &str {
    if m.is_empty() { "crate" } else { m }
}

/// Every violation, one per line: each circle with the imports that close it, then each
/// upward import.
fn violations(files: &BTreeMap<String, String>) -> Vec<String> {
    let krate = build(files);
    let edges = edges(&krate);
    let mut out = Vec::new();
    for set in circles(&krate, &edges) {
        let mut line = format!(
            "circle: {}",
            set.iter().map(|m| show(m)).collect::<Vec<_>>().join(", ")
        );
        for e in edges
            .iter()
            .filter(|e| set.contains(&e.from) && set.contains(&e.to))
        {
            let _ = write!(
                line,
                "\n    {} ({}) -> {}: `{}`",
                show(&e.from),
                krate[&e.from].file,
                show(&e.to),
                e.text
            );
        }
        out.push(line);
    }
    for e in edges.iter().filter(|e| e.upward) {
        out.push(format!(
            "upward: {} ({}) -> {}: `{}`",
            show(&e.from),
            krate[&e.from].file,
            show(&e.to),
            e.text
        ));
    }
    out
}

// ------------------------------------------------------------------------------------------
// The crate itself
// ------------------------------------------------------------------------------------------

fn read_dir(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            read_dir(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(rel, fs::read_to_string(&path).expect("read source"));
        }
    }
}

#[test]
fn the_crate_has_no_circle_and_no_upward_import() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_dir(&root, &root, &mut files);
    let krate = build(&files);
    // The scan sees the modules it should (a broken lexer would see few).
    for m in [
        "schedule::graph",
        "engine::exec::winograd",
        "model::plan",
        "stream",
    ] {
        assert!(krate.contains_key(m), "module {m} not found by the scan");
    }
    let v = violations(&files);
    assert!(
        v.is_empty(),
        "{} import violation(s) in dilated-core/src:\n{}",
        v.len(),
        v.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// The checker, on small crates
// ------------------------------------------------------------------------------------------

fn crate_of(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, s)| ((*p).to_string(), (*s).to_string()))
        .collect()
}

#[test]
fn lexer_drops_comments_strings_and_literals() {
    let t = lex(concat!(
        "// use crate::a;\n/// crate::b\n/* crate::c /* nested */ crate::d */\n",
        "let s = \"crate::e\"; let r = r#\"crate::f \"\"#; let c = '\"'; let l: &'a str;\n",
        "let b = b\"crate::g\"; let x = b'\\''; crate::h::i(1..2);",
    ));
    let idents: Vec<&str> = t.iter().filter_map(Tok::ident).collect();
    assert_eq!(
        idents,
        [
            "let", "s", "let", "r", "let", "c", "let", "l", "str", "let", "b", "let", "x", "crate",
            "h", "i"
        ]
    );
}

#[test]
fn use_trees_resolve_groups_self_renames_and_globs() {
    let t = lex("use crate::a::{b::{C, self as bb}, D as E}; use super::*; use std::fmt;");
    let imps = imports("x::y", &t, &[]);
    let got: Vec<(String, Option<String>, bool)> = imps
        .iter()
        .map(|i| (i.path.join("::"), i.binds.clone(), i.glob))
        .collect();
    assert_eq!(
        got,
        [
            ("a::b::C".to_string(), Some("C".to_string()), false),
            ("a::b".to_string(), Some("bb".to_string()), false),
            ("a::D".to_string(), Some("E".to_string()), false),
            ("x".to_string(), None, true),
        ]
    );
}

#[test]
fn clean_layers_pass() {
    let files = crate_of(&[
        ("lib.rs", "mod error; pub mod a; pub use error::Error;"),
        ("error.rs", "pub struct Error;"),
        (
            "a/mod.rs",
            "mod types; mod leaf; pub use types::Id; pub use leaf::f;",
        ),
        ("a/types.rs", "pub struct Id;"),
        (
            "a/leaf.rs",
            "use super::types::Id; use crate::Error; pub fn f(_: Id) -> Error { crate::error::Error }",
        ),
    ]);
    assert_eq!(violations(&files), Vec::<String>::new());
}

#[test]
fn a_circle_between_two_files_is_found() {
    let files = crate_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        ("b.rs", "pub struct B; fn f() { let _ = crate::a::A; }"),
    ]);
    let v = violations(&files);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("circle: a, b"), "{v:?}");
    assert!(
        v[0].contains("`crate::b::B`") && v[0].contains("`crate::a::A`"),
        "{v:?}"
    );
}

#[test]
fn a_longer_circle_is_found() {
    let files = crate_of(&[
        ("lib.rs", "mod a; mod b; mod c;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        ("b.rs", "use crate::c::C; pub struct B;"),
        ("c.rs", "use crate::a::A; pub struct C;"),
    ]);
    let v = violations(&files);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("circle: a, b, c"), "{v:?}");
}

#[test]
fn importing_what_a_module_root_defines_is_upward() {
    let files = crate_of(&[
        ("lib.rs", "pub mod g;"),
        ("g/mod.rs", "mod an; pub struct NodeId; pub use an::run;"),
        ("g/an.rs", "use super::{NodeId}; pub fn run(_: NodeId) {}"),
    ]);
    let v = violations(&files);
    assert!(
        v.iter()
            .any(|l| l.starts_with("upward: g::an (g/an.rs) -> g: `super::NodeId`")),
        "{v:?}"
    );
    // The root re-exports `run` and the child reads the root: a circle too.
    assert!(v.iter().any(|l| l.starts_with("circle: g, g::an")), "{v:?}");
}

#[test]
fn going_through_an_ancestors_reexport_is_upward() {
    let files = crate_of(&[
        ("lib.rs", "pub mod s;"),
        ("s/mod.rs", "mod axis; pub mod graph; pub use axis::Axis;"),
        ("s/axis.rs", "pub enum Axis { X }"),
        ("s/graph/mod.rs", "mod geo;"),
        (
            "s/graph/geo.rs",
            "use crate::s::Axis; fn f() { let _ = crate::s::axis::Axis::X; }",
        ),
    ]);
    let v = violations(&files);
    assert_eq!(
        v,
        ["upward: s::graph::geo (s/graph/geo.rs) -> s::axis: `crate::s::Axis`"]
    );
}

#[test]
fn the_crate_roots_reexports_are_followed() {
    let files = crate_of(&[
        (
            "lib.rs",
            "mod error; mod m; pub use error::Error; pub struct Root;",
        ),
        ("error.rs", "pub struct Error;"),
        ("m.rs", "use crate::Error; fn f() -> crate::Root { todo() }"),
    ]);
    let v = violations(&files);
    assert_eq!(v, ["upward: m (m.rs) -> crate: `crate::Root`"]);
}

#[test]
fn test_items_and_test_modules_are_ignored() {
    let files = crate_of(&[
        ("lib.rs", "pub mod a; #[cfg(test)] mod checks;"),
        (
            "a/mod.rs",
            concat!(
                "mod b; pub struct A;\n",
                "#[cfg(test)]\n#[allow(dead_code)]\nfn helper() { b::f(); }\n",
                "#[cfg(test)]\nmod tests { use super::*; use crate::a::b::f; }",
            ),
        ),
        (
            "a/b.rs",
            "pub fn f() {}\n#[cfg(test)]\nmod tests { use super::super::A; use crate::a::A; }",
        ),
        ("checks.rs", "use crate::a::A;"),
    ]);
    assert_eq!(violations(&files), Vec::<String>::new());
    assert!(!build(&files).contains_key("checks"));
}

#[test]
fn child_modules_named_bare_are_edges() {
    let files = crate_of(&[
        ("lib.rs", "pub mod m;"),
        (
            "m/mod.rs",
            "mod plan; mod graph; pub struct M; fn f() { plan::p(); }",
        ),
        ("m/plan.rs", "use super::graph::G; pub fn p() {}"),
        (
            "m/graph.rs",
            "pub struct G; fn g() { super::plan::p(); let _ = super::M; }",
        ),
    ]);
    let v = violations(&files);
    // m → plan → graph → m: one circle of three.
    assert!(
        v.iter()
            .any(|l| l.starts_with("circle: m, m::graph, m::plan")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|l| l.starts_with("upward: m::graph (m/graph.rs) -> m: `super::M`")),
        "{v:?}"
    );
}

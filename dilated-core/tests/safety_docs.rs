//! Every `unsafe fn` declared in `dilated-core/src` states its contract: its doc comment
//! has a `# Safety` section. Trait methods count (the trait states the contract), and so do
//! functions that no public API exposes, which clippy's `missing_safety_doc` does not see.
//! Exempt: the methods of an `impl Trait for Type` block, which inherit the contract the
//! trait documents.
//!
//! The scan is a small lexer, not a parser: it skips comments, strings (raw strings
//! included) and character literals, tracks which braces open an `impl … for …` block, and
//! reads the doc comments and attributes above each `unsafe fn` (attributes may sit
//! between the docs and the function, and span lines).

use std::fs;
use std::path::{Path, PathBuf};

/// One `unsafe fn` without a `# Safety` section: its line (1-based) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Missing {
    line: usize,
    name: String,
}

/// The source with every comment, string and character literal blanked (newlines kept), so
/// that keywords and braces inside them are not seen as code.
fn code_only(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"…", r#"…"#, br#"…"#: the body ends at a quote followed by as many hashes.
            let open = i + b[i..].iter().position(|&c| c == b'"').unwrap_or(0) + 1;
            let mut j = open;
            while j < b.len() {
                if b[j] == b'"' && b[j + 1..].iter().take_while(|&&c| c == b'#').count() >= hashes {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(b.len()));
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{…}') or a lifetime ('a, 'static).
            let end = if rest.get(1) == Some(&b'\\') {
                // The escaped character itself may be a quote: search after it.
                rest.iter()
                    .skip(3)
                    .position(|&c| c == b'\'')
                    .map(|p| i + 3 + p + 1)
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 2 + ch_len)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// If a raw string literal starts at `i` (`r"`, `r#"`, `br"`, …, not inside an
/// identifier), the number of its hashes.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let j = if b[i] == b'b' { i + 1 } else { i };
    if b.get(j) != Some(&b'r') {
        return None;
    }
    let hashes = b[j + 1..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

/// Whether the header before a `{` (the code since the previous `;`, `{` or `}`) opens an
/// `impl Trait for Type` block.
fn is_trait_impl(header: &str) -> bool {
    // Drop attributes (`#[…]`) before the header.
    let mut h = header.trim();
    while let Some(rest) = h.strip_prefix("#[").or_else(|| h.strip_prefix("#![")) {
        let mut depth = 1;
        let mut end = rest.len();
        for (k, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        h = rest[end..].trim_start();
    }
    let h = h.strip_prefix("unsafe").map_or(h, str::trim_start);
    let Some(rest) = h.strip_prefix("impl") else {
        return false;
    };
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return false;
    }
    // `for` as a word, not the `for<'a>` of a higher-ranked bound.
    let b = rest.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    rest.match_indices("for").any(|(k, _)| {
        let tail = &rest[k + 3..];
        (k == 0 || !ident(b[k - 1]))
            && tail.starts_with(char::is_whitespace)
            && !tail.trim_start().starts_with('<')
    })
}

/// The `unsafe fn`s of `src` whose docs lack `# Safety`, outside trait impl blocks.
fn missing_safety_docs(src: &str) -> Vec<Missing> {
    let code = code_only(src);
    let code_str = String::from_utf8_lossy(&code).into_owned();
    let lines: Vec<&str> = src.lines().collect();
    // For every byte offset where an `unsafe fn` starts: whether its block is a trait impl.
    let mut stack: Vec<bool> = Vec::new();
    let mut header_start = 0;
    let mut nesting = 0usize;
    let mut found = Vec::new();
    let bytes = code_str.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                stack.push(is_trait_impl(&code_str[header_start..i]));
                header_start = i + 1;
            }
            b'}' => {
                stack.pop();
                header_start = i + 1;
            }
            // A `;` inside brackets (`[f32; 16]`) ends no item.
            b';' if nesting == 0 => header_start = i + 1,
            b'(' | b'[' => nesting += 1,
            b')' | b']' => nesting = nesting.saturating_sub(1),
            b'u' if word_at(bytes, i, "unsafe") => {
                if let Some(name) = fn_name_after_unsafe(&code_str[i + "unsafe".len()..]) {
                    let exempt = stack.last().copied().unwrap_or(false);
                    let line = code_str[..i].matches('\n').count();
                    if !exempt && !has_safety_section(&lines, line) {
                        found.push(Missing {
                            line: line + 1,
                            name,
                        });
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Whether `word` starts at `i` as a whole word.
fn word_at(b: &[u8], i: usize, word: &str) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    b[i..].starts_with(word.as_bytes())
        && (i == 0 || !ident(b[i - 1]))
        && b.get(i + word.len()).is_none_or(|&c| !ident(c))
}

/// After `unsafe`: `fn name` (optionally `extern "ABI" fn name`) gives the name; a function
/// pointer type (`unsafe fn(…)`), an `unsafe` block or `unsafe impl` gives `None`.
fn fn_name_after_unsafe(rest: &str) -> Option<String> {
    let mut r = rest.trim_start();
    if let Some(after) = r.strip_prefix("extern") {
        // The ABI string is blanked in the code view: skip to `fn`.
        r = after.trim_start();
    }
    let after = r.strip_prefix("fn")?;
    if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let name: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Whether the docs above line `line` (0-based; the line of the `unsafe fn`) have a
/// `# Safety` heading. Walks up over doc comments, plain comments and attributes, an
/// attribute possibly spanning several lines.
fn has_safety_section(lines: &[&str], line: usize) -> bool {
    // The line of the function itself may start with qualifiers (`pub(crate) const
    // unsafe fn`): only what is above it counts.
    let mut k = line;
    let mut docs = Vec::new();
    while k > 0 {
        k -= 1;
        let t = lines[k].trim();
        if t.starts_with("///") || t.starts_with("#[doc") {
            docs.push(t);
        } else if t.starts_with("//!") || t.is_empty() {
            // Inner docs belong to the module; docs are expected right above the item.
            break;
        } else if t.starts_with("//")
            || t.starts_with("#[")
            || t.starts_with("$(#[")
            || t.starts_with("#![")
        {
            // Plain comments and one-line attributes between the docs and the function.
            continue;
        } else if t.ends_with(']') || t.ends_with("])?") || t.ends_with("])*") || t.ends_with(")]")
        {
            // The last line of an attribute spanning several lines: up to its first line.
            let mut depth = 0i32;
            let mut j = k;
            loop {
                let l = lines[j];
                depth += l.matches(']').count() as i32 - l.matches('[').count() as i32;
                if depth <= 0 || j == 0 {
                    break;
                }
                j -= 1;
            }
            if !lines[j].trim_start().starts_with('#') && !lines[j].trim_start().starts_with("$(#")
            {
                break;
            }
            k = j;
        } else {
            break;
        }
    }
    docs.iter().any(|d| {
        let text = d
            .trim_start_matches("///")
            .trim_start_matches("#[doc")
            .trim_start_matches([' ', '=', '"']);
        text.starts_with("# Safety")
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_unsafe_fn_in_the_crate_documents_its_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10, "found only {} source files", files.len());
    let mut report = Vec::new();
    let mut seen = 0;
    for path in &files {
        let src = fs::read_to_string(path).expect("a UTF-8 source file");
        seen += src.matches("unsafe fn").count();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        for m in missing_safety_docs(&src) {
            report.push(format!(
                "{rel}:{}: unsafe fn {} has no `# Safety` section",
                m.line, m.name
            ));
        }
    }
    // The engine declares dozens: a scan that sees none is broken, not clean.
    assert!(seen > 50, "only {seen} `unsafe fn` found under src/");
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn the_scan_flags_an_undocumented_unsafe_fn_with_its_line() {
    let src = "\
/// Adds.
pub unsafe fn add(a: *const f32) -> f32 {
    unsafe { *a }
}

/// Reads.
///
/// # Safety
/// `p` is readable.
#[inline(always)]
pub(crate) unsafe fn read(p: *const f32) -> f32 {
    unsafe { *p }
}
";
    assert_eq!(
        missing_safety_docs(src),
        [Missing {
            line: 2,
            name: "add".into()
        }]
    );
}

#[test]
fn the_scan_reads_through_attributes_qualifiers_and_macros() {
    let src = r##"
/// One.
///
/// # Safety
/// AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(
    clippy::too_many_arguments,
    reason = "a [bracket] in a string"
)]
pub(crate) const unsafe fn one() {}

macro_rules! m {
    ($feat:literal) => {
        /// Two.
        ///
        /// # Safety
        /// The features.
        $(#[target_feature(enable = $feat)])?
        unsafe fn two() {}
        $(#[target_feature(enable = $feat)])?
        unsafe fn three() {}
    };
}

// A comment: unsafe fn in_comment() {}
const S: &str = "unsafe fn in_string() {}";
const R: &str = r#"{ unsafe fn in_raw() { "#;
type P = unsafe fn(usize) -> usize;
const C: char = '{';

trait T {
    /// # Safety
    /// Documented on the trait.
    unsafe fn documented();
    /// Not documented.
    unsafe fn bare();
}
"##;
    let names: Vec<String> = missing_safety_docs(src)
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["three", "bare"]);
}

#[test]
fn trait_impl_methods_are_exempt_but_their_nested_fns_are_not() {
    let src = "
impl<T: Copy> Trait for Wrapper<T> {
    unsafe fn method() {
        unsafe fn helper() {}
    }
}

impl Wrapper<f32> {
    unsafe fn inherent() {}
}

impl Trait for [f32; 16] {
    unsafe fn on_an_array() {}
}

unsafe impl Send for Wrapper<f32> {}

impl<F> Other for F where F: for<'a> Fn(&'a u8) {
    unsafe fn also_exempt() {}
}
";
    let names: Vec<String> = missing_safety_docs(src)
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["helper", "inherent"]);
}

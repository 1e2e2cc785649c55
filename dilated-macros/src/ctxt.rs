//! The error collector (serde_derive's `Ctxt`): every phase records what it finds and keeps
//! going, so one build reports every problem of a stack at once, each on its own tokens.

use std::cell::RefCell;

use dilated_core::schedule::Level;
use proc_macro2::{Ident, Span, TokenStream, TokenTree};

/// A warning to emit: where, a short identifier naming the check, and the full message.
#[derive(Debug, Clone)]
pub(crate) struct Warning {
    pub(crate) span: Span,
    pub(crate) check: String,
    pub(crate) message: String,
}

/// Collects errors and warnings across the parse and check phases.
#[derive(Debug, Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
    warnings: RefCell<Vec<Warning>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error spanned on one token.
    pub(crate) fn error(&self, span: Span, message: impl std::fmt::Display) {
        self.errors
            .borrow_mut()
            .push(syn::Error::new(span, message.to_string()));
    }

    /// Records an error spanning `start..=end` (first to last token; works on stable).
    pub(crate) fn error_range(&self, start: Span, end: Span, message: impl std::fmt::Display) {
        self.errors
            .borrow_mut()
            .push(error_range(start, end, message));
    }

    /// Records a finding at `level`: an error, a warning or nothing.
    pub(crate) fn report(
        &self,
        level: Level,
        span: Span,
        check: &str,
        message: impl std::fmt::Display,
    ) {
        match level {
            Level::Allow => {}
            Level::Deny => self.error(span, message),
            Level::Warn => self.warnings.borrow_mut().push(Warning {
                span,
                check: check.to_owned(),
                message: message.to_string(),
            }),
        }
    }

    /// Consumes the collector: every error combined into one (if any), and the warnings,
    /// which are emitted in both cases so that a build shows all findings at once.
    pub(crate) fn finish(self) -> (Option<syn::Error>, Vec<Warning>) {
        let mut errors = self.errors.into_inner().into_iter();
        let combined = errors.next().map(|mut first| {
            for e in errors {
                first.combine(e);
            }
            first
        });
        (combined, self.warnings.into_inner())
    }
}

/// An error covering the tokens from `start` to `end`: syn spans a `new_spanned` error from
/// the first to the last token of what it is given, which works on stable where
/// `Span::join` does not.
pub(crate) fn error_range(start: Span, end: Span, message: impl std::fmt::Display) -> syn::Error {
    let tokens: TokenStream = [
        TokenTree::Ident(Ident::new("start", start)),
        TokenTree::Ident(Ident::new("end", end)),
    ]
    .into_iter()
    .collect();
    syn::Error::new_spanned(tokens, message.to_string())
}

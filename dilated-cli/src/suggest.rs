//! `dilated suggest`: the schedule analysis's suggester, as text or JSON.

use std::fmt::Write as _;

use dilated_core::schedule::{SuggestRequest, suggest};
use serde::Serialize;

use crate::check::{SuggestionJson, list, suggestion_text};
use crate::{Failure, Outcome, SuggestArgs};

#[derive(Serialize)]
struct SuggestJson<'a> {
    layers: usize,
    min_receptive_field: u64,
    suggestions: Vec<SuggestionJson<'a>>,
}

pub(crate) fn run(a: &SuggestArgs) -> Result<Outcome, Failure> {
    let req = SuggestRequest {
        kernels: a.kernel.kernels.0.clone(),
        strides: a
            .stride
            .strides
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default(),
        layers: a.layers,
        min_receptive_field: a.min_rf,
        max_results: a.count.max(1),
    };
    let found = suggest(&req)?;
    let stdout = if a.json {
        let j = SuggestJson {
            layers: a.layers,
            min_receptive_field: a.min_rf,
            suggestions: found.iter().map(SuggestionJson::from).collect(),
        };
        crate::json_line(&j)?
    } else {
        let kernels = match a.kernel.kernels.0.as_slice() {
            [k] => format!("kernel {k}"),
            ks => format!("kernels {}", list(ks, 16)),
        };
        let mut s = format!(
            "hole-free schedules of {} layers ({kernels}) satisfying HDC rules 1–3, receptive field ≥ {}, best first:\n",
            a.layers, a.min_rf
        );
        for (i, x) in found.iter().enumerate() {
            let _ = writeln!(s, "{:>3}. {}", i + 1, suggestion_text(x));
        }
        s
    };
    Ok(Outcome { stdout, code: 0 })
}

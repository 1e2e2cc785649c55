//! Hole-free schedules that satisfy the HDC rules, best first.
//!
//! The search builds *sawtooth* schedules: one rising group `G = [1, r_2, …, r_m]` repeated
//! over the layers (the last repetition cut short), like `[1, 2, 5, 1, 2, 5]`. For a cycle
//! length `m` and a top rate `R = r_m`, the group is built from the top down, each rate as
//! large as two caps allow: `r_i = min(r_{i+1} − 1, cap_i)`, where `cap_i` is the smaller of
//!
//! - `K·3^(i−2)`, the largest `M_i` from which HDC rule 1's recursion can still bring
//!   `M_2` down to `K` (the construction keeps `M_i = r_i`), and
//! - the width reached by the layers before it, `1 + Σ_{j<i} (k_j − 1)·cap_j`, so that
//!   the reachable set stays an interval (no hole ever opens).
//!
//! The receptive field grows with `R`, so for each `m` a bisection finds the smallest `R`
//! that reaches the requested field. Every candidate is then checked exactly (holes, rules
//! 1–3). Ranking: the smallest largest rate first; on a tie, the shorter cycle (more
//! sawtooth repetitions), then the wider field.
//!
//! Budget: cycle lengths `1..=`[`MAX_SUGGEST_CYCLE`], at most 64 bisection steps each, `O(m)`
//! work per step, one exact check per cycle length (`O(n)` for a hole-free stack): a
//! request of [`MAX_LAYERS`] layers stays in the milliseconds.
//! Strides are kept as given, but the construction assumes stride 1: with strides, the
//! exact check usually rejects every candidate, and the answer is an error.

use super::error::{ErrorKind, ScheduleError};
use super::field::receptive_field;
use super::hdc::{Outcome, hdc};
use super::limits::{MAX_LAYERS, MAX_SUGGEST_CYCLE, MAX_VERDICT_RF};
use super::reach::reach;
use super::spec::{AxisSpec, per_layer_or};

/// A request: kernel sizes, number of layers, minimum receptive field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SuggestRequest {
    /// One kernel size for every layer, or one per layer.
    pub kernels: Vec<u64>,
    /// Strides: empty (all 1), one for every layer, or one per layer.
    pub strides: Vec<u64>,
    /// Number of layers.
    pub layers: usize,
    /// The receptive field to reach, at least.
    pub min_receptive_field: u64,
    /// How many schedules to return, at most.
    pub max_results: usize,
}

impl SuggestRequest {
    /// Results returned when a request does not say.
    pub const DEFAULT_RESULTS: usize = 5;

    /// `layers` layers of kernel `kernel`, stride 1, reaching `min_receptive_field`.
    #[must_use]
    pub fn new(kernel: u64, layers: usize, min_receptive_field: u64) -> Self {
        Self {
            kernels: vec![kernel],
            strides: Vec::new(),
            layers,
            min_receptive_field,
            max_results: Self::DEFAULT_RESULTS,
        }
    }
}

/// A proposed schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Suggestion {
    /// One rate per layer.
    pub rates: Vec<u64>,
    /// One kernel size per layer.
    pub kernels: Vec<u64>,
    /// One stride per layer.
    pub strides: Vec<u64>,
    /// Its receptive field.
    pub receptive_field: u64,
    /// Its largest rate.
    pub max_rate: u64,
    /// Length of the repeated rising group.
    pub cycle: usize,
}

impl Suggestion {
    /// The schedule's layers (`same` padding).
    #[must_use]
    pub fn layers(&self) -> Vec<AxisSpec> {
        self.rates
            .iter()
            .zip(&self.kernels)
            .zip(&self.strides)
            .map(|((&r, &k), &s)| AxisSpec::new(k, r).with_stride(s))
            .collect()
    }

    /// `"[1, 2, 5, 1, 2, 5]"`, or the first and last rates of a long schedule.
    #[must_use]
    pub fn rates_text(&self) -> String {
        list_text(&self.rates, 16)
    }
}

/// A list as `[a, b, c]`, abbreviated past `max` entries (`[a, b, …, y, z] (n layers)`).
#[must_use]
pub(crate) fn list_text(v: &[u64], max: usize) -> String {
    let join = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if v.len() <= max {
        format!("[{}]", join(v))
    } else {
        let h = max / 2;
        format!(
            "[{}, …, {}] ({} layers)",
            join(&v[..h]),
            join(&v[v.len() - h..]),
            v.len()
        )
    }
}

/// Hole-free schedules satisfying the HDC rules, best first.
///
/// ```
/// use dilated_core::schedule::{suggest, SuggestRequest, ErrorKind};
/// let s = suggest(&SuggestRequest::new(3, 3, 17)).unwrap();
/// assert_eq!(s[0].rates, [1, 3, 4]);           // largest rate 4 (the classic [1, 2, 5] has 5)
/// assert_eq!(s[0].receptive_field, 17);
/// let s = suggest(&SuggestRequest::new(3, 6, 64)).unwrap();
/// assert!(s.iter().all(|x| x.receptive_field >= 64 && x.rates.len() == 6));
/// // Three k = 3 layers reach 27 at most without holes.
/// let e = suggest(&SuggestRequest::new(3, 3, 28)).unwrap_err();
/// assert!(matches!(e.kind, ErrorKind::NoSuggestion { best_receptive_field: 27, .. }));
/// ```
///
/// # Errors
/// Zero or mismatched inputs, over [`MAX_LAYERS`], and [`ErrorKind::NoSuggestion`] when
/// nothing satisfies the request.
pub fn suggest(req: &SuggestRequest) -> Result<Vec<Suggestion>, ScheduleError> {
    let plan = Plan::new(req)?;
    let mut found: Vec<Suggestion> = Vec::new();
    let mut best_rf = 0u64;
    for m in 1..=plan.n.min(MAX_SUGGEST_CYCLE) {
        let Some(caps) = plan.caps(m) else { continue };
        let top_cap = caps[m - 1];
        let lo_r = if m == 1 { 1 } else { m as u64 };
        if top_cap < lo_r {
            continue;
        }
        let Some(widest) = plan.rf(&caps, top_cap) else {
            continue;
        };
        if plan.min_rf > widest {
            // Remember the widest field this cycle reaches, if it really is hole-free.
            if widest > best_rf && plan.verify(&caps, top_cap, 1).is_some() {
                best_rf = widest;
            }
            continue;
        }
        // The smallest top rate reaching the field.
        let (mut lo, mut hi) = (lo_r, top_cap);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if plan.rf(&caps, mid).is_some_and(|rf| rf >= plan.min_rf) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if let Some(s) = plan.verify(&caps, lo, plan.min_rf) {
            best_rf = best_rf.max(s.receptive_field);
            if !found.iter().any(|f| f.rates == s.rates) {
                found.push(s);
            }
        }
    }
    found.sort_by(|a, b| {
        (a.max_rate, a.cycle, core::cmp::Reverse(a.receptive_field)).cmp(&(
            b.max_rate,
            b.cycle,
            core::cmp::Reverse(b.receptive_field),
        ))
    });
    found.truncate(req.max_results.max(1));
    if found.is_empty() {
        return Err(ScheduleError::new(ErrorKind::NoSuggestion {
            layers: req.layers,
            min_receptive_field: req.min_receptive_field,
            best_receptive_field: best_rf,
        }));
    }
    Ok(found)
}

/// Fixes for a failing schedule, best first: hole-free HDC schedules with the same
/// kernels, strides and layer count and a receptive field at least as large. When no such
/// schedule exists (`[2, 4, 8]`: three k = 3 layers reach 27 without holes, not 29), the
/// widest one with the same layer count, then the shortest deeper one (up to 16 more
/// layers) that reaches the field. Empty when even that fails (e.g. strided stacks).
///
/// ```
/// use dilated_core::schedule::{suggest_fix, AxisSpec};
/// let l = |rates: &[u64]| rates.iter().map(|&r| AxisSpec::new(3, r)).collect::<Vec<_>>();
/// let fix = suggest_fix(&l(&[1, 2, 9]));       // receptive field 25
/// assert_eq!(fix[0].rates, [1, 3, 8]);          // 25, hole-free
/// let fix = suggest_fix(&l(&[2, 4, 8]));       // 29: out of reach for 3 layers
/// assert_eq!((fix[0].rates.clone(), fix[0].receptive_field), (vec![1, 3, 9], 27));
/// assert!(fix[1].rates.len() == 4 && fix[1].receptive_field >= 29);
/// ```
#[must_use]
pub fn suggest_fix(layers: &[AxisSpec]) -> Vec<Suggestion> {
    let n = layers.len();
    let Ok(rf) = receptive_field(layers) else {
        return Vec::new();
    };
    let strides: Vec<u64> = layers.iter().map(|l| l.stride).collect();
    let kernels: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
    let req = SuggestRequest {
        kernels: kernels.clone(),
        strides: strides.clone(),
        layers: n,
        min_receptive_field: rf,
        max_results: 3,
    };
    match suggest(&req) {
        Ok(s) => s,
        Err(ScheduleError {
            kind:
                ErrorKind::NoSuggestion {
                    best_receptive_field,
                    ..
                },
            ..
        }) => {
            let mut out = Vec::new();
            if best_receptive_field > 1 {
                let widest = SuggestRequest {
                    min_receptive_field: best_receptive_field,
                    max_results: 1,
                    ..req.clone()
                };
                if let Ok(mut s) = suggest(&widest) {
                    out.append(&mut s);
                }
            }
            // Deeper stacks repeat the last kernel and stride.
            let (k_last, s_last) = (kernels[n - 1], strides[n - 1]);
            for extra in 1..=16 {
                let Some(m) = n.checked_add(extra).filter(|&m| m <= MAX_LAYERS) else {
                    break;
                };
                let mut ks = kernels.clone();
                ks.resize(m, k_last);
                let mut ss = strides.clone();
                ss.resize(m, s_last);
                let deeper = SuggestRequest {
                    kernels: ks,
                    strides: ss,
                    layers: m,
                    min_receptive_field: rf,
                    max_results: 1,
                };
                if let Ok(mut s) = suggest(&deeper) {
                    out.append(&mut s);
                    break;
                }
            }
            out
        }
        Err(_) => Vec::new(),
    }
}

struct Plan {
    n: usize,
    kernels: Vec<u64>,
    strides: Vec<u64>,
    /// The smallest kernel: the caps assume it for every layer (exact for one kernel size).
    kmin: u64,
    /// Whether every layer has the kernel `kmin`.
    uniform: bool,
    min_rf: u64,
}

impl Plan {
    fn new(req: &SuggestRequest) -> Result<Self, ScheduleError> {
        let n = req.layers;
        if n == 0 {
            return Err(ScheduleError::new(ErrorKind::Empty));
        }
        if n > MAX_LAYERS {
            return Err(ScheduleError::new(ErrorKind::TooManyLayers {
                layers: n,
                limit: MAX_LAYERS,
            }));
        }
        let expand = |what: &'static str, v: &[u64], default: u64| {
            (0..n)
                .map(|i| per_layer_or(v, i, n, default, what))
                .collect::<Result<Vec<u64>, ScheduleError>>()
        };
        if req.kernels.is_empty() {
            return Err(ScheduleError::new(ErrorKind::LengthMismatch {
                what: "kernels",
                expected: n,
                actual: 0,
            }));
        }
        let kernels = expand("kernels", &req.kernels, 1)?;
        let strides = expand("strides", &req.strides, 1)?;
        for (i, (&k, &s)) in kernels.iter().zip(&strides).enumerate() {
            AxisSpec::new(k, 1)
                .with_stride(s)
                .validate()
                .map_err(|e| e.at_layer(i))?;
        }
        let kmin = kernels.iter().copied().min().unwrap_or(1);
        let uniform = kernels.iter().all(|&k| k == kmin);
        Ok(Self {
            n,
            kernels,
            strides,
            kmin,
            uniform,
            min_rf: req.min_receptive_field,
        })
    }

    /// Caps of a cycle of `m` layers (`None` when kernels of 1 make the search moot).
    fn caps(&self, m: usize) -> Option<Vec<u64>> {
        let k = self.kmin;
        if k < 2 {
            // Every layer with kernel 1 would have a receptive field of 1.
            return (m == 1).then(|| vec![1]);
        }
        let mut caps = Vec::with_capacity(m);
        caps.push(1u64);
        let mut width = k; // 1 + (k − 1)·1
        let mut rule1 = k; // K·3^(i−2)
        for _ in 1..m {
            let cap = rule1.min(width).min(MAX_VERDICT_RF);
            caps.push(cap);
            width = width.saturating_add((k - 1).saturating_mul(cap));
            rule1 = rule1.saturating_mul(3);
        }
        Some(caps)
    }

    /// The group of cycle length `caps.len()` with top rate `top`.
    fn group(caps: &[u64], top: u64) -> Vec<u64> {
        let m = caps.len();
        let mut g = vec![0u64; m];
        g[m - 1] = top;
        for i in (0..m - 1).rev() {
            g[i] = (g[i + 1] - 1).min(caps[i]);
        }
        g[0] = 1;
        g
    }

    fn rates(&self, caps: &[u64], top: u64) -> Vec<u64> {
        let g = Self::group(caps, top);
        g.iter().copied().cycle().take(self.n).collect()
    }

    /// Receptive field of the sawtooth with top `top` (stride 1 assumed; `None` on
    /// overflow).
    fn rf(&self, caps: &[u64], top: u64) -> Option<u64> {
        let g = Self::group(caps, top);
        let m = g.len();
        if self.uniform {
            // One kernel size: full cycles, then the cut-short one, in O(m).
            let k1 = self.kmin - 1;
            let sum: u64 = g.iter().try_fold(0u64, |a, &r| a.checked_add(r))?;
            let cycles = u64::try_from(self.n / m).ok()?;
            let rest: u64 = g[..self.n % m]
                .iter()
                .try_fold(0u64, |a, &r| a.checked_add(r))?;
            let total = sum.checked_mul(cycles)?.checked_add(rest)?;
            return k1.checked_mul(total)?.checked_add(1);
        }
        let mut rf: u64 = 1;
        for (i, &k) in self.kernels.iter().enumerate() {
            rf = rf.checked_add((k - 1).checked_mul(g[i % m])?)?;
        }
        Some(rf)
    }

    /// The exact check: a candidate that has no hole and passes rules 1–3 (rule 1 where it
    /// applies).
    fn verify(&self, caps: &[u64], top: u64, min_rf: u64) -> Option<Suggestion> {
        let rates = self.rates(caps, top);
        let layers: Vec<AxisSpec> = rates
            .iter()
            .zip(&self.kernels)
            .zip(&self.strides)
            .map(|((&r, &k), &s)| AxisSpec::new(k, r).with_stride(s))
            .collect();
        let r = reach(&layers).ok()?;
        if r.has_holes() || r.receptive_field < min_rf {
            return None;
        }
        let h = hdc(&layers);
        if h.rule1 == Outcome::Fail || h.rule2 == Outcome::Fail || h.rule3 == Outcome::Fail {
            return None;
        }
        Some(Suggestion {
            max_rate: rates.iter().copied().max().unwrap_or(1),
            receptive_field: r.receptive_field,
            cycle: caps.len(),
            rates,
            kernels: self.kernels.clone(),
            strides: self.strides.clone(),
        })
    }
}

//! The hole verdict from reachability alone: a bit set of the offsets one output position
//! reaches, grown layer by layer (a layer shifts the set by each of its taps and ORs the
//! copies). A set that is a full interval stays one while the next tap step is no wider
//! than it, which is answered without touching the bits; so hole-free stacks cost `O(1)`
//! per layer and stacks with holes `O(RF / 64)` word operations per tap.

use super::error::ScheduleError;
use super::field::{Extent, extent};
use super::limits::MAX_VERDICT_RF;
use super::spec::{AxisSpec, overflow};

/// The verdict of one axis: receptive field, holes, where they open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reach {
    /// The receptive field (`max_offset − min_offset + 1`).
    pub receptive_field: u64,
    /// Smallest reachable offset (SPEC's tap convention, relative to the output position).
    pub min_offset: i64,
    /// Largest reachable offset.
    pub max_offset: i64,
    /// Offsets strictly between the two that no path reaches. Any hole = gridding.
    pub hole_count: u64,
    /// The hole nearest `min_offset`.
    pub first_hole: Option<i64>,
    /// The hole nearest the centre (offset 0) — the smallest `|offset|`, the negative one
    /// on a tie.
    pub nearest_hole: Option<i64>,
    /// 0-based index of the layer at which the holes of the whole stack open: every
    /// prefix of the stack that ends at or after it has holes, the prefix before it has
    /// none. (A hole that a later layer fills is not counted.)
    pub first_hole_layer: Option<usize>,
    /// The longest run of consecutive holes.
    pub widest_gap: u64,
}

impl Reach {
    /// Whether the axis has holes (the gridding effect).
    #[must_use]
    pub fn has_holes(&self) -> bool {
        self.hole_count > 0
    }
}

/// The reachable offsets of one axis as a bit set. When every tap step shares a factor
/// `g > 1`, only the multiples of `g` are stored (bit `i` is offset `min_offset + i·g`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReachSet {
    /// The smallest reachable offset.
    pub min_offset: i64,
    /// Number of offsets from the smallest to the largest reachable one (the receptive
    /// field).
    pub width: u64,
    /// Offsets between two stored bits (the gcd of the tap steps).
    scale: u64,
    /// Number of stored bits.
    bits: u64,
    /// Bits, little-endian within and across words; `None` when every stored bit is set.
    words: Option<Vec<u64>>,
}

impl ReachSet {
    /// Whether `offset` is reached.
    #[must_use]
    pub fn contains(&self, offset: i64) -> bool {
        let Some(d) = offset.checked_sub(self.min_offset) else {
            return false;
        };
        let Ok(d) = u64::try_from(d) else {
            return false;
        };
        if d >= self.width || !d.is_multiple_of(self.scale) {
            return false;
        }
        let i = d / self.scale;
        match &self.words {
            None => true,
            Some(w) => (w[idx(i / 64)] >> (i % 64)) & 1 == 1,
        }
    }

    /// The hole offsets, smallest first.
    pub fn holes(&self) -> impl Iterator<Item = i64> + '_ {
        let width = if self.hole_count() == 0 {
            0
        } else {
            self.width
        };
        (0..width)
            .map(move |d| self.min_offset + i64::try_from(d).unwrap_or(i64::MAX))
            .filter(move |&o| !self.contains(o))
    }

    /// Number of holes.
    #[must_use]
    pub fn hole_count(&self) -> u64 {
        let ones = match &self.words {
            None => self.bits,
            Some(w) => w.iter().map(|x| u64::from(x.count_ones())).sum::<u64>(),
        };
        self.width - ones
    }
}

fn idx(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// The verdict of one axis ([`Reach`]).
///
/// ```
/// use dilated_core::schedule::{reach, AxisSpec};
/// let layers = |rates: &[u64]| rates.iter().map(|&r| AxisSpec::new(3, r)).collect::<Vec<_>>();
/// let r = reach(&layers(&[2, 4, 8])).unwrap();
/// assert_eq!((r.min_offset, r.max_offset, r.hole_count), (-14, 14, 14)); // every odd offset
/// assert_eq!(r.first_hole_layer, Some(0));
/// let r = reach(&layers(&[1, 2, 9])).unwrap();
/// assert_eq!((r.hole_count, r.nearest_hole, r.first_hole_layer), (4, Some(-4), Some(2)));
/// assert!(!reach(&layers(&[1, 2, 5])).unwrap().has_holes());
/// ```
///
/// # Errors
/// Zero sizes, overflow, more than [`MAX_LAYERS`](super::MAX_LAYERS) layers, a receptive field over
/// [`MAX_VERDICT_RF`].
pub fn reach(layers: &[AxisSpec]) -> Result<Reach, ScheduleError> {
    reach_and_set(layers).map(|(r, _)| r)
}

/// [`reach`] and [`reachable_set`] in one pass.
///
/// # Errors
/// As [`reach`].
pub fn reach_and_set(layers: &[AxisSpec]) -> Result<(Reach, ReachSet), ScheduleError> {
    let (set, first_hole_layer) = grow(layers)?;
    let r = summarize(&set, first_hole_layer)?;
    Ok((r, set))
}

fn summarize(set: &ReachSet, first_hole_layer: Option<usize>) -> Result<Reach, ScheduleError> {
    let min = set.min_offset;
    let mut r = Reach {
        receptive_field: set.width,
        min_offset: min,
        max_offset: min + to_i64(set.width)? - 1,
        hole_count: set.hole_count(),
        first_hole: None,
        nearest_hole: None,
        first_hole_layer,
        widest_gap: 0,
    };
    if r.hole_count == 0 {
        r.first_hole_layer = None;
        return Ok(r);
    }
    let g = set.scale;
    // Longest run of unset stored bits, and the unset bits nearest the centre.
    let centre = u64::try_from(-min).unwrap_or(0) / g; // offset 0 is always stored
    let mut run: u64 = 0;
    let mut widest_bits: u64 = 0;
    let mut first_bit: Option<u64> = None;
    let mut best_left: Option<u64> = None; // largest unset bit < centre
    let mut best_right: Option<u64> = None; // smallest unset bit > centre
    if let Some(words) = &set.words {
        for (wi, &w) in words.iter().enumerate() {
            let base = wi as u64 * 64;
            if base >= set.bits {
                break;
            }
            let valid = (set.bits - base).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            let zeros = !w & mask;
            if zeros == 0 {
                run = 0;
                continue;
            }
            if first_bit.is_none() {
                first_bit = Some(base + u64::from(zeros.trailing_zeros()));
            }
            if base + valid <= centre {
                best_left = Some(base + 63 - u64::from(zeros.leading_zeros()));
            } else if base > centre {
                if best_right.is_none() {
                    best_right = Some(base + u64::from(zeros.trailing_zeros()));
                }
            } else {
                let c = centre - base;
                let below = zeros & ((1u64 << c) - 1);
                if below != 0 {
                    best_left = Some(base + 63 - u64::from(below.leading_zeros()));
                }
                let above = zeros >> c;
                if above != 0 && best_right.is_none() {
                    best_right = Some(centre + u64::from(above.trailing_zeros()));
                }
            }
            if zeros == u64::MAX {
                run += 64;
                widest_bits = widest_bits.max(run);
                continue;
            }
            for b in 0..valid {
                if (zeros >> b) & 1 == 1 {
                    run += 1;
                    widest_bits = widest_bits.max(run);
                } else {
                    run = 0;
                }
            }
        }
    }
    let off = |bit: u64| min + to_i64(bit * g).unwrap_or(i64::MAX);
    if g == 1 {
        r.widest_gap = widest_bits;
        r.first_hole = first_bit.map(off);
        r.nearest_hole = match (best_left, best_right) {
            (Some(l), Some(rr)) => Some(if centre - l <= rr - centre { l } else { rr }),
            (l, rr) => l.or(rr),
        }
        .map(off);
    } else {
        // Only multiples of g are reachable: offsets ±1 are holes, and a run of unset
        // stored bits widens a gap of g − 1 by g per bit.
        r.widest_gap = g * (widest_bits + 1) - 1;
        r.first_hole = Some(min + 1);
        r.nearest_hole = Some(if min < 0 { -1 } else { 1 });
    }
    Ok(r)
}

/// The reachable set of one axis, for listing holes or testing single offsets.
///
/// # Errors
/// As [`reach`].
pub fn reachable_set(layers: &[AxisSpec]) -> Result<ReachSet, ScheduleError> {
    grow(layers).map(|(s, _)| s)
}

fn to_i64(x: u64) -> Result<i64, ScheduleError> {
    i64::try_from(x).map_err(|_| overflow("offset"))
}

/// Grows the set; returns it and the layer at which persistent holes open.
fn grow(layers: &[AxisSpec]) -> Result<(ReachSet, Option<usize>), ScheduleError> {
    // The receptive field first, against the limit, before any allocation.
    let Extent {
        steps,
        receptive_field: rf,
        min_offset,
        ..
    } = extent(layers, MAX_VERDICT_RF)?;
    let mut bits = Bits {
        width: 1,
        scale: 0,
        words: None,
        lo: 0,
        hi: 0,
        total_words: idx(rf.div_ceil(64)),
    };
    let mut last_clean: Option<usize> = None; // last prefix without holes (None = empty)
    for (i, (l, &s)) in layers.iter().zip(&steps).enumerate() {
        if l.kernel > 1 {
            bits.add_layer(s, l.kernel);
        }
        // With a scale g > 1, a prefix wider than one offset skips the non-multiples of g.
        if bits.words.is_none() && (bits.scale <= 1 || bits.width == 1) {
            last_clean = Some(i);
        }
    }
    let set = ReachSet {
        min_offset,
        width: rf,
        scale: bits.scale.max(1),
        bits: bits.width,
        words: bits.words,
    };
    let first_hole_layer = if set.hole_count() > 0 {
        Some(last_clean.map_or(0, |c| c + 1))
    } else {
        None
    };
    Ok((set, first_hole_layer))
}

/// The growing bit set. Words `lo..hi` are known to be all ones; only the words outside
/// that run are recomputed when the next tap step is no wider than the run (the run then
/// grows by the layer's span), which keeps stacks whose holes sit near the edges of the
/// field cheap.
struct Bits {
    /// Number of stored bits.
    width: u64,
    /// Offsets per bit: the gcd of the tap steps so far (0 before the first one). When a
    /// step breaks it, the bits are spread out to the new gcd once.
    scale: u64,
    /// `None` while every bit below `width` is set.
    words: Option<Vec<u64>>,
    lo: usize,
    hi: usize,
    total_words: usize,
}

impl Bits {
    /// Adds a layer of `k` taps `step` offsets apart.
    fn add_layer(&mut self, step: u64, k: u64) {
        if self.scale == 0 {
            self.scale = step;
        }
        let g = super::hdc::gcd(self.scale, step);
        if g < self.scale {
            self.respread(self.scale / g);
            self.scale = g;
        }
        let s = step / self.scale;
        let old = self.width;
        let new = old + (k - 1) * s;
        if self.words.is_none() && s <= old {
            self.width = new;
            return;
        }
        let total = self.total_words;
        let v = self.words.get_or_insert_with(|| {
            let mut v = vec![0u64; total];
            let full = idx(old / 64);
            v[..full].fill(u64::MAX);
            if !old.is_multiple_of(64) {
                v[full] = (1u64 << (old % 64)) - 1;
            }
            (self.lo, self.hi) = (0, full);
            v
        });
        let top = idx(new.div_ceil(64));
        let complete = idx(new / 64);
        let (lo, hi) = (self.lo, self.hi);
        if hi > lo && s <= 64 * (hi - lo) as u64 && k <= PER_WORD_MAX_TAPS {
            // Bits 64·lo .. 64·hi + (k − 1)·s are all set after this layer.
            let hi2 = idx((64 * hi as u64 + (k - 1) * s) / 64)
                .min(complete)
                .max(hi);
            shift_or(v, hi2, top, old, s, k);
            v[hi..hi2].fill(u64::MAX);
            shift_or(v, 0, lo, old, s, k);
            let (mut lo, mut hi) = (lo, hi2);
            while lo > 0 && v[lo - 1] == u64::MAX {
                lo -= 1;
            }
            while hi < complete && v[hi] == u64::MAX {
                hi += 1;
            }
            (self.lo, self.hi) = (lo, hi);
        } else {
            if k <= PER_WORD_MAX_TAPS {
                shift_or(v, 0, top, old, s, k);
            } else {
                dilate(v, top, s, k);
            }
            // The longest run of full words.
            let (mut best, mut start) = ((0, 0), 0);
            for (i, &w) in v[..complete].iter().enumerate() {
                if w != u64::MAX {
                    start = i + 1;
                } else if i + 1 - start > best.1 - best.0 {
                    best = (start, i + 1);
                }
            }
            (self.lo, self.hi) = best;
        }
        self.width = new;
        let rest = new % 64;
        let last_full = rest == 0 || v[complete] == (1u64 << rest) - 1;
        if self.lo == 0 && self.hi == complete && last_full {
            self.words = None;
        }
    }
}

impl Bits {
    /// Bit `i` becomes bit `i·r` (the scale drops by a factor `r`).
    fn respread(&mut self, r: u64) {
        if self.width == 1 {
            return;
        }
        let new_width = (self.width - 1) * r + 1;
        let mut v = vec![0u64; self.total_words];
        for i in 0..self.width {
            let set = match &self.words {
                None => true,
                Some(w) => (w[idx(i / 64)] >> (i % 64)) & 1 == 1,
            };
            if set {
                let j = i * r;
                v[idx(j / 64)] |= 1u64 << (j % 64);
            }
        }
        self.words = Some(v);
        self.width = new_width;
        // r ≥ 2: no word is full any more.
        (self.lo, self.hi) = (0, 0);
    }
}

/// Most taps of a layer that [`shift_or`] handles word by word: it costs `min(k, 64·i/s)`
/// shifts for word `i`, quadratic in the set's width once `k` is large; wider layers go
/// through [`dilate`], whose cost grows with `log k`.
const PER_WORD_MAX_TAPS: u64 = 64;

/// `set |= set << (t·s)` for `t = 1..k` on the words `0..top`, in place, by doubling: after
/// a pass the set is the union of the shifts by `t·s` for `t` below `span`, and a pass by
/// `m·s` (`m ≤ span`) extends that to `span + m`. Every word above the old set must be
/// zero. `O(top · log k)` where [`shift_or`] is `O(top · min(k, 64·top/s))`.
fn dilate(v: &mut [u64], top: usize, s: u64, k: u64) {
    let mut span = 1u64;
    while span < k {
        let m = span.min(k - span);
        let shift = m.saturating_mul(s);
        let ws = usize::try_from(shift / 64).unwrap_or(usize::MAX);
        let bs = (shift % 64) as u32;
        // Top down: word `i` reads words `i − ws` and below, not yet rewritten this pass.
        for i in (ws.min(top)..top).rev() {
            let src = i - ws;
            let mut acc = v[i];
            if bs == 0 {
                acc |= v[src];
            } else {
                acc |= v[src] << bs;
                if src > 0 {
                    acc |= v[src - 1] >> (64 - bs);
                }
            }
            v[i] = acc;
        }
        span += m;
    }
}

/// `set |= set << (t·s)` for `t = 1..k` on the words `from..to`, in place: words are
/// rewritten from the top down, and a word only reads words at or below its own index,
/// which still hold the old set (the caller orders the ranges so).
fn shift_or(v: &mut [u64], from: usize, to: usize, old_width: u64, s: u64, k: u64) {
    let old_top = idx(old_width.div_ceil(64));
    for i in (from..to).rev() {
        let mut acc = v[i];
        for t in 1..k {
            let shift = t * s;
            let ws = idx(shift / 64);
            let bs = (shift % 64) as u32;
            if ws > i {
                break; // larger t shift further
            }
            let src = i - ws;
            if src > old_top {
                continue;
            }
            let hi = if src < old_top { v[src] } else { 0 };
            if bs == 0 {
                acc |= hi;
            } else {
                acc |= hi << bs;
                if src > 0 {
                    acc |= v[src - 1] >> (64 - bs);
                }
            }
        }
        v[i] = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubling gives the word-by-word result, for every step and tap count, from sets of
    /// random bits below a random width.
    #[test]
    fn dilate_equals_shift_or() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let old = 1 + next() % 300;
            let s = 1 + next() % 150;
            let k = 2 + next() % 40;
            let new = old + (k - 1) * s;
            let top = usize::try_from(new.div_ceil(64)).unwrap();
            let mut a = vec![0u64; top];
            for b in 0..old {
                if next() % 3 != 0 {
                    a[usize::try_from(b / 64).unwrap()] |= 1 << (b % 64);
                }
            }
            let mut b = a.clone();
            shift_or(&mut a, 0, top, old, s, k);
            dilate(&mut b, top, s, k);
            assert_eq!(a, b, "old {old}, s {s}, k {k}");
        }
    }

    /// A layer of 2²⁴ taps one offset apart after a sparse prefix: exact, through
    /// [`dilate`] (word by word, such layers took minutes: the property test
    /// `no_input_panics` hung on one).
    #[test]
    fn a_huge_kernel_goes_through_dilate() {
        let layers = [AxisSpec::new(2, 1000), AxisSpec::new(1 << 24, 1)];
        let set = reachable_set(&layers).unwrap();
        assert_eq!(set.hole_count(), 0);
        let gappy = [AxisSpec::new(2, 3000), AxisSpec::new(1 << 20, 2)];
        // Offsets {0, 3000} + even offsets below 2²¹: odd offsets from 1 to 2999 and from
        // 2²¹ + 1 on are holes; 3001 … 2²¹ − 1 odd ones are reached from 3000 + even.
        let set = reachable_set(&gappy).unwrap();
        assert!(set.hole_count() > 0);
    }
}

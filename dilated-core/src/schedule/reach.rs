//! The hole verdict from reachability alone: a bit set of the offsets one output position
//! reaches, grown layer by layer (a layer shifts the set by each of its taps and ORs the
//! copies). A set that is a full interval stays one while the next tap step is no wider
//! than it, which is answered without touching the bits; so hole-free stacks cost `O(1)`
//! per layer and stacks with holes `O(RF / 64)` word operations per tap.

use super::error::{ErrorKind, ScheduleError};
use super::field::tap_steps;
use super::spec::{AxisLayer, overflow};
use super::{MAX_LAYERS, MAX_VERDICT_RF};

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

/// The reachable offsets of one axis as a bit set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReachSet {
    /// The offset of bit 0.
    pub min_offset: i64,
    /// Number of bits (the receptive field).
    pub width: u64,
    /// Bits, little-endian within and across words; `None` when every offset is reached.
    words: Option<Vec<u64>>,
}

impl ReachSet {
    /// Whether `offset` is reached.
    #[must_use]
    pub fn contains(&self, offset: i64) -> bool {
        let Some(i) = offset.checked_sub(self.min_offset) else {
            return false;
        };
        let Ok(i) = u64::try_from(i) else {
            return false;
        };
        if i >= self.width {
            return false;
        }
        match &self.words {
            None => true,
            Some(w) => (w[idx(i / 64)] >> (i % 64)) & 1 == 1,
        }
    }

    /// The hole offsets, smallest first.
    pub fn holes(&self) -> impl Iterator<Item = i64> + '_ {
        let words = self.words.as_deref().unwrap_or(&[]);
        let width = if self.words.is_some() { self.width } else { 0 };
        (0..width)
            .filter(move |&i| (words[idx(i / 64)] >> (i % 64)) & 1 == 0)
            .map(move |i| self.min_offset + i64::try_from(i).unwrap_or(i64::MAX))
    }

    /// Number of holes.
    #[must_use]
    pub fn hole_count(&self) -> u64 {
        match &self.words {
            None => 0,
            Some(w) => self.width - w.iter().map(|x| u64::from(x.count_ones())).sum::<u64>(),
        }
    }
}

fn idx(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// The verdict of one axis ([`Reach`]).
///
/// ```
/// use dilated_core::schedule::{reach, AxisLayer};
/// let layers = |rates: &[u64]| rates.iter().map(|&r| AxisLayer::new(3, r)).collect::<Vec<_>>();
/// let r = reach(&layers(&[2, 4, 8])).unwrap();
/// assert_eq!((r.min_offset, r.max_offset, r.hole_count), (-14, 14, 14)); // every odd offset
/// assert_eq!(r.first_hole_layer, Some(0));
/// let r = reach(&layers(&[1, 2, 9])).unwrap();
/// assert_eq!((r.hole_count, r.nearest_hole, r.first_hole_layer), (4, Some(-4), Some(2)));
/// assert!(!reach(&layers(&[1, 2, 5])).unwrap().has_holes());
/// ```
///
/// # Errors
/// Zero sizes, overflow, more than [`MAX_LAYERS`] layers, a receptive field over
/// [`MAX_VERDICT_RF`].
pub fn reach(layers: &[AxisLayer]) -> Result<Reach, ScheduleError> {
    reach_and_set(layers).map(|(r, _)| r)
}

/// [`reach`] and [`reachable_set`] in one pass.
///
/// # Errors
/// As [`reach`].
pub fn reach_and_set(layers: &[AxisLayer]) -> Result<(Reach, ReachSet), ScheduleError> {
    let (set, first_hole_layer) = grow(layers)?;
    let r = summarize(&set, first_hole_layer)?;
    Ok((r, set))
}

fn summarize(set: &ReachSet, first_hole_layer: Option<usize>) -> Result<Reach, ScheduleError> {
    let mut r = Reach {
        receptive_field: set.width,
        min_offset: set.min_offset,
        max_offset: set.min_offset + to_i64(set.width)? - 1,
        hole_count: 0,
        first_hole: None,
        nearest_hole: None,
        first_hole_layer: None,
        widest_gap: 0,
    };
    let Some(words) = &set.words else {
        return Ok(r);
    };
    // One pass over the words: count, first hole, nearest hole to the centre, widest run.
    let centre = u64::try_from(-set.min_offset).unwrap_or(0);
    let mut run: u64 = 0;
    let mut best_left: Option<u64> = None; // largest hole index < centre
    let mut best_right: Option<u64> = None; // smallest hole index >= centre
    for (wi, &w) in words.iter().enumerate() {
        let base = wi as u64 * 64;
        if base >= set.width {
            break;
        }
        let valid = (set.width - base).min(64);
        let mask = if valid == 64 {
            u64::MAX
        } else {
            (1u64 << valid) - 1
        };
        let zeros = !w & mask;
        r.hole_count += u64::from(zeros.count_ones());
        if zeros == 0 {
            run = 0;
            continue;
        }
        if r.first_hole.is_none() {
            r.first_hole = Some(base + u64::from(zeros.trailing_zeros())).map(|i| i as i64);
        }
        // Nearest to the centre.
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
        if zeros == mask && valid == 64 {
            run += 64;
            r.widest_gap = r.widest_gap.max(run);
            continue;
        }
        // Walk the runs inside the word.
        let mut b = 0u64;
        while b < valid {
            if (zeros >> b) & 1 == 1 {
                run += 1;
                r.widest_gap = r.widest_gap.max(run);
            } else {
                run = 0;
            }
            b += 1;
        }
    }
    let min = set.min_offset;
    r.first_hole = r.first_hole.map(|i| min + i);
    r.nearest_hole = match (best_left, best_right) {
        (Some(l), Some(rr)) => {
            let (dl, dr) = (centre - l, rr - centre);
            Some(if dl <= dr { l } else { rr })
        }
        (Some(l), None) => Some(l),
        (None, Some(rr)) => Some(rr),
        (None, None) => None,
    }
    .map(|i| min + i as i64);
    r.first_hole_layer = first_hole_layer;
    Ok(r)
}

/// The reachable set of one axis, for listing holes or testing single offsets.
///
/// # Errors
/// As [`reach`].
pub fn reachable_set(layers: &[AxisLayer]) -> Result<ReachSet, ScheduleError> {
    grow(layers).map(|(s, _)| s)
}

fn to_i64(x: u64) -> Result<i64, ScheduleError> {
    i64::try_from(x).map_err(|_| overflow("offset"))
}

/// Grows the set; returns it and the layer at which persistent holes open.
fn grow(layers: &[AxisLayer]) -> Result<(ReachSet, Option<usize>), ScheduleError> {
    if layers.is_empty() {
        return Err(ScheduleError::new(ErrorKind::Empty));
    }
    if layers.len() > MAX_LAYERS {
        return Err(ScheduleError::new(ErrorKind::TooManyLayers {
            layers: layers.len(),
            limit: MAX_LAYERS,
        }));
    }
    let steps = tap_steps(layers)?;
    // The receptive field first, against the limit, before any allocation.
    let mut rf: u64 = 1;
    let mut min_offset: i64 = 0;
    for (i, (l, &s)) in layers.iter().zip(&steps).enumerate() {
        let grow = (l.kernel - 1).checked_mul(s);
        rf = match grow.and_then(|g| rf.checked_add(g)) {
            Some(r) if r <= MAX_VERDICT_RF => r,
            Some(r) => {
                return Err(ScheduleError::new(ErrorKind::ReceptiveFieldTooLarge {
                    receptive_field: r,
                    limit: MAX_VERDICT_RF,
                })
                .at_layer(i));
            }
            None => {
                return Err(ScheduleError::new(ErrorKind::ReceptiveFieldTooLarge {
                    receptive_field: u64::MAX,
                    limit: MAX_VERDICT_RF,
                })
                .at_layer(i));
            }
        };
        // rf <= MAX_VERDICT_RF, so these fit i64.
        min_offset -= ((l.kernel - 1) / 2) as i64 * s as i64;
    }
    let mut width: u64 = 1;
    let mut words: Option<Vec<u64>> = None;
    let mut last_clean: Option<usize> = None; // last prefix without holes (None = empty prefix)
    let total_words = idx(rf.div_ceil(64));
    for (i, (l, &s)) in layers.iter().zip(&steps).enumerate() {
        let k = l.kernel;
        let new_width = width + (k - 1) * s;
        if k == 1 {
            if words.is_none() {
                last_clean = Some(i);
            }
            continue;
        }
        if words.is_none() && s <= width {
            width = new_width;
            last_clean = Some(i);
            continue;
        }
        let w = words.get_or_insert_with(|| {
            let mut v = vec![0u64; total_words];
            fill_ones(&mut v, width);
            v
        });
        shift_or(w, width, new_width, s, k);
        width = new_width;
        if count_ones(w, width) == width {
            words = None;
            last_clean = Some(i);
        }
    }
    let first_hole_layer = if words.is_some() {
        Some(last_clean.map_or(0, |c| c + 1))
    } else {
        None
    };
    Ok((
        ReachSet {
            min_offset,
            width,
            words,
        },
        first_hole_layer,
    ))
}

fn fill_ones(v: &mut [u64], width: u64) {
    let full = idx(width / 64);
    for w in &mut v[..full] {
        *w = u64::MAX;
    }
    let rest = width % 64;
    if rest > 0 {
        v[full] = (1u64 << rest) - 1;
    }
}

fn count_ones(v: &[u64], width: u64) -> u64 {
    // Bits past `width` are always zero.
    v[..idx(width.div_ceil(64))]
        .iter()
        .map(|x| u64::from(x.count_ones()))
        .sum()
}

/// `set |= set << (t·s)` for `t = 1..k`, in place: words are rewritten from the top down,
/// and a word only reads words at or below its own index, which still hold the old set.
fn shift_or(v: &mut [u64], old_width: u64, new_width: u64, s: u64, k: u64) {
    let top = idx(new_width.div_ceil(64));
    let old_top = old_width.div_ceil(64);
    for i in (0..top).rev() {
        let mut acc = v[i];
        let iu = i as u64;
        for t in 1..k {
            let shift = t * s;
            let ws = shift / 64;
            let bs = shift % 64;
            if ws > iu {
                break; // larger t shift further
            }
            let src = iu - ws;
            if src > old_top {
                continue;
            }
            let hi = if src < old_top { v[idx(src)] } else { 0 };
            if bs == 0 {
                acc |= hi;
            } else {
                acc |= hi << bs;
                if src > 0 {
                    acc |= v[idx(src - 1)] >> (64 - bs);
                }
            }
        }
        v[i] = acc;
    }
}

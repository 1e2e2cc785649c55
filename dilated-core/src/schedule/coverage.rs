//! Exact coverage counts (the coverage-count map), separably per axis: for each input
//! offset, the number of tap paths from one output position to it. Start from the output
//! position with count 1; each layer adds a count to each of its `k` taps, tap `t` at
//! `(t − (k − 1)/2)·d·jump`. Counts grow like `k^n`, so every addition is checked: `u128`
//! overflows past about `3^80` paths, and the [`Count`] trait lets a caller plug in a
//! big-integer type.

use super::error::{ErrorKind, ScheduleError};
use super::field::{Extent, extent};
use super::limits::{MAX_COVERAGE_RF, MAX_COVERAGE_WORK, MAX_MAP_SIDE};
use super::spec::{AxisSpec, overflow};

/// A non-negative count that never wraps: `u64`, `u128`, or a big integer supplied by the
/// caller (the `dilated` command implements it for `num_bigint::BigUint`).
pub trait Count: Clone + PartialEq {
    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// `self + other`, or `None` on overflow.
    fn checked_add(&self, other: &Self) -> Option<Self>;
    /// `self · other`, or `None` on overflow (the 2D map's outer product).
    fn checked_mul(&self, other: &Self) -> Option<Self>;
    /// Whether the count is 0.
    fn is_zero(&self) -> bool;
    /// `self += other`; `false` on overflow (then `self` is unspecified). Override it to
    /// add in place (big integers).
    fn checked_add_assign(&mut self, other: &Self) -> bool {
        match self.checked_add(other) {
            Some(v) => {
                *self = v;
                true
            }
            None => false,
        }
    }
}

macro_rules! impl_count {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn zero() -> Self { 0 }
            fn one() -> Self { 1 }
            fn checked_add(&self, other: &Self) -> Option<Self> { <$t>::checked_add(*self, *other) }
            fn checked_mul(&self, other: &Self) -> Option<Self> { <$t>::checked_mul(*self, *other) }
            fn is_zero(&self) -> bool { *self == 0 }
        }
    )*};
}
impl_count!(u32, u64, u128);

/// The coverage row of one axis: `counts[i]` is the number of paths to offset
/// `min_offset + i`, from the smallest to the largest reachable offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coverage<C> {
    /// Offset of `counts[0]` (SPEC's tap convention).
    pub min_offset: i64,
    /// One count per offset; its length is the receptive field.
    pub counts: Vec<C>,
}

impl<C: Count> Coverage<C> {
    /// The receptive field (number of counts).
    #[must_use]
    pub fn receptive_field(&self) -> usize {
        self.counts.len()
    }

    /// The count at `offset` (0 outside the field).
    #[must_use]
    pub fn get(&self, offset: i64) -> C {
        offset
            .checked_sub(self.min_offset)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.counts.get(i).cloned())
            .unwrap_or_else(C::zero)
    }

    /// The hole offsets (count 0), smallest first.
    #[must_use]
    pub fn holes(&self) -> Vec<i64> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_zero())
            .map(|(i, _)| self.min_offset + i as i64)
            .collect()
    }
}

/// Exact coverage counts of one axis in any [`Count`] type.
///
/// ```
/// use dilated_core::schedule::{coverage_counts, AxisSpec};
/// let c = coverage_counts::<u64>(&[AxisSpec::new(3, 1), AxisSpec::new(3, 2)]).unwrap();
/// assert_eq!(c.min_offset, -3);
/// assert_eq!(c.counts, [1, 1, 2, 1, 2, 1, 1]);
/// // Even kernels put the extra tap on the positive side: k = 2 → 0, +d.
/// let c = coverage_counts::<u64>(&[AxisSpec::new(2, 1), AxisSpec::new(2, 2)]).unwrap();
/// assert_eq!((c.min_offset, c.counts), (0, vec![1, 1, 1, 1]));
/// ```
///
/// # Errors
/// Zero sizes, overflow, a receptive field over [`MAX_COVERAGE_RF`], more work than
/// [`MAX_COVERAGE_WORK`], and [`ErrorKind::CountOverflow`] when a count does not fit `C`.
pub fn coverage_counts<C: Count>(layers: &[AxisSpec]) -> Result<Coverage<C>, ScheduleError> {
    let plan = plan(layers)?;
    let mut row: Vec<C> = vec![C::one()];
    for (i, (l, &s)) in layers.iter().zip(&plan.steps).enumerate() {
        let k = usize::try_from(l.kernel).map_err(|_| overflow("kernel"))?;
        if k == 1 {
            continue;
        }
        let s = usize::try_from(s).map_err(|_| overflow("tap step"))?;
        let width = row.len() + (k - 1) * s;
        let mut next: Vec<C> = vec![C::zero(); width];
        for (j, c) in row.iter().enumerate() {
            if c.is_zero() {
                continue;
            }
            for t in 0..k {
                if !next[j + t * s].checked_add_assign(c) {
                    return Err(ScheduleError::new(ErrorKind::CountOverflow).at_layer(i));
                }
            }
        }
        row = next;
    }
    Ok(Coverage {
        min_offset: plan.min_offset,
        counts: row,
    })
}

/// Exact coverage counts in `u128` ([`coverage_counts`] with `C = u128`).
///
/// # Errors
/// As [`coverage_counts`].
pub fn coverage_u128(layers: &[AxisSpec]) -> Result<Coverage<u128>, ScheduleError> {
    coverage_counts(layers)
}

/// The hole offsets of one axis (relative to the centre, SPEC's tap convention), from the
/// reachable set, up to the same receptive-field limit as the counts.
///
/// ```
/// use dilated_core::schedule::{hole_offsets, AxisSpec};
/// let l: Vec<_> = [1, 2, 9].iter().map(|&r| AxisSpec::new(3, r)).collect();
/// assert_eq!(hole_offsets(&l).unwrap(), [-5, -4, 4, 5]);
/// ```
///
/// # Errors
/// As [`reachable_set`](super::reachable_set), and a receptive field over
/// [`MAX_COVERAGE_RF`].
pub fn hole_offsets(layers: &[AxisSpec]) -> Result<Vec<i64>, ScheduleError> {
    let set = super::reach::reachable_set(layers)?;
    if set.width > MAX_COVERAGE_RF {
        return Err(ScheduleError::new(ErrorKind::ReceptiveFieldTooLarge {
            receptive_field: set.width,
            limit: MAX_COVERAGE_RF,
        }));
    }
    Ok(set.holes().collect())
}

/// The 2D map as the outer product of the height and width rows: `map[y][x] =
/// height.counts[y] · width.counts[x]`. Only computed when asked.
///
/// ```
/// use dilated_core::schedule::{coverage_counts, coverage_map, AxisSpec};
/// let row = coverage_counts::<u64>(&[AxisSpec::new(3, 2)]).unwrap();
/// let map = coverage_map(&row, &row).unwrap();
/// assert_eq!(map[0], [1, 0, 1, 0, 1]);
/// assert_eq!(map[1], [0, 0, 0, 0, 0]);
/// ```
///
/// # Errors
/// A side over [`MAX_MAP_SIDE`]; [`ErrorKind::CountOverflow`].
pub fn coverage_map<C: Count>(
    height: &Coverage<C>,
    width: &Coverage<C>,
) -> Result<Vec<Vec<C>>, ScheduleError> {
    for side in [height.counts.len(), width.counts.len()] {
        if side as u64 > MAX_MAP_SIDE {
            return Err(ScheduleError::new(ErrorKind::MapTooLarge {
                side: side as u64,
                limit: MAX_MAP_SIDE,
            }));
        }
    }
    height
        .counts
        .iter()
        .map(|h| {
            width
                .counts
                .iter()
                .map(|w| {
                    h.checked_mul(w)
                        .ok_or(ScheduleError::new(ErrorKind::CountOverflow))
                })
                .collect()
        })
        .collect()
}

struct Plan {
    steps: Vec<u64>,
    min_offset: i64,
}

/// Checks the limits before any allocation.
fn plan(layers: &[AxisSpec]) -> Result<Plan, ScheduleError> {
    // Over the limit, the whole row is: the error names no layer.
    let Extent {
        steps,
        fields,
        min_offset,
        ..
    } = extent(layers, MAX_COVERAGE_RF).map_err(|e| {
        if matches!(e.kind, ErrorKind::ReceptiveFieldTooLarge { .. }) {
            ScheduleError::new(e.kind)
        } else {
            e
        }
    })?;
    // Each layer with more than one tap adds its kernel size for every offset of the row
    // it reads (the field before it).
    let mut work: u64 = 0;
    let mut before: u64 = 1;
    for (l, &rf) in layers.iter().zip(&fields) {
        if l.kernel > 1 {
            work = work.saturating_add(before.saturating_mul(l.kernel));
        }
        before = rf;
    }
    if work > MAX_COVERAGE_WORK {
        return Err(ScheduleError::new(ErrorKind::CoverageTooCostly {
            work,
            limit: MAX_COVERAGE_WORK,
        }));
    }
    Ok(Plan { steps, min_offset })
}

/// The counts as text, `1 0 1 0 2 …`, abbreviated past `max` entries (the first and last
/// `max / 2` counts around a `…`).
///
/// ```
/// use dilated_core::schedule::{coverage_counts, coverage_row_text, AxisSpec};
/// let c = coverage_counts::<u64>(&[AxisSpec::new(3, 2)]).unwrap();
/// assert_eq!(coverage_row_text(&c, 40), "1 0 1 0 1");
/// assert_eq!(coverage_row_text(&c, 2), "1 … 1");
/// ```
#[must_use]
pub fn coverage_row_text<C: core::fmt::Display>(coverage: &Coverage<C>, max: usize) -> String {
    let n = coverage.counts.len();
    let join = |s: &[C]| {
        s.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if n <= max {
        join(&coverage.counts)
    } else {
        let h = (max / 2).max(1);
        format!(
            "{} … {}",
            join(&coverage.counts[..h]),
            join(&coverage.counts[n - h..])
        )
    }
}

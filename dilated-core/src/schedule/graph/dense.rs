//! Dense maps of exact counts, one per phase: what a graph's coverage is when it is small
//! enough to hold. Generic over [`Count`]; the verdict alone runs on [`Seen`] (reached or
//! not), which never overflows.

use super::engine::{Budget, Cover, Fail, PhaseVerdict};
use super::geo::Plan;
use super::types::{MAX_GRAPH_HOLE_LIST, Method};
use crate::schedule::coverage::Count;

/// Whether an offset is reached: the boolean semiring as a [`Count`], for the verdict
/// without counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen(pub(super) bool);

impl Count for Seen {
    fn zero() -> Self {
        Self(false)
    }
    fn one() -> Self {
        Self(true)
    }
    fn checked_add(&self, other: &Self) -> Option<Self> {
        Some(Self(self.0 || other.0))
    }
    fn checked_mul(&self, other: &Self) -> Option<Self> {
        Some(Self(self.0 && other.0))
    }
    fn is_zero(&self) -> bool {
        !self.0
    }
}

/// One phase's map: `cells[y·w + x]` counts offset `(min[0] + y, min[1] + x)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Map<C> {
    pub(super) min: [i64; 2],
    pub(super) shape: [usize; 2],
    pub(super) cells: Vec<C>,
}

impl<C: Count> Map<C> {
    fn max(&self, a: usize) -> i64 {
        // shape[a] >= 1 and fits i64 (bounded by the dense limit).
        self.min[a] + i64::try_from(self.shape[a]).unwrap_or(i64::MAX) - 1
    }

    /// `self[at + y, at + x] += src[y, x]`.
    fn add(&mut self, src: &Self, at: [usize; 2]) -> Result<(), Fail> {
        let w = self.shape[1];
        for y in 0..src.shape[0] {
            let d = (at[0] + y) * w + at[1];
            let s = y * src.shape[1];
            for (dst, c) in self.cells[d..d + src.shape[1]]
                .iter_mut()
                .zip(&src.cells[s..s + src.shape[1]])
            {
                if !c.is_zero() && !dst.checked_add_assign(c) {
                    return Err(Fail::CountOverflow);
                }
            }
        }
        Ok(())
    }

    /// A map of zeros over `lo..=hi`.
    fn zeros(lo: [i64; 2], hi: [i64; 2]) -> Result<Self, Fail> {
        let side = |a: usize| {
            usize::try_from(i128::from(hi[a]) - i128::from(lo[a]) + 1).map_err(|_| Fail::Overflow)
        };
        let shape = [side(0)?, side(1)?];
        let cells = shape[0].checked_mul(shape[1]).ok_or(Fail::Overflow)?;
        Ok(Self {
            min: lo,
            shape,
            cells: vec![C::zero(); cells],
        })
    }

    fn verdict(&self, phase: [usize; 2], list: bool) -> PhaseVerdict {
        let [h, w] = self.shape;
        let mut holes = list.then(Vec::new);
        let mut count = 0u64;
        let mut widest = [0u64; 2];
        let mut col_run = vec![0u64; w];
        for (y, row) in self.cells.chunks_exact(w.max(1)).take(h).enumerate() {
            let mut run = 0u64;
            for (x, (c, col)) in row.iter().zip(&mut col_run).enumerate() {
                if c.is_zero() {
                    count += 1;
                    run += 1;
                    *col += 1;
                    widest[1] = widest[1].max(run);
                    widest[0] = widest[0].max(*col);
                    if let Some(v) = &mut holes {
                        if count > MAX_GRAPH_HOLE_LIST {
                            holes = None;
                        } else {
                            v.push([self.min[0] + y as i64, self.min[1] + x as i64]);
                        }
                    }
                } else {
                    run = 0;
                    *col = 0;
                }
            }
        }
        PhaseVerdict {
            phase,
            bounds: Some([(self.min[0], self.max(0)), (self.min[1], self.max(1))]),
            hole_count: count,
            widest,
            holes,
        }
    }
}

/// The maps of every phase (`maps[r0·periods[1] + r1]`); none without local coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dense<C> {
    pub(super) periods: [usize; 2],
    pub(super) maps: Vec<Map<C>>,
}

impl<C: Count> Dense<C> {
    fn phase_of(&self, i: usize) -> [usize; 2] {
        [i / self.periods[1], i % self.periods[1]]
    }
}

impl<C: Count> Cover for Dense<C> {
    fn input(lo: [i64; 2], hi: [i64; 2]) -> Self {
        let cells = (0..2)
            .map(|a| usize::try_from(hi[a] - lo[a] + 1).unwrap_or(0))
            .product();
        Self {
            periods: [1, 1],
            maps: vec![Map {
                min: lo,
                shape: [
                    usize::try_from(hi[0] - lo[0] + 1).unwrap_or(0),
                    usize::try_from(hi[1] - lo[1] + 1).unwrap_or(0),
                ],
                cells: vec![C::one(); cells],
            }],
        }
    }

    fn empty() -> Self {
        Self {
            periods: [1, 1],
            maps: Vec::new(),
        }
    }

    fn apply(&self, plans: &[Plan; 2], budget: &mut Budget) -> Result<Self, Fail> {
        if self.maps.is_empty() {
            return Ok(Self::empty());
        }
        let periods = [plans[0].taps.len(), plans[1].taps.len()];
        let mut maps = Vec::with_capacity(periods[0] * periods[1]);
        for th in &plans[0].taps {
            for tw in &plans[1].taps {
                let mut lo = [i64::MAX; 2];
                let mut hi = [i64::MIN; 2];
                for a in th {
                    for b in tw {
                        let src = &self.maps[a.phase * self.periods[1] + b.phase];
                        for (k, s) in [a.shift, b.shift].into_iter().enumerate() {
                            let l = src.min[k].checked_add(s).ok_or(Fail::Overflow)?;
                            let h = src.max(k).checked_add(s).ok_or(Fail::Overflow)?;
                            lo[k] = lo[k].min(l);
                            hi[k] = hi[k].max(h);
                        }
                    }
                }
                let mut out = Map::zeros(lo, hi)?;
                for a in th {
                    for b in tw {
                        let src = &self.maps[a.phase * self.periods[1] + b.phase];
                        budget.spend(src.cells.len() as u64)?;
                        // src.min + shift >= lo: the differences fit usize.
                        let at = [
                            usize::try_from(src.min[0] + a.shift - lo[0])
                                .map_err(|_| Fail::Overflow)?,
                            usize::try_from(src.min[1] + b.shift - lo[1])
                                .map_err(|_| Fail::Overflow)?,
                        ];
                        out.add(src, at)?;
                    }
                }
                maps.push(out);
            }
        }
        Ok(Self { periods, maps })
    }

    fn merge(parts: Vec<Self>, budget: &mut Budget) -> Result<Self, Fail> {
        let mut parts = parts.into_iter().filter(|p| !p.maps.is_empty());
        let Some(first) = parts.next() else {
            return Ok(Self::empty());
        };
        let rest: Vec<Self> = parts.collect();
        if rest.is_empty() {
            return Ok(first);
        }
        let mut maps = Vec::with_capacity(first.maps.len());
        for (i, m) in first.maps.iter().enumerate() {
            let mut lo = m.min;
            let mut hi = [m.max(0), m.max(1)];
            for p in &rest {
                let o = &p.maps[i];
                for k in 0..2 {
                    lo[k] = lo[k].min(o.min[k]);
                    hi[k] = hi[k].max(o.max(k));
                }
            }
            let mut out = Map::zeros(lo, hi)?;
            for src in core::iter::once(m).chain(rest.iter().map(|p| &p.maps[i])) {
                budget.spend(src.cells.len() as u64)?;
                let at = [
                    usize::try_from(src.min[0] - lo[0]).map_err(|_| Fail::Overflow)?,
                    usize::try_from(src.min[1] - lo[1]).map_err(|_| Fail::Overflow)?,
                ];
                out.add(src, at)?;
            }
            maps.push(out);
        }
        Ok(Self {
            periods: first.periods,
            maps,
        })
    }

    fn verdicts(&self, list: bool, _budget: &mut Budget) -> Result<Vec<PhaseVerdict>, Fail> {
        if self.maps.is_empty() {
            return Ok(vec![PhaseVerdict::empty([0, 0])]);
        }
        Ok(self
            .maps
            .iter()
            .enumerate()
            .map(|(i, m)| m.verdict(self.phase_of(i), list))
            .collect())
    }

    fn has_holes(&self, _budget: &mut Budget) -> Result<bool, Fail> {
        Ok(self.maps.iter().any(|m| m.cells.iter().any(Count::is_zero)))
    }

    fn method(&self) -> Method {
        Method::Dense
    }
}

//! The exact gap test: a node's support (the offsets some path reaches, never the counts)
//! as a union of products `A × B` of per-axis sets, one set per phase. Every op acts on
//! each axis separately, so products stay products; a merge unions the lists. Terms that
//! another term contains are dropped and terms equal on one axis are merged, so a chain,
//! and a residual block whose body reads the identity's offset, stay one product (the
//! outer-product fast path). Several products are swept row by row, rows grouped by the
//! set of terms that contain them.

use std::collections::HashMap;

use super::bits::Bits;
use super::engine::{Budget, Cover, Fail, PhaseVerdict};
use super::geo::{Plan, extent};
use super::types::{MAX_GRAPH_HOLE_LIST, MAX_GRAPH_TERMS, Method};

/// One product: per axis, one set per phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Term {
    axes: [Vec<Bits>; 2],
}

impl Term {
    fn axis_subset(a: &[Bits], b: &[Bits]) -> bool {
        a.iter().zip(b).all(|(x, y)| x.is_subset(y))
    }

    fn is_subset(&self, other: &Self) -> bool {
        Self::axis_subset(&self.axes[0], &other.axes[0])
            && Self::axis_subset(&self.axes[1], &other.axes[1])
    }

    fn words(&self) -> u64 {
        self.axes.iter().flatten().map(Bits::words).sum()
    }
}

/// The support of a node: a union of products (none without local coverage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Terms {
    periods: [usize; 2],
    terms: Vec<Term>,
}

impl Terms {
    /// Drops contained terms and merges terms equal on one axis, until nothing changes.
    fn normalize(&mut self, budget: &mut Budget) -> Result<(), Fail> {
        loop {
            let mut changed = false;
            // Containment (equal terms: the later one goes).
            let mut i = 0;
            while i < self.terms.len() {
                let mut dropped = false;
                for j in 0..self.terms.len() {
                    if i == j {
                        continue;
                    }
                    budget.spend(self.terms[i].words())?;
                    let (a, b) = (&self.terms[i], &self.terms[j]);
                    if a.is_subset(b) && (j < i || !b.is_subset(a)) {
                        self.terms.swap_remove(i);
                        dropped = true;
                        changed = true;
                        break;
                    }
                }
                if !dropped {
                    i += 1;
                }
            }
            // A × B ∪ A × C = A × (B ∪ C), on either axis.
            'merge: for i in 0..self.terms.len() {
                for j in i + 1..self.terms.len() {
                    for axis in 0..2 {
                        budget.spend(self.terms[i].words())?;
                        if self.terms[i].axes[axis] == self.terms[j].axes[axis] {
                            let other = 1 - axis;
                            let b = self.terms.swap_remove(j);
                            let a = &mut self.terms[i];
                            let merged = a.axes[other]
                                .iter()
                                .zip(&b.axes[other])
                                .map(|(x, y)| Bits::union_shifted(&[(x, 0), (y, 0)]))
                                .collect::<Option<Vec<Bits>>>()
                                .ok_or(Fail::Overflow)?;
                            a.axes[other] = merged;
                            changed = true;
                            break 'merge;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if self.terms.len() > MAX_GRAPH_TERMS {
            return Err(Fail::TooManyTerms(self.terms.len()));
        }
        Ok(())
    }

    /// The per-axis sets of every term at one phase pair.
    fn at(&self, phase: [usize; 2]) -> [Vec<&Bits>; 2] {
        [
            self.terms.iter().map(|t| &t.axes[0][phase[0]]).collect(),
            self.terms.iter().map(|t| &t.axes[1][phase[1]]).collect(),
        ]
    }

    fn phases(&self) -> impl Iterator<Item = [usize; 2]> + '_ {
        (0..self.periods[0]).flat_map(move |r| (0..self.periods[1]).map(move |s| [r, s]))
    }
}

impl Cover for Terms {
    fn input(lo: [i64; 2], hi: [i64; 2]) -> Self {
        Self {
            periods: [1, 1],
            terms: vec![Term {
                axes: [
                    vec![Bits::interval(lo[0], hi[0])],
                    vec![Bits::interval(lo[1], hi[1])],
                ],
            }],
        }
    }

    fn empty() -> Self {
        Self {
            periods: [1, 1],
            terms: Vec::new(),
        }
    }

    fn apply(&self, plans: &[Plan; 2], budget: &mut Budget) -> Result<Self, Fail> {
        let periods = [plans[0].taps.len(), plans[1].taps.len()];
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let mut axes: [Vec<Bits>; 2] = [Vec::new(), Vec::new()];
            for (a, plan) in plans.iter().enumerate() {
                for taps in &plan.taps {
                    let parts: Vec<(&Bits, i64)> = taps
                        .iter()
                        .map(|tap| (&t.axes[a][tap.phase], tap.shift))
                        .collect();
                    let out = Bits::union_shifted(&parts).ok_or(Fail::Overflow)?;
                    budget.spend(out.words().saturating_mul(parts.len() as u64))?;
                    axes[a].push(out);
                }
            }
            terms.push(Term { axes });
        }
        let mut out = Self { periods, terms };
        if out.terms.len() > 1 {
            out.normalize(budget)?;
        }
        Ok(out)
    }

    fn merge(parts: Vec<Self>, budget: &mut Budget) -> Result<Self, Fail> {
        let mut parts = parts.into_iter().filter(|p| !p.terms.is_empty());
        let Some(mut out) = parts.next() else {
            return Ok(Self::empty());
        };
        for p in parts {
            out.terms.extend(p.terms);
        }
        out.normalize(budget)?;
        Ok(out)
    }

    fn verdicts(&self, list: bool, budget: &mut Budget) -> Result<Vec<PhaseVerdict>, Fail> {
        if self.terms.is_empty() {
            return Ok(vec![PhaseVerdict::empty([0, 0])]);
        }
        self.phases()
            .map(|phase| {
                let [rows, cols] = self.at(phase);
                gap_test(phase, &rows, &cols, true, list, budget)
            })
            .collect()
    }

    fn has_holes(&self, budget: &mut Budget) -> Result<bool, Fail> {
        match &self.terms[..] {
            [] => return Ok(false),
            [t] => return Ok(!t.axes.iter().flatten().all(Bits::is_full)),
            _ => {}
        }
        for phase in self.phases() {
            let [rows, cols] = self.at(phase);
            if gap_test(phase, &rows, &cols, false, false, budget)?.hole_count > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn method(&self) -> Method {
        if self.terms.len() > 1 {
            Method::GapTest
        } else {
            Method::OuterProduct
        }
    }
}

/// The hull of the sets.
fn hull(sets: &[&Bits]) -> (i64, i64) {
    let lo = sets.iter().map(|s| s.min()).min().unwrap_or(0);
    let hi = sets.iter().map(|s| s.max()).max().unwrap_or(0);
    (lo, hi)
}

/// The verdict of `∪ rows[i] × cols[i]` inside its bounding box. `widest`: also the longest
/// runs of holes along both axes; `list`: collect the holes (row-major, up to the limit).
fn gap_test(
    phase: [usize; 2],
    rows: &[&Bits],
    cols: &[&Bits],
    widest: bool,
    list: bool,
    budget: &mut Budget,
) -> Result<PhaseVerdict, Fail> {
    let (rb, cb) = (hull(rows), hull(cols));
    let (h, w) = (extent(rb), extent(cb));
    let cells = u128::from(h) * u128::from(w);
    if let ([a], [b]) = (rows, cols) {
        // One product: the outer product of two rows.
        let covered = u128::from(a.count()) * u128::from(b.count());
        let hole_count = u64::try_from(cells - covered).map_err(|_| Fail::Overflow)?;
        let runs = if widest {
            [
                if b.is_full() { a.widest_gap() } else { h },
                if a.is_full() { b.widest_gap() } else { w },
            ]
        } else {
            [0, 0]
        };
        let holes = if list && hole_count <= MAX_GRAPH_HOLE_LIST {
            budget.spend(h.saturating_add(hole_count))?;
            let mut v = Vec::new();
            for y in rb.0..=rb.1 {
                if a.contains(y) {
                    v.extend(b.gaps().map(|x| [y, x]));
                } else {
                    v.extend((cb.0..=cb.1).map(|x| [y, x]));
                }
            }
            Some(v)
        } else {
            None
        };
        return Ok(PhaseVerdict {
            phase,
            bounds: Some([rb, cb]),
            hole_count,
            widest: runs,
            holes,
        });
    }
    let along_rows = sweep(rows, cols, rb, cb, list, budget)?;
    let covered = along_rows.covered;
    let hole_count = u64::try_from(cells - u128::from(covered)).map_err(|_| Fail::Overflow)?;
    let runs = if widest {
        let along_cols = sweep(cols, rows, cb, rb, false, budget)?;
        [along_cols.widest, along_rows.widest]
    } else {
        [0, 0]
    };
    Ok(PhaseVerdict {
        phase,
        bounds: Some([rb, cb]),
        hole_count,
        widest: runs,
        holes: if list { along_rows.holes } else { None },
    })
}

/// What a row sweep found.
struct Sweep {
    covered: u64,
    /// The longest run of holes within one row.
    widest: u64,
    holes: Option<Vec<[i64; 2]>>,
}

/// One row signature's union of columns.
struct Row {
    union: Option<Bits>,
    covered: u64,
    widest: u64,
}

/// Visits every row of `rb`; rows contained in the same terms share one union of their
/// columns.
fn sweep(
    rows: &[&Bits],
    cols: &[&Bits],
    rb: (i64, i64),
    cb: (i64, i64),
    list: bool,
    budget: &mut Budget,
) -> Result<Sweep, Fail> {
    let w = extent(cb);
    let n = rows.len();
    let mut cache: HashMap<Vec<u64>, Row> = HashMap::new();
    let mut sig = vec![0u64; n.div_ceil(64)];
    let mut out = Sweep {
        covered: 0,
        widest: 0,
        holes: list.then(Vec::new),
    };
    let mut listed = 0u64;
    for y in rb.0..=rb.1 {
        budget.spend(n as u64)?;
        sig.fill(0);
        for (i, r) in rows.iter().enumerate() {
            if r.contains(y) {
                sig[i / 64] |= 1 << (i % 64);
            }
        }
        if !cache.contains_key(&sig) {
            let members: Vec<(&Bits, i64)> = (0..n)
                .filter(|&i| (sig[i / 64] >> (i % 64)) & 1 == 1)
                .map(|i| (cols[i], 0))
                .collect();
            let row = if members.is_empty() {
                Row {
                    union: None,
                    covered: 0,
                    widest: w,
                }
            } else {
                let u = Bits::union_shifted(&members).ok_or(Fail::Overflow)?;
                budget.spend(u.words().saturating_mul(members.len() as u64 + 1))?;
                let edge = extent((cb.0, u.min())) - 1;
                let tail = extent((u.max(), cb.1)) - 1;
                Row {
                    covered: u.count(),
                    widest: u.widest_gap().max(edge).max(tail),
                    union: Some(u),
                }
            };
            cache.insert(sig.clone(), row);
        }
        let row = &cache[&sig];
        out.covered += row.covered;
        out.widest = out.widest.max(row.widest);
        if let Some(v) = &mut out.holes {
            listed += w - row.covered;
            if listed > MAX_GRAPH_HOLE_LIST {
                out.holes = None;
                continue;
            }
            match &row.union {
                None => v.extend((cb.0..=cb.1).map(|x| [y, x])),
                Some(u) => {
                    v.extend((cb.0..u.min()).map(|x| [y, x]));
                    v.extend(u.gaps().map(|x| [y, x]));
                    v.extend((u.max() + 1..=cb.1).map(|x| [y, x]));
                }
            }
        }
    }
    Ok(out)
}

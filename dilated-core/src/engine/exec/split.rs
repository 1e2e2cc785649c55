//! The work split: how a layer's output is cut into units for the threads.
//!
//! A unit is a batch item (or a plane: item × channel block, item × channel), a group of
//! output rows and a chunk of columns. Enough units to keep every thread busy, and long
//! rows cut into chunks whose input stays in cache.

use std::sync::Arc;

use rayon::prelude::*;

/// How a network spreads work over threads.
#[derive(Debug, Clone)]
pub(crate) enum Threads {
    /// The rayon pool the call runs in (the global one unless inside `install`); one
    /// thread there means a plain loop.
    Current,
    /// A plain loop on the calling thread.
    One,
    /// A pool owned by the network.
    Pool(Arc<rayon::ThreadPool>),
}

impl Threads {
    pub(crate) fn count(&self) -> usize {
        match self {
            Threads::Current => rayon::current_num_threads(),
            Threads::One => 1,
            Threads::Pool(p) => p.current_num_threads(),
        }
    }

    pub(super) fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n <= 1 || self.count() <= 1 {
            (0..n).for_each(f);
            return;
        }
        match self {
            Threads::Pool(p) => p.install(|| (0..n).into_par_iter().for_each(f)),
            Threads::Current | Threads::One => (0..n).into_par_iter().for_each(f),
        }
    }
}

/// Output columns per unit on long rows.
pub(super) const LONG_ROW: usize = 512;

/// Splits `batch × rows × cols` into units: `(rows per unit, column chunks)`.
pub(super) fn split(
    threads: usize,
    outer: usize,
    oh: usize,
    ow: usize,
    min_w: usize,
) -> (usize, usize) {
    let mut rg = oh.min(4);
    let mut xchunks = 1;
    if threads > 1 {
        let want = 4 * threads;
        if outer * oh.div_ceil(rg) < want {
            rg = 1;
            if outer * oh < want {
                xchunks = want.div_ceil(outer * oh).min(ow.div_ceil(min_w)).max(1);
            }
        }
    }
    // Long rows (1D above all): chunks of about `LONG_ROW` columns, so that a unit's input
    // stays in cache while every pass of output channels reads it.
    if ow > 2 * LONG_ROW {
        xchunks = xchunks.max(ow / LONG_ROW);
    }
    (rg, xchunks)
}

/// Runs one unit index through the `(outer, row group, column chunk)` split.
pub(super) struct Units {
    pub(super) rg: usize,
    pub(super) row_units: usize,
    pub(super) xchunks: usize,
    pub(super) chunk_w: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl Units {
    pub(super) fn new(
        outer: usize,
        rg: usize,
        xchunks: usize,
        oh: usize,
        ow: usize,
    ) -> (Self, usize) {
        let row_units = oh.div_ceil(rg);
        let u = Self {
            rg,
            row_units,
            xchunks,
            chunk_w: ow.div_ceil(xchunks),
            oh,
            ow,
        };
        (u, outer * row_units * xchunks)
    }
    /// `(outer index, rows, columns)` of unit `u`.
    pub(super) fn get(&self, u: usize) -> (usize, (usize, usize), (usize, usize)) {
        let xc = u % self.xchunks;
        let rest = u / self.xchunks;
        let ru = rest % self.row_units;
        let outer = rest / self.row_units;
        let rows = (ru * self.rg, ((ru + 1) * self.rg).min(self.oh));
        let cols = (
            (xc * self.chunk_w).min(self.ow),
            ((xc + 1) * self.chunk_w).min(self.ow),
        );
        (outer, rows, cols)
    }
}

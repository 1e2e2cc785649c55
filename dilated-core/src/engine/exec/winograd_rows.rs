//! The driver of Winograd F(4, 3) and F(3, 2) along the row on the channel-blocked layout
//! ([`crate::engine::wino2`]'s row patches): dense 1 × 3 and 1 × 2 layers at stride 1 —
//! the 1D layers of TCNs and WaveNets — either layout in, either layout out.
//!
//! A tile is `m` outputs of one row one rate `d` apart (four for three taps, three for
//! two), `x, x + d, …`, with `⌊x / d⌋` a multiple of `m` (outputs past the row's end are
//! missing); its inputs are the `m + k − 1` columns `x − p, x − p + d, …`. Tiles are
//! numbered along the row, so `d` consecutive tiles (a group) cover `m·d` consecutive
//! outputs. A *run* of tiles is whole groups when the rate is at most the run's budget
//! ([`run_tiles`], at most [`MAX_RUN`]), its outputs one span of the row; at larger rates
//! a run is a part of one group, its outputs `m` spans `d` apart. A unit of work is
//! consecutive runs of one row of one batch item ([`RowUnits`]), so a long signal spreads
//! over the threads. For each run: from an NCHW input, its columns converted to the
//! channel-blocked layout in the thread's slot ([`reads_nchw`]: runs of whole groups whose
//! columns past their outputs are few; otherwise the layer's input is converted whole
//! before it runs); the input transform of every tile and channel block into `U`; the
//! products `M_t = U_t · V_t` on the channel-blocked dense tiles ([`products`], shared with
//! F(2 × 2, 3 × 3)); then the output transform with the bias and the activation, into the
//! output — an NCHW output through the run's spans staged channel-blocked, then transposed
//! into the planes while they are in the L1 cache. Outputs that are not finite are
//! recomputed by the direct tiles once the unit is out.

use super::geom::{Geom, Run};
use super::winograd2d::{
    Slots, Units, n_tiles, products, redo, run_tiles, runs_wino2, tile_origin, unstage,
};
use crate::Error;
use crate::conv::ConvDesc;
use crate::engine::isa::Isa;
use crate::engine::plan::{ConvPlan, Pass, Patch, Wino2};
use crate::engine::simd::LANES;
use crate::engine::wino2::{OUTSIDE, Wino2In, Wino2Out};

/// Most tiles a run holds: `U`, `M`, the staged outputs and the converted input of a run
/// of 64 channels stay within a 512 KiB L2 cache (the AMD Zen 3's), and a run still
/// reads each product's weights (16 KiB at 64 channels) once per 64 tiles.
const MAX_RUN: usize = 64;

/// How a layer's rows of tiles are cut into runs and units, and the scratch of one unit.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowUnits {
    ncb: usize,
    nkb: usize,
    /// Tiles along a row.
    ntx: usize,
    /// The rate along the row, and the outputs of a tile.
    d: usize,
    m: usize,
    /// Tiles a run holds at most: whole groups (`d` tiles) if `whole`, else a part of one.
    run: usize,
    whole: bool,
    /// Whether each run converts its input columns to the channel-blocked layout itself,
    /// from an NCHW input ([`reads_nchw`]), into the slot (`[blocks][span][16]`, `xb_cb`
    /// floats a block).
    local: bool,
    xb_cb: usize,
    /// Runs along a row (some empty at the end when runs are parts of groups), runs per
    /// unit, units per row.
    runs_per_row: usize,
    runs_per_unit: usize,
    units_per_row: usize,
    /// Floats of one position of `U` and of `M` (`[blocks][run][16]`), and of one block
    /// of the staged spans (NCHW output; `[m·run][16]`).
    u_t: usize,
    m_t: usize,
    stage_cb: usize,
    /// Floats of one thread's slot: `U`, `M`, the staged spans and the converted input.
    pub(super) slot: usize,
}

/// Columns past a run's outputs that its tiles read: `(taps − 1)·d`.
fn halo(patch: Patch, rate: usize) -> usize {
    (patch.inputs() - patch.outputs()) * rate
}

/// The runs of a row of tiles at rate `rate`, for `ncb` input and `nkb` output blocks:
/// `(tiles a run holds at most, whether runs are whole groups)`. Whole groups when the
/// rate is at most the budget of tiles ([`run_tiles`], at most [`MAX_RUN`]); else parts of
/// one group, of even sizes.
fn cut(patch: Patch, ncb: usize, nkb: usize, rate: usize) -> (usize, bool) {
    let budget = run_tiles(patch.positions(), ncb, nkb).min(MAX_RUN);
    if rate <= budget {
        ((budget / rate) * rate, true)
    } else {
        (rate.div_ceil(rate.div_ceil(budget)), false)
    }
}

/// Whether runs of whole groups convert their own input columns (from NCHW): when the
/// columns they read past their outputs ([`halo`], converted again by the next run) are
/// no more than the run's tiles (a `1/m` share of its columns, `m` outputs a tile).
fn converts_runs(patch: Patch, whole: bool, run: usize, rate: usize) -> bool {
    whole && halo(patch, rate) <= run
}

/// Whether a layer on the row patches of `wn` at geometry `g` reads an NCHW input itself,
/// each run converting its columns to the channel-blocked layout in the thread's slot
/// while they are in the cache, rather than the whole input converted before the layer
/// (a pass over memory, then a second one to read it back).
pub(super) fn reads_nchw(wn: &Wino2, d: &ConvDesc, g: &Geom) -> bool {
    if wn.patch == Patch::Square {
        return false;
    }
    let (ncb, nkb) = (
        d.in_channels.div_ceil(LANES),
        d.out_channels.div_ceil(LANES),
    );
    let rate = g.dw.max(1);
    let (run, whole) = cut(wn.patch, ncb, nkb, rate);
    converts_runs(wn.patch, whole, run, rate)
}

/// Whether a layer with Winograd filters `wn` at geometry `g` runs them on the
/// channel-blocked layout (either driver): they pay there ([`runs_wino2`]) and its input
/// is channel-blocked (`in_blocked`) or read by the runs themselves ([`reads_nchw`]).
pub(super) fn runs_blocked_wino(wn: &Wino2, d: &ConvDesc, g: &Geom, in_blocked: bool) -> bool {
    (in_blocked || reads_nchw(wn, d, g)) && runs_wino2(wn, g)
}

/// The floats of the Winograd scratch one thread's slot holds for layer `d` on filters
/// `wn`, as the run cuts it ([`Units`], [`RowUnits`]).
pub(super) fn slot_floats(
    wn: &Wino2,
    d: &ConvDesc,
    g: &Geom,
    batch: usize,
    threads: usize,
    (in_blocked, out_blocked): (bool, bool),
) -> Result<usize, Error> {
    Ok(match wn.patch {
        Patch::Square => Units::new(d, g, batch, threads, out_blocked)?.slot,
        Patch::Row3 | Patch::Row2 => {
            RowUnits::new(wn.patch, d, g, batch, threads, (in_blocked, out_blocked))?.slot
        }
    })
}

impl RowUnits {
    /// The cut for layer `d` (patch `patch`) at geometry `g`, `batch` images, `threads`
    /// threads, an input and an output blocked or not.
    pub(super) fn new(
        patch: Patch,
        d: &ConvDesc,
        g: &Geom,
        batch: usize,
        threads: usize,
        (in_blocked, out_blocked): (bool, bool),
    ) -> Result<Self, Error> {
        let ovf = || Error::Overflow {
            what: "Winograd scratch",
        };
        let ncb = d.in_channels.div_ceil(LANES);
        let nkb = d.out_channels.div_ceil(LANES);
        let rate = g.dw.max(1);
        let ntx = n_tiles(g.ow, rate, patch.outputs());
        let (run, whole) = cut(patch, ncb, nkb, rate);
        let runs_per_row = if whole {
            ntx.div_ceil(run)
        } else {
            ntx.div_ceil(rate)
                .checked_mul(rate.div_ceil(run))
                .ok_or_else(ovf)?
        };
        let local = !in_blocked && converts_runs(patch, whole, run, rate);
        let xb_cb = if local {
            (patch.outputs() * run + halo(patch, rate)) * LANES
        } else {
            0
        };
        // Units: as many as four per thread over the batch and the rows ask for, each of
        // whole runs.
        let rows = batch.checked_mul(g.oh).ok_or_else(ovf)?.max(1);
        let want = (4 * threads.max(1)).div_ceil(rows);
        let runs_per_unit = runs_per_row
            .div_ceil(want.clamp(1, runs_per_row.max(1)))
            .max(1);
        let units_per_row = runs_per_row.div_ceil(runs_per_unit);
        let u_t = ncb.checked_mul(run * LANES).ok_or_else(ovf)?;
        let m_t = nkb.checked_mul(run * LANES).ok_or_else(ovf)?;
        let stage_cb = patch.outputs() * run * LANES;
        let stage = if out_blocked {
            0
        } else {
            nkb.checked_mul(stage_cb).ok_or_else(ovf)?
        };
        let slot = u_t
            .checked_add(m_t)
            .and_then(|v| v.checked_mul(patch.positions()))
            .and_then(|v| v.checked_add(stage))
            .and_then(|v| v.checked_add(ncb.checked_mul(xb_cb)?))
            .ok_or_else(ovf)?;
        Ok(Self {
            ncb,
            nkb,
            ntx,
            d: rate,
            m: patch.outputs(),
            run,
            whole,
            local,
            xb_cb,
            runs_per_row,
            runs_per_unit,
            units_per_row,
            u_t,
            m_t,
            stage_cb,
            slot,
        })
    }

    /// The tiles `[ta, tb)` of run `i` of a row (empty past the row's last tile).
    fn span(&self, i: usize) -> (usize, usize) {
        if self.whole {
            let ta = i * self.run;
            (ta, (ta + self.run).min(self.ntx))
        } else {
            let per_group = self.d.div_ceil(self.run);
            let (q, s) = (i / per_group, i % per_group);
            let ta = q * self.d + s * self.run;
            let tb = (ta + self.run).min(q * self.d + self.d).min(self.ntx);
            (ta.min(tb), tb)
        }
    }

    /// The first output of tile `k` of a row.
    fn origin(&self, k: usize) -> usize {
        tile_origin(k, self.d, self.m)
    }

    /// Where output `c < m` of tile `ta + j` of a run of `nt` tiles from `ta` is staged,
    /// in pixels from the start of the staged spans.
    fn staged(&self, ta: usize, j: usize, c: usize, nt: usize) -> usize {
        if self.whole {
            self.origin(ta + j) + c * self.d - self.origin(ta)
        } else {
            c * nt + j
        }
    }

    /// The spans of outputs of a run of `nt` tiles from `ta` along a row of `ow`, one
    /// for whole groups, `m` for a part of one: `(first staged pixel, first column,
    /// columns)`.
    fn spans(&self, ta: usize, nt: usize, ow: usize) -> [(usize, usize, usize); 4] {
        let x0 = self.origin(ta);
        let mut s = [(0, 0, 0); 4];
        if self.whole {
            s[0] = (0, x0, (x0 + self.m * nt).min(ow) - x0);
        } else {
            for (c, sc) in s.iter_mut().enumerate().take(self.m) {
                let xc = x0 + c * self.d;
                *sc = (c * nt, xc, (xc + nt).min(ow).saturating_sub(xc));
            }
        }
        s
    }
}

/// Runs the layer: `direct` are its direct passes and weights (for outputs that are not
/// finite), `wn` its Winograd filters (a row patch), `scratch` the workspace's slots (one
/// per thread, as [`RowUnits`] sizes them for this run).
pub(super) fn wino_row_patches<I: Isa>(
    plan: &ConvPlan,
    direct: (&[Pass], &[f32]),
    wn: &Wino2,
    r: Run<'_>,
    scratch: *mut f32,
) {
    let Run {
        d,
        g,
        batch,
        x,
        y,
        threads,
    } = r;
    let count = threads.count();
    let Ok(units) = RowUnits::new(wn.patch, d, g, batch, count, (x.blocked, y.blocked)) else {
        // The scratch was sized by the same computation, which succeeded; unreachable,
        // but the direct tiles give the same outputs.
        super::dense_blocked::dense::<I>(plan, direct.0, direct.1, r);
        return;
    };
    let RowUnits {
        ncb,
        nkb,
        run,
        runs_per_row,
        runs_per_unit,
        units_per_row,
        local,
        xb_cb,
        u_t,
        m_t,
        stage_cb,
        slot,
        ..
    } = units;
    let (xs, ys) = (x.strides(), y.strides());
    let n_units = batch * g.oh * units_per_row;
    let sequential = n_units <= 1 || count <= 1;
    let slots = Slots(scratch);
    let (inputs, outs) = (wn.patch.inputs(), wn.patch.outputs());
    let work = |unit: usize| {
        let (row, ua) = (unit / units_per_row, unit % units_per_row);
        let (n, oy) = (row / g.oh, row % g.oh);
        let ximg = x.p().cast_const().wrapping_add(n * xs.img);
        let yimg = y.p().wrapping_add(n * ys.img);
        // The input row the kernel's one row reads, if inside the image (else every input
        // is padding).
        let iy = oy.checked_sub(g.pt).filter(|&iy| iy < g.ih);
        let body = |buf: &mut [f32]| {
            let positions = wn.patch.positions();
            let (u, rest) = buf.split_at_mut(positions * u_t);
            let (m, rest) = rest.split_at_mut(positions * m_t);
            let (st, xb) = rest.split_at_mut(if y.blocked { 0 } else { nkb * stage_cb });
            let mut bad: Vec<(usize, usize)> = Vec::new();
            let first = ua * runs_per_unit;
            for i in first..(first + runs_per_unit).min(runs_per_row) {
                let (ta, tb) = units.span(i);
                let nt = tb - ta;
                if nt == 0 {
                    continue;
                }
                // Where the tiles read their inputs: the blocked input's row `iy`, or the
                // run's columns `lo..` converted into the slot.
                let (src, src_cb, lo, row_at) = match iy {
                    Some(iy) if local => {
                        let lo = units.origin(ta).saturating_sub(g.pl);
                        let last = units.origin(tb - 1) + (inputs - 1) * g.dw + 1;
                        let hi = last.saturating_sub(g.pl).min(g.iw);
                        if lo < hi {
                            // SAFETY: columns `lo..hi < iw` of row `iy` of image `n`'s
                            // `cin` planes (NCHW); `hi − lo ≤ 2·nt + halo` columns of
                            // every block fit the slot's `xb` (`xb_cb` floats a block);
                            // `I` is available.
                            unsafe {
                                convert_cols::<I>(
                                    ximg.wrapping_add(iy * xs.row + lo),
                                    xs.c,
                                    d.in_channels,
                                    hi - lo,
                                    xb.as_mut_ptr(),
                                    xb_cb,
                                )
                            };
                        }
                        (xb.as_ptr(), xb_cb, lo, Some(0))
                    }
                    Some(iy) => (ximg, xs.cb, 0, Some(iy * xs.row)),
                    None => (ximg, xs.cb, 0, None),
                };
                for j in 0..nt {
                    let x0 = units.origin(ta + j);
                    let mut off = [OUTSIDE; 16];
                    if let Some(at) = row_at {
                        for (b, o) in off[..inputs].iter_mut().enumerate() {
                            let ix = (x0 + b * g.dw).checked_sub(g.pl).filter(|&ix| ix < g.iw);
                            if let Some(ix) = ix {
                                *o = at + (ix - lo) * LANES;
                            }
                        }
                    }
                    let t = Wino2In {
                        patch: wn.patch,
                        x: src,
                        x_cb: src_cb,
                        ncb,
                        off,
                        u: u.as_mut_ptr().wrapping_add(j * LANES),
                        u_t,
                        u_cb: run * LANES,
                    };
                    // SAFETY: every offset not outside is a pixel of image `n`'s row `iy`
                    // (checked above), whose `ncb` blocks the channel-blocked input holds,
                    // or a column `lo ≤ ix < hi` of the run's converted columns;
                    // the destinations are vector `j < run` of each block and position of
                    // `U`; `I` was checked available when the network was built.
                    unsafe { I::wino2_in(&t) };
                }
                products::<I>(wn, u, m, u_t, m_t, run, nt);
                let (dst, y_cb) = if y.blocked {
                    (yimg, ys.cb)
                } else {
                    (st.as_mut_ptr(), stage_cb)
                };
                for j in 0..nt {
                    let x0 = units.origin(ta + j);
                    let col = |c: usize| Some(x0 + c * g.dw).filter(|&ox| ox < g.ow);
                    let at = |c: usize| {
                        col(c).map_or(OUTSIDE, |ox| {
                            if y.blocked {
                                oy * ys.row + ox * LANES
                            } else {
                                units.staged(ta, j, c, nt) * LANES
                            }
                        })
                    };
                    let t = Wino2Out {
                        patch: wn.patch,
                        m: m.as_ptr().wrapping_add(j * LANES),
                        m_t,
                        m_cb: run * LANES,
                        nkb,
                        bias: plan.bias16.as_ptr(),
                        act: d.activation,
                        y: dst,
                        off: core::array::from_fn(|c| if c < outs { at(c) } else { OUTSIDE }),
                        y_cb,
                    };
                    // SAFETY: `M` holds vector `j` of every block and position; `bias16`
                    // holds `nkb × 16` biases; every offset not outside is a pixel of row
                    // `oy` of the output image's blocked planes, which only this unit
                    // writes there, or of the staged spans (`2·run` pixels a block:
                    // `staged` < `2·nt`); `I` is available.
                    if unsafe { I::wino2_out(&t) } {
                        bad.extend((0..outs).filter_map(col).map(|ox| (oy, ox)));
                    }
                }
                if !y.blocked {
                    for (s0, ox0, len) in units.spans(ta, nt, g.ow) {
                        if len == 0 {
                            continue;
                        }
                        // SAFETY: staged pixels `s0 .. s0 + len` of every block, written
                        // above (the run's tiles cover the span's columns); columns
                        // `ox0 .. ox0 + len ≤ ow` of output row `oy` of image `n`'s real
                        // channels, this unit's; `I` is available.
                        unsafe {
                            unstage::<I>(
                                st.as_ptr().wrapping_add(s0 * LANES),
                                stage_cb,
                                nkb,
                                len,
                                d.out_channels,
                                yimg,
                                ys.c,
                                oy * ys.row + ox0,
                            )
                        };
                    }
                }
            }
            redo::<I>(plan, direct, &r, n, &bad);
        };
        // SAFETY: the workspace's Winograd buffer holds `count` slots of `slot` floats
        // (`scratch_needs`, from the same `RowUnits`); each worker runs one unit at a time.
        unsafe { slots.with(sequential, count, slot, body) };
    };
    threads.run(n_units, &work);
}

/// Columns `0..len` of one row of `cin` NCHW planes (`x_c` floats apart, from `x`) into
/// the channel-blocked layout at `dst` (`[blocks][len][16]`, `dst_cb` floats a block):
/// 16 columns of a full block at a time through a register transpose, the rest (and a
/// last block of fewer channels, whose other lanes are left as they are: the products
/// never read them) element by element.
///
/// # Safety
/// `x + c·x_c .. + len` is readable for every channel `c < cin`; `dst + b·dst_cb .. +
/// 16·len` is writable for every block; the CPU supports `I`.
unsafe fn convert_cols<I: Isa>(
    x: *const f32,
    x_c: usize,
    cin: usize,
    len: usize,
    dst: *mut f32,
    dst_cb: usize,
) {
    for cb in 0..cin.div_ceil(LANES) {
        let lanes = (cin - cb * LANES).min(LANES);
        let src = x.wrapping_add(cb * LANES * x_c);
        let dst = dst.wrapping_add(cb * dst_cb);
        let mut p0 = 0;
        if lanes == LANES {
            while p0 + LANES <= len {
                // SAFETY: columns `p0..p0 + 16 ≤ len` of the block's 16 planes, and the 16
                // pixels from `p0` of the destination block (caller).
                unsafe { I::transpose16(src.add(p0), x_c, dst.add(p0 * LANES), LANES) };
                p0 += LANES;
            }
        }
        for l in 0..lanes {
            for p in p0..len {
                // SAFETY: column `p < len` of channel `16·cb + l < cin`, and its lane of
                // the destination (caller).
                unsafe { *dst.add(p * LANES + l) = *src.add(l * x_c + p) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output of a row is staged and unstaged by exactly one run, at every rate
    /// against the run's budget (whole groups and parts of one), on rows whose last group
    /// is partial.
    #[test]
    fn runs_cover_every_output_of_a_row_once() {
        for (ow, rate, patch) in [1, 5, 31, 64, 200, 777]
            .into_iter()
            .flat_map(|ow| [1, 2, 3, 8, 16, 100, 129, 300, 1000].map(|r| (ow, r)))
            .flat_map(|(ow, r)| [Patch::Row3, Patch::Row2].map(|p| (ow, r, p)))
        {
            {
                let m = patch.outputs();
                let d = ConvDesc::causal_1d(64, 64, 3, rate);
                let g = Geom::new(&d, [1, ow]).unwrap();
                assert_eq!(g.ow, ow);
                let u = RowUnits::new(patch, &d, &g, 1, 2, (true, false)).unwrap();
                let mut seen = vec![0; ow];
                let mut tiles = vec![0; u.ntx];
                for i in 0..u.runs_per_row {
                    let (ta, tb) = u.span(i);
                    let nt = tb - ta;
                    assert!(nt <= u.run, "ow {ow} rate {rate}: run {i} of {nt} tiles");
                    let mut staged = vec![None; m * nt];
                    for j in 0..nt {
                        tiles[ta + j] += 1;
                        for c in 0..m {
                            let ox = tile_origin(ta + j, rate, m) + c * rate;
                            if ox < ow {
                                let s = u.staged(ta, j, c, nt);
                                assert!(s < m * nt && staged[s].is_none());
                                staged[s] = Some(ox);
                            }
                        }
                    }
                    for (s0, ox0, len) in u.spans(ta, nt, ow) {
                        for k in 0..len {
                            assert_eq!(staged[s0 + k], Some(ox0 + k), "ow {ow} rate {rate}");
                            seen[ox0 + k] += 1;
                        }
                    }
                }
                assert!(tiles.iter().all(|&t| t == 1), "ow {ow} rate {rate}: tiles");
                assert!(
                    seen.iter().all(|&s| s == 1),
                    "ow {ow} rate {rate}: {seen:?}"
                );
            }
        }
    }
}

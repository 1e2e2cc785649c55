//! The driver of Winograd F(2, 3) and F(2, 2) along the row on the channel-blocked layout
//! ([`crate::engine::wino2`]'s row patches): dense 1 × 3 and 1 × 2 layers at stride 1 —
//! the 1D layers of TCNs and WaveNets — channel-blocked input, either layout out.
//!
//! A tile is two outputs of one row one rate `d` apart, `x` and `x + d`, with `⌊x / d⌋`
//! even (the partner is missing past the row's end); its inputs are the 4 (3 for two
//! taps) columns `x − p, x − p + d, …`. Tiles are numbered along the row, so `d`
//! consecutive tiles (a group) cover `2d` consecutive outputs. A *run* of tiles is whole
//! groups when the rate is at most the run's budget ([`run_tiles`]), its outputs one span
//! of the row; at larger rates a run is a part of one group, its outputs two spans `d`
//! apart. A unit of work is consecutive runs of one row of one batch item ([`RowUnits`]),
//! so a long signal spreads over the threads. For each run: the input transform of every
//! tile and channel block into `U`, the products `M_t = U_t · V_t` on the channel-blocked
//! dense tiles ([`products`], shared with F(2 × 2, 3 × 3)), then the output transform with
//! the bias and the activation, into the output — an NCHW output through the run's spans
//! staged channel-blocked, then transposed into the planes while they are in the L1 cache.
//! Outputs that are not finite are recomputed by the direct tiles once the unit is out.

use super::geom::{Geom, Run};
use super::winograd2d::{Slots, n_tiles, products, redo, run_tiles, tile_origin, unstage};
use crate::Error;
use crate::conv::ConvDesc;
use crate::engine::isa::Isa;
use crate::engine::plan::{ConvPlan, Pass, Patch, Wino2};
use crate::engine::simd::LANES;
use crate::engine::wino2::{OUTSIDE, Wino2In, Wino2Out};

/// How a layer's rows of tiles are cut into runs and units, and the scratch of one unit.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowUnits {
    ncb: usize,
    nkb: usize,
    /// Tiles along a row.
    ntx: usize,
    /// The rate along the row.
    d: usize,
    /// Tiles a run holds at most: whole groups (`d` tiles) if `whole`, else a part of one.
    run: usize,
    whole: bool,
    /// Runs along a row (some empty at the end when runs are parts of groups), runs per
    /// unit, units per row.
    runs_per_row: usize,
    runs_per_unit: usize,
    units_per_row: usize,
    /// Floats of one position of `U` and of `M` (`[blocks][run][16]`), and of one block
    /// of the staged spans (NCHW output; `[2·run][16]`).
    u_t: usize,
    m_t: usize,
    stage_cb: usize,
    /// Floats of one thread's slot: `U`, `M` and the staged spans.
    pub(super) slot: usize,
}

impl RowUnits {
    /// The cut for layer `d` (patch `patch`) at geometry `g`, `batch` images, `threads`
    /// threads, an output blocked or not.
    pub(super) fn new(
        patch: Patch,
        d: &ConvDesc,
        g: &Geom,
        batch: usize,
        threads: usize,
        out_blocked: bool,
    ) -> Result<Self, Error> {
        let ovf = || Error::Overflow {
            what: "Winograd scratch",
        };
        let ncb = d.in_channels.div_ceil(LANES);
        let nkb = d.out_channels.div_ceil(LANES);
        let rate = g.dw.max(1);
        let ntx = n_tiles(g.ow, rate);
        let budget = run_tiles(patch.positions(), ncb, nkb);
        let (run, whole, runs_per_row) = if rate <= budget {
            let run = (budget / rate) * rate;
            (run, true, ntx.div_ceil(run))
        } else {
            let per_group = rate.div_ceil(budget);
            let run = rate.div_ceil(per_group);
            let runs = ntx.div_ceil(rate).checked_mul(per_group).ok_or_else(ovf)?;
            (run, false, runs)
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
        let stage_cb = 2 * run * LANES;
        let stage = if out_blocked {
            0
        } else {
            nkb.checked_mul(stage_cb).ok_or_else(ovf)?
        };
        let slot = u_t
            .checked_add(m_t)
            .and_then(|v| v.checked_mul(patch.positions()))
            .and_then(|v| v.checked_add(stage))
            .ok_or_else(ovf)?;
        Ok(Self {
            ncb,
            nkb,
            ntx,
            d: rate,
            run,
            whole,
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

    /// Where output `c` (0 or 1) of tile `ta + j` of a run of `nt` tiles from `ta` is
    /// staged, in pixels from the start of the staged spans.
    fn staged(&self, ta: usize, j: usize, c: usize, nt: usize) -> usize {
        if self.whole {
            tile_origin(ta + j, self.d) + c * self.d - tile_origin(ta, self.d)
        } else {
            c * nt + j
        }
    }

    /// The spans of outputs of a run of `nt` tiles from `ta` along a row of `ow`:
    /// `(first staged pixel, first column, columns)`.
    fn spans(&self, ta: usize, nt: usize, ow: usize) -> [(usize, usize, usize); 2] {
        let x0 = tile_origin(ta, self.d);
        if self.whole {
            [(0, x0, (x0 + 2 * nt).min(ow) - x0), (0, 0, 0)]
        } else {
            let x1 = x0 + self.d;
            [(0, x0, nt), (nt, x1, (x1 + nt).min(ow).saturating_sub(x1))]
        }
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
    let Ok(units) = RowUnits::new(wn.patch, d, g, batch, count, y.blocked) else {
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
    let inputs = wn.patch.inputs();
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
            let (m, st) = rest.split_at_mut(positions * m_t);
            let mut bad: Vec<(usize, usize)> = Vec::new();
            let first = ua * runs_per_unit;
            for i in first..(first + runs_per_unit).min(runs_per_row) {
                let (ta, tb) = units.span(i);
                let nt = tb - ta;
                if nt == 0 {
                    continue;
                }
                for j in 0..nt {
                    let x0 = tile_origin(ta + j, g.dw);
                    let mut off = [[OUTSIDE; 4]; 4];
                    if let Some(iy) = iy {
                        for (b, o) in off[0][..inputs].iter_mut().enumerate() {
                            let ix = (x0 + b * g.dw).checked_sub(g.pl).filter(|&ix| ix < g.iw);
                            if let Some(ix) = ix {
                                *o = iy * xs.row + ix * LANES;
                            }
                        }
                    }
                    let t = Wino2In {
                        patch: wn.patch,
                        x: ximg,
                        x_cb: xs.cb,
                        ncb,
                        off,
                        u: u.as_mut_ptr().wrapping_add(j * LANES),
                        u_t,
                        u_cb: run * LANES,
                    };
                    // SAFETY: every offset not outside is a pixel of image `n`'s row `iy`
                    // (checked above), whose `ncb` blocks the channel-blocked input holds;
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
                    let x0 = tile_origin(ta + j, g.dw);
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
                        off: [[at(0), at(1)], [OUTSIDE; 2]],
                        y_cb,
                    };
                    // SAFETY: `M` holds vector `j` of every block and position; `bias16`
                    // holds `nkb × 16` biases; every offset not outside is a pixel of row
                    // `oy` of the output image's blocked planes, which only this unit
                    // writes there, or of the staged spans (`2·run` pixels a block:
                    // `staged` < `2·nt`); `I` is available.
                    if unsafe { I::wino2_out(&t) } {
                        bad.extend((0..2).filter_map(col).map(|ox| (oy, ox)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output of a row is staged and unstaged by exactly one run, at every rate
    /// against the run's budget (whole groups and parts of one), on rows whose last group
    /// is partial.
    #[test]
    fn runs_cover_every_output_of_a_row_once() {
        for ow in [1, 5, 31, 64, 200, 777] {
            for rate in [1, 2, 3, 8, 16, 100, 129, 300, 1000] {
                let d = ConvDesc::causal_1d(64, 64, 3, rate);
                let g = Geom::new(&d, [1, ow]).unwrap();
                assert_eq!(g.ow, ow);
                let u = RowUnits::new(Patch::Row3, &d, &g, 1, 2, false).unwrap();
                let mut seen = vec![0; ow];
                let mut tiles = vec![0; u.ntx];
                for i in 0..u.runs_per_row {
                    let (ta, tb) = u.span(i);
                    let nt = tb - ta;
                    assert!(nt <= u.run, "ow {ow} rate {rate}: run {i} of {nt} tiles");
                    let mut staged = vec![None; 2 * nt];
                    for j in 0..nt {
                        tiles[ta + j] += 1;
                        for c in 0..2 {
                            let ox = tile_origin(ta + j, rate) + c * rate;
                            if ox < ow {
                                let s = u.staged(ta, j, c, nt);
                                assert!(s < 2 * nt && staged[s].is_none());
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

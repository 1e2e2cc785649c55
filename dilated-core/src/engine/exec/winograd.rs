//! The Winograd drivers ([`crate::engine::wino`]): pairs of output rows for kernels of
//! height 3 or 5, windows or runs of columns for 1 × 3 and 1 × 2 kernels; whatever reaches into the padding
//! or past the output runs on the direct NCHW tiles.

use super::dense_nchw::{NchwCtx, UNIT_VECTORS, nchw_units, walk};
use crate::engine::isa::NchwIsa;
use crate::engine::simd::LANES;
use crate::engine::wino::{Mode, Wino, WinoTile, cols_perms};

/// Dense layer with kernel height 3 or 5, NCHW in and out, Winograd along the rows
/// ([`crate::engine::wino`]): the work items are the row pairs `(y, y + d)` with `⌊y/d⌋` even
/// (every output row is in one item; a first row whose partner is past the output runs
/// alone), pairs with an input row (of the taps + 1 the pair reads) in the padding on the
/// direct kernels.
pub(super) fn wino_rows<I: NchwIsa>(ctx: &NchwCtx<'_>, wino: &Wino) {
    let r = ctx.r;
    let (d, g) = (r.d, r.g);
    let dd = g.dh;
    let period = 2 * dd;
    let items = (g.oh / period) * dd + (g.oh % period).min(dd);
    let nv = g.ow.div_ceil(LANES);
    let (units, n_units) = nchw_units(&r, items, nv, LANES, UNIT_VECTORS);
    let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
    let sub = ctx.chunk_vectors(4, ctx.rs[0]);
    r.threads.run(n_units, &|u| {
        let (n, (ka, kb), (va, vb)) = units.get(u);
        let ximg = r.x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let yimg = r.y.p().wrapping_add(n * d.out_channels * oplane);
        for k in ka..kb {
            let y0 = period * (k / dd) + k % dd;
            let y1 = y0 + dd;
            let top = y0 as isize - g.pt as isize;
            if y1 >= g.oh || top < 0 || top as usize + wino.taps * dd >= g.ih {
                for oy in [y0, y1].into_iter().filter(|&oy| oy < g.oh) {
                    ctx.direct_row::<I>(n, oy, (va, vb));
                }
                continue;
            }
            let mut s = va;
            while s < vb {
                let e = s.saturating_add(sub).min(vb);
                for (bi, b) in ctx.blocks.iter().enumerate() {
                    for (c, wc) in ctx.chans(b) {
                        let direct = [ctx.tile(n, y0, b, (c, wc)), ctx.tile(n, y1, b, (c, wc))];
                        let out = |oy: usize| yimg.wrapping_add((b.co0 + c) * oplane + oy * g.ow);
                        let t = WinoTile {
                            x: ximg.wrapping_add(b.ci0 * plane + top as usize * g.iw),
                            x_c: plane,
                            x_o: dd * g.iw,
                            iw: g.iw,
                            nci: d.in_per_group(),
                            w: wino.w[bi * wino.per_block + c..].as_ptr(),
                            w_i: wino.per_i,
                            kt: g.kw,
                            taps: wino.taps,
                            dw: g.dw,
                            pl: g.pl,
                            bias: ctx.plan.bias16[b.co0 + c..].as_ptr(),
                            act: d.activation,
                            out: [out(y0), out(y1)],
                            oplane,
                            nco: (b.n - c).min(wc),
                            direct: [&direct[0], &direct[1]],
                            first: [0; 16],
                            inv: [[0; 16]; 2],
                        };
                        walk(s, e, ctx.rs, g, |r, masked, v, n_last, tiles| {
                            // SAFETY: the pair's input rows `top + i·d`, `i ≤ taps`, are inside the
                            // image (checked above); plain tiles have every tap of every lane
                            // inside the row, masked ones read only lanes inside it; the block
                            // holds `PC` transformed weights per (filter, input channel, tap) from
                            // `c` (`c + wc ≤ PC`); both output rows exist and columns `16·v..` up
                            // to `e` of channels `co0 + c..` of image `n` are written only by this
                            // unit; the direct tiles are those of the same rows and channels.
                            unsafe {
                                I::wino(Mode::Rows, wc, r, masked, &t, v * LANES, n_last, tiles);
                            };
                        });
                    }
                }
                s = e;
            }
        }
    });
}

/// Input floats a chunk of column windows spans (every input channel of a group): a
/// window's tile does few FMAs per call, so chunks are longer than the direct kernels':
/// chunks of a few windows ran slower than chunks of 16 to 64, which ran level (see
/// `docs/perf.md`, "Measurements behind the engine's design choices"); this size gives
/// 64 input channels about 16 windows a chunk.
const WINO_COLS_CHUNK: usize = 32 * 1024;

/// Dense 1 × 3 or 1 × 2 layer whose rate divides 16 or is a multiple of 16, NCHW in and out,
/// Winograd along the columns ([`crate::engine::wino`]). The work is cut into *steps*: windows of
/// 32 outputs at rates dividing 16 (below 16), or at rates that are multiples of 16, 16
/// first-of-pair columns of a run `[2dk, 2dk + d)` with their partners `d` further. Steps
/// that reach past the row or read padding run on the direct kernels.
pub(super) fn wino_cols<I: NchwIsa>(ctx: &NchwCtx<'_>, wino: &Wino) {
    let r = ctx.r;
    let (d, g) = (r.d, r.g);
    let dd = g.dw;
    let mode = if dd.is_multiple_of(LANES) {
        Mode::Runs
    } else {
        Mode::Windows
    };
    let (first, inv) = cols_perms(dd.min(LANES));
    // Steps per block of `2d` columns, and where step `j` starts.
    let per_block = if mode == Mode::Runs { dd / LANES } else { 1 };
    let width = if mode == Mode::Runs {
        2 * dd
    } else {
        2 * LANES
    };
    let start = |j: usize| (j / per_block) * width + (j % per_block) * LANES;
    let nsteps = g.ow.div_ceil(width) * per_block;
    // The output vectors of step `j`: its two halves (windows), or its columns and their
    // partners (runs).
    let halves = |j: usize| {
        let o = start(j);
        if mode == Mode::Runs {
            [o, o + dd]
        } else {
            [o, o + LANES]
        }
    };
    // Every operand's floats (32 per window, 16 per run step) from `o − pl + i·d`, i ≤ the
    // taps (3 or 2), inside the row, and every output inside the row.
    let span = wino.taps * dd;
    let whole = |j: usize| {
        let o = start(j);
        let read = if mode == Mode::Runs { LANES } else { 2 * LANES };
        halves(j)[1] + LANES <= g.ow && o >= g.pl && o + read + span <= g.iw + g.pl
    };
    let (units, n_units) = nchw_units(&r, g.oh, nsteps, width / per_block, UNIT_VECTORS / 2);
    let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
    // Steps per chunk. A chunk of windows reads its columns and the span past them; a chunk
    // of run steps reads 16 columns per step in each of its taps + 1 operands, wherever
    // they are (at large rates they lie far apart, and the span is not read at all).
    let per_chunk = WINO_COLS_CHUNK / d.in_per_group();
    let sub = if mode == Mode::Runs {
        per_chunk / ((wino.taps + 1) * LANES)
    } else {
        per_chunk.saturating_sub(span) / (2 * LANES)
    }
    .max(1);
    r.threads.run(n_units, &|u| {
        let (n, (ya, yb), (ja, jb)) = units.get(u);
        let ximg = r.x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let yimg = r.y.p().wrapping_add(n * d.out_channels * oplane);
        for oy in ya..yb {
            let iy = oy as isize - g.pt as isize;
            let inside = iy >= 0 && (iy as usize) < g.ih;
            let mut s = ja;
            while s < jb {
                let e = (s + sub).min(jb);
                for (bi, b) in ctx.blocks.iter().enumerate() {
                    for (c, wc) in ctx.chans(b) {
                        let direct = ctx.tile(n, oy, b, (c, wc));
                        let out = yimg.wrapping_add((b.co0 + c) * oplane + oy * g.ow);
                        let t = WinoTile {
                            x: ximg.wrapping_add(b.ci0 * plane + iy.max(0) as usize * g.iw),
                            x_c: plane,
                            x_o: dd,
                            iw: g.iw,
                            nci: d.in_per_group(),
                            w: wino.w[bi * wino.per_block + c..].as_ptr(),
                            w_i: wino.per_i,
                            kt: 1,
                            taps: wino.taps,
                            dw: dd,
                            pl: g.pl,
                            bias: ctx.plan.bias16[b.co0 + c..].as_ptr(),
                            act: d.activation,
                            out: [out; 2],
                            oplane,
                            nco: (b.n - c).min(wc),
                            direct: [&direct, &direct],
                            first,
                            inv,
                        };
                        let mut j = s;
                        while j < e {
                            if inside && whole(j) {
                                // Consecutive whole steps in one call: windows follow
                                // one another; run steps only within one block.
                                let joins = |j: usize| {
                                    mode == Mode::Windows || !j.is_multiple_of(per_block)
                                };
                                let mut k = 1;
                                while j + k < e && joins(j + k) && whole(j + k) {
                                    k += 1;
                                }
                                // SAFETY: input row `iy` exists; every operand of these `k` steps
                                // is inside it and their outputs inside row `oy` (`whole`); the
                                // block holds `PC` transformed weights per (filter, input channel)
                                // from `c` (`c + wc ≤ PC`); this unit alone writes these columns of
                                // channels `co0 + c..` of image `n`; the direct tile is the same
                                // row's.
                                unsafe { I::wino(mode, wc, 1, false, &t, start(j), LANES, k) };
                                j += k;
                                continue;
                            }
                            for ox in halves(j) {
                                if ox < g.ow {
                                    // SAFETY: as in `direct_row`, one masked vector of row
                                    // `oy` of this unit's columns.
                                    unsafe {
                                        I::nchw(wc, 1, true, &direct, ox, LANES.min(g.ow - ox), 1);
                                    };
                                }
                            }
                            j += 1;
                        }
                    }
                }
                s = e;
            }
        }
    });
}

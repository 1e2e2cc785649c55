//! The dense (and grouped) driver on the channel-blocked tiles: any layout in, any layout
//! out, each output row cut into segments of constant valid taps and those into tiles of
//! the family's widths, one pass of output blocks after another.
//!
//! A pass whose packed weights outgrow [`CHUNK_BYTES`] (wide layers: 512 input channels
//! of a 1 × 1 layer are 64 KiB for two output blocks) sums its input channels in chunks
//! of at most that many bytes of weights, each chunk over up to [`SUB_W`] output columns
//! before the next, the running sums in a buffer on the stack ([`Chunk`]): one chunk's
//! weights then stay in the L1 cache while every tile of those columns reads them, where
//! one pass would stream all of them from L2 for each tile. The chunks keep each output's
//! order of products, so the results are the same bits either way. Wide 1 × 1 layers run
//! each run of columns through every pass before the next run, so the run's input stays in
//! L2 for all of them; other layers run pass by pass.

use super::buffers::{Buf, out_desc, real_lanes};
use super::geom::{Run, segments, tiles};
use super::split::{Units, split};
use crate::engine::isa::Isa;
use crate::engine::kernels::{Chunk, DenseTile, taps};
use crate::engine::plan::{ConvPlan, Pass};
use crate::engine::simd::LANES;

/// Most bytes of packed weights in one chunk of a pass's input channels: a third of a
/// 48 KiB L1 data cache, leaving room for the tiles' inputs and running sums.
pub(super) const CHUNK_BYTES: usize = 16 * 1024;

/// Most output columns one chunk runs over before the next chunk starts; the running sums
/// of that many pixels (two output blocks) take 16 KiB.
pub(super) const SUB_W: usize = 128;

/// The end of the chunk of `pass`'s segments that starts at segment `c0`: as many
/// segments as fit in [`CHUNK_BYTES`] of weights, at least one.
pub(super) fn chunk_end(pass: &Pass, taps: usize, c0: usize) -> usize {
    let bytes = |s: &crate::engine::kernels::Seg| taps * (s.hi - s.lo) * pass.nob * LANES * 4;
    let mut sum = bytes(&pass.segs[c0]);
    let mut c1 = c0 + 1;
    while c1 < pass.segs.len() && sum + bytes(&pass.segs[c1]) <= CHUNK_BYTES {
        sum += bytes(&pass.segs[c1]);
        c1 += 1;
    }
    c1
}

/// The lanes `pass` writes of each of its output blocks in `y`: its own masks, less the
/// lanes past the last real channel of an NCHW output.
pub(super) fn pass_masks(pass: &Pass, y: &Buf) -> [u16; 2] {
    let mut masks = pass.masks;
    for (j, m) in masks.iter_mut().enumerate().take(pass.nob) {
        *m &= real_lanes(y, pass.ob0 + j);
    }
    masks
}

/// The direct tile of `pass` (packed weights `w`) for image `n` of run `r`, first pixel
/// `(oy, ox0)`, valid kernel rows `ky` and columns `kx`, summing the whole pass.
#[allow(clippy::too_many_arguments)]
pub(super) fn direct_tile<'a>(
    plan: &'a ConvPlan,
    pass: &'a Pass,
    w: &'a [f32],
    r: &Run<'_>,
    n: usize,
    (oy, ox0): (usize, usize),
    ky: (usize, usize),
    kx: (usize, usize),
) -> DenseTile<'a> {
    let (g, xs, ys) = (r.g, r.x.strides(), r.y.strides());
    let yimg = r.y.p().wrapping_add(n * ys.img);
    let (iy0, ix0) = g.origin(oy, ox0);
    DenseTile {
        x: r.x.p().cast_const().wrapping_add(n * xs.img),
        x_cb: xs.cb,
        x_c: xs.c,
        x_row: xs.row,
        x_px: xs.px,
        segs: &pass.segs,
        w: w.as_ptr(),
        kw: g.kw,
        ky,
        kx,
        iy0,
        ix0,
        dh: g.dh,
        dw: g.dw,
        pstep: g.sw * xs.px,
        bias: plan.bias16[pass.ob0 * LANES..].as_ptr(),
        act: r.d.activation,
        masks: pass_masks(pass, &r.y),
        out: out_desc(
            &r.y,
            &ys,
            yimg.wrapping_add(pass.ob0 * ys.cb + oy * ys.row + ox0 * ys.px),
        ),
        part: Chunk::WHOLE,
    }
}

pub(super) fn dense<I: Isa>(plan: &ConvPlan, passes: &[Pass], w: &[f32], r: Run<'_>) {
    let Run {
        g, batch, threads, ..
    } = r;
    let (rg, xchunks) = split(threads.count(), batch, g.oh, g.ow, 2 * I::TILES1[0]);
    let (units, n_units) = Units::new(batch, rg, xchunks, g.oh, g.ow);
    let n_taps = g.kh * g.kw;
    // Wide 1 × 1 layers (their weights summed in chunks) run a run of columns at a time,
    // every pass over it, so the run's input (every input channel) stays in L2 while the
    // passes read it, rather than each pass streaming the whole input from memory again.
    // Layers with more taps run pass by pass: their passes' weights are the larger part
    // (see `docs/perf.md`, "Measurements behind the engine's design choices").
    let runs_first = n_taps == 1
        && passes
            .iter()
            .any(|p| chunk_end(p, n_taps, 0) < p.segs.len());
    let work = |u: usize| {
        let (n, (ya, yb), (xa, xb)) = units.get(u);
        // The running sums of a chunked pass, reused by every pass and row of the unit.
        let mut sums = [0.0f32; SUB_W * 2 * LANES];
        // Columns `sa..sb` of output row `oy` for `pass`. One chunk: the columns at once,
        // tiles free to overlap. Chunks: runs of `SUB_W` columns, and tiles that never
        // overlap (0 chains), since an overlapping tile would read running sums another
        // tile already moved on.
        let mut span = |pass: &Pass, oy: usize, xa: usize, xb: usize| {
            let chunked = chunk_end(pass, n_taps, 0) < pass.segs.len();
            let (run_w, chains) = if chunked {
                (SUB_W, 0)
            } else {
                (xb - xa, 4 / pass.nob)
            };
            let ky = taps(oy, g.sh, g.dh, g.pt, g.kh, g.ih);
            let tile = |ox0: usize| direct_tile(plan, pass, w, &r, n, (oy, ox0), ky, (0, 0));
            let sizes = if pass.nob == 2 { I::TILES2 } else { I::TILES1 };
            let mut sa = xa;
            while sa < xb {
                let sb = (sa + run_w).min(xb);
                let mut c0 = 0;
                while c0 < pass.segs.len() {
                    let c1 = chunk_end(pass, n_taps, c0);
                    segments(g, sa, sb, |s, e, kx| {
                        tiles(s, e, sizes, chains, |ox0, r| {
                            let part = if chunked {
                                Chunk {
                                    sums: sums
                                        .as_mut_ptr()
                                        .wrapping_add((ox0 - sa) * pass.nob * LANES),
                                    first: c0 == 0,
                                    last: c1 == pass.segs.len(),
                                }
                            } else {
                                Chunk::WHOLE
                            };
                            let t = DenseTile {
                                kx,
                                segs: &pass.segs[c0..c1],
                                part,
                                ..tile(ox0)
                            };
                            // SAFETY: the taps are the valid ones for every pixel of the
                            // tile (`taps`/`segments`), so every input read is inside
                            // image `n`; the packed weights and biases cover the pass; the
                            // tile's outputs are inside rows `ya..yb`, columns `xa..xb` of
                            // image `n`, which only this unit writes; a chunked tile's
                            // running sums (pixels `ox0 − sa` .. + `r` of at most `SUB_W`,
                            // `nob` blocks each) lie inside `sums`; `I` was checked
                            // available when the network was built.
                            unsafe { I::dense(r, pass.nob, &t) };
                        });
                    });
                    c0 = c1;
                }
                sa = sb;
            }
        };
        if runs_first {
            for oy in ya..yb {
                for sa in (xa..xb).step_by(SUB_W) {
                    for pass in passes {
                        span(pass, oy, sa, (sa + SUB_W).min(xb));
                    }
                }
            }
        } else {
            for pass in passes {
                for oy in ya..yb {
                    span(pass, oy, xa, xb);
                }
            }
        }
    };
    threads.run(n_units, &work);
}

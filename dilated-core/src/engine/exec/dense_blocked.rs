//! The dense (and grouped) driver on the channel-blocked tiles: any layout in, any layout
//! out, each output row cut into segments of constant valid taps and those into tiles of
//! the family's widths, one pass of output blocks after another.

use super::buffers::{out_desc, real_lanes};
use super::geom::{Run, segments, tiles};
use super::split::{Units, split};
use crate::engine::isa::Isa;
use crate::engine::kernels::{DenseTile, taps};
use crate::engine::plan::{ConvPlan, Pass};
use crate::engine::simd::LANES;

pub(super) fn dense<I: Isa>(plan: &ConvPlan, passes: &[Pass], w: &[f32], r: Run<'_>) {
    let Run {
        d,
        g,
        batch,
        x,
        y,
        threads,
    } = r;
    let xs = x.strides();
    let ys = y.strides();
    let step = if g.sw == 1 { xs.px } else { 0 };
    let (rg, xchunks) = split(threads.count(), batch, g.oh, g.ow, 2 * I::TILES1[0]);
    let (units, n_units) = Units::new(batch, rg, xchunks, g.oh, g.ow);
    let work = |u: usize| {
        let (n, (ya, yb), (xa, xb)) = units.get(u);
        let ximg = x.p().cast_const().wrapping_add(n * xs.img);
        let yimg = y.p().wrapping_add(n * ys.img);
        for pass in passes {
            let mut masks = pass.masks;
            for (j, m) in masks.iter_mut().enumerate().take(pass.nob) {
                *m &= real_lanes(&y, pass.ob0 + j);
            }
            for oy in ya..yb {
                let ky = taps(oy, g.sh, g.dh, g.pt, g.kh, g.ih);
                segments(g, xa, xb, |s, e, kx| {
                    let sizes = if pass.nob == 2 { I::TILES2 } else { I::TILES1 };
                    tiles(s, e, sizes, 4 / pass.nob, |ox0, r| {
                        let t = DenseTile {
                            x: ximg,
                            x_cb: xs.cb,
                            x_c: xs.c,
                            x_row: xs.row,
                            x_px: xs.px,
                            segs: &pass.segs,
                            w: w.as_ptr(),
                            kw: g.kw,
                            ky,
                            kx,
                            iy0: (oy * g.sh) as isize - g.pt as isize,
                            ix0: (ox0 * g.sw) as isize - g.pl as isize,
                            dh: g.dh,
                            dw: g.dw,
                            pstep: g.sw * xs.px,
                            bias: plan.bias16[pass.ob0 * LANES..].as_ptr(),
                            act: d.activation,
                            masks,
                            out: out_desc(
                                &y,
                                &ys,
                                yimg.wrapping_add(pass.ob0 * ys.cb + oy * ys.row + ox0 * ys.px),
                            ),
                        };
                        // SAFETY: the taps are the valid ones for every pixel of the tile
                        // (`taps`/`segments`), so every input read is inside image `n`; the
                        // packed weights and biases cover the pass; the tile's outputs are
                        // inside rows `ya..yb`, columns `xa..xb` of image `n`, which only this
                        // unit writes; `I` was checked available when the network was built.
                        unsafe { I::dense(r, pass.nob, step, &t) };
                    });
                });
            }
        }
    };
    threads.run(n_units, &work);
}

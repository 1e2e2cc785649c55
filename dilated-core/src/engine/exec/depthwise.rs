//! The depthwise drivers (`groups = in = out`): 16 channels per vector on the
//! channel-blocked layout, or 16 pixels of one channel per vector on NCHW data.

use super::buffers::{out_desc, real_lanes};
use super::geom::{Run, segments, tiles};
use super::split::{Units, split};
use crate::conv::Conv;
use crate::engine::isa::Isa;
use crate::engine::kernels::{DwPix, DwTile, taps};
use crate::engine::plan::ConvPlan;
use crate::engine::simd::{LANES, fence_streams};

pub(super) fn depthwise_blocked<I: Isa>(plan: &ConvPlan, w: &[f32], r: Run<'_>) {
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
    let cb = d.out_channels.div_ceil(LANES);
    let taps_n = g.kh * g.kw;
    let (rg, xchunks) = split(threads.count(), batch * cb, g.oh, g.ow, 2 * I::DW_TILES[0]);
    let (units, n_units) = Units::new(batch * cb, rg, xchunks, g.oh, g.ow);
    let work = |u: usize| {
        let (nb, (ya, yb), (xa, xb)) = units.get(u);
        let (n, b) = (nb / cb, nb % cb);
        let xp = x.p().cast_const().wrapping_add(n * xs.img + b * xs.cb);
        let yimg = y.p().wrapping_add(n * ys.img + b * ys.cb);
        let mask = real_lanes(&y, b);
        for oy in ya..yb {
            let ky = taps(oy, g.sh, g.dh, g.pt, g.kh, g.ih);
            segments(g, xa, xb, |s, e, kx| {
                tiles(s, e, I::DW_TILES, 4, |ox0, r| {
                    let (iy0, ix0) = g.origin(oy, ox0);
                    let t = DwTile {
                        x: xp,
                        x_row: xs.row,
                        w: w[b * taps_n * LANES..].as_ptr(),
                        kw: g.kw,
                        ky,
                        kx,
                        iy0,
                        ix0,
                        dh: g.dh,
                        dw: g.dw,
                        pstep: g.sw * LANES,
                        bias: plan.bias16[b * LANES..].as_ptr(),
                        act: d.activation,
                        mask,
                        out: out_desc(&y, &ys, yimg.wrapping_add(oy * ys.row + ox0 * ys.px)),
                    };
                    // SAFETY: as in `dense`: valid taps only, outputs in this unit's region.
                    unsafe { I::dw(r, &t) };
                });
            });
        }
    };
    threads.run(n_units, &work);
}

/// Fewest bytes of an input plane for the NCHW depthwise tiles to prefetch the next plane
/// into L2 while they compute one ([`DwPix::prefetch`]). Measured on the AMD Zen 4 (1 thread,
/// GFLOP/s, without against with): 3 × 3 at 256², 64 channels (S12, 256 KiB planes)
/// 18–19 → 32–37 (2 threads 50–63 → 62–73), 32 channels 16.5 → 24–26; 16 channels at
/// 512² (1 MiB planes) 17 → 22–25; but 128 channels at 128² (S3, 64 KiB planes, which
/// the hardware's own prefetcher keeps ahead of) level at one thread and slower at two
/// (see `docs/perf.md`, "On the Zen 4, 2026-12-06 (evening)"). The 3 × 3 layers at stride 1
/// down run another tile since, with its own bound ([`PREFETCH_MIN_PLANE_BYTES_3X3`]).
const PREFETCH_MIN_PLANE_BYTES: usize = 128 << 10;

/// The same for the 3 × 3 tile that walks rows `dh` apart ([`crate::engine::kernels::pix3_tile`]):
/// its strips are two vectors wide, and the hardware prefetcher does not keep ahead of
/// them from planes of 64 KiB (128 channels at 128², rate 2, one thread, median of 5:
/// 20 → 27 GFLOP/s; two threads 48 → 64); at 96² (36 KiB) 62 → 67, at 64² (16 KiB, from L2)
/// 76 → 70, at 32² 75 → 67.
const PREFETCH_MIN_PLANE_BYTES_3X3: usize = 32 << 10;

/// Depthwise layer on NCHW data, 16 consecutive output pixels of one channel per vector;
/// `stream`: whole output vectors at 64-byte aligned addresses go past the caches
/// ([`crate::engine::simd::V16::stream`]), each unit fenced after its last.
pub(super) fn depthwise_nchw<I: Isa>(layer: &Conv, r: Run<'_>, stream: bool) {
    let Run {
        d,
        g,
        batch,
        x,
        y,
        threads,
    } = r;
    let c = d.out_channels;
    let taps_n = g.kh * g.kw;
    let interior = |ox: usize| g.interior(ox) && ox + LANES <= g.ow;
    // Whole planes per unit when there are enough of them (the column masks are computed
    // once per unit), rows otherwise.
    let rg = if batch * c >= 4 * threads.count() {
        g.oh
    } else {
        split(threads.count(), batch * c, g.oh, g.ow, g.ow).0
    };
    let (units, n_units) = Units::new(batch * c, rg, 1, g.oh, g.ow);
    let weight = layer.weight();
    let bias = layer.bias();
    // 3 × 3 at stride 1 down: the tile that walks the rows `dh` apart, where the family has it.
    let walk3 = g.kh == 3 && g.kw == 3 && g.sh == 1 && !I::PIX3_TILES.is_empty();
    let widths = if walk3 { I::PIX3_TILES } else { I::PIX_TILES };
    // Only whole-plane units: a unit of some rows is followed by the plane's next rows.
    let plane = g.ih * g.iw;
    let pf_min = if walk3 {
        PREFETCH_MIN_PLANE_BYTES_3X3
    } else {
        PREFETCH_MIN_PLANE_BYTES
    };
    let prefetch = rg == g.oh && plane.saturating_mul(size_of::<f32>()) >= pf_min;
    let work = |u: usize| {
        let (nc, (ya, yb), _) = units.get(u);
        let ch = nc % c;
        let xp = x.p().cast_const().wrapping_add(nc * plane);
        let yp = y.p().wrapping_add(nc * g.oh * g.ow);
        let t = DwPix {
            x: xp,
            ih: g.ih,
            iw: g.iw,
            w: weight[ch * taps_n..].as_ptr(),
            kh: g.kh,
            kw: g.kw,
            rows: (ya, yb),
            sh: g.sh,
            pt: g.pt,
            dh: g.dh,
            dw: g.dw,
            pl: g.pl,
            bias: bias.map_or(0.0, |b| b[ch]),
            act: d.activation,
            out: yp,
            ow: g.ow,
            nt: stream,
            prefetch: prefetch && nc + 1 < batch * c,
        };
        let nv = g.ow.div_ceil(LANES);
        let mut v = 0;
        while v < nv {
            let r = widths.iter().copied().find(|&r| r <= nv - v).unwrap_or(1);
            let ox = v * LANES;
            let n_last = LANES.min(g.ow - (v + r - 1) * LANES);
            let plain = n_last == LANES && interior(ox) && interior(ox + (r - 1) * LANES);
            if walk3 {
                // SAFETY: 3 × 3, stride 1; unmasked only where every vector is interior (as
                // below), every store inside this unit's output rows.
                unsafe { I::pix3(r, &t, ox, n_last, !plain) };
            } else if plain {
                // SAFETY: every vector of the tile is interior (the interior is an interval),
                // so every load is inside the input rows and every store inside this unit's
                // output rows.
                unsafe { I::pix(r, &t, ox) };
            } else {
                // SAFETY: the masked kernel reads only lanes inside the input rows and stores
                // only the pixels of this unit's output rows.
                unsafe { I::pix_masked(r, &t, ox, n_last) };
            }
            v += r;
        }
        if stream {
            fence_streams();
        }
    };
    threads.run(n_units, &work);
}

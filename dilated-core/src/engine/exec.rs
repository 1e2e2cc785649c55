//! The driver: layouts between layers, buffers, work split over threads, and the walk over
//! output rows that hands each kernel tile only the taps inside the input.
//!
//! **Layouts.** The network's input and output are NCHW. Between layers the data is
//! channel-blocked (`[N][C/16][H][W][16]`, the NCHW16c of oneDNN and ONNX Runtime), except
//! between two layers that both have NCHW kernels and gain from them (depthwise at stride
//! 1 across; dense with at most 16 input channels per group, see [`STACK_NCHW_MAX_IN`];
//! dense on Winograd, [`super::wino`]). The channel-blocked dense kernel reads either
//! layout through strides and writes either layout in its epilogue, so a stack converts
//! nothing at its entry and exit; only a depthwise first layer that cannot run on NCHW
//! (stride across > 1, or a dense layer after it) converts its input once. A single dense
//! layer runs on the NCHW kernels when it runs Winograd or reads few input rows
//! ([`NCHW_MAX_ROWS`]).
//!
//! **Padding.** For an output row the valid kernel rows form one range. Along the row,
//! the valid kernel columns form one range per *segment*: a run of output pixels whose
//! taps land inside the input for the same columns. The row is cut into those segments and
//! each segment into register tiles; a tile's taps are all valid for all its pixels, so
//! the kernels never test a bound and never read padding.
//!
//! **Memory.** Two activation buffers (the [`Workspace`](super::Workspace)'s ping and pong),
//! each as large as the largest blocked activation between layers plus 15 floats to start
//! on 64 bytes; nothing else grows with the input (tiles and epilogue scratch live on the
//! stack).

use std::sync::Arc;

use rayon::prelude::*;

use super::isa::{Isa, NchwIsa};
use super::kernels::{DenseTile, DwPix, DwTile, Out, taps};
use super::nchw::{Block, NchwTile};
use super::plan::{Kind, LayerPlan};
use super::simd::LANES;
use super::wino::{Axis, Mode, Wino, WinoTile, cols_perms};
use super::{Conv, Workspace};
use crate::{ConvDesc, Error};

/// Which kernels a network may use beyond the channel-blocked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Dense layers on the NCHW kernels where the layout allows (the family's default).
    pub(crate) nchw: bool,
    /// Winograd F(2, 3) on those layers where they allow it.
    pub(crate) wino: bool,
}

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

    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n <= 1 || self.count() <= 1 {
            (0..n).for_each(f);
            return;
        }
        match self {
            Threads::Pool(p) => p.install(|| (0..n).into_par_iter().for_each(f)),
            _ => (0..n).into_par_iter().for_each(f),
        }
    }
}

/// A raw activation buffer shared by the worker threads.
#[derive(Debug, Clone, Copy)]
struct Buf {
    ptr: *mut f32,
    blocked: bool,
    c: usize,
    h: usize,
    w: usize,
}

// SAFETY: the buffers outlive the parallel region, workers only read the input buffer, and
// each worker writes a disjoint set of output elements (its own rows, column chunk and
// channel blocks), so sharing the pointers is race-free.
unsafe impl Send for Buf {}
// SAFETY: as above.
unsafe impl Sync for Buf {}

/// Strides of a buffer: image, 16-channel block, channel in block, row, pixel.
#[derive(Debug, Clone, Copy)]
struct Strides {
    img: usize,
    cb: usize,
    c: usize,
    row: usize,
    px: usize,
}

impl Buf {
    /// The base pointer (a method, so closures capture the whole `Sync` buffer).
    fn p(&self) -> *mut f32 {
        self.ptr
    }

    fn strides(&self) -> Strides {
        let hw = self.h * self.w;
        if self.blocked {
            Strides {
                img: self.c.div_ceil(LANES) * LANES * hw,
                cb: LANES * hw,
                c: 1,
                row: LANES * self.w,
                px: LANES,
            }
        } else {
            Strides {
                img: self.c * hw,
                cb: LANES * hw,
                c: hw,
                row: self.w,
                px: 1,
            }
        }
    }
}

fn buf_len(batch: usize, c: usize, hw: [usize; 2], blocked: bool) -> Result<usize, Error> {
    let c = if blocked {
        c.div_ceil(LANES) * LANES
    } else {
        c
    };
    ConvDesc::nchw_len(batch, c, hw)
}

/// One layer's geometry for a given input size.
#[derive(Debug, Clone, Copy)]
struct Geom {
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    dh: usize,
    dw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
}

impl Geom {
    fn new(d: &ConvDesc, input: [usize; 2]) -> Result<Self, Error> {
        let [oh, ow] = d.output_size(input)?;
        // Every signed offset below stays far from overflow once the padded extent does.
        for (len, pad) in input.iter().zip(&d.padding) {
            let padded = len + pad[0] + pad[1];
            if padded > isize::MAX as usize / 4 {
                return Err(Error::Overflow {
                    what: "padded input",
                });
            }
        }
        Ok(Self {
            ih: input[0],
            iw: input[1],
            oh,
            ow,
            kh: d.kernel[0],
            kw: d.kernel[1],
            dh: d.dilation[0],
            dw: d.dilation[1],
            sh: d.stride[0],
            sw: d.stride[1],
            pt: d.padding[0][0],
            pl: d.padding[1][0],
        })
    }
}

impl Geom {
    /// Whether the 16 output pixels from column `ox` (stride 1 across) have every tap
    /// inside the input row.
    fn interior(&self, ox: usize) -> bool {
        ox >= self.pl && ox + LANES + (self.kw - 1) * self.dw <= self.iw + self.pl
    }
}

/// What every layer driver takes: the layer, its geometry, the batch, its input and output
/// buffers and the threads.
#[derive(Clone, Copy)]
struct Run<'a> {
    d: &'a ConvDesc,
    g: &'a Geom,
    batch: usize,
    x: Buf,
    y: Buf,
    threads: &'a Threads,
}

/// Cuts output columns `a..b` into segments of constant valid kernel columns.
fn segments(g: &Geom, a: usize, b: usize, mut f: impl FnMut(usize, usize, (usize, usize))) {
    let col = |o| taps(o, g.sw, g.dw, g.pl, g.kw, g.iw);
    let mut s = a;
    while s < b {
        let r = col(s);
        // Both ends of the range only decrease along the row: binary-search the change.
        let (mut lo, mut hi) = (s + 1, b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if col(mid) == r {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        f(s, lo, r);
        s = lo;
    }
}

/// Covers `s..e` with tiles from `sizes` (widest first): widest tiles, then the remainder
/// either with narrower tiles or with one overlapping widest tile (recomputing a few
/// pixels), whichever costs less. A tile narrower than `chains` pixels is charged as
/// `chains` (too few independent accumulators to hide the FMA latency).
fn tiles(s: usize, e: usize, sizes: &[usize], chains: usize, mut f: impl FnMut(usize, usize)) {
    let rmax = sizes[0];
    let mut o = s;
    while e - o >= rmax {
        f(o, rmax);
        o += rmax;
    }
    if o == e {
        return;
    }
    // Cost of the narrow decomposition of the remainder.
    let (mut rem, mut cost) = (e - o, 0);
    for &t in sizes {
        while rem >= t {
            cost += t.max(chains);
            rem -= t;
        }
    }
    if e - s >= rmax && cost > rmax {
        f(e - rmax, rmax);
        return;
    }
    for &t in sizes {
        while e - o >= t {
            f(o, t);
            o += t;
        }
    }
}

/// Output columns per unit on long rows.
const LONG_ROW: usize = 512;

/// Splits `batch × rows × cols` into units: `(rows per unit, column chunks)`.
fn split(threads: usize, outer: usize, oh: usize, ow: usize, min_w: usize) -> (usize, usize) {
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
struct Units {
    rg: usize,
    row_units: usize,
    xchunks: usize,
    chunk_w: usize,
    oh: usize,
    ow: usize,
}

impl Units {
    fn new(outer: usize, rg: usize, xchunks: usize, oh: usize, ow: usize) -> (Self, usize) {
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
    fn get(&self, u: usize) -> (usize, (usize, usize), (usize, usize)) {
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

fn out_desc(y: &Buf, s: &Strides, base: *mut f32) -> Out {
    Out {
        ptr: base,
        blocked: y.blocked,
        cb: s.cb,
        c: s.c,
    }
}

/// Lanes of output block `ob` that exist (all 16 in the blocked layout, where padded
/// lanes may hold anything and are never read; only real channels in NCHW).
fn real_lanes(y: &Buf, ob: usize) -> u16 {
    if y.blocked {
        return u16::MAX;
    }
    let n = y.c.saturating_sub(ob * LANES).min(LANES);
    if n == LANES {
        u16::MAX
    } else {
        ((1u32 << n) - 1) as u16
    }
}

fn dense<I: Isa>(plan: &LayerPlan, passes: &[super::plan::Pass], w: &[f32], r: Run<'_>) {
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

fn depthwise_blocked<I: Isa>(plan: &LayerPlan, w: &[f32], r: Run<'_>) {
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
                    let t = DwTile {
                        x: xp,
                        x_row: xs.row,
                        w: w[b * taps_n * LANES..].as_ptr(),
                        kw: g.kw,
                        ky,
                        kx,
                        iy0: (oy * g.sh) as isize - g.pt as isize,
                        ix0: (ox0 * g.sw) as isize - g.pl as isize,
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

fn depthwise_nchw<I: Isa>(layer: &Conv, r: Run<'_>) {
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
    let work = |u: usize| {
        let (nc, (ya, yb), _) = units.get(u);
        let ch = nc % c;
        let xp = x.p().cast_const().wrapping_add(nc * g.ih * g.iw);
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
        };
        let nv = g.ow.div_ceil(LANES);
        let mut v = 0;
        while v < nv {
            let r = I::PIX_TILES
                .iter()
                .copied()
                .find(|&r| r <= nv - v)
                .unwrap_or(1);
            let ox = v * LANES;
            let n_last = LANES.min(g.ow - (v + r - 1) * LANES);
            if n_last == LANES && interior(ox) && interior(ox + (r - 1) * LANES) {
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
    };
    threads.run(n_units, &work);
}

/// Input floats a column chunk of the NCHW kernels spans (all input channels of a group,
/// the kernel rows one output row reads): about half of a 32 KB L1, so the chunk stays
/// cached while every block of output channels reads it.
const NCHW_CHUNK: usize = 4096;

/// Most input rows (input channels per group × kernel rows) one output row of a single
/// layer may read for it to run on the NCHW kernels. Measured (1 thread, `bench
/// --cpu-time`, GFLOP/s, NCHW vs channel-blocked): S6 (16 ch) 92–103 vs 78; S4 (1D,
/// 64 ch) 106 vs 96–100; S5 (32 ch, batch 4) 101–105 vs 92–94; 128 ch 64², k3: 106–108
/// vs 105–106; S1 (64 ch, 128², k3) 103 vs 103; S2 (256 ch, k3) 101–103 vs 115–118.
const NCHW_MAX_ROWS: usize = 384;

/// Whether a dense layer that reads and writes NCHW (a network of one layer) runs on the
/// NCHW kernels ([`super::nchw`]) rather than the channel-blocked ones: stride 1 across,
/// and Winograd ([`super::wino`]) or at most [`NCHW_MAX_ROWS`] input rows per output row.
/// Winograd on NCHW beat the channel-blocked kernels at every width measured (1 thread,
/// GFLOP/s): S2 (256 ch, 64², rate 4) 144 vs 118; 512 ch, 32², rate 2: 124 vs 95;
/// 1024 → 256 ch, 24²: 99 vs 94; 1D 512 ch, rate 4: 137 vs 112.
pub(crate) fn nchw_dense(l: &Conv, p: Policy) -> bool {
    let d = l.desc();
    let depthwise = d.groups == d.in_channels && d.groups == d.out_channels;
    p.nchw
        && !depthwise
        && d.stride[1] == 1
        && ((p.wino && super::wino::shape_allows(d).is_some())
            || d.in_per_group().saturating_mul(d.kernel[0]) <= NCHW_MAX_ROWS)
}

/// Vectors per work unit on long rows with several threads (128 pixels): small units keep
/// the threads' finishing times close.
const UNIT_VECTORS: usize = 8;

/// What the NCHW dense drivers share for one layer: its run and its packed weights.
struct NchwCtx<'a> {
    r: Run<'a>,
    plan: &'a LayerPlan,
    blocks: &'a [Block],
    w: &'a [f32],
}

impl NchwCtx<'_> {
    /// The direct tile of output row `oy` of image `n`, channels `c..` of block `b`.
    fn tile<I: NchwIsa>(&self, n: usize, oy: usize, b: &Block, c: usize) -> NchwTile {
        let Run { d, g, x, y, .. } = self.r;
        let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
        let ximg = x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let yimg = y.p().wrapping_add(n * d.out_channels * oplane);
        let iy0 = (oy * g.sh) as isize - g.pt as isize;
        NchwTile {
            // Row `iy0` of the group's first channel (a row index that may be negative:
            // only valid kernel rows are read).
            x: ximg
                .wrapping_add(b.ci0 * plane)
                .wrapping_offset(iy0 * g.iw as isize),
            x_c: plane,
            x_ky: g.dh * g.iw,
            iw: g.iw,
            nci: d.in_per_group(),
            w: self.w[b.w_off + c..].as_ptr(),
            kh: g.kh,
            kw: g.kw,
            ky: taps(oy, g.sh, g.dh, g.pt, g.kh, g.ih),
            dw: g.dw,
            pl: g.pl,
            bias: self.plan.bias16[b.co0 + c..].as_ptr(),
            act: d.activation,
            out: yimg.wrapping_add((b.co0 + c) * oplane + oy * g.ow),
            oplane,
            nco: (b.n - c).min(I::NCHW_C),
        }
    }

    /// Vectors of 16 output columns per chunk of a unit: the input rows `rows` of every
    /// input channel of a group that a chunk reads stay within [`NCHW_CHUNK`] floats.
    fn chunk_vectors(&self, rows: usize, r0: usize) -> usize {
        let span = (self.r.g.kw - 1) * self.r.g.dw;
        let per = NCHW_CHUNK / (self.r.d.in_per_group() * rows).max(1);
        (per.saturating_sub(span) / LANES / r0 * r0).max(r0)
    }

    /// Output row `oy` of image `n`, vectors `va..vb`, on the direct NCHW kernels: column
    /// chunks, every block of output channels per chunk, tiles of up to `NCHW_R[0]`
    /// vectors per block.
    fn direct_row<I: NchwIsa>(&self, n: usize, oy: usize, (va, vb): (usize, usize)) {
        let g = self.r.g;
        let sub = self.chunk_vectors(g.kh, I::NCHW_R[0]);
        let mut s = va;
        while s < vb {
            let e = (s + sub).min(vb);
            for b in self.blocks {
                for c in (0..b.n).step_by(I::NCHW_C) {
                    let t = self.tile::<I>(n, oy, b, c);
                    let mut v = s;
                    while v < e {
                        let r = I::NCHW_R.iter().copied().find(|&r| r <= e - v).unwrap_or(1);
                        // Tile `(v, r)` is plain when its vectors are full and interior.
                        let plain = |v: usize| {
                            (v + r) * LANES <= g.ow
                                && g.interior(v * LANES)
                                && g.interior((v + r - 1) * LANES)
                        };
                        let (masked, n_last, tiles) = if plain(v) {
                            // The run of plain tiles from `v` (the interior is an interval).
                            let mut k = 1;
                            while v + (k + 1) * r <= e && plain(v + k * r) {
                                k += 1;
                            }
                            (false, LANES, k)
                        } else {
                            (true, LANES.min(g.ow - (v + r - 1) * LANES), 1)
                        };
                        // SAFETY: the valid kernel rows of output row `oy` are inside the
                        // input (`taps`); plain tiles have every tap of every lane inside
                        // the row, masked ones read only the lanes inside it; the block
                        // holds `PC` packed weights per (input channel, tap), the tile
                        // reads `NCHW_C` of them from `c`, and biases only of channels that
                        // exist; the outputs are row `oy`, columns `16·v..` up to `e` of
                        // channels `co0 + c..` of image `n`, which only this unit writes.
                        unsafe { I::nchw(r, masked, &t, v * LANES, n_last, tiles) };
                        v += tiles * r;
                    }
                }
            }
            s = e;
        }
    }
}

/// Splits the output of an NCHW dense layer into units: `(units, count)` over `items`
/// rows (or row pairs) of `nv` column steps each, long rows cut into steps of
/// `unit` so that several threads share them.
fn nchw_units(r: &Run<'_>, items: usize, nv: usize, step: usize, unit: usize) -> (Units, usize) {
    let (rg, mut xchunks) = split(r.threads.count(), r.batch, items, r.g.ow, 2 * step);
    if r.threads.count() > 1 && nv > 2 * unit {
        xchunks = xchunks.max(nv / unit);
    }
    Units::new(r.batch, rg, xchunks.min(nv), items, nv)
}

/// Dense layer, NCHW in and out, on the direct NCHW kernels, row by row.
fn dense_nchw<I: NchwIsa>(ctx: &NchwCtx<'_>) {
    let r = ctx.r;
    let nv = r.g.ow.div_ceil(LANES);
    let (units, n_units) = nchw_units(&r, r.g.oh, nv, I::NCHW_R[0] * LANES, UNIT_VECTORS);
    r.threads.run(n_units, &|u| {
        let (n, (ya, yb), cols) = units.get(u);
        for oy in ya..yb {
            ctx.direct_row::<I>(n, oy, cols);
        }
    });
}

/// Dense layer with kernel height 3, NCHW in and out, Winograd along the rows
/// ([`super::wino`]): the work items are the row pairs `(y, y + d)` with `⌊y/d⌋` even
/// (every output row is in one item; a first row whose partner is past the output runs
/// alone), pairs with an input row in the padding on the direct kernels.
fn wino_rows<I: NchwIsa>(ctx: &NchwCtx<'_>, wino: &Wino) {
    let r = ctx.r;
    let (d, g) = (r.d, r.g);
    let dd = g.dh;
    let period = 2 * dd;
    let items = (g.oh / period) * dd + (g.oh % period).min(dd);
    let nv = g.ow.div_ceil(LANES);
    let (units, n_units) = nchw_units(&r, items, nv, LANES, UNIT_VECTORS);
    let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
    let sub = ctx.chunk_vectors(4, 1);
    r.threads.run(n_units, &|u| {
        let (n, (ka, kb), (va, vb)) = units.get(u);
        let ximg = r.x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let yimg = r.y.p().wrapping_add(n * d.out_channels * oplane);
        for k in ka..kb {
            let y0 = period * (k / dd) + k % dd;
            let y1 = y0 + dd;
            let top = y0 as isize - g.pt as isize;
            if y1 >= g.oh || top < 0 || top as usize + 3 * dd >= g.ih {
                for oy in [y0, y1].into_iter().filter(|&oy| oy < g.oh) {
                    ctx.direct_row::<I>(n, oy, (va, vb));
                }
                continue;
            }
            let mut s = va;
            while s < vb {
                let e = (s + sub).min(vb);
                for (bi, b) in ctx.blocks.iter().enumerate() {
                    for c in (0..b.n).step_by(I::NCHW_C) {
                        let direct = [ctx.tile::<I>(n, y0, b, c), ctx.tile::<I>(n, y1, b, c)];
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
                            dw: g.dw,
                            pl: g.pl,
                            bias: ctx.plan.bias16[b.co0 + c..].as_ptr(),
                            act: d.activation,
                            out: [out(y0), out(y1)],
                            oplane,
                            nco: (b.n - c).min(I::NCHW_C),
                            direct: [&direct[0], &direct[1]],
                            first: [0; 16],
                            inv: [[0; 16]; 2],
                        };
                        let plain = |v: usize| (v + 1) * LANES <= g.ow && g.interior(v * LANES);
                        let mut v = s;
                        while v < e {
                            let (masked, n_last, tiles) = if plain(v) {
                                let mut k = 1;
                                while v + k < e && plain(v + k) {
                                    k += 1;
                                }
                                (false, LANES, k)
                            } else {
                                (true, LANES.min(g.ow - v * LANES), 1)
                            };
                            // SAFETY: the pair's four input rows `top + i·d` are inside the
                            // image (checked above); plain tiles have every tap of every
                            // lane inside the row, masked ones read only lanes inside it;
                            // the block holds `PC` transformed weights per (filter, input
                            // channel, tap) from `c`; both output rows exist and columns
                            // `16·v..` up to `e` of channels `co0 + c..` of image `n` are
                            // written only by this unit; the direct tiles are those of the
                            // same rows and channels.
                            unsafe { I::wino(Mode::Rows, masked, &t, v * LANES, n_last, tiles) };
                            v += tiles;
                        }
                    }
                }
                s = e;
            }
        }
    });
}

/// Input floats a chunk of column windows spans (every input channel of a group): a
/// window's tile does few FMAs per call, so chunks are longer than the direct kernels'
/// (S4, 1 thread, GFLOP/s: 109–114 with 1 window per chunk, 117–121 with 4, 121–124 with
/// 16 to 64).
const WINO_COLS_CHUNK: usize = 32 * 1024;

/// Dense 1 × 3 layer whose rate divides 16 or is a multiple of 16, NCHW in and out,
/// Winograd along the columns ([`super::wino`]). The work is cut into *steps*: windows of
/// 32 outputs at rates dividing 16 (below 16), or at rates that are multiples of 16, 16
/// first-of-pair columns of a run `[2dk, 2dk + d)` with their partners `d` further. Steps
/// that reach past the row or read padding run on the direct kernels.
fn wino_cols<I: NchwIsa>(ctx: &NchwCtx<'_>, wino: &Wino) {
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
    // Every operand's floats (32 per window, 16 per run step) from `o − pl + i·d`, i < 4,
    // inside the row, and every output inside the row.
    let whole = |j: usize| {
        let o = start(j);
        let read = if mode == Mode::Runs { LANES } else { 2 * LANES };
        halves(j)[1] + LANES <= g.ow && o >= g.pl && o + read + 3 * dd <= g.iw + g.pl
    };
    let (units, n_units) = nchw_units(&r, g.oh, nsteps, width / per_block, UNIT_VECTORS / 2);
    let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
    let sub = ((WINO_COLS_CHUNK / d.in_per_group()).saturating_sub(3 * dd) / (2 * LANES)).max(1);
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
                    for c in (0..b.n).step_by(I::NCHW_C) {
                        let direct = ctx.tile::<I>(n, oy, b, c);
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
                            dw: dd,
                            pl: g.pl,
                            bias: ctx.plan.bias16[b.co0 + c..].as_ptr(),
                            act: d.activation,
                            out: [out; 2],
                            oplane,
                            nco: (b.n - c).min(I::NCHW_C),
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
                                // SAFETY: input row `iy` exists; every operand of these `k`
                                // steps is inside it and their outputs inside row `oy`
                                // (`whole`); the block holds `PC` transformed weights per
                                // (filter, input channel) from `c`; this unit alone writes
                                // these columns of channels `co0 + c..` of image `n`; the
                                // direct tile is the same row's.
                                unsafe { I::wino(mode, false, &t, start(j), LANES, k) };
                                j += k;
                                continue;
                            }
                            for ox in halves(j) {
                                if ox < g.ow {
                                    // SAFETY: as in `direct_row`, one masked vector of row
                                    // `oy` of this unit's columns.
                                    unsafe {
                                        I::nchw(1, true, &direct, ox, LANES.min(g.ow - ox), 1);
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

/// NCHW → blocked, the padded lanes left as they are (never read for real outputs).
fn to_blocked(x: Buf, y: Buf, batch: usize, threads: &Threads) {
    let xs = x.strides();
    let ys = y.strides();
    let hw = x.h * x.w;
    let cb = x.c.div_ceil(LANES);
    threads.run(batch * cb, &|u| {
        let (n, b) = (u / cb, u % cb);
        let lanes = (x.c - b * LANES).min(LANES);
        for l in 0..lanes {
            let src = x
                .p()
                .cast_const()
                .wrapping_add(n * xs.img + (b * LANES + l) * xs.c);
            let dst = y.p().wrapping_add(n * ys.img + b * ys.cb + l);
            for p in 0..hw {
                // SAFETY: channel `16b + l` < C of image `n`, pixel `p` < H·W, in both
                // buffers; each unit writes only its own block of its own image.
                unsafe { *dst.wrapping_add(p * LANES) = *src.wrapping_add(p) };
            }
        }
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    Input,
    Ping,
    Pong,
    Output,
}

fn other(l: Loc) -> Loc {
    if l == Loc::Ping { Loc::Pong } else { Loc::Ping }
}

/// Whether layer `l` runs pixel-vectorised on NCHW data (depthwise, horizontal stride 1).
fn pix(l: &Conv) -> bool {
    let d = l.desc();
    d.groups == d.in_channels && d.groups == d.out_channels && d.stride[1] == 1
}

/// Most input channels per group of a dense layer on the direct kernels for the data on
/// both sides of it to stay NCHW inside a stack (Winograd layers keep NCHW at any width).
/// Measured (1 thread, `bench --cpu-time stack`, GFLOP/s, direct NCHW between layers vs
/// channel-blocked): 16 channels, rates 1, 2, 5, 128²: 103 vs 93–96; 32 channels, 1D,
/// rates 1…32: 97–98 vs 99–101; S7 (64 channels): 103–105 vs 109–111 — and 151 with
/// Winograd on NCHW.
const STACK_NCHW_MAX_IN: usize = 16;

/// Whether layer `l` keeps NCHW data on its sides inside a stack: depthwise at stride 1
/// across, or dense on the NCHW kernels with few input channels or with Winograd.
fn stack_nchw(l: &Conv, p: Policy) -> bool {
    pix(l)
        || (nchw_dense(l, p)
            && (l.desc().in_per_group() <= STACK_NCHW_MAX_IN
                || (p.wino && super::wino::shape_allows(l.desc()).is_some())))
}

/// Whether the data after layer `j` is NCHW: the network's output, or between two layers
/// that both keep NCHW; channel-blocked otherwise.
fn nchw_after(layers: &[Conv], j: usize, p: Policy) -> bool {
    j + 1 >= layers.len() || (stack_nchw(&layers[j], p) && stack_nchw(&layers[j + 1], p))
}

/// Whether dense layer `i` of `layers` reads and writes NCHW, so runs on the NCHW kernels.
pub(crate) fn runs_nchw(layers: &[Conv], i: usize, p: Policy) -> bool {
    nchw_dense(&layers[i], p)
        && (i == 0 || nchw_after(layers, i - 1, p))
        && nchw_after(layers, i, p)
}

/// Step `i` of the run and its geometry, given where its input is (`cur`) and its size.
fn step_at(
    layers: &[Conv],
    plans: &[LayerPlan],
    i: usize,
    cur: Loc,
    hw: [usize; 2],
    p: Policy,
) -> Result<(Step, Geom), Error> {
    let n = layers.len();
    // Layout after layer j.
    let blocked_after = |j: usize| !nchw_after(layers, j, p);
    let d = layers[i].desc();
    let g = Geom::new(d, hw)?;
    let in_blocked = i > 0 && blocked_after(i - 1);
    let depthwise = matches!(plans[i].kind, Kind::Depthwise { .. });
    let out_blocked = blocked_after(i);
    let nchw_depthwise = depthwise && pix(&layers[i]) && !in_blocked && !out_blocked;
    let src = cur;
    let mut from = cur;
    let mut convert_to = None;
    if depthwise && !nchw_depthwise && !in_blocked {
        let to = other(cur);
        convert_to = Some(to);
        from = to;
    }
    let dst = if i + 1 == n { Loc::Output } else { other(from) };
    let step = Step {
        convert_to,
        src,
        dst,
        in_blocked: in_blocked || convert_to.is_some(),
        out_blocked,
        nchw_depthwise,
    };
    Ok((step, g))
}

/// Floats of slack at the front of each scratch buffer, so that it can start on a
/// 64-byte boundary.
const ALIGN_SLACK: usize = 15;

/// One step of the run: an optional conversion to blocked, then the layer.
#[derive(Debug, Clone, Copy)]
struct Step {
    convert_to: Option<Loc>,
    src: Loc,
    dst: Loc,
    in_blocked: bool,
    out_blocked: bool,
    nchw_depthwise: bool,
}

/// The signature of [`forward`] for one instruction set, as the dispatcher stores it.
pub(crate) type ForwardFn = fn(
    &[Conv],
    &[LayerPlan],
    &Threads,
    usize,
    [usize; 2],
    &[f32],
    &mut [f32],
    &mut Workspace,
    Policy,
) -> Result<(), Error>;

/// Runs the whole stack with instruction set `I`, dense layers on the NCHW kernels where
/// `nchw` and the layout allow (as the plans were packed). Shapes and lengths are already
/// checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<I: NchwIsa>(
    layers: &[Conv],
    plans: &[LayerPlan],
    threads: &Threads,
    batch: usize,
    input_hw: [usize; 2],
    input: &[f32],
    output: &mut [f32],
    ws: &mut Workspace,
    policy: Policy,
) -> Result<(), Error> {
    // Pass 1: the size each scratch buffer must have. The steps are recomputed in pass 2
    // rather than stored, so a run allocates nothing once the workspace has grown.
    let mut need = [0usize; 2];
    let mut cur = Loc::Input;
    let mut hw = input_hw;
    for (i, layer) in layers.iter().enumerate() {
        let (step, g) = step_at(layers, plans, i, cur, hw, policy)?;
        let d = layer.desc();
        if let Some(to) = step.convert_to {
            let slot = usize::from(to == Loc::Pong);
            need[slot] = need[slot].max(buf_len(batch, d.in_channels, hw, true)?);
        }
        if step.dst != Loc::Output {
            let slot = usize::from(step.dst == Loc::Pong);
            need[slot] = need[slot].max(buf_len(
                batch,
                d.out_channels,
                [g.oh, g.ow],
                step.out_blocked,
            )?);
        }
        cur = step.dst;
        hw = [g.oh, g.ow];
    }
    // Each scratch buffer starts on a 64-byte boundary (15 floats of slack): an unaligned
    // plane splits every vector access across two cache lines.
    for (buf, len) in [&mut ws.ping, &mut ws.pong].into_iter().zip(need) {
        let len = if len == 0 { 0 } else { len + ALIGN_SLACK };
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
    }
    let start = |buf: &mut Vec<f32>| {
        let skip = buf.as_ptr().align_offset(64).min(ALIGN_SLACK);
        // In bounds: a buffer in use holds `ALIGN_SLACK` floats past what the run needs (an
        // unused one is never read or written).
        buf.as_mut_ptr().wrapping_add(skip)
    };
    // The input is only ever read through this pointer.
    let (p_in, p_ping, p_pong, p_out) = (
        input.as_ptr().cast_mut(),
        start(&mut ws.ping),
        start(&mut ws.pong),
        output.as_mut_ptr(),
    );
    let ptr = |loc: Loc| -> *mut f32 {
        match loc {
            Loc::Input => p_in,
            Loc::Ping => p_ping,
            Loc::Pong => p_pong,
            Loc::Output => p_out,
        }
    };
    let mut cur = Loc::Input;
    let mut hw = input_hw;
    for (i, (layer, plan)) in layers.iter().zip(plans).enumerate() {
        let (step, g) = step_at(layers, plans, i, cur, hw, policy)?;
        let g = &g;
        cur = step.dst;
        let d = layer.desc();
        let mut src = step.src;
        if let Some(to) = step.convert_to {
            let from = Buf {
                ptr: ptr(src),
                blocked: false,
                c: d.in_channels,
                h: hw[0],
                w: hw[1],
            };
            let into = Buf {
                blocked: true,
                ptr: ptr(to),
                ..from
            };
            to_blocked(from, into, batch, threads);
            src = to;
        }
        let x = Buf {
            ptr: ptr(src),
            blocked: step.in_blocked,
            c: d.in_channels,
            h: hw[0],
            w: hw[1],
        };
        let y = Buf {
            ptr: ptr(step.dst),
            blocked: step.out_blocked,
            c: d.out_channels,
            h: g.oh,
            w: g.ow,
        };
        let run = Run {
            d,
            g,
            batch,
            x,
            y,
            threads,
        };
        match &plan.kind {
            Kind::Dense { passes, w } => dense::<I>(plan, passes, w, run),
            Kind::Depthwise { .. } if step.nchw_depthwise => {
                depthwise_nchw::<I>(layer, run);
            }
            Kind::Depthwise { w } => depthwise_blocked::<I>(plan, w, run),
            Kind::Nchw { blocks, w, wino } => {
                let ctx = NchwCtx {
                    r: run,
                    plan,
                    blocks,
                    w,
                };
                match wino {
                    Some(wn) if wn.axis == Axis::Rows => wino_rows::<I>(&ctx, wn),
                    Some(wn) => wino_cols::<I>(&ctx, wn),
                    None => dense_nchw::<I>(&ctx),
                }
            }
        }
        hw = [g.oh, g.ow];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_cover_the_valid_kernel_indices() {
        // k = 3, d = 2, p = 2, input 5: output 0 sees inputs −2, 0, 2 → taps 1..3.
        assert_eq!(taps(0, 1, 2, 2, 3, 5), (1, 3));
        assert_eq!(taps(2, 1, 2, 2, 3, 5), (0, 3));
        assert_eq!(taps(4, 1, 2, 2, 3, 5), (0, 2));
        // Kernel wider than the input: no valid tap at all.
        assert_eq!(taps(0, 1, 10, 10, 3, 5), (1, 2));
        assert_eq!(taps(0, 1, 10, 0, 3, 1), (0, 1));
    }

    #[test]
    fn tiles_cover_each_segment() {
        let mut seen = [0; 40];
        tiles(3, 37, &[14, 8, 4, 2, 1], 2, |o, r| {
            for s in &mut seen[o..o + r] {
                *s += 1;
            }
        });
        assert!(seen[3..37].iter().all(|&s| s >= 1));
        assert!(seen[..3].iter().chain(&seen[37..]).all(|&s| s == 0));
        let mut covered = 0;
        tiles(0, 13, &[14, 8, 4, 2, 1], 2, |_, r| covered += r);
        assert_eq!(covered, 13);
        let list = |e: usize, chains: usize| {
            let mut v = Vec::new();
            tiles(0, e, &[14, 8, 4, 2, 1], chains, |o, r| v.push((o, r)));
            v
        };
        // A remainder of 6 is cheaper as 4 + 2 than as a 14-wide overlap...
        assert_eq!(list(34, 2), [(0, 14), (14, 14), (28, 4), (32, 2)]);
        // ...a remainder of 13 with single-chain narrow tiles is not.
        assert_eq!(list(27, 4), [(0, 14), (13, 14)]);
    }
}

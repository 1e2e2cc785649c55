//! The driver of Winograd F(2 × 2, 3 × 3) on the channel-blocked layout
//! ([`crate::engine::wino2`]): channel-blocked input, either layout out.
//!
//! The output is cut into tiles of 2 × 2 pixels one rate apart: output row `y` is the
//! first of a tile's pair when `⌊y / d_h⌋` is even, its partner `y + d_h` (missing past the
//! last row: the tile then writes one row); the same along the columns. A unit of work is
//! one or more rows of tiles of one batch item ([`Units`]), run [`run_tiles`] tiles at a
//! time. For each run: the input transform of every tile and channel block into `U` (16
//! matrices, tiles × input channels, channel-blocked like an image of one row), the 16
//! products `M_t = U_t · V_t` on the channel-blocked dense tiles as 1 × 1 convolutions
//! (their weights summed in chunks that stay in the L1 cache, as [`super::dense_blocked`]
//! does, in tiles of even widths), then the output transform of every tile, with the bias
//! and the activation, into the output — an NCHW output through the unit's rows staged
//! channel-blocked, then transposed into the planes 16 pixels at a time. A tile with an
//! output that is not finite is recomputed by the direct tiles. `U`, `M` and the staged
//! rows live in the [`Workspace`](super::Workspace), one slot per thread.

use super::dense_blocked::{SUB_W, chunk_end, direct_tile};
use super::geom::{Geom, Run, tiles};
use crate::Error;
use crate::conv::{Activation, ConvDesc};
use crate::engine::isa::Isa;
use crate::engine::kernels::{Chunk, DenseTile, Out, taps};
use crate::engine::plan::{ConvPlan, Pass, Patch, Wino2};
use crate::engine::simd::LANES;
use crate::engine::wino2::{OUTSIDE, Wino2In, Wino2Out};

/// Most bytes of `U` and `M` one run of tiles keeps (a thread's slot). Each of the 16
/// products reads all its weights once per run, so the more tiles a run holds the less
/// weight traffic per tile, while `U` and `M` outgrow the L2 cache. On the Intel Xeon
/// (2 MiB of L2 a core), 1 thread, GFLOP/s with 1 / 2 / 4 / 8 MiB: 512 → 512 at 64², rate
/// 2: 186 / 242 / 261 / 279; 256 → 256 at 64², rate 4: 191 / 224 / 229 / — (128 tiles,
/// the most a run takes, fit 4 MiB); 2048 → 256 at 33², rate 6: — / 146 / 183 / 236; 2
/// threads, 512 → 512: 2 MiB 425, 4 MiB 567, 8 MiB 538; the zoo's context module 254–289
/// / 226–247 / 236–240 ms (`docs/perf.md`). 4 MiB: most of the gain, half the memory of 8.
const UNIT_BYTES: usize = 4 << 20;

/// Fewest tiles a unit runs at a time (when the channels are so many that fewer would fit
/// [`UNIT_BYTES`]): below a full register tile's width the products lose more than the
/// cache gains.
const MIN_RUN: usize = 14;

/// Fewest direct products per Winograd product for a layer to run on Winograd. The direct
/// tiles skip the taps that fall in the padding, Winograd's tiles multiply the whole 4 × 4
/// patch of every tile, partner rows and columns past the image included; and its
/// products run with the transforms beside them. On the Intel Xeon, 1 thread, direct
/// against Winograd in GFLOP/s (products ratio): 256 → 256 at 64², rate 4, 160 vs 206
/// (2.07); 512 → 512 at 64², rate 2, 144 vs 215 (2.16); 2048 → 256 at 33², rate 6, 117 vs
/// 122–132 (1.46); rate 12, 151 vs 105 (0.80); 256 → 256 at 33², rate 18, 249 vs 186
/// (0.77) (`docs/perf.md`).
const MIN_GAIN: f64 = 1.4;

/// As [`MIN_GAIN`], for F(4, 3) along the row (2 at most: 12 direct products for 6).
const MIN_GAIN_ROW3: f64 = 1.8;

/// As [`MIN_GAIN`], for F(3, 2) along the row (1.5 at most: 6 direct products for 4).
const MIN_GAIN_ROW2: f64 = 1.35;

/// Tiles of `m` outputs one rate apart along an axis of `n` outputs at rate `d`: the
/// outputs whose `⌊o / d⌋` is a multiple of `m` (two for F(2 × 2, 3 × 3)).
pub(super) fn n_tiles(n: usize, d: usize, m: usize) -> usize {
    (n / (m * d)) * d + (n % (m * d)).min(d)
}

/// The first output of tile `k` of `m` outputs along an axis at rate `d`.
pub(super) fn tile_origin(k: usize, d: usize, m: usize) -> usize {
    m * d * (k / d) + k % d
}

/// Most tiles a run of a unit holds for `cb` input and `kb` output channel blocks and
/// `positions` products a tile.
pub(super) fn run_tiles(positions: usize, cb: usize, kb: usize) -> usize {
    let per_tile = positions * LANES * 4 * (cb + kb);
    (UNIT_BYTES / per_tile).clamp(MIN_RUN, SUB_W)
}

/// Whether a layer with Winograd filters `wn` runs on them at this geometry: everywhere
/// if packed so, else when its direct products (valid taps only) are at least the
/// patch's share of its Winograd products ([`MIN_GAIN`], [`MIN_GAIN_ROW3`],
/// [`MIN_GAIN_ROW2`]).
pub(super) fn runs_wino2(wn: &Wino2, g: &Geom) -> bool {
    wn.everywhere || worth_it(wn.patch, g)
}

fn worth_it(patch: Patch, g: &Geom) -> bool {
    let direct =
        valid_taps(g.oh, g.dh, g.pt, g.kh, g.ih) * valid_taps(g.ow, g.dw, g.pl, g.kw, g.iw);
    let (rows, gain) = match patch {
        Patch::Square => (n_tiles(g.oh, g.dh, 2), MIN_GAIN),
        Patch::Row3 => (g.oh, MIN_GAIN_ROW3),
        Patch::Row2 => (g.oh, MIN_GAIN_ROW2),
    };
    let cols = n_tiles(g.ow, g.dw, patch.outputs());
    let wino = (patch.positions() * rows) as f64 * cols as f64;
    wino > 0.0 && direct >= gain * wino
}

/// The taps of a `k`-tap kernel at rate `d` that land inside an input of `len` with `p`
/// zeros before it, summed over `n` outputs at stride 1: every tap on the interior
/// `[lo, hi)`, counted one by one at the edges only (a long 1D row asks for no pass over
/// its outputs).
fn valid_taps(n: usize, d: usize, p: usize, k: usize, len: usize) -> f64 {
    let lo = p.min(n);
    let hi = (len + p)
        .checked_sub((k - 1) * d)
        .map_or(lo, |h| h.clamp(lo, n));
    let edge = |o: usize| {
        let (a, b) = taps(o, 1, d, p, k, len);
        (b - a) as f64
    };
    (0..lo).chain(hi..n).map(edge).sum::<f64>() + ((hi - lo) * k) as f64
}

/// How a layer's tiles are cut into units and runs, and the scratch of one unit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Units {
    ncb: usize,
    nkb: usize,
    nty: usize,
    ntx: usize,
    /// Rows of tiles per unit, and tiles per run.
    rows: usize,
    run: usize,
    units_per_image: usize,
    /// Floats of one position of `U` and of `M` (`[blocks][run][16]`), and of one block
    /// of the staged rows (NCHW output; `[2·rows][ow][16]`).
    u_t: usize,
    m_t: usize,
    stage_cb: usize,
    /// Floats of one thread's slot: `U`, `M` and the staged rows.
    pub(super) slot: usize,
}

impl Units {
    /// The cut for layer `d` at geometry `g`, `batch` images, `threads` threads, an output
    /// blocked or not.
    pub(super) fn new(
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
        let (nty, ntx) = (n_tiles(g.oh, g.dh, 2), n_tiles(g.ow, g.dw, 2));
        // A unit: `rows` rows of tiles (as many as a run holds, while the units still
        // number four per thread), run `run` tiles at a time.
        let budget = run_tiles(16, ncb, nkb);
        let want = 4 * threads.max(1);
        let mut rows = (budget / ntx.max(1)).clamp(1, nty.max(1));
        while rows > 1 && batch.saturating_mul(nty.div_ceil(rows)) < want {
            rows -= 1;
        }
        let tiles_per_unit = rows * ntx;
        let runs = tiles_per_unit.div_ceil(budget).max(1);
        let run = tiles_per_unit.div_ceil(runs);
        let u_t = ncb.checked_mul(run * LANES).ok_or_else(ovf)?;
        let m_t = nkb.checked_mul(run * LANES).ok_or_else(ovf)?;
        let stage_cb = (2 * rows)
            .checked_mul(g.ow)
            .and_then(|v| v.checked_mul(LANES))
            .ok_or_else(ovf)?;
        let stage = if out_blocked {
            0
        } else {
            nkb.checked_mul(stage_cb).ok_or_else(ovf)?
        };
        let slot = u_t
            .checked_add(m_t)
            .and_then(|v| v.checked_mul(16))
            .and_then(|v| v.checked_add(stage))
            .ok_or_else(ovf)?;
        Ok(Self {
            ncb,
            nkb,
            nty,
            ntx,
            rows,
            run,
            units_per_image: nty.div_ceil(rows),
            u_t,
            m_t,
            stage_cb,
            slot,
        })
    }
}

/// The workspace's slots of the threads (one [`Units::slot`] each, or `RowUnits::slot`
/// along a row), shared by the workers.
#[derive(Clone, Copy)]
pub(super) struct Slots(pub(super) *mut f32);

// SAFETY: each worker writes only its own slot (its rayon index), and the buffer outlives
// the parallel region.
unsafe impl Send for Slots {}
// SAFETY: as above.
unsafe impl Sync for Slots {}

impl Slots {
    /// The base pointer (a method, so closures capture the whole `Sync` value).
    fn p(self) -> *mut f32 {
        self.0
    }

    /// Runs `f` on this thread's slot of `slot` floats: slot 0 when the units run one
    /// after the other on the caller (`sequential`), else the worker's index in the pool of
    /// `count` threads (each worker runs one unit at a time); a buffer of its own in the
    /// case rayon does not name a worker of the pool.
    ///
    /// # Safety
    /// The workspace's Winograd buffer holds `count` slots of `slot` floats, and each
    /// worker uses only its own while `f` runs.
    pub(super) unsafe fn with<R>(
        self,
        sequential: bool,
        count: usize,
        slot: usize,
        f: impl FnOnce(&mut [f32]) -> R,
    ) -> R {
        let index = if sequential {
            Some(0)
        } else {
            rayon::current_thread_index().filter(|&i| i < count)
        };
        match index {
            // SAFETY: slot `i < count` of the buffer (caller), only this thread's.
            Some(i) => f(unsafe { core::slice::from_raw_parts_mut(self.p().add(i * slot), slot) }),
            None => f(&mut vec![0.0; slot]),
        }
    }
}

/// Runs the layer: `direct` are its direct passes and weights (for tiles that are not
/// finite), `wn` its Winograd filters, `scratch` the workspace's slots (one per thread, as
/// [`Units`] sizes them for this run).
pub(super) fn wino2d<I: Isa>(
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
    let Ok(units) = Units::new(d, g, batch, count, y.blocked) else {
        // The scratch was sized by the same computation, which succeeded; unreachable,
        // but the direct tiles give the same outputs.
        super::dense_blocked::dense::<I>(plan, direct.0, direct.1, r);
        return;
    };
    let Units {
        ncb,
        nkb,
        nty,
        ntx,
        rows,
        run,
        units_per_image,
        u_t,
        m_t,
        stage_cb,
        slot,
    } = units;
    let xs = x.strides();
    let ys = y.strides();
    let n_units = batch * units_per_image;
    let sequential = n_units <= 1 || count <= 1;
    let slots = Slots(scratch);
    let work = |unit: usize| {
        let (n, ua) = (unit / units_per_image, unit % units_per_image);
        let (tya, tyb) = (ua * rows, ((ua + 1) * rows).min(nty));
        let n_tiles_unit = (tyb - tya) * ntx;
        let ximg = x.p().cast_const().wrapping_add(n * xs.img);
        let yimg = y.p().wrapping_add(n * ys.img);
        let body = |buf: &mut [f32]| {
            let (u, rest) = buf.split_at_mut(16 * u_t);
            let (m, st) = rest.split_at_mut(16 * m_t);
            // Tile `i` of the unit: its staged row pair, first output row and column.
            let tile = |i: usize| {
                let (ry, tx) = (i / ntx, i % ntx);
                (ry, tile_origin(tya + ry, g.dh, 2), tile_origin(tx, g.dw, 2))
            };
            // Pixels whose output transform was not finite, recomputed once the rows are out.
            let mut bad: Vec<(usize, usize)> = Vec::new();
            let mut ia = 0;
            while ia < n_tiles_unit {
                let ib = (ia + run).min(n_tiles_unit);
                let at = |j: usize| {
                    let (_, y0, x0) = tile(ia + j);
                    (y0, x0)
                };
                transform_in::<I>(&TileRun {
                    g,
                    at: &at,
                    nt: ib - ia,
                    ximg,
                    x_cb: xs.cb,
                    x_row: xs.row,
                    ncb,
                    u: u.as_mut_ptr(),
                    u_t,
                    run,
                });
                products::<I>(wn, u, m, u_t, m_t, run, ib - ia);
                for j in 0..ib - ia {
                    let (ry, y0, x0) = tile(ia + j);
                    let px = |r: usize, c: usize| {
                        let (oy, ox) = (y0 + r * g.dh, x0 + c * g.dw);
                        (oy < g.oh && ox < g.ow).then_some((2 * ry + r, oy, ox))
                    };
                    // Where each output goes: the output's block plane, or the staged rows.
                    let off: [usize; 4] = core::array::from_fn(|i| {
                        px(i / 2, i % 2).map_or(OUTSIDE, |(sr, oy, ox)| {
                            if y.blocked {
                                oy * ys.row + ox * LANES
                            } else {
                                (sr * g.ow + ox) * LANES
                            }
                        })
                    });
                    let (dst, y_cb) = if y.blocked {
                        (yimg, ys.cb)
                    } else {
                        (st.as_mut_ptr(), stage_cb)
                    };
                    let t = Wino2Out {
                        patch: Patch::Square,
                        m: m.as_ptr().wrapping_add(j * LANES),
                        m_t,
                        m_cb: run * LANES,
                        nkb,
                        bias: plan.bias16.as_ptr(),
                        act: d.activation,
                        y: dst,
                        off,
                        y_cb,
                    };
                    // SAFETY: `M` holds vector `j` of every block and position; `bias16` holds
                    // `nkb × 16` biases; every offset not outside is a pixel of the output
                    // image's blocked planes, which only this unit writes, or of the staged
                    // rows (`2·rows × ow` pixels a block); `I` is available.
                    if unsafe { I::wino2_out(&t) } {
                        bad.extend(
                            (0..4)
                                .filter_map(|i| px(i / 2, i % 2))
                                .map(|(_, oy, ox)| (oy, ox)),
                        );
                    }
                    // A row of tiles out: its two staged rows go to the planes while they are
                    // in the L1 cache (after the whole unit, the run's products had pushed them
                    // out to memory).
                    if !y.blocked && (ia + j + 1) % ntx == 0 {
                        for r in 0..2 {
                            let sr = 2 * ry + r;
                            let oy = y0 + r * g.dh;
                            if oy < g.oh {
                                let row = st.as_ptr().wrapping_add(sr * g.ow * LANES);
                                // SAFETY: staged row `sr` of every block, written above for
                                // every pixel of the row (the tiles of a row cover its
                                // columns); output row `oy` of image `n`'s real channels, this
                                // unit's; `I` is available.
                                unsafe {
                                    unstage::<I>(
                                        row,
                                        stage_cb,
                                        nkb,
                                        g.ow,
                                        d.out_channels,
                                        yimg,
                                        ys.c,
                                        oy * ys.row,
                                    )
                                };
                            }
                        }
                    }
                }
                ia = ib;
            }
            redo::<I>(plan, direct, &r, n, &bad);
        };
        // SAFETY: the workspace's Winograd buffer holds `count` slots of `slot` floats
        // (`scratch_needs`, from the same `Units`); each worker runs one unit at a time.
        unsafe { slots.with(sequential, count, slot, body) };
    };
    threads.run(n_units, &work);
}

/// Recomputes the outputs `bad` (row, column) of image `n` on the direct tiles, after
/// their unit wrote them from transforms that were not finite.
pub(super) fn redo<I: Isa>(
    plan: &ConvPlan,
    direct: (&[Pass], &[f32]),
    r: &Run<'_>,
    n: usize,
    bad: &[(usize, usize)],
) {
    let g = r.g;
    for &(oy, ox) in bad {
        for pass in direct.0 {
            let ky = taps(oy, 1, g.dh, g.pt, g.kh, g.ih);
            let kx = taps(ox, 1, g.dw, g.pl, g.kw, g.iw);
            let t = direct_tile(plan, pass, direct.1, r, n, (oy, ox), ky, kx);
            // SAFETY: the taps are the valid ones for the pixel (`taps`), so every input
            // read is inside image `n`; the direct packed weights and biases cover the
            // pass; the output pixel is the caller's unit's; `I` is available.
            unsafe { I::dense(1, pass.nob, &t) };
        }
    }
}

/// One run of a unit's tiles, for the input transform.
struct TileRun<'a> {
    g: &'a Geom,
    /// The first output row and column of the run's tile `j`.
    at: &'a dyn Fn(usize) -> (usize, usize),
    nt: usize,
    ximg: *const f32,
    x_cb: usize,
    x_row: usize,
    ncb: usize,
    u: *mut f32,
    u_t: usize,
    run: usize,
}

/// The input transform of every tile of the run into `U`.
fn transform_in<I: Isa>(t: &TileRun<'_>) {
    let g = t.g;
    for j in 0..t.nt {
        let (y0, x0) = (t.at)(j);
        // The input rows and columns of the patch (offsets in a block plane), or outside.
        let rows: [Option<usize>; 4] = core::array::from_fn(|a| {
            let iy = (y0 + a * g.dh) as isize - g.pt as isize;
            (iy >= 0 && (iy as usize) < g.ih).then(|| iy as usize * t.x_row)
        });
        let cols: [Option<usize>; 4] = core::array::from_fn(|b| {
            let ix = (x0 + b * g.dw) as isize - g.pl as isize;
            (ix >= 0 && (ix as usize) < g.iw).then(|| ix as usize * LANES)
        });
        let off: [usize; 16] = core::array::from_fn(|i| match (rows[i / 4], cols[i % 4]) {
            (Some(r), Some(c)) => r + c,
            _ => OUTSIDE,
        });
        let w = Wino2In {
            patch: Patch::Square,
            x: t.ximg,
            x_cb: t.x_cb,
            ncb: t.ncb,
            off,
            u: t.u.wrapping_add(j * LANES),
            u_t: t.u_t,
            u_cb: t.run * LANES,
        };
        // SAFETY: every offset not outside is a pixel of the image (checked above), whose
        // `ncb` blocks the channel-blocked input holds; the destinations are vector
        // `j < run` of each block and position of `U`; `I` was checked available when the
        // network was built.
        unsafe { I::wino2_in(&w) };
    }
}

/// The products `M_t = U_t · V_t` (one per position of the patch) over the run's `nt`
/// tiles, each a 1 × 1 layer on the channel-blocked dense tiles.
pub(super) fn products<I: Isa>(
    wn: &Wino2,
    u: &[f32],
    m: &mut [f32],
    u_t: usize,
    m_t: usize,
    run: usize,
    nt: usize,
) {
    static ZEROS: [f32; 2 * LANES] = [0.0; 2 * LANES];
    let mut sums = [0.0f32; SUB_W * 2 * LANES];
    for tt in 0..wn.patch.positions() {
        let ut = u[tt * u_t..].as_ptr();
        let mt = m[tt * m_t..].as_mut_ptr();
        let wt = wn.w[tt * wn.per_t..].as_ptr();
        for pass in &wn.passes {
            let chunked = chunk_end(pass, 1, 0) < pass.segs.len();
            let chains = if chunked { 0 } else { 4 / pass.nob };
            let sizes = if pass.nob == 2 { I::TILES2 } else { I::TILES1 };
            let mut c0 = 0;
            while c0 < pass.segs.len() {
                let c1 = chunk_end(pass, 1, c0);
                even_tiles(nt, sizes, chains, |ox0, r| {
                    let part = if chunked {
                        Chunk {
                            sums: sums.as_mut_ptr().wrapping_add(ox0 * pass.nob * LANES),
                            first: c0 == 0,
                            last: c1 == pass.segs.len(),
                        }
                    } else {
                        Chunk::WHOLE
                    };
                    let t = DenseTile {
                        x: ut,
                        x_cb: run * LANES,
                        x_c: 1,
                        x_row: 0,
                        x_px: LANES,
                        segs: &pass.segs[c0..c1],
                        w: wt,
                        kw: 1,
                        ky: (0, 1),
                        kx: (0, 1),
                        iy0: 0,
                        ix0: ox0 as isize,
                        dh: 1,
                        dw: 1,
                        pstep: LANES,
                        bias: ZEROS.as_ptr(),
                        act: Activation::Identity,
                        masks: pass.masks,
                        out: Out {
                            ptr: mt.wrapping_add(pass.ob0 * run * LANES + ox0 * LANES),
                            blocked: true,
                            cb: run * LANES,
                            c: 1,
                        },
                        part,
                    };
                    // SAFETY: the tile reads pixels `ox0 .. ox0 + r ≤ nt` of the segments'
                    // blocks of `U_t` and writes them in `M_t` (`run` pixels a block, the
                    // blocks inside `u` and `m`); the packed weights of position `tt`
                    // cover the pass; the zero biases are `2 × 16`; a chunked tile's
                    // running sums (`r` pixels from `ox0`, `ox0 + r ≤ nt ≤ SUB_W`) lie
                    // inside `sums`; `I` is available.
                    unsafe { I::dense(r, pass.nob, &t) };
                });
                c0 = c1;
            }
        }
    }
}

/// Cuts `nt` pixels into tiles of the family's widths: with every width from the widest
/// down to 1 compiled (AVX-512), as few tiles as the widest allows, of widths differing by
/// at most one (32 pixels: 11, 11, 10, not 14, 14, 4, whose narrow tile runs its few
/// accumulators at a fraction of the speed); otherwise as [`tiles`] does.
fn even_tiles(nt: usize, sizes: &[usize], chains: usize, mut f: impl FnMut(usize, usize)) {
    let every = sizes.len() == sizes[0] && sizes.iter().rev().copied().eq(1..=sizes[0]);
    if !every || nt == 0 {
        return tiles(0, nt, sizes, chains, f);
    }
    let k = nt.div_ceil(sizes[0]);
    let (base, extra) = (nt / k, nt % k);
    let mut o = 0;
    for i in 0..k {
        let r = base + usize::from(i < extra);
        f(o, r);
        o += r;
    }
}

/// Row `row` (`ow` pixels, channel-blocked, blocks `s_cb` apart) into an NCHW output
/// row: each run of 16 pixels of a full block through a register transpose straight into
/// the 16 channels' rows, the rest (and a last block of fewer channels) element by
/// element.
///
/// # Safety
/// `row` holds `nkb` blocks of `ow` pixels; `y + c·y_c + at .. + ow` is writable for
/// every real channel `c`; the CPU supports `I`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn unstage<I: Isa>(
    row: *const f32,
    s_cb: usize,
    nkb: usize,
    ow: usize,
    cout: usize,
    y: *mut f32,
    y_c: usize,
    at: usize,
) {
    for kb in 0..nkb {
        let src = row.wrapping_add(kb * s_cb);
        let nc = cout.saturating_sub(kb * LANES).min(LANES);
        let dst = y.wrapping_add(kb * LANES * y_c + at);
        let mut p0 = 0;
        if nc == LANES {
            while p0 + LANES <= ow {
                // SAFETY: 16 pixels of 16 channels from `src` (16 floats apart); pixels
                // `p0 .. p0 + 16 ≤ ow` of the 16 channels' rows (caller).
                unsafe { I::transpose16(src.add(p0 * LANES), LANES, dst.add(p0), y_c) };
                p0 += LANES;
            }
        }
        for p in p0..ow {
            for c in 0..nc {
                // SAFETY: pixel `p < ow` of real channel `kb·16 + c` (caller).
                unsafe { *dst.add(c * y_c + p) = *src.add(p * LANES + c) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_taps_counts_as_one_output_at_a_time() {
        for (k, d, p, len) in [
            (3, 1, 1, 10),
            (3, 8, 16, 100),
            (2, 16, 16, 20),
            (3, 5, 0, 3),
        ] {
            for n in 0..len + 2 * p {
                let brute: usize = (0..n)
                    .map(|o| {
                        let (a, b) = taps(o, 1, d, p, k, len);
                        b - a
                    })
                    .sum();
                assert_eq!(
                    valid_taps(n, d, p, k, len),
                    brute as f64,
                    "{k} {d} {p} {len} {n}"
                );
            }
        }
    }

    #[test]
    fn tiles_cover_every_output_once() {
        for n in 1..40 {
            for d in 1..12 {
                let mut seen = vec![0; n];
                for k in 0..n_tiles(n, d, 2) {
                    let o = tile_origin(k, d, 2);
                    assert!(o < n && (o / d).is_multiple_of(2), "n {n} d {d} k {k}");
                    seen[o] += 1;
                    if o + d < n {
                        seen[o + d] += 1;
                    }
                }
                assert!(seen.iter().all(|&s| s == 1), "n {n} d {d}: {seen:?}");
            }
        }
    }
}

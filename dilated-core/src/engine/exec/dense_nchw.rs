//! The dense driver on the NCHW tiles ([`crate::engine::nchw`]): NCHW in and out, output
//! rows cut into column chunks whose input stays in L1 while every block of output
//! channels reads it. The Winograd drivers ([`super::winograd`]) fall back to these rows.

use super::geom::{Geom, Run};
use super::split::{Units, split};
use crate::engine::isa::NchwIsa;
use crate::engine::kernels::taps;
use crate::engine::nchw::{Block, MAXK, NchwTile, PC, S2_FLOATS, S2Split};
use crate::engine::plan::ConvPlan;
use crate::engine::simd::LANES;

/// Input floats a column chunk of the NCHW kernels spans (all input channels of a group,
/// the kernel rows one output row reads): about half of a 32 KB L1, so the chunk stays
/// cached while every block of output channels reads it.
const NCHW_CHUNK: usize = 4096;

/// Vectors per work unit on long rows with several threads (128 pixels): small units keep
/// the threads' finishing times close.
pub(super) const UNIT_VECTORS: usize = 8;

/// What the NCHW dense drivers share for one layer: its run and its packed weights.
pub(super) struct NchwCtx<'a> {
    pub(super) r: Run<'a>,
    pub(super) plan: &'a ConvPlan,
    pub(super) blocks: &'a [Block],
    pub(super) w: &'a [f32],
    /// Output channels per tile (a block's last tile may take fewer: [`Self::chans`]), and
    /// the tile widths in vectors, widest first ([`NchwIsa::nchw_shape`]).
    pub(super) c: usize,
    pub(super) rs: &'static [usize],
    /// At stride 2 across, the split the tiles read ([`S2Split`]; the plan holds one for
    /// every stride-2 layer it sends here).
    pub(super) s2: Option<&'a S2Split>,
}

impl NchwCtx<'_> {
    /// The channel tiles of block `b`: `(first channel, channels per tile)`, `self.c`
    /// channels while they fit the block's [`PC`] packed lanes, then the rest of them
    /// (AVX2's 6-channel tile ends a block of 16 on a 4-channel one), so that no tile
    /// reads weights or biases past its block's lanes.
    pub(super) fn chans(&self, b: &Block) -> impl Iterator<Item = (usize, usize)> {
        chan_tiles(self.c, b.n)
    }

    /// The direct tile of output row `oy` of image `n`, channels `c..` of block `b`, `wc`
    /// channels a tile ([`Self::chans`]).
    pub(super) fn tile(&self, n: usize, oy: usize, b: &Block, (c, wc): (usize, usize)) -> NchwTile {
        let Run { d, g, x, y, .. } = self.r;
        let (plane, oplane) = (g.ih * g.iw, g.oh * g.ow);
        let ximg = x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let yimg = y.p().wrapping_add(n * d.out_channels * oplane);
        let (iy0, _) = g.origin(oy, 0);
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
            sw: g.sw,
            toff: [0; MAXK],
            pl: g.pl,
            bias: self.plan.bias16[b.co0 + c..].as_ptr(),
            act: d.activation,
            out: yimg.wrapping_add((b.co0 + c) * oplane + oy * g.ow),
            oplane,
            nco: (b.n - c).min(wc),
        }
    }

    /// Vectors of 16 output columns per chunk of a unit: the input rows `rows` of every
    /// input channel of a group that a chunk reads stay within [`NCHW_CHUNK`] floats.
    /// When not even one vector's input fits (many input channels), there is no L1 reuse
    /// to keep: `usize::MAX`, one chunk per unit, so that each block of output channels
    /// sweeps the unit's columns while its weights stay in L2, rather than every block's
    /// weights being read again for every vector (S2, 256 channels: 3 MiB of Winograd
    /// weights against a 2 MiB L2; see `docs/perf.md`).
    pub(super) fn chunk_vectors(&self, rows: usize, r0: usize) -> usize {
        let g = self.r.g;
        let span = (g.kw - 1) * g.dw;
        // Input columns per vector of 16 outputs.
        let cols = LANES * g.sw;
        let per = NCHW_CHUNK / (self.r.d.in_per_group() * rows).max(1);
        if per < cols + span {
            return usize::MAX;
        }
        (per.saturating_sub(span) / cols / r0 * r0).max(r0)
    }

    /// The tile widths this layer runs, widest first: one vector at stride 2 across.
    fn widths(&self) -> &'static [usize] {
        if self.r.g.sw == 2 { &[1] } else { self.rs }
    }

    /// Output row `oy` of image `n`, vectors `va..vb`, on the direct NCHW kernels: column
    /// chunks, every block of output channels per chunk, tiles of up to `rs[0]` vectors
    /// per block.
    pub(super) fn direct_row<I: NchwIsa>(&self, n: usize, oy: usize, (va, vb): (usize, usize)) {
        let g = self.r.g;
        let rs = self.widths();
        let sub = self.chunk_vectors(g.kh, rs[0]);
        let mut s = va;
        while s < vb {
            let e = s.saturating_add(sub).min(vb);
            for b in self.blocks {
                for (c, wc) in self.chans(b) {
                    let t = self.tile(n, oy, b, (c, wc));
                    walk(s, e, rs, g, |r, masked, v, n_last, tiles| {
                        // SAFETY: the valid kernel rows of output row `oy` are inside the input
                        // (`taps`); plain tiles have every tap of every lane inside the row, masked
                        // ones read only the lanes inside it; the block holds `PC` packed weights
                        // per (input channel, tap), the tile reads `wc` of them from `c` (`c + wc ≤
                        // PC`), and biases only of channels that exist; the outputs are row `oy`,
                        // columns `16·v..` up to `e` of channels `co0 + c..` of image `n`, which
                        // only this unit writes.
                        unsafe { I::nchw(wc, r, masked, &t, v * LANES, n_last, tiles) };
                    });
                }
            }
            s = e;
        }
    }

    /// Output row `oy` of image `n`, vectors `va..vb`, of a stride-2 layer: per column
    /// chunk and group, the input rows the chunk reads split by column parity into `split`
    /// ([`S2Split`], [`Self::fill_split`]), then every block of the group's output
    /// channels on the stride-2 tiles over them, unmasked.
    fn s2_row<I: NchwIsa>(
        &self,
        sp: &S2Split,
        n: usize,
        oy: usize,
        (va, vb): (usize, usize),
        split: &mut [f32; S2_FLOATS],
    ) {
        let g = self.r.g;
        // `s2_split` admitted the layer only if one vector's split rows fit.
        let Some(per) = sp.vectors(self.r.d.in_per_group() * g.kh, S2_FLOATS) else {
            return;
        };
        let mut s = va;
        while s < vb {
            let e = s.saturating_add(per).min(vb);
            let width = (e - s) * LANES + sp.spread;
            let toff = sp.toff(width);
            let full = (e * LANES).min(g.ow) / LANES;
            let mut filled = None;
            for b in self.blocks {
                if filled != Some(b.ci0) {
                    self.fill_split::<I>(sp, (n, oy), b.ci0, (s, width), split);
                    filled = Some(b.ci0);
                }
                for (c, wc) in self.chans(b) {
                    let mut t = self.tile(n, oy, b, (c, wc));
                    // Phase column `j` of kernel row `ky` of channel `ci` at
                    // `(ci·kh + ky)·2·width + j`, output column `16·s` reading `j = a − lo`.
                    t.x = split.as_ptr().wrapping_sub(s * LANES);
                    t.x_c = g.kh * 2 * width;
                    t.x_ky = 2 * width;
                    t.toff = toff;
                    let run = |v: usize, n_last: usize, tiles: usize| {
                        // SAFETY: the tile reads the valid kernel rows of the split rows of the
                        // group's channels, phase columns `16·(v − s) + a − lo + lane` < `16·(e −
                        // s) + spread` = `width` (every one written by `fill_split`, whose checked
                        // slices end inside `split`); the block holds `PC` packed weights per
                        // (input channel, tap), the tile reads `wc` of them from `c` (`c + wc ≤
                        // PC`), and biases only of channels that exist; the outputs are row `oy`,
                        // columns `16·v..` below `ow` of channels `co0 + c..` of image `n`, which
                        // only this unit writes.
                        unsafe { I::nchw(wc, 1, false, &t, v * LANES, n_last, tiles) };
                    };
                    if full > s {
                        run(s, LANES, full - s);
                    }
                    if full < e {
                        run(full, g.ow - full * LANES, 1);
                    }
                }
            }
            s = e;
        }
    }

    /// Fills `split` with the rows output row `oy` of image `n` reads from the group whose
    /// first input channel is `ci0`, for the chunk from vector `s`, `width` phase columns
    /// wide: kernel row `ky` of channel `ci` at `(ci·kh + ky)·2·width`, its even columns
    /// then its odd ones, phase column `j` holding input column `2·(16·s + lo + j)` (plus
    /// one for the odd phase), zero where that is outside the row.
    fn fill_split<I: NchwIsa>(
        &self,
        sp: &S2Split,
        (n, oy): (usize, usize),
        ci0: usize,
        (s, width): (usize, usize),
        split: &mut [f32; S2_FLOATS],
    ) {
        let Run { d, g, x, .. } = self.r;
        let plane = g.ih * g.iw;
        let ximg = x.p().cast_const().wrapping_add(n * d.in_channels * plane);
        let (ky0, ky1) = taps(oy, g.sh, g.dh, g.pt, g.kh, g.ih);
        let (iy0, _) = g.origin(oy, 0);
        // The chunk's first phase column, and the pairs of columns `[qa, qb)` of the chunk
        // wholly inside the row (the rest one column at a time).
        let q0 = (s * LANES) as isize + sp.lo;
        let qa = q0.max(0);
        let qb = (q0 + width as isize).min((g.iw / 2) as isize).max(qa);
        let (ja, pairs) = ((qa - q0) as usize, (qb - qa) as usize);
        for ci in 0..d.in_per_group() {
            for ky in ky0..ky1 {
                // Kernel row `ky` of output row `oy` is inside the input (`taps`).
                let iy = (iy0 + (ky * g.dh) as isize) as usize;
                let row = ximg.wrapping_add((ci0 + ci) * plane + iy * g.iw);
                let at = (ci * g.kh + ky) * 2 * width;
                let (even, odd) = split[at..at + 2 * width].split_at_mut(width);
                let col = |ix: isize| {
                    usize::try_from(ix)
                        .ok()
                        .filter(|&i| i < g.iw)
                        .map_or(0.0, |i| {
                            // SAFETY: column `i < iw` of row `iy < ih` of input channel
                            // `ci0 + ci` of image `n`.
                            unsafe { *row.add(i) }
                        })
                };
                for j in (0..ja).chain(ja + pairs..width) {
                    let q = q0 + j as isize;
                    even[j] = col(2 * q);
                    odd[j] = col(2 * q + 1);
                }
                if pairs > 0 {
                    // SAFETY: columns `2·qa .. iw` of the row are readable (`2·qb ≤ iw`);
                    // `pairs` floats from `ja` of each phase (`qb ≤ q0 + width`); `I` is
                    // available.
                    unsafe {
                        I::split_phases(
                            row.add(2 * qa as usize),
                            g.iw - 2 * qa as usize,
                            pairs,
                            even[ja..].as_mut_ptr(),
                            odd[ja..].as_mut_ptr(),
                        )
                    };
                }
            }
        }
    }
}

/// The channel tiles of a block of `n ≤ PC` output channels for tiles of `c` channels
/// ([`NchwCtx::chans`]).
fn chan_tiles(c: usize, n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(c.max(1)).map(move |c0| (c0, c.min(PC - c0)))
}

/// Cuts vectors `s..e` of an output row (of `g.ow` columns) into tiles and hands each run
/// to `f(r, masked, v, n_last, tiles)`: `tiles` consecutive tiles of `r` vectors from
/// vector `v`. Vectors whose taps all land inside the row (the interior, an interval) go
/// in plain tiles, the widest of `rs` (widest first, ending in 1) that fit, several per
/// call; the others one masked vector each, the row's last holding `n_last` columns. So a
/// wide tile never pays for masks its interior vectors do not need.
pub(super) fn walk(
    s: usize,
    e: usize,
    rs: &[usize],
    g: &Geom,
    mut f: impl FnMut(usize, bool, usize, usize, usize),
) {
    let plain = |v: usize| (v + 1) * LANES <= g.ow && g.interior(v * LANES);
    let mut v = s;
    while v < e {
        if !plain(v) {
            f(1, true, v, LANES.min(g.ow - v * LANES), 1);
            v += 1;
            continue;
        }
        let mut k = 1;
        while v + k < e && plain(v + k) {
            k += 1;
        }
        let end = v + k;
        for &r in rs {
            let tiles = (end - v) / r;
            if tiles > 0 {
                f(r, false, v, LANES, tiles);
                v += tiles * r;
            }
        }
    }
}

/// Splits the output of an NCHW dense layer into units: `(units, count)` over `items`
/// rows (or row pairs) of `nv` column steps each, long rows cut into steps of
/// `unit` so that several threads share them.
pub(super) fn nchw_units(
    r: &Run<'_>,
    items: usize,
    nv: usize,
    step: usize,
    unit: usize,
) -> (Units, usize) {
    let (rg, mut xchunks) = split(r.threads.count(), r.batch, items, r.g.ow, 2 * step);
    if r.threads.count() > 1 && nv > 2 * unit {
        xchunks = xchunks.max(nv / unit);
    }
    Units::new(r.batch, rg, xchunks.min(nv), items, nv)
}

/// Dense layer, NCHW in and out, on the direct NCHW kernels, row by row.
pub(super) fn dense_nchw<I: NchwIsa>(ctx: &NchwCtx<'_>) {
    let r = ctx.r;
    let nv = r.g.ow.div_ceil(LANES);
    let (units, n_units) = nchw_units(&r, r.g.oh, nv, ctx.widths()[0] * LANES, UNIT_VECTORS);
    r.threads.run(n_units, &|u| {
        let (n, (ya, yb), cols) = units.get(u);
        match ctx.s2 {
            Some(sp) => {
                let mut rows = [0.0; S2_FLOATS];
                for oy in ya..yb {
                    ctx.s2_row::<I>(sp, n, oy, cols, &mut rows);
                }
            }
            None => {
                for oy in ya..yb {
                    ctx.direct_row::<I>(n, oy, cols);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's channel tiles cover its channels once, in order, every tile inside the
    /// block's `PC` packed lanes and of a width the families compile (AVX2's 6 ends a
    /// block of 16 on 4).
    #[test]
    fn channel_tiles_cover_a_block_within_its_lanes() {
        for c in [4, 6, 8, 16] {
            for n in 1..=PC {
                let tiles: Vec<_> = chan_tiles(c, n).collect();
                let mut next = 0;
                for &(c0, wc) in &tiles {
                    assert_eq!(c0, next, "c {c} n {n}: {tiles:?}");
                    assert!(c0 + wc <= PC, "c {c} n {n}: {tiles:?}");
                    let compiled = if c == 6 {
                        [6, 4].contains(&wc)
                    } else {
                        wc == c
                    };
                    assert!(compiled, "c {c} n {n}: {tiles:?}");
                    next = c0 + wc;
                }
                assert!(next >= n && next - tiles.last().map_or(0, |t| t.1) < n);
            }
        }
    }
}

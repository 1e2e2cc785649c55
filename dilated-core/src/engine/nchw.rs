//! Dense convolution straight on NCHW data: 16 consecutive output pixels of one channel
//! per vector, `C` output channels × `R` vectors per register tile.
//!
//! A single layer (NCHW in, NCHW out) with few channels, or a long 1D signal, spends a
//! good part of its time in the channel-blocked kernels' epilogue, which scatters
//! pixel-major tiles to channel planes. Here the accumulators already hold channel
//! planes: the epilogue is one vector store per (channel, 16 pixels), and nothing is
//! transposed at all. Per input channel and tap the tile loads `R` input vectors (16
//! consecutive pixels each, the tap's offset applied) and broadcasts `C` weights, then
//! issues `R × C` FMAs. AVX-512 runs `R = 1`, `C = 16` by default: each weight is used
//! once, so the broadcast folds into the FMA's memory operand (`vfmadd231ps m32{1to16}`),
//! no separate broadcast instruction. A wider tile (`R = 3`, `C = 8`) uses each weight
//! three times but must broadcast it with an instruction of its own: slower on the Zen 4
//! and on 2D layers of the Intel Xeon measured, faster on the Xeon's direct 1D layers; the
//! shape is chosen per layer and CPU ([`super::tiles`]; the figures: `docs/perf.md`).
//!
//! Padding: a vector whose taps all land inside the input row is loaded plainly; near
//! the row ends each (vector, kernel column) gets the mask of its lanes inside the row,
//! and masked-off lanes are neither read nor multiplied, so an infinite weight never
//! meets the padding (the reference skips those taps). Kernel rows outside the input are
//! skipped for the whole tile.
//!
//! Weights are packed per group and per block of [`PC`] output channels of that group:
//! `[C_in/G][KH][KW][PC]`, zeros for the channels past the group's last.

use super::kernels::{col_mask, store_vecs};
use super::simd::{LANES, V16};
use crate::Error;
use crate::conv::Activation;
use crate::conv::Conv;

/// Output channels per packed block.
pub(crate) const PC: usize = 16;

/// One block of at most [`PC`] output channels, all in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// First output channel.
    pub(crate) co0: usize,
    /// Real output channels in the block (1..=PC).
    pub(crate) n: usize,
    /// First input channel of the block's group.
    pub(crate) ci0: usize,
    /// Offset of the block's weights in the packed array.
    pub(crate) w_off: usize,
}

/// Packs `layer`'s weights for the NCHW kernels: the blocks and their weights.
pub(crate) fn pack(layer: &Conv) -> Result<(Vec<Block>, Vec<f32>), Error> {
    let d = layer.desc();
    let cpg_out = d.out_channels / d.groups;
    let cpg_in = d.in_per_group();
    let taps = d.kernel[0] * d.kernel[1];
    let per_block = cpg_in
        .checked_mul(taps)
        .and_then(|v| v.checked_mul(PC))
        .ok_or(Error::Overflow {
            what: "packed weights",
        })?;
    let n_blocks = d
        .groups
        .checked_mul(cpg_out.div_ceil(PC))
        .ok_or(Error::Overflow {
            what: "packed weights",
        })?;
    let len = per_block.checked_mul(n_blocks).ok_or(Error::Overflow {
        what: "packed weights",
    })?;
    let mut w = vec![0.0; len];
    let mut blocks = Vec::with_capacity(n_blocks);
    let src = layer.weight();
    for g in 0..d.groups {
        for b in 0..cpg_out.div_ceil(PC) {
            let co0 = g * cpg_out + b * PC;
            let n = PC.min(cpg_out - b * PC);
            let w_off = blocks.len() * per_block;
            for c in 0..n {
                let co = co0 + c;
                for ci in 0..cpg_in {
                    for t in 0..taps {
                        w[w_off + (ci * taps + t) * PC + c] = src[(co * cpg_in + ci) * taps + t];
                    }
                }
            }
            blocks.push(Block {
                co0,
                n,
                ci0: g * cpg_in,
                w_off,
            });
        }
    }
    Ok((blocks, w))
}

/// Arguments of one NCHW dense tile: output row `oy` of channels `co..co + C`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NchwTile {
    /// Where input column 0 of kernel row 0 of the group's first channel would be: the
    /// tile reads `x + ci·x_c + ky·x_ky + column` (a pointer built with `wrapping_*`;
    /// only the valid rows and the columns inside the row are read).
    pub(crate) x: *const f32,
    /// Distance between input channels and between consecutive kernel rows.
    pub(crate) x_c: usize,
    pub(crate) x_ky: usize,
    /// Input width (the columns that exist).
    pub(crate) iw: usize,
    /// Input channels of the group.
    pub(crate) nci: usize,
    /// The block's packed weights, offset to the tile's first channel.
    pub(crate) w: *const f32,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    /// Valid kernel rows for this output row.
    pub(crate) ky: (usize, usize),
    pub(crate) dw: usize,
    /// Stride across: 1, or 2 ([`nchw_one`] with `S2`: `x` is then a row's input split
    /// into its even and odd columns, [`S2Split`], and `toff` the taps' offsets there).
    pub(crate) sw: usize,
    /// At stride 2 across, the offset of kernel column `kx`'s input for output column 0
    /// from `x + ci·x_c + ky·x_ky` (wrapping); unused at stride 1.
    pub(crate) toff: [usize; MAXK],
    /// Left padding.
    pub(crate) pl: usize,
    /// Biases of the tile's channels.
    pub(crate) bias: *const f32,
    pub(crate) act: Activation,
    /// Output row `oy` (column 0) of the tile's first channel, and the output plane size.
    pub(crate) out: *mut f32,
    pub(crate) oplane: usize,
    /// Channels of the tile that exist (the others are computed and dropped).
    pub(crate) nco: usize,
}

/// Masks up to this many kernel columns once per tile; wider kernels compute them per tap.
/// Also the widest kernel the stride-2 tiles run ([`S2Split`]).
pub(crate) const MAXK: usize = 8;

/// How a stride-2 layer's tiles read a row split by column parity: kernel column `kx`
/// reads input column `2·ox + o` (`o = kx·d_w − p_l`), phase `o mod 2`, phase column
/// `ox + ⌊o / 2⌋`. A split row holds, per input channel and kernel row, the even columns
/// then the odd ones, each `width` phase columns from `ox_0 + lo` for the outputs from
/// `ox_0` ([`S2Split::toff`]), zeros where the input has none: every tap of 16
/// consecutive outputs is then 16 consecutive floats, no permute and no mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct S2Split {
    /// Each kernel column's phase and phase column offset `⌊o / 2⌋`.
    taps: [(usize, isize); MAXK],
    kw: usize,
    /// The least offset, and the offsets' spread (`max − lo`).
    pub(crate) lo: isize,
    pub(crate) spread: usize,
}

impl S2Split {
    /// The split of a kernel of width `kw` at rate `dw` and left padding `pl`; `None` for
    /// kernels wider than [`MAXK`] (or a size past `isize`).
    pub(crate) fn new(kw: usize, dw: usize, pl: usize) -> Option<Self> {
        if kw == 0 || kw > MAXK {
            return None;
        }
        let mut taps = [(0, 0); MAXK];
        for (kx, t) in taps.iter_mut().enumerate().take(kw) {
            let o = isize::try_from(kx.checked_mul(dw)?)
                .ok()?
                .checked_sub(isize::try_from(pl).ok()?)?;
            *t = (o.rem_euclid(2) as usize, o.div_euclid(2));
        }
        let lo = taps[..kw].iter().map(|t| t.1).min()?;
        let hi = taps[..kw].iter().map(|t| t.1).max()?;
        Some(Self {
            taps,
            kw,
            lo,
            spread: (hi - lo) as usize,
        })
    }

    /// The most vectors of 16 outputs whose split rows of `rows` (input channels × kernel
    /// rows) fit in `cap` floats; `None` if not even one vector's do.
    pub(crate) fn vectors(&self, rows: usize, cap: usize) -> Option<usize> {
        let per_column = rows.checked_mul(2)?;
        let columns = cap / per_column.max(1);
        let v = columns.checked_sub(self.spread)? / LANES;
        (v > 0).then_some(v)
    }

    /// The tiles' [`NchwTile::toff`] for split rows of `width` phase columns: kernel column
    /// `kx` of output column `ox_0 + j` at `phase·width + offset − lo + j`.
    pub(crate) fn toff(&self, width: usize) -> [usize; MAXK] {
        let mut t = [0; MAXK];
        for (o, &(phase, a)) in t.iter_mut().zip(&self.taps).take(self.kw) {
            *o = phase * width + (a - self.lo) as usize;
        }
        t
    }
}

/// Floats of the split rows one unit of a stride-2 layer's rows holds at most: a column
/// chunk's input, about half of a 32 KB L1 cache (as the stride-1 chunks), on the stack.
pub(crate) const S2_FLOATS: usize = 4096;

/// The split of a stride-2 dense layer on the NCHW tiles, if its kernel is at most
/// [`MAXK`] wide, the split rows of one vector fit [`S2_FLOATS`] (every input channel of
/// a group times the kernel rows) and its weights are finite (the tiles multiply the
/// padding's zeros, which the reference skips: an infinite weight would make a NaN
/// there): the layers the NCHW tiles run at stride 2.
pub(crate) fn s2_split(layer: &Conv) -> Option<S2Split> {
    let d = layer.desc();
    let sp = S2Split::new(d.kernel[1], d.dilation[1], d.padding[1][0])?;
    let rows = d.in_per_group().checked_mul(d.kernel[0])?;
    (d.stride[1] == 2
        && sp.vectors(rows, S2_FLOATS).is_some()
        && layer.weight().iter().all(|w| w.is_finite()))
    .then_some(sp)
}

/// Splits `pairs` pairs of columns from `src` into `even` (columns 0, 2, …) and `odd` (1,
/// 3, …), 16 pairs a step while the 33 columns a step reads (the odd ones loaded one
/// column on) are among the `avail ≥ 2·pairs` readable from `src`, the rest one by one.
///
/// # Safety
/// `avail` floats from `src` are readable, `pairs` floats at `even` and at `odd` writable;
/// the CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn split_row<V: V16>(
    src: *const f32,
    avail: usize,
    pairs: usize,
    even: *mut f32,
    odd: *mut f32,
) {
    let mut k = 0;
    while k + LANES <= pairs && 2 * k + 2 * LANES < avail {
        // SAFETY: columns `2k .. 2k + 33 ≤ avail` read, `k .. k + 16 ≤ pairs` written (the
        // loop's bounds); register permutes.
        unsafe {
            let p = src.add(2 * k);
            let e = V::load(p).evens(V::load(p.add(LANES)), false);
            let o = V::load(p.add(1)).evens(V::load(p.add(LANES + 1)), false);
            e.store(even.add(k));
            o.store(odd.add(k));
        }
        k += LANES;
    }
    while k < pairs {
        // SAFETY: `2k + 1 < 2·pairs ≤ avail`, `k < pairs`.
        unsafe {
            *even.add(k) = *src.add(2 * k);
            *odd.add(k) = *src.add(2 * k + 1);
        }
        k += 1;
    }
}

/// `tiles` consecutive tiles of `R` vectors of 16 output pixels from `ox0` (the last
/// vector holding `n_last` pixels; `n_last < 16` only with one tile) × `C` output
/// channels, looped inside the instruction-set entry point so that a run of interior
/// tiles costs one call. `MASKED = false` only where every lane of every vector has all
/// its taps inside the input row and `n_last = 16`. `S2`: stride 2 across (`t.sw = 2`),
/// never masked: the tile reads a row's columns split by parity ([`S2Split`]), where the
/// 16 outputs of a vector read 16 consecutive inputs of one phase for every tap (at
/// `t.toff`), every one inside the split rows, padding included (so `n_last < 16` there
/// too).
///
/// # Safety
/// The valid kernel rows, the input planes of the group, `C` packed weights per (input
/// channel, tap) and `C` biases must be in bounds, the tile's outputs inside the output
/// row, and the CPU must support `V`.
#[inline(always)]
pub(crate) unsafe fn nchw_tile<
    V: V16,
    const R: usize,
    const C: usize,
    const MASKED: bool,
    const KW: usize,
    const S2: bool,
>(
    t: &NchwTile,
    ox0: usize,
    n_last: usize,
    tiles: usize,
) {
    for j in 0..tiles {
        // SAFETY: the caller's contract covers `tiles` consecutive tiles from `ox0` (only
        // the last one may be short, and only when `tiles = 1`).
        unsafe { nchw_one::<V, R, C, MASKED, KW, S2>(t, ox0 + j * R * LANES, n_last) };
    }
}

/// One tile of [`nchw_tile`].
///
/// # Safety
/// As [`nchw_tile`] for one tile.
#[inline(always)]
pub(crate) unsafe fn nchw_one<
    V: V16,
    const R: usize,
    const C: usize,
    const MASKED: bool,
    const KW: usize,
    const S2: bool,
>(
    t: &NchwTile,
    ox0: usize,
    n_last: usize,
) {
    // A kernel width known at compile time (3, the common case) unrolls the column loop.
    let kw = if KW == 0 { t.kw } else { KW };
    debug_assert!(
        !(S2 && MASKED),
        "stride-2 tiles read padded phases, unmasked"
    );
    let mut pre = [[u16::MAX; R]; MAXK];
    if MASKED {
        for (kx, m) in pre.iter_mut().enumerate().take(t.kw) {
            *m = col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw);
        }
    }
    // SAFETY: register initialisation.
    let mut acc = [[unsafe { V::zero() }; R]; C];
    for ci in 0..t.nci {
        let xc = t.x.wrapping_add(ci * t.x_c);
        for ky in t.ky.0..t.ky.1 {
            let xrow = xc.wrapping_add(ky * t.x_ky);
            let wrow = t.w.wrapping_add((ci * t.kh + ky) * kw * PC);
            for kx in 0..kw {
                let xp = if S2 {
                    xrow.wrapping_add(ox0).wrapping_add(t.toff[kx])
                } else {
                    xrow.wrapping_add(ox0 + kx * t.dw).wrapping_sub(t.pl)
                };
                let wp = wrow.wrapping_add(kx * PC);
                let m = if !MASKED {
                    [u16::MAX; R]
                } else {
                    pre.get(kx)
                        .copied()
                        .unwrap_or_else(|| col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw))
                };
                // SAFETY: zero-initialised, then filled below.
                let mut xv = [unsafe { V::zero() }; R];
                for (r, v) in xv.iter_mut().enumerate() {
                    let p = xp.wrapping_add(r * LANES);
                    // SAFETY: unmasked, every lane's tap is inside the row, or inside the
                    // split phases at stride 2 (caller); masked, only the lanes inside the
                    // row are read.
                    *v = unsafe {
                        if MASKED {
                            V::load_mask(p, m[r])
                        } else {
                            V::load(p)
                        }
                    };
                }
                for (c, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `C` packed weights per input channel and tap.
                    let wb = unsafe { V::splat(*wp.add(c)) };
                    for (r, (a, x)) in a.iter_mut().zip(&xv).enumerate() {
                        // SAFETY: register arithmetic only.
                        *a = unsafe {
                            if MASKED {
                                x.fma_mask(wb, *a, m[r])
                            } else {
                                x.fma(wb, *a)
                            }
                        };
                    }
                }
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        if c < t.nco {
            // SAFETY: channel `c` exists and its `16·(R − 1) + n_last` outputs from `ox0` are
            // inside the output row (caller); `C` biases.
            unsafe {
                store_vecs(
                    a,
                    *t.bias.add(c),
                    t.act,
                    t.out.wrapping_add(c * t.oplane + ox0),
                    n_last,
                    false,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tap of a stride-2 tile, read through the split rows, is the input column the
    /// strided sum reads (or a zero outside the row): over kernels, rates, paddings and
    /// row widths, the split rows filled as the driver fills them.
    #[test]
    fn split_rows_hold_every_tap_of_a_stride_two_tile() {
        for kw in 1..=MAXK {
            for dw in [1, 2, 3, 5] {
                for pl in 0..6 {
                    let sp = S2Split::new(kw, dw, pl).expect("kernel within MAXK");
                    for iw in [1usize, 2, 17, 40, 67] {
                        let x: Vec<f32> = (0..iw).map(|i| i as f32 + 1.0).collect();
                        let ow = iw.div_ceil(2);
                        let vectors = ow.div_ceil(LANES);
                        let width = vectors * LANES + sp.spread;
                        // One row, phase column `q = lo + j` at `j`.
                        let mut split = vec![f32::NAN; 2 * width];
                        for phase in 0..2 {
                            for j in 0..width {
                                let ix = 2 * (sp.lo + j as isize) + phase as isize;
                                split[phase * width + j] = usize::try_from(ix)
                                    .ok()
                                    .and_then(|i| x.get(i))
                                    .map_or(0.0, |&v| v);
                            }
                        }
                        let toff = sp.toff(width);
                        for ox in 0..vectors * LANES {
                            for kx in 0..kw {
                                let ix = (2 * ox + kx * dw) as isize - pl as isize;
                                let want = usize::try_from(ix)
                                    .ok()
                                    .and_then(|i| x.get(i))
                                    .map_or(0.0, |&v| v);
                                assert_eq!(
                                    split[toff[kx] + ox],
                                    want,
                                    "kw {kw} dw {dw} pl {pl} iw {iw} ox {ox} kx {kx}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// `vectors` is the largest count whose split rows fit the buffer and `None` exactly when one vector's do not.
    #[test]
    fn vectors_is_the_most_that_fit() {
        for (kw, dw) in [(1, 1), (3, 1), (3, 2), (7, 1), (8, 5)] {
            let sp = S2Split::new(kw, dw, kw / 2).expect("kernel within MAXK");
            for rows in [1, 3, 9, 21, 64, 127, 200] {
                for cap in [0, 17, 100, 1000, S2_FLOATS] {
                    // Split rows of `v` vectors: `rows` × two phases × `16·v + spread`.
                    let fits = |v: usize| 2 * rows * (v * LANES + sp.spread) <= cap;
                    match sp.vectors(rows, cap) {
                        Some(v) => assert!(v >= 1 && fits(v) && !fits(v + 1), "{rows} {cap}"),
                        None => assert!(!fits(1), "kw {kw} dw {dw} rows {rows} cap {cap}"),
                    }
                }
            }
        }
    }

    /// The vector split against the columns one by one, at every length around the step.
    #[test]
    fn split_row_matches_the_scalar_split() {
        let x: Vec<f32> = (0..200).map(|i| i as f32 * 0.5 - 7.0).collect();
        for pairs in 0..90 {
            for avail in [2 * pairs, 2 * pairs + 1, 2 * pairs + 5] {
                let (mut e, mut o) = (vec![0.0; pairs], vec![0.0; pairs]);
                // SAFETY: `avail ≤ 185 < 200` floats readable; `pairs` writable each; the
                // portable family runs everywhere.
                unsafe {
                    split_row::<[f32; 16]>(x.as_ptr(), avail, pairs, e.as_mut_ptr(), o.as_mut_ptr())
                };
                for k in 0..pairs {
                    assert_eq!(
                        (e[k], o[k]),
                        (x[2 * k], x[2 * k + 1]),
                        "pairs {pairs} k {k}"
                    );
                }
            }
        }
    }
}

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
use super::simd::{LANES, V16, lane_bits};
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
    /// Stride across: 1, or 2 (the tiles of one vector: [`nchw_one`] with `S2`).
    pub(crate) sw: usize,
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
const MAXK: usize = 8;

/// `tiles` consecutive tiles of `R` vectors of 16 output pixels from `ox0` (the last
/// vector holding `n_last` pixels; `n_last < 16` only with one tile) × `C` output
/// channels, looped inside the instruction-set entry point so that a run of interior
/// tiles costs one call. `MASKED = false` only where every lane of every vector has all
/// its taps inside the input row and `n_last = 16`. `S2`: stride 2 across (`t.sw = 2`),
/// only with `R = 1`; a tap then loads two vectors from its first lane's column and keeps
/// the 16 columns the lanes read (in a plain tile the second vector starts at column 15,
/// so it ends on the last lane's).
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

/// At stride 2 across, for the 16 output columns from `ox0` and kernel column `kx`: the
/// lanes whose tap lands inside an input row of `iw` columns (the FMA's mask), and the
/// lanes of the two 16-float loads from the first tap's column that lie inside the row
/// (the masks of [`col_mask`] for the 32 columns from input column `2·ox0`). Output lane
/// `j` reads loaded lane `2j`: its mask bit is that lane's.
#[inline(always)]
pub(crate) fn col_mask_s2(
    ox0: usize,
    kx: usize,
    dw: usize,
    pl: usize,
    iw: usize,
) -> (u16, [u16; 2]) {
    let loads = col_mask::<2>(2 * ox0, kx, dw, pl, iw);
    // Loaded lanes `lo..hi` of the 32 are inside the row: output lanes `j` with `2j` there.
    let ix = (2 * ox0 + kx * dw) as isize - pl as isize;
    let lo = (-ix).clamp(0, 2 * LANES as isize) as usize;
    let hi = (iw as isize - ix).clamp(0, 2 * LANES as isize) as usize;
    let (a, b) = (lo.div_ceil(2), hi.div_ceil(2));
    let fma = if a < b { lane_bits(a, b) } else { 0 };
    (fma, loads)
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
    // Stride 2 across (`S2`, one vector): the 16 outputs read the even lanes of 32 input
    // columns, two loads and a permute per tap.
    let sw = if S2 { 2 } else { 1 };
    debug_assert!(!S2 || R == 1, "stride 2 across runs tiles of one vector");
    let masks_for = |kx: usize| {
        if S2 {
            let (fma, _) = col_mask_s2(ox0, kx, t.dw, t.pl, t.iw);
            [fma; R]
        } else {
            col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw)
        }
    };
    let mut pre = [[u16::MAX; R]; MAXK];
    let mut pre_loads = [[u16::MAX; 2]; MAXK];
    if MASKED {
        for kx in 0..t.kw.min(MAXK) {
            if S2 {
                let (fma, loads) = col_mask_s2(ox0, kx, t.dw, t.pl, t.iw);
                pre[kx] = [fma; R];
                pre_loads[kx] = loads;
            } else {
                pre[kx] = col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw);
            }
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
                let xp = xrow.wrapping_add(sw * ox0 + kx * t.dw).wrapping_sub(t.pl);
                let wp = wrow.wrapping_add(kx * PC);
                let m = if !MASKED {
                    [u16::MAX; R]
                } else {
                    pre.get(kx).copied().unwrap_or_else(|| masks_for(kx))
                };
                // SAFETY: zero-initialised, then filled below.
                let mut xv = [unsafe { V::zero() }; R];
                if S2 {
                    let lm = if !MASKED {
                        [u16::MAX; 2]
                    } else {
                        pre_loads
                            .get(kx)
                            .copied()
                            .unwrap_or_else(|| col_mask_s2(ox0, kx, t.dw, t.pl, t.iw).1)
                    };
                    // Plain tiles load the second half from column 15, so that no load
                    // reaches past the last lane's tap (the right-edge tile of a row that
                    // ends there stays plain); masked ones from 16 (their masks).
                    let second = if MASKED { LANES } else { LANES - 1 };
                    let half = |h: usize| {
                        let p = xp.wrapping_add(h * second);
                        // SAFETY: unmasked, the 31 columns from the first lane's tap to
                        // the last lane's (two loads 15 apart) are inside the row (caller);
                        // masked, only the lanes inside it are read.
                        unsafe {
                            if MASKED {
                                V::load_mask(p, lm[h])
                            } else {
                                V::load(p)
                            }
                        }
                    };
                    // SAFETY: a register permute.
                    xv[0] = unsafe { half(0).evens(half(1), !MASKED) };
                } else {
                    for (r, v) in xv.iter_mut().enumerate() {
                        let p = xp.wrapping_add(r * LANES);
                        // SAFETY: unmasked, every lane's tap is inside the row (caller);
                        // masked, only the lanes inside the row are read.
                        *v = unsafe {
                            if MASKED {
                                V::load_mask(p, m[r])
                            } else {
                                V::load(p)
                            }
                        };
                    }
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

    /// The stride-2 FMA mask is the even lanes of the 32 loaded columns' masks: output lane
    /// `j` reads loaded column `2j`. Over every start, kernel column, rate, padding and row
    /// width near the vector's reach.
    #[test]
    fn stride_two_masks_take_the_even_loaded_lanes() {
        for ox0 in [0, 1, 7, 16, 33] {
            for (kx, dw) in [(0, 1), (1, 1), (2, 1), (2, 3), (4, 2)] {
                for pl in 0..6 {
                    for iw in 1..100 {
                        let (fma, loads) = col_mask_s2(ox0, kx, dw, pl, iw);
                        let both = u32::from(loads[0]) | (u32::from(loads[1]) << LANES);
                        let want = (0..LANES)
                            .filter(|j| both & (1 << (2 * j)) != 0)
                            .fold(0u16, |m, j| m | (1 << j));
                        assert_eq!(fma, want, "ox0 {ox0} kx {kx} dw {dw} pl {pl} iw {iw}");
                    }
                }
            }
        }
    }
}

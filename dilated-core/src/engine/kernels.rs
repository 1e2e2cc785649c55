//! The microkernels, written once over [`V16`] and compiled per instruction set.
//!
//! - [`dense_tile`]: a register block of `R` output pixels × `OB` blocks of 16 output
//!   channels, accumulated over every input channel and every valid tap: broadcast one input
//!   value, multiply by `OB` weight vectors, FMA. The caller hands it the taps that land
//!   inside the input (the output row is cut into segments where that set is constant), so
//!   padding costs nothing and no padded copy exists.
//! - [`dw_tile`]: depthwise on the channel-blocked layout: 16 channels per vector, `R`
//!   output pixels, one input vector load per FMA.
//! - [`pix_tile`] / [`pix_masked`]: depthwise on NCHW data, 16 consecutive output pixels
//!   per vector (no layout conversion at all); the masked variant, for tiles at the row
//!   ends, masks the lanes whose tap falls in the padding.
//!
//! Every kernel ends in the same epilogue: bias, activation (every one vectorised,
//! [`activate`]), store to the blocked layout or scattered to NCHW. The families that
//! compile these tiles, and the entry points the drivers call, are in [`super::isa`].

use super::simd::{LANES, V16, lane_bits};
use super::vmath::activate;
use crate::conv::Activation;

/// Where a tile's outputs go: `ptr` is the element of output block 0 (of the tile's
/// pass), row `oy`, pixel `ox0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub(crate) ptr: *mut f32,
    /// Blocked layout (16 channels interleaved) rather than NCHW.
    pub(crate) blocked: bool,
    /// Distance between consecutive 16-channel blocks.
    pub(crate) cb: usize,
    /// NCHW only: distance between consecutive channels (one plane).
    pub(crate) c: usize,
}

/// One block of input channels of a dense pass: lanes `lo..hi` of block `ib`, weights at
/// `w_off` in the pass's packed weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seg {
    pub(crate) ib: usize,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) w_off: usize,
}

/// Arguments of one dense tile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenseTile<'a> {
    /// The input image (one batch item).
    pub(crate) x: *const f32,
    /// Input strides: 16-channel block, channel within a block, row, pixel.
    pub(crate) x_cb: usize,
    pub(crate) x_c: usize,
    pub(crate) x_row: usize,
    pub(crate) x_px: usize,
    pub(crate) segs: &'a [Seg],
    /// The pass's packed weights: per segment `[KH][KW][hi − lo][OB][16]`.
    pub(crate) w: *const f32,
    pub(crate) kw: usize,
    /// Valid kernel rows and columns for every pixel of the tile.
    pub(crate) ky: (usize, usize),
    pub(crate) kx: (usize, usize),
    /// Input row of kernel row 0 (`oy·sh − pad_top`), input column of tap 0 for pixel 0.
    pub(crate) iy0: isize,
    pub(crate) ix0: isize,
    pub(crate) dh: usize,
    pub(crate) dw: usize,
    /// Distance between the inputs of consecutive output pixels (`sw · x_px`).
    pub(crate) pstep: usize,
    /// `OB × 16` biases.
    pub(crate) bias: *const f32,
    pub(crate) act: Activation,
    /// Lanes of each output block this pass writes.
    pub(crate) masks: [u16; 2],
    pub(crate) out: Out,
    /// The tile's running sums when the pass's input channels are summed in chunks
    /// ([`Chunk`]); unused with one chunk.
    pub(crate) part: Chunk,
}

/// Where a tile stands in a pass whose input channels are summed in several chunks, so
/// that one chunk's weights stay in the L1 cache across the tiles of a row: the first
/// chunk starts from zero, the others from the running sums at `sums`, and every chunk
/// but the last stores them back there instead of finishing the outputs. `sums` holds the
/// tile's `R × OB × 16` running sums, pixel-major. Summing in chunks keeps every output's
/// order of products, so its results are bit-identical to one pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    pub(crate) sums: *mut f32,
    pub(crate) first: bool,
    pub(crate) last: bool,
}

impl Chunk {
    /// The whole pass in one chunk.
    pub(crate) const WHOLE: Self = Self {
        sums: core::ptr::null_mut(),
        first: true,
        last: true,
    };
}

/// Arguments of one channel-blocked depthwise tile (one 16-channel block).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DwTile {
    /// The input block plane (`H × W × 16`).
    pub(crate) x: *const f32,
    pub(crate) x_row: usize,
    /// Weights `[KH][KW][16]` of the block.
    pub(crate) w: *const f32,
    pub(crate) kw: usize,
    pub(crate) ky: (usize, usize),
    pub(crate) kx: (usize, usize),
    pub(crate) iy0: isize,
    pub(crate) ix0: isize,
    pub(crate) dh: usize,
    pub(crate) dw: usize,
    /// `sw · 16`.
    pub(crate) pstep: usize,
    pub(crate) bias: *const f32,
    pub(crate) act: Activation,
    pub(crate) mask: u16,
    pub(crate) out: Out,
}

/// Arguments of the NCHW depthwise kernels (one channel, output rows `rows`, stride 1
/// across).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DwPix {
    /// The input channel plane.
    pub(crate) x: *const f32,
    pub(crate) ih: usize,
    pub(crate) iw: usize,
    /// The channel's `KH × KW` weights.
    pub(crate) w: *const f32,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) rows: (usize, usize),
    pub(crate) sh: usize,
    pub(crate) pt: usize,
    pub(crate) dh: usize,
    pub(crate) dw: usize,
    pub(crate) pl: usize,
    pub(crate) bias: f32,
    pub(crate) act: Activation,
    /// The output channel plane and its width.
    pub(crate) out: *mut f32,
    pub(crate) ow: usize,
    /// Whole output vectors at 64-byte aligned addresses go past the caches
    /// ([`V16::stream`]; the driver fences after them).
    pub(crate) nt: bool,
    /// The next unit reads the plane after `x`: each output row of a tile asks for the
    /// same columns of that plane's input rows in L2 ([`prefetch_next`]), so the next
    /// plane streams in from memory while this one is computed.
    pub(crate) prefetch: bool,
}

/// Asks for the `R` vectors from column `ox0` of the input rows of output row `oy` in the
/// plane after `t.x` in L2 when [`DwPix::prefetch`] is set: over a plane's tiles and rows,
/// the whole next plane (the columns of the output's).
#[inline(always)]
pub(crate) fn prefetch_next<const R: usize>(t: &DwPix, oy: usize, ox0: usize) {
    if !t.prefetch {
        return;
    }
    let next = t.x.wrapping_add(t.ih * t.iw);
    for s in 0..t.sh {
        let row = next.wrapping_add((oy * t.sh + s) * t.iw + ox0);
        for r in 0..R {
            prefetch_l2(row.wrapping_add(r * LANES));
        }
    }
}

/// Asks for the cache line of `p` in L2 (a hint: no fault, nothing read, on any address).
#[inline(always)]
fn prefetch_l2(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht1` is in SSE (baseline on x86-64); a prefetch reads nothing and
    // never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// For `R` vectors of 16 output columns from `ox0`, the lanes whose tap in kernel column
/// `kx` (rate `dw`, left padding `pl`) lands inside an input row of `iw` columns.
#[inline(always)]
pub(crate) fn col_mask<const R: usize>(
    ox0: usize,
    kx: usize,
    dw: usize,
    pl: usize,
    iw: usize,
) -> [u16; R] {
    let ixk = ox0 as isize + (kx * dw) as isize - pl as isize;
    let mut m = [0u16; R];
    for (r, m) in m.iter_mut().enumerate() {
        let ix = ixk + (r * LANES) as isize;
        let lo = (-ix).clamp(0, LANES as isize) as usize;
        let hi = (iw as isize - ix).clamp(0, LANES as isize) as usize;
        *m = if lo < hi { lane_bits(lo, hi) } else { 0 };
    }
    m
}

/// The kernel indices `lo..hi` whose tap for output `o` lands inside an input of `len`
/// (input index `o·s + k·d − p`).
#[inline(always)]
pub(crate) fn taps(o: usize, s: usize, d: usize, p: usize, k: usize, len: usize) -> (usize, usize) {
    let base = (o * s) as isize - p as isize;
    let lo = if base >= 0 {
        0
    } else {
        ((-base) as usize).div_ceil(d).min(k)
    };
    let last = len as isize - 1 - base;
    let hi = if last < 0 {
        0
    } else {
        (last as usize / d + 1).min(k)
    };
    (lo, hi.max(lo))
}

/// Bias, activation and store of `R` pixel vectors from registers: the activation is
/// matched once, outside the (unrolled) store loop, so the accumulators stay in registers;
/// the last vector stores `n_last` pixels.
///
/// # Safety
/// `16·(R − 1) + n_last` floats are writable from `out` (`n_last ≤ 16`), and the CPU
/// supports `V`.
#[inline(always)]
pub(crate) unsafe fn store_vecs<V: V16, const R: usize>(
    acc: &[V; R],
    bias: f32,
    act: Activation,
    out: *mut f32,
    n_last: usize,
    nt: bool,
) {
    // SAFETY: register arithmetic, and the caller guarantees `16·(R − 1) + n_last`
    // writable outputs from `out`.
    unsafe {
        let b = V::splat(bias);
        match act {
            Activation::Identity => {
                for (r, a) in acc.iter().enumerate() {
                    put_vec::<V, R>(out, r, n_last, nt, a.add(b));
                }
            }
            Activation::Relu => {
                for (r, a) in acc.iter().enumerate() {
                    put_vec::<V, R>(out, r, n_last, nt, a.add(b).relu());
                }
            }
            Activation::LeakyRelu(s) => {
                for (r, a) in acc.iter().enumerate() {
                    put_vec::<V, R>(out, r, n_last, nt, a.add(b).leaky(s));
                }
            }
            // GELU, tanh, sigmoid, SiLU: a few dozen instructions a vector, next to which
            // the per-vector match costs nothing.
            smooth @ (Activation::Gelu
            | Activation::Tanh
            | Activation::Sigmoid
            | Activation::Silu) => {
                for (r, a) in acc.iter().enumerate() {
                    put_vec::<V, R>(out, r, n_last, nt, activate(a.add(b), smooth));
                }
            }
        }
    }
}

/// Stores vector `r` of [`store_vecs`]: `n_last` lanes for the last one. A function, not a
/// closure: closures do not inherit the caller's target features, so a closure's stores
/// compile to calls.
///
/// # Safety
/// The lanes of vector `r` are writable from `out + 16·r`: all 16, or the first `n_last`
/// when `r` is the last (`r + 1 = R`) and `n_last < 16`; the CPU supports `V`.
#[inline(always)]
unsafe fn put_vec<V: V16, const R: usize>(out: *mut f32, r: usize, n_last: usize, nt: bool, v: V) {
    let p = out.wrapping_add(r * LANES);
    // SAFETY: the caller (`store_vecs`) guarantees the lanes written; a stream store only
    // of a whole vector at a 64-byte aligned address.
    unsafe {
        if r + 1 == R && n_last < LANES {
            v.store_first(p, n_last);
        } else if nt && (p as usize).is_multiple_of(64) {
            v.stream(p);
        } else {
            v.store(p);
        }
    }
}

/// Moves the accumulators to memory in one fully unrolled pass, so that the compiler keeps
/// them in registers during the tap loop (the epilogue indexes them dynamically, which
/// would otherwise pin them to the stack and store them on every FMA).
///
/// # Safety
/// The CPU supports `V` (only the local array is written).
#[inline(always)]
unsafe fn spill<V: V16, const R: usize, const OB: usize>(
    acc: &[[V; OB]; R],
) -> [[[f32; LANES]; OB]; R] {
    let mut m = core::mem::MaybeUninit::<[[[f32; LANES]; OB]; R]>::uninit();
    let base = m.as_mut_ptr().cast::<f32>();
    for (r, ar) in acc.iter().enumerate() {
        for (j, aj) in ar.iter().enumerate() {
            // SAFETY: vector `(r, j)` of the local array, 16 lanes in bounds.
            unsafe { aj.store(base.add((r * OB + j) * LANES)) };
        }
    }
    // SAFETY: every element was written just above.
    unsafe { m.assume_init() }
}

/// Bias, activation, store. `acc[r][j]` is pixel `r` of output block `j` (in memory, where
/// the NCHW scatter can index it).
///
/// # Safety
/// `OB × 16` biases are readable at `bias`, `masks` holds `OB` masks, and every output the
/// tile addresses through `out` is writable: pixels `0..R` of each block `j < OB`, every
/// lane on the blocked layout when `masks[j]` is full, else the lanes set in `masks[j]`
/// (channels that exist on NCHW). The CPU supports `V`.
#[inline(always)]
unsafe fn epilogue<V: V16, const R: usize, const OB: usize>(
    acc: &mut [[[f32; LANES]; OB]; R],
    bias: *const f32,
    act: Activation,
    out: &Out,
    masks: &[u16],
) {
    for j in 0..OB {
        // SAFETY: the plan holds 16 biases per output block.
        let b = unsafe { V::load(bias.add(j * LANES)) };
        let mask = masks[j];
        let base = out.ptr.wrapping_add(j * out.cb);
        let direct = out.blocked && mask == u16::MAX;
        for (r, a) in acc.iter_mut().enumerate() {
            // SAFETY: `a[j]` is a local 16-lane array; pixel `r` of block `j` lies inside the
            // output tile, which the driver keeps inside the output buffer.
            unsafe {
                let v = activate(V::load(a[j].as_ptr()).add(b), act);
                if direct {
                    v.store(base.wrapping_add(r * LANES));
                } else {
                    v.store(a[j].as_mut_ptr());
                }
            }
        }
        if direct {
            continue;
        }
        for l in 0..LANES {
            if mask & (1 << l) == 0 {
                continue;
            }
            if out.blocked {
                for (r, a) in acc.iter().enumerate() {
                    // SAFETY: lane `l` of pixel `r`, block `j`, inside the output buffer.
                    unsafe { *base.wrapping_add(r * LANES + l) = a[j][l] };
                }
            } else if OB == 2 {
                // Two blocks: scalar copies, which beat gathers on these tiles (see
                // `docs/perf.md`, "Measurements behind the engine's design choices").
                let p = base.wrapping_add(l * out.c);
                for (r, a) in acc.iter().enumerate() {
                    // SAFETY: the driver clears the mask bits of channels past the last
                    // real one, so channel `16·j + l` exists and pixel `r` is in the row.
                    unsafe { *p.wrapping_add(r) = a[j][l] };
                }
            } else {
                // Column `l` of the tile (its pixels, `OB·16` floats apart) to the row of
                // channel `16·j + l`, 16 pixels at a time: one gather and one store per 16
                // pixels rather than 16 scalar copies, which wins on single-block tiles
                // (see `docs/perf.md`, "Measurements behind the engine's design choices").
                let p = base.wrapping_add(l * out.c);
                let col = acc.as_ptr().cast::<f32>().wrapping_add(j * LANES + l);
                let mut r0 = 0;
                while r0 < R {
                    let n = LANES.min(R - r0);
                    // SAFETY: pixels `r0..r0 + n` of the local tile; the driver clears the
                    // mask bits of channels past the last real one, so channel `16·j + l`
                    // exists and those pixels are in its output row.
                    unsafe {
                        let v = V::gather(col.wrapping_add(r0 * OB * LANES), OB * LANES, n);
                        v.store_first(p.wrapping_add(r0), n);
                    }
                    r0 += n;
                }
            }
        }
    }
}

/// One dense register tile. `STEP` is the pixel step when known at compile time (16 for
/// the blocked layout at stride 1, 1 for NCHW at stride 1), 0 to use `t.pstep`.
///
/// # Safety
/// Every input element addressed by the valid taps, the weights, biases and outputs of the
/// tile must be in bounds (the driver guarantees it), and the CPU must support `V`.
#[inline(always)]
pub(crate) unsafe fn dense_tile<V: V16, const R: usize, const OB: usize, const STEP: usize>(
    t: &DenseTile<'_>,
) {
    // SAFETY: `V::zero` only needs the target features the caller has.
    let mut acc = [[unsafe { V::zero() }; OB]; R];
    if !t.part.first {
        for (r, a) in acc.iter_mut().enumerate() {
            for (j, aj) in a.iter_mut().enumerate() {
                // SAFETY: `part.sums` holds the tile's `R × OB × 16` running sums (caller).
                *aj = unsafe { V::load(t.part.sums.add((r * OB + j) * LANES)) };
            }
        }
    }
    let pstep = if STEP == 0 { t.pstep } else { STEP };
    let row_w = OB * LANES;
    for seg in t.segs {
        let nci = seg.hi - seg.lo;
        let xs = t.x.wrapping_add(seg.ib * t.x_cb + seg.lo * t.x_c);
        let ws = t.w.wrapping_add(seg.w_off);
        for ky in t.ky.0..t.ky.1 {
            // Non-negative for every valid kernel row (the driver's tap range).
            let iy = (t.iy0 + (ky * t.dh) as isize) as usize;
            let xrow = xs.wrapping_add(iy * t.x_row);
            for kx in t.kx.0..t.kx.1 {
                let ix = (t.ix0 + (kx * t.dw) as isize) as usize;
                let mut xp = xrow.wrapping_add(ix * t.x_px);
                let mut wp = ws.wrapping_add((ky * t.kw + kx) * nci * row_w);
                for _ in 0..nci {
                    // SAFETY: zero-initialised then filled from the packed weights.
                    let mut wv = [unsafe { V::zero() }; OB];
                    for (j, w) in wv.iter_mut().enumerate() {
                        // SAFETY: `OB × 16` packed weights per input channel and tap.
                        *w = unsafe { V::load(wp.add(j * LANES)) };
                    }
                    for a in acc.iter_mut().enumerate() {
                        let (r, a) = a;
                        // SAFETY: pixel `r`'s input for this valid tap is in bounds.
                        let b = unsafe { V::splat(*xp.wrapping_add(r * pstep)) };
                        for (aj, w) in a.iter_mut().zip(&wv) {
                            // SAFETY: register arithmetic only.
                            *aj = unsafe { b.fma(*w, *aj) };
                        }
                    }
                    xp = xp.wrapping_add(t.x_c);
                    wp = wp.wrapping_add(row_w);
                }
            }
        }
    }
    if !t.part.last {
        for (r, a) in acc.iter().enumerate() {
            for (j, aj) in a.iter().enumerate() {
                // SAFETY: as for the loads above.
                unsafe { aj.store(t.part.sums.add((r * OB + j) * LANES)) };
            }
        }
        return;
    }
    // SAFETY: the tile's outputs are in bounds (caller).
    unsafe {
        let mut m = spill(&acc);
        epilogue::<V, R, OB>(&mut m, t.bias, t.act, &t.out, &t.masks);
    }
}

/// One depthwise tile on the channel-blocked layout.
///
/// # Safety
/// As [`dense_tile`].
#[inline(always)]
pub(crate) unsafe fn dw_tile<V: V16, const R: usize>(t: &DwTile) {
    // SAFETY: register initialisation.
    let mut acc = [[unsafe { V::zero() }; 1]; R];
    for ky in t.ky.0..t.ky.1 {
        let iy = (t.iy0 + (ky * t.dh) as isize) as usize;
        let xrow = t.x.wrapping_add(iy * t.x_row);
        for kx in t.kx.0..t.kx.1 {
            let ix = (t.ix0 + (kx * t.dw) as isize) as usize;
            let xp = xrow.wrapping_add(ix * LANES);
            // SAFETY: `[KH][KW][16]` packed weights.
            let w = unsafe { V::load(t.w.add((ky * t.kw + kx) * LANES)) };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: pixel `r`'s input for this valid tap is in bounds.
                a[0] = unsafe { V::load(xp.wrapping_add(r * t.pstep)).fma(w, a[0]) };
            }
        }
    }
    // SAFETY: the tile's outputs are in bounds (caller).
    unsafe {
        let mut m = spill(&acc);
        epilogue::<V, R, 1>(&mut m, t.bias, t.act, &t.out, &[t.mask]);
    }
}

/// `R` vectors of 16 output pixels starting at `ox0`, every tap of every lane inside the
/// input row.
///
/// # Safety
/// As [`dense_tile`].
#[inline(always)]
pub(crate) unsafe fn pix_tile<V: V16, const R: usize>(t: &DwPix, ox0: usize) {
    for oy in t.rows.0..t.rows.1 {
        let ky = taps(oy, t.sh, t.dh, t.pt, t.kh, t.ih);
        let iy0 = (oy * t.sh) as isize - t.pt as isize;
        // SAFETY: register initialisation.
        let mut acc = [unsafe { V::zero() }; R];
        for ky in ky.0..ky.1 {
            let iy = (iy0 + (ky * t.dh) as isize) as usize;
            let xrow = t.x.wrapping_add(iy * t.iw);
            for kx in 0..t.kw {
                // SAFETY: `KH × KW` weights.
                let w = unsafe { V::splat(*t.w.add(ky * t.kw + kx)) };
                let xp = xrow.wrapping_add(ox0 + kx * t.dw - t.pl);
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: the driver only calls this where every lane's tap is in the row.
                    *a = unsafe { V::load(xp.wrapping_add(r * LANES)).fma(w, *a) };
                }
            }
        }
        prefetch_next::<R>(t, oy, ox0);
        let out = t.out.wrapping_add(oy * t.ow + ox0);
        // SAFETY: the `16·R` outputs from `ox0` are inside the output row.
        unsafe { store_vecs(&acc, t.bias, t.act, out, LANES, t.nt) };
    }
}

/// `R` vectors of 16 output pixels from `ox0` (the last one holding `n_last` real pixels)
/// where some taps fall outside the input row: each (vector, kernel column) gets the mask
/// of its lanes inside the row; masked-off lanes are neither read nor multiplied (so an
/// infinite weight does not meet the padding, exactly like the reference skipping it).
///
/// # Safety
/// As [`dense_tile`].
#[inline(always)]
pub(crate) unsafe fn pix_masked<V: V16, const R: usize>(t: &DwPix, ox0: usize, n_last: usize) {
    const MAXK: usize = 8;
    let masks_for = |kx: usize| {
        let ixk = ox0 as isize + (kx * t.dw) as isize - t.pl as isize;
        (ixk, col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw))
    };
    // The masks depend on the column only: computed once for every row (up to 8 columns).
    let mut pre = [(0isize, [0u16; R]); MAXK];
    for (kx, p) in pre.iter_mut().enumerate().take(t.kw) {
        *p = masks_for(kx);
    }
    for oy in t.rows.0..t.rows.1 {
        let ky = taps(oy, t.sh, t.dh, t.pt, t.kh, t.ih);
        let iy0 = (oy * t.sh) as isize - t.pt as isize;
        // SAFETY: register initialisation.
        let mut acc = [unsafe { V::zero() }; R];
        for kx in 0..t.kw {
            let (ixk, masks) = pre.get(kx).copied().unwrap_or_else(|| masks_for(kx));
            for ky in ky.0..ky.1 {
                let iy = (iy0 + (ky * t.dh) as isize) as usize;
                let xp = t.x.wrapping_add(iy * t.iw).wrapping_offset(ixk);
                // SAFETY: `KH × KW` weights.
                let w = unsafe { V::splat(*t.w.add(ky * t.kw + kx)) };
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: only the lanes inside the input row are read.
                    *a = unsafe {
                        V::load_mask(xp.wrapping_add(r * LANES), masks[r]).fma_mask(w, *a, masks[r])
                    };
                }
            }
        }
        prefetch_next::<R>(t, oy, ox0);
        let out = t.out.wrapping_add(oy * t.ow + ox0);
        // SAFETY: `R − 1` full vectors and `n_last` pixels from `ox0` are inside the row.
        unsafe { store_vecs(&acc, t.bias, t.act, out, n_last, t.nt) };
    }
}

/// The 3 × 3, stride-1 NCHW depthwise tile that loads each input vector once: `R` vectors
/// of 16 output pixels from `ox0` (the last one holding `n_last` real pixels) on every
/// output row of `t.rows`.
///
/// The output rows `dh` apart (one residue class of the rows modulo `dh` at a time) read
/// the input rows `dh` apart: the tile walks those input rows down the class, keeping the
/// accumulators of the three output rows each input row belongs to, so every input vector
/// is loaded once and feeds three multiplies by weights held in registers. Its loads per
/// multiply are a third of [`pix_tile`]'s, whose nine loads and nine broadcasts per vector
/// are what hold it on the machines where a 512-bit load costs as much as a 512-bit FMA
/// (the AMD Zen 4). Input rows outside the plane are skipped (their taps are padding); with
/// `MASKED`, each (vector, kernel column) reads and multiplies only its lanes inside the
/// input row, as [`pix_masked`].
///
/// # Safety
/// As [`dense_tile`]; `t.kh = t.kw = 3`, `t.sh = 1`; without `MASKED`, every tap of every
/// lane is inside its input row and `n_last = 16`.
#[inline(always)]
pub(crate) unsafe fn pix3_tile<V: V16, const R: usize, const MASKED: bool>(
    t: &DwPix,
    ox0: usize,
    n_last: usize,
) {
    // SAFETY: the channel's nine weights (caller).
    let w: [V; 9] = core::array::from_fn(|i| unsafe { V::splat(*t.w.add(i)) });
    let cols: [isize; 3] =
        core::array::from_fn(|kx| ox0 as isize + (kx * t.dw) as isize - t.pl as isize);
    // Every lane of a plain strip is inside the row.
    let masks: [[u16; R]; 3] = core::array::from_fn(|kx| {
        if MASKED {
            col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw)
        } else {
            [u16::MAX; R]
        }
    });
    let (ya, yb) = t.rows;
    for o0 in ya..yb.min(ya + t.dh) {
        // Output rows `o0 + k·dh`, `k < n`; input row `m` of the walk is `o0 − pt + m·dh`,
        // tap `ky` of output row `m − ky`, whose accumulators are set `(m − ky) mod 3`.
        let n = (yb - o0).div_ceil(t.dh);
        let s = Walk {
            t,
            w: &w,
            cols: &cols,
            masks: &masks,
            o0,
            n,
            ox0,
            n_last,
        };
        // SAFETY: register initialisation.
        let mut acc = [[unsafe { V::zero() }; R]; 3];
        let mut m = 0;
        while m + 3 <= n + 2 {
            // SAFETY: forwarded contract (every step).
            unsafe {
                s.step::<MASKED, 0>(m, &mut acc);
                s.step::<MASKED, 1>(m + 1, &mut acc);
                s.step::<MASKED, 2>(m + 2, &mut acc);
            }
            m += 3;
        }
        // SAFETY: as above (at most two steps are left, `m ≡ 0 mod 3`).
        unsafe {
            if m < n + 2 {
                s.step::<MASKED, 0>(m, &mut acc);
            }
            if m + 1 < n + 2 {
                s.step::<MASKED, 1>(m + 1, &mut acc);
            }
        }
    }
}

/// One residue class of the output rows in [`pix3_tile`].
struct Walk<'a, V, const R: usize> {
    t: &'a DwPix,
    w: &'a [V; 9],
    cols: &'a [isize; 3],
    masks: &'a [[u16; R]; 3],
    /// The class's first output row, and its number of rows.
    o0: usize,
    n: usize,
    ox0: usize,
    n_last: usize,
}

impl<V: V16, const R: usize> Walk<'_, V, R> {
    /// Input row `m` of the walk, `S = m mod 3`: the accumulator set `S` starts output row
    /// `m` (tap 0), set `S − 1` takes tap 1 of row `m − 1`, set `S − 2` tap 2 of row
    /// `m − 2`, which is then complete and stored. Sets of rows outside `0..n` take
    /// products that are never stored.
    ///
    /// # Safety
    /// As [`pix3_tile`].
    #[inline(always)]
    unsafe fn step<const MASKED: bool, const S: usize>(&self, m: usize, acc: &mut [[V; R]; 3]) {
        let t = self.t;
        let (c0, c1, c2) = (S, (S + 2) % 3, (S + 1) % 3);
        // SAFETY: register initialisation.
        acc[c0] = [unsafe { V::zero() }; R];
        let iy = (self.o0 + m * t.dh) as isize - t.pt as isize;
        if iy >= 0 && iy < t.ih as isize {
            let xrow = t.x.wrapping_add(iy as usize * t.iw);
            for kx in 0..3 {
                let xp = xrow.wrapping_offset(self.cols[kx]);
                for (r, &mk) in self.masks[kx].iter().enumerate() {
                    let p = xp.wrapping_add(r * LANES);
                    // SAFETY: the lanes read are inside the input row (caller; masked to
                    // them); the rest is register arithmetic.
                    unsafe {
                        let v = if MASKED {
                            V::load_mask(p, mk)
                        } else {
                            V::load(p)
                        };
                        let (w0, w1, w2) = (self.w[kx], self.w[3 + kx], self.w[6 + kx]);
                        if MASKED {
                            acc[c0][r] = v.fma_mask(w0, acc[c0][r], mk);
                            acc[c1][r] = v.fma_mask(w1, acc[c1][r], mk);
                            acc[c2][r] = v.fma_mask(w2, acc[c2][r], mk);
                        } else {
                            acc[c0][r] = v.fma(w0, acc[c0][r]);
                            acc[c1][r] = v.fma(w1, acc[c1][r]);
                            acc[c2][r] = v.fma(w2, acc[c2][r]);
                        }
                    }
                }
            }
        }
        if m >= 2 && m - 2 < self.n {
            let oy = self.o0 + (m - 2) * t.dh;
            prefetch_next::<R>(t, oy, self.ox0);
            let out = t.out.wrapping_add(oy * t.ow + self.ox0);
            // SAFETY: `R − 1` full vectors and `n_last` pixels from `ox0` are inside row
            // `oy` (an output row of `t.rows`).
            unsafe { store_vecs(&acc[c2], t.bias, t.act, out, self.n_last, t.nt) };
        }
    }
}

/// The lane indices of the four stages of [`transpose16`]: stage `s` swaps the off-diagonal
/// blocks of `k = 8 >> s` lanes between rows `i` and `i + k` (`i & k = 0`); `[s][0]` picks
/// the new row `i` from `row i ‖ row i + k`, `[s][1]` the new row `i + k`.
const TRANSPOSE_IDX: [[[u32; 16]; 2]; 4] = {
    let mut t = [[[0u32; 16]; 2]; 4];
    let mut s = 0;
    while s < 4 {
        let k = 8 >> s;
        let mut l = 0;
        while l < 16 {
            let low = l & k == 0;
            t[s][0][l] = (if low { l } else { 16 + l - k }) as u32;
            t[s][1][l] = (if low { l + k } else { 16 + l }) as u32;
            l += 1;
        }
        s += 1;
    }
    t
};

/// Transposes a 16 × 16 block in registers: the 16 floats of source row `i` (at `src +
/// i·stride`) become lane `i` of the 16 destination vectors (at `dst + p·dst_stride`, `p`
/// the column). Four stages of two-source permutes (64 in all), each swapping the
/// off-diagonal blocks of half the previous size. The NCHW → channel-blocked conversion
/// (rows are 16 channels' planes, columns 16 pixels) and back (rows are 16 pixels of 16
/// channels, columns the channels' planes).
///
/// # Safety
/// 16 rows of 16 floats are readable at `src` (`stride` apart), 16 rows of 16 floats
/// writable at `dst` (`dst_stride` apart), not overlapping them; the CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn transpose16<V: V16>(
    src: *const f32,
    stride: usize,
    dst: *mut f32,
    dst_stride: usize,
) {
    // SAFETY: row `i` of the block (caller).
    let mut r: [V; LANES] = core::array::from_fn(|i| unsafe { V::load(src.add(i * stride)) });
    for (s, idx) in TRANSPOSE_IDX.iter().enumerate() {
        let k = 8 >> s;
        for i in (0..LANES).filter(|i| i & k == 0) {
            let (a, b) = (r[i], r[i + k]);
            // SAFETY: register permutes.
            unsafe {
                r[i] = a.perm2(b, &idx[0]);
                r[i + k] = a.perm2(b, &idx[1]);
            }
        }
    }
    for (p, v) in r.iter().enumerate() {
        // SAFETY: 16 floats of the destination (caller).
        unsafe { v.store(dst.add(p * dst_stride)) };
    }
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
}

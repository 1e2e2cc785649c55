//! The AVX2 + FMA kernel family, with its own dense tile.
//!
//! AVX2 has 16 `ymm` registers of 8 lanes. The generic 16-lane tile runs on it, but its
//! epilogue goes through memory, lane by lane when it writes NCHW (measured: 58 GFLOP/s
//! on a single 64-channel layer, against 95 here). The dense tile here is written for the
//! machine:
//!
//! - **Register block**: `R` output pixels × `H` half-blocks of 8 output channels, `R·H ≤ 12`
//!   accumulators, `H` weight registers and one broadcast register. Per input channel and
//!   tap: `H` weight loads, `R` broadcasts (`vbroadcastss`), `R·H` FMAs: 6 × 2, one block
//!   of 16 channels.
//! - **Loop order**: taps outside, input channels inside, so the weights stream through
//!   in the order they are packed (reading NCHW input plane by plane, every tap of a plane
//!   before the next, measured slower: the weights then jump between taps).
//! - **Epilogue from registers**: bias and activation on the accumulators, then either
//!   direct stores to the blocked layout, or an 8 × 8 in-register transpose and one
//!   (masked) store of up to 8 consecutive pixels per output channel to NCHW.
//!
//! The depthwise kernels are the generic ones of [`super::kernels`] on `[__m256; 2]`.

use core::arch::x86_64::{
    __m256, _CMP_LT_OQ, _mm256_add_ps, _mm256_blendv_ps, _mm256_broadcast_ss, _mm256_cmp_ps,
    _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_mul_ps,
    _mm256_permute2f128_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use super::{DenseTile, DwPix, DwTile, Isa, dw_tile, pix_masked, pix_tile};
use crate::conv::Activation;
use crate::engine::simd::{first_masks, lane_masks};

/// Most accumulators of a dense tile (of the 16 `ymm` registers, the rest hold the weights
/// and the broadcast input).
const MAX_ACC: usize = 12;

/// AVX2 + FMA: a 16-lane vector is two `ymm` registers; dense tiles of up to 6 pixels ×
/// 16 channels (12 accumulators).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2;

/// One FMA step: the `H` weight vectors at `wp`, the `R` inputs at `xp + r·pstep`.
///
/// # Safety
/// `8·H` weights at `wp` and the `R` inputs are readable; AVX2 and FMA enabled.
#[inline(always)]
unsafe fn step<const R: usize, const H: usize>(
    acc: &mut [[__m256; H]; R],
    xp: *const f32,
    wp: *const f32,
    pstep: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let mut w = [_mm256_setzero_ps(); H];
        for (h, v) in w.iter_mut().enumerate() {
            *v = _mm256_loadu_ps(wp.add(8 * h));
        }
        for (r, a) in acc.iter_mut().enumerate() {
            let b = _mm256_broadcast_ss(&*xp.wrapping_add(r * pstep));
            for (aj, wj) in a.iter_mut().zip(&w) {
                *aj = _mm256_fmadd_ps(b, *wj, *aj);
            }
        }
    }
}

/// One dense register tile: `R` pixels × `H` half-blocks of 8 output channels (`H` even:
/// `H / 2` blocks of 16). `STEP` is the pixel step when known at compile time, 0 to use
/// `t.pstep`.
///
/// # Safety
/// Every input element addressed by the valid taps, the weights, biases and outputs of the
/// tile must be in bounds (the driver guarantees it); AVX2 and FMA enabled.
#[inline(always)]
unsafe fn dense<const R: usize, const H: usize, const STEP: usize>(t: &DenseTile<'_>) {
    const { assert!(R * H <= MAX_ACC && H.is_multiple_of(2) && H > 0) };
    // SAFETY: AVX enabled (caller).
    let mut acc = [[unsafe { _mm256_setzero_ps() }; H]; R];
    let pstep = if STEP == 0 { t.pstep } else { STEP };
    let row_w = 8 * H;
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
                    // SAFETY: the valid taps' inputs and the packed weights
                    // `[KH][KW][nci][H·8]` are in bounds (caller).
                    unsafe { step(&mut acc, xp, wp, pstep) };
                    xp = xp.wrapping_add(t.x_c);
                    wp = wp.wrapping_add(row_w);
                }
            }
        }
    }
    // The epilogue indexes the tile with run-time values; it works on a copy in memory,
    // stored in one unrolled pass, so that the tap loop keeps the accumulators in
    // registers.
    let mut m = core::mem::MaybeUninit::<[[__m256; H]; R]>::uninit();
    let base = m.as_mut_ptr().cast::<__m256>();
    for (r, a) in acc.iter().enumerate() {
        for (h, v) in a.iter().enumerate() {
            // SAFETY: element `(r, h)` of the local array.
            unsafe { base.add(r * H + h).write(*v) };
        }
    }
    // SAFETY: every element was written just above; the tile's biases and outputs are in
    // bounds (caller).
    unsafe { epilogue(&mut m.assume_init(), t) };
}

/// Bias and activation on the accumulators, in registers.
///
/// # Safety
/// `8·H` biases at `t.bias`; AVX2 enabled.
#[inline(always)]
unsafe fn finish<const R: usize, const H: usize>(acc: &mut [[__m256; H]; R], t: &DenseTile<'_>) {
    // SAFETY: the caller's contract; the rest is register arithmetic.
    unsafe {
        for h in 0..H {
            let b = _mm256_loadu_ps(t.bias.add(8 * h));
            for a in acc.iter_mut() {
                a[h] = _mm256_add_ps(a[h], b);
            }
        }
        let z = _mm256_setzero_ps();
        match t.act {
            Activation::Identity => {}
            // `max(0, x)` returns `x` when it is NaN, and keeps −0 as the reference does.
            Activation::Relu => {
                for a in acc.iter_mut().flatten() {
                    *a = _mm256_max_ps(z, *a);
                }
            }
            Activation::LeakyRelu(s) => {
                let s = _mm256_set1_ps(s);
                for a in acc.iter_mut().flatten() {
                    let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(*a, z);
                    *a = _mm256_blendv_ps(*a, _mm256_mul_ps(*a, s), neg);
                }
            }
            other => {
                for a in acc.iter_mut().flatten() {
                    let mut m = [0.0f32; 8];
                    _mm256_storeu_ps(m.as_mut_ptr(), *a);
                    for x in &mut m {
                        *x = other.apply(*x);
                    }
                    *a = _mm256_loadu_ps(m.as_ptr());
                }
            }
        }
    }
}

/// The 8 × 8 transpose: `v[i]` lane `l` becomes lane `i` of the result's `l`-th vector.
///
/// # Safety
/// AVX enabled.
#[inline(always)]
unsafe fn transpose8(v: [__m256; 8]) -> [__m256; 8] {
    // SAFETY: register shuffles; AVX enabled (caller).
    unsafe {
        let t0 = _mm256_unpacklo_ps(v[0], v[1]);
        let t1 = _mm256_unpackhi_ps(v[0], v[1]);
        let t2 = _mm256_unpacklo_ps(v[2], v[3]);
        let t3 = _mm256_unpackhi_ps(v[2], v[3]);
        let t4 = _mm256_unpacklo_ps(v[4], v[5]);
        let t5 = _mm256_unpackhi_ps(v[4], v[5]);
        let t6 = _mm256_unpacklo_ps(v[6], v[7]);
        let t7 = _mm256_unpackhi_ps(v[6], v[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ]
    }
}

/// Bias, activation and store of the tile, from registers.
///
/// # Safety
/// The tile's biases and outputs are in bounds; AVX2 enabled.
#[inline(always)]
unsafe fn epilogue<const R: usize, const H: usize>(acc: &mut [[__m256; H]; R], t: &DenseTile<'_>) {
    // SAFETY: the caller's contract.
    unsafe { finish(acc, t) };
    let out = &t.out;
    for j in 0..H / 2 {
        let mask = t.masks[j];
        let base = out.ptr.wrapping_add(j * out.cb);
        if out.blocked {
            // SAFETY: pixel `r` of block `j` (16 floats from `base + 16·r`) is inside the
            // output tile; masked stores write only the lanes in `mask`.
            unsafe {
                if mask == u16::MAX {
                    for (r, a) in acc.iter().enumerate() {
                        _mm256_storeu_ps(base.wrapping_add(16 * r), a[2 * j]);
                        _mm256_storeu_ps(base.wrapping_add(16 * r + 8), a[2 * j + 1]);
                    }
                } else {
                    let [lo, hi] = lane_masks(mask);
                    for (r, a) in acc.iter().enumerate() {
                        _mm256_maskstore_ps(base.wrapping_add(16 * r), lo, a[2 * j]);
                        _mm256_maskstore_ps(base.wrapping_add(16 * r + 8), hi, a[2 * j + 1]);
                    }
                }
            }
            continue;
        }
        // NCHW: 8 pixels × 8 channels at a time, transposed to 8 channel rows.
        for h in 0..2 {
            let mut r0 = 0;
            while r0 < R {
                let n = (R - r0).min(8);
                // SAFETY: register moves and shuffles.
                let cols = unsafe {
                    let mut v = [_mm256_setzero_ps(); 8];
                    for (i, vi) in v.iter_mut().enumerate().take(n) {
                        *vi = acc[r0 + i][2 * j + h];
                    }
                    transpose8(v)
                };
                // SAFETY: AVX2 enabled.
                let first = unsafe { first_masks(n)[0] };
                for (l, c) in cols.iter().enumerate() {
                    let lane = 8 * h + l;
                    if mask & (1 << lane) == 0 {
                        continue;
                    }
                    let p = base.wrapping_add(lane * out.c + r0);
                    // SAFETY: the driver clears the mask bits of channels past the last real
                    // one, so channel `16·j + lane` exists, and pixels `r0..r0 + n` are in
                    // its output row; the masked store writes only those `n`.
                    unsafe {
                        if n == 8 {
                            _mm256_storeu_ps(p, *c);
                        } else {
                            _mm256_maskstore_ps(p, first, *c);
                        }
                    }
                }
                r0 += n;
            }
        }
    }
}

impl Avx2 {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dense_t<const R: usize, const H: usize, const STEP: usize>(t: &DenseTile<'_>) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { dense::<R, H, STEP>(t) }
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dw_t<const R: usize>(t: &DwTile) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { dw_tile::<[__m256; 2], R>(t) }
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pix_t<const R: usize>(t: &DwPix, ox0: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { pix_tile::<[__m256; 2], R>(t, ox0) }
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pix_m<const R: usize>(t: &DwPix, ox0: usize, n_last: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { pix_masked::<[__m256; 2], R>(t, ox0, n_last) }
    }
}

impl Isa for Avx2 {
    const TILES1: &'static [usize] = &[6, 4, 2, 1];
    const TILES2: &'static [usize] = &[];
    const DW_TILES: &'static [usize] = &[6, 4, 2, 1];
    const PIX_TILES: &'static [usize] = &[4, 2, 1];
    unsafe fn dense(r: usize, ob: usize, step: usize, t: &DenseTile<'_>) {
        macro_rules! arms {
            ($(($r:literal, $ob:literal, $h:literal)),*) => {
                match (r, ob, step) {
                    $(
                        ($r, $ob, 16) => Self::dense_t::<$r, $h, 16>(t),
                        ($r, $ob, 1) => Self::dense_t::<$r, $h, 1>(t),
                        ($r, $ob, _) => Self::dense_t::<$r, $h, 0>(t),
                    )*
                    _ => unreachable!("dense tile {r}×{ob} is not compiled"),
                }
            };
        }
        // SAFETY: forwarded contract (every arm); the driver checked AVX2 and FMA.
        unsafe { arms!((6, 1, 2), (4, 1, 2), (2, 1, 2), (1, 1, 2)) }
    }
    unsafe fn dw(r: usize, t: &DwTile) {
        // SAFETY: forwarded contract (every arm).
        unsafe {
            match r {
                6 => Self::dw_t::<6>(t),
                4 => Self::dw_t::<4>(t),
                2 => Self::dw_t::<2>(t),
                1 => Self::dw_t::<1>(t),
                _ => unreachable!("depthwise tile {r} is not compiled"),
            }
        }
    }
    unsafe fn pix(r: usize, t: &DwPix, ox0: usize) {
        // SAFETY: forwarded contract (every arm).
        unsafe {
            match r {
                4 => Self::pix_t::<4>(t, ox0),
                2 => Self::pix_t::<2>(t, ox0),
                1 => Self::pix_t::<1>(t, ox0),
                _ => unreachable!("depthwise tile {r} is not compiled"),
            }
        }
    }
    unsafe fn pix_masked(r: usize, t: &DwPix, ox0: usize, n_last: usize) {
        // SAFETY: forwarded contract (every arm).
        unsafe {
            match r {
                4 => Self::pix_m::<4>(t, ox0, n_last),
                2 => Self::pix_m::<2>(t, ox0, n_last),
                1 => Self::pix_m::<1>(t, ox0, n_last),
                _ => unreachable!("depthwise tile {r} is not compiled"),
            }
        }
    }
}

//! The AVX2 + FMA tiles: a dense tile and an NCHW depthwise tile of its own (the family
//! that runs them is [`Avx2`](super::isa::Avx2)).
//!
//! AVX2 has 16 `ymm` registers of 8 lanes. The generic 16-lane tile runs on it, each of its vectors
//! split over two registers, but well below the tile here, which is written for the machine (the
//! figures: `docs/perf.md`, "Measurements behind the engine's design choices"):
//!
//! - **Register block**: `R` output pixels × `H` half-blocks of 8 output channels, `R·H ≤ 12`
//!   accumulators, `H` weight registers and one broadcast register. Per input channel and
//!   tap: `H` weight loads, `R` broadcasts (`vbroadcastss`), `R·H` FMAs: 6 × 2, one block
//!   of 16 channels.
//! - **Loop order**: on the channel-blocked layout (16 channels of a pixel side by side)
//!   taps outside, channels inside, so consecutive broadcasts read consecutive floats. On
//!   NCHW input (channel planes far apart, which alias in the L1 cache) channels outside,
//!   taps inside, so the kernel columns of one input row reuse the lines the first one
//!   brought in. This order is most of the gain over the generic tile: with taps
//!   outside, this tile is barely faster than the generic one on NCHW input.
//! - **Epilogue from registers**: bias and activation on the accumulators, then either
//!   direct stores to the blocked layout, or an 8 × 8 in-register transpose and one
//!   (masked) store of up to 8 consecutive pixels per output channel to NCHW.
//!
//! Depthwise on NCHW data (16 output pixels per vector) has its own kernel too: the
//! generic masked one masks every vector of a tile that touches a row end, here only the
//! vectors whose taps leave the row are masked, and the stores are inlined. The
//! channel-blocked depthwise kernel is the generic one of [`super::kernels`] on
//! `[__m256; 2]`.

use core::arch::x86_64::{
    __m256, _CMP_LT_OQ, _mm256_add_ps, _mm256_blendv_ps, _mm256_broadcast_ss, _mm256_castsi256_ps,
    _mm256_cmp_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps, _mm256_maskstore_ps,
    _mm256_max_ps, _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use super::kernels::{DenseTile, DwPix, prefetch_next, taps};
use super::simd::{first_masks, lane_bits, lane_masks};
use super::vmath;
use crate::conv::Activation;

/// Most accumulators of a dense tile (of the 16 `ymm` registers, the rest hold the weights
/// and the broadcast input).
const MAX_ACC: usize = 12;

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
pub(crate) unsafe fn dense<const R: usize, const H: usize, const STEP: usize>(t: &DenseTile<'_>) {
    const { assert!(R * H <= MAX_ACC && H.is_multiple_of(2) && H > 0) };
    // SAFETY: AVX enabled (caller).
    let mut acc = [[unsafe { _mm256_setzero_ps() }; H]; R];
    if !t.part.first {
        for (r, a) in acc.iter_mut().enumerate() {
            for (h, ah) in a.iter_mut().enumerate() {
                // SAFETY: `part.sums` holds the tile's `R × H × 8` running sums (caller).
                *ah = unsafe { _mm256_loadu_ps(t.part.sums.add((r * H + h) * 8)) };
            }
        }
    }
    let pstep = if STEP == 0 { t.pstep } else { STEP };
    let row_w = 8 * H;
    for seg in t.segs {
        let nci = seg.hi - seg.lo;
        let xs = t.x.wrapping_add(seg.ib * t.x_cb + seg.lo * t.x_c);
        let ws = t.w.wrapping_add(seg.w_off);
        if t.x_c == 1 {
            // Blocked input: the channels of a pixel are adjacent.
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
                        xp = xp.wrapping_add(1);
                        wp = wp.wrapping_add(row_w);
                    }
                }
            }
        } else {
            // NCHW input: one channel plane at a time, every tap of it (the planes are far
            // apart and alias in the L1 cache; a plane's kernel columns share its lines).
            let tap_w = nci * row_w;
            for ci in 0..nci {
                let xc = xs.wrapping_add(ci * t.x_c);
                let wc = ws.wrapping_add(ci * row_w);
                for ky in t.ky.0..t.ky.1 {
                    let iy = (t.iy0 + (ky * t.dh) as isize) as usize;
                    let xrow = xc.wrapping_add(iy * t.x_row);
                    let wrow = wc.wrapping_add(ky * t.kw * tap_w);
                    for kx in t.kx.0..t.kx.1 {
                        let ix = (t.ix0 + (kx * t.dw) as isize) as usize;
                        // SAFETY: as above.
                        unsafe {
                            step(
                                &mut acc,
                                xrow.wrapping_add(ix * t.x_px),
                                wrow.wrapping_add(kx * tap_w),
                                pstep,
                            );
                        };
                    }
                }
            }
        }
    }
    if !t.part.last {
        for (r, a) in acc.iter().enumerate() {
            for (h, ah) in a.iter().enumerate() {
                // SAFETY: as for the loads above.
                unsafe { _mm256_storeu_ps(t.part.sums.add((r * H + h) * 8), *ah) };
            }
        }
        return;
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

/// GELU, tanh, sigmoid or SiLU ([`vmath`]) on two `ymm` vectors (any other activation
/// through [`vmath::activate`]).
///
/// # Safety
/// AVX2 and FMA enabled.
#[inline(always)]
unsafe fn smooth(v: [__m256; 2], act: Activation) -> [__m256; 2] {
    // SAFETY: register arithmetic; the features are enabled (caller).
    unsafe {
        match act {
            Activation::Gelu => vmath::gelu(v),
            Activation::Tanh => vmath::tanh(v),
            Activation::Sigmoid => vmath::sigmoid(v),
            Activation::Silu => vmath::silu(v),
            // The callers apply these in registers before they get here; should one come
            // this way, it runs the generic vector version.
            Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => {
                vmath::activate(v, act)
            }
        }
    }
}

/// The activation on `N` vectors, in registers.
///
/// # Safety
/// AVX enabled.
#[inline(always)]
unsafe fn activate<const N: usize>(v: &mut [__m256; N], act: Activation) {
    // SAFETY: register arithmetic and local arrays; AVX enabled (caller).
    unsafe {
        let z = _mm256_setzero_ps();
        match act {
            Activation::Identity => {}
            // `max(0, x)` returns `x` when it is NaN, and keeps −0 as the reference does.
            Activation::Relu => {
                for a in v.iter_mut() {
                    *a = _mm256_max_ps(z, *a);
                }
            }
            Activation::LeakyRelu(s) => {
                let s = _mm256_set1_ps(s);
                for a in v.iter_mut() {
                    let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(*a, z);
                    *a = _mm256_blendv_ps(*a, _mm256_mul_ps(*a, s), neg);
                }
            }
            other @ (Activation::Gelu
            | Activation::Tanh
            | Activation::Sigmoid
            | Activation::Silu) => {
                // Two `ymm` at a time through the 16-lane functions.
                for pair in v.chunks_mut(2) {
                    let r = smooth([pair[0], pair[pair.len() - 1]], other);
                    pair[0] = r[0];
                    if let Some(b) = pair.get_mut(1) {
                        *b = r[1];
                    }
                }
            }
        }
    }
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
        for a in acc.iter_mut() {
            activate(a, t.act);
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

/// The 16 × 16 transpose of [`super::kernels::transpose16`] (row `i`'s 16 floats at `src +
/// i·stride` become lane `i` of the 16 rows at `dst + p·dst_stride`) as four 8 × 8 register
/// transposes ([`transpose8`]): AVX2 has no two-source permute across 16 lanes.
///
/// # Safety
/// As [`super::kernels::transpose16`]: 16 rows of 16 floats readable at `src` (`stride`
/// apart), 16 rows of 16 floats writable at `dst` (`dst_stride` apart), not overlapping
/// them; AVX enabled.
#[inline(always)]
pub(crate) unsafe fn transpose16(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
    for ih in 0..2 {
        for ph in 0..2 {
            // SAFETY: AVX enabled (caller); register initialisation.
            let mut v = [unsafe { _mm256_setzero_ps() }; 8];
            for (j, v) in v.iter_mut().enumerate() {
                // SAFETY: columns `8·ph..8·ph + 8` of source row `8·ih + j` (caller).
                *v = unsafe { _mm256_loadu_ps(src.add((8 * ih + j) * stride + 8 * ph)) };
            }
            // SAFETY: register shuffles; AVX enabled (caller).
            let t = unsafe { transpose8(v) };
            for (l, r) in t.iter().enumerate() {
                // SAFETY: lanes `8·ih..8·ih + 8` of destination row `8·ph + l` (caller).
                unsafe { _mm256_storeu_ps(dst.add((8 * ph + l) * dst_stride + 8 * ih), *r) };
            }
        }
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

/// Bias, activation and store of `R` vectors of 16 output pixels of one channel from `out`,
/// the last one holding `n_last` pixels. Every loop over the accumulators is unrolled
/// (the activation is matched outside them), so they stay in registers.
///
/// # Safety
/// `16·(R − 1) + n_last` writable outputs from `out`; AVX2 enabled.
#[inline(always)]
unsafe fn store_pix<const R: usize>(
    acc: &mut [[__m256; 2]; R],
    bias: f32,
    act: Activation,
    out: *mut f32,
    n_last: usize,
) {
    // SAFETY: register arithmetic and local arrays, then the caller's contract (the masked
    // stores write only the first `n_last` pixels of the last vector).
    unsafe {
        let b = _mm256_set1_ps(bias);
        for a in acc.iter_mut() {
            a[0] = _mm256_add_ps(a[0], b);
            a[1] = _mm256_add_ps(a[1], b);
        }
        let z = _mm256_setzero_ps();
        match act {
            Activation::Identity => {}
            // As in `activate`.
            Activation::Relu => {
                for a in acc.iter_mut() {
                    a[0] = _mm256_max_ps(z, a[0]);
                    a[1] = _mm256_max_ps(z, a[1]);
                }
            }
            Activation::LeakyRelu(s) => {
                let s = _mm256_set1_ps(s);
                for a in acc.iter_mut() {
                    for v in a.iter_mut() {
                        let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(*v, z);
                        *v = _mm256_blendv_ps(*v, _mm256_mul_ps(*v, s), neg);
                    }
                }
            }
            other @ (Activation::Gelu
            | Activation::Tanh
            | Activation::Sigmoid
            | Activation::Silu) => {
                for a in acc.iter_mut() {
                    *a = smooth(*a, other);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let p = out.wrapping_add(16 * r);
            if r + 1 == R && n_last < 16 {
                let [lo, hi] = first_masks(n_last);
                _mm256_maskstore_ps(p, lo, a[0]);
                _mm256_maskstore_ps(p.wrapping_add(8), hi, a[1]);
            } else {
                _mm256_storeu_ps(p, a[0]);
                _mm256_storeu_ps(p.wrapping_add(8), a[1]);
            }
        }
    }
}

/// Kernel columns whose lane masks [`pix`] computes once per call (wider kernels: per tap).
const PIX_MAXK: usize = 8;

/// Depthwise on NCHW data: `R` vectors of 16 output pixels from `ox0` (the last one
/// holding `n_last` pixels), one channel, the rows `t.rows`. With `MASKED`, each (vector,
/// kernel column) whose lanes are not all inside the input row reads and accumulates only
/// the lanes inside it (masked-off lanes are neither read nor multiplied, so an infinite
/// weight never meets the padding, as in the reference); a kernel column whose vectors
/// are all inside takes the plain path. Without `MASKED`, every lane's every tap must be
/// inside the row.
///
/// # Safety
/// As [`pix_tile`](super::kernels::pix_tile) (or
/// [`pix_masked`](super::kernels::pix_masked) with `MASKED`);
/// AVX2 and FMA enabled.
#[inline(always)]
pub(crate) unsafe fn pix<const R: usize, const MASKED: bool>(t: &DwPix, ox0: usize, n_last: usize) {
    let iw = t.iw as isize;
    let masks_for = |kx: usize| {
        let ixk = ox0 as isize + (kx * t.dw) as isize - t.pl as isize;
        let mut m = [u16::MAX; R];
        for (r, m) in m.iter_mut().enumerate() {
            let ix = ixk + 16 * r as isize;
            let lo = (-ix).clamp(0, 16) as usize;
            let hi = (iw - ix).clamp(0, 16) as usize;
            *m = if lo < hi { lane_bits(lo, hi) } else { 0 };
        }
        m
    };
    // Per kernel column: its lane masks as vectors (loaded, not rebuilt, in the tap loop),
    // and whether they are all full.
    let vec_masks = |kx: usize| {
        let m = masks_for(kx);
        // SAFETY: register initialisation.
        let mut v = [unsafe { lane_masks(u16::MAX) }; R];
        for (v, &m) in v.iter_mut().zip(&m) {
            // SAFETY: register arithmetic; AVX2 enabled (caller).
            *v = unsafe { lane_masks(m) };
        }
        (v, m.iter().all(|&m| m == u16::MAX))
    };
    // SAFETY: register initialisation.
    let ones = unsafe { lane_masks(u16::MAX) };
    let mut pre = [([ones; R], true); PIX_MAXK];
    if MASKED {
        for (kx, p) in pre.iter_mut().enumerate().take(t.kw) {
            *p = vec_masks(kx);
        }
    }
    for oy in t.rows.0..t.rows.1 {
        let ky = taps(oy, t.sh, t.dh, t.pt, t.kh, t.ih);
        let iy0 = (oy * t.sh) as isize - t.pt as isize;
        // SAFETY: register initialisation.
        let mut acc = [[unsafe { _mm256_setzero_ps() }; 2]; R];
        for ky in ky.0..ky.1 {
            // Non-negative for every valid kernel row.
            let iy = (iy0 + (ky * t.dh) as isize) as usize;
            let xrow = t.x.wrapping_add(iy * t.iw);
            for kx in 0..t.kw {
                // SAFETY: `KH × KW` weights; AVX enabled.
                let w = unsafe { _mm256_broadcast_ss(&*t.w.add(ky * t.kw + kx)) };
                // The tap's input for lane 0 of vector 0 (outside the row near its ends).
                let xp = xrow.wrapping_add(ox0 + kx * t.dw).wrapping_sub(t.pl);
                let wide;
                let (m, full) = if !MASKED {
                    (&pre[0].0, true)
                } else if let Some((m, full)) = pre.get(kx) {
                    (m, *full)
                } else {
                    wide = vec_masks(kx);
                    (&wide.0, wide.1)
                };
                if full {
                    for (r, a) in acc.iter_mut().enumerate() {
                        let p = xp.wrapping_add(16 * r);
                        // SAFETY: every lane's tap is inside the row (full masks, or the
                        // caller's guarantee without `MASKED`).
                        unsafe {
                            a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(p), w, a[0]);
                            a[1] = _mm256_fmadd_ps(_mm256_loadu_ps(p.wrapping_add(8)), w, a[1]);
                        }
                    }
                    continue;
                }
                for (r, a) in acc.iter_mut().enumerate() {
                    let p = xp.wrapping_add(16 * r);
                    // SAFETY: only the lanes inside the row are read (a masked-off lane is
                    // neither read nor faulted on), and the others keep their accumulator.
                    unsafe {
                        let [lo, hi] = m[r];
                        let x0 = _mm256_maskload_ps(p, lo);
                        let x1 = _mm256_maskload_ps(p.wrapping_add(8), hi);
                        let f0 = _mm256_fmadd_ps(x0, w, a[0]);
                        let f1 = _mm256_fmadd_ps(x1, w, a[1]);
                        a[0] = _mm256_blendv_ps(a[0], f0, _mm256_castsi256_ps(lo));
                        a[1] = _mm256_blendv_ps(a[1], f1, _mm256_castsi256_ps(hi));
                    }
                }
            }
        }
        prefetch_next::<R>(t, oy, ox0);
        let out = t.out.wrapping_add(oy * t.ow + ox0);
        // SAFETY: `16·(R − 1) + n_last` outputs from `ox0` are inside the output row
        // (caller).
        unsafe { store_pix(&mut acc, t.bias, t.act, out, n_last) };
    }
}

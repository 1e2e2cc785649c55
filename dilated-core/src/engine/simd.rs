//! Sixteen-lane `f32` vectors: one type per instruction set, one set of operations, so
//! every kernel is written once (generic over [`V16`]) and compiled per instruction set.
//!
//! - `[f32; 16]`: the portable vector, plain loops the compiler may autovectorise.
//! - `[__m256; 2]`: AVX2 + FMA, two `ymm` registers.
//! - `__m512`: AVX-512F, one `zmm` register.
//!
//! Every method is `unsafe`: the pointer arguments must be valid for the lanes the method
//! touches, and the x86 types may only be used inside a function compiled with the matching
//! target features (the kernels' `#[target_feature]` entry points guarantee this).

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m256, __m256i, __m512, _CMP_LT_OQ, _CMP_UNORD_Q, _MM_FROUND_NO_EXC,
    _MM_FROUND_TO_NEAREST_INT, _MM_HINT_T0, _mm_prefetch, _mm_sfence, _mm256_add_epi32,
    _mm256_add_ps, _mm256_and_ps, _mm256_and_si256, _mm256_blendv_ps, _mm256_castpd_ps,
    _mm256_castps_pd, _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cmpeq_epi32, _mm256_cmpgt_epi32,
    _mm256_cvtps_epi32, _mm256_div_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mask_i32gather_ps,
    _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_min_ps, _mm256_movemask_ps,
    _mm256_mul_ps, _mm256_mullo_epi32, _mm256_or_ps, _mm256_permute4x64_pd, _mm256_round_ps,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_shuffle_ps,
    _mm256_slli_epi32, _mm256_srai_epi32, _mm256_storeu_ps, _mm256_stream_ps, _mm256_sub_epi32,
    _mm256_sub_ps, _mm512_abs_ps, _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_div_ps,
    _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_mask_blend_ps,
    _mm512_mask_i32gather_ps, _mm512_mask_storeu_ps, _mm512_mask3_fmadd_ps, _mm512_maskz_loadu_ps,
    _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps, _mm512_mullo_epi32, _mm512_permutex2var_ps,
    _mm512_roundscale_ps, _mm512_scalef_ps, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setr_epi32,
    _mm512_setzero_ps, _mm512_storeu_ps, _mm512_stream_ps, _mm512_sub_ps,
};

/// Lanes per vector (and channels per block of the blocked layout).
pub(crate) const LANES: usize = 16;

/// Orders this thread's earlier [`V16::stream`] stores before its later stores (so before
/// the store that tells another thread the work is done).
#[inline]
pub(crate) fn fence_streams() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline.
    unsafe {
        _mm_sfence();
    }
}

/// Asks the cache for the line holding `p` (a hint: never faults, whatever `p` is; a
/// no-op off x86-64).
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline; a prefetch reads nothing and never
    // faults, even at an address outside any allocation.
    unsafe {
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A vector of 16 `f32` lanes.
///
/// Every method is `unsafe` and shares one contract: it runs only where the CPU supports
/// the vector type's instruction set, which the kernels guarantee by running inside
/// `#[target_feature]` functions of a family the CPU has; the methods that take pointers
/// also need the lanes they touch to be in bounds. Each method's `# Safety` says which.
/// The implementations below inherit these contracts.
pub(crate) trait V16: Copy {
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn zero() -> Self;
    /// All lanes `x`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn splat(x: f32) -> Self;
    /// Loads 16 lanes from `p` (unaligned).
    ///
    /// # Safety
    /// 16 floats are readable from `p`; the CPU supports the vector type's instruction set.
    unsafe fn load(p: *const f32) -> Self;
    /// Stores 16 lanes to `p` (unaligned).
    ///
    /// # Safety
    /// 16 floats are writable from `p`; the CPU supports the vector type's instruction set.
    unsafe fn store(self, p: *mut f32);
    /// Stores 16 lanes to `p`, 64-byte aligned, past the caches where the instruction
    /// set has non-temporal stores (no read of the line before it is written); a plain
    /// store elsewhere. The stores are weakly ordered: the writer ends with [`fence_streams`]
    /// before another thread may read them.
    ///
    /// # Safety
    /// 16 floats are writable from `p`, which is 64-byte aligned; the CPU supports the
    /// vector type's instruction set.
    unsafe fn stream(self, p: *mut f32);
    /// `self · b + c` (fused where the hardware has it).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn fma(self, b: Self, c: Self) -> Self;
    /// `self + b`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn add(self, b: Self) -> Self;
    /// `self − b`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn sub(self, b: Self) -> Self;
    /// Whether any lane is NaN or infinite.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn nonfinite(self) -> bool;
    /// Lane `l` of the 32 lanes `self ‖ b` picked by `idx[l]` (< 32).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn perm2(self, b: Self, idx: &[u32; 16]) -> Self;
    /// The 16 columns a stride-2 tile reads from two loads: lanes 0, 2, …, 14 of `self`,
    /// then lanes 0, 2, …, 14 of `b` — or, with `odd`, lanes 1, 3, …, 15 of `b` (the second
    /// load taken one column earlier).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    #[inline(always)]
    unsafe fn evens(self, b: Self, odd: bool) -> Self {
        // SAFETY: forwarded contract.
        unsafe { self.perm2(b, if odd { &EVENS_ODDS } else { &EVENS }) }
    }
    /// `self · b`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn mul(self, b: Self) -> Self;
    /// `self / b`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn div(self, b: Self) -> Self;
    /// `self < b ? self : b` per lane (so `b` where either is NaN, as `vminps`).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn min(self, b: Self) -> Self;
    /// `self > b ? self : b` per lane (so `b` where either is NaN, as `vmaxps`).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn max(self, b: Self) -> Self;
    /// Rounded to the nearest integer, ties to even (NaN stays NaN).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn round(self) -> Self;
    /// `self · 2ⁿ` for integral `n` with `|n| ≤ 256` (overflowing to ±∞, underflowing to
    /// 0 as the product would).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn scale2(self, n: Self) -> Self;
    /// `|self|`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn abs(self) -> Self;
    /// `a` in the lanes where `self < 0`, `b` elsewhere (NaN lanes take `b`).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn select_neg(self, a: Self, b: Self) -> Self;
    /// ReLU that keeps NaN (`x < 0 ? 0 : x`).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn relu(self) -> Self;
    /// Leaky ReLU (`x < 0 ? slope·x : x`).
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn leaky(self, slope: f32) -> Self;
    /// The lanes set in `m` from `p + lane`, zero elsewhere; reads only those lanes, so `p`
    /// itself may point outside the allocation (build it with `wrapping_*`).
    ///
    /// # Safety
    /// The floats at `p + l` are readable for every lane `l` set in `m`; the CPU supports the vector type's instruction set.
    unsafe fn load_mask(p: *const f32, m: u16) -> Self;
    /// Stores the first `n` (≤ 16) lanes to `p`.
    ///
    /// # Safety
    /// `min(n, 16)` floats are writable from `p`; the CPU supports the vector type's instruction set.
    unsafe fn store_first(self, p: *mut f32, n: usize);
    /// `self · w + c` in the lanes set in `m`, `c` elsewhere.
    ///
    /// # Safety
    /// The CPU supports the vector type's instruction set (the caller runs with its target
    /// features enabled).
    unsafe fn fma_mask(self, w: Self, c: Self, m: u16) -> Self;
    /// Lane `i < n` (≤ 16) from `p + i·stride`, zero elsewhere (not read).
    ///
    /// # Safety
    /// The float at `p + i·stride` is readable for every `i < min(n, 16)`, and `16·stride`
    /// fits in an `i32`; the CPU supports the vector type's instruction set.
    unsafe fn gather(p: *const f32, stride: usize, n: usize) -> Self;
}

/// The lane mask `lo..hi` as bits.
#[inline(always)]
pub(crate) fn lane_bits(lo: usize, hi: usize) -> u16 {
    debug_assert!(lo <= hi && hi <= LANES);
    let upto = |n: usize| ((1u32 << n) - 1) as u16;
    upto(hi) & !upto(lo)
}

/// [`V16::evens`]'s lanes as [`V16::perm2`] indices: lane `j` of `a ‖ b` is lane `2j` of the
/// 32 (the inputs of 16 outputs at stride 2, `b` loaded 16 columns after `a`).
const EVENS: [u32; 16] = even_lanes(0);

/// The same 16 columns with `b` loaded 15 columns after `a`: the even lanes of `a`, then the
/// odd lanes of `b`.
const EVENS_ODDS: [u32; 16] = even_lanes(1);

/// `a`'s lanes 0, 2, …, 14, then `b`'s (16 + the same) shifted by `skew`.
const fn even_lanes(skew: u32) -> [u32; 16] {
    let mut e = [0u32; 16];
    let mut j = 0;
    while j < 16 {
        e[j] = 2 * j as u32 + if j >= 8 { skew } else { 0 };
        j += 1;
    }
    e
}

impl V16 for [f32; 16] {
    #[inline(always)]
    unsafe fn zero() -> Self {
        [0.0; 16]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        [x; 16]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable lanes at `p`.
        unsafe { p.cast::<[f32; 16]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable lanes at `p`.
        unsafe { p.cast::<[f32; 16]>().write_unaligned(self) }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable lanes at `p`.
        unsafe { self.store(p) }
    }
    #[inline(always)]
    unsafe fn fma(self, b: Self, c: Self) -> Self {
        let mut out = c;
        for l in 0..16 {
            // Unfused: `mul_add` without hardware FMA is a slow libm call.
            out[l] += self[l] * b[l];
        }
        out
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        let mut out = self;
        for l in 0..16 {
            out[l] += b[l];
        }
        out
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        let mut out = self;
        for l in 0..16 {
            out[l] -= b[l];
        }
        out
    }
    #[inline(always)]
    unsafe fn nonfinite(self) -> bool {
        self.iter().any(|x| !x.is_finite())
    }
    #[inline(always)]
    unsafe fn perm2(self, b: Self, idx: &[u32; 16]) -> Self {
        idx.map(|i| {
            let i = i as usize % 32;
            if i < 16 { self[i] } else { b[i - 16] }
        })
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        core::array::from_fn(|l| self[l] * b[l])
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        core::array::from_fn(|l| self[l] / b[l])
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        core::array::from_fn(|l| if self[l] < b[l] { self[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        core::array::from_fn(|l| if self[l] > b[l] { self[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        self.map(f32::round_ties_even)
    }
    #[inline(always)]
    unsafe fn scale2(self, n: Self) -> Self {
        // Two steps, each a power of two inside the normal range for |n| ≤ 252.
        core::array::from_fn(|l| {
            let n = n[l] as i32;
            let (a, b) = (n / 2, n - n / 2);
            let p = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
            self[l] * p(a) * p(b)
        })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        self.map(f32::abs)
    }
    #[inline(always)]
    unsafe fn select_neg(self, a: Self, b: Self) -> Self {
        core::array::from_fn(|l| if self[l] < 0.0 { a[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        self.map(|x| if x < 0.0 { 0.0 } else { x })
    }
    #[inline(always)]
    unsafe fn leaky(self, slope: f32) -> Self {
        self.map(|x| if x < 0.0 { x * slope } else { x })
    }
    #[inline(always)]
    unsafe fn load_mask(p: *const f32, m: u16) -> Self {
        let mut out = [0.0; 16];
        for (l, o) in out.iter_mut().enumerate() {
            if m & (1 << l) != 0 {
                // SAFETY: the caller guarantees the lanes in `m` at `p` are readable.
                *o = unsafe { p.wrapping_add(l).read() };
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: the caller guarantees `n` writable lanes at `p`; `n ≤ 16`.
        unsafe { core::ptr::copy_nonoverlapping(self.as_ptr(), p, n.min(16)) }
    }
    #[inline(always)]
    unsafe fn fma_mask(self, w: Self, c: Self, m: u16) -> Self {
        let mut out = c;
        for l in 0..16 {
            if m & (1 << l) != 0 {
                out[l] += self[l] * w[l];
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn gather(p: *const f32, stride: usize, n: usize) -> Self {
        let mut out = [0.0; 16];
        for (i, o) in out.iter_mut().enumerate().take(n) {
            // SAFETY: the caller guarantees lanes `i < n` at `p + i·stride` are readable.
            *o = unsafe { p.wrapping_add(i * stride).read() };
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
impl V16 for [__m256; 2] {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX is enabled in every caller of the AVX2 kernels.
        unsafe { [_mm256_setzero_ps(); 2] }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: AVX is enabled in every caller of the AVX2 kernels.
        unsafe { [_mm256_set1_ps(x); 2] }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: 16 readable lanes at `p` (caller); AVX enabled.
        unsafe { [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))] }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: 16 writable lanes at `p` (caller); AVX enabled.
        unsafe {
            _mm256_storeu_ps(p, self[0]);
            _mm256_storeu_ps(p.add(8), self[1]);
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        // SAFETY: 16 writable lanes at `p`, 64-byte aligned, so both halves 32-byte
        // aligned (caller); AVX enabled.
        unsafe {
            _mm256_stream_ps(p, self[0]);
            _mm256_stream_ps(p.add(8), self[1]);
        }
    }
    #[inline(always)]
    unsafe fn fma(self, b: Self, c: Self) -> Self {
        // SAFETY: FMA is enabled in every caller of the AVX2 kernels.
        unsafe {
            [
                _mm256_fmadd_ps(self[0], b[0], c[0]),
                _mm256_fmadd_ps(self[1], b[1], c[1]),
            ]
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_add_ps(self[0], b[0]), _mm256_add_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_sub_ps(self[0], b[0]), _mm256_sub_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn nonfinite(self) -> bool {
        // SAFETY: AVX enabled. `x − x` is NaN exactly where `x` is NaN or infinite.
        unsafe {
            let d = [
                _mm256_sub_ps(self[0], self[0]),
                _mm256_sub_ps(self[1], self[1]),
            ];
            let u = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_UNORD_Q>(d[0], d[0]),
                _mm256_cmp_ps::<_CMP_UNORD_Q>(d[1], d[1]),
            );
            _mm256_movemask_ps(u) != 0
        }
    }
    #[inline(always)]
    unsafe fn perm2(self, b: Self, idx: &[u32; 16]) -> Self {
        // SAFETY: AVX enabled; the lanes go through arrays on the stack (AVX2 has no
        // two-source permute across 16 lanes; this family does not run the kernels that
        // permute by default).
        unsafe {
            let mut all = [0.0f32; 32];
            for (k, v) in [self[0], self[1], b[0], b[1]].into_iter().enumerate() {
                _mm256_storeu_ps(all.as_mut_ptr().add(8 * k), v);
            }
            let out = idx.map(|i| all[i as usize % 32]);
            [
                _mm256_loadu_ps(out.as_ptr()),
                _mm256_loadu_ps(out.as_ptr().add(8)),
            ]
        }
    }
    #[inline(always)]
    unsafe fn evens(self, b: Self, odd: bool) -> Self {
        // Per 128-bit half, `shuffle_ps` takes two lanes of each source ([x0 x2 y0 y2 | x4
        // x6 y4 y6] for the even ones); the 64-bit permute puts the halves' pairs in order.
        // (No closures: they would lose the target features and call every intrinsic.)
        // SAFETY: AVX2 enabled; register operations only.
        unsafe {
            let lo = _mm256_shuffle_ps::<0b10_00_10_00>(self[0], self[1]);
            let hi = if odd {
                _mm256_shuffle_ps::<0b11_01_11_01>(b[0], b[1])
            } else {
                _mm256_shuffle_ps::<0b10_00_10_00>(b[0], b[1])
            };
            [
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(lo))),
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(hi))),
            ]
        }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_mul_ps(self[0], b[0]), _mm256_mul_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_div_ps(self[0], b[0]), _mm256_div_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_min_ps(self[0], b[0]), _mm256_min_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe { [_mm256_max_ps(self[0], b[0]), _mm256_max_ps(self[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: AVX enabled.
        unsafe {
            const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            [
                _mm256_round_ps::<NEAREST>(self[0]),
                _mm256_round_ps::<NEAREST>(self[1]),
            ]
        }
    }
    #[inline(always)]
    unsafe fn scale2(self, n: Self) -> Self {
        // SAFETY: AVX2 enabled. Two steps, each a power of two built in the exponent field
        // and inside the normal range for |n| ≤ 252. (No closures: they would lose the
        // target features and call every intrinsic.)
        unsafe {
            let bias = _mm256_set1_epi32(127);
            let mut out = self;
            for (o, n) in out.iter_mut().zip(n) {
                let n = _mm256_cvtps_epi32(n);
                let a = _mm256_srai_epi32::<1>(n);
                let b = _mm256_sub_epi32(n, a);
                let pa = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(a, bias)));
                let pb = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(b, bias)));
                *o = _mm256_mul_ps(_mm256_mul_ps(*o, pa), pb);
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX enabled; clears the sign bits.
        unsafe {
            let m = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
            [_mm256_and_ps(self[0], m), _mm256_and_ps(self[1], m)]
        }
    }
    #[inline(always)]
    unsafe fn select_neg(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX enabled.
        unsafe {
            let z = _mm256_setzero_ps();
            let mut out = b;
            for ((o, v), a) in out.iter_mut().zip(self).zip(a) {
                *o = _mm256_blendv_ps(*o, a, _mm256_cmp_ps::<_CMP_LT_OQ>(v, z));
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // SAFETY: AVX enabled.
        unsafe {
            let z = _mm256_setzero_ps();
            let mut out = self;
            for v in &mut out {
                *v = _mm256_blendv_ps(*v, z, _mm256_cmp_ps::<_CMP_LT_OQ>(*v, z));
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn leaky(self, slope: f32) -> Self {
        // SAFETY: AVX enabled.
        unsafe {
            let z = _mm256_setzero_ps();
            let s = _mm256_set1_ps(slope);
            let mut out = self;
            for v in &mut out {
                *v = _mm256_blendv_ps(*v, _mm256_mul_ps(*v, s), _mm256_cmp_ps::<_CMP_LT_OQ>(*v, z));
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn load_mask(p: *const f32, m: u16) -> Self {
        // SAFETY: `vmaskmovps` neither reads nor faults on masked-off lanes, and the lanes
        // in `m` are readable (caller), so the halves' addresses may lie outside the
        // allocation (built with `wrapping_add`); AVX2 enabled.
        unsafe {
            let [lo, hi] = lane_masks(m);
            [
                _mm256_maskload_ps(p, lo),
                _mm256_maskload_ps(p.wrapping_add(8), hi),
            ]
        }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: `vmaskmovps` writes only the lanes below `n`, which are writable
        // (caller); AVX2 enabled.
        unsafe {
            let [lo, hi] = first_masks(n);
            _mm256_maskstore_ps(p, lo, self[0]);
            _mm256_maskstore_ps(p.wrapping_add(8), hi, self[1]);
        }
    }
    #[inline(always)]
    unsafe fn fma_mask(self, w: Self, c: Self, m: u16) -> Self {
        // SAFETY: register arithmetic; FMA and AVX2 enabled.
        unsafe {
            let [lo, hi] = lane_masks(m);
            [
                _mm256_blendv_ps(
                    c[0],
                    _mm256_fmadd_ps(self[0], w[0], c[0]),
                    _mm256_castsi256_ps(lo),
                ),
                _mm256_blendv_ps(
                    c[1],
                    _mm256_fmadd_ps(self[1], w[1], c[1]),
                    _mm256_castsi256_ps(hi),
                ),
            ]
        }
    }
    #[inline(always)]
    unsafe fn gather(p: *const f32, stride: usize, n: usize) -> Self {
        // SAFETY: masked-off lanes are neither read nor faulted on; lanes `i < n` at
        // `p + i·stride` are readable (caller); `16·stride` fits in `i32` (callers pass
        // strides of at most 32 floats); AVX2 enabled.
        unsafe {
            let [lo, hi] = first_masks(n);
            let s = _mm256_set1_epi32(stride as i32);
            let idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), s);
            let z = _mm256_setzero_ps();
            [
                _mm256_mask_i32gather_ps::<4>(z, p, idx, _mm256_castsi256_ps(lo)),
                _mm256_mask_i32gather_ps::<4>(
                    z,
                    p.wrapping_add(8 * stride),
                    idx,
                    _mm256_castsi256_ps(hi),
                ),
            ]
        }
    }
}

/// The 16 bits of `m` as two AVX2 lane masks (all ones where set).
///
/// # Safety
/// AVX2 must be enabled in the caller.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn lane_masks(m: u16) -> [__m256i; 2] {
    // SAFETY: AVX2 enabled (caller).
    unsafe {
        let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let lo = _mm256_set1_epi32(i32::from(m & 0xFF));
        let hi = _mm256_set1_epi32(i32::from(m >> 8));
        [
            _mm256_cmpeq_epi32(_mm256_and_si256(lo, bits), bits),
            _mm256_cmpeq_epi32(_mm256_and_si256(hi, bits), bits),
        ]
    }
}

/// Lane masks of the first `n` (clamped to 16) of 16 lanes.
///
/// # Safety
/// AVX2 must be enabled in the caller.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn first_masks(n: usize) -> [__m256i; 2] {
    // SAFETY: AVX2 enabled (caller).
    unsafe {
        let n = _mm256_set1_epi32(n.min(LANES) as i32);
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        [
            _mm256_cmpgt_epi32(n, iota),
            _mm256_cmpgt_epi32(n, _mm256_add_epi32(iota, _mm256_set1_epi32(8))),
        ]
    }
}

#[cfg(target_arch = "x86_64")]
impl V16 for __m512 {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F is enabled in every caller of the AVX-512 kernels.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: 16 readable lanes at `p` (caller); AVX-512F enabled.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: 16 writable lanes at `p` (caller); AVX-512F enabled.
        unsafe { _mm512_storeu_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        // SAFETY: 16 writable lanes at `p`, 64-byte aligned (caller); AVX-512F enabled.
        unsafe { _mm512_stream_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn fma(self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_fmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_sub_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn nonfinite(self) -> bool {
        // SAFETY: AVX-512F enabled. `x − x` is NaN exactly where `x` is NaN or infinite.
        unsafe {
            let d = _mm512_sub_ps(self, self);
            _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(d, d) != 0
        }
    }
    #[inline(always)]
    unsafe fn perm2(self, b: Self, idx: &[u32; 16]) -> Self {
        // SAFETY: AVX-512F enabled; `idx` is 16 readable `u32`s (only the low 5 bits of
        // each select).
        unsafe {
            let i = _mm512_loadu_si512(idx.as_ptr().cast());
            _mm512_permutex2var_ps(self, i, b)
        }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_div_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_min_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_max_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: AVX-512F enabled; `roundscale` with 0 fraction bits, to nearest even.
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self) }
    }
    #[inline(always)]
    unsafe fn scale2(self, n: Self) -> Self {
        // SAFETY: AVX-512F enabled; `vscalefps` is `self · 2^floor(n)`, exact for integral `n`.
        unsafe { _mm512_scalef_ps(self, n) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_abs_ps(self) }
    }
    #[inline(always)]
    unsafe fn select_neg(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe {
            let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self, _mm512_setzero_ps());
            _mm512_mask_blend_ps(m, b, a)
        }
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe {
            let z = _mm512_setzero_ps();
            _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(self, z), self, z)
        }
    }
    #[inline(always)]
    unsafe fn leaky(self, slope: f32) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe {
            let z = _mm512_setzero_ps();
            let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self, z);
            _mm512_mask_blend_ps(m, self, _mm512_mul_ps(self, _mm512_set1_ps(slope)))
        }
    }
    #[inline(always)]
    unsafe fn load_mask(p: *const f32, m: u16) -> Self {
        // SAFETY: masked-off lanes are neither read nor faulted on; the lanes in `m` are
        // readable (caller); AVX-512F enabled.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: only the first `n` lanes are written, and they are writable (caller).
        unsafe { _mm512_mask_storeu_ps(p, lane_bits(0, n.min(16)), self) }
    }
    #[inline(always)]
    unsafe fn fma_mask(self, w: Self, c: Self, m: u16) -> Self {
        // SAFETY: AVX-512F enabled.
        unsafe { _mm512_mask3_fmadd_ps(self, w, c, m) }
    }
    #[inline(always)]
    unsafe fn gather(p: *const f32, stride: usize, n: usize) -> Self {
        // SAFETY: AVX-512F enabled; masked-off lanes are not read, and lanes `i < n` at
        // `p + i·stride` are readable (caller); `16·stride` fits in `i32` (callers pass
        // strides of at most 32 floats).
        unsafe {
            let idx = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(stride as i32),
            );
            _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), lane_bits(0, n.min(16)), idx, p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_bits_cover_ranges() {
        assert_eq!(lane_bits(0, 16), 0xFFFF);
        assert_eq!(lane_bits(2, 5), 0b11100);
        assert_eq!(lane_bits(3, 3), 0);
    }

    /// 32 distinct values, so that any lane taken from the wrong place shows.
    fn two_vectors() -> ([f32; 16], [f32; 16]) {
        (
            core::array::from_fn(|i| i as f32),
            core::array::from_fn(|i| 100.0 + i as f32),
        )
    }

    /// What [`V16::evens`] must give: lane `j < 8` is lane `2j` of `a`, lane `8 + j` lane
    /// `2j` (or `2j + 1`, `odd`) of `b`.
    fn evens_by_hand(a: &[f32; 16], b: &[f32; 16], odd: bool) -> [f32; 16] {
        core::array::from_fn(|l| {
            if l < 8 {
                a[2 * l]
            } else {
                b[2 * (l - 8) + usize::from(odd)]
            }
        })
    }

    #[test]
    fn portable_evens_take_the_stride_two_lanes() {
        let (a, b) = two_vectors();
        for odd in [false, true] {
            // SAFETY: the portable vector needs no CPU feature.
            let got = unsafe { a.evens(b, odd) };
            assert_eq!(got, evens_by_hand(&a, &b, odd), "odd {odd}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_avx512_evens_take_the_stride_two_lanes() {
        /// `evens` of the two arrays loaded as `V`, stored back.
        ///
        /// # Safety
        /// The CPU supports `V` (the callers enable its features).
        #[inline(always)]
        unsafe fn evens_as<V: V16>(a: &[f32; 16], b: &[f32; 16], odd: bool) -> [f32; 16] {
            let mut out = [0.0; 16];
            // SAFETY: 16 floats each; the caller's CPU support.
            unsafe {
                V::load(a.as_ptr())
                    .evens(V::load(b.as_ptr()), odd)
                    .store(out.as_mut_ptr())
            };
            out
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(a: &[f32; 16], b: &[f32; 16], odd: bool) -> [f32; 16] {
            // SAFETY: the features are enabled on this function.
            unsafe { evens_as::<[__m256; 2]>(a, b, odd) }
        }
        #[target_feature(enable = "avx512f")]
        fn avx512(a: &[f32; 16], b: &[f32; 16], odd: bool) -> [f32; 16] {
            // SAFETY: the feature is enabled on this function.
            unsafe { evens_as::<__m512>(a, b, odd) }
        }
        let (a, b) = two_vectors();
        for odd in [false, true] {
            let want = evens_by_hand(&a, &b, odd);
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the features were just detected.
                assert_eq!(unsafe { avx2(&a, &b, odd) }, want, "avx2, odd {odd}");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the feature was just detected.
                assert_eq!(unsafe { avx512(&a, &b, odd) }, want, "avx512, odd {odd}");
            }
        }
    }
}

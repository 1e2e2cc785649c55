//! The instruction-set families: one type per family, and the traits through which the
//! drivers call the tiles, monomorphised and compiled with the family's target features.
//!
//! - [`Isa`]: the channel-blocked tiles ([`super::kernels`], and [`super::avx2`]'s own on
//!   AVX2), the NCHW depthwise tiles and the transforms of the channel-blocked Winograd
//!   ([`super::wino2`]).
//! - [`NchwIsa`]: the dense tiles on NCHW data ([`super::nchw`]) and the Winograd tiles
//!   ([`super::wino`]).
//!
//! Every entry point takes the tile's width (and mode) as run-time values and matches them
//! to a kernel compiled for exactly that width, inside a `#[target_feature]` function, so
//! the generic tiles (`#[inline(always)]`) are compiled once per family with its
//! instructions. A new instruction set is a vector type implementing
//! [`V16`](super::simd::V16), a family type here with both traits, a
//! [`Kernel`] variant that names it, and that variant's arm in every
//! match over the families (the engine's dispatch, `frame::run_frame`): those matches name
//! every variant, so the compiler lists them.

#[cfg(target_arch = "x86_64")]
use super::avx2;
use super::kernels::{
    DenseTile, DwPix, DwTile, dense_tile, dw_tile, pix_masked, pix_tile, pix3_tile, transpose16,
};
use super::nchw::{NchwTile, nchw_tile, split_row};
use super::tiles::Tiles;
use super::wino::{Mode, WinoTile, wino_tile};
use super::wino2::{Wino2In, Wino2Out, wino2_in, wino2_out};
use crate::kernel::Kernel;

/// The tile entry points of one instruction set. The `r` and `ob` arguments pick a
/// monomorphised kernel; the driver only passes values from [`Isa::TILES1`] / [`Isa::TILES2`]
/// and `1..=OBMAX`. The dense entry also matches the tile's pixel step (`pstep`): the steps
/// the family compiled as constants run their own kernel, any other the run-time one.
pub(crate) trait Isa: Copy + Send + Sync + 'static {
    /// The family's name as the dispatch knows it (the elementwise steps run on it).
    const KERNEL: Kernel;
    /// Dense tile widths with one output block, widest first (the driver decomposes row
    /// segments into these).
    const TILES1: &'static [usize];
    /// Dense tile widths with two output blocks (empty: one block per tile at most).
    const TILES2: &'static [usize];
    /// Most output blocks per dense tile.
    const OBMAX: usize = if Self::TILES2.is_empty() { 1 } else { 2 };
    /// Depthwise (blocked) tile widths.
    const DW_TILES: &'static [usize];
    /// NCHW depthwise tile sizes in vectors of 16 pixels, widest first.
    const PIX_TILES: &'static [usize];
    /// Widths in vectors of the NCHW 3 × 3 depthwise walk at stride 1 down ([`pix3_tile`]),
    /// widest first; empty where the family runs [`Isa::PIX_TILES`] there.
    const PIX3_TILES: &'static [usize];
    /// # Safety
    /// As [`dense_tile`], and the CPU supports this instruction set; `r` is in
    /// [`Isa::TILES1`] or [`Isa::TILES2`] as `ob` is 1 or 2.
    unsafe fn dense(r: usize, ob: usize, t: &DenseTile<'_>);
    /// # Safety
    /// As [`dw_tile`], and the CPU supports this instruction set.
    unsafe fn dw(r: usize, t: &DwTile);
    /// # Safety
    /// As [`pix_tile`], and the CPU supports this instruction set.
    unsafe fn pix(r: usize, t: &DwPix, ox0: usize);
    /// # Safety
    /// As [`pix_masked`], and the CPU supports this instruction set.
    unsafe fn pix_masked(r: usize, t: &DwPix, ox0: usize, n_last: usize);
    /// # Safety
    /// As [`pix3_tile`] (with `MASKED = masked`), and the CPU supports this instruction set;
    /// `r` is in [`Isa::PIX3_TILES`].
    unsafe fn pix3(r: usize, t: &DwPix, ox0: usize, n_last: usize, masked: bool);
    /// # Safety
    /// As [`wino2_in`], and the CPU supports this instruction set.
    unsafe fn wino2_in(t: &Wino2In);
    /// # Safety
    /// As [`wino2_out`], and the CPU supports this instruction set.
    unsafe fn wino2_out(t: &Wino2Out) -> bool;
    /// Transposes a 16 × 16 block, as [`transpose16`] (AVX2: four 8 × 8 register
    /// transposes, [`avx2::transpose16`]).
    ///
    /// # Safety
    /// As [`transpose16`], and the CPU supports this instruction set.
    unsafe fn transpose16(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize);
}

macro_rules! isa {
    (
        $(#[$doc:meta])* $name:ident, $v:ty, [$($feat:literal)?],
        tiles1 = [$($r:literal),*], tiles2 = [$($r2:literal),*], dw_tiles = [$($dr:literal),*],
        pix_tiles = [$($pr:literal),*], pix3_tiles = [$($p3:literal),*]
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name;

        impl $name {
            /// The tile compiled with the family's features.
            ///
            /// # Safety
            /// As [`dense_tile`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn dense_t<const R: usize, const OB: usize, const STEP: usize>(
                t: &DenseTile<'_>,
            ) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { dense_tile::<$v, R, OB, STEP>(t) }
            }
            /// The tile compiled with the family's features.
            ///
            /// # Safety
            /// As [`dw_tile`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn dw_t<const R: usize>(t: &DwTile) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { dw_tile::<$v, R>(t) }
            }
            /// The tile compiled with the family's features.
            ///
            /// # Safety
            /// As [`pix_tile`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn pix_t<const R: usize>(t: &DwPix, ox0: usize) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { pix_tile::<$v, R>(t, ox0) }
            }
            /// The tile compiled with the family's features.
            ///
            /// # Safety
            /// As [`pix_masked`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn pix_m<const R: usize>(t: &DwPix, ox0: usize, n_last: usize) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { pix_masked::<$v, R>(t, ox0, n_last) }
            }
            /// The tile compiled with the family's features.
            ///
            /// # Safety
            /// As [`pix3_tile`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn pix3_t<const R: usize, const MASKED: bool>(t: &DwPix, ox0: usize, n_last: usize) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { pix3_tile::<$v, R, MASKED>(t, ox0, n_last) }
            }
            /// The transpose compiled with the family's features.
            ///
            /// # Safety
            /// As [`transpose16`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn transpose_t(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { transpose16::<$v>(src, stride, dst, dst_stride) }
            }
            /// The transform compiled with the family's features.
            ///
            /// # Safety
            /// As [`wino2_in`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn wino2_in_t(t: &Wino2In) {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { wino2_in::<$v>(t) }
            }
            /// The transform compiled with the family's features.
            ///
            /// # Safety
            /// As [`wino2_out`], and the CPU supports the family's instruction set.
            $(#[target_feature(enable = $feat)])?
            unsafe fn wino2_out_t(t: &Wino2Out) -> bool {
                // SAFETY: forwarded contract; the features are enabled on this function.
                unsafe { wino2_out::<$v>(t) }
            }
        }

        impl Isa for $name {
            const KERNEL: Kernel = Kernel::$name;
            const TILES1: &'static [usize] = &[$($r),*];
            const TILES2: &'static [usize] = &[$($r2),*];
            const DW_TILES: &'static [usize] = &[$($dr),*];
            const PIX_TILES: &'static [usize] = &[$($pr),*];
            const PIX3_TILES: &'static [usize] = &[$($p3),*];
            unsafe fn dense(r: usize, ob: usize, t: &DenseTile<'_>) {
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match (r, ob, t.pstep) {
                        $(
                            ($r, 1, 16) => Self::dense_t::<$r, 1, 16>(t),
                            ($r, 1, 1) => Self::dense_t::<$r, 1, 1>(t),
                            ($r, 1, _) => Self::dense_t::<$r, 1, 0>(t),
                        )*
                        $(
                            ($r2, 2, 16) => Self::dense_t::<$r2, 2, 16>(t),
                            ($r2, 2, 1) => Self::dense_t::<$r2, 2, 1>(t),
                            ($r2, 2, _) => Self::dense_t::<$r2, 2, 0>(t),
                        )*
                        _ => unreachable!("dense tile {r}×{ob} is not compiled"),
                    }
                }
            }
            unsafe fn dw(r: usize, t: &DwTile) {
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match r {
                        $($dr => Self::dw_t::<$dr>(t),)*
                        _ => unreachable!("depthwise tile {r} is not compiled"),
                    }
                }
            }
            unsafe fn pix(r: usize, t: &DwPix, ox0: usize) {
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match r {
                        $($pr => Self::pix_t::<$pr>(t, ox0),)*
                        _ => unreachable!("depthwise tile {r} is not compiled"),
                    }
                }
            }
            unsafe fn pix_masked(r: usize, t: &DwPix, ox0: usize, n_last: usize) {
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match r {
                        $($pr => Self::pix_m::<$pr>(t, ox0, n_last),)*
                        _ => unreachable!("depthwise tile {r} is not compiled"),
                    }
                }
            }
            unsafe fn pix3(r: usize, t: &DwPix, ox0: usize, n_last: usize, masked: bool) {
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match (r, masked) {
                        $(
                            ($p3, false) => Self::pix3_t::<$p3, false>(t, ox0, n_last),
                            ($p3, true) => Self::pix3_t::<$p3, true>(t, ox0, n_last),
                        )*
                        _ => unreachable!("depthwise tile {r} is not compiled"),
                    }
                }
            }
            unsafe fn transpose16(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
                // SAFETY: forwarded contract.
                unsafe { Self::transpose_t(src, stride, dst, dst_stride) }
            }
            unsafe fn wino2_in(t: &Wino2In) {
                // SAFETY: forwarded contract.
                unsafe { Self::wino2_in_t(t) }
            }
            unsafe fn wino2_out(t: &Wino2Out) -> bool {
                // SAFETY: forwarded contract.
                unsafe { Self::wino2_out_t(t) }
            }
        }
    };
}

isa!(
    /// Portable 16-lane arrays (always compiled).
    Portable, [f32; 16], [],
    tiles1 = [4, 2, 1], tiles2 = [], dw_tiles = [4, 2, 1], pix_tiles = [2, 1],
    pix3_tiles = [2, 1]
);

/// AVX2 + FMA: a 16-lane vector is two `ymm` registers; its own dense tile of up to 6
/// pixels × 16 channels (12 accumulators) and its own NCHW depthwise tile
/// ([`super::avx2`]), the generic channel-blocked depthwise tile.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The tile compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`avx2::dense`]: the tile's inputs, weights, biases and outputs in bounds; the CPU
    /// supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dense_t<const R: usize, const H: usize, const STEP: usize>(t: &DenseTile<'_>) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { avx2::dense::<R, H, STEP>(t) }
    }
    /// The tile compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`dw_tile`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dw_t<const R: usize>(t: &DwTile) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { dw_tile::<[core::arch::x86_64::__m256; 2], R>(t) }
    }
    /// The tile compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`pix_tile`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pix_t<const R: usize>(t: &DwPix, ox0: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { avx2::pix::<R, false>(t, ox0, 16) }
    }
    /// The tile compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`pix_masked`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pix_m<const R: usize>(t: &DwPix, ox0: usize, n_last: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { avx2::pix::<R, true>(t, ox0, n_last) }
    }
    /// The generic tile compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`pix3_tile`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pix3_t<const R: usize, const MASKED: bool>(t: &DwPix, ox0: usize, n_last: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { pix3_tile::<[core::arch::x86_64::__m256; 2], R, MASKED>(t, ox0, n_last) }
    }
    /// The 16 × 16 transpose compiled with AVX2.
    ///
    /// # Safety
    /// As [`avx2::transpose16`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn transpose_t(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { avx2::transpose16(src, stride, dst, dst_stride) }
    }
    /// The transform compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`wino2_in`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn wino2_in_t(t: &Wino2In) {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { wino2_in::<[core::arch::x86_64::__m256; 2]>(t) }
    }
    /// The transform compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`wino2_out`], and the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn wino2_out_t(t: &Wino2Out) -> bool {
        // SAFETY: forwarded contract; the features are enabled on this function.
        unsafe { wino2_out::<[core::arch::x86_64::__m256; 2]>(t) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Isa for Avx2 {
    const KERNEL: Kernel = Kernel::Avx2;
    const TILES1: &'static [usize] = &[6, 5, 4, 3, 2, 1];
    const TILES2: &'static [usize] = &[];
    const DW_TILES: &'static [usize] = &[6, 4, 2, 1];
    const PIX_TILES: &'static [usize] = &[4, 2, 1];
    const PIX3_TILES: &'static [usize] = &[1];
    unsafe fn dense(r: usize, ob: usize, t: &DenseTile<'_>) {
        macro_rules! arms {
            ($(($r:literal, $ob:literal, $h:literal)),*) => {
                match (r, ob, t.pstep) {
                    $(
                        ($r, $ob, 16) => Self::dense_t::<$r, $h, 16>(t),
                        ($r, $ob, 1) => Self::dense_t::<$r, $h, 1>(t),
                        // Stride 2 across, blocked and NCHW input: a run-time step
                        // costs the 6-pixel tile the registers of its addresses and
                        // spills accumulators.
                        ($r, $ob, 32) => Self::dense_t::<$r, $h, 32>(t),
                        ($r, $ob, 2) => Self::dense_t::<$r, $h, 2>(t),
                        ($r, $ob, _) => Self::dense_t::<$r, $h, 0>(t),
                    )*
                    _ => unreachable!("dense tile {r}×{ob} is not compiled"),
                }
            };
        }
        // SAFETY: forwarded contract (every arm); the driver checked AVX2 and FMA.
        unsafe {
            arms!(
                (6, 1, 2),
                (5, 1, 2),
                (4, 1, 2),
                (3, 1, 2),
                (2, 1, 2),
                (1, 1, 2)
            )
        }
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
    unsafe fn pix3(r: usize, t: &DwPix, ox0: usize, n_last: usize, masked: bool) {
        // SAFETY: forwarded contract (every arm).
        unsafe {
            match (r, masked) {
                (1, false) => Self::pix3_t::<1, false>(t, ox0, n_last),
                (1, true) => Self::pix3_t::<1, true>(t, ox0, n_last),
                _ => unreachable!("depthwise tile {r} is not compiled"),
            }
        }
    }
    unsafe fn transpose16(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
        // SAFETY: forwarded contract.
        unsafe { Self::transpose_t(src, stride, dst, dst_stride) }
    }
    unsafe fn wino2_in(t: &Wino2In) {
        // SAFETY: forwarded contract.
        unsafe { Self::wino2_in_t(t) }
    }
    unsafe fn wino2_out(t: &Wino2Out) -> bool {
        // SAFETY: forwarded contract.
        unsafe { Self::wino2_out_t(t) }
    }
}

#[cfg(target_arch = "x86_64")]
isa!(
    /// AVX-512F: one `zmm` per vector; 14 pixels × 2 output blocks = 28 accumulators. The
    /// dense tiles come in every width from 14 down to 1, so a segment of a row (the
    /// pixels whose taps land inside the input for the same kernel columns: 12, 9 and 12
    /// pixels on a 33-pixel row at rate 12) is the widest tiles and one tile of exactly the
    /// rest, never a string of narrow ones (`docs/perf.md`, "Measurements behind the
    /// engine's design choices").
    Avx512, core::arch::x86_64::__m512, ["avx512f,avx2,fma"],
    tiles1 = [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
    tiles2 = [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
    dw_tiles = [14, 8, 4, 2, 1], pix_tiles = [8, 4, 2, 1], pix3_tiles = [2, 1]
);

/// The NCHW dense entry points of one instruction set.
pub(crate) trait NchwIsa: Isa {
    /// Whether dense layers run on these kernels where the layout allows: true where they beat the
    /// channel-blocked ones on this family (see `docs/perf.md`, "Measurements behind the engine's
    /// design choices").
    const NCHW_DENSE: bool;
    /// Whether dense layers at stride 2 across run on these kernels where the layout allows
    /// even when [`NchwIsa::NCHW_DENSE`] is false: where measured faster than the
    /// channel-blocked ones (AVX2: strided stems).
    const NCHW_STRIDED: bool;
    /// Whether dense layers with few input channels per group (`exec`'s `NCHW_NARROW_IN`)
    /// run on these kernels where the
    /// layout allows even when [`NchwIsa::NCHW_DENSE`] is false, on their direct tiles (no
    /// Winograd on NCHW): where measured faster than the channel-blocked ones (AVX2,
    /// whose channel-blocked tile sums too few input rows there to pay for its scatter).
    const NCHW_NARROW: bool;
    /// Fewest input channels per group for which a dense layer on the channel-blocked
    /// kernels converts an NCHW input to the blocked layout before it runs, rather than
    /// reading the NCHW planes through strides. A tile sums every input channel for its
    /// pixels; on NCHW data each channel is a plane of its own, so a tile touches one page
    /// per channel and the wider the layer, the more it waits on the TLB and on lines used
    /// for a few pixels only. The conversion is one pass over the input. 128 on AVX-512,
    /// measured on the Intel Xeon (single layers, 1 thread): 512 → 512 1 × 1 at 64 × 64
    /// 65 → 128 GFLOP/s, 512 → 512 3 × 3 112 → 167, 2048 → 256 3 × 3 rate 12 at 33 × 33
    /// 74 → 108; 128 channels gained 0–9 %, 32 and 64 channels nothing. 32 on AVX2, whose
    /// L1 cache and TLB are smaller, measured on the AMD Zen 3 (1 thread, medians of 7–9
    /// alternating runs, NCHW read → converted): 64 → 64 5 × 5 rate 2 at 97 × 133 (S11)
    /// 47 → 56; 32 → 32 5 × 5 at 128² 51 → 61; 64 → 64 1 × 1 at 128² 24 → 32; 64 → 128
    /// 3 × 3 stride 2 at 128² 22 → 31; 96 → 96 3 × 3 direct at 65² 59 → 68 (see
    /// `docs/perf.md`, "Measurements behind the engine's design choices" and "On the Zen
    /// 3, 2026-12-08").
    const CONVERT_MIN_IN: usize;
    /// Whether dense 3 × 3 layers run Winograd F(2 × 2, 3 × 3) on the channel-blocked
    /// layout ([`super::wino2`]) when Winograd is on: where measured faster than the direct
    /// channel-blocked tiles (AVX2 and AVX-512; the portable family keeps one packing of its
    /// weights).
    const WINO2: bool;
    /// Whether dense 1 × 3 and 1 × 2 layers (1D) that run channel-blocked run Winograd
    /// F(4, 3) and F(3, 2) along the row there ([`super::wino2`]) when Winograd is on:
    /// AVX2, whose dense layers all run channel-blocked (AVX-512 runs its 1D layers on
    /// F(2, 3) along the columns on NCHW, [`super::wino`]).
    const WINO_ROWS: bool;
    /// The tile shape this family runs for `tiles`: output channels per tile (dividing
    /// [`PC`](super::nchw::PC)) and the tile widths in vectors of 16 pixels, widest first
    /// (ending in 1). Only AVX-512 has variants ([`super::tiles`]).
    fn nchw_shape(tiles: Tiles) -> (usize, &'static [usize]);
    /// # Safety
    /// As [`nchw_tile`] with `C = c` and `R = r`, and the CPU supports this instruction set;
    /// `c` and `r` come from one [`NchwIsa::nchw_shape`].
    unsafe fn nchw(
        c: usize,
        r: usize,
        masked: bool,
        t: &NchwTile,
        ox0: usize,
        n_last: usize,
        tiles: usize,
    );
    /// [`split_row`] compiled for this family.
    ///
    /// # Safety
    /// As [`split_row`], and the CPU supports this instruction set.
    unsafe fn split_phases(
        src: *const f32,
        avail: usize,
        pairs: usize,
        even: *mut f32,
        odd: *mut f32,
    );
    /// # Safety
    /// As [`wino_tile`] with `C = c`, `R = r` and the mode's `MODE` (only [`Mode::Rows`]
    /// masked, and only it with `r > 1`), and the CPU supports this instruction set; `c`
    /// and `r` come from one [`NchwIsa::nchw_shape`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn wino(
        mode: Mode,
        c: usize,
        r: usize,
        masked: bool,
        t: &WinoTile,
        ox0: usize,
        n_last: usize,
        tiles: usize,
    );
}

macro_rules! nchw_isa {
    (
        $name:ty, $v:ty, [$($feat:literal)?], shapes = [$(($c:literal, $r:literal)),*],
        chans = [$($cc:literal),*], shape = $shape:expr, dense = $on:literal,
        strided = $st:literal, narrow = $na:literal, convert = $cv:literal,
        wino2 = $w2:literal, wino_rows = $wr:literal
    ) => {
        impl NchwIsa for $name {
            const NCHW_DENSE: bool = $on;
            const NCHW_STRIDED: bool = $st;
            const NCHW_NARROW: bool = $na;
            const CONVERT_MIN_IN: usize = $cv;
            const WINO2: bool = $w2;
            const WINO_ROWS: bool = $wr;
            fn nchw_shape(tiles: Tiles) -> (usize, &'static [usize]) {
                let f: fn(Tiles) -> (usize, &'static [usize]) = $shape;
                f(tiles)
            }
            unsafe fn nchw(
                c: usize,
                r: usize,
                masked: bool,
                t: &NchwTile,
                ox0: usize,
                n_last: usize,
                tiles: usize,
            ) {
                /// The tile compiled with the family's features.
                ///
                /// # Safety
                /// As [`nchw_tile`], and the CPU supports the family's instruction set.
                $(#[target_feature(enable = $feat)])?
                unsafe fn run<
                    const C: usize,
                    const R: usize,
                    const M: bool,
                    const KW: usize,
                    const S2: bool,
                >(
                    t: &NchwTile,
                    ox0: usize,
                    n_last: usize,
                    tiles: usize,
                ) {
                    // SAFETY: forwarded contract; the features are enabled on this function.
                    unsafe { nchw_tile::<$v, R, C, M, KW, S2>(t, ox0, n_last, tiles) }
                }
                // SAFETY: forwarded contract (every arm).
                unsafe {
                    match (c, r, masked) {
                        // Stride 2 across: one vector per tile, never masked (split rows).
                        $(
                            ($cc, 1, false) if t.sw == 2 && t.kw == 3 => {
                                run::<$cc, 1, false, 3, true>(t, ox0, n_last, tiles)
                            }
                            ($cc, 1, false) if t.sw == 2 => {
                                run::<$cc, 1, false, 0, true>(t, ox0, n_last, tiles)
                            }
                        )*
                        (_, _, _) if t.sw != 1 => {
                            unreachable!("NCHW tile {c}×{r} at stride {} is not compiled", t.sw)
                        }
                        $(
                            ($c, $r, false) if t.kw == 3 && $r == 1 => {
                                run::<$c, $r, false, 3, false>(t, ox0, n_last, tiles)
                            }
                            ($c, $r, false) if t.kw == 5 && $r == 1 => {
                                run::<$c, $r, false, 5, false>(t, ox0, n_last, tiles)
                            }
                            ($c, $r, false) => run::<$c, $r, false, 0, false>(t, ox0, n_last, tiles),
                            ($c, $r, true) if t.kw == 3 && $r == 1 => {
                                run::<$c, $r, true, 3, false>(t, ox0, n_last, tiles)
                            }
                            ($c, $r, true) if t.kw == 5 && $r == 1 => {
                                run::<$c, $r, true, 5, false>(t, ox0, n_last, tiles)
                            }
                            ($c, $r, true) => run::<$c, $r, true, 0, false>(t, ox0, n_last, tiles),
                        )*
                        _ => unreachable!("NCHW tile {c}×{r} is not compiled"),
                    }
                }
            }
            unsafe fn split_phases(
                src: *const f32,
                avail: usize,
                pairs: usize,
                even: *mut f32,
                odd: *mut f32,
            ) {
                /// The split compiled with the family's features.
                ///
                /// # Safety
                /// As [`split_row`], and the CPU supports the family's instruction set.
                $(#[target_feature(enable = $feat)])?
                unsafe fn run(
                    src: *const f32,
                    avail: usize,
                    pairs: usize,
                    even: *mut f32,
                    odd: *mut f32,
                ) {
                    // SAFETY: forwarded contract; the features are enabled on this function.
                    unsafe { split_row::<$v>(src, avail, pairs, even, odd) }
                }
                // SAFETY: forwarded contract.
                unsafe { run(src, avail, pairs, even, odd) }
            }
            #[allow(clippy::too_many_arguments)]
            unsafe fn wino(
                mode: Mode,
                c: usize,
                r: usize,
                masked: bool,
                t: &WinoTile,
                ox0: usize,
                n_last: usize,
                tiles: usize,
            ) {
                /// The tile compiled with the family's features.
                ///
                /// # Safety
                /// As [`wino_tile`], and the CPU supports the family's instruction set.
                $(#[target_feature(enable = $feat)])?
                unsafe fn run<
                    const C: usize,
                    const R: usize,
                    const MODE: u8,
                    const M: bool,
                    const KT: usize,
                    const TAPS: usize,
                >(
                    t: &WinoTile,
                    ox0: usize,
                    n_last: usize,
                    tiles: usize,
                ) {
                    // SAFETY: forwarded contract; the features are enabled on this function.
                    unsafe { wino_tile::<$v, C, R, MODE, M, KT, TAPS>(t, ox0, n_last, tiles) }
                }
                const RW: u8 = Mode::Rows.id();
                const W: u8 = Mode::Windows.id();
                const U: u8 = Mode::Runs.id();
                // SAFETY: forwarded contract (every arm); windows and runs take `r = 1` and
                // two or three taps, rows three or five.
                unsafe {
                    match mode {
                        Mode::Windows => match (c, t.taps) {
                            $(
                                ($cc, 2) => run::<$cc, 1, W, false, 1, 2>(t, ox0, n_last, tiles),
                                ($cc, _) => run::<$cc, 1, W, false, 1, 3>(t, ox0, n_last, tiles),
                            )*
                            _ => unreachable!("Winograd tile {c}×1 is not compiled"),
                        },
                        Mode::Runs => match (c, t.taps) {
                            $(
                                ($cc, 2) => run::<$cc, 1, U, false, 1, 2>(t, ox0, n_last, tiles),
                                ($cc, _) => run::<$cc, 1, U, false, 1, 3>(t, ox0, n_last, tiles),
                            )*
                            _ => unreachable!("Winograd tile {c}×1 is not compiled"),
                        },
                        Mode::Rows if t.taps == 5 => match (c, r, masked) {
                            $(
                                ($c, $r, false) => {
                                    run::<$c, $r, RW, false, 0, 5>(t, ox0, n_last, tiles)
                                }
                                ($c, $r, true) => {
                                    run::<$c, $r, RW, true, 0, 5>(t, ox0, n_last, tiles)
                                }
                            )*
                            _ => unreachable!("Winograd tile {c}×{r} is not compiled"),
                        },
                        Mode::Rows => match (c, r, masked) {
                            $(
                                ($c, $r, false) if t.kt == 3 && $r == 1 => {
                                    run::<$c, $r, RW, false, 3, 3>(t, ox0, n_last, tiles)
                                }
                                ($c, $r, false) => {
                                    run::<$c, $r, RW, false, 0, 3>(t, ox0, n_last, tiles)
                                }
                                ($c, $r, true) if t.kt == 3 && $r == 1 => {
                                    run::<$c, $r, RW, true, 3, 3>(t, ox0, n_last, tiles)
                                }
                                ($c, $r, true) => {
                                    run::<$c, $r, RW, true, 0, 3>(t, ox0, n_last, tiles)
                                }
                            )*
                            _ => unreachable!("Winograd tile {c}×{r} is not compiled"),
                        },
                    }
                }
            }
        }
    };
}

// Portable and AVX2 keep dense layers channel-blocked: AVX2's 16 registers leave the NCHW tile 6
// channels × 1 vector (12 accumulators, two input loads and six broadcasts per 12 FMAs; a
// block of 16 channels ends on a 4-channel tile), and the blocked tile ran faster on the shapes
// of 32 channels and more measured at stride 1 (see `docs/perf.md`, "Measurements behind the
// engine's design choices"). At stride 2 across AVX2 runs the NCHW tile: the blocked tile
// gathers its inputs two columns apart, and the NCHW tile took strided stems from 23 to 57
// GFLOP/s on the Zen 4 (`docs/perf.md`, "On the Zen 4, 2026-12-07"); so do layers of at most
// 16 input channels per group. The 6-channel tile replaced a 4-channel one (8 accumulators,
// as many as the FMA latency needs and no more): S8 31 → 48 GFLOP/s on the Zen 3
// (`docs/perf.md`, "On the Zen 3, 2026-12-07, fourth session"). Neither family has tile
// variants: the shapes of `Tiles` are AVX-512's.
nchw_isa!(
    Portable,
    [f32; 16],
    [],
    shapes = [(8, 2), (8, 1)],
    chans = [8],
    shape = |_| (8, &[2, 1]),
    dense = false,
    strided = false,
    narrow = false,
    convert = 128,
    wino2 = false,
    wino_rows = false
);

#[cfg(target_arch = "x86_64")]
nchw_isa!(
    Avx2,
    [core::arch::x86_64::__m256; 2],
    ["avx2,fma"],
    shapes = [(6, 1), (4, 1)],
    chans = [6, 4],
    shape = |_| (6, &[1]),
    dense = false,
    strided = true,
    narrow = true,
    convert = 32,
    wino2 = true,
    wino_rows = true
);

/// AVX-512's tile widths for each shape of [`Tiles::ALL`].
#[cfg(target_arch = "x86_64")]
fn avx512_shape(tiles: Tiles) -> (usize, &'static [usize]) {
    let rs: &'static [usize] = match tiles.vectors() {
        3 => &[3, 2, 1],
        2 => &[2, 1],
        _ => &[1],
    };
    (tiles.channels(), rs)
}

#[cfg(target_arch = "x86_64")]
nchw_isa!(
    Avx512,
    core::arch::x86_64::__m512,
    ["avx512f,avx2,fma"],
    shapes = [(16, 1), (8, 3), (8, 2), (8, 1)],
    chans = [16, 8],
    shape = avx512_shape,
    dense = true,
    strided = true,
    narrow = false,
    convert = 128,
    wino2 = true,
    wino_rows = false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Kernel;

    /// Family `I`'s 16 × 16 transpose moves element `(i, p)` of the source (rows `stride`
    /// apart) to lane `i` of destination row `p` (rows `dst_stride` apart) and writes
    /// nothing else.
    fn check_transpose<I: Isa>(name: &str) {
        let (stride, dst_stride) = (19, 23);
        let src: Vec<f32> = (0..16 * stride).map(|k| k as f32).collect();
        let mut dst = vec![-1.0f32; 16 * dst_stride];
        // SAFETY: 16 rows of 16 floats, `stride` apart in `src` and `dst_stride` apart in
        // `dst`, lie inside the two buffers; the caller checked the CPU runs the family.
        unsafe { I::transpose16(src.as_ptr(), stride, dst.as_mut_ptr(), dst_stride) };
        for p in 0..16 {
            for l in 0..dst_stride {
                let want = if l < 16 { src[l * stride + p] } else { -1.0 };
                assert_eq!(dst[p * dst_stride + l], want, "{name}: row {p}, lane {l}");
            }
        }
    }

    #[test]
    fn every_family_transposes_a_block_exactly() {
        check_transpose::<Portable>("portable");
        #[cfg(target_arch = "x86_64")]
        {
            if Kernel::Avx2.is_available() {
                check_transpose::<Avx2>("avx2");
            }
            if Kernel::Avx512.is_available() {
                check_transpose::<Avx512>("avx512");
            }
        }
    }
}

//! Winograd F(2, 3) along one axis of a dilated three-tap kernel, on NCHW data.
//!
//! Two outputs one rate `d` apart, `y(n)` and `y(n + d)`, read four inputs `x₀…x₃` at
//! `n − p, n − p + d, n − p + 2d, n − p + 3d`. Direct, that is six products per input
//! channel (and per tap of the other axis); Winograd's minimal filtering algorithm does it
//! in four:
//!
//! ```text
//! u₀ = x₀ − x₂   u₁ = x₁ + x₂   u₂ = x₂ − x₁   u₃ = x₁ − x₃
//! G₀ = g₀        G₁ = (g₀ + g₁ + g₂)/2        G₂ = (g₀ − g₁ + g₂)/2        G₃ = g₂
//! mᵢ = Σ_c Gᵢ·uᵢ                  y(n) = m₀ + m₁ + m₂      y(n + d) = m₁ − m₂ − m₃
//! ```
//!
//! The input transform is two loads and one add per input vector, done on the fly inside
//! the tile (no transformed copy of the input); the filter transform is done once, when
//! the weights are packed. Per tile the four sums run one after the other into the same 16
//! accumulators, seeded so that no extra pass over the outputs is needed: `m₁`, then
//! `A = m₁ + m₂` (seeded with `m₁`) and `B = 2m₁ − A`, then `y(n) = A + m₀` and
//! `y(n + d) = B + Σ(−G₃)·u₃`.
//!
//! Two axes:
//! - [`Axis::Rows`] (2D, kernel height 3 or 5): the pair is two output rows `y, y + d`; the input
//!   vectors are plain row loads, any rate, any kernel width. Pairs whose input rows (four,
//!   six for height 5) are not all inside the image run on the direct kernels.
//! - [`Axis::Cols`] (a 1×3 or 1×2 kernel, 1D signals): the pair is two columns of one row. The
//!   first-of-pair columns are the runs `[2dk, 2dk + d)`, their partners the runs after
//!   them. Rates that divide 16 ([`Mode::Windows`]): a tile covers a window of 32 outputs,
//!   its 16 first-of-pair columns in one vector, gathered by one two-source permute per
//!   operand. Rates that are multiples of 16 ([`Mode::Runs`]): a tile is 16 consecutive
//!   columns of a run, every operand a plain load.
//!
//! **Two taps** (1 × 2 kernels: WaveNet's and TCN's causal layers), F(2, 2): three
//! operands `x₀, x₁, x₂` at `n − p, n − p + d, n − p + 2d`, three products instead of four:
//!
//! ```text
//! m₀ = Σ_c g₀·(x₀ − x₁)     m₁ = Σ_c ((g₀ + g₁)/2)·(x₁ + x₁)     m₂ = Σ_c g₁·(x₂ − x₁)
//! y(n) = m₁ + m₀            y(n + d) = m₁ + m₂
//! ```
//!
//! (`m₁` sums `x₁ + x₁` against half the filter, so the tile's one operand shape of a sum
//! or a difference of two loads serves it: both halvings are exact.) `m₁` first, kept, then
//! each output seeded with it.
//!
//! **Five taps** (2D, kernel height 5): the first three taps on `x₀…x₃` by F(2, 3), the last
//! two on `x₃, x₄, x₅` by F(2, 2) — seven products for the pair instead of ten, every
//! transform as above. The two `m₁` share one seed: `P = m₁' + m₁` (F(2, 2)'s and
//! F(2, 3)'s), `A = P + m₂`, `B = 2P − A`, then `y(n) = A + m₀ + m₀'` and
//! `y(n + d) = B − m₃ + m₂'`.
//!
//! **Exactness.** The transform reassociates sums, so results differ from the direct
//! kernels by rounding: well within the tests' relative 1e-5 of the accumulated magnitude
//! on data and weights of comparable scale; the error scales with `Σ|g|·Σ|x|` over a
//! pair's taps rather than with `Σ|g·x|` (see `Network::with_winograd`). Infinities would not survive it (`∞ − ∞` in a transformed sum gives NaN
//! where the reference gives `∞`), so every output vector is checked before its
//! activation: one that is not finite is recomputed by the direct kernel, which matches the
//! reference. Layers with a non-finite weight or bias never run here.

use super::kernels::{col_mask, store_vecs};
use super::nchw::{Block, NchwTile, PC, nchw_one};
use super::simd::{LANES, V16};
use super::tiles::{Cpu, Tiles};
use crate::Error;
use crate::conv::Activation;
use crate::conv::Conv;

/// Which axis of the kernel the transform runs along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// Kernel height 3 or 5: pairs of output rows.
    Rows,
    /// Kernel 1 × 3 or 1 × 2, rate dividing 16 or a multiple of 16: pairs of columns.
    Cols,
}

/// How a tile gathers its vector of pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`Axis::Rows`]: 16 columns of two output rows.
    Rows,
    /// [`Axis::Cols`], rate dividing 16: a window of 32 columns, permuted.
    Windows,
    /// [`Axis::Cols`], rate a multiple of 16: 16 columns of a run and their partners.
    Runs,
}

impl Mode {
    /// The const parameter of the tiles for this mode.
    pub(crate) const fn id(self) -> u8 {
        match self {
            Mode::Rows => ROWS,
            Mode::Windows => WINDOWS,
            Mode::Runs => RUNS,
        }
    }
}

/// [`Mode`] as a const parameter.
pub(crate) const ROWS: u8 = 0;
pub(crate) const WINDOWS: u8 = 1;
pub(crate) const RUNS: u8 = 2;

/// The Winograd weights of a layer packed for the NCHW blocks: per block,
/// `[F][C_in/G][KT][PC]` with `KT` the kernel width for [`Axis::Rows`] and 1 for
/// [`Axis::Cols`], `F` the transformed filters: four for three taps (the fourth stored
/// negated), three for two, seven for five (F(2, 3)'s four, then F(2, 2)'s three).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wino {
    pub(crate) axis: Axis,
    /// Taps along the transformed axis: 3 (F(2, 3)), 2 (F(2, 2), columns only) or 5
    /// (F(2, 3) and F(2, 2), rows only).
    pub(crate) taps: usize,
    pub(crate) w: Vec<f32>,
    /// Floats per block, and between consecutive transformed filters of a block.
    pub(crate) per_block: usize,
    pub(crate) per_i: usize,
}

/// The axis a layer runs Winograd along, if any: stride 1, finite weights and biases,
/// and kernel height 3 or 5 (rows) or a 1 × 3 or 1 × 2 kernel whose rate divides 16 or is a
/// multiple of 16 (columns); the
/// bounds measured per CPU apply unless `everywhere` ([`shape_allows`]).
pub(crate) fn axis_of(layer: &Conv, everywhere: bool) -> Option<Axis> {
    let finite = layer.weight().iter().all(|w| w.is_finite())
        && layer.bias().is_none_or(|b| b.iter().all(|v| v.is_finite()));
    if finite {
        shape_allows(layer.desc(), everywhere)
    } else {
        None
    }
}

/// Fewest input rows (input channels per group × kernel columns) a pass of a row tile
/// must sum for Winograd to pay for its four passes: a tile's cost beside its FMAs
/// (four passes, the recombination, the finiteness checks, the stores) is fixed, and the
/// third of the products it saves grows with the input rows. The bound lies between the
/// widest layer measured slower than direct and the narrowest measured faster (see
/// `docs/perf.md`, "Measurements behind the engine's design choices").
const MIN_ROW_INPUTS: usize = 7;

/// Fewest input channels per group for Winograd along the columns, for the same reason
/// and chosen the same way as [`MIN_ROW_INPUTS`].
const MIN_COL_INPUTS: usize = 4;

/// Most input channels per group for Winograd along the rows on a CPU with two 512-bit
/// FMA ports ([`Tiles::two_fma_ports`]). Wider layers run faster there on the
/// channel-blocked direct kernels, their input converted to the blocked layout first (the
/// layout rules of `engine::exec`): on the Intel Xeon measured, 256 → 256 at 64 × 64 ran
/// 180 GFLOP/s blocked against 153 on Winograd, 512 → 512 at 32 × 32 154 against 86,
/// while 128 → 128 ran 172 on Winograd against 138 blocked (see `docs/perf.md`,
/// "Measurements behind the engine's design choices"). The NCHW Winograd tile streams
/// every input channel's plane per tile, which costs more the more planes there are. On
/// the Zen 4 Winograd was measured faster at every width, so there is no bound.
pub(crate) const MAX_ROW_CHANNELS: usize = 255;

/// Column pairs in windows ([`Mode::Windows`], rates dividing 16 but not 16 itself) run
/// on CPUs with two 512-bit FMA ports only where the bounds are lifted: there the direct
/// 1D tiles (8 channels × 3 vectors, `super::tiles`) measured level or faster — on the
/// Intel Xeon, 1 thread, GFLOP/s, Winograd against direct: 64 channels at rate 8, 138
/// against 150; 128 channels at rate 4, 138 against 159; 16 channels at rate 4, 108
/// against 129; rates 1 and 2 level (`docs/perf.md`, "Measurements behind the engine's
/// design choices"). Runs of pairs (rates that are multiples of 16) stay: 183 against 154
/// at rate 16.
fn windows_allowed(everywhere: bool) -> bool {
    everywhere || !Tiles::two_fma_ports(Cpu::this())
}

/// [`MAX_ROW_CHANNELS`] on this CPU, unless `everywhere`.
fn max_row_channels(everywhere: bool) -> usize {
    if !everywhere && Tiles::two_fma_ports(Cpu::this()) {
        MAX_ROW_CHANNELS
    } else {
        usize::MAX
    }
}

/// The axis a layer of this shape runs Winograd along if its weights are finite; with
/// `everywhere`, on every shape the tiles take, the bounds measured per CPU
/// ([`MAX_ROW_CHANNELS`], [`windows_allowed`]) lifted.
pub(crate) fn shape_allows(d: &crate::ConvDesc, everywhere: bool) -> Option<Axis> {
    if d.stride != [1, 1] {
        return None;
    }
    let inputs = d.in_per_group();
    let rate = d.dilation[1];
    if (d.kernel[0] == 3 || d.kernel[0] == 5)
        && inputs <= max_row_channels(everywhere)
        && inputs.saturating_mul(d.kernel[1]) >= MIN_ROW_INPUTS
    {
        Some(Axis::Rows)
    } else if (d.kernel == [1, 3] || d.kernel == [1, 2])
        && inputs >= MIN_COL_INPUTS
        && (rate.is_multiple_of(16)
            || (16usize.is_multiple_of(rate) && windows_allowed(everywhere)))
    {
        Some(Axis::Cols)
    } else {
        None
    }
}

/// Packs `layer`'s transformed filters for `blocks` (as [`super::nchw::pack`] cut them).
pub(crate) fn pack(layer: &Conv, axis: Axis, blocks: &[Block]) -> Result<Wino, Error> {
    let d = layer.desc();
    let cpg_in = d.in_per_group();
    let [kh, kw] = d.kernel;
    let (kt, taps) = if axis == Axis::Rows {
        (kw, kh)
    } else {
        (1, kw)
    };
    let filters = match taps {
        2 => 3,
        5 => 7,
        _ => 4,
    };
    let ovf = || Error::Overflow {
        what: "Winograd weights",
    };
    let per_i = cpg_in
        .checked_mul(kt)
        .and_then(|v| v.checked_mul(PC))
        .ok_or_else(ovf)?;
    let per_block = per_i.checked_mul(filters).ok_or_else(ovf)?;
    let len = per_block.checked_mul(blocks.len()).ok_or_else(ovf)?;
    let mut w = vec![0.0; len];
    let src = layer.weight();
    for (b, blk) in blocks.iter().enumerate() {
        for c in 0..blk.n {
            let co = blk.co0 + c;
            for ci in 0..cpg_in {
                for t in 0..kt {
                    // The taps along the transformed axis.
                    let g = |k: usize| {
                        let (ky, kx) = if axis == Axis::Rows { (k, t) } else { (0, k) };
                        f64::from(src[((co * cpg_in + ci) * kh + ky) * kw + kx])
                    };
                    // F(2, 3) on taps `k..k + 3`, F(2, 2) on taps `k..k + 2`.
                    let f23 = |k: usize| {
                        [
                            g(k),
                            (g(k) + g(k + 1) + g(k + 2)) / 2.0,
                            (g(k) - g(k + 1) + g(k + 2)) / 2.0,
                            -g(k + 2),
                        ]
                    };
                    let f22 = |k: usize| [g(k), (g(k) + g(k + 1)) / 2.0, g(k + 1)];
                    let mut tf = [0.0f64; 7];
                    match taps {
                        2 => tf[..3].copy_from_slice(&f22(0)),
                        5 => {
                            tf[..4].copy_from_slice(&f23(0));
                            tf[4..].copy_from_slice(&f22(3));
                        }
                        _ => tf[..4].copy_from_slice(&f23(0)),
                    }
                    for (i, &v) in tf.iter().take(filters).enumerate() {
                        w[b * per_block + i * per_i + (ci * kt + t) * PC + c] = v as f32;
                    }
                }
            }
        }
    }
    Ok(Wino {
        axis,
        taps,
        w,
        per_block,
        per_i,
    })
}

/// For [`Axis::Cols`] at rate `d` (dividing 16): the window columns of the 16 first-of-pair
/// outputs (their partners are `d` further), and for each half of the window, where each
/// column's output sits in `y(n) ‖ y(n + d)`.
pub(crate) fn cols_perms(d: usize) -> ([u32; 16], [[u32; 16]; 2]) {
    let first: [u32; 16] = core::array::from_fn(|l| (2 * d * (l / d) + l % d) as u32);
    let mut inv = [[0u32; 16]; 2];
    for (l, &q) in first.iter().enumerate() {
        for (q, lane) in [(q as usize, l), (q as usize + d, 16 + l)] {
            inv[q / 16][q % 16] = lane as u32;
        }
    }
    (first, inv)
}

/// Arguments of one Winograd tile: `C` output channels × one vector of pairs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WinoTile {
    /// Operand 0 of the group's first channel at column 0 (rows: input row `y − pt`;
    /// columns: the tile's input row), built with `wrapping_*`.
    pub(crate) x: *const f32,
    /// Distance between input channels, and between consecutive operands (`d` rows, or
    /// `d` columns).
    pub(crate) x_c: usize,
    pub(crate) x_o: usize,
    pub(crate) iw: usize,
    pub(crate) nci: usize,
    /// The block's transformed filters, offset to the tile's first channel, and the
    /// distance between consecutive transformed filters.
    pub(crate) w: *const f32,
    pub(crate) w_i: usize,
    /// Taps along the other axis (the kernel width for rows, 1 for columns).
    pub(crate) kt: usize,
    /// Taps along the transformed axis ([`Wino::taps`]).
    pub(crate) taps: usize,
    pub(crate) dw: usize,
    pub(crate) pl: usize,
    pub(crate) bias: *const f32,
    pub(crate) act: Activation,
    /// Column 0 of the first output of the pair's row(s) for the tile's first channel
    /// (rows: `y` and `y + d`; columns: the same row, the second `d` columns on), and the
    /// output plane size.
    pub(crate) out: [*mut f32; 2],
    pub(crate) oplane: usize,
    pub(crate) nco: usize,
    /// The direct tiles of the two outputs' rows, for outputs that are not finite.
    pub(crate) direct: [*const NchwTile; 2],
    /// Columns: the permutes of [`cols_perms`].
    pub(crate) first: [u32; 16],
    pub(crate) inv: [[u32; 16]; 2],
}

/// Masks up to this many kernel columns once per tile (as the direct kernel).
const MAXK: usize = 8;

/// One transformed sum `acc += Σ_c Σ_t G_i · (x_a ± x_b)`, over `R` vectors of pairs
/// (only [`ROWS`] has `R > 1`).
///
/// # Safety
/// As [`wino_tile`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm<
    V: V16,
    const C: usize,
    const R: usize,
    const MODE: u8,
    const MASKED: bool,
    const KT: usize,
    const PLUS: bool,
>(
    t: &WinoTile,
    i: usize,
    (a_o, b_o): (usize, usize),
    ox0: usize,
    masks: &[[u16; R]; MAXK],
    acc: [[V; R]; C],
) -> [[V; R]; C] {
    // The accumulators by value: a local array the loops index only by constants, so the
    // compiler keeps it in registers even where the caller's array lives in memory (which
    // a large tile's caller did: an accumulator stored to the stack after every FMA).
    let mut acc = acc;
    let kt = if KT == 0 { t.kt } else { KT };
    let wi = t.w.wrapping_add(i * t.w_i);
    for ci in 0..t.nci {
        let xc = t.x.wrapping_add(ci * t.x_c);
        let (xa, xb) = (xc.wrapping_add(a_o * t.x_o), xc.wrapping_add(b_o * t.x_o));
        for kx in 0..kt {
            // SAFETY: zero-initialised, then filled below.
            let mut u = [unsafe { V::zero() }; R];
            for (r, u) in u.iter_mut().enumerate() {
                // SAFETY: rows: unmasked, every lane's column is inside both rows (caller);
                // masked, only lanes inside the row are read. Windows: the 32-float windows
                // of every operand are inside the row; runs: the 16 floats of every operand
                // (caller).
                let (a, b) = unsafe {
                    if MODE != ROWS {
                        let pa = xa.wrapping_add(ox0).wrapping_sub(t.pl);
                        let pb = xb.wrapping_add(ox0).wrapping_sub(t.pl);
                        if MODE == WINDOWS {
                            (
                                V::load(pa).perm2(V::load(pa.add(16)), &t.first),
                                V::load(pb).perm2(V::load(pb.add(16)), &t.first),
                            )
                        } else {
                            (V::load(pa), V::load(pb))
                        }
                    } else {
                        let off = ox0 + r * LANES + kx * t.dw;
                        let (pa, pb) = (
                            xa.wrapping_add(off).wrapping_sub(t.pl),
                            xb.wrapping_add(off).wrapping_sub(t.pl),
                        );
                        if MASKED {
                            let m = masks.get(kx).map_or_else(
                                || col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw)[r],
                                |m| m[r],
                            );
                            (V::load_mask(pa, m), V::load_mask(pb, m))
                        } else {
                            (V::load(pa), V::load(pb))
                        }
                    }
                };
                // SAFETY: register arithmetic.
                *u = unsafe { if PLUS { a.add(b) } else { a.sub(b) } };
            }
            let wp = wi.wrapping_add((ci * kt + kx) * PC);
            for (c, acc) in acc.iter_mut().enumerate() {
                // SAFETY: `C` transformed weights per (input channel, tap) in the block.
                let w = unsafe { V::splat(*wp.add(c)) };
                for (acc, u) in acc.iter_mut().zip(&u) {
                    // SAFETY: register arithmetic.
                    *acc = unsafe { u.fma(w, *acc) };
                }
            }
        }
    }
    acc
}

/// `tiles` consecutive Winograd tiles from output column `ox0` (rows: `R` vectors of 16
/// columns, the last holding `n_last`, `n_last < 16` only with one tile; windows: 32
/// columns, always whole; runs: 16 first-of-pair columns inside one run, always whole;
/// `R = 1` for both).
///
/// # Safety
/// Rows: the four input rows of the pair are inside the image, unmasked tiles have every
/// tap of every lane inside the row, and both output rows' columns up to the tiles' end
/// exist. Windows: every operand's 32-float window of every tile is inside the input row,
/// and the tiles' 32 outputs are inside the output row. Runs: every operand's 16 floats
/// are inside the input row, and the tiles' columns and their partners `d` further inside
/// the output row. All: the block's transformed filters and biases for `C` channels, and
/// the direct tiles' contracts for the same outputs, hold; the CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn wino_tile<
    V: V16,
    const C: usize,
    const R: usize,
    const MODE: u8,
    const MASKED: bool,
    const KT: usize,
    const TAPS: usize,
>(
    t: &WinoTile,
    ox0: usize,
    n_last: usize,
    tiles: usize,
) {
    let step = if MODE == WINDOWS { 32 } else { R * LANES };
    for j in 0..tiles {
        // SAFETY: the caller's contract covers `tiles` consecutive tiles.
        unsafe { wino_one::<V, C, R, MODE, MASKED, KT, TAPS>(t, ox0 + j * step, n_last) };
    }
}

/// Whether any of the first `n` channels' accumulators holds a non-finite lane.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn any_nonfinite<V: V16, const C: usize, const R: usize>(
    acc: &[[V; R]; C],
    n: usize,
) -> bool {
    // SAFETY: register arithmetic; `x − x` is NaN exactly where `x` is not finite.
    unsafe {
        let mut s = V::zero();
        for a in acc.iter().take(n).flatten() {
            s = s.add(a.sub(*a));
        }
        s.nonfinite()
    }
}

/// `2p − a`, lane by lane: F(2, 3)'s seed `B` from `P` and `A = P + m₂`.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn twice_minus<V: V16, const C: usize, const R: usize>(
    p: &[[V; R]; C],
    a: &[[V; R]; C],
) -> [[V; R]; C] {
    // SAFETY: register arithmetic (the caller's target features).
    unsafe {
        let mut b = [[V::zero(); R]; C];
        for ((b, p), a) in b
            .iter_mut()
            .flatten()
            .zip(p.iter().flatten())
            .zip(a.iter().flatten())
        {
            *b = p.add(*p).sub(*a);
        }
        b
    }
}

/// One tile of [`wino_tile`].
///
/// # Safety
/// As [`wino_tile`] for one tile.
#[inline(always)]
unsafe fn wino_one<
    V: V16,
    const C: usize,
    const R: usize,
    const MODE: u8,
    const MASKED: bool,
    const KT: usize,
    const TAPS: usize,
>(
    t: &WinoTile,
    ox0: usize,
    n_last: usize,
) {
    let mut masks = [[u16::MAX; R]; MAXK];
    if MASKED && MODE == ROWS {
        for (kx, m) in masks.iter_mut().enumerate().take(t.kt) {
            *m = col_mask::<R>(ox0, kx, t.dw, t.pl, t.iw);
        }
    }
    // SAFETY: the caller's contract covers the four sums' reads (operand rows or windows,
    // `C` transformed weights per input channel and tap), the tile's outputs and biases,
    // and the direct tiles of the same outputs; the rest is register arithmetic.
    unsafe {
        // One transformed sum `i` over operands `ops` (their sum, or difference), onto `acc`.
        macro_rules! sum {
            ($i:expr, $ops:expr, $plus:literal, $acc:expr) => {
                gemm::<V, C, R, MODE, MASKED, KT, $plus>(t, $i, $ops, ox0, &masks, $acc)
            };
        }
        let zero = [[V::zero(); R]; C];
        let (y0, y1) = if TAPS == 2 {
            // F(2, 2): m₁ (half the filter against x₁ + x₁), then each output from it.
            let m1 = sum!(1, (1, 1), true, zero);
            (sum!(0, (0, 1), false, m1), sum!(2, (2, 1), false, m1))
        } else {
            // F(2, 3), the seed `P = m₁`: `A = P + m₂`, `B = 2P − A`, `y(n) = A + m₀`,
            // `y(n + d) = B − m₃`. Five taps: F(2, 2) on rows 3…5 (filters 4…6) too, its
            // `m₁'` in the seed, its `m₀'` and `m₂'` onto the outputs.
            let seed = if TAPS == 5 {
                sum!(5, (4, 4), true, zero)
            } else {
                zero
            };
            let p = sum!(1, (1, 2), true, seed);
            let a = sum!(2, (2, 1), false, p);
            let b = twice_minus(&p, &a);
            let (y0, y1) = (sum!(0, (0, 2), false, a), sum!(3, (1, 3), false, b));
            if TAPS == 5 {
                (sum!(4, (3, 4), false, y0), sum!(6, (5, 4), false, y1))
            } else {
                (y0, y1)
            }
        };
        let bad = [
            any_nonfinite::<V, C, R>(&y0, t.nco),
            any_nonfinite::<V, C, R>(&y1, t.nco),
        ];
        if MODE == RUNS {
            // Columns `ox0..` and their partners `x_o` (the rate) further.
            let part = ox0 + t.x_o;
            if bad[0] || bad[1] {
                let d = &*t.direct[0];
                nchw_one::<V, 1, C, true, 0, false>(d, ox0, 16);
                nchw_one::<V, 1, C, true, 0, false>(d, part, 16);
                return;
            }
            for c in 0..t.nco {
                let out = t.out[0].wrapping_add(c * t.oplane);
                store_vecs(
                    &[y0[c][0]],
                    *t.bias.add(c),
                    t.act,
                    out.wrapping_add(ox0),
                    16,
                    false,
                );
                store_vecs(
                    &[y1[c][0]],
                    *t.bias.add(c),
                    t.act,
                    out.wrapping_add(part),
                    16,
                    false,
                );
            }
        } else if MODE == WINDOWS {
            if bad[0] || bad[1] {
                // Both halves of the window mix the two sums: recompute the whole window.
                let d = &*t.direct[0];
                nchw_one::<V, 1, C, true, 0, false>(d, ox0, 16);
                nchw_one::<V, 1, C, true, 0, false>(d, ox0 + 16, 16);
                return;
            }
            for c in 0..t.nco {
                let out = t.out[0].wrapping_add(c * t.oplane + ox0);
                for (h, inv) in t.inv.iter().enumerate() {
                    let v = y0[c][0].perm2(y1[c][0], inv);
                    store_vecs(
                        &[v],
                        *t.bias.add(c),
                        t.act,
                        out.wrapping_add(16 * h),
                        16,
                        false,
                    );
                }
            }
        } else {
            for (r, y) in [y0, y1].iter().enumerate() {
                if bad[r] {
                    nchw_one::<V, R, C, true, 0, false>(&*t.direct[r], ox0, n_last);
                    continue;
                }
                for (c, v) in y.iter().enumerate().take(t.nco) {
                    let out = t.out[r].wrapping_add(c * t.oplane + ox0);
                    store_vecs(v, *t.bias.add(c), t.act, out, n_last, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_windows_pair_every_output_once() {
        for d in [1, 2, 4, 8, 16] {
            let (first, inv) = cols_perms(d);
            let mut seen = [0; 32];
            for &q in &first {
                seen[q as usize] += 1;
                seen[q as usize + d] += 1;
            }
            assert!(seen.iter().all(|&s| s == 1), "rate {d}: {seen:?}");
            // The inverse puts y(n) of lane l at column first[l], y(n + d) at first[l] + d.
            for (l, &q) in first.iter().enumerate() {
                let q = q as usize;
                assert_eq!(inv[q / 16][q % 16] as usize, l);
                assert_eq!(inv[(q + d) / 16][(q + d) % 16] as usize, 16 + l);
            }
        }
    }
}

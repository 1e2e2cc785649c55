//! Winograd on the channel-blocked layout: F(2 × 2, 3 × 3) for dense 3 × 3 stride-1 layers
//! at any rate, 16 products per input channel for four outputs where the direct kernels
//! take 36; F(4, 3) and F(3, 2) along the row for dense 1 × 3 and 1 × 2 layers.
//!
//! A tile is four outputs one rate apart along both axes, `(y, x)`, `(y, x + d_w)`,
//! `(y + d_h, x)`, `(y + d_h, x + d_w)`; they read a 4 × 4 patch of inputs spaced by the
//! rates (zeros where the patch leaves the image: the padding). With Lavin's matrices
//!
//! ```text
//!      ⎡1  0 −1  0⎤        ⎡1    0    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1 1  1  0⎤
//!      ⎢0 −1  1  0⎥        ⎢1/2 −1/2  1/2⎥         ⎣0 1 −1 −1⎦
//!      ⎣0  1  0 −1⎦        ⎣0    0    1 ⎦
//! ```
//!
//! the patch `d` of every input channel becomes `U = Bᵀ d B` (16 values), the kernel `g`
//! of every (output, input) channel pair `V = G g Gᵀ` (once, when the weights are packed),
//! and for each of the 16 positions `t` the products sum over the input channels as a
//! matrix product, `M_t = U_t · V_t` (tiles × input channels times input × output
//! channels); the tile's outputs are `Aᵀ M A`. The 16 matrix products are 1 × 1
//! convolutions over a row of tiles, and run on the channel-blocked dense tiles (the
//! driver, `exec::winograd2d`); the filters are packed with the layer's plan
//! (`plan::Wino2`); this module holds the two transforms, written once over the vector
//! trait.
//!
//! **Along a row** (dense 1 × 3 and 1 × 2 layers: 1D signals; the driver
//! `exec::winograd_rows`), the same scheme with larger tiles, which only one axis makes
//! cheap: F(4, 3), four outputs one rate apart from six inputs in six products where the
//! direct kernels take twelve, with Lavin's matrices for the points 0, ±1, ±2, ∞
//!
//! ```text
//!      ⎡4  0 −5  0  1  0⎤        ⎡ 1/4    0     0 ⎤
//!      ⎢0 −4 −4  1  1  0⎥        ⎢−1/6  −1/6  −1/6⎥         ⎡1 1  1 1  1 0⎤
//! Bᵀ = ⎢0  4 −4 −1  1  0⎥    G = ⎢−1/6   1/6  −1/6⎥    Aᵀ = ⎢0 1 −1 2 −2 0⎥
//!      ⎢0 −2 −1  2  1  0⎥        ⎢ 1/24  1/12  1/6⎥         ⎢0 1  1 4  4 0⎥
//!      ⎢0  2 −1 −2  1  0⎥        ⎢ 1/24 −1/12  1/6⎥         ⎣0 1 −1 8 −8 1⎦
//!      ⎣0  4  0 −5  0  1⎦        ⎣  0     0     1 ⎦
//! ```
//!
//! and F(3, 2) for two taps, three outputs from four inputs in four products where the
//! direct kernels take six (the points 0, ±1, ∞):
//!
//! ```text
//!      ⎡1  0 −1  0⎤        ⎡1    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2⎥    Aᵀ = ⎡1 1  1 0⎤
//!      ⎢0 −1  1  0⎥        ⎢1/2 −1/2⎥         ⎢0 1 −1 0⎥
//!      ⎣0 −1  0  1⎦        ⎣0    1 ⎦         ⎣0 1  1 1⎦
//! ```
//!
//! (`U = Bᵀ d`, `V = G g`, `Y = Aᵀ M`, one product per row of `Bᵀ`).
//!
//! **Exactness.** As for F(2, 3) along one axis ([`super::wino`]): the sums are
//! reassociated, so results differ from the direct kernels by rounding, within the tests'
//! relative 1e-5 of the accumulated magnitude on data and weights of comparable scale
//! (F(4, 3)'s coefficients up to 8 round a few times more than F(2, 3)'s; still within).
//! Output vectors that are not finite before the activation are recomputed by the direct
//! tiles, so NaN and infinities come out as the reference's; layers with a non-finite
//! weight or bias never run here.

use super::plan::Patch;
use super::simd::{LANES, V16, prefetch};
use super::vmath::activate;
use crate::conv::Activation;

/// Marks an input or output of a tile that lies outside the image.
pub(crate) const OUTSIDE: usize = usize::MAX;

/// The input transform of one tile, every channel block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wino2In {
    /// The tile's patch: [`Patch::Square`] reads `off` whole (input `(a, b)` of the 4 × 4
    /// patch at `4a + b`); the row patches read its first [`Patch::inputs`].
    pub(crate) patch: Patch,
    /// The input image (one batch item), channel-blocked.
    pub(crate) x: *const f32,
    /// Distance between the input's channel blocks.
    pub(crate) x_cb: usize,
    /// Channel blocks.
    pub(crate) ncb: usize,
    /// Offset of each input of the 4 × 4 patch in a block plane, or [`OUTSIDE`] (a zero).
    pub(crate) off: [usize; 16],
    /// Where `U_t` of channel block `cb` goes: `u + t·u_t + cb·u_cb` (one vector).
    pub(crate) u: *mut f32,
    pub(crate) u_t: usize,
    pub(crate) u_cb: usize,
}

/// `U = Bᵀ d B` for the tile's patch `d` (`U = Bᵀ d` along a row), 16 channels at a time.
///
/// # Safety
/// Every offset the patch reads that is not [`OUTSIDE`] addresses a vector of each of the
/// `ncb` block planes of `x`; the [`Patch::positions`] × `ncb` destination vectors are
/// writable; the CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn wino2_in<V: V16>(t: &Wino2In) {
    // SAFETY: forwarded contract; the row transforms are register arithmetic on a CPU
    // that supports `V`.
    unsafe {
        match t.patch {
            Patch::Square => square_in::<V>(t),
            Patch::Row3 => row_in::<V>(t, |x| f43_in(x)),
            Patch::Row2 => row_in::<V>(t, |x| f32_in(x)),
        }
    }
}

/// `U = Bᵀ d B` for a square patch.
///
/// # Safety
/// As [`wino2_in`].
#[inline(always)]
unsafe fn square_in<V: V16>(t: &Wino2In) {
    for cb in 0..t.ncb {
        let plane = t.x.wrapping_add(cb * t.x_cb);
        // SAFETY: register arithmetic and the loads and stores the caller vouches for.
        unsafe {
            let ld = |o: usize| {
                if o == OUTSIDE {
                    V::zero()
                } else {
                    V::load(plane.add(o))
                }
            };
            // Along the columns first: r = d B.
            let mut r = [[V::zero(); 4]; 4];
            for (a, ra) in r.iter_mut().enumerate() {
                let d: [V; 4] = core::array::from_fn(|b| ld(t.off[4 * a + b]));
                *ra = [
                    d[0].sub(d[2]),
                    d[1].add(d[2]),
                    d[2].sub(d[1]),
                    d[1].sub(d[3]),
                ];
            }
            // Then along the rows: U = Bᵀ r.
            let dst = t.u.wrapping_add(cb * t.u_cb);
            for j in 0..4 {
                let c = r.map(|ra| ra[j]);
                let u = [
                    c[0].sub(c[2]),
                    c[1].add(c[2]),
                    c[2].sub(c[1]),
                    c[1].sub(c[3]),
                ];
                for (i, v) in u.into_iter().enumerate() {
                    v.store(dst.add((i * 4 + j) * t.u_t));
                }
            }
        }
    }
}

/// Columns ahead of a tile's that its row transform asks the cache for.
const PREFETCH_AHEAD: usize = 8;

/// `U = Bᵀ d` for a row patch: its [`Patch::inputs`] loaded (the rest zeros), `tf`'s
/// [`Patch::positions`] stored.
///
/// # Safety
/// As [`wino2_in`]; `tf` is register arithmetic.
#[inline(always)]
unsafe fn row_in<V: V16>(t: &Wino2In, tf: impl Fn(&[V; 6]) -> [V; 6]) {
    let n = t.patch.inputs();
    for cb in 0..t.ncb {
        let plane = t.x.wrapping_add(cb * t.x_cb);
        let dst = t.u.wrapping_add(cb * t.u_cb);
        // SAFETY: register arithmetic and the loads and stores the caller vouches for.
        unsafe {
            // The columns a few tiles on, while this tile's are summed: consecutive tiles
            // read consecutive columns, a stream per input and channel block that the
            // hardware prefetchers alone leave waiting on the L3 cache.
            for &o in &t.off[..n] {
                if o != OUTSIDE {
                    prefetch(plane.wrapping_add(o + PREFETCH_AHEAD * LANES));
                }
            }
            let x: [V; 6] = core::array::from_fn(|b| match t.off[b] {
                o if b < n && o != OUTSIDE => V::load(plane.add(o)),
                _ => V::zero(),
            });
            let u = tf(&x);
            for (i, v) in u.into_iter().take(t.patch.positions()).enumerate() {
                v.store(dst.add(i * t.u_t));
            }
        }
    }
}

/// F(4, 3)'s `Bᵀ d` (the zeros skipped).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn f43_in<V: V16>(x: &[V; 6]) -> [V; 6] {
    // SAFETY: register arithmetic on a CPU that supports `V`.
    unsafe {
        let (c2, c4, c5) = (V::splat(2.0), V::splat(4.0), V::splat(-5.0));
        let (s12, d12) = (x[1].add(x[2]), x[1].sub(x[2]));
        let (s34, d43) = (x[4].add(x[3]), x[4].sub(x[3]));
        let (d42, d31) = (x[4].sub(x[2]), x[3].sub(x[1]));
        [
            x[2].fma(c5, x[0].fma(c4, x[4])),
            s34.sub(s12.mul(c4)),
            d12.fma(c4, d43),
            d31.fma(c2, d42),
            d42.sub(d31.mul(c2)),
            x[3].fma(c5, x[1].fma(c4, x[5])),
        ]
    }
}

/// F(3, 2)'s `Bᵀ d` (four positions; the last two of the six are not stored).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn f32_in<V: V16>(x: &[V; 6]) -> [V; 6] {
    // SAFETY: register arithmetic on a CPU that supports `V`.
    unsafe {
        [
            x[0].sub(x[2]),
            x[1].add(x[2]),
            x[2].sub(x[1]),
            x[3].sub(x[1]),
            V::zero(),
            V::zero(),
        ]
    }
}

/// The output transform of one tile, every output block, into a channel-blocked buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wino2Out {
    /// The tile's patch: [`Patch::Square`] writes `off` whole (output `(r, c)` at
    /// `2r + c`); the row patches write its first [`Patch::outputs`].
    pub(crate) patch: Patch,
    /// `M_t` of output block `kb`: `m + t·m_t + kb·m_cb` (one vector).
    pub(crate) m: *const f32,
    pub(crate) m_t: usize,
    pub(crate) m_cb: usize,
    /// Output blocks.
    pub(crate) nkb: usize,
    /// `nkb × 16` biases.
    pub(crate) bias: *const f32,
    pub(crate) act: Activation,
    /// The channel-blocked output.
    pub(crate) y: *mut f32,
    /// Offset of each of the tile's outputs in a block plane, or [`OUTSIDE`] (not
    /// written).
    pub(crate) off: [usize; 4],
    /// Distance between output blocks.
    pub(crate) y_cb: usize,
}

/// `Y = Aᵀ M A` plus the bias, activated and stored; returns whether any output written
/// was not finite before the activation (the driver then recomputes the tile directly).
///
/// # Safety
/// The [`Patch::positions`] × `nkb` vectors at `m` and the `nkb × 16` biases are readable;
/// every output offset the patch writes that is not [`OUTSIDE`] addresses a vector of each
/// of the `nkb` block planes of `y`; the CPU supports `V`.
#[inline(always)]
pub(crate) unsafe fn wino2_out<V: V16>(t: &Wino2Out) -> bool {
    // SAFETY: forwarded contract; the row transforms are register arithmetic on a CPU
    // that supports `V`.
    unsafe {
        match t.patch {
            Patch::Square => square_out::<V>(t),
            Patch::Row3 => row_out::<V>(t, |m| f43_out(m)),
            Patch::Row2 => row_out::<V>(t, |m| f32_out(m)),
        }
    }
}

/// `Y = Aᵀ M A` for a square patch.
///
/// # Safety
/// As [`wino2_out`].
#[inline(always)]
unsafe fn square_out<V: V16>(t: &Wino2Out) -> bool {
    let mut bad = false;
    for kb in 0..t.nkb {
        // SAFETY: the reads and writes the caller vouches for, and register arithmetic.
        unsafe {
            let src = t.m.wrapping_add(kb * t.m_cb);
            let m: [[V; 4]; 4] = core::array::from_fn(|i| {
                core::array::from_fn(|j| V::load(src.add((i * 4 + j) * t.m_t)))
            });
            // Along the rows: s = Aᵀ M (2 × 4).
            let s: [[V; 4]; 2] = [
                core::array::from_fn(|j| m[0][j].add(m[1][j]).add(m[2][j])),
                core::array::from_fn(|j| m[1][j].sub(m[2][j]).sub(m[3][j])),
            ];
            let b = V::load(t.bias.add(kb * LANES));
            for (r, sr) in s.iter().enumerate() {
                let y = [sr[0].add(sr[1]).add(sr[2]), sr[1].sub(sr[2]).sub(sr[3])];
                for (c, v) in y.into_iter().enumerate() {
                    let o = t.off[2 * r + c];
                    if o == OUTSIDE {
                        continue;
                    }
                    let v = v.add(b);
                    bad |= v.nonfinite();
                    activate(v, t.act).store(t.y.add(kb * t.y_cb + o));
                }
            }
        }
    }
    bad
}

/// `Y = Aᵀ M` for a row patch: its [`Patch::positions`] loaded (the rest zeros), `tf`'s
/// first [`Patch::outputs`] stored; as [`wino2_out`] otherwise.
///
/// # Safety
/// As [`wino2_out`]; `tf` is register arithmetic.
#[inline(always)]
unsafe fn row_out<V: V16>(t: &Wino2Out, tf: impl Fn(&[V; 6]) -> [V; 4]) -> bool {
    let (n, outs) = (t.patch.positions(), t.patch.outputs());
    let mut bad = false;
    for kb in 0..t.nkb {
        // SAFETY: the reads and writes the caller vouches for, and register arithmetic.
        unsafe {
            let src = t.m.wrapping_add(kb * t.m_cb);
            let m: [V; 6] = core::array::from_fn(|i| {
                if i < n {
                    V::load(src.add(i * t.m_t))
                } else {
                    V::zero()
                }
            });
            let y = tf(&m);
            let b = V::load(t.bias.add(kb * LANES));
            for (c, v) in y.into_iter().take(outs).enumerate() {
                let o = t.off[c];
                if o == OUTSIDE {
                    continue;
                }
                let v = v.add(b);
                bad |= v.nonfinite();
                activate(v, t.act).store(t.y.add(kb * t.y_cb + o));
            }
        }
    }
    bad
}

/// F(4, 3)'s `Aᵀ M`.
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn f43_out<V: V16>(m: &[V; 6]) -> [V; 4] {
    // SAFETY: register arithmetic on a CPU that supports `V`.
    unsafe {
        let (s12, d12) = (m[1].add(m[2]), m[1].sub(m[2]));
        let (s34, d34) = (m[3].add(m[4]), m[3].sub(m[4]));
        [
            m[0].add(s12).add(s34),
            d34.fma(V::splat(2.0), d12),
            s34.fma(V::splat(4.0), s12),
            d34.fma(V::splat(8.0), d12).add(m[5]),
        ]
    }
}

/// F(3, 2)'s `Aᵀ M` (three outputs; the fourth is not stored).
///
/// # Safety
/// The CPU supports `V`.
#[inline(always)]
unsafe fn f32_out<V: V16>(m: &[V; 6]) -> [V; 4] {
    // SAFETY: register arithmetic on a CPU that supports `V`.
    unsafe {
        [
            m[0].add(m[1]).add(m[2]),
            m[1].sub(m[2]),
            m[1].add(m[2]).add(m[3]),
            V::zero(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transforms on one channel block, one tile, against the direct sum: the matrices
    /// above are Lavin's and the order of `t` is the one the packing uses.
    #[test]
    fn one_tile_matches_the_direct_sum() {
        let x: Vec<f32> = (0..16 * 16)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) / 8.0)
            .collect();
        let g: Vec<f32> = (0..9).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
        // One input channel (lane 0 of each pixel), a 4 × 4 patch of a 4-wide plane.
        let off: [usize; 16] = core::array::from_fn(|i| i * 16);
        let mut u = vec![0.0f32; 16 * 16];
        let t = Wino2In {
            patch: Patch::Square,
            x: x.as_ptr(),
            x_cb: 0,
            ncb: 1,
            off,
            u: u.as_mut_ptr(),
            u_t: 16,
            u_cb: 0,
        };
        // SAFETY: every offset addresses a vector of `x`; `u` holds 16 vectors.
        unsafe { wino2_in::<[f32; 16]>(&t) };
        // V = G g Gᵀ for the one channel pair; M_t = U_t · V_t, lane 0 only.
        let gm = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        let mut m = vec![0.0f32; 16 * 16];
        for i in 0..4 {
            for j in 0..4 {
                let v: f32 = (0..3)
                    .flat_map(|a| (0..3).map(move |b| (a, b)))
                    .map(|(a, b)| gm[i][a] * g[a * 3 + b] * gm[j][b])
                    .sum();
                m[(i * 4 + j) * 16] = u[(i * 4 + j) * 16] * v;
            }
        }
        let mut y = vec![0.0f32; 4 * 16];
        let o = Wino2Out {
            patch: Patch::Square,
            m: m.as_ptr(),
            m_t: 16,
            m_cb: 0,
            nkb: 1,
            bias: [0.0f32; 16].as_ptr(),
            act: Activation::Identity,
            y: y.as_mut_ptr(),
            off: [0, 16, 32, 48],
            y_cb: 0,
        };
        // SAFETY: 16 vectors of `m`, one block of biases, 4 output vectors.
        let bad = unsafe { wino2_out::<[f32; 16]>(&o) };
        assert!(!bad);
        for r in 0..2 {
            for c in 0..2 {
                let direct: f32 = (0..3)
                    .flat_map(|a| (0..3).map(move |b| (a, b)))
                    .map(|(a, b)| g[a * 3 + b] * x[((r + a) * 4 + c + b) * 16])
                    .sum();
                let got = y[(r * 2 + c) * 16];
                assert!((got - direct).abs() < 1e-4, "{r} {c}: {got} vs {direct}");
            }
        }
    }

    /// The row transforms on one channel block, one tile, against the direct sum, with the
    /// filters as the packing makes them (`plan::Patch::filter`): F(4, 3) and F(3, 2), a
    /// rate of 3 between the inputs, the second input outside (a zero).
    #[test]
    fn one_row_tile_matches_the_direct_sum() {
        let x: Vec<f32> = (0..16 * 20)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) / 8.0)
            .collect();
        for (patch, g) in [
            (Patch::Row3, vec![0.75f32, -1.25, 0.5]),
            (Patch::Row2, vec![-0.5f32, 1.5]),
        ] {
            let (k, outs) = (g.len(), patch.outputs());
            assert_eq!(patch.inputs(), outs + k - 1);
            let cols: Vec<Option<usize>> = (0..patch.inputs())
                .map(|b| (b != 1).then_some(1 + 3 * b))
                .collect();
            let at = |c: Option<usize>| c.map_or(0.0, |c| x[c * 16]);
            let mut off = [OUTSIDE; 16];
            for (o, c) in off.iter_mut().zip(&cols) {
                *o = c.map_or(OUTSIDE, |c| c * 16);
            }
            let mut u = vec![0.0f32; 6 * 16];
            let t = Wino2In {
                patch,
                x: x.as_ptr(),
                x_cb: 0,
                ncb: 1,
                off,
                u: u.as_mut_ptr(),
                u_t: 16,
                u_cb: 0,
            };
            // SAFETY: every offset not outside addresses a vector of `x`; `u` holds six
            // vectors.
            unsafe { wino2_in::<[f32; 16]>(&t) };
            let mut m = vec![0.0f32; 6 * 16];
            for p in 0..patch.positions() {
                m[p * 16] = u[p * 16] * patch.filter(p, &g);
            }
            let mut y = vec![f32::NAN; 4 * 16];
            let o = Wino2Out {
                patch,
                m: m.as_ptr(),
                m_t: 16,
                m_cb: 0,
                nkb: 1,
                bias: [0.25f32; 16].as_ptr(),
                act: Activation::Identity,
                y: y.as_mut_ptr(),
                off: core::array::from_fn(|c| if c < outs { c * 16 } else { OUTSIDE }),
                y_cb: 0,
            };
            // SAFETY: `m` holds the patch's vectors, one block of biases, 4 outputs.
            let bad = unsafe { wino2_out::<[f32; 16]>(&o) };
            assert!(!bad);
            for c in 0..4 {
                let got = y[c * 16];
                if c >= outs {
                    assert!(got.is_nan(), "{patch:?} wrote output {c}");
                    continue;
                }
                let direct: f32 = 0.25 + (0..k).map(|b| g[b] * at(cols[c + b])).sum::<f32>();
                assert!(
                    (got - direct).abs() < 1e-5,
                    "{patch:?} {c}: {got} vs {direct}"
                );
            }
        }
    }
}

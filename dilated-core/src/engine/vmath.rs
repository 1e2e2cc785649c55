//! Vectorised `exp`, `tanh`, sigmoid, SiLU and GELU for the kernels' epilogues, written
//! once over [`V16`].
//!
//! The scalar definitions ([`Activation::apply`](crate::conv::Activation::apply), libm) take one
//! libm call per value, a few dozen cycles; an epilogue stores 16 outputs after a few dozen FMAs,
//! so on layers with few input channels they cost more than the convolution (the figures:
//! `docs/perf.md`, "Measurements behind the engine's design choices"). These run a few
//! multiply-adds and one division per 16 values and stay within a few units in the last place of
//! libm (the tests sweep every range against it):
//!
//! - `exp`: Cody–Waite reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2` (`ln 2` split in two
//!   so that `n·ln 2` is exact), the Taylor polynomial of `eʳ` to degree 7 (truncation
//!   below 1e-8), scaled by `2ⁿ`. Inputs are clamped to `[−104, 89]`, beyond which the
//!   result is 0 or `+∞` as in libm; NaN stays NaN.
//! - `tanh`: the odd Taylor polynomial to degree 11 below `|x| = 1/4` (truncation below
//!   1e-10), `1 − 2/(e^{2|x|} + 1)` with the sign of `x` above.
//! - sigmoid `1/(1 + e^{−x})` and SiLU `x/(1 + e^{−x})`, as PyTorch defines them.
//! - GELU `½·x·(1 + erf(x/√2))`: `1 + erf(z)` is `erfc(−z)`, computed as `erfc(|z|)`
//!   for `z < 0` and `2 − erfc(|z|)` otherwise, so nothing cancels; `erfc` is the
//!   Chebyshev fit of Numerical Recipes (`erfcc`, relative error below 1.2e-7 for every
//!   argument).
//!
//! Every function maps NaN to NaN and infinities as the scalar definitions do.

use super::simd::{V16, lane_bits};
use crate::conv::Activation;

/// `log₂ e`.
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2 = LN2_HI + LN2_LO`, the high part with trailing zero bits so that `n·LN2_HI` is
/// exact for the `|n| ≤ 150` of the clamped range.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// `eˣ` per lane.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn exp<V: V16>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        // Clamp with `x` as the second operand: a NaN lane keeps its NaN.
        let x = V::splat(89.0).min(x);
        let x = V::splat(-104.0).max(x);
        let n = x.mul(V::splat(LOG2E)).round();
        let r = n.fma(V::splat(-LN2_HI), x);
        let r = n.fma(V::splat(-LN2_LO), r);
        // eʳ = Σ rᵏ/k!, k ≤ 7, by Horner.
        let mut p = V::splat(1.0 / 5040.0);
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = p.fma(r, V::splat(c));
        }
        p.scale2(n)
    }
}

/// `tanh x` per lane.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn tanh<V: V16>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let one = V::splat(1.0);
        let a = x.abs();
        // Small |x|: x + x³·(−1/3 + x²·(2/15 + x²·(−17/315 + x²·(62/2835 − x²·1382/155925)))).
        let x2 = x.mul(x);
        let mut p = V::splat(-1382.0 / 155_925.0);
        for c in [62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0] {
            p = p.fma(x2, V::splat(c));
        }
        let small = x.mul(x2).fma(p, x);
        // Larger |x|: 1 − 2/(e^{2|x|} + 1), with the sign of x (∞ gives ±1).
        let t = one.sub(V::splat(2.0).div(exp(a.add(a)).add(one)));
        let large = x.select_neg(V::zero().sub(t), t);
        a.sub(V::splat(0.25)).select_neg(small, large)
    }
}

/// `1 / (1 + e^{−x})` per lane.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn sigmoid<V: V16>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let one = V::splat(1.0);
        one.div(one.add(exp(V::zero().sub(x))))
    }
}

/// `x / (1 + e^{−x})` per lane.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn silu<V: V16>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe { x.div(V::splat(1.0).add(exp(V::zero().sub(x)))) }
}

/// `½·x·(1 + erf(x/√2))` per lane.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the coefficients as Numerical Recipes prints them
pub(crate) unsafe fn gelu<V: V16>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let one = V::splat(1.0);
        // Beyond |x| = 20, 1 + erf is 2 or 0 in f32 (erfc(14) < 1e-86): clamp the erfc
        // path (x as the second operand keeps NaN), and keep x itself for the product.
        let xc = V::splat(-20.0).max(V::splat(20.0).min(x));
        let z = xc.mul(V::splat(std::f32::consts::FRAC_1_SQRT_2));
        let a = z.abs();
        // erfc(a) = t·exp(−a² + P(t)), t = 1/(1 + a/2) (Numerical Recipes' erfcc).
        let t = one.div(one.add(a.mul(V::splat(0.5))));
        let mut p = V::splat(0.170_872_77);
        for c in [
            -0.822_152_23,
            1.488_515_87,
            -1.135_203_98,
            0.278_868_07,
            -0.186_288_06,
            0.096_784_18,
            0.374_091_96,
            1.000_023_68,
            -1.265_512_23,
        ] {
            p = p.fma(t, V::splat(c));
        }
        // a² = x²/2 = (h + l)/2 exactly (`l` the rounding error of `h = x·x`), so that only
        // the exponent's own rounding remains.
        let h = xc.mul(xc);
        let l = xc.fma(xc, V::zero().sub(h));
        let half = V::splat(0.5);
        let erfc = t.mul(exp(p.sub(half.mul(h)).sub(half.mul(l))));
        // 1 + erf(z) = erfc(−z): erfc(a) below zero, 2 − erfc(a) above.
        let one_plus = z.select_neg(erfc, V::splat(2.0).sub(erfc));
        V::splat(0.5).mul(x).mul(one_plus)
    }
}

/// `act` on every lane of `v`: the ReLUs inline, the smooth functions above.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn activate<V: V16>(v: V, act: Activation) -> V {
    match act {
        Activation::Identity => v,
        // SAFETY: forwarded from the caller's target-feature context.
        Activation::Relu => unsafe { v.relu() },
        // SAFETY: as above.
        Activation::LeakyRelu(s) => unsafe { v.leaky(s) },
        // SAFETY: as above.
        Activation::Gelu => unsafe { gelu(v) },
        // SAFETY: as above.
        Activation::Tanh => unsafe { tanh(v) },
        // SAFETY: as above.
        Activation::Sigmoid => unsafe { sigmoid(v) },
        // SAFETY: as above.
        Activation::Silu => unsafe { silu(v) },
    }
}

/// `xs[i] = act(xs[i] + bias[i])` in place (no bias: `act(xs[i])`), 16 lanes at a time on
/// `V` (the tail masked): for callers outside the kernels that already run on `V`, such as
/// the streaming layers' output frames. `bias`, when given, is as long as `xs`.
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn bias_act<V: V16>(act: Activation, bias: Option<&[f32]>, xs: &mut [f32]) {
    // The callers' biases are as long as their frames (an internal invariant).
    let bias = bias.map(|b| &b[..xs.len()]);
    let n = xs.len();
    let mut i = 0;
    while i < n {
        let m = (n - i).min(16);
        let bits = lane_bits(0, m);
        // SAFETY: lanes `i..i + m` of `xs` (and of `bias`, as long) are in bounds; the
        // masked loads read and the store writes only those; the caller's CPU support.
        unsafe {
            let p = xs.as_mut_ptr().add(i);
            let mut v = V::load_mask(p, bits);
            if let Some(b) = bias {
                v = v.add(V::load_mask(b.as_ptr().add(i), bits));
            }
            activate(v, act).store_first(p, m);
        }
        i += m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values over every range the functions treat apart: tiny, around the switch points,
    /// large, beyond the clamps, and the specials.
    fn sweep() -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            1e-30,
            1e-8,
            0.25,
            0.249_999_99,
            88.0,
            89.5,
            -88.0,
            -103.0,
            -110.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let mut x = 1e-6f32;
        while x < 120.0 {
            v.push(x);
            x *= 1.003;
        }
        let neg: Vec<f32> = v.iter().map(|x| -x).collect();
        v.extend(neg);
        v
    }

    /// The sweep through the vector function of `act`, 16 lanes at a time; inlined into
    /// the callers, which enable `V`'s features.
    ///
    /// # Safety
    /// The CPU supports `V`, whose features the caller enables.
    #[inline(always)]
    unsafe fn eval<V: V16>(act: Activation, xs: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(xs.len());
        for chunk in xs.chunks(16) {
            let mut lanes = [0.0f32; 16];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let mut y = [0.0f32; 16];
            // SAFETY: 16-lane local arrays; the caller enables `V`'s features.
            unsafe {
                let v = V::load(lanes.as_ptr());
                let r = match act {
                    Activation::Tanh => tanh(v),
                    Activation::Sigmoid => sigmoid(v),
                    Activation::Silu => silu(v),
                    Activation::Gelu => gelu(v),
                    Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => {
                        unreachable!("the sweep checks the smooth activations only")
                    }
                };
                r.store(y.as_mut_ptr());
            }
            out.extend_from_slice(&y[..chunk.len()]);
        }
        out
    }

    /// The definitions in `f64` (libm), rounded once: the `f32` ones lose digits of their
    /// own (`1 + erf(z)` cancels for negative `z`: 4.6e-6 relative at `x = −2.49`).
    fn exact(act: Activation, x: f32) -> f32 {
        let x = f64::from(x);
        let y = match act {
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Silu => x / (1.0 + (-x).exp()),
            // 1 + erf(z) = erfc(−z): even in f64, 1 + erf cancels for z ≪ 0.
            Activation::Gelu => 0.5 * x * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2),
            Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => {
                unreachable!("the sweep checks the smooth activations only")
            }
        };
        y as f32
    }

    /// The four functions over the sweep, against the definitions: NaN where they give
    /// NaN, equal infinities, else within a relative bound (or an absolute one near 0).
    fn check(family: &str, run: impl Fn(Activation, &[f32]) -> Vec<f32>) {
        let xs = sweep();
        // GELU: erfc's fit (1.2e-7) plus the rounding of −a² in its exponent, which grows
        // with |x| (5.6e-7 at x = −8, where GELU is −5e-15).
        for (act, rel, abs) in [
            (Activation::Tanh, 3e-7, 1e-35),
            (Activation::Sigmoid, 3e-7, 1e-35),
            (Activation::Silu, 3e-7, 1e-35),
            (Activation::Gelu, 1e-6, 1e-35),
        ] {
            for (&x, got) in xs.iter().zip(run(act, &xs)) {
                let want = exact(act, x);
                // The exponent −x²/2 + P(t) of GELU's erfc is rounded at its own
                // magnitude: relative error up to about x²·2⁻²⁴ more (GELU is below
                // 1e-14 from x = −8 on).
                let rel = if act == Activation::Gelu {
                    rel + x * x * 6e-8
                } else {
                    rel
                };
                if want.is_nan() {
                    assert!(got.is_nan(), "{family} {act:?}({x}) = {got}, libm NaN");
                } else if want.is_infinite() {
                    assert_eq!(got, want, "{family} {act:?}({x})");
                } else {
                    let err = (got - want).abs();
                    assert!(
                        err <= rel * want.abs() || err <= abs,
                        "{family} {act:?}({x}) = {got}, libm {want}, error {err:e}"
                    );
                }
            }
        }
    }

    #[test]
    fn portable_functions_match_libm() {
        // SAFETY: the portable vector needs no CPU feature.
        check("portable", |a, xs| unsafe { eval::<[f32; 16]>(a, xs) });
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_functions_match_libm() {
        #[target_feature(enable = "avx2,fma")]
        fn run(act: Activation, xs: &[f32]) -> Vec<f32> {
            // SAFETY: the features are enabled on this function.
            unsafe { eval::<[core::arch::x86_64::__m256; 2]>(act, xs) }
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were just detected.
            check("avx2", |a, xs| unsafe { run(a, xs) });
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_functions_match_libm() {
        #[target_feature(enable = "avx512f")]
        fn run(act: Activation, xs: &[f32]) -> Vec<f32> {
            // SAFETY: the feature is enabled on this function.
            unsafe { eval::<core::arch::x86_64::__m512>(act, xs) }
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            check("avx512", |a, xs| unsafe { run(a, xs) });
        }
    }
}

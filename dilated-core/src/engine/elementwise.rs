//! Elementwise steps outside the conv kernels, on the engine's vector types: an activation
//! over a slice, and WaveNet's gate `tanh(a) · sigmoid(b)`. The graph runtime
//! ([`crate::model`]) runs its standalone activations and gates through these, so they cost
//! what the conv epilogues cost instead of a libm call per value.
//!
//! Each function takes the kernel family the caller runs: the SIMD families use their
//! vector type (compiled with their features, the tail masked), [`Kernel::Portable`] the
//! portable vector, and [`Kernel::Reference`] the scalar definition
//! ([`Activation::apply`]), so the reference path stays the oracle. The vector forms are
//! `vmath`'s, tested against libm there.

use super::simd::{V16, lane_bits};
use super::vmath::{activate as act_v, sigmoid, tanh};
use crate::conv::Activation;
use crate::kernel::Kernel;

/// `d[i] = act(s[i])`, or `d[i] = act(d[i])` in place when `s` is `None` (`s`, when given,
/// is as long as `d`).
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
unsafe fn activate_with<V: V16>(act: Activation, d: &mut [f32], s: Option<&[f32]>) {
    let n = d.len();
    let s = s.map(|s| &s[..n]);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(16);
        let bits = lane_bits(0, m);
        // SAFETY: lanes `i..i + m` of `d` (and of `s`, as long) are in bounds; the masked
        // loads read and the store writes only those; the caller's CPU support.
        unsafe {
            let p = d.as_mut_ptr().add(i);
            let v = match s {
                Some(s) => V::load_mask(s.as_ptr().add(i), bits),
                None => V::load_mask(p, bits),
            };
            act_v(v, act).store_first(p, m);
        }
        i += m;
    }
}

/// `d[i] = tanh(a[i]) · sigmoid(b[i])` (`a`, `b` as long as `d`).
///
/// # Safety
/// The CPU supports `V`'s instruction set.
#[inline(always)]
unsafe fn gate_with<V: V16>(a: &[f32], b: &[f32], d: &mut [f32]) {
    let n = d.len();
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(16);
        let bits = lane_bits(0, m);
        // SAFETY: lanes `i..i + m` of `a`, `b` and `d` are in bounds (all `n` long); the
        // masked loads read and the store writes only those; the caller's CPU support.
        unsafe {
            let va = V::load_mask(a.as_ptr().add(i), bits);
            let vb = V::load_mask(b.as_ptr().add(i), bits);
            tanh(va)
                .mul(sigmoid(vb))
                .store_first(d.as_mut_ptr().add(i), m);
        }
        i += m;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn activate_avx512(act: Activation, d: &mut [f32], s: Option<&[f32]>) {
    // SAFETY: the features are enabled on this function.
    unsafe { activate_with::<core::arch::x86_64::__m512>(act, d, s) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn activate_avx2(act: Activation, d: &mut [f32], s: Option<&[f32]>) {
    // SAFETY: the features are enabled on this function.
    unsafe { activate_with::<[core::arch::x86_64::__m256; 2]>(act, d, s) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn gate_avx512(a: &[f32], b: &[f32], d: &mut [f32]) {
    // SAFETY: the features are enabled on this function.
    unsafe { gate_with::<core::arch::x86_64::__m512>(a, b, d) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gate_avx2(a: &[f32], b: &[f32], d: &mut [f32]) {
    // SAFETY: the features are enabled on this function.
    unsafe { gate_with::<[core::arch::x86_64::__m256; 2]>(a, b, d) }
}

/// `d = act(s)` elementwise, or `d = act(d)` in place when `s` is `None`, on `kernel`'s
/// vector type. `s`, when given, must be as long as `d` (shorter: only its length is
/// written).
pub(crate) fn activate(kernel: Kernel, act: Activation, d: &mut [f32], s: Option<&[f32]>) {
    let d = match s {
        Some(s) if s.len() < d.len() => &mut d[..s.len()],
        Some(_) | None => d,
    };
    match kernel {
        Kernel::Reference => match s {
            Some(s) => d.iter_mut().zip(s).for_each(|(d, &x)| *d = act.apply(x)),
            None => d.iter_mut().for_each(|x| *x = act.apply(*x)),
        },
        // SAFETY: the portable vector needs no CPU feature.
        Kernel::Portable => unsafe { activate_with::<[f32; 16]>(act, d, s) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if Kernel::Avx512.is_available() => {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            unsafe { activate_avx512(act, d, s) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if Kernel::Avx2.is_available() => {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { activate_avx2(act, d, s) }
        }
        // A family this CPU lacks (never passed by the runtime, which checks when the
        // family is chosen): the portable vector computes the same.
        // SAFETY: the portable vector needs no CPU feature.
        Kernel::Avx512 | Kernel::Avx2 => unsafe { activate_with::<[f32; 16]>(act, d, s) },
    }
}

/// `d[i] = tanh(a[i]) · sigmoid(b[i])` on `kernel`'s vector type, over the shortest of
/// the three slices.
pub(crate) fn gate(kernel: Kernel, a: &[f32], b: &[f32], d: &mut [f32]) {
    let n = d.len().min(a.len()).min(b.len());
    let (a, b, d) = (&a[..n], &b[..n], &mut d[..n]);
    match kernel {
        Kernel::Reference => {
            for ((d, &a), &b) in d.iter_mut().zip(a).zip(b) {
                *d = Activation::Tanh.apply(a) * Activation::Sigmoid.apply(b);
            }
        }
        // SAFETY: the portable vector needs no CPU feature.
        Kernel::Portable => unsafe { gate_with::<[f32; 16]>(a, b, d) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if Kernel::Avx512.is_available() => {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            unsafe { gate_avx512(a, b, d) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if Kernel::Avx2.is_available() => {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { gate_avx2(a, b, d) }
        }
        // SAFETY: the portable vector needs no CPU feature.
        Kernel::Avx512 | Kernel::Avx2 => unsafe { gate_with::<[f32; 16]>(a, b, d) },
    }
}

/// What the graph runtime runs inside a conv's engine call, after its last layer: a PReLU,
/// then a residual added, then an activation — `act(prelu(y) + residual)`, each part
/// optional. Computed as the unfused steps compute it (the PReLU and the sum as scalars,
/// the activation by [`activate`]), so the fused run is exactly the unfused one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Post<'a> {
    /// PReLU slopes: one for every channel, or one per channel.
    pub(crate) prelu: Option<&'a [f32]>,
    /// Added after the PReLU: NCHW, the shape of the conv's output.
    pub(crate) residual: Option<&'a [f32]>,
    /// Applied last.
    pub(crate) act: Activation,
}

impl Post<'_> {
    /// Whether it changes anything.
    pub(crate) fn is_identity(&self) -> bool {
        self.prelu.is_none() && self.residual.is_none() && self.act == Activation::Identity
    }

    /// `d = act(prelu(d) + r)` on values of channel `ch` (`r`, when given, as long as
    /// `d`: the residual's values at the same places), the activation on `kernel`'s vector
    /// type ([`activate`]).
    pub(crate) fn apply(&self, kernel: Kernel, ch: usize, d: &mut [f32], r: Option<&[f32]>) {
        let slope = self.prelu.map(|s| if s.len() == 1 { s[0] } else { s[ch] });
        let prelu = |x: f32, a: f32| if x > 0.0 { x } else { a * x };
        match (slope, r) {
            (Some(a), Some(r)) => d
                .iter_mut()
                .zip(r)
                .for_each(|(x, &y)| *x = prelu(*x, a) + y),
            (Some(a), None) => d.iter_mut().for_each(|x| *x = prelu(*x, a)),
            (None, Some(r)) => d.iter_mut().zip(r).for_each(|(x, &y)| *x += y),
            (None, None) => {}
        }
        if self.act != Activation::Identity {
            activate(kernel, self.act, d, None);
        }
    }

    /// Runs on a whole NCHW output of `channels` planes of `plane` values per batch item
    /// (`out` as long as the residual, when there is one).
    pub(crate) fn apply_nchw(
        &self,
        kernel: Kernel,
        channels: usize,
        plane: usize,
        out: &mut [f32],
    ) {
        for (i, d) in out.chunks_mut(plane.max(1)).enumerate() {
            let r = self.residual.map(|r| &r[i * plane..(i + 1) * plane]);
            self.apply(kernel, i % channels.max(1), d, r);
        }
    }
}

/// Every activation (leaky ReLU at slope 0.1), for the tests.
#[cfg(test)]
pub(crate) const TEST_ACTS: [Activation; 7] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Gelu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Silu,
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Close to the scalar definition: a few ulps relative, or 1e-6 absolute near zero;
    /// NaN where it is NaN, the same infinity where it is infinite.
    fn close(got: f32, want: f32) -> bool {
        if want.is_nan() {
            return got.is_nan();
        }
        if want.is_infinite() {
            return got == want;
        }
        (got - want).abs() <= 1e-6_f32.max(want.abs() * 4e-6)
    }

    fn families() -> Vec<Kernel> {
        Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .collect()
    }

    fn values() -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(
            prop_oneof![
                8 => -30.0f32..30.0,
                1 => Just(f32::NAN),
                1 => Just(f32::INFINITY),
                1 => Just(f32::NEG_INFINITY),
                1 => Just(0.0f32),
            ],
            0..70,
        )
    }

    proptest! {
        /// Every family's activation, in place and from a source, against the scalar
        /// definition, on every length (tails of 0–15 lanes) and the specials.
        #[test]
        fn activations_match_the_scalar_definition(xs in values()) {
            for kernel in families() {
                for act in TEST_ACTS {
                    let mut inplace = xs.clone();
                    activate(kernel, act, &mut inplace, None);
                    let mut from = vec![7.0; xs.len()];
                    activate(kernel, act, &mut from, Some(&xs));
                    for ((&x, &a), &b) in xs.iter().zip(&inplace).zip(&from) {
                        let want = act.apply(x);
                        prop_assert!(close(a, want), "{kernel} {act:?}({x}) = {a}, want {want}");
                        prop_assert_eq!(a.to_bits(), b.to_bits());
                    }
                }
            }
        }

        /// Every family's post-op against its definition, `act(prelu(x) + r)` in scalars:
        /// PReLU and sum bit for bit, the activation as close as the activations are.
        #[test]
        fn post_ops_match_their_definition(
            xr in values().prop_flat_map(|x| {
                let n = x.len();
                (Just(x), prop::collection::vec(-3.0f32..3.0, n))
            }),
            slope in prop_oneof![Just(None), (-2.0f32..2.0).prop_map(Some)],
            with_r in any::<bool>(),
        ) {
            let (xs, rs) = xr;
            let slopes = slope.map(|a| vec![7.0, a]);
            for kernel in families().into_iter().chain([Kernel::Reference]) {
                for act in TEST_ACTS {
                    let post = Post {
                        prelu: slopes.as_deref(),
                        residual: None,
                        act,
                    };
                    let mut d = xs.clone();
                    post.apply(kernel, 1, &mut d, with_r.then_some(&rs[..]));
                    for i in 0..xs.len() {
                        let mut v = xs[i];
                        if let Some(a) = slope {
                            v = if v > 0.0 { v } else { a * v };
                        }
                        if with_r {
                            v += rs[i];
                        }
                        let want = act.apply(v);
                        if matches!(act, Activation::Identity | Activation::Relu) {
                            prop_assert_eq!(d[i].to_bits(), want.to_bits(), "{} {:?}", kernel, act);
                        } else {
                            prop_assert!(close(d[i], want), "{kernel} {act:?}: {} vs {want}", d[i]);
                        }
                    }
                }
            }
        }

        /// Every family's gate against `tanh(a) · sigmoid(b)` computed with libm.
        #[test]
        fn gates_match_the_scalar_definition(ab in values().prop_flat_map(|a| {
            let n = a.len();
            (Just(a), prop::collection::vec(-30.0f32..30.0, n))
        })) {
            let (a, b) = ab;
            for kernel in families() {
                let mut d = vec![0.0; a.len()];
                gate(kernel, &a, &b, &mut d);
                for i in 0..a.len() {
                    let want = Activation::Tanh.apply(a[i]) * Activation::Sigmoid.apply(b[i]);
                    prop_assert!(close(d[i], want), "{kernel} gate({}, {}) = {}, want {want}", a[i], b[i], d[i]);
                }
            }
        }
    }
}

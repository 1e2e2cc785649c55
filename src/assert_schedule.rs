//! `assert_schedule!`: a const-context gridding check without the proc macro.

/// Fails `cargo build` when a 1D schedule of dilation rates leaves holes in its receptive
/// field (the gridding effect), with a message that says so and names the first hole.
/// Checked in a `const` by the `const fn` engine
/// ([`schedule::const_core`](crate::schedule::const_core)), with no proc macro involved.
///
/// Grammar, at item level or inside a function body:
///
/// ```text
/// assert_schedule!(kernel: K, rates: [r1, r2, …] $(, strides: [s1, s2, …])?);
/// assert_schedule!(kernels: [k1, k2, …], rates: [r1, r2, …] $(, strides: [s1, …])?);
/// ```
///
/// `kernels` and `strides` have one entry for every layer or one per rate. The values are
/// integer constants (cast to `u64`). The const check handles receptive fields up to
/// [`CONST_MAX_RF`](crate::schedule::const_core::CONST_MAX_RF) and
/// [`CONST_MAX_LAYERS`](crate::schedule::const_core::CONST_MAX_LAYERS) layers; larger
/// stacks fail the build with a message that points to the `dilated` command.
///
/// A schedule without holes passes silently:
///
/// ```
/// dilated::assert_schedule!(kernel: 3, rates: [1, 2, 5]);
/// dilated::assert_schedule!(kernel: 3, rates: [1, 2, 5, 1, 2, 5]);
/// // WaveNet: causal k = 2, rates 1, 2, 4, …, 512.
/// dilated::assert_schedule!(kernel: 2, rates: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
/// // Mixed kernels and a stride.
/// dilated::assert_schedule!(kernels: [3, 5, 3], rates: [1, 1, 2], strides: [2, 1, 1]);
/// ```
///
/// Equal factors grid (every odd offset of `[2, 4, 8]` is a hole), and the build fails:
///
/// ```compile_fail
/// dilated::assert_schedule!(kernel: 3, rates: [2, 4, 8]);
/// ```
///
/// ```text
/// error[E0080]: evaluation panicked: gridding: this schedule has holes: 14 of the 29 offsets
///               in its receptive field are never read; the hole nearest the centre is at
///               offset -1 (first hole: -13, widest gap: 1); the holes open at layer 1 (rate 2).
///               reach from offset -14 ('#' read, '.' hole): #.#.#.#.#.#.#.#.#.#.#.#.#.#.#
///               help: no hole-free 3-layer schedule reaches a receptive field of 29; rates
///               [1, 3, 9] reach 27 (no holes, HDC rules hold), or add layers
/// ```
///
/// The help line comes from the const suggester
/// ([`const_core::suggest_fix`](crate::schedule::const_core::suggest_fix)), the same
/// construction as [`schedule::suggest`](crate::schedule::suggest()).
///
/// So does a schedule that satisfies HDC rules 1 and 3 yet leaves holes, and a malformed
/// one:
///
/// ```compile_fail
/// dilated::assert_schedule!(kernel: 3, rates: [2, 3]);
/// ```
///
/// ```compile_fail
/// dilated::assert_schedule!(kernel: 3, rates: [1, 0, 2]);
/// ```
#[macro_export]
macro_rules! assert_schedule {
    (kernel: $k:expr, rates: [$($r:expr),+ $(,)?] $(, strides: [$($s:expr),* $(,)?])? $(,)?) => {
        $crate::assert_schedule!(@check [$k], [$($r),+], [$($($s),*)?]);
    };
    (kernels: [$($k:expr),+ $(,)?], rates: [$($r:expr),+ $(,)?] $(, strides: [$($s:expr),* $(,)?])? $(,)?) => {
        $crate::assert_schedule!(@check [$($k),+], [$($r),+], [$($($s),*)?]);
    };
    (@check [$($k:expr),+], [$($r:expr),+], [$($s:expr),*]) => {
        const _: () = {
            use $crate::__private::dilated_core::schedule::const_core as __cc;
            const __V: __cc::ConstCheck =
                __cc::check(&[$(($k) as u64),+], &[$(($r) as u64),+], &[$(($s) as u64),*]);
            const __P: __cc::Pattern = __cc::pattern(&__V);
            const __ROW: &str = __cc::pattern_str(&__P);
            if __V.error.is_some() && __V.error_layer_number() > 0 {
                ::core::panic!("{}", $crate::__private::const_format::concatcp!(
                    "invalid schedule: layer ",
                    __V.error_layer_number(),
                    ": ",
                    __V.error_text(),
                ));
            }
            if __V.error.is_some() {
                ::core::panic!("{}", $crate::__private::const_format::concatcp!(
                    "invalid schedule: ",
                    __V.error_text(),
                ));
            }
            const __S: __cc::ConstSuggestion =
                __cc::suggest_fix(&[$(($k) as u64),+], &[$(($r) as u64),+], &[$(($s) as u64),*]);
            const __FIX: &str = __cc::suggestion_str(&__S);
            if __V.hole_count > 0 && __S.found && __S.reaches {
                ::core::panic!("{}", $crate::__assert_schedule_message!(__V, __P, __ROW,
                    "use rates ",
                    __FIX,
                    " (no holes, HDC rules hold, receptive field ",
                    __S.receptive_field,
                    " >= ",
                    __V.receptive_field,
                    ")",
                ));
            }
            if __V.hole_count > 0 && __S.found {
                ::core::panic!("{}", $crate::__assert_schedule_message!(__V, __P, __ROW,
                    "no hole-free ",
                    __V.layers,
                    "-layer schedule reaches a receptive field of ",
                    __V.receptive_field,
                    "; rates ",
                    __FIX,
                    " reach ",
                    __S.receptive_field,
                    " (no holes, HDC rules hold), or add layers",
                ));
            }
            if __V.hole_count > 0 {
                ::core::panic!("{}", $crate::__assert_schedule_message!(__V, __P, __ROW,
                    "start the stack with rate 1, keep each rate at most the width the layers before it cover, and let the rates share no common factor (their gcd is ",
                    __V.gcd,
                    "); `dilated suggest` proposes hole-free schedules",
                ));
            }
        };
    };
}

/// The gridding message of [`assert_schedule!`], with its help text. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __assert_schedule_message {
    ($v:ident, $p:ident, $row:ident, $($help:expr),+ $(,)?) => {
        $crate::__private::const_format::concatcp!(
            "gridding: this schedule has holes: ",
            $v.hole_count,
            " of the ",
            $v.receptive_field,
            " offsets in its receptive field are never read; the hole nearest the centre is at offset ",
            $v.nearest_hole,
            " (first hole: ",
            $v.first_hole,
            ", widest gap: ",
            $v.widest_gap,
            "); the holes open at layer ",
            $v.first_hole_layer + 1,
            " (rate ",
            $v.first_hole_rate,
            ").\nreach from offset ",
            $p.first_offset,
            " ('#' read, '.' hole): ",
            $row,
            "\nhelp: ",
            $($help),+
        )
    };
}

//! The size formulas of one convolution along one axis, written once. The schedule's
//! [`AxisSpec`](super::AxisSpec) (`u64`, typed errors), the runtime's `ConvDesc` (`usize`)
//! and const contexts all call these.
//!
//! Every function is a `const fn` with checked arithmetic: `None` means overflow (or, for
//! [`output_size`], no output at all). [`to_u64`] and [`to_usize`] are the checked
//! conversions for callers that count in `usize`.
//!
//! ```
//! use dilated_core::schedule::formula::{
//!     effective_kernel, output_size, padded_input, same_padding, span,
//! };
//! // k = 3, d = 2 on an input of 32: effective kernel 5, `same` padding 2 + 2, output 32.
//! assert_eq!(effective_kernel(3, 2), Some(5));
//! let (lo, hi) = same_padding(span(3, 2).unwrap());
//! assert_eq!((lo, hi), (2, 2));
//! assert_eq!(output_size(padded_input(32, lo, hi).unwrap(), 5, 1), Some(32));
//! assert_eq!(same_padding(span(2, 1).unwrap()), (0, 1)); // odd total: PyTorch's split
//! assert_eq!(effective_kernel(3, u64::MAX), None);
//! ```

/// The span `d·(k − 1)` between the first and the last tap (0 for `k = 0`). With `d`
/// replaced by the tap step `d·jump`, it is also what a layer adds to the receptive field.
#[must_use]
pub const fn span(kernel: u64, rate: u64) -> Option<u64> {
    rate.checked_mul(kernel.saturating_sub(1))
}

/// The effective kernel `k' = d·(k − 1) + 1` (k = 3, d = 2 → 5).
#[must_use]
pub const fn effective_kernel(kernel: u64, rate: u64) -> Option<u64> {
    match span(kernel, rate) {
        Some(s) => s.checked_add(1),
        None => None,
    }
}

/// `same` padding `(p_lo, p_hi)` for a total of `span = d·(k − 1)` zeros, split as PyTorch's
/// `padding="same"` splits it: `p_lo = span / 2`, `p_hi = span − p_lo` (the extra zero
/// after the input when the total is odd).
#[must_use]
pub const fn same_padding(span: u64) -> (u64, u64) {
    (span / 2, span - span / 2)
}

/// `causal` padding `(p_lo, p_hi)`: all `span = d·(k − 1)` zeros before the input.
#[must_use]
pub const fn causal_padding(span: u64) -> (u64, u64) {
    (span, 0)
}

/// The padded input `I + p_lo + p_hi`.
#[must_use]
pub const fn padded_input(input: u64, lo: u64, hi: u64) -> Option<u64> {
    match input.checked_add(lo) {
        Some(x) => x.checked_add(hi),
        None => None,
    }
}

/// Output size by PyTorch's rule, `O = floor((I + p_lo + p_hi − d·(k − 1) − 1) / s) + 1`,
/// from the padded input and the effective kernel. `None` when the effective kernel is
/// wider than the padded input (the layer has no output) or the stride is 0.
#[must_use]
pub const fn output_size(padded: u64, effective: u64, stride: u64) -> Option<u64> {
    if effective > padded {
        return None;
    }
    match (padded - effective).checked_div(stride) {
        Some(q) => q.checked_add(1),
        None => None,
    }
}

// `to_u64` widens: no supported target has a `usize` wider than 64 bits.
const _: () = assert!(usize::BITS <= u64::BITS);

/// `usize` → `u64`, lossless on every target (checked at compile time).
#[must_use]
pub const fn to_u64(x: usize) -> u64 {
    x as u64
}

/// `u64` → `usize`, `None` when it does not fit (32-bit targets).
#[must_use]
pub const fn to_usize(x: u64) -> Option<usize> {
    if x > to_u64(usize::MAX) {
        None
    } else {
        // x <= usize::MAX: exact.
        Some(x as usize)
    }
}

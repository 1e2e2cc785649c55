//! Padding as a type: the literal consts a typed convolution carries its zero padding in.

/// A layer's zero padding, as an associated const `[[top, bottom], [left, right]]`.
/// Implemented by [`Pad2d`] and [`Pad1d`]; a macro may also implement it on its own marker
/// types.
pub trait ConstPadding {
    /// `[[top, bottom], [left, right]]`.
    const PADDING: [[usize; 2]; 2];
}

/// 2D padding: `T` rows on top, `B` at the bottom, `L` columns on the left, `R` on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pad2d<const T: usize, const B: usize, const L: usize, const R: usize>;

impl<const T: usize, const B: usize, const L: usize, const R: usize> ConstPadding
    for Pad2d<T, B, L, R>
{
    const PADDING: [[usize; 2]; 2] = [[T, B], [L, R]];
}

/// 1D padding: `L` on the left (the past, for a causal layer), `R` on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pad1d<const L: usize, const R: usize>;

impl<const L: usize, const R: usize> ConstPadding for Pad1d<L, R> {
    const PADDING: [[usize; 2]; 2] = [[0, 0], [L, R]];
}

//! A layer's geometry for one input size, what every driver takes ([`Run`]), and the walk
//! along an output row.
//!
//! **Padding.** For an output row the valid kernel rows form one range. Along the row,
//! the valid kernel columns form one range per *segment*: a run of output pixels whose
//! taps land inside the input for the same columns. The row is cut into those segments
//! ([`segments`]) and each segment into register tiles ([`tiles`]); a tile's taps are all
//! valid for all its pixels, so the kernels never test a bound and never read padding.

use super::buffers::Buf;
use super::split::Threads;
use crate::engine::kernels::taps;
use crate::engine::simd::LANES;
use crate::{ConvDesc, Error};

/// One layer's geometry for a given input size.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geom {
    pub(super) ih: usize,
    pub(super) iw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) dh: usize,
    pub(super) dw: usize,
    pub(super) sh: usize,
    pub(super) sw: usize,
    pub(super) pt: usize,
    pub(super) pl: usize,
}

impl Geom {
    pub(super) fn new(d: &ConvDesc, input: [usize; 2]) -> Result<Self, Error> {
        let [oh, ow] = d.output_size(input)?;
        // Every signed offset below stays far from overflow once the padded extent does.
        for (len, pad) in input.iter().zip(&d.padding) {
            let padded = len + pad[0] + pad[1];
            if padded > isize::MAX as usize / 4 {
                return Err(Error::Overflow {
                    what: "padded input",
                });
            }
        }
        Ok(Self {
            ih: input[0],
            iw: input[1],
            oh,
            ow,
            kh: d.kernel[0],
            kw: d.kernel[1],
            dh: d.dilation[0],
            dw: d.dilation[1],
            sh: d.stride[0],
            sw: d.stride[1],
            pt: d.padding[0][0],
            pl: d.padding[1][0],
        })
    }
}

impl Geom {
    /// Whether the 16 output pixels from column `ox` have every tap inside the input row.
    pub(super) fn interior(&self, ox: usize) -> bool {
        let first = ox * self.sw;
        first >= self.pl
            && first + (LANES - 1) * self.sw + (self.kw - 1) * self.dw < self.iw + self.pl
    }

    /// The input row and column of kernel tap (0, 0) for output pixel `(oy, ox)`
    /// (`o·s − pad`: negative inside the top or left padding).
    pub(super) fn origin(&self, oy: usize, ox: usize) -> (isize, isize) {
        (
            (oy * self.sh) as isize - self.pt as isize,
            (ox * self.sw) as isize - self.pl as isize,
        )
    }
}

/// What every layer driver takes: the layer, its geometry, the batch, its input and output
/// buffers and the threads.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub(super) d: &'a ConvDesc,
    pub(super) g: &'a Geom,
    pub(super) batch: usize,
    pub(super) x: Buf,
    pub(super) y: Buf,
    pub(super) threads: &'a Threads,
}

/// Cuts output columns `a..b` into segments of constant valid kernel columns.
pub(super) fn segments(
    g: &Geom,
    a: usize,
    b: usize,
    mut f: impl FnMut(usize, usize, (usize, usize)),
) {
    let col = |o| taps(o, g.sw, g.dw, g.pl, g.kw, g.iw);
    let mut s = a;
    while s < b {
        let r = col(s);
        // Both ends of the range only decrease along the row: binary-search the change.
        let (mut lo, mut hi) = (s + 1, b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if col(mid) == r {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        f(s, lo, r);
        s = lo;
    }
}

/// Covers `s..e` with tiles from `sizes` (widest first): widest tiles, then the remainder
/// either with narrower tiles or with one overlapping widest tile (recomputing a few
/// pixels), whichever costs less. A tile narrower than `chains` pixels is charged as
/// `chains` (too few independent accumulators to hide the FMA latency). With `chains = 0`
/// no tile overlaps another (the narrow decomposition always costs less).
pub(super) fn tiles(
    s: usize,
    e: usize,
    sizes: &[usize],
    chains: usize,
    mut f: impl FnMut(usize, usize),
) {
    let rmax = sizes[0];
    let mut o = s;
    while e - o >= rmax {
        f(o, rmax);
        o += rmax;
    }
    if o == e {
        return;
    }
    // Cost of the narrow decomposition of the remainder.
    let (mut rem, mut cost) = (e - o, 0);
    for &t in sizes {
        while rem >= t {
            cost += t.max(chains);
            rem -= t;
        }
    }
    if e - s >= rmax && cost > rmax {
        f(e - rmax, rmax);
        return;
    }
    for &t in sizes {
        while e - o >= t {
            f(o, t);
            o += t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_each_segment() {
        let mut seen = [0; 40];
        tiles(3, 37, &[14, 8, 4, 2, 1], 2, |o, r| {
            for s in &mut seen[o..o + r] {
                *s += 1;
            }
        });
        assert!(seen[3..37].iter().all(|&s| s >= 1));
        assert!(seen[..3].iter().chain(&seen[37..]).all(|&s| s == 0));
        let mut covered = 0;
        tiles(0, 13, &[14, 8, 4, 2, 1], 2, |_, r| covered += r);
        assert_eq!(covered, 13);
        let list = |e: usize, chains: usize| {
            let mut v = Vec::new();
            tiles(0, e, &[14, 8, 4, 2, 1], chains, |o, r| v.push((o, r)));
            v
        };
        // A remainder of 6 is cheaper as 4 + 2 than as a 14-wide overlap...
        assert_eq!(list(34, 2), [(0, 14), (14, 14), (28, 4), (32, 2)]);
        // ...a remainder of 13 with single-chain narrow tiles is not.
        assert_eq!(list(27, 4), [(0, 14), (13, 14)]);
        // With no chains charged, no tile overlaps another.
        assert_eq!(list(27, 0), [(0, 14), (14, 8), (22, 4), (26, 1)]);
    }
}

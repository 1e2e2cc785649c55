//! The post-op of a run's last layer ([`Post`]: a PReLU, a residual, an activation), applied
//! by each driver to the outputs of a unit of work as soon as the unit has written them,
//! while they are still in cache: one pass over memory for the conv and what follows it,
//! instead of a second pass (and a second thread-less loop) after the layer.

use core::ops::Range;

use crate::engine::elementwise::Post;
use crate::kernel::Kernel;

/// A [`Post`] bound to the NCHW output of a layer (`c` channels of `oh × ow`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail<'a> {
    pub(super) post: Post<'a>,
    pub(super) kernel: Kernel,
    pub(super) y: *mut f32,
    pub(super) c: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

// SAFETY: the output outlives the parallel region and each unit applies the post-op only to
// the outputs it wrote itself (a disjoint set per unit), so sharing the pointer is
// race-free; the residual and the slopes are shared reads.
unsafe impl Send for Tail<'_> {}
// SAFETY: as above.
unsafe impl Sync for Tail<'_> {}

impl Tail<'_> {
    /// Applies the post-op to channels `cs` of image `n`, output row `oy`, columns
    /// `xa..xb` (clipped to the row).
    ///
    /// The caller is the unit that wrote those outputs, and no other unit writes or reads
    /// them while it runs.
    pub(super) fn row(&self, n: usize, cs: Range<usize>, oy: usize, xa: usize, xb: usize) {
        let xb = xb.min(self.ow);
        if oy < self.oh && xa < xb {
            self.runs(n, cs, oy * self.ow + xa, xb - xa);
        }
    }

    /// Values `from..from + len` of the planes of channels `cs` of image `n` (inside one
    /// plane: the callers pass rows and columns inside the output).
    fn runs(&self, n: usize, cs: Range<usize>, from: usize, len: usize) {
        let plane = self.oh * self.ow;
        for ch in cs.start..cs.end.min(self.c) {
            let at = (n * self.c + ch) * plane + from;
            // SAFETY: image `n` exists, `ch < c` and `from + len ≤ oh · ow` (rows below
            // `oh`, columns below `ow`), so the run lies inside the `batch · c · oh · ow`
            // output, which the network's caller lent mutably for the whole run; this unit
            // wrote these outputs and is the only one to touch them now (the caller's
            // contract).
            let d = unsafe { core::slice::from_raw_parts_mut(self.y.add(at), len) };
            let r = self.post.residual.map(|r| &r[at..at + len]);
            self.post.apply(self.kernel, ch, d, r);
        }
    }

    /// Rows `ys` (columns `xa..xb`), channels `cs`: whole rows as one run per channel.
    pub(super) fn block(&self, n: usize, cs: Range<usize>, ys: Range<usize>, xa: usize, xb: usize) {
        let yb = ys.end.min(self.oh);
        if xa == 0 && xb >= self.ow {
            if ys.start < yb {
                self.runs(n, cs, ys.start * self.ow, (yb - ys.start) * self.ow);
            }
        } else {
            self.rows(n, cs, ys.start..yb, xa, xb);
        }
    }

    /// Applies the post-op to every row of `rows` (and columns `xa..xb`), channels `cs`.
    pub(super) fn rows(
        &self,
        n: usize,
        cs: Range<usize>,
        rows: impl IntoIterator<Item = usize>,
        xa: usize,
        xb: usize,
    ) {
        for oy in rows {
            self.row(n, cs.clone(), oy, xa, xb);
        }
    }

    /// Every channel.
    pub(super) fn all(&self) -> Range<usize> {
        0..self.c
    }
}

//! The post-op of a run's last layer ([`Post`]: a PReLU, a residual, an activation): a
//! pass over the layer's NCHW output right after the layer, on the run's threads, in runs
//! short enough that the sum and the activation of a run stay in L1.
//!
//! Not interleaved with the layer's units of work: applied by each unit to the outputs it
//! had just written (while they were in L2), it measured slower on the Zen 4 than this
//! pass — 0.85× on a 64-channel TCN at 32768 samples, 0.94–0.97× on ResNet blocks of 32
//! and 64 channels at 256² and 128², even with the residual prefetched (`docs/perf.md`,
//! "Residual adds in the engine"): a unit's outputs are short runs per channel and row,
//! which cost more in the post-op than a second sequential pass costs in memory traffic
//! on a CPU whose L3 holds these tensors.

use crate::engine::elementwise::Post;
use crate::kernel::Kernel;

use super::split::Threads;

/// Floats per run of the pass (16 KiB, as the graph runtime's own adds).
const RUN: usize = 4096;

/// Applies `post` to the NCHW output `y` of `batch × c` planes of `plane` floats, with
/// `kernel`'s vector code, runs of [`RUN`] floats spread over `threads`.
pub(super) fn apply(
    post: &Post<'_>,
    kernel: Kernel,
    y: Out,
    (batch, c, plane): (usize, usize, usize),
    threads: &Threads,
) {
    let per = plane.div_ceil(RUN).max(1);
    let planes = batch * c;
    threads.run(planes * per, &|u| {
        let (p, k) = (u / per, u % per);
        let a = p * plane + k * RUN;
        let len = RUN.min(plane - k * RUN);
        // SAFETY: plane `p < batch · c`, floats `k·RUN .. k·RUN + len ≤ plane` of it: inside
        // the `batch · c · plane` output the caller lent mutably for the whole run; each
        // unit `u` touches its own run, and no other code runs on the output meanwhile.
        let d = unsafe { core::slice::from_raw_parts_mut(y.at(a), len) };
        let r = post.residual.map(|r| &r[a..a + len]);
        post.apply(kernel, p % c, d, r);
    });
}

/// The output pointer, shared by the threads of the pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Out(pub(super) *mut f32);

impl Out {
    /// Float `i` of the output (a method, so closures capture the whole `Out`).
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

// SAFETY: the output outlives the pass and each unit writes its own run of it (see
// `apply`), so sharing the pointer is race-free.
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

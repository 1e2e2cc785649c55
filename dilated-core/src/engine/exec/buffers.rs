//! Buffers and layouts: the [`Workspace`]'s two scratch buffers, the raw views the
//! drivers share across threads, their strides in the NCHW and channel-blocked layouts,
//! and the one conversion between them.
//!
//! Two activation buffers (ping and pong), each as large as the largest blocked activation
//! between layers plus [`ALIGN_SLACK`] floats to start on 64 bytes, and the transformed
//! tiles of the layers on Winograd F(2 × 2, 3 × 3), one slot per thread
//! (`winograd2d::Units`); nothing else grows with the input (tiles and epilogue scratch
//! live on the stack).

use super::split::Threads;
use crate::engine::isa::Isa;
use crate::engine::kernels::Out;
use crate::engine::simd::LANES;
use crate::{ConvDesc, Error};

/// Reusable scratch memory for [`Network::forward_into`](crate::engine::Network::forward_into):
/// after the first call with a given shape, later calls allocate nothing.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    pub(super) ping: Vec<f32>,
    pub(super) pong: Vec<f32>,
    pub(super) wino: Vec<f32>,
}

impl Workspace {
    /// An empty workspace; it grows on first use.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows the buffers (ping, pong, Winograd tiles) to hold `need` floats each after
    /// their alignment slack, and returns where each one's data starts: on a 64-byte
    /// boundary (an unaligned plane splits every vector access across two cache lines).
    pub(super) fn scratch(&mut self, need: [usize; 3]) -> [*mut f32; 3] {
        for (buf, len) in [&mut self.ping, &mut self.pong, &mut self.wino]
            .into_iter()
            .zip(need)
        {
            let len = if len == 0 { 0 } else { len + ALIGN_SLACK };
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
        }
        let start = |buf: &mut Vec<f32>| {
            let skip = buf.as_ptr().align_offset(64).min(ALIGN_SLACK);
            // In bounds: a buffer in use holds `ALIGN_SLACK` floats past what the run needs (an
            // unused one is never read or written).
            buf.as_mut_ptr().wrapping_add(skip)
        };
        [
            start(&mut self.ping),
            start(&mut self.pong),
            start(&mut self.wino),
        ]
    }
}

/// Floats of slack at the front of each scratch buffer, so that it can start on a
/// 64-byte boundary.
pub(super) const ALIGN_SLACK: usize = 15;

/// Where a layer reads or writes: the caller's buffers, or one of the two scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Loc {
    Input,
    Ping,
    Pong,
    Output,
}

/// The scratch buffer a layer reading from `l` writes to (ping unless `l` is ping).
pub(super) fn other(l: Loc) -> Loc {
    if l == Loc::Ping { Loc::Pong } else { Loc::Ping }
}

/// Where each [`Loc`] of one run is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Places {
    /// The caller's input, only ever read through this pointer.
    pub(super) input: *mut f32,
    pub(super) ping: *mut f32,
    pub(super) pong: *mut f32,
    pub(super) output: *mut f32,
}

impl Places {
    /// The buffer at `loc`.
    pub(super) fn ptr(&self, loc: Loc) -> *mut f32 {
        match loc {
            Loc::Input => self.input,
            Loc::Ping => self.ping,
            Loc::Pong => self.pong,
            Loc::Output => self.output,
        }
    }
}

/// A raw activation buffer shared by the worker threads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Buf {
    pub(super) ptr: *mut f32,
    pub(super) blocked: bool,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
}

// SAFETY: the buffers outlive the parallel region, workers only read the input buffer, and
// each worker writes a disjoint set of output elements (its own rows, column chunk and
// channel blocks), so sharing the pointers is race-free.
unsafe impl Send for Buf {}
// SAFETY: as above.
unsafe impl Sync for Buf {}

/// Strides of a buffer: image, 16-channel block, channel in block, row, pixel.
#[derive(Debug, Clone, Copy)]
pub(super) struct Strides {
    pub(super) img: usize,
    pub(super) cb: usize,
    pub(super) c: usize,
    pub(super) row: usize,
    pub(super) px: usize,
}

impl Buf {
    /// The base pointer (a method, so closures capture the whole `Sync` buffer).
    pub(super) fn p(&self) -> *mut f32 {
        self.ptr
    }

    pub(super) fn strides(&self) -> Strides {
        let hw = self.h * self.w;
        if self.blocked {
            Strides {
                img: self.c.div_ceil(LANES) * LANES * hw,
                cb: LANES * hw,
                c: 1,
                row: LANES * self.w,
                px: LANES,
            }
        } else {
            Strides {
                img: self.c * hw,
                cb: LANES * hw,
                c: hw,
                row: self.w,
                px: 1,
            }
        }
    }
}

pub(super) fn buf_len(
    batch: usize,
    c: usize,
    hw: [usize; 2],
    blocked: bool,
) -> Result<usize, Error> {
    let c = if blocked {
        c.div_ceil(LANES) * LANES
    } else {
        c
    };
    ConvDesc::nchw_len(batch, c, hw)
}

pub(super) fn out_desc(y: &Buf, s: &Strides, base: *mut f32) -> Out {
    Out {
        ptr: base,
        blocked: y.blocked,
        cb: s.cb,
        c: s.c,
    }
}

/// Lanes of output block `ob` that exist (all 16 in the blocked layout, where padded
/// lanes may hold anything and are never read; only real channels in NCHW).
pub(super) fn real_lanes(y: &Buf, ob: usize) -> u16 {
    if y.blocked {
        return u16::MAX;
    }
    let n = y.c.saturating_sub(ob * LANES).min(LANES);
    if n == LANES {
        u16::MAX
    } else {
        ((1u32 << n) - 1) as u16
    }
}

/// Pixels [`to_blocked`] converts at a time: 64 pixels of 16 channels are 4 KiB.
const TO_BLOCKED_RUN: usize = 64;

/// NCHW → blocked, the padded lanes left as they are (never read for real outputs). Full
/// blocks of 16 channels go 16 pixels at a time through the family's register transpose
/// ([`Isa::transpose16`]); a block's last pixels and a last block of fewer than 16
/// channels, element by element.
pub(super) fn to_blocked<I: Isa>(x: Buf, y: Buf, batch: usize, threads: &Threads) {
    let xs = x.strides();
    let ys = y.strides();
    let hw = x.h * x.w;
    let cb = x.c.div_ceil(LANES);
    threads.run(batch * cb, &|u| {
        let (n, b) = (u / cb, u % cb);
        let lanes = (x.c - b * LANES).min(LANES);
        let src = x
            .p()
            .cast_const()
            .wrapping_add(n * xs.img + b * LANES * xs.c);
        let dst = y.p().wrapping_add(n * ys.img + b * ys.cb);
        let mut p0 = 0;
        if lanes == LANES {
            while p0 + LANES <= hw {
                // SAFETY: channels `16b..16b + 16` < C of image `n` (one plane, `xs.c`
                // floats, each), pixels `p0..p0 + 16` < H·W of each; the 16 pixel vectors
                // from `p0` of block `b` in the blocked buffer, a different buffer; each
                // unit writes only its own block of its own image; `I` was checked
                // available when the network was built.
                unsafe {
                    I::transpose16(
                        src.wrapping_add(p0),
                        xs.c,
                        dst.wrapping_add(p0 * LANES),
                        LANES,
                    );
                }
                p0 += LANES;
            }
        }
        // The rest a run of pixels at a time, every lane of it, so the run's 4 KiB of the
        // block stay in the L1 cache while the channels' rows fill them in.
        while p0 < hw {
            let p1 = (p0 + TO_BLOCKED_RUN).min(hw);
            for l in 0..lanes {
                let src = src.wrapping_add(l * xs.c);
                let dst = dst.wrapping_add(l);
                for p in p0..p1 {
                    // SAFETY: channel `16b + l` < C of image `n`, pixel `p` < H·W, in both
                    // buffers; each unit writes only its own block of its own image.
                    unsafe { *dst.wrapping_add(p * LANES) = *src.wrapping_add(p) };
                }
            }
            p0 = p1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::isa::Portable;
    use proptest::prelude::*;

    /// Converts a random NCHW batch of `c` channels with family `I` and checks every real
    /// lane of the blocked result against the element it comes from.
    fn converts_exactly<I: Isa>(batch: usize, c: usize, hw: [usize; 2], seed: u32) {
        let len = batch * c * hw[0] * hw[1];
        // Distinct values (exact in f32: fewer than 2^24), so a misplaced one shows.
        let offset = (seed % 4096) as usize;
        let x: Vec<f32> = (0..len).map(|i| (i + offset) as f32).collect();
        let blocked_len = buf_len(batch, c, hw, true).unwrap();
        let mut y = vec![f32::NAN; blocked_len];
        let buf = |ptr: *mut f32, blocked| Buf {
            ptr,
            blocked,
            c,
            h: hw[0],
            w: hw[1],
        };
        let (from, into) = (buf(x.as_ptr().cast_mut(), false), buf(y.as_mut_ptr(), true));
        to_blocked::<I>(from, into, batch, &Threads::One);
        let plane = hw[0] * hw[1];
        let cb = c.div_ceil(LANES);
        for n in 0..batch {
            for ch in 0..c {
                for p in 0..plane {
                    let got = y[((n * cb + ch / LANES) * plane + p) * LANES + ch % LANES];
                    let want = x[(n * c + ch) * plane + p];
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "n {n} channel {ch} pixel {p}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The register transpose of every family (and the element-by-element rest: the
        /// last pixels of a plane, a last block of fewer than 16 channels) puts every
        /// element where the blocked layout says.
        #[test]
        fn to_blocked_moves_every_element(
            batch in 1usize..3,
            c in 1usize..50,
            h in 1usize..6,
            w in 1usize..40,
            seed in any::<u32>(),
        ) {
            converts_exactly::<Portable>(batch, c, [h, w], seed);
            #[cfg(target_arch = "x86_64")]
            {
                use crate::engine::isa::{Avx2, Avx512};
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    converts_exactly::<Avx2>(batch, c, [h, w], seed);
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    converts_exactly::<Avx512>(batch, c, [h, w], seed);
                }
            }
        }
    }
}

//! Per-layer plans: weights packed once, at [`Network::new`](super::Network::new), into the
//! order the kernels read them.
//!
//! Dense (and grouped) layers are cut into *passes*: a pass computes up to `OBMAX` blocks
//! of 16 output channels from one contiguous range of input channels. With one group every
//! pass reads every input channel. With groups, an output block whose channels all belong
//! to one group reads only that group's channels; a block that straddles groups gets one
//! pass per group, each writing only its own lanes (a lane mask), so no output ever sums
//! a product with another group's input (an infinite input elsewhere cannot leak in).
//! Packed weights: per pass, per input block segment, `[KH][KW][channels][OB][16]`.
//!
//! Depthwise layers (`groups = in = out`) pack `[C/16][KH][KW][16]` for the blocked kernel
//! and keep PyTorch's `[C][KH][KW]` for the NCHW kernel.

use super::kernels::Seg;
use super::nchw::Block;
use super::simd::LANES;
use super::wino::Wino;
use crate::Error;
use crate::conv::Conv;

/// One pass of a dense layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pass {
    /// First output block.
    pub(crate) ob0: usize,
    /// Output blocks (1..=OBMAX).
    pub(crate) nob: usize,
    /// Lanes written, per output block.
    pub(crate) masks: [u16; 2],
    /// Input channel blocks read, with their weights' offsets in [`Kind::Dense::w`].
    pub(crate) segs: Vec<Seg>,
}

/// Which kernels run a layer, with its weights packed for them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Dense or grouped.
    Dense { passes: Vec<Pass>, w: Vec<f32> },
    /// `groups = in = out`: blocked weights `[C/16][KH][KW][16]`.
    Depthwise { w: Vec<f32> },
    /// Dense or grouped on NCHW data in and out ([`super::nchw`]): blocks of
    /// [`PC`](super::nchw::PC) output channels, weights `[C_in/G][KH][KW][PC]` per block,
    /// and the Winograd filters ([`super::wino`]) where the layer runs on them.
    Nchw {
        blocks: Vec<Block>,
        w: Vec<f32>,
        wino: Option<Wino>,
    },
}

/// The engine's plan of one convolution: its weights packed for the kernels that run it,
/// and its biases padded to whole blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvPlan {
    pub(crate) kind: Kind,
    /// Biases padded to whole blocks (zeros without a bias).
    pub(crate) bias16: Vec<f32>,
}

fn blocks(c: usize) -> usize {
    c.div_ceil(LANES)
}

fn ovf(what: &'static str) -> Error {
    Error::Overflow { what }
}

impl ConvPlan {
    /// Packs `layer` for kernels that take up to `obmax` output blocks per tile, or for the
    /// NCHW dense kernels when `nchw` (a dense layer that reads and writes NCHW), with its
    /// Winograd filters too when `wino` is `Some` and the layer allows
    /// ([`super::wino::axis_of`]; `Some(true)` lifts the bounds measured per CPU).
    pub(crate) fn new(
        layer: &Conv,
        obmax: usize,
        nchw: bool,
        wino: Option<bool>,
    ) -> Result<Self, Error> {
        let d = layer.desc();
        let cbo = blocks(d.out_channels);
        let mut bias16 = vec![0.0; cbo.checked_mul(LANES).ok_or(ovf("bias"))?];
        if let Some(b) = layer.bias() {
            bias16[..b.len()].copy_from_slice(b);
        }
        let depthwise = d.groups == d.in_channels && d.groups == d.out_channels;
        let kind = if depthwise {
            Self::pack_depthwise(layer)?
        } else if nchw {
            let (blocks, w) = super::nchw::pack(layer)?;
            let wino = match wino.and_then(|everywhere| super::wino::axis_of(layer, everywhere)) {
                Some(axis) => Some(super::wino::pack(layer, axis, &blocks)?),
                None => None,
            };
            Kind::Nchw { blocks, w, wino }
        } else {
            Self::pack_dense(layer, obmax.clamp(1, 2))?
        };
        Ok(Self { kind, bias16 })
    }

    fn pack_depthwise(layer: &Conv) -> Result<Kind, Error> {
        let d = layer.desc();
        let taps = d.kernel[0] * d.kernel[1];
        let len = blocks(d.out_channels)
            .checked_mul(taps)
            .and_then(|v| v.checked_mul(LANES))
            .ok_or(ovf("packed weights"))?;
        let mut w = vec![0.0; len];
        for c in 0..d.out_channels {
            let (cb, l) = (c / LANES, c % LANES);
            for t in 0..taps {
                w[(cb * taps + t) * LANES + l] = layer.weight()[c * taps + t];
            }
        }
        Ok(Kind::Depthwise { w })
    }

    fn pack_dense(layer: &Conv, obmax: usize) -> Result<Kind, Error> {
        let d = layer.desc();
        let (cout, cin) = (d.out_channels, d.in_channels);
        let cpg_out = cout / d.groups;
        let cpg_in = d.in_per_group();
        let [kh, kw] = d.kernel;
        // (output block, lane mask, group) pieces, then merged into passes.
        let mut pieces = Vec::new();
        for ob in 0..blocks(cout) {
            let first = ob * LANES;
            let last = (first + LANES).min(cout) - 1;
            let (g_lo, g_hi) = (first / cpg_out, last / cpg_out);
            if g_lo == g_hi {
                pieces.push((ob, u16::MAX, g_lo));
            } else {
                for g in g_lo..=g_hi {
                    let mut mask = 0u16;
                    for l in 0..LANES {
                        let co = first + l;
                        if co < cout && co / cpg_out == g {
                            mask |= 1 << l;
                        }
                    }
                    pieces.push((ob, mask, g));
                }
            }
        }
        let mut passes: Vec<Pass> = Vec::new();
        let mut w = Vec::new();
        let mut i = 0;
        while i < pieces.len() {
            let (ob0, mask, g) = pieces[i];
            let mut nob = 1;
            if mask == u16::MAX {
                while nob < obmax
                    && i + nob < pieces.len()
                    && pieces[i + nob] == (ob0 + nob, u16::MAX, g)
                {
                    nob += 1;
                }
            }
            let (c0, c1) = if d.groups == 1 {
                (0, cin)
            } else {
                (g * cpg_in, (g + 1) * cpg_in)
            };
            let mut segs = Vec::new();
            for ib in c0 / LANES..=(c1 - 1) / LANES {
                let lo = c0.max(ib * LANES) - ib * LANES;
                let hi = c1.min(ib * LANES + LANES) - ib * LANES;
                let w_off = w.len();
                let add = kh
                    .checked_mul(kw)
                    .and_then(|v| v.checked_mul((hi - lo) * nob * LANES))
                    .and_then(|v| v.checked_add(w_off))
                    .ok_or(ovf("packed weights"))?;
                w.reserve(add - w_off);
                for ky in 0..kh {
                    for kx in 0..kw {
                        for ci in lo..hi {
                            let c = ib * LANES + ci;
                            for j in 0..nob {
                                for l in 0..LANES {
                                    let co = (ob0 + j) * LANES + l;
                                    let v = if co < cout && co / cpg_out == c / cpg_in {
                                        let k = c - (co / cpg_out) * cpg_in;
                                        layer.weight()[((co * cpg_in + k) * kh + ky) * kw + kx]
                                    } else {
                                        0.0
                                    };
                                    w.push(v);
                                }
                            }
                        }
                    }
                }
                segs.push(Seg { ib, lo, hi, w_off });
            }
            let mut masks = [0u16; 2];
            masks[..nob].fill(mask);
            passes.push(Pass {
                ob0,
                nob,
                masks,
                segs,
            });
            i += nob;
        }
        Ok(Kind::Dense { passes, w })
    }
}

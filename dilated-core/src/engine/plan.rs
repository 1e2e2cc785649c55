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
use super::nchw::{Block, S2Split, s2_split};
use super::simd::LANES;
use super::wino::Wino;
use crate::Error;
use crate::conv::{Activation, Conv, ConvDesc};

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
    /// Dense or grouped, with the Winograd filters of the channel-blocked layout
    /// ([`super::wino2`]: F(2 × 2, 3 × 3), or F(4, 3) and F(3, 2) along the row) where the
    /// layer may run on them.
    Dense {
        passes: Vec<Pass>,
        w: Vec<f32>,
        wino2: Option<Wino2>,
    },
    /// `groups = in = out`: blocked weights `[C/16][KH][KW][16]`.
    Depthwise { w: Vec<f32> },
    /// Dense or grouped on NCHW data in and out ([`super::nchw`]): blocks of
    /// [`PC`](super::nchw::PC) output channels, weights `[C_in/G][KH][KW][PC]` per block,
    /// and the Winograd filters ([`super::wino`]) where the layer runs on them.
    Nchw {
        blocks: Vec<Block>,
        w: Vec<f32>,
        wino: Option<Wino>,
        /// At stride 2 across, how the tiles read the input split by column parity
        /// ([`super::nchw::S2Split`]; a layer at stride 2 runs here only with one).
        s2: Option<S2Split>,
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
    /// ([`super::wino::axis_of`]; on the channel-blocked kernels, [`wino2_patch`] for the
    /// patches the family runs, `wino2`; `Some(true)` lifts the bounds measured per CPU and
    /// family).
    pub(crate) fn new(
        layer: &Conv,
        obmax: usize,
        nchw: bool,
        wino: Option<bool>,
        wino2: BlockedWino,
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
        } else if nchw && (d.stride[1] != 2 || s2_split(layer).is_some()) {
            let (blocks, w) = super::nchw::pack(layer)?;
            let wino = match wino.and_then(|everywhere| super::wino::axis_of(layer, everywhere)) {
                Some(axis) => Some(super::wino::pack(layer, axis, &blocks)?),
                None => None,
            };
            Kind::Nchw {
                blocks,
                w,
                wino,
                s2: s2_split(layer),
            }
        } else {
            let obmax = obmax.clamp(1, 2);
            let Kind::Dense { passes, w, .. } = pack_dense(d, layer.weight(), obmax)? else {
                unreachable!("pack_dense packs dense layers")
            };
            let patch = wino.and_then(|all| wino2_patch(layer, wino2, all));
            let wino2 = match (patch, wino) {
                (Some(patch), Some(everywhere)) => {
                    Some(pack_wino2(layer, patch, obmax, everywhere)?)
                }
                _ => None,
            };
            Kind::Dense { passes, w, wino2 }
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
}

/// Packs a dense (or grouped) layer of shape `d` and weights `weight` (PyTorch's
/// `[C_out][C_in/G][KH][KW]`) into passes of up to `obmax` output blocks, without Winograd
/// filters.
pub(crate) fn pack_dense(d: &ConvDesc, weight: &[f32], obmax: usize) -> Result<Kind, Error> {
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
                                    weight[((co * cpg_in + k) * kh + ky) * kw + kx]
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
    Ok(Kind::Dense {
        passes,
        w,
        wino2: None,
    })
}

/// The patch a layer's channel-blocked Winograd transform ([`super::wino2`]) runs on: a
/// tile's inputs, outputs and products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patch {
    /// F(2 × 2, 3 × 3), a 3 × 3 layer: 4 × 4 inputs for 2 × 2 outputs, 16 products.
    Square,
    /// F(4, 3) along the row, a 1 × 3 layer (1D, kernel 3): 6 inputs for 4 outputs, 6
    /// products (1.5 an output; 3 direct).
    Row3,
    /// F(3, 2) along the row, a 1 × 2 layer (WaveNet's and TCN's): 4 inputs for 3 outputs,
    /// 4 products (4/3 an output; 2 direct).
    Row2,
}

impl Patch {
    /// Products per tile (transformed filters per pair of channels).
    pub(crate) const fn positions(self) -> usize {
        match self {
            Patch::Square => 16,
            Patch::Row3 => 6,
            Patch::Row2 => 4,
        }
    }

    /// Inputs of a tile along its row.
    pub(crate) const fn inputs(self) -> usize {
        match self {
            Patch::Square | Patch::Row2 => 4,
            Patch::Row3 => 6,
        }
    }

    /// Outputs of a tile along its row (one rate apart).
    pub(crate) const fn outputs(self) -> usize {
        match self {
            Patch::Square => 2,
            Patch::Row2 => 3,
            Patch::Row3 => 4,
        }
    }

    /// The patch of a dense (one group) layer of shape `d` at stride 1, if its kernel is
    /// 3 × 3, 1 × 3 or 1 × 2.
    pub(crate) fn of(d: &ConvDesc) -> Option<Self> {
        if d.stride != [1, 1] || d.groups != 1 {
            return None;
        }
        match d.kernel {
            [3, 3] => Some(Patch::Square),
            [1, 3] => Some(Patch::Row3),
            [1, 2] => Some(Patch::Row2),
            _ => None,
        }
    }

    /// Transformed filter `t` of one pair of channels whose kernel is `g` (row-major).
    pub(crate) fn filter(self, t: usize, g: &[f32]) -> f32 {
        // Lavin's G for F(2, 3) (F(2 × 2, 3 × 3)'s is G g Gᵀ) and for F(4, 3): rows of the
        // 4 × 3 and 6 × 3 matrices.
        const G: [[f64; 3]; 4] = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        const G4: [[f64; 3]; 6] = [
            [1.0 / 4.0, 0.0, 0.0],
            [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
            [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
            [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
            [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
            [0.0, 0.0, 1.0],
        ];
        let g = |k: usize| f64::from(g[k]);
        let v = match self {
            Patch::Square => {
                let (i, j) = (t / 4, t % 4);
                let gg = |b: usize| (0..3).map(|a| G[i][a] * g(a * 3 + b)).sum::<f64>();
                (0..3).map(|b| gg(b) * G[j][b]).sum::<f64>()
            }
            Patch::Row3 => (0..3).map(|b| G4[t][b] * g(b)).sum::<f64>(),
            // F(3, 2): g₀, (g₀ + g₁)/2, (g₀ − g₁)/2, g₁.
            Patch::Row2 => match t {
                0 => g(0),
                1 => (g(0) + g(1)) / 2.0,
                2 => (g(0) - g(1)) / 2.0,
                _ => g(1),
            },
        };
        v as f32
    }
}

/// Which channel-blocked Winograd patches a family runs on its own (the tests' `everywhere`
/// runs every one on every family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockedWino {
    /// F(2 × 2, 3 × 3) for 3 × 3 layers.
    pub(crate) square: bool,
    /// F(4, 3) and F(3, 2) along the row, for 1 × 3 and 1 × 2 layers (1D).
    pub(crate) rows: bool,
}

/// The transformed filters of a layer for Winograd on the channel-blocked layout
/// ([`super::wino2`]): per product, `V = G g Gᵀ` (F(2 × 2, 3 × 3)) or `V = G g` (along the
/// row), each packed as a 1 × 1 layer's weights for the channel-blocked dense tiles.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wino2 {
    pub(crate) patch: Patch,
    /// The passes of one 1 × 1 product (the same for all; weights offsets within one).
    pub(crate) passes: Vec<Pass>,
    /// `positions × per_t` packed weights, product `t` at `t · per_t` (for
    /// F(2 × 2, 3 × 3), `t = 4i + j`).
    pub(crate) w: Vec<f32>,
    pub(crate) per_t: usize,
    /// Run on every input size, not only where it saves enough products (the tests'
    /// `with_winograd_everywhere`).
    pub(crate) everywhere: bool,
}

/// Fewest input channels for Winograd F(2 × 2, 3 × 3) on the channel-blocked layout: with
/// fewer, the products (1 × 1 layers over the tiles) are too short for the transforms.
/// AVX2 on the Intel Xeon, 1 thread, direct against Winograd in GFLOP/s: 32 → 32 at 96²,
/// batch 4, 87 vs 99; 16 → 16 at 256², rate 5, 90 vs 71; 8 → 8 at 128², 45 vs 19
/// (`docs/perf.md`).
pub(crate) const WINO2_MIN_IN: usize = 32;

/// As [`WINO2_MIN_IN`], for F(4, 3) and F(3, 2) along the row (1 × 3 and 1 × 2 layers).
pub(crate) const WINO_ROW_MIN_IN: usize = 32;

/// The patch a layer runs Winograd on, on the channel-blocked layout, when Winograd is on
/// and the family runs that patch (`on`; `everywhere` runs every patch on every family):
/// a dense (one group) layer at stride 1 with a 3 × 3, 1 × 3 or 1 × 2 kernel
/// ([`Patch::of`]), finite weights and biases, and at least [`WINO2_MIN_IN`] (3 × 3) or
/// [`WINO_ROW_MIN_IN`] input channels unless `everywhere` (two).
pub(crate) fn wino2_patch(layer: &Conv, on: BlockedWino, everywhere: bool) -> Option<Patch> {
    let d = layer.desc();
    let patch = Patch::of(d)?;
    let (runs, min_in) = match patch {
        Patch::Square => (on.square, WINO2_MIN_IN),
        Patch::Row3 | Patch::Row2 => (on.rows, WINO_ROW_MIN_IN),
    };
    let min_in = if everywhere { 2 } else { min_in };
    let finite = layer.weight().iter().all(|w| w.is_finite())
        && layer.bias().is_none_or(|b| b.iter().all(|v| v.is_finite()));
    ((runs || everywhere) && finite && d.in_channels >= min_in).then_some(patch)
}

/// Whether F(2 × 2, 3 × 3) takes a layer of shape `d`: dense (one group) 3 × 3 at stride 1,
/// with at least `min_in` input channels.
pub(crate) fn wino2_shape(d: &ConvDesc, min_in: usize) -> bool {
    Patch::of(d) == Some(Patch::Square) && d.in_channels >= min_in
}

/// Packs `layer`'s transformed filters for `patch` for tiles of up to `obmax` output
/// blocks; `everywhere`: to run on every input size.
pub(crate) fn pack_wino2(
    layer: &Conv,
    patch: Patch,
    obmax: usize,
    everywhere: bool,
) -> Result<Wino2, Error> {
    let d = layer.desc();
    let (cout, cin) = (d.out_channels, d.in_channels);
    let ovf = || Error::Overflow {
        what: "Winograd weights",
    };
    let n = cout.checked_mul(cin).ok_or_else(ovf)?;
    let src = layer.weight();
    let taps = d.kernel[0] * d.kernel[1];
    let positions = patch.positions();
    let one = ConvDesc {
        in_channels: cin,
        out_channels: cout,
        groups: 1,
        kernel: [1, 1],
        dilation: [1, 1],
        stride: [1, 1],
        padding: [[0, 0], [0, 0]],
        bias: false,
        activation: Activation::Identity,
    };
    // One product at a time, so packing holds one 1 × 1 layer's weights beside the
    // packed filters.
    let mut passes = Vec::new();
    let mut w = Vec::new();
    let mut vt = vec![0.0f32; n];
    for t in 0..positions {
        for (v, g) in vt.iter_mut().zip(src.chunks_exact(taps)) {
            *v = patch.filter(t, g);
        }
        let Kind::Dense {
            passes: p, w: wt, ..
        } = pack_dense(&one, &vt, obmax)?
        else {
            unreachable!("pack_dense packs dense layers")
        };
        if w.is_empty() {
            passes = p;
            w.reserve_exact(wt.len().checked_mul(positions).ok_or_else(ovf)?);
        }
        w.extend_from_slice(&wt);
    }
    let per_t = w.len() / positions;
    Ok(Wino2 {
        patch,
        passes,
        w,
        per_t,
        everywhere,
    })
}

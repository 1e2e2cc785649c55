//! Which layout each layer reads and writes, and which kernels run it.
//!
//! The network's input and output are NCHW. Between layers the data is channel-blocked
//! (`[N][C/16][H][W][16]`, the NCHW16c of oneDNN and ONNX Runtime), except between two
//! layers that both have NCHW kernels and gain from them (depthwise at stride 1 across;
//! dense with at most [`STACK_NCHW_MAX_IN`] input channels per group; dense on Winograd,
//! [`crate::engine::wino`]). The channel-blocked dense kernel reads either layout through
//! strides and writes either layout in its epilogue, so a stack converts nothing at its
//! entry and exit; only a depthwise first layer that cannot run on NCHW (stride across >
//! 1, or a dense layer after it) converts its input once. A single dense layer runs on the
//! NCHW kernels when it runs Winograd or reads few input rows ([`NCHW_MAX_ROWS`]).

use super::buffers::{Loc, other};
use super::geom::Geom;
use crate::Error;
use crate::conv::Conv;
use crate::engine::plan::{ConvPlan, Kind};

/// Which kernels a network may use beyond the channel-blocked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Dense layers on the NCHW kernels where the layout allows (the family's default).
    pub(crate) nchw: bool,
    /// Winograd F(2, 3) on those layers where they allow it.
    pub(crate) wino: bool,
}

/// Whether layer `l` runs pixel-vectorised on NCHW data (depthwise, horizontal stride 1).
pub(super) fn pix(l: &Conv) -> bool {
    let d = l.desc();
    d.groups == d.in_channels && d.groups == d.out_channels && d.stride[1] == 1
}

/// Most input rows (input channels per group × kernel rows) one output row of a single
/// layer may read for it to run on the NCHW kernels. Measured (1 thread, `bench
/// --cpu-time`, GFLOP/s, NCHW vs channel-blocked): S6 (16 ch) 92–103 vs 78; S4 (1D,
/// 64 ch) 106 vs 96–100; S5 (32 ch, batch 4) 101–105 vs 92–94; 128 ch 64², k3: 106–108
/// vs 105–106; S1 (64 ch, 128², k3) 103 vs 103; S2 (256 ch, k3) 101–103 vs 115–118.
const NCHW_MAX_ROWS: usize = 384;

/// Whether a dense layer that reads and writes NCHW (a network of one layer) runs on the
/// NCHW kernels ([`crate::engine::nchw`]) rather than the channel-blocked ones: stride 1 across,
/// and Winograd ([`crate::engine::wino`]) or at most [`NCHW_MAX_ROWS`] input rows per output row.
/// Winograd on NCHW beat the channel-blocked kernels at every width measured (1 thread,
/// GFLOP/s): S2 (256 ch, 64², rate 4) 144 vs 118; 512 ch, 32², rate 2: 124 vs 95;
/// 1024 → 256 ch, 24²: 99 vs 94; 1D 512 ch, rate 4: 137 vs 112.
pub(crate) fn nchw_dense(l: &Conv, p: Policy) -> bool {
    let d = l.desc();
    let depthwise = d.groups == d.in_channels && d.groups == d.out_channels;
    p.nchw
        && !depthwise
        && d.stride[1] == 1
        && ((p.wino && crate::engine::wino::shape_allows(d).is_some())
            || d.in_per_group().saturating_mul(d.kernel[0]) <= NCHW_MAX_ROWS)
}

/// Most input channels per group of a dense layer on the direct kernels for the data on
/// both sides of it to stay NCHW inside a stack (Winograd layers keep NCHW at any width).
/// Measured (1 thread, `bench --cpu-time stack`, GFLOP/s, direct NCHW between layers vs
/// channel-blocked): 16 channels, rates 1, 2, 5, 128²: 103 vs 93–96; 32 channels, 1D,
/// rates 1…32: 97–98 vs 99–101; S7 (64 channels): 103–105 vs 109–111 — and 151 with
/// Winograd on NCHW.
const STACK_NCHW_MAX_IN: usize = 16;

/// Whether layer `l` keeps NCHW data on its sides inside a stack: depthwise at stride 1
/// across, or dense on the NCHW kernels with few input channels or with Winograd.
fn stack_nchw(l: &Conv, p: Policy) -> bool {
    pix(l)
        || (nchw_dense(l, p)
            && (l.desc().in_per_group() <= STACK_NCHW_MAX_IN
                || (p.wino && crate::engine::wino::shape_allows(l.desc()).is_some())))
}

/// Whether the data after layer `j` is NCHW: the network's output, or between two layers
/// that both keep NCHW; channel-blocked otherwise.
fn nchw_after(layers: &[Conv], j: usize, p: Policy) -> bool {
    j + 1 >= layers.len() || (stack_nchw(&layers[j], p) && stack_nchw(&layers[j + 1], p))
}

/// Whether dense layer `i` of `layers` reads and writes NCHW, so runs on the NCHW kernels.
pub(crate) fn runs_nchw(layers: &[Conv], i: usize, p: Policy) -> bool {
    nchw_dense(&layers[i], p)
        && (i == 0 || nchw_after(layers, i - 1, p))
        && nchw_after(layers, i, p)
}

/// One step of the run: an optional conversion to blocked, then the layer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) convert_to: Option<Loc>,
    pub(super) src: Loc,
    pub(super) dst: Loc,
    pub(super) in_blocked: bool,
    pub(super) out_blocked: bool,
    pub(super) nchw_depthwise: bool,
}

/// Step `i` of the run and its geometry, given where its input is (`cur`) and its size.
pub(super) fn step_at(
    layers: &[Conv],
    plans: &[ConvPlan],
    i: usize,
    cur: Loc,
    hw: [usize; 2],
    p: Policy,
) -> Result<(Step, Geom), Error> {
    let n = layers.len();
    // Layout after layer j.
    let blocked_after = |j: usize| !nchw_after(layers, j, p);
    let d = layers[i].desc();
    let g = Geom::new(d, hw)?;
    let in_blocked = i > 0 && blocked_after(i - 1);
    let depthwise = matches!(plans[i].kind, Kind::Depthwise { .. });
    let out_blocked = blocked_after(i);
    let nchw_depthwise = depthwise && pix(&layers[i]) && !in_blocked && !out_blocked;
    let src = cur;
    let mut from = cur;
    let mut convert_to = None;
    if depthwise && !nchw_depthwise && !in_blocked {
        let to = other(cur);
        convert_to = Some(to);
        from = to;
    }
    let dst = if i + 1 == n { Loc::Output } else { other(from) };
    let step = Step {
        convert_to,
        src,
        dst,
        in_blocked: in_blocked || convert_to.is_some(),
        out_blocked,
        nchw_depthwise,
    };
    Ok((step, g))
}

//! The driver: runs a stack of planned layers on the tiles of one instruction set.
//!
//! [`forward`] sizes the scratch buffers, then runs the layers one after the other, each
//! on the drivers its plan picks. Where to look for the parts:
//!
//! - [`layout`]: which layout (NCHW or channel-blocked) each layer reads and writes, and
//!   which kernels run it; the run's steps.
//! - [`buffers`]: the [`Workspace`], the views of the buffers the threads share, their
//!   strides, the one layout conversion.
//! - [`split`]: the work split over threads; [`tail`]: the last layer's post-op.
//! - [`geom`]: a layer's geometry, what every driver takes, and the walk that hands each
//!   kernel tile only the taps inside the input.
//! - The drivers: [`dense_blocked`], [`depthwise`], [`dense_nchw`](mod@dense_nchw), [`winograd`],
//!   [`winograd2d`].

mod buffers;
mod dense_blocked;
mod dense_nchw;
mod depthwise;
mod geom;
mod layout;
mod split;
mod tail;
mod winograd;
mod winograd2d;
mod winograd_rows;

pub use buffers::Workspace;
#[cfg(test)]
pub(crate) use layout::wino2_min_in;
pub(crate) use layout::{Policy, runs_nchw, signature};
pub(crate) use split::Threads;

use buffers::{Buf, Loc, Places, buf_len, to_blocked};
use dense_blocked::dense;
use dense_nchw::{NchwCtx, dense_nchw};
use depthwise::{depthwise_blocked, depthwise_nchw};
use geom::{Geom, Run};
use layout::{Step, layer_tiles, step_at};
use winograd::{wino_cols, wino_rows};
use winograd_rows::{runs_blocked_wino, slot_floats, wino_row_patches};
use winograd2d::wino2d;

use super::elementwise::Post;
use super::isa::NchwIsa;
use super::plan::{ConvPlan, Kind, Patch};
use super::tiles::Tiles;
use super::wino::Axis;
use crate::Error;
use crate::conv::{Conv, ConvDesc, conv_reference};

/// The signature of [`forward`] for one instruction set, as the dispatcher stores it.
pub(crate) type ForwardFn = fn(
    &[Conv],
    &[ConvPlan],
    &Threads,
    usize,
    [usize; 2],
    &[f32],
    &mut [f32],
    &mut Workspace,
    Policy,
    Option<&Post<'_>>,
) -> Result<(), Error>;

/// Runs the whole stack with instruction set `I`, dense layers on the NCHW kernels where
/// `nchw` and the layout allow (as the plans were packed), the last layer followed by
/// `post` (a pass over its output). Shapes and lengths (the post-op's included) are
/// already checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<I: NchwIsa>(
    layers: &[Conv],
    plans: &[ConvPlan],
    threads: &Threads,
    batch: usize,
    input_hw: [usize; 2],
    input: &[f32],
    output: &mut [f32],
    ws: &mut Workspace,
    policy: Policy,
    post: Option<&Post<'_>>,
) -> Result<(), Error> {
    // The steps are computed twice, here and in the loop below, rather than stored, so a
    // run allocates nothing once the workspace has grown.
    let need = scratch_needs(layers, plans, batch, input_hw, policy, threads.count())?;
    let [ping, pong, wino] = ws.scratch(need);
    let job = Job {
        at: Places {
            input: input.as_ptr().cast_mut(),
            ping,
            pong,
            output: output.as_mut_ptr(),
        },
        batch,
        threads,
        tiles: policy.tiles,
        wino,
    };
    let mut cur = Loc::Input;
    let mut hw = input_hw;
    let last = layers.len() - 1;
    for (i, (layer, plan)) in layers.iter().zip(plans).enumerate() {
        let (step, g) = step_at(layers, plans, i, cur, hw, policy)?;
        let post = post.filter(|p| i == last && !p.is_identity());
        run_step::<I>(&job, layer, plan, &step, &g, hw, post);
        cur = step.dst;
        hw = [g.oh, g.ow];
    }
    Ok(())
}

/// What every step of one run shares: where its buffers are, the batch, the threads.
struct Job<'a> {
    at: Places,
    batch: usize,
    threads: &'a Threads,
    /// The shape of the NCHW dense and Winograd tiles, if forced.
    tiles: Option<Tiles>,
    /// The slots of the layers on Winograd F(2 × 2, 3 × 3), one per thread.
    wino: *mut f32,
}

/// The floats each scratch buffer (ping, pong, Winograd tiles) must hold for the run's
/// steps: the converted inputs and the outputs between layers, in the layout each step
/// writes, and one slot per thread for each layer on Winograd F(2 × 2, 3 × 3).
fn scratch_needs(
    layers: &[Conv],
    plans: &[ConvPlan],
    batch: usize,
    input_hw: [usize; 2],
    policy: Policy,
    threads: usize,
) -> Result<[usize; 3], Error> {
    let mut need = [0usize; 3];
    let mut cur = Loc::Input;
    let mut hw = input_hw;
    for (i, (layer, plan)) in layers.iter().zip(plans).enumerate() {
        let (step, g) = step_at(layers, plans, i, cur, hw, policy)?;
        let d = layer.desc();
        if let Some(to) = step.convert_to {
            let slot = usize::from(to == Loc::Pong);
            need[slot] = need[slot].max(buf_len(batch, d.in_channels, hw, true)?);
        }
        if step.dst != Loc::Output {
            let slot = usize::from(step.dst == Loc::Pong);
            need[slot] = need[slot].max(buf_len(
                batch,
                d.out_channels,
                [g.oh, g.ow],
                step.out_blocked,
            )?);
        }
        if let Kind::Dense {
            wino2: Some(wn), ..
        } = &plan.kind
            && runs_blocked_wino(wn, d, &g, step.in_blocked)
        {
            let io = (step.in_blocked, step.out_blocked);
            let all = slot_floats(wn, d, &g, batch, threads, io)?
                .checked_mul(threads.max(1))
                .ok_or(Error::Overflow {
                    what: "Winograd scratch",
                })?;
            need[2] = need[2].max(all);
        }
        cur = step.dst;
        hw = [g.oh, g.ow];
    }
    Ok(need)
}

/// Runs one step: converts the layer's input of size `hw` to the blocked layout if the
/// step calls for it, then the layer, then `post` (the last layer's, on its NCHW output).
fn run_step<I: NchwIsa>(
    job: &Job<'_>,
    layer: &Conv,
    plan: &ConvPlan,
    step: &Step,
    g: &Geom,
    hw: [usize; 2],
    post: Option<&Post<'_>>,
) {
    let d = layer.desc();
    let mut src = step.src;
    if let Some(to) = step.convert_to {
        let from = Buf {
            ptr: job.at.ptr(src),
            blocked: false,
            c: d.in_channels,
            h: hw[0],
            w: hw[1],
        };
        let into = Buf {
            blocked: true,
            ptr: job.at.ptr(to),
            ..from
        };
        to_blocked::<I>(from, into, job.batch, job.threads);
        src = to;
    }
    // A pointwise layer (1 × 1, stride 1, no padding) sees no rows: its planes run as one
    // row of `H·W` pixels (the same memory in either layout), so that tiles run on across
    // the row ends (`docs/perf.md`, "Measurements behind the engine's design choices").
    let flat = pointwise_row(d, hw).and_then(|row| Some((Geom::new(d, row).ok()?, row)));
    let (g, hw) = match &flat {
        Some((fg, row)) => (fg, *row),
        None => (g, hw),
    };
    let x = Buf {
        ptr: job.at.ptr(src),
        blocked: step.in_blocked,
        c: d.in_channels,
        h: hw[0],
        w: hw[1],
    };
    let y = Buf {
        ptr: job.at.ptr(step.dst),
        blocked: step.out_blocked,
        c: d.out_channels,
        h: g.oh,
        w: g.ow,
    };
    let run = Run {
        d,
        g,
        batch: job.batch,
        x,
        y,
        threads: job.threads,
    };
    // The last layer writes the network's output, always NCHW.
    let post = post.filter(|_| step.dst == Loc::Output);
    // A large network output goes past the caches where the driver can (nothing of ours
    // reads it again, and it would not stay cached anyway): the NCHW depthwise one, unless
    // a post-op reads it back.
    let stream = step.nchw_depthwise
        && post.is_none()
        && step.dst == Loc::Output
        && ConvDesc::nchw_len(job.batch, d.out_channels, [g.oh, g.ow])
            .is_ok_and(|n| n >= STREAM_MIN_FLOATS);
    run_layer::<I>(layer, plan, step.nchw_depthwise, stream, run, job);
    if let Some(p) = post {
        let shape = (job.batch, d.out_channels, g.oh * g.ow);
        tail::apply(p, I::KERNEL, tail::Out(y.ptr), shape, job.threads);
    }
}

/// The one row `[1, H·W]` a pointwise layer (kernel 1 × 1, stride 1, no padding) of input
/// size `hw` can run as, if it is one with more than one row.
fn pointwise_row(d: &crate::ConvDesc, hw: [usize; 2]) -> Option<[usize; 2]> {
    let pointwise = d.kernel == [1, 1] && d.stride == [1, 1] && d.padding == [[0, 0], [0, 0]];
    (pointwise && hw[0] > 1).then(|| [1, hw[0] * hw[1]])
}

/// Smallest network output (floats: 16 MiB) that a depthwise layer on NCHW data writes with
/// non-temporal stores ([`crate::engine::simd::V16::stream`]): no read of each line before
/// it is written. Measured on the Intel Xeon (1 / 2 threads, GFLOP/s, plain vs streamed):
/// 64 channels at 256², rate 4 (S12, a 16 MiB output) 41.4 → 46.2 / 74.8 → 79.4; 128
/// channels at 128² (8 MiB) 48.4 → 47.4 / 77.5 → 80.8 (see `docs/perf.md`, "Measurements
/// behind the engine's design choices").
const STREAM_MIN_FLOATS: usize = 4 << 20;

/// Runs `layer` on the driver its plan picks: the channel-blocked dense tiles, the
/// depthwise ones (on NCHW data when `nchw_depthwise`, streaming a large output when
/// `stream`), or the NCHW dense tiles, direct or Winograd.
fn run_layer<I: NchwIsa>(
    layer: &Conv,
    plan: &ConvPlan,
    nchw_depthwise: bool,
    stream: bool,
    run: Run<'_>,
    job: &Job<'_>,
) {
    match &plan.kind {
        Kind::Dense {
            passes,
            w,
            wino2: Some(wn),
        } if runs_blocked_wino(wn, run.d, run.g, run.x.blocked) => match wn.patch {
            Patch::Square => wino2d::<I>(plan, (passes, w), wn, run, job.wino),
            Patch::Row3 | Patch::Row2 => {
                wino_row_patches::<I>(plan, (passes, w), wn, run, job.wino)
            }
        },
        Kind::Dense { passes, w, .. } => dense::<I>(plan, passes, w, run),
        Kind::Depthwise { .. } if nchw_depthwise => {
            depthwise_nchw::<I>(layer, run, stream);
        }
        Kind::Depthwise { w } => depthwise_blocked::<I>(plan, w, run),
        Kind::Nchw {
            blocks,
            w,
            wino,
            s2,
        } => {
            let (c, rs) = I::nchw_shape(layer_tiles(job.tiles, layer, wino.is_some()));
            let ctx = NchwCtx {
                r: run,
                plan,
                blocks,
                w,
                c,
                rs,
                s2: s2.as_ref(),
            };
            match wino {
                Some(wn) if wn.axis == Axis::Rows => wino_rows::<I>(&ctx, wn),
                Some(wn) => wino_cols::<I>(&ctx, wn),
                None => dense_nchw::<I>(&ctx),
            }
        }
    }
}

/// The oracle path: [`conv_reference`] layer by layer on NCHW data, the intermediates in
/// `ws`. Shapes and lengths are already checked.
pub(crate) fn reference(
    layers: &[Conv],
    batch: usize,
    input_hw: [usize; 2],
    input: &[f32],
    output: &mut [f32],
    ws: &mut Workspace,
) -> Result<(), Error> {
    let last = layers.len() - 1;
    let mut hw = input_hw;
    let Workspace { ping, pong, .. } = ws;
    for (i, layer) in layers.iter().enumerate() {
        let next_hw = layer.desc.output_size(hw)?;
        let src_len = ConvDesc::nchw_len(batch, layer.desc.in_channels, hw)?;
        // Layer `i` writes pong when `i` is even and ping when odd, so each buffer always
        // holds the same layers' outputs and, once grown, never grows again.
        let (prev, next) = if i % 2 == 0 {
            (&*ping, &mut *pong)
        } else {
            (&*pong, &mut *ping)
        };
        let src: &[f32] = if i == 0 { input } else { &prev[..src_len] };
        let dst: &mut [f32] = if i == last {
            output
        } else {
            let len = ConvDesc::nchw_len(batch, layer.desc.out_channels, next_hw)?;
            if next.len() < len {
                next.resize(len, 0.0);
            }
            &mut next[..len]
        };
        conv_reference(
            &layer.desc,
            batch,
            hw,
            src,
            &layer.weight,
            layer.bias(),
            dst,
        )?;
        hw = next_hw;
    }
    Ok(())
}

//! Which layout each layer reads and writes, and which kernels run it.
//!
//! The network's input and output are NCHW. Between layers the data is channel-blocked
//! (`[N][C/16][H][W][16]`, the NCHW16c of oneDNN and ONNX Runtime), except between two
//! layers that both have NCHW kernels and gain from them (depthwise at stride 1 across;
//! dense with at most [`STACK_NCHW_MAX_IN`] input channels per group; dense on Winograd
//! F(2, 3), [`crate::engine::wino`], below the input channels of [`wino2_min_in`] for the
//! CPU: wider dense 3 × 3 layers run F(2 × 2, 3 × 3) channel-blocked). The channel-blocked
//! dense kernel reads either layout through strides and writes either layout in its
//! epilogue, so a stack converts nothing at its entry and exit; only a depthwise first
//! layer that cannot run on NCHW (stride across > 1, or a dense layer after it), a wide
//! dense layer (from the family's [`CONVERT_MIN_IN`] input channels per group) and a
//! layer on F(2 × 2, 3 × 3) convert their NCHW input once. A single dense layer runs on
//! the NCHW kernels when it runs F(2, 3) (below [`wino2_min_in`] input channels for a
//! 3 × 3 layer) or reads few input rows ([`NCHW_MAX_ROWS`]).
//!
//! [`CONVERT_MIN_IN`]: crate::engine::isa::NchwIsa::CONVERT_MIN_IN

use super::buffers::{Loc, other};
use super::geom::Geom;
use super::winograd_rows::{reads_nchw, runs_blocked_wino};
use super::winograd2d::runs_wino2;
use crate::Error;
use crate::conv::Conv;
use crate::engine::nchw::s2_split;
use crate::engine::plan::{BlockedWino, ConvPlan, Kind, wino2_shape};
use crate::engine::tiles::{Cpu, Tiles};
use crate::engine::wino::shape_allows;

/// Which kernels a network may use beyond the channel-blocked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Dense layers on the NCHW kernels where the layout allows (the family's default).
    pub(crate) nchw: bool,
    /// Dense layers at stride 2 across on the NCHW kernels where the layout allows, even
    /// with `nchw` off (the family's default: AVX2, whose other dense layers run faster
    /// channel-blocked).
    pub(crate) nchw_strided: bool,
    /// Dense layers with at most [`NCHW_NARROW_IN`] input channels per group on the NCHW
    /// direct kernels where the layout allows, even with `nchw` off (the family's default:
    /// AVX2). Winograd on NCHW runs only where `nchw` is on (or everywhere, for the tests).
    pub(crate) nchw_narrow: bool,
    /// Fewest input channels per group for which a dense layer on the channel-blocked
    /// kernels converts an NCHW input to the blocked layout first (the family's
    /// [`NchwIsa::CONVERT_MIN_IN`](crate::engine::isa::NchwIsa::CONVERT_MIN_IN)).
    pub(crate) convert_min_in: usize,
    /// Winograd F(2, 3) on those layers where they allow it.
    pub(crate) wino: bool,
    /// Which Winograd patches the family runs on the channel-blocked layout
    /// ([`crate::engine::wino2`]).
    pub(crate) wino2: BlockedWino,
    /// Winograd on every shape its tiles run, the bounds measured per CPU lifted
    /// ([`crate::engine::wino::shape_allows`]): for the tests, which run every tile on
    /// every CPU.
    pub(crate) wino_everywhere: bool,
    /// The shape of the NCHW dense and Winograd tiles, forced for every layer; `None`:
    /// each layer's own ([`Tiles::for_layer`]).
    pub(crate) tiles: Option<Tiles>,
}

/// Whether layer `l` runs pixel-vectorised on NCHW data (depthwise, horizontal stride 1).
pub(super) fn pix(l: &Conv) -> bool {
    let d = l.desc();
    d.groups == d.in_channels && d.groups == d.out_channels && d.stride[1] == 1
}

/// Most input rows (input channels per group × kernel rows) one output row of a single
/// layer may read for it to run on the NCHW kernels. The NCHW kernels spare the
/// channel-blocked ones' scatter of pixel-major tiles to channel planes, which weighs most
/// when a tile sums few input rows; with many, the channel-blocked kernels win. The bound
/// lies between the widest layer measured level and the narrowest measured slower (see
/// `docs/perf.md`, "Measurements behind the engine's design choices").
const NCHW_MAX_ROWS: usize = 384;

/// As [`NCHW_MAX_ROWS`], at stride 2 across, where the NCHW tile reads the input rows
/// split by column parity ([`crate::engine::nchw::S2Split`]; the layer also needs a
/// split that fits, [`s2_split`]). Measured (then with a two-load permute per tap, before
/// the split) on the Intel Xeon (AVX-512, 1
/// thread, GFLOP/s, channel-blocked vs NCHW): 3 → 32 at 224², 3 × 3 (S10, 9 input rows)
/// 77 → 111; 3 → 64 at 224², 7 × 7 (21 rows) 142 → 157; 16 → 16 at 128², rate 2 (48 rows)
/// 76 → 141; but 32 → 64 at 112² (96 rows) 142 → 116 and 64 → 128 at 56² (192 rows)
/// 145 → 108 (see `docs/perf.md`, "Measurements behind the engine's design choices").
const NCHW_S2_MAX_ROWS: usize = 48;

/// Most input channels per group of a dense layer on the NCHW direct kernels of a family
/// whose other dense layers run channel-blocked ([`Policy::nchw_narrow`]). Measured on the
/// AMD Zen 3 (AVX2, 1 thread, GFLOP/s, best of 5 alternating, channel-blocked vs NCHW,
/// direct): 16 → 16 at 16384, kernel 2, rate 4 (S8) 32 vs 51; 16 → 16 at 16384, kernel
/// 3, 37 vs 41; 8 → 8 at 128², 3 × 3, 25 vs 50; 16 → 16 at 256², rate 5 (S6) 54 vs 57;
/// 32 → 32 at 16384, kernel 2, 42 vs 53, noisy (`docs/perf.md`, "On the Zen 3,
/// 2026-12-07, second session").
pub(crate) const NCHW_NARROW_IN: usize = 16;

/// Whether a dense layer that reads and writes NCHW (a network of one layer) runs on the NCHW
/// kernels ([`crate::engine::nchw`]) rather than the channel-blocked ones: stride 1 across, and
/// Winograd ([`crate::engine::wino`]) or at most [`NCHW_MAX_ROWS`] input rows per output row;
/// or stride 2 across and at most [`NCHW_S2_MAX_ROWS`] input rows (with
/// [`Policy::nchw_strided`] too).
/// Winograd layers have no bound: a third fewer products beat the channel-blocked kernels at every
/// width measured (see `docs/perf.md`, "Measurements behind the engine's design choices").
pub(crate) fn nchw_dense(l: &Conv, p: Policy) -> bool {
    let d = l.desc();
    let depthwise = d.groups == d.in_channels && d.groups == d.out_channels;
    let rows = d.in_per_group().saturating_mul(d.kernel[0]);
    let narrow = p.nchw_narrow && d.in_per_group() <= NCHW_NARROW_IN;
    let on = if d.stride[1] == 2 {
        p.nchw || p.nchw_strided || narrow
    } else {
        p.nchw || narrow
    };
    on && !depthwise
        && !blocked_wino2(l, p, false)
        && match d.stride[1] {
            1 => (p.wino && shape_allows(d, p.wino_everywhere).is_some()) || rows <= NCHW_MAX_ROWS,
            2 => rows <= NCHW_S2_MAX_ROWS && s2_split(l).is_some(),
            _ => false,
        }
}

/// Fewest input channels for which a dense 3 × 3 layer that reads and writes NCHW (a
/// network of one layer) runs Winograd F(2 × 2, 3 × 3) on the channel-blocked layout on a
/// CPU with two FMA ports ([`wino2_min_in`]), its input converted and its output
/// transposed back, rather than F(2, 3) along the rows on NCHW; inside a stack, where the
/// data stays channel-blocked between such layers, [`STACK_BLOCKED_WINO2_MIN_IN`].
/// Measured on the Intel Xeon (AVX-512, 1 thread, GFLOP/s nominal, F(2, 3) on NCHW vs
/// F(2 × 2, 3 × 3) blocked): 64 → 64 at 128², rate 2, 194 vs 208; 128 → 128 at 64², 201 vs
/// 228; 64 → 64 at 32², 210 vs 233; 64 → 64 at 64², batch 8, level; 32 → 32 at 128², rate
/// 2, 175 vs 149, and at 96², batch 4, 179 vs 161. Stacks: six layers of 64 at 128² (rates
/// 1, 2, 5, 1, 2, 5) 201 vs 247 (2 threads 381 vs 458); three of 128 at 64² 191 vs 226;
/// three of 32 at 96², batch 2, 162 vs 182 (see `docs/perf.md`, "Measurements behind the
/// engine's design choices").
const BLOCKED_WINO2_MIN_IN: usize = 48;

/// As [`BLOCKED_WINO2_MIN_IN`], for a layer inside a stack.
const STACK_BLOCKED_WINO2_MIN_IN: usize = 32;

/// As [`BLOCKED_WINO2_MIN_IN`] and [`STACK_BLOCKED_WINO2_MIN_IN`] on a CPU with one FMA
/// port (or one double-pumped, as the Zen 4's), where F(2, 3) on NCHW keeps the narrower
/// layers. Measured on the AMD Zen 4 (AVX-512, 1 thread, GFLOP/s nominal, F(2, 3) on NCHW
/// vs F(2 × 2, 3 × 3) blocked): 64 → 64 at 128², rate 2, 136–151 vs 132–134; 64 → 64 at
/// 64², batch 8, 143 vs 136; 96 → 96 at 96² level (146 vs 161, then 151 vs 144); 128 → 128
/// at 64², 147 vs 159 (2 threads 295 vs 349), at 128² 158 vs 173–177; 256 → 256 at 64²,
/// rate 4, 144 vs 151–168; 512 → 512 at 32², 105 vs 191; 2048 → 256 at 33², rate 1, 89 vs
/// 133, rate 6, 77 vs 132 (2 threads 108 vs 261). Stacks of three at 64²: 96 channels 144
/// vs 137, 128 channels 151 vs 173; six of 64 at 128² level (see `docs/perf.md`, "On the
/// Zen 4, 2026-12-06").
const ONE_PORT_WINO2_MIN_IN: usize = 128;

/// Fewest input channels for a dense 3 × 3 layer to run F(2 × 2, 3 × 3) channel-blocked on
/// a CPU with `two_ports` (two FMA ports or one): `(a single layer, a layer inside a
/// stack)`.
pub(crate) fn wino2_min_in(two_ports: bool) -> (usize, usize) {
    if two_ports {
        (BLOCKED_WINO2_MIN_IN, STACK_BLOCKED_WINO2_MIN_IN)
    } else {
        (ONE_PORT_WINO2_MIN_IN, ONE_PORT_WINO2_MIN_IN)
    }
}

/// Whether dense layer `l` runs Winograd F(2 × 2, 3 × 3) on the channel-blocked layout
/// where the NCHW kernels could take it: the family runs it, Winograd is on (and not
/// forced everywhere: the tests then keep F(2, 3) on NCHW), `l` is a dense 3 × 3 layer at
/// stride 1 with at least [`wino2_min_in`] input channels for this CPU (`in_stack`: the
/// bound inside a stack). A layer with a non-finite weight packs no such filters
/// ([`crate::engine::plan::wino2_patch`]) and runs the direct channel-blocked tiles.
fn blocked_wino2(l: &Conv, p: Policy, in_stack: bool) -> bool {
    let (single, stack) = wino2_min_in(Tiles::two_fma_ports(Cpu::this()));
    p.wino
        && p.wino2.square
        && !p.wino_everywhere
        && wino2_shape(l.desc(), if in_stack { stack } else { single })
}

/// Most input channels per group of a dense layer on the direct kernels for the data on
/// both sides of it to stay NCHW inside a stack (layers on F(2, 3) keep NCHW at any
/// width below the stack bound of [`wino2_min_in`]).
/// As for [`NCHW_MAX_ROWS`], NCHW pays on narrow layers: stacks of 16 channels ran faster
/// with NCHW between layers, stacks of 32 and 64 channels slower (see
/// `docs/perf.md`, "Measurements behind the engine's design choices").
const STACK_NCHW_MAX_IN: usize = 16;

/// Whether layer `l` keeps NCHW data on its sides inside a stack: depthwise at stride 1
/// across, or dense on the NCHW kernels with few input channels or with Winograd.
fn stack_nchw(l: &Conv, p: Policy) -> bool {
    pix(l)
        || (nchw_dense(l, p)
            && !blocked_wino2(l, p, true)
            && (l.desc().in_per_group() <= STACK_NCHW_MAX_IN
                || (p.wino && shape_allows(l.desc(), p.wino_everywhere).is_some())))
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
    // Wide dense layers, and the ones that run Winograd on the blocked layout, read
    // channel-blocked data.
    let wide_dense = match &plans[i].kind {
        Kind::Dense { wino2, .. } => match wino2.as_ref().filter(|wn| runs_wino2(wn, &g)) {
            // The row patches' runs convert their own columns.
            Some(wn) => !reads_nchw(wn, d, &g),
            None => d.in_per_group() >= p.convert_min_in,
        },
        Kind::Depthwise { .. } | Kind::Nchw { .. } => false,
    };
    if ((depthwise && !nchw_depthwise) || wide_dense) && !in_blocked {
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

/// The NCHW dense and Winograd tile shape layer `l` runs: the one `forced`, else its own
/// on this CPU ([`Tiles::for_layer`]; `winograd`: it runs Winograd).
pub(super) fn layer_tiles(forced: Option<Tiles>, l: &Conv, winograd: bool) -> Tiles {
    forced.unwrap_or_else(|| Tiles::for_layer(Cpu::this(), l.desc(), winograd))
}

/// What runs layer by layer under policy `p` on inputs of `input_hw`: per layer, which
/// kernels its plan holds (channel-blocked dense, with a Winograd patch that runs at this
/// size or not; depthwise; NCHW dense, with Winograd or not, and — for a family with tile
/// variants, `tile_variants` — the tile shape it runs), and its step's layouts (converts
/// its input, reads and writes channel-blocked, depthwise on NCHW). Two policies with equal
/// signatures run the same kernels on the same data, so only one of them needs timing
/// ([`crate::engine::Network::tuned`]).
pub(crate) fn signature(
    layers: &[Conv],
    plans: &[ConvPlan],
    input_hw: [usize; 2],
    p: Policy,
    tile_variants: bool,
) -> Result<Vec<[u8; 6]>, Error> {
    let mut cur = Loc::Input;
    let mut hw = input_hw;
    let mut sig = Vec::with_capacity(layers.len());
    for (i, (layer, plan)) in layers.iter().zip(plans).enumerate() {
        let (step, g) = step_at(layers, plans, i, cur, hw, p)?;
        // The drivers' own predicates (`exec::run_step`).
        let (kind, tile) = match &plan.kind {
            Kind::Dense { wino2, .. } => match wino2
                .as_ref()
                .filter(|wn| runs_blocked_wino(wn, layer.desc(), &g, step.in_blocked))
            {
                Some(wn) => (1 + wn.patch as u8, 0),
                None => (0, 0),
            },
            Kind::Depthwise { .. } => (10, 0),
            Kind::Nchw { wino, .. } => {
                let t = layer_tiles(p.tiles, layer, wino.is_some());
                let tile = if tile_variants {
                    (t.channels() * 4 + t.vectors()) as u8
                } else {
                    0
                };
                (20 + u8::from(wino.is_some()), tile)
            }
        };
        sig.push([
            kind,
            tile,
            u8::from(step.convert_to.is_some()),
            u8::from(step.in_blocked),
            u8::from(step.out_blocked),
            u8::from(step.nchw_depthwise),
        ]);
        cur = step.dst;
        hw = [g.oh, g.ow];
    }
    Ok(sig)
}

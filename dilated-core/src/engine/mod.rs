//! The execution engine: a [`Network`] is a stack of convolution [`Conv`]s compiled into a
//! plan and run on flat NCHW `f32` data.
//!
//! # How it runs
//!
//! Direct convolution, no im2col buffer, no padded copy of the input; dilation only changes
//! the strides of the tap loop, so it costs nothing.
//!
//! - **Plan** ([`Network::new`]): weights packed once into the order the kernels read them;
//!   dense layers cut into passes of up to two 16-channel output blocks; depthwise layers
//!   (`groups = in = out`) get their own kernels.
//! - **Layout**: intermediates are channel-blocked, `[N][⌈C/16⌉][H][W][16]` (NCHW16c),
//!   except between layers with few channels, which stay NCHW. The first dense layer reads
//!   NCHW directly and the last layer writes NCHW from its epilogue, so nothing is
//!   converted at the entry or the exit.
//! - **Kernels** ([`Kernel`]): a register tile of 14 output pixels × 32 output channels in
//!   28 `zmm` accumulators (AVX-512F; 6 × 16 in `ymm` pairs with AVX2 + FMA; a portable
//!   16-lane version always compiled), broadcast input × weight vectors, FMA; each output
//!   row is cut into segments whose taps all land inside the input, so padding is skipped,
//!   never read. Bias and activation are fused into the store; what the graph runtime
//!   runs after a network (a PReLU, a residual add and its activation) is one pass over
//!   the output after the last layer, on the network's threads. Depthwise: 16 channels per
//!   vector on the blocked layout, or 16 pixels per vector straight on NCHW data. A
//!   single dense layer (NCHW in and out, stride 1 across, up to 128 input channels per
//!   group for a 3-row kernel, 384 in 1D) runs on NCHW kernels too: 16 pixels of one
//!   channel per vector, 16 output channels per tile (8 × 3 vectors for direct 1D layers
//!   on two-FMA-port CPUs: [`Tiles`], `DILATED_TILE`), so the epilogue stores whole
//!   vectors and transposes nothing.
//! - **Winograd**: F(2, 3) along the dilated axis on the NCHW tiles (AVX-512: two outputs
//!   one rate apart in four products per input channel instead of six), and F(2 × 2,
//!   3 × 3) on the channel-blocked layout for dense 3 × 3 stride-1 layers of 32 input
//!   channels or more (AVX-512 and AVX2: four outputs in 16 products instead of 36; the
//!   input and output transforms around 16 products that run as 1 × 1 layers on the
//!   channel-blocked tiles), used at an input size where it saves at least 1.4 direct
//!   products per product (the direct tiles skip the taps in the padding, a Winograd tile
//!   does not). On AVX-512 a wide dense 3 × 3 layer runs F(2 × 2, 3 × 3) channel-blocked
//!   rather than F(2, 3) on NCHW, the data staying channel-blocked between such layers:
//!   from 48 input channels (32 inside a stack) on CPUs with two FMA ports, from 128 on
//!   CPUs with one (the Zen 4), each where it was measured faster. On AVX2, whose dense
//!   layers all run channel-blocked, dense 1D layers (1 × 3, 1 × 2) of 32 input channels
//!   or more run F(4, 3) and F(3, 2) along the row there (four outputs in six products
//!   instead of twelve; three in four instead of six). [`Network::with_winograd`] turns
//!   them all off.
//! - **Dispatch**: picked once per process ([`Kernel::selected`]: AVX-512F → AVX2 + FMA →
//!   portable, `DILATED_KERNEL=avx512|avx2|portable|reference` overrides), or per network
//!   with [`Network::with_kernel`].
//! - **Threads**: rayon over batch items, row groups and column chunks (and channel blocks
//!   for depthwise). By default the current rayon pool; [`Network::with_threads`] fixes the
//!   count (1 = a plain loop on the caller's thread, no pool).
//! - **Memory**: [`Workspace`] holds two activation buffers, each the size of the largest
//!   blocked activation between layers (a single layer needs none, unless it converts its
//!   input to the blocked layout: a depthwise layer that cannot run on NCHW, a wide dense
//!   layer, a layer on F(2 × 2, 3 × 3)); tile scratch lives on the stack. Packed weights
//!   take about the size of the weights (output channels rounded up to 16, per group on
//!   the NCHW kernels), and Winograd filters beside them 4/3 of that (F(2, 3)), 16/9
//!   (F(2 × 2, 3 × 3)) or twice that (F(4, 3) and F(3, 2) along the row). A layer on the channel-blocked
//!   Winograd keeps its transformed tiles in the workspace too, one slot per thread of at
//!   most about 4 MiB (plus two output rows per row of tiles for an NCHW output; along a
//!   row, a run's outputs and converted input columns).
//!
//! # Where the parts are
//!
//! Each module imports only from the ones listed before it, and from outside the engine
//! only the layer descriptions ([`conv`](crate::conv)), [`Error`] and [`Kernel`]:
//!
//! - `simd`: the 16-lane vector trait and its three instruction sets.
//! - `vmath`: `exp`, tanh, sigmoid, SiLU, GELU over it, and every activation on a vector.
//! - `kernels`: the channel-blocked tiles and the NCHW depthwise tiles, written once over
//!   the vector trait; `avx2`: AVX2's own dense and NCHW depthwise tiles.
//! - `nchw`: the dense tiles on NCHW data; `wino`: the Winograd F(2, 3) and F(2, 2) tiles, which fall
//!   back to them; `wino2`: the transforms of Winograd on the channel-blocked layout
//!   (F(2 × 2, 3 × 3), and F(4, 3) and F(3, 2) along the row), whose products run on the
//!   channel-blocked tiles.
//! - `isa`: the instruction-set families (portable, AVX2 + FMA, AVX-512F) and the entry
//!   points the drivers call, each compiled with its family's target features.
//! - `tiles`: the tile shapes per micro-architecture and the CPU's identity (`cpuid`).
//! - `plan`: the weights packed per layer for the kernels that run it.
//! - `exec`: the drivers: layouts, buffers, the work split, the walk over output rows, the
//!   last layer's post-op.
//! - `frame`: the frame-by-frame kernels of the streaming layers
//!   ([`CausalStream`](crate::stream::CausalStream)).
//! - This module: [`Network`], which plans a stack and dispatches it to a family.
//!
//! # Checking the unsafe code
//!
//! Every kernel is tested against [`conv_reference`](crate::conv::conv_reference)
//! (`tests/engine*.rs`, every family the CPU runs), and every `unsafe fn` states its
//! contract in a `# Safety` section (`tests/safety_docs.rs`). Under AddressSanitizer
//! (nightly only; CI stays on stable):
//!
//! ```text
//! RUSTFLAGS=-Zsanitizer=address cargo +nightly test -p dilated-core \
//!     --target x86_64-unknown-linux-gnu --lib --test engine_props --test engine_api
//! ```

#[cfg(target_arch = "x86_64")]
mod avx2;
pub(crate) mod elementwise;
mod exec;
pub(crate) mod frame;
mod isa;
mod kernels;
mod nchw;
mod plan;
#[cfg(test)]
mod post_tests;
mod simd;
mod tiles;
mod tune;
mod vmath;
mod wino;
mod wino2;

use std::sync::Arc;

pub use crate::kernel::{Kernel, UnknownKernel};

use elementwise::Post;
pub use exec::Workspace;
pub use tiles::{Cpu, Tiles, UnknownTiles};
pub use tune::{Choice, NchwDense, Tuning, UnknownChoice};

use crate::Error;
use crate::conv::{Conv, ConvDesc};
use exec::Threads;
use plan::ConvPlan;

/// Allocates the zeroed `batch × channels × hw` output of a run and fills it with `run`
/// (which returns the output's spatial size): the allocating forward passes of
/// [`Network`] and of the graph model share it.
pub(crate) fn run_allocating<E: From<Error>>(
    batch: usize,
    channels: usize,
    hw: [usize; 2],
    run: impl FnOnce(&mut [f32]) -> Result<[usize; 2], E>,
) -> Result<(Vec<f32>, [usize; 2]), E> {
    let mut out = vec![0.0; ConvDesc::nchw_len(batch, channels, hw)?];
    let hw = run(&mut out)?;
    Ok((out, hw))
}

/// The spatial size of `len` values of flat NCHW input holding `batch` items of
/// `channels` channels: `declared`, its one run-time axis (0, the tensors' `DYN`) inferred
/// from the length. Two run-time axes cannot be inferred: [`Error::UnknownSize`] with
/// `both_dynamic` as its words. The typed stacks and the graph model share it.
pub(crate) fn flat_input_hw(
    declared: [usize; 2],
    channels: usize,
    batch: usize,
    len: usize,
    both_dynamic: &'static str,
) -> Result<[usize; 2], Error> {
    if batch == 0 {
        return Err(Error::Zero { what: "batch" });
    }
    let mut hw = declared;
    let dynamic: Vec<usize> = (0..2).filter(|&a| hw[a] == 0).collect();
    match dynamic.as_slice() {
        [] => {}
        &[axis] => {
            let per = batch
                .checked_mul(channels)
                .and_then(|v| v.checked_mul(hw[1 - axis]))
                .ok_or(Error::Overflow {
                    what: "tensor size",
                })?;
            if per == 0 {
                return Err(Error::Zero {
                    what: "input channels",
                });
            }
            if len == 0 || !len.is_multiple_of(per) {
                return Err(Error::Length {
                    what: "input (not a whole number of items)",
                    expected: per.saturating_mul((len / per).max(1)),
                    actual: len,
                });
            }
            hw[axis] = len / per;
        }
        _ => return Err(Error::UnknownSize { what: both_dynamic }),
    }
    Ok(hw)
}

/// A stack of convolutions, checked to chain (each layer's input channels are the previous
/// layer's output channels), with its weights packed for the kernels.
#[derive(Debug, Clone)]
pub struct Network {
    layers: Vec<Conv>,
    /// Packed weights, shared by clones (configuring a clone repacks only for a new
    /// kernel family).
    plans: Arc<[ConvPlan]>,
    kernel: Kernel,
    threads: Threads,
    /// Whether dense layers run on the NCHW kernels where the layout allows (the family's
    /// default; tests force it on for every family), and Winograd where they allow it.
    policy: exec::Policy,
}

/// Two networks are equal when their layers are (kernel family and threads only change
/// the speed).
impl PartialEq for Network {
    fn eq(&self, other: &Self) -> bool {
        self.layers == other.layers
    }
}

/// What the plans depend on in a kernel family.
#[derive(Debug, Clone, Copy)]
struct Family {
    /// The most output blocks per dense tile.
    obmax: usize,
    /// Whether dense layers run on its NCHW kernels by default ([`isa::NchwIsa::NCHW_DENSE`]).
    nchw: bool,
    /// Whether dense layers at stride 2 across do ([`isa::NchwIsa::NCHW_STRIDED`]).
    nchw_strided: bool,
    /// Whether narrow dense layers do ([`isa::NchwIsa::NCHW_NARROW`]).
    nchw_narrow: bool,
    /// Where dense layers convert an NCHW input ([`isa::NchwIsa::CONVERT_MIN_IN`]).
    convert_min_in: usize,
    /// Which Winograd patches it runs on the channel-blocked layout.
    wino2: plan::BlockedWino,
}

/// [`Family`] of `kernel`.
fn family(kernel: Kernel) -> Family {
    fn of<I: isa::NchwIsa>() -> Family {
        Family {
            obmax: I::OBMAX,
            nchw: I::NCHW_DENSE,
            nchw_strided: I::NCHW_STRIDED,
            nchw_narrow: I::NCHW_NARROW,
            convert_min_in: I::CONVERT_MIN_IN,
            wino2: plan::BlockedWino {
                square: I::WINO2,
                rows: I::WINO_ROWS,
            },
        }
    }
    match kernel {
        // The reference runs no tile: its plans are the portable family's.
        Kernel::Reference | Kernel::Portable => of::<isa::Portable>(),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => of::<isa::Avx2>(),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => of::<isa::Avx512>(),
        // Never available off x86-64; the portable family all the same.
        #[cfg(not(target_arch = "x86_64"))]
        Kernel::Avx2 | Kernel::Avx512 => of::<isa::Portable>(),
    }
}

/// The policy's `(nchw, nchw_strided, nchw_narrow)` flags of NCHW rule `rule` in family `f`.
fn nchw_flags(rule: NchwDense, f: Family) -> (bool, bool, bool) {
    match rule {
        NchwDense::Family => (f.nchw, f.nchw_strided, f.nchw_narrow),
        NchwDense::Everywhere => (true, true, true),
        NchwDense::Never => (false, false, false),
    }
}

fn plans_for(layers: &[Conv], kernel: Kernel, p: exec::Policy) -> Result<Vec<ConvPlan>, Error> {
    let obmax = family(kernel).obmax;
    (0..layers.len())
        .map(|i| {
            let nchw = exec::runs_nchw(layers, i, p);
            // Winograd on NCHW only on the families that run dense layers there (the narrow
            // layers of the others run its direct tiles), or everywhere for the tests.
            let wino =
                (p.wino && (p.nchw || !nchw || p.wino_everywhere)).then_some(p.wino_everywhere);
            ConvPlan::new(&layers[i], obmax, nchw, wino, p.wino2)
        })
        .collect()
}

impl Network {
    /// Builds the plan for the kernel family this CPU runs ([`Kernel::selected`]). Fails on
    /// an empty stack or on layers that do not chain.
    pub fn new(layers: Vec<Conv>) -> Result<Self, Error> {
        Self::new_with_kernel(layers, Kernel::selected())
    }

    /// Builds the plan for kernel family `kernel`, packing the weights once for it (as
    /// [`Network::new`] followed by [`with_kernel`](Self::with_kernel), without the first
    /// packing). Fails as `new` does, or if this CPU lacks `kernel`.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Kernel, Network}};
    /// let layer = Conv::new(ConvDesc::same_2d(1, 1, 3, 1), vec![1.0; 9], Some(vec![0.0]))?;
    /// let net = Network::new_with_kernel(vec![layer], Kernel::Portable)?;
    /// assert_eq!(net.kernel(), Kernel::Portable);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn new_with_kernel(layers: Vec<Conv>, kernel: Kernel) -> Result<Self, Error> {
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel });
        }
        if layers.is_empty() {
            return Err(Error::Zero {
                what: "layer count",
            });
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[1].desc.in_channels != pair[0].desc.out_channels {
                return Err(Error::Chain {
                    layer: i + 1,
                    expected: pair[1].desc.in_channels,
                    actual: pair[0].desc.out_channels,
                });
            }
        }
        let f = family(kernel);
        let policy = exec::Policy {
            nchw: f.nchw,
            nchw_strided: f.nchw_strided,
            nchw_narrow: f.nchw_narrow,
            convert_min_in: f.convert_min_in,
            wino2: f.wino2,
            wino: true,
            wino_everywhere: false,
            tiles: Tiles::forced(),
        };
        let plans = plans_for(&layers, kernel, policy)?.into();
        Ok(Self {
            layers,
            plans,
            kernel,
            threads: Threads::Current,
            policy,
        })
    }

    /// A network of `layers` that runs as this one does: the same kernel family, threads
    /// and kernel policy (Winograd, tile shapes). Fails as [`Network::new`] does.
    pub(crate) fn sibling(&self, layers: Vec<Conv>) -> Result<Self, Error> {
        let mut net = Self::new_with_kernel(layers, self.kernel)?;
        net.threads = self.threads.clone();
        if net.policy != self.policy {
            net.policy = self.policy;
            net.plans = plans_for(&net.layers, net.kernel, net.policy)?.into();
        }
        Ok(net)
    }

    /// Runs this network with kernel family `kernel` (weights repacked for it).
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Kernel, Network}};
    /// let layer = Conv::new(ConvDesc::same_2d(1, 1, 3, 1), vec![1.0; 9], Some(vec![0.0]))?;
    /// let net = Network::new(vec![layer])?.with_kernel(Kernel::Portable).unwrap();
    /// assert_eq!(net.kernel(), Kernel::Portable);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn with_kernel(mut self, kernel: Kernel) -> Result<Self, Error> {
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel });
        }
        if kernel != self.kernel {
            let f = family(kernel);
            self.policy.nchw = f.nchw;
            self.policy.nchw_strided = f.nchw_strided;
            self.policy.nchw_narrow = f.nchw_narrow;
            self.policy.wino2 = f.wino2;
            self.plans = plans_for(&self.layers, kernel, self.policy)?.into();
        }
        self.kernel = kernel;
        Ok(self)
    }

    /// Lets the layers that allow it run Winograd F(2, 3) along their three-tap axis, or
    /// F(2, 2) along their two taps (`on`, the default), or runs every layer on the direct
    /// kernels (`false`).
    ///
    /// Winograd does a third fewer multiplications on stride-1 layers with kernel height
    /// 3, and on 1 × 3 layers whose rate divides 16 or is a multiple of 16, on the families
    /// that run dense layers on NCHW data (AVX-512; a dense 3 × 3 layer of 48 input
    /// channels or more, or 32 inside a stack, on CPUs with two FMA ports, and of 128 or
    /// more on CPUs with one, runs F(2 × 2, 3 × 3) channel-blocked instead); a quarter
    /// fewer (three products for two outputs) on 1 × 2 layers at those rates (WaveNet's and
    /// TCN's causal layers); three tenths fewer on layers of kernel height 5 (F(2, 3) on
    /// the first three kernel rows, F(2, 2) on the last two); and F(2 × 2, 3 × 3), 16
    /// products for four outputs where the direct kernels take 36, on dense 3 × 3 stride-1
    /// layers of 32 input channels or more that run channel-blocked (AVX-512 and AVX2), at
    /// input sizes where it saves enough products beside the taps the direct kernels skip
    /// in the padding; on AVX2, F(4, 3) (six products for four outputs where the direct
    /// kernels take twelve) and F(3, 2) (four for three, instead of six) along the row on
    /// dense 1 × 3 and 1 × 2 layers of 32 input channels or more (see
    /// [`Network::holds_winograd_1d`]). It sums in another order, so results differ from the direct kernels
    /// by rounding: on data and weights of comparable scale, within the accuracy the tests
    /// hold every kernel to (relative 1e-5 of the accumulated magnitude `Σ|w·x|`). Its
    /// rounding error scales with `Σ|w| · Σ|x|` over the taps of a pair (the 3 × 3 taps of
    /// a tile in two dimensions) rather than with `Σ|w·x|`, so an output that cancels a
    /// huge weight on a tiny input against the reverse loses relative accuracy; turn
    /// Winograd off where that matters. NaN and infinities come out as the reference's
    /// (such outputs are recomputed directly).
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::Network};
    /// let layer = Conv::new(ConvDesc::same_2d(4, 4, 3, 2), vec![0.1; 144], Some(vec![0.0; 4]))?;
    /// let x = vec![1.0; 4 * 20 * 20];
    /// let fast = Network::new(vec![layer.clone()])?;
    /// let direct = Network::new(vec![layer])?.with_winograd(false)?;
    /// let (a, _) = fast.forward(1, [20, 20], &x)?;
    /// let (b, _) = direct.forward(1, [20, 20], &x)?;
    /// assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() <= 1e-5 * 3.6));
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn with_winograd(mut self, on: bool) -> Result<Self, Error> {
        if on != self.policy.wino {
            self.policy.wino = on;
            self.plans = plans_for(&self.layers, self.kernel, self.policy)?.into();
        }
        Ok(self)
    }

    /// Runs Winograd on every layer whose shape its tiles take, the bounds measured per CPU
    /// lifted (column pairs at rates below 16 and rows of more than 255 input channels run
    /// direct on two-FMA-port CPUs, where they measured slower): for tests that must run
    /// every tile on every CPU. Results differ from the default by rounding only.
    #[doc(hidden)]
    pub fn with_winograd_everywhere(mut self) -> Result<Self, Error> {
        if !(self.policy.wino && self.policy.wino_everywhere) {
            self.policy.wino = true;
            self.policy.wino_everywhere = true;
            self.plans = plans_for(&self.layers, self.kernel, self.policy)?.into();
        }
        Ok(self)
    }

    /// Runs the AVX-512 NCHW dense and Winograd layers on register tiles of shape `tiles`
    /// (`Some`), or on each layer's own shape for this CPU ([`Tiles::for_layer`], `None`).
    /// The default is [`Tiles::forced`] (`DILATED_TILE`). Every shape sums each output in
    /// the same order, so results are bit for bit the same; only the speed differs. The
    /// other families have one shape each and ignore it.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Network, Tiles}};
    /// let layer = Conv::new(ConvDesc::same_2d(8, 8, 3, 2), vec![0.5; 576], Some(vec![0.0; 8]))?;
    /// let x = vec![1.0; 8 * 40 * 40];
    /// let one = Network::new(vec![layer.clone()])?.with_tiles(Some(Tiles::ONE_PORT));
    /// let two = Network::new(vec![layer])?.with_tiles(Some(Tiles::TWO_PORTS));
    /// assert_eq!(two.tiles(), Some(Tiles::TWO_PORTS));
    /// assert_eq!(one.forward(1, [40, 40], &x)?.0, two.forward(1, [40, 40], &x)?.0);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_tiles(mut self, tiles: Option<Tiles>) -> Self {
        self.policy.tiles = tiles;
        self
    }

    /// The tile shape forced on this network's AVX-512 NCHW dense and Winograd layers, if
    /// any (see [`Network::with_tiles`]).
    #[must_use]
    pub fn tiles(&self) -> Option<Tiles> {
        self.policy.tiles
    }

    /// The kernel choices this network runs with: Winograd on or off, which dense layers
    /// run on the NCHW kernels, where an NCHW input is converted, the AVX-512 tile shape
    /// (see [`Choice`]; [`Network::with_choice`] forces one, [`Network::tuned`] times them).
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{NchwDense, Network}};
    /// let layer = Conv::new(ConvDesc::same_2d(8, 8, 3, 2), vec![0.5; 576], Some(vec![0.0; 8]))?;
    /// let net = Network::new(vec![layer])?;
    /// assert!(net.choice().winograd);
    /// assert_eq!(net.choice().nchw, NchwDense::Family);
    /// assert!(!net.with_winograd(false)?.choice().winograd);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    #[must_use]
    pub fn choice(&self) -> Choice {
        let f = family(self.kernel);
        let p = self.policy;
        let flags = (p.nchw, p.nchw_strided, p.nchw_narrow);
        // A network's flags are one rule's (its family's, or `with_choice`'s); the first
        // rule that gives them, so a rule equal to the family's reads `Family`.
        let nchw = NchwDense::ALL
            .into_iter()
            .find(|&r| nchw_flags(r, f) == flags)
            .unwrap_or(NchwDense::Family);
        Choice {
            winograd: p.wino,
            nchw,
            convert_from: p.convert_min_in,
            tiles: p.tiles,
        }
    }

    /// Runs with the kernel choices `choice` (say, what [`Network::tuned`] picked in
    /// another process), repacking the weights if the choice changes which kernels hold
    /// them. Every choice computes the same convolution, within rounding: the tile shapes
    /// give the same bits ([`Network::with_tiles`]); the NCHW and channel-blocked kernels
    /// and Winograd ([`Network::with_winograd`]) may sum in another order. Fails only if a
    /// size overflows in the repacking.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Choice, NchwDense, Network}};
    /// let layer = Conv::new(ConvDesc::same_2d(8, 8, 3, 2), vec![0.5; 576], Some(vec![0.0; 8]))?;
    /// let x = vec![1.0; 8 * 40 * 40];
    /// let net = Network::new(vec![layer])?.with_winograd(false)?;
    /// let blocked = net.clone().with_choice(Choice { nchw: NchwDense::Never, ..net.choice() })?;
    /// assert_eq!(blocked.choice().nchw, NchwDense::Never);
    /// let (a, b) = (net.forward(1, [40, 40], &x)?.0, blocked.forward(1, [40, 40], &x)?.0);
    /// assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() <= 1e-5 * 36.0));
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn with_choice(mut self, choice: Choice) -> Result<Self, Error> {
        let (nchw, nchw_strided, nchw_narrow) = nchw_flags(choice.nchw, family(self.kernel));
        let old = self.policy;
        self.policy = exec::Policy {
            nchw,
            nchw_strided,
            nchw_narrow,
            wino: choice.winograd,
            convert_min_in: choice.convert_from,
            tiles: choice.tiles,
            ..old
        };
        // The conversion bound and the tile shape are read at run time; the rest decides
        // the plans.
        let p = self.policy;
        if (p.nchw, p.nchw_strided, p.nchw_narrow, p.wino)
            != (old.nchw, old.nchw_strided, old.nchw_narrow, old.wino)
        {
            self.plans = plans_for(&self.layers, self.kernel, p)?.into();
        }
        Ok(self)
    }

    /// Times every kernel choice this network could run with on inputs of `batch ×
    /// C × H × W` (`input_hw`) and runs with the fastest: the planner's answer for CPUs
    /// the rules were not measured on (see [`Choice`] for what is chosen).
    ///
    /// The candidates are every combination of Winograd on and off, the three
    /// [`NchwDense`] rules, four conversion bounds (the family's, 32, 128, never) and, on
    /// AVX-512, the tile shapes [`Tiles::ONE_PORT`], [`Tiles::TWO_PORTS`] and each layer's
    /// own; those that run the same kernels on every layer at this size are timed once.
    /// Each candidate runs once to warm up, then in 3 to 64 interleaved rounds (about half a
    /// second of runs in all, more when one run takes longer), on the network's threads;
    /// the network's current choice stays unless another's fastest run is 5 % faster.
    /// The choice is remembered for the process (per kernel family, thread count, layer
    /// descriptions, batch and input size): tuning the same shapes again times nothing.
    /// Results differ from the untuned network's by rounding at most
    /// ([`Network::with_choice`]). Fails as [`Network::forward`] does on a bad size.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::Network};
    /// let layer = Conv::new(ConvDesc::same_2d(16, 16, 3, 2), vec![0.01; 2304], Some(vec![0.0; 16]))?;
    /// let (net, tuning) = Network::new(vec![layer])?.with_threads(1)?.tuned(1, [24, 24])?;
    /// assert_eq!(net.choice(), tuning.choice);
    /// // Timed once per distinct candidate, the network's own choice first.
    /// # if net.kernel() != dilated_core::engine::Kernel::Reference {
    /// assert!(!tuning.timings.is_empty());
    /// # }
    /// // The same shapes again: recalled, not timed.
    /// let again = net.clone().tuned(1, [24, 24])?.1;
    /// assert!(again.timings.is_empty());
    /// assert_eq!(again.choice, tuning.choice);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn tuned(self, batch: usize, input_hw: [usize; 2]) -> Result<(Self, Tuning), Error> {
        if batch == 0 {
            return Err(Error::Zero { what: "batch" });
        }
        let x_len = ConvDesc::nchw_len(batch, self.in_channels(), input_hw)?;
        let out_hw = self.output_size(input_hw)?;
        let y_len = ConvDesc::nchw_len(batch, self.out_channels(), out_hw)?;
        let current = self.choice();
        if self.kernel == Kernel::Reference {
            let tuning = Tuning {
                choice: current,
                timings: Vec::new(),
            };
            return Ok((self, tuning));
        }
        let descs: Vec<&ConvDesc> = self.layers.iter().map(|l| &l.desc).collect();
        let key = format!(
            "{}|{}|{batch}|{input_hw:?}|{descs:?}",
            self.kernel,
            self.threads()
        );
        if let Some(choice) = tune::recalled(&key) {
            let tuning = Tuning {
                choice,
                timings: Vec::new(),
            };
            return Ok((self.with_choice(choice)?, tuning));
        }
        let f = family(self.kernel);
        let shapes: &[Tiles] = if self.kernel == Kernel::Avx512 {
            &[Tiles::ONE_PORT, Tiles::TWO_PORTS]
        } else {
            &[]
        };
        // The plans depend on Winograd and the NCHW rule only: one packing per pair.
        let mut packed: Vec<((bool, NchwDense), Network)> = Vec::new();
        let mut nets: Vec<(Choice, Network)> = Vec::new();
        let mut seen = Vec::new();
        for c in tune::candidates(current, &[f.convert_min_in, 32, 128, usize::MAX], shapes) {
            let net = match packed.iter().find(|(k, _)| *k == (c.winograd, c.nchw)) {
                Some((_, n)) => n.clone().with_choice(c)?,
                None => {
                    let n = self.clone().with_choice(c)?;
                    packed.push(((c.winograd, c.nchw), n.clone()));
                    n
                }
            };
            let sig = exec::signature(
                &net.layers,
                &net.plans,
                input_hw,
                net.policy,
                !shapes.is_empty(),
            )?;
            if !seen.contains(&sig) {
                seen.push(sig);
                // As the network reports it (a rule equal to the family's is `Family`).
                nets.push((net.choice(), net));
            }
        }
        drop(packed);
        // Input and output 64-byte aligned, as a framework's tensors are: a plane that
        // starts mid-line makes every vector access span two cache lines.
        let pad = tune::ALIGN_FLOATS;
        let x_buf = tune::inputs(
            x_len
                .checked_add(pad)
                .ok_or(Error::Overflow { what: "input" })?,
        );
        let x = &x_buf[tune::align_offset(&x_buf)..][..x_len];
        let mut y_buf = vec![
            0.0;
            y_len
                .checked_add(pad)
                .ok_or(Error::Overflow { what: "output" })?
        ];
        let yo = tune::align_offset(&y_buf);
        let y = &mut y_buf[yo..][..y_len];
        let mut ws = Workspace::new();
        let (pick, best) = tune::fastest(nets.len(), |i| {
            let t = std::time::Instant::now();
            nets[i].1.forward_into(batch, input_hw, x, y, &mut ws)?;
            Ok(t.elapsed().as_secs_f64())
        })?;
        let timings = nets.iter().zip(&best).map(|((c, _), &t)| (*c, t)).collect();
        let (choice, net) = nets.swap_remove(pick);
        tune::remember(key, choice);
        Ok((net, Tuning { choice, timings }))
    }

    /// Runs dense layers on the NCHW kernels wherever the layout allows (`on`), or never,
    /// whatever the family's default: so tests cover both kernels on every family.
    #[cfg(test)]
    fn with_nchw(mut self, on: bool) -> Result<Self, Error> {
        self.policy.nchw = on;
        self.policy.nchw_strided = on;
        self.policy.nchw_narrow = on;
        self.plans = plans_for(&self.layers, self.kernel, self.policy)?.into();
        Ok(self)
    }

    /// Whether layer `layer` runs Winograd along one axis on NCHW data — F(2, 3), F(2, 2),
    /// or both for kernel height 5 (see [`Network::with_winograd`]); false for a layer
    /// index past the last.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Kernel, Network}};
    /// let layer = Conv::new(ConvDesc::same_2d(8, 8, 3, 2), vec![0.5; 576], Some(vec![0.0; 8]))?;
    /// let net = Network::new(vec![layer])?;
    /// // The AVX-512 family runs this 3 × 3 stride-1 layer on Winograd.
    /// assert_eq!(net.runs_winograd(0), net.kernel() == Kernel::Avx512);
    /// assert!(!net.clone().with_winograd(false)?.runs_winograd(0));
    /// // And a WaveNet layer (kernel 2, causal, rate 16) on F(2, 2).
    /// let wavenet = Conv::new(ConvDesc::causal_1d(8, 8, 2, 16), vec![0.5; 128], Some(vec![0.0; 8]))?;
    /// let net = Network::new(vec![wavenet])?;
    /// assert_eq!(net.runs_winograd(0), net.kernel() == Kernel::Avx512);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    #[must_use]
    pub fn runs_winograd(&self, layer: usize) -> bool {
        self.plans
            .get(layer)
            .is_some_and(|p| matches!(p.kind, plan::Kind::Nchw { wino: Some(_), .. }))
    }

    /// Whether layer `layer` holds Winograd F(2 × 2, 3 × 3) filters beside its direct
    /// weights (16/9 of their size; see [`Network::with_winograd`]): a dense 3 × 3
    /// stride-1 layer of 32 input channels or more on the channel-blocked kernels of the
    /// AVX2 and AVX-512 families. It runs on them at input sizes where they save enough
    /// products. False for a layer index past the last.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Kernel, Network}};
    /// let w = vec![0.01; 64 * 64 * 9];
    /// let layer = Conv::new(ConvDesc::same_2d(64, 64, 3, 2), w, Some(vec![0.0; 64]))?;
    /// // The portable family keeps its direct tiles only.
    /// let portable = Network::new_with_kernel(vec![layer.clone()], Kernel::Portable)?;
    /// assert!(!portable.holds_winograd_2d(0));
    /// if Kernel::Avx2.is_available() {
    ///     // AVX2 runs every dense layer channel-blocked.
    ///     let avx2 = Network::new_with_kernel(vec![layer], Kernel::Avx2)?;
    ///     assert!(avx2.holds_winograd_2d(0));
    ///     assert!(!avx2.with_winograd(false)?.holds_winograd_2d(0));
    /// }
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    #[must_use]
    pub fn holds_winograd_2d(&self, layer: usize) -> bool {
        self.blocked_patch(layer) == Some(plan::Patch::Square)
    }

    /// Whether layer `layer` holds Winograd F(4, 3) or F(3, 2) filters for the
    /// channel-blocked layout beside its direct weights (twice their size; see
    /// [`Network::with_winograd`]): a dense 1D layer (kernel 3 or 2, stride 1) of 32 input
    /// channels or more on the AVX2 family, which runs every dense layer channel-blocked
    /// (AVX-512 runs its 1D layers on Winograd along the columns on NCHW,
    /// [`Network::runs_winograd`]). It runs on them at input sizes where they save enough
    /// products. False for a layer index past the last.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::{Kernel, Network}};
    /// let w = vec![0.01; 64 * 64 * 2];
    /// let layer = Conv::new(ConvDesc::causal_1d(64, 64, 2, 16), w, Some(vec![0.0; 64]))?;
    /// if Kernel::Avx2.is_available() {
    ///     let avx2 = Network::new_with_kernel(vec![layer.clone()], Kernel::Avx2)?;
    ///     assert!(avx2.holds_winograd_1d(0));
    ///     assert!(!avx2.with_winograd(false)?.holds_winograd_1d(0));
    /// }
    /// let portable = Network::new_with_kernel(vec![layer], Kernel::Portable)?;
    /// assert!(!portable.holds_winograd_1d(0));
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    #[must_use]
    pub fn holds_winograd_1d(&self, layer: usize) -> bool {
        matches!(
            self.blocked_patch(layer),
            Some(plan::Patch::Row3 | plan::Patch::Row2)
        )
    }

    /// The patch of layer `layer`'s channel-blocked Winograd filters, if it holds any.
    fn blocked_patch(&self, layer: usize) -> Option<plan::Patch> {
        match &self.plans.get(layer)?.kind {
            plan::Kind::Dense { wino2, .. } => wino2.as_ref().map(|w| w.patch),
            plan::Kind::Depthwise { .. } | plan::Kind::Nchw { .. } => None,
        }
    }

    /// Runs this network on `threads` threads: 0 = the current rayon pool (the default),
    /// 1 = the calling thread only, more = a pool owned by the network (shared by clones).
    pub fn with_threads(mut self, threads: usize) -> Result<Self, Error> {
        self.threads = match threads {
            0 => Threads::Current,
            1 => Threads::One,
            n => Threads::Pool(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::ThreadPool {
                        message: e.to_string(),
                    })?,
            )),
        };
        Ok(self)
    }

    /// The kernel family this network runs.
    #[must_use]
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The number of threads a forward pass uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads.count()
    }

    /// The layers, in order.
    #[must_use]
    pub fn layers(&self) -> &[Conv] {
        &self.layers
    }

    /// Input channels of the first layer.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.layers[0].desc.in_channels
    }

    /// Output channels of the last layer.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.layers[self.layers.len() - 1].desc.out_channels
    }

    /// Spatial output size for an input of `input_hw`, checking every layer.
    pub fn output_size(&self, input_hw: [usize; 2]) -> Result<[usize; 2], Error> {
        self.layers
            .iter()
            .try_fold(input_hw, |hw, l| l.desc.output_size(hw))
    }

    /// Runs the stack on `batch × C_in × H × W` data, allocating the output.
    /// Returns the output and its spatial size.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, conv::Conv, engine::Network};
    /// let desc = ConvDesc::same_2d(1, 1, 3, 2);
    /// let layer = Conv::new(desc, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], Some(vec![0.5]))?;
    /// let net = Network::new(vec![layer])?;
    /// let (y, hw) = net.forward(1, [2, 2], &[1.0, 2.0, 3.0, 4.0])?;
    /// assert_eq!(hw, [2, 2]);
    /// assert_eq!(y, [1.5, 2.5, 3.5, 4.5]);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn forward(
        &self,
        batch: usize,
        input_hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Error> {
        let out_hw = self.output_size(input_hw)?;
        run_allocating(batch, self.out_channels(), out_hw, |out| {
            self.forward_into(batch, input_hw, input, out, &mut Workspace::new())
        })
    }

    /// Runs the stack into `output`, reusing `ws` for the intermediate activations.
    pub fn forward_into(
        &self,
        batch: usize,
        input_hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<[usize; 2], Error> {
        self.forward_post(batch, input_hw, input, output, ws, None)
    }

    /// [`Network::forward_into`], the last layer's output followed by `post` (a PReLU, a
    /// residual, an activation): one pass over the output on the network's threads, in
    /// runs that stay in L1. Exactly the result of running `post` after the stack
    /// (`Post::apply_nchw`).
    pub(crate) fn forward_post(
        &self,
        batch: usize,
        input_hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut Workspace,
        post: Option<&Post<'_>>,
    ) -> Result<[usize; 2], Error> {
        if batch == 0 {
            return Err(Error::Zero { what: "batch" });
        }
        let expected = ConvDesc::nchw_len(batch, self.in_channels(), input_hw)?;
        if input.len() != expected {
            return Err(Error::Length {
                what: "input",
                expected,
                actual: input.len(),
            });
        }
        let out_hw = self.output_size(input_hw)?;
        let expected = ConvDesc::nchw_len(batch, self.out_channels(), out_hw)?;
        if output.len() != expected {
            return Err(Error::Length {
                what: "output",
                expected,
                actual: output.len(),
            });
        }
        if let Some(p) = post {
            check_post(p, self.out_channels(), expected)?;
        }
        // The three SIMD families differ only in the instruction set the run is
        // monomorphised for: pick the instance once, call it once.
        let run: exec::ForwardFn = match self.kernel {
            Kernel::Reference => {
                exec::reference(&self.layers, batch, input_hw, input, output, ws)?;
                if let Some(p) = post {
                    p.apply_nchw(
                        Kernel::Reference,
                        self.out_channels(),
                        out_hw[0] * out_hw[1],
                        output,
                    );
                }
                return Ok(out_hw);
            }
            Kernel::Portable => exec::forward::<isa::Portable>,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => exec::forward::<isa::Avx2>,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => exec::forward::<isa::Avx512>,
            // Never available off x86-64 (a network cannot be built with them there); the
            // portable family all the same.
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512 => exec::forward::<isa::Portable>,
        };
        run(
            &self.layers,
            &self.plans,
            &self.threads,
            batch,
            input_hw,
            input,
            output,
            ws,
            self.policy,
            post,
        )?;
        Ok(out_hw)
    }
}

/// Checks a post-op against an output of `channels` channels and `len` floats: one PReLU
/// slope or one per channel, a residual as long as the output.
fn check_post(post: &Post<'_>, channels: usize, len: usize) -> Result<(), Error> {
    if let Some(s) = post.prelu
        && s.len() != 1
        && s.len() != channels
    {
        return Err(Error::Length {
            what: "PReLU slopes",
            expected: channels,
            actual: s.len(),
        });
    }
    if let Some(r) = post.residual
        && r.len() != len
    {
        return Err(Error::Length {
            what: "residual",
            expected: len,
            actual: r.len(),
        });
    }
    Ok(())
}

/// Deterministic test values in [−1, 1) (xorshift from `seed`).
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    tune::values(n, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
}

/// Layers of `descs` with deterministic weights and biases ([`test_values`] from `seed`).
#[cfg(test)]
pub(crate) fn test_stack(descs: &[ConvDesc], seed: u64) -> Vec<Conv> {
    descs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let w = test_values(d.weight_len().unwrap(), seed + i as u64);
            let b = d
                .bias
                .then(|| test_values(d.out_channels, seed + 100 + i as u64));
            Conv::new(*d, w, b).unwrap()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_stack as stack;
    use super::test_values as values;
    use super::*;
    use crate::conv::Activation;
    use proptest::prelude::*;

    /// The reference's output of `layers` on `x`.
    fn reference_of(layers: &[Conv], batch: usize, hw: [usize; 2], x: &[f32]) -> Vec<f32> {
        Network::new(layers.to_vec())
            .unwrap()
            .with_kernel(Kernel::Reference)
            .unwrap()
            .forward(batch, hw, x)
            .unwrap()
            .0
    }

    /// `got` against the reference's `want`: NaN where it has NaN, the same infinity where
    /// it has one, within `tol · (1 + |w|)` elsewhere.
    fn assert_close_to(got: &[f32], want: &[f32], tol: f32, what: &str) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if w.is_nan() {
                assert!(g.is_nan(), "{what} [{i}]: {g}, reference NaN");
            } else if w.is_infinite() {
                assert_eq!(g, w, "{what} [{i}]");
            } else {
                assert!(
                    (g - w).abs() <= tol * (1.0 + w.abs()),
                    "{what} [{i}]: {g} vs {w}"
                );
            }
        }
    }

    /// A network of `layers` on every family this CPU runs, at one and at two threads:
    /// `(family, threads, network)`.
    fn every_net(layers: &[Conv]) -> Vec<(Kernel, usize, Network)> {
        let mut nets = Vec::new();
        for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
            if !kernel.is_available() {
                continue;
            }
            let net = Network::new_with_kernel(layers.to_vec(), kernel).unwrap();
            for threads in [1, 2] {
                nets.push((kernel, threads, net.clone().with_threads(threads).unwrap()));
            }
        }
        nets
    }

    /// Runs one layer on every family with the NCHW kernels forced on, Winograd on, and
    /// checks it against the reference: within `2·10⁻⁶ · fan-in` relative, NaN where the
    /// reference has NaN, the same infinity where it has one.
    fn check_winograd(desc: ConvDesc, batch: usize, hw: [usize; 2], x: &[f32], seed: u64) {
        let layers = stack(&[desc], seed);
        let want = reference_of(&layers, batch, hw, x);
        let tol = 2e-6 * (desc.in_per_group() * desc.kernel[0] * desc.kernel[1]) as f32;
        for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
            if !kernel.is_available() {
                continue;
            }
            let net = Network::new(layers.clone())
                .unwrap()
                .with_kernel(kernel)
                .unwrap()
                .with_nchw(true)
                .unwrap()
                .with_winograd_everywhere()
                .unwrap();
            // Depthwise layers (one input and one output channel among them) have their own
            // kernel; too few input rows per pass stay direct (`wino::MIN_*_INPUTS`).
            let depthwise = desc.groups == desc.in_channels && desc.groups == desc.out_channels;
            let enough = if desc.kernel[0] > 1 {
                desc.in_per_group() * desc.kernel[1] >= 7
            } else {
                desc.in_per_group() >= 4
            };
            assert_eq!(net.runs_winograd(0), !depthwise && enough, "{desc:?}");
            for threads in [1, 2] {
                let net = net.clone().with_threads(threads).unwrap();
                let got = net.forward(batch, hw, x).unwrap().0;
                assert_close_to(&got, &want, tol, &format!("{kernel} {desc:?}"));
            }
        }
    }

    /// A Winograd-eligible layer: in 2D kernel height 3 (`dh` odd) or 5 (`dh` even), width
    /// `kw`; in 1D 1 × 3 (`kw` odd) or 1 × 2 (`kw` even) at a rate dividing 16 or a
    /// multiple of 16.
    fn wino_desc(
        one_d: bool,
        (cin, cout, groups2): (usize, usize, bool),
        (kw, dh, dw): (usize, usize, usize),
        pads: [[usize; 2]; 2],
        act: bool,
    ) -> ConvDesc {
        let g = if groups2 && cin % 2 == 0 && cout % 2 == 0 {
            2
        } else {
            1
        };
        ConvDesc {
            in_channels: cin,
            out_channels: cout,
            groups: g,
            kernel: if one_d {
                [1, 2 + kw % 2]
            } else {
                [5 - 2 * (dh % 2), kw]
            },
            dilation: if one_d {
                [1, [1, 2, 4, 8, 16, 32, 48][dw % 7]]
            } else {
                [dh, dw]
            },
            stride: [1, 1],
            padding: if one_d { [[0, 0], pads[1]] } else { pads },
            bias: act,
            activation: if act {
                Activation::Relu
            } else {
                Activation::Identity
            },
        }
    }

    /// Pads `desc` so the kernel fits the input.
    fn fit(mut desc: ConvDesc, hw: [usize; 2]) -> ConvDesc {
        for (axis, len) in hw.into_iter().enumerate() {
            let eff = desc.dilation[axis] * (desc.kernel[axis] - 1) + 1;
            let padded = len + desc.padding[axis][0] + desc.padding[axis][1];
            if padded < eff {
                desc.padding[axis][1] += eff - padded;
            }
        }
        desc
    }

    #[test]
    fn winograd_keeps_nan_and_infinities_where_the_reference_has_them() {
        // 2D at rates 3 (kernel height 3) and 2 (height 5), 1D at rates 2 (windows) and 32
        // (runs), three taps and two.
        for (one_d, hw, (kw, dh, dw)) in [
            (false, [23, 37], (3, 3, 2)),
            (false, [29, 37], (5, 2, 2)),
            (true, [1, 300], (3, 1, 1)),
            (true, [1, 700], (3, 1, 5)),
            (true, [1, 300], (2, 1, 1)),
            (true, [1, 700], (2, 1, 5)),
        ] {
            let desc = fit(
                wino_desc(one_d, (5, 7, false), (kw, dh, dw), [[2, 2], [2, 2]], true),
                hw,
            );
            let mut x = values(ConvDesc::nchw_len(2, 5, hw).unwrap(), 11);
            let n = x.len();
            for (k, i) in [17, 640, 1500, 2900, 3333].into_iter().enumerate() {
                x[i % n] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN][k % 3];
            }
            check_winograd(desc, 2, hw, &x, 5);
        }
    }

    /// Runs `descs` on every family with the NCHW kernels off, so every dense 3 × 3
    /// stride-1 layer runs Winograd F(2 × 2, 3 × 3) on the channel-blocked layout (on every
    /// input size), and checks it against the reference as [`check_winograd`] does.
    fn check_winograd_2d(descs: &[ConvDesc], batch: usize, hw: [usize; 2], x: &[f32], seed: u64) {
        let layers = stack(descs, seed);
        let want = reference_of(&layers, batch, hw, x);
        let fan_in: usize = descs
            .iter()
            .map(|d| d.in_per_group() * d.kernel[0] * d.kernel[1])
            .sum();
        let tol = 2e-6 * fan_in as f32;
        for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
            if !kernel.is_available() {
                continue;
            }
            let net = Network::new(layers.clone())
                .unwrap()
                .with_kernel(kernel)
                .unwrap()
                .with_nchw(false)
                .unwrap()
                .with_winograd_everywhere()
                .unwrap();
            for (plan, d) in net.plans.iter().zip(descs) {
                let eligible = plan::Patch::of(d).is_some();
                let packed = matches!(plan.kind, plan::Kind::Dense { wino2: Some(_), .. });
                assert_eq!(packed, eligible && d.in_channels > 1, "{d:?}");
            }
            for threads in [1, 2] {
                let net = net.clone().with_threads(threads).unwrap();
                let got = net.forward(batch, hw, x).unwrap().0;
                assert_close_to(&got, &want, tol, &format!("{kernel} {descs:?}"));
            }
        }
    }

    #[test]
    fn avx512_runs_wide_3x3_layers_on_winograd_2d_and_narrow_ones_on_nchw() {
        if !Kernel::Avx512.is_available() {
            return;
        }
        // The widths are this CPU's: from 48 input channels (32 inside a stack) with two
        // FMA ports, from 128 with one.
        let (single, in_stack) = exec::wino2_min_in(Tiles::two_fma_ports(Cpu::this()));
        let hw = [21, 30];
        let same = |c_in, c_out, rate| ConvDesc::same_2d(c_in, c_out, 3, rate);
        // (layers, which hold F(2 × 2, 3 × 3) filters, which run F(2, 3) on NCHW).
        let cases: [(Vec<ConvDesc>, Vec<bool>, Vec<bool>); 4] = [
            (vec![same(single, 20, 2)], vec![true], vec![false]),
            (vec![same(single - 8, 20, 2)], vec![false], vec![true]),
            // Inside a stack from its bound; the 20-channel layer after them reads
            // channel-blocked data, so it runs the direct channel-blocked tiles.
            (
                vec![
                    same(in_stack, in_stack, 1),
                    same(in_stack, 20, 2),
                    same(20, 9, 5),
                ],
                vec![true, true, false],
                vec![false, false, false],
            ),
            (
                vec![same(16, 20, 1), same(20, 9, 2)],
                vec![false, false],
                vec![true, true],
            ),
        ];
        for (seed, (descs, wino2, rows)) in cases.into_iter().enumerate() {
            let layers = stack(&descs, seed as u64);
            let c_in = descs[0].in_channels;
            let x = values(ConvDesc::nchw_len(2, c_in, hw).unwrap(), 5);
            let want = reference_of(&layers, 2, hw, &x);
            let fan_in: usize = descs.iter().map(|d| d.in_channels * 9).sum();
            let net = Network::new_with_kernel(layers, Kernel::Avx512).unwrap();
            for i in 0..descs.len() {
                assert_eq!(net.holds_winograd_2d(i), wino2[i], "{descs:?} [{i}]");
                assert_eq!(net.runs_winograd(i), rows[i], "{descs:?} [{i}]");
            }
            let direct = net.clone().with_winograd(false).unwrap();
            assert!((0..descs.len()).all(|i| !direct.holds_winograd_2d(i)));
            // A layer with an infinite weight packs no Winograd filters and runs the direct
            // tiles of the layout it was given: the reference's infinities and NaN.
            let mut hot = stack(&descs, seed as u64);
            let mut w = hot[0].weight().to_vec();
            w[4] = f32::INFINITY;
            hot[0] = Conv::new(descs[0], w, hot[0].bias().map(<[f32]>::to_vec)).unwrap();
            let hot_net = Network::new_with_kernel(hot.clone(), Kernel::Avx512).unwrap();
            assert!(!hot_net.holds_winograd_2d(0));
            let got = hot_net.forward(2, hw, &x).unwrap().0;
            let want_hot = reference_of(&hot, 2, hw, &x);
            assert_close_to(&got, &want_hot, 2e-6 * fan_in as f32, "infinite weight");
            for net in [net, direct] {
                for threads in [1, 2] {
                    let net = net.clone().with_threads(threads).unwrap();
                    let got = net.forward(2, hw, &x).unwrap().0;
                    assert_close_to(&got, &want, 2e-6 * fan_in as f32, &format!("{descs:?}"));
                }
            }
        }
    }

    #[test]
    fn a_large_depthwise_output_streamed_matches_the_reference() {
        // 64 channels at 256 × 256: a 16 MiB output, which the NCHW depthwise driver
        // writes with non-temporal stores where the vectors are 64-byte aligned — into an
        // aligned buffer, and into one 4 bytes off (no vector aligned: plain stores).
        let hw = [256, 256];
        let mut desc = ConvDesc::same_2d(64, 64, 3, 4);
        desc.groups = 64;
        desc.activation = Activation::Relu;
        let layers = stack(&[desc], 3);
        let x = values(ConvDesc::nchw_len(1, 64, hw).unwrap(), 8);
        let want = reference_of(&layers, 1, hw, &x);
        let n = want.len();
        let mut buf = vec![0.0f32; n + 32];
        let aligned = buf.as_ptr().align_offset(64);
        for (kernel, threads, net) in every_net(&layers) {
            for start in [aligned, aligned + 1] {
                buf.fill(f32::NAN);
                let y = &mut buf[start..start + n];
                net.forward_into(1, hw, &x, y, &mut Workspace::new())
                    .unwrap();
                assert_close_to(y, &want, 2e-6 * 9.0, &format!("{kernel} {threads}"));
            }
        }
    }

    /// A 3 × 3 depthwise layer of the tests below: `c` channels on a `hw` input, rates
    /// `d`, padding `pads` (raised where the kernel would not fit), stride `sw` across.
    #[derive(Debug, Clone, Copy)]
    struct Dw3 {
        c: usize,
        hw: [usize; 2],
        d: [usize; 2],
        pads: [[usize; 2]; 2],
        sw: usize,
        act: Activation,
    }

    /// Rates and padding as a proptest draws them (pairs).
    type Pair = (usize, usize);

    impl Dw3 {
        fn drawn(
            c: usize,
            hw: Pair,
            d: Pair,
            pads: (Pair, Pair),
            sw: usize,
            act: Activation,
        ) -> Self {
            Self {
                c,
                hw: [hw.0, hw.1],
                d: [d.0, d.1],
                pads: [[pads.0.0, pads.0.1], [pads.1.0, pads.1.1]],
                sw,
                act,
            }
        }

        fn desc(&self, bias: bool) -> ConvDesc {
            fit(
                ConvDesc {
                    in_channels: self.c,
                    out_channels: self.c,
                    groups: self.c,
                    kernel: [3, 3],
                    dilation: self.d,
                    stride: [1, self.sw],
                    padding: self.pads,
                    bias,
                    activation: self.act,
                },
                self.hw,
            )
        }

        /// Test values for `batch` inputs, `specials` written in (index modulo the length).
        fn input(&self, batch: usize, seed: u64, specials: &[(usize, f32)]) -> Vec<f32> {
            let mut x = values(ConvDesc::nchw_len(batch, self.c, self.hw).unwrap(), seed);
            let n = x.len();
            for &(i, v) in specials {
                x[i % n] = v;
            }
            x
        }
    }

    /// One 3 × 3 depthwise layer at stride 1 down (the NCHW tile that walks rows `dh`
    /// apart, `kernels::pix3_tile`) on every family at one and two threads against the
    /// reference; `specials` inputs and, with `inf_weight`, one weight set to infinities or
    /// NaN (the reference's result keeps them, and a padded tap never meets them).
    fn check_pix3(
        l: Dw3,
        batch: usize,
        specials: &[(usize, f32)],
        inf_weight: Option<(usize, f32)>,
        seed: u64,
    ) {
        let desc = l.desc(seed.is_multiple_of(2));
        let mut layers = stack(&[desc], seed);
        if let Some((i, v)) = inf_weight {
            let mut w = layers[0].weight().to_vec();
            let n = w.len();
            w[i % n] = v;
            layers[0] = Conv::new(desc, w, layers[0].bias().map(<[f32]>::to_vec)).unwrap();
        }
        let x = l.input(batch, seed + 7, specials);
        let want = reference_of(&layers, batch, l.hw, &x);
        for (kernel, threads, net) in every_net(&layers) {
            let got = net.forward(batch, l.hw, &x).unwrap().0;
            let what = format!("{kernel} {threads} {desc:?} {:?}", l.hw);
            assert_close_to(&got, &want, 2e-6 * 9.0, &what);
        }
    }

    /// A 3 × 3 depthwise layer on the channel-blocked layout (`kernels::dw_tile`), as in a
    /// depthwise-separable block: before a 1 × 1 layer (its NCHW input converted, its
    /// output blocked) or after one (blocked input, NCHW output), the dense layers kept off
    /// the NCHW kernels; every family at one and two threads against the reference.
    fn check_dw3_blocked(l: Dw3, dw_first: bool, specials: &[(usize, f32)], seed: u64) {
        let dw = l.desc(true);
        let mut one = ConvDesc::same_2d(l.c, l.c, 1, 1);
        one.bias = seed.is_multiple_of(2);
        let descs = if dw_first { [dw, one] } else { [one, dw] };
        let layers = stack(&descs, seed);
        let x = l.input(2, seed + 3, specials);
        let want = reference_of(&layers, 2, l.hw, &x);
        for (kernel, threads, net) in every_net(&layers) {
            let net = net.with_nchw(false).unwrap();
            let got = net.forward(2, l.hw, &x).unwrap().0;
            let what = format!("{kernel} {threads} {descs:?} {:?}", l.hw);
            assert_close_to(&got, &want, 2e-6 * (9 + l.c) as f32, &what);
        }
    }

    #[test]
    fn blocked_three_by_three_depthwise_keeps_nan_and_infinities() {
        let specials = [
            (7, f32::INFINITY),
            (250, f32::NAN),
            (1200, f32::NEG_INFINITY),
        ];
        for (i, dw_first) in [true, false].into_iter().enumerate() {
            let l = Dw3 {
                c: 20,
                hw: [17 + i, 40],
                d: [2 + i, 3],
                pads: [[2 + i, 1], [3, 3]],
                sw: 1,
                act: Activation::Relu,
            };
            check_dw3_blocked(l, dw_first, &specials, 60 + i as u64);
        }
    }

    #[test]
    fn three_by_three_depthwise_keeps_nan_and_infinities() {
        let specials = [
            (5, f32::INFINITY),
            (333, f32::NAN),
            (1000, f32::NEG_INFINITY),
            (2047, f32::INFINITY),
        ];
        for (i, v) in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN]
            .into_iter()
            .enumerate()
        {
            // Rates 1, 2, 3 down, 2 and 5 across, the whole kernel on the borders' padding.
            let l = Dw3 {
                c: 3,
                hw: [21 + i, 45 + 7 * i],
                d: [1 + i, 2 + 3 * (i % 2)],
                pads: [[1 + i, 2], [2, 5]],
                sw: 1,
                act: Activation::Relu,
            };
            check_pix3(l, 2, &specials, Some((4 + 9 * i, v)), 40 + i as u64);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// The channel-blocked 3 × 3 depthwise tile against the reference on random
        /// shapes: channels across block boundaries, planes shorter and narrower than the
        /// kernel's reach, rates and padding apart, stride 2 across.
        #[test]
        fn blocked_three_by_three_depthwise_matches_the_reference(
            c in 1..40usize,
            hw in (1..30usize, 1..60usize),
            d in (1..6usize, 1..6usize),
            pads in ((0..7usize, 0..7usize), (0..7usize, 0..7usize)),
            sw in prop::sample::select(vec![1usize, 1, 2]),
            dw_first in any::<bool>(),
            act in 0..3usize,
            seed in any::<u64>(),
        ) {
            let act = [Activation::Identity, Activation::Relu, Activation::Tanh][act];
            let l = Dw3::drawn(c, hw, d, pads, sw, act);
            check_dw3_blocked(l, dw_first, &[], seed);
        }

        /// The 3 × 3 depthwise walk against the reference on random shapes: planes
        /// narrower and shorter than the kernel's reach, rates apart per axis, padding
        /// apart per side, tiles masked on either border, batches, stride 2 across
        /// (another tile) and every activation's epilogue.
        #[test]
        fn three_by_three_depthwise_matches_the_reference(
            c in 1..20usize,
            hw in (1..40usize, 1..90usize),
            d in (1..7usize, 1..7usize),
            pads in ((0..8usize, 0..8usize), (0..8usize, 0..8usize)),
            sw in prop::sample::select(vec![1usize, 1, 1, 2]),
            batch in 1..3usize,
            act in 0..4usize,
            seed in any::<u64>(),
        ) {
            let act = [Activation::Identity, Activation::Relu, Activation::LeakyRelu(0.1), Activation::Silu][act];
            let l = Dw3::drawn(c, hw, d, pads, sw, act);
            check_pix3(l, batch, &[], None, seed);
        }
    }

    #[test]
    fn winograd_2d_keeps_nan_and_infinities_where_the_reference_has_them() {
        // Two 3 × 3 layers (the first writes channel-blocked data, the second NCHW), with
        // infinities and NaN in the input and so in some tiles' transforms.
        let hw = [19, 26];
        let descs = [
            fit(
                wino_desc(false, (20, 17, false), (3, 2, 3), [[2, 2], [3, 3]], true),
                hw,
            ),
            fit(
                wino_desc(false, (17, 9, false), (3, 1, 1), [[1, 1], [1, 1]], false),
                hw,
            ),
        ];
        let mut x = values(ConvDesc::nchw_len(2, 20, hw).unwrap(), 12);
        let n = x.len();
        for (k, i) in [17, 640, 1500, 2900, 3333, 9000, 15000]
            .into_iter()
            .enumerate()
        {
            x[i % n] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN][k % 3];
        }
        check_winograd_2d(&descs, 2, hw, &x, 9);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Winograd F(2 × 2, 3 × 3) on the channel-blocked layout matches the reference on
        /// every family: one or two 3 × 3 layers (so both output layouts), channels across
        /// block boundaries, rates and paddings apart per axis, maps smaller than a tile.
        #[test]
        fn winograd_2d_matches_the_reference_on_every_family(
            cin in 2..40usize,
            couts in prop::collection::vec(1..40usize, 1..3),
            d in (1..6usize, 1..6usize),
            hw in (1..24usize, 1..40usize),
            pads in (0..5usize, 0..5usize, 0..5usize, 0..5usize),
            batch in 1..3usize,
            seed in any::<u64>(),
        ) {
            let hw = [hw.0, hw.1];
            let mut descs = Vec::new();
            let (mut c, mut size) = (cin, hw);
            for (i, &co) in couts.iter().enumerate() {
                let desc = fit(
                    wino_desc(
                        false,
                        (c, co.max(2), false),
                        (3, d.0, d.1),
                        [[pads.0, pads.1], [pads.2, pads.3]],
                        i == 0,
                    ),
                    size,
                );
                size = desc.output_size(size).unwrap();
                c = desc.out_channels;
                descs.push(desc);
            }
            let x = values(ConvDesc::nchw_len(batch, cin, hw).unwrap(), seed ^ 0x77);
            check_winograd_2d(&descs, batch, hw, &x, seed);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Winograd F(4, 3) and F(3, 2) along the row on the channel-blocked layout match
        /// the reference on every family: one or two 1D layers (so both output layouts),
        /// three taps and two, channels across block boundaries, rates from 1 to past a
        /// run's budget of tiles (runs that are parts of a group), rows shorter than a
        /// tile and rows whose last group is partial, causal and centred padding.
        #[test]
        fn winograd_rows_match_the_reference_on_every_family(
            cin in 2..40usize,
            couts in prop::collection::vec(1..40usize, 1..3),
            taps in 2..4usize,
            rate in prop::sample::select(vec![1usize, 2, 3, 5, 8, 16, 48, 130, 300]),
            len in 1..800usize,
            pads in (0..4usize, 0..4usize),
            batch in 1..3usize,
            seed in any::<u64>(),
        ) {
            let hw = [1, len];
            let mut descs = Vec::new();
            let (mut c, mut size) = (cin, hw);
            for (i, &co) in couts.iter().enumerate() {
                let pad = [pads.0 * rate / 2, pads.1 * rate / 2];
                let desc = fit(
                    ConvDesc {
                        kernel: [1, taps],
                        dilation: [1, rate],
                        ..wino_desc(true, (c, co.max(2), false), (3, 1, 1), [[0, 0], pad], i == 0)
                    },
                    size,
                );
                size = desc.output_size(size).unwrap();
                c = desc.out_channels;
                descs.push(desc);
            }
            let x = values(ConvDesc::nchw_len(batch, cin, hw).unwrap(), seed ^ 0x55);
            check_winograd_2d(&descs, batch, hw, &x, seed);
        }
    }

    /// AVX2 runs dense layers of at most 16 input channels per group on its NCHW direct
    /// tiles (no Winograd on NCHW), wider 1D layers channel-blocked on Winograd along the
    /// row, and matches the reference either way.
    #[test]
    fn avx2_runs_narrow_dense_layers_on_its_nchw_direct_tiles() {
        if !Kernel::Avx2.is_available() {
            return;
        }
        // (layer, input size, runs on NCHW, the patch of its channel-blocked Winograd).
        let cases = [
            (ConvDesc::causal_1d(16, 16, 2, 4), [1, 600], true, None),
            (ConvDesc::same_2d(16, 12, 3, 5), [23, 40], true, None),
            (ConvDesc::causal_1d(17, 16, 2, 4), [1, 600], false, None),
            (
                ConvDesc::causal_1d(40, 24, 3, 8),
                [1, 600],
                false,
                Some(plan::Patch::Row3),
            ),
            (
                ConvDesc::causal_1d(32, 8, 2, 1),
                [1, 600],
                false,
                Some(plan::Patch::Row2),
            ),
        ];
        for (seed, (desc, hw, nchw, patch)) in cases.into_iter().enumerate() {
            let layers = stack(&[desc], seed as u64);
            let net = Network::new_with_kernel(layers.clone(), Kernel::Avx2).unwrap();
            let on_nchw = matches!(net.plans[0].kind, plan::Kind::Nchw { wino: None, .. });
            assert_eq!(on_nchw, nchw, "{desc:?}");
            assert!(!net.runs_winograd(0), "{desc:?}");
            assert_eq!(net.blocked_patch(0), patch, "{desc:?}");
            let x = values(ConvDesc::nchw_len(2, desc.in_channels, hw).unwrap(), 3);
            let want = reference_of(&layers, 2, hw, &x);
            let tol = 2e-6 * (desc.in_channels * desc.kernel[0] * desc.kernel[1]) as f32;
            for threads in [1, 2] {
                let got = net
                    .clone()
                    .with_threads(threads)
                    .unwrap()
                    .forward(2, hw, &x)
                    .unwrap()
                    .0;
                assert_close_to(&got, &want, tol, &format!("{desc:?}"));
            }
        }
    }

    /// Stride-2 layers on the NCHW tiles read the input split by column parity, on every
    /// family with the NCHW kernels forced on: kernels 3 and 7, a rate of 2, an odd width
    /// (the split reaches past both ends of the row), NaN and infinities in the input
    /// where the reference has them. A layer with an infinite weight stays channel-blocked
    /// (the split's padding zeros would meet it: a NaN the reference does not have) and
    /// matches too.
    #[test]
    fn stride_two_layers_read_split_rows_and_keep_the_reference_specials() {
        let hw = [23, 71];
        for (seed, (cin, cout, k, d)) in [(3, 20, 3, 1), (3, 16, 7, 1), (5, 9, 3, 2)]
            .into_iter()
            .enumerate()
        {
            let mut desc = ConvDesc::same_2d(cin, cout, k, d);
            desc.stride = [2, 2];
            let seed = seed as u64;
            for inf_weight in [false, true] {
                let mut w = values(desc.weight_len().unwrap(), seed);
                if inf_weight {
                    w[0] = f32::INFINITY;
                }
                let b = values(cout, seed + 100);
                let layers = vec![Conv::new(desc, w, Some(b)).unwrap()];
                let mut x = values(ConvDesc::nchw_len(2, cin, hw).unwrap(), seed + 7);
                let n = x.len();
                for (j, i) in [5, 300, 1200, 2500].into_iter().enumerate() {
                    x[i % n] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN][j % 3];
                }
                let want = reference_of(&layers, 2, hw, &x);
                let tol = 2e-6 * (cin * k * k) as f32;
                for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
                    if !kernel.is_available() {
                        continue;
                    }
                    let net = Network::new_with_kernel(layers.clone(), kernel)
                        .unwrap()
                        .with_nchw(true)
                        .unwrap();
                    let split = matches!(net.plans[0].kind, plan::Kind::Nchw { s2: Some(_), .. });
                    assert_eq!(split, !inf_weight, "{kernel} {desc:?}");
                    for threads in [1, 2] {
                        let got = net
                            .clone()
                            .with_threads(threads)
                            .unwrap()
                            .forward(2, hw, &x)
                            .unwrap()
                            .0;
                        let what = format!("{kernel} {threads} thr, {desc:?}, inf {inf_weight}");
                        assert_close_to(&got, &want, tol, &what);
                    }
                }
            }
        }
    }

    #[test]
    fn winograd_rows_keep_nan_and_infinities_where_the_reference_has_them() {
        // Two 1D layers (the first writes channel-blocked data, the second NCHW), three
        // taps then two, with infinities and NaN in the input and so in some transforms.
        let hw = [1, 900];
        let descs = [
            fit(ConvDesc::causal_1d(20, 17, 3, 4), hw),
            fit(ConvDesc::causal_1d(17, 9, 2, 16), hw),
        ];
        let mut x = values(ConvDesc::nchw_len(2, 20, hw).unwrap(), 13);
        let n = x.len();
        for (k, i) in [17, 640, 1500, 2900, 3333, 9000, 15000]
            .into_iter()
            .enumerate()
        {
            x[i % n] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN][k % 3];
        }
        check_winograd_2d(&descs, 2, hw, &x, 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Every family, with dense layers on its NCHW kernels forced on and off, matches
        /// the reference: single layers and stacks whose layers keep NCHW between them.
        #[test]
        fn nchw_kernels_match_the_reference_on_every_family(
            cin in 1..20usize,
            couts in prop::collection::vec(1..20usize, 1..4),
            k in (1..4usize, 1..6usize),
            d in (1..4usize, 1..6usize),
            hw in (1..9usize, 1..80usize),
            pads in (0..4usize, 0..4usize, 0..4usize, 0..4usize),
            (sh, sw) in (1..3usize, 1..3usize),
            batch in 1..3usize,
            groups2 in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut descs = Vec::new();
            let mut c = cin;
            let mut size = [hw.0, hw.1];
            for (i, &co) in couts.iter().enumerate() {
                let g = if groups2 && c % 2 == 0 && co % 2 == 0 { 2 } else { 1 };
                let mut padding = [[pads.0, pads.1], [pads.2, pads.3]];
                for axis in 0..2 {
                    let kk = [k.0, k.1][axis];
                    let dd = [d.0, d.1][axis];
                    let eff = dd * (kk - 1) + 1;
                    let padded = size[axis] + padding[axis][0] + padding[axis][1];
                    if padded < eff {
                        padding[axis][1] += eff - padded;
                    }
                }
                let desc = ConvDesc {
                    in_channels: c,
                    out_channels: co,
                    groups: g,
                    kernel: [k.0, k.1],
                    dilation: [d.0, d.1],
                    stride: if i == 0 { [sh, sw] } else { [1, 1] },
                    padding,
                    bias: i % 2 == 0,
                    activation: if i % 2 == 0 { Activation::Relu } else { Activation::Identity },
                };
                size = desc.output_size(size).unwrap();
                c = co;
                descs.push(desc);
            }
            let layers = stack(&descs, seed);
            let hw = [hw.0, hw.1];
            let x = values(ConvDesc::nchw_len(batch, cin, hw).unwrap(), seed ^ 0x5eed);
            let want = reference_of(&layers, batch, hw, &x);
            // Relative 2·10⁻⁶ per accumulated product along the stack.
            let fan_in: usize = descs
                .iter()
                .map(|d| d.in_per_group() * d.kernel[0] * d.kernel[1])
                .sum();
            let tol = 2e-6 * fan_in as f32;
            for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
                if !kernel.is_available() {
                    continue;
                }
                for on in [false, true] {
                    let net = Network::new(layers.clone())
                        .unwrap()
                        .with_kernel(kernel)
                        .unwrap()
                        .with_nchw(on)
                        .unwrap();
                    let got = net.forward(batch, hw, &x).unwrap().0;
                    prop_assert_eq!(got.len(), want.len());
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        prop_assert!(
                            (g - w).abs() <= tol * (1.0 + w.abs()),
                            "{kernel} nchw={on} [{i}]: {g} vs {w}"
                        );
                    }
                }
            }
        }

        /// Winograd layers (2D with kernel height 3 or 5, 1D 1 × 3 and 1 × 2 at rates 1…48)
        /// match the reference on every family, with and without threads.
        #[test]
        fn winograd_matches_the_reference_on_every_family(
            one_d in any::<bool>(),
            ch in (1..24usize, 1..40usize, any::<bool>()),
            k in (1..5usize, 1..5usize, 0..7usize),
            hw in (1..30usize, 1..120usize),
            pads in (0..6usize, 0..6usize, 0..20usize, 0..20usize),
            batch in 1..3usize,
            act in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let hw = if one_d { [1, hw.1 * 3] } else { [hw.0, hw.1] };
            let k = (k.0, k.1, if one_d { k.2 } else { k.2 % 3 + 1 });
            let desc = fit(
                wino_desc(one_d, ch, k, [[pads.0, pads.1], [pads.2, pads.3]], act),
                hw,
            );
            let x = values(ConvDesc::nchw_len(batch, ch.0, hw).unwrap(), seed ^ 0x5eed);
            check_winograd(desc, batch, hw, &x, seed);
        }
    }

    /// The AVX2 family's own tiles ([`super::super::avx2`]) against the reference.
    #[cfg(target_arch = "x86_64")]
    mod avx2_tiles {
        use super::super::test_values as values;
        use super::super::{Kernel, Network};
        use crate::conv::{Activation, Conv, ConvDesc};

        /// Runs one layer with AVX2 (1 and 2 threads) and the reference; every input and
        /// weight is below 1 in magnitude, so the error bound scales with the taps summed.
        fn check(d: ConvDesc, batch: usize, hw: [usize; 2], seed: u64) {
            if !Kernel::Avx2.is_available() {
                return;
            }
            let w = values(d.weight_len().unwrap(), seed);
            let b = d.bias.then(|| values(d.out_channels, seed + 1));
            let x = values(
                ConvDesc::nchw_len(batch, d.in_channels, hw).unwrap(),
                seed + 2,
            );
            let layer = Conv::new(d, w, b).unwrap();
            let net = Network::new(vec![layer]).unwrap();
            let reference = net.clone().with_kernel(Kernel::Reference).unwrap();
            let (want, want_hw) = reference.forward(batch, hw, &x).unwrap();
            let taps = d.in_per_group() * d.kernel[0] * d.kernel[1];
            let tol = 1e-6 * (taps + 1) as f32;
            for threads in [1, 2] {
                let avx2 = net
                    .clone()
                    .with_kernel(Kernel::Avx2)
                    .unwrap()
                    .with_threads(threads)
                    .unwrap();
                let (got, got_hw) = avx2.forward(batch, hw, &x).unwrap();
                assert_eq!(got_hw, want_hw);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= tol,
                        "{d:?}: element {i}: got {g}, want {w}"
                    );
                }
            }
        }

        /// Depthwise kernels wider than the columns whose masks are computed once per call
        /// (their masks are computed per tap), on rows whose tiles are partly masked.
        #[test]
        fn wide_depthwise_kernels_match_the_reference() {
            for (k, dil, w) in [([1, 11], 1, 70), ([3, 9], 2, 53), ([2, 12], 3, 40)] {
                let pad = |k: usize| {
                    let t = dil * (k - 1);
                    [t / 2, t - t / 2]
                };
                let d = ConvDesc {
                    in_channels: 5,
                    out_channels: 5,
                    groups: 5,
                    kernel: k,
                    dilation: [dil, dil],
                    stride: [1, 1],
                    padding: [pad(k[0]), pad(k[1])],
                    bias: true,
                    activation: Activation::LeakyRelu(0.1),
                };
                check(d, 2, [6, w], 3);
            }
        }

        /// Dense layers through every AVX2 tile width and epilogue: NCHW in and out (one
        /// layer), partial output blocks, each activation path.
        #[test]
        fn dense_tiles_match_the_reference() {
            let acts = [
                Activation::Identity,
                Activation::Relu,
                Activation::LeakyRelu(0.2),
                Activation::Gelu,
            ];
            for (i, act) in acts.into_iter().enumerate() {
                let mut d = ConvDesc::same_2d(19, 37, 3, i + 1);
                d.activation = act;
                check(d, 1, [9, 31 + i], 10 + i as u64);
            }
        }
    }
}

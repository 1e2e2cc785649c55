//! Running a plan: the three memory spaces, the elementwise loops (plain slices the
//! compiler vectorises), and the walk over the steps that the whole-signal forward and the
//! stream share (they differ only in how a conv chain runs).

use std::ops::Range;

use rayon::prelude::*;

use super::error::ModelError;
use super::plan::{Loc, Plan, Space, Src, Step};
use crate::conv::Activation;
use crate::engine::elementwise::{self, Post};
use crate::kernel::Kernel;

/// Per-node data of the standalone elementwise steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Aux {
    /// Nothing.
    None,
    /// PReLU slopes (1 or one per channel).
    Slopes(Vec<f32>),
    /// A batch norm's affine map.
    Affine { scale: Vec<f32>, shift: Vec<f32> },
}

impl Aux {
    fn slopes(&self) -> &[f32] {
        match self {
            Aux::Slopes(s) => s,
            Aux::None | Aux::Affine { .. } => &[],
        }
    }
}

/// Where values live during a run: the caller's input (read-only), the caller's output,
/// and the workspace's arena of scratch slots.
#[derive(Debug)]
pub(crate) struct Mem<'a> {
    pub(crate) input: &'a [f32],
    pub(crate) output: &'a mut [f32],
    pub(crate) arena: &'a mut [f32],
}

/// A range to read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rd {
    Input(Range<usize>),
    Output(Range<usize>),
    Arena(Range<usize>),
}

/// A range to write (the input is never written).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wr {
    Output(Range<usize>),
    Arena(Range<usize>),
}

/// Floats a standalone elementwise step handles at a time (16 KiB): an add sums its
/// inputs and applies its activation run by run, so that a run stays in the L1 cache; on
/// several threads the runs are the units of work.
const RUN: usize = 4096;

impl Rd {
    /// Elements `a..b` of this range.
    fn sub(&self, a: usize, b: usize) -> Rd {
        match self {
            Rd::Input(r) => Rd::Input(r.start + a..r.start + b),
            Rd::Output(r) => Rd::Output(r.start + a..r.start + b),
            Rd::Arena(r) => Rd::Arena(r.start + a..r.start + b),
        }
    }
}

impl From<Wr> for Rd {
    fn from(w: Wr) -> Self {
        match w {
            Wr::Output(r) => Rd::Output(r),
            Wr::Arena(r) => Rd::Arena(r),
        }
    }
}

/// Two disjoint ranges of one buffer, one to read and one to write (the plan never gives
/// a step overlapping ones).
fn split(buf: &mut [f32], r: Range<usize>, w: Range<usize>) -> (&[f32], &mut [f32]) {
    if r.end <= w.start {
        let (a, b) = buf.split_at_mut(w.start);
        (&a[r], &mut b[..w.len()])
    } else {
        let (a, b) = buf.split_at_mut(r.start);
        (&b[..r.len()], &mut a[w])
    }
}

/// Range `r` of a buffer split around a written range `w` (`before` ends where `w`
/// starts, `after` starts where it ends); the plan never has a step read what it writes.
fn beside<'a>(
    before: &'a [f32],
    after: &'a [f32],
    w: &Range<usize>,
    r: &Range<usize>,
) -> &'a [f32] {
    if r.end <= w.start {
        &before[r.clone()]
    } else {
        &after[r.start - w.end..r.end - w.end]
    }
}

/// Everything readable while one range is written: [`Mem::around`].
#[derive(Debug, Clone, Copy)]
struct Reads<'a> {
    input: &'a [f32],
    /// The written buffer before and after the written range `w`.
    before: &'a [f32],
    after: &'a [f32],
    w: (usize, usize),
    /// The other buffer (the arena when the output is written, and the other way round).
    other: &'a [f32],
    in_output: bool,
}

impl<'a> Reads<'a> {
    /// Range `r`, disjoint from the written one (the plan never has a step read what it
    /// writes, but for an add's input taken over, which is not read through here).
    fn get(&self, r: &Rd) -> &'a [f32] {
        let w = self.w.0..self.w.1;
        match r {
            Rd::Input(r) => &self.input[r.clone()],
            Rd::Output(r) if self.in_output => beside(self.before, self.after, &w, r),
            Rd::Arena(r) if !self.in_output => beside(self.before, self.after, &w, r),
            Rd::Output(r) | Rd::Arena(r) => &self.other[r.clone()],
        }
    }
}

impl Mem<'_> {
    /// The range `w` to write and everything else to read.
    fn around(&mut self, w: &Wr) -> (Reads<'_>, &mut [f32]) {
        let Mem {
            input,
            output,
            arena,
        } = self;
        let (buf, other, w, in_output): (&mut [f32], &[f32], _, bool) = match w {
            Wr::Output(w) => (&mut **output, &**arena, w, true),
            Wr::Arena(w) => (&mut **arena, &**output, w, false),
        };
        let (before, rest) = buf.split_at_mut(w.start);
        let (mid, after) = rest.split_at_mut(w.len());
        let reads = Reads {
            input,
            before,
            after,
            w: (w.start, w.end),
            other,
            in_output,
        };
        (reads, mid)
    }

    /// Two ranges to read and one to write, disjoint from both.
    fn triple(&mut self, a: &Rd, b: &Rd, w: &Wr) -> (&[f32], &[f32], &mut [f32]) {
        let (reads, mid) = self.around(w);
        (reads.get(a), reads.get(b), mid)
    }

    fn write(&mut self, w: &Wr) -> &mut [f32] {
        match w {
            Wr::Output(r) => &mut self.output[r.clone()],
            Wr::Arena(r) => &mut self.arena[r.clone()],
        }
    }

    fn pair(&mut self, r: &Rd, w: &Wr) -> (&[f32], &mut [f32]) {
        match (r, w) {
            (Rd::Input(r), Wr::Output(w)) => (&self.input[r.clone()], &mut self.output[w.clone()]),
            (Rd::Input(r), Wr::Arena(w)) => (&self.input[r.clone()], &mut self.arena[w.clone()]),
            (Rd::Output(r), Wr::Arena(w)) => (&self.output[r.clone()], &mut self.arena[w.clone()]),
            (Rd::Arena(r), Wr::Output(w)) => (&self.arena[r.clone()], &mut self.output[w.clone()]),
            (Rd::Output(r), Wr::Output(w)) => split(self.output, r.clone(), w.clone()),
            (Rd::Arena(r), Wr::Arena(w)) => split(self.arena, r.clone(), w.clone()),
        }
    }
}

/// Where every value of one run is: the plan, the spatial size of every node, the offset
/// of every root in its space, the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) hw: &'a [[usize; 2]],
    pub(crate) base: &'a [usize],
    pub(crate) batch: usize,
    pub(crate) in_channels: usize,
    /// The kernel family the elementwise steps run on (the convs' own).
    pub(crate) kernel: Kernel,
    /// Whether the standalone elementwise steps spread their runs over the current rayon
    /// pool (the model's own, or the caller's for a model of 0 threads), as the convs do;
    /// false for a model of one thread.
    pub(crate) parallel: bool,
}

impl Layout<'_> {
    /// `H · W` of root `root` (the products were checked when the sizes were set).
    fn plane(&self, root: usize) -> usize {
        let [h, w] = self.hw[self.plan.roots[root].sized_by];
        h * w
    }

    fn input_plane(&self) -> usize {
        self.hw[0][0] * self.hw[0][1]
    }

    fn hw_of(&self, src: Src) -> [usize; 2] {
        match src {
            Src::Input => self.hw[0],
            Src::At(loc) => self.hw[self.plan.roots[loc.root].sized_by],
        }
    }

    fn space(&self, root: usize, range: Range<usize>) -> Wr {
        match self.plan.roots[root].space {
            Space::Output => Wr::Output(range),
            Space::Slot(_) => Wr::Arena(range),
        }
    }

    /// Batch item `item` of `loc`.
    fn wr(&self, loc: Loc, item: usize) -> Wr {
        let p = self.plane(loc.root);
        let c = self.plan.roots[loc.root].channels;
        let start = self.base[loc.root] + (item * c + loc.offset) * p;
        self.space(loc.root, start..start + loc.channels * p)
    }

    /// Every batch item of `loc`, which fills its root.
    fn wr_all(&self, loc: Loc) -> Wr {
        let len = self.batch * loc.channels * self.plane(loc.root);
        let start = self.base[loc.root];
        self.space(loc.root, start..start + len)
    }

    fn rd(&self, src: Src, item: usize) -> Rd {
        match src {
            Src::Input => {
                let len = self.in_channels * self.input_plane();
                Rd::Input(item * len..(item + 1) * len)
            }
            Src::At(loc) => self.wr(loc, item).into(),
        }
    }

    fn rd_all(&self, src: Src) -> Rd {
        match src {
            Src::Input => Rd::Input(0..self.batch * self.in_channels * self.input_plane()),
            Src::At(loc) => self.wr_all(loc).into(),
        }
    }

    /// Whether `loc` fills its root (so its batch items are contiguous).
    fn whole(&self, loc: Loc) -> bool {
        loc.offset == 0 && loc.channels == self.plan.roots[loc.root].channels
    }

    fn whole_src(&self, src: Src) -> bool {
        match src {
            Src::Input => true,
            Src::At(loc) => self.whole(loc),
        }
    }
}

/// `d = f(s)` elementwise, or `d = f(d)` in place.
#[inline]
fn map(d: &mut [f32], s: Option<&[f32]>, f: impl Fn(f32) -> f32) {
    match s {
        Some(s) => d.iter_mut().zip(s).for_each(|(d, &x)| *d = f(x)),
        None => d.iter_mut().for_each(|x| *x = f(*x)),
    }
}

/// A fixed activation, as [`Activation::apply`] defines it, on the engine's vector type
/// (the piecewise-linear ones exactly; the others within a few ulps).
fn activate(kernel: Kernel, act: Activation, d: &mut [f32], s: Option<&[f32]>) {
    elementwise::activate(kernel, act, d, s);
}

/// Floats of a unit of work when a step's runs are spread over the threads (64 KiB), and
/// the least a step must hold to be spread at all is [`PAR_MIN_UNITS`] of them: waking the
/// pool costs microseconds, which a smaller step does not repay (per-channel units of a
/// few hundred floats made ESPNet's module 20 % slower at two threads, measured).
const PAR_UNIT: usize = 4 * RUN;

/// See [`PAR_UNIT`].
const PAR_MIN_UNITS: usize = 4;

/// Runs `f(channel, offset, run of d, same run of s)` over `d` in runs of at most [`RUN`]
/// floats inside channel planes of `plane` floats (`plane = d.len()` for an op blind to
/// channels; `offset`: the run's first float in `d`), in units of [`PAR_UNIT`] floats
/// spread over the current rayon pool when `parallel` and the step is large enough. Every
/// float is computed as on one thread: the split changes no result.
fn runs(
    parallel: bool,
    d: &mut [f32],
    s: Option<&[f32]>,
    plane: usize,
    f: impl Fn(usize, usize, &mut [f32], Option<&[f32]>) + Sync,
) {
    let plane = plane.max(1);
    // The floats `o..o + d.len()` of the step, run by run.
    let span = |o: usize, d: &mut [f32]| {
        let mut a = 0;
        while a < d.len() {
            let at = o + a;
            let c = at / plane;
            let end = (a + RUN).min(d.len()).min((c + 1) * plane - o);
            f(c, at, &mut d[a..end], s.map(|s| &s[at..o + end]));
            a = end;
        }
    };
    if parallel && d.len() >= PAR_MIN_UNITS * PAR_UNIT {
        d.par_chunks_mut(PAR_UNIT)
            .enumerate()
            .for_each(|(k, dk)| span(k * PAR_UNIT, dk));
    } else {
        span(0, d);
    }
}

/// `d = s`, in runs as [`runs`] does.
fn copy(parallel: bool, s: &[f32], d: &mut [f32]) {
    let len = d.len();
    runs(parallel, d, None, len, |_, at, d, _| {
        d.copy_from_slice(&s[at..at + d.len()]);
    });
}

/// PyTorch's PReLU: `x` for `x > 0`, `a · x` otherwise.
fn prelu(parallel: bool, slopes: &[f32], d: &mut [f32], s: Option<&[f32]>, plane: usize) {
    runs(parallel, d, s, plane, |c, _, dc, sc| {
        let a = if slopes.len() == 1 {
            slopes[0]
        } else {
            slopes[c]
        };
        map(dc, sc, |x| if x > 0.0 { x } else { a * x });
    });
}

/// `x · scale + shift` per channel.
fn affine(
    parallel: bool,
    (scale, shift): (&[f32], &[f32]),
    d: &mut [f32],
    s: Option<&[f32]>,
    plane: usize,
) {
    runs(parallel, d, s, plane, |c, _, dc, sc| {
        let (k, b) = (scale[c], shift[c]);
        map(dc, sc, |x| x * k + b);
    });
}

/// Step through `step`'s batch items with `f(item)`.
fn items(
    batch: usize,
    mut f: impl FnMut(usize) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    (0..batch).try_for_each(&mut f)
}

/// A unary elementwise step on one item: in place when the input is at the output's
/// location, else from the input.
fn unary(
    mem: &mut Mem<'_>,
    lay: &Layout<'_>,
    input: Src,
    output: Loc,
    item: usize,
    f: impl FnOnce(&mut [f32], Option<&[f32]>),
) {
    let w = lay.wr(output, item);
    if input == Src::At(output) {
        f(mem.write(&w), None);
    } else {
        let (s, d) = mem.pair(&lay.rd(input, item), &w);
        f(d, Some(s));
    }
}

/// How a conv chain runs: `(chain, batch, input size, input, output, post-op)`, the post-op
/// (the chain's PReLU, a fused add) on the chain's NCHW output.
pub(crate) type ConvFn<'a> = dyn FnMut(usize, usize, [usize; 2], &[f32], &mut [f32], Option<&Post<'_>>) -> Result<(), ModelError>
    + 'a;

/// Runs every step of the plan.
pub(crate) fn run(
    lay: &Layout<'_>,
    aux: &[Aux],
    mem: &mut Mem<'_>,
    conv: &mut ConvFn<'_>,
) -> Result<(), ModelError> {
    let batch = lay.batch;
    for step in &lay.plan.steps {
        match step {
            Step::Conv {
                chain,
                input,
                output,
                add,
            } => {
                let in_hw = lay.hw_of(*input);
                // The chain's PReLU and a fused add run in the engine's pass over the output.
                let prelu = lay.plan.chains[*chain].prelu.map(|p| aux[p].slopes());
                let act = add.map_or(Activation::Identity, |f| f.act);
                let whole = lay.whole_src(*input)
                    && lay.whole(*output)
                    && add.is_none_or(|f| lay.whole_src(f.residual));
                // A slice of a concat: its items are apart, so one engine call each.
                let calls = if whole { 1 } else { batch };
                let b = batch / calls;
                let rd = |src: Src, n: usize| {
                    if whole {
                        lay.rd_all(src)
                    } else {
                        lay.rd(src, n)
                    }
                };
                for n in 0..calls {
                    let wr = if whole {
                        lay.wr_all(*output)
                    } else {
                        lay.wr(*output, n)
                    };
                    let (s, residual, d) = match add {
                        Some(f) => {
                            let (s, r, d) = mem.triple(&rd(*input, n), &rd(f.residual, n), &wr);
                            (s, Some(r), d)
                        }
                        None => {
                            let (s, d) = mem.pair(&rd(*input, n), &wr);
                            (s, None, d)
                        }
                    };
                    let p = Post {
                        prelu,
                        residual,
                        act,
                    };
                    conv(*chain, b, in_hw, s, d, (!p.is_identity()).then_some(&p))?;
                }
            }
            Step::Act { input, output, act } => items(batch, |n| {
                unary(mem, lay, *input, *output, n, |d, s| {
                    let plane = d.len();
                    runs(lay.parallel, d, s, plane, |_, _, d, s| {
                        activate(lay.kernel, *act, d, s);
                    });
                });
                Ok(())
            })?,
            Step::Prelu {
                input,
                output,
                node,
            } => {
                let plane = lay.plane(output.root);
                items(batch, |n| {
                    unary(mem, lay, *input, *output, n, |d, s| {
                        prelu(lay.parallel, aux[*node].slopes(), d, s, plane);
                    });
                    Ok(())
                })?;
            }
            Step::Affine {
                input,
                output,
                node,
            } => {
                let plane = lay.plane(output.root);
                let (scale, shift) = match &aux[*node] {
                    Aux::Affine { scale, shift } => (scale.as_slice(), shift.as_slice()),
                    Aux::None | Aux::Slopes(_) => (&[][..], &[][..]),
                };
                items(batch, |n| {
                    unary(mem, lay, *input, *output, n, |d, s| {
                        affine(lay.parallel, (scale, shift), d, s, plane);
                    });
                    Ok(())
                })?;
            }
            Step::Gate { input, output } => items(batch, |n| {
                let (s, d) = mem.pair(&lay.rd(*input, n), &lay.wr(*output, n));
                let (a, b) = s.split_at(d.len());
                let len = d.len();
                runs(lay.parallel, d, None, len, |_, at, d, _| {
                    let run = at..at + d.len();
                    elementwise::gate(lay.kernel, &a[run.clone()], &b[run], d);
                });
                Ok(())
            })?,
            Step::Add {
                inputs,
                output,
                act,
            } => items(batch, |n| {
                let out = lay.wr(*output, n);
                let here = Src::At(*output);
                // Left to right: with k = 1 the first sum is x₁ + x₀, which is x₀ + x₁. The
                // input taken over is read once only (the plan sees to it), so no other
                // input is at the output's location.
                let taken = inputs.iter().take(2).position(|&i| i == here);
                let k = taken.unwrap_or(0);
                // Run by run, so a run's sum and its activation stay in the L1 cache: one
                // pass over memory instead of one per input and one for the activation.
                let (reads, d) = mem.around(&out);
                let len = d.len();
                runs(lay.parallel, d, None, len, |_, a, d, _| {
                    let b = a + d.len();
                    if taken.is_none() {
                        d.copy_from_slice(reads.get(&lay.rd(inputs[0], n).sub(a, b)));
                    }
                    for (j, &i) in inputs.iter().enumerate() {
                        if j != k {
                            let s = reads.get(&lay.rd(i, n).sub(a, b));
                            d.iter_mut().zip(s).for_each(|(d, &x)| *d += x);
                        }
                    }
                    if *act != Activation::Identity {
                        activate(lay.kernel, *act, d, None);
                    }
                });
                Ok(())
            })?,
            Step::Concat { parts, output } => items(batch, |n| {
                for &(src, offset) in parts {
                    let channels = match src {
                        Src::Input => lay.in_channels,
                        Src::At(loc) => loc.channels,
                    };
                    let slice = Loc {
                        root: output.root,
                        offset: output.offset + offset,
                        channels,
                    };
                    let (s, d) = mem.pair(&lay.rd(src, n), &lay.wr(slice, n));
                    copy(lay.parallel, s, d);
                }
                Ok(())
            })?,
            Step::Pool { input, output } => {
                let [h, w] = lay.hw_of(*input);
                let plane = h * w;
                #[allow(clippy::cast_precision_loss)] // planes far below 2^53.
                let count = plane as f64;
                items(batch, |n| {
                    let (s, d) = mem.pair(&lay.rd(*input, n), &lay.wr(*output, n));
                    for (d, sc) in d.iter_mut().zip(s.chunks(plane.max(1))) {
                        let sum: f64 = sc.iter().map(|&x| f64::from(x)).sum();
                        #[allow(clippy::cast_possible_truncation)]
                        let mean = (sum / count) as f32;
                        *d = mean;
                    }
                    Ok(())
                })?;
            }
            Step::Broadcast { input, output } => {
                let plane = lay.plane(output.root);
                items(batch, |n| {
                    let (s, d) = mem.pair(&lay.rd(*input, n), &lay.wr(*output, n));
                    for (dc, &v) in d.chunks_mut(plane.max(1)).zip(s) {
                        dc.fill(v);
                    }
                    Ok(())
                })?;
            }
            Step::Copy { input, output } => items(batch, |n| {
                let (s, d) = mem.pair(&lay.rd(*input, n), &lay.wr(*output, n));
                copy(lay.parallel, s, d);
                Ok(())
            })?,
        }
    }
    Ok(())
}

//! Convs summed by one add run as one conv over the channel concatenation of their inputs
//! (WaveNet's skip sum): `Σ (W_i * z_i + b_i) = [W_1 … W_k] * concat(z_1, …, z_k) + Σ b_i`.
//!
//! WaveNet-style graphs (gated blocks, each with a residual and a skip conv reading the gate)
//! give, merged, what the same graph planned without the merge gives, within 1e-5 of the
//! accumulated magnitude of the summed terms (the summation order differs): 1D and 2D, with
//! and without bias, weight-normalised or plain, batch 1 and 3, NaN and infinities where the
//! unmerged model has them. Where the merge must not apply (kernels that differ, a skip
//! conv read twice, a conv with its own activation) the results are bit for bit the
//! unmerged ones. A merged causal graph streams frame by frame to its whole-signal forward,
//! and saves exactly the tensors the unmerged one saves.

use dilated_core::conv::Rank;
use dilated_core::model::{Model, ModelBuilder, ModelGraph, ValueId, WeightNorm};
use dilated_core::{Activation, ConvDesc};

#[path = "support/rng.rs"]
#[allow(dead_code)] // `below` serves the engine's tests
mod rng;

/// `len` values in [−1, 1) drawn from `seed`.
fn signal(len: usize, seed: u64) -> Vec<f32> {
    rng::Rng(seed).vec(len)
}

/// How the skip convs end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tail {
    /// Summed, then the activation (the model's output).
    Sum(Activation),
    /// Concatenated instead (to measure the summed terms).
    Concat,
    /// Summed, ReLU, 1×1, ReLU, 1×1 (the zoo's head).
    Head,
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    rank: Rank,
    blocks: usize,
    bias: bool,
    norm: WeightNorm,
    /// Kernel of the skip convs, per block (cycled).
    skip_k: &'static [usize],
    /// The skip convs' own activation.
    skip_act: Activation,
}

const IN: usize = 3;
const RES: usize = 4;
const SKIP: usize = 6;

impl Spec {
    fn new(rank: Rank) -> Self {
        Self {
            rank,
            blocks: 5,
            bias: true,
            norm: WeightNorm::None,
            skip_k: &[1],
            skip_act: Activation::Identity,
        }
    }

    fn desc(&self, cin: usize, cout: usize, k: usize, rate: usize) -> ConvDesc {
        match self.rank {
            Rank::One => ConvDesc::causal_1d(cin, cout, k, rate),
            Rank::Two => ConvDesc::same_2d(cin, cout, k, rate),
        }
    }

    /// The gated blocks; returns the builder and the skip outputs.
    fn blocks(&self) -> (ModelBuilder, Vec<ValueId>) {
        let mut b = ModelBuilder::new(self.rank, IN);
        let x = b.input();
        let mut h = b
            .conv(x, "start", self.desc(IN, RES, 1, 1), WeightNorm::None)
            .unwrap();
        let dk = match self.rank {
            Rank::One => 2,
            Rank::Two => 3,
        };
        let mut skips = Vec::new();
        for i in 0..self.blocks {
            let z = b
                .conv(
                    h,
                    &format!("b.{i}.d"),
                    self.desc(RES, 2 * RES, dk, 1 << (i % 3)),
                    WeightNorm::None,
                )
                .unwrap();
            let g = b.gate(z).unwrap();
            let r = b
                .conv(
                    g,
                    &format!("b.{i}.r"),
                    self.desc(RES, RES, 1, 1),
                    WeightNorm::None,
                )
                .unwrap();
            let mut sd = self.desc(RES, SKIP, self.skip_k[i % self.skip_k.len()], 1);
            sd.bias = self.bias;
            sd.activation = self.skip_act;
            skips.push(b.conv(g, &format!("b.{i}.s"), sd, self.norm).unwrap());
            h = b.add(&[h, r], Activation::Identity).unwrap();
        }
        (b, skips)
    }

    fn graph(&self, tail: Tail) -> ModelGraph {
        let (mut b, skips) = self.blocks();
        let y = match tail {
            Tail::Sum(act) => b.add(&skips, act).unwrap(),
            Tail::Concat => b.concat(&skips).unwrap(),
            Tail::Head => {
                let s = b.add(&skips, Activation::Identity).unwrap();
                let s = b.activation(s, Activation::Relu).unwrap();
                let s = b
                    .conv(s, "head.0", self.desc(SKIP, SKIP, 1, 1), WeightNorm::None)
                    .unwrap();
                let s = b.activation(s, Activation::Relu).unwrap();
                b.conv(s, "head.1", self.desc(SKIP, 2, 1, 1), WeightNorm::None)
                    .unwrap()
            }
        };
        b.output(y).unwrap();
        b.build().unwrap()
    }
}

fn hw(rank: Rank) -> [usize; 2] {
    match rank {
        Rank::One => [1, 37],
        Rank::Two => [9, 7],
    }
}

/// Merged and unmerged models with the same weights (drawn op by op from one seed).
fn pair(graph: &ModelGraph, seed: u64) -> (Model, Model) {
    let merged = graph.init(seed).unwrap();
    let unmerged = graph
        .without_sum_merge()
        .from_weights(merged.to_weights().unwrap())
        .unwrap();
    (merged, unmerged)
}

/// The graph's [`ModelGraph::fused_ops`] with residual adds left out of the count (the
/// merged and unmerged plans can run different adds in a conv epilogue).
fn merged_ops(graph: &ModelGraph) -> (usize, usize) {
    graph.without_fused_adds().fused_ops()
}

/// The same for the graph planned without sums of convs as one conv.
fn unmerged_ops(graph: &ModelGraph) -> (usize, usize) {
    graph.without_sum_merge().without_fused_adds().fused_ops()
}

/// Whether the plan merges anything (it fuses more than the unmerged one).
fn merges(graph: &ModelGraph) -> bool {
    let (chains, absorbed) = merged_ops(graph);
    let (chains0, absorbed0) = unmerged_ops(graph);
    chains <= chains0 && absorbed > absorbed0
}

/// The largest `Σ_i |s_i|` over the output: the magnitude the summation accumulates.
fn accumulated(spec: &Spec, seed: u64, batch: usize, input: &[f32]) -> f32 {
    let cat = spec.graph(Tail::Concat).init(seed).unwrap();
    let terms = cat
        .forward_nchw_sized(batch, hw(spec.rank), input)
        .unwrap()
        .0;
    let plane = terms.len() / (batch * spec.blocks * SKIP);
    let mut max = 0.0f32;
    for n in 0..batch {
        for c in 0..SKIP {
            for p in 0..plane {
                let acc: f32 = (0..spec.blocks)
                    .map(|i| terms[((n * spec.blocks + i) * SKIP + c) * plane + p])
                    .filter(|t| t.is_finite())
                    .map(f32::abs)
                    .sum();
                max = max.max(acc);
            }
        }
    }
    max
}

/// NaN where the reference has NaN, the same infinity where it has one, within `tol`
/// elsewhere.
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what} [{i}]: {g}, unmerged NaN");
        } else if w.is_infinite() {
            assert_eq!(g, w, "{what} [{i}]");
        } else {
            assert!((g - w).abs() <= tol, "{what} [{i}]: {g} vs {w} (tol {tol})");
        }
    }
}

fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(got), bits(want), "{what}");
}

#[test]
fn merged_skip_sums_match_the_unmerged_graph() {
    let mut cases = 0;
    for rank in [Rank::One, Rank::Two] {
        for bias in [true, false] {
            for norm in [WeightNorm::None, WeightNorm::Parametrization] {
                for act in [Activation::Identity, Activation::Relu] {
                    let spec = Spec {
                        bias,
                        norm,
                        ..Spec::new(rank)
                    };
                    let graph = spec.graph(Tail::Sum(act));
                    assert!(merges(&graph), "{spec:?}: not merged");
                    for batch in [1, 3] {
                        let seed = 11 + cases;
                        let [h, w] = hw(rank);
                        let x = signal(batch * IN * h * w, seed);
                        let (merged, unmerged) = pair(&graph, seed);
                        let got = merged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
                        let want = unmerged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
                        let tol = 1e-5 * accumulated(&spec, seed, batch, &x);
                        assert!(tol > 0.0);
                        assert_close(&got, &want, tol, &format!("{spec:?} {act:?} batch {batch}"));
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 32);
}

#[test]
fn the_zoo_head_chains_after_the_merged_sum() {
    for rank in [Rank::One, Rank::Two] {
        let spec = Spec::new(rank);
        let graph = spec.graph(Tail::Head);
        // The sum, its ReLU, the head's two convs and the ReLU between: one chain (the
        // other skip convs, the add and the ReLU after it absorbed).
        let (chains, absorbed) = merged_ops(&graph);
        let (chains0, absorbed0) = unmerged_ops(&graph);
        assert_eq!(chains, chains0 - spec.blocks);
        assert_eq!(absorbed, absorbed0 + spec.blocks + 2);
        let [h, w] = hw(rank);
        for batch in [1, 3] {
            let x = signal(batch * IN * h * w, 5);
            let (merged, unmerged) = pair(&graph, 5);
            let got = merged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
            let want = unmerged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
            let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            assert_close(
                &got,
                &want,
                1e-5 * scale,
                &format!("{rank:?} batch {batch}"),
            );
        }
    }
}

#[test]
fn nan_and_infinities_come_out_as_the_unmerged_model_gives_them() {
    for rank in [Rank::One, Rank::Two] {
        for act in [Activation::Identity, Activation::Relu] {
            let spec = Spec::new(rank);
            let graph = spec.graph(Tail::Sum(act));
            let [h, w] = hw(rank);
            let batch = 3;
            let mut x = signal(batch * IN * h * w, 23);
            let plane = h * w;
            // Item 0: a NaN; item 1: +inf and −inf on two channels; item 2: finite.
            x[plane / 2] = f32::NAN;
            x[IN * plane + 3] = f32::INFINITY;
            x[IN * plane + plane + 5] = f32::NEG_INFINITY;
            let (merged, unmerged) = pair(&graph, 23);
            let got = merged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
            let want = unmerged.forward_nchw_sized(batch, [h, w], &x).unwrap().0;
            assert!(want.iter().any(|v| v.is_nan()), "the case has NaN");
            let tol = 1e-5 * accumulated(&spec, 23, batch, &x);
            assert_close(&got, &want, tol, &format!("{rank:?} {act:?}"));
            // The finite item is untouched by the others.
            let item = want.len() / batch;
            assert!(want[2 * item..].iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn where_the_merge_does_not_fit_the_results_are_the_unmerged_ones_bit_for_bit() {
    for rank in [Rank::One, Rank::Two] {
        let [h, w] = hw(rank);
        let x = signal(2 * IN * h * w, 31);
        let check = |graph: &ModelGraph, what: &str| {
            assert!(!merges(graph), "{rank:?} {what}: merged");
            assert_eq!(merged_ops(graph), unmerged_ops(graph));
            assert_eq!(
                graph.scratch_buffers(),
                graph.without_sum_merge().scratch_buffers()
            );
            let (merged, unmerged) = pair(graph, 31);
            let got = merged.forward_nchw_sized(2, [h, w], &x).unwrap().0;
            let want = unmerged.forward_nchw_sized(2, [h, w], &x).unwrap().0;
            assert_bits(&got, &want, &format!("{rank:?} {what}"));
        };
        // Different kernel sizes: no two skip convs of one geometry.
        let spec = Spec {
            blocks: 3,
            skip_k: &[1, 3, 5],
            ..Spec::new(rank)
        };
        check(&spec.graph(Tail::Sum(Activation::Relu)), "kernels 1, 3, 5");
        // The skip convs with an activation of their own.
        let spec = Spec {
            skip_act: Activation::Relu,
            ..Spec::new(rank)
        };
        check(&spec.graph(Tail::Sum(Activation::Identity)), "skip ReLU");
        // A skip conv followed by an activation op (fused into it).
        let (mut b, mut skips) = Spec::new(rank).blocks();
        for s in &mut skips {
            *s = b.activation(*s, Activation::Tanh).unwrap();
        }
        let y = b.add(&skips, Activation::Identity).unwrap();
        b.output(y).unwrap();
        check(&b.build().unwrap(), "skip then tanh");
        // Every skip conv read twice (by the sum and by a second sum): neither merges.
        let (mut b, skips) = Spec::new(rank).blocks();
        let s = b.add(&skips, Activation::Identity).unwrap();
        let mut rev = skips.clone();
        rev.reverse();
        let t = b.add(&rev, Activation::Identity).unwrap();
        let y = b.add(&[s, t], Activation::Identity).unwrap();
        b.output(y).unwrap();
        check(&b.build().unwrap(), "skips read twice");
    }
}

#[test]
fn the_convs_that_fit_merge_and_the_rest_stay() {
    for rank in [Rank::One, Rank::Two] {
        let [h, w] = hw(rank);
        let x = signal(3 * IN * h * w, 41);
        // Kernels 1, 3, 1, 3, 1: two merged convs (kernel 1 ×3, kernel 3 ×2).
        let spec = Spec {
            skip_k: &[1, 3],
            ..Spec::new(rank)
        };
        let graph = spec.graph(Tail::Sum(Activation::Relu));
        let (chains, absorbed) = merged_ops(&graph);
        let (chains0, absorbed0) = unmerged_ops(&graph);
        assert_eq!((chains, absorbed), (chains0 - 3, absorbed0 + 3));
        let (merged, unmerged) = pair(&graph, 41);
        let got = merged.forward_nchw_sized(3, [h, w], &x).unwrap().0;
        let want = unmerged.forward_nchw_sized(3, [h, w], &x).unwrap().0;
        let tol = 1e-5 * accumulated(&spec, 41, 3, &x);
        assert_close(&got, &want, tol, &format!("{rank:?} kernels 1, 3"));

        // One skip conv read by a second op too: the others merge, it stays in the sum.
        let (mut b, skips) = Spec::new(rank).blocks();
        let s = b.add(&skips, Activation::Identity).unwrap();
        let y = b.add(&[s, skips[2]], Activation::Identity).unwrap();
        b.output(y).unwrap();
        let graph = b.build().unwrap();
        let (chains, absorbed) = merged_ops(&graph);
        let (chains0, absorbed0) = unmerged_ops(&graph);
        assert_eq!((chains, absorbed), (chains0 - 3, absorbed0 + 3));
        let (merged, unmerged) = pair(&graph, 41);
        let got = merged.forward_nchw_sized(3, [h, w], &x).unwrap().0;
        let want = unmerged.forward_nchw_sized(3, [h, w], &x).unwrap().0;
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        assert_close(
            &got,
            &want,
            1e-5 * scale,
            &format!("{rank:?} one read twice"),
        );
    }
}

#[test]
fn strided_sums_merge_only_where_the_input_sizes_are_known() {
    // Stride 2 on a dynamic size: inputs of 8 and 9 give one output size, so the convs
    // stay apart; with the input size declared, they merge.
    let strided = |b: &mut ModelBuilder| {
        let x = b.input();
        let a = b
            .conv(x, "a", ConvDesc::same_2d(IN, 4, 3, 1), WeightNorm::None)
            .unwrap();
        let mut sums = Vec::new();
        for (i, from) in [x, a].into_iter().enumerate() {
            let cin = if i == 0 { IN } else { 4 };
            let mut d = ConvDesc::same_2d(cin, 5, 3, 2);
            d.stride = [2, 2];
            sums.push(
                b.conv(from, &format!("s.{i}"), d, WeightNorm::None)
                    .unwrap(),
            );
        }
        let y = b.add(&sums, Activation::Identity).unwrap();
        b.output(y).unwrap();
    };
    let mut dynamic = ModelBuilder::new(Rank::Two, IN);
    strided(&mut dynamic);
    let dynamic = dynamic.build().unwrap();
    assert!(!merges(&dynamic));
    let mut fixed = ModelBuilder::with_input_size(Rank::Two, IN, [11, 10]).unwrap();
    strided(&mut fixed);
    let fixed = fixed.build().unwrap();
    assert!(merges(&fixed));
    let x = signal(2 * IN * 110, 3);
    let (merged, unmerged) = pair(&fixed, 3);
    let got = merged.forward_nchw_sized(2, [11, 10], &x).unwrap().0;
    let want = unmerged.forward_nchw_sized(2, [11, 10], &x).unwrap().0;
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    assert_close(&got, &want, 1e-5 * scale, "strided, fixed size");
}

#[test]
fn a_merged_graph_streams_to_its_whole_signal_forward() {
    for skip_k in [&[1][..], &[2], &[1, 2]] {
        let spec = Spec {
            skip_k,
            ..Spec::new(Rank::One)
        };
        for tail in [Tail::Sum(Activation::Relu), Tail::Head] {
            let graph = spec.graph(tail);
            assert!(merges(&graph));
            let model = graph.init(17).unwrap();
            let len = 64;
            let x = signal(IN * len, 17);
            let whole = model.forward_nchw(1, &x).unwrap();
            let cout = graph.out_channels();
            let scale = whole.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let mut stream = model.stream().unwrap();
            for t in 0..len {
                let frame: Vec<f32> = (0..IN).map(|c| x[c * len + t]).collect();
                let out = stream.push(&frame).unwrap();
                for c in 0..cout {
                    let want = whole[c * len + t];
                    assert!(
                        (out[c] - want).abs() <= 1e-5 * scale,
                        "{skip_k:?} {tail:?} t {t} c {c}: {} vs {want}",
                        out[c]
                    );
                }
            }
            // In chunks, from a reset stream: the same.
            stream.reset();
            let mut out = vec![0.0; cout * len];
            stream.push_chunk(&x, &mut out).unwrap();
            assert_close(&out, &whole, 1e-5 * scale, "chunk");
        }
    }
}

#[test]
fn merged_models_save_what_they_loaded() {
    let spec = Spec {
        norm: WeightNorm::Parametrization,
        ..Spec::new(Rank::One)
    };
    let graph = spec.graph(Tail::Head);
    let (merged, unmerged) = pair(&graph, 9);
    let bytes = merged.to_safetensors_bytes().unwrap();
    assert_eq!(bytes, unmerged.to_safetensors_bytes().unwrap());
    assert_eq!(merged.parameters(), unmerged.parameters());
    let back = graph.from_safetensors_bytes(&bytes).unwrap();
    let x = signal(IN * 40, 9);
    assert_bits(
        &back.forward_nchw(1, &x).unwrap(),
        &merged.forward_nchw(1, &x).unwrap(),
        "reloaded",
    );
}

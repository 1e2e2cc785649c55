//! The graph runtime (`dilated_core::model`) against a naive reference written here: an
//! interpreter of the graph's op list built from `conv_reference` and plain loops, reading
//! the raw (unfolded) tensors by their `state_dict` names — so folding, fusion, in-place
//! writes, concat slices and buffer sharing are all checked against the plain math. Random
//! graphs (proptest, small sizes) run on every kernel family the CPU has; then each op,
//! folding, strict loading, round trips and the build-time and run-time shape errors.

use dilated_core::conv::{Rank, conv_reference};
use dilated_core::engine::Kernel;
use dilated_core::model::{
    Model, ModelBuilder, ModelError, ModelGraph, ModelWorkspace, Op, ValueId, WeightNorm,
};
use dilated_core::weights::Weights;
use dilated_core::{Activation, ConvDesc, Error};
use proptest::prelude::*;

/// SplitMix64: the data and the graph recipes.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// In [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// In [−1, 1).
    fn signed(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.signed()).collect()
    }
}

const ACTS: [Activation; 7] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Gelu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Silu,
];

/// The reference family and every fast one this CPU runs.
fn families() -> Vec<Kernel> {
    let mut v = vec![Kernel::Reference];
    for k in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
        if k.is_available() {
            v.push(k);
        } else {
            eprintln!("skipping the {k} kernels: this CPU lacks their features");
        }
    }
    v
}

fn name(prefix: &str, leaf: &str) -> String {
    if prefix.is_empty() {
        leaf.to_owned()
    } else {
        format!("{prefix}.{leaf}")
    }
}

fn tensor(w: &Weights, n: &str) -> Vec<f32> {
    w.get(n)
        .unwrap_or_else(|| panic!("no tensor {n}"))
        .unwrap()
        .to_vec()
}

/// `w = g · v / ‖v‖` per output channel.
fn weight_norm(g: &[f32], v: &[f32]) -> Vec<f32> {
    let per = v.len() / g.len();
    v.chunks(per)
        .zip(g)
        .flat_map(|(row, &g)| {
            let norm = row
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                .sqrt();
            row.iter()
                .map(move |&x| (f64::from(g) * f64::from(x) / norm) as f32)
        })
        .collect()
}

/// The naive reference: every op of the graph in order, on NCHW data, from the raw tensors.
fn reference(
    graph: &ModelGraph,
    w: &Weights,
    batch: usize,
    hw: [usize; 2],
    x: &[f32],
) -> (Vec<f32>, [usize; 2]) {
    let nodes = graph.nodes();
    let mut vals: Vec<(Vec<f32>, [usize; 2])> = Vec::new();
    for node in nodes {
        let input = |k: usize| vals[node.inputs()[k].index()].clone();
        let c_of = |k: usize| nodes[node.inputs()[k].index()].channels();
        let out = match node.op() {
            Op::Input => (x.to_vec(), hw),
            Op::Conv { prefix, desc, norm } => {
                let (xv, xhw) = input(0);
                let weight = match norm {
                    WeightNorm::None => tensor(w, &name(prefix, "weight")),
                    WeightNorm::Parametrization => weight_norm(
                        &tensor(w, &name(prefix, "parametrizations.weight.original0")),
                        &tensor(w, &name(prefix, "parametrizations.weight.original1")),
                    ),
                    WeightNorm::Legacy => weight_norm(
                        &tensor(w, &name(prefix, "weight_g")),
                        &tensor(w, &name(prefix, "weight_v")),
                    ),
                };
                let bias = desc.bias.then(|| tensor(w, &name(prefix, "bias")));
                let ohw = desc.output_size(xhw).unwrap();
                let mut y = vec![0.0; batch * desc.out_channels * ohw[0] * ohw[1]];
                conv_reference(desc, batch, xhw, &xv, &weight, bias.as_deref(), &mut y).unwrap();
                (y, ohw)
            }
            Op::BatchNorm { prefix, eps } => {
                let (mut xv, xhw) = input(0);
                let p = xhw[0] * xhw[1];
                let [g, b, m, v] = ["weight", "bias", "running_mean", "running_var"]
                    .map(|leaf| tensor(w, &name(prefix, leaf)));
                for (i, x) in xv.iter_mut().enumerate() {
                    let c = (i / p) % node.channels();
                    *x = (*x - m[c]) / (v[c] + eps).sqrt() * g[c] + b[c];
                }
                (xv, xhw)
            }
            Op::Activation(a) => {
                let (mut xv, xhw) = input(0);
                xv.iter_mut().for_each(|x| *x = a.apply(*x));
                (xv, xhw)
            }
            Op::Prelu { prefix, .. } => {
                let (mut xv, xhw) = input(0);
                let p = xhw[0] * xhw[1];
                let a = tensor(w, &name(prefix, "weight"));
                for (i, x) in xv.iter_mut().enumerate() {
                    let s = a[if a.len() == 1 {
                        0
                    } else {
                        (i / p) % node.channels()
                    }];
                    *x = if *x > 0.0 { *x } else { s * *x };
                }
                (xv, xhw)
            }
            Op::Gate => {
                let (xv, xhw) = input(0);
                let half = node.channels() * xhw[0] * xhw[1];
                let mut y = Vec::new();
                for item in xv.chunks(2 * half) {
                    for i in 0..half {
                        y.push(item[i].tanh() * (1.0 / (1.0 + (-item[half + i]).exp())));
                    }
                }
                (y, xhw)
            }
            Op::Add { activation } => {
                let (mut acc, xhw) = input(0);
                for k in 1..node.inputs().len() {
                    let (v, _) = input(k);
                    acc.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
                }
                acc.iter_mut().for_each(|x| *x = activation.apply(*x));
                (acc, xhw)
            }
            Op::Concat => {
                let xhw = input(0).1;
                let p = xhw[0] * xhw[1];
                let mut y = Vec::new();
                for n in 0..batch {
                    for k in 0..node.inputs().len() {
                        let len = c_of(k) * p;
                        y.extend_from_slice(&input(k).0[n * len..(n + 1) * len]);
                    }
                }
                (y, xhw)
            }
            Op::GlobalAvgPool => {
                let (xv, xhw) = input(0);
                let p = xhw[0] * xhw[1];
                let y = xv
                    .chunks(p)
                    .map(|c| (c.iter().map(|&x| f64::from(x)).sum::<f64>() / p as f64) as f32)
                    .collect();
                (y, [1, 1])
            }
            Op::Broadcast => {
                let (xv, _) = input(0);
                let like = input(1).1;
                let p = like[0] * like[1];
                let y = xv.iter().flat_map(|&v| std::iter::repeat_n(v, p)).collect();
                (y, like)
            }
            Op::Dropout => input(0),
            other => panic!("the reference does not know {other:?}"),
        };
        vals.push(out);
    }
    vals[graph.output().index()].clone()
}

/// Weights with every tensor spread around PyTorch's defaults, and batch-norm statistics
/// spread as a trained net's (variance in [0.5, 2]), so that a folding or naming slip
/// shows.
fn random_weights(graph: &ModelGraph, seed: u64) -> Weights {
    let base = graph.init(seed).unwrap().to_weights().unwrap();
    let mut rng = Rng(seed ^ 0xA5A5);
    let mut w = Weights::new();
    for p in graph.parameters() {
        let v = tensor(&base, &p.name)
            .into_iter()
            .map(|x| {
                if p.name.ends_with("running_var") {
                    0.5 + 1.5 * rng.unit()
                } else if p.name.ends_with("running_mean") {
                    0.5 * rng.signed()
                } else {
                    x * (1.0 + 0.5 * rng.signed()) + 0.1 * rng.signed()
                }
            })
            .collect();
        w.insert(p.name.clone(), p.shape.clone(), v).unwrap();
    }
    w
}

/// `got` within `tol · (1 + |want|)` of `want`, element by element.
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what} [{i}]: {g} vs {w}"
        );
    }
}

/// Runs `graph` with `weights` on every family and compares it with the reference.
fn check_against_reference(
    graph: &ModelGraph,
    weights: &Weights,
    batch: usize,
    hw: [usize; 2],
    seed: u64,
) {
    let x = Rng(seed).vec(batch * graph.in_channels() * hw[0] * hw[1]);
    let (want, want_hw) = reference(graph, weights, batch, hw, &x);
    for kernel in families() {
        let model = Model::from_weights(graph, weights.clone())
            .unwrap()
            .with_threads(1)
            .unwrap()
            .with_kernel(kernel)
            .unwrap();
        let (got, got_hw) = model.forward_nchw_sized(batch, hw, &x).unwrap();
        assert_eq!(got_hw, want_hw);
        assert_close(&got, &want, 2e-4, &format!("{kernel}"));
        // The workspace reused for another batch, then this one again.
        let mut ws = ModelWorkspace::new();
        let mut out = vec![0.0; got.len()];
        let x1 = &x[..graph.in_channels() * hw[0] * hw[1]];
        let mut out1 = vec![0.0; got.len() / batch];
        model.forward_into(1, hw, x1, &mut out1, &mut ws).unwrap();
        model
            .forward_into(batch, hw, &x, &mut out, &mut ws)
            .unwrap();
        assert_eq!(out, got, "{kernel}: a reused workspace changed the result");
        assert_eq!(out1, got[..out1.len()], "{kernel}: batch 1");
    }
}

// ---------------------------------------------------------------------------------------
// Random graphs.

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A conv descriptor from `rng`: kernel 1–3, rate 1–3, stride 1 (sometimes 2), `same`
/// padding split as PyTorch splits it (1D: sometimes causal), groups dividing both counts.
fn random_conv(rng: &mut Rng, rank: Rank, cin: usize, cout: usize) -> ConvDesc {
    let g = gcd(cin, cout);
    let divisors: Vec<usize> = (1..=g).filter(|d| g.is_multiple_of(*d)).collect();
    let axis = |rng: &mut Rng| {
        let (k, d) = (1 + rng.below(3), 1 + rng.below(3));
        let total = d * (k - 1);
        (k, d, [total / 2, total - total / 2], total)
    };
    let (kw, dw, pw, tw) = axis(rng);
    let (kh, dh, ph) = match rank {
        Rank::One => (1, 1, [0, 0]),
        Rank::Two => {
            let (k, d, p, _) = axis(rng);
            (k, d, p)
        }
    };
    let pw = if rank == Rank::One && rng.coin() {
        [tw, 0]
    } else {
        pw
    };
    let sw = if rng.below(4) == 0 { 2 } else { 1 };
    let sh = if rank == Rank::Two && rng.below(4) == 0 {
        2
    } else {
        1
    };
    ConvDesc {
        in_channels: cin,
        out_channels: cout,
        groups: divisors[rng.below(divisors.len())],
        kernel: [kh, kw],
        dilation: [dh, dw],
        stride: [sh, sw],
        padding: [ph, pw],
        bias: rng.coin(),
        activation: ACTS[rng.below(ACTS.len())],
    }
}

/// Builds a random graph from op codes; every op joins only values it may join. Returns
/// the graph and the input size it is to run on.
fn random_graph(
    rank: Rank,
    cin: usize,
    hw: [usize; 2],
    fixed: bool,
    ops: &[(u8, u64)],
) -> ModelGraph {
    let mut b = if fixed {
        ModelBuilder::with_input_size(rank, cin, hw).unwrap()
    } else {
        ModelBuilder::new(rank, cin)
    };
    let mut vals: Vec<(ValueId, usize, [usize; 2])> = vec![(b.input(), cin, hw)];
    for (m, &(code, seed)) in ops.iter().enumerate() {
        let mut rng = Rng(seed);
        let (from, c, s) = vals[rng.below(vals.len())];
        let prefix = format!("m{m}");
        let norms = [
            WeightNorm::None,
            WeightNorm::Parametrization,
            WeightNorm::Legacy,
        ];
        let made: Vec<(ValueId, usize, [usize; 2])> = match code {
            0 | 1 => {
                let co = 1 + rng.below(8);
                let desc = random_conv(&mut rng, rank, c, co);
                let size = desc.output_size(s).unwrap();
                let v = b.conv(from, &prefix, desc, norms[rng.below(3)]).unwrap();
                vec![(v, co, size)]
            }
            2 => {
                let eps = [1e-5, 1e-3][rng.below(2)];
                vec![(b.batch_norm(from, &prefix, eps).unwrap(), c, s)]
            }
            3 => vec![(
                b.activation(from, ACTS[rng.below(ACTS.len())]).unwrap(),
                c,
                s,
            )],
            4 => {
                let slopes = if rng.coin() { 1 } else { c };
                vec![(b.prelu(from, &prefix, slopes).unwrap(), c, s)]
            }
            5 if c % 2 == 0 => vec![(b.gate(from).unwrap(), c / 2, s)],
            5 => {
                // Widen to an even count, then gate.
                let desc = random_conv(&mut rng, rank, c, 2 * c);
                let size = desc.output_size(s).unwrap();
                let h = b.conv(from, &prefix, desc, WeightNorm::None).unwrap();
                vec![(h, 2 * c, size), (b.gate(h).unwrap(), c, size)]
            }
            6 => {
                let same: Vec<ValueId> = vals
                    .iter()
                    .filter(|v| v.1 == c && v.2 == s)
                    .map(|v| v.0)
                    .collect();
                let n = 1 + rng.below(3);
                let mut inputs = vec![from];
                inputs.extend((1..n).map(|_| same[rng.below(same.len())]));
                if rng.coin() {
                    inputs.reverse();
                }
                let act = ACTS[rng.below(ACTS.len())];
                vec![(b.add(&inputs, act).unwrap(), c, s)]
            }
            7 => {
                let same: Vec<(ValueId, usize)> = vals
                    .iter()
                    .filter(|v| v.2 == s)
                    .map(|v| (v.0, v.1))
                    .collect();
                let n = 1 + rng.below(3);
                let mut inputs = vec![(from, c)];
                inputs.extend((1..n).map(|_| same[rng.below(same.len())]));
                inputs.rotate_left(rng.below(n));
                let ids: Vec<ValueId> = inputs.iter().map(|v| v.0).collect();
                let channels = inputs.iter().map(|v| v.1).sum();
                vec![(b.concat(&ids).unwrap(), channels, s)]
            }
            8 => {
                // DeepLab's image pooling: pool, 1×1 conv (+ batch norm + ReLU), broadcast.
                let co = 1 + rng.below(6);
                let p = b.global_avg_pool(from).unwrap();
                let mut desc = ConvDesc::same_2d(c, co, 1, 1);
                desc.bias = rng.coin();
                let mut h = b
                    .conv(p, &format!("{prefix}.conv"), desc, WeightNorm::None)
                    .unwrap();
                if rng.coin() {
                    h = b.batch_norm(h, &format!("{prefix}.bn"), 1e-5).unwrap();
                    h = b.activation(h, Activation::Relu).unwrap();
                }
                vec![(b.broadcast(h, from).unwrap(), co, s)]
            }
            _ => vec![(b.dropout(from).unwrap(), c, s)],
        };
        vals.extend(made);
    }
    let out = if ops.len() % 3 == 2 {
        vals[vals.len() / 2].0
    } else {
        vals.last().unwrap().0
    };
    b.output(out).unwrap();
    b.build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random graphs of every op (convs with strides, groups, causal and `same` padding,
    /// every activation and both weight-norm forms; batch norms folded or standalone;
    /// PReLUs; gates; adds and concats of earlier values, repeats included; image pooling;
    /// dropouts) equal the naive reference on every kernel family, for batches of 1–3.
    #[test]
    fn random_graphs_match_the_reference(
        two_d in any::<bool>(),
        cin in 1..6usize,
        size in (1..7usize, 1..12usize),
        fixed in any::<bool>(),
        batch in 1..4usize,
        ops in prop::collection::vec((0..10u8, any::<u64>()), 1..9),
        seed in any::<u64>(),
    ) {
        let (rank, hw) = if two_d {
            (Rank::Two, [size.0, size.1])
        } else {
            (Rank::One, [1, size.1 + size.0])
        };
        let graph = random_graph(rank, cin, hw, fixed, &ops);
        let weights = random_weights(&graph, seed);
        check_against_reference(&graph, &weights, batch, hw, seed);
    }
}

/// `got` and `want` bit for bit (NaN payloads included).
fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i}: {} vs {}", got[i], want[i]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// The same random graphs on planes large enough for the standalone elementwise steps
    /// (activations, PReLUs, batch norms, gates, adds, concat copies) to be spread over the
    /// model's threads: on two threads and on the caller's pool, bit for bit the
    /// one-thread result on every family, which equals the reference.
    #[test]
    fn random_graphs_on_large_planes_split_over_threads_as_on_one(
        two_d in any::<bool>(),
        cin in 1..4usize,
        extra in (0..9usize, 0..5000usize),
        batch in 1..3usize,
        ops in prop::collection::vec((0..10u8, any::<u64>()), 1..7),
        seed in any::<u64>(),
    ) {
        // Every plane at least 65536 floats: a step of one channel is just large enough to
        // be spread over the threads (4 units of 16384 floats), a plane's end falls inside
        // a unit, and a unit's inside a run of 4096.
        let (rank, hw) = if two_d {
            (Rank::Two, [256 + extra.0, 257 + extra.1 % 9])
        } else {
            (Rank::One, [1, 65536 + extra.1])
        };
        let graph = random_graph(rank, cin, hw, false, &ops);
        let weights = random_weights(&graph, seed);
        check_against_reference(&graph, &weights, batch, hw, seed);
        let mut x = Rng(seed ^ 1).vec(batch * cin * hw[0] * hw[1]);
        let n = x.len();
        for (i, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0].into_iter().enumerate() {
            x[(seed as usize).wrapping_add(i * 7919) % n] = v;
        }
        for kernel in families() {
            let model = Model::from_weights(&graph, weights.clone())
                .unwrap()
                .with_kernel(kernel)
                .unwrap();
            let one = model.clone().with_threads(1).unwrap();
            let want = one.forward_nchw_sized(batch, hw, &x).unwrap().0;
            for threads in [2, 0] {
                let got = model
                    .clone()
                    .with_threads(threads)
                    .unwrap()
                    .forward_nchw_sized(batch, hw, &x)
                    .unwrap()
                    .0;
                assert_bits(&got, &want, &format!("{kernel}, {threads} threads"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Each op and each fusion, on its own.

fn relu_desc(d: ConvDesc) -> ConvDesc {
    ConvDesc {
        activation: Activation::Relu,
        ..d
    }
}

#[test]
fn batch_norm_folding_equals_the_unfolded_math() {
    // conv → BN → ReLU → conv → BN: both batch norms fold and the chain is one network.
    let mut b = ModelBuilder::new(Rank::Two, 3);
    let x = b.input();
    let mut d0 = ConvDesc::same_2d(3, 8, 3, 2);
    d0.bias = false;
    let h = b.conv(x, "0", d0, WeightNorm::None).unwrap();
    let h = b.batch_norm(h, "1", 1e-5).unwrap();
    let h = b.activation(h, Activation::Relu).unwrap();
    let h = b
        .conv(h, "3", ConvDesc::same_2d(8, 4, 3, 1), WeightNorm::None)
        .unwrap();
    let h = b.batch_norm(h, "4", 1e-3).unwrap();
    b.output(h).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.fused_ops(), (1, 4), "2 BN + ReLU + the chained conv");
    let w = random_weights(&graph, 3);
    check_against_reference(&graph, &w, 2, [9, 11], 3);
    let model = graph.from_weights(w).unwrap();
    assert_eq!(model.networks().len(), 1);
    assert_eq!(model.networks()[0].layers().len(), 2);
    assert!(
        model.networks()[0].layers()[0].desc().bias,
        "the fold adds a bias"
    );
    assert_eq!(
        model.networks()[0].layers()[0].desc().activation,
        Activation::Relu
    );
}

#[test]
fn batch_norm_stays_standalone_where_it_cannot_fold() {
    // The conv's output is read twice (by the BN and the add), and a BN follows an add
    // and a concat (ESPNet): all run as affine maps at run time.
    let mut b = ModelBuilder::new(Rank::Two, 4);
    let x = b.input();
    let h = b
        .conv(x, "c", ConvDesc::same_2d(4, 4, 3, 2), WeightNorm::None)
        .unwrap();
    let n = b.batch_norm(h, "bn0", 1e-5).unwrap();
    let s = b.add(&[n, h], Activation::Identity).unwrap();
    let s = b.batch_norm(s, "bn1", 1e-5).unwrap();
    let cat = b.concat(&[s, x]).unwrap();
    let cat = b.batch_norm(cat, "bn2", 1e-5).unwrap();
    let y = b.prelu(cat, "act", 8).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.fused_ops(), (1, 0));
    let w = random_weights(&graph, 5);
    check_against_reference(&graph, &w, 3, [6, 7], 5);
}

#[test]
fn activation_and_prelu_fuse_into_the_conv_they_follow() {
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let h = b
        .conv(x, "a", ConvDesc::causal_1d(2, 6, 3, 2), WeightNorm::None)
        .unwrap();
    let h = b.activation(h, Activation::Gelu).unwrap();
    let h = b
        .conv(h, "b", ConvDesc::causal_1d(6, 6, 2, 4), WeightNorm::None)
        .unwrap();
    let h = b.prelu(h, "p", 6).unwrap();
    // A PReLU ends a chain: this conv is a second network.
    let h = b
        .conv(h, "c", ConvDesc::causal_1d(6, 3, 1, 1), WeightNorm::None)
        .unwrap();
    let y = b.prelu(h, "q", 1).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.fused_ops(), (2, 4));
    let w = random_weights(&graph, 8);
    check_against_reference(&graph, &w, 2, [1, 40], 8);
    let model = graph.from_weights(w).unwrap();
    assert_eq!(
        model.networks()[0].layers()[0].desc().activation,
        Activation::Gelu
    );
}

#[test]
fn prelu_defaults_to_a_quarter_and_reads_either_slope_count() {
    let mut b = ModelBuilder::new(Rank::Two, 2);
    let x = b.input();
    let y = b.prelu(x, "p", 1).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    let model = graph.init(0).unwrap();
    let y = model
        .forward_nchw_sized(1, [1, 2], &[-4.0, 2.0, 8.0, -0.0])
        .unwrap()
        .0;
    assert_eq!(y, [-1.0, 2.0, 8.0, 0.0]);
    assert_eq!(graph.parameters()[0].shape, [1]);
}

#[test]
fn gate_is_tanh_of_the_first_half_times_sigmoid_of_the_second() {
    let mut b = ModelBuilder::new(Rank::One, 4);
    let x = b.input();
    let y = b.gate(x).unwrap();
    b.output(y).unwrap();
    let model = b.build().unwrap().init(0).unwrap();
    // Channels a0, a1, b0, b1 of length 2.
    let x = [0.5, -1.0, 2.0, 0.0, 0.0, 3.0, -2.0, 1.0];
    let y = model.forward_nchw(1, &x).unwrap();
    let s = |v: f32| 1.0 / (1.0 + (-v).exp());
    let want = [
        0.5f32.tanh() * s(0.0),
        (-1.0f32).tanh() * s(3.0),
        2.0f32.tanh() * s(-2.0),
        0.0,
    ];
    assert_close(&y, &want, 1e-6, "gate");
    let mut b = ModelBuilder::new(Rank::One, 3);
    let x = b.input();
    assert!(matches!(
        b.gate(x),
        Err(ModelError::OddGate { channels: 3, .. })
    ));
}

#[test]
fn adds_sum_left_to_right_in_place_and_concats_write_their_slices() {
    // WaveNet-like skip sums and ESPNet's hierarchical fusion, batch 2 (the per-item conv
    // path into concat slices).
    let mut b = ModelBuilder::new(Rank::Two, 3);
    let x = b.input();
    let r1 = b
        .conv(x, "d1", ConvDesc::same_2d(3, 4, 3, 1), WeightNorm::None)
        .unwrap();
    let r2 = b
        .conv(x, "d2", ConvDesc::same_2d(3, 4, 3, 2), WeightNorm::None)
        .unwrap();
    let r4 = b
        .conv(x, "d4", ConvDesc::same_2d(3, 4, 3, 4), WeightNorm::None)
        .unwrap();
    let r8 = b
        .conv(x, "d8", ConvDesc::same_2d(3, 4, 3, 8), WeightNorm::None)
        .unwrap();
    let a2 = b.add(&[r2, r4], Activation::Identity).unwrap();
    let a3 = b.add(&[a2, r8], Activation::Identity).unwrap();
    let cat = b.concat(&[r1, r2, a2, a3]).unwrap();
    let bn = b.batch_norm(cat, "bn", 1e-5).unwrap();
    let y = b.prelu(bn, "act", 16).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    let w = random_weights(&graph, 13);
    check_against_reference(&graph, &w, 2, [10, 9], 13);
    check_against_reference(&graph, &w, 1, [5, 12], 14);
}

#[test]
fn image_pooling_broadcasts_the_pooled_branch() {
    // DeepLab v3's ASPP head at a reduced width: a 1×1 branch, three rates, image pooling,
    // each conv + BN + ReLU, concat, 1×1 projection + BN + ReLU, dropout.
    let c = 6;
    let mut b = ModelBuilder::with_input_size(Rank::Two, 5, [13, 17]).unwrap();
    let x = b.input();
    let mut branches = Vec::new();
    let conv_bn_relu = |b: &mut ModelBuilder, from, i: usize, desc: ConvDesc| {
        let d = ConvDesc {
            bias: false,
            ..desc
        };
        let h = b
            .conv(from, &format!("convs.{i}.0"), d, WeightNorm::None)
            .unwrap();
        let h = b.batch_norm(h, &format!("convs.{i}.1"), 1e-5).unwrap();
        b.activation(h, Activation::Relu).unwrap()
    };
    branches.push(conv_bn_relu(&mut b, x, 0, ConvDesc::same_2d(5, c, 1, 1)));
    for (i, rate) in [(1, 2), (2, 4), (3, 6)] {
        branches.push(conv_bn_relu(&mut b, x, i, ConvDesc::same_2d(5, c, 3, rate)));
    }
    let p = b.global_avg_pool(x).unwrap();
    let p = conv_bn_relu(&mut b, p, 4, ConvDesc::same_2d(5, c, 1, 1));
    branches.push(b.broadcast(p, x).unwrap());
    let cat = b.concat(&branches).unwrap();
    let y = conv_bn_relu(&mut b, cat, 5, ConvDesc::same_2d(5 * c, c, 1, 1));
    let y = b.dropout(y).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    // Six conv + BN + ReLU chains, each absorbing its BN and ReLU.
    assert_eq!(graph.fused_ops(), (6, 12));
    let w = random_weights(&graph, 21);
    check_against_reference(&graph, &w, 1, [13, 17], 21);
    check_against_reference(&graph, &w, 2, [13, 17], 22);
    // Another size is refused: the input size is fixed.
    let model = graph.from_weights(w).unwrap();
    assert!(matches!(
        model.output_shape([12, 17]),
        Err(ModelError::InputSize {
            expected: [13, 17],
            actual: [12, 17]
        })
    ));
}

#[test]
fn a_model_whose_output_is_its_input_copies_it_and_dead_branches_do_not_run() {
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let _dead = b
        .conv(
            x,
            "unused",
            ConvDesc::causal_1d(2, 2, 2, 1),
            WeightNorm::None,
        )
        .unwrap();
    let y = b.dropout(x).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.fused_ops(), (0, 0));
    let model = graph.init(1).unwrap();
    // The dead conv's tensors still load and save.
    assert_eq!(model.to_weights().unwrap().len(), 2);
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_eq!(model.forward_nchw(1, &x).unwrap(), x);
}

#[test]
fn threads_and_kernels_give_the_same_function() {
    let mut b = ModelBuilder::new(Rank::Two, 8);
    let x = b.input();
    let h = b
        .conv(
            x,
            "a",
            relu_desc(ConvDesc::same_2d(8, 16, 3, 2)),
            WeightNorm::None,
        )
        .unwrap();
    let h = b
        .conv(h, "b", ConvDesc::same_2d(16, 8, 3, 5), WeightNorm::None)
        .unwrap();
    let y = b.add(&[h, x], Activation::Relu).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    let model = graph.init(4).unwrap();
    let x = Rng(9).vec(2 * 8 * 24 * 20);
    let one = model.clone().with_threads(1).unwrap();
    let two = model.clone().with_threads(2).unwrap();
    assert_eq!(two.threads(), 2);
    assert_eq!(one.threads(), 1);
    let a = one.forward_nchw_sized(2, [24, 20], &x).unwrap().0;
    let b2 = two.forward_nchw_sized(2, [24, 20], &x).unwrap().0;
    assert_close(&a, &b2, 1e-5, "threads");
    let r = model.with_kernel(Kernel::Reference).unwrap();
    assert_eq!(r.kernel(), Kernel::Reference);
    assert_close(
        &a,
        &r.forward_nchw_sized(2, [24, 20], &x).unwrap().0,
        1e-4,
        "reference",
    );
}

// ---------------------------------------------------------------------------------------
// Weights: init, round trips, weight norms, strict loading.

fn tcn_block(norm: WeightNorm) -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, 3);
    let x = b.input();
    let h = b
        .conv(x, "net.0", ConvDesc::causal_1d(3, 5, 3, 2), norm)
        .unwrap();
    let h = b.activation(h, Activation::Relu).unwrap();
    let h = b.dropout(h).unwrap();
    let h = b
        .conv(h, "net.3", ConvDesc::causal_1d(5, 5, 3, 2), norm)
        .unwrap();
    let h = b.activation(h, Activation::Relu).unwrap();
    let s = b
        .conv(
            x,
            "downsample",
            ConvDesc::causal_1d(3, 5, 1, 1),
            WeightNorm::None,
        )
        .unwrap();
    let y = b.add(&[h, s], Activation::Relu).unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

#[test]
fn init_draws_pytorch_defaults() {
    let mut b = ModelBuilder::new(Rank::Two, 4);
    let x = b.input();
    let h = b
        .conv(
            x,
            "c",
            ConvDesc::same_2d(4, 6, 3, 1),
            WeightNorm::Parametrization,
        )
        .unwrap();
    let h = b.batch_norm(h, "bn", 1e-5).unwrap();
    let y = b.prelu(h, "p", 6).unwrap();
    b.output(y).unwrap();
    let graph = b.build().unwrap();
    let w = graph.init(11).unwrap().to_weights().unwrap();
    let g = tensor(&w, "c.parametrizations.weight.original0");
    let v = tensor(&w, "c.parametrizations.weight.original1");
    let bound = 1.0 / 36f32.sqrt();
    assert!(v.iter().all(|x| x.abs() <= bound));
    // g = ‖v‖, so the weight is v.
    for (co, row) in v.chunks(36).enumerate() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((g[co] - norm).abs() <= 1e-6 * norm);
    }
    assert_close(&weight_norm(&g, &v), &v, 1e-6, "w = v");
    assert_eq!(tensor(&w, "bn.weight"), [1.0; 6]);
    assert_eq!(tensor(&w, "bn.bias"), [0.0; 6]);
    assert_eq!(tensor(&w, "bn.running_mean"), [0.0; 6]);
    assert_eq!(tensor(&w, "bn.running_var"), [1.0; 6]);
    assert_eq!(tensor(&w, "p.weight"), [0.25; 6]);
    // Same seed, same weights; the names and shapes are the parameter list's.
    assert_eq!(graph.init(11).unwrap().to_weights().unwrap(), w);
    let names: Vec<&str> = w.names().collect();
    let mut listed: Vec<&str> = graph.parameters().iter().map(|p| p.name.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(names, listed);
    for p in graph.parameters() {
        assert_eq!(w.shape(&p.name), Some(&p.shape[..]), "{}", p.name);
    }
}

#[test]
fn round_trip_through_safetensors_keeps_the_function_and_the_tensors() {
    for norm in [
        WeightNorm::None,
        WeightNorm::Parametrization,
        WeightNorm::Legacy,
    ] {
        let graph = tcn_block(norm);
        let w = random_weights(&graph, 17);
        let model = graph.from_weights(w.clone()).unwrap();
        let bytes = model.to_safetensors_bytes().unwrap();
        let back = graph.from_safetensors_bytes(&bytes).unwrap();
        assert_eq!(back.to_weights().unwrap(), w, "{norm:?}: tensors as loaded");
        let x = Rng(2).vec(2 * 3 * 50);
        assert_eq!(
            model.forward_nchw(2, &x).unwrap(),
            back.forward_nchw(2, &x).unwrap(),
            "{norm:?}"
        );
        check_against_reference(&graph, &w, 2, [1, 50], 17);
    }
    // A folded batch norm is written as loaded, not folded: reloading is the same function.
    let mut b = ModelBuilder::new(Rank::Two, 2);
    let x = b.input();
    let h = b
        .conv(x, "c", ConvDesc::same_2d(2, 3, 3, 1), WeightNorm::None)
        .unwrap();
    let h = b.batch_norm(h, "bn", 1e-5).unwrap();
    b.output(h).unwrap();
    let graph = b.build().unwrap();
    let w = random_weights(&graph, 4);
    let model = graph.from_weights(w.clone()).unwrap();
    let path =
        std::env::temp_dir().join(format!("dilated-model-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let back = graph.from_safetensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.to_weights().unwrap(), w);
    let x = Rng(3).vec(2 * 7 * 7);
    assert_eq!(
        model.forward_nchw_sized(1, [7, 7], &x).unwrap(),
        back.forward_nchw_sized(1, [7, 7], &x).unwrap()
    );
}

/// `w` with its weight-norm tensors renamed to the other form.
fn other_form(w: &Weights, from: [&str; 2], to: [&str; 2]) -> Weights {
    let mut out = Weights::new();
    for n in w.names() {
        let mut m = n.to_owned();
        for (f, t) in from.iter().zip(to) {
            if let Some(p) = n.strip_suffix(f) {
                m = format!("{p}{t}");
            }
        }
        out.insert(m, w.shape(n).unwrap().to_vec(), tensor(w, n))
            .unwrap();
    }
    out
}

const PARAM: [&str; 2] = [
    "parametrizations.weight.original0",
    "parametrizations.weight.original1",
];
const LEGACY: [&str; 2] = ["weight_g", "weight_v"];

#[test]
fn weight_norm_loads_either_form_and_refuses_both() {
    let graph = tcn_block(WeightNorm::Parametrization);
    let w = random_weights(&graph, 6);
    let x = Rng(1).vec(3 * 30);
    let want = graph
        .from_weights(w.clone())
        .unwrap()
        .forward_nchw(1, &x)
        .unwrap();
    // The legacy form loads into a parametrization-declared conv, and is saved back in
    // the declared form.
    let legacy = other_form(&w, PARAM, LEGACY);
    let model = graph.from_weights(legacy.clone()).unwrap();
    assert_eq!(model.forward_nchw(1, &x).unwrap(), want);
    assert_eq!(model.to_weights().unwrap(), w);
    // Both forms: an error naming the legacy tensor and the other.
    let mut both = w.clone();
    both.insert("net.0.weight_g", vec![5, 1, 1], vec![1.0; 5])
        .unwrap();
    match graph.from_weights(both) {
        Err(ModelError::ConflictingTensor { name, other, .. }) => {
            assert_eq!(name, "net.0.weight_g");
            assert_eq!(other, "net.0.parametrizations.weight.original0");
        }
        other => panic!("{other:?}"),
    }
    // A plain weight beside them.
    let mut plain = legacy;
    plain
        .insert("net.3.weight", vec![5, 5, 3], vec![0.0; 75])
        .unwrap();
    match graph.from_weights(plain) {
        Err(ModelError::ConflictingTensor { name, other, .. }) => {
            assert_eq!(name, "net.3.weight");
            assert_eq!(other, "net.3.weight_g");
        }
        other => panic!("{other:?}"),
    }
    // Missing: named in the declared form.
    let mut missing = Weights::new();
    for n in w
        .names()
        .filter(|n| !n.starts_with("net.3.parametrizations"))
    {
        missing
            .insert(n, w.shape(n).unwrap().to_vec(), tensor(&w, n))
            .unwrap();
    }
    assert_eq!(
        graph.from_weights(missing.clone()).unwrap_err(),
        ModelError::Engine(Error::MissingTensor {
            name: "net.3.parametrizations.weight.original0".into()
        })
    );
    assert_eq!(
        tcn_block(WeightNorm::Legacy)
            .from_weights(other_form(&missing, PARAM, LEGACY))
            .unwrap_err(),
        ModelError::Engine(Error::MissingTensor {
            name: "net.3.weight_g".into()
        })
    );
    // Into a plain conv, the weight-norm form is not its plain weight.
    let plain_graph = tcn_block(WeightNorm::None);
    match plain_graph.from_weights(w) {
        Err(ModelError::Engine(Error::MissingTensor { name })) => assert_eq!(name, "net.0.weight"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn weight_norm_folding_equals_g_v_over_norm() {
    // g far from ‖v‖ so the fold matters.
    let graph = tcn_block(WeightNorm::Legacy);
    let mut w = random_weights(&graph, 30);
    let g: Vec<f32> = (0..5).map(|i| 0.3 + i as f32).collect();
    w.insert("net.0.weight_g", vec![5, 1, 1], g.clone())
        .unwrap();
    let model = graph.from_weights(w.clone()).unwrap();
    let v = tensor(&w, "net.0.weight_v");
    let folded = model.networks()[0].layers()[0].weight().to_vec();
    assert_close(&folded, &weight_norm(&g, &v), 1e-7, "fold");
    for co in 0..5 {
        let row = &folded[co * 9..(co + 1) * 9];
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - g[co]).abs() <= 1e-5 * g[co], "‖w‖ = g");
    }
    check_against_reference(&graph, &w, 1, [1, 33], 30);
}

fn bn_graph() -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let h = b
        .conv(
            x,
            "features.0",
            ConvDesc::causal_1d(2, 3, 2, 1),
            WeightNorm::None,
        )
        .unwrap();
    let h = b.batch_norm(h, "features.1", 1e-5).unwrap();
    b.output(h).unwrap();
    b.build().unwrap()
}

/// Safetensors bytes of `w` plus extra raw tensors of any dtype.
fn with_raw(w: &Weights, extra: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let f32s: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .names()
        .map(|n| {
            let bytes = tensor(w, n).iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.to_owned(), w.shape(n).unwrap().to_vec(), bytes)
        })
        .collect();
    let mut views = Vec::new();
    for (n, s, b) in &f32s {
        views.push((
            n.clone(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
        ));
    }
    for (n, d, s, b) in extra {
        views.push((
            (*n).to_owned(),
            safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
        ));
    }
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn num_batches_tracked_is_accepted_and_ignored_and_everything_else_is_strict() {
    let graph = bn_graph();
    let w = random_weights(&graph, 2);
    let x = Rng(5).vec(2 * 9);
    let want = graph
        .from_weights(w.clone())
        .unwrap()
        .forward_nchw(1, &x)
        .unwrap();
    // PyTorch's I64 scalar.
    let i64_scalar = (
        "features.1.num_batches_tracked",
        safetensors::Dtype::I64,
        vec![],
        7i64.to_le_bytes().to_vec(),
    );
    let bytes = with_raw(&w, std::slice::from_ref(&i64_scalar));
    let model = graph.from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(model.forward_nchw(1, &x).unwrap(), want);
    assert!(
        model
            .to_weights()
            .unwrap()
            .shape("features.1.num_batches_tracked")
            .is_none()
    );
    // Not a scalar: refused, named.
    let bad = with_raw(
        &w,
        &[(
            "features.1.num_batches_tracked",
            safetensors::Dtype::I64,
            vec![2],
            vec![0; 16],
        )],
    );
    assert!(matches!(
        graph.from_safetensors_bytes(&bad),
        Err(ModelError::Engine(Error::WeightShape { name, .. })) if name == "features.1.num_batches_tracked"
    ));
    // An I64 tensor anywhere else is an unexpected tensor; so is one under another name.
    let stray = with_raw(
        &w,
        &[
            i64_scalar,
            (
                "features.2.num_batches_tracked",
                safetensors::Dtype::I64,
                vec![],
                vec![0; 8],
            ),
        ],
    );
    assert_eq!(
        graph.from_safetensors_bytes(&stray).unwrap_err(),
        ModelError::Engine(Error::UnexpectedTensors {
            names: vec!["features.2.num_batches_tracked".into()]
        })
    );
    // Missing and misshapen tensors are named by their full path.
    let mut missing = Weights::new();
    for n in w.names().filter(|n| *n != "features.1.running_var") {
        missing
            .insert(n, w.shape(n).unwrap().to_vec(), tensor(&w, n))
            .unwrap();
    }
    assert_eq!(
        graph.from_weights(missing).unwrap_err(),
        ModelError::Engine(Error::MissingTensor {
            name: "features.1.running_var".into()
        })
    );
    let mut wrong = w.clone();
    wrong
        .insert("features.0.weight", vec![3, 2, 1, 2], vec![0.0; 12])
        .unwrap();
    assert!(matches!(
        graph.from_weights(wrong),
        Err(ModelError::Engine(Error::WeightShape { name, .. })) if name == "features.0.weight"
    ));
    let mut extra = w;
    extra
        .insert("features.3.weight", vec![1], vec![0.0])
        .unwrap();
    assert_eq!(
        graph.from_weights(extra).unwrap_err(),
        ModelError::Engine(Error::UnexpectedTensors {
            names: vec!["features.3.weight".into()]
        })
    );
}

// ---------------------------------------------------------------------------------------
// Build-time and run-time errors.

#[test]
fn ops_are_checked_when_added() {
    let mut b = ModelBuilder::new(Rank::Two, 3);
    let x = b.input();
    // Channels at a conv, an add, a concat's neighbours, a PReLU.
    match b.conv(x, "c", ConvDesc::same_2d(4, 4, 3, 1), WeightNorm::None) {
        Err(ModelError::Channels {
            op,
            expected: 4,
            actual: 3,
            ..
        }) => assert_eq!(op, "conv `c`"),
        other => panic!("{other:?}"),
    }
    let h = b
        .conv(x, "c", ConvDesc::same_2d(3, 4, 3, 1), WeightNorm::None)
        .unwrap();
    assert!(matches!(
        b.add(&[x, h], Activation::Identity),
        Err(ModelError::Channels {
            input: 1,
            expected: 3,
            actual: 4,
            ..
        })
    ));
    assert!(matches!(
        b.add(&[], Activation::Identity),
        Err(ModelError::NoInputs { .. })
    ));
    assert!(matches!(b.concat(&[]), Err(ModelError::NoInputs { .. })));
    assert!(matches!(
        b.prelu(h, "p", 3),
        Err(ModelError::PreluChannels {
            channels: 4,
            actual: 3,
            ..
        })
    ));
    // Names.
    assert_eq!(
        b.conv(x, "c", ConvDesc::same_2d(3, 4, 3, 1), WeightNorm::None),
        Err(ModelError::DuplicateTensor {
            name: "c.weight".into()
        })
    );
    assert_eq!(
        b.batch_norm(h, "c", 1e-5),
        Err(ModelError::DuplicateTensor {
            name: "c.weight".into()
        })
    );
    assert!(matches!(
        b.batch_norm(h, "bn", -1.0),
        Err(ModelError::Eps { .. })
    ));
    assert!(matches!(
        b.batch_norm(h, "bn", f32::NAN),
        Err(ModelError::Eps { .. })
    ));
    // Descriptors: a 1D conv in a 2D model is fine, a 2D conv in a 1D model is not; a
    // zero rate; a kernel wider than a fixed input.
    let mut one = ModelBuilder::new(Rank::One, 3);
    let i = one.input();
    assert!(matches!(
        one.conv(i, "c", ConvDesc::same_2d(3, 3, 3, 1), WeightNorm::None),
        Err(ModelError::Op {
            source: Error::Shape { .. },
            ..
        })
    ));
    let mut d = ConvDesc::causal_1d(3, 3, 3, 1);
    d.dilation = [1, 0];
    assert!(matches!(
        one.conv(i, "c", d, WeightNorm::None),
        Err(ModelError::Op {
            source: Error::Zero { .. },
            ..
        })
    ));
    let mut fixed = ModelBuilder::with_input_size(Rank::Two, 1, [4, 4]).unwrap();
    let i = fixed.input();
    let mut valid = ConvDesc::same_2d(1, 1, 3, 2);
    valid.padding = [[0, 0], [0, 0]];
    assert!(matches!(
        fixed.conv(i, "v", valid, WeightNorm::None),
        Err(ModelError::Op {
            source: Error::KernelTooLarge { .. },
            ..
        })
    ));
    assert!(ModelBuilder::with_input_size(Rank::One, 1, [2, 8]).is_err());
    // Values of another builder, the output twice, no output.
    assert_eq!(
        one.gate(h),
        Err(ModelError::UnknownValue {
            value: 1,
            values: 1
        })
    );
    b.output(h).unwrap();
    assert_eq!(
        b.output(x),
        Err(ModelError::OutputSet { current: h.index() })
    );
    assert!(matches!(
        ModelBuilder::new(Rank::Two, 1).build(),
        Err(ModelError::NoOutput)
    ));
    let mut zero = ModelBuilder::new(Rank::Two, 0);
    let z = zero.input();
    zero.output(z).unwrap();
    assert!(zero.build().is_err());
}

/// Two branches, one strided: joined by an add.
fn strided_branches(b: &mut ModelBuilder) -> Result<ValueId, ModelError> {
    let x = b.input();
    let a = b.conv(x, "a", ConvDesc::same_2d(2, 2, 3, 1), WeightNorm::None)?;
    let mut s = ConvDesc::same_2d(2, 2, 3, 1);
    s.stride = [2, 2];
    let c = b.conv(x, "s", s, WeightNorm::None)?;
    b.add(&[a, c], Activation::Identity)
}

#[test]
fn branch_sizes_that_differ_are_an_error_at_build_or_at_run() {
    // Fixed input: found at build.
    let mut b = ModelBuilder::with_input_size(Rank::Two, 2, [8, 8]).unwrap();
    match strided_branches(&mut b) {
        Err(ModelError::Spatial {
            op,
            input: 1,
            expected: [8, 8],
            actual: [4, 4],
        }) => {
            assert_eq!(op, "add (value 3)");
        }
        other => panic!("{other:?}"),
    }
    // Dynamic: at run time (a 1×1 input happens to agree).
    let mut b = ModelBuilder::new(Rank::Two, 2);
    let y = strided_branches(&mut b).unwrap();
    b.output(y).unwrap();
    let model = b.build().unwrap().init(0).unwrap();
    assert!(matches!(
        model.forward_nchw_sized(1, [8, 8], &[0.0; 128]),
        Err(ModelError::Spatial {
            expected: [8, 8],
            actual: [4, 4],
            ..
        })
    ));
    assert_eq!(model.output_shape([1, 1]).unwrap(), (2, [1, 1]));
    // A concat, and a broadcast from a map that is not 1×1.
    let mut b = ModelBuilder::with_input_size(Rank::Two, 2, [6, 6]).unwrap();
    let x = b.input();
    let mut s = ConvDesc::same_2d(2, 2, 1, 1);
    s.stride = [1, 2];
    let c = b.conv(x, "s", s, WeightNorm::None).unwrap();
    assert!(matches!(b.concat(&[x, c]), Err(ModelError::Spatial { .. })));
    assert!(matches!(
        b.broadcast(c, x),
        Err(ModelError::NotPooled { actual: [6, 3], .. })
    ));
    // 2D with both axes dynamic cannot infer its size from a length.
    assert!(matches!(
        model.forward_nchw(1, &[0.0; 8]),
        Err(ModelError::Engine(Error::UnknownSize { .. }))
    ));
    // Wrong buffer lengths and a zero batch.
    let mut ws = ModelWorkspace::new();
    assert!(matches!(
        model.forward_into(1, [1, 1], &[0.0; 3], &mut [0.0; 2], &mut ws),
        Err(ModelError::Engine(Error::Length { what: "input", .. }))
    ));
    assert!(matches!(
        model.forward_into(0, [1, 1], &[], &mut [], &mut ws),
        Err(ModelError::Engine(Error::Zero { .. }))
    ));
    assert_eq!(
        model.input_hw(1, 10).unwrap_err(),
        ModelError::Engine(Error::UnknownSize {
            what: "forward_nchw on a model whose height and width are both dynamic"
        })
    );
}

//! Property tests of the graph analysis against brute force, on random small graphs
//! (convs, local pools, global pools, pointwise ops, sums, concats, upsamplings; 1D and
//! 2D; with and without an input field): the exact counts equal a depth-first enumeration
//! of every path, and the hole verdict (dense maps and the exact gap test alike) equals a
//! breadth-first reachability over positions. And a chain analysed as a graph gives the
//! chain analysis's verdict, hole count, receptive field and first hole layer.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use dilated_core::schedule::graph::{
    Graph, GraphError, GraphOptions, HoleList, InputField, Method, NodeId, Op, ResizeMode,
};
use dilated_core::schedule::{AxisSpec, Options, PadMode, Schedule, Spec2d, analyze, reach};
use proptest::prelude::*;

type Pos = Vec<i64>;

/// Every per-axis choice combined.
fn product(choices: &[Vec<i64>]) -> Vec<Pos> {
    let mut out: Vec<Pos> = vec![Vec::new()];
    for c in choices {
        out = out
            .iter()
            .flat_map(|p| {
                c.iter().map(move |&x| {
                    let mut q = p.clone();
                    q.push(x);
                    q
                })
            })
            .collect();
    }
    out
}

/// The input positions one output position of `op` reads (none for a global pool).
fn reads(op: &Op, pos: &[i64]) -> Vec<(NodeId, Pos)> {
    match op {
        Op::Input { .. } | Op::GlobalPool { .. } => Vec::new(),
        Op::Conv { from, axes } | Op::Pool { from, axes } => {
            let per_axis: Vec<Vec<i64>> = axes
                .iter()
                .zip(pos)
                .map(|(s, &q)| {
                    let lo = s.padding_amounts().unwrap().0 as i64;
                    (0..s.kernel as i64)
                        .map(|t| q * s.stride as i64 - lo + t * s.rate as i64)
                        .collect()
                })
                .collect();
            product(&per_axis).into_iter().map(|p| (*from, p)).collect()
        }
        Op::Pointwise { from } => vec![(*from, pos.to_vec())],
        Op::Sum { from } | Op::Concat { from } => from.iter().map(|&f| (f, pos.to_vec())).collect(),
        Op::Resize {
            from,
            factors,
            mode,
        } => {
            let per_axis: Vec<Vec<i64>> = factors
                .iter()
                .zip(pos)
                .map(|(&f, &q)| {
                    let f = f as i64;
                    match mode {
                        ResizeMode::Nearest => vec![q.div_euclid(f)],
                        ResizeMode::Linear => {
                            // src = (q + 1/2)/f − 1/2 = (2q + 1 − f) / 2f
                            let num = 2 * q + 1 - f;
                            let c0 = num.div_euclid(2 * f);
                            if num.rem_euclid(2 * f) == 0 {
                                vec![c0]
                            } else {
                                vec![c0, c0 + 1]
                            }
                        }
                    }
                })
                .collect();
            product(&per_axis).into_iter().map(|p| (*from, p)).collect()
        }
    }
}

/// The pixels an input position sees.
fn pixels(field: &[InputField], pos: &[i64]) -> Vec<Pos> {
    let per_axis: Vec<Vec<i64>> = field
        .iter()
        .zip(pos)
        .map(|(f, &q)| {
            let rf = f.receptive_field as i64;
            let lo = -((rf - 1) / 2);
            (lo..lo + rf).map(|o| q * f.jump as i64 + o).collect()
        })
        .collect();
    product(&per_axis)
}

/// Depth-first over every path from `(node, pos)`: each path that ends at an input pixel
/// adds 1 to it. `None` past `budget` paths.
fn dfs(
    g: &Graph,
    node: NodeId,
    pos: &[i64],
    out: &mut BTreeMap<Pos, u128>,
    budget: &mut u64,
) -> Option<()> {
    let op = g.node(node).unwrap().op();
    if let Op::Input { field } = op {
        for p in pixels(field, pos) {
            *budget = budget.checked_sub(1)?;
            *out.entry(p).or_insert(0) += 1;
        }
        return Some(());
    }
    for (from, p) in reads(op, pos) {
        dfs(g, from, &p, out, budget)?;
    }
    Some(())
}

/// Breadth-first over positions: the pixels some path from `(node, pos)` reaches.
fn bfs(g: &Graph, node: NodeId, pos: &[i64]) -> BTreeSet<Pos> {
    let mut seen: HashSet<(NodeId, Pos)> = HashSet::new();
    let mut queue = VecDeque::from([(node, pos.to_vec())]);
    let mut out = BTreeSet::new();
    while let Some((n, p)) = queue.pop_front() {
        if !seen.insert((n, p.clone())) {
            continue;
        }
        let op = g.node(n).unwrap().op();
        if let Op::Input { field } = op {
            out.extend(pixels(field, &p));
            continue;
        }
        queue.extend(reads(op, &p));
    }
    out
}

/// What brute force says about one phase of a node.
struct PhaseTruth {
    phase: Vec<u64>,
    counts: BTreeMap<Pos, u128>,
    support: BTreeSet<Pos>,
    rf: Vec<u64>,
    holes: Vec<Pos>,
}

/// Brute force over every phase of `node`, offsets relative to the phase's anchor.
fn truth(
    g: &Graph,
    node: NodeId,
    phases: &[u64],
    steps: &[i64],
    budget: &mut u64,
) -> Option<Vec<PhaseTruth>> {
    let rank = phases.len();
    let choices: Vec<Vec<i64>> = phases.iter().map(|&p| (0..p as i64).collect()).collect();
    let mut out = Vec::new();
    for r in product(&choices) {
        // Position q = m·P + r with m = 2 (any block would do).
        let m = 2i64;
        let q: Pos = (0..rank).map(|a| m * phases[a] as i64 + r[a]).collect();
        let anchor: Pos = (0..rank).map(|a| m * steps[a]).collect();
        let rel = |p: &Pos| -> Pos { p.iter().zip(&anchor).map(|(x, a)| x - a).collect() };
        let mut counts = BTreeMap::new();
        dfs(g, node, &q, &mut counts, budget)?;
        let counts: BTreeMap<Pos, u128> = counts.iter().map(|(p, &c)| (rel(p), c)).collect();
        let support: BTreeSet<Pos> = bfs(g, node, &q).iter().map(rel).collect();
        let (rf, holes) = if support.is_empty() {
            (vec![0; rank], Vec::new())
        } else {
            let lo: Pos = (0..rank)
                .map(|a| support.iter().map(|p| p[a]).min().unwrap())
                .collect();
            let hi: Pos = (0..rank)
                .map(|a| support.iter().map(|p| p[a]).max().unwrap())
                .collect();
            let ranges: Vec<Vec<i64>> = (0..rank).map(|a| (lo[a]..=hi[a]).collect()).collect();
            let holes = product(&ranges)
                .into_iter()
                .filter(|p| !support.contains(p))
                .collect();
            (
                (0..rank).map(|a| (hi[a] - lo[a] + 1) as u64).collect(),
                holes,
            )
        };
        out.push(PhaseTruth {
            phase: r.iter().map(|&x| x as u64).collect(),
            counts,
            support,
            rf,
            holes,
        });
    }
    Some(out)
}

#[derive(Debug, Clone)]
enum G {
    Conv(usize, [AxisSpec; 2]),
    Pool(usize, [AxisSpec; 2]),
    Global(usize),
    Point(usize),
    Sum(Vec<usize>),
    Concat(Vec<usize>),
    Resize(usize, [u64; 2], bool),
}

fn spec(max_k: u64, max_d: u64) -> impl Strategy<Value = AxisSpec> {
    (1u64..=max_k, 1u64..=max_d, 1u64..=2, 0u8..4).prop_map(|(k, d, s, p)| {
        let padding = match p {
            0 => PadMode::Same,
            1 => PadMode::Valid,
            2 => PadMode::Causal,
            _ => PadMode::Explicit { lo: 1, hi: 0 },
        };
        AxisSpec::new(k, d).with_stride(s).with_padding(padding)
    })
}

fn op() -> impl Strategy<Value = G> {
    prop_oneof![
        5 => (any::<usize>(), spec(3, 3), spec(3, 3)).prop_map(|(f, a, b)| G::Conv(f, [a, b])),
        1 => (any::<usize>(), spec(2, 2), spec(2, 2)).prop_map(|(f, a, b)| G::Pool(f, [a, b])),
        1 => any::<usize>().prop_map(G::Global),
        1 => any::<usize>().prop_map(G::Point),
        2 => prop::collection::vec(any::<usize>(), 1..=3).prop_map(G::Sum),
        1 => prop::collection::vec(any::<usize>(), 2..=3).prop_map(G::Concat),
        1 => (any::<usize>(), 1u64..=3, 1u64..=2, any::<bool>()).prop_map(|(f, a, b, l)| G::Resize(f, [a, b], l)),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    rank: usize,
    field: Option<[InputField; 2]>,
    ops: Vec<G>,
}

fn case() -> impl Strategy<Value = Case> {
    let field = (1u64..=4, 1u64..=3).prop_map(|(r, j)| InputField::new(r, j));
    (
        1usize..=2,
        prop::option::of((field.clone(), field)),
        prop::collection::vec(op(), 1..=6),
    )
        .prop_map(|(rank, field, ops)| Case {
            rank,
            field: field.map(|(a, b)| [a, b]),
            ops,
        })
}

/// Builds the graph; a merge of branches with different jumps must be refused with
/// [`GraphError::JumpMismatch`] naming them (and is skipped).
fn build(c: &Case) -> Graph {
    let mut g = Graph::with_rank(c.rank).unwrap();
    g.input(c.field.as_ref().map(|f| &f[..c.rank])).unwrap();
    for op in &c.ops {
        let n = g.len();
        let pick = |i: &usize| NodeId::from_index(i % n);
        let r = c.rank;
        let added = match op {
            G::Conv(f, a) => g.conv(pick(f), &a[..r]),
            G::Pool(f, a) => g.pool(pick(f), &a[..r]),
            G::Global(f) => g.global_pool(pick(f)),
            G::Point(f) => g.pointwise(pick(f)),
            G::Sum(fs) => g.sum(&fs.iter().map(pick).collect::<Vec<_>>()),
            G::Concat(fs) => g.concat(&fs.iter().map(pick).collect::<Vec<_>>()),
            G::Resize(f, k, linear) => g.resize(
                pick(f),
                &k[..r],
                if *linear {
                    ResizeMode::Linear
                } else {
                    ResizeMode::Nearest
                },
            ),
        };
        match added {
            Ok(_) => {}
            Err(GraphError::JumpMismatch {
                first,
                second,
                axis,
                ..
            }) => {
                let a = g.axes().iter().position(|&x| x == axis).unwrap();
                let (j1, j2) = (
                    g.jump(first).unwrap().unwrap(),
                    g.jump(second).unwrap().unwrap(),
                );
                assert_ne!(j1[a], j2[a], "a jump mismatch between equal jumps");
            }
            Err(e) => panic!("unexpected error {e:?} for {op:?}"),
        }
    }
    g
}

/// Checks one node of the graph against brute force; `None` when brute force is too
/// costly for this case.
fn check_node(g: &Graph, node: NodeId) -> Option<Result<(), TestCaseError>> {
    let dense = g
        .analyze(&GraphOptions {
            outputs: vec![node],
            ..GraphOptions::default()
        })
        .unwrap();
    let exact = g
        .analyze(&GraphOptions {
            outputs: vec![node],
            dense_cells: Some(0),
            ..GraphOptions::default()
        })
        .unwrap();
    let out = &dense.outputs[0];
    let phases: Vec<u64> = out.axes.iter().map(|a| a.phases).collect();
    let steps: Vec<i64> = out
        .axes
        .iter()
        .map(|a| a.jump.map_or(0, |j| (j.num * a.phases / j.den) as i64))
        .collect();
    let mut budget = 200_000u64;
    let truths = truth(g, node, &phases, &steps, &mut budget)?;
    Some((|| {
        prop_assert_eq!(out.method, Method::Dense);
        let cov = g.coverage::<u128>(node).unwrap();
        let local = truths.iter().any(|t| !t.support.is_empty());
        prop_assert_eq!(cov.maps.is_empty(), !local);
        for (t, map) in truths.iter().zip(&cov.maps) {
            prop_assert_eq!(&map.phase, &t.phase);
            // Counts: the map's cells against the enumeration, both ways.
            let mut nonzero = 0;
            for (p, &c) in &t.counts {
                prop_assert_eq!(map.get(p), c, "count at {:?}, phase {:?}", p, t.phase);
            }
            for c in &map.counts {
                if *c != 0 {
                    nonzero += 1;
                }
            }
            prop_assert_eq!(nonzero, t.counts.len());
            prop_assert_eq!(t.support.len(), t.counts.len());
        }
        let worst = truths.iter().map(|t| t.holes.len()).max().unwrap_or(0) as u64;
        for report in [&dense, &exact] {
            let o = &report.outputs[0];
            prop_assert_eq!(o.hole_count, worst);
            let rf: Vec<u64> = (0..phases.len())
                .map(|a| truths.iter().map(|t| t.rf[a]).max().unwrap_or(0))
                .collect();
            prop_assert_eq!(o.receptive_field(), rf);
            let t = truths.iter().find(|t| t.phase == o.phase).unwrap();
            prop_assert_eq!(t.holes.len() as u64, o.hole_count);
            let listed: Vec<Pos> = match o.holes.as_ref().unwrap() {
                HoleList::Offsets(v) => v.iter().map(|&x| vec![x]).collect(),
                HoleList::Cells(v) => v.iter().map(|c| c.to_vec()).collect(),
            };
            prop_assert_eq!(&listed, &t.holes);
            prop_assert_eq!(o.has_holes(), truths.iter().any(|t| !t.holes.is_empty()));
            let n = report.node(node).unwrap();
            prop_assert_eq!(n.holes, o.has_holes());
        }
        prop_assert_eq!(&dense.outputs[0].axes, &exact.outputs[0].axes);
        prop_assert_eq!(
            &dense.outputs[0].first_hole_node,
            &exact.outputs[0].first_hole_node
        );
        Ok(())
    })())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Counts equal the path enumeration; the verdict (dense and exact gap test) equals
    /// reachability, for every node of random graphs.
    #[test]
    fn graph_equals_brute_force(c in case()) {
        let g = build(&c);
        for i in 0..g.len() {
            match check_node(&g, NodeId::from_index(i)) {
                Some(r) => r?,
                None => break, // brute force too costly past here
            }
        }
    }
}

/// 2D parallel branches (1–2 convs each, stride 1, per-axis kernels and rates) merged,
/// then perhaps a conv and a merge with the input: unions of products that do not contain
/// each other, which the exact gap test sweeps row by row.
fn parallel() -> impl Strategy<Value = Case> {
    let branch = prop::collection::vec(
        (spec(3, 4), spec(3, 4)).prop_map(|(a, b)| [a.with_stride(1), b.with_stride(1)]),
        1..=2,
    );
    (
        prop::collection::vec(branch, 2..=4),
        prop::option::of((spec(3, 2), spec(3, 2))),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(branches, after, residual, concat)| {
            let mut ops = Vec::new();
            let mut ends = Vec::new();
            for b in branches {
                let mut at = 0;
                for layer in b {
                    // Node ids: 0 is the input; each op adds one.
                    ops.push(G::Conv(at, layer));
                    at = ops.len();
                }
                ends.push(at);
            }
            ops.push(if concat {
                G::Concat(ends)
            } else {
                G::Sum(ends)
            });
            if let Some((a, b)) = after {
                ops.push(G::Conv(ops.len(), [a.with_stride(1), b.with_stride(1)]));
            }
            if residual {
                ops.push(G::Sum(vec![0, ops.len()]));
            }
            Case {
                rank: 2,
                field: None,
                ops,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// As above, on 2D parallel branches (several product terms).
    #[test]
    fn parallel_branches_equal_brute_force(c in parallel()) {
        let g = build(&c);
        let last = g.last().unwrap();
        match check_node(&g, last) {
            Some(r) => r?,
            None => prop_assume!(false),
        }
    }
}

/// A random chain layer: kernels 1–5, rates 1–9, strides 1–2, every padding mode.
fn chain_layer() -> impl Strategy<Value = AxisSpec> {
    (1u64..=5, 1u64..=9, 1u64..=2, 0u8..4).prop_map(|(k, d, s, p)| {
        let padding = match p {
            0 => PadMode::Same,
            1 => PadMode::Valid,
            2 => PadMode::Causal,
            _ => PadMode::Explicit { lo: 2, hi: 1 },
        };
        AxisSpec::new(k, d).with_stride(s).with_padding(padding)
    })
}

/// The first layer from which every prefix has holes, from the per-prefix verdicts.
fn first_persistent(prefix_holes: &[bool]) -> Option<usize> {
    let mut first = None;
    for i in (0..prefix_holes.len()).rev() {
        if !prefix_holes[i] {
            break;
        }
        first = Some(i);
    }
    first
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A 1D chain as a graph: the chain analysis's verdict, hole count, receptive field,
    /// jump and first hole layer; dense and exact alike.
    #[test]
    fn chain_as_graph_1d(layers in prop::collection::vec(chain_layer(), 1..=6)) {
        let s = Schedule::one_d(layers.clone());
        // Without suggestions: the search for strided stacks is slow, and not compared.
        let chain = analyze(&s, &Options { suggest: false, ..Options::default() }).unwrap();
        let g = Graph::from_chain(&s).unwrap();
        for dense_cells in [None, Some(0)] {
            let r = g.analyze(&GraphOptions { dense_cells, suggest: false, ..GraphOptions::default() }).unwrap();
            let o = &r.outputs[0];
            let a = &chain.axes[0];
            prop_assert_eq!(o.axes[0].receptive_field, a.receptive_field);
            prop_assert_eq!(o.hole_count, a.reach.hole_count);
            prop_assert_eq!(o.has_holes(), chain.has_holes());
            prop_assert_eq!(o.axes[0].widest_gap, a.reach.widest_gap);
            let jump: u64 = layers.iter().map(|l| l.stride).product();
            prop_assert_eq!(o.axes[0].jump.map(|j| (j.num, j.den)), Some((jump, 1)));
            // Layer i is node i + 1 (node 0 is the input).
            prop_assert_eq!(
                o.first_hole_node.map(|n| n.index() - 1),
                a.reach.first_hole_layer
            );
            prop_assert_eq!(
                r.diagnostics.iter().any(|d| d.diagnostic.check == dilated_core::schedule::CheckId::Holes),
                chain.has_holes()
            );
        }
    }

    /// A 2D chain as a graph: the 2D map has `rf_h·rf_w − (rf_h − holes_h)(rf_w − holes_w)`
    /// holes; the first hole layer is where every prefix has a hole on some axis.
    #[test]
    fn chain_as_graph_2d(
        layers in prop::collection::vec((chain_layer(), chain_layer()), 1..=5)
    ) {
        let specs: Vec<Spec2d> = layers.iter().map(|&(height, width)| Spec2d { height, width }).collect();
        let s = Schedule::two_d(&specs);
        let chain = analyze(&s, &Options { suggest: false, ..Options::default() }).unwrap();
        let g = Graph::from_chain(&s).unwrap();
        let prefix_holes: Vec<bool> = (1..=specs.len())
            .map(|n| {
                let h: Vec<AxisSpec> = specs[..n].iter().map(|l| l.height).collect();
                let w: Vec<AxisSpec> = specs[..n].iter().map(|l| l.width).collect();
                reach(&h).unwrap().has_holes() || reach(&w).unwrap().has_holes()
            })
            .collect();
        for dense_cells in [None, Some(0)] {
            let r = g.analyze(&GraphOptions { dense_cells, suggest: false, ..GraphOptions::default() }).unwrap();
            let o = &r.outputs[0];
            let (h, w) = (&chain.axes[0], &chain.axes[1]);
            prop_assert_eq!(o.receptive_field(), vec![h.receptive_field, w.receptive_field]);
            let cells = h.receptive_field * w.receptive_field;
            let covered = (h.receptive_field - h.reach.hole_count) * (w.receptive_field - w.reach.hole_count);
            prop_assert_eq!(o.hole_count, cells - covered);
            prop_assert_eq!(o.has_holes(), chain.has_holes());
            prop_assert_eq!(o.first_hole_node.map(|n| n.index() - 1), first_persistent(&prefix_holes));
            if dense_cells.is_some() {
                prop_assert_eq!(o.method, Method::OuterProduct);
            }
        }
    }
}

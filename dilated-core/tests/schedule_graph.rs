//! The graph analysis on the networks of the blocks issue: DeepLab v3's ASPP on raw pixels
//! and on ResNet-101 features, residual blocks (identity, causal bodies, strided
//! projections), parallel 1×3 and 3×1 branches, WaveNet, TCN, ESPNet's hierarchical
//! fusion, DUC-HDC's bottleneck trunk; upsampling phases, global-only outputs, the typed
//! errors and the limits.

use std::time::Instant;

use dilated_core::schedule::graph::{
    Graph, GraphCoverageStatus, GraphError, GraphOptions, GraphReport, HoleList, InputField, Jump,
    MAX_GRAPH_PHASES, MAX_GRAPH_RF, Method, NodeId, ResizeMode,
};
use dilated_core::schedule::{
    Axis, AxisSpec, CheckId, ErrorKind, Level, Options, PadMode, Schedule, ScheduleError, Spec2d,
    analyze,
};

fn sq(k: u64, d: u64) -> [AxisSpec; 2] {
    let s = Spec2d::square(k, d);
    [s.height, s.width]
}

fn one() -> [AxisSpec; 2] {
    sq(1, 1)
}

fn causal(k: u64, d: u64) -> [AxisSpec; 1] {
    [AxisSpec::new(k, d).with_padding(PadMode::Causal)]
}

fn report(g: &Graph) -> GraphReport {
    g.analyze(&GraphOptions::default()).unwrap()
}

// --- DeepLab v3's ASPP ---

/// The ASPP head: 1×1, 3×3 at rates 6, 12, 18 (conv + BN + ReLU each), image pooling
/// (global pool, 1×1, broadcast), concat, 1×1 projection + BN + ReLU.
fn aspp(field: Option<InputField>) -> (Graph, [NodeId; 3]) {
    let mut g = Graph::two_d();
    let x = g
        .input(field.as_ref().map(|f| [*f, *f]).as_ref().map(|f| &f[..]))
        .unwrap();
    let mut branches = Vec::new();
    let mut rate6 = None;
    for (i, rate) in [1u64, 6, 12, 18].into_iter().enumerate() {
        let k = if rate == 1 { 1 } else { 3 };
        let c = g.conv(x, &sq(k, rate)).unwrap();
        g.label(c, format!("aspp.convs.{i}.0")).unwrap();
        if rate == 6 {
            rate6 = Some(c);
        }
        let bn = g.pointwise(c).unwrap();
        branches.push(g.pointwise(bn).unwrap());
    }
    let pooled = g.global_pool(x).unwrap();
    g.label(pooled, "aspp.convs.4.0").unwrap();
    let c = g.conv(pooled, &one()).unwrap();
    branches.push(g.pointwise(c).unwrap());
    let cat = g.concat(&branches).unwrap();
    let proj = g.conv(cat, &one()).unwrap();
    g.label(proj, "aspp.project.0").unwrap();
    let out = g.pointwise(proj).unwrap();
    (g, [rate6.unwrap(), pooled, out])
}

#[test]
fn aspp_on_raw_pixels_has_holes_and_global_context() {
    let (g, [rate6, pooled, out]) = aspp(None);
    let r = report(&g);
    assert_eq!(r.outputs.len(), 1);
    let o = &r.outputs[0];
    assert_eq!(o.node, out);
    assert_eq!(o.receptive_field(), [37, 37]);
    assert_eq!(o.axes[0].jump, Some(Jump { num: 1, den: 1 }));
    // Three 3×3 lattices and the 1×1 centre: 3·9 − 2 cells read of 37².
    assert_eq!(o.hole_count, 37 * 37 - 25);
    assert_eq!(o.method, Method::Dense);
    assert!(o.global);
    assert_eq!(o.global_pool, Some(pooled));
    assert_eq!(o.first_hole_node, Some(rate6));
    // Counts: the centre is read by the four local branches.
    let cov = o.coverage.exact().unwrap();
    assert_eq!(cov.maps[0].get(&[0, 0]), 4);
    assert_eq!(cov.maps[0].get(&[-18, 18]), 1);
    assert_eq!(cov.maps[0].get(&[-1, 0]), 0);
    // One error: holes, on the rate-6 branch, with the global pool said and not counted.
    assert!(r.is_error());
    assert_eq!(r.diagnostics.len(), 1);
    let d = &r.diagnostics[0];
    assert_eq!(
        (d.diagnostic.check, d.diagnostic.level),
        (CheckId::Holes, Level::Deny)
    );
    assert_eq!((d.node, d.output), (Some(rate6), Some(out)));
    let m = &d.diagnostic.message;
    assert!(m.starts_with("gridding: "), "{m}");
    assert!(m.contains("1344 of the 37×37 cells"), "{m}");
    assert!(
        m.contains("the holes open at conv aspp.convs.1.0 (rate 6)"),
        "{m}"
    );
    assert!(
        m.contains("global pool aspp.convs.4.0") && m.contains("fills no hole"),
        "{m}"
    );
    let help = d.diagnostic.help.as_deref().unwrap();
    assert!(help.contains("InputField"), "{help}");
    // The exact gap test agrees (three lattices, none inside another).
    let exact = g
        .analyze(&GraphOptions {
            dense_cells: Some(0),
            ..GraphOptions::default()
        })
        .unwrap();
    let e = &exact.outputs[0];
    assert_eq!(e.method, Method::GapTest);
    assert_eq!(
        (e.hole_count, &e.holes, e.first_hole_node),
        (o.hole_count, &o.holes, o.first_hole_node)
    );
    assert_eq!(e.axes, o.axes);
    assert!(matches!(
        e.coverage,
        GraphCoverageStatus::OverLimit(GraphError::MapTooLarge { .. })
    ));
}

#[test]
fn aspp_on_resnet101_os16_features_has_no_holes() {
    let (g, [_, pooled, _]) = aspp(Some(InputField::new(971, 16)));
    let t = Instant::now();
    let r = report(&g);
    let took = t.elapsed();
    let o = &r.outputs[0];
    assert_eq!(o.hole_count, 0);
    assert_eq!(o.receptive_field(), [971 + 2 * 18 * 16; 2]);
    assert_eq!(o.axes[1].jump, Some(Jump { num: 16, den: 1 }));
    assert!(o.global && o.global_pool == Some(pooled));
    // 1547² cells: too many for a dense map; the branches nest, one product decides.
    assert_eq!(o.method, Method::OuterProduct);
    assert!(matches!(o.coverage, GraphCoverageStatus::OverLimit(_)));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert!(r.chains.is_empty()); // lone dilated convs: judged by the hole check alone
    assert!(took.as_secs_f64() < 5.0, "{took:?}");
}

// --- residual blocks ---

#[test]
fn residual_blocks_fill_the_holes_of_the_chain() {
    // k = 2 at rate 2 with `same` padding reads −1 and +1: a chain of two has holes.
    let l = AxisSpec::new(2, 2);
    let chain = analyze(&Schedule::one_d(vec![l, l]), &Options::default()).unwrap();
    assert_eq!(chain.axes[0].reach.hole_count, 2);
    let as_graph = report(&Graph::from_chain(&Schedule::one_d(vec![l, l])).unwrap());
    assert_eq!(as_graph.outputs[0].hole_count, 2);
    // As residual blocks, the identity reads the centre the body skips.
    let mut g = Graph::one_d();
    let x = g.input(None).unwrap();
    let b1 = g.conv(x, &[l]).unwrap();
    let y1 = g.sum(&[x, b1]).unwrap();
    let b2 = g.conv(y1, &[l]).unwrap();
    let y2 = g.sum(&[y1, b2]).unwrap();
    let r = report(&g);
    let o = &r.outputs[0];
    assert_eq!(
        (o.node, o.hole_count, o.axes[0].receptive_field),
        (y2, 0, 5)
    );
    let row = o.coverage.exact().unwrap().maps[0].row().unwrap();
    assert_eq!((row.min_offset, row.counts), (-2, vec![1, 2, 3, 2, 1]));
    // Each body alone has a hole at its centre.
    assert!(r.node(b1).unwrap().holes && !r.node(y1).unwrap().holes);
    // No hole finding; the trunk [2, 2] still breaks HDC rules 2 and 3 as a chain would
    // (design rules speak of the chain alone).
    let checks: Vec<CheckId> = r.diagnostics.iter().map(|d| d.diagnostic.check).collect();
    assert_eq!(checks, [CheckId::Hdc3, CheckId::Hdc2]);
    assert_eq!(r.chains[0].nodes, [b1, b2]);
}

#[test]
fn causal_body_beside_the_identity_lines_up_as_at_run_time() {
    // TCN's causal k = 3 body beside the identity: offsets −2..=0, no hole.
    let mut g = Graph::one_d();
    let x = g.input(None).unwrap();
    let body = g.conv(x, &causal(3, 1)).unwrap();
    g.sum(&[body, x]).unwrap();
    let o = &report(&g).outputs[0];
    assert_eq!(
        (
            o.hole_count,
            o.axes[0].min_offset,
            o.axes[0].receptive_field
        ),
        (0, -2, 3)
    );
    let row = g.coverage::<u64>(g.last().unwrap()).unwrap().maps[0]
        .row()
        .unwrap();
    assert_eq!(row.counts, [1, 1, 2]);

    // k = 2 at rate 2: causal reads −2 and 0 (hole at −1); `same` reads −1 and +1, and the
    // identity fills the centre.
    for (padding, holes, min) in [(PadMode::Causal, 1, -2), (PadMode::Same, 0, -1)] {
        let mut g = Graph::one_d();
        let x = g.input(None).unwrap();
        let body = g
            .conv(x, &[AxisSpec::new(2, 2).with_padding(padding)])
            .unwrap();
        let y = g.sum(&[x, body]).unwrap();
        let r = report(&g);
        let o = &r.outputs[0];
        assert_eq!(
            (o.hole_count, o.axes[0].min_offset),
            (holes, min),
            "{padding:?}"
        );
        if holes > 0 {
            assert_eq!(o.holes, Some(HoleList::Offsets(vec![-1])));
            // The body opens it; the sum keeps it.
            assert_eq!(o.first_hole_node, Some(body));
            assert!(r.node(y).unwrap().holes);
        }
    }
}

#[test]
fn strided_projection_shortcut_beside_a_padded_strided_body() {
    // ResNet's downsampling block: a 3×3 stride-2 body (padding 1) beside a 1×1 stride-2
    // projection: both anchored at 2q, offsets −1..=1, jump 2.
    let strided = |k: u64, padding: PadMode| {
        let a = AxisSpec::new(k, 1).with_stride(2).with_padding(padding);
        [a, a]
    };
    for (padding, min) in [(PadMode::Same, -1), (PadMode::Valid, 0)] {
        let mut g = Graph::two_d();
        let x = g.input(None).unwrap();
        let body = g.conv(x, &strided(3, padding)).unwrap();
        let body = g.pointwise(body).unwrap();
        let short = g.conv(x, &strided(1, PadMode::Valid)).unwrap();
        let y = g.sum(&[body, short]).unwrap();
        let o = &report(&g).outputs[0];
        assert_eq!(o.node, y);
        assert_eq!(o.hole_count, 0);
        assert_eq!(o.receptive_field(), [3, 3]);
        assert_eq!(o.axes[0].jump, Some(Jump { num: 2, den: 1 }));
        assert_eq!((o.axes[0].min_offset, o.axes[1].min_offset), (min, min));
        let c = g.coverage::<u32>(y).unwrap();
        assert_eq!(c.maps[0].get(&[0, 0]), 2); // the body's centre tap and the shortcut
    }
    // The identity beside a strided body does not line up: a typed error naming both.
    let mut g = Graph::two_d();
    let x = g.input(None).unwrap();
    let body = g.conv(x, &strided(3, PadMode::Same)).unwrap();
    let err = g.sum(&[x, body]).unwrap_err();
    assert_eq!(
        err,
        GraphError::JumpMismatch {
            first: x,
            second: body,
            axis: Axis::Height,
            first_jump: Jump { num: 1, den: 1 },
            second_jump: Jump { num: 2, den: 1 },
        }
    );
    assert!(err.to_string().contains("node 0 and node 1"), "{err}");
}

#[test]
fn one_by_three_beside_three_by_one_has_four_holes_in_2d() {
    for concat in [true, false] {
        let mut g = Graph::two_d();
        let x = g.input(None).unwrap();
        let a = g
            .conv(x, &[AxisSpec::new(1, 1), AxisSpec::new(3, 1)])
            .unwrap();
        let b = g
            .conv(x, &[AxisSpec::new(3, 1), AxisSpec::new(1, 1)])
            .unwrap();
        let m = if concat {
            g.concat(&[a, b])
        } else {
            g.sum(&[a, b])
        }
        .unwrap();
        for dense_cells in [None, Some(0)] {
            let r = g
                .analyze(&GraphOptions {
                    dense_cells,
                    ..GraphOptions::default()
                })
                .unwrap();
            let o = &r.outputs[0];
            assert_eq!(
                o.method,
                if dense_cells.is_some() {
                    Method::GapTest
                } else {
                    Method::Dense
                }
            );
            // No hole on either axis; four in 2D, the corners.
            assert!(!r.node(a).unwrap().holes && !r.node(b).unwrap().holes);
            assert_eq!((o.receptive_field(), o.hole_count), (vec![3, 3], 4));
            assert_eq!(
                o.holes,
                Some(HoleList::Cells(vec![[-1, -1], [-1, 1], [1, -1], [1, 1]]))
            );
            assert_eq!((o.axes[0].widest_gap, o.axes[1].widest_gap), (1, 1));
            assert_eq!(o.first_hole_node, Some(m));
            let d = &r.diagnostics[0].diagnostic;
            assert!(d.message.contains("4 of the 3×3 cells"), "{}", d.message);
            assert!(d.message.contains("the holes open at"), "{}", d.message);
            assert!(d.help.as_deref().unwrap().contains("branches merged here"));
        }
    }
}

// --- WaveNet ---

/// WaveNet: kernel 2, causal, rates 1…512 per stack, gated, residual and skip 1×1 convs,
/// the skip sum's head (ReLU, 1×1, ReLU, 1×1).
fn wavenet(stacks: usize, layers: u32) -> (Graph, NodeId, Vec<NodeId>) {
    let mut g = Graph::one_d();
    let x = g.input(None).unwrap();
    let mut h = x;
    let mut skips = Vec::new();
    let mut dilated = Vec::new();
    for s in 0..stacks {
        for i in 0..layers {
            let n = s * layers as usize + i as usize;
            let c = g.conv(h, &causal(2, 1 << i)).unwrap();
            g.label(c, format!("blocks.{n}.dilated")).unwrap();
            dilated.push(c);
            let gate = g.pointwise(c).unwrap(); // tanh(a)·sigmoid(b)
            let res = g.conv(gate, &[AxisSpec::new(1, 1)]).unwrap();
            skips.push(g.conv(gate, &[AxisSpec::new(1, 1)]).unwrap());
            h = g.sum(&[h, res]).unwrap();
        }
    }
    let s = g.sum(&skips).unwrap();
    let a = g.pointwise(s).unwrap();
    let c = g.conv(a, &[AxisSpec::new(1, 1)]).unwrap();
    let a = g.pointwise(c).unwrap();
    let head = g.conv(a, &[AxisSpec::new(1, 1)]).unwrap();
    (g, head, dilated)
}

#[test]
fn wavenet_two_stacks_sees_2047_samples_without_holes() {
    let (g, head, dilated) = wavenet(2, 10);
    let t = Instant::now();
    let r = g
        .analyze(&GraphOptions {
            outputs: vec![head],
            ..GraphOptions::default()
        })
        .unwrap();
    let took = t.elapsed();
    let o = &r.outputs[0];
    assert_eq!((o.axes[0].receptive_field, o.hole_count), (2047, 0));
    assert_eq!((o.axes[0].min_offset, o.method), (-2046, Method::Dense));
    assert!(!o.global);
    // The trunk through every residual block is one chain: rates 1…512 twice, HDC holds.
    assert_eq!(r.chains.len(), 1);
    assert_eq!(r.chains[0].nodes, dilated);
    let rates: Vec<u64> = (0..20).map(|i| 1 << (i % 10)).collect();
    assert_eq!(r.chains[0].rates(), rates);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert!(took.as_secs_f64() < 5.0, "{took:?}");
    // Every sink by default: the head and the last residual sum (unused by the head).
    assert_eq!(report(&g).outputs.len(), 2);
}

#[test]
fn wavenet_thirty_layers_is_fast() {
    let (g, head, _) = wavenet(3, 10);
    let t = Instant::now();
    let r = g
        .analyze(&GraphOptions {
            outputs: vec![head],
            ..GraphOptions::default()
        })
        .unwrap();
    let took = t.elapsed();
    assert_eq!(
        (
            r.outputs[0].axes[0].receptive_field,
            r.outputs[0].hole_count
        ),
        (3070, 0)
    );
    assert!(took.as_secs_f64() < 5.0, "{took:?}");
    eprintln!("30-layer WaveNet analysed in {took:?}");
}

// --- TCN ---

#[test]
fn tcn_levels_see_their_field_and_repeat_rates() {
    // Bai et al.'s TemporalBlock per level: two weight-normed causal k = 3 convs at rate
    // 2^i, ReLU and dropout after each, a residual with a 1×1 downsample where the
    // channels change (level 0), ReLU after the add.
    let mut g = Graph::one_d();
    let x = g.input(None).unwrap();
    let mut h = x;
    let mut convs = Vec::new();
    for i in 0..4 {
        let c1 = g.conv(h, &causal(3, 1 << i)).unwrap();
        let a = g.pointwise(c1).unwrap();
        let a = g.pointwise(a).unwrap();
        let c2 = g.conv(a, &causal(3, 1 << i)).unwrap();
        let a = g.pointwise(c2).unwrap();
        let a = g.pointwise(a).unwrap();
        let short = if i == 0 {
            g.conv(h, &[AxisSpec::new(1, 1)]).unwrap()
        } else {
            h
        };
        let y = g.sum(&[a, short]).unwrap();
        h = g.pointwise(y).unwrap();
        convs.extend([c1, c2]);
    }
    let r = report(&g);
    let o = &r.outputs[0];
    // 1 + Σ 2·(k − 1)·2^i = 1 + 4·15.
    assert_eq!(
        (
            o.axes[0].receptive_field,
            o.hole_count,
            o.axes[0].min_offset
        ),
        (61, 0, -60)
    );
    assert_eq!(r.chains.len(), 1);
    assert_eq!(r.chains[0].nodes, convs);
    assert_eq!(r.chains[0].rates(), [1, 1, 2, 2, 4, 4, 8, 8]);
    // HDC rules 1 (M_2 = 4 in the rising group [2, 4]) and 2 (the repeats) warn, in the
    // chain analysis's words; nothing fails.
    assert!(!r.is_error());
    let checks: Vec<(CheckId, Level)> = r
        .diagnostics
        .iter()
        .map(|d| (d.diagnostic.check, d.diagnostic.level))
        .collect();
    assert_eq!(
        checks,
        [(CheckId::Hdc1, Level::Warn), (CheckId::Hdc2, Level::Warn)]
    );
    let d = &r.diagnostics[1];
    // Rule 2 counts repeats of rates above 1: the first is level 1's second conv.
    assert!(
        d.diagnostic
            .message
            .starts_with("HDC rule 2: rate 2 repeats"),
        "{}",
        d.diagnostic.message
    );
    assert_eq!(
        (d.node, d.chain, d.diagnostic.layer),
        (Some(convs[3]), Some(0), Some(3))
    );
    let chain_words = analyze(&r.chains[0].schedule, &Options::default()).unwrap();
    let words: Vec<&str> = chain_words
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    let ours: Vec<&str> = r
        .diagnostics
        .iter()
        .map(|d| d.diagnostic.message.as_str())
        .collect();
    assert_eq!(ours, words);
}

// --- ESPNet ---

#[test]
fn espnet_hierarchical_fusion_adds_counts() {
    // The ESP module: 1×1 reduction, 3×3 branches at rates 1, 2, 4, 8, 16, each output
    // added to the next (hierarchical fusion), concat, residual add, BN + PReLU.
    let mut g = Graph::two_d();
    let x = g.input(None).unwrap();
    let reduce = g.conv(x, &one()).unwrap();
    let branches: Vec<NodeId> = [1, 2, 4, 8, 16]
        .iter()
        .map(|&d| g.conv(reduce, &sq(3, d)).unwrap())
        .collect();
    let mut fused = vec![branches[0]];
    for &b in &branches[1..] {
        let prev = *fused.last().unwrap();
        fused.push(g.sum(&[prev, b]).unwrap());
    }
    let cat = g.concat(&fused).unwrap();
    let y = g.sum(&[cat, x]).unwrap();
    g.pointwise(y).unwrap();
    let r = report(&g);
    let o = &r.outputs[0];
    assert_eq!(o.receptive_field(), [33, 33]);
    // Five 3×3 lattices sharing the centre: 5·9 − 4 cells read.
    assert_eq!(o.hole_count, 33 * 33 - 41);
    // The centre: b1 once, then 2, 3, 4, 5 paths through the fused sums, plus the identity.
    let c = o.coverage.exact().unwrap();
    assert_eq!(c.maps[0].get(&[0, 0]), 1 + 2 + 3 + 4 + 5 + 1);
    assert_eq!(c.maps[0].get(&[16, -16]), 1);
    assert_eq!(c.maps[0].get(&[1, 1]), 5); // b1's corner, through every fused sum
    // Rate 1 has no hole; the rate-2 branch opens them.
    assert_eq!(o.first_hole_node, Some(branches[1]));
    // Parallel convs are not one chain.
    assert!(r.chains.is_empty());
    assert_eq!(r.diagnostics.len(), 1);
}

// --- DUC-HDC ---

#[test]
fn duc_hdc_bottleneck_trunk_is_the_chain() {
    // ResNet bottlenecks with batch norm at TuSimple-DUC's res4 rates; the first block has
    // a 1×1 projection shortcut.
    let rates = [2u64, 2, 5, 9, 1, 2, 5, 9];
    let mut g = Graph::two_d();
    let x = g.input(None).unwrap();
    let mut h = x;
    let mut trunk = Vec::new();
    for (i, &d) in rates.iter().enumerate() {
        let c1 = g.conv(h, &one()).unwrap();
        let a = g.pointwise(c1).unwrap();
        let c2 = g.conv(a, &sq(3, d)).unwrap();
        g.label(c2, format!("layer4.{i}.conv2")).unwrap();
        let a = g.pointwise(c2).unwrap();
        let c3 = g.conv(a, &one()).unwrap();
        let a = g.pointwise(c3).unwrap();
        let short = if i == 0 {
            let p = g.conv(h, &one()).unwrap();
            g.pointwise(p).unwrap()
        } else {
            h
        };
        let y = g.sum(&[a, short]).unwrap();
        h = g.pointwise(y).unwrap();
        trunk.push(c2);
    }
    let r = report(&g);
    assert_eq!(r.chains.len(), 1);
    assert_eq!(r.chains[0].nodes, trunk);
    assert_eq!(r.chains[0].rates(), rates);
    // The identity reads the body's centre tap: the graph sees what the chain sees.
    let chain = analyze(
        &Schedule::two_d(&rates.map(|d| Spec2d::square(3, d))),
        &Options::default(),
    )
    .unwrap();
    let o = &r.outputs[0];
    let rf = chain.axes[0].receptive_field;
    let covered = rf - chain.axes[0].reach.hole_count;
    assert_eq!(o.receptive_field(), [rf, rf]);
    assert_eq!(o.hole_count, rf * rf - covered * covered);
    // HDC figures per axis, and the chain analysis's diagnostics (rule 1 and the repeated
    // 2 of rule 2), pointing at the trunk's convs.
    assert_eq!(r.chains[0].hdc.len(), 2);
    let checks: Vec<CheckId> = r.diagnostics.iter().map(|d| d.diagnostic.check).collect();
    let expected: Vec<CheckId> = chain
        .diagnostics
        .iter()
        .map(|d| d.check)
        .filter(|c| *c != CheckId::Holes)
        .collect();
    assert!(checks.contains(&CheckId::Hdc2));
    for c in &expected {
        assert!(checks.contains(c), "{checks:?} lacks {c:?}");
    }
    let rule2 = r
        .diagnostics
        .iter()
        .find(|d| d.diagnostic.check == CheckId::Hdc2)
        .unwrap();
    assert_eq!(rule2.node, Some(trunk[1]));
    assert_eq!(g.name(rule2.node.unwrap()), "layer4.1.conv2");
    // 8 blocks, rf 61 per axis: dense; the exact gap test agrees.
    let exact = g
        .analyze(&GraphOptions {
            dense_cells: Some(0),
            ..GraphOptions::default()
        })
        .unwrap();
    assert_eq!(exact.outputs[0].method, Method::OuterProduct);
    assert_eq!(exact.outputs[0].hole_count, o.hole_count);
    assert_eq!(exact.outputs[0].first_hole_node, o.first_hole_node);
}

#[test]
fn a_2d_graph_with_a_field_near_1000_is_fast() {
    // DUC-HDC's trunk on features that see 67 px at jump 8: a field of 67 + 2·8·Σd per axis.
    let rates = [1u64, 2, 5, 9, 1, 2, 5, 9, 1, 2, 5, 9];
    let mut g = Graph::two_d();
    let f = InputField::new(67, 8);
    let x = g.input(Some(&[f, f])).unwrap();
    let mut h = x;
    for &d in &rates {
        let c = g.conv(h, &sq(3, d)).unwrap();
        let a = g.pointwise(c).unwrap();
        let y = g.sum(&[a, h]).unwrap();
        h = g.pointwise(y).unwrap();
    }
    let t = Instant::now();
    let r = report(&g);
    let took = t.elapsed();
    let o = &r.outputs[0];
    assert_eq!(o.receptive_field(), [67 + 16 * 51; 2]); // 883
    assert_eq!((o.hole_count, o.method), (0, Method::OuterProduct));
    assert!(took.as_secs_f64() < 5.0, "{took:?}");
    eprintln!("2D graph with a field of 883 analysed in {took:?}");
}

// --- chains, upsampling, global context ---

#[test]
fn a_chain_as_a_graph_speaks_like_the_chain() {
    let s = Schedule::uniform(3, &[2, 4, 8]);
    let chain = analyze(&s, &Options::default()).unwrap();
    let g = Graph::from_chain(&s).unwrap();
    assert_eq!(g.name(NodeId::from_index(1)), "layer 1");
    assert_eq!(g.node(NodeId::from_index(3)).unwrap().tag(), Some(2));
    let r = report(&g);
    let holes = &r.diagnostics[0].diagnostic;
    assert_eq!((holes.check, holes.level), (CheckId::Holes, Level::Deny));
    // The same coverage row (odd kernels with `same` padding are centred) and fix.
    let row = |m: &str| m.lines().nth(1).unwrap().to_string();
    assert_eq!(row(&holes.message), row(&chain.diagnostics[0].message));
    assert!(
        holes
            .message
            .contains("the holes open at conv layer 1 (rate 2)"),
        "{}",
        holes.message
    );
    let help = holes.help.as_deref().unwrap();
    assert!(
        help.starts_with("in the chain layer 1 … layer 3: "),
        "{help}"
    );
    assert!(
        help.ends_with(chain.diagnostics[0].help.as_deref().unwrap()),
        "{help}"
    );
    // The HDC findings of the chain, with its words.
    let hdc: Vec<&str> = r.diagnostics[1..]
        .iter()
        .map(|d| d.diagnostic.message.as_str())
        .collect();
    let expected: Vec<&str> = chain.diagnostics[1..]
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(hdc, expected);
    assert_eq!(r.chains[0].hdc[0].gcd, 2);
}

#[test]
fn upsampling_makes_the_field_vary_with_the_phase() {
    // Features 4 px apart, 1 px each, upsampled by 3 (linear): phases 0 and 2 read two
    // features (5 px, 3 holes), phase 1 falls on one feature.
    let mut g = Graph::one_d();
    let x = g.input(Some(&[InputField::new(1, 4)])).unwrap();
    let up = g.resize(x, &[3], ResizeMode::Linear).unwrap();
    let r = report(&g);
    let o = &r.outputs[0];
    assert_eq!(o.node, up);
    assert_eq!(o.axes[0].jump, Some(Jump { num: 4, den: 3 }));
    assert_eq!(
        (o.axes[0].phases, o.phase.clone(), o.varies),
        (3, vec![0], true)
    );
    assert_eq!((o.axes[0].receptive_field, o.hole_count), (5, 3));
    assert_eq!(o.holes, Some(HoleList::Offsets(vec![-3, -2, -1])));
    let c = g.coverage::<u64>(up).unwrap();
    assert_eq!(c.periods, [3]);
    let rows: Vec<(i64, Vec<u64>)> = c
        .maps
        .iter()
        .map(|m| {
            let r = m.row().unwrap();
            (r.min_offset, r.counts)
        })
        .collect();
    assert_eq!(
        rows,
        [
            (-4, vec![1, 0, 0, 0, 1]),
            (0, vec![1]),
            (0, vec![1, 0, 0, 0, 1])
        ]
    );
    assert!(
        r.diagnostics[0]
            .diagnostic
            .message
            .contains("phase 0 of 3 after an upsampling")
    );
    // Nearest: each phase copies one feature; then a 3-tap conv on the upsampled map
    // reads neighbouring phases.
    let near = g.resize(x, &[2], ResizeMode::Nearest).unwrap();
    let conv = g.conv(near, &[AxisSpec::new(3, 1)]).unwrap();
    let r = g
        .analyze(&GraphOptions {
            outputs: vec![near, conv],
            ..GraphOptions::default()
        })
        .unwrap();
    assert_eq!(
        (r.outputs[0].axes[0].receptive_field, r.outputs[0].varies),
        (1, false)
    );
    let o = &r.outputs[1];
    assert_eq!(o.axes[0].jump, Some(Jump { num: 2, den: 1 }));
    assert_eq!((o.axes[0].receptive_field, o.hole_count), (5, 3));
    let c = g.coverage::<u64>(conv).unwrap();
    // Phase 0 reads positions −1, 0, 1: features −1, 0, 0; phase 1 reads 0, 0, 1.
    assert_eq!(c.maps[0].row().unwrap().counts, [1, 0, 0, 0, 2]);
    assert_eq!(c.maps[1].row().unwrap().counts, [2, 0, 0, 0, 1]);
}

#[test]
fn a_global_only_output_has_no_local_field() {
    let mut g = Graph::two_d();
    let x = g.input(None).unwrap();
    let p = g.global_pool(x).unwrap();
    let c = g.conv(p, &sq(3, 2)).unwrap();
    let r = report(&g);
    let o = &r.outputs[0];
    assert_eq!(
        (o.node, o.hole_count, o.global, o.global_pool),
        (c, 0, true, Some(p))
    );
    assert_eq!(o.receptive_field(), [0, 0]);
    assert_eq!(o.axes[0].jump, None);
    assert_eq!(g.jump(c).unwrap(), None);
    assert!(g.coverage::<u64>(c).unwrap().maps.is_empty());
    assert!(r.diagnostics.is_empty());
    // Merged with a strided branch: the global branch broadcasts to any jump.
    let s = g.conv(x, &[AxisSpec::new(3, 1).with_stride(4); 2]).unwrap();
    let m = g.sum(&[c, s]).unwrap();
    assert_eq!(g.jump(m).unwrap(), Some(vec![Jump { num: 4, den: 1 }; 2]));
    assert!(g.node(m).unwrap().is_global());
}

#[test]
fn counts_that_overflow_u128_keep_the_verdict() {
    // 90 layers of k = 3: the centre has more than 3^80 paths.
    let g = Graph::from_chain(&Schedule::uniform(3, &[1; 90])).unwrap();
    let r = report(&g);
    let o = &r.outputs[0];
    assert_eq!((o.axes[0].receptive_field, o.hole_count), (181, 0));
    assert_eq!(o.coverage, GraphCoverageStatus::Overflow);
    let err = g.coverage::<u128>(g.last().unwrap()).unwrap_err();
    assert!(matches!(
        err,
        GraphError::Schedule {
            error: ScheduleError {
                kind: ErrorKind::CountOverflow,
                ..
            },
            ..
        }
    ));
}

// --- errors and limits ---

#[test]
fn bad_graphs_are_typed_errors() {
    let mut g = Graph::one_d();
    assert_eq!(
        Graph::with_rank(3).unwrap_err(),
        GraphError::BadRank { rank: 3 }
    );
    assert_eq!(
        g.analyze(&GraphOptions::default()).unwrap_err(),
        GraphError::NoInput
    );
    assert_eq!(
        g.input(Some(&[InputField::new(0, 1)])).unwrap_err(),
        GraphError::ZeroField {
            axis: Axis::Length,
            what: "receptive field"
        }
    );
    assert_eq!(
        g.input(Some(&[InputField::new(3, 0)])).unwrap_err(),
        GraphError::ZeroField {
            axis: Axis::Length,
            what: "jump"
        }
    );
    let x = g.input(None).unwrap();
    assert_eq!(
        g.input(None).unwrap_err(),
        GraphError::SecondInput { first: x }
    );
    let ghost = NodeId::from_index(7);
    assert_eq!(
        g.conv(ghost, &[AxisSpec::new(3, 1)]).unwrap_err(),
        GraphError::UnknownNode {
            node: ghost,
            nodes: 1
        }
    );
    assert!(matches!(
        g.conv(x, &[AxisSpec::new(3, 1); 2]).unwrap_err(),
        GraphError::AxesMismatch {
            expected: 1,
            actual: 2,
            ..
        }
    ));
    let e = g.conv(x, &[AxisSpec::new(3, 0)]).unwrap_err();
    assert!(matches!(
        e,
        GraphError::Schedule {
            node: Some(n),
            error: ScheduleError { kind: ErrorKind::ZeroRate, axis: Some(Axis::Length), .. }
        } if n.index() == 1
    ));
    assert_eq!(
        g.sum(&[]).unwrap_err(),
        GraphError::EmptyMerge {
            node: NodeId::from_index(1)
        }
    );
    assert!(matches!(
        g.resize(x, &[0], ResizeMode::Nearest).unwrap_err(),
        GraphError::ZeroFactor {
            axis: Axis::Length,
            ..
        }
    ));
    assert!(matches!(
        g.analyze(&GraphOptions {
            outputs: vec![ghost],
            ..GraphOptions::default()
        })
        .unwrap_err(),
        GraphError::UnknownNode { .. }
    ));
    assert!(!e.is_limit());
    // Nothing was added by the failed calls.
    assert_eq!(g.len(), 1);
}

#[test]
fn limits_are_typed_errors() {
    // Phases: upsampling multiplies them past the limit.
    let mut g = Graph::one_d();
    let x = g.input(None).unwrap();
    let up = g
        .resize(x, &[MAX_GRAPH_PHASES], ResizeMode::Nearest)
        .unwrap();
    let e = g.resize(up, &[2], ResizeMode::Nearest).unwrap_err();
    assert!(
        matches!(e, GraphError::TooManyPhases { phases, .. } if phases == 2 * MAX_GRAPH_PHASES)
    );
    assert!(e.is_limit());
    // A receptive field over the verdict's limit.
    let mut g = Graph::one_d();
    g.input(Some(&[InputField::new(MAX_GRAPH_RF + 1, 1)]))
        .unwrap();
    let e = g.analyze(&GraphOptions::default()).unwrap_err();
    assert!(
        matches!(e, GraphError::ReceptiveFieldTooLarge { receptive_field, .. } if receptive_field == MAX_GRAPH_RF + 1)
    );
    assert!(e.is_limit());
    // Dense counts past the map limit: the analysis falls back, the counts refuse.
    let mut g = Graph::two_d();
    let x = g.input(None).unwrap();
    let c = g.conv(x, &sq(3, 200)).unwrap();
    let r = report(&g);
    assert_eq!(r.outputs[0].method, Method::OuterProduct);
    assert_eq!(r.outputs[0].hole_count, 401 * 401 - 9);
    assert_eq!(r.outputs[0].holes, None); // past the list limit
    assert!(
        matches!(g.coverage::<u64>(c).unwrap_err(), GraphError::MapTooLarge { cells, .. } if cells == 401 * 401)
    );
}

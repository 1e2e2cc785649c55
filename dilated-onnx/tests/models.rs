//! The committed fixtures: PyTorch models exported by both exporters, and the `light`
//! models of the ONNX test data. Every graph is read, folded and shaped; the IR's windows
//! are checked against a gradient oracle (through a brute-force walk over positions written
//! here), the light models' shapes against the `onnx` package's own shape inference, and
//! the plain chains are run on the engine against ONNX Runtime's stored output.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::fixtures;
use dilated_core::engine::Network;
use dilated_onnx::runtime::conv_chain;
use dilated_onnx::{Dim, Graph, Head, Merge, NodeKind, Pointwise, ValueId, read};
use serde_json::Value as Json;

fn load(rel: &str) -> dilated_onnx::Model {
    let t = Instant::now();
    let m = read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "{rel}: {:?}",
        t.elapsed()
    );
    m
}

fn index() -> Json {
    let text = std::fs::read_to_string(fixtures().join("models/index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn dims(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// What one output position sees: a set of input offsets, or the whole input.
#[derive(Debug)]
enum Seen {
    Offsets(BTreeSet<Vec<i64>>),
    Global,
}

/// Brute-force reachability over positions, backwards from one position of `target`,
/// using only the IR (windows, pads, crops, kinds). Needs stride-1 windows.
fn reach(g: &Graph, target: ValueId) -> Seen {
    let s = g.spatial_rank().unwrap();
    let mut sets: HashMap<ValueId, BTreeSet<Vec<i64>>> = HashMap::new();
    sets.insert(target, BTreeSet::from([vec![0; s]]));
    let mut global = false;
    for node in g.nodes().iter().rev() {
        let mut here = BTreeSet::new();
        for o in node.outputs.iter().flatten() {
            if let Some(v) = sets.get(o) {
                here.extend(v.iter().cloned());
            }
        }
        if here.is_empty() {
            continue;
        }
        let into: BTreeSet<Vec<i64>> = match &node.kind {
            NodeKind::Conv(w) | NodeKind::Pool(_, w) => {
                assert!(w.strides.iter().all(|&x| x == 1), "{}", node.label());
                let pads = w.pads.as_ref().unwrap();
                let mut taps = vec![vec![0i64; s]];
                for ax in 0..s {
                    let mut next = Vec::new();
                    for t in &taps {
                        for k in 0..w.kernel[ax] {
                            let mut t = t.clone();
                            t[ax] = (k * w.dilations[ax]) as i64 - pads[ax][0] as i64;
                            next.push(t);
                        }
                    }
                    taps = next;
                }
                here.iter()
                    .flat_map(|p| {
                        taps.iter()
                            .map(move |t| p.iter().zip(t).map(|(a, b)| a + b).collect())
                    })
                    .collect()
            }
            NodeKind::Pad(p) => {
                let pads = p.pads.as_ref().unwrap();
                here.iter()
                    .map(|p| p.iter().zip(pads).map(|(a, b)| a - b[0]).collect())
                    .collect()
            }
            NodeKind::Crop(c) => {
                let starts = c.starts.as_ref().unwrap();
                assert!(c.steps.iter().all(|&x| x == 1));
                here.iter()
                    .map(|p| p.iter().zip(starts).map(|(a, b)| a + *b as i64).collect())
                    .collect()
            }
            NodeKind::Global(_) => {
                global = true;
                continue;
            }
            NodeKind::Resize(_) => {
                // Only behind a global pool here (ASPP's image branch): its input is 1×1.
                let x = node.data_inputs(g).next().unwrap();
                let shape = g.value(x).static_shape().unwrap();
                assert!(shape[2..].iter().all(|&d| d == 1), "{}", node.label());
                BTreeSet::from([vec![0; s]])
            }
            NodeKind::Pointwise(_)
            | NodeKind::Merge(_)
            | NodeKind::Concat { axis: 1 }
            | NodeKind::Split { axis: 1, .. } => here,
            other => panic!("{}: the oracle does not take {other:?}", node.label()),
        };
        for x in node.data_inputs(g) {
            sets.entry(x).or_default().extend(into.iter().cloned());
        }
    }
    if global {
        return Seen::Global;
    }
    Seen::Offsets(sets.remove(&g.inputs()[0]).unwrap())
}

fn field_and_holes(set: &BTreeSet<Vec<i64>>) -> (Vec<u64>, u64) {
    let s = set.iter().next().unwrap().len();
    let mut field = Vec::new();
    let mut volume = 1u64;
    for ax in 0..s {
        let lo = set.iter().map(|p| p[ax]).min().unwrap();
        let hi = set.iter().map(|p| p[ax]).max().unwrap();
        field.push((hi - lo + 1) as u64);
        volume *= (hi - lo + 1) as u64;
    }
    (field, volume - set.len() as u64)
}

#[test]
fn pytorch_models_match_the_gradient_oracle() {
    let idx = index();
    let mut checked = 0;
    for case in idx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for exporter in case["exporters"].as_array().unwrap() {
            let file = format!("models/{name}.{}.onnx", exporter.as_str().unwrap());
            let m = load(&file);
            let g = &m.graph;
            assert!(
                g.nodes()
                    .iter()
                    .all(|n| !matches!(n.kind, NodeKind::Unknown { .. })),
                "{file}: {:?}",
                g.nodes()
                    .iter()
                    .find(|n| matches!(n.kind, NodeKind::Unknown { .. }))
            );
            let out = g.outputs()[0];
            let input_shape = dims(&case["input_shape"]);
            if case["dynamic_axes"].as_object().unwrap().is_empty() {
                assert_eq!(
                    g.value(out).static_shape(),
                    Some(dims(&case["output_shape"])),
                    "{file}"
                );
                assert_eq!(
                    g.value(g.inputs()[0]).static_shape(),
                    Some(input_shape),
                    "{file}"
                );
            } else {
                let shape = g.value(g.inputs()[0]).shape.clone().unwrap();
                assert_eq!(shape[0], Dim::Symbol("batch".into()), "{file}");
                assert_eq!(shape[2], Dim::Symbol("time".into()), "{file}");
                assert_eq!(shape[1], Dim::Known(input_shape[1]), "{file}");
            }
            match reach(g, out) {
                Seen::Global => assert!(case["global"].as_bool().unwrap(), "{file}"),
                Seen::Offsets(set) => {
                    assert!(!case["global"].as_bool().unwrap(), "{file}");
                    let (field, holes) = field_and_holes(&set);
                    assert_eq!(field, dims(&case["receptive_field"]), "{file}");
                    assert_eq!(holes, case["hole_count"].as_u64().unwrap(), "{file}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 29);
}

#[test]
fn exporters_write_what_the_ir_records() {
    // Chains: three convolutions at the declared rates, `same` padding, ReLU after each.
    for exporter in ["torchscript", "dynamo"] {
        for (name, rates) in [("chain_2_4_8", [2u64, 4, 8]), ("chain_1_2_5", [1, 2, 5])] {
            let m = load(&format!("models/{name}.{exporter}.onnx"));
            let convs: Vec<_> = m
                .graph
                .nodes()
                .iter()
                .filter_map(|n| n.kind.window())
                .collect();
            assert_eq!(convs.len(), 3);
            for (w, r) in convs.iter().zip(rates) {
                assert_eq!(w.kernel, [3, 3]);
                assert_eq!(w.dilations, [r, r]);
                assert_eq!(w.pads, Some(vec![[r, r], [r, r]]));
                assert_eq!((w.in_channels, w.out_channels), (Some(4), Some(4)));
            }
            assert!(m.graph.nodes().iter().all(|n| n.hazards.is_empty()));
        }
        // WaveNet: causal padding on the left, as a Pad node (TorchScript) or folded into
        // the convolution's pads (dynamo: an asymmetric-pads hazard, deliberate here).
        let m = load(&format!("models/wavenet_block.{exporter}.onnx"));
        let g = &m.graph;
        let mut pads: Vec<Vec<[i64; 2]>> = Vec::new();
        for n in g.nodes() {
            match &n.kind {
                NodeKind::Pad(p) => pads.push(p.pads.clone().unwrap()),
                NodeKind::Conv(w) if w.kernel == [2] && w.pads != Some(vec![[0, 0]]) => {
                    let p = w.pads.as_ref().unwrap()[0];
                    pads.push(vec![[p[0] as i64, p[1] as i64]]);
                    assert!(matches!(
                        n.hazards[..],
                        [dilated_onnx::Hazard::AsymmetricPads {
                            axis: 0,
                            end: 0,
                            ..
                        }]
                    ));
                }
                _ => {}
            }
        }
        assert_eq!(
            pads,
            vec![vec![[1, 0]], vec![[2, 0]], vec![[4, 0]], vec![[8, 0]]],
            "{exporter}"
        );
        let gates = g
            .nodes()
            .iter()
            .filter(|n| n.kind == NodeKind::Merge(Merge::Product))
            .count();
        assert_eq!(gates, 4);
        // TCN: the chomp is a crop at offset 0; the residual is a merge.
        let m = load(&format!("models/tcn.{exporter}.onnx"));
        let crops = m
            .graph
            .nodes()
            .iter()
            .filter(|n| matches!(&n.kind, NodeKind::Crop(c) if c.starts == Some(vec![0]) && c.steps == [1]))
            .count();
        assert_eq!(crops, 8);
        // ASPP: four branches and the image pool, concatenated on channels.
        let m = load(&format!("models/aspp.{exporter}.onnx"));
        let g = &m.graph;
        let rates: Vec<u64> = g
            .nodes()
            .iter()
            .filter_map(|n| n.kind.window())
            .map(|w| w.dilations[0])
            .collect();
        assert_eq!(rates, [1, 6, 12, 18, 1, 1]);
        assert!(
            g.nodes()
                .iter()
                .any(|n| matches!(n.kind, NodeKind::Global(_)))
        );
        let resize = g
            .nodes()
            .iter()
            .find_map(|n| match &n.kind {
                NodeKind::Resize(r) => Some(r.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(resize.scales, Some(vec![33.0, 33.0]));
        assert!(
            g.nodes()
                .iter()
                .any(|n| n.kind == NodeKind::Concat { axis: 1 })
        );
    }
    // The TorchScript exporter's shape chains fold away.
    let m = load("models/wavenet_block.torchscript.onnx");
    assert!(m.graph.folded() > 100, "{}", m.graph.folded());
    // A dynamic TCN: the conv before the chomp has an unknown length, the 1×1 keeps the
    // symbol.
    let m = load("models/tcn_dynamic.torchscript.onnx");
    let g = &m.graph;
    let last = g.value(g.outputs()[0]).shape.clone().unwrap();
    assert_eq!(last[0], Dim::Symbol("batch".into()));
    assert_eq!(last[1], Dim::Known(8));
}

#[test]
fn chains_run_on_the_engine_like_onnx_runtime() {
    for exporter in ["torchscript", "dynamo"] {
        for name in ["chain_2_4_8", "chain_1_2_5"] {
            let m = load(&format!("models/{name}.{exporter}.onnx"));
            let (layers, _rank) = conv_chain(&m.graph).unwrap();
            assert_eq!(layers.len(), 3);
            let input = read_tensor(&format!("models/{name}.input.pb"));
            let expected = read_tensor(&format!("models/{name}.output.pb"));
            let net = Network::new(layers).unwrap();
            let (y, hw) = net.forward(1, [32, 32], &input).unwrap();
            assert_eq!(hw, [32, 32]);
            let err = y
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err <= 1e-4, "{name}.{exporter}: {err}");
        }
    }
    // A graph that is not a chain: the first node it cannot express is named.
    let m = load("models/tcn.torchscript.onnx");
    let e = conv_chain(&m.graph).unwrap_err().to_string();
    assert!(e.contains("node"), "{e}");
}

fn read_tensor(rel: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join(rel)).unwrap();
    dilated_onnx::parse_tensor(bytes)
        .unwrap()
        .to_f32("t")
        .unwrap()
}

#[test]
fn light_models_fold_and_match_onnx_shape_inference() {
    let text = std::fs::read_to_string(fixtures().join("light/shapes.json")).unwrap();
    let all: Json = serde_json::from_str(&text).unwrap();
    let all = all.as_object().unwrap();
    assert_eq!(all.len(), 9);
    for (file, expect) in all {
        let m = load(&format!("light/{file}"));
        let g = &m.graph;
        // Every weight is a constant: the ConstantOfShape splats folded.
        assert!(g.folded() >= 16, "{file}");
        for n in g.nodes() {
            assert!(!matches!(n.kind, NodeKind::Unknown { .. }), "{file}: {n:?}");
            if let NodeKind::Conv(_) = n.kind {
                let w = g.value(n.inputs[1].unwrap());
                let t = w
                    .constant
                    .as_ref()
                    .unwrap_or_else(|| panic!("{file}: {}", n.label()));
                assert!(t.splat_value().is_some() || !t.is_empty());
            }
        }
        let shapes = expect["shapes"].as_object().unwrap();
        let mut compared = 0;
        for (name, dims_j) in shapes {
            let Some(id) = g.find(name) else {
                panic!("{file}: {name} is missing");
            };
            let v = g.value(id);
            assert_eq!(v.static_shape(), Some(dims(dims_j)), "{file}: {name}");
            compared += 1;
        }
        assert!(compared >= 16, "{file}: {compared}");
        let last = expect["last_feature_map"].as_array().unwrap();
        let id = g.find(last[0].as_str().unwrap()).unwrap();
        assert_eq!(g.value(id).static_shape(), Some(dims(&last[1])), "{file}");
    }
    // ResNet-50's last feature map, before the pool, as the issue states it.
    let m = load("light/light_resnet50.onnx");
    let g = &m.graph;
    let pool = g
        .nodes()
        .iter()
        .rev()
        .find(|n| matches!(n.kind, NodeKind::Pool(..)))
        .unwrap();
    let x = pool.data_inputs(g).next().unwrap();
    assert_eq!(g.value(x).static_shape(), Some(vec![1, 2048, 7, 7]));
    // The head: a reshape that flattens, a Gemm, a softmax on the vector.
    let kinds: Vec<&NodeKind> = g.nodes().iter().rev().take(3).map(|n| &n.kind).collect();
    assert_eq!(
        kinds,
        [
            &NodeKind::Pointwise(Pointwise::ChannelMix),
            &NodeKind::Head(Head::Gemm),
            &NodeKind::Head(Head::Flatten)
        ]
    );
}

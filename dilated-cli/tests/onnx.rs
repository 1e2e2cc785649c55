//! `dilated check model.onnx` and `dilated map model.onnx` on the committed fixtures
//! (`fixtures/onnx`): the PyTorch models against the verdicts of the fixtures' gradient
//! oracle (`models/index.json`), the ONNX test data's light models with `--tensor` on
//! their last feature map against a brute-force reachability over positions written here,
//! and bad files and arguments (one line on stderr, exit 2).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dilated_onnx::{Graph, NodeKind, ValueId};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx")
}

fn fixture(rel: &str) -> String {
    fixtures().join(rel).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dilated"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// `check --json` on a model: the object and the exit code, within a second.
fn check(rel: &str, extra: &[&str]) -> (Value, i32) {
    let path = fixture(rel);
    let mut args = vec!["check", path.as_str(), "--json"];
    args.extend_from_slice(extra);
    let t = Instant::now();
    let o = run(&args);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{rel}: {took:?}");
    let code = o.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "{rel}: exit {code}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], code);
    (v, code)
}

fn ints(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// One line on stderr, exit 2, nothing on stdout.
fn refused(args: &[&str], needle: &str) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn pytorch_models_match_the_oracle() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("models/index.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for case in index["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for exporter in case["exporters"].as_array().unwrap() {
            let rel = format!("models/{name}.{}.onnx", exporter.as_str().unwrap());
            let (v, code) = check(&rel, &[]);
            let out = &v["outputs"][0];
            assert_eq!(out["judged"], true, "{rel}");
            assert_eq!(out["global"], case["global"], "{rel}");
            let rank = case["receptive_field"].as_array().unwrap().len();
            assert_eq!(ints(&out["jump"]), vec![1; rank], "{rel}");
            if case["global"] == false {
                // The oracle's field and holes are the analysis's.
                assert_eq!(
                    ints(&out["receptive_field"]),
                    ints(&case["receptive_field"]),
                    "{rel}"
                );
                assert_eq!(out["hole_count"], case["hole_count"], "{rel}");
                assert_eq!(v["hole_count"], case["hole_count"], "{rel}");
                assert_eq!(v["gridding"], case["hole_count"] != 0, "{rel}");
                assert_eq!(code, i32::from(case["hole_count"] != 0), "{rel}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 29);
}

#[test]
fn chains_grid_or_not() {
    for exporter in ["torchscript", "dynamo"] {
        let (v, code) = check(&format!("models/chain_2_4_8.{exporter}.onnx"), &[]);
        assert_eq!((code, &v["verdict"]), (1, &Value::from("error")));
        assert_eq!(v["receptive_field"], 29);
        assert_eq!(v["hole_count"], 616);
        let nodes = v["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3);
        for (n, (rate, rf)) in nodes.iter().zip([(2, 5), (4, 13), (8, 29)]) {
            assert_eq!(n["op"], "Conv");
            assert_eq!(ints(&n["kernel"]), [3, 3]);
            assert_eq!(ints(&n["dilations"]), [rate, rate]);
            assert_eq!(ints(&n["strides"]), [1, 1]);
            assert_eq!(n["pads"], serde_json::json!([[rate, rate], [rate, rate]]));
            assert_eq!(n["group"], 1);
            assert_eq!(ints(&n["receptive_field"]), [rf, rf]);
        }
        // The first conv opens the holes (rate 2 reads only even offsets).
        assert_eq!(v["outputs"][0]["first_hole_node"], nodes[0]["name"]);
        let checks: Vec<&str> = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["check"].as_str().unwrap())
            .collect();
        assert!(
            checks.contains(&"holes") && checks.contains(&"hdc3"),
            "{checks:?}"
        );

        let (v, code) = check(&format!("models/chain_1_2_5.{exporter}.onnx"), &[]);
        assert_eq!((code, &v["verdict"]), (0, &Value::from("ok")));
        assert_eq!(
            (v["receptive_field"].as_u64(), v["gridding"].as_bool()),
            (Some(17), Some(false))
        );
        assert_eq!(v["outputs"][0]["first_hole_node"], Value::Null);
    }
    // The text names the node that opens the holes.
    let o = run(&["check", &fixture("models/chain_2_4_8.torchscript.onnx")]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text.contains("gridding: 616 holes in a receptive field of 29 × 29"),
        "{text}"
    );
    assert!(
        text.contains("first opened by node \"/net/net.0/Conv\""),
        "{text}"
    );
}

#[test]
fn wavenet_aspp_tcn() {
    for exporter in ["torchscript", "dynamo"] {
        // WaveNet: causal kernel-2 convs at rates 1, 2, 4, 8 behind gates and residuals.
        let (v, code) = check(&format!("models/wavenet_block.{exporter}.onnx"), &[]);
        assert_eq!(code, 0);
        assert_eq!(ints(&v["outputs"][0]["receptive_field"]), [16]);
        let hazards = v["hazards"].as_array().unwrap();
        // dynamo folds the causal padding into the convs' pads: one side only.
        assert_eq!(hazards.len(), if exporter == "dynamo" { 4 } else { 0 });
        // ASPP: the image-pooling branch is global context, which fills no hole: the
        // lattices of rates 6, 12, 18 over raw pixels leave holes.
        let (v, code) = check(&format!("models/aspp.{exporter}.onnx"), &[]);
        let out = &v["outputs"][0];
        assert_eq!((code, &out["global"]), (1, &Value::Bool(true)));
        assert_eq!(ints(&out["receptive_field"]), [37, 37]);
        assert!(out["hole_count"].as_u64().unwrap() > 0);
        // TCN: rates 1, 1, 2, 2, 4, 4, 8, 8 see every step; HDC rules 1 and 2 warn.
        let (v, code) = check(&format!("models/tcn.{exporter}.onnx"), &[]);
        assert_eq!((code, &v["verdict"]), (0, &Value::from("warning")));
        assert_eq!(ints(&v["outputs"][0]["receptive_field"]), [61]);
        assert_eq!(v["hole_count"], 0);
    }
    let (v, _) = check("models/tcn_dynamic.torchscript.onnx", &[]);
    assert_eq!(ints(&v["outputs"][0]["receptive_field"]), [61]);
}

/// What one position of `target` reads from the input, by walking the IR backwards over
/// positions (windows with strides and pads, pads, crops, merges), on an infinite grid.
/// `None` when a path goes through a global op.
fn reach(g: &Graph, target: ValueId, at: &[i64]) -> Option<HashSet<Vec<i64>>> {
    let s = g.spatial_rank().unwrap();
    let mut sets: std::collections::HashMap<ValueId, HashSet<Vec<i64>>> = Default::default();
    sets.insert(target, HashSet::from([at.to_vec()]));
    for node in g.nodes().iter().rev() {
        let mut here: HashSet<Vec<i64>> = HashSet::new();
        for o in node.outputs.iter().flatten() {
            if let Some(v) = sets.remove(o) {
                here.extend(v);
            }
        }
        if here.is_empty() {
            continue;
        }
        let into: HashSet<Vec<i64>> = match &node.kind {
            NodeKind::Conv(w) | NodeKind::Pool(_, w) => {
                let pads = w.pads.as_ref().unwrap();
                let mut out = HashSet::new();
                for p in &here {
                    let mut taps = vec![vec![0i64; s]];
                    for ax in 0..s {
                        let mut next = Vec::new();
                        for t in &taps {
                            for k in 0..w.kernel[ax] {
                                let mut t = t.clone();
                                t[ax] = p[ax] * w.strides[ax] as i64 - pads[ax][0] as i64
                                    + (k * w.dilations[ax]) as i64;
                                next.push(t);
                            }
                        }
                        taps = next;
                    }
                    out.extend(taps);
                }
                out
            }
            NodeKind::Pad(p) => {
                let pads = p.pads.as_ref().unwrap();
                here.iter()
                    .map(|x| x.iter().zip(pads).map(|(a, b)| a - b[0]).collect())
                    .collect()
            }
            NodeKind::Crop(c) => {
                let starts = c.starts.as_ref().unwrap();
                here.iter()
                    .map(|x| {
                        (0..s)
                            .map(|a| x[a] * c.steps[a] as i64 + starts[a] as i64)
                            .collect()
                    })
                    .collect()
            }
            NodeKind::Global(_) | NodeKind::Head(_) => return None,
            NodeKind::Pointwise(_)
            | NodeKind::Merge(_)
            | NodeKind::Concat { axis: 1 }
            | NodeKind::Split { axis: 1, .. } => here,
            other => panic!("{}: the walk does not take {other:?}", node.label()),
        };
        for x in node.data_inputs(g) {
            sets.entry(x).or_default().extend(into.iter().cloned());
        }
    }
    sets.remove(&g.inputs()[0])
}

/// Receptive field per axis, smallest offset per axis and holes of a set of positions.
fn field(set: &HashSet<Vec<i64>>) -> (Vec<u64>, Vec<i64>, u64) {
    let s = set.iter().next().unwrap().len();
    let mut rf = Vec::new();
    let mut lo = Vec::new();
    let mut volume = 1u64;
    for ax in 0..s {
        let a = set.iter().map(|p| p[ax]).min().unwrap();
        let b = set.iter().map(|p| p[ax]).max().unwrap();
        rf.push((b - a + 1) as u64);
        lo.push(a);
        volume *= (b - a + 1) as u64;
    }
    (rf, lo, volume - set.len() as u64)
}

#[test]
fn light_models_last_feature_map() {
    // (file, last feature map, receptive field, jump): the field and jump are each
    // model's published figures where one exists (AlexNet 195 at 32, VGG-19's pool5
    // 268 at 32, ResNet-50 427 at 32); every row is checked by the walk below where
    // `walk` is set.
    let cases = [
        ("light_bvlc_alexnet.onnx", "r14", 195, 32, true),
        ("light_zfnet512.onnx", "r14", 155, 32, true),
        ("light_vgg19.onnx", "r36", 268, 32, true),
        ("light_squeezenet.onnx", "r64", 207, 16, true),
        ("light_resnet50.onnx", "r171", 427, 32, false),
        ("light_inception_v1.onnx", "r137", 715, 32, false),
        ("light_inception_v2.onnx", "r504", 699, 32, false),
        ("light_shufflenet.onnx", "r198", 527, 32, false),
        ("light_densenet121.onnx", "r907", 2071, 32, false),
    ];
    let shapes: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("light/shapes.json")).unwrap())
            .unwrap();
    for (file, tensor, rf, jump, walk) in cases {
        assert_eq!(shapes[file]["last_feature_map"][0], tensor, "{file}");
        let (v, code) = check(&format!("light/{file}"), &["--tensor", tensor]);
        let out = &v["outputs"][0];
        assert_eq!(out["name"], tensor);
        assert_eq!((code, &v["verdict"]), (0, &Value::from("ok")), "{file}");
        assert_eq!(ints(&out["receptive_field"]), [rf, rf], "{file}");
        assert_eq!(ints(&out["jump"]), [jump, jump], "{file}");
        assert_eq!(
            (out["hole_count"].as_u64(), out["global"].as_bool()),
            (Some(0), Some(false)),
            "{file}"
        );
        if walk {
            let m = dilated_onnx::read(fixtures().join("light").join(file)).unwrap();
            let g = &m.graph;
            let t = g.find(tensor).unwrap();
            let a = reach(g, t, &[3, 3]).unwrap();
            let b = reach(g, t, &[4, 4]).unwrap();
            let (rf_a, lo_a, holes) = field(&a);
            let (_, lo_b, _) = field(&b);
            assert_eq!(rf_a, [rf, rf], "{file}");
            assert_eq!(holes, 0, "{file}");
            assert_eq!(
                [lo_b[0] - lo_a[0], lo_b[1] - lo_a[1]],
                [jump as i64, jump as i64],
                "{file}"
            );
        }
    }
    // Without --tensor the outputs are the classifiers': global, no local field.
    let (v, code) = check("light/light_resnet50.onnx", &[]);
    assert_eq!(code, 0);
    assert_eq!(v["outputs"][0]["global"], true);
}

#[test]
fn map_of_a_model() {
    let o = run(&["map", &fixture("models/chain_2_4_8.dynamo.onnx"), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let map = v["map"].as_array().unwrap();
    assert_eq!((map.len(), v["cols"].as_u64()), (29, Some(29)));
    let zeros = map
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .filter(|c| c.as_u64() == Some(0))
        .count();
    assert_eq!(zeros, 616);
    // 1D: one row, the TCN's 61 steps.
    let o = run(&[
        "map",
        "--model",
        &fixture("models/tcn.dynamo.onnx"),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["rows"].as_u64(), v["cols"].as_u64()),
        (Some(1), Some(61))
    );
    // A classifier's output has no local map: the error says why and what to pick.
    let o = run(&["map", &fixture("light/light_resnet50.onnx")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no local coverage") && err.contains("--tensor"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_files_and_arguments() {
    let dir = std::env::temp_dir().join(format!("dilated-onnx-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = std::fs::read(fixtures().join("models/tcn.dynamo.onnx")).unwrap();
    for cut in [1, 17, 100, whole.len() / 2, whole.len() - 1] {
        let p = dir.join(format!("cut{cut}.onnx"));
        std::fs::write(&p, &whole[..cut]).unwrap();
        let p = p.display().to_string();
        refused(&["check", &p], "error:");
        refused(&["check", &p, "--json"], "error:");
        refused(&["map", &p], "error:");
    }
    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    refused(&["check", &empty.display().to_string()], "empty");
    refused(
        &["check", &dir.join("missing.onnx").display().to_string()],
        "error:",
    );
    let tcn = fixture("models/tcn.dynamo.onnx");
    refused(&["check", &tcn, "--tensor", "nope"], "no tensor \"nope\"");
    refused(&["check", "Cargo.toml"], "not a model");
    refused(&["check", &tcn, "--rates", "1,2"], "error:");
    refused(&["check", "--tensor", "x", "--rates", "1,2"], "error:");
    let _ = std::fs::remove_dir_all(&dir);
}

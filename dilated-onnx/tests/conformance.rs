//! The ONNX package's own convolution conformance cases (`pytorch-converted/test_Conv1d*`,
//! `test_Conv2d*`; 3D and transposed convolutions skipped): each model is read, its Conv
//! node turned into a `dilated-core` layer, run by the naive reference and by the engine,
//! and compared with the stored output within 1e-4 relative to the output's scale.

mod common;

use common::fixtures;
use dilated_core::conv::conv_reference;
use dilated_core::engine::Network;
use dilated_core::{Activation, ConvDesc};
use dilated_onnx::runtime::conv_from_node;
use dilated_onnx::{NodeId, NodeKind, parse_tensor, read};

fn tensor(path: &std::path::Path) -> (Vec<u64>, Vec<f32>) {
    let t = parse_tensor(std::fs::read(path).unwrap()).unwrap();
    (t.dims().to_vec(), t.to_f32("t").unwrap())
}

#[test]
fn onnx_conv_cases_run_on_the_reference_and_the_engine() {
    let dir = fixtures().join("conformance");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut seen = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let m = read(case.join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = &m.graph;
        assert_eq!(g.nodes().len(), 1, "{name}");
        assert!(matches!(g.nodes()[0].kind, NodeKind::Conv(_)), "{name}");
        let conv = conv_from_node(g, NodeId(0), Activation::Identity)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (xd, x) = tensor(&case.join("test_data_set_0/input_0.pb"));
        let (yd, y) = tensor(&case.join("test_data_set_0/output_0.pb"));
        let batch = xd[0] as usize;
        let hw = |d: &[u64]| -> [usize; 2] {
            match d.len() {
                3 => [1, d[2] as usize],
                4 => [d[2] as usize, d[3] as usize],
                r => panic!("{name}: rank {r}"),
            }
        };
        let (in_hw, out_hw) = (hw(&xd), hw(&yd));
        // The IR's inferred output shape is the stored one.
        let out = g.nodes()[0].outputs[0].unwrap();
        assert_eq!(g.value(out).static_shape(), Some(yd.clone()), "{name}");
        let scale = y.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let check = |what: &str, got: &[f32]| {
            assert_eq!(got.len(), y.len(), "{name} ({what})");
            let err = got
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                err <= 1e-4 * scale,
                "{name} ({what}): {err} against a scale of {scale}"
            );
        };
        let mut reference = vec![0.0; y.len()];
        let got_hw = conv_reference(
            conv.desc(),
            batch,
            in_hw,
            &x,
            conv.weight(),
            conv.bias(),
            &mut reference,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got_hw, out_hw, "{name}");
        check("reference", &reference);
        let desc: ConvDesc = *conv.desc();
        let net = Network::new(vec![conv]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (fast, got_hw) = net.forward(batch, in_hw, &x).unwrap();
        assert_eq!(got_hw, out_hw, "{name}");
        check("engine", &fast);
        seen.push((name, desc.groups, desc.dilation, desc.bias));
    }
    assert_eq!(seen.len(), 19, "{seen:?}");
    // The cases cover dilation, groups, depthwise and no bias.
    assert!(seen.iter().any(|s| s.2 == [2, 2]) && seen.iter().any(|s| s.2 == [1, 2]));
    assert!(seen.iter().any(|s| s.1 == 4) && seen.iter().any(|s| !s.3));
}

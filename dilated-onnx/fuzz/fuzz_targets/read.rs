//! libFuzzer target: any bytes, read as a model (then every Conv converted for the
//! runtime) and as a tensor. A panic, an abort or a runaway allocation is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = dilated_onnx::parse(data.to_vec()) {
        for (i, n) in m.graph.nodes().iter().enumerate() {
            if matches!(n.kind, dilated_onnx::NodeKind::Conv(_)) {
                let _ = dilated_onnx::runtime::conv_from_node(
                    &m.graph,
                    dilated_onnx::NodeId(i),
                    dilated_core::Activation::Identity,
                );
            }
        }
    }
    if let Ok(t) = dilated_onnx::parse_tensor(data.to_vec()) {
        let _ = t.to_f32("t");
    }
});

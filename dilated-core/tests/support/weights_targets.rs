//! What the weights fuzz harnesses share: the stack and the model every input is loaded
//! into, the seed files (valid files those two accept), and the check a load must pass.
//! Declared by `tests/fuzz_weights.rs` (`mod support;`) and included by path in the
//! `cargo fuzz` target `fuzz/fuzz_targets/weights.rs` (one definition, both harnesses).

#![allow(dead_code)] // each including crate uses some of the items

use dilated_core::conv::Rank;
use dilated_core::model::{ModelBuilder, ModelGraph, WeightNorm};
use dilated_core::stack::StackBuilder;
use dilated_core::weights::Weights;
use dilated_core::{Activation, ConvDesc};

/// conv(3→4, 3×3, rate 1, relu) at module 0, conv(4→4, 3×3, rate 2) at module 2.
pub(crate) fn stack() -> StackBuilder {
    StackBuilder::new(Rank::Two)
        .conv(ConvDesc {
            activation: Activation::Relu,
            ..ConvDesc::same_2d(3, 4, 3, 1)
        })
        .conv(ConvDesc::same_2d(4, 4, 3, 2))
}

/// A TCN-like 1D model: a weight-normalised causal conv (`features.0`), a batch norm
/// (`features.1`), a PReLU (`features.2`) and a plain conv (`head`): every kind of tensor
/// the model loader takes.
pub(crate) fn graph() -> ModelGraph {
    let mut b = ModelBuilder::new(Rank::One, 2);
    let x = b.input();
    let h = b
        .conv(
            x,
            "features.0",
            ConvDesc::causal_1d(2, 3, 2, 2),
            WeightNorm::Parametrization,
        )
        .expect("conv");
    let h = b.batch_norm(h, "features.1", 1e-5).expect("batch norm");
    let h = b.prelu(h, "features.2", 3).expect("prelu");
    let y = b
        .conv(h, "head", ConvDesc::causal_1d(3, 2, 3, 1), WeightNorm::None)
        .expect("conv");
    b.output(y).expect("output");
    b.build().expect("graph")
}

/// `w` with every tensor re-encoded as `dtype` (`F16` or `BF16`), written by hand.
fn reencoded(w: &Weights, dtype: safetensors::Dtype) -> Vec<u8> {
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .names()
        .map(|n| {
            let values = w.get(n).expect("present").expect("f32");
            let bytes = values
                .iter()
                .flat_map(|&v| {
                    if dtype == safetensors::Dtype::BF16 {
                        half::bf16::from_f32(v).to_le_bytes()
                    } else {
                        half::f16::from_f32(v).to_le_bytes()
                    }
                })
                .collect();
            (n.to_owned(), w.shape(n).expect("present").to_vec(), bytes)
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = raw
        .iter()
        .map(|(n, s, b)| {
            (
                n.as_str(),
                safetensors::tensor::TensorView::new(dtype, s.clone(), b).expect("view"),
            )
        })
        .collect();
    safetensors::serialize(views, None).expect("serialise")
}

/// Valid files, named: what the stack and the model accept, in `F32`, `F16` and `BF16`,
/// and an empty set of tensors.
pub(crate) fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let s = stack()
        .init(7)
        .expect("stack")
        .to_weights()
        .expect("weights");
    let m = graph()
        .init(7)
        .expect("model")
        .to_weights()
        .expect("weights");
    vec![
        ("seed-stack-f32", s.to_safetensors_bytes().expect("bytes")),
        ("seed-stack-f16", reencoded(&s, safetensors::Dtype::F16)),
        ("seed-stack-bf16", reencoded(&s, safetensors::Dtype::BF16)),
        ("seed-model-f32", m.to_safetensors_bytes().expect("bytes")),
        ("seed-model-bf16", reencoded(&m, safetensors::Dtype::BF16)),
        (
            "seed-empty",
            Weights::new().to_safetensors_bytes().expect("bytes"),
        ),
    ]
}

/// Loads `bytes` as a weight set, into the stack and into the model. Each answer must be a
/// value or an error whose message is one line; a panic is the finding.
pub(crate) fn load(bytes: &[u8]) {
    fn one_line(entry: &str, message: &str) {
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{entry}: the error is not one line: {message:?}"
        );
    }
    match Weights::from_safetensors_bytes(bytes) {
        Ok(w) => {
            // Every tensor's values are readable or a typed dtype error.
            let names: Vec<String> = w.names().map(str::to_owned).collect();
            for n in &names {
                if let Some(Err(e)) = w.get(n) {
                    one_line("Weights::get", &e.to_string());
                }
            }
        }
        Err(e) => one_line("Weights", &e.to_string()),
    }
    if let Err(e) = stack().from_safetensors_bytes(bytes) {
        one_line("Stack", &e.to_string());
    }
    if let Err(e) = graph().from_safetensors_bytes(bytes) {
        one_line("Model", &e.to_string());
    }
}

//! Stacks declared with `dilated_stack!` and loaded from safetensors files that PyTorch
//! wrote (`fixtures/stack/`, made by `scripts/make_fixtures.py`; see `fixtures/README.md`)
//! give PyTorch's outputs within 1e-4.
//!
//! Each stack below is the declaration its fixture's JSON describes; the test also checks
//! the declaration against the JSON (module indices, padding, shapes), so the two cannot
//! drift apart silently.

use std::path::{Path, PathBuf};

use dilated::Error;
use dilated::weights::Weights;
use serde_json::Value;

dilated::dilated_stack! {
    // The fixtures' inputs are smaller than these receptive fields: allowed knowingly.
    struct Hdc125Relu {
        input: [3, 16, 16],
        kernel: 3,
        rates: [1, 2, 5],
        channels: 8,
        activation: relu,
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    struct Hdc125125Gelu {
        input: [4, 24, 20],
        kernel: 3,
        rates: [1, 2, 5, 1, 2, 5],
        channels: 6,
        activation: gelu,
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    struct Tanh123 {
        input: [3, 12, 12],
        kernel: 3,
        rates: [1, 2, 3],
        activation: tanh,
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    struct Sigmoid12 { input: [2, 10, 14], kernel: 3, rates: [1, 2], channels: 5, activation: sigmoid }
}

dilated::dilated_stack! {
    struct Silu1d135 { input: [3, 40], kernel: 3, rates: [1, 3, 5], channels: 4, activation: silu }
}

dilated::dilated_stack! {
    // Even kernel, `same`: PyTorch's asymmetric split ([0, 1], then [1, 1]).
    struct ReluK2Same12 { input: [2, 9, 11], kernel: 2, rates: [1, 2], channels: 3, activation: relu }
}

dilated::dilated_stack! {
    // ReLU between the convs, none after the last: the per-layer form.
    struct Relu125NoLastAct {
        input: [4, 16, 16],
        layers: [
            conv(4 -> 4, kernel: 3, rate: 1), relu,
            conv(4 -> 4, kernel: 3, rate: 2), relu,
            conv(4 -> 4, kernel: 3, rate: 5),
        ],
        check: { long_range: allow },
    }
}

dilated::dilated_stack! {
    // Causal WaveNet-style, run on any length (`_`).
    struct WavenetCausalK2Leaky {
        input: [2, _],
        layers: [
            conv(2 -> 4, kernel: 2, rate: 1, padding: causal), leaky_relu(0.2),
            conv(4 -> 4, kernel: 2, rate: 2, padding: causal), leaky_relu(0.2),
            conv(4 -> 4, kernel: 2, rate: 4, padding: causal), leaky_relu(0.2),
            conv(4 -> 4, kernel: 2, rate: 8, padding: causal), leaky_relu(0.2),
        ],
    }
}

fn fixture(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/stack")
        .join(format!("{name}.{ext}"))
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| usize::try_from(x.as_u64().expect("a number")).expect("fits"))
        .collect()
}

/// What a generated stack exposes, for one generic check.
struct Declared {
    module_indices: Vec<usize>,
    padding: Vec<[[usize; 2]; 2]>,
    input_shape: [usize; 3],
    output_shape: [usize; 3],
}

fn check(
    name: &str,
    declared: &Declared,
    load: impl Fn(&Path) -> Result<Box<dyn Fn(usize, &[f32]) -> Result<Vec<f32>, Error>>, Error>,
) {
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(name, "json")).expect("fixture json"),
    )
    .expect("valid json");
    let tolerance = json["tolerance_abs"].as_f64().expect("tolerance") as f32;
    assert!(tolerance <= 1e-4);
    let layers = json["layers"].as_array().expect("layers");
    let indices: Vec<usize> = layers
        .iter()
        .map(|l| usize::try_from(l["index"].as_u64().expect("index")).expect("fits"))
        .collect();
    assert_eq!(declared.module_indices, indices, "{name}: module indices");
    for (i, l) in layers.iter().enumerate() {
        let p: Vec<Vec<usize>> = l["padding"]
            .as_array()
            .expect("padding")
            .iter()
            .map(usizes)
            .collect();
        assert_eq!(
            declared.padding[i],
            [[p[0][0], p[0][1]], [p[1][0], p[1][1]]],
            "{name}: padding of layer {i}"
        );
    }
    let in_shape = usizes(&json["input_shape"]);
    let out_shape = usizes(&json["output_shape"]);
    let batch = in_shape[0];
    // [N, C, H, W] or [N, C, L]; the declared shapes are [C, H, W] with H = 1 in 1D and 0
    // for a size known only at run time.
    let matches = |declared: [usize; 3], actual: &[usize]| {
        let chw = if actual.len() == 3 {
            [actual[1], 1, actual[2]]
        } else {
            [actual[1], actual[2], actual[3]]
        };
        declared.iter().zip(chw).all(|(&d, a)| d == 0 || d == a)
    };
    assert!(
        matches(declared.input_shape, &in_shape),
        "{name}: input shape"
    );
    assert!(
        matches(declared.output_shape, &out_shape),
        "{name}: output shape"
    );

    let mut io = Weights::from_safetensors(fixture(name, "io.safetensors")).expect("io file");
    let input = io.take("input", &in_shape).expect("input tensor");
    let expected = io.take("output", &out_shape).expect("output tensor");
    let forward = load(&fixture(name, "safetensors")).expect("weights load");
    let got = forward(batch, &input).expect("forward");
    assert_eq!(got.len(), expected.len(), "{name}: output length");
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= tolerance, "{name}: max |rust − torch| = {worst}");
}

macro_rules! case {
    ($test:ident, $ty:ident, $name:literal) => {
        #[test]
        fn $test() {
            let declared = Declared {
                module_indices: $ty::MODULE_INDICES.to_vec(),
                padding: $ty::PADDING.to_vec(),
                input_shape: $ty::INPUT_SHAPE,
                output_shape: $ty::OUTPUT_SHAPE,
            };
            check($name, &declared, |path| {
                let net = $ty::from_safetensors(path)?;
                Ok(Box::new(move |batch, x| net.forward_nchw(batch, x)))
            });
        }
    };
}

case!(hdc_125_relu, Hdc125Relu, "hdc_125_relu");
case!(hdc_125125_gelu, Hdc125125Gelu, "hdc_125125_gelu");
case!(tanh_123, Tanh123, "tanh_123");
case!(sigmoid_12, Sigmoid12, "sigmoid_12");
case!(silu_1d_same_135, Silu1d135, "silu_1d_same_135");
case!(relu_k2_same_12, ReluK2Same12, "relu_k2_same_12");
case!(
    relu_125_no_last_act,
    Relu125NoLastAct,
    "relu_125_no_last_act"
);
case!(
    wavenet_causal_k2_leaky,
    WavenetCausalK2Leaky,
    "wavenet_causal_k2_leaky"
);

/// A file for another stack is refused with an error that names the tensor.
#[test]
fn wrong_weights_are_typed_errors() {
    let err = Tanh123::from_safetensors(fixture("hdc_125_relu", "safetensors")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("0.weight"), "{text}");
    let err = Hdc125Relu::from_safetensors(fixture("no_such_fixture", "safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

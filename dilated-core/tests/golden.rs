//! Golden fixtures made by PyTorch (`scripts/make_fixtures.py`, described in
//! `fixtures/README.md`): every case is loaded through the runtime's weights, layer and
//! stack API and must give PyTorch's output within the fixture's tolerance (1e-4 absolute).
//!
//! The untyped tests read every case listed in `fixtures/index.json`, so a new fixture is
//! covered without touching this file; the typed tests spell a few cases out as the
//! const-generic types `dilated_stack!` expands to.

use std::path::{Path, PathBuf};

use dilated_core::conv::Rank;
use dilated_core::engine::Kernel;
use dilated_core::stack::{Conv1d, Conv2d, ModuleSpec, Pad1d, Pad2d, Stack, TypedStack};
use dilated_core::tensor::{DYN, Tensor, Tensor1d, Tensor2d};
use dilated_core::weights::Weights;
use dilated_core::{Activation, ConvDesc, Error};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn usize_of(v: &Value) -> usize {
    usize::try_from(v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))).unwrap()
}

fn shape_of(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(usize_of).collect()
}

/// `[a, b]` for a 2D field, `[1, k]` for a 1D number (`fill` is the height value).
fn pair(v: &Value, fill: usize) -> [usize; 2] {
    match v.as_array() {
        Some(a) => [usize_of(&a[0]), usize_of(&a[1])],
        None => [fill, usize_of(v)],
    }
}

fn activation(v: &Value) -> Activation {
    match v["name"].as_str().unwrap() {
        "none" => Activation::Identity,
        "relu" => Activation::Relu,
        #[allow(clippy::cast_possible_truncation)]
        "leaky_relu" => Activation::LeakyRelu(v["slope"].as_f64().unwrap() as f32),
        "gelu" => {
            assert_eq!(v["approximate"], "none", "only the exact GELU is supported");
            Activation::Gelu
        }
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "silu" => Activation::Silu,
        other => panic!("unknown activation {other}"),
    }
}

/// A descriptor from a conv case or a stack layer record.
fn desc_of(v: &Value, bias_key: &str) -> ConvDesc {
    let p = v["padding"].as_array().unwrap();
    ConvDesc {
        in_channels: usize_of(&v["in_channels"]),
        out_channels: usize_of(&v["out_channels"]),
        groups: usize_of(&v["groups"]),
        kernel: pair(&v["kernel"], 1),
        dilation: pair(&v["dilation"], 1),
        stride: pair(&v["stride"], 1),
        padding: [pair(&p[0], 0), pair(&p[1], 0)],
        bias: v[bias_key].as_bool().unwrap(),
        activation: activation(&v["activation"]),
    }
}

fn rank_of(v: &Value) -> Rank {
    match usize_of(&v["dims"]) {
        1 => Rank::One,
        2 => Rank::Two,
        d => panic!("dims {d}"),
    }
}

/// `[n, c, h, w]` from a JSON `[n, c, h, w]` or `[n, c, l]`.
fn nchw(shape: &[usize]) -> [usize; 4] {
    match *shape {
        [n, c, l] => [n, c, 1, l],
        [n, c, h, w] => [n, c, h, w],
        _ => panic!("bad shape {shape:?}"),
    }
}

/// The `input` and `output` tensors of a case's `.io.safetensors` (strict: nothing else).
fn io(dir: &Path, name: &str, case: &Value) -> (Tensor, Tensor) {
    let mut w = Weights::from_safetensors(dir.join(format!("{name}.io.safetensors"))).unwrap();
    let in_shape = shape_of(&case["input_shape"]);
    let out_shape = shape_of(&case["output_shape"]);
    let x = w.take("input", &in_shape).unwrap();
    let y = w.take("output", &out_shape).unwrap();
    w.finish().unwrap();
    (
        Tensor::from_vec(nchw(&in_shape), x).unwrap(),
        Tensor::from_vec(nchw(&out_shape), y).unwrap(),
    )
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn tolerance(case: &Value) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let t = case["tolerance_abs"].as_f64().unwrap() as f32;
    assert!(t > 0.0 && t <= 1e-4);
    t
}

fn names(kind: &str) -> Vec<String> {
    let index = json(&fixtures().join("index.json"));
    let list: Vec<String> = index[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(!list.is_empty(), "no {kind} fixtures listed");
    list
}

/// Every kernel family this CPU runs (the others are reported and skipped).
fn kernels() -> Vec<Kernel> {
    Kernel::ALL
        .into_iter()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                eprintln!("skipping {k:?}: this CPU lacks it");
            }
            ok
        })
        .collect()
}

/// Loads a single-conv case's weights strictly (`weight`, `bias`).
fn conv_layer(dir: &Path, name: &str, case: &Value) -> (ConvDesc, Rank, Stack) {
    let desc = desc_of(case, "bias");
    let rank = rank_of(case);
    let mut w = Weights::from_safetensors(dir.join(format!("{name}.safetensors"))).unwrap();
    assert_eq!(
        w.shape("weight"),
        Some(shape_of(&case["weight_shape"]).as_slice())
    );
    let layer = w.take_conv_prefixed("", desc, rank).unwrap();
    w.finish().unwrap();
    (desc, rank, Stack::new(rank, vec![(0, layer)]).unwrap())
}

#[test]
fn every_conv_fixture_matches_pytorch() {
    let dir = fixtures().join("conv");
    for name in names("conv") {
        let case = json(&dir.join(format!("{name}.json")));
        let (_, _, stack) = conv_layer(&dir, &name, &case);
        let (x, want) = io(&dir, &name, &case);
        for kernel in kernels() {
            let stack = stack.clone().with_kernel(kernel).unwrap();
            let got = stack.forward(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.shape(), want.shape(), "{name}: output shape");
            let diff = max_abs_diff(got.as_slice(), want.as_slice());
            assert!(
                diff <= tolerance(&case),
                "{name} ({kernel:?}): max |diff| = {diff:e}"
            );
        }
    }
}

#[test]
fn every_stack_fixture_matches_pytorch() {
    let dir = fixtures().join("stack");
    for name in names("stack") {
        let case = json(&dir.join(format!("{name}.json")));
        let rank = rank_of(&case);
        let specs: Vec<ModuleSpec> = case["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| ModuleSpec::new(usize_of(&l["index"]), rank, desc_of(l, "has_bias")))
            .collect();
        let stack = Stack::from_safetensors(&specs, dir.join(format!("{name}.safetensors")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (x, want) = io(&dir, &name, &case);
        for kernel in kernels() {
            for threads in [1, 2] {
                let stack = stack
                    .clone()
                    .with_kernel(kernel)
                    .and_then(|s| s.with_threads(threads))
                    .unwrap();
                let (got, hw) = stack
                    .forward_nchw(x.batch(), x.hw(), x.as_slice())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(hw, want.hw(), "{name}: output size");
                let diff = max_abs_diff(&got, want.as_slice());
                assert!(
                    diff <= tolerance(&case),
                    "{name} ({kernel:?}, {threads} threads): max |diff| = {diff:e}"
                );
            }
        }

        // Saving and loading again reproduces the same stack, bit for bit.
        let again =
            Stack::from_safetensors_bytes(&specs, &stack.to_safetensors_bytes().unwrap()).unwrap();
        assert_eq!(again, stack, "{name}: round trip");
    }
}

/// `StackBuilder` numbers the modules as the fixtures' `nn.Sequential`s do.
#[test]
fn stack_builder_numbers_modules_as_pytorch() {
    let dir = fixtures().join("stack");
    for name in names("stack") {
        let case = json(&dir.join(format!("{name}.json")));
        let layers = case["layers"].as_array().unwrap();
        let mut builder = dilated_core::stack::StackBuilder::new(rank_of(&case));
        for l in layers {
            builder = builder.conv(desc_of(l, "has_bias"));
        }
        let from_builder: Vec<usize> = builder.specs().iter().map(|s| s.module).collect();
        let from_torch: Vec<usize> = layers.iter().map(|l| usize_of(&l["index"])).collect();
        // Activations follow every conv but possibly the last, which takes no index.
        assert_eq!(from_builder, from_torch, "{name}");
        builder
            .from_safetensors(dir.join(format!("{name}.safetensors")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---- typed shells, written out as dilated_stack! would ----

#[test]
fn typed_conv2d_k3_d2_same() {
    let dir = fixtures().join("conv");
    let case = json(&dir.join("k3_d2_same.json"));
    let (x, want) = io(&dir, "k3_d2_same", &case);
    let mut w = Weights::from_safetensors(dir.join("k3_d2_same.safetensors")).unwrap();
    type L = Conv2d<4, 5, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
    let desc = L::descriptor(true, Activation::Identity);
    assert_eq!(desc, desc_of(&case, "bias"));
    let conv = L::from_conv(w.take_conv_prefixed("", desc, Rank::Two).unwrap()).unwrap();
    w.finish().unwrap();
    let [_, _, h, wd] = x.shape();
    let x: Tensor2d<4, DYN, DYN> = Tensor2d::new(x).unwrap();
    let y: Tensor2d<5, DYN, DYN> = conv.forward(&x).unwrap();
    assert_eq!(y.hw(), [h, wd]);
    assert!(max_abs_diff(y.as_slice(), want.as_slice()) <= tolerance(&case));
}

#[test]
fn typed_conv1d_causal() {
    let dir = fixtures().join("conv");
    let case = json(&dir.join("causal1d_k3_d2.json"));
    let (x, want) = io(&dir, "causal1d_k3_d2", &case);
    let mut w = Weights::from_safetensors(dir.join("causal1d_k3_d2.safetensors")).unwrap();
    type L = Conv1d<3, 4, 3, 2, 1, 1, Pad1d<4, 0>>;
    let desc = L::descriptor(true, Activation::Identity);
    assert_eq!(desc, desc_of(&case, "bias"));
    let conv = L::from_conv(w.take_conv_prefixed("", desc, Rank::One).unwrap()).unwrap();
    let x: Tensor1d<3, 20> = Tensor1d::new(x).unwrap();
    let y: Tensor1d<4, 20> = conv.forward(&x).unwrap();
    assert!(max_abs_diff(y.as_slice(), want.as_slice()) <= tolerance(&case));
}

/// `hdc_125_relu`: `[3, 16, 16]`, kernel 3, rates `[1, 2, 5]`, 8 channels, ReLU.
#[test]
fn typed_stack_hdc_125_relu() {
    type L0 = Conv2d<3, 8, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>;
    type L1 = Conv2d<8, 8, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
    type L2 = Conv2d<8, 8, 3, 3, 5, 5, 1, 1, 1, Pad2d<5, 5, 5, 5>>;
    const LAYERS: [ModuleSpec; 3] = [
        ModuleSpec::new(0, Rank::Two, L0::descriptor(true, Activation::Relu)),
        ModuleSpec::new(2, Rank::Two, L1::descriptor(true, Activation::Relu)),
        ModuleSpec::new(4, Rank::Two, L2::descriptor(true, Activation::Relu)),
    ];
    let dir = fixtures().join("stack");
    let case = json(&dir.join("hdc_125_relu.json"));
    let (x, want) = io(&dir, "hdc_125_relu", &case);
    let stack: TypedStack<Tensor2d<3, 16, 16>, Tensor2d<8, 16, 16>> =
        TypedStack::from_safetensors(&LAYERS, dir.join("hdc_125_relu.safetensors")).unwrap();
    let l1: L1 = stack.layer(1).unwrap();
    assert_eq!(l1.activation(), Activation::Relu);
    let x = Tensor2d::<3, 16, 16>::new(x).unwrap();
    let y = stack.forward(&x).unwrap();
    assert!(max_abs_diff(y.as_slice(), want.as_slice()) <= tolerance(&case));
    let flat = stack.forward_nchw(1, x.as_slice()).unwrap();
    assert_eq!(flat, y.as_slice());
    // The wrong layer type for index 1 is a typed error, not a panic.
    assert!(matches!(stack.layer::<L2>(1), Err(Error::Shape { .. })));
}

/// `wavenet_causal_k2_leaky`: 1D causal, k2, rates 1, 2, 4, 8, 2 → 4 channels,
/// leaky ReLU 0.2, batch 2, run with a dynamic length.
#[test]
fn typed_stack_wavenet_dynamic_length() {
    const fn layer(ci: usize, d: usize) -> ConvDesc {
        ConvDesc {
            in_channels: ci,
            out_channels: 4,
            groups: 1,
            kernel: [1, 2],
            dilation: [1, d],
            stride: [1, 1],
            padding: [[0, 0], [d, 0]],
            bias: true,
            activation: Activation::LeakyRelu(0.2),
        }
    }
    const LAYERS: [ModuleSpec; 4] = [
        ModuleSpec::new(0, Rank::One, layer(2, 1)),
        ModuleSpec::new(2, Rank::One, layer(4, 2)),
        ModuleSpec::new(4, Rank::One, layer(4, 4)),
        ModuleSpec::new(6, Rank::One, layer(4, 8)),
    ];
    assert_eq!(
        LAYERS[1].desc,
        Conv1d::<4, 4, 2, 2, 1, 1, Pad1d<2, 0>>::descriptor(true, Activation::LeakyRelu(0.2))
    );
    let dir = fixtures().join("stack");
    let case = json(&dir.join("wavenet_causal_k2_leaky.json"));
    let (x, want) = io(&dir, "wavenet_causal_k2_leaky", &case);
    let stack: TypedStack<Tensor1d<2, DYN>, Tensor1d<4, DYN>> = TypedStack::from_safetensors_bytes(
        &LAYERS,
        &std::fs::read(dir.join("wavenet_causal_k2_leaky.safetensors")).unwrap(),
    )
    .unwrap();
    // forward_nchw infers the dynamic length from the data.
    let got = stack.forward_nchw(2, x.as_slice()).unwrap();
    assert!(max_abs_diff(&got, want.as_slice()) <= tolerance(&case));
    let y = stack.forward(&Tensor1d::new(x).unwrap()).unwrap();
    assert_eq!(y.len(), 48);
    assert_eq!(y.as_slice(), got.as_slice());
}

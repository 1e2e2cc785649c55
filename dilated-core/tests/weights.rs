//! Weights: safetensors round trips with PyTorch names, and every loading error, each a
//! typed error that names the tensor.

use std::collections::HashMap;

use dilated_core::conv::Conv;
use dilated_core::conv::Rank;
use dilated_core::init::Init;
use dilated_core::stack::{ModuleSpec, Stack, StackBuilder};
use dilated_core::weights::{Weights, conv_weight_shape};
use dilated_core::{Activation, ConvDesc, Error};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

fn relu(d: ConvDesc) -> ConvDesc {
    ConvDesc {
        activation: Activation::Relu,
        ..d
    }
}

/// conv(3→4, rate 1), relu, conv(4→4, rate 2), relu: `0.*` and `2.*`.
fn specs() -> Vec<ModuleSpec> {
    StackBuilder::new(Rank::Two)
        .conv(relu(ConvDesc::same_2d(3, 4, 3, 1)))
        .conv(relu(ConvDesc::same_2d(4, 4, 3, 2)))
        .specs()
        .to_vec()
}

/// Serialises raw tensors `(name, dtype, shape, bytes)`.
fn raw_file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The stack's tensors as raw F32 entries, with `edit` applied.
fn stack_file(edit: impl FnOnce(&mut Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let stack = Stack::init(&specs(), 3).unwrap();
    let l = stack.layers();
    let mut t = vec![
        (
            "0.weight",
            Dtype::F32,
            vec![4, 3, 3, 3],
            f32_bytes(l[0].weight()),
        ),
        (
            "0.bias",
            Dtype::F32,
            vec![4],
            f32_bytes(l[0].bias().unwrap()),
        ),
        (
            "2.weight",
            Dtype::F32,
            vec![4, 4, 3, 3],
            f32_bytes(l[1].weight()),
        ),
        (
            "2.bias",
            Dtype::F32,
            vec![4],
            f32_bytes(l[1].bias().unwrap()),
        ),
    ];
    edit(&mut t);
    raw_file(&t)
}

#[test]
fn round_trip_bytes_keeps_every_weight() {
    let stack = Stack::init(&specs(), 11).unwrap();
    let bytes = stack.to_safetensors_bytes().unwrap();
    let back = Stack::from_safetensors_bytes(&specs(), &bytes).unwrap();
    assert_eq!(back, stack);
    // The names and shapes are PyTorch's.
    let w = Weights::from_safetensors_bytes(&bytes).unwrap();
    let names: Vec<&str> = w.names().collect();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    assert_eq!(w.shape("0.weight"), Some(&[4, 3, 3, 3][..]));
    assert_eq!(w.shape("2.bias"), Some(&[4][..]));
}

#[test]
fn round_trip_file() {
    let dir = std::env::temp_dir().join(format!("dilated-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stack.safetensors");
    let stack = Stack::init(&specs(), 5).unwrap();
    stack.save_safetensors(&path).unwrap();
    let back = Stack::from_safetensors(&specs(), &path).unwrap();
    assert_eq!(back, stack);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn round_trip_1d_uses_three_axis_weights() {
    let specs = StackBuilder::new(Rank::One)
        .conv(ConvDesc::causal_1d(2, 3, 2, 1))
        .conv(ConvDesc::causal_1d(3, 3, 2, 2))
        .specs()
        .to_vec();
    let stack = Stack::init(&specs, 1).unwrap();
    let bytes = stack.to_safetensors_bytes().unwrap();
    let w = Weights::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(w.shape("0.weight"), Some(&[3, 2, 2][..]));
    assert_eq!(w.shape("1.weight"), Some(&[3, 3, 2][..]));
    assert_eq!(
        Stack::from_safetensors_bytes(&specs, &bytes).unwrap(),
        stack
    );
}

#[test]
fn layer_without_bias_writes_and_needs_no_bias() {
    let desc = ConvDesc {
        bias: false,
        ..ConvDesc::same_2d(2, 2, 3, 1)
    };
    let specs = [ModuleSpec::new(0, Rank::Two, desc)];
    let stack = Stack::init(&specs, 0).unwrap();
    let bytes = stack.to_safetensors_bytes().unwrap();
    let names: Vec<String> = Weights::from_safetensors_bytes(&bytes)
        .unwrap()
        .names()
        .map(str::to_owned)
        .collect();
    assert_eq!(names, ["0.weight"]);
    assert_eq!(
        Stack::from_safetensors_bytes(&specs, &bytes).unwrap(),
        stack
    );
}

#[test]
fn missing_tensor_is_named() {
    let bytes = stack_file(|t| t.retain(|e| e.0 != "2.bias"));
    let err = Stack::from_safetensors_bytes(&specs(), &bytes).unwrap_err();
    assert_eq!(
        err,
        Error::MissingTensor {
            name: "2.bias".into()
        }
    );
    assert!(err.to_string().contains("`2.bias`"));
}

#[test]
fn wrong_shape_names_expected_and_actual() {
    // Transposed in/out channels: the same element count, the wrong shape.
    let bytes = stack_file(|t| t[0].2 = vec![3, 4, 3, 3]);
    let err = Stack::from_safetensors_bytes(&specs(), &bytes).unwrap_err();
    assert_eq!(
        err,
        Error::WeightShape {
            name: "0.weight".into(),
            expected: vec![4, 3, 3, 3],
            actual: vec![3, 4, 3, 3],
        }
    );
    // A 1D weight for a 2D layer.
    let bytes = stack_file(|t| {
        t[2].2 = vec![4, 4, 9];
    });
    assert!(matches!(
        Stack::from_safetensors_bytes(&specs(), &bytes),
        Err(Error::WeightShape { name, .. }) if name == "2.weight"
    ));
}

#[test]
fn f64_is_rejected_with_the_dtype() {
    let bytes = stack_file(|t| {
        let v: Vec<u8> = (0..4).flat_map(|i| f64::from(i).to_le_bytes()).collect();
        t[1] = ("0.bias", Dtype::F64, vec![4], v);
    });
    let err = Stack::from_safetensors_bytes(&specs(), &bytes).unwrap_err();
    assert_eq!(
        err,
        Error::WeightDtype {
            name: "0.bias".into(),
            dtype: "F64".into()
        }
    );
    assert!(err.to_string().contains("F64"));
    // An integer tensor too.
    let bytes = stack_file(|t| t[3] = ("2.bias", Dtype::I32, vec![4], vec![0; 16]));
    assert!(matches!(
        Stack::from_safetensors_bytes(&specs(), &bytes),
        Err(Error::WeightDtype { name, dtype }) if name == "2.bias" && dtype == "I32"
    ));
}

#[test]
fn f16_and_bf16_are_widened_exactly() {
    let values = [0.5f32, -1.25, 3.0, 65504.0];
    let f16: Vec<u8> = values
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = values
        .iter()
        .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
        .collect();
    let bytes = raw_file(&[
        ("a", Dtype::F16, vec![4], f16),
        ("b", Dtype::BF16, vec![2, 2], bf16),
    ]);
    let mut w = Weights::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(w.take("a", &[4]).unwrap(), values);
    let b = w.take("b", &[2, 2]).unwrap();
    let expected: Vec<f32> = values
        .iter()
        .map(|v| half::bf16::from_f32(*v).to_f32())
        .collect();
    assert_eq!(b, expected);
    w.finish().unwrap();
}

#[test]
fn extra_tensors_are_listed() {
    let bytes = stack_file(|t| {
        t.push(("4.weight", Dtype::F32, vec![1], f32_bytes(&[1.0])));
        t.push(("1.running_mean", Dtype::F32, vec![1], f32_bytes(&[1.0])));
    });
    let err = Stack::from_safetensors_bytes(&specs(), &bytes).unwrap_err();
    assert_eq!(
        err,
        Error::UnexpectedTensors {
            names: vec!["1.running_mean".into(), "4.weight".into()]
        }
    );
    // A bias for a layer declared without one is an extra tensor too.
    let no_bias: Vec<ModuleSpec> = specs()
        .into_iter()
        .map(|s| ModuleSpec {
            desc: ConvDesc {
                bias: false,
                ..s.desc
            },
            ..s
        })
        .collect();
    let err = Stack::from_safetensors_bytes(&no_bias, &stack_file(|_| {})).unwrap_err();
    assert_eq!(
        err,
        Error::UnexpectedTensors {
            names: vec!["0.bias".into(), "2.bias".into()]
        }
    );
}

#[test]
fn lenient_loading_returns_the_extra_names() {
    let bytes = stack_file(|t| t.push(("9.weight", Dtype::F32, vec![1], f32_bytes(&[1.0]))));
    let w = Weights::from_safetensors_bytes(&bytes).unwrap();
    let (stack, extra) = Stack::from_weights_lenient(&specs(), w).unwrap();
    assert_eq!(extra, ["9.weight"]);
    assert_eq!(stack, Stack::init(&specs(), 3).unwrap());
    // Still strict about what the layers need.
    let bytes = stack_file(|t| t.retain(|e| e.0 != "0.weight"));
    let w = Weights::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(
        Stack::from_weights_lenient(&specs(), w).unwrap_err(),
        Error::MissingTensor {
            name: "0.weight".into()
        }
    );
}

#[test]
fn io_error_names_the_file() {
    let path = std::env::temp_dir().join("dilated-no-such-dir/none.safetensors");
    let err = Stack::from_safetensors(&specs(), &path).unwrap_err();
    match err {
        Error::Io {
            action,
            path: p,
            kind,
            ..
        } => {
            assert_eq!(action, "read");
            assert!(p.contains("none.safetensors"));
            assert_eq!(kind, std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    let stack = Stack::init(&specs(), 0).unwrap();
    assert!(matches!(
        stack.save_safetensors(&path),
        Err(Error::Io {
            action: "write",
            ..
        })
    ));
}

#[test]
fn malformed_bytes_are_a_format_error() {
    for bad in [
        &b""[..],
        &b"\x01\x02\x03"[..],
        &b"\xff\xff\xff\xff\xff\xff\xff\xff{}"[..],
        &b"\x02\x00\x00\x00\x00\x00\x00\x00{"[..],
    ] {
        assert!(
            matches!(
                Weights::from_safetensors_bytes(bad),
                Err(Error::Format { .. })
            ),
            "{bad:?}"
        );
    }
    // A valid file cut short.
    let good = stack_file(|_| {});
    let cut = &good[..good.len() - 3];
    assert!(matches!(
        Stack::from_safetensors_bytes(&specs(), cut),
        Err(Error::Format { .. })
    ));
}

#[test]
fn insert_checks_lengths_and_names_are_free() {
    let mut w = Weights::new();
    assert!(matches!(
        w.insert("x", vec![2, 3], vec![0.0; 5]),
        Err(Error::Length {
            expected: 6,
            actual: 5,
            ..
        })
    ));
    assert!(matches!(
        w.insert("x", vec![usize::MAX, 2], vec![]),
        Err(Error::Overflow { .. })
    ));
    let layer = Init::new(1).conv(ConvDesc::same_2d(2, 2, 3, 1)).unwrap();
    w.insert_conv_prefixed("encoder.3.", &layer, Rank::Two)
        .unwrap();
    let bytes = w.to_safetensors_bytes().unwrap();
    let mut back = Weights::from_safetensors_bytes(&bytes).unwrap();
    let loaded = back
        .take_conv_prefixed("encoder.3.", *layer.desc(), Rank::Two)
        .unwrap();
    assert_eq!(loaded, layer);
    back.finish().unwrap();
}

#[test]
fn weight_shape_follows_pytorch() {
    let mut d = ConvDesc::same_2d(8, 6, 3, 2);
    d.groups = 2;
    d.kernel = [3, 5];
    assert_eq!(conv_weight_shape(&d, Rank::Two), [6, 4, 3, 5]);
    let c = ConvDesc::causal_1d(4, 4, 2, 8);
    assert_eq!(conv_weight_shape(&c, Rank::One), [4, 4, 2]);
}

#[test]
fn bad_specs_are_errors_before_reading_tensors() {
    // A layer whose groups do not divide its channels.
    let mut d = ConvDesc::same_2d(3, 4, 3, 1);
    d.groups = 2;
    let bytes = stack_file(|_| {});
    assert!(matches!(
        Stack::from_safetensors_bytes(&[ModuleSpec::new(0, Rank::Two, d)], &bytes),
        Err(Error::Groups { .. })
    ));
    // No layers at all.
    assert!(matches!(
        Stack::from_safetensors_bytes(&[], &bytes),
        Err(Error::Zero { .. })
    ));
    // Mixed ranks.
    let mixed = [
        ModuleSpec::new(0, Rank::Two, ConvDesc::same_2d(3, 4, 3, 1)),
        ModuleSpec::new(2, Rank::One, ConvDesc::causal_1d(4, 4, 2, 1)),
    ];
    assert!(matches!(
        Stack::from_safetensors_bytes(&mixed, &bytes),
        Err(Error::Shape { .. })
    ));
    // A 2D descriptor declared 1D.
    let not_1d = [ModuleSpec::new(0, Rank::One, ConvDesc::same_2d(3, 4, 3, 1))];
    assert!(matches!(Stack::init(&not_1d, 0), Err(Error::Shape { .. })));
}

#[test]
fn two_layers_at_one_module_index_are_rejected() {
    let a = Init::new(0).conv(ConvDesc::same_2d(2, 2, 3, 1)).unwrap();
    let err = Stack::new(Rank::Two, vec![(0, a.clone()), (0, a)]).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }));
}

#[test]
fn metadata_does_not_matter() {
    let stack = Stack::init(&specs(), 9).unwrap();
    let l: &[Conv] = stack.layers();
    let meta = HashMap::from([("format".to_owned(), "pt".to_owned())]);
    let w0 = f32_bytes(l[0].weight());
    let b0 = f32_bytes(l[0].bias().unwrap());
    let w2 = f32_bytes(l[1].weight());
    let b2 = f32_bytes(l[1].bias().unwrap());
    let views = vec![
        (
            "0.weight",
            TensorView::new(Dtype::F32, vec![4, 3, 3, 3], &w0).unwrap(),
        ),
        ("0.bias", TensorView::new(Dtype::F32, vec![4], &b0).unwrap()),
        (
            "2.weight",
            TensorView::new(Dtype::F32, vec![4, 4, 3, 3], &w2).unwrap(),
        ),
        ("2.bias", TensorView::new(Dtype::F32, vec![4], &b2).unwrap()),
    ];
    let bytes = safetensors::serialize(views, Some(meta)).unwrap();
    assert_eq!(
        Stack::from_safetensors_bytes(&specs(), &bytes).unwrap(),
        stack
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes are a typed error (or, rarely, a valid empty file), never a panic.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            match Weights::from_safetensors_bytes(&bytes) {
                Ok(w) => prop_assert!(Stack::from_weights(&specs(), w).is_err()),
                Err(e) => prop_assert!(matches!(e, Error::Format { .. }), "{:?}", e),
            }
        }

        /// A valid file with bytes flipped or cut loads, or fails with a typed error.
        #[test]
        fn mutated_file(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = stack_file(|_| {});
            for (i, v) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= v;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            if let Err(e) = Stack::from_safetensors_bytes(&specs(), &bytes) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// A header that declares a huge shape over a tiny buffer is a format error.
    #[test]
    fn huge_declared_shape() {
        let header = br#"{"0.weight":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 4]);
        assert!(matches!(
            Weights::from_safetensors_bytes(&bytes),
            Err(Error::Format { .. })
        ));
    }
}

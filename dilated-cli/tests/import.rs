//! `dilated import`: the chain and graph fixtures (a WaveNet block, an ASPP head, TCNs, a
//! weight-normalised TemporalBlock with a 1×1 downsample, an ESP module; both exporters
//! where the fixture script has them) imported, the written declarations compiled in a
//! scratch crate that depends on `dilated` (as a user's crate would, see the facade's
//! `tests/test_user_crates.rs`), loaded from the written safetensors and run with
//! `forward_nchw` on the stored input, against ONNX Runtime's stored output (1e-4 × the
//! output's scale), for the stored batch N and for 2N. A graph outside the grammar: one
//! line, exit 2, naming the node.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(rel: &str) -> String {
    repo().join("fixtures/onnx").join(rel).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dilated"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The scratch crates' folder and shared target directory, beside this test's binary.
fn work_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map_or_else(|| repo().join("target"), Path::to_path_buf)
        .join("tests")
        .join("dilated-import")
}

/// A serialized `TensorProto` as `f32`s.
fn tensor(rel: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    dilated_onnx::parse_tensor(bytes)
        .unwrap()
        .to_f32("t")
        .unwrap()
}

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// (model, type name, snake name, input, output)
const CASES: [(&str, &str, &str, &str, &str); 22] = [
    (
        "models/chain_2_4_8.dynamo.onnx",
        "Chain248",
        "chain248",
        "models/chain_2_4_8.input.pb",
        "models/chain_2_4_8.output.pb",
    ),
    (
        "models/chain_2_4_8.torchscript.onnx",
        "Chain248Ts",
        "chain248_ts",
        "models/chain_2_4_8.input.pb",
        "models/chain_2_4_8.output.pb",
    ),
    (
        "models/chain_1_2_5.torchscript.onnx",
        "Chain125",
        "chain125",
        "models/chain_1_2_5.input.pb",
        "models/chain_1_2_5.output.pb",
    ),
    (
        "conformance/test_Conv1d_dilated/model.onnx",
        "Conv1dDilated",
        "conv1d_dilated",
        "conformance/test_Conv1d_dilated/test_data_set_0/input_0.pb",
        "conformance/test_Conv1d_dilated/test_data_set_0/output_0.pb",
    ),
    (
        "conformance/test_Conv2d_groups/model.onnx",
        "Conv2dGroups",
        "conv2d_groups",
        "conformance/test_Conv2d_groups/test_data_set_0/input_0.pb",
        "conformance/test_Conv2d_groups/test_data_set_0/output_0.pb",
    ),
    (
        "models/wavenet_block.dynamo.onnx",
        "WavenetDynamo",
        "wavenet_dynamo",
        "models/wavenet_block.input.pb",
        "models/wavenet_block.output.pb",
    ),
    (
        "models/wavenet_block.torchscript.onnx",
        "WavenetTs",
        "wavenet_ts",
        "models/wavenet_block.input.pb",
        "models/wavenet_block.output.pb",
    ),
    (
        "models/aspp.dynamo.onnx",
        "AsppDynamo",
        "aspp_dynamo",
        "models/aspp.input.pb",
        "models/aspp.output.pb",
    ),
    (
        "models/aspp.torchscript.onnx",
        "AsppTs",
        "aspp_ts",
        "models/aspp.input.pb",
        "models/aspp.output.pb",
    ),
    (
        "models/tcn.dynamo.onnx",
        "TcnDynamo",
        "tcn_dynamo",
        "models/tcn.input.pb",
        "models/tcn.output.pb",
    ),
    (
        "models/tcn.torchscript.onnx",
        "TcnTs",
        "tcn_ts",
        "models/tcn.input.pb",
        "models/tcn.output.pb",
    ),
    (
        "models/tcn_dynamic.torchscript.onnx",
        "TcnDynamic",
        "tcn_dynamic",
        "models/tcn_dynamic.input.pb",
        "models/tcn_dynamic.output.pb",
    ),
    (
        "models/tcn_block_wn.dynamo.onnx",
        "TcnBlockWnDynamo",
        "tcn_block_wn_dynamo",
        "models/tcn_block_wn.input.pb",
        "models/tcn_block_wn.output.pb",
    ),
    (
        "models/tcn_block_wn.torchscript.onnx",
        "TcnBlockWnTs",
        "tcn_block_wn_ts",
        "models/tcn_block_wn.input.pb",
        "models/tcn_block_wn.output.pb",
    ),
    (
        "models/esp.dynamo.onnx",
        "EspDynamo",
        "esp_dynamo",
        "models/esp.input.pb",
        "models/esp.output.pb",
    ),
    (
        "models/esp.torchscript.onnx",
        "EspTs",
        "esp_ts",
        "models/esp.input.pb",
        "models/esp.output.pb",
    ),
    (
        "models/aspp_expand.dynamo.onnx",
        "AsppExpandDynamo",
        "aspp_expand_dynamo",
        "models/aspp_expand.input.pb",
        "models/aspp_expand.output.pb",
    ),
    (
        "models/aspp_expand.torchscript.onnx",
        "AsppExpandTs",
        "aspp_expand_ts",
        "models/aspp_expand.input.pb",
        "models/aspp_expand.output.pb",
    ),
    (
        "models/causal_chain.dynamo.onnx",
        "CausalChainDynamo",
        "causal_chain_dynamo",
        "models/causal_chain.input.pb",
        "models/causal_chain.output.pb",
    ),
    (
        "models/causal_chain.torchscript.onnx",
        "CausalChainTs",
        "causal_chain_ts",
        "models/causal_chain.input.pb",
        "models/causal_chain.output.pb",
    ),
    (
        "models/gelu_chain.dynamo.onnx",
        "GeluChainDynamo",
        "gelu_chain_dynamo",
        "models/gelu_chain.input.pb",
        "models/gelu_chain.output.pb",
    ),
    (
        "models/gelu_chain.torchscript.onnx",
        "GeluChainTs",
        "gelu_chain_ts",
        "models/gelu_chain.input.pb",
        "models/gelu_chain.output.pb",
    ),
];

#[test]
fn imported_chains_compile_and_match_onnx_runtime() {
    let dir = work_dir().join("user");
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    let mut main = String::from("//! Imported ONNX chains, run on stored inputs.\n");
    let mut arms = String::new();
    for (model, name, snake, _, _) in CASES {
        // Exactly two files, into an empty folder.
        let alone = work_dir().join(format!("alone-{snake}"));
        let _ = std::fs::remove_dir_all(&alone);
        let o = run(&[
            "import",
            &fixture(model),
            "--name",
            name,
            "--out",
            &alone.display().to_string(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{model}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut files: Vec<String> = std::fs::read_dir(&alone)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            [format!("{snake}.rs"), format!("{snake}.safetensors")]
        );
        let o = run(&[
            "import",
            &fixture(model),
            "--name",
            name,
            "--out",
            &src.display().to_string(),
        ]);
        assert_eq!(o.status.code(), Some(0));
        main.push_str(&format!("include!(\"{snake}.rs\");\n"));
        arms.push_str(&format!(
            "        \"{name}\" => {name}::from_safetensors(&a[2])?.forward_nchw(batch, &input)?,\n"
        ));
    }
    // The gridding chain's declaration says why it allows the holes.
    let text = std::fs::read_to_string(src.join("chain248.rs")).unwrap();
    assert!(
        text.contains("check: { holes: allow, hdc3: allow }"),
        "{text}"
    );
    assert!(
        text.contains("// The model as exported fails these checks"),
        "{text}"
    );
    let clean = std::fs::read_to_string(src.join("chain125.rs")).unwrap();
    assert!(!clean.contains("check:"), "{clean}");
    // The graphs in the block grammar, each block where the model has it.
    let read = |snake: &str| std::fs::read_to_string(src.join(format!("{snake}.rs"))).unwrap();
    for snake in ["wavenet_dynamo", "wavenet_ts"] {
        let t = read(snake);
        assert_eq!(t.matches("residual {").count(), 4, "{t}");
        assert_eq!(t.matches("gated,").count(), 4, "{t}");
        assert_eq!(t.matches("skip [").count(), 4, "{t}");
        assert!(t.contains("padding: causal"), "{t}");
        assert!(t.contains("skip_sum,"), "{t}");
        assert!(!t.contains("check:"), "{t}");
    }
    for snake in [
        "aspp_dynamo",
        "aspp_ts",
        "aspp_expand_dynamo",
        "aspp_expand_ts",
    ] {
        let t = read(snake);
        assert_eq!(t.matches("pool [").count(), 1, "{t}");
        assert!(t.contains("join: concat"), "{t}");
        assert!(t.contains("check: { holes: allow }"), "{t}");
        assert!(t.contains("fills no hole"), "{t}");
    }
    for snake in ["tcn_dynamo", "tcn_ts", "tcn_dynamic"] {
        let t = read(snake);
        assert_eq!(t.matches("residual {").count(), 4, "{t}");
        assert_eq!(t.matches("shortcut: [").count(), 1, "{t}");
        assert_eq!(t.matches("activation: relu").count(), 4, "{t}");
        assert_eq!(t.matches("padding: causal").count(), 8, "{t}");
    }
    assert!(read("tcn_dynamic").contains("input: [3, _],"));
    for snake in ["tcn_block_wn_dynamo", "tcn_block_wn_ts"] {
        let t = read(snake);
        assert!(
            t.contains("shortcut: [\n                    conv(4 -> 8, kernel: 1"),
            "{t}"
        );
        assert!(t.contains("check: { holes: allow, hdc3: allow }"), "{t}");
    }
    // Chomps folded into the convs' padding: a chain, in the chain form.
    for snake in ["causal_chain_dynamo", "causal_chain_ts"] {
        let t = read(snake);
        assert!(t.contains("chain of 3 convolutions"), "{t}");
        assert!(t.contains("rate: 4, padding: (8, 0)),"), "{t}");
        assert!(!t.contains("residual"), "{t}");
    }
    // GELU written out (`Div`/`Erf`/`Add`/`Mul`) by both exporters: one fused `gelu`.
    for snake in ["gelu_chain_dynamo", "gelu_chain_ts"] {
        let t = read(snake);
        assert!(t.contains("chain of 3 convolutions"), "{t}");
        assert_eq!(t.matches("\n            gelu,\n").count(), 2, "{t}");
        assert!(!t.contains("Mul") && !t.contains("erf"), "{t}");
    }
    for snake in ["esp_dynamo", "esp_ts"] {
        let t = read(snake);
        assert!(t.contains("join: hierarchical"), "{t}");
        assert!(
            t.contains("batch_norm(eps: 0.001),\n            prelu,"),
            "{t}"
        );
        assert!(t.contains("holes: allow"), "{t}");
    }
    main.push_str(&format!(
        r#"
fn main() -> Result<(), Box<dyn std::error::Error>> {{
    let a: Vec<String> = std::env::args().collect();
    let batch: usize = a[3].parse()?;
    let input: Vec<f32> = std::fs::read(&a[4])?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let y = match a[1].as_str() {{
{arms}        other => return Err(format!("unknown model {{other}}").into()),
    }};
    let bytes: Vec<u8> = y.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&a[5], bytes)?;
    Ok(())
}}
"#
    ));
    std::fs::write(src.join("main.rs"), main).unwrap();
    let manifest = format!(
        "[package]\nname = \"imported\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\ndilated = {{ path = {:?} }}\n\n# Not a member of the dilated workspace.\n[workspace]\n",
        repo().display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet"])
        .env("CARGO_TARGET_DIR", work_dir().join("target"))
        .env_remove("RUSTFLAGS")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let exe = work_dir().join("target/debug/imported");
    for (_, name, snake, input, output) in CASES {
        // The stored input's own batch (the backend tests' hold several samples).
        let stored = dilated_onnx::parse_tensor(std::fs::read(fixture(input)).unwrap()).unwrap();
        let n0 = stored.dims()[0] as usize;
        let x = tensor(input);
        let expected = tensor(output);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        for copies in [1usize, 2] {
            let batch = n0 * copies;
            let xs: Vec<f32> = (0..copies).flat_map(|_| x.iter().copied()).collect();
            let (inp, out) = (dir.join("in.bin"), dir.join("out.bin"));
            write_f32(&inp, &xs);
            let st = src.join(format!("{snake}.safetensors"));
            let r = Command::new(&exe)
                .args([name, &st.display().to_string(), &batch.to_string()])
                .arg(&inp)
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            let y = read_f32(&out);
            assert_eq!(y.len(), expected.len() * copies, "{name}");
            let err = y
                .iter()
                .zip(expected.iter().cycle())
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err <= 1e-4 * scale, "{name} batch {batch}: {err}");
        }
    }
}

#[test]
fn graphs_outside_the_grammar_are_refused_in_one_line() {
    let out = work_dir().join("refused");
    let pool = "the grammar has no local pooling";
    let product = "a product of branches other than WaveNet's gate";
    let deep = "nested deeper than 8";
    let tanh = "GELU's tanh approximation";
    for (model, node, why) in [
        ("models/gelu_tanh_chain.dynamo.onnx", "node_gelu", tanh),
        (
            "models/gelu_tanh_chain.torchscript.onnx",
            "/net/net.1/Mul_5",
            tanh,
        ),
        ("models/pool_chain.dynamo.onnx", "node_avg_pool2d", pool),
        (
            "models/pool_chain.torchscript.onnx",
            "/pool/AveragePool",
            pool,
        ),
        ("models/product_branches.dynamo.onnx", "node_mul", product),
        ("models/product_branches.torchscript.onnx", "/Mul", product),
        ("models/nested.dynamo.onnx", "node_add", deep),
        (
            "models/nested.torchscript.onnx",
            "/inner/inner/inner/inner/inner/inner/inner/inner/Add",
            deep,
        ),
    ] {
        let o = run(&[
            "import",
            &fixture(model),
            "--name",
            "Net",
            "--out",
            &out.display().to_string(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{model}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("node \"{node}\"")), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(!out.join("net.rs").exists());
    }
    let o = run(&[
        "import",
        &fixture("models/chain_1_2_5.dynamo.onnx"),
        "--name",
        "not-a-name",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Hand-made graphs, written with the ONNX tests' protobuf writer.
#[path = "../../dilated-onnx/tests/common/mod.rs"]
mod common;

/// Imports `bytes` (written as `models/<tag>.onnx` in the work folder); returns the exit
/// code and the error text.
fn import_bytes(tag: &str, bytes: &[u8]) -> (Option<i32>, String) {
    let dir = work_dir().join("handmade");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{tag}.onnx"));
    std::fs::write(&path, bytes).unwrap();
    let out = dir.join(format!("out-{tag}"));
    let _ = std::fs::remove_dir_all(&out);
    let o = run(&[
        "import",
        &path.display().to_string(),
        "--name",
        "Net",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(!out.join("net.rs").exists(), "{tag}");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A 1D conv without bias, all weights 0.1.
fn conv1d(name: &str, input: &str, output: &str, w: &str) -> common::Pb {
    common::node("Conv", name, &[input, w], &[output], &[])
}

#[test]
fn refusals_name_the_node_or_the_tensor() {
    use common::*;
    let one_line = |code: Option<i32>, err: &str| {
        assert_eq!(code, Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };

    // A Resize whose sizes are read from the input's free shape (not folded): named, and
    // the reason is the run-time shape, not shared branches.
    let w = |n: &str| tensor_f32(n, &[4, 4, 3, 3], &[0.1; 144]);
    let resize = model(&graph(
        &[
            node(
                "Conv",
                "down",
                &["x", "w1"],
                &["d"],
                &[
                    attr_ints("strides", &[2, 2]),
                    attr_ints("pads", &[1, 1, 1, 1]),
                ],
            ),
            node("Shape", "shape_of_x", &["x"], &["s"], &[]),
            node(
                "Resize",
                "up",
                &["d", "", "", "s"],
                &["u"],
                &[attr_str("mode", "nearest")],
            ),
            node(
                "Conv",
                "out",
                &["u", "w2"],
                &["y"],
                &[attr_ints("pads", &[1, 1, 1, 1])],
            ),
        ],
        &[w("w1"), w("w2")],
        &[value_info("x", &[1, 4, -1, -1])],
        &[Pb::new().string(1, "y")],
    ));
    let (code, err) = import_bytes("resize_from_shape", &resize);
    one_line(code, &err);
    assert!(err.contains("node \"up\" (\"Resize\")"), "{err}");
    assert!(
        err.contains("its sizes depend on the run-time input's shape"),
        "{err}"
    );
    assert!(err.contains("\"shape_of_x\""), "{err}");
    assert!(err.contains("export with a fixed input size"), "{err}");
    assert!(!err.contains("share nodes"), "{err}");

    // Two outputs: both named.
    let two = model(&graph(
        &[
            node("Relu", "r1", &["x"], &["first_out"], &[]),
            node("Relu", "r2", &["first_out"], &["second_out"], &[]),
        ],
        &[],
        &[value_info("x", &[1, 4, 16])],
        &[
            Pb::new().string(1, "first_out"),
            Pb::new().string(1, "second_out"),
        ],
    ));
    let (code, err) = import_bytes("two_outputs", &two);
    one_line(code, &err);
    assert!(
        err.contains("2 outputs (\"first_out\", \"second_out\""),
        "{err}"
    );

    // WaveNet's skip path tapped outside a residual block, where the layers between the
    // taps change the channels (a conv 8 → 12, then a gate halving them to 6): the last
    // tap's skip chain is named by its first node.
    let skip = model(&graph(
        &[
            conv1d("c1", "x", "h", "wc1"),
            conv1d("s1", "h", "sa", "ws1"),
            conv1d("c2", "h", "h2", "wc2"),
            node(
                "Split",
                "halves",
                &["h2", "sizes"],
                &["ga", "gb"],
                &[attr_int("axis", 1)],
            ),
            node("Tanh", "filter", &["ga"], &["ta"], &[]),
            node("Sigmoid", "gate", &["gb"], &["tb"], &[]),
            node("Mul", "gated", &["ta", "tb"], &["g"], &[]),
            conv1d("s2", "g", "sb", "ws2"),
            node("Add", "skip_sum", &["sa", "sb"], &["y"], &[]),
        ],
        &[
            tensor_f32("wc1", &[8, 4, 1], &[0.1; 32]),
            tensor_f32("ws1", &[8, 8, 1], &[0.1; 64]),
            tensor_f32("wc2", &[12, 8, 1], &[0.1; 96]),
            tensor_i64("sizes", &[2], &[6, 6]),
            tensor_f32("ws2", &[8, 6, 1], &[0.1; 48]),
        ],
        &[value_info("x", &[1, 4, 16])],
        &[Pb::new().string(1, "y")],
    ));
    let (code, err) = import_bytes("skip_channels", &skip);
    one_line(code, &err);
    assert!(err.contains("node \"s2\" (\"Conv\")"), "{err}");
    assert!(err.contains("change 8 channels into 6"), "{err}");
}

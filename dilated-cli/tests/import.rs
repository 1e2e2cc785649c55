//! `dilated import`: the chain fixtures imported, the written declarations compiled in a
//! scratch crate that depends on `dilated` (as a user's crate would, see the facade's
//! `tests/test_user_crates.rs`), loaded from the written safetensors and run with
//! `forward_nchw` on the stored input, against ONNX Runtime's stored output (1e-4 × the
//! output's scale), for a batch of one and of two. A graph outside the grammar: one line,
//! exit 2, naming the node.

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
const CASES: [(&str, &str, &str, &str, &str); 5] = [
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
    for (model, name, snake, input, output) in CASES {
        // The stored input's own batch (the backend tests' hold several samples).
        let m = dilated_onnx::read(fixture(model)).unwrap();
        let shape = m.graph.value(m.graph.inputs()[0]).static_shape().unwrap();
        let n0 = shape[0] as usize;
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
    for model in [
        "models/tcn.torchscript.onnx",
        "models/wavenet_block.dynamo.onnx",
        "models/aspp.dynamo.onnx",
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
        assert!(err.contains("node \""), "{err}");
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

//! `dilated import model.onnx --name Net --out DIR`: an ONNX model (1D or 2D) as a
//! `dilated_stack!` declaration in the per-layer form (`DIR/net.rs`) and its weights under
//! the declaration's module paths, the names its PyTorch twin's `state_dict()` uses
//! (`DIR/net.safetensors`). Nothing else is written.
//!
//! A chain of convolutions and activations is written as today's chain; any other graph
//! goes through [`blocks`], which recognises the block grammar's residual, parallel,
//! image-pooling, gated and skip blocks, batch norm and PReLU, and refuses the first node
//! the grammar cannot express.

mod blocks;
mod emit;

use std::fmt::Write as _;
use std::path::Path;

use dilated_core::conv::Rank;
use dilated_core::schedule::graph::GraphOptions;
use dilated_core::schedule::{self, AxisSpec, CheckId, Level, Options, PadMode, Schedule, Spec2d};
use dilated_core::weights::Weights;
use dilated_core::{Activation, Conv};
use dilated_onnx::runtime::conv_chain;
use dilated_onnx::{Dim, Name};

use crate::{Failure, ImportArgs, Outcome};

/// `MyNet` → `my_net`, `HDCNet2` → `hdc_net2`.
fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut s = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(char::is_ascii_lowercase),
                Some(_) | None => false,
            };
            if boundary && !s.ends_with('_') {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// A type name the declaration can use: an ASCII identifier starting with an uppercase
/// letter.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Failure::Message(format!(
            "--name {}: give a Rust type name in UpperCamelCase, such as Net",
            Name(name.to_owned())
        )))
    }
}

/// The activation as the grammar spells it, `None` for none.
fn activation(a: Activation) -> Result<Option<String>, String> {
    Ok(match a {
        Activation::Identity => None,
        Activation::Relu => Some("relu".into()),
        Activation::LeakyRelu(s) => Some(format!("leaky_relu({s:?})")),
        Activation::Gelu => Some("gelu".into()),
        Activation::Tanh => Some("tanh".into()),
        Activation::Sigmoid => Some("sigmoid".into()),
        Activation::Silu => Some("silu".into()),
        // `Activation` is `#[non_exhaustive]` outside dilated-core: an activation added
        // there is refused here until the grammar's spelling is written above.
        other => {
            return Err(format!(
                "the activation {other:?} has no spelling in the grammar"
            ));
        }
    })
}

/// One axis's value as the grammar spells it: `v` in 1D, `[h, w]` in 2D.
fn per_axis<T: std::fmt::Display>(rank: Rank, v: [T; 2]) -> String {
    match rank {
        Rank::One => v[1].to_string(),
        Rank::Two => format!("[{}, {}]", v[0], v[1]),
    }
}

/// `conv(C -> C', kernel: …, rate: …, stride: …, padding: …, groups: …, bias: …)`.
pub(crate) fn conv_line(c: &Conv, rank: Rank) -> String {
    let d = c.desc();
    let pad = |p: [usize; 2]| format!("({}, {})", p[0], p[1]);
    let padding = match rank {
        Rank::One => pad(d.padding[1]),
        Rank::Two => format!("[{}, {}]", pad(d.padding[0]), pad(d.padding[1])),
    };
    let mut s = format!(
        "conv({} -> {}, kernel: {}, rate: {}",
        d.in_channels,
        d.out_channels,
        per_axis(rank, d.kernel),
        per_axis(rank, d.dilation)
    );
    if d.stride != [1, 1] {
        let _ = write!(s, ", stride: {}", per_axis(rank, d.stride));
    }
    let _ = write!(s, ", padding: {padding}");
    if d.groups != 1 {
        let _ = write!(s, ", groups: {}", d.groups);
    }
    if !d.bias {
        s.push_str(", bias: false");
    }
    s.push(')');
    s
}

/// The chain's schedule, as the macro will build it (explicit padding per side).
fn chain_schedule(layers: &[Conv], rank: Rank) -> Schedule {
    let axis = |c: &Conv, a: usize| {
        let d = c.desc();
        AxisSpec {
            kernel: d.kernel[a] as u64,
            rate: d.dilation[a] as u64,
            stride: d.stride[a] as u64,
            padding: PadMode::Explicit {
                lo: d.padding[a][0] as u64,
                hi: d.padding[a][1] as u64,
            },
        }
    };
    match rank {
        Rank::One => Schedule::one_d(layers.iter().map(|c| axis(c, 1)).collect()),
        Rank::Two => Schedule::two_d(
            &layers
                .iter()
                .map(|c| Spec2d {
                    height: axis(c, 0),
                    width: axis(c, 1),
                })
                .collect::<Vec<_>>(),
        ),
    }
}

pub(crate) fn run(a: &ImportArgs) -> Result<Outcome, Failure> {
    check_name(&a.name)?;
    let path = &a.model;
    let at = |e: &dyn std::fmt::Display| Failure::Message(format!("{}: {e}", path.display()));
    let model = dilated_onnx::read(path).map_err(|e| at(&e))?;
    let g = &model.graph;
    let (layers, rank) = match conv_chain(g) {
        Ok(chain) => chain,
        Err(_) => return run_graph(a, g),
    };
    run_chain(a, g, &layers, rank)
}

/// A chain of convolutions (each with its fused activation), written in today's chain
/// form and judged as the macro judges a chain.
fn run_chain(
    a: &ImportArgs,
    g: &dilated_onnx::Graph,
    layers: &[Conv],
    rank: Rank,
) -> Result<Outcome, Failure> {
    let path = &a.model;
    let at = |e: &dyn std::fmt::Display| Failure::Message(format!("{}: {e}", path.display()));
    let dims = input_dims(g, rank).map_err(|e| at(&e))?;
    let shape = g.value(g.inputs()[0]).shape.clone().unwrap_or_default();
    let want = match rank {
        Rank::One => 3,
        Rank::Two => 4,
    };
    let sizes: Vec<Option<u64>> = shape[2..].iter().map(Dim::known).collect();
    // The verdict the macro will reach, to write the `check:` block it needs.
    let sched = chain_schedule(layers, rank);
    let report = schedule::analyze(
        &sched,
        &Options {
            input: sizes,
            coverage: false,
            suggest: false,
            ..Options::default()
        },
    )
    .map_err(|e| at(&e))?;
    let mut denied: Vec<CheckId> = Vec::new();
    for d in &report.diagnostics {
        if d.level == Level::Deny && !denied.contains(&d.check) {
            denied.push(d.check);
        }
    }
    let stem = snake(&a.name);
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    let mut rs = String::new();
    let _ = writeln!(
        rs,
        "// Written by `dilated import {file_name} --name {}`: the model's chain of {} as a\n\
         // `dilated_stack!` declaration; weights in `{stem}.safetensors` under the same names.",
        a.name,
        if layers.len() == 1 {
            "one convolution".to_owned()
        } else {
            format!("{} convolutions", layers.len())
        }
    );
    let _ = writeln!(rs, "dilated::dilated_stack! {{");
    let _ = writeln!(
        rs,
        "    /// Imported from the ONNX model `{file_name}` (receptive field {}).",
        report
            .axes
            .iter()
            .map(|x| x.receptive_field.to_string())
            .collect::<Vec<_>>()
            .join(" × ")
    );
    let _ = writeln!(rs, "    pub struct {} {{", a.name);
    let _ = writeln!(rs, "        input: [{}],", dims.join(", "));
    let _ = writeln!(rs, "        layers: [");
    let mut weights = Weights::new();
    let mut module = 0usize;
    for c in layers {
        let _ = writeln!(rs, "            {},", conv_line(c, rank));
        weights.insert_conv(module, c, rank).map_err(|e| at(&e))?;
        module += 1;
        if let Some(act) = activation(c.desc().activation).map_err(|e| at(&e))? {
            let _ = writeln!(rs, "            {act},");
            module += 1;
        }
    }
    let _ = writeln!(rs, "        ],");
    let why: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Deny)
        .map(|d| format!("{}: {}", d.check.name(), d.message))
        .collect();
    check_block(&mut rs, &denied, &why);
    let _ = writeln!(rs, "    }}");
    let _ = writeln!(rs, "}}");
    let (rs_path, st_path) = write_files(a, &rs, &weights).map_err(|e| at(&e))?;
    let verdict = if report.has_holes() {
        "gridding (the check: block allows it)"
    } else if denied.is_empty() {
        "no holes"
    } else {
        "rules broken (the check: block allows them)"
    };
    Ok(Outcome {
        stdout: format!(
            "wrote {} and {} ({} convolution{}, {}D; {verdict})\n",
            rs_path.display(),
            st_path.display(),
            layers.len(),
            if layers.len() == 1 { "" } else { "s" },
            want - 2
        ),
        code: 0,
    })
}

/// The `check:` block allowing the `denied` checks, with the comment saying why.
fn check_block(rs: &mut String, denied: &[CheckId], why: &[String]) {
    if denied.is_empty() {
        return;
    }
    let _ = writeln!(
        rs,
        "        // The model as exported fails these checks; they are allowed so that the\n\
         \x20       // declaration compiles and reproduces it. Fix the rates to remove them:"
    );
    for w in why {
        let _ = writeln!(rs, "        //   {}", w.lines().next().unwrap_or_default());
    }
    let keys: Vec<String> = denied
        .iter()
        .map(|c| format!("{}: allow", c.name()))
        .collect();
    let _ = writeln!(rs, "        check: {{ {} }},", keys.join(", "));
}

/// Writes `DIR/<snake>.rs` and `DIR/<snake>.safetensors`; returns their paths.
fn write_files(
    a: &ImportArgs,
    rs: &str,
    weights: &Weights,
) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let stem = snake(&a.name);
    let bytes = weights.to_safetensors_bytes().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let write = |p: &Path, data: &[u8]| {
        std::fs::write(p, data).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    let rs_path = a.out.join(format!("{stem}.rs"));
    let st_path = a.out.join(format!("{stem}.safetensors"));
    write(&rs_path, rs.as_bytes())?;
    write(&st_path, &bytes)?;
    Ok((rs_path, st_path))
}

/// The input's `[C, L]` or `[C, H, W]` as the declaration spells it, `_` where the model
/// leaves a size free.
fn input_dims(g: &dilated_onnx::Graph, rank: Rank) -> Result<Vec<String>, String> {
    let input = g.value(g.inputs()[0]);
    let shape = input.shape.clone().unwrap_or_default();
    let want = match rank {
        Rank::One => 3,
        Rank::Two => 4,
    };
    if shape.len() != want {
        return Err(format!(
            "input {} has rank {}, expected {want} (NCL or NCHW)",
            Name(input.name.clone()),
            shape.len()
        ));
    }
    let channels = shape[1].known().ok_or_else(|| {
        format!(
            "input {} leaves its channel count free; the declaration needs it",
            Name(input.name.clone())
        )
    })?;
    Ok(std::iter::once(channels.to_string())
        .chain(shape[2..].iter().map(|d| match d {
            Dim::Known(v) => v.to_string(),
            Dim::Symbol(_) | Dim::Unknown => "_".to_owned(),
        }))
        .collect())
}

/// Counts of the items, for the summary line.
fn count(items: &[blocks::Item], convs: &mut usize, blocks_: &mut usize) {
    for item in items {
        match item {
            blocks::Item::Conv(_) => *convs += 1,
            blocks::Item::Skip(inner) => count(inner, convs, blocks_),
            blocks::Item::Residual { body, shortcut, .. } => {
                *blocks_ += 1;
                count(body, convs, blocks_);
                if let Some(s) = shortcut {
                    count(s, convs, blocks_);
                }
            }
            blocks::Item::Parallel { branches, .. } => {
                *blocks_ += 1;
                for b in branches {
                    count(&b.items, convs, blocks_);
                }
            }
            blocks::Item::Act(_)
            | blocks::Item::BatchNorm { .. }
            | blocks::Item::Prelu(_)
            | blocks::Item::Gated
            | blocks::Item::SkipSum => {}
        }
    }
}

/// A graph: its blocks recognised, written in the block grammar.
fn run_graph(a: &ImportArgs, g: &dilated_onnx::Graph) -> Result<Outcome, Failure> {
    let path = &a.model;
    let at = |e: &dyn std::fmt::Display| Failure::Message(format!("{}: {e}", path.display()));
    let items = blocks::recognise(g).map_err(|e| {
        at(&format!(
            "cannot import as a `dilated_stack!` declaration: {e}"
        ))
    })?;
    // Convolutions and activations only (a `Pad` or a chomp folded into a conv's
    // padding): today's chain form.
    if let Some(layers) = blocks::as_chain(&items) {
        let rank = match g.spatial_rank() {
            Some(1) => Rank::One,
            Some(_) | None => Rank::Two,
        };
        return run_chain(a, g, &layers, rank);
    }
    let rank = match g.spatial_rank() {
        Some(1) => Rank::One,
        Some(2) => Rank::Two,
        other => {
            return Err(at(&format!(
                "a model with {} spatial axes (the grammar has 1D and 2D stacks)",
                other.map_or_else(|| "unknown".to_owned(), |r| r.to_string())
            )));
        }
    };
    let dims = input_dims(g, rank).map_err(|e| at(&e))?;
    // The verdict the macro will reach, to write the `check:` block it needs.
    let (mut lower, input) = emit::Lower::new(rank).map_err(|e| at(&e))?;
    let out = lower.list(&items, input).map_err(|e| at(&e))?;
    let report = lower
        .graph
        .analyze(&GraphOptions {
            outputs: vec![out],
            coverage: false,
            suggest: false,
            ..GraphOptions::default()
        })
        .map_err(|e| at(&e))?;
    let mut denied: Vec<CheckId> = Vec::new();
    let mut why: Vec<String> = Vec::new();
    for d in &report.diagnostics {
        let d = &d.diagnostic;
        if d.level == Level::Deny && !denied.contains(&d.check) {
            denied.push(d.check);
            why.push(format!("{}: {}", d.check.name(), d.message));
        }
    }
    let rf: Vec<String> = report
        .outputs
        .first()
        .map(|o| {
            o.axes
                .iter()
                .map(|x| x.receptive_field.to_string())
                .collect()
        })
        .unwrap_or_default();
    let holes = report.outputs.first().map_or(0, |o| o.hole_count);
    let (mut convs, mut nblocks) = (0, 0);
    count(&items, &mut convs, &mut nblocks);
    let stem = snake(&a.name);
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    let mut rs = String::new();
    let _ = writeln!(
        rs,
        "// Written by `dilated import {file_name} --name {}`: the model's graph ({convs} \
         convolution{}, {nblocks} block{}) as a\n// `dilated_stack!` declaration; weights in \
         `{stem}.safetensors` under the same names.",
        a.name,
        if convs == 1 { "" } else { "s" },
        if nblocks == 1 { "" } else { "s" },
    );
    let _ = writeln!(rs, "dilated::dilated_stack! {{");
    let _ = writeln!(
        rs,
        "    /// Imported from the ONNX model `{file_name}` (receptive field {}).",
        rf.join(" × ")
    );
    let _ = writeln!(rs, "    pub struct {} {{", a.name);
    let _ = writeln!(rs, "        input: [{}],", dims.join(", "));
    let _ = writeln!(rs, "        layers: [");
    emit::lines(&items, rank, 12, &mut rs);
    let _ = writeln!(rs, "        ],");
    check_block(&mut rs, &denied, &why);
    let _ = writeln!(rs, "    }}");
    let _ = writeln!(rs, "}}");
    let mut weights = Weights::new();
    emit::weights(&items, "", 0, rank, &mut weights).map_err(|e| at(&e))?;
    let (rs_path, st_path) = write_files(a, &rs, &weights).map_err(|e| at(&e))?;
    let verdict = if holes > 0 {
        "gridding (the check: block allows it)"
    } else if denied.is_empty() {
        "no holes"
    } else {
        "rules broken (the check: block allows them)"
    };
    Ok(Outcome {
        stdout: format!(
            "wrote {} and {} ({convs} convolution{}, {nblocks} block{}, {}D; {verdict})\n",
            rs_path.display(),
            st_path.display(),
            if convs == 1 { "" } else { "s" },
            if nblocks == 1 { "" } else { "s" },
            match rank {
                Rank::One => 1,
                Rank::Two => 2,
            }
        ),
        code: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("Net"), "net");
        assert_eq!(snake("MyNet"), "my_net");
        assert_eq!(snake("HDCNet2"), "hdc_net2");
        assert_eq!(snake("Tcn2D"), "tcn2_d");
    }
}

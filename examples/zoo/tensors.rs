//! The `run` command's files: the input tensor (`input`, f32, `[N, *INPUT_SHAPE]`) and the
//! output tensor (`output`, f32, shaped as the twin's output). Every problem is one line
//! naming the file and what is wrong.

use std::path::Path;

use dilated::conv::Rank;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// An input batch: `batch` items of spatial size `hw` (`[1, L]` in 1D), flat NCHW.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) batch: usize,
    pub(crate) hw: [usize; 2],
    pub(crate) data: Vec<f32>,
}

/// Reads a whole file, naming it on failure.
pub(crate) fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} `{}`: {e}", path.display()))
}

/// `[N, C, L]` or `[N, C, H, W]` as text.
fn shape_text(shape: &[usize]) -> String {
    let d: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", d.join(", "))
}

/// The expected shape with `N` and `_` for the sizes known at run time.
fn expected_text(rank: Rank, declared: [usize; 3]) -> String {
    let size = |v: usize| {
        if v == 0 {
            "_".to_owned()
        } else {
            v.to_string()
        }
    };
    match rank {
        Rank::One => format!("[N, {}, {}]", declared[0], size(declared[2])),
        Rank::Two => format!(
            "[N, {}, {}, {}]",
            declared[0],
            size(declared[1]),
            size(declared[2])
        ),
    }
}

/// Parses the tensor `input` of a safetensors file: f32, `[N, C, L]` (1D) or
/// `[N, C, H, W]` (2D), N ≥ 1, `C` and every declared size as `declared` has them
/// (`[C, H, W]`, 0 for a size known only at run time: any size ≥ 1 there).
pub(crate) fn read_input(
    path: &Path,
    bytes: &[u8],
    rank: Rank,
    declared: [usize; 3],
) -> Result<Batch, String> {
    let file = path.display();
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("the input `{file}` is not a valid safetensors file: {e}"))?;
    let view = st.tensor("input").map_err(|_| {
        let mut names = st.names();
        names.sort_unstable();
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!(
            "the input `{file}` has no tensor `input` (it holds {})",
            if names.is_empty() {
                "no tensor".to_owned()
            } else {
                names.join(", ")
            }
        )
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(format!(
            "the input `{file}`: tensor `input` is {}, expected F32 (convert it with `.float()`)",
            view.dtype()
        ));
    }
    let shape = view.shape();
    let expected = expected_text(rank, declared);
    let misshapen = || {
        format!(
            "the input `{file}`: tensor `input` has shape {}, expected {expected}",
            shape_text(shape)
        )
    };
    let (batch, c, hw) = match (rank, shape) {
        (Rank::One, &[n, c, l]) => (n, c, [1, l]),
        (Rank::Two, &[n, c, h, w]) => (n, c, [h, w]),
        _ => return Err(misshapen()),
    };
    let sizes_ok = [(hw[0], declared[1]), (hw[1], declared[2])]
        .iter()
        .all(|&(got, want)| got >= 1 && (want == 0 || got == want));
    if batch == 0 || c != declared[0] || !sizes_ok {
        return Err(misshapen());
    }
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Batch { batch, hw, data })
}

/// The bytes of a safetensors file with one f32 tensor `output` of `shape`.
pub(crate) fn output_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, shape.to_vec(), &bytes)
        .map_err(|e| format!("cannot lay out the output {}: {e}", shape_text(shape)))?;
    safetensors::serialize([("output", view)], None)
        .map_err(|e| format!("cannot serialise the output: {e}"))
}

/// The output's shape: `[N, C, L]` or `[N, C, H, W]`.
pub(crate) fn output_shape(rank: Rank, batch: usize, c: usize, hw: [usize; 2]) -> Vec<usize> {
    match rank {
        Rank::One => vec![batch, c, hw[1]],
        Rank::Two => vec![batch, c, hw[0], hw[1]],
    }
}

/// Writes `bytes` to `path`, naming it on failure.
pub(crate) fn write_file(what: &str, path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes)
        .map_err(|e| format!("cannot write the {what} `{}`: {e}", path.display()))
}

//! What the examples share: how they end, the naive reference forward pass they check the
//! runtime against, the largest difference and the median time, the verdict in the words
//! of `dilated check`, and the `--weights` / `--save-weights` options. Each example
//! declares it with `mod common;` (a directory under `examples/` with no `main.rs` is not
//! an example of its own).

#![allow(dead_code, reason = "each example uses some of these")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dilated::conv::conv_reference;
use dilated::{Conv, ConvDesc, Error};

/// Ends an example: exit code 0, or one `error: …` line on stderr and exit code 1.
pub(crate) fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `layers` one after the other through the naive reference convolution
/// (`dilated::conv::conv_reference`) on `batch` NCHW items of size `hw`.
pub(crate) fn reference_forward(
    layers: &[Conv],
    batch: usize,
    mut hw: [usize; 2],
    input: &[f32],
) -> Result<Vec<f32>, Error> {
    let mut x = input.to_vec();
    for l in layers {
        let d = l.desc();
        let out_hw = d.output_size(hw)?;
        let mut y = vec![0.0; ConvDesc::nchw_len(batch, d.out_channels, out_hw)?];
        conv_reference(d, batch, hw, &x, l.weight(), l.bias(), &mut y)?;
        x = y;
        hw = out_hw;
    }
    Ok(x)
}

/// The largest `|a − b|` and where it is; a NaN counts as the largest difference.
pub(crate) fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, usize) {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0.0f32, 0), |(m, at), (i, d)| {
            if d > m || d.is_nan() && !m.is_nan() {
                (d, i)
            } else {
                (m, at)
            }
        })
}

/// The median of `times` (NaN when there are none).
pub(crate) fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `no holes: …` or `gridding: N holes …`, as `dilated check` words a verdict.
pub(crate) fn verdict(holes: u64, receptive_field: u64) -> String {
    if holes == 0 {
        format!("no holes: the receptive field of {receptive_field} is fully covered")
    } else {
        format!("gridding: {holes} holes in a receptive field of {receptive_field}")
    }
}

/// `--weights PATH` and `--save-weights PATH`, for an example whose network is otherwise
/// seeded.
#[derive(Debug, clap::Args)]
pub(crate) struct WeightsArgs {
    /// Load the weights from a safetensors file instead of seeding them (the network's twin
    /// `nn.Sequential`, saved with `safetensors.torch.save_file(model.state_dict(), path)`).
    #[arg(long, value_name = "PATH")]
    pub(crate) weights: Option<PathBuf>,
    /// Write the weights used to a safetensors file (PyTorch's names).
    #[arg(long, value_name = "PATH")]
    pub(crate) save_weights: Option<PathBuf>,
}

impl WeightsArgs {
    /// Whether the weights come from a file (`--weights`).
    pub(crate) fn loads(&self) -> bool {
        self.weights.is_some()
    }

    /// The network: `load` from `--weights` if given, else `seed`.
    pub(crate) fn load_or_seed<T>(
        &self,
        load: impl FnOnce(&Path) -> Result<T, Error>,
        seed: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, String> {
        match &self.weights {
            Some(path) => load(path)
                .map_err(|e| format!("cannot load the weights from {}: {e}", path.display())),
            None => seed().map_err(|e| format!("initialising: {e}")),
        }
    }

    /// Writes the weights with `save` to `--save-weights`, if given, and says so.
    pub(crate) fn save(&self, save: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), String> {
        if let Some(path) = &self.save_weights {
            save(path).map_err(|e| format!("cannot save the weights: {e}"))?;
            println!("saved the weights to {}", path.display());
        }
        Ok(())
    }
}

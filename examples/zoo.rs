//! A zoo of real dilated networks, each declared with `dilated_stack!` at a realistic size
//! and checked against its generated PyTorch twin:
//!
//! | name | network | source |
//! |---|---|---|
//! | `wavenet` | gated residual blocks, kernel 2, causal, rates 1…512 five times, skip sum and head | van den Oord et al. 2016; `ibab/tensorflow-wavenet` |
//! | `tcn` | TemporalBlocks: two weight-normed causal convs (kernel 7, rates 1…128), ReLU, dropout, 1×1 downsample | Bai et al. 2018; `locuslab/TCN` (sequential MNIST) |
//! | `aspp` | DeepLab v3's head: ASPP at 6, 12, 18 + image pooling on ResNet-101 features (field 971 px, jump 16) | Chen et al. 2017; torchvision `DeepLabHead` |
//! | `duc_hdc` | 23 ResNet bottlenecks with batch norm at rates 2, 2, 5, 9, then 1, 2, 5, 9, … | Wang et al. 2018; `TuSimple/TuSimple-DUC` |
//! | `esp` | ESP module: 1×1 reduction, rates 1–16, hierarchical fusion, residual, batch norm, PReLU | Mehta et al. 2018; `sacmehta/ESPNet` |
//! | `context` | the large context module (a chain): rates 1, 1, 2, 4, 8, 16, 1 | Yu & Koltun 2016 |
//!
//! ```text
//! cargo run --release --example zoo -- list
//! cargo run --release --example zoo -- twin wavenet > wavenet_twin.py
//! cargo run --release --example zoo -- run aspp --weights W.safetensors --input X.safetensors --output Y.safetensors [--threads T]
//! cargo run --release --example zoo -- check aspp
//! cargo run --release --example zoo -- bench duc_hdc [--threads T] [--batch N]
//! cargo run --release --example zoo -- bench wavenet --stream [--chunk N] [--threads T] [--peak 241]
//! ```
//!
//! - `list`: one entry name a line.
//! - `twin NAME`: a self-contained Python module (it imports only `torch`): the twin class
//!   (the generated `PYTORCH`), `model()` (a fresh twin in `eval()` mode) and `INPUT_SHAPE`
//!   (one item, no batch; concrete where the declaration has `_`).
//! - `run NAME`: loads the twin's `state_dict` (`--weights`), reads the f32 tensor `input`
//!   (`[N, *INPUT_SHAPE]`, any N ≥ 1; a size declared `_` may be any length), writes the
//!   f32 tensor `output`, shaped as the twin's output.
//! - `check NAME`: the verdict over every path (holes, receptive field, global context,
//!   HDC rules per chain), in the macro's words; with a declared input field, also the
//!   verdict on raw pixels.
//! - `bench NAME`: times `forward_into` on a batch of `INPUT_SHAPE` with seeded weights,
//!   two warm-up runs, then the median of 11 (`--runs`); the last line is `median_ms=<f>`.
//!   With `--stream` (the causal 1D entries, WaveNet and TCN): the `ModelStream` fed one
//!   sample at a time — or `--chunk N` samples a push (a divisor of 2048; chunks of 16 and
//!   more run through the whole-signal engine) — on one thread unless `--threads` says
//!   otherwise, the model's FLOPs per sample (`flop_per_sample=`; with `--peak` in
//!   GFLOP/s, their time at that peak, `bound_us_per_sample=`), and last
//!   `us_per_sample=<f>`.
//!
//! Every command takes `--small`: the entry's reduced-width declaration, with the same
//! blocks, rates, kernels, paddings and norms (the twin of the committed fixtures in
//! `fixtures/zoo/`, which `scripts/make_zoo_fixtures.py` writes and `tests/zoo.rs` checks).
//!
//! Bad input — an unknown name, a missing, truncated or misshapen file, a non-f32 input,
//! bad arguments — ends with one `error: …` line on stderr and exit code 1, never a panic.
//!
//! The declarations are in `examples/zoo/nets.rs`, each documented with its source and the
//! rates it uses.

use std::process::ExitCode;

#[path = "zoo/mod.rs"]
mod zoo;

fn main() -> ExitCode {
    let code = zoo::cli::main(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}

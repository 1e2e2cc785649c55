//! The `dilated_stack!` proc macro of the [`dilated`](https://docs.rs/dilated) crate: it
//! parses a stack of dilated convolutions, checks its schedule with the same analysis the
//! `dilated` command runs (`dilated_core::schedule`), and expands it into a typed network.
//!
//! Use it through the facade, `dilated::dilated_stack!`; the generated code names
//! `::dilated::__private` paths only.
//!
//! Phases, each in its own module: [`parse`](crate) (tokens → a value tree, syntax errors),
//! `ast` (the value tree → the stack model, structural errors), `valid` (the schedule
//! checks, by calling the schedule analysis), `expand` (code), `fallback` (what is emitted on errors).
//! Every error is collected (`ctxt`) and all of them are reported at once, each on its own
//! token.
#![forbid(unsafe_code)]

mod api;
mod ast;
mod block;
mod ctxt;
mod expand;
mod fallback;
mod graph;
mod model;
mod parse;
mod twin;
mod valid;

#[cfg(test)]
mod fuzz;

/// Declares a stack of dilated convolutions, checked at compile time.
///
/// `cargo build` rejects a schedule whose coverage has holes (the *gridding effect*) and
/// explains why, and what compiles is a typed network whose padding, output sizes and
/// receptive field were settled at compile time.
///
/// # The compact form
///
/// ```
/// dilated::dilated_stack! {
///     /// Docs and attributes pass through.
///     pub struct Hdc {
///         input: [8, 32, 32],  // [C, H, W] → conv2d, [C, L] → conv1d; `_` = dynamic size
///         kernel: 3,
///         rates: [1, 2, 5],
///         channels: 8,         // optional: output channels of each layer (default: C)
///         activation: relu,    // optional: after every conv, the last one included
///     }
/// }
///
/// assert_eq!(Hdc::RECEPTIVE_FIELD, 17);
/// assert_eq!(Hdc::RATES, &[1, 2, 5]);
/// let net = Hdc::new_seeded(7)?;
/// let y = net.forward_nchw(1, &vec![0.5; 8 * 32 * 32])?;
/// assert_eq!(y.len(), 8 * 32 * 32); // `same` padding keeps the size
/// # Ok::<(), dilated::Error>(())
/// ```
///
/// Every layer has the one `kernel` (a number, or `[kh, kw]` in 2D), its rate from `rates`,
/// stride 1, one group, a bias and `same` padding: `d·(k − 1)` in total per axis, split
/// `lo = total / 2`, `hi = total − lo` when odd, as PyTorch's `padding="same"` does.
///
/// # The per-layer form
///
/// ```
/// dilated::dilated_stack! {
///     /// A causal 1D stack (WaveNet style) with its own settings per layer.
///     pub struct Wave {
///         input: [4, _],  // 4 channels, any length
///         layers: [
///             conv(4 -> 8, kernel: 2, rate: 1, padding: causal),
///             leaky_relu(0.2),
///             conv(8 -> 8, kernel: 2, rate: 2, padding: causal, groups: depthwise),
///             gelu,
///             conv(8 -> 4, kernel: 2, rate: 4, padding: causal, bias: false),
///         ],
///     }
/// }
///
/// assert_eq!(Wave::RECEPTIVE_FIELD, 8);
/// let y = Wave::new_seeded(1)?.forward_nchw(2, &vec![1.0; 2 * 4 * 50])?;
/// assert_eq!(y.len(), 2 * 4 * 50);
/// # Ok::<(), dilated::Error>(())
/// ```
///
/// `layers` lists the modules of the stack's twin `torch.nn.Sequential`, in order: each
/// `conv(C_in -> C_out, key: value, …)` and the activations between them. Conv keys:
///
/// | key | values | default |
/// |---|---|---|
/// | `kernel` | `k`, or `[kh, kw]` in 2D | required |
/// | `rate` | `d`, or `[dh, dw]` in 2D | `1` |
/// | `stride` | `s`, or `[sh, sw]` in 2D | `1` |
/// | `groups` | `g` (dividing both channel counts), or `depthwise` (`g = C_in`) | `1` |
/// | `padding` | `same`, `valid`, `causal` (1D), `p`, `(before, after)`, or per axis `[ph, pw]` with each entry `p` or `(before, after)` | `same` |
/// | `bias` | `true`, `false` | `true` |
///
/// Activations: `relu`, `leaky_relu` (slope 0.01) or `leaky_relu(slope)`, `gelu` (the exact
/// erf form), `tanh`, `sigmoid`, `silu`. At most one follows each conv.
///
/// ```
/// dilated::dilated_stack! {
///     pub(crate) struct Mixed {
///         input: [6, 24, _],
///         layers: [
///             conv(6 -> 12, kernel: [3, 1], rate: [2, 1], padding: [2, 0], groups: 3),
///             silu,
///             conv(12 -> 12, kernel: 3, rate: 1, stride: 2, padding: 1),
///             tanh,
///             conv(12 -> 6, kernel: 3, padding: valid),
///             sigmoid,
///         ],
///     }
/// }
/// let y = Mixed::new_seeded(3)?.forward_nchw(1, &vec![0.1; 6 * 24 * 10])?;
/// assert_eq!(Mixed::OUTPUT_SHAPE, [6, 10, 0]); // width: `_` in, `_` out (0 = dynamic)
/// assert_eq!(y.len(), 6 * 10 * 3);
/// # Ok::<(), dilated::Error>(())
/// ```
///
/// # Stacks compose
///
/// `input: Backbone` (`Backbone[_, _]` in 1D; the entries may be written) takes the output
/// of a stack declared before as the input: its shape and its field (receptive field and
/// jump per axis) come from `Backbone`'s `dilated::stack::DeclaredStack` consts, and a
/// `const` item the macro emits fails the build, on `input:`, when the rank, the channels
/// or a size do not fit, or when the stack's taps leave holes on `Backbone`'s field.
/// `forward_nchw_after(&backbone, batch, hw, &input)` runs the pair. See `docs/GRAMMAR.md`.
///
/// # Checks
///
/// All problems are reported at once, each on its token, with a `help:` line where a fix
/// exists. A schedule with holes is an error (it names the first layer that opens a hole,
/// shows the coverage row and proposes a schedule without holes):
///
/// ```compile_fail
/// dilated::dilated_stack! {
///     struct Grids { input: [1, 64], kernel: 3, rates: [2, 4, 8] }
/// }
/// ```
///
/// The checks and their default levels:
///
/// | key | what | default |
/// |---|---|---|
/// | `holes` (or `gridding`) | holes in the coverage (the exact check) | `deny` |
/// | `hdc1` | HDC rule 1, `M_2 ≤ K` within each rising group of rates | `warn` |
/// | `hdc2` | HDC rule 2, a rate above 1 repeats in consecutive layers | `warn` |
/// | `hdc3` | HDC rule 3, the rates share a common factor > 1 | `deny` |
/// | `hdc` | sets `hdc1`, `hdc2` and `hdc3` together | — |
/// | `no_output` | an effective kernel wider than the padded input (no output) | `deny` |
/// | `long_range` | an effective kernel wider than the unpadded input, or a receptive field wider than the input | `warn` |
///
/// Each key is the check's id, the word the `dilated` command takes (`--deny hdc1`) and
/// prints (`error[hdc1]`); its hyphenated spellings (`hdc-rule-1`, `no-output`,
/// `long-range`, …) are accepted too. Each takes `deny`, `warn` or `allow` (`strict` is
/// `deny`):
///
/// ```
/// dilated::dilated_stack! {
///     /// Gridding on purpose: every other input position is skipped.
///     struct Sparse {
///         input: [1, 64],
///         kernel: 3,
///         rates: [2, 4, 8],
///         check: { gridding: allow, hdc: allow },
///     }
/// }
/// assert_eq!(Sparse::RECEPTIVE_FIELD, 29);
/// ```
///
/// The size checks need a declared input size. Always errors: unknown, duplicate or missing
/// keys; zero, negative, fractional or overflowing numbers (sizes are at most `u32::MAX`);
/// channels that do not chain; groups that do not divide the channels.
///
/// A warning is a use of a `#[deprecated]` item spanned on the offending token, the one
/// way to warn from a proc macro on stable Rust: `cargo build` prints
/// `warning: use of deprecated …: <the message>`, and `#![deny(deprecated)]` makes the
/// warnings errors.
///
/// # What the expansion offers
///
/// See the crate documentation of `dilated` for the generated API: a struct of
/// const-generic layers (`Conv2d`/`Conv1d` with the padding the macro computed), the consts
/// `RECEPTIVE_FIELD`, `RATES`, `PADDING`, `INPUT_SHAPE`, `OUTPUT_SHAPE`, `MODULE_INDICES`,
/// `LAYERS`; `new_seeded`, `from_safetensors`, `from_safetensors_bytes`,
/// `to_safetensors_bytes`, a typed `forward`, `forward_nchw`, `forward_nchw_sized`;
/// `Debug`, `Clone`; and docs with a table of the layers, the coverage row and its heat map.
///
/// Weight names follow the stack's twin `torch.nn.Sequential`, where every conv and every
/// activation takes a module index: `0.weight`, `0.bias`, `2.weight`, …
#[proc_macro]
pub fn dilated_stack(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::stack(input.into()).into()
}

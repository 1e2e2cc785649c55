//! What a stack declared with `dilated_stack!` tells the stacks that take its output as
//! their input (`input: Backbone`): its shapes, the field its output sees, and its run.

/// The shape and field of a stack declared with `dilated_stack!`, as `const`s: every
/// generated type implements it, and a stack declared with `input: Backbone` reads
/// `Backbone`'s through it, so a channel or size mismatch, or a hole the composition
/// leaves, fails `cargo build` on that declaration.
///
/// ```
/// use dilated_core::stack::DeclaredStack;
///
/// struct Backbone;
/// impl DeclaredStack for Backbone {
///     const RANK: usize = 2;
///     const INPUT_SHAPE: [usize; 3] = [3, 64, 64];
///     const OUTPUT_SHAPE: [usize; 3] = [16, 16, 16];
///     const RECEPTIVE_FIELD_HW: [usize; 2] = [35, 35];
///     const JUMP_HW: [usize; 2] = [4, 4];
///     type Error = dilated_core::Error;
///     fn forward_nchw_sized(
///         &self,
///         batch: usize,
///         hw: [usize; 2],
///         input: &[f32],
///     ) -> Result<(Vec<f32>, [usize; 2]), Self::Error> {
///         // A stand-in: every output value is the mean of the input.
///         let mean = input.iter().sum::<f32>() / input.len().max(1) as f32;
///         let [h, w] = hw.map(|s| s.div_ceil(4));
///         Ok((vec![mean; batch * 16 * h * w], [h, w]))
///     }
/// }
/// const SEEN: usize = <Backbone as DeclaredStack>::RECEPTIVE_FIELD_HW[1];
/// assert_eq!(SEEN, 35);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stack declared with `dilated_stack!`",
    label = "`input:` takes a shape `[C, H, W]` / `[C, L]` or a stack declared with `dilated_stack!`",
    note = "declare `{Self}` with `dilated_stack!` before this stack, or write its output shape: `input: [C, H, W]`"
)]
pub trait DeclaredStack {
    /// 1 (`[C, L]`) or 2 (`[C, H, W]`).
    const RANK: usize;
    /// The input shape `[C, H, W]` (`H` = 1 in 1D); 0 marks a size known only at run time.
    const INPUT_SHAPE: [usize; 3];
    /// The output shape `[C, H, W]`; 0 marks a size known only at run time.
    const OUTPUT_SHAPE: [usize; 3];
    /// What one output position sees, in input pixels, per axis `[height, width]`
    /// (`height` = 1 in 1D; the stack's own declared input field included).
    const RECEPTIVE_FIELD_HW: [usize; 2];
    /// Input pixels between neighbouring output positions, per axis (the product of the
    /// strides, times the declared input field's jump).
    const JUMP_HW: [usize; 2];
    /// The error of its runs.
    type Error;
    /// Runs the stack on flat NCHW data of `batch` items of spatial size `hw` (`[1, L]`
    /// in 1D); returns the flat output and its spatial size.
    fn forward_nchw_sized(
        &self,
        batch: usize,
        hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Self::Error>;
}

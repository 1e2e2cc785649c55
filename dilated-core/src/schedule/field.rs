//! Receptive field, jump and centre after every layer (the usual recursion, generalised
//! with strides): `rf_0 = 1, jump_0 = 1; rf_l = rf_{l−1} + (k'_l − 1)·jump_{l−1};
//! jump_l = jump_{l−1}·s_l`.

use super::error::{ErrorKind, ScheduleError};
use super::formula;
use super::limits::MAX_LAYERS;
use super::spec::{AxisSpec, overflow};

/// Where one layer sits in the stack, along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerGeometry {
    /// `d·(k − 1) + 1`.
    pub effective_kernel: u64,
    /// Resolved padding `(p_lo, p_hi)`.
    pub padding: (u64, u64),
    /// Receptive field of the stack up to and including this layer.
    pub receptive_field: u64,
    /// Product of the strides up to and including this layer (input pixels between two
    /// neighbouring outputs).
    pub jump: u64,
    /// Input index of the first pixel of output 0's receptive field (negative: padding).
    pub rf_start: i64,
    /// Twice the input index of the centre of output 0's receptive field (exact when the
    /// field is even: the centre is then half-way between two pixels).
    pub centre_x2: i64,
    /// Smallest offset reached, in SPEC's tap convention (tap `t` of a layer at
    /// `(t − (k − 1)/2)·d·jump`, relative to the output position; padding only shifts it).
    pub min_offset: i64,
    /// Largest offset reached, same convention.
    pub max_offset: i64,
    /// Input size along this axis, when known.
    pub input_size: Option<u64>,
    /// Output size along this axis, when known and the layer has an output.
    pub output_size: Option<u64>,
}

/// The receptive field of a stack (`const`).
///
/// ```
/// use dilated_core::schedule::{AxisSpec, receptive_field};
/// const RF: u64 = match receptive_field(&[AxisSpec::new(3, 1), AxisSpec::new(3, 2), AxisSpec::new(3, 4)]) {
///     Ok(rf) => rf,
///     Err(_) => 0,
/// };
/// assert_eq!(RF, 15);
/// ```
///
/// # Errors
/// Zero sizes or overflow, with the layer index.
pub const fn receptive_field(layers: &[AxisSpec]) -> Result<u64, ScheduleError> {
    let mut rf: u64 = 1;
    let mut jump: u64 = 1;
    let mut i = 0;
    while i < layers.len() {
        let l = &layers[i];
        if let Err(e) = l.validate() {
            return Err(e.at_layer(i));
        }
        let span = match l.span() {
            Ok(s) => s,
            Err(e) => return Err(e.at_layer(i)),
        };
        rf = match span.checked_mul(jump) {
            Some(g) => match rf.checked_add(g) {
                Some(r) => r,
                None => return Err(overflow("receptive field").at_layer(i)),
            },
            None => return Err(overflow("receptive field").at_layer(i)),
        };
        jump = match jump.checked_mul(l.stride) {
            Some(j) => j,
            None => return Err(overflow("jump (product of strides)").at_layer(i)),
        };
        i += 1;
    }
    Ok(rf)
}

/// The step between two taps of layer `i` in input pixels, `d·jump_{i−1}`, for every
/// layer; the receptive field is `1 + Σ (k − 1)·step`.
///
/// # Errors
/// Zero sizes or overflow.
pub fn tap_steps(layers: &[AxisSpec]) -> Result<Vec<u64>, ScheduleError> {
    let mut jump: u64 = 1;
    let mut steps = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        l.validate().map_err(|e| e.at_layer(i))?;
        steps.push(
            l.rate
                .checked_mul(jump)
                .ok_or_else(|| overflow("tap step").at_layer(i))?,
        );
        jump = jump
            .checked_mul(l.stride)
            .ok_or_else(|| overflow("jump (product of strides)").at_layer(i))?;
    }
    Ok(steps)
}

/// The extent of a stack along one axis, checked against a receptive-field limit before the
/// caller allocates anything that size: what the hole verdict and exact counting start
/// from.
pub(crate) struct Extent {
    /// The tap step of every layer ([`tap_steps`]).
    pub(crate) steps: Vec<u64>,
    /// The receptive field after every layer.
    pub(crate) fields: Vec<u64>,
    /// The receptive field of the stack.
    pub(crate) receptive_field: u64,
    /// The smallest offset reached (SPEC's tap convention).
    pub(crate) min_offset: i64,
}

/// The [`Extent`] of a non-empty stack of at most [`MAX_LAYERS`] layers whose receptive
/// field is at most `limit` (at most `2^62`, so that offsets fit `i64`).
///
/// # Errors
/// [`ErrorKind::Empty`], [`ErrorKind::TooManyLayers`], zero sizes or overflow, and
/// [`ErrorKind::ReceptiveFieldTooLarge`] at the first layer whose field passes `limit`.
pub(crate) fn extent(layers: &[AxisSpec], limit: u64) -> Result<Extent, ScheduleError> {
    if layers.is_empty() {
        return Err(ScheduleError::new(ErrorKind::Empty));
    }
    if layers.len() > MAX_LAYERS {
        return Err(ScheduleError::new(ErrorKind::TooManyLayers {
            layers: layers.len(),
            limit: MAX_LAYERS,
        }));
    }
    let steps = tap_steps(layers)?;
    let mut fields = Vec::with_capacity(layers.len());
    let mut rf: u64 = 1;
    let mut min_offset: i64 = 0;
    for (i, (l, &s)) in layers.iter().zip(&steps).enumerate() {
        rf = match formula::span(l.kernel, s).and_then(|g| rf.checked_add(g)) {
            Some(r) if r <= limit => r,
            other => {
                return Err(ScheduleError::new(ErrorKind::ReceptiveFieldTooLarge {
                    receptive_field: other.unwrap_or(u64::MAX),
                    limit,
                })
                .at_layer(i));
            }
        };
        // (k − 1)·s <= rf <= limit: the product and the offset fit i64.
        min_offset -= ((l.kernel - 1) / 2) as i64 * s as i64;
        fields.push(rf);
    }
    Ok(Extent {
        steps,
        fields,
        receptive_field: rf,
        min_offset,
    })
}

/// Geometry after every layer; with `input`, the input and output sizes too (a layer
/// without output, and every layer after it, gets `output_size: None`; see
/// [`output_sizes`] for the typed error).
///
/// ```
/// use dilated_core::schedule::{geometry, AxisSpec};
/// let g = geometry(&[AxisSpec::new(3, 1), AxisSpec::new(3, 2), AxisSpec::new(3, 4)], Some(32)).unwrap();
/// let rf: Vec<u64> = g.iter().map(|l| l.receptive_field).collect();
/// assert_eq!(rf, [3, 7, 15]);
/// assert_eq!(g[2].padding, (4, 4));
/// assert_eq!(g[2].output_size, Some(32));
/// assert_eq!((g[2].min_offset, g[2].max_offset), (-7, 7));
/// ```
///
/// # Errors
/// Zero sizes or overflow, with the layer index.
pub fn geometry(
    layers: &[AxisSpec],
    input: Option<u64>,
) -> Result<Vec<LayerGeometry>, ScheduleError> {
    let mut out = Vec::with_capacity(layers.len());
    let mut rf: u64 = 1;
    let mut jump: u64 = 1;
    let mut start: i64 = 0;
    let mut lo_off: i64 = 0;
    let mut hi_off: i64 = 0;
    let mut size = input;
    for (i, l) in layers.iter().enumerate() {
        let at = |e: ScheduleError| e.at_layer(i);
        l.validate().map_err(at)?;
        let effective = l.effective_kernel().map_err(at)?;
        let padding = l.padding_amounts().map_err(at)?;
        let span = effective - 1;
        let grow = span
            .checked_mul(jump)
            .ok_or_else(|| at(overflow("receptive field")))?;
        rf = rf
            .checked_add(grow)
            .ok_or_else(|| at(overflow("receptive field")))?;
        let pad_shift = i64::try_from(padding.0)
            .ok()
            .and_then(|p| p.checked_mul(i64::try_from(jump).ok()?))
            .ok_or_else(|| at(overflow("receptive-field start")))?;
        start = start
            .checked_sub(pad_shift)
            .ok_or_else(|| at(overflow("receptive-field start")))?;
        let step = i64::try_from(l.rate)
            .ok()
            .and_then(|r| r.checked_mul(i64::try_from(jump).ok()?))
            .ok_or_else(|| at(overflow("tap offset")))?;
        let k = i64::try_from(l.kernel).map_err(|_| at(overflow("tap offset")))?;
        let centre_tap = (k - 1) / 2;
        lo_off = step
            .checked_mul(centre_tap)
            .and_then(|x| lo_off.checked_sub(x))
            .ok_or_else(|| at(overflow("tap offset")))?;
        hi_off = step
            .checked_mul(k - 1 - centre_tap)
            .and_then(|x| hi_off.checked_add(x))
            .ok_or_else(|| at(overflow("tap offset")))?;
        let rf_i = i64::try_from(rf).map_err(|_| at(overflow("receptive field")))?;
        let centre_x2 = start
            .checked_mul(2)
            .and_then(|s| s.checked_add(rf_i - 1))
            .ok_or_else(|| at(overflow("receptive-field centre")))?;
        jump = jump
            .checked_mul(l.stride)
            .ok_or_else(|| at(overflow("jump (product of strides)")))?;
        let input_size = size;
        let output_size = match size {
            Some(s) => l.output_size(s).ok(),
            None => None,
        };
        size = output_size;
        out.push(LayerGeometry {
            effective_kernel: effective,
            padding,
            receptive_field: rf,
            jump,
            rf_start: start,
            centre_x2,
            min_offset: lo_off,
            max_offset: hi_off,
            input_size,
            output_size,
        });
        if input.is_some() && output_size.is_none() {
            // Later layers have no input: their sizes stay unknown.
            size = None;
        }
    }
    Ok(out)
}

/// Output size after every layer for an input of `input` pixels along this axis.
///
/// ```
/// use dilated_core::schedule::{output_sizes, AxisSpec, ErrorKind, PadMode};
/// let valid = |d| AxisSpec::new(3, d).with_padding(PadMode::Valid);
/// assert_eq!(output_sizes(&[valid(1), valid(2)], 16), Ok(vec![14, 10]));
/// let err = output_sizes(&[valid(1), valid(8)], 16).unwrap_err();
/// assert_eq!(err.layer, Some(1));
/// assert_eq!(err.kind, ErrorKind::KernelTooWide { effective: 17, padded: 14 });
/// ```
///
/// # Errors
/// Zero sizes, overflow, or a layer without output ([`KernelTooWide`](super::ErrorKind::KernelTooWide)),
/// with its index.
pub fn output_sizes(layers: &[AxisSpec], input: u64) -> Result<Vec<u64>, ScheduleError> {
    let mut size = input;
    let mut out = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        size = l.output_size(size).map_err(|e| e.at_layer(i))?;
        out.push(size);
    }
    Ok(out)
}

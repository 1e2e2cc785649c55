//! The hole verdict as a `const fn`, for const contexts (`dilated::assert_schedule!`): fixed
//! size bit arrays, a bounded receptive field ([`CONST_MAX_RF`]) and layer count
//! ([`CONST_MAX_LAYERS`]). Same algorithm and same answers as [`reach`](super::reach), which
//! a test checks on random stacks.
//!
//! ```
//! use dilated_core::schedule::const_core::{check, pattern, pattern_str};
//! const BAD: dilated_core::schedule::const_core::ConstCheck = check(&[3], &[2, 4, 8], &[]);
//! const _: () = assert!(BAD.has_holes() && BAD.receptive_field == 29);
//! assert_eq!((BAD.hole_count, BAD.nearest_hole, BAD.first_hole_layer), (14, -1, 0));
//! const P: dilated_core::schedule::const_core::Pattern = pattern(&BAD);
//! assert_eq!(pattern_str(&P), "#.#.#.#.#.#.#.#.#.#.#.#.#.#.#");
//! const GOOD: dilated_core::schedule::const_core::ConstCheck = check(&[3], &[1, 2, 5], &[]);
//! const _: () = assert!(GOOD.is_ok() && GOOD.receptive_field == 17);
//! ```

use super::error::{ErrorKind, ScheduleError};
use super::spec::{AxisLayer, overflow};

/// Largest receptive field the const verdict handles (`2^14` offsets, a 2 KiB bit array).
pub const CONST_MAX_RF: u64 = 1 << 14;

/// Most layers the const verdict handles.
pub const CONST_MAX_LAYERS: usize = 256;

const WORDS: usize = (CONST_MAX_RF / 64) as usize;

/// Width of [`Pattern`]: the offsets nearest the centre.
pub const PATTERN_MAX: usize = 64;

/// The const verdict of a 1D stack, flat so that macros can format its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstCheck {
    /// The input error, if the stack is malformed or over a const limit (then the other
    /// fields are meaningless).
    pub error: Option<ScheduleError>,
    /// Number of layers.
    pub layers: usize,
    /// Receptive field.
    pub receptive_field: u64,
    /// Smallest reachable offset (SPEC's tap convention).
    pub min_offset: i64,
    /// Number of holes.
    pub hole_count: u64,
    /// The smallest hole offset (0 without holes).
    pub first_hole: i64,
    /// The hole nearest the centre, the negative one on a tie (0 without holes).
    pub nearest_hole: i64,
    /// 0-based index of the layer at which the holes open (as
    /// [`Reach::first_hole_layer`](super::Reach::first_hole_layer); 0 without holes).
    pub first_hole_layer: usize,
    /// The rate of that layer (0 without holes).
    pub first_hole_rate: u64,
    /// The longest run of holes.
    pub widest_gap: u64,
    /// gcd of the rates.
    pub gcd: u64,
    full: bool,
    bits: [u64; WORDS],
}

impl ConstCheck {
    const EMPTY: Self = Self {
        error: None,
        layers: 0,
        receptive_field: 1,
        min_offset: 0,
        hole_count: 0,
        first_hole: 0,
        nearest_hole: 0,
        first_hole_layer: 0,
        first_hole_rate: 0,
        widest_gap: 0,
        gcd: 0,
        full: true,
        bits: [0; WORDS],
    };

    /// Whether the stack is well formed and has holes.
    #[must_use]
    pub const fn has_holes(&self) -> bool {
        self.error.is_none() && self.hole_count > 0
    }

    /// Whether the stack is well formed and hole-free.
    #[must_use]
    pub const fn is_ok(&self) -> bool {
        self.error.is_none() && self.hole_count == 0
    }

    /// Whether `offset` is reached.
    #[must_use]
    pub const fn contains(&self, offset: i64) -> bool {
        let i = offset - self.min_offset;
        if i < 0 || i as u64 >= self.receptive_field {
            return false;
        }
        if self.full {
            return true;
        }
        let i = i as usize;
        (self.bits[i / 64] >> (i % 64)) & 1 == 1
    }

    /// The error's text (`""` when there is none), for const formatting.
    #[must_use]
    pub const fn error_text(&self) -> &'static str {
        match &self.error {
            None => "",
            Some(e) => kind_text(&e.kind),
        }
    }

    /// 1-based number of the layer at fault for an error (0 when none).
    #[must_use]
    pub const fn error_layer_number(&self) -> usize {
        match &self.error {
            Some(ScheduleError { layer: Some(l), .. }) => *l + 1,
            _ => 0,
        }
    }
}

/// A short text for an error kind, `const`.
#[must_use]
pub const fn kind_text(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Empty => "the schedule has no layer",
        ErrorKind::ZeroKernel => "kernel size must be at least 1, got 0",
        ErrorKind::ZeroRate => "rate must be at least 1, got 0",
        ErrorKind::ZeroStride => "stride must be at least 1, got 0",
        ErrorKind::ZeroInput => "input size must be at least 1, got 0",
        ErrorKind::Overflow { .. } => "size arithmetic overflows 64 bits",
        ErrorKind::KernelTooWide { .. } => {
            "the effective kernel is wider than the padded input: no output"
        }
        ErrorKind::LengthMismatch { .. } => "kernels and strides need one entry, or one per rate",
        ErrorKind::TooManyLayers { .. } => {
            "too many layers for the const check (at most 256): use the `dilated` command"
        }
        ErrorKind::ReceptiveFieldTooLarge { .. } => {
            "receptive field over the const check's limit of 16384: use the `dilated` command"
        }
        ErrorKind::CoverageTooCostly { .. } => "coverage counting over its work limit",
        ErrorKind::MapTooLarge { .. } => "map over its size limit",
        ErrorKind::CountOverflow => "a coverage count overflows",
        ErrorKind::NoSuggestion { .. } => "no schedule satisfies the request",
    }
}

const fn fail(e: ScheduleError) -> ConstCheck {
    let mut c = ConstCheck::EMPTY;
    c.error = Some(e);
    c
}

const fn pick(
    list: &[u64],
    i: usize,
    n: usize,
    default: u64,
    what: &'static str,
) -> Result<u64, ScheduleError> {
    match list.len() {
        0 => Ok(default),
        1 => Ok(list[0]),
        len if len == n => Ok(list[i]),
        len => Err(ScheduleError::new(ErrorKind::LengthMismatch {
            what,
            expected: n,
            actual: len,
        })),
    }
}

/// [`check`] as a `Result`.
///
/// # Errors
/// Malformed stacks and the const limits.
pub const fn verdict(
    kernels: &[u64],
    rates: &[u64],
    strides: &[u64],
) -> Result<ConstCheck, ScheduleError> {
    let c = check(kernels, rates, strides);
    match c.error {
        Some(e) => Err(e),
        None => Ok(c),
    }
}

/// The verdict of a 1D stack: `kernels` and `strides` hold one entry for every layer or
/// one per rate (`strides` may be empty: all 1). Never panics; a malformed stack sets
/// [`ConstCheck::error`].
#[must_use]
pub const fn check(kernels: &[u64], rates: &[u64], strides: &[u64]) -> ConstCheck {
    let n = rates.len();
    if n == 0 {
        return fail(ScheduleError::new(ErrorKind::Empty));
    }
    if kernels.is_empty() {
        return fail(ScheduleError::new(ErrorKind::LengthMismatch {
            what: "kernels",
            expected: n,
            actual: 0,
        }));
    }
    if n > CONST_MAX_LAYERS {
        return fail(ScheduleError::new(ErrorKind::TooManyLayers {
            layers: n,
            limit: CONST_MAX_LAYERS,
        }));
    }
    // Pass 1: validate, receptive field, min offset, gcd.
    let mut c = ConstCheck::EMPTY;
    c.layers = n;
    let mut steps = [0u64; CONST_MAX_LAYERS];
    let mut ks = [0u64; CONST_MAX_LAYERS];
    let mut jump: u64 = 1;
    let mut rf: u64 = 1;
    let mut min: i64 = 0;
    let mut i = 0;
    while i < n {
        let k = match pick(kernels, i, n, 1, "kernels") {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        let s = match pick(strides, i, n, 1, "strides") {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let layer = AxisLayer::new(k, rates[i]).with_stride(s);
        if let Err(e) = layer.validate() {
            return fail(e.at_layer(i));
        }
        c.gcd = super::hdc::gcd(c.gcd, rates[i]);
        let step = match rates[i].checked_mul(jump) {
            Some(x) => x,
            None => return fail(overflow("tap step").at_layer(i)),
        };
        rf = match (k - 1).checked_mul(step) {
            Some(g) => match rf.checked_add(g) {
                Some(r) => r,
                None => u64::MAX,
            },
            None => u64::MAX,
        };
        if rf > CONST_MAX_RF {
            return fail(
                ScheduleError::new(ErrorKind::ReceptiveFieldTooLarge {
                    receptive_field: rf,
                    limit: CONST_MAX_RF,
                })
                .at_layer(i),
            );
        }
        min -= ((k - 1) / 2) as i64 * step as i64;
        jump = match jump.checked_mul(s) {
            Some(j) => j,
            // The jump only matters for later layers; it can only overflow with a huge
            // stride, which makes the next layer's field overflow the limit.
            None => u64::MAX,
        };
        steps[i] = step;
        ks[i] = k;
        i += 1;
    }
    c.receptive_field = rf;
    c.min_offset = min;
    // Pass 2: grow the set.
    let mut width: u64 = 1;
    let mut last_clean: i64 = -1;
    c.full = true;
    i = 0;
    while i < n {
        let k = ks[i];
        let s = steps[i];
        let new_width = width + (k - 1) * s;
        if k == 1 {
            if c.full {
                last_clean = i as i64;
            }
            i += 1;
            continue;
        }
        if c.full && s <= width {
            width = new_width;
            last_clean = i as i64;
            i += 1;
            continue;
        }
        if c.full {
            fill_ones(&mut c.bits, width);
            c.full = false;
        }
        shift_or(&mut c.bits, width, new_width, s, k);
        width = new_width;
        if count_ones(&c.bits, width) == width {
            c.full = true;
            c.bits = [0; WORDS];
            last_clean = i as i64;
        }
        i += 1;
    }
    if c.full {
        return c;
    }
    c.first_hole_layer = (last_clean + 1) as usize;
    c.first_hole_rate = rates[c.first_hole_layer];
    // Pass 3: holes, first, nearest, widest gap.
    let mut best = -1i64;
    let mut run = 0u64;
    let mut b: u64 = 0;
    while b < width {
        let bit = (c.bits[(b / 64) as usize] >> (b % 64)) & 1;
        if bit == 0 {
            let off = min + b as i64;
            if c.hole_count == 0 {
                c.first_hole = off;
            }
            c.hole_count += 1;
            run += 1;
            if run > c.widest_gap {
                c.widest_gap = run;
            }
            if best < 0 || off.abs() < c.nearest_hole.abs() {
                c.nearest_hole = off;
                best = 1;
            }
        } else {
            run = 0;
        }
        b += 1;
    }
    c
}

const fn fill_ones(v: &mut [u64; WORDS], width: u64) {
    let full = (width / 64) as usize;
    let mut i = 0;
    while i < full {
        v[i] = u64::MAX;
        i += 1;
    }
    let rest = width % 64;
    if rest > 0 {
        v[full] = (1u64 << rest) - 1;
    }
}

const fn count_ones(v: &[u64; WORDS], width: u64) -> u64 {
    let words = width.div_ceil(64) as usize;
    let mut total = 0u64;
    let mut i = 0;
    while i < words {
        total += v[i].count_ones() as u64;
        i += 1;
    }
    total
}

const fn shift_or(v: &mut [u64; WORDS], old_width: u64, new_width: u64, s: u64, k: u64) {
    let top = new_width.div_ceil(64);
    let old_top = old_width.div_ceil(64);
    let mut i = top;
    while i > 0 {
        i -= 1;
        let mut acc = v[i as usize];
        let mut t = 1;
        while t < k {
            let shift = t * s;
            let ws = shift / 64;
            let bs = shift % 64;
            if ws > i {
                break;
            }
            let src = i - ws;
            if src <= old_top {
                let hi = if src < old_top { v[src as usize] } else { 0 };
                if bs == 0 {
                    acc |= hi;
                } else {
                    acc |= hi << bs;
                    if src > 0 {
                        acc |= v[(src - 1) as usize] >> (64 - bs);
                    }
                }
            }
            t += 1;
        }
        v[i as usize] = acc;
    }
}

/// The reachability of the offsets nearest the centre, as text: `#` reached, `.` a hole,
/// at most [`PATTERN_MAX`] offsets, centred on offset 0 when the field is wider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    bytes: [u8; PATTERN_MAX],
    len: usize,
    /// The offset of the first character.
    pub first_offset: i64,
}

/// Renders [`Pattern`] (const).
#[must_use]
pub const fn pattern(c: &ConstCheck) -> Pattern {
    let mut p = Pattern {
        bytes: [b' '; PATTERN_MAX],
        len: 0,
        first_offset: c.min_offset,
    };
    if c.error.is_some() {
        return p;
    }
    let max = c.min_offset + c.receptive_field as i64 - 1;
    let mut lo = c.min_offset;
    if c.receptive_field > PATTERN_MAX as u64 {
        lo = -(PATTERN_MAX as i64 / 2);
        if lo < c.min_offset {
            lo = c.min_offset;
        }
        if lo + PATTERN_MAX as i64 - 1 > max {
            lo = max - PATTERN_MAX as i64 + 1;
        }
    }
    p.first_offset = lo;
    let mut off = lo;
    while off <= max && p.len < PATTERN_MAX {
        p.bytes[p.len] = if c.contains(off) { b'#' } else { b'.' };
        p.len += 1;
        off += 1;
    }
    p
}

/// The pattern's text (const).
#[must_use]
pub const fn pattern_str(p: &Pattern) -> &str {
    match core::str::from_utf8(p.bytes.split_at(p.len).0) {
        Ok(s) => s,
        Err(_) => "",
    }
}

//! The hole verdict as a `const fn`, for const contexts (`dilated::assert_schedule!`): fixed
//! size bit arrays, a bounded receptive field ([`CONST_MAX_RF`]) and layer count
//! ([`CONST_MAX_LAYERS`]). Same algorithm and same answers as [`reach`](fn@super::reach), which
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
use super::formula;
use super::spec::{AxisSpec, overflow, per_layer_or};

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
        let k = match per_layer_or(kernels, i, n, 1, "kernels") {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        let s = match per_layer_or(strides, i, n, 1, "strides") {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let layer = AxisSpec::new(k, rates[i]).with_stride(s);
        if let Err(e) = layer.validate() {
            return fail(e.at_layer(i));
        }
        c.gcd = super::hdc::gcd(c.gcd, rates[i]);
        let step = match rates[i].checked_mul(jump) {
            Some(x) => x,
            None => return fail(overflow("tap step").at_layer(i)),
        };
        rf = match formula::span(k, step) {
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

/// Longest rising group the const suggester tries (a smaller budget than
/// [`MAX_SUGGEST_CYCLE`](super::MAX_SUGGEST_CYCLE), to keep const evaluation short).
pub const CONST_MAX_CYCLE: usize = 16;

const TEXT_MAX: usize = 160;

/// A hole-free schedule proposed in a const context, for the help line of
/// `dilated::assert_schedule!`: the same sawtooth construction as
/// [`suggest`](super::suggest()), for one kernel size and stride 1, with cycles up to
/// [`CONST_MAX_CYCLE`] layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstSuggestion {
    /// Whether a schedule was found.
    pub found: bool,
    /// Whether it reaches the requested receptive field (otherwise it is the widest
    /// hole-free one with that many layers).
    pub reaches: bool,
    /// Its receptive field.
    pub receptive_field: u64,
    /// Number of layers.
    pub layers: usize,
    rates: [u64; CONST_MAX_LAYERS],
    text: [u8; TEXT_MAX],
    text_len: usize,
}

impl ConstSuggestion {
    const NONE: Self = Self {
        found: false,
        reaches: false,
        receptive_field: 0,
        layers: 0,
        rates: [0; CONST_MAX_LAYERS],
        text: [b' '; TEXT_MAX],
        text_len: 0,
    };

    /// The proposed rates.
    #[must_use]
    pub const fn rates(&self) -> &[u64] {
        self.rates.split_at(self.layers).0
    }
}

/// The rates as text, `[1, 3, 8]` (abbreviated with `…` when long), const.
#[must_use]
pub const fn suggestion_str(s: &ConstSuggestion) -> &str {
    match core::str::from_utf8(s.text.split_at(s.text_len).0) {
        Ok(t) => t,
        Err(_) => "",
    }
}

/// A fix for the stack `check(kernels, rates, strides)` describes: the same layer count and
/// a receptive field at least as large, or else the widest hole-free one. Proposes nothing
/// (`found == false`) for mixed kernels, strides other than 1, or a malformed stack.
///
/// ```
/// use dilated_core::schedule::const_core::{suggest_fix, suggestion_str, ConstSuggestion};
/// const S: ConstSuggestion = suggest_fix(&[3], &[1, 2, 9], &[]);
/// assert!(S.found && S.reaches);
/// assert_eq!(suggestion_str(&S), "[1, 3, 8]");
/// const W: ConstSuggestion = suggest_fix(&[3], &[2, 4, 8], &[]);
/// assert!(W.found && !W.reaches);
/// assert_eq!((suggestion_str(&W), W.receptive_field), ("[1, 3, 9]", 27));
/// ```
#[must_use]
pub const fn suggest_fix(kernels: &[u64], rates: &[u64], strides: &[u64]) -> ConstSuggestion {
    let c = check(kernels, rates, strides);
    if c.error.is_some() || kernels.is_empty() {
        return ConstSuggestion::NONE;
    }
    let k = kernels[0];
    let mut i = 0;
    while i < kernels.len() {
        if kernels[i] != k {
            return ConstSuggestion::NONE;
        }
        i += 1;
    }
    i = 0;
    while i < strides.len() {
        if strides[i] != 1 {
            return ConstSuggestion::NONE;
        }
        i += 1;
    }
    if k < 2 {
        return ConstSuggestion::NONE;
    }
    suggest(k, rates.len(), c.receptive_field)
}

/// Hole-free sawtooth schedules of `layers` layers of kernel `k` (stride 1) reaching
/// `min_rf`, best first by the largest rate; the best one, or the widest when none
/// reaches `min_rf`.
#[must_use]
pub const fn suggest(k: u64, layers: usize, min_rf: u64) -> ConstSuggestion {
    let mut best = ConstSuggestion::NONE;
    let mut widest = ConstSuggestion::NONE;
    if k < 2 || layers == 0 || layers > CONST_MAX_LAYERS {
        return best;
    }
    let mut best_key = (u64::MAX, usize::MAX);
    let max_m = if layers < CONST_MAX_CYCLE {
        layers
    } else {
        CONST_MAX_CYCLE
    };
    let mut m = 1;
    while m <= max_m {
        let caps = caps(k, m);
        let top_cap = caps[m - 1];
        let lo_r = if m == 1 { 1 } else { m as u64 };
        if top_cap >= lo_r {
            let wide = sawtooth_rf(k, &caps, m, top_cap, layers);
            if wide < min_rf {
                if wide > widest.receptive_field {
                    let cand = candidate(k, &caps, m, top_cap, layers);
                    if cand.found {
                        widest = cand;
                    }
                }
            } else {
                let (mut lo, mut hi) = (lo_r, top_cap);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if sawtooth_rf(k, &caps, m, mid, layers) >= min_rf {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                // Ranking as `suggest`: the smallest largest rate, then the shorter cycle.
                if lo < best_key.0 {
                    let mut cand = candidate(k, &caps, m, lo, layers);
                    if cand.found {
                        cand.reaches = true;
                        best = cand;
                        best_key = (lo, m);
                    }
                }
            }
        }
        m += 1;
    }
    if best.found { best } else { widest }
}

const fn caps(k: u64, m: usize) -> [u64; CONST_MAX_CYCLE] {
    let mut caps = [0u64; CONST_MAX_CYCLE];
    caps[0] = 1;
    let mut width = k;
    let mut rule1 = k;
    let mut i = 1;
    while i < m {
        let mut cap = rule1;
        if width < cap {
            cap = width;
        }
        if CONST_MAX_RF < cap {
            cap = CONST_MAX_RF;
        }
        caps[i] = cap;
        width = width.saturating_add((k - 1).saturating_mul(cap));
        rule1 = rule1.saturating_mul(3);
        i += 1;
    }
    caps
}

const fn group(caps: &[u64; CONST_MAX_CYCLE], m: usize, top: u64) -> [u64; CONST_MAX_CYCLE] {
    let mut g = [0u64; CONST_MAX_CYCLE];
    g[m - 1] = top;
    let mut i = m - 1;
    while i > 0 {
        i -= 1;
        let below = g[i + 1] - 1;
        g[i] = if below < caps[i] { below } else { caps[i] };
    }
    g[0] = 1;
    g
}

const fn sawtooth_rf(k: u64, caps: &[u64; CONST_MAX_CYCLE], m: usize, top: u64, n: usize) -> u64 {
    let g = group(caps, m, top);
    let mut rf: u64 = 1;
    let mut i = 0;
    while i < n {
        rf = rf.saturating_add((k - 1).saturating_mul(g[i % m]));
        i += 1;
    }
    rf
}

/// The sawtooth, checked for holes (and rule 3) by the const verdict, with its text.
const fn candidate(
    k: u64,
    caps: &[u64; CONST_MAX_CYCLE],
    m: usize,
    top: u64,
    n: usize,
) -> ConstSuggestion {
    let g = group(caps, m, top);
    let mut s = ConstSuggestion::NONE;
    let mut i = 0;
    while i < n {
        s.rates[i] = g[i % m];
        i += 1;
    }
    s.layers = n;
    let c = check(&[k], s.rates.split_at(n).0, &[]);
    if c.error.is_some() || c.hole_count > 0 || c.gcd > 1 {
        return ConstSuggestion::NONE;
    }
    s.found = true;
    s.receptive_field = c.receptive_field;
    // Text: "[a, b, c]", or "[a, b, …, y, z] (n layers)" when it does not fit.
    let mut pos = 0;
    s.text[pos] = b'[';
    pos += 1;
    let full = n <= 16;
    i = 0;
    while i < n {
        if !full && i == 6 {
            pos = put(&mut s.text, pos, "…, ");
            i = n - 6;
        }
        pos = put_u64(&mut s.text, pos, s.rates[i]);
        if i + 1 < n {
            pos = put(&mut s.text, pos, ", ");
        }
        i += 1;
    }
    pos = put(&mut s.text, pos, "]");
    if !full {
        pos = put(&mut s.text, pos, " (");
        pos = put_u64(&mut s.text, pos, n as u64);
        pos = put(&mut s.text, pos, " layers)");
    }
    s.text_len = pos;
    s
}

const fn put(buf: &mut [u8; TEXT_MAX], mut pos: usize, text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && pos < TEXT_MAX {
        buf[pos] = b[i];
        pos += 1;
        i += 1;
    }
    pos
}

const fn put_u64(buf: &mut [u8; TEXT_MAX], pos: usize, v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut x = v;
    loop {
        digits[n] = b'0' + (x % 10) as u8;
        n += 1;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let mut p = pos;
    while n > 0 && p < TEXT_MAX {
        n -= 1;
        buf[p] = digits[n];
        p += 1;
    }
    p
}

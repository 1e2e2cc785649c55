//! Exact counts beyond `u128`: the schedule analysis's generic count path with
//! `num-bigint`, and the JSON form of any count (an exact integer, never a float or a
//! string).

use std::fmt;

use dilated_core::heatmap::HeatValue;
use dilated_core::schedule::{
    AxisSpec, Count, Coverage, ErrorKind, ScheduleError, coverage_counts, coverage_row_text,
    coverage_u128, geometry,
};
use num_bigint::BigUint;
use serde_json::value::RawValue;

/// A coverage count of any size (a deep stack's counts grow like `k^n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Big(pub(crate) BigUint);

impl Count for Big {
    fn zero() -> Self {
        Self(BigUint::ZERO)
    }
    fn one() -> Self {
        Self(BigUint::from(1u8))
    }
    fn checked_add(&self, other: &Self) -> Option<Self> {
        Some(Self(&self.0 + &other.0))
    }
    fn checked_mul(&self, other: &Self) -> Option<Self> {
        Some(Self(&self.0 * &other.0))
    }
    fn is_zero(&self) -> bool {
        self.0 == BigUint::ZERO
    }
    fn checked_add_assign(&mut self, other: &Self) -> bool {
        self.0 += &other.0;
        true
    }
}

impl fmt::Display for Big {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl HeatValue for Big {
    #[allow(clippy::cast_precision_loss)]
    fn log2(&self) -> f64 {
        let bits = self.0.bits();
        if bits == 0 {
            return f64::NEG_INFINITY;
        }
        // The top 64 bits carry all the precision an f64 can hold.
        let shift = bits.saturating_sub(64);
        let top: BigUint = &self.0 >> shift;
        let top = top.iter_u64_digits().next().unwrap_or(0);
        (top as f64).log2() + shift as f64
    }
}

/// Most 64-bit limb additions the big-integer count path may do (under a second): counts
/// past `u128` cost their length in limbs for every tap addition.
pub(crate) const MAX_BIG_COUNT_WORK: u64 = 1 << 28;

/// An upper bound of the limb additions big-integer counting of `layers` does: every layer
/// adds each count of the row before it to `k` places, and a count after `i` layers has at
/// most `Σ log2 k` bits (the row widths are the analysis's receptive fields).
fn big_count_work(layers: &[AxisSpec]) -> Result<f64, ScheduleError> {
    let geometry = geometry(layers, None)?;
    let (mut width, mut bits, mut work) = (1.0_f64, 0.0_f64, 0.0_f64);
    for (l, g) in layers.iter().zip(&geometry) {
        #[allow(clippy::cast_precision_loss)]
        let (k, rf) = (l.kernel as f64, g.receptive_field as f64);
        bits += k.log2();
        work += width * k * (bits / 64.0).ceil().max(1.0);
        width = rf;
    }
    Ok(work)
}

/// Why a row of exact counts is not available.
#[derive(Debug, Clone)]
pub(crate) enum CountError {
    /// The analysis's limits or a bad schedule.
    Schedule(ScheduleError),
    /// Counts past 128 bits would cost more than [`MAX_BIG_COUNT_WORK`].
    TooCostly {
        /// The estimated limb additions.
        work: f64,
    },
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Schedule(e) => e.fmt(f),
            Self::TooCostly { work } => write!(
                f,
                "exact counts past 128 bits need about {work:.3e} limb additions, over the limit of {MAX_BIG_COUNT_WORK}"
            ),
        }
    }
}

/// The coverage row of one axis, in `u128` while the counts fit and in big integers
/// beyond.
#[derive(Debug, Clone)]
pub(crate) enum Row {
    /// Counts that fit 128 bits.
    Small(Coverage<u128>),
    /// Counts past 128 bits.
    Big(Coverage<Big>),
}

impl Row {
    /// Exact counts of `layers`: `u128` first, big integers when a count overflows it (up to
    /// [`MAX_BIG_COUNT_WORK`]).
    pub(crate) fn of(layers: &[AxisSpec]) -> Result<Self, CountError> {
        match coverage_u128(layers) {
            Ok(c) => Ok(Self::Small(c)),
            Err(ScheduleError {
                kind: ErrorKind::CountOverflow,
                ..
            }) => Self::big(layers),
            Err(e) => Err(CountError::Schedule(e)),
        }
    }

    /// Exact counts in big integers, when their cost is within [`MAX_BIG_COUNT_WORK`].
    pub(crate) fn big(layers: &[AxisSpec]) -> Result<Self, CountError> {
        let work = big_count_work(layers).map_err(CountError::Schedule)?;
        #[allow(clippy::cast_precision_loss)] // 2^28 is exact in f64
        if work > MAX_BIG_COUNT_WORK as f64 {
            return Err(CountError::TooCostly { work });
        }
        coverage_counts::<Big>(layers)
            .map(Self::Big)
            .map_err(CountError::Schedule)
    }

    /// The counts as big integers.
    pub(crate) fn into_big(self) -> Coverage<Big> {
        match self {
            Self::Small(c) => Coverage {
                min_offset: c.min_offset,
                counts: c.counts.into_iter().map(|n| Big(n.into())).collect(),
            },
            Self::Big(c) => c,
        }
    }

    /// Offset of the first count.
    pub(crate) fn min_offset(&self) -> i64 {
        match self {
            Self::Small(c) => c.min_offset,
            Self::Big(c) => c.min_offset,
        }
    }

    /// Number of counts (the receptive field).
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Small(c) => c.counts.len(),
            Self::Big(c) => c.counts.len(),
        }
    }

    /// The counts as text, abbreviated past `max` entries.
    pub(crate) fn text(&self, max: usize) -> String {
        match self {
            Self::Small(c) => coverage_row_text(c, max),
            Self::Big(c) => coverage_row_text(c, max),
        }
    }

    /// The counts as exact JSON integers.
    pub(crate) fn json(&self) -> Vec<Box<RawValue>> {
        match self {
            Self::Small(c) => c.counts.iter().map(json_int).collect(),
            Self::Big(c) => c.counts.iter().map(json_int).collect(),
        }
    }
}

/// A count as an exact JSON integer.
pub(crate) fn json_int(n: &impl fmt::Display) -> Box<RawValue> {
    // The decimal digits of an unsigned integer are valid JSON.
    RawValue::from_string(n.to_string())
        .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("`null` is JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_counting_is_bounded() {
        let ones = |n: usize| vec![AxisSpec::new(3, 1); n];
        // 100 layers: 3^100 paths, past u128, cheap.
        assert!(matches!(Row::of(&ones(100)), Ok(Row::Big(_))));
        assert!(matches!(Row::of(&ones(50)), Ok(Row::Small(_))));
        // 6,000 layers: thousands of limbs per count on a 12,001-wide row.
        let e = Row::of(&ones(6000)).unwrap_err();
        assert!(matches!(e, CountError::TooCostly { .. }), "{e}");
        assert!(e.to_string().contains("over the limit"));
    }

    #[test]
    fn big_counts_add_and_print_exactly() {
        let mut a = Big(BigUint::from(u128::MAX));
        assert!(a.checked_add_assign(&Big::one()));
        assert_eq!(a.to_string(), "340282366920938463463374607431768211456");
        assert!((a.log2() - 128.0).abs() < 1e-9);
        assert_eq!(Big::zero().log2(), f64::NEG_INFINITY);
        assert_eq!(
            json_int(&a).get(),
            "340282366920938463463374607431768211456"
        );
        assert!(Big::zero().is_zero() && !a.is_zero());
    }
}

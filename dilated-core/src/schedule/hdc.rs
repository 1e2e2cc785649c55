//! The three HDC design rules of Wang et al., "Understanding Convolution for Semantic
//! Segmentation" (WACV 2018). They are design rules, reported each by name with its
//! figures; the exact hole check ([`reach`](fn@super::reach)) is the truth.

use core::ops::Range;

use super::spec::AxisSpec;

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The rule holds.
    Pass,
    /// The rule is broken.
    Fail,
    /// The rule does not apply to this stack (rule 1 on strided or mixed-kernel stacks).
    NotApplicable,
}

impl Outcome {
    /// `Some(true)` for pass, `Some(false)` for fail, `None` for not applicable (the JSON
    /// form).
    #[must_use]
    pub const fn as_bool(self) -> Option<bool> {
        match self {
            Self::Pass => Some(true),
            Self::Fail => Some(false),
            Self::NotApplicable => None,
        }
    }

    /// `"pass"`, `"fail"` or `"n/a"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::NotApplicable => "n/a",
        }
    }
}

/// A rising group whose `M_2` exceeds the kernel size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule1Failure {
    /// The group's layers (0-based, end exclusive).
    pub group: Range<usize>,
    /// Its `M_2`.
    pub m2: u64,
}

/// The HDC figures of one axis.
///
/// ```
/// use dilated_core::schedule::{hdc, AxisSpec, Outcome};
/// let l = |rates: &[u64]| rates.iter().map(|&r| AxisSpec::new(3, r)).collect::<Vec<_>>();
/// let h = hdc(&l(&[1, 2, 5]));
/// assert_eq!(h.m, [1, 2, 5]);                 // M_2 = 2 ≤ K = 3
/// assert_eq!((h.rule1, h.rule2, h.rule3), (Outcome::Pass, Outcome::Pass, Outcome::Pass));
/// let h = hdc(&l(&[1, 2, 5, 1, 2, 5]));       // two rising groups, each fine
/// assert_eq!(h.groups, [0..3, 3..6]);
/// assert_eq!(h.rule1, Outcome::Pass);
/// let h = hdc(&l(&[2, 4, 8]));
/// assert_eq!((h.rule1, h.rule3, h.gcd), (Outcome::Fail, Outcome::Fail, 2));
/// assert_eq!(hdc(&l(&[2, 2, 2])).repeats, [1, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hdc {
    /// Maximal runs of strictly increasing rates, as layer ranges
    /// (`[1, 1, 2, 4, 8, 16, 1]` → `0..1, 1..6, 6..7`).
    pub groups: Vec<Range<usize>>,
    /// `M_i` for every layer, computed within its rising group: `M_n = r_n`,
    /// `M_i = max(M_{i+1} − 2 r_i, M_{i+1} − 2(M_{i+1} − r_i), r_i)`.
    pub m: Vec<u64>,
    /// `K` of rule 1: the kernel size when every layer has the same one.
    pub kernel: Option<u64>,
    /// Rule 1: `M_2 ≤ K` in every rising group of two layers or more. Not applicable to
    /// strided stacks, mixed kernel sizes, or `k = 1`.
    pub rule1: Outcome,
    /// The groups that break rule 1.
    pub rule1_failures: Vec<Rule1Failure>,
    /// Rule 2 (a heuristic): rates rise in a sawtooth, no rate above 1 repeats in
    /// consecutive layers (`[2, 2, 2]` fails, `[1, 2, 3, 1, 2, 3]` passes).
    pub rule2: Outcome,
    /// Layers whose rate (> 1) repeats the previous layer's.
    pub repeats: Vec<usize>,
    /// Rule 3: the rates share no common factor > 1. Not applicable when every kernel is
    /// 1 (the receptive field is 1).
    pub rule3: Outcome,
    /// The gcd of the rates as given.
    pub gcd: u64,
}

impl Hdc {
    /// `M_2` of the rising group that contains `layer`, if it has two layers or more.
    #[must_use]
    pub fn m2_of_group(&self, group: &Range<usize>) -> Option<u64> {
        (group.len() >= 2).then(|| self.m[group.start + 1])
    }
}

/// The greatest common divisor (`gcd(0, x) = x`).
#[must_use]
pub const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Maximal runs of strictly increasing rates.
#[must_use]
pub fn rising_groups(rates: &[u64]) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=rates.len() {
        if i == rates.len() || rates[i] <= rates[i - 1] {
            if i > start {
                groups.push(start..i);
            }
            start = i;
        }
    }
    groups
}

/// `M_i` of one rising group (HDC rule 1's recursion).
#[must_use]
pub fn m_values(group: &[u64]) -> Vec<u64> {
    let mut m = vec![0u64; group.len()];
    let Some(&last) = group.last() else {
        return m;
    };
    let n = group.len();
    m[n - 1] = last;
    for i in (0..n - 1).rev() {
        let next = i128::from(m[i + 1]);
        let r = i128::from(group[i]);
        let v = (next - 2 * r).max(next - 2 * (next - r)).max(r);
        // 0 < v <= max(next, r): fits u64.
        m[i] = u64::try_from(v).unwrap_or(u64::MAX);
    }
    m
}

/// All three rules for one axis.
#[must_use]
pub fn hdc(layers: &[AxisSpec]) -> Hdc {
    let rates: Vec<u64> = layers.iter().map(|l| l.rate).collect();
    let groups = rising_groups(&rates);
    let mut m = Vec::with_capacity(rates.len());
    for g in &groups {
        m.extend(m_values(&rates[g.clone()]));
    }
    let kernel = layers
        .first()
        .map(|l| l.kernel)
        .filter(|&k| layers.iter().all(|l| l.kernel == k));
    let strided = layers.iter().any(|l| l.stride != 1);
    let mut rule1_failures = Vec::new();
    let rule1 = match kernel {
        Some(k) if !strided && k > 1 => {
            for g in &groups {
                if g.len() >= 2 && m[g.start + 1] > k {
                    rule1_failures.push(Rule1Failure {
                        group: g.clone(),
                        m2: m[g.start + 1],
                    });
                }
            }
            if rule1_failures.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            }
        }
        _ => Outcome::NotApplicable,
    };
    let repeats: Vec<usize> = (1..rates.len())
        .filter(|&i| rates[i] > 1 && rates[i] == rates[i - 1])
        .collect();
    let rule2 = if repeats.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    let g = rates.iter().fold(0, |a, &r| gcd(a, r));
    let rule3 = if layers.iter().all(|l| l.kernel == 1) {
        Outcome::NotApplicable
    } else if g > 1 {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    Hdc {
        groups,
        m,
        kernel,
        rule1,
        rule1_failures,
        rule2,
        repeats,
        rule3,
        gcd: g,
    }
}

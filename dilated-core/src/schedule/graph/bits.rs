//! A set of offsets along one axis as a bit set from its smallest to its largest member
//! (both always set, so equal sets are equal values): the per-axis factor of a product term
//! of the exact gap test.

/// Offsets `min + i` for the set bits `i < len`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Bits {
    min: i64,
    len: u64,
    words: Vec<u64>,
}

fn words_for(len: u64) -> usize {
    usize::try_from(len.div_ceil(64)).unwrap_or(usize::MAX)
}

fn idx(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

impl Bits {
    /// Every offset from `lo` to `hi` (`lo <= hi`).
    pub(super) fn interval(lo: i64, hi: i64) -> Self {
        let len = super::geo::extent((lo, hi));
        let mut words = vec![u64::MAX; words_for(len)];
        if !len.is_multiple_of(64)
            && let Some(last) = words.last_mut()
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        Self {
            min: lo,
            len,
            words,
        }
    }

    /// The smallest member.
    pub(super) fn min(&self) -> i64 {
        self.min
    }

    /// The largest member.
    pub(super) fn max(&self) -> i64 {
        // len >= 1 and min + len - 1 was a member's offset.
        self.min + i64::try_from(self.len).unwrap_or(i64::MAX) - 1
    }

    /// Number of members.
    pub(super) fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Whether every offset between the smallest and the largest member is one.
    pub(super) fn is_full(&self) -> bool {
        self.count() == self.len
    }

    /// Whether `offset` is a member.
    pub(super) fn contains(&self, offset: i64) -> bool {
        let Some(d) = offset.checked_sub(self.min) else {
            return false;
        };
        let Ok(d) = u64::try_from(d) else {
            return false;
        };
        d < self.len && (self.words[idx(d / 64)] >> (d % 64)) & 1 == 1
    }

    /// The 64 bits starting at bit `bit` (relative to `min`; zeros outside the set).
    fn word_at(&self, bit: i64) -> u64 {
        let len = i64::try_from(self.len).unwrap_or(i64::MAX);
        if bit >= len || bit <= -64 {
            return 0;
        }
        let q = bit.div_euclid(64);
        let r = bit.rem_euclid(64);
        let get = |i: i64| -> u64 {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.words.get(i).copied())
                .unwrap_or(0)
        };
        if r == 0 {
            get(q)
        } else {
            (get(q) >> r) | (get(q + 1) << (64 - r))
        }
    }

    /// Whether every member of `self` is a member of `other`.
    pub(super) fn is_subset(&self, other: &Self) -> bool {
        if self.min < other.min || self.max() > other.max() {
            return false;
        }
        let base = self.min - other.min;
        self.words.iter().enumerate().all(|(i, &w)| {
            let at = i64::try_from(i * 64).unwrap_or(i64::MAX);
            w & !other.word_at(base + at) == 0
        })
    }

    /// The union of `set + shift` over the parts (at least one); `None` on offset overflow.
    pub(super) fn union_shifted(parts: &[(&Self, i64)]) -> Option<Self> {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for (s, shift) in parts {
            lo = lo.min(s.min.checked_add(*shift)?);
            hi = hi.max(s.max().checked_add(*shift)?);
        }
        if lo > hi {
            return None;
        }
        let len = super::geo::extent((lo, hi));
        let mut words = vec![0u64; words_for(len)];
        for (s, shift) in parts {
            let at = u64::try_from(i128::from(s.min) + i128::from(*shift) - i128::from(lo)).ok()?;
            or_at(&mut words, &s.words, at);
        }
        Some(Self {
            min: lo,
            len,
            words,
        })
    }

    /// The offset of the first member at or after bit `from` whose bit equals `set`, or
    /// `len`.
    fn next_with(&self, from: u64, set: bool) -> u64 {
        let mut i = from;
        while i < self.len {
            let w = self.words[idx(i / 64)] >> (i % 64);
            let w = if set { w } else { !w };
            let room = 64 - i % 64;
            let tz = u64::from(w.trailing_zeros()).min(room);
            if tz < room {
                return (i + tz).min(self.len);
            }
            i += room;
        }
        self.len
    }

    /// The longest run of non-members between the smallest and the largest member.
    pub(super) fn widest_gap(&self) -> u64 {
        let mut best = 0;
        let mut i = 0;
        while i < self.len {
            let start = self.next_with(i, false);
            if start >= self.len {
                break;
            }
            let end = self.next_with(start, true);
            best = best.max(end - start);
            i = end;
        }
        best
    }

    /// The non-members between the smallest and the largest member, smallest first.
    pub(super) fn gaps(&self) -> impl Iterator<Item = i64> + '_ {
        let mut i = 0;
        core::iter::from_fn(move || {
            let at = self.next_with(i, false);
            if at >= self.len {
                return None;
            }
            i = at + 1;
            Some(self.min + i64::try_from(at).unwrap_or(i64::MAX))
        })
    }

    /// Words of storage (the cost unit of the work budget).
    pub(super) fn words(&self) -> u64 {
        self.words.len() as u64
    }
}

/// `dst |= src << at` (bit offsets; `dst` is wide enough).
fn or_at(dst: &mut [u64], src: &[u64], at: u64) {
    let q = idx(at / 64);
    let r = at % 64;
    for (j, &w) in src.iter().enumerate() {
        if w == 0 {
            continue;
        }
        dst[q + j] |= w << r;
        if r > 0
            && let Some(next) = dst.get_mut(q + j + 1)
        {
            *next |= w >> (64 - r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    fn set(offsets: &[i64]) -> Bits {
        let parts: Vec<Bits> = offsets.iter().map(|&o| Bits::interval(o, o)).collect();
        let refs: Vec<(&Bits, i64)> = parts.iter().map(|b| (b, 0)).collect();
        Bits::union_shifted(&refs).unwrap()
    }

    #[test]
    fn union_subset_gaps() {
        let a = set(&[-70, -3, 0, 65]);
        assert_eq!((a.min(), a.max(), a.count()), (-70, 65, 4));
        assert!(a.contains(-3) && a.contains(65) && !a.contains(1) && !a.contains(66));
        assert!(set(&[-3, 65]).is_subset(&a));
        assert!(!set(&[-3, 64]).is_subset(&a));
        assert!(!a.is_subset(&set(&[-3, 0])));
        assert_eq!(a.widest_gap(), 66); // -70 → -3 leaves -69..=-4
        assert_eq!(a.gaps().count(), 132);
        assert_eq!(a.gaps().next(), Some(-69));
        let b = Bits::union_shifted(&[(&a, 5), (&a, -5)]).unwrap();
        assert_eq!((b.min(), b.max(), b.count()), (-75, 70, 8));
        let full = Bits::interval(-100, 100);
        assert!(full.is_full() && full.widest_gap() == 0 && full.gaps().next().is_none());
        assert!(a.is_subset(&full) && set(&[0]).is_subset(&set(&[0])));
        assert_eq!(set(&[2, 4]), set(&[4, 2]));
    }
}

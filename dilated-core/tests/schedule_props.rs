//! Property tests: the separable coverage counts equal a brute-force enumeration of every
//! tap path, for random small stacks with strides and mixed (even too) kernels; the
//! reachability verdict, the hole list and the const core agree with the counts.

use std::collections::BTreeMap;

use dilated_core::schedule::{
    AxisSpec, PadMode, const_core, coverage_counts, coverage_u128, geometry, hole_offsets, reach,
    receptive_field,
};
use proptest::prelude::*;

/// Every path from the output position: one tap per layer, offset
/// `Σ (t − (k − 1)/2)·d·jump_before`. Returns offset → number of paths.
fn brute_force(layers: &[AxisSpec]) -> BTreeMap<i64, u128> {
    let mut paths: Vec<i64> = vec![0];
    let mut jump: i64 = 1;
    for l in layers {
        let k = l.kernel as i64;
        let step = l.rate as i64 * jump;
        let mut next = Vec::with_capacity(paths.len() * k as usize);
        for &p in &paths {
            for t in 0..k {
                next.push(p + (t - (k - 1) / 2) * step);
            }
        }
        paths = next;
        jump *= l.stride as i64;
    }
    let mut counts = BTreeMap::new();
    for p in paths {
        *counts.entry(p).or_insert(0u128) += 1;
    }
    counts
}

fn layer() -> impl Strategy<Value = AxisSpec> {
    (1u64..=5, 1u64..=6, 1u64..=3, 0u8..4).prop_map(|(k, d, s, p)| {
        let padding = match p {
            0 => PadMode::Same,
            1 => PadMode::Valid,
            2 => PadMode::Causal,
            _ => PadMode::Explicit { lo: 1, hi: 2 },
        };
        AxisSpec::new(k, d).with_stride(s).with_padding(padding)
    })
}

/// Stacks of at most 4096 tap paths.
fn stack() -> impl Strategy<Value = Vec<AxisSpec>> {
    prop::collection::vec(layer(), 1..=6).prop_filter("few paths", |v| {
        v.iter().map(|l| l.kernel).product::<u64>() <= 4096
    })
}

/// Stride-1 stacks of one kernel size, bigger.
fn uniform_stack() -> impl Strategy<Value = Vec<AxisSpec>> {
    (1u64..=4, prop::collection::vec(1u64..=12, 1..=7))
        .prop_map(|(k, rates)| rates.into_iter().map(|r| AxisSpec::new(k, r)).collect())
        .prop_filter("few paths", |v: &Vec<AxisSpec>| {
            v.iter().map(|l| l.kernel).product::<u64>() <= 20_000
        })
}

fn check_against_brute_force(layers: &[AxisSpec]) -> Result<(), TestCaseError> {
    let truth = brute_force(layers);
    let min = *truth.keys().next().unwrap();
    let max = *truth.keys().next_back().unwrap();
    let c = coverage_u128(layers).unwrap();
    prop_assert_eq!(c.min_offset, min);
    prop_assert_eq!(c.counts.len() as i64, max - min + 1);
    for (i, &n) in c.counts.iter().enumerate() {
        let off = min + i as i64;
        prop_assert_eq!(n, truth.get(&off).copied().unwrap_or(0), "offset {}", off);
    }
    // The generic path in another count type agrees.
    let c64 = coverage_counts::<u64>(layers).unwrap();
    prop_assert!(
        c64.counts
            .iter()
            .zip(&c.counts)
            .all(|(&a, &b)| u128::from(a) == b)
    );
    // Receptive field and geometry agree with the paths' extent.
    let rf = receptive_field(layers).unwrap();
    prop_assert_eq!(rf as i64, max - min + 1);
    let g = geometry(layers, None).unwrap();
    prop_assert_eq!(
        (g.last().unwrap().min_offset, g.last().unwrap().max_offset),
        (min, max)
    );
    // Reachability verdict == (counts > 0).
    let holes: Vec<i64> = (min..=max).filter(|o| !truth.contains_key(o)).collect();
    prop_assert_eq!(&hole_offsets(layers).unwrap(), &holes);
    let r = reach(layers).unwrap();
    prop_assert_eq!(r.hole_count, holes.len() as u64);
    prop_assert_eq!(r.receptive_field, rf);
    prop_assert_eq!(r.first_hole, holes.first().copied());
    let nearest = holes.iter().copied().min_by_key(|&o| (o.abs(), o));
    prop_assert_eq!(r.nearest_hole, nearest);
    let mut widest = 0u64;
    let mut run = 0u64;
    for o in min..=max {
        if truth.contains_key(&o) {
            run = 0;
        } else {
            run += 1;
            widest = widest.max(run);
        }
    }
    prop_assert_eq!(r.widest_gap, widest);
    // The layer at which the holes open: prefixes from it on have holes, the one before
    // has none.
    match r.first_hole_layer {
        None => prop_assert!(holes.is_empty()),
        Some(l) => {
            for end in l + 1..=layers.len() {
                prop_assert!(reach(&layers[..end]).unwrap().has_holes(), "prefix {}", end);
            }
            if l > 0 {
                prop_assert!(!reach(&layers[..l]).unwrap().has_holes());
            }
        }
    }
    // The const core gives the same verdict.
    let ks: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
    let ds: Vec<u64> = layers.iter().map(|l| l.rate).collect();
    let ss: Vec<u64> = layers.iter().map(|l| l.stride).collect();
    let cc = const_core::check(&ks, &ds, &ss);
    prop_assert!(cc.error.is_none());
    prop_assert_eq!(cc.receptive_field, rf);
    prop_assert_eq!(cc.hole_count, r.hole_count);
    if r.has_holes() {
        prop_assert_eq!(Some(cc.first_hole), r.first_hole);
        prop_assert_eq!(Some(cc.nearest_hole), r.nearest_hole);
        prop_assert_eq!(Some(cc.first_hole_layer), r.first_hole_layer);
        prop_assert_eq!(cc.widest_gap, r.widest_gap);
    }
    for o in min..=max {
        prop_assert_eq!(cc.contains(o), truth.contains_key(&o));
    }
    Ok(())
}

/// Reachability the slow way: a `Vec<bool>` grown by one layer whose taps are `step`
/// apart; returns the new set and by how much the smallest offset moved.
fn naive_step(set: &[bool], k: usize, step: usize) -> (Vec<bool>, i64) {
    let mut next = vec![false; set.len() + (k - 1) * step];
    for (i, &b) in set.iter().enumerate() {
        if b {
            for t in 0..k {
                next[i + t * step] = true;
            }
        }
    }
    (next, ((k - 1) / 2 * step) as i64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Deep stacks with large rates (sets of many words, runs of full words, common
    /// factors, strides): the bit-set verdict equals the naive one, prefix by prefix.
    #[test]
    fn deep_stacks_verdict_equals_naive(
        spec in prop::collection::vec((1u64..=5, 1u64..=400, 1u64..=4), 1..=30),
        factor in 1u64..=3,
        strided in any::<bool>(),
    ) {
        let layers: Vec<AxisSpec> = spec
            .iter()
            .enumerate()
            .map(|(i, &(k, d, s))| {
                let s = if strided && i < 2 { s } else { 1 };
                AxisSpec::new(k, d * factor).with_stride(s)
            })
            .collect();
        prop_assume!(receptive_field(&layers).unwrap() < 300_000);
        let mut last_clean = None;
        let (mut set, mut min, mut jump) = (vec![true], 0i64, 1u64);
        for end in 1..=layers.len() {
            let l = &layers[end - 1];
            let (next, shift) = naive_step(&set, l.kernel as usize, (l.rate * jump) as usize);
            set = next;
            min -= shift;
            jump *= l.stride;
            let holes: Vec<i64> = set
                .iter()
                .enumerate()
                .filter(|(_, b)| !**b)
                .map(|(i, _)| min + i as i64)
                .collect();
            if holes.is_empty() {
                last_clean = Some(end - 1);
            }
            let r = reach(&layers[..end]).unwrap();
            prop_assert_eq!(r.min_offset, min);
            prop_assert_eq!(r.receptive_field, set.len() as u64);
            prop_assert_eq!(r.hole_count, holes.len() as u64, "prefix {}", end);
            prop_assert_eq!(r.first_hole, holes.first().copied());
            let nearest = holes.iter().copied().min_by_key(|&o| (o.abs(), o));
            prop_assert_eq!(r.nearest_hole, nearest);
            let expected_layer = (!holes.is_empty()).then(|| last_clean.map_or(0, |c| c + 1));
            prop_assert_eq!(r.first_hole_layer, expected_layer);
            let mut widest = 0u64;
            let mut run = 0u64;
            for &b in &set {
                run = if b { 0 } else { run + 1 };
                widest = widest.max(run);
            }
            prop_assert_eq!(r.widest_gap, widest);
        }
    }

    #[test]
    fn separable_counts_equal_brute_force(layers in stack()) {
        check_against_brute_force(&layers)?;
    }

    #[test]
    fn uniform_stacks_equal_brute_force(layers in uniform_stack()) {
        check_against_brute_force(&layers)?;
    }

    /// Wide sparse stacks exercise the word-level shifts (steps over 64 bits) of the bit
    /// set: the verdict still equals the counts.
    #[test]
    fn wide_steps_verdict_equals_counts(
        k in 2u64..=4,
        rates in prop::collection::vec(1u64..=300, 1..=6),
    ) {
        let layers: Vec<AxisSpec> = rates.iter().map(|&r| AxisSpec::new(k, r)).collect();
        let c = coverage_u128(&layers).unwrap();
        let r = reach(&layers).unwrap();
        let zeros: Vec<i64> = c.holes();
        prop_assert_eq!(r.hole_count, zeros.len() as u64);
        prop_assert_eq!(hole_offsets(&layers).unwrap(), zeros);
    }
}

/// Values a hostile caller might pass: zeros, ones, small sizes, and sizes near `u64::MAX`.
fn wild() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        1u64..=9,
        10u64..=100_000,
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1u64 << 32),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every entry point returns a value or a typed error on any input: no panic, no
    /// wrap-around (debug builds check every operation), no hang.
    #[test]
    fn no_input_panics(
        spec in prop::collection::vec((wild(), wild(), wild(), wild(), wild()), 0..=8),
        input in prop::option::of(wild()),
        min_rf in wild(),
    ) {
        let layers: Vec<AxisSpec> = spec
            .iter()
            .map(|&(k, d, s, lo, hi)| {
                let padding = match lo % 5 {
                    0 => PadMode::Same,
                    1 => PadMode::Valid,
                    2 => PadMode::Causal,
                    _ => PadMode::Explicit { lo, hi },
                };
                AxisSpec::new(k, d).with_stride(s).with_padding(padding)
            })
            .collect();
        let options = dilated_core::schedule::Options {
            input: input.map(|i| vec![Some(i)]).unwrap_or_default(),
            ..Default::default()
        };
        let _ = dilated_core::schedule::analyze(
            &dilated_core::schedule::Schedule::one_d(layers.clone()),
            &options,
        );
        let _ = reach(&layers);
        let _ = coverage_u128(&layers);
        let _ = geometry(&layers, input);
        let _ = receptive_field(&layers);
        for l in &layers {
            let _ = l.output_size(input.unwrap_or(1));
        }
        let ks: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
        let ds: Vec<u64> = layers.iter().map(|l| l.rate).collect();
        let ss: Vec<u64> = layers.iter().map(|l| l.stride).collect();
        let _ = const_core::check(&ks, &ds, &ss);
        let _ = const_core::suggest_fix(&ks, &ds, &ss);
        let _ = dilated_core::schedule::suggest_fix(&layers);
        if let Some(&(k, _, _, _, _)) = spec.first() {
            let _ = dilated_core::schedule::suggest(&dilated_core::schedule::SuggestRequest::new(
                k,
                spec.len(),
                min_rf,
            ));
        }
    }
}

//! The schedule engine against the classic figures, the HDC paper's rules, and every bad
//! input (a typed error each, never a panic).

use dilated_core::schedule::{
    Axis, AxisSpec, CheckId, Count, CoverageStatus, ErrorKind, Level, Levels, Options, Outcome,
    PadMode, Schedule, ScheduleError, Spec2d, SuggestRequest, analyze, coverage_counts,
    coverage_map, coverage_u128, geometry, hdc, hole_offsets, m_values, output_sizes, reach,
    receptive_field, rising_groups, suggest, suggest_fix,
};
use dilated_core::schedule::{
    MAX_COVERAGE_RF, MAX_LAYERS, MAX_MAP_SIDE, MAX_VERDICT_RF, const_core,
};

fn k3(rates: &[u64]) -> Vec<AxisSpec> {
    rates.iter().map(|&r| AxisSpec::new(3, r)).collect()
}

fn report(rates: &[u64]) -> dilated_core::schedule::Report {
    analyze(&Schedule::uniform(3, rates), &Options::default()).unwrap()
}

// ---- The classic figures ----------------------------------------------------------

#[test]
fn receptive_fields_3_7_15() {
    // rf_l = rf_{l−1} + (k' − 1)·jump: 1 + 2 = 3, 3 + 4 = 7, 7 + 8 = 15.
    let g = geometry(&k3(&[1, 2, 4]), None).unwrap();
    let rf: Vec<u64> = g.iter().map(|l| l.receptive_field).collect();
    assert_eq!(rf, [3, 7, 15]);
    let eff: Vec<u64> = g.iter().map(|l| l.effective_kernel).collect();
    assert_eq!(eff, [3, 5, 9]);
    assert_eq!(receptive_field(&k3(&[1, 2, 4])), Ok(15));
}

#[test]
fn rates_2_4_8_hole_at_every_odd_offset() {
    let layers = k3(&[2, 4, 8]);
    let r = reach(&layers).unwrap();
    assert_eq!((r.min_offset, r.max_offset), (-14, 14));
    let odd: Vec<i64> = (-14..=14).filter(|o: &i64| o % 2 != 0).collect();
    assert_eq!(hole_offsets(&layers).unwrap(), odd);
    assert_eq!(r.hole_count, 14);
    assert_eq!(r.first_hole_layer, Some(0)); // rate 2 alone already skips offset ±1
    assert_eq!(r.widest_gap, 1);
    let c = coverage_u128(&layers).unwrap();
    // The centre row of the classic printed coverage-count map.
    assert_eq!(
        c.counts,
        [
            1, 0, 1, 0, 2, 0, 1, 0, 3, 0, 2, 0, 3, 0, 1, 0, 3, 0, 2, 0, 3, 0, 1, 0, 2, 0, 1, 0, 1
        ]
    );
    assert!(odd.iter().all(|&o| c.get(o) == 0));
}

#[test]
fn rates_1_2_5_no_holes_and_m2_is_2() {
    let layers = k3(&[1, 2, 5]);
    let r = reach(&layers).unwrap();
    assert_eq!(
        (r.receptive_field, r.hole_count, r.first_hole_layer),
        (17, 0, None)
    );
    assert!(
        coverage_u128(&layers)
            .unwrap()
            .counts
            .iter()
            .all(|&c| c > 0)
    );
    let h = hdc(&layers);
    assert_eq!(h.m, [1, 2, 5]);
    assert_eq!(h.m[1], 2); // M_2 = max(5 − 4, 4 − 5, 2) = 2 ≤ K = 3
    assert_eq!(
        (h.rule1, h.rule2, h.rule3),
        (Outcome::Pass, Outcome::Pass, Outcome::Pass)
    );
    assert!(report(&[1, 2, 5]).diagnostics.is_empty());
}

#[test]
fn rates_1_2_9_holes_at_4_and_5() {
    // [1, 2] covers −3..3; rate 9 copies it to −12..−6 and 6..12.
    let layers = k3(&[1, 2, 9]);
    assert_eq!(hole_offsets(&layers).unwrap(), [-5, -4, 4, 5]);
    let r = reach(&layers).unwrap();
    assert_eq!(r.first_hole_layer, Some(2));
    assert_eq!(
        (r.nearest_hole, r.first_hole, r.widest_gap),
        (Some(-4), Some(-5), 2)
    );
    let rep = report(&[1, 2, 9]);
    let d = &rep.diagnostics[0];
    assert_eq!(
        (d.check, d.level, d.layer),
        (CheckId::Holes, Level::Deny, Some(2))
    );
    assert!(d.message.contains("layer 3 (rate 9)"), "{}", d.message);
    assert!(
        d.message
            .contains("coverage -12..=12: 1 1 2 1 2 1 1 0 0 1 1 2"),
        "{}",
        d.message
    );
    // Rule 1 also fails: M_2 = max(9 − 4, 4 − 9, 2) = 5 > 3.
    assert_eq!(rep.axes[0].hdc.m[1], 5);
}

#[test]
fn same_padding_2_for_32_3_2() {
    // 32 = (32 + 2p − 2·(3 − 1) − 1)/1 + 1 → p = 2.
    let l = AxisSpec::new(3, 2);
    assert_eq!(l.padding_amounts(), Ok((2, 2)));
    assert_eq!(l.output_size(32), Ok(32));
    // Odd totals split as PyTorch does: p_lo = total / 2.
    assert_eq!(AxisSpec::new(2, 1).padding_amounts(), Ok((0, 1)));
    assert_eq!(AxisSpec::new(4, 3).padding_amounts(), Ok((4, 5)));
    assert_eq!(AxisSpec::new(4, 3).output_size(7), Ok(7));
    // Strided `same`: ceil(I / s).
    assert_eq!(AxisSpec::new(3, 2).with_stride(2).output_size(33), Ok(17));
}

#[test]
fn sawtooth_1_2_5_1_2_5_passes() {
    let rep = report(&[1, 2, 5, 1, 2, 5]);
    assert!(rep.diagnostics.is_empty(), "{:?}", rep.diagnostics);
    let h = &rep.axes[0].hdc;
    assert_eq!(h.groups, [0..3, 3..6]);
    assert_eq!(h.m, [1, 2, 5, 1, 2, 5]);
    // Taken literally over the whole stack, the formula misfires (M_2 = 5 > 3).
    assert!(m_values(&[1, 2, 5, 1, 2, 5])[1] > 3);
    assert_eq!(rep.axes[0].reach.hole_count, 0);
    assert_eq!(rep.receptive_field(), 33);
}

#[test]
fn rates_2_3_fail_on_holes_although_rules_1_and_3_pass() {
    let rep = report(&[2, 3]);
    let a = &rep.axes[0];
    assert_eq!(a.hdc.rule1, Outcome::Pass);
    assert_eq!(a.hdc.rule3, Outcome::Pass);
    assert_eq!(a.holes.as_deref(), Some(&[-4, 4][..]));
    assert!(rep.is_error());
    let checks: Vec<CheckId> = rep.diagnostics.iter().map(|d| d.check).collect();
    assert_eq!(checks, [CheckId::Holes]);
    let d = &rep.diagnostics[0];
    assert!(d.message.contains("holes") && d.message.contains("gridding"));
    // Two k = 3 layers reach 9 without holes, not 11: the help says so and offers more.
    let help = d.help.as_deref().unwrap();
    assert!(help.contains("no hole-free 2-layer schedule"), "{help}");
    assert!(help.contains("rates [1, 3]"), "{help}");
}

// ---- HDC rules --------------------------------------------------------------------

#[test]
fn rising_groups_split_at_non_increase() {
    assert_eq!(rising_groups(&[1, 1, 2, 4, 8, 16, 1]), [0..1, 1..6, 6..7]);
    assert_eq!(rising_groups(&[5, 4, 3]), [0..1, 1..2, 2..3]);
    assert!(rising_groups(&[]).is_empty());
}

#[test]
fn rule1_not_applicable_to_strided_or_mixed_stacks() {
    let mixed = [AxisSpec::new(3, 1), AxisSpec::new(5, 2)];
    assert_eq!(hdc(&mixed).rule1, Outcome::NotApplicable);
    let strided = [AxisSpec::new(3, 1).with_stride(2), AxisSpec::new(3, 2)];
    assert_eq!(hdc(&strided).rule1, Outcome::NotApplicable);
    assert_eq!(hdc(&strided).rule1.as_bool(), None);
    assert_eq!(hdc(&k3(&[2, 4, 8])).rule1_failures[0].m2, 4);
}

#[test]
fn rule_levels_default_warn_and_strict_deny() {
    // [1, 1, 5]: no hole, but the group [1, 5] has M_2 = 5 > 3.
    let s = Schedule::uniform(3, &[1, 1, 5]);
    let rep = analyze(&s, &Options::default()).unwrap();
    assert!(!rep.has_holes());
    assert_eq!(rep.diagnostics.len(), 1);
    assert_eq!(
        (rep.diagnostics[0].check, rep.diagnostics[0].level),
        (CheckId::Hdc1, Level::Warn)
    );
    assert!(rep.diagnostics[0].message.contains("M_2 = 5"));
    assert!(!rep.is_error());
    let strict = Options {
        levels: Levels::default().strict_hdc(),
        ..Options::default()
    };
    assert!(analyze(&s, &strict).unwrap().is_error());
    // Rule 2: a repeated rate, no hole.
    let s = Schedule::uniform(3, &[1, 2, 2, 5]);
    let rep = analyze(&s, &Options::default()).unwrap();
    assert!(!rep.has_holes());
    let d = rep
        .diagnostics
        .iter()
        .find(|d| d.check == CheckId::Hdc2)
        .unwrap();
    assert_eq!((d.level, d.layer), (Level::Warn, Some(2)));
    assert!(analyze(&s, &strict).unwrap().is_error());
}

#[test]
fn rule3_and_holes_can_be_allowed() {
    let s = Schedule::uniform(3, &[2, 4, 8]);
    let rep = analyze(&s, &Options::default()).unwrap();
    let checks: Vec<(CheckId, Level)> =
        rep.diagnostics.iter().map(|d| (d.check, d.level)).collect();
    assert_eq!(
        checks,
        [
            (CheckId::Holes, Level::Deny),
            (CheckId::Hdc3, Level::Deny),
            (CheckId::Hdc1, Level::Warn)
        ]
    );
    assert_eq!(rep.axes[0].hdc.gcd, 2);
    let mut levels = Levels::default();
    levels.set(CheckId::Holes, Level::Allow);
    levels.set(CheckId::Hdc3, Level::Allow);
    let rep = analyze(
        &s,
        &Options {
            levels,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(!rep.is_error());
    assert_eq!(rep.max_level(), Some(Level::Warn));
}

// ---- Report and diagnostics ---------------------------------------------------------

#[test]
fn gridding_diagnostic_says_what_and_how() {
    let rep = report(&[2, 4, 8]);
    let d = &rep.diagnostics[0];
    assert!(d.message.starts_with("gridding:"));
    assert!(d.message.contains("holes"));
    assert!(d.message.contains("layer 1 (rate 2)"));
    assert!(d.message.contains("coverage -14..=14: 1 0 1 0 2 0"));
    let help = d.help.as_deref().unwrap();
    // Three k = 3 layers reach 27 at most without holes; [2, 4, 8] spans 29.
    assert!(help.contains("rates [1, 3, 9] reach 27"), "{help}");
    assert!(help.contains("with 4 layers"), "{help}");
    let text = d.to_string();
    assert!(text.starts_with("error[holes]: gridding:"));
    assert!(text.contains("\n  = help: "));
    // Every diagnostic carries a help line.
    assert!(rep.diagnostics.iter().all(|d| d.help.is_some()));
    assert_eq!(rep.suggestions[0].rates, [1, 3, 9]);
}

#[test]
fn long_coverage_rows_are_abbreviated() {
    let rates: Vec<u64> = (0..12).map(|i| 2 + 2 * i).collect();
    let rep = report(&rates);
    let d = &rep.diagnostics[0];
    let row = d.message.lines().nth(1).unwrap();
    assert!(row.contains(" … "), "{row}");
    assert!(row.len() < 400);
}

#[test]
fn long_range_and_no_output() {
    // Same padding: RF 13 over an input of 10 is a warning.
    let s = Schedule::uniform(3, &[1, 2, 3]);
    let rep = analyze(
        &s,
        &Options {
            input: vec![Some(10)],
            ..Options::default()
        },
    )
    .unwrap();
    assert!(!rep.is_error());
    let d = &rep.diagnostics[0];
    assert_eq!(
        (d.check, d.level, d.layer),
        (CheckId::LongRange, Level::Warn, Some(2))
    );
    assert_eq!(rep.axes[0].geometry[2].output_size, Some(10));
    // Valid padding, input 8: layer 1 gives 6, layer 2 (effective kernel 9) has no output.
    let s = Schedule::one_d(vec![
        AxisSpec::new(3, 1).with_padding(PadMode::Valid),
        AxisSpec::new(3, 4).with_padding(PadMode::Valid),
    ]);
    let rep = analyze(
        &s,
        &Options {
            input: vec![Some(8)],
            ..Options::default()
        },
    )
    .unwrap();
    assert!(rep.is_error());
    let d = rep
        .diagnostics
        .iter()
        .find(|d| d.check == CheckId::NoOutput)
        .unwrap();
    assert_eq!(d.layer, Some(1));
    assert!(d.message.contains("no output"), "{}", d.message);
    assert_eq!(rep.axes[0].geometry[1].output_size, None);
    // Effective kernel wider than the unpadded input, padded input wide enough: warning.
    let s = Schedule::uniform(3, &[8]);
    let rep = analyze(
        &s,
        &Options {
            input: vec![Some(10)],
            ..Options::default()
        },
    )
    .unwrap();
    assert!(
        rep.diagnostics
            .iter()
            .any(|d| d.check == CheckId::LongRange && d.layer == Some(0))
    );
}

#[test]
fn two_d_axes() {
    // Identical axes: one set of rate diagnostics, no axis named.
    let s = Schedule::two_d(&[Spec2d::square(3, 2), Spec2d::square(3, 4)]);
    let rep = analyze(&s, &Options::default()).unwrap();
    assert!(rep.axes_identical);
    assert_eq!(rep.axes.len(), 2);
    assert_eq!(rep.axes[1].axis, Axis::Width);
    assert_eq!(
        rep.diagnostics
            .iter()
            .filter(|d| d.check == CheckId::Holes)
            .count(),
        1
    );
    assert_eq!(rep.diagnostics[0].axis, None);
    // Rectangular kernel, per-axis rates: the height grids, the width does not.
    let layers = [
        Spec2d {
            height: AxisSpec::new(3, 2),
            width: AxisSpec::new(5, 1),
        },
        Spec2d {
            height: AxisSpec::new(3, 4),
            width: AxisSpec::new(5, 2),
        },
    ];
    let rep = analyze(&Schedule::two_d(&layers), &Options::default()).unwrap();
    assert!(!rep.axes_identical);
    assert!(rep.axes[0].reach.has_holes());
    assert!(!rep.axes[1].reach.has_holes());
    assert_eq!(rep.axes[1].receptive_field, 13);
    let d = &rep.diagnostics[0];
    assert_eq!(d.axis, Some(Axis::Height));
    assert!(d.message.contains("height"));
    // The 2D map is the outer product of the rows.
    let h = rep.axes[0].coverage.exact().unwrap();
    let w = rep.axes[1].coverage.exact().unwrap();
    let map = coverage_map(h, w).unwrap();
    assert_eq!((map.len(), map[0].len()), (13, 13));
    for (y, row) in map.iter().enumerate() {
        for (x, &c) in row.iter().enumerate() {
            assert_eq!(c, h.counts[y] * w.counts[x]);
        }
    }
}

#[test]
fn causal_and_explicit_padding_do_not_move_holes() {
    let base = k3(&[2, 4]);
    let causal: Vec<AxisSpec> = base
        .iter()
        .map(|l| l.with_padding(PadMode::Causal))
        .collect();
    let explicit: Vec<AxisSpec> = base
        .iter()
        .map(|l| l.with_padding(PadMode::Explicit { lo: 7, hi: 0 }))
        .collect();
    for v in [&causal, &explicit] {
        assert_eq!(hole_offsets(v).unwrap(), hole_offsets(&base).unwrap());
        assert_eq!(coverage_u128(v).unwrap(), coverage_u128(&base).unwrap());
    }
    let g = geometry(&causal, Some(20)).unwrap();
    assert_eq!(g[1].padding, (8, 0));
    assert_eq!(g[1].rf_start, -12); // output 0 sees only past (padding) samples and itself
    assert_eq!(g[1].centre_x2, 2 * -12 + 12);
    assert_eq!(g[1].output_size, Some(20));
}

#[test]
fn strided_stack_geometry() {
    // jump multiplies: k = 3 rates [1, 1] strides [2, 1] → RF = 1 + 2 + 2·2 = 7.
    let l = [AxisSpec::new(3, 1).with_stride(2), AxisSpec::new(3, 1)];
    let g = geometry(&l, Some(9)).unwrap();
    assert_eq!((g[0].receptive_field, g[0].jump), (3, 2));
    assert_eq!((g[1].receptive_field, g[1].jump), (7, 2));
    assert_eq!(output_sizes(&l, 9), Ok(vec![5, 5]));
    assert!(!reach(&l).unwrap().has_holes());
    // Rates [1, 2] with the stride: steps 1 and 4 leave holes at ±2.
    let l = [AxisSpec::new(3, 1).with_stride(2), AxisSpec::new(3, 2)];
    assert_eq!(hole_offsets(&l).unwrap(), [-2, 2]);
}

// ---- Suggestions ----------------------------------------------------------------------

#[test]
fn suggestions_are_hole_free_hdc_and_best_first() {
    for (k, n, min_rf) in [
        (3, 3, 17),
        (3, 6, 64),
        (2, 10, 1024),
        (5, 4, 200),
        (4, 5, 100),
    ] {
        let s = suggest(&SuggestRequest::new(k, n, min_rf)).unwrap();
        assert!(!s.is_empty());
        for x in &s {
            assert_eq!(x.rates.len(), n);
            assert!(x.receptive_field >= min_rf);
            let layers = x.layers();
            assert!(!reach(&layers).unwrap().has_holes());
            let h = hdc(&layers);
            assert_ne!(h.rule1, Outcome::Fail);
            assert_ne!(h.rule2, Outcome::Fail);
            assert_ne!(h.rule3, Outcome::Fail);
        }
        assert!(s.windows(2).all(|w| w[0].max_rate <= w[1].max_rate));
    }
    // WaveNet: k = 2, ten layers, RF 1024 needs rate 512 at the top: 1, 2, 4, …, 512.
    let s = suggest(&SuggestRequest::new(2, 10, 1024)).unwrap();
    assert_eq!(s[0].rates, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
}

#[test]
fn suggestion_errors() {
    let e = suggest(&SuggestRequest::new(3, 3, 28)).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NoSuggestion {
            layers: 3,
            min_receptive_field: 28,
            best_receptive_field: 27
        }
    );
    assert!(e.to_string().contains("no hole-free schedule of 3 layers"));
    assert_eq!(
        suggest(&SuggestRequest::new(0, 3, 10)).unwrap_err().kind,
        ErrorKind::ZeroKernel
    );
    assert_eq!(
        suggest(&SuggestRequest::new(3, 0, 10)).unwrap_err().kind,
        ErrorKind::Empty
    );
    assert!(matches!(
        suggest(&SuggestRequest::new(3, MAX_LAYERS + 1, 10))
            .unwrap_err()
            .kind,
        ErrorKind::TooManyLayers { .. }
    ));
    assert!(matches!(
        suggest(&SuggestRequest::new(3, 4, u64::MAX))
            .unwrap_err()
            .kind,
        ErrorKind::NoSuggestion { .. }
    ));
    // Kernel 1 never widens the field.
    assert!(suggest(&SuggestRequest::new(1, 4, 2)).is_err());
    assert_eq!(
        suggest(&SuggestRequest::new(1, 4, 1)).unwrap()[0].rates,
        [1, 1, 1, 1]
    );
}

#[test]
fn fixes_keep_layer_count_and_field() {
    let fix = suggest_fix(&k3(&[1, 2, 9]));
    assert!(fix[0].rates.len() == 3 && fix[0].receptive_field >= 25);
    let fix = suggest_fix(&k3(&[2, 2, 2, 2, 2, 2]));
    assert!(fix[0].rates.len() == 6 && fix[0].receptive_field >= 25);
    // 1,000 layers: still a bounded search.
    let big: Vec<u64> = (0..1000).map(|i| 2 + (i * 37) % 50 * 2).collect();
    let fix = suggest_fix(&k3(&big));
    assert!(!fix.is_empty());
    assert!(fix[0].rates.len() == 1000);
    assert!(fix[0].receptive_field >= receptive_field(&k3(&big)).unwrap());
}

// ---- Typed errors ---------------------------------------------------------------------

fn err(rates: &[u64]) -> ScheduleError {
    analyze(&Schedule::uniform(3, rates), &Options::default()).unwrap_err()
}

#[test]
fn zero_values_are_typed_errors_with_the_layer() {
    let e = err(&[1, 0, 2]);
    assert_eq!((e.kind, e.layer), (ErrorKind::ZeroRate, Some(1)));
    assert_eq!(e.to_string(), "layer 2: rate must be at least 1, got 0");
    let e = analyze(&Schedule::uniform(0, &[1]), &Options::default()).unwrap_err();
    assert_eq!((e.kind, e.layer), (ErrorKind::ZeroKernel, Some(0)));
    let s = Schedule::from_lists(&[3], &[1, 2], Some(&[1, 0])).unwrap();
    let e = analyze(&s, &Options::default()).unwrap_err();
    assert_eq!((e.kind, e.layer), (ErrorKind::ZeroStride, Some(1)));
    let e = analyze(
        &Schedule::uniform(3, &[1]),
        &Options {
            input: vec![Some(0)],
            ..Options::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ZeroInput);
    assert_eq!(
        AxisSpec::new(3, 1).output_size(0).unwrap_err().kind,
        ErrorKind::ZeroInput
    );
    let layers2d = [Spec2d {
        height: AxisSpec::new(3, 1),
        width: AxisSpec::new(3, 0),
    }];
    let e = analyze(&Schedule::two_d(&layers2d), &Options::default()).unwrap_err();
    assert_eq!(
        (e.kind, e.layer, e.axis),
        (ErrorKind::ZeroRate, Some(0), Some(Axis::Width))
    );
}

#[test]
fn malformed_lists_are_typed_errors() {
    assert_eq!(
        Schedule::from_lists(&[3], &[], None).unwrap_err().kind,
        ErrorKind::Empty
    );
    let e = Schedule::from_lists(&[3, 3], &[1, 2, 3], None).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::LengthMismatch {
            what: "kernels",
            expected: 3,
            actual: 2
        }
    );
    let e = Schedule::from_lists(&[3], &[1, 2, 3], Some(&[1, 1])).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::LengthMismatch {
            what: "strides",
            ..
        }
    ));
    assert_eq!(
        analyze(&Schedule::one_d(vec![]), &Options::default())
            .unwrap_err()
            .kind,
        ErrorKind::Empty
    );
    let e = analyze(
        &Schedule::uniform(3, &[1]),
        &Options {
            input: vec![Some(3), Some(3)],
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::LengthMismatch {
            what: "input sizes",
            ..
        }
    ));
}

#[test]
fn huge_values_overflow_into_typed_errors() {
    let e = AxisSpec::new(3, u64::MAX).effective_kernel().unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Overflow { .. }));
    let e = err(&[1, u64::MAX]);
    assert!(matches!(e.kind, ErrorKind::Overflow { .. }), "{e}");
    assert_eq!(e.layer, Some(1));
    let e = receptive_field(&k3(&[u64::MAX / 3, u64::MAX / 3])).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Overflow { .. }));
    let e = AxisSpec::new(3, 1)
        .with_padding(PadMode::Explicit {
            lo: u64::MAX,
            hi: 1,
        })
        .output_size(1);
    assert!(matches!(e.unwrap_err().kind, ErrorKind::Overflow { .. }));
    // Strides whose product overflows.
    let l = vec![AxisSpec::new(3, 1).with_stride(u64::MAX); 3];
    assert!(analyze(&Schedule::one_d(l), &Options::default()).is_err());
    // A field beyond the verdict limit (not an overflow, a documented limit).
    let e = err(&[1, MAX_VERDICT_RF]);
    assert!(matches!(
        e.kind,
        ErrorKind::ReceptiveFieldTooLarge {
            limit: MAX_VERDICT_RF,
            ..
        }
    ));
    assert!(e.is_limit());
}

#[test]
fn kernel_wider_than_padded_input() {
    let l = AxisSpec::new(5, 3).with_padding(PadMode::Valid);
    let e = l.output_size(12).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::KernelTooWide {
            effective: 13,
            padded: 12
        }
    );
    assert!(e.to_string().contains("no output"));
    assert_eq!(l.output_size(13), Ok(1));
    let e = AxisSpec::new(3, 2)
        .with_padding(PadMode::Explicit { lo: 1, hi: 0 })
        .output_size(3);
    assert_eq!(
        e.unwrap_err().kind,
        ErrorKind::KernelTooWide {
            effective: 5,
            padded: 4
        }
    );
}

#[test]
fn limits_are_typed_errors() {
    const { assert!(MAX_LAYERS >= 10_000 && MAX_VERDICT_RF >= 1 << 25) };
    const { assert!(MAX_COVERAGE_RF >= 100_000 && MAX_MAP_SIDE >= 1024) };
    let e = analyze(
        &Schedule::uniform(3, &vec![1; MAX_LAYERS + 1]),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::TooManyLayers {
            layers: MAX_LAYERS + 1,
            limit: MAX_LAYERS
        }
    );
    assert!(e.is_limit());
    // Verdict yes, counts no: the report says so instead of failing.
    let rates = [1, 3, 9, 27, 81, 243, 729, 2187, 6561, 19683, 59049];
    let rep = analyze(&Schedule::uniform(3, &rates), &Options::default()).unwrap();
    assert_eq!(rep.receptive_field(), 177_147);
    assert!(matches!(rep.axes[0].coverage, CoverageStatus::OverLimit(_)));
    assert_eq!(rep.axes[0].holes, None);
    assert_eq!(rep.axes[0].reach.hole_count, 0);
    let e = coverage_u128(&k3(&rates)).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::ReceptiveFieldTooLarge {
            limit: MAX_COVERAGE_RF,
            ..
        }
    ));
    assert!(hole_offsets(&k3(&rates)).is_err());
    // Map side.
    let row = coverage_counts::<u64>(&k3(&[1, 3, 9, 27, 81, 243])).unwrap(); // 729 wide
    assert!(coverage_map(&row, &row).is_ok());
    let wide = coverage_counts::<u64>(&k3(&[1, 3, 9, 27, 81, 243, 729])).unwrap(); // 2187
    assert!(matches!(
        coverage_map(&wide, &row).unwrap_err().kind,
        ErrorKind::MapTooLarge { .. }
    ));
    // Const limits.
    let c = const_core::check(&[3], &[1, 3, 9, 27, 81, 243, 729, 2187, 6561], &[]);
    assert!(matches!(
        c.error.unwrap().kind,
        ErrorKind::ReceptiveFieldTooLarge { .. }
    ));
    let c = const_core::check(&[3], &[1; 300], &[]);
    assert!(matches!(
        c.error.unwrap().kind,
        ErrorKind::TooManyLayers { .. }
    ));
}

/// A count type that overflows early, to exercise the never-wrapping path.
#[derive(Clone, PartialEq, Debug)]
struct Tiny(u8);

impl Count for Tiny {
    fn zero() -> Self {
        Tiny(0)
    }
    fn one() -> Self {
        Tiny(1)
    }
    fn checked_add(&self, other: &Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Tiny)
    }
    fn checked_mul(&self, other: &Self) -> Option<Self> {
        self.0.checked_mul(other.0).map(Tiny)
    }
    fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

#[test]
fn counts_never_wrap() {
    // 3^6 = 729 paths: the centre count of six rate-1 layers is 141 (fits u8); 3^7 does not.
    assert!(coverage_counts::<Tiny>(&k3(&[1; 6])).is_ok());
    let e = coverage_counts::<Tiny>(&k3(&[1; 8])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::CountOverflow);
    // u128 overflows past ~3^80 paths; the report says so and keeps the verdict.
    let rep = analyze(&Schedule::uniform(3, &[1; 100]), &Options::default()).unwrap();
    assert_eq!(rep.axes[0].coverage, CoverageStatus::Overflow);
    assert_eq!(rep.axes[0].reach.hole_count, 0);
    // Sums agree with k^n where they fit.
    let c = coverage_u128(&k3(&[1, 2, 5, 1, 2, 5, 7, 3])).unwrap();
    assert_eq!(c.counts.iter().sum::<u128>(), 3u128.pow(8));
}

#[test]
fn const_core_in_const_context() {
    const C: const_core::ConstCheck = const_core::check(&[3], &[1, 2, 9], &[]);
    const _: () = assert!(C.has_holes() && C.hole_count == 4 && C.first_hole_layer == 2);
    assert_eq!(
        (C.nearest_hole, C.first_hole, C.first_hole_rate),
        (-4, -5, 9)
    );
    const E: const_core::ConstCheck = const_core::check(&[3], &[1, 0], &[]);
    assert_eq!(E.error_text(), "rate must be at least 1, got 0");
    assert_eq!(E.error_layer_number(), 2);
    const RF: u64 = match receptive_field(&[AxisSpec::new(3, 1), AxisSpec::new(3, 2)]) {
        Ok(rf) => rf,
        Err(_) => 0,
    };
    assert_eq!(RF, 7);
}

#[test]
fn const_suggester_matches_the_runtime_one() {
    for (k, n, min_rf) in [
        (3, 3, 17),
        (3, 3, 25),
        (3, 6, 64),
        (2, 10, 1024),
        (5, 4, 200),
        (3, 8, 300),
    ] {
        let runtime = suggest(&SuggestRequest::new(k, n, min_rf)).unwrap();
        let c = const_core::suggest(k, n, min_rf);
        assert!(c.found && c.reaches);
        assert_eq!(
            c.rates(),
            runtime[0].rates.as_slice(),
            "k {k} n {n} rf {min_rf}"
        );
        assert_eq!(c.receptive_field, runtime[0].receptive_field);
    }
    // Out of reach: the widest, as `suggest_fix` does.
    let c = const_core::suggest_fix(&[3], &[2, 4, 8], &[]);
    assert_eq!((c.rates(), c.reaches), (&[1, 3, 9][..], false));
    assert_eq!(c.rates(), suggest_fix(&k3(&[2, 4, 8]))[0].rates.as_slice());
    // Nothing for strided or mixed stacks.
    assert!(!const_core::suggest_fix(&[3], &[1, 2], &[2, 1]).found);
    assert!(!const_core::suggest_fix(&[3, 5], &[2, 4], &[]).found);
}

#[test]
fn identical_axes_with_equal_inputs_report_sizes_once() {
    let s = Schedule::two_d(&[
        Spec2d::square(3, 1),
        Spec2d::square(3, 3),
        Spec2d::square(3, 8),
    ]);
    let square = Options {
        input: vec![Some(16), Some(16)],
        ..Options::default()
    };
    let rep = analyze(&s, &square).unwrap();
    let long: Vec<_> = rep
        .diagnostics
        .iter()
        .filter(|d| d.check == CheckId::LongRange)
        .collect();
    assert_eq!(long.len(), 2); // the layer's kernel, the stack's field
    assert!(
        long.iter()
            .all(|d| d.axis.is_none() && !d.message.contains("axis"))
    );
    // Different sizes: per axis, named.
    let tall = Options {
        input: vec![Some(16), Some(64)],
        ..Options::default()
    };
    let rep = analyze(&s, &tall).unwrap();
    let long: Vec<_> = rep
        .diagnostics
        .iter()
        .filter(|d| d.check == CheckId::LongRange)
        .collect();
    assert_eq!(long.len(), 2);
    assert!(
        long.iter()
            .all(|d| d.axis == Some(Axis::Height) && d.message.contains("height"))
    );
}

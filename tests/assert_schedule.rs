//! `assert_schedule!`: passing schedules compile (at item level and in function bodies),
//! and the const core it runs agrees with the runtime engine. The failing cases are
//! trybuild cases, `tests/ui/fail/assert-schedule-*.rs`.

use dilated::schedule::{AxisSpec, const_core, reach};

// Item level: these compile, so they pass.
dilated::assert_schedule!(kernel: 3, rates: [1, 2, 5]);
dilated::assert_schedule!(kernel: 3, rates: [1, 2, 5, 1, 2, 5],);
dilated::assert_schedule!(kernel: 3, rates: [1, 1, 2, 4, 8, 16, 1]);
dilated::assert_schedule!(kernel: 2, rates: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
dilated::assert_schedule!(kernels: [3, 5, 3], rates: [1, 2, 3], strides: [1, 1, 1]);
dilated::assert_schedule!(kernel: 3, rates: [1, 1], strides: [2, 1]);

const K: u64 = 3;
const R: usize = 5;
dilated::assert_schedule!(kernel: K, rates: [1, 2, R]);

#[test]
fn in_a_function_body() {
    dilated::assert_schedule!(kernel: 3, rates: [1, 3, 9]);
    dilated::assert_schedule!(kernels: [3], rates: [1, 3, 9, 27], strides: [1]);
}

#[test]
fn const_core_agrees_with_the_engine() {
    let table: &[(&[u64], &[u64], &[u64])] = &[
        (&[3], &[2, 4, 8], &[]),
        (&[3], &[1, 2, 9], &[]),
        (&[3], &[2, 3], &[]),
        (&[3], &[1, 2, 5, 1, 2, 5], &[]),
        (&[3], &[2, 2, 2], &[]),
        (&[2], &[1, 2, 4, 8, 16], &[]),
        (&[2], &[1, 3], &[]),
        (&[4], &[1, 3, 7], &[]),
        (&[3, 5, 3], &[1, 2, 4], &[2, 1, 1]),
        (&[3], &[1, 2], &[2, 1]),
        (&[5], &[6, 10, 15], &[]),
    ];
    for &(ks, ds, ss) in table {
        let n = ds.len();
        let at = |v: &[u64], i: usize, d: u64| match v.len() {
            0 => d,
            1 => v[0],
            _ => v[i],
        };
        let layers: Vec<AxisSpec> = (0..n)
            .map(|i| AxisSpec::new(at(ks, i, 1), ds[i]).with_stride(at(ss, i, 1)))
            .collect();
        let r = reach(&layers).unwrap();
        let c = const_core::check(ks, ds, ss);
        assert!(c.error.is_none(), "{ds:?}");
        assert_eq!(c.receptive_field, r.receptive_field, "{ds:?}");
        assert_eq!(c.hole_count, r.hole_count, "{ds:?}");
        assert_eq!(c.has_holes(), r.has_holes(), "{ds:?}");
        if r.has_holes() {
            assert_eq!(Some(c.nearest_hole), r.nearest_hole, "{ds:?}");
            assert_eq!(Some(c.first_hole_layer), r.first_hole_layer, "{ds:?}");
        }
    }
}

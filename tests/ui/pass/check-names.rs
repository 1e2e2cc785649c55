//! Every name `dilated check --deny/--warn/--allow` takes sets the same check in
//! `check: { … }`: the ids, `gridding`, the group `hdc`, and the hyphenated spellings.
//! Warnings are errors here, so a name that missed its check would fail the build.
#![deny(deprecated)]

// k = 3, [2, 4, 8] on 16: holes, HDC rules 1 and 3, a receptive field of 29 > 16.
dilated::dilated_stack! {
    struct Ids {
        input: [1, 16],
        kernel: 3,
        rates: [2, 4, 8],
        check: { holes: allow, hdc1: allow, hdc3: allow, long_range: allow, no_output: deny },
    }
}

dilated::dilated_stack! {
    struct Aliases {
        input: [1, 16],
        kernel: 3,
        rates: [2, 4, 8],
        check: { gridding: allow, hdc: allow, long_range: allow },
    }
}

dilated::dilated_stack! {
    struct Hyphenated {
        input: [1, 16],
        kernel: 3,
        rates: [2, 4, 8],
        check: {
            holes: allow,
            hdc-rule-1: allow,
            hdc-rule-3: allow,
            long-range: allow,
            no-output: deny,
        },
    }
}

// [1, 2, 2]: no hole; HDC rule 2 (a repeated rate) warns by default.
dilated::dilated_stack! {
    struct Repeats {
        input: [1, 16],
        kernel: 3,
        rates: [1, 2, 2],
        check: { hdc-rule-2: allow },
    }
}

dilated::dilated_stack! {
    struct RepeatsById {
        input: [1, 16],
        kernel: 3,
        rates: [1, 2, 2],
        check: { hdc2: allow },
    }
}

fn main() {
    assert_eq!(Ids::RECEPTIVE_FIELD, 29);
    assert_eq!(Aliases::RECEPTIVE_FIELD, 29);
    assert_eq!(Hyphenated::RECEPTIVE_FIELD, 29);
    assert_eq!(Repeats::RECEPTIVE_FIELD, 11);
    assert_eq!(RepeatsById::RECEPTIVE_FIELD, 11);
}

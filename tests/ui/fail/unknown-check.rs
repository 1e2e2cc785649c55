// An unknown check name and a bad level.
dilated::dilated_stack! {
    struct Checks {
        input: [8, 64],
        kernel: 3,
        rates: [1, 2, 5],
        check: { gridding: maybe, hdc4: deny },
    }
}

fn main() {}

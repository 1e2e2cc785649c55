//! The macro's diagnostics and accepted forms, as trybuild cases (stable Rust).
//!
//! `tests/ui/fail/*.rs` must fail to compile with exactly the committed `.stderr`;
//! `tests/ui/pass/*.rs` must compile and run. After changing a diagnostic, regenerate with
//! `TRYBUILD=overwrite cargo test --test compiletest` and read the diff before committing.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

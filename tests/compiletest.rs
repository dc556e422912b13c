//! The compile-time contract of the attributes: what they accept (`tests/ui/pass`) and what
//! they refuse, with the exact message and the token it points at (`tests/ui/fail`).
//!
//! After changing a message, regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test compiletest` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

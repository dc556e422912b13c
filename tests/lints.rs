//! The expansion raises no warning under the strictest lints a user may deny.
//!
//! `cargo clippy --all-targets -- -D warnings` lints this file with clippy; `cargo test` runs
//! it. The shapes are `tests/lints/shapes.rs`, which `tests/ui/pass/lints.rs` includes too, for
//! rustc alone, through trybuild.
#![deny(warnings, clippy::all, clippy::pedantic, unused_qualifications)]

include!("lints/shapes.rs");

#[test]
fn strict_lints_and_every_shape_records() {
    every_shape_records();
}

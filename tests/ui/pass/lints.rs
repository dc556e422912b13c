#![deny(warnings, clippy::all, clippy::pedantic, unused_qualifications)]

// The expansion raises no warning under the strictest lints a user may deny: rustc's here
// (trybuild runs rustc), clippy's in `tests/lints.rs`, which includes the same shapes.

include!("../../lints/shapes.rs");

fn main() {
    every_shape_records();
}

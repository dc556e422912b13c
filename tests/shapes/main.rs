//! Every function shape of the field notes (§5) under all four attributes: each compiles,
//! keeps its signature and behaviour, and reports the right status.
//!
//! The counts are read from `obs_runtime::render()`, the page `/metrics` serves. All tests of
//! this binary share the process-wide sites, so each test calls functions of its own and the
//! counts it asserts are exact. One module per section of the notes; `harness` reads the page.

// The shapes are the field notes' hard cases, written as users write them, not as clippy
// would have them: the attribute must leave the user's own code to the lints.
#![allow(
    clippy::needless_pass_by_value,
    clippy::items_after_statements,
    clippy::needless_lifetimes,
    clippy::elidable_lifetime_names,
    clippy::trivially_copy_pass_by_ref,
    clippy::many_single_char_names
)]

#[path = "../common/mod.rs"]
mod common;

mod harness;

// The sections of the field notes: §1–§13 and §16.
mod arguments;
mod async_fns;
mod attributes;
mod bodies;
mod cfg_and_raw_idents;
mod destructuring;
mod generics;
mod hygiene;
mod impl_trait;
mod mut_borrows;
mod panics;
mod receivers;
mod track_caller;
mod traits;
mod unsafe_extern;
// Beyond the notes' shapes: statuses from types, the impl-block form, buckets, names.
mod buckets;
mod impl_blocks;
mod names;
mod statuses;

//! The tests are under `tests/`. This library only hosts the doctests of the repository's
//! prose: this package has every dependency the snippets use (obs-runtime with `http`, `axum`,
//! `otlp` and `reqwest`, axum, tokio, `http`, tracing-subscriber), and a snippet that stops
//! compiling fails `cargo test --workspace`.

/// The README's Rust snippets, compiled, and run unless marked `no_run` (those serve on a
/// fixed port until stopped).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;

/// `docs/design.md`'s Rust snippets (a fence with no language is Rust to rustdoc: mark shell
/// and text blocks as `sh` and `text`).
#[cfg(doctest)]
#[doc = include_str!("../docs/design.md")]
pub struct DesignDoc;

/// `docs/security.md`'s Rust snippets.
#[cfg(doctest)]
#[doc = include_str!("../docs/security.md")]
pub struct SecurityDoc;

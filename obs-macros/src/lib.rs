//! The attribute macros of obs. Depend on `obs-runtime`, which re-exports them with their
//! documentation; this crate alone is of no use.
//!
//! A thin shell: each attribute hands its tokens to `obs-macros-core`, which runs the phases
//! (parse → validate → plan → expand) as a plain library that tests and fuzz targets can link.
#![deny(missing_docs)]

use obs_macros_core::Kind;
use proc_macro::TokenStream;

/// Counts calls: see `obs_runtime::counted`.
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    obs_macros_core::attribute(Kind::Counted, args.into(), item.into()).into()
}

/// Times calls: see `obs_runtime::timed`.
#[proc_macro_attribute]
pub fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    obs_macros_core::attribute(Kind::Timed, args.into(), item.into()).into()
}

/// Tracks calls in flight: see `obs_runtime::in_flight`.
#[proc_macro_attribute]
pub fn in_flight(args: TokenStream, item: TokenStream) -> TokenStream {
    obs_macros_core::attribute(Kind::InFlight, args.into(), item.into()).into()
}

/// Opens a span per call: see `obs_runtime::traced`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    obs_macros_core::attribute(Kind::Traced, args.into(), item.into()).into()
}

/// Leaves a method of an instrumented `impl` block alone: see `obs_runtime::exclude`.
#[proc_macro_attribute]
pub fn exclude(args: TokenStream, item: TokenStream) -> TokenStream {
    obs_macros_core::exclude(args.into(), item.into()).into()
}

//! The attribute macros of obs. Depend on `obs-runtime`, which re-exports them with their
//! documentation; this crate alone is of no use.
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod item;
mod names;
mod plan;
mod shared;
mod valid;

use args::Kind;

/// Counts calls: see `obs_runtime::counted`.
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    plan::entry(Kind::Counted, args.into(), item.into()).into()
}

/// Times calls: see `obs_runtime::timed`.
#[proc_macro_attribute]
pub fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    plan::entry(Kind::Timed, args.into(), item.into()).into()
}

/// Tracks calls in flight: see `obs_runtime::in_flight`.
#[proc_macro_attribute]
pub fn in_flight(args: TokenStream, item: TokenStream) -> TokenStream {
    plan::entry(Kind::InFlight, args.into(), item.into()).into()
}

/// Opens a span per call: see `obs_runtime::traced`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    plan::entry(Kind::Traced, args.into(), item.into()).into()
}

/// Leaves a method of an instrumented `impl` block alone: see `obs_runtime::exclude`.
#[proc_macro_attribute]
pub fn exclude(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    if args.is_empty() {
        return item;
    }
    let error = syn::Error::new_spanned(
        args,
        "#[exclude] takes no arguments: write `#[exclude]` alone",
    )
    .to_compile_error();
    let item = proc_macro2::TokenStream::from(item);
    quote::quote!(#error #item).into()
}

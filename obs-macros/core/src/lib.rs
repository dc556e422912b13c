//! The phases of obs's attribute macros, as a plain library: `obs-macros` is a proc-macro
//! shell over it (a proc-macro crate can export nothing but its macros), and the fuzz targets
//! link it to run the same phases on arbitrary tokens. Use the attributes through
//! `obs-runtime`.
//!
//! One straight line from one driver, [`attribute`]: [`parse`] (the attribute's arguments,
//! the item, and the obs attributes stacked on it or on an `impl` block's methods) →
//! [`validate`] (the rules between options, on each attribute that parsed cleanly) → [`plan`]
//! (the stacked attributes merged into one wrapper per function) → [`expand`] (the wrapper of
//! a fn, or of each method of an `impl` block). Every phase carries the errors found so far;
//! on any error the item is emitted as written (less the obs attributes), beside all of them,
//! so the function stays declared and one mistake does not cascade.
#![deny(missing_docs)]

use proc_macro2::TokenStream;

mod args;
mod expand;
mod input;
mod item;
mod names;
mod plan;
mod shared;
mod valid;

pub use args::Kind;
pub use expand::expand;
pub use input::{Input, parse};
pub use plan::{Planned, plan};
pub use valid::validate;

/// Expands attribute `kind`, given its arguments and the item it is on: every phase in turn.
pub fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    expand(plan(validate(parse(kind, args, item))))
}

/// `#[exclude]`: the method unchanged; arguments are refused, at them.
pub fn exclude(args: TokenStream, item: TokenStream) -> TokenStream {
    if args.is_empty() {
        return item;
    }
    let error = syn::Error::new_spanned(
        args,
        "#[exclude] takes no arguments: write `#[exclude]` alone",
    )
    .to_compile_error();
    quote::quote!(#error #item)
}

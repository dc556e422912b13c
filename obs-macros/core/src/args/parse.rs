//! The plumbing every grammar of the arguments shares: comma-separated entries that go on
//! after a bad one, options given once, and the messages for a missing `=`, `(..)` or value.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use super::Kind;

/// Adds `e` to the errors collected so far.
pub(crate) fn combine(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// The span of the next token, or `fallback` at the end of the input (where syn would point
/// at the whole attribute and prefix "unexpected end of input").
pub(super) fn next_span(input: ParseStream<'_>, fallback: Span) -> Span {
    input
        .cursor()
        .token_tree()
        .map_or(fallback, |(tt, _)| tt.span())
}

/// An error at the next token, or at `key` when nothing follows it.
pub(super) fn error_here(
    input: ParseStream<'_>,
    key: &Ident,
    message: impl std::fmt::Display,
) -> syn::Error {
    syn::Error::new(next_span(input, key.span()), message)
}

/// Skips the rest of a bad entry, up to the next `,` (left in place) or the end.
pub(super) fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Parses `key, key = value, key(..)` entries separated by commas, calling `entry` on each;
/// after a bad one, reports it and goes on with the next, so that every mistake is reported.
pub(super) fn parse_entries(
    input: ParseStream<'_>,
    mut entry: impl FnMut(ParseStream<'_>) -> syn::Result<()>,
    after_entry: &str,
) -> syn::Result<()> {
    let mut errors = None;
    while !input.is_empty() {
        match entry(input) {
            Ok(()) if !input.is_empty() && !input.peek(Token![,]) => {
                combine(&mut errors, input.error(after_entry));
                skip_to_comma(input)?;
            }
            Ok(()) => {}
            Err(e) => {
                combine(&mut errors, e);
                skip_to_comma(input)?;
            }
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    errors.map_or(Ok(()), Err)
}

/// Sets `slot` once; a second time is an error at `token`.
pub(super) fn set_once<T>(slot: &mut Option<T>, value: T, token: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            token.span(),
            format!("`{token}` is given twice: keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// The name of an option: an identifier, or `crate`.
pub(super) fn parse_key(kind: Kind, input: ParseStream<'_>) -> syn::Result<Ident> {
    if input.peek(Token![crate]) {
        let token: Token![crate] = input.parse()?;
        return Ok(Ident::new("crate", token.span));
    }
    if input.peek(Ident::peek_any) {
        return input.call(Ident::parse_any);
    }
    Err(syn::Error::new(
        next_span(input, Span::call_site()),
        format!(
            "expected an option: #[{}] takes {}",
            kind.name(),
            super::options::listed(kind)
        ),
    ))
}

/// Parses the `=` after `key`; without it, says how the option is written.
pub(super) fn parse_eq(input: ParseStream<'_>, key: &Ident, usage: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(())
    } else {
        Err(error_here(
            input,
            key,
            format!("`{key}` takes a value: write `{usage}`"),
        ))
    }
}

/// Checks that parentheses follow `key`; without them, says how the option is written.
pub(super) fn expect_parens(input: ParseStream<'_>, key: &Ident, usage: &str) -> syn::Result<()> {
    if input.peek(syn::token::Paren) {
        Ok(())
    } else {
        Err(error_here(
            input,
            key,
            format!("`{key}` takes a list in parentheses: write `{usage}`"),
        ))
    }
}

/// Checks that nothing but `,` follows a flag.
pub(super) fn expect_flag(input: ParseStream<'_>, key: &Ident) -> syn::Result<()> {
    if input.is_empty() || input.peek(Token![,]) {
        Ok(())
    } else {
        Err(error_here(
            input,
            key,
            format!("`{key}` takes no value: write `{key}` alone"),
        ))
    }
}

pub(super) fn parse_lit_str(input: ParseStream<'_>, key: &Ident) -> syn::Result<LitStr> {
    parse_eq(input, key, &format!("{key} = \"…\""))?;
    if input.peek(LitStr) {
        input.parse()
    } else {
        Err(error_here(
            input,
            key,
            format!("`{key}` takes a string: write `{key} = \"…\"`"),
        ))
    }
}

/// Whether `typed` is `option` with at most two letters changed, added, removed or swapped.
pub(super) fn is_typo(typed: &str, option: &str) -> bool {
    let typed: Vec<char> = typed.to_lowercase().chars().collect();
    let option: Vec<char> = option.chars().collect();
    if typed.len().abs_diff(option.len()) > 2 || typed.len() < 3 {
        return false;
    }
    // Optimal string alignment distance.
    let width = option.len() + 1;
    let mut d = vec![0_usize; (typed.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=typed.len() {
        for j in 1..=option.len() {
            let cost = usize::from(typed[i - 1] != option[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && typed[i - 1] == option[j - 2] && typed[i - 2] == option[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[typed.len() * width + option.len()] <= 2
}

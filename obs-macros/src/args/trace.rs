//! The grammars of #[traced]'s own options: `level = "…"` and `skip(arg, ..)`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path, parenthesized};

use super::Level;
use super::parse::{error_here, next_span, parse_entries};

const LEVELS: &str = "`level = \"trace\"`, `\"debug\"`, `\"info\"`, `\"warn\"` or `\"error\"`";

pub(super) fn parse_level(input: ParseStream<'_>, key: &Ident) -> syn::Result<Level> {
    let (text, span) = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        (lit.value(), lit.span())
    } else if input.peek(Ident::peek_any) {
        // `level = debug`, or `level = Level::DEBUG` by any path.
        let path = input.call(Path::parse_mod_style)?;
        let last = path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string())
            .unwrap_or_default();
        let span = path.segments.last().map_or(key.span(), |s| s.ident.span());
        (last, span)
    } else {
        return Err(error_here(
            input,
            key,
            format!("`level` takes a level name: write {LEVELS}"),
        ));
    };
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::Trace),
        "debug" => Ok(Level::Debug),
        "info" => Ok(Level::Info),
        "warn" => Ok(Level::Warn),
        "error" => Ok(Level::Error),
        _ => Err(syn::Error::new(
            span,
            format!("unknown level `{text}`: write {LEVELS}"),
        )),
    }
}

pub(super) fn parse_skip(input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    let content;
    parenthesized!(content in input);
    let mut out: Vec<Ident> = Vec::new();
    parse_entries(
        &content,
        |input| {
            if !input.peek(Ident::peek_any) {
                return Err(syn::Error::new(
                    next_span(input, Span::call_site()),
                    "`skip` takes the names of the fn's arguments: write `skip(arg, ..)`",
                ));
            }
            let arg = input.call(Ident::parse_any)?;
            if out.contains(&arg) {
                return Err(syn::Error::new(
                    arg.span(),
                    format!("`{arg}` is skipped twice: keep one"),
                ));
            }
            out.push(arg);
            Ok(())
        },
        "expected `,` before the next argument name",
    )?;
    Ok(out)
}

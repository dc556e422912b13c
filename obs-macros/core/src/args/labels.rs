//! `labels(key = "value", key = expr)` on the metrics attributes: static labels, and labels
//! whose values come from each call.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token, parenthesized};

use super::parse::{error_here, next_span, parse_entries};
use crate::names;

/// Static labels (`key = "value"`) and labels from the call (`key = expr`).
type LabelLists = (Vec<(Ident, LitStr)>, Vec<(Ident, syn::Expr)>);

pub(super) fn parse_labels(input: ParseStream<'_>) -> syn::Result<LabelLists> {
    let content;
    parenthesized!(content in input);
    let mut out: Vec<(Ident, LitStr)> = Vec::new();
    let mut dynamic: Vec<(Ident, syn::Expr)> = Vec::new();
    parse_entries(
        &content,
        |input| {
            if !input.peek(Ident::peek_any) {
                return Err(syn::Error::new(
                    next_span(input, Span::call_site()),
                    "expected a label: write `key = \"value\"`",
                ));
            }
            let key = input.call(Ident::parse_any)?;
            let name = key.unraw().to_string();
            if !input.peek(Token![=]) {
                return Err(error_here(
                    input,
                    &key,
                    format!("a label needs a value: write `{name} = \"value\"`"),
                ));
            }
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(error_here(
                    input,
                    &key,
                    format!(
                        "a label needs a value: write `{name} = \"value\"`, or `{name} = expr` to take it from the call"
                    ),
                ));
            }
            let value: syn::Expr = input.parse()?;
            names::check_label_name(&name).map_err(|m| syn::Error::new(key.span(), m))?;
            if out.iter().any(|(k, _)| k.unraw() == name)
                || dynamic.iter().any(|(k, _)| k.unraw() == name)
            {
                return Err(syn::Error::new(
                    key.span(),
                    format!("label `{name}` is given twice: keep one"),
                ));
            }
            match value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(value),
                    ..
                }) => out.push((key, value)),
                value => dynamic.push((key, value)),
            }
            Ok(())
        },
        "expected `,` before the next label",
    )?;
    Ok((out, dynamic))
}

//! `status(label = "status_code", ok = "success", error = "failed", ..)`: how one metric
//! writes the status of a call.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token, bracketed, parenthesized};

use super::StatusArg;
use super::parse::{
    expect_parens, is_typo, next_span, parse_entries, parse_eq, parse_lit_str, set_once,
};
use crate::names;
use crate::shared::{STATUS_LABEL, STATUSES};

/// `status(label = "status_code", ok = "success", error = "failed", ..)`.
pub(super) fn parse_status(key: &Ident, input: ParseStream<'_>) -> syn::Result<StatusArg> {
    const USAGE: &str = "status(ok = \"success\", error = \"failed\")";
    expect_parens(input, key, USAGE)?;
    let content;
    let parens = parenthesized!(content in input);
    let mut arg = StatusArg::default();
    parse_entries(
        &content,
        |input| {
            if !input.peek(Ident::peek_any) {
                return Err(syn::Error::new(
                    next_span(input, Span::call_site()),
                    format!("expected a status to rename: write `{USAGE}`"),
                ));
            }
            let name = input.call(Ident::parse_any)?;
            let text = name.unraw().to_string();
            let slot = STATUSES.iter().position(|s| *s == text);
            if slot.is_none() && text != "label" {
                return Err(unknown_status(&name));
            }
            let lit = parse_lit_str(input, &name)?;
            if lit.value().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "the value of `{text}` is empty: write one, e.g. `ok = \"success\"`, or leave `{text}` out"
                    ),
                ));
            }
            if let Some(slot) = slot {
                return set_once(&mut arg.values[slot], lit, &name);
            }
            check_status_label(&lit.value()).map_err(|m| syn::Error::new(lit.span(), m))?;
            set_once(&mut arg.label, lit, &name)
        },
        "expected `,` before the next status",
    )?;
    if arg.label.is_none() && arg.values.iter().all(Option::is_none) {
        return Err(syn::Error::new(
            parens.span.join(),
            format!("`status()` renames nothing: write e.g. `{USAGE}`, or leave it out"),
        ));
    }
    Ok(arg)
}

/// The error for a status name that is not one of obs's.
fn unknown_status(name: &Ident) -> syn::Error {
    let text = name.unraw().to_string();
    let [first @ .., last] = STATUSES.map(|s| format!("`{s}`"));
    let builtin = format!(
        "{} and {last}, and the label's name with `label = \"…\"`",
        first.join(", ")
    );
    let message = match text.as_str() {
        "success" | "succeeded" | "successful" => format!(
            "`status(..)` maps obs's statuses to your values: to write `ok` as `{text}`, write `ok = \"{text}\"`"
        ),
        "failure" | "failed" | "fail" | "err" => format!(
            "`status(..)` maps obs's statuses to your values: to write `error` as `{text}`, write `error = \"{text}\"`"
        ),
        "name" => "the status label's name is set with `label = \"…\"`".to_owned(),
        _ => match STATUSES
            .iter()
            .chain(&["label"])
            .find(|s| is_typo(&text, s))
        {
            Some(close) => format!(
                "unknown status `{text}`: did you mean `{close}`? `status(..)` renames {builtin}"
            ),
            None => format!(
                "unknown status `{text}`: `status(..)` renames {builtin}; a status of your own is made with `Status::custom(\"{text}\")` and keeps its name"
            ),
        },
    };
    syn::Error::new(name.span(), message)
}

/// The status label's new name: a label name obs does not set otherwise.
fn check_status_label(name: &str) -> Result<(), String> {
    if name == STATUS_LABEL {
        return Ok(());
    }
    if name == "function" || name == "module" {
        return Err(format!(
            "`{name}` is set by obs on every series: name the status label differently, e.g. `label = \"status_code\"`"
        ));
    }
    names::check_label_name(name)
}

/// `not_failure = ["not_found", "cancelled"]` (or one string): statuses that are not failures
/// of this fn, by obs's name or a custom status's label. `ok` is never a failure and `panic`
/// always is, so neither is accepted.
pub(super) fn parse_not_failure(key: &Ident, input: ParseStream<'_>) -> syn::Result<Vec<LitStr>> {
    const USAGE: &str = "not_failure = [\"not_found\", \"cancelled\"]";
    parse_eq(input, key, USAGE)?;
    let mut statuses: Vec<LitStr> = Vec::new();
    if input.peek(LitStr) {
        statuses.push(input.parse()?);
    } else if input.peek(syn::token::Bracket) {
        let content;
        let brackets = bracketed!(content in input);
        let list = content.parse_terminated(
            |input: ParseStream<'_>| {
                input.parse::<LitStr>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!("`not_failure` lists statuses as strings: write `{USAGE}`"),
                    )
                })
            },
            Token![,],
        )?;
        statuses.extend(list);
        if statuses.is_empty() {
            return Err(syn::Error::new(
                brackets.span.join(),
                "`not_failure = []` declares nothing: name a status (`not_failure = [\"not_found\"]`), or leave it out",
            ));
        }
    } else {
        return Err(syn::Error::new(
            next_span(input, key.span()),
            format!("`not_failure` takes a status or a list of them: write `{USAGE}`"),
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for status in &statuses {
        let value = status.value();
        let refused = match value.as_str() {
            "" => Some("the status is empty: write its name, e.g. `\"not_found\"`".to_owned()),
            "ok" => Some("`ok` is never a failure: leave it out".to_owned()),
            "panic" => Some("a panic is always a failure: leave `panic` out".to_owned()),
            _ if seen.contains(&value) => Some(format!("`{value}` is listed twice: keep one")),
            _ => None,
        };
        if let Some(message) = refused {
            return Err(syn::Error::new(status.span(), message));
        }
        seen.push(value);
    }
    Ok(statuses)
}

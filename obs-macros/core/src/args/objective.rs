//! `objective(success = 99.9)` on #[counted], `objective(latency = "250ms", percentile = 99)`
//! on #[timed]: a service level objective.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token, parenthesized};

use super::parse::{expect_parens, parse_entries, set_once, skip_to_comma};
use super::{Kind, ObjectiveArg};

/// `objective(success = 99.9)` on #[counted], `objective(latency = "250ms", percentile = 99)`
/// on #[timed].
pub(super) fn parse_objective(
    kind: Kind,
    key: &Ident,
    input: ParseStream<'_>,
) -> syn::Result<ObjectiveArg> {
    let usage = if kind == Kind::Counted {
        "objective(success = 99.9)"
    } else {
        "objective(latency = \"250ms\", percentile = 99)"
    };
    expect_parens(input, key, usage)?;
    let content;
    let parens = parenthesized!(content in input);
    let mut success = None;
    let mut latency: Option<(f64, Span)> = None;
    let mut percentile = None;
    let mut misplaced = false;
    // Each part is reported and the next one read, so that all mistakes show at once; the
    // message for a missing comma is syn's own, as before.
    parse_entries(
        &content,
        |input| {
            let name: Ident = input.call(Ident::parse_any)?;
            input
                .parse::<Token![=]>()
                .map_err(|e| syn::Error::new(e.span(), format!("write `{usage}`")))?;
            match (kind, name.to_string().as_str()) {
                (Kind::Counted, "success") => {
                    set_once(&mut success, parse_percent(input, &name)?, &name)
                }
                (Kind::Timed, "percentile") => {
                    set_once(&mut percentile, parse_percent(input, &name)?, &name)
                }
                (Kind::Timed, "latency") => {
                    let lit: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`latency` takes a duration string: latency = \"250ms\"",
                        )
                    })?;
                    let seconds =
                        parse_duration(&lit.value()).map_err(|m| syn::Error::new(lit.span(), m))?;
                    set_once(&mut latency, (seconds, lit.span()), &name)
                }
                // Said once, at the first misplaced part: it is about the whole objective.
                (Kind::Counted, "latency" | "percentile") | (Kind::Timed, "success")
                    if misplaced =>
                {
                    skip_to_comma(input)
                }
                (Kind::Counted, "latency" | "percentile") => {
                    misplaced = true;
                    let message = format!(
                        "a latency objective goes on #[timed(objective(latency = \"250ms\", percentile = 99))]; #[counted] takes `{usage}`"
                    );
                    Err(syn::Error::new(name.span(), message))
                }
                (Kind::Timed, "success") => {
                    misplaced = true;
                    let message = format!(
                        "a success objective goes on #[counted(objective(success = 99.9))]; #[timed] takes `{usage}`"
                    );
                    Err(syn::Error::new(name.span(), message))
                }
                _ => Err(syn::Error::new(
                    name.span(),
                    format!(
                        "unknown objective `{name}` for #[{}]: write `{usage}`",
                        kind.name()
                    ),
                )),
            }
        },
        "expected `,`",
    )?;
    let whole = parens.span.join();
    match kind {
        Kind::Counted => success
            .map(|percent| ObjectiveArg::Success { percent })
            .ok_or_else(|| {
                syn::Error::new(
                    whole,
                    format!("say the share of calls that succeed: `{usage}`"),
                )
            }),
        _ => match (latency, percentile) {
            (Some((seconds, span)), Some(percent)) => Ok(ObjectiveArg::Latency {
                seconds,
                percent,
                span,
            }),
            _ => Err(syn::Error::new(
                whole,
                format!("a latency objective needs both parts: `{usage}`"),
            )),
        },
    }
}

/// A percentage strictly between 0 and 100.
fn parse_percent(input: ParseStream<'_>, name: &Ident) -> syn::Result<f64> {
    let expr: syn::Expr = input.parse()?;
    let value = match &expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_parse::<f64>()?,
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<f64>()?,
        _ => {
            return Err(syn::Error::new_spanned(
                &expr,
                format!("`{name}` is a percentage, e.g. {name} = 99.9"),
            ));
        }
    };
    if value <= 0.0 || value >= 100.0 {
        return Err(syn::Error::new_spanned(
            &expr,
            format!(
                "`{name}` is a percentage between 0 and 100, exclusive (100 leaves no error budget): e.g. {name} = 99.9"
            ),
        ));
    }
    Ok(value)
}

/// `"250ms"`, `"1.5s"`, `"500us"` as seconds.
fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" => 60.0,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: write a number and a unit (ns, us, ms, s, m), e.g. \"250ms\""
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: e.g. \"250ms\""))?;
    if value <= 0.0 || !value.is_finite() {
        return Err(format!(
            "the latency threshold must be positive, not `{text}`"
        ));
    }
    // Rounded to the nanosecond, as the histogram stores durations.
    Ok((value * scale * 1e9).round() / 1e9)
}

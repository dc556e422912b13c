//! `buckets = [0.1, 0.5, 1.0]` on #[timed]: the histogram's bounds, in seconds.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Ident, bracketed};

use super::parse::{combine, error_here, parse_entries};

pub(super) fn parse_buckets(input: ParseStream<'_>, key: &Ident) -> syn::Result<(Vec<f64>, Span)> {
    if !input.peek(syn::token::Bracket) {
        return Err(error_here(
            input,
            key,
            "`buckets` takes a list of bounds in seconds: write e.g. `buckets = [0.1, 0.5, 1.0]`",
        ));
    }
    let content;
    let bracket = bracketed!(content in input);
    let span = bracket.span.join();
    let mut exprs = Vec::new();
    parse_entries(
        &content,
        |input| {
            exprs.push(input.parse::<syn::Expr>()?);
            Ok(())
        },
        "expected `,` between bucket bounds",
    )?;
    if exprs.is_empty() {
        return Err(syn::Error::new(
            span,
            "`buckets` is empty: give at least one bound in seconds, e.g. `buckets = [0.1, 1.0]`, or leave it out for the default buckets",
        ));
    }
    let mut errors = None;
    let mut bounds = Vec::with_capacity(exprs.len());
    for expr in &exprs {
        let error = |message: String| syn::Error::new_spanned(expr, message);
        let Some(value) = bucket_value(expr) else {
            combine(
                &mut errors,
                error("bucket bounds are number literals in seconds: write e.g. `0.25`".into()),
            );
            continue;
        };
        if !value.is_finite() {
            combine(
                &mut errors,
                error(
                    "bucket bounds must be finite: remove this one, `+Inf` is always added for you"
                        .into(),
                ),
            );
        } else if value <= 0.0 {
            combine(
                &mut errors,
                error(format!(
                    "bucket bounds are durations in seconds and must be greater than 0, not {value}: remove this one, or write e.g. `0.005`"
                )),
            );
        } else if let Some(&prev) = bounds.last().filter(|&&p| value <= p) {
            combine(
                &mut errors,
                error(format!(
                    "buckets must be strictly increasing, and {value:?} comes after {prev:?}: sort the bounds and remove duplicates"
                )),
            );
        } else {
            bounds.push(value);
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok((bounds, span)),
    }
}

/// The value of a number literal, negated or not; `None` for anything else.
fn bucket_value(expr: &syn::Expr) -> Option<f64> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_parse::<f64>().ok(),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<f64>().ok(),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => bucket_value(inner).map(|v| -v),
        syn::Expr::Group(group) => bucket_value(&group.expr),
        syn::Expr::Paren(paren) => bucket_value(&paren.expr),
        _ => None,
    }
}

/// The schemas Prometheus knows: a factor of 2^(2^-schema) between bucket bounds.
const SCHEMAS: core::ops::RangeInclusive<i8> = -4..=8;

/// `native` or `native(schema = N)` on #[timed]: a native histogram beside the buckets; the
/// schema, default 3 (the runtime's `DEFAULT_SCHEMA`, which its tests compare).
pub(super) fn parse_native(input: ParseStream<'_>, key: &Ident) -> syn::Result<i8> {
    if !input.peek(syn::token::Paren) {
        return Ok(crate::shared::DEFAULT_SCHEMA);
    }
    let content;
    syn::parenthesized!(content in input);
    let usage = "write `native(schema = 3)`, or `native` alone for schema 3";
    let name: Ident = content.parse().map_err(|_| {
        error_here(
            &content,
            key,
            format!("`native(..)` takes `schema = N`: {usage}"),
        )
    })?;
    if name != "schema" {
        return Err(syn::Error::new(
            name.span(),
            format!("unknown option `{name}` of `native(..)`: {usage}"),
        ));
    }
    if !content.peek(syn::Token![=]) {
        return Err(error_here(
            &content,
            &name,
            format!("`schema` takes a value: {usage}"),
        ));
    }
    content.parse::<syn::Token![=]>()?;
    let expr: syn::Expr = content.parse().map_err(|e| {
        syn::Error::new(e.span(), format!("`schema` takes a whole number: {usage}"))
    })?;
    let schema = match bucket_value(&expr) {
        Some(v)
            if v.fract() == 0.0
                && v >= f64::from(*SCHEMAS.start())
                && v <= f64::from(*SCHEMAS.end()) =>
        {
            #[allow(clippy::cast_possible_truncation)] // within -4..=8
            let schema = v as i8;
            schema
        }
        _ => {
            return Err(syn::Error::new_spanned(
                &expr,
                "`schema` is a whole number from -4 (a factor of 65,536 between bucket bounds) to 8 (a factor of 2^(1/256)): 3, the default, puts 2^(1/8) ≈ 1.09 between bounds",
            ));
        }
    };
    if !content.is_empty() {
        return Err(content.error(format!("`native(..)` takes only `schema = N`: {usage}")));
    }
    Ok(schema)
}

//! The grammars of #[traced]'s own options: `level = "…"`, `skip(arg, ..)`, `err(..)` and
//! `ret(..)`, `fields(..)`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitInt, LitStr, Path, Token, parenthesized};

use super::parse::{error_here, next_span, parse_entries, parse_eq, set_once};
use super::{EventArg, FieldArg, FmtMode, Level};

const LEVELS: &str = "`level = \"trace\"`, `\"debug\"`, `\"info\"`, `\"warn\"` or `\"error\"`";

pub(super) fn parse_level(input: ParseStream<'_>, key: &Ident) -> syn::Result<Level> {
    if input.peek(LitInt) {
        // `level = 1..=5`, as `tracing::instrument` takes them.
        let lit: LitInt = input.parse()?;
        return match lit.base10_digits() {
            "1" => Ok(Level::Trace),
            "2" => Ok(Level::Debug),
            "3" => Ok(Level::Info),
            "4" => Ok(Level::Warn),
            "5" => Ok(Level::Error),
            other => Err(syn::Error::new(
                lit.span(),
                format!(
                    "level `{other}` is out of range: levels are numbered 1 (trace) to 5 (error); write e.g. `level = 2` or `level = \"debug\"`"
                ),
            )),
        };
    }
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

/// `err`, `err(Display)`, `err(Debug)`, `err(level = "warn")`, and the same for `ret`, which
/// also takes `ret(field)`: how the event of the error or the returned value is written.
pub(super) fn parse_event(input: ParseStream<'_>, key: &Ident) -> syn::Result<EventArg> {
    let is_ret = key == "ret";
    let usage = if is_ret {
        "`ret`, `ret(Debug)`, `ret(Display)`, `ret(level = \"debug\")` or `ret(field)` (the value into the span's `return` field too)"
    } else {
        "`err`, `err(Display)`, `err(Debug)` or `err(level = \"warn\")`"
    };
    let mut event = EventArg {
        at: key.span(),
        mode: None,
        level: None,
        field: false,
    };
    if input.is_empty() || input.peek(Token![,]) {
        return Ok(event);
    }
    if !input.peek(syn::token::Paren) {
        return Err(error_here(
            input,
            key,
            format!("`{key}` takes no value: write {usage}"),
        ));
    }
    let content;
    parenthesized!(content in input);
    let mut mode_at: Option<Ident> = None;
    let mut field_at: Option<Ident> = None;
    parse_entries(
        &content,
        |input| {
            if !input.peek(Ident::peek_any) {
                return Err(syn::Error::new(
                    next_span(input, key.span()),
                    format!("expected a mode of `{key}`: write {usage}"),
                ));
            }
            let word = input.call(Ident::parse_any)?;
            let mode = match word.to_string().as_str() {
                "level" => {
                    parse_eq(input, &word, "level = \"warn\"")?;
                    let level = parse_level(input, &word)?;
                    return set_once(&mut event.level, level, &word);
                }
                "field" if is_ret => {
                    if field_at.replace(word.clone()).is_some() {
                        return Err(syn::Error::new(
                            word.span(),
                            "`field` is given twice: keep one",
                        ));
                    }
                    event.field = true;
                    return Ok(());
                }
                "Display" => FmtMode::Display,
                "Debug" => FmtMode::Debug,
                other => {
                    let hint = match other.to_ascii_lowercase().as_str() {
                        "display" => " (`Display`, capitalized as the trait)".to_owned(),
                        "debug" => " (`Debug`, capitalized as the trait)".to_owned(),
                        _ => String::new(),
                    };
                    return Err(syn::Error::new(
                        word.span(),
                        format!("unknown `{key}` mode `{other}`{hint}: write {usage}"),
                    ));
                }
            };
            if let Some(first) = mode_at.replace(word.clone()) {
                return Err(syn::Error::new(
                    word.span(),
                    format!("`{key}({first}, {word})`: give one of `Display` and `Debug`"),
                ));
            }
            event.mode = Some(mode);
            Ok(())
        },
        &format!("expected `,` before the next mode of `{key}`"),
    )?;
    if let (Some(field), Some(_)) = (&field_at, event.level) {
        return Err(syn::Error::new(
            field.span(),
            "`ret(field, level = ..)`: a span field has no level of its own; drop `level`, or `field` for an event",
        ));
    }
    Ok(event)
}

/// `fields(key = value, key, %key, ?key, a.b = value, "a b" = value, {NAME} = value)`. A key
/// alone declares an empty field, to `record` from the body; `%key` and `?key` record the
/// variable `key`; `{NAME}` is any const expression of type `&str`, as `tracing::span!` takes.
pub(super) fn parse_fields(input: ParseStream<'_>) -> syn::Result<Vec<FieldArg>> {
    let content;
    parenthesized!(content in input);
    let mut out: Vec<FieldArg> = Vec::new();
    parse_entries(
        &content,
        |input| {
            let field = parse_field(input)?;
            if out.iter().any(|f| f.name == field.name) {
                return Err(syn::Error::new_spanned(
                    &field.key,
                    format!("field `{}` is given twice: keep one", field.name),
                ));
            }
            out.push(field);
            Ok(())
        },
        "expected `,` before the next field",
    )?;
    Ok(out)
}

fn parse_field(input: ParseStream<'_>) -> syn::Result<FieldArg> {
    const USAGE: &str = "write `key = value`, `key = %display`, `key = ?debug`, `{NAME} = value` for a name from a const, or `key` alone for an empty field to `record` later";
    // `%key` / `?key`: the variable of that name, by `Display` or `Debug`.
    let sigil: Option<TokenTree> = if input.peek(Token![%]) || input.peek(Token![?]) {
        Some(input.parse()?)
    } else {
        None
    };
    if input.peek(syn::token::Brace) {
        return parse_const_field(input, sigil.as_ref(), USAGE);
    }
    let (key, name) = if sigil.is_none() && input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let name = lit.value();
        (quote::quote!(#lit), name)
    } else if input.peek(Ident::peek_any) {
        let mut key = TokenStream::new();
        let mut parts = Vec::new();
        loop {
            let part = input.call(Ident::parse_any)?;
            parts.push(part.unraw().to_string());
            key.extend(quote::quote!(#part));
            if !input.peek(Token![.]) {
                break;
            }
            let dot: Token![.] = input.parse()?;
            key.extend(quote::quote!(#dot));
        }
        (key, parts.join("."))
    } else {
        return Err(syn::Error::new(
            next_span(input, Span::call_site()),
            format!("expected a field name: {USAGE}"),
        ));
    };
    if let Some(sigil) = sigil {
        let value = quote::quote!(#sigil #key);
        return Ok(FieldArg {
            key,
            name,
            name_expr: None,
            value: Some(value),
        });
    }
    if !input.peek(Token![=]) {
        return Ok(FieldArg {
            key,
            name,
            name_expr: None,
            value: None,
        });
    }
    let value = parse_value(input, &name, USAGE)?;
    Ok(FieldArg {
        key,
        name,
        name_expr: None,
        value: Some(value),
    })
}

/// `{NAME} = value`: a field named by a const expression (a const, an associated const, a
/// `const fn` call, a literal), which rustc evaluates into the callsite's static metadata.
/// `{NAME}` alone declares it empty, as a plain key alone does.
fn parse_const_field(
    input: ParseStream<'_>,
    sigil: Option<&TokenTree>,
    usage: &str,
) -> syn::Result<FieldArg> {
    let group: proc_macro2::Group = input.parse()?;
    if let Some(sigil) = sigil {
        return Err(syn::Error::new(
            sigil.span(),
            format!(
                "`{sigil}{{..}}`: a braced name is not a variable; write `{{NAME}} = {sigil}value`"
            ),
        ));
    }
    let expr: syn::Expr = syn::parse2(group.stream()).map_err(|_| {
        syn::Error::new(
            group.span(),
            "a braced field name takes a const expression of type `&str`: write `{NAME} = value`, with `const NAME: &str = \"…\";`",
        )
    })?;
    let key: TokenStream = TokenTree::Group(group).into();
    let name = format!("{{{}}}", quote::ToTokens::to_token_stream(&expr));
    let value = if input.peek(Token![=]) {
        Some(parse_value(input, &name, usage)?)
    } else {
        None
    };
    Ok(FieldArg {
        key,
        name,
        name_expr: Some(expr),
        value,
    })
}

/// `= value`, `= %value` or `= ?value`, after a field's key.
fn parse_value(input: ParseStream<'_>, name: &str, usage: &str) -> syn::Result<TokenStream> {
    input.parse::<Token![=]>()?;
    let sigil: Option<TokenTree> = if input.peek(Token![%]) || input.peek(Token![?]) {
        Some(input.parse()?)
    } else {
        None
    };
    let expr: syn::Expr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("field `{name}` takes an expression after `=`: {usage}"),
        )
    })?;
    Ok(quote::quote!(#sigil #expr))
}

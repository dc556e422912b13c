//! Parsing the arguments of the attributes into typed options that keep their spans.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path, Token, bracketed, parenthesized};

use crate::names::{self, Family};

/// The four attributes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Counted,
    Timed,
    InFlight,
    Traced,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [Kind::Counted, Kind::Timed, Kind::InFlight, Kind::Traced];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Counted => "counted",
            Kind::Timed => "timed",
            Kind::InFlight => "in_flight",
            Kind::Traced => "traced",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn options(self) -> &'static str {
        match self {
            Kind::Counted | Kind::InFlight => "`name`, `help`, `labels(..)`, `crate`",
            Kind::Timed => "`buckets = [..]`, `name`, `help`, `labels(..)`, `crate`",
            Kind::Traced => "`level`, `name`, `skip(..)`, `skip_all`, `fields(..)`, `crate`",
        }
    }

    fn family(self) -> Family {
        match self {
            Kind::Timed => Family::Histogram,
            Kind::InFlight => Family::Gauge,
            Kind::Counted | Kind::Traced => Family::Counter,
        }
    }
}

/// Options of `#[counted]`, `#[timed]`, `#[in_flight]`.
#[derive(Clone, Default)]
pub(crate) struct MetricArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) help: Option<LitStr>,
    pub(crate) labels: Option<Vec<(Ident, LitStr)>>,
    /// Bounds in seconds, with the span of the whole list.
    pub(crate) buckets: Option<(Vec<f64>, Span)>,
}

/// A span level.
#[derive(Clone, Copy)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Options of `#[traced]`.
#[derive(Clone, Default)]
pub(crate) struct TraceArgs {
    pub(crate) level: Option<Level>,
    pub(crate) name: Option<LitStr>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_all: bool,
    pub(crate) fields: Option<TokenStream>,
}

/// Everything one attribute was given.
#[derive(Clone)]
pub(crate) struct Args {
    pub(crate) kind: Kind,
    pub(crate) krate: Option<Path>,
    pub(crate) metric: MetricArgs,
    pub(crate) trace: TraceArgs,
}

impl Args {
    pub(crate) fn empty(kind: Kind) -> Self {
        Args { kind, krate: None, metric: MetricArgs::default(), trace: TraceArgs::default() }
    }

    /// Parses the arguments of attribute `kind`, collecting every error.
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        let parser = |input: ParseStream<'_>| parse_args(kind, input);
        syn::parse::Parser::parse2(parser, tokens)
    }
}

/// Sets `slot` once; a second time is an error at `token`.
fn set_once<T>(slot: &mut Option<T>, value: T, token: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(token.span(), format!("`{token}` is given twice: keep one")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_args(kind: Kind, input: ParseStream<'_>) -> syn::Result<Args> {
    let mut args = Args::empty(kind);
    let mut errors: Option<syn::Error> = None;
    let mut seen_skip: Option<Ident> = None;
    while !input.is_empty() {
        let key = if input.peek(Token![crate]) {
            let token: Token![crate] = input.parse()?;
            Ident::new("crate", token.span)
        } else {
            input.call(syn::ext::IdentExt::parse_any)?
        };
        let result = parse_option(kind, &key, input, &mut args, &mut seen_skip);
        if let Err(e) = result {
            // A bad option: report it and skip to the next comma, to report the others too.
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
            while !input.is_empty() && !input.peek(Token![,]) {
                input.parse::<proc_macro2::TokenTree>()?;
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(args),
    }
}

fn parse_option(
    kind: Kind,
    key: &Ident,
    input: ParseStream<'_>,
    args: &mut Args,
    seen_skip: &mut Option<Ident>,
) -> syn::Result<()> {
    let metric = kind != Kind::Traced;
    match key.to_string().as_str() {
        "crate" => {
            input.parse::<Token![=]>()?;
            let path: Path = input.parse()?;
            set_once(&mut args.krate, path, key)
        }
        "name" => {
            let lit = parse_lit_str(input, key)?;
            if metric {
                names::check_metric_name(&lit.value(), kind.family()).map_err(|m| syn::Error::new(lit.span(), m))?;
                set_once(&mut args.metric.name, lit, key)
            } else {
                if lit.value().is_empty() {
                    return Err(syn::Error::new(lit.span(), "the span name is empty"));
                }
                set_once(&mut args.trace.name, lit, key)
            }
        }
        "help" if metric => {
            let lit = parse_lit_str(input, key)?;
            set_once(&mut args.metric.help, lit, key)
        }
        "labels" if metric => {
            let labels = parse_labels(input)?;
            set_once(&mut args.metric.labels, labels, key)
        }
        "buckets" if kind == Kind::Timed => {
            input.parse::<Token![=]>()?;
            let buckets = parse_buckets(input)?;
            set_once(&mut args.metric.buckets, buckets, key)
        }
        "level" if !metric => {
            input.parse::<Token![=]>()?;
            let level = parse_level(input)?;
            set_once(&mut args.trace.level, level, key)
        }
        "skip" | "skip_all" if !metric => {
            if let Some(first) = seen_skip.replace(key.clone()) {
                let msg = if first == *key {
                    format!("`{key}` is given twice: keep one")
                } else {
                    "`skip` and `skip_all` together: keep one".to_owned()
                };
                return Err(syn::Error::new(key.span(), msg));
            }
            if key == "skip_all" {
                args.trace.skip_all = true;
            } else {
                let content;
                parenthesized!(content in input);
                let idents = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, |s| {
                    s.call(syn::ext::IdentExt::parse_any)
                })?;
                args.trace.skip = idents.into_iter().collect();
            }
            Ok(())
        }
        "fields" if !metric => {
            let content;
            parenthesized!(content in input);
            let tokens: TokenStream = content.parse()?;
            set_once(&mut args.trace.fields, tokens, key)
        }
        "buckets" => Err(syn::Error::new(
            key.span(),
            format!("`buckets` is an option of #[timed], not of #[{}]", kind.name()),
        )),
        "help" | "labels" | "level" | "skip" | "skip_all" | "fields" => Err(syn::Error::new(
            key.span(),
            format!(
                "`{key}` is not an option of #[{}]; it takes {}",
                kind.name(),
                kind.options()
            ),
        )),
        _ => Err(syn::Error::new(
            key.span(),
            format!("unknown option `{key}` for #[{}]; it takes {}", kind.name(), kind.options()),
        )),
    }
}

fn parse_lit_str(input: ParseStream<'_>, key: &Ident) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        input.parse()
    } else {
        Err(input.error(format!("`{key}` takes a string: {key} = \"…\"")))
    }
}

struct Label(Ident, LitStr);

impl Parse for Label {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>()?;
        if !input.peek(LitStr) {
            return Err(input.error(format!(
                "label values are string literals: {key} = \"value\" (labels from arguments are not supported yet)"
            )));
        }
        Ok(Label(key, input.parse()?))
    }
}

fn parse_labels(input: ParseStream<'_>) -> syn::Result<Vec<(Ident, LitStr)>> {
    let content;
    parenthesized!(content in input);
    let labels = Punctuated::<Label, Token![,]>::parse_terminated(&content)?;
    let mut out: Vec<(Ident, LitStr)> = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for Label(key, value) in labels {
        let name = syn::ext::IdentExt::unraw(&key).to_string();
        let problem = names::check_label_name(&name).err().or_else(|| {
            out.iter().any(|(k, _)| *k == key).then(|| format!("label `{name}` is given twice: keep one"))
        });
        if let Some(message) = problem {
            let e = syn::Error::new(key.span(), message);
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
        } else {
            out.push((key, value));
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn parse_buckets(input: ParseStream<'_>) -> syn::Result<(Vec<f64>, Span)> {
    let content;
    let bracket = bracketed!(content in input);
    let span = bracket.span.join();
    let exprs = Punctuated::<syn::Expr, Token![,]>::parse_terminated(&content)?;
    if exprs.is_empty() {
        return Err(syn::Error::new(span, "`buckets` is empty: give at least one bound in seconds, e.g. buckets = [0.1, 1.0]"));
    }
    let mut bounds = Vec::with_capacity(exprs.len());
    let mut previous: Option<f64> = None;
    for expr in &exprs {
        let value = bucket_value(expr)?;
        if !value.is_finite() {
            return Err(syn::Error::new(expr.span(), "bucket bounds must be finite; `+Inf` is always added for you"));
        }
        if value <= 0.0 {
            return Err(syn::Error::new(expr.span(), format!("bucket bounds are durations in seconds and must be positive, not {value}")));
        }
        if let Some(prev) = previous.filter(|&p| value <= p) {
            return Err(syn::Error::new(
                expr.span(),
                format!("buckets must be strictly increasing: {value} follows {prev}"),
            ));
        }
        previous = Some(value);
        bounds.push(value);
    }
    Ok((bounds, span))
}

fn bucket_value(expr: &syn::Expr) -> syn::Result<f64> {
    let not_a_number = || syn::Error::new(expr.span(), "bucket bounds are number literals in seconds, e.g. 0.25");
    match expr {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Float(f), .. }) => f.base10_parse::<f64>(),
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i.base10_parse::<f64>(),
        syn::Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr: inner, .. }) => {
            bucket_value(inner).map(|v| -v)
        }
        _ => Err(not_a_number()),
    }
}

fn parse_level(input: ParseStream<'_>) -> syn::Result<Level> {
    let (text, span) = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        (lit.value(), lit.span())
    } else if input.peek(syn::Ident) {
        let path: Path = input.parse()?;
        let last = path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        (last, path.span())
    } else {
        return Err(input.error("`level` takes one of \"trace\", \"debug\", \"info\", \"warn\", \"error\""));
    };
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::Trace),
        "debug" => Ok(Level::Debug),
        "info" => Ok(Level::Info),
        "warn" => Ok(Level::Warn),
        "error" => Ok(Level::Error),
        _ => Err(syn::Error::new(
            span,
            format!("unknown level `{text}`: use one of \"trace\", \"debug\", \"info\", \"warn\", \"error\""),
        )),
    }
}

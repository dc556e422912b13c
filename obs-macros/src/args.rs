//! Parsing the arguments of the attributes into typed options that keep their spans.
//!
//! Every mistake is reported at the token that is wrong, with what to write instead, and the
//! parser goes on to the next option after one, so that all the mistakes of an attribute are
//! reported at once. It never panics, whatever the tokens.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path, Token, bracketed, parenthesized};

use crate::names;
use crate::shared::{DEFAULT_BUCKETS, MetricKind, STATUS_LABEL, STATUSES};

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
            Kind::Counted => {
                "`name = \"…\"`, `help = \"…\"`, `labels(key = \"value\")`, `objective(success = 99.9)`, `status(ok = \"success\", ..)`, `crate = path`"
            }
            Kind::InFlight => {
                "`name = \"…\"`, `help = \"…\"`, `labels(key = \"value\")`, `crate = path`"
            }
            Kind::Timed => {
                "`buckets = [..]`, `name = \"…\"`, `help = \"…\"`, `labels(key = \"value\")`, `objective(latency = \"250ms\", percentile = 99)`, `status(ok = \"success\", ..)`, `crate = path`"
            }
            Kind::Traced => {
                "`level = \"…\"`, `name = \"…\"`, `skip(arg, ..)`, `skip_all`, `fields(key = value, ..)`, `crate = path`"
            }
        }
    }

    fn option_names(self) -> &'static [&'static str] {
        match self {
            Kind::Counted => &["name", "help", "labels", "objective", "status", "crate"],
            Kind::InFlight => &["name", "help", "labels", "crate"],
            Kind::Timed => &[
                "buckets",
                "name",
                "help",
                "labels",
                "objective",
                "status",
                "crate",
            ],
            Kind::Traced => &["level", "name", "skip", "skip_all", "fields", "crate"],
        }
    }

    fn metric_kind(self) -> MetricKind {
        match self {
            Kind::Timed => MetricKind::Histogram,
            Kind::InFlight => MetricKind::Gauge,
            Kind::Counted | Kind::Traced => MetricKind::Counter,
        }
    }
}

/// Options of `#[counted]`, `#[timed]`, `#[in_flight]`.
#[derive(Clone, Default)]
pub(crate) struct MetricArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) help: Option<LitStr>,
    pub(crate) labels: Option<Vec<(Ident, LitStr)>>,
    /// `labels(key = expr)` whose values come from each call.
    pub(crate) dynamic_labels: Vec<(Ident, syn::Expr)>,
    /// Bounds in seconds, with the span of the whole list.
    pub(crate) buckets: Option<(Vec<f64>, Span)>,
    /// `objective(..)`.
    pub(crate) objective: Option<ObjectiveArg>,
    /// `status(..)`.
    pub(crate) status: Option<StatusArg>,
}

/// `status(label = "status_code", ok = "success", error = "failed", ..)`: how one metric writes
/// the status of a call.
#[derive(Clone, Default)]
pub(crate) struct StatusArg {
    /// The label's name, when not `status`.
    pub(crate) label: Option<LitStr>,
    /// The value of each built-in status that is renamed, in [`STATUSES`] order.
    pub(crate) values: [Option<LitStr>; 6],
}

impl StatusArg {
    /// The label's name.
    pub(crate) fn label(&self) -> String {
        self.label
            .as_ref()
            .map_or_else(|| STATUS_LABEL.to_owned(), LitStr::value)
    }

    /// The value of every built-in status, renamed or not.
    pub(crate) fn values(&self) -> [String; 6] {
        std::array::from_fn(|i| {
            self.values[i]
                .as_ref()
                .map_or_else(|| STATUSES[i].to_owned(), LitStr::value)
        })
    }
}

/// A service level objective, as written on `#[counted]` or `#[timed]`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ObjectiveArg {
    /// `objective(success = 99.9)`: percent of calls that end `ok`.
    Success { percent: f64 },
    /// `objective(latency = "250ms", percentile = 99)`: percent of calls at most that long.
    Latency {
        seconds: f64,
        percent: f64,
        span: Span,
    },
}

/// A span level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
    /// Where the attribute is written, when it is known (a stacked attribute): errors about
    /// the attribute as a whole, such as it being given twice, point there.
    pub(crate) at: Option<Span>,
    pub(crate) krate: Option<Path>,
    pub(crate) metric: MetricArgs,
    pub(crate) trace: TraceArgs,
}

impl Args {
    pub(crate) fn empty(kind: Kind) -> Self {
        Args {
            kind,
            at: None,
            krate: None,
            metric: MetricArgs::default(),
            trace: TraceArgs::default(),
        }
    }

    /// Parses the arguments of attribute `kind`, collecting every error.
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        let parser = |input: ParseStream<'_>| parse_args(kind, input);
        syn::parse::Parser::parse2(parser, tokens)
    }
}

fn combine(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// The span of the next token, or `fallback` at the end of the input (where syn would point
/// at the whole attribute and prefix "unexpected end of input").
fn next_span(input: ParseStream<'_>, fallback: Span) -> Span {
    input
        .cursor()
        .token_tree()
        .map_or(fallback, |(tt, _)| tt.span())
}

/// An error at the next token, or at `key` when nothing follows it.
fn error_here(input: ParseStream<'_>, key: &Ident, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(next_span(input, key.span()), message)
}

/// Skips the rest of a bad entry, up to the next `,` (left in place) or the end.
fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Parses `key, key = value, key(..)` entries separated by commas, calling `entry` on each;
/// after a bad one, reports it and goes on with the next, so that every mistake is reported.
fn parse_entries(
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
fn set_once<T>(slot: &mut Option<T>, value: T, token: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            token.span(),
            format!("`{token}` is given twice: keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_args(kind: Kind, input: ParseStream<'_>) -> syn::Result<Args> {
    let mut args = Args::empty(kind);
    let mut seen_skip: Option<Ident> = None;
    parse_entries(
        input,
        |input| {
            let key = parse_key(kind, input)?;
            parse_option(kind, &key, input, &mut args, &mut seen_skip)
        },
        "expected `,` before the next option",
    )?;
    if let Some(ObjectiveArg::Latency { seconds, span, .. }) = args.metric.objective {
        let bounds = args
            .metric
            .buckets
            .as_ref()
            .map_or(&DEFAULT_BUCKETS[..], |(b, _)| &b[..]);
        check_latency_bound(seconds, bounds, span)?;
    }
    if let Some(label) = args.metric.status.as_ref().and_then(|s| s.label.as_ref()) {
        check_status_label_free(label, &args.metric)?;
    }
    Ok(args)
}

/// A renamed status label must not be one of the metric's own labels.
fn check_status_label_free(label: &LitStr, metric: &MetricArgs) -> syn::Result<()> {
    let name = label.value();
    let taken = metric
        .labels
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .chain(metric.dynamic_labels.iter().map(|(k, _)| k));
    if taken.into_iter().any(|k| k.unraw() == name) {
        return Err(syn::Error::new(
            label.span(),
            format!(
                "`{name}` is already a label of this metric in `labels(..)`: name the status label differently, or drop that label"
            ),
        ));
    }
    Ok(())
}

/// `status(label = "status_code", ok = "success", error = "failed", ..)`.
fn parse_status(key: &Ident, input: ParseStream<'_>) -> syn::Result<StatusArg> {
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
    check_status_values(&arg)?;
    Ok(arg)
}

/// The error for a status name that is not one of obs's.
fn unknown_status(name: &Ident) -> syn::Error {
    let text = name.unraw().to_string();
    let builtin = "`ok`, `error`, `panic`, `cancelled`, `timeout` and `blocked`, and the label's name with `label = \"…\"`";
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
    if name == "status" {
        return Ok(());
    }
    if name == "function" || name == "module" {
        return Err(format!(
            "`{name}` is set by obs on every series: name the status label differently, e.g. `label = \"status_code\"`"
        ));
    }
    names::check_label_name(name)
}

/// A failure must not read like a success: the rules and the dashboard tell them apart by the
/// value of `ok` alone. Failures may share a value (`panic = "error"`).
fn check_status_values(arg: &StatusArg) -> syn::Result<()> {
    let values = arg.values();
    let mut errors = None;
    for (slot, value) in values.iter().enumerate().skip(1) {
        if *value != values[0] {
            continue;
        }
        let failure = STATUSES[slot];
        let (at, message) = match (&arg.values[slot], &arg.values[0]) {
            (Some(lit), _) => (
                lit.span(),
                format!(
                    "`{failure}` would read `{value}`, as `ok` does: a failure must read differently from a success, or error ratios count it as one. Pick another value for `{failure}`"
                ),
            ),
            (None, Some(lit)) => (
                lit.span(),
                format!(
                    "`ok` would read `{value}`, which is how `{failure}` reads: rename `{failure}` too (e.g. `{failure} = \"failed\"`), or pick another value for `ok`"
                ),
            ),
            (None, None) => continue,
        };
        combine(&mut errors, syn::Error::new(at, message));
    }
    errors.map_or(Ok(()), Err)
}

/// A latency objective is read off the histogram, so its threshold must be a bucket bound.
fn check_latency_bound(seconds: f64, bounds: &[f64], span: Span) -> syn::Result<()> {
    if bounds
        .iter()
        .any(|b| (b - seconds).abs() <= 1e-12 * b.max(seconds))
    {
        return Ok(());
    }
    let below = bounds.iter().rev().find(|b| **b < seconds);
    let above = bounds.iter().find(|b| **b > seconds);
    let nearest = match (below, above) {
        (Some(b), Some(a)) => format!("{b} or {a}"),
        (Some(x), None) | (None, Some(x)) => format!("{x}"),
        (None, None) => String::new(),
    };
    Err(syn::Error::new(
        span,
        format!(
            "the latency threshold {seconds}s is not a bucket bound of this function, so the share of calls under it cannot be read from its histogram: use {nearest}, or add {seconds} to `buckets = [..]`"
        ),
    ))
}

/// `objective(success = 99.9)` on #[counted], `objective(latency = "250ms", percentile = 99)`
/// on #[timed].
fn parse_objective(kind: Kind, key: &Ident, input: ParseStream<'_>) -> syn::Result<ObjectiveArg> {
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
    while !content.is_empty() {
        let name: Ident = content.call(Ident::parse_any)?;
        content
            .parse::<Token![=]>()
            .map_err(|e| syn::Error::new(e.span(), format!("write `{usage}`")))?;
        match (kind, name.to_string().as_str()) {
            (Kind::Counted, "success") => {
                set_once(&mut success, parse_percent(&content, &name)?, &name)?;
            }
            (Kind::Timed, "percentile") => {
                set_once(&mut percentile, parse_percent(&content, &name)?, &name)?;
            }
            (Kind::Timed, "latency") => {
                let lit: LitStr = content.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`latency` takes a duration string: latency = \"250ms\"",
                    )
                })?;
                let seconds =
                    parse_duration(&lit.value()).map_err(|m| syn::Error::new(lit.span(), m))?;
                set_once(&mut latency, (seconds, lit.span()), &name)?;
            }
            (Kind::Counted, "latency" | "percentile") => {
                let message = format!(
                    "a latency objective goes on #[timed(objective(latency = \"250ms\", percentile = 99))]; #[counted] takes `{usage}`"
                );
                return Err(syn::Error::new(name.span(), message));
            }
            (Kind::Timed, "success") => {
                let message = format!(
                    "a success objective goes on #[counted(objective(success = 99.9))]; #[timed] takes `{usage}`"
                );
                return Err(syn::Error::new(name.span(), message));
            }
            _ => {
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "unknown objective `{name}` for #[{}]: write `{usage}`",
                        kind.name()
                    ),
                ));
            }
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
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
pub(crate) fn parse_duration(text: &str) -> Result<f64, String> {
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

/// The name of an option: an identifier, or `crate`.
fn parse_key(kind: Kind, input: ParseStream<'_>) -> syn::Result<Ident> {
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
            kind.options()
        ),
    ))
}

/// Parses the `=` after `key`; without it, says how the option is written.
fn parse_eq(input: ParseStream<'_>, key: &Ident, usage: &str) -> syn::Result<()> {
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
fn expect_parens(input: ParseStream<'_>, key: &Ident, usage: &str) -> syn::Result<()> {
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
fn expect_flag(input: ParseStream<'_>, key: &Ident) -> syn::Result<()> {
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
            parse_eq(input, key, "crate = path::to::obs_runtime")?;
            if input.peek(LitStr) {
                let lit: LitStr = input.parse()?;
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`crate` takes a path, not a string: write `crate = {}`",
                        lit.value()
                    ),
                ));
            }
            let path: Path = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`crate` takes the path of obs_runtime: write e.g. `crate = ::obs_runtime` or `crate = my_crate::obs`",
                )
            })?;
            set_once(&mut args.krate, path, key)
        }
        "name" => {
            let lit = parse_lit_str(input, key)?;
            if metric {
                names::check_metric_name(&lit.value(), kind.metric_kind())
                    .map_err(|m| syn::Error::new(lit.span(), m))?;
                set_once(&mut args.metric.name, lit, key)
            } else {
                if lit.value().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the span name is empty: write one, or leave `name` out to name the span after the fn",
                    ));
                }
                set_once(&mut args.trace.name, lit, key)
            }
        }
        "help" if metric => {
            let lit = parse_lit_str(input, key)?;
            set_once(&mut args.metric.help, lit, key)
        }
        "labels" if metric => {
            expect_parens(input, key, "labels(key = \"value\", ..)")?;
            let (labels, dynamic) = parse_labels(input)?;
            args.metric.dynamic_labels = dynamic;
            set_once(&mut args.metric.labels, labels, key)
        }
        "status" if matches!(kind, Kind::Counted | Kind::Timed) => {
            let status = parse_status(key, input)?;
            set_once(&mut args.metric.status, status, key)
        }
        "objective" if matches!(kind, Kind::Counted | Kind::Timed) => {
            let objective = parse_objective(kind, key, input)?;
            set_once(&mut args.metric.objective, objective, key)
        }
        "buckets" if kind == Kind::Timed => {
            parse_eq(input, key, "buckets = [0.1, 0.5, 1.0]")?;
            let buckets = parse_buckets(input, key)?;
            set_once(&mut args.metric.buckets, buckets, key)
        }
        "level" if !metric => {
            parse_eq(input, key, "level = \"debug\"")?;
            let level = parse_level(input, key)?;
            set_once(&mut args.trace.level, level, key)
        }
        "skip" | "skip_all" if !metric => parse_skip_option(key, input, args, seen_skip),
        "fields" if !metric => {
            expect_parens(input, key, "fields(key = value, ..)")?;
            let content;
            parenthesized!(content in input);
            let tokens: TokenStream = content.parse()?;
            set_once(&mut args.trace.fields, tokens, key)
        }
        _ => Err(not_an_option(kind, key)),
    }
}

/// `skip(..)` or `skip_all`, at most one of them.
fn parse_skip_option(
    key: &Ident,
    input: ParseStream<'_>,
    args: &mut Args,
    seen_skip: &mut Option<Ident>,
) -> syn::Result<()> {
    if let Some(first) = seen_skip.replace(key.clone()) {
        let msg = if first == *key {
            format!("`{key}` is given twice: keep one")
        } else {
            "`skip(..)` and `skip_all` together: keep one".to_owned()
        };
        return Err(syn::Error::new(key.span(), msg));
    }
    if key == "skip_all" {
        expect_flag(input, key)?;
        args.trace.skip_all = true;
    } else {
        expect_parens(input, key, "skip(arg, ..)")?;
        args.trace.skip = parse_skip(input)?;
    }
    Ok(())
}

/// The error for `key`, which is not an option of `kind`: the attribute it belongs to, or the
/// option it is a typo of.
fn not_an_option(kind: Kind, key: &Ident) -> syn::Error {
    let name = kind.name();
    let options = kind.options();
    let message = match key.to_string().as_str() {
        "buckets" => format!(
            "`buckets` is an option of #[timed], not of #[{name}]: move it to a #[timed(buckets = [..])] on the same fn"
        ),
        "help" | "labels" => format!(
            "`{key}` is an option of the metrics attributes (#[counted], #[timed], #[in_flight]), not of #[{name}]; #[{name}] takes {options}"
        ),
        "status" if kind == Kind::InFlight => "`status(..)` is an option of #[counted] and #[timed]: #[in_flight] has no status label, it counts calls that have not ended yet".to_owned(),
        "status" => "`status(..)` is an option of #[counted] and #[timed], which write the status label; #[traced] records OpenTelemetry's span status, whose values are fixed".to_owned(),
        "objective" => format!(
            "`objective` is an option of #[counted] (`objective(success = 99.9)`) and #[timed] (`objective(latency = \"250ms\", percentile = 99)`), not of #[{name}]"
        ),
        "level" | "skip" | "skip_all" | "fields" => {
            format!(
                "`{key}` is an option of #[traced], not of #[{name}]; #[{name}] takes {options}"
            )
        }
        other => match kind.option_names().iter().find(|o| is_typo(other, o)) {
            Some(close) => {
                format!("unknown option `{key}`: did you mean `{close}`? #[{name}] takes {options}")
            }
            None => format!("unknown option `{key}`: #[{name}] takes {options}"),
        },
    };
    syn::Error::new(key.span(), message)
}

/// Whether `typed` is `option` with at most two letters changed, added, removed or swapped.
fn is_typo(typed: &str, option: &str) -> bool {
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

fn parse_lit_str(input: ParseStream<'_>, key: &Ident) -> syn::Result<LitStr> {
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

/// Static labels (`key = "value"`) and labels from the call (`key = expr`).
type LabelLists = (Vec<(Ident, LitStr)>, Vec<(Ident, syn::Expr)>);

fn parse_labels(input: ParseStream<'_>) -> syn::Result<LabelLists> {
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

fn parse_skip(input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
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

fn parse_buckets(input: ParseStream<'_>, key: &Ident) -> syn::Result<(Vec<f64>, Span)> {
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

const LEVELS: &str = "`level = \"trace\"`, `\"debug\"`, `\"info\"`, `\"warn\"` or `\"error\"`";

fn parse_level(input: ParseStream<'_>, key: &Ident) -> syn::Result<Level> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, args: &str) -> syn::Result<Args> {
        let tokens = syn::parse_str::<TokenStream>(args).expect("the test input lexes");
        Args::parse(kind, tokens)
    }

    fn error(kind: Kind, args: &str) -> String {
        match parse(kind, args) {
            Ok(_) => panic!("#[{}({args})] was accepted", kind.name()),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn parses_every_documented_option() {
        let args = parse(
            Kind::Counted,
            r#"name = "jobs_total", help = "Jobs.", labels(queue = "fast", r#type = "x"), crate = ::obs_runtime,"#,
        )
        .unwrap();
        assert_eq!(args.metric.name.unwrap().value(), "jobs_total");
        assert_eq!(args.metric.help.unwrap().value(), "Jobs.");
        assert_eq!(args.metric.labels.unwrap().len(), 2);
        assert!(args.krate.is_some());

        let args = parse(Kind::Timed, "buckets = [1, 2.5, 1e1], name = \"q_seconds\"").unwrap();
        assert_eq!(args.metric.buckets.unwrap().0, vec![1.0, 2.5, 10.0]);

        let args = parse(
            Kind::Traced,
            r#"level = debug, name = "login", skip(password, r#type), fields(a = 1, b = %x)"#,
        )
        .unwrap();
        assert_eq!(args.trace.level, Some(Level::Debug));
        assert_eq!(args.trace.skip.len(), 2);
        assert!(args.trace.fields.is_some());

        let args = parse(Kind::Traced, "level = \"WARN\", skip_all").unwrap();
        assert_eq!(args.trace.level, Some(Level::Warn));
        assert!(args.trace.skip_all);

        let args = parse(Kind::Traced, "level = tracing::Level::ERROR").unwrap();
        assert_eq!(args.trace.level, Some(Level::Error));

        assert!(parse(Kind::InFlight, "").is_ok());

        let args = parse(
            Kind::Counted,
            r#"status(ok = "success", error = "failed", panic = "failed", label = "outcome")"#,
        )
        .unwrap();
        let status = args.metric.status.unwrap();
        assert_eq!(status.label(), "outcome");
        assert_eq!(
            status.values(),
            [
                "success",
                "failed",
                "failed",
                "cancelled",
                "timeout",
                "blocked"
            ]
        );
        let args = parse(
            Kind::Timed,
            r#"labels(endpoint = "/jobs"), status(label = "status_code", ok = "200", error = "500", timeout = "504")"#,
        )
        .unwrap();
        assert_eq!(args.metric.status.unwrap().label(), "status_code");
        // `ok` may take the name of a failure that is renamed too.
        assert!(parse(Kind::Counted, r#"status(ok = "error", error = "failed")"#).is_ok());
        assert!(parse(Kind::Counted, r#"status(label = "status")"#).is_ok());
    }

    #[test]
    fn reports_every_error_of_an_attribute() {
        let message = error(
            Kind::Counted,
            r#"name = "Bad", colour = 1, labels(status = "x", a = "b", a = "c"), help = 3"#,
        );
        assert_eq!(message.lines().count(), 5, "{message}");
        assert!(message.contains("snake_case"), "{message}");
        assert!(message.contains("unknown option `colour`"), "{message}");
        assert!(message.contains("`status` is set by obs"), "{message}");
        assert!(message.contains("label `a` is given twice"), "{message}");
        assert!(message.contains("`help` takes a string"), "{message}");

        let message = error(Kind::Timed, "buckets = [x, -1, 2, 1, 2, 1e999]");
        assert_eq!(message.lines().count(), 5, "{message}");
    }

    /// Each `(kind, args, expected)`: the attribute is refused with a message containing
    /// `expected`.
    fn says(cases: &[(Kind, &str, &str)]) {
        for (kind, args, expected) in cases {
            let message = error(*kind, args);
            assert!(
                message.contains(expected),
                "#[{}({args})]: {message:?} does not contain {expected:?}",
                kind.name()
            );
        }
    }

    #[test]
    fn says_what_to_write() {
        let cases: &[(Kind, &str, &str)] = &[
            (Kind::Counted, "name", "write `name = \"…\"`"),
            (Kind::Counted, "name = 1", "`name` takes a string"),
            (
                Kind::Counted,
                "name = \"a_total\" help = \"b\"",
                "expected `,` before the next option",
            ),
            (Kind::Counted, "1", "expected an option: #[counted] takes"),
            (
                Kind::Counted,
                "labels",
                "write `labels(key = \"value\", ..)`",
            ),
            (Kind::Counted, "labels(a)", "write `a = \"value\"`"),
            // `labels(a = b)` takes the value from the call; a missing value is refused.
            (Kind::Counted, "labels(a = )", "a label needs a value"),
            (Kind::Counted, "labels(\"a\" = \"b\")", "expected a label"),
            (Kind::Counted, "buckets = [1.0]", "option of #[timed]"),
            (
                Kind::Counted,
                "nmae = \"x\"",
                "unknown option `nmae`: did you mean `name`?",
            ),
            (Kind::Traced, "skipall", "did you mean `skip_all`?"),
            (Kind::Traced, "Level = \"debug\"", "did you mean `level`?"),
            (Kind::Timed, "bucket = [1]", "did you mean `buckets`?"),
            (
                Kind::Timed,
                "colour = 1",
                "unknown option `colour`: #[timed] takes",
            ),
            (Kind::Counted, "level = \"debug\"", "option of #[traced]"),
            (Kind::Traced, "help = \"x\"", "not of #[traced]"),
            (
                Kind::Counted,
                "crate",
                "write `crate = path::to::obs_runtime`",
            ),
            (
                Kind::Counted,
                "crate = \"obs_runtime\"",
                "write `crate = obs_runtime`",
            ),
            (
                Kind::Counted,
                "crate = 1",
                "`crate` takes the path of obs_runtime",
            ),
            (Kind::Timed, "buckets = 0.5", "`buckets` takes a list"),
            (Kind::Timed, "buckets", "`buckets` takes a value"),
            (Kind::Timed, "buckets = []", "`buckets` is empty"),
            (Kind::Timed, "buckets = [0]", "greater than 0"),
            (Kind::Timed, "buckets = [1, 1]", "strictly increasing"),
            (Kind::Timed, "buckets = [1e400]", "finite"),
            (Kind::Timed, "buckets = [\"1\"]", "number literals"),
            (
                Kind::Traced,
                "level = \"verbose\"",
                "unknown level `verbose`",
            ),
            (Kind::Traced, "level = 3", "`level` takes a level name"),
            (Kind::Traced, "level", "`level` takes a value"),
            (Kind::Traced, "skip", "write `skip(arg, ..)`"),
            (Kind::Traced, "skip(1)", "the names of the fn's arguments"),
            (Kind::Traced, "skip(a, a)", "`a` is skipped twice"),
            (Kind::Traced, "skip_all = true", "write `skip_all` alone"),
            (
                Kind::Traced,
                "skip_all, skip_all",
                "`skip_all` is given twice",
            ),
            (Kind::Traced, "skip(a), skip_all", "together: keep one"),
            (
                Kind::Traced,
                "fields = 1",
                "write `fields(key = value, ..)`",
            ),
            (Kind::Traced, "name = \"\"", "the span name is empty"),
            (
                Kind::Traced,
                "name = \"a\", name = \"b\"",
                "`name` is given twice",
            ),
        ];
        says(cases);
    }

    /// `status(..)`, wrong in every way a plan's reader may write it.
    const STATUS_CASES: &[(Kind, &str, &str)] = &[
        (Kind::Counted, "status", "write `status(ok = \"success\""),
        (
            Kind::Counted,
            "status = \"x\"",
            "takes a list in parentheses",
        ),
        (Kind::Counted, "status()", "`status()` renames nothing"),
        (
            Kind::Counted,
            "status(success = \"success\")",
            "write `ok = \"success\"`",
        ),
        (
            Kind::Counted,
            "status(failed = \"x\")",
            "write `error = \"failed\"`",
        ),
        (
            Kind::Counted,
            "status(timout = \"t\")",
            "did you mean `timeout`?",
        ),
        (
            Kind::Counted,
            "status(throttled = \"t\")",
            "Status::custom(\"throttled\")",
        ),
        (Kind::Counted, "status(ok)", "write `ok = \"…\"`"),
        (Kind::Counted, "status(ok = 1)", "`ok` takes a string"),
        (
            Kind::Counted,
            "status(ok = \"\")",
            "the value of `ok` is empty",
        ),
        (
            Kind::Counted,
            "status(ok = \"a\", ok = \"b\")",
            "`ok` is given twice",
        ),
        (
            Kind::Counted,
            "status(error = \"ok\")",
            "`error` would read `ok`, as `ok` does",
        ),
        (
            Kind::Counted,
            "status(ok = \"done\", timeout = \"done\")",
            "`timeout` would read `done`",
        ),
        (
            Kind::Counted,
            "status(ok = \"timeout\")",
            "rename `timeout` too",
        ),
        (
            Kind::Counted,
            "status(label = \"function\")",
            "`function` is set by obs",
        ),
        (
            Kind::Counted,
            "status(label = \"le\")",
            "reserved by Prometheus",
        ),
        (
            Kind::Counted,
            "status(label = \"status code\")",
            "not a valid label name",
        ),
        (
            Kind::Counted,
            "labels(code = \"x\"), status(label = \"code\")",
            "`code` is already a label of this metric",
        ),
        (
            Kind::Timed,
            "status(label = \"code\", ok = \"200\"), labels(code = req.code())",
            "`code` is already a label of this metric",
        ),
        (
            Kind::Counted,
            "status(ok = \"a\"), status(ok = \"b\")",
            "`status` is given twice",
        ),
        (
            Kind::InFlight,
            "status(ok = \"a\")",
            "#[in_flight] has no status label",
        ),
        (
            Kind::Traced,
            "status(ok = \"a\")",
            "span status, whose values are fixed",
        ),
        (
            Kind::Counted,
            "statsu(ok = \"a\")",
            "did you mean `status`?",
        ),
    ];

    #[test]
    fn says_what_to_write_about_status() {
        says(STATUS_CASES);
    }

    /// Attribute arguments that are wrong in every way a hand can make them.
    const ODD_INPUTS: &[&str] = &[
        "",
        ",",
        ",,",
        "name",
        "name =",
        "name = ",
        "= 1",
        "=",
        "1",
        "\"name\"",
        "name = \"x_total\",",
        "name = \"x_total\",,",
        "name == \"x_total\"",
        "name = \"x_total\" \"y\"",
        "name = r\"x_total\"",
        "name = b\"x_total\"",
        "name = 'c'",
        "name = \"\"",
        "name = \"_\"",
        "name = \"é_total\"",
        "name = \"__\"",
        "name = \"_total\"",
        "name = \"_seconds\"",
        "name = \"_ms\"",
        "help",
        "help = help",
        "labels",
        "labels()",
        "labels(,)",
        "labels(=)",
        "labels(a =)",
        "labels(a = \"b\",,)",
        "labels(a = \"b\" c = \"d\")",
        "labels[a = \"b\"]",
        "labels = (a = \"b\")",
        "labels(r#le = \"x\")",
        "labels(é = \"x\")",
        "labels(self = \"x\")",
        "buckets",
        "buckets =",
        "buckets = []",
        "buckets = [,]",
        "buckets = [1,,2]",
        "buckets = [1 2]",
        "buckets = [1; 3]",
        "buckets = [-]",
        "buckets = [--1]",
        "buckets = [-(-1)]",
        "buckets = [0x10, 1_000, 1e3, 2.5e-3f32, 7u8]",
        "buckets = [1e309, -1e309, 0.0, -0.0]",
        "buckets = [(1)]",
        "buckets = [{1}]",
        "buckets = [1..2]",
        "buckets = {1}",
        "crate",
        "crate =",
        "crate = ",
        "crate = ::",
        "crate = a::",
        "crate = a::b<c>",
        "crate = self",
        "crate = crate::x",
        "crate(a)",
        "self",
        "super = 1",
        "r#name = \"x\"",
        "fn",
        "::name",
        "name::x = 1",
        "#name",
        "#[name]",
        "(name = \"x\")",
        "[name]",
        "{}",
        "level",
        "level =",
        "level = ::",
        "level = a::",
        "level = \"\"",
        "level = 'a",
        "skip",
        "skip()",
        "skip(,)",
        "skip(self)",
        "skip(a b)",
        "skip(a::b)",
        "skip = a",
        "skip_all",
        "skip_all()",
        "skip_all, skip(a)",
        "fields",
        "fields()",
        "fields(a = )",
        "fields = x",
        "fields[a = 1]",
        "status",
        "status()",
        "status(,)",
        "status(=)",
        "status(ok)",
        "status(ok =)",
        "status(ok = \"\")",
        "status(ok = ok)",
        "status(ok = \"a\" error = \"b\")",
        "status(ok = \"a\",, error = \"b\")",
        "status(r#ok = \"a\")",
        "status(label)",
        "status(label = \"\")",
        "status(label = \"__x\")",
        "status[ok = \"a\"]",
        "status = (ok = \"a\")",
    ];

    /// Odd token streams: each gives `Ok` or `Err`, never a panic.
    #[test]
    fn never_panics() {
        for kind in Kind::ALL {
            for input in ODD_INPUTS {
                let tokens = syn::parse_str::<TokenStream>(input).expect("the test input lexes");
                let result = std::panic::catch_unwind(|| Args::parse(kind, tokens).is_ok());
                assert!(result.is_ok(), "#[{}({input})] panicked", kind.name());
            }
        }
    }
}

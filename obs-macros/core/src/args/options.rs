//! The options of each attribute: one table per attribute, which drives the parser, the list
//! of options the messages give, and the typo suggestions.

use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path};

use super::parse::{
    error_here, expect_flag, expect_parens, is_typo, parse_eq, parse_lit_str, set_once,
};
use super::{Args, Kind, SpanName, buckets, labels, objective, status, trace};
use crate::names;

/// One option: its name, how the messages write it, and how it is parsed.
pub(super) struct Opt {
    name: &'static str,
    usage: &'static str,
    parse: fn(&mut State, &Ident, ParseStream<'_>) -> syn::Result<()>,
}

const NAME: Opt = Opt {
    name: "name",
    usage: "`name = \"…\"`",
    parse: metric_name,
};
const HELP: Opt = Opt {
    name: "help",
    usage: "`help = \"…\"`",
    parse: help,
};
const LABELS: Opt = Opt {
    name: "labels",
    usage: "`labels(key = \"value\")`",
    parse: labels,
};
const STATUS: Opt = Opt {
    name: "status",
    usage: "`status(ok = \"success\", ..)`",
    parse: status,
};
const NOT_FAILURE: Opt = Opt {
    name: "not_failure",
    usage: "`not_failure = [\"not_found\", ..]`",
    parse: not_failure,
};
const CRATE: Opt = Opt {
    name: "crate",
    usage: "`crate = path`",
    parse: krate,
};

/// `#[counted]`.
const COUNTED: &[Opt] = &[
    NAME,
    HELP,
    LABELS,
    Opt {
        name: "objective",
        usage: "`objective(success = 99.9)`",
        parse: objective,
    },
    STATUS,
    NOT_FAILURE,
    CRATE,
];

/// `#[timed]`.
const TIMED: &[Opt] = &[
    Opt {
        name: "buckets",
        usage: "`buckets = [..]`",
        parse: buckets,
    },
    Opt {
        name: "native",
        usage: "`native` or `native(schema = N)`",
        parse: native,
    },
    NAME,
    HELP,
    LABELS,
    Opt {
        name: "objective",
        usage: "`objective(latency = \"250ms\", percentile = 99)`",
        parse: objective,
    },
    STATUS,
    NOT_FAILURE,
    CRATE,
];

/// `#[in_flight]`.
const IN_FLIGHT: &[Opt] = &[NAME, HELP, LABELS, CRATE];

/// `#[traced]`.
const TRACED: &[Opt] = &[
    Opt {
        name: "level",
        usage: "`level = \"…\"`",
        parse: level,
    },
    Opt {
        name: "name",
        usage: "`name = \"…\"`",
        parse: span_name,
    },
    Opt {
        name: "target",
        usage: "`target = \"…\"`",
        parse: target,
    },
    Opt {
        name: "skip",
        usage: "`skip(arg, ..)`",
        parse: skip,
    },
    Opt {
        name: "skip_all",
        usage: "`skip_all`",
        parse: skip,
    },
    Opt {
        name: "fields",
        usage: "`fields(key = value, ..)`",
        parse: fields,
    },
    Opt {
        name: "err",
        usage: "`err`",
        parse: err,
    },
    Opt {
        name: "ret",
        usage: "`ret`",
        parse: ret,
    },
    Opt {
        name: "parent",
        usage: "`parent = expr`",
        parse: parent,
    },
    Opt {
        name: "follows_from",
        usage: "`follows_from = expr`",
        parse: follows_from,
    },
    NOT_FAILURE,
    CRATE,
];

/// The names of #[traced]'s own options, for the message when another attribute is given one.
const TRACED_ONLY: &[&str] = &[
    "level",
    "target",
    "skip",
    "skip_all",
    "fields",
    "err",
    "ret",
    "parent",
    "follows_from",
];

/// The options of `kind`, in the order its messages list them.
fn table(kind: Kind) -> &'static [Opt] {
    match kind {
        Kind::Counted => COUNTED,
        Kind::Timed => TIMED,
        Kind::InFlight => IN_FLIGHT,
        Kind::Traced => TRACED,
    }
}

/// The options of `kind` as the messages list them: `` `name = "…"`, `help = "…"`, .. ``.
pub(super) fn listed(kind: Kind) -> String {
    let usages: Vec<&str> = table(kind).iter().map(|o| o.usage).collect();
    usages.join(", ")
}

/// The arguments parsed so far.
pub(super) struct State {
    args: Args,
    /// The first of `skip(..)` and `skip_all` given, if any: at most one of them is.
    seen_skip: Option<Ident>,
}

impl State {
    pub(super) fn new(kind: Kind) -> Self {
        State {
            args: Args::empty(kind),
            seen_skip: None,
        }
    }

    pub(super) fn into_args(self) -> Args {
        self.args
    }
}

/// Parses the value of option `key`, which the attribute's table says how to parse.
pub(super) fn parse_option(
    state: &mut State,
    key: &Ident,
    input: ParseStream<'_>,
) -> syn::Result<()> {
    let kind = state.args.kind;
    match table(kind).iter().find(|o| *key == o.name) {
        Some(option) => (option.parse)(state, key, input),
        None => Err(not_an_option(kind, key)),
    }
}

fn krate(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
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
    set_once(&mut state.args.krate, path, key)
}

fn metric_name(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let lit = parse_lit_str(input, key)?;
    names::check_metric_name(&lit.value(), state.args.kind.metric_kind())
        .map_err(|m| syn::Error::new(lit.span(), m))?;
    set_once(&mut state.args.metric.name, lit, key)
}

/// `name = "…"`, or `name = CONST`: any const expression of type `&str` (a const, an
/// associated const, a `const fn` call), as `tracing::instrument` takes.
fn span_name(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "name = \"…\"")?;
    if input.peek(LitStr) {
        return set_span_name(state, input, key);
    }
    let expr = parse_str_expr(
        input,
        key,
        "`name` takes a string or a const `&str` expression: write `name = \"…\"` or `name = SPAN_NAME`",
    )?;
    set_once(&mut state.args.trace.name, SpanName::Const(expr), key)
}

/// `#[traced("name")]`: the span's name, first, as `tracing::instrument` takes it.
pub(super) fn positional_name(state: &mut State, input: ParseStream<'_>) -> syn::Result<()> {
    let key = Ident::new("name", input.span());
    set_span_name(state, input, &key)
}

fn set_span_name(state: &mut State, input: ParseStream<'_>, key: &Ident) -> syn::Result<()> {
    let lit: LitStr = input.parse()?;
    if lit.value().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "the span name is empty: write one, or leave `name` out to name the span after the fn",
        ));
    }
    set_once(&mut state.args.trace.name, SpanName::Lit(lit), key)
}

/// `target = "…"`, or `target = CONST`: any const expression of type `&str`.
fn target(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "target = \"billing\"")?;
    let expr = parse_str_expr(
        input,
        key,
        "`target` takes a string or a const `&str` expression: write `target = \"billing\"` or `target = TARGET`",
    )?;
    if let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(lit),
        ..
    }) = &expr
        && lit.value().is_empty()
    {
        return Err(syn::Error::new(
            lit.span(),
            "the target is empty: write one (e.g. `target = \"billing\"`), or leave `target` out for the module path",
        ));
    }
    set_once(&mut state.args.trace.target, expr, key)
}

fn err(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let event = trace::parse_event(input, key)?;
    set_once(&mut state.args.trace.err, event, key)
}

fn ret(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let event = trace::parse_event(input, key)?;
    set_once(&mut state.args.trace.ret, event, key)
}

fn parent(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "parent = &span")?;
    let expr = parse_expr(
        input,
        key,
        "`parent` takes an expression: the parent span (`parent = &span`), its id (`parent = id`), or `None` for a root span",
    )?;
    set_once(&mut state.args.trace.parent, expr, key)
}

fn follows_from(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "follows_from = [&span]")?;
    let expr = parse_expr(
        input,
        key,
        "`follows_from` takes an expression: an iterator of the spans or span ids this one follows (`follows_from = [&cause]`)",
    )?;
    set_once(&mut state.args.trace.follows_from, expr, key)
}

/// A string or a const `&str` expression up to the next `,`: a literal of another kind
/// (`name = 1`) is reported with `message`, at the literal.
fn parse_str_expr(input: ParseStream<'_>, key: &Ident, message: &str) -> syn::Result<syn::Expr> {
    let expr = parse_expr(input, key, message)?;
    match &expr {
        syn::Expr::Lit(syn::ExprLit { lit, .. }) if !matches!(lit, syn::Lit::Str(_)) => {
            Err(syn::Error::new(lit.span(), message))
        }
        _ => Ok(expr),
    }
}

/// An expression up to the next `,`; what does not parse as one is reported with `message`.
fn parse_expr(input: ParseStream<'_>, key: &Ident, message: &str) -> syn::Result<syn::Expr> {
    if input.is_empty() || input.peek(syn::Token![,]) {
        return Err(error_here(input, key, message));
    }
    input
        .parse::<syn::Expr>()
        .map_err(|e| syn::Error::new(e.span(), message))
}

fn help(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let lit = parse_lit_str(input, key)?;
    set_once(&mut state.args.metric.help, lit, key)
}

fn labels(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    expect_parens(input, key, "labels(key = \"value\", ..)")?;
    let (labels, dynamic) = labels::parse_labels(input)?;
    state.args.metric.dynamic_labels = dynamic;
    set_once(&mut state.args.metric.labels, labels, key)
}

fn status(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let status = status::parse_status(key, input)?;
    set_once(&mut state.args.metric.status, status, key)
}

fn not_failure(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let statuses = status::parse_not_failure(key, input)?;
    set_once(&mut state.args.not_failure, statuses, key)
}

fn objective(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let objective = objective::parse_objective(state.args.kind, key, input)?;
    set_once(&mut state.args.metric.objective, objective, key)
}

fn buckets(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "buckets = [0.1, 0.5, 1.0]")?;
    let buckets = buckets::parse_buckets(input, key)?;
    set_once(&mut state.args.metric.buckets, buckets, key)
}

fn native(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let schema = buckets::parse_native(input, key)?;
    set_once(&mut state.args.metric.native, schema, key)
}

fn level(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    parse_eq(input, key, "level = \"debug\"")?;
    let level = trace::parse_level(input, key)?;
    set_once(&mut state.args.trace.level, level, key)
}

/// `skip(..)` or `skip_all`, at most one of them.
fn skip(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    if let Some(first) = state.seen_skip.replace(key.clone()) {
        let msg = if first == *key {
            format!("`{key}` is given twice: keep one")
        } else {
            "`skip(..)` and `skip_all` together: keep one".to_owned()
        };
        return Err(syn::Error::new(key.span(), msg));
    }
    if key == "skip_all" {
        expect_flag(input, key)?;
        state.args.trace.skip_all = true;
    } else {
        expect_parens(input, key, "skip(arg, ..)")?;
        state.args.trace.skip = trace::parse_skip(input)?;
    }
    Ok(())
}

fn fields(state: &mut State, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    expect_parens(input, key, "fields(key = value, ..)")?;
    let fields = trace::parse_fields(input)?;
    set_once(&mut state.args.trace.fields, fields, key)
}

/// The error for `key`, which is not an option of `kind`: the attribute it belongs to, or the
/// option it is a typo of.
fn not_an_option(kind: Kind, key: &Ident) -> syn::Error {
    let name = kind.name();
    let options = listed(kind);
    // An option of another attribute: say which one; else the option it is a typo of.
    let message = match key.to_string().as_str() {
        "buckets" => format!(
            "`buckets` is an option of #[timed], not of #[{name}]: move it to a #[timed(buckets = [..])] on the same fn"
        ),
        "native" => format!(
            "`native` is an option of #[timed], not of #[{name}]: move it to a #[timed(native)] on the same fn"
        ),
        "help" | "labels" => format!(
            "`{key}` is an option of the metrics attributes (#[counted], #[timed], #[in_flight]), not of #[{name}]; #[{name}] takes {options}"
        ),
        "status" if kind == Kind::InFlight => "`status(..)` is an option of #[counted] and #[timed]: #[in_flight] has no status label, it counts calls that have not ended yet".to_owned(),
        "not_failure" => "`not_failure` is an option of #[counted], #[timed] and #[traced]: #[in_flight] has no status, it counts calls that have not ended yet".to_owned(),
        "status" => "`status(..)` is an option of #[counted] and #[timed], which write the status label; #[traced] records OpenTelemetry's span status, whose values are fixed".to_owned(),
        "objective" => format!(
            "`objective` is an option of #[counted] (`objective(success = 99.9)`) and #[timed] (`objective(latency = \"250ms\", percentile = 99)`), not of #[{name}]"
        ),
        other if TRACED_ONLY.contains(&other) => {
            format!(
                "`{key}` is an option of #[traced], not of #[{name}]; #[{name}] takes {options}"
            )
        }
        other => match table(kind).iter().map(|o| o.name).find(|o| is_typo(other, o)) {
            Some(close) => {
                format!("unknown option `{key}`: did you mean `{close}`? #[{name}] takes {options}")
            }
            None => format!("unknown option `{key}`: #[{name}] takes {options}"),
        },
    };
    syn::Error::new(key.span(), message)
}

//! Parsing the arguments of the attributes into typed options that keep their spans.
//!
//! Every mistake is reported at the token that is wrong, with what to write instead, and the
//! parser goes on to the next option after one, so that all the mistakes of an attribute are
//! reported at once. It never panics, whatever the tokens.

use proc_macro2::{Span, TokenStream};
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path, parenthesized};

use crate::names;
use crate::shared::{MetricKind, STATUS_LABEL, STATUSES};

mod buckets;
mod labels;
mod objective;
mod parse;
mod status;
#[cfg(test)]
mod tests;
mod trace;

pub(crate) use parse::combine;
use parse::{
    expect_flag, expect_parens, is_typo, parse_entries, parse_eq, parse_key, parse_lit_str,
    set_once,
};

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

    pub(super) fn options(self) -> &'static str {
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
    crate::valid::check(&args)?;
    Ok(args)
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
            let (labels, dynamic) = labels::parse_labels(input)?;
            args.metric.dynamic_labels = dynamic;
            set_once(&mut args.metric.labels, labels, key)
        }
        "status" if matches!(kind, Kind::Counted | Kind::Timed) => {
            let status = status::parse_status(key, input)?;
            set_once(&mut args.metric.status, status, key)
        }
        "objective" if matches!(kind, Kind::Counted | Kind::Timed) => {
            let objective = objective::parse_objective(kind, key, input)?;
            set_once(&mut args.metric.objective, objective, key)
        }
        "buckets" if kind == Kind::Timed => {
            parse_eq(input, key, "buckets = [0.1, 0.5, 1.0]")?;
            let buckets = buckets::parse_buckets(input, key)?;
            set_once(&mut args.metric.buckets, buckets, key)
        }
        "level" if !metric => {
            parse_eq(input, key, "level = \"debug\"")?;
            let level = trace::parse_level(input, key)?;
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
        args.trace.skip = trace::parse_skip(input)?;
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

//! Parsing the arguments of the attributes into typed options that keep their spans.
//!
//! Every mistake is reported at the token that is wrong, with what to write instead, and the
//! parser goes on to the next option after one, so that all the mistakes of an attribute are
//! reported at once. It never panics, whatever the tokens.

use proc_macro2::{Span, TokenStream};
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path};

use crate::shared::{MetricKind, STATUS_LABEL, STATUSES};

mod buckets;
mod labels;
mod objective;
mod options;
mod parse;
mod status;
#[cfg(test)]
mod tests;
mod trace;

pub(crate) use parse::combine;
use parse::{parse_entries, parse_key};

/// The four attributes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `#[counted]`.
    Counted,
    /// `#[timed]`.
    Timed,
    /// `#[in_flight]`.
    InFlight,
    /// `#[traced]`.
    Traced,
}

impl Kind {
    /// Every attribute.
    pub const ALL: [Kind; 4] = [Kind::Counted, Kind::Timed, Kind::InFlight, Kind::Traced];

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

    pub(super) fn metric_kind(self) -> MetricKind {
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
    /// `native` or `native(schema = N)` of #[timed]: the native histogram's schema.
    pub(crate) native: Option<i8>,
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

/// The name of a span: `name = "…"` (or `"…"` first), or `name = CONST`, any const
/// expression of type `&'static str`.
#[derive(Clone)]
pub(crate) enum SpanName {
    Lit(LitStr),
    Const(syn::Expr),
}

/// How an `err` or `ret` event writes the value: `%value` or `?value`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FmtMode {
    Display,
    Debug,
}

/// `err(..)` or `ret(..)`: an event with the call's error or returned value.
#[derive(Clone)]
pub(crate) struct EventArg {
    /// The `err` or `ret` token: a return type the option does not fit is reported there.
    pub(crate) at: Span,
    /// `Display` or `Debug`, if given; the default is `Display` for `err`, `Debug` for `ret`.
    pub(crate) mode: Option<FmtMode>,
    /// The event's level, if given; the default is `ERROR` for `err`, the span's for `ret`.
    pub(crate) level: Option<Level>,
    /// `ret(field)`: the value is also recorded into the span's `return` field.
    pub(crate) field: bool,
}

/// One entry of `fields(..)`: `key = value`, or `key` alone, an empty field to record later.
#[derive(Clone)]
pub(crate) struct FieldArg {
    /// The key as written: `a.b`, `"a b"`, `r#type`, or `{NAME}`.
    pub(crate) key: TokenStream,
    /// The key as recorded: `a.b`, `a b`, `type`; for `{NAME}`, the text `{NAME}`, which the
    /// messages show.
    pub(crate) name: String,
    /// `{NAME} = value`: the const expression that gives the name, known only to rustc.
    pub(crate) name_expr: Option<syn::Expr>,
    /// The value's tokens (`%x`, `?x`, `expr`), `None` for an empty field.
    pub(crate) value: Option<TokenStream>,
}

/// Options of `#[traced]`.
#[derive(Clone, Default)]
pub(crate) struct TraceArgs {
    pub(crate) level: Option<Level>,
    pub(crate) name: Option<SpanName>,
    /// `target = "…"` or any const `&str` expression.
    pub(crate) target: Option<syn::Expr>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_all: bool,
    pub(crate) fields: Option<Vec<FieldArg>>,
    pub(crate) err: Option<EventArg>,
    pub(crate) ret: Option<EventArg>,
    pub(crate) parent: Option<syn::Expr>,
    pub(crate) follows_from: Option<syn::Expr>,
}

/// Everything one attribute was given.
#[derive(Clone)]
pub(crate) struct Args {
    pub(crate) kind: Kind,
    /// Where the attribute is written, when it is known (a stacked attribute): errors about
    /// the attribute as a whole, such as it being given twice, point there.
    pub(crate) at: Option<Span>,
    pub(crate) krate: Option<Path>,
    /// `not_failure = [..]`: statuses that are not failures of the fn, for every attribute on it.
    pub(crate) not_failure: Option<Vec<LitStr>>,
    pub(crate) metric: MetricArgs,
    pub(crate) trace: TraceArgs,
}

impl Args {
    pub(crate) fn empty(kind: Kind) -> Self {
        Args {
            kind,
            at: None,
            krate: None,
            not_failure: None,
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
    let mut state = options::State::new(kind);
    parse_entries(
        input,
        |input| {
            if kind == Kind::Traced && input.peek(LitStr) {
                return options::positional_name(&mut state, input);
            }
            let key = parse_key(kind, input)?;
            options::parse_option(&mut state, &key, input)
        },
        "expected `,` before the next option",
    )?;
    Ok(state.into_args())
}

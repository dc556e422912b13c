//! Trace context and baggage across services and tasks, read and written by obs itself, with
//! or without an exporter: a service that records nothing still passes its caller's trace on.
//!
//! A client writes the current context into the request's headers; the server reads it back
//! and runs its handler in it, so the server's spans join the client's trace. The formats are
//! the configured [`Propagator`]s (`OTEL_PROPAGATORS`, W3C `tracecontext,baggage` by
//! default; `b3`, `b3multi`, `jaeger`), tried in order on extraction, all written on
//! injection. W3C `traceparent` and `tracestate` are read by the rules of Trace Context level
//! 1 (a second `traceparent` restarts the trace, several `tracestate` headers are one list, a
//! state with an invalid member or a key twice is dropped); `tracestate` is passed on
//! unchanged (obs adds no member of its own), cut to 512 bytes by the recommendation's rule
//! when longer.
//!
//! What is propagated is the current span's context when obs's trace layer keeps one
//! (sampled or not: an unsampled span keeps its ids and the caller's `tracestate`, a few
//! words), else the caller's context in scope (what `http::ServerLayer` (feature `http`)
//! or [`RemoteContext::in_scope`] puts there), with a new parent id for each request: so
//! with `OTEL_TRACES_EXPORTER=none`, or a span the sampler drops, the trace id and the
//! sampled flag go on unchanged. With no caller and no span, nothing is written.
//!
//! ```
//! use std::collections::HashMap;
//!
//! // Service A, in a call chain: its caller's headers.
//! let incoming = HashMap::from([
//!     ("traceparent".to_owned(),
//!      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
//!     ("tracestate".to_owned(), "congo=t61rcWkgMzE".to_owned()),
//! ]);
//! let caller = obs_runtime::propagation::extract_map(&incoming);
//! let outgoing = caller.in_scope(|| {
//!     let mut headers = HashMap::new();
//!     obs_runtime::propagation::inject_map(&mut headers); // the request A sends on
//!     headers
//! });
//! let traceparent = &outgoing["traceparent"];
//! assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! assert!(!traceparent.contains("00f067aa0ba902b7")); // a new parent id
//! assert!(traceparent.ends_with("-01"));
//! assert_eq!(outgoing["tracestate"], "congo=t61rcWkgMzE");
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;

mod baggage;
mod formats;
mod w3c;

pub use baggage::Baggage;
pub(crate) use baggage::{parse_attribute_keys, set_attributes as set_baggage_attributes};
pub use formats::Propagator;
pub(crate) use formats::{parse_list as parse_propagators, set_configured as set_propagators};

use super::access::with_span;
use super::context::{self, Remote, Scope};
use super::ids::{self, SpanContext, SpanIds, to_hex};
use super::lifecycle;
use super::pipeline;
use super::record::{SpanRecord, Value};
use baggage::{BAGGAGE, InScope};

/// Where a context is read from: every value of a header, by its name in lowercase, the
/// carrier's names matched without regard to case.
pub(crate) trait Carrier {
    fn values(&self, name: &str) -> Vec<&str>;
}

/// Where a context is written to: a header's name in lowercase and its value.
pub(crate) type Set<'a> = &'a mut dyn FnMut(&'static str, String);

#[cfg(any(feature = "http", feature = "otlp", test))]
impl Carrier for http::HeaderMap {
    fn values(&self, name: &str) -> Vec<&str> {
        self.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl<H: BuildHasher> Carrier for HashMap<String, String, H> {
    fn values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What to propagate: the current span's context when obs's layer keeps one, else the
/// caller's context in scope with a new span id (a request sent from it is a new child).
fn current() -> Option<Remote> {
    let span = tracing::Span::current();
    let own = with_span(&span, |span| span.context()).flatten();
    match own {
        Some(SpanContext {
            ids, trace_state, ..
        }) => Some(Remote {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            sampled: ids.sampled,
            trace_state,
        }),
        None => context::remote().map(|remote| Remote {
            span_id: ids::span_id(),
            ..remote
        }),
    }
}

fn inject(set: Set<'_>) {
    inject_in(formats::configured(), set);
}

/// [`inject`] in the given formats.
fn inject_in(formats: impl Iterator<Item = Propagator>, set: Set<'_>) {
    let remote = current();
    for format in formats {
        match (format, &remote) {
            (Propagator::Baggage, _) => {
                if let Some(header) = context::baggage().header() {
                    set(BAGGAGE, header);
                }
            }
            (_, Some(remote)) => formats::inject(format, remote, set),
            (_, None) => {}
        }
    }
}

/// The context in `carrier`, by the configured propagators in order: the first trace context
/// found wins.
pub(crate) fn extract(carrier: &dyn Carrier) -> RemoteContext {
    extract_in(formats::configured(), carrier)
}

/// [`extract`] by the given formats.
fn extract_in(formats: impl Iterator<Item = Propagator>, carrier: &dyn Carrier) -> RemoteContext {
    let mut context = RemoteContext::default();
    for format in formats {
        if format == Propagator::Baggage {
            context.baggage = Baggage::parse(&carrier.values(BAGGAGE));
        } else if context.remote.is_none() {
            context.remote = formats::extract(format, carrier);
        }
    }
    context
}

/// Writes the current context (`traceparent` and `tracestate`, `baggage`, or the other
/// configured formats) into `headers`. Writes no trace context when there is no span of
/// obs's and no caller's context in scope.
///
/// ```
/// # let obs = obs_runtime::Builder::new().without_server()
/// #     .traces_exporter(obs_runtime::TracesExporter::Console).install()?;
/// #[obs_runtime::traced]
/// fn call_payment() -> http::HeaderMap {
///     let mut headers = http::HeaderMap::new();
///     obs_runtime::propagation::inject_headers(&mut headers);
///     headers // and send the request with them
/// }
///
/// let headers = call_payment();
/// let traceparent = headers["traceparent"].to_str().unwrap();
/// assert!(traceparent.starts_with("00-") && traceparent.ends_with("-01")); // sampled
/// # Ok::<(), obs_runtime::Error>(())
/// ```
#[cfg(any(feature = "http", feature = "otlp"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "http", feature = "otlp"))))]
pub fn inject_headers(headers: &mut http::HeaderMap) {
    inject(&mut |key, value| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(key, value);
        }
    });
}

/// Reads the caller's context from `headers` (header names are matched without regard to
/// case, as HTTP's are).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let caller = obs_runtime::propagation::extract_headers(&headers);
/// assert_eq!(caller.trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// ```
#[cfg(any(feature = "http", feature = "otlp"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "http", feature = "otlp"))))]
pub fn extract_headers(headers: &http::HeaderMap) -> RemoteContext {
    extract(headers)
}

/// Writes the current context into `map`, for transports whose metadata is a plain string
/// map (message headers, job arguments, …).
pub fn inject_map<H: BuildHasher>(map: &mut HashMap<String, String, H>) {
    inject(&mut |key, value| {
        map.insert(key.to_owned(), value);
    });
}

/// Reads the caller's context from `map`. Keys are matched without regard to case.
pub fn extract_map<H: BuildHasher>(map: &HashMap<String, String, H>) -> RemoteContext {
    extract(map)
}

/// The baggage in scope: the entries of the request being served, or of a [`Baggage`] or
/// [`RemoteContext`] in scope; empty when none is. See [`Baggage`] for an example.
pub fn baggage() -> Baggage {
    context::baggage()
}

/// The configured baggage entries of `baggage` as attributes of `span`, when obs's trace
/// layer records it (`OBS_BAGGAGE_ATTRIBUTES`, `Builder::baggage_attributes`). The
/// `http::ServerLayer` (feature `http`) calls it on its server spans.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn record_baggage(span: &tracing::Span, baggage: &Baggage) {
    let attributes = baggage::attributes(baggage);
    if attributes.is_empty() {
        return;
    }
    with_span(span, |span| {
        if let Some(record) = span.record() {
            for (key, value) in attributes {
                record.fields.retain(|(k, _)| *k != key);
                record.fields.push((key, Value::Str(value)));
            }
        }
    });
}

/// The trace id of the current span, as 32 hex digits, when it is exported and sampled: to
/// put in an error page or a support ticket, where it leads to the trace.
///
/// ```
/// # let obs = obs_runtime::Builder::new().without_server()
/// #     .traces_exporter(obs_runtime::TracesExporter::Console).install()?;
/// #[obs_runtime::traced]
/// fn handle() -> Option<String> {
///     obs_runtime::propagation::current_trace_id()
/// }
///
/// assert_eq!(handle().map(|id| id.len()), Some(32));
/// assert_eq!(obs_runtime::propagation::current_trace_id(), None); // outside any span
/// # Ok::<(), obs_runtime::Error>(())
/// ```
pub fn current_trace_id() -> Option<String> {
    current()
        .filter(|remote| remote.sampled)
        .map(|remote| to_hex(&remote.trace_id))
}

/// A caller's context, read by `extract_headers` (features `http`, `otlp`) or [`extract_map`]: its trace context, if
/// valid, and its baggage. Spans created while it is in scope continue the caller's trace;
/// with no valid context, they start their own, as they would have anyway.
#[derive(Clone, Debug, Default)]
pub struct RemoteContext {
    remote: Option<Remote>,
    baggage: Baggage,
}

impl RemoteContext {
    /// Whether the carrier held a valid `traceparent`.
    pub fn is_valid(&self) -> bool {
        self.remote.is_some()
    }

    /// The caller's trace id, as 32 hex digits, if valid.
    pub fn trace_id(&self) -> Option<String> {
        self.remote.as_ref().map(|r| to_hex(&r.trace_id))
    }

    /// Whether the caller sampled the trace (parent-based samplers follow it).
    ///
    /// ```
    /// let headers = std::collections::HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
    /// )]);
    /// let caller = obs_runtime::propagation::extract_map(&headers);
    /// assert!(caller.is_valid() && !caller.is_sampled());
    /// ```
    pub fn is_sampled(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.sampled)
    }

    /// Runs `f` in the caller's context: the spans it creates (a `#[traced]` call, say) are
    /// children of the caller's span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = context::enter(self.scope());
        f()
    }

    /// The caller's baggage.
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// Puts this context in scope on this thread until the guard is dropped.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn enter(&self) -> context::Entered {
        context::enter(self.scope())
    }

    /// The scope this context puts in place: the caller's trace context and baggage.
    pub(crate) fn scope(&self) -> Scope {
        Scope {
            remote: self.remote.clone(),
            baggage: self.baggage.clone(),
        }
    }

    /// Runs `future` in the caller's context on every poll: the spans it creates are children
    /// of the caller's span.
    ///
    /// ```
    /// #[obs_runtime::traced]
    /// async fn handle() -> u32 { 7 }
    ///
    /// let headers = std::collections::HashMap::new(); // no caller: a trace of its own
    /// let caller = obs_runtime::propagation::extract_map(&headers);
    /// assert_eq!(futures_executor::block_on(caller.instrument(handle())), 7);
    /// ```
    pub fn instrument<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        InScope {
            future,
            scope: self.scope(),
        }
    }

    /// Makes the caller the parent of `span`, a span not entered yet (one you create for the
    /// request, say). `false` if the span is already started or not exported.
    ///
    /// ```
    /// # let obs = obs_runtime::Builder::new().without_server()
    /// #     .traces_exporter(obs_runtime::TracesExporter::Console).install()?;
    /// let headers = std::collections::HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    /// )]);
    /// let request = tracing::info_span!("request");
    /// assert!(obs_runtime::propagation::extract_map(&headers).set_parent_of(&request));
    /// let _entered = request.enter(); // spans created here join the caller's trace
    /// assert_eq!(
    ///     obs_runtime::propagation::current_trace_id().as_deref(),
    ///     Some("4bf92f3577b34da6a3ce929d0e0e4736")
    /// );
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn set_parent_of(&self, span: &tracing::Span) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        with_span(span, |span| {
            let Some(old) = span.context() else {
                return false;
            };
            let sampled = pipeline::sampler()
                .is_some_and(|s| s.decide(Some(remote.sampled), remote.trace_id));
            let ids = SpanIds {
                trace_id: remote.trace_id,
                span_id: old.ids.span_id,
                sampled,
            };
            let record = span.take_record();
            let record = (sampled || pipeline::tail_on()).then(|| {
                // A span that was not sampled before records from now on: the fields given
                // when it was created were not kept.
                let mut record =
                    record.unwrap_or_else(|| SpanRecord::new(ids, None, crate::clock::raw(), 0));
                record.ids = ids;
                record.parent = Some(remote.span_id);
                record.trace_state.clone_from(&remote.trace_state);
                // Now the root of its local trace: tail sampling decides it at its close
                // (a hold of its own, unless it already made the one it has).
                record.local_root = true;
                record.tally = match record.tally.take() {
                    _ if sampled => None,
                    Some(own) if own.is_root(ids.span_id) => Some(own),
                    _ => lifecycle::new_tally(ids.span_id),
                };
                record
            });
            span.set(
                SpanContext {
                    ids,
                    trace_state: remote.trace_state.clone(),
                    tally: None,
                },
                record,
            );
            true
        })
        .unwrap_or(false)
    }

    /// Adds the caller's span as a link of `span` (a batch job started by several callers,
    /// say), as `Span::follows_from` does for a local span. `false` if there is no caller or
    /// `span` is not sampled.
    ///
    /// ```
    /// # let obs = obs_runtime::Builder::new().without_server()
    /// #     .traces_exporter(obs_runtime::TracesExporter::Console).install()?;
    /// let headers = std::collections::HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    /// )]);
    /// let job = tracing::info_span!("job");
    /// assert!(obs_runtime::propagation::extract_map(&headers).add_link_to(&job));
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn add_link_to(&self, span: &tracing::Span) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        with_span(span, |span| {
            span.record().is_some_and(|record| {
                record.links.push(super::record::Link {
                    trace_id: remote.trace_id,
                    span_id: remote.span_id,
                    sampled: remote.sampled,
                });
                true
            })
        })
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;

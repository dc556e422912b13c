//! W3C trace context across services and tasks (feature `otlp`).
//!
//! A client writes the current span's context into the request's headers (`traceparent`,
//! and `tracestate` when there is one); the server reads it back and runs its handler in it, so
//! the server's spans join the client's trace:
//!
//! ```
//! use std::collections::HashMap;
//! use obs_runtime::{propagation, traced};
//!
//! #[traced]
//! fn call_inventory() -> HashMap<String, String> {
//!     let mut headers = HashMap::new();
//!     propagation::inject_map(&mut headers); // the span of `call_inventory`
//!     headers // sent along with the request
//! }
//!
//! #[traced]
//! fn reserve(sku: u32) -> u32 { sku }
//!
//! # let obs = obs_runtime::Builder::new().without_server()
//! #     .traces_exporter(obs_runtime::TracesExporter::Console).install()?;
//! let headers = call_inventory();
//! assert!(headers["traceparent"].starts_with("00-"));
//!
//! // In the inventory service: `reserve`'s span is a child of `call_inventory`'s.
//! let caller = propagation::extract_map(&headers);
//! assert!(caller.is_valid());
//! caller.in_scope(|| reserve(7));
//! # drop(obs);
//! # Ok::<(), obs_runtime::Error>(())
//! ```
//!
//! `http::HeaderMap` has the same pair: [`inject_headers`] and [`extract_headers`]. An async
//! handler runs in the caller's context with [`RemoteContext::instrument`].
//!
//! # Keeping the current span in spawned work
//!
//! A span is the parent of what runs while it is entered, on the thread that entered it. Work
//! handed to another thread or task takes its span along explicitly:
//!
//! ```
//! use tracing::Instrument as _;
//!
//! #[obs_runtime::traced]
//! fn audit(order: u32) -> u32 { order }
//!
//! #[obs_runtime::traced]
//! fn checkout(order: u32) -> u32 {
//!     // A thread: carry the current span and enter it there.
//!     let span = tracing::Span::current();
//!     let audited = std::thread::spawn(move || span.in_scope(|| audit(order)))
//!         .join()
//!         .unwrap();
//!     // A task (`tokio::spawn`, or any executor): instrument the future with the span.
//!     let task = async move { audit(order) }.in_current_span();
//!     audited + futures_executor::block_on(task)
//! }
//!
//! assert_eq!(checkout(21), 42);
//! ```
//!
//! With Tokio that is `tokio::spawn(work().in_current_span())`. The spans created in the
//! thread or task are children of `checkout`'s, in the same trace.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The context to propagate: the current span's when it is exported, else the context the
/// thread runs in (a [`RemoteContext::in_scope`], say).
fn current() -> Context {
    let span = tracing::Span::current().context();
    if span.span().span_context().is_valid() {
        span
    } else {
        Context::current()
    }
}

fn inject(carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&current(), carrier);
}

fn extract(carrier: &dyn Extractor) -> RemoteContext {
    RemoteContext(TraceContextPropagator::new().extract(carrier))
}

/// Writes the current span's `traceparent` (and `tracestate`) into `headers`. Writes nothing
/// when no exported span is current.
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
pub fn inject_headers(headers: &mut http::HeaderMap) {
    inject(&mut opentelemetry_http::HeaderInjector(headers));
}

/// Reads the caller's context from `traceparent`/`tracestate` in `headers`.
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
pub fn extract_headers(headers: &http::HeaderMap) -> RemoteContext {
    extract(&opentelemetry_http::HeaderExtractor(headers))
}

/// Writes the current span's `traceparent` (and `tracestate`) into `map`, for transports
/// whose metadata is a plain string map (message headers, job arguments, …).
pub fn inject_map<H: BuildHasher>(map: &mut HashMap<String, String, H>) {
    struct Map<'a, H>(&'a mut HashMap<String, String, H>);
    impl<H: BuildHasher> Injector for Map<'_, H> {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
    }
    inject(&mut Map(map));
}

/// Reads the caller's context from `traceparent`/`tracestate` in `map`. Keys are matched
/// without regard to case.
pub fn extract_map<H: BuildHasher>(map: &HashMap<String, String, H>) -> RemoteContext {
    struct Lowercase<'a, H>(&'a HashMap<String, String, H>);
    impl<H: BuildHasher> Extractor for Lowercase<'_, H> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(String::as_str).collect()
        }
    }
    extract(&Lowercase(map))
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
    let cx = current();
    let span = cx.span();
    let sc = span.span_context();
    (sc.is_valid() && sc.is_sampled()).then(|| sc.trace_id().to_string())
}

/// A caller's trace context, read by [`extract_headers`] or [`extract_map`]. Spans created
/// while it is in scope continue the caller's trace; with no valid context, they start their
/// own, as they would have anyway.
#[derive(Clone, Debug)]
pub struct RemoteContext(Context);

impl RemoteContext {
    /// Whether the carrier held a valid `traceparent`.
    pub fn is_valid(&self) -> bool {
        self.0.span().span_context().is_valid()
    }

    /// The caller's trace id, as 32 hex digits, if valid.
    pub fn trace_id(&self) -> Option<String> {
        self.is_valid()
            .then(|| self.0.span().span_context().trace_id().to_string())
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
        self.0.span().span_context().is_sampled()
    }

    /// Runs `f` in the caller's context: the spans it creates (a `#[traced]` call, say) are
    /// children of the caller's span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _attached = self.0.clone().attach();
        f()
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
        opentelemetry::context::FutureExt::with_context(future, self.0.clone())
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
        span.set_parent(self.0.clone()).is_ok()
    }
}

//! W3C trace context across services and tasks (feature `otlp`): `traceparent` and
//! `tracestate`, read and written by obs itself.
//!
//! A client writes the current span's context into the request's headers (`traceparent`,
//! and `tracestate` when there is one); the server reads it back and runs its handler in it, so
//! the server's spans join the client's trace:
//!
//! ```
//! use std::collections::HashMap;
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::context::{self, Remote};
use super::ids::{SpanIds, to_hex};
use super::layer::{ids_of_mut, with_extensions};
use super::pipeline;
use super::record::SpanRecord;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// What to propagate: the current span's context when it is exported, else the context the
/// thread runs in (a [`RemoteContext::in_scope`], say).
fn current() -> Option<Remote> {
    let span = tracing::Span::current();
    let own = with_extensions(&span, |ext| {
        let ids = ids_of_mut(ext)?;
        let trace_state = ext
            .get_mut::<SpanRecord>()
            .and_then(|r| r.trace_state.clone());
        Some(Remote {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            sampled: ids.sampled,
            trace_state,
        })
    })
    .flatten();
    own.or_else(context::remote)
}

/// `00-<trace id>-<span id>-<flags>`.
fn traceparent(remote: &Remote) -> String {
    format!(
        "00-{}-{}-{}",
        to_hex(&remote.trace_id),
        to_hex(&remote.span_id),
        if remote.sampled { "01" } else { "00" }
    )
}

fn inject(set: &mut dyn FnMut(&'static str, String)) {
    if let Some(remote) = current() {
        set(TRACEPARENT, traceparent(&remote));
        if let Some(state) = &remote.trace_state {
            set(TRACESTATE, state.to_string());
        }
    }
}

/// `2 * N` lowercase hex digits, not all zero.
fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    (out != [0; N]).then_some(out)
}

/// Two lowercase hex digits.
fn hex_byte(text: &str) -> Option<u8> {
    let lower = text.len() == 2 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    lower.then(|| u8::from_str_radix(text, 16).ok()).flatten()
}

/// Parses a `traceparent` as W3C Trace Context level 1 reads it: version `00` exactly, a
/// later version by its first four parts (`ff` is invalid); ids not all zero.
pub(crate) fn parse_traceparent(value: &str) -> Option<([u8; 16], [u8; 8], bool)> {
    let mut parts = value.trim().splitn(5, '-');
    let version = hex_byte(parts.next()?)?;
    let trace = hex_id::<16>(parts.next()?)?;
    let span = hex_id::<8>(parts.next()?)?;
    let flags = hex_byte(parts.next()?)?;
    let more = parts.next().is_some();
    if version == 0xff || (version == 0 && more) {
        return None;
    }
    Some((trace, span, flags & 1 == 1))
}

/// A `tracestate` worth passing on: at most 32 `key=value` members and 512 bytes, else none.
pub(crate) fn parse_tracestate(value: &str) -> Option<Arc<str>> {
    let members: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let valid = !members.is_empty()
        && members.len() <= 32
        && members.iter().all(|m| {
            m.split_once('=').is_some_and(|(k, v)| {
                !k.is_empty()
                && k.len() <= 256
                && k.bytes().all(
                    |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'),
                )
                && !v.is_empty()
                && v.len() <= 256
                && v.bytes()
                    .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
            })
        });
    let joined = members.join(",");
    (valid && joined.len() <= 512).then(|| Arc::from(joined))
}

fn extract(get: &dyn Fn(&str) -> Option<String>) -> RemoteContext {
    let remote = get(TRACEPARENT).as_deref().and_then(parse_traceparent).map(
        |(trace_id, span_id, sampled)| Remote {
            trace_id,
            span_id,
            sampled,
            trace_state: get(TRACESTATE).as_deref().and_then(parse_tracestate),
        },
    );
    RemoteContext(remote)
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
    inject(&mut |key, value| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(key, value);
        }
    });
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
    extract(&|key| {
        headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// Writes the current span's `traceparent` (and `tracestate`) into `map`, for transports
/// whose metadata is a plain string map (message headers, job arguments, …).
pub fn inject_map<H: BuildHasher>(map: &mut HashMap<String, String, H>) {
    inject(&mut |key, value| {
        map.insert(key.to_owned(), value);
    });
}

/// Reads the caller's context from `traceparent`/`tracestate` in `map`. Keys are matched
/// without regard to case.
pub fn extract_map<H: BuildHasher>(map: &HashMap<String, String, H>) -> RemoteContext {
    extract(&|key| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    })
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

/// A caller's trace context, read by [`extract_headers`] or [`extract_map`]. Spans created
/// while it is in scope continue the caller's trace; with no valid context, they start their
/// own, as they would have anyway.
#[derive(Clone, Debug)]
pub struct RemoteContext(Option<Remote>);

impl RemoteContext {
    /// Whether the carrier held a valid `traceparent`.
    pub fn is_valid(&self) -> bool {
        self.0.is_some()
    }

    /// The caller's trace id, as 32 hex digits, if valid.
    pub fn trace_id(&self) -> Option<String> {
        self.0.as_ref().map(|r| to_hex(&r.trace_id))
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
        self.0.as_ref().is_some_and(|r| r.sampled)
    }

    /// Runs `f` in the caller's context: the spans it creates (a `#[traced]` call, say) are
    /// children of the caller's span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.0.clone().map(context::enter);
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
        InRemote {
            future,
            remote: self.0.clone(),
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
        let Some(remote) = &self.0 else { return false };
        with_extensions(span, |ext| {
            let Some(old) = ids_of_mut(ext) else {
                return false;
            };
            let sampled = pipeline::sampler()
                .is_some_and(|s| s.decide(Some(remote.sampled), remote.trace_id));
            let ids = SpanIds {
                trace_id: remote.trace_id,
                span_id: old.span_id,
                sampled,
            };
            let record = ext.remove::<SpanRecord>();
            if record.is_some() {
                super::layer::record_taken();
            }
            ext.remove::<SpanIds>();
            if sampled {
                // A span that was not sampled before records from now on: the fields given
                // when it was created were not kept.
                let mut record =
                    record.unwrap_or_else(|| SpanRecord::new(ids, None, crate::clock::raw(), 0));
                record.ids = ids;
                record.parent = Some(remote.span_id);
                record.trace_state.clone_from(&remote.trace_state);
                ext.insert(record);
                super::layer::record_kept();
            } else {
                ext.insert(ids);
            }
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
        let Some(remote) = &self.0 else { return false };
        with_extensions(span, |ext| {
            ext.get_mut::<SpanRecord>().is_some_and(|record| {
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

pin_project_lite::pin_project! {
    /// A future polled with a caller's context in scope.
    struct InRemote<F> {
        #[pin]
        future: F,
        remote: Option<Remote>,
    }
}

impl<F: Future> Future for InRemote<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.remote.clone().map(context::enter);
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_as_w3c_says() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (trace, span, sampled) = parse_traceparent(ok).unwrap();
        assert_eq!(to_hex(&trace), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(to_hex(&span), "00f067aa0ba902b7");
        assert!(sampled);
        assert!(!parse_traceparent(&ok.replace("-01", "-00")).unwrap().2);
        // A later version may add parts; version 00 may not.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00-4bf92f3577b34da6a3ce929d0e0e47é6-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tracestates_pass_only_when_valid() {
        assert_eq!(
            parse_tracestate(" congo=t61rcWkgMzE , rojo=00f067aa0ba902b7").as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
        assert_eq!(parse_tracestate("no-equals"), None);
        assert_eq!(parse_tracestate(""), None);
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse_tracestate(&many), None);
    }
}

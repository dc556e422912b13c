//! Recent failed and slowest traces, for the live page (`/obs/`).
//!
//! Fed only from what the exporter already gets: the exporter's worker hands each batch of
//! finished sampled spans here before sending it, on its own thread, so nothing is added to
//! the thread that closed the span. Spans are grouped by trace id. A trace is kept while it is
//! among the [`KEPT`] latest failed ones (a span with status error), the [`KEPT`] slowest
//! (first start to last end), or was touched within [`PENDING_FOR`] (its root may still come,
//! at most [`MAX_PENDING`] such). Each trace keeps at most [`MAX_SPANS`] spans, each span at
//! most [`TEXT_BUDGET`] bytes of names, attributes and events (each field and event counting
//! its own size too): at most about 1.2 KB a span, 60 KB a trace, 104 traces, about 7 MB in
//! all; typical traces of a few spans take a few KB.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::buffer::Finished;
use super::record::{SpanStatus, Value};
use crate::sync::lock;

/// Failed traces kept, and slowest traces kept.
pub(crate) const KEPT: usize = 20;
/// How long a trace stays without a new span, waiting for its root, unless failed or slow.
pub(crate) const PENDING_FOR: Duration = Duration::from_secs(30);
/// The most traces kept waiting for their root.
pub(crate) const MAX_PENDING: usize = 64;
/// The most spans kept of one trace; later ones are counted.
pub(crate) const MAX_SPANS: usize = 50;
/// The most bytes of text (name, attribute names and values, events) kept of one span.
pub(crate) const TEXT_BUDGET: usize = 1024;

/// An event of a kept span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EventView {
    /// Unix time, in nanoseconds.
    pub(crate) time: u64,
    pub(crate) name: String,
    pub(crate) fields: Vec<(&'static str, String)>,
}

/// A kept span: what the page shows of it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpanView {
    pub(crate) span_id: [u8; 8],
    pub(crate) parent: Option<[u8; 8]>,
    pub(crate) name: String,
    /// Unix times, in nanoseconds.
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// `None` unset, `Some(None)` ok, `Some(Some(description))` error.
    pub(crate) error: Option<String>,
    pub(crate) ok: bool,
    pub(crate) attributes: Vec<(&'static str, String)>,
    pub(crate) events: Vec<EventView>,
    /// Whether text was cut to [`TEXT_BUDGET`].
    pub(crate) truncated: bool,
}

/// A kept trace.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraceView {
    pub(crate) trace_id: [u8; 16],
    pub(crate) spans: Vec<SpanView>,
    /// Spans past [`MAX_SPANS`], not kept.
    pub(crate) dropped: usize,
    /// When a span of it last arrived.
    pub(crate) touched: Instant,
}

impl TraceView {
    /// Whether a span ended with status error.
    pub(crate) fn failed(&self) -> bool {
        self.spans.iter().any(|s| s.error.is_some())
    }

    /// First start to last end, in nanoseconds.
    pub(crate) fn duration(&self) -> u64 {
        let start = self.spans.iter().map(|s| s.start).min().unwrap_or(0);
        let end = self.spans.iter().map(|s| s.end).max().unwrap_or(0);
        end.saturating_sub(start)
    }

    /// The root's name: the span without a parent here, else the longest.
    pub(crate) fn root(&self) -> Option<&SpanView> {
        let ids: Vec<[u8; 8]> = self.spans.iter().map(|s| s.span_id).collect();
        self.spans
            .iter()
            .filter(|s| s.parent.is_none_or(|p| !ids.contains(&p)))
            .max_by_key(|s| s.end.saturating_sub(s.start))
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Keeps traces from now on: set when the live page is served.
pub(crate) fn enable() {
    ENABLED.store(true, Relaxed);
}

/// Whether traces are kept for the page.
pub(crate) fn is_enabled() -> bool {
    ENABLED.load(Relaxed)
}

static STORE: Mutex<Option<HashMap<[u8; 16], TraceView>>> = Mutex::new(None);

/// Text of a field value, as the page shows it.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Str(s) | Value::Debug(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

/// Cuts `s` to what is left of `budget`, on a character boundary.
fn within(s: &str, budget: &mut usize, truncated: &mut bool) -> String {
    if s.len() <= *budget {
        *budget -= s.len();
        return s.to_owned();
    }
    let mut end = *budget;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    *budget = 0;
    *truncated = true;
    let mut cut = s[..end].to_owned();
    cut.push('…');
    cut
}

fn view(span: &Finished) -> SpanView {
    let r = &span.record;
    let (mut budget, mut truncated) = (TEXT_BUDGET, false);
    let name = within(span.name(), &mut budget, &mut truncated);
    let (error, ok) = match &r.status {
        SpanStatus::Unset => (None, false),
        SpanStatus::Ok => (None, true),
        SpanStatus::Error(d) => (Some(within(d, &mut budget, &mut truncated)), false),
    };
    let mut fields = |list: &[(&'static str, Value)], budget: &mut usize| {
        let mut out = Vec::new();
        for (key, value) in list {
            // A field's own size counts too, so that many short fields stay bounded.
            let cost = key.len() + size_of::<(&str, String)>();
            if *budget < cost {
                truncated = true;
                break;
            }
            *budget -= cost;
            out.push((*key, within(&text(value), budget, &mut truncated)));
        }
        out
    };
    let attributes = fields(&r.fields, &mut budget);
    let mut events = Vec::new();
    for event in &r.events {
        if budget < size_of::<EventView>() {
            break;
        }
        budget -= size_of::<EventView>();
        let name = within(&event.name, &mut budget, &mut false);
        let fields = fields(&event.fields, &mut budget);
        events.push(EventView {
            time: crate::clock::unix_nanos(event.time),
            name,
            fields,
        });
    }
    let truncated = truncated || events.len() < r.events.len();
    SpanView {
        span_id: r.ids.span_id,
        parent: r.parent,
        name,
        start: crate::clock::unix_nanos(r.start),
        end: crate::clock::unix_nanos(span.end),
        error,
        ok,
        attributes,
        events,
        truncated,
    }
}

/// Takes what the page needs of `batch` (called by the exporter's worker before it sends).
pub(crate) fn keep(batch: &[Finished]) {
    let now = Instant::now();
    let mut store = lock(&STORE);
    let traces = store.get_or_insert_with(HashMap::new);
    for span in batch {
        let trace_id = span.record.ids.trace_id;
        let trace = traces.entry(trace_id).or_insert_with(|| TraceView {
            trace_id,
            spans: Vec::new(),
            dropped: 0,
            touched: now,
        });
        trace.touched = now;
        if trace.spans.len() < MAX_SPANS {
            trace.spans.push(view(span));
        } else {
            trace.dropped += 1;
        }
    }
    prune(traces, now);
}

/// Keeps the latest failed, the slowest and the recently touched traces; drops the rest.
fn prune(traces: &mut HashMap<[u8; 16], TraceView>, now: Instant) {
    let mut all: Vec<&TraceView> = traces.values().collect();
    let mut keep: Vec<[u8; 16]> = Vec::new();
    all.sort_by_key(|t| std::cmp::Reverse(t.touched));
    keep.extend(
        all.iter()
            .filter(|t| t.failed())
            .take(KEPT)
            .map(|t| t.trace_id),
    );
    keep.extend(
        all.iter()
            .filter(|t| now.duration_since(t.touched) < PENDING_FOR)
            .take(MAX_PENDING)
            .map(|t| t.trace_id),
    );
    all.sort_by_key(|t| std::cmp::Reverse(t.duration()));
    keep.extend(all.iter().take(KEPT).map(|t| t.trace_id));
    traces.retain(|id, _| keep.contains(id));
}

/// The latest failed traces, newest first, and the slowest, slowest first.
pub(crate) fn lists() -> (Vec<TraceView>, Vec<TraceView>) {
    let store = lock(&STORE);
    let Some(traces) = store.as_ref() else {
        return (Vec::new(), Vec::new());
    };
    let mut failed: Vec<&TraceView> = traces.values().filter(|t| t.failed()).collect();
    failed.sort_by_key(|t| std::cmp::Reverse(t.touched));
    let mut slow: Vec<&TraceView> = traces.values().collect();
    slow.sort_by_key(|t| std::cmp::Reverse(t.duration()));
    let owned = |list: Vec<&TraceView>| list.into_iter().take(KEPT).cloned().collect();
    (owned(failed), owned(slow))
}

/// The kept trace `trace_id`, if any.
pub(crate) fn get(trace_id: &[u8; 16]) -> Option<TraceView> {
    lock(&STORE).as_ref()?.get(trace_id).cloned()
}

#[cfg(test)]
mod tests;

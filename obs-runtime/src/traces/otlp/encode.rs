//! OTLP trace protobuf, written straight into one buffer.
//!
//! An `ExportTraceServiceRequest` (opentelemetry-proto's `trace.proto` and
//! `trace_service.proto`) for one batch: one `ResourceSpans` with the pipeline's resource, one
//! `ScopeSpans` for obs, every span of the batch. No intermediate message structs, no
//! `String` per key: a nested message reserves five bytes for its length, is written in place,
//! and is moved back over the bytes its length did not need (`copy_within`), so each byte of
//! a batch is written once per level of nesting. The tests decode the result with
//! `opentelemetry-proto`'s generated types, an independent reader.

use super::super::buffer::Finished;
use super::super::record::{Event, Fields, Kind, Link, SpanStatus, Value};
use super::super::span::{CODE_FILE_PATH, CODE_FUNCTION_NAME, CODE_LINE_NUMBER};
use crate::metrics::FnMeta;
use crate::otlp::wire::Writer;

/// An `AnyValue`.
fn any(w: &mut Writer, field: u32, value: &Value) {
    w.message(field, |w| match value {
        Value::Str(s) | Value::Debug(s) => w.string(1, s),
        Value::Bool(b) => w.uint(2, u64::from(*b)),
        // int64: two's complement, as protobuf writes negative numbers.
        #[allow(clippy::cast_sign_loss)]
        Value::Int(i) => w.uint(3, *i as u64),
        Value::Float(f) => w.fixed64(4, f.to_bits()),
    });
}

/// A `KeyValue`.
pub(crate) fn key_value(w: &mut Writer, field: u32, key: &str, value: &Value) {
    w.message(field, |w| {
        w.string(1, key);
        any(w, 2, value);
    });
}

fn fields(w: &mut Writer, field: u32, fields: &Fields) {
    for (key, value) in fields {
        key_value(w, field, key, value);
    }
}

/// A `Resource` message body: `service.name` and the other attributes, as `(key, value)`.
pub(crate) fn resource(attributes: &[(String, String)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.message(1, |w| {
        for (key, value) in attributes {
            w.key_str(1, key, value);
        }
    });
    w.buf
}

/// An `InstrumentationScope` message: obs itself.
pub(crate) fn scope() -> Vec<u8> {
    let mut w = Writer::default();
    w.message(1, |w| {
        w.string(1, "obs-runtime");
        w.string(2, env!("CARGO_PKG_VERSION"));
    });
    w.buf
}

/// Encodes an `ExportTraceServiceRequest` of `spans` into `out` (cleared first).
/// `resource` and `scope` are the pre-encoded fields of [`resource`] and [`scope`].
pub(crate) fn request(out: &mut Vec<u8>, resource: &[u8], scope: &[u8], spans: &[Finished]) {
    out.clear();
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    // ExportTraceServiceRequest.resource_spans = 1
    w.message(1, |w| {
        w.raw(resource); // ResourceSpans.resource = 1
        // ResourceSpans.scope_spans = 2
        w.message(2, |w| {
            w.raw(scope); // ScopeSpans.scope = 1
            for span in spans {
                w.message(2, |w| write_span(w, span)); // ScopeSpans.spans = 2
            }
        });
    });
    *out = w.buf;
}

fn kind(kind: Kind) -> u64 {
    match kind {
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
        Kind::Producer => 4,
        Kind::Consumer => 5,
    }
}

/// A `Span` message body.
fn write_span(w: &mut Writer, span: &Finished) {
    let r = &span.record;
    w.bytes(1, &r.ids.trace_id);
    w.bytes(2, &r.ids.span_id);
    if let Some(state) = &r.trace_state {
        w.string(3, state);
    }
    if let Some(parent) = &r.parent {
        w.bytes(4, parent);
    }
    w.string(5, span.name());
    w.uint(6, kind(r.kind));
    w.fixed64(7, crate::clock::unix_nanos(r.start));
    w.fixed64(8, crate::clock::unix_nanos(span.end));
    // The code location, from the function or the callsite, unless a field gave it.
    let given = |key: &str| r.fields.iter().any(|(k, _)| *k == key);
    let function = r.function.map(|o| o.function);
    if let Some(f) = function
        && !given(CODE_FUNCTION_NAME)
    {
        w.key_str(9, CODE_FUNCTION_NAME, f.qualified());
    }
    let file = function.map(FnMeta::file).or(span.meta.file());
    if let Some(file) = file
        && !given(CODE_FILE_PATH)
    {
        w.key_str(9, CODE_FILE_PATH, file);
    }
    let line = function.map(FnMeta::line).or(span.meta.line());
    if let Some(line) = line
        && !given(CODE_LINE_NUMBER)
    {
        key_value(w, 9, CODE_LINE_NUMBER, &Value::Int(i64::from(line)));
    }
    fields(w, 9, &r.fields);
    for event in &r.events {
        w.message(11, |w| write_event(w, event));
    }
    for link in &r.links {
        w.message(13, |w| write_link(w, link));
    }
    match &r.status {
        SpanStatus::Unset => {}
        SpanStatus::Ok => w.message(15, |w| w.uint(3, 1)),
        SpanStatus::Error(description) => w.message(15, |w| {
            if !description.is_empty() {
                w.string(2, description);
            }
            w.uint(3, 2);
        }),
    }
    // W3C trace flags: sampled.
    w.fixed32(16, 1);
}

fn write_event(w: &mut Writer, event: &Event) {
    w.fixed64(1, crate::clock::unix_nanos(event.time));
    w.string(2, &event.name);
    fields(w, 3, &event.fields);
}

fn write_link(w: &mut Writer, link: &Link) {
    w.bytes(1, &link.trace_id);
    w.bytes(2, &link.span_id);
    w.fixed32(6, u32::from(link.sampled));
}

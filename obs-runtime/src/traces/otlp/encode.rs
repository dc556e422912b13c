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

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// A protobuf writer over one growing buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            // The low seven bits, with the continuation bit.
            #[allow(clippy::cast_possible_truncation)]
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        #[allow(clippy::cast_possible_truncation)]
        self.buf.push(v as u8);
    }

    fn tag(&mut self, field: u32, wire: u32) {
        self.varint(u64::from(field << 3 | wire));
    }

    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        self.tag(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub(crate) fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    pub(crate) fn uint(&mut self, field: u32, value: u64) {
        self.tag(field, VARINT);
        self.varint(value);
    }

    pub(crate) fn fixed64(&mut self, field: u32, value: u64) {
        self.tag(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn fixed32(&mut self, field: u32, value: u32) {
        self.tag(field, FIXED32);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A nested message `field`, written by `body`.
    pub(crate) fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        self.tag(field, LEN);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 5]);
        body(self);
        let len = self.buf.len() - at - 5;
        // The length's varint, at most five bytes for a message under 4 GiB.
        let mut head = [0u8; 5];
        let mut used = 0;
        let mut v = len;
        loop {
            #[allow(clippy::cast_possible_truncation)]
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                head[used] = low;
                used += 1;
                break;
            }
            head[used] = low | 0x80;
            used += 1;
        }
        self.buf[at..at + used].copy_from_slice(&head[..used]);
        self.buf.copy_within(at + 5.., at + used);
        self.buf.truncate(at + used + len);
    }

    /// Pre-encoded bytes (a resource, a scope), written as they are.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// An `AnyValue`.
    pub(crate) fn any(&mut self, field: u32, value: &Value) {
        self.message(field, |w| match value {
            Value::Str(s) | Value::Debug(s) => w.string(1, s),
            Value::Bool(b) => w.uint(2, u64::from(*b)),
            // int64: two's complement, as protobuf writes negative numbers.
            #[allow(clippy::cast_sign_loss)]
            Value::Int(i) => w.uint(3, *i as u64),
            Value::Float(f) => w.fixed64(4, f.to_bits()),
        });
    }

    /// A `KeyValue` with a string value.
    pub(crate) fn key_str(&mut self, field: u32, key: &str, value: &str) {
        self.message(field, |w| {
            w.string(1, key);
            w.message(2, |w| w.string(1, value));
        });
    }

    /// A `KeyValue`.
    pub(crate) fn key_value(&mut self, field: u32, key: &str, value: &Value) {
        self.message(field, |w| {
            w.string(1, key);
            w.any(2, value);
        });
    }

    fn fields(&mut self, field: u32, fields: &Fields) {
        for (key, value) in fields {
            self.key_value(field, key, value);
        }
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
        w.key_value(9, CODE_LINE_NUMBER, &Value::Int(i64::from(line)));
    }
    w.fields(9, &r.fields);
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
    w.fields(3, &event.fields);
}

fn write_link(w: &mut Writer, link: &Link) {
    w.bytes(1, &link.trace_id);
    w.bytes(2, &link.span_id);
    w.fixed32(6, u32::from(link.sampled));
}

#[cfg(test)]
mod tests {
    use super::Writer;

    #[test]
    fn varints_and_nested_lengths_are_minimal() {
        let mut w = Writer::default();
        w.uint(1, 300);
        assert_eq!(w.buf, [0x08, 0xac, 0x02]);
        let mut w = Writer::default();
        w.message(2, |w| w.string(1, "hi"));
        assert_eq!(w.buf, [0x12, 4, 0x0a, 2, b'h', b'i']);
        // A body longer than 127 bytes takes a two-byte length, moved into place.
        let mut w = Writer::default();
        let long = "x".repeat(200);
        w.message(2, |w| w.string(1, &long));
        assert_eq!(&w.buf[..5], &[0x12, 0xcb, 0x01, 0x0a, 0xc8]);
        assert_eq!(w.buf.len(), 3 + 3 + 200);
    }
}

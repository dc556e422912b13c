//! What the trace layer keeps of a sampled span while it is open, and hands to the exporter
//! when it closes.
//!
//! A record is made only for a sampled span: an unsampled one keeps its [`SpanIds`] and
//! nothing else. Fields are kept as the typed values `tracing` passes (`record_i64`,
//! `record_str`…), so an integer argument is an integer attribute in OTLP; a `Debug` value
//! is its text. Times are raw readings of [`crate::clock`], turned into Unix time on the
//! exporter's thread.

use core::fmt;
use std::sync::Arc;

use tracing::field::{Field, Visit};

use super::context::Opening;
use super::ids::{SpanContext, SpanIds};
use super::span::{OTEL_NAME, OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION};
use super::tail::Tally;

/// A field's value, as `tracing` recorded it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    /// A value recorded through its `Debug` (or `Display`): text, exported as a string, but
    /// not quoted again where a format quotes strings.
    Debug(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// `(name, value)` pairs; a name recorded twice keeps its latest value.
pub(crate) type Fields = Vec<(&'static str, Value)>;

/// OpenTelemetry's span kind, from the `otel.kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    fn parse(value: &str) -> Option<Kind> {
        Some(match value.to_ascii_lowercase().as_str() {
            "internal" => Kind::Internal,
            "server" => Kind::Server,
            "client" => Kind::Client,
            "producer" => Kind::Producer,
            "consumer" => Kind::Consumer,
            _ => return None,
        })
    }
}

/// How a span ended, as OpenTelemetry says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpanStatus {
    Unset,
    Ok,
    Error(String),
}

/// An event inside a span: a `tracing::info!` and friends. OTLP carries them; the console
/// prints spans only.
#[derive(Debug)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct Event {
    pub(crate) time: u64,
    pub(crate) name: String,
    pub(crate) fields: Fields,
}

/// A link from `follows_from`: another span this one follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) sampled: bool,
}

/// A sampled span while it is open.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) ids: SpanIds,
    pub(crate) parent: Option<[u8; 8]>,
    /// The span has no parent in this process: the root of its local trace, which tail
    /// sampling decides when it closes.
    pub(crate) local_root: bool,
    /// The caller's `tracestate`, carried along the trace.
    pub(crate) trace_state: Option<Arc<str>>,
    /// Tail sampling's hold of the span's local trace, while the span is held (unsampled).
    pub(crate) tally: Option<Tally>,
    /// Raw clock readings.
    pub(crate) start: u64,
    /// The instrumented function, for a `#[traced]` span: its `code.*` attributes and its
    /// `Type::method` name come from here at export, not from fields of every span.
    pub(crate) function: Option<Opening>,
    /// `otel.name`: the name exporters show, over the callsite's.
    pub(crate) name: Option<String>,
    pub(crate) kind: Kind,
    pub(crate) fields: Fields,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    pub(crate) status: SpanStatus,
    /// `otel.status_description` when it came before `otel.status_code`.
    description: Option<String>,
}

impl SpanRecord {
    pub(crate) fn new(ids: SpanIds, parent: Option<[u8; 8]>, start: u64, fields: usize) -> Self {
        SpanRecord {
            ids,
            parent,
            local_root: false,
            trace_state: None,
            tally: None,
            start,
            function: None,
            name: None,
            kind: Kind::Internal,
            fields: Vec::with_capacity(fields),
            events: Vec::new(),
            links: Vec::new(),
            status: SpanStatus::Unset,
            description: None,
        }
    }

    /// The context a child inherits from this span: its ids, its `tracestate`, and its local
    /// trace's hold when tail sampling holds it.
    pub(crate) fn context(&self) -> SpanContext {
        SpanContext {
            ids: self.ids,
            trace_state: self.trace_state.clone(),
            tally: self.tally.clone(),
        }
    }

    /// The visitor that records fields into this span, reading the `otel.*` ones.
    pub(crate) fn visitor(&mut self) -> SpanVisitor<'_> {
        SpanVisitor(self)
    }

    fn set(&mut self, name: &'static str, value: Value) {
        match name {
            OTEL_NAME => {
                if let Value::Str(s) | Value::Debug(s) = value {
                    self.name = Some(s);
                }
            }
            "otel.kind" => {
                if let Value::Str(s) | Value::Debug(s) = &value
                    && let Some(kind) = Kind::parse(s)
                {
                    self.kind = kind;
                }
            }
            OTEL_STATUS_CODE => {
                let code = match &value {
                    Value::Str(s) | Value::Debug(s) => s.to_ascii_lowercase(),
                    _ => return,
                };
                self.status = match code.as_str() {
                    "error" => SpanStatus::Error(self.description.take().unwrap_or_default()),
                    "ok" => SpanStatus::Ok,
                    _ => SpanStatus::Unset,
                };
            }
            OTEL_STATUS_DESCRIPTION => {
                let (Value::Str(text) | Value::Debug(text)) = value else {
                    return;
                };
                match &mut self.status {
                    SpanStatus::Error(description) => *description = text,
                    _ => self.description = Some(text),
                }
            }
            _ => set_field(&mut self.fields, name, value),
        }
    }
}

/// Sets `name` in `fields`, replacing an earlier value.
fn set_field(fields: &mut Fields, name: &'static str, value: Value) {
    match fields.iter_mut().find(|(n, _)| *n == name) {
        Some((_, old)) => *old = value,
        None => fields.push((name, value)),
    }
}

/// Records a span's fields into its record.
pub(crate) struct SpanVisitor<'a>(&'a mut SpanRecord);

/// Records an event's fields, its message apart.
#[derive(Default)]
pub(crate) struct EventVisitor {
    pub(crate) message: Option<String>,
    pub(crate) fields: Fields,
}

/// Records fields as they are, into a list of its own (the log layer's, for spans without a
/// record).
pub(crate) struct FieldsVisitor<'a>(pub(crate) &'a mut Fields);

impl Sink for FieldsVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        set_field(self.0, field.name(), value);
    }
}

/// The typed value of each `Visit` call, shared by the visitors.
trait Sink {
    fn put(&mut self, field: &Field, value: Value);
}

impl Sink for SpanVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.set(field.name(), value);
    }
}

impl Sink for EventVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            if let Value::Str(s) | Value::Debug(s) = value {
                self.message = Some(s);
            }
        } else {
            set_field(&mut self.fields, field.name(), value);
        }
    }
}

/// A `u64` or `i128` beyond `i64` keeps its digits as text rather than wrapping.
fn int<T: TryInto<i64> + fmt::Display + Copy>(value: T) -> Value {
    value
        .try_into()
        .map_or_else(|_| Value::Str(value.to_string()), Value::Int)
}

macro_rules! typed_visit {
    ($($t:ty),*) => {$(
        impl Visit for $t {
            fn record_str(&mut self, field: &Field, value: &str) {
                self.put(field, Value::Str(value.to_owned()));
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                self.put(field, Value::Int(value));
            }
            fn record_u64(&mut self, field: &Field, value: u64) {
                self.put(field, int(value));
            }
            fn record_i128(&mut self, field: &Field, value: i128) {
                self.put(field, int(value));
            }
            fn record_u128(&mut self, field: &Field, value: u128) {
                self.put(field, int(value));
            }
            fn record_f64(&mut self, field: &Field, value: f64) {
                self.put(field, Value::Float(value));
            }
            fn record_bool(&mut self, field: &Field, value: bool) {
                self.put(field, Value::Bool(value));
            }
            fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
                self.put(field, Value::Debug(crate::fmt_safe::display(value)));
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                self.put(field, Value::Debug(format!("{value:?}")));
            }
        }
    )*};
}

typed_visit!(SpanVisitor<'_>, EventVisitor, FieldsVisitor<'_>);

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SpanRecord {
        let ids = SpanIds {
            trace_id: [1; 16],
            span_id: [2; 8],
            sampled: true,
        };
        SpanRecord::new(ids, None, 0, 4)
    }

    #[test]
    fn otel_fields_set_name_kind_and_status_in_either_order() {
        let mut r = record();
        r.set(OTEL_STATUS_DESCRIPTION, Value::Str("no stock".into()));
        r.set(OTEL_STATUS_CODE, Value::Str("ERROR".into()));
        r.set(OTEL_NAME, Value::Str("Shop::reserve".into()));
        r.set("otel.kind", Value::Str("server".into()));
        r.set("sku", Value::Int(3));
        r.set("sku", Value::Int(4));
        assert_eq!(r.status, SpanStatus::Error("no stock".into()));
        assert_eq!(r.name.as_deref(), Some("Shop::reserve"));
        assert_eq!(r.kind, Kind::Server);
        assert_eq!(r.fields, vec![("sku", Value::Int(4))]);
        let mut r = record();
        r.set(OTEL_STATUS_CODE, Value::Str("error".into()));
        r.set(OTEL_STATUS_DESCRIPTION, Value::Str("late".into()));
        assert_eq!(r.status, SpanStatus::Error("late".into()));
    }

    #[test]
    fn big_integers_keep_their_digits() {
        assert_eq!(int(u64::MAX), Value::Str(u64::MAX.to_string()));
        assert_eq!(int(7_u64), Value::Int(7));
    }
}

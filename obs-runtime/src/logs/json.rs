//! JSON lines: one object per event, with the time, level, target, message, fields, and the
//! span's name, trace ids and context.

use core::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::context::{EVENT_SPAN, EventSpan, context_of};
use crate::json::write_string;
use crate::traces::ids::hex;

/// One JSON object per event, on standard error.
pub(crate) struct JsonLines;

impl<S> Layer<S> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let found = EVENT_SPAN.with(|cell| cell.borrow_mut().take());
        let span = match found {
            Some(found)
                if found
                    .event
                    .is_some_and(|m| core::ptr::eq(m, event.metadata())) =>
            {
                Some(found)
            }
            // Without `SpanOfEvent` in front: the span as this layer sees it.
            _ => ctx
                .event_scope(event)
                .and_then(|mut scope| scope.next())
                .map(|span| {
                    let extensions = span.extensions();
                    EventSpan {
                        event: None,
                        name: crate::traces::exported_name(&extensions, span.metadata()),
                        ids: crate::traces::ids_of(&extensions),
                        context: context_of(core::iter::once(&extensions)),
                    }
                }),
        };
        write_json(event, span);
    }
}

/// Writes the JSON line of `event`, which happened in `span`, to standard error.
pub(crate) fn write_json(event: &Event<'_>, span: Option<EventSpan>) {
    super::write_line(&json_line(event, span));
}

fn json_line(event: &Event<'_>, span: Option<EventSpan>) -> String {
    let meta = event.metadata();
    let mut fields = JsonFields::default();
    event.record(&mut fields);

    let mut out = String::with_capacity(256);
    out.push_str("{\"timestamp\":");
    let mut time = String::with_capacity(32);
    let _ = SystemTime.format_time(&mut Writer::new(&mut time));
    write_string(&mut out, &time);
    out.push_str(",\"level\":");
    write_string(&mut out, meta.level().as_str());
    out.push_str(",\"target\":");
    write_string(&mut out, meta.target());
    out.push_str(",\"message\":");
    write_string(&mut out, fields.message.as_deref().unwrap_or_default());
    out.push_str(",\"fields\":{");
    out.push_str(&fields.others);
    out.push('}');
    if let Some(span) = span {
        out.push_str(",\"span\":");
        write_string(&mut out, span.name);
        if !span.context.is_empty() {
            out.push_str(",\"context\":{");
            out.push_str(&span.context);
            out.push('}');
        }
        if let Some(ids) = span.ids.filter(|ids| ids.sampled) {
            out.push_str(",\"trace_id\":\"");
            hex(&mut out, &ids.trace_id);
            out.push_str("\",\"span_id\":\"");
            hex(&mut out, &ids.span_id);
            out.push('"');
        }
    }
    out.push_str("}\n");
    out
}

/// The event's message, and its other fields as `"key":value` pairs.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    others: String,
}

impl JsonFields {
    fn key(&mut self, field: &Field) {
        if !self.others.is_empty() {
            self.others.push(',');
        }
        write_string(&mut self.others, field.name());
        self.others.push(':');
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.key(field);
            write_string(&mut self.others, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.key(field);
            write_string(&mut self.others, &text);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.others, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.others, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.others, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.key(field);
            let _ = write!(self.others, "{value}");
        } else {
            self.record_debug(field, &value);
        }
    }
}

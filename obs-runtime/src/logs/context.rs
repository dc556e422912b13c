//! The span an event happened in, found before the JSON formatter runs: its name, its trace
//! ids, and the fields of every span around it (the line's `context`).

use std::cell::RefCell;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{Extensions, LookupSpan};

use crate::json::write_string;
use crate::traces::ids::SpanIds;
use crate::traces::{Fields, FieldsVisitor, Value};

/// What [`SpanOfEvent`] found for the event being dispatched on this thread.
#[derive(Clone)]
pub(crate) struct EventSpan {
    /// The event it was found for.
    pub(crate) event: Option<&'static tracing::Metadata<'static>>,
    pub(crate) name: &'static str,
    pub(crate) ids: Option<SpanIds>,
    /// The fields of the spans the event is in, as JSON members (`"key":value,…`).
    pub(crate) context: String,
}

/// The fields of a span without a trace record (not sampled, or no exporter), kept by
/// [`SpanOfEvent`] as typed values for the `context` of the log lines inside it; they are
/// written as JSON only when an event is. A sampled span's fields are read from its trace
/// record instead, so they are not kept twice.
#[derive(Default)]
pub(super) struct SpanFields(pub(super) Fields);

/// Whether a field describes the span for OpenTelemetry (`code.*`, `otel.*`, `error.type`)
/// rather than the request: left out of the context.
pub(super) fn describes_span(key: &str) -> bool {
    key.starts_with("code.") || key.starts_with("otel.") || key == "error.type"
}

/// A value as JSON: numbers and booleans bare, the rest (and non-finite floats) as strings.
fn json_value(out: &mut String, value: &Value) {
    match value {
        Value::Str(s) | Value::Debug(s) => write_string(out, s),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
        Value::Float(f) => write_string(out, &format!("{f:?}")),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// The `context` members of spans `outermost` first: each key once, at its innermost value,
/// in the order the keys first appeared.
pub(crate) fn merge_context<'a>(outermost: impl Iterator<Item = &'a Fields>) -> String {
    let mut merged: Vec<(&'static str, &Value)> = Vec::new();
    for fields in outermost {
        for (key, value) in fields.iter().filter(|(k, _)| !describes_span(k)) {
            match merged.iter_mut().find(|(k, _)| k == key) {
                Some((_, old)) => *old = value,
                None => merged.push((key, value)),
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in merged.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, key);
        out.push(':');
        json_value(&mut out, value);
    }
    out
}

/// The context of the spans `outermost` first, from their trace records or their kept fields.
pub(super) fn context_of<'a>(extensions: impl Iterator<Item = &'a Extensions<'a>>) -> String {
    merge_context(extensions.filter_map(span_fields))
}

/// A span's fields: its trace record's if it is sampled, else those [`KeepFields`] kept.
pub(super) fn span_fields<'a>(extensions: &'a Extensions<'_>) -> Option<&'a Fields> {
    crate::traces::fields_of(extensions).or_else(|| extensions.get::<SpanFields>().map(|f| &f.0))
}

thread_local! {
    pub(super) static EVENT_SPAN: RefCell<Option<EventSpan>> = const { RefCell::new(None) };
}

/// Keeps the fields of each span that has no trace record, as typed values, for the lines
/// inside it: the one thing the log layers do when a span is created (a sampled span's fields
/// are in its record already, and nothing is formatted until an event is written).
pub(crate) struct KeepFields;

impl<S> Layer<S> for KeepFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // A span with no value keeps nothing: a `#[traced]` span leaves its seven
        // `code.*`/`otel.*` fields without a value, so one with no recorded argument skips the
        // span lookup, the allocation and the insert (`on_record` keeps what comes later).
        if attrs.values().is_empty() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if !crate::traces::has_record(&mut extensions)
            && extensions.get_mut::<SpanFields>().is_none()
        {
            let mut fields = SpanFields::default();
            attrs.record(&mut FieldsVisitor(&mut fields.0));
            extensions.insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut FieldsVisitor(&mut fields.0));
        } else if !crate::traces::has_record(&mut extensions) {
            let mut fields = SpanFields::default();
            values.record(&mut FieldsVisitor(&mut fields.0));
            extensions.insert(fields);
        }
    }
}

/// Finds, for each event, the span it happened in and that span's trace ids, before the JSON
/// line is written (layers see an event in order, on the thread that emitted it).
///
/// It sits outside the log filter, so a line keeps its trace ids even when the log filter
/// hides the span itself (`RUST_LOG=warn` with spans at `info`).
pub(crate) struct SpanOfEvent;

impl<S> Layer<S> for SpanOfEvent
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let found = ctx.event_scope(event).and_then(|scope| {
            let spans: Vec<_> = scope.collect();
            let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
            let context = context_of(extensions.iter().rev());
            let innermost =
                crate::traces::exported_name(extensions.first()?, spans.first()?.metadata());
            let ids = extensions.iter().find_map(|e| crate::traces::ids_of(e));
            Some(EventSpan {
                event: Some(event.metadata()),
                name: innermost,
                ids,
                context,
            })
        });
        EVENT_SPAN.with(|cell| *cell.borrow_mut() = found);
    }
}

#[cfg(test)]
mod tests {
    use super::merge_context;
    use crate::traces::Value;

    #[test]
    fn context_keeps_each_key_once_at_its_innermost_value() {
        let outer = vec![
            ("session_id", Value::Str("s-1".into())),
            ("job.id", Value::Int(1)),
            ("code.line.number", Value::Int(3)),
        ];
        let inner = vec![
            ("job.id", Value::Int(7)),
            ("skill", Value::Str("timer".into())),
        ];
        assert_eq!(
            merge_context([&outer, &Vec::new(), &inner].into_iter()),
            r#""session_id":"s-1","job.id":7,"skill":"timer""#
        );
        assert_eq!(merge_context(core::iter::empty()), "");
    }
}

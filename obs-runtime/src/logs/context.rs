//! The span an event happened in, found before the JSON formatter runs: its name, its trace
//! ids, and the fields of every span around it (the line's `context`).

use core::fmt;
use std::cell::RefCell;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::json::write_string;
use crate::traces::ids::SpanIds;

/// What [`SpanOfEvent`] found for the event being dispatched on this thread.
#[derive(Clone)]
pub(super) struct EventSpan {
    /// The event it was found for.
    pub(super) event: Option<&'static tracing::Metadata<'static>>,
    pub(super) name: &'static str,
    pub(super) ids: Option<SpanIds>,
    /// The fields of the spans the event is in, as JSON members (`"key":value,…`).
    pub(super) context: String,
}

/// The fields of a span, each as a JSON value, kept in its extensions by [`SpanOfEvent`] for
/// the `context` of the log lines inside it. The fields obs writes for OpenTelemetry
/// (`code.*`, `otel.*`, `error.type`) are left out: they describe the span, not the request.
#[derive(Default)]
pub(super) struct SpanFields(pub(super) Vec<(&'static str, String)>);

impl SpanFields {
    fn record(&mut self, values: &dyn RecordFields) {
        let mut visitor = JsonMembers::default();
        values.record_into(&mut visitor);
        for (key, value) in visitor.0 {
            if key.starts_with("code.") || key.starts_with("otel.") || key == "error.type" {
                continue;
            }
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) => *old = value,
                None => self.0.push((key, value)),
            }
        }
    }
}

/// Span attributes and records, whose fields a visitor can read.
pub(super) trait RecordFields {
    fn record_into(&self, visitor: &mut JsonMembers);
}

impl RecordFields for Attributes<'_> {
    fn record_into(&self, visitor: &mut JsonMembers) {
        self.record(visitor);
    }
}

impl RecordFields for Record<'_> {
    fn record_into(&self, visitor: &mut JsonMembers) {
        self.record(visitor);
    }
}

/// Fields as `(name, JSON value)`.
#[derive(Default)]
pub(super) struct JsonMembers(Vec<(&'static str, String)>);

impl JsonMembers {
    fn string(&mut self, field: &Field, value: &str) {
        let mut json = String::with_capacity(value.len() + 2);
        write_string(&mut json, value);
        self.0.push((field.name(), json));
    }
}

impl Visit for JsonMembers {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, &format!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), value.to_string()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), value.to_string()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), value.to_string()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.0.push((field.name(), value.to_string()));
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// The `context` members of spans `outermost` first: each key once, at its innermost value,
/// in the order the keys first appeared.
pub(super) fn merge_context<'a>(
    outermost: impl Iterator<Item = &'a [(&'static str, String)]>,
) -> String {
    let mut merged: Vec<(&'static str, &str)> = Vec::new();
    for fields in outermost {
        for (key, value) in fields {
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
        out.push_str(value);
    }
    out
}

thread_local! {
    pub(super) static EVENT_SPAN: RefCell<Option<EventSpan>> = const { RefCell::new(None) };
}

/// Finds, for each event, the span it happened in and that span's trace ids, before the JSON
/// formatter runs (layers see an event in order, on the thread that emitted it).
///
/// It sits outside the log filter, so a line keeps its trace ids even when the log filter
/// hides the span itself (`RUST_LOG=warn` with spans at `info`).
#[derive(Default)]
pub(crate) struct SpanOfEvent {
    #[cfg(feature = "otlp")]
    dispatch: OnceLock<tracing::dispatcher::WeakDispatch>,
    #[cfg(not(feature = "otlp"))]
    dispatch: OnceLock<()>,
}

impl<S> Layer<S> for SpanOfEvent
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        #[cfg(feature = "otlp")]
        let _ = self.dispatch.set(subscriber.downgrade());
        #[cfg(not(feature = "otlp"))]
        let _ = (subscriber, self.dispatch.set(()));
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = SpanFields::default();
            fields.record(attrs);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<SpanFields>() {
                fields.record(values);
                return;
            }
            let mut fields = SpanFields::default();
            fields.record(values);
            extensions.insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let context = ctx
            .event_scope(event)
            .map(|scope| {
                let spans: Vec<_> = scope.from_root().collect();
                let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
                merge_context(
                    extensions
                        .iter()
                        .filter_map(|e| e.get::<SpanFields>())
                        .map(|f| f.0.as_slice()),
                )
            })
            .unwrap_or_default();
        let found = ctx.event_scope(event).and_then(|scope| {
            let mut name = None;
            #[cfg(feature = "otlp")]
            let dispatch = self
                .dispatch
                .get()
                .and_then(tracing::dispatcher::WeakDispatch::upgrade);
            for span in scope {
                name.get_or_insert(span.metadata().name());
                if let Some(ids) = span.extensions().get::<SpanIds>().copied() {
                    return Some(EventSpan {
                        event: Some(event.metadata()),
                        name: name.unwrap_or_default(),
                        ids: Some(ids),
                        context: context.clone(),
                    });
                }
                #[cfg(feature = "otlp")]
                if let Some(ids) = dispatch
                    .as_ref()
                    .and_then(|d| crate::traces::span_ids(&span.id(), d))
                {
                    let mut extensions = span.extensions_mut();
                    if extensions.get_mut::<SpanIds>().is_none() {
                        extensions.insert(ids);
                    }
                    return Some(EventSpan {
                        event: Some(event.metadata()),
                        name: name.unwrap_or_default(),
                        ids: Some(ids),
                        context: context.clone(),
                    });
                }
            }
            name.map(|name| EventSpan {
                event: Some(event.metadata()),
                name,
                ids: None,
                context: context.clone(),
            })
        });
        EVENT_SPAN.with(|cell| *cell.borrow_mut() = found);
    }
}

#[cfg(test)]
mod tests {
    use super::merge_context;

    #[test]
    fn context_keeps_each_key_once_at_its_innermost_value() {
        let outer = [
            ("session_id", "\"s-1\"".to_owned()),
            ("job.id", "1".to_owned()),
        ];
        let inner = [
            ("job.id", "7".to_owned()),
            ("skill", "\"timer\"".to_owned()),
        ];
        assert_eq!(
            merge_context([&outer[..], &[][..], &inner[..]].into_iter()),
            r#""session_id":"s-1","job.id":7,"skill":"timer""#
        );
        assert_eq!(merge_context(core::iter::empty()), "");
    }
}

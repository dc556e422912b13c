//! Logs: `tracing` events written to standard error, as text or as JSON lines that carry the
//! trace and span ids of the span they happened in.

use core::fmt::{self, Write as _};
use std::cell::RefCell;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::console::{SpanIds, hex};

/// How log lines are written: `OBS_LOG_FORMAT`, or
/// [`Builder::log_format`](crate::Builder::log_format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// `tracing_subscriber`'s human-readable lines (`text`, the default).
    #[default]
    Text,
    /// One JSON object per line (`json`): `timestamp`, `level`, `target`, `message`, `fields`,
    /// and inside a span its name as `span`, the fields of the spans it is in as `context`
    /// (`#[traced(fields(session_id = ..))]`, the recorded arguments; an inner span's value wins),
    /// plus `trace_id` and `span_id` when the span is sampled for export.
    Json,
    /// No log output (`off`).
    Off,
}

impl LogFormat {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            "off" | "none" => Some(LogFormat::Off),
            _ => None,
        }
    }
}

/// The log layer [`init`](crate::init) installs, to add to a subscriber of your own: events
/// to standard error in `format`. It filters nothing itself: put your filter on it.
///
/// For JSON lines to carry trace ids, add [`trace_layer`](crate::trace_layer) to the same
/// subscriber and let `install` start an exporter.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use tracing_subscriber::Layer as _;
///
/// let obs = obs_runtime::Builder::new()
///     .without_subscriber() // the application installs its own
///     .without_server()
///     .install()?;
/// let subscriber = tracing_subscriber::registry()
///     .with(obs_runtime::trace_layer())
///     .with(obs_runtime::log_layer(obs_runtime::LogFormat::Json)
///         .with_filter(tracing_subscriber::filter::LevelFilter::INFO));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(user = "ann", "logged in"); // one JSON line on stderr
/// });
/// # drop(obs);
/// # Ok::<(), obs_runtime::Error>(())
/// ```
pub fn log_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match format {
        LogFormat::Text => Box::new(text_layer()),
        LogFormat::Json => Box::new(SpanOfEvent::default().and_then(json_layer())),
        LogFormat::Off => Box::new(tracing_subscriber::layer::Identity::new()),
    }
}

pub(crate) fn text_layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer().with_writer(std::io::stderr)
}

pub(crate) fn json_layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .event_format(JsonLines)
        .with_writer(std::io::stderr)
}

/// What [`SpanOfEvent`] found for the event being dispatched on this thread.
#[derive(Clone)]
struct EventSpan {
    /// The event it was found for.
    event: Option<&'static tracing::Metadata<'static>>,
    name: &'static str,
    ids: Option<SpanIds>,
    /// The fields of the spans the event is in, as JSON members (`"key":value,…`).
    context: String,
}

/// The fields of a span, each as a JSON value, kept in its extensions by [`SpanOfEvent`] for
/// the `context` of the log lines inside it. The fields obs writes for OpenTelemetry
/// (`code.*`, `otel.*`, `error.type`) are left out: they describe the span, not the request.
#[derive(Default)]
struct SpanFields(Vec<(&'static str, String)>);

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
trait RecordFields {
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
struct JsonMembers(Vec<(&'static str, String)>);

impl JsonMembers {
    fn string(&mut self, field: &Field, value: &str) {
        let mut json = String::with_capacity(value.len() + 2);
        json_string(&mut json, value);
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
fn merge_context<'a>(outermost: impl Iterator<Item = &'a [(&'static str, String)]>) -> String {
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
        json_string(&mut out, key);
        out.push(':');
        out.push_str(value);
    }
    out
}

thread_local! {
    static EVENT_SPAN: RefCell<Option<EventSpan>> = const { RefCell::new(None) };
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
                    .and_then(|d| crate::otlp::span_ids(&span.id(), d))
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

/// One JSON object per event.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
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
                .event_scope()
                .and_then(|mut scope| scope.next())
                .map(|span| {
                    let extensions = span.extensions();
                    EventSpan {
                        event: None,
                        name: span.metadata().name(),
                        ids: extensions.get::<SpanIds>().copied(),
                        context: extensions
                            .get::<SpanFields>()
                            .map(|f| merge_context(core::iter::once(f.0.as_slice())))
                            .unwrap_or_default(),
                    }
                }),
        };
        let line = json_line(event, span);
        writer.write_str(&line)
    }
}

fn json_line(event: &Event<'_>, span: Option<EventSpan>) -> String {
    let meta = event.metadata();
    let mut fields = JsonFields::default();
    event.record(&mut fields);

    let mut out = String::with_capacity(256);
    out.push_str("{\"timestamp\":");
    let mut time = String::with_capacity(32);
    let _ = SystemTime.format_time(&mut Writer::new(&mut time));
    json_string(&mut out, &time);
    out.push_str(",\"level\":");
    json_string(&mut out, meta.level().as_str());
    out.push_str(",\"target\":");
    json_string(&mut out, meta.target());
    out.push_str(",\"message\":");
    json_string(&mut out, fields.message.as_deref().unwrap_or_default());
    out.push_str(",\"fields\":{");
    out.push_str(&fields.others);
    out.push('}');
    if let Some(span) = span {
        out.push_str(",\"span\":");
        json_string(&mut out, span.name);
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
        json_string(&mut self.others, field.name());
        self.others.push(':');
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.key(field);
            json_string(&mut self.others, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.key(field);
            json_string(&mut self.others, &text);
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

/// A JSON string literal.
fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

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

    #[test]
    fn formats_parse() {
        assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("off"), Some(LogFormat::Off));
        assert_eq!(LogFormat::parse("yaml"), None);
    }
}

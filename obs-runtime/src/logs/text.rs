//! Text lines, as `tracing-subscriber`'s default format writes them: time, level, the spans
//! the event is in with their fields, target, message, fields.
//!
//! ```text
//! 2026-12-01T10:09:47.123456Z  INFO handle{order=7}:reserve{sku=3}: shop: out of stock left=0
//! ```
//!
//! Written by obs rather than `tracing-subscriber`'s `fmt` layer, which formats every span's
//! fields into a string when the span is created, logged in or not: here a span's fields are
//! read from its trace record (or the typed copy [`KeepFields`](super::context::KeepFields)
//! keeps) and formatted only when an event is written.

use core::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::context::SpanFields;
use crate::traces::{Fields, Value};

/// One text line per event, on standard error.
pub(crate) struct TextLines;

impl<S> Layer<S> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = TextLine::new(event.metadata());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let fields = crate::traces::fields_of(&extensions)
                    .or_else(|| extensions.get::<SpanFields>().map(|f| &f.0));
                line.span(
                    crate::traces::exported_name(&extensions, span.metadata()),
                    fields,
                );
            }
        }
        line.write(event);
    }
}

/// One line being written: the time and level, then each span the event is in (outermost
/// first), then the target, message and fields.
pub(crate) struct TextLine {
    line: String,
    spans: bool,
}

impl TextLine {
    /// The line's start, for an event of `meta`.
    pub(crate) fn new(meta: &tracing::Metadata<'_>) -> TextLine {
        let mut line = String::with_capacity(160);
        let _ = SystemTime.format_time(&mut Writer::new(&mut line));
        let _ = write!(line, " {:>5} ", meta.level().as_str());
        TextLine { line, spans: false }
    }

    /// A span the event is in, named `name`, with `fields` (outermost first).
    pub(crate) fn span(&mut self, name: &str, fields: Option<&Fields>) {
        self.spans = true;
        self.line.push_str(name);
        if let Some(fields) = fields.filter(|f| !f.is_empty()) {
            self.line.push('{');
            span_fields(&mut self.line, fields);
            self.line.push('}');
        }
        self.line.push(':');
    }

    /// Ends the line with `event`'s target, message and fields, and writes it to standard
    /// error.
    pub(crate) fn write(mut self, event: &Event<'_>) {
        if self.spans {
            self.line.push(' ');
        }
        let meta = event.metadata();
        self.line.push_str(meta.target());
        self.line.push_str(": ");
        let mut fields = EventFields {
            line: &mut self.line,
            first: true,
        };
        event.record(&mut fields);
        self.line.push('\n');
        super::write_line(&self.line);
    }
}

/// `k=v k=v`, strings quoted as `Debug` writes them.
fn span_fields(line: &mut String, fields: &Fields) {
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let _ = match value {
            Value::Str(s) => write!(line, "{key}={s:?}"),
            Value::Debug(s) => write!(line, "{key}={s}"),
            Value::Int(n) => write!(line, "{key}={n}"),
            Value::Float(f) => write!(line, "{key}={f}"),
            Value::Bool(b) => write!(line, "{key}={b}"),
        };
    }
}

/// The message first, then `k=v` for the other fields.
struct EventFields<'a> {
    line: &'a mut String,
    first: bool,
}

impl EventFields<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.line.push(' ');
        }
        self.first = false;
    }
}

impl Visit for EventFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.sep();
        if field.name() == "message" {
            self.line.push_str(value);
        } else {
            let _ = write!(self.line, "{}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.sep();
        if field.name() == "message" {
            let _ = write!(self.line, "{value:?}");
        } else {
            let _ = write!(self.line, "{}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::span_fields;
    use crate::traces::Value;

    #[test]
    fn span_fields_read_as_the_default_format_writes_them() {
        let mut line = String::new();
        span_fields(
            &mut line,
            &vec![
                ("user", Value::Str("ann".into())),
                ("n", Value::Int(3)),
                ("input", Value::Debug("\"21\"".into())),
                ("ok", Value::Bool(true)),
            ],
        );
        assert_eq!(line, r#"user="ann" n=3 input="21" ok=true"#);
    }
}

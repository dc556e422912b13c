//! Logs: `tracing` events written to standard error, as text or as JSON lines that carry the
//! trace and span ids of the span they happened in.

mod context;
mod export;
mod json;
mod text;

use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

pub(crate) use context::{EventSpan, KeepFields, SpanOfEvent, merge_context};
pub(crate) use export::{
    LogsConfig, LogsSettings, Ship, collect as collect_export, exporting, exports, start_exporter,
    totals as log_totals,
};
pub use export::{LogsExporter, otlp_log_layer};
pub(crate) use json::{JsonLines, write_json};
pub(crate) use text::{TextLine, TextLines};

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
        LogFormat::Text => Box::new(KeepFields.and_then(TextLines)),
        LogFormat::Json => Box::new(KeepFields.and_then(SpanOfEvent).and_then(JsonLines)),
        LogFormat::Off => Box::new(tracing_subscriber::layer::Identity::new()),
    }
}

/// Writes one whole line to standard error, in one write: lines of two threads never mix.
fn write_line(line: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn formats_parse() {
        assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("off"), Some(LogFormat::Off));
        assert_eq!(LogFormat::parse("yaml"), None);
    }
}

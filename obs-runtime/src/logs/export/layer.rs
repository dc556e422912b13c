//! The layer that turns each `tracing` event into a log record, on the thread that emitted it:
//! typed values copied out of the event and the spans around it, nothing formatted, nothing
//! encoded, no I/O; the record goes to the pipeline's bounded queue.
//!
//! Mapped as `opentelemetry-appender-tracing` maps events, so backends that parse its records
//! parse these: severity number and text from the level, the `message` field as the body, the
//! other fields as attributes of their own type (`u64` and `i128` beyond `i64` as text, `Debug`
//! and `Display` values as strings), the callsite's name as the event name and its target as
//! the instrumentation scope (its OTLP exporter's grouping). Beyond it: the fields of the
//! spans the event is in (as the JSON lines' `context` has them: each key once, at its
//! innermost value; the event's own field wins), the trace context of the sampled span it is
//! in, and for a `log` crate record forwarded by `tracing-log`, its own target in place of
//! `log`.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use super::pipeline;
use crate::logs::KeepFields;
use crate::logs::context::{describes_span, span_fields};
use crate::traces::ids::SpanIds;
use crate::traces::{EventVisitor, Fields, Value};

/// One event, as the exporter's thread encodes it.
#[derive(Debug)]
pub(crate) struct LogRecord {
    pub(crate) meta: &'static Metadata<'static>,
    /// Raw clock reading: converted to Unix time on the exporter's thread.
    pub(crate) time: u64,
    /// The `message` field.
    pub(crate) body: Option<String>,
    /// The spans' fields the event does not set, then the event's own.
    pub(crate) attributes: Fields,
    /// A `log` crate record's target (`tracing-log`'s `log.target` field).
    pub(crate) log_target: Option<String>,
    /// The ids of the innermost span that has them, when it is sampled.
    pub(crate) ids: Option<SpanIds>,
}

impl LogRecord {
    /// The instrumentation scope it is sent under: its target.
    pub(crate) fn target(&self) -> &str {
        self.log_target.as_deref().unwrap_or(self.meta.target())
    }
}

/// The field `tracing-log` puts a `log` record's target in.
const LOG_TARGET: &str = "log.target";

/// Builds each event's [`LogRecord`] and queues it.
struct OtlpLogs;

impl<S> Layer<S> for OtlpLogs
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Behind `ActiveLogs`, the context already passes over the spans the filter left out.
        ship(event, &ctx, |_| true);
    }
}

/// Builds `event`'s record from it and the spans around it that `in_filter` keeps, and
/// queues it.
fn ship<S>(event: &Event<'_>, ctx: &Context<'_, S>, in_filter: fn(&Metadata<'_>) -> bool)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(mut record) = Ship::new(event) else {
        return;
    };
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.filter(|span| in_filter(span.metadata())) {
            let extensions = span.extensions();
            record.span(crate::traces::ids_of(&extensions), span_fields(&extensions));
        }
    }
    record.submit();
}

/// One event's record being built: the event's own fields, then the spans it is in,
/// innermost first.
pub(crate) struct Ship {
    record: LogRecord,
    own: Fields,
}

impl Ship {
    /// The record of `event`; `None` on an exporter's own thread, whose events are never
    /// shipped.
    pub(crate) fn new(event: &Event<'_>) -> Option<Ship> {
        if pipeline::on_exporter_thread() {
            return None;
        }
        let time = crate::clock::raw();
        let mut fields = EventVisitor::default();
        event.record(&mut fields);
        let mut own = fields.fields;
        let log_target = own
            .iter()
            .position(|(k, _)| *k == LOG_TARGET)
            .and_then(|at| match own.remove(at).1 {
                Value::Str(s) | Value::Debug(s) => Some(s),
                _ => None,
            });
        Some(Ship {
            record: LogRecord {
                meta: event.metadata(),
                time,
                body: fields.message,
                attributes: Fields::new(),
                log_target,
                ids: None,
            },
            own,
        })
    }

    /// A span the event is in (innermost first): its ids, if the trace work gave it some, and
    /// its fields. A key already taken keeps its inner value.
    pub(crate) fn span(&mut self, ids: Option<SpanIds>, fields: Option<&Fields>) {
        if self.record.ids.is_none() {
            self.record.ids = ids;
        }
        let Some(span_fields) = fields else {
            return;
        };
        let attributes = &mut self.record.attributes;
        for (key, value) in span_fields {
            let taken = |list: &Fields| list.iter().any(|(k, _)| k == key);
            if !describes_span(key) && !taken(&self.own) && !taken(attributes) {
                attributes.push((key, value.clone()));
            }
        }
    }

    /// Queues the record.
    pub(crate) fn submit(mut self) {
        self.record.attributes.append(&mut self.own);
        self.record.ids = self.record.ids.filter(|ids| ids.sampled);
        pipeline::submit(self.record);
    }
}

/// Lets events through while a logs pipeline runs, those its filter enables.
struct ActiveLogs;

impl<S> Filter<S> for ActiveLogs {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        pipeline::enables(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Starting or stopping a pipeline rebuilds every callsite's interest.
        if pipeline::enables(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        if pipeline::is_active() {
            None
        } else {
            Some(LevelFilter::OFF)
        }
    }
}

/// The exporting layer behind its filter, for `init()`'s subscriber (which adds
/// [`KeepFields`] once for every log layer).
pub(crate) fn exporting_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    OtlpLogs.with_filter(ActiveLogs)
}

/// The layer that ships events as OTLP log records, to add to a subscriber of your own (see
/// [`Builder::without_subscriber`](crate::Builder::without_subscriber)).
///
/// Records go to the logs exporter the latest [`Builder::install`](crate::Builder::install)
/// started (`OTEL_LOGS_EXPORTER=otlp`), filtered by its `OBS_LOGS_FILTER`; while none runs,
/// the layer lets nothing through. For records to carry trace ids, add
/// [`trace_layer`](crate::trace_layer) to the same subscriber.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let obs = obs_runtime::Builder::new()
///     .without_subscriber()
///     .without_server()
///     .traces_exporter(obs_runtime::TracesExporter::None)
///     .install()?; // OTEL_LOGS_EXPORTER=otlp in the environment starts the exporter
/// let subscriber = tracing_subscriber::registry()
///     .with(obs_runtime::trace_layer())
///     .with(obs_runtime::otlp_log_layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(user = "ann", "logged in"); // a log record, when exporting
/// });
/// drop(obs); // flushes
/// # Ok::<(), obs_runtime::Error>(())
/// ```
pub fn otlp_log_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    KeepFields.and_then(exporting_layer())
}

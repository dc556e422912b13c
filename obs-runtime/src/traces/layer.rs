//! The trace layer: spans in, exported traces out, while an exporter runs.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use crate::traces::pipeline;

/// Lets spans through to the trace layer only while an exporter is active, never from the
/// exporter's own threads, and, for `init()`'s subscriber, only those `OBS_TRACES_FILTER`
/// enables.
struct ActiveFilter {
    targets: Option<Targets>,
}

impl ActiveFilter {
    fn targets_enable(&self, meta: &Metadata<'_>) -> bool {
        self.targets
            .as_ref()
            .is_none_or(|t| t.would_enable(meta.target(), meta.level()))
    }
}

impl<S> Filter<S> for ActiveFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        pipeline::is_active() && self.targets_enable(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `sometimes`, not `always`: `enabled` must still see which thread asks. Activating
        // or stopping an exporter rebuilds every callsite's interest.
        if pipeline::any_active() && self.targets_enable(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        if !pipeline::any_active() {
            return Some(LevelFilter::OFF);
        }
        self.targets
            .as_ref()
            .and_then(|t| <Targets as Filter<S>>::max_level_hint(t))
    }
}

#[cfg(feature = "otlp")]
fn exporting_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    super::otlp::layer()
}

#[cfg(not(feature = "otlp"))]
fn exporting_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    super::console::ConsoleLayer
}

/// The layer that turns spans into exported traces, to add to a subscriber of your own
/// (see [`Builder::without_subscriber`](crate::Builder::without_subscriber)).
///
/// Spans go to the exporter the latest [`Builder::install`](crate::Builder::install) started
/// (OTLP or console); while none runs, the layer lets nothing through and costs nothing.
/// With the `otlp` feature it is `tracing-opentelemetry`'s layer, so the `propagation` module
/// and `tracing_opentelemetry::OpenTelemetrySpanExt` work on the spans it sees. It filters nothing else: put your own filter on it to choose
/// which spans are exported.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let obs = obs_runtime::Builder::new()
///     .without_subscriber()
///     .without_server()
///     .traces_exporter(obs_runtime::TracesExporter::Console)
///     .install()?;
/// let subscriber = tracing_subscriber::registry().with(obs_runtime::trace_layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("work").entered(); // printed when it closes
/// });
/// drop(obs); // flushes
/// # Ok::<(), obs_runtime::Error>(())
/// ```
pub fn trace_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    filtered_layer(None)
}

/// The exporting layer behind its [`ActiveFilter`]: `init()`'s subscriber passes
/// `OBS_TRACES_FILTER`'s targets, [`trace_layer`] none.
pub(crate) fn filtered_layer<S>(targets: Option<Targets>) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    exporting_layer().with_filter(ActiveFilter { targets })
}

//! The global `tracing` subscriber `init()` installs, and the trace layer it is made of.

use std::sync::{Mutex, PoisonError};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::config::Error;
use crate::logs::{LogFormat, SpanOfEvent};
use crate::traces;

/// Lets spans through to the trace layer only while an exporter is active, never from the
/// exporter's own threads, and, for `init()`'s subscriber, only those `OBS_TRACES_FILTER`
/// enables.
pub(crate) struct ActiveFilter {
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
        traces::is_active() && self.targets_enable(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `sometimes`, not `always`: `enabled` must still see which thread asks. Activating
        // or stopping an exporter rebuilds every callsite's interest.
        if traces::any_active() && self.targets_enable(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        if !traces::any_active() {
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
    crate::otlp::layer()
}

#[cfg(not(feature = "otlp"))]
fn exporting_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    crate::console::ConsoleLayer
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
    exporting_layer().with_filter(ActiveFilter { targets: None })
}

/// Log settings, validated.
#[derive(Clone, Debug)]
pub(crate) struct LogConfig {
    pub(crate) format: LogFormat,
    pub(crate) filter: Targets,
}

/// Whether `init()`'s subscriber is installed. Held while installing, so two installs at once
/// cannot both try.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installs the global subscriber once per process: later calls leave it as it is and return
/// `Ok(false)`. A subscriber installed by someone else is [`Error::SubscriberTaken`].
pub(crate) fn install_global(logs: &LogConfig, traces_filter: Targets) -> Result<bool, Error> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(false);
    }
    let trace = exporting_layer().with_filter(ActiveFilter {
        targets: Some(traces_filter),
    });
    let base = Registry::default().with(trace);
    let result = match logs.format {
        LogFormat::Off => tracing::subscriber::set_global_default(base),
        LogFormat::Text => tracing::subscriber::set_global_default(
            base.with(crate::logs::text_layer().with_filter(logs.filter.clone())),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            base.with(SpanOfEvent::default())
                .with(crate::logs::json_layer().with_filter(logs.filter.clone())),
        ),
    };
    result.map_err(|_| Error::SubscriberTaken)?;
    *installed = true;
    Ok(true)
}

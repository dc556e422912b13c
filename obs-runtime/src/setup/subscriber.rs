//! The global `tracing` subscriber `init()` installs: the trace layer and the log layer.

use tracing::Dispatch;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};

use crate::error::Error;
use crate::logs::{GatedLogs, JsonLines, KeepFields, LogFormat, SpanOfEvent, TextLines};
use crate::sync::lock;

/// Log settings, validated.
#[derive(Clone, Debug)]
pub(crate) struct LogConfig {
    pub(crate) format: LogFormat,
    pub(crate) filter: Targets,
    /// Whether this install ships logs over OTLP.
    pub(crate) export: crate::logs::LogsExporter,
}

/// Whether `init()`'s subscriber is installed. Held while installing, so two installs at once
/// cannot both try.
static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

/// Installs the global subscriber once per process: later calls leave it as it is and return
/// `Ok(false)`. A subscriber installed by someone else is [`Error::SubscriberTaken`].
pub(crate) fn install_global(logs: &LogConfig, traces_filter: Targets) -> Result<bool, Error> {
    let mut installed = lock(&INSTALLED);
    if *installed {
        return Ok(false);
    }
    tracing::dispatcher::set_global_default(build(logs, traces_filter))
        .map_err(|_| Error::SubscriberTaken)?;
    *installed = true;
    Ok(true)
}

/// The subscriber [`install_global`] installs: the registry, the trace layer behind
/// `OBS_TRACES_FILTER`'s targets, the OTLP log layer (it lets nothing through while no logs
/// exporter runs) and the stderr log layers. With stderr logs on, the trace layer filters by
/// itself rather than through a per-layer filter (`traces::gated_layer`: three slab lookups
/// fewer per span), and so does the OTLP log layer (`logs::GatedLogs`: three more); the fields of spans are kept if a format writes them or this install
/// ships logs.
fn build(logs: &LogConfig, traces_filter: Targets) -> Dispatch {
    let registry = Registry::default();
    let shipping = logs.export == crate::logs::LogsExporter::Otlp;
    match logs.format {
        LogFormat::Off => Dispatch::new(
            registry
                .with(crate::traces::filtered_layer(Some(traces_filter)))
                .with(crate::logs::exporting_layer())
                .with(shipping.then_some(KeepFields)),
        ),
        LogFormat::Text => Dispatch::new(
            registry
                .with(crate::traces::gated_layer(traces_filter))
                .with(GatedLogs)
                .with(KeepFields)
                .with(TextLines.with_filter(logs.filter.clone())),
        ),
        LogFormat::Json => Dispatch::new(
            registry
                .with(crate::traces::gated_layer(traces_filter))
                .with(GatedLogs)
                .with(KeepFields)
                .with(SpanOfEvent)
                .with(JsonLines.with_filter(logs.filter.clone())),
        ),
    }
}

/// `init()`'s subscriber with its default filters (`info` for traces and logs) and `format`,
/// built but not installed: what `benches/spans.rs` measures beside a bare `Registry`.
pub(crate) fn default_dispatch(format: LogFormat) -> Dispatch {
    let info = || crate::env::parse_filter("info").unwrap_or_default();
    let logs = LogConfig {
        format,
        filter: info(),
        export: crate::logs::LogsExporter::None,
    };
    build(&logs, info())
}

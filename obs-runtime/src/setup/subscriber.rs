//! The global `tracing` subscriber `init()` installs: the trace layer and the log layer.

use tracing_subscriber::Registry;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};

use crate::error::Error;
use crate::logs::{JsonLines, KeepFields, LogFormat, SpanOfEvent, TextLines};
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
    let trace = crate::traces::filtered_layer(Some(traces_filter));
    // The OTLP log layer lets nothing through while no logs exporter runs; the fields of
    // spans are kept for it only if its first install ships logs or a format writes them.
    let base = Registry::default()
        .with(trace)
        .with(crate::logs::exporting_layer());
    let result = match logs.format {
        LogFormat::Off => tracing::subscriber::set_global_default(
            base.with((logs.export == crate::logs::LogsExporter::Otlp).then_some(KeepFields)),
        ),
        LogFormat::Text => tracing::subscriber::set_global_default(
            base.with(KeepFields)
                .with(TextLines.with_filter(logs.filter.clone())),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            base.with(KeepFields)
                .with(SpanOfEvent)
                .with(JsonLines.with_filter(logs.filter.clone())),
        ),
    };
    result.map_err(|_| Error::SubscriberTaken)?;
    *installed = true;
    Ok(true)
}

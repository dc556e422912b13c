//! The global `tracing` subscriber `init()` installs: obs's own (`own.rs`), which does the
//! trace work and writes the log lines and records itself.

mod own;

use tracing::Dispatch;
use tracing_subscriber::filter::Targets;

use crate::error::Error;
use crate::logs::LogFormat;
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

/// The subscriber [`install_global`] installs: obs's own ([`own::ObsSubscriber`]), doing the
/// trace work for spans `OBS_TRACES_FILTER`'s targets enable while an exporter runs, writing
/// the stderr lines of `logs.format` behind `logs.filter`, and shipping events while this
/// install's logs exporter runs.
fn build(logs: &LogConfig, traces_filter: Targets) -> Dispatch {
    let shipping = logs.export == crate::logs::LogsExporter::Otlp;
    crate::traces::slots::recognise(|dispatch| {
        dispatch
            .downcast_ref::<own::ObsSubscriber>()
            .map(own::ObsSubscriber::spans)
    });
    Dispatch::new(own::ObsSubscriber::new(
        traces_filter,
        logs.format,
        logs.filter.clone(),
        shipping,
    ))
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

#[cfg(test)]
mod tests;

//! Logs shipped over OTLP: every `tracing` event the logs filter lets through becomes an OTLP
//! `LogRecord`, mapped as `opentelemetry-appender-tracing` maps events ([`layer`]), queued
//! without blocking and sent a batch at a time by a thread of its own ([`pipeline`]) through
//! the transport every signal shares ([`crate::otlp`]); [`encode`] writes the protobuf.
//!
//! Settings: `OTEL_LOGS_EXPORTER` (`none` by default, `otlp`, `console`, `otlp,console`; console
//! is the lines on standard error obs writes anyway), `OBS_LOGS_FILTER` (else
//! `RUST_LOG`), `OTEL_EXPORTER_OTLP_LOGS_*` (else `OTEL_EXPORTER_OTLP_*`) and the
//! specification's `OTEL_BLRP_*` batching variables.

// Without the `otlp` feature only `none` resolves: the pipeline is never started.
#![cfg_attr(not(feature = "otlp"), allow(dead_code))]

#[cfg(feature = "otlp")]
mod encode;
mod layer;
mod pipeline;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tracing_subscriber::filter::Targets;

use crate::env::{Var, count, exporter_list, invalid, millis, parse_filter, setting};
use crate::error::Error;
use crate::exposition::{Collector, Labels, MetricKind};
use crate::otlp::Signal;
use crate::otlp::settings::{TransportConfig, TransportSettings};
use crate::traces::{Batching, TraceConfig};

pub(crate) use layer::Ship;
pub use layer::otlp_log_layer;
#[cfg(feature = "otlp")]
use pipeline::start;
pub(crate) use pipeline::{enables as exports, is_active as exporting};

/// Where log records go besides standard error: `OTEL_LOGS_EXPORTER`, or
/// [`Builder::logs_exporter`](crate::Builder::logs_exporter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogsExporter {
    /// OTLP log records to a collector (`otlp`): needs obs-runtime's `otlp` feature.
    Otlp,
    /// Nowhere but standard error (`none`): the default.
    None,
    /// The specification's console exporter (`console`): obs's lines on standard error,
    /// which it writes whatever this setting says (unless `OBS_LOG_FORMAT=off`), so nothing
    /// more is started; the same as `None`. `otlp,console` is `Otlp` with those lines.
    Console,
}

/// `OTEL_LOGS_EXPORTER`: `otlp`, `console`, `none`, or a comma list of `otlp` and `console`.
fn parse_exporter(name: &'static str, value: &str) -> Result<LogsExporter, Error> {
    exporter_list(name, value, |names| match names {
        ["otlp"] | ["console", "otlp"] => Ok(LogsExporter::Otlp),
        ["console"] => Ok(LogsExporter::Console),
        ["none"] => Ok(LogsExporter::None),
        _ => Err(
            "expected otlp, console, otlp,console or none (console is the lines on standard \
             error, which obs writes anyway)",
        ),
    })
}

/// Settings made in code; each unset one is read from the environment at install.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogsSettings {
    pub(crate) exporter: Option<LogsExporter>,
    pub(crate) transport: TransportSettings,
    pub(crate) filter: Option<String>,
}

/// Everything a logs pipeline needs, validated.
#[derive(Clone, Debug)]
pub(crate) struct LogsConfig {
    pub(crate) exporter: LogsExporter,
    pub(crate) transport: TransportConfig,
    pub(crate) filter: Targets,
    pub(crate) batch: Batching,
    pub(crate) flush_timeout: Duration,
}

impl LogsConfig {
    /// Validates `settings`, reading every unset one from `var`, then `general` (the
    /// `Builder::otlp_*` settings every signal shares); the flush timeout is the traces' one
    /// (one guard, one timeout).
    pub(crate) fn resolve(
        settings: &LogsSettings,
        general: &TransportSettings,
        var: Var<'_>,
        flush_timeout: Duration,
    ) -> Result<Self, Error> {
        const NAME: &str = "OTEL_LOGS_EXPORTER";
        let exporter = match (settings.exporter, var(NAME)) {
            (Some(e), _) => e,
            (None, None) => LogsExporter::None,
            (None, Some(value)) => parse_exporter(NAME, &value)?,
        };
        if exporter == LogsExporter::Otlp && !cfg!(feature = "otlp") {
            let why = "obs-runtime was built without its `otlp` feature: enable it \
                       (obs-runtime = { features = [\"otlp\"] }), or use console or none";
            return Err(match settings.exporter {
                Some(e) => setting("Builder::logs_exporter", e, why),
                None => invalid(NAME, &var(NAME).unwrap_or_default(), why),
            });
        }
        let transport = TransportConfig::resolve(
            Signal::Logs,
            general,
            &settings.transport,
            var,
            exporter == LogsExporter::Otlp,
        )?;
        let filter = match (&settings.filter, var("OBS_LOGS_FILTER"), var("RUST_LOG")) {
            (Some(f), _, _) => {
                parse_filter(f).map_err(|why| setting("Builder::logs_filter", f, why))?
            }
            (None, Some(f), _) => {
                parse_filter(&f).map_err(|why| invalid("OBS_LOGS_FILTER", &f, why))?
            }
            (None, None, Some(f)) => {
                parse_filter(&f).map_err(|why| invalid("RUST_LOG", &f, why))?
            }
            (None, None, None) => parse_filter("info").unwrap_or_default(),
        };
        // The specification's batch log record processor: a shorter delay than spans'.
        let batch = Batching {
            max_queue: count(var, "OTEL_BLRP_MAX_QUEUE_SIZE", 2048)?,
            max_batch: count(var, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 512)?,
            delay: millis(var, "OTEL_BLRP_SCHEDULE_DELAY", Duration::from_secs(1))?,
            export_timeout: millis(var, "OTEL_BLRP_EXPORT_TIMEOUT", Duration::from_secs(30))?,
        };
        Ok(LogsConfig {
            exporter,
            transport,
            filter,
            batch: Batching {
                max_batch: batch.max_batch.min(batch.max_queue),
                ..batch
            },
            flush_timeout,
        })
    }
}

/// Starts the logs pipeline `config` asks for, if any: active at once.
#[cfg_attr(not(feature = "otlp"), allow(clippy::unnecessary_wraps))]
pub(crate) fn start_exporter(
    config: &LogsConfig,
    traces: &TraceConfig,
) -> Result<Option<crate::export::ExportGuard>, Error> {
    match config.exporter {
        LogsExporter::None | LogsExporter::Console => Ok(None),
        #[cfg(feature = "otlp")]
        LogsExporter::Otlp => {
            let (logs, traces) = (config.clone(), traces.clone());
            start(config, move |mark| {
                encode::OtlpLogSink::build(&logs, &traces, mark)
            })
            .map(Some)
        }
        #[cfg(not(feature = "otlp"))]
        LogsExporter::Otlp => {
            let _ = traces;
            Ok(None)
        }
    }
}

/// Set once a logs pipeline has run: the counters are on the page from then on.
static EVER_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Records sent and acknowledged.
static EXPORTED: AtomicU64 = AtomicU64::new(0);

/// Why a record was dropped: the label of `obs_logs_dropped_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    QueueFull,
    ExportFailed,
    Rejected,
    Tls,
    Shutdown,
}

const REASONS: [(&str, Dropped); 5] = [
    ("export_failed", Dropped::ExportFailed),
    ("queue_full", Dropped::QueueFull),
    ("rejected", Dropped::Rejected),
    ("shutdown", Dropped::Shutdown),
    ("tls", Dropped::Tls),
];

static DROPPED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

impl Dropped {
    pub(crate) fn count(self, n: u64) {
        DROPPED[self as usize].fetch_add(n, Ordering::Relaxed);
    }
}

/// Log records exported and dropped, in all, since the process started.
pub(crate) fn totals() -> (u64, u64) {
    let dropped = DROPPED.iter().map(|d| d.load(Ordering::Relaxed)).sum();
    (EXPORTED.load(Ordering::Relaxed), dropped)
}

/// `obs_logs_exported_total` and `obs_logs_dropped_total{reason}`, every reason from 0, once a
/// logs pipeline ran.
pub(crate) fn collect(out: &mut Collector) {
    if !EVER_ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    out.family(
        "obs_logs_exported_total",
        MetricKind::Counter,
        "Log records the OTLP logs exporter sent.",
    )
    .counter(&Labels::empty(), EXPORTED.load(Ordering::Relaxed));
    let family = out.family(
        "obs_logs_dropped_total",
        MetricKind::Counter,
        "Log records the OTLP logs exporter dropped: queue_full (the exporter fell behind, or \
         waits to retry), export_failed (the backend refused, or did not answer within the \
         retries), rejected (the backend accepted the batch but not these records), tls (the \
         backend's certificate did not verify), shutdown (still queued when the flush timeout \
         ran out).",
    );
    for (reason, which) in REASONS {
        let mut labels = Labels::empty();
        labels.push("reason", reason);
        family.counter(&labels, DROPPED[which as usize].load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::{LogsConfig, LogsExporter, LogsSettings, TransportSettings};
    use std::time::Duration;

    fn resolve(vars: &[(&str, &str)]) -> Result<LogsConfig, crate::Error> {
        let var = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        LogsConfig::resolve(
            &LogsSettings::default(),
            &TransportSettings::default(),
            &var,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn none_by_default_and_the_filter_falls_back_to_rust_log() {
        let config = resolve(&[("RUST_LOG", "app=debug")]).unwrap();
        assert_eq!(config.exporter, LogsExporter::None);
        assert!(config.filter.would_enable("app", &tracing::Level::DEBUG));
        let config = resolve(&[("RUST_LOG", "app=debug"), ("OBS_LOGS_FILTER", "warn")]).unwrap();
        assert!(!config.filter.would_enable("app", &tracing::Level::DEBUG));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = resolve(&[("OTEL_LOGS_EXPORTER", "kafka")]).unwrap_err();
        assert!(err.to_string().contains("OTEL_LOGS_EXPORTER"), "{err}");
        for value in ["0", "80000000000000"] {
            let err = resolve(&[("OTEL_BLRP_MAX_QUEUE_SIZE", value)]).unwrap_err();
            assert!(
                err.to_string().contains("OTEL_BLRP_MAX_QUEUE_SIZE"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_exporter_variable_takes_the_specifications_values_and_lists() {
        for (value, want) in [
            ("none", LogsExporter::None),
            ("console", LogsExporter::Console),
            (" Console ", LogsExporter::Console),
            ("otlp", LogsExporter::Otlp),
            ("otlp,console", LogsExporter::Otlp),
            ("console, otlp", LogsExporter::Otlp),
            ("otlp,otlp", LogsExporter::Otlp),
        ] {
            if want == LogsExporter::Otlp && !cfg!(feature = "otlp") {
                continue;
            }
            let config = resolve(&[("OTEL_LOGS_EXPORTER", value)]).unwrap();
            assert_eq!(config.exporter, want, "{value:?}");
        }
    }

    #[test]
    fn an_unknown_exporter_names_the_variable_and_the_accepted_values() {
        for value in ["kafka", "otlp,kafka", "none,otlp", "console,none", ","] {
            let err = resolve(&[("OTEL_LOGS_EXPORTER", value)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("OTEL_LOGS_EXPORTER"), "{err}");
            assert!(err.contains(&format!("{value:?}")), "{err}");
            assert!(
                err.contains("expected otlp, console, otlp,console or none"),
                "{err}"
            );
        }
    }
}

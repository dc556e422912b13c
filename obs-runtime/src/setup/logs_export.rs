//! The [`Builder`] methods of logs shipped over OTLP; the variables they stand for are in
//! `Builder`'s table.

use crate::logs::LogsExporter;
use crate::otlp::{OtlpCompression, OtlpProtocol};
use crate::setup::Builder;

impl Builder {
    /// Ships every event the [`logs_filter`](Builder::logs_filter) lets through as an OTLP log
    /// record, with the trace id of the span it was written in; the lines on standard error
    /// stay on unless [`log_format`](Builder::log_format) is `Off`. Also
    /// `OTEL_LOGS_EXPORTER` (`otlp`, `none`: the default, `console`, `otlp,console`). Needs the
    /// `otlp` feature. `console` is the specification's name for lines on the console: obs
    /// writes its lines on standard error whatever this setting (unless
    /// [`log_format`](Builder::log_format) is `Off`), so `console` starts nothing more and
    /// `otlp,console` is `otlp`.
    ///
    /// The application's threads only queue records (a bounded queue of
    /// `OTEL_BLRP_MAX_QUEUE_SIZE`, 2048 by default); a thread of obs sends them. A full queue,
    /// a collector that refuses them, or the flush timeout running out drops records, counted
    /// in `obs_logs_dropped_total{reason}` on the page.
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .logs_exporter(obs_runtime::LogsExporter::Otlp)
    ///     .logs_endpoint("http://127.0.0.1:4318/v1/logs")
    ///     .logs_filter("warn,checkout=info")
    ///     .flush_timeout(std::time::Duration::from_millis(100))
    ///     .install()?;
    /// tracing::info!(target: "checkout", order = 7, "paid"); // a log record, and a line
    /// assert!(obs_runtime::render().contains(r#"obs_logs_dropped_total{reason="queue_full"}"#));
    /// # }
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn logs_exporter(mut self, exporter: LogsExporter) -> Self {
        self.logs_export.exporter = Some(exporter);
        self
    }

    /// Which events are shipped, as `target=level,…` (`info,my_crate=debug`). Also
    /// `OBS_LOGS_FILTER`, else `RUST_LOG`. The lines on standard error keep their own
    /// [`log_filter`](Builder::log_filter).
    pub fn logs_filter(mut self, filter: impl Into<String>) -> Self {
        self.logs_export.filter = Some(filter.into());
        self
    }

    /// Where log records are sent: `http://host:port` (`/v1/logs` is added for OTLP/HTTP) or a
    /// full URL. Also
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/logs`
    /// added, else [`otlp_endpoint`](Builder::otlp_endpoint) with `/v1/logs` added. The
    /// general `otlp_*` settings apply to log records where these leave a setting unset.
    pub fn logs_endpoint(mut self, url: impl Into<String>) -> Self {
        self.logs_export.transport.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport of log records. Also `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`, else
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn logs_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.logs_export.transport.protocol = Some(protocol);
        self
    }

    /// A header (gRPC metadata) sent with every export of log records. Also
    /// `OTEL_EXPORTER_OTLP_LOGS_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`.
    pub fn logs_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.logs_export
            .transport
            .headers
            .push((name.into(), value.into()));
        self
    }

    /// How exports of log records are compressed. Also `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`,
    /// else `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub fn logs_compression(mut self, compression: OtlpCompression) -> Self {
        self.logs_export.transport.compression = Some(compression);
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::logs::LogsExporter;
    use crate::page::MetricsExporter;
    use crate::setup::Builder;

    #[test]
    fn the_builders_debug_shows_the_logs_and_metrics_exporters_but_no_header_value() {
        let builder = Builder::new()
            .logs_exporter(LogsExporter::Otlp)
            .logs_header("x-logs-key", "logs-secret")
            .metrics_exporter(MetricsExporter::PrometheusAndOtlp)
            .otlp_header("x-key", "secret");
        let shown = format!("{builder:?}");
        for part in [
            "logs_export",
            "exporter: Some(Otlp)",
            "x-logs-key",
            "metrics",
            "exporter: Some(PrometheusAndOtlp)",
        ] {
            assert!(shown.contains(part), "{part:?} not in {shown}");
        }
        assert!(!shown.contains("secret"), "{shown}");
    }
}

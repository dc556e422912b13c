//! The guard `init()` returns, and what it says when it stops obs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::export::ExportGuard;
use crate::live::SamplerGuard;
use crate::serve::MetricsServer;

/// A guard dropped this soon after `install`, before any span went through its exporter, was
/// almost surely not kept (`let _ = init()?`).
const DROPPED_AT_ONCE: Duration = Duration::from_secs(1);

/// Keeps obs's exporters running; dropping it stops the `/metrics` server, the trace
/// exporter, the logs exporter and the OTLP metrics pusher, sending the spans and log records
/// still queued and pushing the metrics once more (waiting at most the
/// [`flush_timeout`](crate::Builder::flush_timeout) for each), and logs one INFO line saying
/// what it stopped and how many spans, log records and metric points each exported and
/// dropped.
///
/// Keep it in a variable for as long as the service runs: `let _obs = obs_runtime::init()?;`.
/// `let _ = obs_runtime::init()?;` drops it on the spot, so `/metrics` stops answering and no
/// span is exported; a guard dropped within a second of its install, before any span went
/// through, logs a WARN line that says so.
///
/// Recording never stops: instrumented calls are counted with or without a guard, and
/// [`render`](crate::render) works at any time.
#[must_use = "dropping the guard stops the /metrics server and the trace exporter at once: keep it, `let _obs = obs_runtime::init()?;`"]
#[derive(Debug)]
pub struct ObsGuard {
    pub(super) server: Option<MetricsServer>,
    /// The live page's sampler, while the page is served.
    pub(super) sampler: Option<SamplerGuard>,
    pub(super) traces: Option<ExportGuard>,
    /// The logs exporter, when `OTEL_LOGS_EXPORTER=otlp`.
    pub(super) logs: Option<ExportGuard>,
    /// The OTLP metrics pusher, when metrics are pushed.
    pub(super) metrics: Option<ExportGuard>,
    pub(super) installed: Instant,
    /// Spans exported and dropped, in all, when it was installed.
    pub(super) spans_before: u64,
}

impl ObsGuard {
    /// The address `/metrics` is served on, if a server runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(MetricsServer::local_addr)
    }

    /// `http://ADDR/metrics`, if a server runs.
    pub fn metrics_url(&self) -> Option<String> {
        self.local_addr()
            .map(|addr| format!("http://{addr}/metrics"))
    }
}

impl Drop for ObsGuard {
    fn drop(&mut self) {
        let serving = self.local_addr();
        let exporting = self.traces.is_some();
        let shipping = self.logs.is_some();
        let pushing = self.metrics.is_some();
        // The exporter first: its flush may take up to the flush timeout, and /metrics keeps
        // answering (the drop counts included) until it is done.
        drop(self.logs.take());
        drop(self.traces.take());
        // Then the last push of metrics, once the span counts it carries are final.
        drop(self.metrics.take());
        drop(self.server.take());
        drop(self.sampler.take());
        let (exported, dropped) = crate::traces::span_totals();
        let server = serving.map_or_else(
            || "no server".to_owned(),
            |a| format!("the /metrics server on {a}"),
        );
        let mut stopped = vec![server];
        stopped.push(if exporting {
            format!("the trace exporter ({exported} spans exported, {dropped} dropped since start)")
        } else {
            "no trace exporter".to_owned()
        });
        if shipping {
            let (records, lost) = crate::logs::log_totals();
            stopped.push(format!(
                "the logs exporter ({records} records exported, {lost} dropped since start)"
            ));
        }
        if pushing {
            let (points, lost) = crate::page::metric_point_totals();
            stopped.push(format!(
                "the OTLP metrics pusher, after its last push ({points} points exported, {lost} \
                 lost since start)"
            ));
        }
        let stopped = join(&stopped);
        let idle = exported + dropped == self.spans_before;
        if self.installed.elapsed() < DROPPED_AT_ONCE
            && idle
            && (serving.is_some() || exporting || shipping || pushing)
        {
            tracing::warn!(
                target: "obs_runtime",
                "obs stopped {stopped} {} ms after install: the guard of init() was dropped at \
                 once (`let _ = obs_runtime::init()?` drops it); keep it for as long as the \
                 service runs: `let _obs = obs_runtime::init()?;`",
                self.installed.elapsed().as_millis()
            );
        } else {
            tracing::info!(target: "obs_runtime", "obs stopped {stopped}");
        }
    }
}

/// `a, b and c`.
fn join(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

//! The page pushed over OTLP (`OTEL_METRICS_EXPORTER=otlp`): a thread of obs gathers the page
//! every interval as [`render`](crate::render) does, writes it as OTLP metrics
//! (`exposition/otlp.rs`) and sends it through the transport the spans use. The instrumented
//! calls do not change: the thread only reads their cells.
//!
//! An interval whose push fails (after the transport's retries, within the export timeout) is
//! lost and its points counted in `obs_metric_points_dropped_total{reason}`; the next interval
//! goes on. Dropping the guard pushes once more, within the flush timeout, so a batch job's
//! last counts arrive.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::exposition::{Collector, Labels, MetricKind, Temporality};
use crate::otlp::settings::TransportConfig;

/// Where the page goes: `OTEL_METRICS_EXPORTER`, or
/// [`Builder::metrics_exporter`](crate::Builder::metrics_exporter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsExporter {
    /// Served on `/metrics` for a scraper (`prometheus`): the default.
    #[default]
    Prometheus,
    /// Pushed over OTLP every interval (`otlp`, needs the `otlp` feature); no `/metrics`
    /// server.
    Otlp,
    /// Both (`prometheus,otlp`).
    PrometheusAndOtlp,
    /// Neither (`none`): the page is still recorded, and [`render`](crate::render) works.
    None,
}

impl MetricsExporter {
    /// Whether `/metrics` is served.
    pub(crate) fn serves(self) -> bool {
        matches!(
            self,
            MetricsExporter::Prometheus | MetricsExporter::PrometheusAndOtlp
        )
    }

    /// Whether the page is pushed.
    pub(crate) fn pushes(self) -> bool {
        matches!(
            self,
            MetricsExporter::Otlp | MetricsExporter::PrometheusAndOtlp
        )
    }
}

/// Everything the pusher needs, validated.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct PushConfig {
    pub(crate) transport: TransportConfig,
    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub(crate) interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`: one push, its retries included.
    pub(crate) timeout: Duration,
    pub(crate) temporality: Temporality,
    /// The `resource` and `scope` fields, pre-encoded.
    pub(crate) resource: Vec<u8>,
    pub(crate) scope: Vec<u8>,
    pub(crate) flush_timeout: Duration,
}

/// Set once a pusher has run: the counters are on the page from then on.
static EVER_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Data points sent and accepted.
static EXPORTED: AtomicU64 = AtomicU64::new(0);
/// Points of pushes the backend refused or did not answer within the retries.
static DROPPED_EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);
/// Points the backend accepted the push of but rejected (an OTLP partial success).
static DROPPED_REJECTED: AtomicU64 = AtomicU64::new(0);
/// Points not sent because the TLS handshake failed.
static DROPPED_TLS: AtomicU64 = AtomicU64::new(0);

/// Metric data points pushed and accepted, and lost, in all, since the process started.
pub(crate) fn totals() -> (u64, u64) {
    let lost = [&DROPPED_EXPORT_FAILED, &DROPPED_REJECTED, &DROPPED_TLS]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum();
    (EXPORTED.load(Ordering::Relaxed), lost)
}

/// `obs_metric_points_exported_total` and `obs_metric_points_dropped_total{reason}`, once a
/// pusher ran. A push counts itself after it is answered: the page it sent shows the counts
/// before it.
pub(crate) fn collect(out: &mut Collector) {
    if !EVER_ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    out.family(
        "obs_metric_points_exported_total",
        MetricKind::Counter,
        "Metric data points the OTLP metrics exporter pushed and the backend accepted.",
    )
    .counter(&Labels::empty(), EXPORTED.load(Ordering::Relaxed));
    let family = out.family(
        "obs_metric_points_dropped_total",
        MetricKind::Counter,
        "Metric data points of pushes that were lost: export_failed (the backend refused, or \
         did not answer within the retries and OTEL_METRIC_EXPORT_TIMEOUT), rejected (the \
         backend accepted the push but not these points), tls (the backend's certificate did \
         not verify). The next interval is pushed whatever happened to this one.",
    );
    for (reason, count) in [
        ("export_failed", &DROPPED_EXPORT_FAILED),
        ("rejected", &DROPPED_REJECTED),
        ("tls", &DROPPED_TLS),
    ] {
        let mut labels = Labels::empty();
        labels.push("reason", reason);
        family.counter(&labels, count.load(Ordering::Relaxed));
    }
}

#[cfg(feature = "otlp")]
pub(crate) use worker::{bench_encode, start};

#[cfg(feature = "otlp")]
mod worker {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use super::{
        DROPPED_EXPORT_FAILED, DROPPED_REJECTED, DROPPED_TLS, EVER_ACTIVE, EXPORTED, PushConfig,
    };
    use crate::error::Error;
    use crate::export::{ExportGuard, Shutdown};
    use crate::exposition::Collector;
    use crate::exposition::Temporality;
    use crate::exposition::otlp::{Delta, Push};
    use crate::otlp::Client;
    use crate::otlp::retry::{Backoff, Failure, FailureKind};

    /// Starts the pusher's thread; returns once its client is built (or failed to be). The
    /// guard's drop pushes once more, within the flush timeout.
    pub(crate) fn start(config: PushConfig) -> Result<ExportGuard, Error> {
        let transport = config.transport.clone();
        let build = move || {
            crate::traces::mark_exporter_thread();
            let client = Client::new(&transport, crate::traces::mark_exporter_thread)?;
            EVER_ACTIVE.store(true, Ordering::Relaxed);
            Ok(client)
        };
        crate::export::start(
            "metric",
            config.flush_timeout,
            build,
            move |client, shutdown| {
                let start = super::super::started_unix_nanos();
                Pusher {
                    delta: (config.temporality != Temporality::Cumulative)
                        .then(|| Delta::new(start)),
                    start,
                    client,
                    config,
                    shutdown,
                    body: Vec::new(),
                    attempt: Vec::new(),
                    failing: false,
                }
                .run();
            },
        )
    }

    /// The page gathered as [`render`](crate::render) gathers it and written as one OTLP
    /// request into `out`: what each push sends. Returns its number of points.
    fn encode(out: &mut Vec<u8>, push: &Push<'_>, delta: Option<&mut Delta>) -> u64 {
        super::super::collect_into(Collector::with_native()).finish_otlp(out, push, delta)
    }

    /// What `benches/metrics_push.rs` measures: one cumulative push's encoding.
    pub(crate) fn bench_encode(out: &mut Vec<u8>) -> u64 {
        let now = crate::clock::unix_nanos(crate::clock::raw());
        let push = Push {
            resource: &[],
            scope: &[],
            start: now,
            now,
            temporality: Temporality::Cumulative,
        };
        encode(out, &push, None)
    }

    struct Pusher {
        config: PushConfig,
        client: Client,
        shutdown: Arc<Shutdown>,
        /// The baseline of delta points; `None` when every point is cumulative.
        delta: Option<Delta>,
        /// When every series started from zero.
        start: u64,
        /// The request, encoded once per interval, and the copy one attempt sends (gRPC
        /// takes its body).
        body: Vec<u8>,
        attempt: Vec<u8>,
        /// A failure was logged since the last success.
        failing: bool,
    }

    impl Pusher {
        /// Pushes every interval until the guard is dropped, then once more.
        fn run(&mut self) {
            let mut next = Instant::now() + self.config.interval;
            loop {
                let on_time = self.shutdown.wait_until(next);
                if !on_time || self.shutdown.deadline().is_some() {
                    self.push();
                    return;
                }
                self.push();
                next += self.config.interval;
                // A push that took longer than an interval does not make the next ones pile up.
                next = next.max(Instant::now());
            }
        }

        /// One push of the whole page, retried as the transport says within the export
        /// timeout (and the guard's deadline).
        fn push(&mut self) {
            let now = crate::clock::unix_nanos(crate::clock::raw());
            let push = Push {
                resource: &self.config.resource,
                scope: &self.config.scope,
                start: self.start,
                now,
                temporality: self.config.temporality,
            };
            let points = encode(&mut self.body, &push, self.delta.as_mut());
            let mut backoff = Backoff::new(self.config.timeout);
            loop {
                let timeout = match self.shutdown.deadline() {
                    Some(d) => d
                        .saturating_duration_since(Instant::now())
                        .min(backoff.left()),
                    None => backoff.left(),
                };
                self.attempt.clone_from(&self.body);
                let failure = match self.client.send(&mut self.attempt, timeout) {
                    Ok(accepted) => {
                        let rejected = accepted.rejected.min(points);
                        EXPORTED.fetch_add(points - rejected, Ordering::Relaxed);
                        DROPPED_REJECTED.fetch_add(rejected, Ordering::Relaxed);
                        if let Some(delta) = &mut self.delta {
                            delta.commit(now);
                        }
                        if std::mem::take(&mut self.failing) {
                            tracing::info!(
                                target: "obs_runtime",
                                "pushing metrics to {} works again",
                                self.config.transport.endpoint
                            );
                        }
                        return;
                    }
                    Err(failure) => failure,
                };
                if let FailureKind::Retryable { after } = failure.kind
                    && let Some(at) = backoff.next_attempt(after)
                    && self.shutdown.wait_until(at)
                {
                    continue;
                }
                self.lost(points, &failure);
                return;
            }
        }

        /// Counts the points of a push that failed, and logs the first of a run of failures.
        fn lost(&mut self, points: u64, failure: &Failure) {
            let counter = if failure.kind == FailureKind::Tls {
                &DROPPED_TLS
            } else {
                &DROPPED_EXPORT_FAILED
            };
            counter.fetch_add(points, Ordering::Relaxed);
            if let Some(delta) = &mut self.delta {
                delta.discard();
            }
            if !std::mem::replace(&mut self.failing, true) {
                tracing::warn!(
                    target: "obs_runtime",
                    "cannot push metrics to {}: {}; this interval's {points} points are lost \
                     (counted in obs_metric_points_dropped_total), the next interval is pushed \
                     as usual",
                    self.config.transport.endpoint,
                    failure.reason,
                );
            }
        }
    }
}

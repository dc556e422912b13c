//! The exporter's own counts on the page: spans exported, and dropped by reason (and tail
//! sampling's decisions, from [`tail`](super::tail)).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::exposition::{Collector, Labels, MetricKind};

/// Set once a pipeline has run: the counters are on the page from then on.
pub(crate) static EVER_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Spans sent and acknowledged.
pub(crate) static EXPORTED: AtomicU64 = AtomicU64::new(0);
/// Spans dropped because the queue was full: the exporter fell behind.
pub(crate) static DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
/// Spans dropped because the backend refused them or did not answer.
pub(crate) static DROPPED_EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);
/// Spans the backend accepted a batch of but rejected (an OTLP partial success).
pub(crate) static DROPPED_REJECTED: AtomicU64 = AtomicU64::new(0);
/// Spans not sent because the TLS handshake failed (a certificate that does not verify).
pub(crate) static DROPPED_TLS: AtomicU64 = AtomicU64::new(0);
/// Spans still queued when the flush timeout ran out.
pub(crate) static DROPPED_SHUTDOWN: AtomicU64 = AtomicU64::new(0);

/// Spans exported and dropped (for every reason) since the process started.
pub(crate) fn totals() -> (u64, u64) {
    let dropped = [
        &DROPPED_QUEUE_FULL,
        &DROPPED_EXPORT_FAILED,
        &DROPPED_REJECTED,
        &DROPPED_SHUTDOWN,
        &DROPPED_TLS,
    ]
    .iter()
    .map(|c| c.load(Ordering::Relaxed))
    .sum();
    (EXPORTED.load(Ordering::Relaxed), dropped)
}

/// `obs_spans_exported_total` and `obs_spans_dropped_total{reason}`, once a pipeline ran.
pub(crate) fn collect(out: &mut Collector) {
    if !EVER_ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    out.family(
        "obs_spans_exported_total",
        MetricKind::Counter,
        "Finished spans the trace exporter sent.",
    )
    .counter(&Labels::empty(), EXPORTED.load(Ordering::Relaxed));
    let family = out.family(
        "obs_spans_dropped_total",
        MetricKind::Counter,
        "Finished spans the trace exporter dropped: queue_full (the exporter fell behind, or \
         waits to retry), export_failed (the backend refused, or did not answer within the \
         retries), rejected (the backend accepted the batch but not these spans), tls (the \
         backend's certificate did not verify), shutdown (still queued when the flush timeout \
         ran out).",
    );
    for (reason, count) in [
        ("export_failed", &DROPPED_EXPORT_FAILED),
        ("queue_full", &DROPPED_QUEUE_FULL),
        ("rejected", &DROPPED_REJECTED),
        ("shutdown", &DROPPED_SHUTDOWN),
        ("tls", &DROPPED_TLS),
    ] {
        let mut labels = Labels::empty();
        labels.push("reason", reason);
        family.counter(&labels, count.load(Ordering::Relaxed));
    }
    super::tail::collect(out);
}

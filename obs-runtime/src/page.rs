//! The page: everything `/metrics` shows, gathered from each part that records.
//!
//! The order of the gathering is the order of precedence when two parts name one family (the
//! first `# HELP` and type seen win): the attribute sites, the `metrics` facade, the process's
//! own metrics, the trace exporter's span counters, the metrics pusher's point counters
//! ([`push`]), then the service's `target_info`.

use std::sync::RwLock;

use crate::exposition::{Collector, Labels, MetricKind};
use crate::sync::{read, write};

mod push;

pub use push::MetricsExporter;
pub(crate) use push::{PushConfig, totals as metric_point_totals};
#[cfg(feature = "otlp")]
pub(crate) use push::{bench_encode as bench_push_encode, start as start_push};

/// The `service_name` of `target_info`, set by the latest install.
static SERVICE_NAME: RwLock<Option<String>> = RwLock::new(None);

/// Sets (or, with `None`, clears) the service `target_info` names.
pub(crate) fn set_service_name(name: Option<String>) {
    *write(&SERVICE_NAME) = name;
}

/// The service's name, as the latest install set it.
pub(crate) fn service_name() -> Option<String> {
    read(&SERVICE_NAME).clone()
}

/// Renders every instrumented function, and everything recorded through the `metrics` facade
/// once [`init`](crate::init) has installed its recorder, as Prometheus text format 0.0.4.
///
/// It needs no [`init`](crate::init): calls made before it are all there. Output is
/// deterministic: families by name, series by labels.
///
/// ```rust,standalone_crate
/// #[obs_runtime::counted]
/// fn ping() {}
///
/// ping();
/// let page = obs_runtime::render();
/// assert!(page.contains("# TYPE function_calls_total counter"));
/// assert!(page.contains(r#"function_calls_total{function="ping",module="rust_out",status="ok"} 1"#));
/// ```
pub fn render() -> String {
    collect().finish()
}

/// Renders the same page as [`render`], as OpenMetrics 1.0 text (content type
/// [`OPENMETRICS_CONTENT_TYPE`](crate::OPENMETRICS_CONTENT_TYPE)): what `/metrics` answers a
/// scraper that asks for it, as Prometheus does.
///
/// It is the format that carries exemplars: each `#[timed]` bucket and `#[counted]` series (and
/// each facade histogram bucket and counter) shows the trace and span ids of the latest sampled
/// span that recorded into it, the value recorded and when. Counter families are named without
/// `_total` (their samples keep it), and the page ends with `# EOF`.
///
/// ```rust,standalone_crate
/// #[obs_runtime::counted]
/// fn ping() {}
///
/// ping();
/// let page = obs_runtime::render_openmetrics();
/// assert!(page.contains("# TYPE function_calls counter\n"));
/// assert!(page.contains(r#"function_calls_total{function="ping",module="rust_out",status="ok"} 1"#));
/// assert!(page.ends_with("# EOF\n"));
/// ```
pub fn render_openmetrics() -> String {
    collect().finish_openmetrics()
}

/// Renders the same page as [`render`] in Prometheus's protobuf exposition (content type
/// [`PROTOBUF_CONTENT_TYPE`](crate::PROTOBUF_CONTENT_TYPE): delimited
/// `io.prometheus.client.MetricFamily` messages): what `/metrics` answers a scraper that asks
/// for it, as Prometheus does with native histograms enabled. Histograms carry their native
/// buckets when they keep them (`#[timed(native)]`, [`Builder::native_histograms`](crate::Builder::native_histograms)),
/// beside their classic ones; counters and histograms carry their exemplars and the process's
/// start as their created timestamp.
pub fn render_protobuf() -> Vec<u8> {
    collect_into(Collector::with_native()).finish_protobuf(started_unix_nanos())
}

/// When every series started from zero: the process's start (Linux), else the first reading
/// of obs's clock.
fn started_unix_nanos() -> u64 {
    crate::metrics::process_start_unix_nanos()
        .unwrap_or_else(|| crate::clock::unix_nanos(crate::clock::raw()))
}

/// Everything the page shows, gathered.
fn collect() -> Collector {
    collect_into(Collector::new())
}

/// Everything the page shows, gathered into `out`.
fn collect_into(mut out: Collector) -> Collector {
    crate::metrics::collect(&mut out);
    crate::traces::collect(&mut out);
    crate::logs::collect_export(&mut out);
    push::collect(&mut out);
    target_info(&mut out);
    out
}

/// `target_info`, OTel's series for the resource, when a service name is set.
fn target_info(out: &mut Collector) {
    let name = read(&SERVICE_NAME);
    if let Some(name) = name.as_deref() {
        let mut labels = Labels::empty();
        labels.push("service_name", name);
        out.family(
            "target_info",
            MetricKind::Gauge,
            "Target metadata: the service this page describes.",
        )
        .gauge(&labels, 1.0);
    }
}

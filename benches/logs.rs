//! What an event costs the thread that emits it: shipped as an OTLP log record
//! (`OTEL_LOGS_EXPORTER=otlp`) beside the same event written as a JSON line, in one run.
//!
//! ```text
//! cargo bench -p obs-benches --bench logs 2>/dev/null
//! ```
//!
//! Standard error goes to `/dev/null` (the JSON lines are written there: one `write` system
//! call per line, to a device that discards it). Each case runs one `tracing::info!` with a
//! message and two fields inside an entered span with one field, under its own subscriber
//! (`tracing::subscriber::with_default`), in this order:
//!
//! The span is sampled (a console trace exporter, which prints it once on standard output at
//! the end), so both the line and the record carry its trace ids.
//!
//! - `logs/floor`: a `Registry` with obs's `trace_layer()` and no log layer: the event is not
//!   enabled, what `tracing::info!` costs when nothing wants it;
//! - `logs/json_line`: obs's `log_layer(LogFormat::Json)` (the line, its `context` and trace
//!   ids, written to standard error);
//! - `logs/otlp_record`: obs's `otlp_log_layer()`, a logs exporter sending OTLP/HTTP to a
//!   local receiver (a loopback listener that reads each request and answers `200`).
//!
//! The target: `otlp_record` ≤ `json_line`. After the OTLP case, outside the timed loop, one
//! `check` line on standard output says how many records were exported and dropped (a full
//! queue drops after the record is built, so drops do not make the case cheaper by much, but
//! they are reported).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use tracing_subscriber::layer::SubscriberExt as _;

/// A loopback OTLP/HTTP endpoint that reads every request and answers `200`.
fn sink() -> String {
    let addr = obs_testkit::collector("200 OK", Duration::ZERO);
    format!("http://{addr}/v1/logs")
}

fn event() {
    tracing::info!(
        order = black_box(7_u64),
        user = "ann",
        "paid {}",
        black_box(3)
    );
}

fn run<S>(c: &mut Criterion, name: &str, subscriber: S)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("checkout", session_id = "s-1");
        let _entered = span.enter();
        c.bench_function(name, |b| b.iter(event));
    });
}

fn page_value(page: &str, series: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let endpoint = sink();
    let obs = obs_runtime::Builder::new()
        .env(|_| None)
        .without_subscriber()
        .without_server()
        .traces_exporter(obs_runtime::TracesExporter::Console)
        .logs_exporter(obs_runtime::LogsExporter::Otlp)
        .logs_endpoint(endpoint)
        .flush_timeout(Duration::from_secs(5))
        .install()
        .expect("install");

    let registry = || tracing_subscriber::registry().with(obs_runtime::trace_layer());
    run(&mut c, "logs/floor", registry());
    run(
        &mut c,
        "logs/json_line",
        registry().with(obs_runtime::log_layer(obs_runtime::LogFormat::Json)),
    );
    run(
        &mut c,
        "logs/otlp_record",
        registry().with(obs_runtime::otlp_log_layer()),
    );
    drop(obs);
    let page = obs_runtime::render();
    println!(
        "check otlp_record: {} records exported, {} dropped",
        page_value(&page, "obs_logs_exported_total"),
        page_value(&page, "obs_logs_dropped_total"),
    );
    c.final_summary();
}

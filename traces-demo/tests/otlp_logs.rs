//! Logs shipped over OTLP, as a collector sees them (`OTEL_LOGS_EXPORTER=otlp`): each event a
//! record with its severity, body, typed fields, the fields of its spans and the trace context
//! of the span it was written in (checked against the spans exported beside it), over HTTP and
//! gRPC; the logs filter; a full queue that drops and counts; `log` crate records.

// Counts and fields are whole numbers or exact binary fractions, read back exactly.
#![allow(clippy::float_cmp)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::sync::Mutex;
use std::time::Duration;

use otlp_receiver::logs::{LogRecord, LogsReceiver};
use otlp_receiver::{Attr, Receiver};

/// Tests that install obs in this process take turns: the subscriber and the counters are the
/// process's.
static IN_PROCESS: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs obs reading only `vars`, with no server and no lines on standard error.
fn install(vars: Vec<(String, String)>) -> obs_runtime::ObsGuard {
    obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_secs(2))
        .install()
        .expect("install")
}

fn page_value(name: &str, reason: &str) -> Option<f64> {
    common::Page::parse(&obs_runtime::render()).value(name, &[("reason", reason)])
}

const REASONS: [&str; 5] = ["export_failed", "queue_full", "rejected", "shutdown", "tls"];

fn dropped_total() -> f64 {
    REASONS
        .iter()
        .map(|r| page_value("obs_logs_dropped_total", r).unwrap_or(0.0))
        .sum()
}

fn exported_total() -> f64 {
    common::Page::parse(&obs_runtime::render())
        .value("obs_logs_exported_total", &[])
        .unwrap_or(0.0)
}

/// The workload: events at every level, inside nested spans and outside any, one target
/// the filter turns off. `run` tells the records apart.
fn workload(run: &str) {
    let outer = tracing::info_span!("checkout", session_id = "s-1", attempt = 1_i64, run);
    let entered = outer.enter();
    {
        let inner = tracing::info_span!("charge", attempt = 2_i64, card = "visa");
        let _inner = inner.enter();
        tracing::info!(
            order = 7_u64,
            paid = true,
            amount = 9.5,
            user = "ann",
            big = u64::MAX,
            "paid {}",
            3
        );
        tracing::warn!(retry = 1_i64, "slow {run}");
        tracing::error!(attempt = 9_i64, "failed {run}");
        tracing::debug!("hidden {run}");
        tracing::info!(target: "noisy", "noise {run}");
    }
    drop(entered);
    drop(outer);
    tracing::info!("outside {run}");
}

fn find<'a>(records: &'a [LogRecord], body: &str) -> &'a LogRecord {
    records
        .iter()
        .find(|r| r.body() == body)
        .unwrap_or_else(|| panic!("no record {body:?} in {records:#?}"))
}

fn ships_records_with_their_trace_context(logs: &LogsReceiver, run: &str) {
    let traces = Receiver::http();
    let mut vars = logs.env();
    vars.extend(otlp_receiver::env(&[
        ("OTEL_SERVICE_NAME", "shop"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("http://{}/v1/traces", traces.addr),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("RUST_LOG", "debug"), // the stderr lines' filter: OBS_LOGS_FILTER wins for records
        ("OBS_LOGS_FILTER", "info,noisy=off"),
    ]));
    let obs = install(vars);
    workload(run);
    let outside = format!("outside {run}");
    logs.wait_for(Duration::from_secs(5), |r| r.body() == outside);
    traces.wait_for(2, Duration::from_secs(5));
    drop(obs);

    let records: Vec<LogRecord> = logs
        .records()
        .into_iter()
        .filter(|r| r.body().ends_with(run) || r.attr("run").is_some_and(|v| v.str() == Some(run)))
        .collect();
    let spans = traces.spans();
    let charge = spans
        .iter()
        .find(|s| s.name == "charge")
        .expect("charge span");
    let checkout = spans
        .iter()
        .find(|s| s.name == "checkout")
        .expect("checkout span");

    let paid = find(&records, "paid 3");
    assert_eq!(
        (paid.severity_number, paid.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(paid.service, "shop");
    assert_eq!(paid.scope, "otlp_logs", "the target names the scope");
    assert!(paid.event_name.starts_with("event "), "{}", paid.event_name);
    assert!(paid.time_unix_nano > 0);
    assert_eq!(paid.observed_time_unix_nano, paid.time_unix_nano);
    // The span it was written in, sampled: its ids and flags.
    assert_eq!(paid.trace_id, charge.trace_id);
    assert_eq!(paid.span_id, charge.span_id);
    assert_eq!(charge.trace_id, checkout.trace_id);
    assert_eq!(paid.flags, 1);
    // Its own fields, typed; the spans' fields, the inner span's value winning.
    let expect = [
        ("order", Attr::Int(7)),
        ("paid", Attr::Bool(true)),
        ("amount", Attr::Double(9.5)),
        ("user", Attr::Str("ann".into())),
        ("big", Attr::Str(u64::MAX.to_string())),
        ("session_id", Attr::Str("s-1".into())),
        ("attempt", Attr::Int(2)),
        ("card", Attr::Str("visa".into())),
        ("run", Attr::Str(run.into())),
    ];
    for (key, value) in expect {
        assert_eq!(paid.attr(key), Some(&value), "{key} in {paid:#?}");
    }
    assert!(paid.attr("message").is_none());

    let slow = find(&records, &format!("slow {run}"));
    assert_eq!(
        (slow.severity_number, slow.severity_text.as_str()),
        (13, "WARN")
    );
    let failed = find(&records, &format!("failed {run}"));
    assert_eq!(
        (failed.severity_number, failed.severity_text.as_str()),
        (17, "ERROR")
    );
    assert_eq!(
        failed.attr("attempt"),
        Some(&Attr::Int(9)),
        "the event's own field wins"
    );
    assert_eq!(failed.span_id, charge.span_id);

    // Outside any span: no trace context, no span fields.
    let outside = find(&records, &outside);
    assert!(outside.trace_id.is_empty() && outside.span_id.is_empty());
    assert!(outside.attributes.is_empty(), "{outside:#?}");

    // OBS_LOGS_FILTER, not RUST_LOG: no debug, nothing of `noisy`.
    assert!(
        records.iter().all(|r| r.severity_number >= 9),
        "{records:#?}"
    );
    assert!(records.iter().all(|r| r.scope != "noisy"), "{records:#?}");
    assert_eq!(records.len(), 4, "{records:#?}");
}

#[test]
fn records_carry_severity_fields_and_the_trace_of_their_span_over_http() {
    let _turn = one_at_a_time();
    ships_records_with_their_trace_context(&LogsReceiver::http(), "over-http");
}

#[test]
fn records_carry_severity_fields_and_the_trace_of_their_span_over_grpc() {
    let _turn = one_at_a_time();
    ships_records_with_their_trace_context(&LogsReceiver::grpc(), "over-grpc");
}

#[test]
fn a_full_queue_drops_and_counts_every_record() {
    let _turn = one_at_a_time();
    // A collector that never answers holds the worker on its first batch while the
    // application keeps logging into a queue of four.
    let hole = otlp_receiver::black_hole();
    let endpoint = format!("http://{hole}/v1/logs");
    let obs = install(otlp_receiver::env(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "500"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "4"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "500"),
    ]));
    // Every reason is on the page from the start.
    for reason in REASONS {
        assert!(
            page_value("obs_logs_dropped_total", reason).is_some(),
            "{reason}: {}",
            obs_runtime::render()
        );
    }
    let (exported, dropped, full) = (
        exported_total(),
        dropped_total(),
        page_value("obs_logs_dropped_total", "queue_full").unwrap_or(0.0),
    );
    for i in 0..200 {
        tracing::info!(i, "flood");
    }
    drop(obs);
    // Every record is accounted for once the worker gives up on the black hole.
    let _ = obs_testkit::wait_until(Duration::from_secs(10), || {
        (exported_total() - exported + dropped_total() - dropped >= 200.0)
            .then_some(())
            .ok_or(())
    });
    assert_eq!(exported_total(), exported, "nothing reached the black hole");
    assert_eq!(
        dropped_total() - dropped,
        200.0,
        "{}",
        obs_runtime::render()
    );
    let full_now = page_value("obs_logs_dropped_total", "queue_full").unwrap();
    assert!(
        full_now - full >= 190.0,
        "queue_full grew by {}",
        full_now - full
    );
}

#[test]
fn log_crate_records_arrive_when_the_app_forwards_them_with_tracing_log() {
    let _turn = one_at_a_time();
    tracing_log::LogTracer::init().expect("no other logger");
    let logs = LogsReceiver::http();
    let mut vars = logs.env();
    vars.push(("OTEL_TRACES_EXPORTER".into(), "none".into()));
    let obs = install(vars);
    log::warn!(target: "legacy::db", "pool exhausted after {} tries", 3);
    let records = logs.wait_for(Duration::from_secs(5), |r| r.scope == "legacy::db");
    drop(obs);
    let record = find(&records, "pool exhausted after 3 tries");
    assert_eq!(record.scope, "legacy::db", "the log record's own target");
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (13, "WARN")
    );
    assert!(record.attr("log.target").is_none(), "{record:#?}");
}

/// In a child test: installs obs with its own subscriber (`init()`'s), console spans, and
/// records shipped over OTLP to the parent's receiver (`CHILD_LOGS_ENDPOINT`), `vars` added.
fn install_child(vars: &[(&str, &str)]) -> obs_runtime::ObsGuard {
    let endpoint = std::env::var("CHILD_LOGS_ENDPOINT").expect("run by the parent test");
    let mut all = vec![
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &endpoint),
    ];
    all.extend_from_slice(vars);
    let vars = otlp_receiver::env(&all);
    obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .install()
        .expect("install")
}

/// The child of [`stderr_lines_stay_on_beside_the_records`]: run by it alone (`--ignored`),
/// so its subscriber writes JSON lines to a standard error the parent reads.
#[test]
#[ignore = "run by stderr_lines_stay_on_beside_the_records in a process of its own"]
fn child_writes_a_json_line_and_ships_a_record() {
    let obs = install_child(&[("OBS_LOG_FORMAT", "json")]);
    let span = tracing::info_span!("job", job_id = 42_i64);
    span.in_scope(|| tracing::info!(rows = 3_i64, "imported"));
    drop(span);
    drop(obs);
}

#[test]
fn stderr_lines_stay_on_beside_the_records() {
    let logs = LogsReceiver::http();
    let endpoint = format!("http://{}/v1/logs", logs.addr);
    let stderr = obs_testkit::child_test(
        "child_writes_a_json_line_and_ships_a_record",
        &[("CHILD_LOGS_ENDPOINT", &endpoint)],
    );
    let line = stderr
        .lines()
        .find(|l| l.contains(r#""message":"imported""#))
        .unwrap_or_else(|| panic!("no JSON line on stderr: {stderr}"));
    let records = logs.wait_for(Duration::from_secs(5), |r| r.body() == "imported");
    let record = find(&records, "imported");
    assert!(!record.trace_id.is_empty());
    assert!(
        line.contains(&format!(r#""trace_id":"{}""#, record.trace_id)),
        "the line and the record carry the same trace id: {line} / {record:#?}"
    );
    assert_eq!(record.attr("job_id"), Some(&Attr::Int(42)));
    assert_eq!(record.attr("rows"), Some(&Attr::Int(3)));
}

/// The child of [`records_pass_a_text_filter_narrower_than_the_logs_filter`]: text lines at
/// `warn`, records at `info`, in a process of its own (`init()`'s global subscriber).
#[test]
#[ignore = "run by records_pass_a_text_filter_narrower_than_the_logs_filter in a process of its own"]
fn child_writes_text_at_warn_and_ships_info_records() {
    let obs = install_child(&[
        ("OBS_LOG_FORMAT", "text"),
        ("RUST_LOG", "warn"),
        ("OBS_LOGS_FILTER", "info"),
    ]);
    let span = tracing::info_span!("job", job_id = 42_i64);
    span.in_scope(|| {
        tracing::info!(rows = 3_i64, "imported quietly");
        tracing::warn!(rows = 4_i64, "imported loudly");
    });
    drop(span);
    drop(obs);
}

/// `init()`'s OTLP log layer filters by itself beside the text lines (`GatedLogs`): an event
/// the stderr filter leaves out still ships when the logs filter lets it through, with the
/// fields and trace id of its span; the line does not reach standard error.
#[test]
fn records_pass_a_text_filter_narrower_than_the_logs_filter() {
    let logs = LogsReceiver::http();
    let endpoint = format!("http://{}/v1/logs", logs.addr);
    let stderr = obs_testkit::child_test(
        "child_writes_text_at_warn_and_ships_info_records",
        &[("CHILD_LOGS_ENDPOINT", &endpoint)],
    );
    assert!(!stderr.contains("imported quietly"), "{stderr}");
    assert!(stderr.contains("imported loudly"), "{stderr}");
    let records = logs.wait_for(Duration::from_secs(5), |r| r.body() == "imported loudly");
    for (body, rows) in [("imported quietly", 3), ("imported loudly", 4)] {
        let record = find(&records, body);
        assert!(!record.trace_id.is_empty(), "{record:#?}");
        assert_eq!(record.attr("job_id"), Some(&Attr::Int(42)), "{record:#?}");
        assert_eq!(record.attr("rows"), Some(&Attr::Int(rows)), "{record:#?}");
    }
}

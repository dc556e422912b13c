//! A collector that fails: down, answering 5xx, or answering late. The application keeps
//! going, every span is accounted for (exported, or dropped and counted by reason), and
//! dropping the guard returns within the flush timeout. No timed assertion on the calls
//! themselves (their cost is the span bench's business): counts, and bounded waits.

// Span counts are whole numbers, written and read back exactly.
#![allow(clippy::float_cmp)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use otlp_receiver::dead_port;

/// Tests that install obs in this process take turns: one exporter is active at a time, and
/// the span counters are the process's.
static IN_PROCESS: Mutex<()> = Mutex::new(());

#[obs_runtime::traced]
fn work(i: u32) -> u32 {
    i
}

/// How long dropping the guard may take: its flush timeout is 500 ms and the export timeout
/// 10 s by default, so a drop that waited for the export would take 10 s; the bound leaves a
/// loaded CI machine 10× the flush timeout (a 50 ms bound on a call failed there at 150 ms).
const DROP_BOUND: Duration = Duration::from_secs(5);

/// `(exported, queue_full, export_failed, shutdown)` from the page.
fn counts() -> (f64, f64, f64, f64) {
    let page = common::Page::parse(&obs_runtime::render());
    let dropped = |reason| {
        page.value("obs_spans_dropped_total", &[("reason", reason)])
            .unwrap_or(0.0)
    };
    (
        page.value("obs_spans_exported_total", &[]).unwrap_or(0.0),
        dropped("queue_full"),
        dropped("export_failed"),
        dropped("shutdown"),
    )
}

/// Installs obs exporting over OTLP/HTTP to `endpoint`, makes `spans` spans, drops the guard;
/// returns how long the drop took and the counts it added, once they account for every span
/// (waiting at most five seconds for a worker still blocked in an export).
fn run(endpoint: &str, spans: u32, extra: &[(&str, &str)]) -> (Duration, [f64; 4]) {
    let mut vars: Vec<(String, String)> = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let before = counts();
    let obs = obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_millis(500))
        .install()
        .expect("install");
    for i in 0..spans {
        assert_eq!(work(i), i);
    }
    let start = Instant::now();
    drop(obs);
    let dropping = start.elapsed();
    let added = obs_testkit::wait_until(Duration::from_secs(5), || {
        let now = counts();
        let added = [
            now.0 - before.0,
            now.1 - before.1,
            now.2 - before.2,
            now.3 - before.3,
        ];
        if added.iter().sum::<f64>() >= f64::from(spans) {
            Ok(added)
        } else {
            Err(added)
        }
    });
    (dropping, added.unwrap_or_else(|short| short))
}

#[test]
fn a_collector_that_answers_5xx_costs_every_span_as_export_failed() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let addr = obs_testkit::collector("503 Service Unavailable", Duration::ZERO);
    let (dropping, [exported, queue_full, failed, shutdown]) =
        run(&format!("http://{addr}"), 3000, &[]);
    assert_eq!(exported, 0.0);
    assert!(failed > 0.0, "{failed}");
    assert_eq!(
        queue_full + failed + shutdown,
        3000.0,
        "every span accounted for"
    );
    assert!(dropping < DROP_BOUND, "{dropping:?}");
}

#[test]
fn a_collector_that_answers_late_is_given_up_on_and_counted() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let addr = obs_testkit::collector("200 OK", Duration::from_millis(400));
    let (dropping, [exported, queue_full, failed, shutdown]) = run(
        &format!("http://{addr}"),
        2000,
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "100")],
    );
    assert_eq!(exported, 0.0, "every answer came after the timeout");
    assert!(failed > 0.0, "{failed}");
    assert_eq!(
        queue_full + failed + shutdown,
        2000.0,
        "every span accounted for"
    );
    assert!(dropping < DROP_BOUND, "{dropping:?}");
}

#[test]
fn a_collector_that_is_down_loses_spans_counted_never_the_calls() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Many more spans than the queue holds (2048 by default): memory stays bounded by
    // dropping, and every span is counted.
    let (dropping, [exported, queue_full, failed, shutdown]) =
        run(&format!("http://127.0.0.1:{}", dead_port()), 50_000, &[]);
    assert_eq!(exported, 0.0);
    assert_eq!(
        queue_full + failed + shutdown,
        50_000.0,
        "every span accounted for"
    );
    assert!(dropping < DROP_BOUND, "{dropping:?}");
}

#[test]
fn a_healthy_collector_gets_every_span() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let receiver = otlp_receiver::Receiver::http();
    let (_, [exported, queue_full, failed, shutdown]) = run(&receiver.endpoint(), 3000, &[]);
    assert_eq!(
        (exported, queue_full, failed, shutdown),
        (3000.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(receiver.spans().len(), 3000);
}

/// Installs obs exporting to `receiver`, makes `spans` spans, and waits (at most `wait`) for
/// the receiver to have them before dropping the guard; returns the counts added.
fn run_until_received(receiver: &otlp_receiver::Receiver, spans: u32, wait: Duration) -> [f64; 4] {
    let vars = receiver.env();
    let before = counts();
    let obs = obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_secs(2))
        .install()
        .expect("install");
    for i in 0..spans {
        assert_eq!(work(i), i);
    }
    receiver.wait_for(spans as usize, wait);
    drop(obs);
    let now = counts();
    [
        now.0 - before.0,
        now.1 - before.1,
        now.2 - before.2,
        now.3 - before.3,
    ]
}

#[test]
fn a_collector_answering_503_with_retry_after_gets_every_span_exactly_once() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let busy = "503 Service Unavailable\r\nRetry-After: 1";
    let receiver = otlp_receiver::Receiver::http_answering(&[busy, busy, busy]);
    let start = Instant::now();
    let added = run_until_received(&receiver, 1000, Duration::from_secs(20));
    assert_eq!(
        added,
        [1000.0, 0.0, 0.0, 0.0],
        "exported, and nothing dropped"
    );
    // Retry-After was honoured: three waits of a second before the fourth attempt.
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let spans = receiver.spans();
    let mut ids: Vec<_> = spans.iter().map(|s| s.span_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (spans.len(), ids.len()),
        (1000, 1000),
        "every span exactly once"
    );
    // The refused batch kept its place: the same spans were sent again until accepted.
    let requests = receiver.requests();
    assert!(requests[..3].iter().all(|r| r.status.starts_with("503")));
    assert!(
        requests[..4]
            .iter()
            .all(|r| r.span_ids == requests[0].span_ids)
    );
    assert!(
        requests[3].status.starts_with("200"),
        "{:?}",
        requests[3].status
    );
}

#[test]
fn a_collector_answering_400_gets_each_batch_once() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let refusals = vec!["400 Bad Request"; 100];
    let receiver = otlp_receiver::Receiver::http_answering(&refusals);
    let (_, [exported, queue_full, failed, shutdown]) = run(&receiver.endpoint(), 2000, &[]);
    assert_eq!(
        (exported, queue_full, failed, shutdown),
        (0.0, 0.0, 2000.0, 0.0)
    );
    // 2000 spans in batches of at most 512: each sent once, none retried.
    let requests = receiver.requests();
    let mut ids: Vec<_> = requests.iter().flat_map(|r| r.span_ids.clone()).collect();
    assert_eq!(ids.len(), 2000, "{} requests", requests.len());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2000, "no span sent twice");
    assert!(requests.iter().all(|r| r.span_ids.len() <= 512));
}

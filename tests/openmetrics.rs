//! `/metrics` as OpenMetrics for a scraper that asks for it, with exemplars that link samples to
//! the sampled spans that recorded them; today's 0.0.4 page, byte for byte, for everyone else.
//!
//! The OpenMetrics pages are read by Python `prometheus_client`'s strict parser (`.ci/run`
//! installs it; skipped with a notice outside CI when it is missing).
// Exemplar values are whole numbers or exact decimals, written and parsed without loss.
#![allow(clippy::float_cmp)]

mod common;

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use obs_runtime::{
    Builder, CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, TracesExporter, counted, timed, traced,
};

/// What Prometheus 2.42 sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The tests compare whole pages: one at a time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serve() -> (obs_runtime::ObsGuard, SocketAddr) {
    let obs = Builder::new()
        .port(0)
        .env(|_| None)
        .service_name("openmetrics-test")
        .without_process_metrics()
        // Spans are sampled only when they are exported somewhere (here: stdout).
        .traces_exporter(TracesExporter::Console)
        .install()
        .expect("init");
    let addr = obs.local_addr().expect("a server");
    (obs, addr)
}

fn scrape(addr: SocketAddr, accept: Option<&str>) -> common::Response {
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    common::raw(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

#[traced]
#[counted]
#[timed(buckets = [0.001, 0.1, 10.0])]
fn place_order(n: u64) -> u64 {
    look_up_price(n)
}

/// No span of its own: its exemplars link to the span it was called in.
#[timed(buckets = [0.001, 0.1, 10.0])]
fn look_up_price(n: u64) -> u64 {
    n * 2
}

/// Async and traced: its exemplars link to its own span, a child of the caller's.
#[traced]
#[timed(buckets = [0.001, 0.1, 10.0])]
async fn ship(n: u64) -> u64 {
    n + 1
}

/// Called outside any span: no exemplar.
#[counted]
#[timed]
fn housekeeping() {}

/// One exemplar line of the parser's output.
#[derive(Debug)]
struct Seen {
    sample: String,
    labels: serde_json::Value,
    trace_id: String,
    span_id: String,
    value: f64,
    timestamp: f64,
}

fn exemplars(page: &str) -> Option<Vec<Seen>> {
    let lines = match common::openmetrics_parse(page)? {
        Ok(lines) => lines,
        Err(e) => panic!("the OpenMetrics parser refused the page: {e}\n{page}"),
    };
    Some(
        lines
            .iter()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                assert_eq!(f.len(), 6, "{line}");
                Seen {
                    sample: f[0].to_owned(),
                    labels: serde_json::from_str(f[1]).unwrap(),
                    trace_id: f[2].to_owned(),
                    span_id: f[3].to_owned(),
                    value: f[4].parse().unwrap(),
                    timestamp: f[5].parse().unwrap(),
                }
            })
            .collect(),
    )
}

fn of<'a>(seen: &'a [Seen], sample: &str, function: &str) -> Vec<&'a Seen> {
    seen.iter()
        .filter(|s| s.sample == sample && s.labels["function"] == function)
        .collect()
}

#[test]
fn without_openmetrics_in_accept_the_page_is_render_byte_for_byte() {
    let _one = one_at_a_time();
    let (_obs, addr) = serve();
    place_order(1);
    housekeeping();
    for accept in [
        None,
        Some("text/plain"),
        Some("text/plain; version=0.0.4"),
        Some("*/*"),
        Some("application/json"),
        Some("application/openmetrics-text; version=0.0.1"),
    ] {
        // The trace exporter's own counters move while spans are exported: compare with a
        // render() that agrees with the one before it.
        let mut tries = 0;
        loop {
            let before = obs_runtime::render();
            let response = scrape(addr, accept);
            let after = obs_runtime::render();
            if before == after {
                assert_eq!(response.header("Content-Type"), Some(CONTENT_TYPE));
                assert_eq!(response.body, before, "Accept: {accept:?}");
                break;
            }
            tries += 1;
            assert!(tries < 50, "the page never held still");
        }
    }
    let page = obs_runtime::render();
    assert!(
        !page.contains("# {"),
        "no exemplar on the 0.0.4 page:\n{page}"
    );
    assert!(!page.contains("# EOF"));
    if let Some((ok, out)) = common::promtool_check_metrics(&page) {
        assert!(ok, "promtool: {out}\n{page}");
    }
}

#[test]
fn prometheus_gets_openmetrics_with_exemplars_of_the_calls_sampled_spans() {
    let _one = one_at_a_time();
    let (_obs, addr) = serve();
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    place_order(7);
    housekeeping();
    tracing::info_span!("request").in_scope(|| {
        look_up_price(1);
        futures_executor::block_on(ship(3))
    });
    tracing::info_span!("batch").in_scope(|| {
        metrics::counter!("om_jobs_total").increment(2);
        metrics::histogram!("om_job_seconds").record(0.2);
    });
    metrics::counter!("om_jobs_total", "untraced" => "yes").increment(1);

    let response = scrape(addr, Some(PROMETHEUS_ACCEPT));
    assert_eq!(
        response.header("Content-Type"),
        Some(OPENMETRICS_CONTENT_TYPE)
    );
    let page = response.body;
    assert!(page.ends_with("# EOF\n"), "{page}");
    assert!(page.contains("# TYPE function_calls counter\n"), "{page}");
    assert!(
        page.contains("# UNIT function_duration_seconds seconds\n"),
        "{page}"
    );
    let Some(seen) = exemplars(&page) else {
        return;
    };
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    // The traced call's own span, on its count and on its duration's bucket.
    let counted = of(&seen, "function_calls_total", "place_order");
    let timed = of(&seen, "function_duration_seconds_bucket", "place_order");
    assert_eq!((counted.len(), timed.len()), (1, 1), "{page}");
    let (counted, timed) = (counted[0], timed[0]);
    assert_eq!(counted.labels["status"], "ok");
    assert_eq!(counted.value, 1.0);
    assert_eq!(timed.labels["le"], "0.001", "a fast call: {page}");
    assert!(timed.value > 0.0 && timed.value <= 0.001, "{timed:?}");
    assert_eq!(
        (&timed.trace_id, &timed.span_id),
        (&counted.trace_id, &counted.span_id)
    );
    assert_eq!((timed.trace_id.len(), timed.span_id.len()), (32, 16));
    assert!(
        timed.timestamp >= start - 1.0 && timed.timestamp <= end + 1.0,
        "{timed:?}"
    );

    // The untraced callee links to its caller's span: the latest call was in `request`.
    let callee = of(&seen, "function_duration_seconds_bucket", "look_up_price");
    assert_eq!(callee.len(), 1, "{page}");
    let request = callee[0];
    assert_ne!(
        request.trace_id, timed.trace_id,
        "request is a trace of its own"
    );

    // An async traced call links to its own span: in the request's trace, not the request.
    let shipped = of(&seen, "function_duration_seconds_bucket", "ship");
    assert_eq!(shipped.len(), 1, "{page}");
    assert_eq!(shipped[0].trace_id, request.trace_id);
    assert_ne!(
        shipped[0].span_id, request.span_id,
        "its own span, not its caller's"
    );

    // No span, no exemplar.
    assert!(of(&seen, "function_calls_total", "housekeeping").is_empty());
    assert!(of(&seen, "function_duration_seconds_bucket", "housekeeping").is_empty());

    // The facade's series, in a plain tracing span.
    let jobs: Vec<_> = seen
        .iter()
        .filter(|s| s.sample == "om_jobs_total")
        .collect();
    assert_eq!(jobs.len(), 1, "only the increment in a span: {page}");
    assert_eq!(jobs[0].value, 2.0);
    let job: Vec<_> = seen
        .iter()
        .filter(|s| s.sample == "om_job_seconds_bucket")
        .collect();
    assert_eq!(job.len(), 1, "{page}");
    assert_eq!(
        (job[0].labels["le"].as_str(), job[0].value),
        (Some("0.25"), 0.2)
    );
    assert_eq!(job[0].trace_id, jobs[0].trace_id);
    assert_ne!(job[0].trace_id, timed.trace_id, "another trace");
}

#[test]
fn render_openmetrics_is_the_same_series_in_the_other_format() {
    let _one = one_at_a_time();
    housekeeping();
    let page = obs_runtime::render_openmetrics();
    assert!(page.ends_with("# EOF\n"));
    assert!(page.contains(
        r#"function_calls_total{function="housekeeping",module="openmetrics",status="ok"} "#
    ));
    assert!(page.contains("# TYPE function_duration_seconds histogram\n"));
    assert!(!page.contains("# obs:"));
    if let Some(seen) = exemplars(&page) {
        assert!(of(&seen, "function_calls_total", "housekeeping").is_empty());
    }
}

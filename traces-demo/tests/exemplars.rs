//! From a latency spike to its trace: a real Prometheus with exemplar storage scrapes the
//! quickstart (built with `--features otlp`) while it exports its spans to an OTLP receiver, and
//! the exemplars Prometheus stored name traces and spans the receiver got.
//!
//! Here, not beside `tests/prometheus.rs`: this package has the receiver and the OpenTelemetry
//! stack as dev-dependencies, which the root package keeps out of its tests on purpose.
//! Needs Debian's `prometheus` package (2.42 has `--enable-feature=exemplar-storage`; `.ci/run`
//! installs it); skipped with a notice outside CI when it is missing.

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::prometheus::{self, Prometheus, wait_for};
use otlp_receiver::Receiver;

/// Orders the quickstart runs (one every 50 ms).
const ORDERS: u32 = 40;

/// Kills the example when the test ends, whatever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The root package's quickstart, built with OTLP export.
fn quickstart() -> PathBuf {
    let args = ["--package", "obs", "--features", "otlp"];
    let mut built = common::examples(&args, &["quickstart"]);
    built.remove(0).1
}

/// `(function, trace_id, span_id)` of every exemplar Prometheus stored for the duration buckets.
fn stored_exemplars(prom: &Prometheus) -> Vec<(String, String, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let json = prom.api(&format!(
        "/api/v1/query_exemplars?query={}&start={}&end={}",
        prometheus::encode("function_duration_seconds_bucket"),
        now - 600,
        now + 60
    ));
    let mut out = Vec::new();
    for series in json["data"].as_array().unwrap() {
        let function = series["seriesLabels"]["function"]
            .as_str()
            .unwrap_or_default();
        for e in series["exemplars"].as_array().unwrap() {
            let label = |k: &str| e["labels"][k].as_str().unwrap_or_default().to_owned();
            out.push((function.to_owned(), label("trace_id"), label("span_id")));
        }
    }
    out
}

#[test]
fn prometheus_stores_exemplars_whose_traces_the_otlp_receiver_got() {
    let Some(binary) = prometheus::binary() else {
        return;
    };
    let receiver = Receiver::grpc();
    let mut vars = receiver.env();
    vars.push(("OTEL_EXPORTER_PROMETHEUS_PORT".into(), "0".into()));
    vars.push(("QUICKSTART_REQUESTS".into(), ORDERS.to_string()));
    let mut command = Command::new(quickstart());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("OBS_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    let mut app = command
        .envs(vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = app.stdout.take().unwrap();
    let _app = Running(app);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let target = first
        .trim_start_matches("serving http://")
        .trim_end_matches("/metrics")
        .to_owned();
    std::thread::spawn(move || lines.for_each(drop));

    let prom = Prometheus::start(
        &binary,
        "exemplars",
        &target,
        &["--enable-feature=exemplar-storage"],
    );
    let calls = || {
        prom.query(r#"sum(function_calls_total{function="handle_order"})"#)
            .first()
            .map(|(_, v)| *v)
    };
    wait_for(
        "the whole workload in Prometheus",
        Duration::from_secs(90),
        || calls() == Some(f64::from(ORDERS)),
    );
    let mut stored = Vec::new();
    wait_for(
        "exemplars of handle_order and Shop::charge",
        Duration::from_secs(30),
        || {
            stored = stored_exemplars(&prom);
            ["handle_order", "Shop::charge"]
                .iter()
                .all(|f| stored.iter().any(|(function, ..)| function == f))
        },
    );

    // Every order's span reaches the receiver within a few export delays.
    let mut spans = Vec::new();
    wait_for(
        "the orders' spans at the receiver",
        Duration::from_secs(30),
        || {
            spans = receiver.spans();
            spans.iter().filter(|s| s.name == "handle_order").count() >= ORDERS as usize
        },
    );
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    let orders: BTreeSet<(&str, &str)> = spans
        .iter()
        .filter(|s| s.name == "handle_order")
        .map(|s| (s.trace_id.as_str(), s.span_id.as_str()))
        .collect();
    for (function, trace_id, span_id) in &stored {
        assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{function}");
        assert!(
            traces.contains(trace_id.as_str()),
            "{function}'s exemplar names trace {trace_id}, which the receiver never got"
        );
        // handle_order is traced; the shop's methods are not, and link to the order's span.
        assert!(
            orders.contains(&(trace_id.as_str(), span_id.as_str())),
            "{function}'s exemplar names span {span_id}, not one of the orders' spans"
        );
    }
}

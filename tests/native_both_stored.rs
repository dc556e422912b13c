//! A real Prometheus 2.53 with `--enable-feature=native-histograms` and
//! `scrape_classic_histograms: true` scrapes a `#[timed(native)]` program and stores both
//! forms of its histogram: the native series and the classic `_bucket` ones. The generated p99
//! recording rule then gives the native answer (its `or` keeps the left side), once per
//! function, not the classic one.
//!
//! Needs Debian trixie's `prometheus` 2.53 in `OBS_PROMETHEUS_NATIVE` (`.ci/run` unpacks
//! it); skipped with a notice outside CI when it is missing. Bookworm's 2.42
//! (`tests/native_prometheus.rs`) stores the native form only.

mod common;

use std::time::{Duration, Instant};

use common::prometheus::{Prometheus, encode, native_binary, scraping_native, wait_for};

// Every call sleeps 12 ms: all land in the default classic bucket (0.01, 0.025], whose p99 is
// a linear guess near its top (0.01 + 0.015 * 0.99 = 0.02485), while the native buckets hold
// each call within 2^(1/8) of its duration.
#[obs_runtime::timed(native)]
fn steady() {
    std::thread::sleep(Duration::from_millis(12));
}

const CALLS: u32 = 20;
const NATIVE: &str = r#"function_duration_seconds{function="steady",status="ok"}"#;
const CLASSIC: &str = r#"function_duration_seconds_count{function="steady",status="ok"}"#;
const P99: &str = r#"obs:function_duration_seconds:p99_rate5m{function="steady"}"#;

/// The one sample of instant query `promql` at `time` (Prometheus's own spelling of it).
fn at(prometheus: &Prometheus, promql: &str, time: &str) -> f64 {
    let json = prometheus.api(&format!(
        "/api/v1/query?query={}&time={time}",
        encode(promql)
    ));
    let result = json["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{promql} at {time}: {json}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn with_both_forms_stored_the_p99_rule_answers_from_the_native_histogram() {
    let Some(binary) = native_binary() else {
        return;
    };
    // A first scrape before any call, so that rate() sees the calls arrive: both forms.
    let (obs, prometheus) = scraping_native(
        &binary,
        "native-both",
        "    scrape_classic_histograms: true\n",
        NATIVE,
    );
    wait_for("the classic form, empty", Duration::from_secs(60), || {
        !prometheus.query(CLASSIC).is_empty()
    });
    let mut slowest = 0f64;
    for _ in 0..CALLS {
        let start = Instant::now();
        steady();
        slowest = slowest.max(start.elapsed().as_secs_f64());
    }
    // Both forms stored, each with every call (exact: counts).
    let calls = f64::from(CALLS);
    let mut scraped = String::new();
    wait_for("both forms of the calls", Duration::from_secs(60), || {
        let native = prometheus.query(&format!("histogram_count({NATIVE})"));
        let classic = prometheus.query(CLASSIC);
        let full =
            |v: &[(serde_json::Value, f64)]| v.len() == 1 && v[0].1.to_bits() == calls.to_bits();
        if full(&native) && full(&classic) {
            let now = prometheus.api("/api/v1/query?query=time()");
            scraped = now["data"]["result"][1].as_str().unwrap().to_owned();
            return true;
        }
        false
    });
    let buckets = prometheus.query(r#"function_duration_seconds_bucket{function="steady"}"#);
    assert!(buckets.len() > 2, "classic buckets stored: {buckets:?}");

    // The rule's first sample evaluated after both forms held every call.
    let scraped: f64 = scraped.parse().unwrap();
    let mut time = String::new();
    wait_for(
        "a p99 sample of every call",
        Duration::from_secs(60),
        || {
            let stamp = prometheus.query(&format!("timestamp({P99})"));
            match stamp.first() {
                Some((_, t)) if *t >= scraped => {
                    time = format!("{t:.3}");
                    true
                }
                _ => false,
            }
        },
    );
    let rule = at(&prometheus, P99, &time);
    let native = at(
        &prometheus,
        r#"histogram_quantile(0.99, sum by (job, function, module) (rate(function_duration_seconds{function="steady"}[5m])))"#,
        &time,
    );
    let classic = at(
        &prometheus,
        r#"histogram_quantile(0.99, sum by (job, function, module, le) (rate(function_duration_seconds_bucket{function="steady"}[5m])))"#,
        &time,
    );
    assert_eq!(
        rule.to_bits(),
        native.to_bits(),
        "rule {rule}, native {native}, classic {classic}"
    );
    assert!(
        (rule - classic).abs() > 1e-6,
        "rule {rule} is the classic answer {classic}"
    );
    // The native p99 lies in the bucket of the slowest recorded call, which took at least the
    // 12 ms sleep and at most what the test saw around the call (a loaded machine may pause
    // the thread outside obs's clock reads: 27 ms seen around a call recorded under 25 ms),
    // so within one bucket (2^(1/8)) of that range.
    let factor = 2f64.powf(1.0 / 8.0);
    assert!(
        (0.012 / factor..=slowest * factor).contains(&rule),
        "slowest call seen {slowest}, p99 rule {rule}, classic {classic}"
    );
    let dir = prometheus.dir.clone();
    drop(prometheus);
    drop(obs);
    let _ = std::fs::remove_dir_all(dir);
}

//! A real Prometheus 2.42 with `--enable-feature=native-histograms` scrapes a program whose
//! `#[timed(native)]` fn slept known durations: it takes the protobuf page, and its native
//! histogram gives the median within the schema's resolution, the exact call count, the
//! generated p99 rule a value, and the generated latency burn alert fires on it. The text page of the same program stays as it was.
//!
//! Needs Debian's `prometheus` package (`.ci/run` installs it); skipped with a notice outside
//! CI when it is missing.

mod common;

use std::time::{Duration, Instant};

use common::prometheus::{binary, scraping_native, wait_for};

// 11 of the 21 calls (12 ms to 21 ms) miss the 10 ms objective: the latency burn alert reads
// that from the native histogram alone.
#[obs_runtime::timed(native, objective(latency = "10ms", percentile = 99))]
fn sleepy(millis: u64) {
    std::thread::sleep(Duration::from_millis(millis));
}

const SELECTOR: &str = r#"function_duration_seconds{function="sleepy",status="ok"}"#;

#[test]
fn prometheus_reads_the_native_histogram() {
    let Some(binary) = binary() else { return };
    // A first scrape before any call: the series is native (and empty) from the start.
    let (obs, prometheus) = scraping_native(&binary, "native", "", SELECTOR);
    let addr = obs.local_addr().unwrap();
    let mut took: Vec<f64> = (1..=21)
        .map(|millis| {
            let start = Instant::now();
            sleepy(millis);
            start.elapsed().as_secs_f64()
        })
        .collect();
    took.sort_by(f64::total_cmp);
    let median = took[10];
    wait_for("the calls to be scraped", Duration::from_secs(60), || {
        prometheus
            .query(&format!("histogram_count({SELECTOR})"))
            .first()
            .is_some_and(|(_, count)| count.to_bits() == 21f64.to_bits()) // exact: a count
    });
    let estimate = prometheus.query(&format!("histogram_quantile(0.5, rate({SELECTOR}[1m]))"));
    let estimate = estimate.first().expect("a quantile").1;
    // The estimate lies in the bucket of the median obs recorded, a bucket spanning a factor
    // of 2^(1/8). Each recorded duration is at least its sleep and at most what the test saw
    // around the call (a loaded machine may pause the thread outside obs's clock reads), so
    // the recorded median lies between the sleeps' median (11 ms) and the seen one.
    let factor = 2f64.powf(1.0 / 8.0);
    assert!(
        (0.011 / factor..=median * factor).contains(&estimate),
        "median seen {median}, native estimate {estimate}"
    );
    // Prometheus stored the native histogram only: no classic series of the function.
    let classic = prometheus.query(r#"function_duration_seconds_bucket{function="sleepy"}"#);
    assert!(classic.is_empty(), "{classic:?}");
    wait_for("the p99 recording rule", Duration::from_secs(60), || {
        prometheus
            .query(r#"obs:function_duration_seconds:p99_rate5m{function="sleepy"}"#)
            .first()
            .is_some_and(|(_, p99)| p99.is_finite() && *p99 > 0.011)
    });
    // The latency objective's fast burn: 11/21 slow calls against a 1 % budget, read with
    // histogram_fraction from the native histogram (there is no classic one stored).
    wait_for("the latency burn alert", Duration::from_secs(60), || {
        !prometheus
            .query(r#"ALERTS{alertname="ObsLatencyBudgetFastBurn",function="sleepy",alertstate="firing"}"#)
            .is_empty()
    });
    // A plain scrape gets today's text page, which promtool accepts.
    let text = common::request(addr, "GET", "/metrics");
    assert_eq!(
        text.header("content-type"),
        Some(obs_runtime::CONTENT_TYPE),
        "{}",
        text.status_line
    );
    assert!(
        text.body
            .contains("function_duration_seconds_bucket{function=\"sleepy\"")
    );
    assert!(!text.body.contains("schema"));
    if let Some((ok, out)) = common::promtool_check_metrics(&text.body) {
        assert!(ok, "{out}");
    }
    drop(prometheus);
    drop(obs);
}

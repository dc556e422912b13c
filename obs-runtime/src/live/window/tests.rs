use super::*;
use crate::metrics::reading::Reading;

#[test]
fn quantiles_interpolate_within_buckets_as_prometheus_does() {
    let bounds = [0.1, 0.2, 0.4];
    // promql: histogram_quantile(0.5, …) over le 0.1:10, 0.2:20, 0.4:20, +Inf:20 is 0.1.
    assert_eq!(quantile(0.5, &bounds, &[10, 10, 0, 0]), Some(0.1));
    let p95 = quantile(0.95, &bounds, &[10, 10, 0, 0]).unwrap();
    assert!((p95 - 0.19).abs() < 1e-12, "{p95}");
    // Within the first bucket, from 0.
    let p25 = quantile(0.25, &bounds, &[4, 0, 0, 0]).unwrap();
    assert!((p25 - 0.025).abs() < 1e-12, "{p25}");
    // A quantile in +Inf reads as the highest bound.
    assert_eq!(quantile(0.99, &bounds, &[1, 0, 0, 9]), Some(0.4));
    assert_eq!(quantile(0.5, &bounds, &[0, 0, 0, 0]), None);
}

fn row(key: &str, ok: u64, error: u64, buckets: [u64; 3]) -> Row {
    let mut reading = Reading::default();
    Reading::add_calls(&mut reading.counted, "ok", ok);
    Reading::add_calls(&mut reading.counted, "error", error);
    reading.bounds = vec![0.1, 1.0];
    reading.buckets = buckets.to_vec();
    reading.in_flight = Some(2);
    Row {
        key: key.into(),
        name: key.into(),
        module: "m".into(),
        route: false,
        labels: Vec::new(),
        objectives: vec![
            Objective::Success { percent: 90.0 },
            Objective::Latency {
                threshold: 0.1,
                percent: 50.0,
            },
        ],
        ok: "ok",
        not_failures: Vec::new(),
        reading,
    }
}

#[test]
fn the_minute_is_taken_from_the_newest_point_a_minute_old() {
    let t0 = started() + Duration::from_secs(1);
    tick(&[row("window-test", 10, 0, [10, 0, 0])], t0);
    tick(
        &[row("window-test", 20, 2, [20, 2, 0])],
        t0 + Duration::from_secs(30),
    );
    let now = t0 + Duration::from_secs(70);
    tick(&[row("window-test", 40, 4, [30, 10, 4])], now);
    let s = stats(&row("window-test", 40, 4, [30, 10, 4]), now);
    assert_eq!((s.calls, s.failures), (44, 4));
    assert_eq!(
        (s.calls_1m, s.failures_1m),
        (34, 4),
        "since the point at t0"
    );
    assert!((s.rate_1m - 34.0 / 70.0).abs() < 1e-9);
    assert_eq!(s.in_flight, Some(2));
    // The minute's buckets: 20, 10, 4 → p50 at rank 17 is within the first bucket.
    assert!((s.p50.unwrap() - 0.085).abs() < 1e-9, "{:?}", s.p50);
    assert_eq!(s.p99, Some(1.0), "in +Inf: the highest bound");
    // Budgets since start (the ring is not full): 4 failures of 44 against 10 % allowed.
    let success = s.budgets[0].1.unwrap();
    assert!(
        (success - (1.0 - (4.0 / 44.0) / 0.1)).abs() < 1e-9,
        "{success}"
    );
    let latency = s.budgets[1].1.unwrap();
    assert!(
        (latency - (1.0 - (14.0 / 44.0) / 0.5)).abs() < 1e-9,
        "{latency}"
    );
    // Two steps on the chart: 12 calls in 30 s, then 22 in 40 s.
    assert_eq!(s.series.len(), 2);
    assert!((s.series[0].0 - 12.0 / 30.0).abs() < 1e-9);
    assert!((s.series[1].0 - 22.0 / 40.0).abs() < 1e-9);
}

#[test]
fn a_young_row_counts_its_minute_from_start() {
    let s = stats(&row("window-young", 3, 1, [4, 0, 0]), Instant::now());
    assert_eq!((s.calls_1m, s.failures_1m), (4, 1));
    assert_eq!(ratio(s.failures_1m, s.calls_1m), Some(0.25));
}

#[test]
fn a_point_is_the_size_the_docs_say() {
    assert_eq!(size_of::<Point>(), 56);
}

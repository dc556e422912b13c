//! `#[timed(buckets = [..])]`: that fn's buckets; the same family keeps the defaults elsewhere.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::common::Page;
use crate::harness::{assert_calls, render, samples, setup};

#[traced]
#[timed(buckets = [0.001, 0.25, 2.0])]
#[counted]
#[in_flight]
fn custom_buckets() -> Result<(), String> {
    Ok(())
}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn default_buckets() {}

/// The `le` bounds and cumulative counts of `function`'s histogram for `status`.
fn buckets(page: &Page, function: &str, status: &str) -> Vec<(String, u64)> {
    samples(
        page,
        "function_duration_seconds_bucket",
        &[("function", function), ("status", status)],
    )
    .into_iter()
    .map(|s| (s.label("le").expect("an le label").to_owned(), s.count()))
    .collect()
}

#[test]
fn timed_buckets_per_function() {
    setup();
    custom_buckets().unwrap();
    custom_buckets().unwrap();
    default_buckets();
    let page = render();
    let custom = buckets(&page, "custom_buckets", "ok");
    let les: Vec<&str> = custom.iter().map(|(le, _)| le.as_str()).collect();
    assert_eq!(les, ["0.001", "0.25", "2", "+Inf"]);
    // An empty fn takes far less than 250ms: both calls are in every bucket from 0.25 up.
    assert_eq!(
        custom[1..],
        [
            ("0.25".to_owned(), 2),
            ("2".to_owned(), 2),
            ("+Inf".to_owned(), 2)
        ]
    );
    let error: Vec<String> = buckets(&page, "custom_buckets", "error")
        .into_iter()
        .map(|(le, _)| le)
        .collect();
    assert_eq!(error, ["0.001", "0.25", "2", "+Inf"]);

    let default: Vec<String> = buckets(&page, "default_buckets", "ok")
        .into_iter()
        .map(|(le, _)| le)
        .collect();
    assert_eq!(
        default,
        [
            "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    assert_calls("custom_buckets", &[("ok", 2)]);
    assert_calls("default_buckets", &[("ok", 1)]);
}

//! A real Prometheus server on loopback scrapes the quickstart every second with the rules obs
//! generated; its HTTP API must agree with the workload the example ran.
//!
//! Needs Debian's `prometheus` package (`.ci/run` installs it); skipped with a notice outside
//! CI when it is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::prometheus::{Prometheus, binary, get, wait_for};

/// Kills a child process when the test ends, whatever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An instant query's one sample, if any.
fn single(prom: &Prometheus, promql: &str) -> Option<f64> {
    let result = prom.query(promql);
    assert!(
        result.len() <= 1,
        "{promql} gave several series: {result:?}"
    );
    result.first().map(|(_, v)| *v)
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn prometheus_scrapes_the_quickstart_and_evaluates_the_generated_rules() {
    let Some(prometheus) = binary() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("obs-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("obs.rules.yml");

    // 200 orders, one every 50 ms: 140 ok, 40 out of stock, 20 payment timeouts, 20 slow.
    let mut app = Command::new(common::example("quickstart"))
        .env("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
        .env("QUICKSTART_REQUESTS", "200")
        .env("OBS_EXPORT_RULES", &rules)
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
    assert!(rules.exists(), "OBS_EXPORT_RULES wrote no file");

    let rules = std::fs::read_to_string(&rules).unwrap();
    let prom = Prometheus::start_with_rules(&prometheus, "quickstart", &target, &[], Some(&rules));

    let calls = |status: &str| {
        single(
            &prom,
            &format!(
                r#"function_calls_total{{job="quickstart",function="handle_order",status="{status}"}}"#
            ),
        )
    };
    common::eventually(
        "the whole workload in Prometheus",
        Duration::from_secs(90),
        || {
            let seen = [calls("ok"), calls("error"), calls("timeout")];
            (seen == [Some(140.0), Some(40.0), Some(20.0)])
                .then_some(())
                .ok_or(seen)
        },
    );

    // Rates over the last minute: every order of the workload was inside it.
    let rate = single(
        &prom,
        r#"sum(rate(function_calls_total{function="handle_order"}[1m]))"#,
    )
    .unwrap();
    assert!(rate > 0.5, "request rate {rate}/s");
    let ratio = single(
        &prom,
        r#"sum(rate(function_calls_total{function="handle_order",status!="ok"}[1m])) / sum(rate(function_calls_total{function="handle_order"}[1m]))"#,
    )
    .unwrap();
    assert!(
        (0.25..=0.35).contains(&ratio),
        "error ratio {ratio}, the workload's is 0.3"
    );
    // 20 of the 180 charges sleep 120 ms: the p99 lies in the (0.1, 0.25] bucket.
    let p99 = single(
        &prom,
        r#"histogram_quantile(0.99, sum by (le) (rate(function_duration_seconds_bucket{function="Shop::charge"}[1m])))"#,
    )
    .unwrap();
    assert!(p99 > 0.1 && p99 <= 0.25, "p99 of Shop::charge {p99}");

    // The generated recording rules and alerts, as Prometheus evaluated them.
    let recorded = single(
        &prom,
        r#"obs:function_calls:error_ratio_rate5m{job="quickstart",function="handle_order",module="quickstart"}"#,
    );
    wait_for(
        "the error-ratio recording rule",
        Duration::from_secs(30),
        || {
            single(
                &prom,
                r#"obs:function_calls:error_ratio_rate5m{function="handle_order"}"#,
            )
            .is_some()
        },
    );
    let recorded = recorded
        .or_else(|| {
            single(
                &prom,
                r#"obs:function_calls:error_ratio_rate5m{function="handle_order"}"#,
            )
        })
        .unwrap();
    assert!(
        (0.25..=0.35).contains(&recorded),
        "recorded error ratio {recorded}"
    );
    let p99_rule = single(
        &prom,
        r#"obs:function_duration_seconds:p99_rate5m{function="Shop::charge"}"#,
    )
    .unwrap();
    assert!(
        p99_rule > 0.1 && p99_rule <= 0.25,
        "recorded p99 {p99_rule}"
    );
    // 30 % errors against a 99 % objective: 30x the budget, so the fast burn fires.
    wait_for("the fast-burn alert", Duration::from_secs(30), || {
        !prom.query(r#"ALERTS{alertname="ObsErrorBudgetFastBurn",function="handle_order",alertstate="firing"}"#)
            .is_empty()
    });
    let (_, rules_api) = get(prom.addr, "/api/v1/rules").unwrap();
    assert!(
        !rules_api.contains(r#""health":"err""#),
        "a generated rule failed to evaluate: {rules_api}"
    );
}

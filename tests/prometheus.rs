//! A real Prometheus server on loopback scrapes the quickstart every second with the rules obs
//! generated; its HTTP API must agree with the workload the example ran.
//!
//! Needs Debian's `prometheus` package (`.ci/run` installs it); skipped with a notice outside
//! CI when it is missing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a child process when the test ends, whatever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over HTTP/1.0, so the body is neither chunked nor kept alive.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query; the vector's samples as `(labels, value)`.
fn query(prom: SocketAddr, promql: &str) -> Vec<(serde_json::Value, f64)> {
    let (code, body) =
        get(prom, &format!("/api/v1/query?query={}", encode(promql))).expect("Prometheus answers");
    assert_eq!(code, 200, "{promql}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].clone(),
                r["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn single(prom: SocketAddr, promql: &str) -> Option<f64> {
    let result = query(prom, promql);
    assert!(
        result.len() <= 1,
        "{promql} gave several series: {result:?}"
    );
    result.first().map(|(_, v)| *v)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn prometheus_binary() -> Option<PathBuf> {
    let found = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is needed in CI: apt-get install prometheus"
        );
        eprintln!("SKIPPED: no prometheus server found; apt-get install prometheus");
    }
    found
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn prometheus_scrapes_the_quickstart_and_evaluates_the_generated_rules() {
    let Some(prometheus) = prometheus_binary() else {
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

    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: quickstart\n    static_configs:\n      - targets: ['{target}']\n",
        rules.display()
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let _prom = Running(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(log_file(&dir))
            .spawn()
            .expect("start prometheus"),
    );
    wait_for("Prometheus to be ready", Duration::from_secs(60), || {
        get(prom_addr, "/-/ready").is_some_and(|(code, _)| code == 200)
    });

    let calls = |status: &str| {
        single(
            prom_addr,
            &format!(
                r#"function_calls_total{{job="quickstart",function="handle_order",status="{status}"}}"#
            ),
        )
    };
    wait_for(
        "the whole workload in Prometheus",
        Duration::from_secs(90),
        || {
            calls("ok") == Some(140.0)
                && calls("error") == Some(40.0)
                && calls("timeout") == Some(20.0)
        },
    );

    // Rates over the last minute: every order of the workload was inside it.
    let rate = single(
        prom_addr,
        r#"sum(rate(function_calls_total{function="handle_order"}[1m]))"#,
    )
    .unwrap();
    assert!(rate > 0.5, "request rate {rate}/s");
    let ratio = single(
        prom_addr,
        r#"sum(rate(function_calls_total{function="handle_order",status!="ok"}[1m])) / sum(rate(function_calls_total{function="handle_order"}[1m]))"#,
    )
    .unwrap();
    assert!(
        (0.25..=0.35).contains(&ratio),
        "error ratio {ratio}, the workload's is 0.3"
    );
    // 20 of the 180 charges sleep 120 ms: the p99 lies in the (0.1, 0.25] bucket.
    let p99 = single(
        prom_addr,
        r#"histogram_quantile(0.99, sum by (le) (rate(function_duration_seconds_bucket{function="Shop::charge"}[1m])))"#,
    )
    .unwrap();
    assert!(p99 > 0.1 && p99 <= 0.25, "p99 of Shop::charge {p99}");

    // The generated recording rules and alerts, as Prometheus evaluated them.
    let recorded = single(
        prom_addr,
        r#"obs:function_calls:error_ratio_rate5m{job="quickstart",function="handle_order",module="quickstart"}"#,
    );
    wait_for(
        "the error-ratio recording rule",
        Duration::from_secs(30),
        || {
            single(
                prom_addr,
                r#"obs:function_calls:error_ratio_rate5m{function="handle_order"}"#,
            )
            .is_some()
        },
    );
    let recorded = recorded
        .or_else(|| {
            single(
                prom_addr,
                r#"obs:function_calls:error_ratio_rate5m{function="handle_order"}"#,
            )
        })
        .unwrap();
    assert!(
        (0.25..=0.35).contains(&recorded),
        "recorded error ratio {recorded}"
    );
    let p99_rule = single(
        prom_addr,
        r#"obs:function_duration_seconds:p99_rate5m{function="Shop::charge"}"#,
    )
    .unwrap();
    assert!(
        p99_rule > 0.1 && p99_rule <= 0.25,
        "recorded p99 {p99_rule}"
    );
    // 30 % errors against a 99 % objective: 30x the budget, so the fast burn fires.
    wait_for("the fast-burn alert", Duration::from_secs(30), || {
        !query(prom_addr, r#"ALERTS{alertname="ObsErrorBudgetFastBurn",function="handle_order",alertstate="firing"}"#)
            .is_empty()
    });
    let (_, rules_api) = get(prom_addr, "/api/v1/rules").unwrap();
    assert!(
        !rules_api.contains(r#""health":"err""#),
        "a generated rule failed to evaluate: {rules_api}"
    );
}

fn log_file(dir: &Path) -> Stdio {
    std::fs::File::create(dir.join("prometheus.log")).map_or_else(|_| Stdio::null(), Stdio::from)
}

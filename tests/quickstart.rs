//! End to end: the quickstart example as a user runs it, scraped over HTTP.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Page;

/// Kills the example when the test ends, whatever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the quickstart for `requests` orders on a free port; returns it and its address.
fn start(requests: u64) -> (Running, SocketAddr) {
    let mut child = Command::new(common::example("quickstart"))
        .env("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
        .env("QUICKSTART_REQUESTS", requests.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the quickstart example");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("serving ")
        .unwrap_or_else(|| panic!("first line names the URL: {first}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    // Wait for the workload to finish, reading the rest of stdout.
    std::thread::spawn(move || lines.for_each(drop));
    (running, addr)
}

fn scrape_until(addr: SocketAddr, done: impl Fn(&Page) -> bool) -> Page {
    common::eventually("the workload on the page", Duration::from_secs(60), || {
        let page = Page::parse(&common::request(addr, "GET", "/metrics").body);
        if done(&page) {
            Ok(page)
        } else {
            Err(common::Text(page.text().to_owned()))
        }
    })
}

#[test]
fn quickstart_serves_a_valid_page_with_known_counts() {
    let (_running, addr) = start(20);
    let ok = [
        ("function", "handle_order"),
        ("module", "quickstart"),
        ("status", "ok"),
    ];
    let page = scrape_until(addr, |page| {
        page.value("function_calls_total", &ok) == Some(14.0)
    });

    let response = common::request(addr, "GET", "/metrics");
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    // 20 orders: per 10, orders 3 and 8 are out of stock and order 5 times out.
    let calls = |status: &str| {
        let labels = [
            ("function", "handle_order"),
            ("module", "quickstart"),
            ("status", status),
        ];
        page.value("function_calls_total", &labels)
    };
    assert_eq!(calls("ok"), Some(14.0), "{page}");
    assert_eq!(calls("error"), Some(4.0));
    assert_eq!(calls("timeout"), Some(2.0));
    let charge_timeouts = [
        ("function", "Shop::charge"),
        ("module", "quickstart"),
        ("status", "timeout"),
    ];
    assert_eq!(
        page.value("function_calls_total", &charge_timeouts),
        Some(2.0)
    );
    // The two slow orders (9 and 19) take over 0.1 s; their buckets say so.
    let charge = |le: &str| {
        let labels = [
            ("function", "Shop::charge"),
            ("module", "quickstart"),
            ("status", "ok"),
            ("le", le),
        ];
        page.value("function_duration_seconds_bucket", &labels)
    };
    assert_eq!(charge("+Inf"), Some(14.0));
    assert_eq!(charge("0.1"), Some(12.0));
    assert_eq!(
        page.value(
            "function_calls_in_flight",
            &[("function", "handle_order"), ("module", "quickstart")]
        ),
        Some(0.0)
    );
    // 14 orders paid 12.50 each, through the `metrics` facade.
    assert_eq!(
        page.value("shop_revenue_cents_total", &[]),
        Some(14.0 * 1250.0)
    );
    assert_eq!(
        page.value("target_info", &[("service_name", "quickstart-shop")]),
        Some(1.0)
    );

    if let Some((clean, report)) = common::promtool_check_metrics(page.text()) {
        assert!(
            clean,
            "promtool check metrics found problems:\n{report}\n{page}"
        );
    }
}

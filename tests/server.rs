//! `init()`, its builder and the `/metrics` server, as a service author meets them.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::Page;
use obs_runtime::{Builder, Error, counted, timed};

fn serve() -> (obs_runtime::ObsGuard, SocketAddr) {
    let obs = Builder::new()
        .port(0)
        .env(|_| None)
        .install()
        .expect("init");
    let addr = obs.local_addr().expect("a server");
    (obs, addr)
}

#[counted]
fn called_before_init() {}

#[test]
fn calls_made_before_init_are_on_the_first_page() {
    called_before_init();
    called_before_init();
    let (_obs, addr) = serve();
    let page = Page::parse(&common::request(addr, "GET", "/metrics").body);
    let labels = [
        ("function", "called_before_init"),
        ("module", "server"),
        ("status", "ok"),
    ];
    assert_eq!(
        page.value("function_calls_total", &labels),
        Some(2.0),
        "{page}"
    );
}

#[test]
fn get_metrics_has_the_exposition_content_type() {
    let (_obs, addr) = serve();
    let response = common::request(addr, "GET", "/metrics?debug=1");
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        response.header("Content-Type"),
        Some(obs_runtime::CONTENT_TYPE)
    );
    assert_eq!(
        obs_runtime::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let length: usize = response.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(length, response.body.len());
}

#[test]
fn head_gives_the_headers_without_a_body() {
    let (_obs, addr) = serve();
    let response = common::request(addr, "HEAD", "/metrics");
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert!(response.body.is_empty());
    assert!(
        response
            .header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 0
    );
}

#[test]
fn other_methods_and_paths_are_refused() {
    let (_obs, addr) = serve();
    let post = common::request(addr, "POST", "/metrics");
    assert_eq!(post.status_line, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        common::request(addr, "GET", "/").status_line,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        common::request(addr, "GET", "/metricsx").status_line,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        common::raw(addr, b"\x16\x03\x01 garbage\r\n\r\n").status_line,
        "HTTP/1.1 400 Bad Request"
    );
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(
        common::raw(addr, huge.as_bytes()).status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // After all that the server still serves.
    assert_eq!(
        common::request(addr, "GET", "/metrics").status_line,
        "HTTP/1.1 200 OK"
    );
}

#[test]
fn a_taken_port_is_an_error_naming_the_address_and_the_variable() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let port_text = port.to_string();
    let err = Builder::new()
        .env(move |var| (var == "OTEL_EXPORTER_PROMETHEUS_PORT").then(|| port_text.clone()))
        .install()
        .unwrap_err();
    assert!(
        matches!(err, Error::Bind { addr, .. } if addr.port() == port),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        message.contains("OTEL_EXPORTER_PROMETHEUS_PORT"),
        "{message}"
    );
}

#[test]
fn unparsable_variables_are_errors_naming_them() {
    for bad in ["http", "-1", "65536", "9464x"] {
        let err = Builder::new()
            .env(move |var| (var == "OTEL_EXPORTER_PROMETHEUS_PORT").then(|| bad.to_owned()))
            .install()
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidEnv { var: "OTEL_EXPORTER_PROMETHEUS_PORT", value, .. } if value == bad),
            "{err:?}"
        );
    }
    let err = Builder::new()
        .port(0)
        .env(|var| {
            (var == "OTEL_EXPORTER_PROMETHEUS_HOST").then(|| "no such host.invalid".to_owned())
        })
        .install()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidAddress { host, .. } if host == "no such host.invalid"),
        "{err:?}"
    );
}

#[test]
fn the_environment_sets_host_port_and_service_name() {
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let obs = Builder::new()
        .env(move |var| match var {
            "OTEL_EXPORTER_PROMETHEUS_HOST" => Some("localhost".into()),
            "OTEL_EXPORTER_PROMETHEUS_PORT" => Some(free.to_string()),
            "OTEL_SERVICE_NAME" => Some("from-env".into()),
            _ => None,
        })
        .install()
        .expect("init");
    let addr = obs.local_addr().unwrap();
    assert_eq!(addr.port(), free);
    assert!(addr.ip().is_loopback());
    assert_eq!(obs.metrics_url(), Some(format!("http://{addr}/metrics")));
}

#[test]
fn code_wins_over_the_environment() {
    let obs = Builder::new()
        .port(0)
        .host("127.0.0.1")
        .env(|var| (var == "OTEL_EXPORTER_PROMETHEUS_PORT").then(|| "not a port".to_owned()))
        .install()
        .expect("the port set in code is used, the variable is not read");
    assert_ne!(obs.local_addr().unwrap().port(), 0);
}

#[test]
fn dropping_the_guard_stops_the_server() {
    let (obs, addr) = serve();
    assert_eq!(
        common::request(addr, "GET", "/metrics").status_line,
        "HTTP/1.1 200 OK"
    );
    drop(obs);
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(refused.is_err(), "the port still accepts connections");
}

#[test]
fn without_server_serves_nothing_but_records() {
    let obs = Builder::new()
        .without_server()
        .env(|_| None)
        .install()
        .expect("init");
    assert_eq!(obs.local_addr(), None);
    assert_eq!(obs.metrics_url(), None);
}

#[test]
fn facade_metrics_share_the_page_and_histograms_have_buckets() {
    let (_obs, addr) = Builder::new()
        .port(0)
        .env(|_| None)
        .histogram_buckets("upload_size_bytes", [1024.0, 65536.0])
        .install()
        .map(|obs| {
            let addr = obs.local_addr().unwrap();
            (obs, addr)
        })
        .expect("init");
    metrics::describe_counter!("uploads_total", "Uploads received.");
    metrics::counter!("uploads_total", "kind" => "photo").increment(3);
    metrics::gauge!("upload_queue_depth").set(4.5);
    metrics::histogram!("upload_size_bytes").record(2000.0);
    metrics::histogram!("upload.latency").record(0.02);
    let page = Page::parse(&common::request(addr, "GET", "/metrics").body);
    assert!(
        page.text()
            .contains("# HELP uploads_total Uploads received.\n# TYPE uploads_total counter\n"),
        "{page}"
    );
    assert_eq!(page.value("uploads_total", &[("kind", "photo")]), Some(3.0));
    assert_eq!(page.value("upload_queue_depth", &[]), Some(4.5));
    assert!(page.text().contains("# TYPE upload_size_bytes histogram\n"));
    let size = |le: &str| page.value("upload_size_bytes_bucket", &[("le", le)]);
    assert_eq!(size("1024"), Some(0.0));
    assert_eq!(size("65536"), Some(1.0));
    assert_eq!(size("+Inf"), Some(1.0));
    // No buckets configured: OTel's defaults, never a summary.
    assert!(page.text().contains("# TYPE upload_latency histogram\n"));
    assert_eq!(
        page.value("upload_latency_bucket", &[("le", "0.025")]),
        Some(1.0)
    );
    assert!(!page.text().contains("summary"));
}

#[test]
fn invalid_facade_buckets_are_an_error() {
    let err = Builder::new()
        .without_server()
        .histogram_buckets("x_seconds", [1.0, 0.5])
        .install()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("strictly increasing: 0.5 follows 1"),
        "{err}"
    );
    let err = Builder::new()
        .without_server()
        .histogram_buckets_prefix("x_", Vec::new())
        .install()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidBuckets { .. }), "{err}");
}

#[timed(buckets = [0.5, 1.0])]
fn slow_path() {}

#[test]
fn the_page_is_deterministic_and_passes_promtool() {
    slow_path();
    called_before_init();
    // Only counts can differ between two renders of the same series; the order of lines
    // does not. Other tests of this binary add series meanwhile (installs put the process's
    // metrics on the page), so two renders are compared until a pair saw the same series: an
    // order that depended on anything but the series would never give a matching pair.
    let shape = |page: &Page| {
        let samples: Vec<_> = page
            .samples()
            .iter()
            .map(|s| (s.line, s.name.clone(), s.labels.clone()))
            .collect();
        (
            page.text().lines().count(),
            page.families().to_vec(),
            samples,
        )
    };
    let mut tries = 0;
    let first = loop {
        let first = Page::parse(&obs_runtime::render());
        let second = Page::parse(&obs_runtime::render());
        if shape(&first) == shape(&second) {
            break first;
        }
        tries += 1;
        assert!(tries < 50, "no two renders in a row had the same shape");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The parser refuses a second HELP for a name; each family is listed once.
    let mut names = std::collections::HashSet::new();
    for family in first.families() {
        assert!(names.insert(&family.name), "two families {}", family.name);
    }
    if let Some((clean, report)) = common::promtool_check_metrics(first.text()) {
        assert!(
            clean,
            "promtool check metrics found problems:\n{report}\n{first}"
        );
    }
}

//! The live page at `/obs/`, fetched over loopback as a browser or a script would: its numbers
//! against `/metrics`, its credentials, its sorting, a failed trace's waterfall, and markup from
//! the program (a label value, a span attribute, an error message) shown as text.
//!
//! One test installs obs for the whole binary (one global subscriber per process).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Page, Response};

/// What a hostile program might put in its strings; if any of it ran, it would set the title.
const MARKUP: &str = "<script>document.title='pwned'</script>\"'";

#[obs_runtime::traced]
#[obs_runtime::counted(
    objective(success = 90.0),
    labels(note = "<script>document.title='pwned'</script>\"'")
)]
#[obs_runtime::timed(buckets = [0.001, 0.01, 0.1])]
fn live_checkout(item: &str) -> Result<(), String> {
    if item.starts_with("bad") {
        Err(format!("{MARKUP} for {item}"))
    } else {
        Ok(())
    }
}

#[obs_runtime::counted]
#[allow(dead_code)] // listed, never called
fn live_never_called() {}

#[obs_runtime::counted]
fn live_once() {}

const TOKEN: &str = "s3cret";

fn get(addr: SocketAddr, path: &str) -> Response {
    common::raw(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// The `data-value` of column `col` in the row of function `name`.
fn cell(page: &str, name: &str, col: &str) -> Option<f64> {
    let row = page
        .split(&format!("<tr data-function=\"{name}\""))
        .nth(1)?;
    let row = row.split("</tr>").next()?;
    let at = row.find(&format!("data-col=\"{col}\" data-value=\""))?;
    let value = &row[at + format!("data-col=\"{col}\" data-value=\"").len()..];
    value.split('"').next()?.parse().ok()
}

#[test]
fn the_live_page_agrees_with_metrics_sorts_and_shows_markup_as_text() {
    let obs = obs_runtime::Builder::new()
        .port(0)
        .scrape_bearer_token(TOKEN)
        .traces_exporter(obs_runtime::TracesExporter::Console)
        .trace_url("http://localhost:16686/trace/{trace_id}")
        .log_format(obs_runtime::LogFormat::Off)
        .env(|var| (var == "OTEL_BSP_SCHEDULE_DELAY").then(|| "100".to_owned()))
        .install()
        .expect("install");
    let addr = obs.local_addr().expect("serving");
    for i in 0..10 {
        let item = if i % 4 == 1 {
            format!("bad {MARKUP} {i}")
        } else {
            format!("fine {i}")
        };
        let _ = live_checkout(&item);
    }
    live_once();

    // The same credentials as /metrics.
    for path in ["/obs/", "/obs/functions.json", "/obs/trace/00"] {
        let anonymous = common::request(addr, "GET", path);
        assert_eq!(anonymous.status_line, "HTTP/1.1 401 Unauthorized", "{path}");
    }

    let metrics = Page::parse(&get(addr, "/metrics").body);
    let series = |status| {
        let labels = [
            ("function", "live_checkout"),
            ("module", "live"),
            ("note", MARKUP),
            ("status", status),
        ];
        metrics
            .value("function_calls_total", &labels)
            .unwrap_or(0.0)
    };
    let (ok, error) = (series("ok"), series("error"));
    assert_eq!((ok, error), (7.0, 3.0), "{metrics}");

    let page = get(addr, "/obs/");
    assert_eq!(page.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = &page.body;
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    for link in [
        "/metrics",
        "/obs/rules.yml",
        "/obs/dashboard.json",
        "/health/live",
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "links {link}");
    }
    assert_eq!(cell(html, "live_checkout", "calls"), Some(ok + error));
    assert_eq!(cell(html, "live_checkout", "calls_1m"), Some(ok + error));
    assert_eq!(
        cell(html, "live_checkout", "errors"),
        Some(error / (ok + error))
    );
    assert_eq!(
        cell(html, "live_never_called", "calls"),
        Some(0.0),
        "never called, listed"
    );
    assert!(cell(html, "live_checkout", "p99").is_some_and(|p| p > 0.0 && p <= 0.001));
    // 3 failures of 10 against a 10 % budget: 200 % spent, so -200 % left.
    let budget: f64 = html
        .split("data-budget=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .and_then(|b| b.parse().ok())
        .expect("a budget");
    assert!((budget + 2.0).abs() < 1e-9, "{budget}");

    // Markup from the label value is text; the page has no script at all.
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains(
            "note=&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&quot;&#39;"
        )
    );

    check_sorting(addr);
    check_json(addr);
    check_failed_trace(addr);
    drop(obs);
}

/// Sorting: by calls, descending then ascending.
fn check_sorting(addr: SocketAddr) {
    let order = |html: &str, a: &str, b: &str| {
        let at = |n: &str| html.find(&format!("data-function=\"{n}\"")).expect(n);
        at(a) < at(b)
    };
    let desc = get(addr, "/obs/?sort=calls&dir=desc").body;
    assert!(order(&desc, "live_checkout", "live_once"));
    assert!(order(&desc, "live_once", "live_never_called"));
    assert!(desc.contains("href=\"/obs/?sort=calls&amp;dir=asc\">calls ▼"));
    let asc = get(addr, "/obs/?sort=calls&dir=asc").body;
    assert!(order(&asc, "live_never_called", "live_once"));
    assert!(order(&asc, "live_once", "live_checkout"));
}

/// The same numbers for scripts.
fn check_json(addr: SocketAddr) {
    let json: serde_json::Value =
        serde_json::from_str(&get(addr, "/obs/functions.json").body).expect("valid JSON");
    let checkout = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "live_checkout")
        .expect("listed");
    assert_eq!(checkout["calls"], 10);
    assert_eq!(checkout["failures"], 3);
    assert_eq!(checkout["error_ratio"], 0.3);
    assert_eq!(checkout["labels"]["note"], MARKUP);
    assert_eq!(checkout["objectives"][0]["success_percent"], 90.0);
}

/// A failed trace: listed once the exporter had it, then its waterfall, its markup as text.
fn check_failed_trace(addr: SocketAddr) {
    let trace_id = common::eventually("a failed trace listed", Duration::from_secs(30), || {
        let html = get(addr, "/obs/").body;
        let failed = html.split("<table id=\"failed-traces\"").nth(1);
        match failed.and_then(|t| t.split("data-trace=\"").nth(1)) {
            Some(id) => Ok(id[..32].to_owned()),
            None => Err(common::Text(html)),
        }
    });
    let trace = get(addr, &format!("/obs/trace/{trace_id}"));
    assert_eq!(trace.status_line, "HTTP/1.1 200 OK");
    let html = &trace.body;
    assert!(html.contains(&format!("<code id=\"trace-id\">{trace_id}</code>")));
    assert!(html.contains(&format!("href=\"http://localhost:16686/trace/{trace_id}\"")));
    assert!(html.contains("data-status=\"error\""), "{html}");
    assert!(html.contains(">live_checkout</td>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let inert = "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&quot;&#39;";
    // The error message, and the `item` argument as a span attribute.
    assert!(html.contains(&format!(
        "<span class=\"bad error-message\">{inert} for bad"
    )));
    assert!(html.contains(&format!("<b>item</b>=bad {inert}")), "{html}");
    assert_eq!(
        get(addr, &format!("/obs/trace/{}", "0".repeat(32))).status_line,
        "HTTP/1.1 404 Not Found"
    );
}

#[test]
fn a_trace_url_without_its_placeholder_is_refused_naming_the_variable() {
    let err = obs_runtime::Builder::new()
        .without_server()
        .env(|var| (var == "OBS_TRACE_URL").then(|| "http://jaeger:16686/trace/".to_owned()))
        .install()
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("OBS_TRACE_URL"), "{message}");
    assert!(message.contains("{trace_id}"), "{message}");
}

//! A reqwest client through obs's middleware, against an axum app with obs's server layer over
//! loopback: the client's histogram (checked by promtool) and spans, and one trace across
//! client and server.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use obs_runtime::http::{ReqwestMiddleware, ServerLayer};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tracing::Instrument as _;

use common::{wait_spans, wait_value};

/// The `traceparent` the request came with, and the trace the server's span is in.
async fn trace(headers: http::HeaderMap) -> String {
    let parent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    let trace_id = obs_runtime::propagation::current_trace_id().unwrap_or_default();
    format!("{parent} {trace_id}")
}

fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/down",
            get(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route("/trace", post(trace))
        .fallback(|| async { (http::StatusCode::NOT_FOUND, "no such page") })
        .layer(ServerLayer::new().respond_with_traceparent())
}

fn client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new())
        .build()
}

/// The client's count for a GET to 127.0.0.1.
fn count(status: &str, error_type: &str) -> String {
    format!(
        r#"http_client_request_duration_seconds_count{{http_request_method="GET",server_address="127.0.0.1",http_response_status_code="{status}",error_type="{error_type}"}}"#
    )
}

/// A port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One test for the GETs: they add to the same series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reqwest_client_is_measured_by_method_server_and_status() {
    common::setup();
    let addr = common::serve(app()).await;
    let client = client();
    for (path, status) in [
        ("/ok", 200),
        // A signed URL: its signature is redacted from the span.
        ("/down?sig=secret&page=2", 503),
        ("/no/such/page", 404),
    ] {
        let response = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), status);
        response.text().await.expect("a body");
    }
    let refused = client
        .get(format!("http://127.0.0.1:{}/", closed_port()))
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens there: {refused:?}");

    wait_value(&count("200", ""), 1.0).await;
    // On a client 4xx is a failure as well as 5xx: the caller did not get what it asked.
    wait_value(&count("503", "503"), 1.0).await;
    wait_value(&count("404", "404"), 1.0).await;
    // No response at all: the client's error.
    let page = wait_value(&count("", "_OTHER"), 1.0).await;
    common::promtool_check(&page);

    // The client spans: named after the method, kind client; the server's 404 span is a `GET`
    // too, of kind server.
    let spans = wait_spans("GET", 5).await;
    let mine: Vec<_> = spans
        .iter()
        .filter(|s| s.get("otel.kind") == Some("client"))
        .collect();
    assert_eq!(mine.len(), 4, "{spans:#?}");
    let with_status = |code: &str| {
        mine.iter()
            .find(|s| s.get("http.response.status_code") == Some(code))
            .unwrap_or_else(|| panic!("a client span with status {code}: {mine:#?}"))
    };
    let ok = with_status("200");
    assert_eq!(ok.get("http.request.method"), Some("GET"));
    assert_eq!(ok.get("server.address"), Some("127.0.0.1"));
    assert_eq!(
        ok.get("server.port"),
        Some(addr.port().to_string().as_str())
    );
    assert_eq!(
        ok.get("url.full"),
        Some(format!("http://{addr}/ok").as_str())
    );
    assert_eq!(ok.get("otel.status_code"), None);
    assert_eq!(
        with_status("503").get("url.full"),
        Some(format!("http://{addr}/down?sig=REDACTED&page=2").as_str())
    );
    for code in ["503", "404"] {
        let failed = with_status(code);
        assert_eq!(failed.get("otel.status_code"), Some("ERROR"));
        assert_eq!(failed.get("error.type"), Some(code));
    }
    let refused = mine
        .iter()
        .find(|s| s.get("http.response.status_code").is_none())
        .expect("the refused request's span");
    assert_eq!(refused.get("otel.status_code"), Some("ERROR"));
    assert_eq!(refused.get("error.type"), Some("_OTHER"));
}

/// Below obs's middleware: the `traceparent` of the span current there, the client span.
struct Probe(Arc<Mutex<Option<String>>>);

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Probe {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        *self.0.lock().unwrap() = traceparent_here();
        next.run(req, extensions).await
    }
}

fn traceparent_here() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    obs_runtime::propagation::inject_headers(&mut headers);
    Some(headers.get("traceparent")?.to_str().ok()?.to_owned())
}

/// `00-{trace}-{span}-{flags}`: the trace id and the span id.
fn ids(traceparent: &str) -> (&str, &str) {
    let mut parts = traceparent.split('-').skip(1);
    (parts.next().unwrap(), parts.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reqwest_client_and_a_server_share_one_trace() {
    common::setup();
    let addr = common::serve(app()).await;
    let probed = Arc::new(Mutex::new(None));
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ReqwestMiddleware::new())
        .with(Probe(probed.clone()))
        .build();
    let caller = tracing::info_span!("checkout", otel.name = "checkout");
    let (callers, response) = async {
        let callers = traceparent_here().expect("a sampled span");
        let sent = client.post(format!("http://{addr}/trace")).send().await;
        (callers, sent.expect("a response"))
    }
    .instrument(caller)
    .await;
    let servers = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    let (received, servers_trace) = body.split_once(' ').unwrap();

    let client_span = probed.lock().unwrap().clone().expect("the client span");
    let (trace_id, callers_span) = ids(&callers);
    assert_eq!(
        ids(&client_span).0,
        trace_id,
        "the client span is in the caller's trace"
    );
    assert_ne!(
        ids(&client_span).1,
        callers_span,
        "the client span is a span of its own"
    );
    assert_eq!(
        received, client_span,
        "the request carries the client span, the server span's parent"
    );
    assert_eq!(
        servers_trace, trace_id,
        "the server's span continues the trace"
    );
    assert_eq!(ids(&servers).0, trace_id);
    assert_ne!(
        ids(&servers).1,
        ids(&client_span).1,
        "the server span is its own"
    );

    let spans = wait_spans("POST", 1).await;
    let span = spans
        .iter()
        .find(|s| s.get("otel.kind") == Some("client"))
        .expect("the client span");
    assert_eq!(
        span.parent.as_deref(),
        Some("checkout"),
        "a child of the current span"
    );
}
